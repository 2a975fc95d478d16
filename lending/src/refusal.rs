//! Why a request was refused, in a form clients can branch on.

use rong_protocol::api::{ApiError, ErrorCode};

/// A refused request: a stable code and a detail for the log and the English text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The code clients branch on.
    pub code: ErrorCode,
    /// Extra detail, in English; may be empty.
    pub detail: String,
}

impl Refusal {
    /// A refusal with a detail.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    /// The API error for this refusal.
    pub fn to_api(&self) -> ApiError {
        ApiError::new(self.code, &self.detail)
    }
}
