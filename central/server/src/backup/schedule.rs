//! The backups `central serve` takes by itself: when the next is due (a pure function of
//! the newest backup in the directory and the clock), the file names, and the pruning.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDateTime, Utc};
use tokio::sync::watch;

use crate::config::BackupConfig;
use crate::metrics::Metrics;

/// The file-name pattern of scheduled backups: `central-<UTC time>.db`, which sorts by time.
const PREFIX: &str = "central-";
const SUFFIX: &str = ".db";
const STAMP: &str = "%Y%m%dT%H%M%S%.3fZ";

/// After a failure, the next attempt comes this long later at most (sooner when the
/// schedule's own period is shorter).
const RETRY: Duration = Duration::from_secs(300);

/// When backups are due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// This long after the newest backup.
    Every(Duration),
    /// Once a day at this local time.
    Daily {
        /// Hour, 0 to 23.
        hour: u32,
        /// Minute, 0 to 59.
        minute: u32,
        /// The library's offset from UTC, minutes.
        utc_offset_min: i32,
    },
}

impl Schedule {
    /// The schedule `[backup]` describes (`at` wins over `every_hours`).
    pub fn from_config(cfg: &BackupConfig, utc_offset_min: i32) -> Result<Schedule, String> {
        if let Some((hour, minute)) = cfg.at_time()? {
            return Ok(Schedule::Daily {
                hour,
                minute,
                utc_offset_min,
            });
        }
        Duration::try_from_secs_f64(cfg.every_hours * 3600.0)
            .map(Schedule::Every)
            .map_err(|e| format!("backup.every_hours {}: {e}", cfg.every_hours))
    }

    /// When the next backup is due, given the newest one's time (none: at once).
    pub fn next_due(&self, newest: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let newest = newest?;
        Some(match *self {
            Schedule::Every(d) => {
                newest + chrono::Duration::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
            }
            Schedule::Daily {
                hour,
                minute,
                utc_offset_min,
            } => {
                let offset = chrono::Duration::minutes(i64::from(utc_offset_min));
                let local = (newest + offset).naive_utc();
                let mut at = local.date().and_hms_opt(hour, minute, 0).unwrap_or(local);
                if at <= local {
                    at = at.checked_add_days(Days::new(1)).unwrap_or(at);
                }
                at.and_utc() - offset
            }
        })
    }

    /// How long to wait after a failed attempt.
    fn retry(&self) -> Duration {
        match self {
            Schedule::Every(d) => (*d).min(RETRY),
            Schedule::Daily { .. } => RETRY,
        }
    }
}

/// The file name of a backup taken at `at`.
pub fn file_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format(STAMP))
}

fn parse_name(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    NaiveDateTime::parse_from_str(stamp, STAMP)
        .ok()
        .map(|t| t.and_utc())
}

/// The scheduled backups in `dir`, oldest first. Other files are not ours and are left out.
pub fn list(dir: &Path) -> std::io::Result<Vec<(DateTime<Utc>, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(at) = entry.file_name().to_str().and_then(parse_name) {
            out.push((at, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes the oldest scheduled backups beyond the newest `keep`; returns what went.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let all = list(dir)?;
    let excess = all.len().saturating_sub(keep.max(1));
    let mut gone = Vec::new();
    for (_, path) in all.into_iter().take(excess) {
        std::fs::remove_file(&path)?;
        gone.push(path);
    }
    Ok(gone)
}

/// Takes one scheduled backup of `db` into `dir` now, then prunes; returns its size.
fn take(db: &Path, dir: &Path, keep: usize) -> anyhow::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let dest = dir.join(file_name(Utc::now()));
    anyhow::ensure!(db.is_file(), "no database at {}", db.display());
    let report = rong_sqlite::backup::backup(db, &dest, super::PAGES_PER_STEP)?;
    for gone in prune(dir, keep)? {
        tracing::info!(file = %gone.display(), "old backup deleted");
    }
    tracing::info!(file = %dest.display(), bytes = report.bytes, "scheduled backup written");
    Ok(report.bytes)
}

/// Takes backups on `schedule` until `stop` turns true. Each success updates `/metrics`;
/// each failure is logged and counted, and raises the `backup_failed` alert until a later
/// backup succeeds.
pub async fn run(
    cfg: BackupConfig,
    schedule: Schedule,
    db: PathBuf,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(dir) = cfg.dir.clone() else { return };
    tracing::info!(dir = %dir.display(), ?schedule, keep = cfg.keep, "scheduled backups");
    loop {
        let newest = list(&dir).ok().and_then(|l| l.last().map(|(at, _)| *at));
        let wait = schedule
            .next_due(newest)
            .and_then(|due| (due - Utc::now()).to_std().ok())
            .unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let (db, dir, keep) = (db.clone(), dir.clone(), cfg.keep);
        let started = Utc::now();
        let result = tokio::task::spawn_blocking(move || take(&db, &dir, keep))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
        match result {
            Ok(bytes) => metrics.backup_succeeded(started.timestamp(), bytes),
            Err(e) => {
                let why = format!("{e:#}");
                tracing::error!(error = %why, "scheduled backup failed");
                metrics.backup_failed(why);
                tokio::select! {
                    _ = tokio::time::sleep(schedule.retry()) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        }
    }
    tracing::debug!("backup schedule stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn every_counts_from_the_newest_backup_and_none_means_now() {
        let s = Schedule::Every(Duration::from_secs(24 * 3600));
        assert_eq!(s.next_due(None), None, "no backup yet: at once");
        assert_eq!(
            s.next_due(Some(utc(2026, 12, 3, 1, 0))),
            Some(utc(2026, 12, 4, 1, 0))
        );
    }

    #[test]
    fn daily_is_the_next_local_time_after_the_newest_backup() {
        // 02:30 in Việt Nam (UTC+7) is 19:30 UTC the day before.
        let s = Schedule::Daily {
            hour: 2,
            minute: 30,
            utc_offset_min: 420,
        };
        assert_eq!(
            s.next_due(Some(utc(2026, 12, 3, 10, 0))),
            Some(utc(2026, 12, 3, 19, 30)),
            "17:00 local: tonight"
        );
        assert_eq!(
            s.next_due(Some(utc(2026, 12, 3, 19, 30))),
            Some(utc(2026, 12, 4, 19, 30)),
            "taken at 02:30 local: tomorrow"
        );
        assert_eq!(
            s.next_due(Some(utc(2026, 12, 3, 18, 0))),
            Some(utc(2026, 12, 3, 19, 30)),
            "01:00 local: the same night"
        );
    }

    #[test]
    fn the_config_picks_the_schedule() {
        let cfg = BackupConfig {
            every_hours: 0.5,
            ..BackupConfig::default()
        };
        assert_eq!(
            Schedule::from_config(&cfg, 420),
            Ok(Schedule::Every(Duration::from_secs(1800)))
        );
        let cfg = BackupConfig {
            at: Some("02:30".into()),
            ..cfg
        };
        assert!(matches!(
            Schedule::from_config(&cfg, 420),
            Ok(Schedule::Daily {
                hour: 2,
                minute: 30,
                utc_offset_min: 420
            })
        ));
    }

    #[test]
    fn pruning_keeps_the_newest_and_touches_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let times: Vec<DateTime<Utc>> = (0..5).map(|k| utc(2026, 12, 1 + k, 19, 30)).collect();
        for t in &times {
            std::fs::write(dir.path().join(file_name(*t)), b"x").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        std::fs::write(dir.path().join("central-manual.db"), b"mine").unwrap();
        let gone = prune(dir.path(), 2).unwrap();
        assert_eq!(gone.len(), 3);
        let left: Vec<DateTime<Utc>> = list(dir.path()).unwrap().iter().map(|(t, _)| *t).collect();
        assert_eq!(left, times[3..]);
        assert!(dir.path().join("notes.txt").exists());
        assert!(dir.path().join("central-manual.db").exists());
        assert_eq!(parse_name(&file_name(times[0])), Some(times[0]));
    }
}
