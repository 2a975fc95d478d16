//! What the real drivers (serial, keyboard wedge, NFC) share: when an error means the
//! device went away, and a `Debug` that shows the config and whether the device is open
//! (never the handle itself, which says nothing useful).

use std::fmt;

/// Whether an OS error number means the device itself went away: EIO (a pty master
/// closed, a USB device unplugged mid-read), ENXIO or ENODEV.
#[cfg(any(feature = "serial", feature = "wedge"))]
pub(crate) fn errno_gone(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(5 | 6 | 19))
}

/// Starts a driver's `Debug`: its config and whether its device is open. Add fields, then
/// `finish()`.
pub(crate) fn debug_driver<'a, 'b>(
    f: &'a mut fmt::Formatter<'b>,
    name: &str,
    config: &dyn fmt::Debug,
    open: bool,
) -> fmt::DebugStruct<'a, 'b> {
    let mut d = f.debug_struct(name);
    d.field("config", config).field("open", &open);
    d
}
