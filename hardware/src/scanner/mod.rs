//! Document scanners (flatbed and automatic document feeder).
//!
//! [`DocumentScanner`] is the blocking trait; [`SimScanner`] simulates one and the SANE
//! driver `SaneScanner` (feature `sane`) drives real ones through libsane, on a thread of
//! its own. [`ScannerTask`] runs any scanner on a dedicated thread and gives async code
//! an `await`able handle, so scanning never blocks the runtime's threads.
//!
//! A page is scanned whole and then handed over; a feeder batch hands each page over as
//! soon as it is read ([`Batch`], [`DocumentScanner::scan_batch`]), so a jam half way
//! keeps every page scanned before it.

use std::ops::ControlFlow;

mod config;
mod error;
pub mod options;
mod page;
#[cfg(feature = "sane")]
pub mod sane;
mod sim;
mod task;

pub use config::{pick_device, ConfigValue, OpenedScanner, ScannerConfig, ScannerDriver};
pub use error::{Language, ScanError};
pub use options::{
    Area, Capabilities, Constraint, Mode, OptionValue, ScanOption, ScanSettings, Source, Unit,
    ValueKind,
};
pub use page::Page;
#[cfg(feature = "sane")]
pub use sane::SaneScanner;
pub use sim::{SimScanner, SimScannerHandle};
pub use task::ScannerTask;

/// A scanner a driver can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The name to open it by, e.g. `test:0` or `fujitsu:fi-7160:1234`.
    pub name: String,
    /// The maker.
    pub vendor: String,
    /// The model.
    pub model: String,
    /// What kind of device it is, e.g. `flatbed scanner`.
    pub kind: String,
}

/// Something that scans documents. Blocking: one page can take seconds.
///
/// The required methods are the driver's primitives; scanning a page, a batch and
/// applying typed settings are built on them.
pub trait DocumentScanner: Send {
    /// Lists the scanners this driver can see now.
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, ScanError>;
    /// Opens a scanner by name; the other calls act on it. Opening another closes it.
    fn open(&mut self, name: &str) -> Result<(), ScanError>;
    /// Every option of the open scanner, with its current value.
    fn options(&mut self) -> Result<Vec<ScanOption>, ScanError>;
    /// Sets one option by name. Not allowed while a page is being read.
    fn set_option(&mut self, name: &str, value: OptionValue) -> Result<(), ScanError>;
    /// Scans the next page and returns it whole. From the feeder, each call takes the
    /// next sheet, and an empty feeder gives `Err(NoDocuments)`. Call [`finish`] when
    /// done with a page or a batch.
    ///
    /// [`finish`]: DocumentScanner::finish
    fn feed_page(&mut self) -> Result<Page, ScanError>;
    /// Ends a scan or a batch (SANE's cancel): the scanner returns to idle.
    fn finish(&mut self);

    /// The open scanner's modes, resolutions, sources and area, summarised.
    fn capabilities(&mut self) -> Result<Capabilities, ScanError> {
        Ok(options::capabilities(&self.options()?))
    }

    /// Applies typed settings. The source goes first, and the rest is planned against the
    /// options as they are after it (a feeder can have another maximum area).
    fn configure(&mut self, settings: &ScanSettings) -> Result<(), ScanError> {
        let source_only = ScanSettings {
            source: settings.source,
            ..Default::default()
        };
        for (name, value) in options::plan(&self.options()?, &source_only)? {
            self.set_option(&name, value)?;
        }
        let rest = ScanSettings {
            source: None,
            ..settings.clone()
        };
        for (name, value) in options::plan(&self.options()?, &rest)? {
            self.set_option(&name, value)?;
        }
        Ok(())
    }

    /// Scans one page from the current source.
    fn scan_page(&mut self) -> Result<Page, ScanError> {
        let page = self.feed_page();
        self.finish();
        page
    }

    /// A batch from the current source, page by page; see [`Batch`].
    fn batch(&mut self) -> Batch<'_, Self>
    where
        Self: Sized,
    {
        Batch::new(self)
    }

    /// Scans a batch and calls `on_page` with each page as soon as it is read; the
    /// callback may stop the batch with `ControlFlow::Break`. Returns the number of
    /// pages delivered. On an error (a jam, an open cover) the pages already delivered
    /// stay with the caller, and the error says what happened; an empty feeder before
    /// the first page is `Err(NoDocuments)`.
    fn scan_batch(
        &mut self,
        on_page: &mut dyn FnMut(Page) -> ControlFlow<()>,
    ) -> Result<usize, ScanError>
    where
        Self: Sized,
    {
        let mut batch = self.batch();
        for page in batch.by_ref() {
            if on_page(page?).is_break() {
                break;
            }
        }
        Ok(batch.pages())
    }

    /// Scans a whole batch into memory: every page read, and how the batch ended. After
    /// a jam the pages before it are still there, beside the error.
    fn scan_all(&mut self) -> (Vec<Page>, Result<(), ScanError>)
    where
        Self: Sized,
    {
        let mut pages = Vec::new();
        let end = self.scan_batch(&mut |p| {
            pages.push(p);
            ControlFlow::Continue(())
        });
        (pages, end.map(|_| ()))
    }
}

impl<S: DocumentScanner + ?Sized> DocumentScanner for Box<S> {
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, ScanError> {
        (**self).devices()
    }
    fn open(&mut self, name: &str) -> Result<(), ScanError> {
        (**self).open(name)
    }
    fn options(&mut self) -> Result<Vec<ScanOption>, ScanError> {
        (**self).options()
    }
    fn set_option(&mut self, name: &str, value: OptionValue) -> Result<(), ScanError> {
        (**self).set_option(name, value)
    }
    fn feed_page(&mut self) -> Result<Page, ScanError> {
        (**self).feed_page()
    }
    fn finish(&mut self) {
        (**self).finish()
    }
}

/// A batch in progress: an iterator of pages, each yielded as soon as it is scanned.
///
/// From the feeder it runs until the feeder is empty; from the flatbed (or a scanner
/// without a source option) it yields one page. After an error it yields nothing more.
/// Dropping it ends the batch on the scanner.
pub struct Batch<'a, S: DocumentScanner + ?Sized> {
    scanner: &'a mut S,
    pages: usize,
    single: Option<bool>,
    done: bool,
}

impl<'a, S: DocumentScanner + ?Sized> Batch<'a, S> {
    /// Starts a batch on `scanner` (nothing moves until the first `next`).
    pub fn new(scanner: &'a mut S) -> Self {
        Batch {
            scanner,
            pages: 0,
            single: None,
            done: false,
        }
    }

    /// Pages yielded so far.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Sets an option between two pages (e.g. a backend's own double-feed or error
    /// options).
    pub fn set_option(&mut self, name: &str, value: OptionValue) -> Result<(), ScanError> {
        self.scanner.set_option(name, value)
    }
}

impl<S: DocumentScanner + ?Sized> Iterator for Batch<'_, S> {
    type Item = Result<Page, ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let single = match self.single {
            Some(s) => s,
            None => {
                let source = match self.scanner.capabilities() {
                    Ok(c) => c.current.source,
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                };
                let s = source != Some(Source::Adf);
                self.single = Some(s);
                s
            }
        };
        match self.scanner.feed_page() {
            Ok(page) => {
                self.pages += 1;
                self.done = single;
                Some(Ok(page))
            }
            Err(ScanError::NoDocuments) if self.pages > 0 => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<S: DocumentScanner + ?Sized> Drop for Batch<'_, S> {
    fn drop(&mut self) {
        if self.single.is_some() {
            self.scanner.finish();
        }
    }
}
