//! Device identity, shared by central and the edge-agent.
//!
//! - [`keys`]: Ed25519 key pairs kept in files readable by their owner only, and public
//!   keys as text.
//! - [`code`]: one-time enrolment codes (`RONG-XXXXX-XXXXX-XXXXX-XXXXX`), their normal form
//!   and the hash central stores.
//! - [`enrol`]: the enrolment exchange (`POST /api/v1/device/enrol`).
//! - [`http_auth`]: the `Authorization: Rong-Device ...` header every device request
//!   carries, its canonical string, and its check.
//! - [`mqtt`]: MQTT messages sealed with a [`KeyPair`] and opened with a [`PublicKey`].
//! - [`pin`]: the PIN check a board asks central for, and PINs sealed to central's key
//!   while it cannot ask.
//! - [`tls`]: rustls configurations that trust central's own CA, and a board's key as a
//!   TLS client key.
//!
//! No network and no database here: both sides call these functions.

pub mod code;
pub mod enrol;
pub mod http_auth;
pub mod keys;
pub mod mqtt;
pub mod pin;
pub mod tls;

pub use code::EnrolmentCode;
pub use enrol::{Certificate, EnrolRequest, EnrolResponse, Role, CERTIFICATE_PATH, ENROL_PATH};
pub use http_auth::{AuthError, AuthHeader, Signer, SCHEME};
pub use keys::{KeyError, KeyPair, PublicKey};
