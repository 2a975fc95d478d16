//! On start, make the job files and rows agree again after a crash at any step.
//!
//! - a temporary file (`*.tmp`) is a write that never finished: removed;
//! - a page file without its row (the crash came between the file and the row): removed;
//! - a page row whose master or access file is missing: the row is removed and the loss
//!   logged, so the job never claims a page it cannot package;
//! - a job left `finishing` (the crash came while its bag was built): the half-built bag
//!   is removed and the bag built again;
//! - a bag directory for a job that is still open: a leftover, removed;
//! - a job safe long enough whose page files are (still, or partly) there: the clean-up
//!   ([`cleanup`]) is done, or finished after a crash half way.

use std::collections::HashSet;
use std::path::Path;

use super::{bag, bags_dir, cleanup, job_dir, Digitise};

/// What recovery did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Files removed (temporaries and orphans).
    pub files_removed: usize,
    /// Page rows dropped because a file was missing.
    pub rows_dropped: usize,
    /// Jobs whose bag was built again.
    pub bags_rebuilt: usize,
    /// Safe jobs whose page files were removed.
    pub jobs_cleaned: usize,
}

fn remove(path: &Path, out: &mut Recovered) {
    match std::fs::remove_file(path) {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "leftover file removed");
            out.files_removed += 1;
        }
        Err(e) => tracing::error!(path = %path.display(), error = %e, "leftover file not removed"),
    }
}

/// Runs recovery over every job. Blocking.
pub fn recover(digitise: &Digitise) -> Result<Recovered, crate::store::StoreError> {
    let mut out = Recovered::default();
    let data = digitise.settings.data_dir.clone();
    let jobs = digitise.store.lock().jobs()?;
    let bags = bags_dir(&data);
    if let Ok(entries) = std::fs::read_dir(&bags) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let leftover = name.ends_with(".tmp")
                || jobs.iter().any(|j| {
                    j.summary.job == name && j.summary.state.name() == "open" && !j.finishing
                });
            if leftover {
                tracing::warn!(dir = %e.path().display(), "half-built bag removed");
                if let Err(err) = std::fs::remove_dir_all(e.path()) {
                    tracing::error!(error = %err, "half-built bag not removed");
                }
            }
        }
    }
    for job in &jobs {
        let id = &job.summary.job;
        let state = job.summary.state.name();
        if matches!(state, "queued" | "sent") && !bags.join(id).exists() {
            // The bag is gone (a disk repaired by hand?): build it again and upload anew.
            tracing::error!(job = %id, "bag missing for a queued job; building it again");
            match digitise.finish(id) {
                Ok(()) => out.bags_rebuilt += 1,
                Err(e) => tracing::error!(job = %id, error = %e.message, "bag not rebuilt"),
            }
            continue;
        }
        if state != "open" {
            continue;
        }
        let dir = job_dir(&data, id);
        let rows = digitise.store.lock().pages(id)?;
        let mut known = HashSet::new();
        for r in &rows {
            let page = r.info.page;
            let m = dir.join("master").join(format!("{page}.png"));
            let a = dir.join("access").join(format!("{page}.jpg"));
            if m.exists() && a.exists() {
                known.insert(format!("{page}.png"));
                known.insert(format!("{page}.jpg"));
            } else {
                tracing::error!(job = %id, page, "page file missing after a restart; page dropped");
                digitise.store.lock().page_delete(id, page)?;
                out.rows_dropped += 1;
            }
        }
        for sub in ["master", "access"] {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !known.contains(&name) {
                    remove(&e.path(), &mut out);
                }
            }
        }
        if job.finishing {
            let tmp = bag::tmp_dir(&bags, id);
            if tmp.exists() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
            match digitise.finish(id) {
                Ok(()) => out.bags_rebuilt += 1,
                Err(e) => tracing::error!(job = %id, error = %e.message, "bag not rebuilt"),
            }
        }
    }
    out.jobs_cleaned = cleanup::sweep(digitise, crate::clock::now_ms())?.len();
    if out != Recovered::default() {
        tracing::info!(?out, "digitisation recovered after a restart");
    }
    Ok(out)
}
