//! Signed device requests. Every request to a device route carries
//!
//! ```text
//! Authorization: Rong-Device id="<device>", ts="<unix ms>", sig="<base64>"
//! ```
//!
//! where `sig` is the device key's Ed25519 signature over [`canonical`]: the lines
//! `rong-device-v1`, the method, the path with its query, the timestamp and the device id.
//! Central checks the device is enrolled and not revoked, the signature, and that `ts` is
//! within [`WINDOW_MS`] of its own clock. The body is not signed: tus chunks carry their
//! own checksum, and the TLS piece protects bodies in transit.
//!
//! A board without a battery clock may be far off; a request refused for its time gets a
//! 401 whose JSON body and header name central's time ([`SERVER_TIME_FIELD`],
//! [`SERVER_TIME_HEADER`]); the board sets its
//! offset ([`Signer::set_server_time`]) and tries once more.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::keys::{KeyPair, PublicKey};

/// The `Authorization` scheme.
pub const SCHEME: &str = "Rong-Device";
/// How far a request's time may be from central's, either way, ms.
pub const WINDOW_MS: i64 = 5 * 60 * 1000;
/// The field of a 401's JSON body that carries central's time, ms since the epoch.
pub const SERVER_TIME_FIELD: &str = "server_time_ms";
/// The header of a 401 that carries central's time too (read without the body).
pub const SERVER_TIME_HEADER: &str = "rong-server-time-ms";

/// Why a request's credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header of this scheme.
    #[error("device credentials are required (Authorization: Rong-Device ...)")]
    Missing,
    /// The header does not parse.
    #[error("malformed device credentials: {0}")]
    Malformed(String),
    /// The device is not enrolled (or central does not know it).
    #[error("device {0} is not enrolled")]
    Unknown(String),
    /// The device was revoked.
    #[error("device {0} is revoked")]
    Revoked(String),
    /// The request's time is outside the window around central's clock.
    #[error("request time is {skew_ms} ms away from central's clock")]
    Skew {
        /// Request time minus central's.
        skew_ms: i64,
    },
    /// The signature is not the device key's.
    #[error("bad signature")]
    BadSignature,
}

/// The text a device signs for one request.
pub fn canonical(method: &str, path_and_query: &str, ts_ms: i64, device: &str) -> String {
    format!(
        "rong-device-v1\n{}\n{path_and_query}\n{ts_ms}\n{device}",
        method.to_ascii_uppercase()
    )
}

/// A parsed `Authorization: Rong-Device ...` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    /// The device that claims to send.
    pub device: String,
    /// Its clock when signing, ms since the epoch.
    pub ts_ms: i64,
    /// Base64 signature over [`canonical`].
    pub sig: String,
}

impl AuthHeader {
    /// Parses a header value.
    pub fn parse(value: &str) -> Result<AuthHeader, AuthError> {
        let rest = value
            .trim()
            .strip_prefix(SCHEME)
            .filter(|r| r.starts_with(' '))
            .ok_or(AuthError::Missing)?;
        let (mut device, mut ts, mut sig) = (None, None, None);
        for part in rest.split(',') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| AuthError::Malformed(format!("{part:?} is not key=\"value\"")))?;
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| AuthError::Malformed(format!("{k} is not quoted")))?;
            let slot = match k {
                "id" => &mut device,
                "ts" => &mut ts,
                "sig" => &mut sig,
                other => return Err(AuthError::Malformed(format!("unknown field {other}"))),
            };
            if slot.replace(v.to_owned()).is_some() {
                return Err(AuthError::Malformed(format!("{k} given twice")));
            }
        }
        let missing = |k: &str| AuthError::Malformed(format!("no {k}"));
        let ts_ms = ts
            .ok_or_else(|| missing("ts"))?
            .parse()
            .map_err(|_| AuthError::Malformed("ts is not a number".into()))?;
        Ok(AuthHeader {
            device: device.ok_or_else(|| missing("id"))?,
            ts_ms,
            sig: sig.ok_or_else(|| missing("sig"))?,
        })
    }

    /// The header value.
    pub fn to_value(&self) -> String {
        format!(
            "{SCHEME} id=\"{}\", ts=\"{}\", sig=\"{}\"",
            self.device, self.ts_ms, self.sig
        )
    }

    /// Checks the signature with the device's `key` and the time against `now_ms`.
    pub fn verify(
        &self,
        key: &PublicKey,
        method: &str,
        path_and_query: &str,
        now_ms: i64,
    ) -> Result<(), AuthError> {
        let text = canonical(method, path_and_query, self.ts_ms, &self.device);
        if !key.verify(text.as_bytes(), &self.sig) {
            return Err(AuthError::BadSignature);
        }
        // The signature first: an unsigned request learns nothing, not even the skew.
        let skew_ms = self.ts_ms.saturating_sub(now_ms);
        if skew_ms.saturating_abs() > WINDOW_MS {
            return Err(AuthError::Skew { skew_ms });
        }
        Ok(())
    }
}

/// A device's signer: its id, its key, and the offset of its clock from central's.
#[derive(Debug)]
pub struct Signer {
    device: String,
    /// The device id as the MQTT envelope names it; `None` if `device` is not a valid id.
    pub(crate) id: Option<rong_protocol::DeviceId>,
    pub(crate) key: KeyPair,
    offset_ms: AtomicI64,
}

fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Signer {
    /// A signer for `device` with its `key`.
    pub fn new(device: impl Into<String>, key: KeyPair) -> Signer {
        let device = device.into();
        Signer {
            id: rong_protocol::DeviceId::new(device.clone()).ok(),
            device,
            key,
            offset_ms: AtomicI64::new(0),
        }
    }

    /// The device id.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The device's public key.
    pub fn public(&self) -> PublicKey {
        self.key.public()
    }

    /// The `Authorization` value for one request, at the corrected time.
    pub fn authorization(&self, method: &str, path_and_query: &str) -> String {
        self.authorization_at(method, path_and_query, self.now_ms())
    }

    /// The time this device signs at: its clock, corrected by central's time once a
    /// request was refused for skew.
    pub fn now_ms(&self) -> i64 {
        system_now_ms().saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// The `Authorization` value for one request signed at `ts_ms`.
    pub fn authorization_at(&self, method: &str, path_and_query: &str, ts_ms: i64) -> String {
        let text = canonical(method, path_and_query, ts_ms, &self.device);
        AuthHeader {
            device: self.device.clone(),
            ts_ms,
            sig: self.key.sign(text.as_bytes()),
        }
        .to_value()
    }

    /// Takes central's time from a refusal for skew: later requests are signed at it.
    pub fn set_server_time(&self, server_ms: i64) {
        self.offset_ms
            .store(server_ms.saturating_sub(system_now_ms()), Ordering::Relaxed);
    }

    /// The current offset from the system clock, ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_signed_request_verifies_only_as_sent() {
        let signer = Signer::new("kontum-kiosk-1", KeyPair::generate());
        let key = signer.public();
        let now = system_now_ms();
        let h = AuthHeader::parse(&signer.authorization("get", "/api/v1/snapshot/kontum")).unwrap();
        assert_eq!(h.device, "kontum-kiosk-1");
        assert_eq!(
            h.verify(&key, "GET", "/api/v1/snapshot/kontum", now),
            Ok(())
        );
        for (m, p) in [
            ("GET", "/api/v1/snapshot/dakto"),
            ("POST", "/api/v1/snapshot/kontum"),
        ] {
            assert_eq!(h.verify(&key, m, p, now), Err(AuthError::BadSignature));
        }
        let other = KeyPair::generate().public();
        assert_eq!(
            h.verify(&other, "GET", "/api/v1/snapshot/kontum", now),
            Err(AuthError::BadSignature)
        );
        let late = now + WINDOW_MS + 60_000;
        assert!(matches!(
            h.verify(&key, "GET", "/api/v1/snapshot/kontum", late),
            Err(AuthError::Skew { .. })
        ));
        signer.set_server_time(late);
        let h = AuthHeader::parse(&signer.authorization("GET", "/x")).unwrap();
        assert_eq!(h.verify(&key, "GET", "/x", late), Ok(()));
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert_eq!(AuthHeader::parse("Bearer abc"), Err(AuthError::Missing));
        assert_eq!(AuthHeader::parse("Rong-Devicex"), Err(AuthError::Missing));
        for bad in [
            "Rong-Device id=\"a\"",
            "Rong-Device id=\"a\", ts=\"x\", sig=\"s\"",
            "Rong-Device id=a, ts=\"1\", sig=\"s\"",
            "Rong-Device id=\"a\", id=\"b\", ts=\"1\", sig=\"s\"",
            "Rong-Device id=\"a\", ts=\"1\", sig=\"s\", extra=\"1\"",
        ] {
            assert!(
                matches!(AuthHeader::parse(bad), Err(AuthError::Malformed(_))),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,200}") {
            let _ = AuthHeader::parse(&s);
            let _ = AuthHeader::parse(&format!("Rong-Device {s}"));
        }
    }
}
