//! The Vietnamese lunisolar calendar, for the holidays it fixes: Tết Nguyên Đán (the first
//! day of the first lunar month) and Giỗ Tổ Hùng Vương (the tenth day of the third).
//!
//! Months begin on the day of the new moon and the eleventh month holds the winter
//! solstice; a year with thirteen months repeats the first month that holds no major solar
//! term. Days are counted in Việt Nam's time (UTC+7), which is why Tết sometimes falls a
//! day (1985: a month; 2007, 2030: a day) apart from the Chinese new year. New moons and the sun's longitude
//! come from the truncated series in Jean Meeus, *Astronomical Algorithms* (ch. 25 and 49),
//! good to well under an hour for the years a library plans for.

use chrono::NaiveDate;
use std::f64::consts::PI;

/// Việt Nam's offset from UTC, in hours.
const TIME_ZONE: f64 = 7.0;

/// Days from the proleptic Gregorian day 1 to the Julian day number of the same date.
const JDN_OFFSET: i64 = 1_721_425;

/// A mean synodic month, in days.
const SYNODIC_MONTH: f64 = 29.530_588_853;

/// The Julian day (of the new moon of 1900-01-01) that new moon number 0 is counted from.
const NEW_MOON_EPOCH: f64 = 2_415_021.076_998_695;

fn jdn(date: NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&date)) + JDN_OFFSET
}

fn date_of(jdn: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(jdn - JDN_OFFSET).ok()?)
}

fn rad(degrees: f64) -> f64 {
    degrees * PI / 180.0
}

/// The local day (Julian day number) of new moon number `k` (k = 0: January 1900).
fn new_moon_day(k: i64) -> i64 {
    let k = k as f64;
    let t = k / 1236.85;
    let (t2, t3) = (t * t, t * t * t);
    let mean = 2_415_020.759_33 + 29.530_588_68 * k + 0.000_117_8 * t2 - 0.000_000_155 * t3
        + 0.000_33 * rad(166.56 + 132.87 * t - 0.009_173 * t2).sin();
    // The sun's and the moon's mean anomalies, and the moon's argument of latitude.
    let m = rad(359.2242 + 29.105_356_08 * k - 0.000_033_3 * t2 - 0.000_003_47 * t3);
    let mp = rad(306.0253 + 385.816_918_06 * k + 0.010_730_6 * t2 + 0.000_012_36 * t3);
    let f = rad(21.2964 + 390.670_506_46 * k - 0.001_652_8 * t2 - 0.000_002_39 * t3);
    let correction = (0.1734 - 0.000_393 * t) * m.sin() + 0.0021 * (2.0 * m).sin()
        - 0.4068 * mp.sin()
        + 0.0161 * (2.0 * mp).sin()
        - 0.0004 * (3.0 * mp).sin()
        + 0.0104 * (2.0 * f).sin()
        - 0.0051 * (m + mp).sin()
        - 0.0074 * (m - mp).sin()
        + 0.0004 * (2.0 * f + m).sin()
        - 0.0004 * (2.0 * f - m).sin()
        - 0.0006 * (2.0 * f + mp).sin()
        + 0.0010 * (2.0 * f - mp).sin()
        + 0.0005 * (2.0 * mp + m).sin();
    // Dynamical time to universal time.
    let delta_t = if t < -11.0 {
        0.001 + 0.000_839 * t + 0.000_226_1 * t2 - 0.000_008_45 * t3 - 0.000_000_081 * t * t3
    } else {
        -0.000_278 + 0.000_265 * t + 0.000_262 * t2
    };
    (mean + correction - delta_t + 0.5 + TIME_ZONE / 24.0).floor() as i64
}

/// Which twelfth of the ecliptic the sun is in at the start of local day `day` (0: from the
/// vernal equinox); the major solar terms fall on its boundaries.
fn sun_sector(day: i64) -> i64 {
    let t = (day as f64 - 2_451_545.5 - TIME_ZONE / 24.0) / 36_525.0;
    let t2 = t * t;
    let m = rad(357.529_10 + 35_999.050_30 * t - 0.000_155_9 * t2 - 0.000_000_48 * t * t2);
    let l0 = 280.466_45 + 36_000.769_83 * t + 0.000_303_2 * t2;
    let center = (1.914_600 - 0.004_817 * t - 0.000_014 * t2) * m.sin()
        + (0.019_993 - 0.000_101 * t) * (2.0 * m).sin()
        + 0.000_290 * (3.0 * m).sin();
    let longitude = rad(l0 + center).rem_euclid(2.0 * PI);
    (longitude / PI * 6.0).floor() as i64
}

/// The new moon number whose month starts on or just before `day`.
fn new_moon_number(day: i64) -> i64 {
    ((day as f64 - NEW_MOON_EPOCH) / SYNODIC_MONTH + 0.5).floor() as i64
}

/// The first day of the eleventh lunar month (the one holding the winter solstice) of
/// solar year `year`.
fn month_11(year: i32) -> Option<i64> {
    let dec_31 = jdn(NaiveDate::from_ymd_opt(year, 12, 31)?);
    let k = ((dec_31 - 2_415_021) as f64 / SYNODIC_MONTH).floor() as i64;
    let start = new_moon_day(k);
    // A month that starts after the sun has passed 270° is the twelfth.
    Some(if sun_sector(start) >= 9 {
        new_moon_day(k - 1)
    } else {
        start
    })
}

/// In a thirteen-month year starting at month 11 `a11`: how many months after it the leap
/// month comes (the first without a major term).
fn leap_offset(a11: i64) -> i64 {
    let k = new_moon_number(a11);
    let mut i = 1;
    let mut sector = sun_sector(new_moon_day(k + i));
    loop {
        let last = sector;
        i += 1;
        sector = sun_sector(new_moon_day(k + i));
        if sector == last || i >= 14 {
            return i - 1;
        }
    }
}

/// The solar date of lunar day `day` of lunar month `month` (1–12; `leap`: the repeated
/// month) of lunar year `year`; none when there is no such day (a leap month the year does
/// not have, or a date outside the calendar's range).
pub fn to_solar(day: u32, month: u32, year: i32, leap: bool) -> Option<NaiveDate> {
    if !(1..=30).contains(&day) || !(1..=12).contains(&month) {
        return None;
    }
    let (a11, b11) = if month < 11 {
        (month_11(year - 1)?, month_11(year)?)
    } else {
        (month_11(year)?, month_11(year + 1)?)
    };
    let mut offset = (i64::from(month) - 11).rem_euclid(12);
    if b11 - a11 > 365 {
        let leap_off = leap_offset(a11);
        let leap_month = (leap_off - 2).rem_euclid(12);
        if leap && i64::from(month) != leap_month {
            return None;
        }
        if leap || offset >= leap_off {
            offset += 1;
        }
    } else if leap {
        return None;
    }
    let start = new_moon_day(new_moon_number(a11) + offset);
    date_of(start + i64::from(day) - 1)
}

/// Tết Nguyên Đán of lunar year `year` (the one that starts in solar year `year`).
pub fn tet(year: i32) -> Option<NaiveDate> {
    to_solar(1, 1, year, false)
}

/// Giỗ Tổ Hùng Vương (the tenth day of the third lunar month) of `year`.
pub fn hung_kings(year: i32) -> Option<NaiveDate> {
    to_solar(10, 3, year, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn tet_falls_on_the_days_the_country_kept() {
        for (year, day) in [
            (1985, d(1985, 1, 21)),
            (2000, d(2000, 2, 5)),
            (2007, d(2007, 2, 17)),
            (2020, d(2020, 1, 25)),
            (2023, d(2023, 1, 22)),
            (2024, d(2024, 2, 10)),
            (2025, d(2025, 1, 29)),
            (2026, d(2026, 2, 17)),
            (2027, d(2027, 2, 6)),
            // The new moon comes at 23:07 in Hà Nội, 00:07 the next day in Beijing.
            (2030, d(2030, 2, 2)),
        ] {
            assert_eq!(tet(year), Some(day), "Tết {year}");
        }
    }

    #[test]
    fn the_hung_kings_day_and_leap_months() {
        assert_eq!(hung_kings(2024), Some(d(2024, 4, 18)));
        assert_eq!(hung_kings(2025), Some(d(2025, 4, 7)));
        // 2023 repeated its second month; 2025 its sixth.
        assert!(to_solar(1, 2, 2023, true).is_some());
        assert!(to_solar(1, 3, 2023, true).is_none());
        assert_eq!(to_solar(1, 6, 2025, true), Some(d(2025, 7, 25)));
        assert!(
            to_solar(1, 6, 2026, true).is_none(),
            "no leap month in 2026"
        );
        assert!(to_solar(31, 1, 2026, false).is_none());
        // The lunar year ends the day before the next Tết.
        let next = tet(2027).unwrap();
        let last_month = to_solar(1, 12, 2026, false).unwrap();
        assert!(matches!((next - last_month).num_days(), 29 | 30));
    }
}
