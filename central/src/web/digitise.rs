//! The digitisation page: per station and per branch, jobs, pages and bytes waiting from
//! each device's status; and, for administrators, documents and pages processed at
//! central. Branch staff see only their branch's stations.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::html::{bytes, esc, page};
use super::{html_response, read, session, WebError, WebState};
use crate::store::admin::{self, FleetRow, Role};
use crate::store::digitise::{self as db, OcrCounts};

/// Query of the page.
#[derive(Debug, Default, Deserialize)]
pub struct DigitiseQuery {
    branch: Option<String>,
}

/// Per-branch sums of station statuses: stations, open jobs, jobs, pages and bytes waiting.
pub fn branch_sums(rows: &[FleetRow]) -> BTreeMap<String, [u64; 5]> {
    let mut out: BTreeMap<String, [u64; 5]> = BTreeMap::new();
    for r in rows {
        let Some(d) = r.status.as_ref().and_then(|s| s.digitise.as_ref()) else {
            continue;
        };
        let e = out.entry(r.branch.clone()).or_default();
        e[0] += 1;
        e[1] += u64::from(d.jobs_open);
        e[2] += u64::from(d.jobs_waiting);
        e[3] += u64::from(d.pages_waiting);
        e[4] += d.bytes_waiting;
    }
    out
}

/// `GET /admin/digitise`.
pub async fn page_route(
    State(st): State<WebState>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<DigitiseQuery>,
) -> Result<Response, WebError> {
    let s = session(&st, &headers, &uri).await?;
    let lang = s.lang;
    let branch = s.scope(q.branch.as_deref())?;
    let admin_view = s.role == Role::Admin;
    let (rows, counts): (Vec<FleetRow>, Option<OcrCounts>) = read(&st, move |c| {
        let rows = admin::fleet(c, branch.as_deref())?;
        let counts = if admin_view {
            Some(db::counts(c)?)
        } else {
            None
        };
        Ok((rows, counts))
    })
    .await?;
    let en = lang.code() == "en";
    let l = |vi: &'static str, e: &'static str| if en { e } else { vi };
    let mut b = format!("<h1>{}</h1>", l("Số hoá", "Digitisation"));
    if let Some(c) = counts {
        let _ = write!(
            b,
            "<h2>{}</h2><table id=\"central-ocr\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>\
             <tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
            l("Tại trung tâm", "At central"),
            l("Tài liệu đã nhận", "Documents received"),
            l("Trang chờ OCR", "Pages waiting for OCR"),
            l("Trang đã OCR", "Pages OCR done"),
            l("Trang lỗi", "Pages failed"),
            c.documents,
            c.queued + c.running,
            c.done,
            c.failed
        );
    }
    let _ = write!(
        b,
        "<h2>{}</h2><table id=\"branches\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        l("Theo chi nhánh", "By branch"),
        l("Chi nhánh", "Branch"),
        l("Trạm", "Stations"),
        l("Đang quét", "Jobs open"),
        l("Chờ gửi", "Jobs waiting"),
        l("Trang chờ", "Pages waiting"),
        l("Dung lượng chờ", "Bytes waiting"),
    );
    for (br, v) in branch_sums(&rows) {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&br),
            v[0],
            v[1],
            v[2],
            v[3],
            bytes(v[4])
        );
    }
    b.push_str("</table>");
    let _ = write!(
        b,
        "<h2>{}</h2><table id=\"stations\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        l("Theo trạm", "By station"),
        l("Trạm", "Station"),
        l("Chi nhánh", "Branch"),
        l("Chờ gửi", "Jobs waiting"),
        l("Trang chờ", "Pages waiting"),
        l("Dung lượng chờ", "Bytes waiting"),
        l("Đã an toàn", "Jobs safe"),
        l("Bị từ chối", "Jobs refused"),
    );
    for r in &rows {
        let Some(d) = r.status.as_ref().and_then(|s| s.digitise.as_ref()) else {
            continue;
        };
        let _ = write!(
            b,
            "<tr><td><a href=\"/admin/devices/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.branch),
            d.jobs_waiting,
            d.pages_waiting,
            bytes(d.bytes_waiting),
            d.jobs_safe,
            d.jobs_refused,
            id = esc(&r.id),
        );
    }
    b.push_str("</table>");
    Ok(html_response(page(
        lang,
        l("Số hoá", "Digitisation"),
        "digitise",
        Some(&s.viewer()),
        &b,
    )))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rong_protocol::digitise::DigitiseStatus;
    use rong_protocol::ids::{BranchId, DeviceId};
    use rong_protocol::status::{DeviceState, DeviceStatus};

    use super::*;

    fn row(id: &str, branch: &str, digitise: Option<DigitiseStatus>) -> FleetRow {
        FleetRow {
            id: id.into(),
            branch: branch.into(),
            state: Some("online".into()),
            last_seen: Some(0),
            status: Some(DeviceStatus {
                v: 1,
                device: DeviceId::new(id.to_owned()).expect("id"),
                branch: BranchId::new(branch.to_owned()).expect("branch"),
                state: DeviceState::Online,
                version: "0.1.0".into(),
                boot_id: "b".into(),
                started_at: 0,
                at: 0,
                time_synced: true,
                outbox_depth: 0,
                oldest_unsynced_age_s: None,
                catalogue_version: 1,
                disk_free_bytes: None,
                temperature_c: None,
                hardware: BTreeMap::new(),
                digitise,
            }),
        }
    }

    fn waiting(jobs: u32, pages: u32, bytes: u64) -> Option<DigitiseStatus> {
        Some(DigitiseStatus {
            jobs_open: 1,
            jobs_waiting: jobs,
            pages_waiting: pages,
            bytes_waiting: bytes,
            jobs_safe: 0,
            jobs_refused: 0,
            uploading: None,
        })
    }

    #[test]
    fn sums_stations_per_branch_and_skips_devices_without_scanning() {
        let rows = [
            row("s1", "kontum", waiting(2, 40, 1000)),
            row("s2", "kontum", waiting(1, 10, 500)),
            row("s3", "dakha", waiting(0, 0, 0)),
            row("k1", "dakha", None),
        ];
        let sums = branch_sums(&rows);
        assert_eq!(sums["kontum"], [2, 2, 3, 50, 1500]);
        assert_eq!(sums["dakha"], [1, 1, 0, 0, 0]);
        assert_eq!(sums.len(), 2);
    }
}
