//! The `*_ms` config keys: a [`Duration`] written as whole milliseconds. Fields use it
//! with `#[serde(with = "crate::millis")]`.

use std::time::Duration;

/// Writes a duration as whole milliseconds.
pub(crate) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Reads whole milliseconds as a duration.
pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    <u64 as serde::Deserialize>::deserialize(d).map(Duration::from_millis)
}
