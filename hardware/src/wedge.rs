//! A USB keyboard-wedge barcode reader, read through Linux evdev (feature `wedge`).
//!
//! The device is grabbed exclusively (`EVIOCGRAB`) so that its keystrokes never reach the
//! console or the kiosk's UI. Key events go through [`KeyDecoder`] (US layout) and the
//! usual [`BarcodeFilter`].

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::barcode::{BarcodeError, BarcodeFilter, BarcodeReader};
use crate::framing::Frame;
use crate::keymap::{KeyDecoder, WedgeConfig};

/// A [`BarcodeReader`] on a keyboard-wedge scanner.
///
/// When the device goes away (`ENODEV`) a read fails with `Disconnected` and the device is
/// closed; the next read opens the path again, so an unplug and replug resumes as long as
/// `path` is a stable name (by-id or the udev link).
pub struct WedgeBarcode {
    config: WedgeConfig,
    device: Option<evdev::Device>,
    decoder: KeyDecoder,
    filter: BarcodeFilter,
    pending: VecDeque<Frame>,
}

impl std::fmt::Debug for WedgeBarcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::device::debug_driver(f, "WedgeBarcode", &self.config, self.device.is_some()).finish()
    }
}

impl WedgeBarcode {
    /// Opens and grabs the device. Fails with `Disconnected` when it is not there.
    pub fn open(config: WedgeConfig) -> Result<Self, BarcodeError> {
        let mut me = Self::closed(config);
        me.reopen()?;
        Ok(me)
    }

    /// A reader that has not opened its device yet; the first read tries to.
    pub fn closed(config: WedgeConfig) -> Self {
        Self {
            filter: BarcodeFilter::new(Duration::from_millis(config.debounce_ms)),
            config,
            device: None,
            decoder: KeyDecoder::new(),
            pending: VecDeque::new(),
        }
    }

    /// Closes the device (if open) and opens and grabs the configured path again.
    pub fn reopen(&mut self) -> Result<(), BarcodeError> {
        self.device = None;
        self.decoder.reset();
        self.pending.clear();
        let path = &self.config.path;
        let mut dev = evdev::Device::open(path).map_err(|e| io_error(path, "open", e))?;
        if self.config.grab {
            dev.grab().map_err(|e| io_error(path, "grab", e))?;
        }
        dev.set_nonblocking(true)
            .map_err(|e| io_error(path, "set non-blocking", e))?;
        tracing::info!(path = %path, name = dev.name().unwrap_or("?"), grabbed = self.config.grab, "keyboard-wedge barcode reader open");
        self.device = Some(dev);
        Ok(())
    }

    fn disconnect(&mut self, why: impl std::fmt::Display) -> BarcodeError {
        tracing::warn!(path = %self.config.path, error = %why, "keyboard-wedge barcode reader gone");
        self.device = None;
        self.decoder.reset();
        BarcodeError::Disconnected(format!("{}: {why}", self.config.path))
    }
}

impl BarcodeReader for WedgeBarcode {
    fn next_code(&mut self, timeout: Duration) -> Result<Option<String>, BarcodeError> {
        let deadline = Instant::now() + timeout;
        if self.device.is_none() {
            self.reopen()?;
        }
        loop {
            if let Some(r) = self.filter.next_frame(&mut self.pending) {
                return r.map(Some);
            }
            let Some(dev) = self.device.as_mut() else {
                return Err(self.disconnect("device closed"));
            };
            let wait = deadline.saturating_duration_since(Instant::now());
            let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(dev.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(BarcodeError::Io(e.into())),
            }
            let hung_up = fds[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR));
            let fetched: io::Result<Vec<(u16, u16, i32)>> = dev.fetch_events().map(|evs| {
                evs.map(|ev| (ev.event_type().0, ev.code(), ev.value()))
                    .collect()
            });
            match fetched {
                Ok(events) => {
                    for (ty, code, value) in events {
                        if let Some(frame) = self.decoder.feed(ty, code, value) {
                            self.pending.push_back(frame);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !hung_up => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_gone(&e) || hung_up => return Err(self.disconnect(e)),
                Err(e) => return Err(BarcodeError::Io(e)),
            }
            if self.pending.is_empty() && Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }
}

/// Whether an error means the device went away.
fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || crate::device::errno_gone(e)
}

fn io_error(path: &str, what: &str, e: io::Error) -> BarcodeError {
    if is_gone(&e) {
        return BarcodeError::Disconnected(format!("{path}: {what}: {e}"));
    }
    let hint = match e.raw_os_error() {
        Some(13) => " (the agent's user needs the `input` group; see images/udev/)",
        Some(16) => " (another program has grabbed this device)",
        _ => "",
    };
    BarcodeError::Io(io::Error::new(
        e.kind(),
        format!("{path}: {what}: {e}{hint}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn a_missing_device_is_disconnected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event9");
        let err = WedgeBarcode::open(WedgeConfig::new(path.to_string_lossy())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        // A file that is not an input device is an I/O error, not a missing reader.
        std::fs::write(&path, b"").unwrap();
        let mut r = WedgeBarcode::closed(WedgeConfig::new(path.to_string_lossy()));
        let err = r.next_code(Duration::from_millis(1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    }
}
