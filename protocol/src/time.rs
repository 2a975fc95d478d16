//! Local dates, which central and devices must compute alike. The due-date rule built on
//! them is lending policy and lives in `rong-lending`.

use chrono::NaiveDate;

/// The library's local offset from UTC in minutes (Việt Nam: +7 h, no daylight saving).
pub const DEFAULT_UTC_OFFSET_MIN: i32 = 7 * 60;

/// The local calendar date of an instant given in ms since the epoch.
pub fn local_date(at_ms: i64, utc_offset_min: i32) -> NaiveDate {
    let secs = at_ms.div_euclid(1000) + i64::from(utc_offset_min) * 60;
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn local_dates() {
        // 2026-11-25 18:00 UTC is already the 26th in Kon Tum.
        let at = chrono::NaiveDateTime::new(
            d(2026, 11, 25),
            chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        )
        .and_utc()
        .timestamp_millis();
        assert_eq!(local_date(at, DEFAULT_UTC_OFFSET_MIN), d(2026, 11, 26));
        assert_eq!(local_date(at, 0), d(2026, 11, 25));
    }
}
