//! The channel behind the simulated barcode and card readers: a test, or the agent in
//! simulator mode, sends through the handle, and the reader reads it as from a device.

use std::sync::mpsc;
use std::time::Duration;

/// A simulated reader of `T`s, fed through its [`SimHandle`]: [`crate::SimBarcode`] reads
/// codes, [`crate::SimCard`] card events.
#[derive(Debug)]
pub struct SimReader<T> {
    rx: mpsc::Receiver<T>,
}

/// Feeds a [`SimReader`]; clones feed the same reader.
#[derive(Debug, Clone)]
pub struct SimHandle<T> {
    tx: mpsc::Sender<T>,
}

impl<T> SimReader<T> {
    /// A simulated reader and the handle that feeds it.
    pub fn new() -> (Self, SimHandle<T>) {
        // Unbounded: a simulator, fed by tests and the demo's `ctl`, one read at a time.
        let (tx, rx) = mpsc::channel();
        (Self { rx }, SimHandle { tx })
    }

    /// Waits up to `timeout` for what a handle sent. `Err` says why nothing more can come.
    pub(crate) fn next(&mut self, timeout: Duration) -> Result<Option<T>, String> {
        match self.rx.recv_timeout(timeout) {
            Ok(v) => Ok(Some(v)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err("simulator handle dropped".into()),
        }
    }
}

impl<T> SimHandle<T> {
    /// Hands the reader one reading. `Err` says why it cannot: the reader was dropped.
    pub(crate) fn send(&self, v: T) -> Result<(), String> {
        self.tx
            .send(v)
            .map_err(|_| "simulated reader closed".to_owned())
    }
}
