//! The enrolment exchange: a board sends its one-time code and its public key to
//! [`ENROL_PATH`]; central answers with the board's identity and central's own public key,
//! which the board pins, with a certificate for the board's key from central's CA and that
//! CA, which the board pins too. A board renews its certificate at [`CERTIFICATE_PATH`].

use serde::{Deserialize, Serialize};

/// Where a board enrols: `POST`, JSON [`EnrolRequest`] in, [`EnrolResponse`] out.
pub const ENROL_PATH: &str = "/api/v1/device/enrol";

/// Where a board renews its certificate: `POST` (a signed device request, no body),
/// [`Certificate`] out. Central certifies the key it enrolled, never one sent here.
pub const CERTIFICATE_PATH: &str = "/api/v1/device/certificate";

/// A certificate for a board's key from central's CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The board's certificate, PEM.
    pub certificate: String,
    /// Central's CA certificate, PEM: the one root the board trusts for TLS.
    pub ca: String,
    /// When the certificate expires, Unix ms.
    pub expires_ms: i64,
}

/// What a board is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A self-service kiosk.
    Kiosk,
    /// A scanning station.
    Station,
}

impl Role {
    /// Reads `kiosk` or `station`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "kiosk" => Some(Role::Kiosk),
            "station" => Some(Role::Station),
            _ => None,
        }
    }

    /// The role as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kiosk => "kiosk",
            Role::Station => "station",
        }
    }
}

/// What a board sends to enrol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The one-time code as printed or typed.
    pub code: String,
    /// The board's Ed25519 public key, base64; its private key never leaves the board.
    pub public_key: String,
}

/// What central answers a good code with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The board's device id from now on.
    pub device: String,
    /// Its branch.
    pub branch: String,
    /// What it is for.
    pub role: Role,
    /// Central's Ed25519 public key, base64, for the board to pin.
    pub central_public_key: String,
    /// The board's certificate and central's CA (absent from centrals older than TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Certificate>,
}
