//! The SANE driver: real scanners through libsane (feature `sane`).
//!
//! Every SANE call runs on one thread per process (see `worker`); a [`SaneScanner`] is a
//! handle that sends it requests and waits for the answers. For async code, wrap it in a
//! [`ScannerTask`](crate::scanner::ScannerTask).

use std::path::Path;
use std::sync::mpsc::{self, Sender};

use super::{DeviceInfo, DocumentScanner, OptionValue, Page, ScanError, ScanOption};

#[allow(unsafe_code)]
mod ffi;
mod frames;
mod worker;

use worker::{Reply, Request};

/// A handle to scanners through libsane. Several handles may exist; they share the one
/// SANE thread. Dropping the handle closes its device.
#[derive(Debug)]
pub struct SaneScanner {
    requests: Sender<Request>,
    device: Option<(u64, String)>,
}

impl SaneScanner {
    /// A handle using SANE's own configuration (`/etc/sane.d`, or `SANE_CONFIG_DIR`).
    /// Starts SANE on first use; fails if libsane cannot initialise.
    pub fn new() -> Result<Self, ScanError> {
        Self::connect(None)
    }

    /// A handle with SANE configured from `dir` (its `dll.conf` lists the backends to
    /// load). SANE reads its configuration once per process, so every handle must name
    /// the same directory; another one is `Unsupported`.
    pub fn with_config_dir(dir: &Path) -> Result<Self, ScanError> {
        Self::connect(Some(dir))
    }

    fn connect(dir: Option<&Path>) -> Result<Self, ScanError> {
        Ok(SaneScanner {
            requests: worker::connect(dir)?,
            device: None,
        })
    }

    /// The name of the open device, if any.
    pub fn device_name(&self) -> Option<&str> {
        self.device.as_ref().map(|(_, n)| n.as_str())
    }

    fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, ScanError> {
        let (tx, rx) = mpsc::channel();
        let gone = || ScanError::Io("the SANE thread has stopped".into());
        self.requests.send(make(tx)).map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }

    fn id(&self) -> Result<u64, ScanError> {
        self.device
            .as_ref()
            .map(|(id, _)| *id)
            .ok_or_else(|| ScanError::DeviceGone("no scanner opened".into()))
    }

    fn close(&mut self) {
        if let Some((id, _)) = self.device.take() {
            // The thread outlives every handle; a failed send means it is gone anyway.
            let _ = self.requests.send(Request::Close(id));
        }
    }
}

impl DocumentScanner for SaneScanner {
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, ScanError> {
        self.call(Request::Devices)
    }

    fn open(&mut self, name: &str) -> Result<(), ScanError> {
        self.close();
        let id = self.call(|r| Request::Open(name.to_owned(), r))?;
        self.device = Some((id, name.to_owned()));
        Ok(())
    }

    fn options(&mut self) -> Result<Vec<ScanOption>, ScanError> {
        let id = self.id()?;
        self.call(|r| Request::Options(id, r))
    }

    fn set_option(&mut self, name: &str, value: OptionValue) -> Result<(), ScanError> {
        let id = self.id()?;
        self.call(|r| Request::Set(id, name.to_owned(), value, r))
    }

    fn feed_page(&mut self) -> Result<Page, ScanError> {
        let id = self.id()?;
        self.call(|r| Request::Feed(id, r))
    }

    fn finish(&mut self) {
        if let Some((id, _)) = &self.device {
            let _ = self.requests.send(Request::Cancel(*id));
        }
    }
}

impl Drop for SaneScanner {
    fn drop(&mut self) {
        self.close();
    }
}
