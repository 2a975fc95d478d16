//! Clean-up after `safe`: once central has confirmed a job's bag, the station's copies of
//! its pages (masters, access copies) and the bag's payload are removed, after
//! `[digitise] keep_safe_hours` (0: at once), so an SD card does not fill.
//!
//! What stays: the job row with its summary and central's document id, its page rows, its
//! upload rows, and the bag's tag files (`bagit.txt`, `bag-info.txt`, the manifests: a
//! receipt of what central holds, a few KB). A refused job keeps everything: staff must
//! rescan or send it again.
//!
//! The store's `cleaned_at` is written only after every file is gone. Removing is
//! idempotent, so a crash half way leaves the job "safe, not cleaned" and the next sweep
//! (at start-up recovery, or the uploader's next round) finishes it.

use std::io::ErrorKind;
use std::path::Path;

use super::{bags_dir, job_dir, Digitise};
use crate::store::StoreError;

/// The latest verdict time (ms) whose job may be cleaned at `now_ms`.
pub fn safe_before(now_ms: i64, keep_safe_hours: u64) -> i64 {
    let keep = i64::try_from(keep_safe_hours)
        .unwrap_or(i64::MAX)
        .saturating_mul(3_600_000);
    now_ms.saturating_sub(keep)
}

fn remove_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes one safe job's page files and bag payload. Idempotent.
pub fn remove_files(data_dir: &Path, job: &str) -> std::io::Result<()> {
    remove_dir(&bags_dir(data_dir).join(job).join("data"))?;
    remove_dir(&job_dir(data_dir, job))?;
    Ok(())
}

/// Cleans every job safe long enough ago. Returns the jobs cleaned. A job whose files
/// cannot be removed is logged and left for the next sweep.
pub fn sweep(digitise: &Digitise, now_ms: i64) -> Result<Vec<String>, StoreError> {
    let before = safe_before(now_ms, digitise.settings.digitise.keep_safe_hours);
    let jobs = digitise.store.lock().jobs_to_clean(before)?;
    let mut cleaned = Vec::new();
    for job in jobs {
        match remove_files(&digitise.settings.data_dir, &job) {
            Ok(()) => {
                digitise.store.lock().job_cleaned(&job, now_ms)?;
                tracing::info!(job = %job, "safe job's page files removed from the station");
                cleaned.push(job);
            }
            Err(e) => {
                tracing::error!(job = %job, error = %e, "safe job's page files not removed; will retry");
            }
        }
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keep_time_is_counted_back_from_now() {
        assert_eq!(safe_before(10_000_000, 0), 10_000_000);
        assert_eq!(safe_before(10_000_000, 1), 10_000_000 - 3_600_000);
        assert_eq!(safe_before(0, u64::MAX), -i64::MAX);
    }

    #[test]
    fn removing_is_idempotent_and_keeps_the_tag_files() {
        let dir = tempfile::tempdir().unwrap();
        let bag = bags_dir(dir.path()).join("j1");
        std::fs::create_dir_all(bag.join("data/master")).unwrap();
        std::fs::write(bag.join("data/master/0001.png"), b"m").unwrap();
        std::fs::write(
            bag.join("manifest-sha256.txt"),
            b"x  data/master/0001.png\n",
        )
        .unwrap();
        let pages = job_dir(dir.path(), "j1").join("master");
        std::fs::create_dir_all(&pages).unwrap();
        std::fs::write(pages.join("1.png"), b"m").unwrap();
        remove_files(dir.path(), "j1").unwrap();
        assert!(!bag.join("data").exists());
        assert!(!job_dir(dir.path(), "j1").exists());
        assert!(bag.join("manifest-sha256.txt").exists());
        remove_files(dir.path(), "j1").unwrap();
        remove_files(dir.path(), "never-there").unwrap();
    }
}
