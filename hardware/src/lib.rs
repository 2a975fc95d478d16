//! The devices a Rông board owns, each behind one small trait.
//!
//! Every trait has a simulator that is always built. Real drivers sit behind cargo
//! features (see the hardware issue). Drivers are blocking: the agent runs each one on its
//! own thread and forwards what it reads into the async world.
//!
//! - Barcode: [`SerialBarcode`] (feature `serial`, on by default; no system library) reads
//!   framed codes from a serial port and reopens it after an unplug.
//! - Receipt printer: [`EscPos`] (always built; it only needs a byte stream) prints
//!   receipts as raster images drawn with a bundled font, so Vietnamese prints on any
//!   ESC/POS printer; [`PrinterConfig::open`] opens a USB device file or a serial port.
//! - Barcode as a USB keyboard: `WedgeBarcode` (feature `wedge`) grabs a Linux input device
//!   and decodes its keys with [`KeyDecoder`] (always built).
//! - NFC: `NfcReader` (feature `nfc`, libnfc bundled) polls ISO 14443A cards.
//! - Lights and buzzer: [`Indicator`] with `GpioLights` (feature `gpio`, Raspberry Pi) and
//!   [`SimLights`].
//! - Document scanner: [`scanner::DocumentScanner`], with `SaneScanner` (feature `sane`,
//!   on by default; links libsane) running SANE on a thread of its own, and
//!   [`scanner::SimScanner`].

pub mod barcode;
pub mod card;
#[cfg(any(feature = "serial", feature = "wedge", feature = "nfc"))]
mod device;
pub mod framing;
#[cfg(feature = "gpio")]
pub mod gpio;
pub mod keymap;
pub mod lights;
mod millis;
#[cfg(feature = "nfc")]
pub mod nfc;
pub mod printer;
pub mod scanner;
#[cfg(feature = "serial")]
pub mod serial;
pub mod sim;
#[cfg(feature = "wedge")]
pub mod wedge;

pub use barcode::{BarcodeError, BarcodeFilter, BarcodeReader, SimBarcode, SimBarcodeHandle};
pub use card::{CardError, CardEvent, CardReader, NfcConfig, SimCard, SimCardHandle};
pub use framing::{Framing, Terminator};
#[cfg(feature = "gpio")]
pub use gpio::GpioLights;
pub use keymap::{KeyDecoder, WedgeConfig};
pub use lights::{GpioConfig, Indicator, LightsError, Signal, SimLights, SimLightsHandle};
#[cfg(feature = "nfc")]
pub use nfc::NfcReader;
pub use printer::{
    EscPos, PaperWidth, PrinterConfig, PrinterError, PrinterStatus, Receipt, ReceiptItem,
    ReceiptPrinter, SimPrinter, SimPrinterHandle,
};
#[cfg(feature = "serial")]
pub use serial::{SerialBarcode, SerialConfig};
pub use sim::{SimHandle, SimReader};
#[cfg(feature = "wedge")]
pub use wedge::WedgeBarcode;

/// What kind of failure a device reported, so callers can react without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The device is gone: unplugged, or never there. Retry later.
    Disconnected,
    /// The device sent something that is not valid input.
    Garbage,
    /// The device is there but cannot work now (a printer out of paper or with its
    /// cover open). It needs a person, not a retry.
    NotReady,
    /// Any other I/O failure.
    Io,
}

impl ErrorKind {
    /// The health this failure means for the status topic: `missing` or `error`.
    pub fn is_missing(self) -> bool {
        matches!(self, ErrorKind::Disconnected)
    }
}
