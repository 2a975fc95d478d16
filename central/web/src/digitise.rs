//! The digitisation page: per station and per branch, jobs, pages and bytes waiting from
//! each device's status; and, for administrators, documents and pages processed at
//! central. Branch staff see only their branch's stations.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use serde::Deserialize;

use super::html::{bytes, esc};
use super::{Page, Session, WebState};
use central_store::admin::{self, FleetRow, Role};
use central_store::digitise::{self as db, OcrCounts};

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

/// Bytes for people: KiB below a MiB (a few scanned pages weigh that), else as [`bytes`].
fn size(n: u64) -> String {
    if n < 1024 * 1024 {
        format!("{} KiB", n.div_ceil(1024))
    } else {
        bytes(n)
    }
}

/// Writes a table that stacks into labelled cards on a phone: the first `text` columns
/// as text, the others as numbers; `empty` instead when there are no rows.
fn table(
    out: &mut String,
    id: &str,
    heads: &[&str],
    text: usize,
    rows: &[Vec<String>],
    empty: &str,
) {
    if rows.is_empty() {
        let _ = write!(out, "<p class=\"muted\" id=\"{id}-none\">{empty}</p>");
        return;
    }
    let _ = write!(out, "<table class=\"stack\" id=\"{id}\"><thead><tr>");
    for (i, h) in heads.iter().enumerate() {
        let class = if i < text { "" } else { " class=\"num\"" };
        let _ = write!(out, "<th{class}>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, (cell, h)) in row.iter().zip(heads).enumerate() {
            let class = if i < text { "" } else { " class=\"num\"" };
            let _ = write!(out, "<td data-label=\"{h}\"{class}>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

/// `GET /admin/digitise`.
pub async fn page_route(
    State(st): State<WebState>,
    s: Session,
    Query(q): Query<DigitiseQuery>,
) -> Page {
    let branch = s.scope(q.branch.as_deref())?;
    let admin_view = s.role == Role::Admin;
    let (rows, counts): (Vec<FleetRow>, Option<OcrCounts>) = st
        .reads
        .run(move |c| {
            let rows = admin::fleet(c, branch.as_deref())?;
            let counts = if admin_view {
                Some(db::counts(c)?)
            } else {
                None
            };
            Ok((rows, counts))
        })
        .await?;
    let en = s.lang.code() == "en";
    let l = |vi: &'static str, e: &'static str| if en { e } else { vi };
    let mut b = format!("<h1>{}</h1>", l("Số hoá", "Digitisation"));
    if let Some(c) = counts {
        let _ = write!(
            b,
            "<h2>{}</h2><div class=\"summary\">",
            l("Tại trung tâm", "At central")
        );
        for (id, n, label) in [
            (
                "documents",
                c.documents,
                l("Tài liệu đã nhận", "Documents received"),
            ),
            (
                "waiting",
                c.queued + c.running,
                l("Trang chờ OCR", "Pages waiting for OCR"),
            ),
            ("done", c.done, l("Trang đã OCR", "Pages read (OCR)")),
            ("failed", c.failed, l("Trang lỗi", "Pages failed")),
        ] {
            let _ = write!(
                b,
                "<div class=\"card\" id=\"ocr-{id}\"><div class=\"n\">{n}</div>{label}</div>"
            );
        }
        b.push_str("</div>");
    }
    let sums = branch_sums(&rows);
    let none = l(
        "Chưa có trạm số hoá nào báo trạng thái.",
        "No scanning station has reported yet.",
    );
    // Columns both tables have.
    let (branch, jobs, pages, size_l) = (
        l("Chi nhánh", "Branch"),
        l("Chờ gửi", "Jobs waiting"),
        l("Trang chờ", "Pages waiting"),
        l("Dung lượng chờ", "Bytes waiting"),
    );
    let _ = write!(b, "<h2>{}</h2>", l("Theo chi nhánh", "By branch"));
    let heads = [
        branch,
        l("Trạm", "Stations"),
        l("Đang quét", "Jobs open"),
        jobs,
        pages,
        size_l,
    ];
    let body: Vec<Vec<String>> = sums
        .iter()
        .map(|(br, v)| {
            vec![
                esc(br),
                v[0].to_string(),
                v[1].to_string(),
                v[2].to_string(),
                v[3].to_string(),
                size(v[4]),
            ]
        })
        .collect();
    table(&mut b, "branches", &heads, 1, &body, none);
    let _ = write!(b, "<h2>{}</h2>", l("Theo trạm", "By station"));
    let heads = [
        l("Trạm", "Station"),
        branch,
        jobs,
        pages,
        size_l,
        l("Đã an toàn", "Jobs safe"),
        l("Bị từ chối", "Jobs refused"),
    ];
    let body: Vec<Vec<String>> = rows
        .iter()
        .filter_map(|r| {
            let d = r.status.as_ref()?.digitise.as_ref()?;
            Some(vec![
                format!("<a href=\"/admin/devices/{id}\">{id}</a>", id = esc(&r.id)),
                esc(&r.branch),
                d.jobs_waiting.to_string(),
                d.pages_waiting.to_string(),
                size(d.bytes_waiting),
                d.jobs_safe.to_string(),
                d.jobs_refused.to_string(),
            ])
        })
        .collect();
    table(&mut b, "stations", &heads, 2, &body, none);
    Ok(s.page(l("Số hoá", "Digitisation"), "digitise", &b))
}

#[cfg(test)]
mod tests {
    use rong_protocol::digitise::DigitiseStatus;
    use rong_protocol::status::DeviceStatus;

    use super::*;

    fn row(id: &str, branch: &str, digitise: Option<DigitiseStatus>) -> FleetRow {
        FleetRow {
            id: id.into(),
            branch: branch.into(),
            state: Some("online".into()),
            last_seen: Some(0),
            status: Some(DeviceStatus {
                digitise,
                ..crate::testkit::status(id, branch)
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
    fn small_sizes_in_kib_and_tables_label_every_cell_or_say_empty() {
        assert_eq!(size(0), "0 KiB");
        assert_eq!(size(1500), "2 KiB");
        assert_eq!(size(3 * 1024 * 1024), "3 MiB");
        let mut out = String::new();
        let rows = vec![vec!["<a>s1</a>".to_owned(), "7".to_owned()]];
        table(&mut out, "t", &["Trạm", "Trang"], 1, &rows, "none");
        assert!(
            out.contains("<td data-label=\"Trạm\"><a>s1</a></td>"),
            "{out}"
        );
        assert!(
            out.contains("<td data-label=\"Trang\" class=\"num\">7</td>"),
            "{out}"
        );
        let mut out = String::new();
        table(&mut out, "t", &["Trạm"], 1, &[], "none");
        assert_eq!(out, "<p class=\"muted\" id=\"t-none\">none</p>");
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
