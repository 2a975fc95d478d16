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

/// A Mosquitto ACL for the network: central may read and write every Rông topic; each
/// enrolled, unrevoked device (logging in with its device id as user name) may publish
/// only on its own uplink topics under its own branch, and read only its own downlink
/// topics and its branch's deltas. Nothing for revoked or unenrolled devices: they get no
/// topic at all. Print it with `central device acl`, install it as the broker's
/// `acl_file` and reload the broker after each enrolment or revocation.
pub fn mosquitto_acl(devices: &[central_store::identity::DeviceIdentity]) -> String {
    use rong_protocol::topic::Topic;
    let mut out = String::from(
        "# Rông's Mosquitto ACL, written by `central device acl`: one block per enrolled device.\n\
         # Regenerate it after enrolling or revoking a device, then reload Mosquitto.\n\n\
         user central\ntopic readwrite rong/v1/#\n",
    );
    for d in devices {
        if d.enrolled_at.is_none() || d.revoked_at.is_some() {
            continue;
        }
        let (Ok(b), Ok(id)) = (BranchId::new(&d.branch), DeviceId::new(&d.device)) else {
            continue;
        };
        let t = |f: fn(BranchId, DeviceId) -> Topic| f(b.clone(), id.clone()).to_topic_string();
        out.push_str(&format!("\nuser {id}\n"));
        for topic in [
            t(Topic::Events),
            t(Topic::Status),
            t(Topic::CmdReply),
            t(Topic::Catchup),
        ] {
            out.push_str(&format!("topic write {topic}\n"));
        }
        for topic in [
            t(Topic::Ack),
            t(Topic::Cmd),
            t(Topic::DeviceDeltas),
            Topic::BranchDeltas(b.clone()).to_topic_string(),
        ] {
            out.push_str(&format!("topic read {topic}\n"));
        }
    }
    out
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

    fn device(
        id: &str,
        branch: &str,
        enrolled: bool,
        revoked: bool,
    ) -> central_store::identity::DeviceIdentity {
        central_store::identity::DeviceIdentity {
            device: id.into(),
            branch: branch.into(),
            role: Some("kiosk".into()),
            enrolled_at: enrolled.then_some(1),
            revoked_at: revoked.then_some(2),
            revoked_by: None,
        }
    }

    #[test]
    fn the_acl_gives_each_enrolled_device_its_own_topics_only() {
        let acl = mosquitto_acl(&[
            device("kontum-kiosk-1", "kontum", true, false),
            device("dakto-kiosk-1", "dakto", true, true),
            device("dakto-kiosk-2", "dakto", false, false),
        ]);
        assert!(acl.contains("user central\ntopic readwrite rong/v1/#\n"));
        assert!(acl
            .contains("\nuser kontum-kiosk-1\ntopic write rong/v1/kontum/kontum-kiosk-1/events\n"));
        assert!(acl.contains("topic read rong/v1/kontum/deltas\n"));
        assert!(
            !acl.contains("dakto"),
            "revoked and unenrolled devices get nothing:\n{acl}"
        );
        assert!(
            !acl.contains('+') && !acl.contains("pattern"),
            "no wildcards for devices"
        );
        assert_eq!(acl.matches("topic ").count(), 1 + 8);
    }

    #[test]
    fn a_qr_code_is_an_svg_of_the_code() {
        let svg = qr_svg("RONG-AAAAA-BBBBB-CCCCC-DDDDD").unwrap();
        assert!(svg.contains("<svg"), "{}", &svg[..100.min(svg.len())]);
        assert!(svg.len() > 1000, "a QR code has many modules");
    }
}
