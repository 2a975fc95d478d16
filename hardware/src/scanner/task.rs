//! Runs a scanner on a dedicated thread and gives async code a handle to it.

use std::sync::mpsc;
use std::thread;

use tokio::sync::{mpsc as tokio_mpsc, oneshot};

use super::{DeviceInfo, DocumentScanner, Page, ScanError, ScanOption, ScanSettings};

type Scanner = Box<dyn DocumentScanner>;
type Job = Box<dyn FnOnce(&mut Scanner) + Send>;

/// An async handle to a scanner that lives on its own thread, so a page that takes
/// seconds never blocks the async runtime. Cheap to clone; the thread ends when the last
/// handle is dropped.
#[derive(Debug, Clone)]
pub struct ScannerTask {
    jobs: mpsc::Sender<Job>,
}

impl ScannerTask {
    /// Moves `scanner` onto a new thread named `scanner`.
    pub fn spawn(mut scanner: Scanner) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("scanner".into())
            .spawn(move || {
                for job in rx {
                    job(&mut scanner);
                }
                tracing::debug!("scanner thread ends");
            })?;
        Ok(ScannerTask { jobs })
    }

    /// Runs `f` on the scanner's thread and waits for its result.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ScanError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Scanner) -> Result<T, ScanError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let gone = || ScanError::Io("the scanner thread has stopped".into());
        self.jobs
            .send(Box::new(move |s| {
                // The caller may have given up waiting; the result is then dropped.
                let _ = tx.send(f(s));
            }))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Lists devices.
    pub async fn devices(&self) -> Result<Vec<DeviceInfo>, ScanError> {
        self.run(|s| s.devices()).await
    }

    /// Opens a device by name.
    pub async fn open(&self, name: &str) -> Result<(), ScanError> {
        let name = name.to_owned();
        self.run(move |s| s.open(&name)).await
    }

    /// Lists the open device's options.
    pub async fn options(&self) -> Result<Vec<ScanOption>, ScanError> {
        self.run(|s| s.options()).await
    }

    /// Applies typed settings.
    pub async fn configure(&self, settings: ScanSettings) -> Result<(), ScanError> {
        self.run(move |s| s.configure(&settings)).await
    }

    /// Scans one page.
    pub async fn scan_page(&self) -> Result<Page, ScanError> {
        self.run(|s| s.scan_page()).await
    }

    /// Starts a batch; pages arrive on the receiver as they are scanned, then at most one
    /// error, then the channel closes. Dropping the receiver stops the batch after the
    /// page being scanned. `buffer` pages may wait unread before the scanner pauses.
    pub fn scan_batch(&self, buffer: usize) -> tokio_mpsc::Receiver<Result<Page, ScanError>> {
        let (tx, rx) = tokio_mpsc::channel(buffer.max(1));
        let sent = self.jobs.send(Box::new(move |s: &mut Scanner| {
            for page in s.batch() {
                if tx.blocking_send(page).is_err() {
                    break;
                }
            }
        }));
        if let Err(mpsc::SendError(_job)) = sent {
            // The job (and its sender) is dropped: the receiver reads a closed channel.
            tracing::warn!("scan batch asked of a stopped scanner thread");
        }
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::{SimScanner, Source};

    #[tokio::test]
    async fn batch_streams_pages_then_the_jam() {
        let (sim, h) = SimScanner::new();
        let task = ScannerTask::spawn(Box::new(sim)).unwrap();
        assert_eq!(task.devices().await.unwrap().len(), 1);
        task.open("sim:0").await.unwrap();
        task.configure(ScanSettings {
            source: Some(Source::Adf),
            resolution_dpi: Some(75),
            ..Default::default()
        })
        .await
        .unwrap();
        h.jam_after(4);
        let mut rx = task.scan_batch(2);
        let mut pages = 0;
        let mut last = None;
        while let Some(r) = rx.recv().await {
            match r {
                Ok(_) => pages += 1,
                Err(e) => last = Some(e),
            }
        }
        assert_eq!((pages, last), (4, Some(ScanError::Jammed)));
        h.clear_jam();
        assert_eq!(task.scan_page().await.unwrap().dpi, 75);
    }
}
