//! Device identity actions shared by `central device ...` and the dashboard: making a
//! one-time enrolment code (and its QR code), revoking, and deciding on quarantined events.

use rong_identity::{EnrolmentCode, Role};
use rong_protocol::{BranchId, DeviceId};

use crate::ingest::Ingest;
use central_store::{Store, StoreError};

/// A code just made: the code, its expiry (ms) and the device it enrols, if named.
#[derive(Debug)]
pub struct MadeCode {
    /// The code.
    pub code: EnrolmentCode,
    /// When it expires (ms).
    pub expires_at: i64,
    /// The device id it enrols, if one was named.
    pub device: Option<DeviceId>,
}

/// Checks the request, then records a new one-time code for a `role` of `branch` (the
/// device named, or one chosen at enrolment), valid `hours`, made by `by`.
pub fn make_code(
    store: &mut Store,
    branch: &str,
    role: &str,
    device: Option<&str>,
    hours: u32,
    by: &str,
) -> Result<MadeCode, StoreError> {
    let bad = |m: String| StoreError::Conflict(m);
    let role = Role::parse(role).ok_or_else(|| bad("the role must be kiosk or station".into()))?;
    let branch = BranchId::new(branch).map_err(|e| bad(format!("branch: {e}")))?;
    let device = device
        .map(DeviceId::new)
        .transpose()
        .map_err(|e| bad(format!("device id: {e}")))?;
    if hours == 0 {
        return Err(bad("a code must be valid at least 1 hour".into()));
    }
    let code = EnrolmentCode::generate();
    let now = chrono::Utc::now().timestamp_millis();
    let expires_at = now + i64::from(hours) * 3_600_000;
    store.create_enrolment_code(&central_store::identity::NewCode {
        hash: &code.hash(),
        branch: &branch,
        role: role.as_str(),
        device: device.as_ref(),
        created_by: by,
        now_ms: now,
        expires_at,
    })?;
    Ok(MadeCode {
        code,
        expires_at,
        device,
    })
}

/// A code as a QR code, an SVG document (for the dashboard).
pub fn qr_svg(code: &str) -> Result<String, StoreError> {
    let qr = qrcode::QrCode::new(code.as_bytes())
        .map_err(|e| StoreError::Conflict(format!("cannot make the QR code: {e}")))?;
    Ok(qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// The dashboard's device actions, through the writer and the ingest jobs.
#[derive(Debug, Clone)]
pub struct DashboardDevices {
    /// The writer's jobs.
    pub ingest: Ingest,
    /// The broker's ACL, rewritten after each revocation (when configured).
    pub acl: Option<std::sync::Arc<crate::broker_acl::BrokerAcl>>,
}

impl central_web::DeviceAdmin for DashboardDevices {
    fn enrolment_code(
        &self,
        branch: String,
        role: String,
        device: Option<String>,
        hours: u32,
        by: String,
    ) -> central_web::BoxFuture<'_, Result<central_web::NewEnrolmentCode, StoreError>> {
        Box::pin(async move {
            let made = self
                .ingest
                .writer()
                .run(move |s| make_code(s, &branch, &role, device.as_deref(), hours, &by))
                .await?;
            let code = made.code.display();
            Ok(central_web::NewEnrolmentCode {
                qr_svg: qr_svg(&code)?,
                code,
                device: made.device.map(|d| d.to_string()),
                expires_at: made.expires_at,
            })
        })
    }

    fn revoke(
        &self,
        device: DeviceId,
        by: String,
    ) -> central_web::BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.ingest.revoke(device, by).await?;
            if let Some(acl) = &self.acl {
                acl.refresh().await;
            }
            Ok(())
        })
    }

    fn decide(
        &self,
        id: i64,
        accept: bool,
        by: String,
    ) -> central_web::BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.ingest.decide_quarantined(id, accept, by))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qr_code_is_an_svg_of_the_code() {
        let svg = qr_svg("RONG-AAAAA-BBBBB-CCCCC-DDDDD").unwrap();
        assert!(svg.contains("<svg"), "{}", &svg[..100.min(svg.len())]);
        assert!(svg.len() > 1000, "a QR code has many modules");
    }
}
