//! Fleet alerts: a task evaluates device status against the configured thresholds and
//! keeps the `alerts` table in step; the alerts page lists them with the circulation
//! notices, and each can be acknowledged (recording who and when).

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use rong_protocol::status::Health;
use tokio::sync::watch;

use super::devices::{fleet_state, FleetState};
use super::html::{datetime, esc, page as layout, url_enc};
use super::i18n::Lang;
use super::{html_response, now_ms, session, CsrfForm, WebError, WebState};
use crate::config::{AlertsConfig, DashboardConfig};
use crate::metrics::{Fleet, Metrics};
use central_store::admin::{self, AlertCandidate, FleetRow};
use central_store::{Reads, StoreError, Writer};

const MIB: u64 = 1024 * 1024;

/// Which alerts hold for the fleet at `now_ms`, and the fleet's counts for `/metrics`.
pub fn evaluate(
    rows: &[FleetRow],
    now_ms: i64,
    cfg: &AlertsConfig,
    heartbeat_secs: u64,
) -> (Vec<AlertCandidate>, Fleet) {
    let mut out = Vec::new();
    let mut fleet = Fleet::default();
    for r in rows {
        let state = fleet_state(r, now_ms, heartbeat_secs);
        let silent_ms = r.last_seen.map(|t| (now_ms - t).max(0)).unwrap_or(0);
        match state {
            FleetState::Online => fleet.online += 1,
            FleetState::Stale => fleet.stale += 1,
            FleetState::Offline | FleetState::Unknown => fleet.offline += 1,
        }
        let mut add = |kind: &'static str, detail: String| {
            out.push(AlertCandidate {
                kind,
                device: r.id.clone(),
                branch: r.branch.clone(),
                detail,
            })
        };
        if matches!(state, FleetState::Offline | FleetState::Stale)
            && silent_ms >= cfg.offline_minutes as i64 * 60_000
        {
            add(
                "offline",
                format!("no status for {} min", silent_ms / 60_000),
            );
        }
        let Some(st) = &r.status else { continue };
        if let Some(age) = st.oldest_unsynced_age_s {
            // The reported age grows while the device is silent.
            let age = age + (silent_ms / 1000) as u64;
            if state == FleetState::Online {
                fleet.ingest_lag_s = fleet.ingest_lag_s.max(age);
            }
            if age >= cfg.unsynced_hours * 3600 {
                add(
                    "unsynced",
                    format!(
                        "oldest unsynced event is {} h old ({} waiting)",
                        age / 3600,
                        st.outbox_depth
                    ),
                );
            }
        }
        if cfg.hardware_missing && state != FleetState::Offline {
            let missing: Vec<&str> = st
                .hardware
                .iter()
                .filter(|(_, h)| h.health == Health::Missing)
                .map(|(n, _)| n.as_str())
                .collect();
            if !missing.is_empty() {
                add(
                    "hardware_missing",
                    format!("missing: {}", missing.join(", ")),
                );
            }
        }
        if let Some(free) = st.disk_free_bytes {
            if free < cfg.low_disk_mb * MIB {
                add("low_disk", format!("{} MiB free", free / MIB));
            }
        }
    }
    (out, fleet)
}

/// Re-evaluates alerts every `check_secs` until `stop` turns true.
pub async fn run_evaluator(
    reads: Reads,
    writer: Writer,
    metrics: Arc<Metrics>,
    alerts: AlertsConfig,
    dashboard: DashboardConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(alerts.check_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let rows = match reads.run(|c| admin::fleet(c, None)).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the fleet for alerts");
                continue;
            }
        };
        let now = now_ms();
        let (holding, fleet) = evaluate(&rows, now, &alerts, dashboard.heartbeat_secs);
        metrics.set_fleet(fleet);
        match writer.run(move |s| s.sync_alerts(&holding, now)).await {
            Ok((raised, cleared)) if raised + cleared > 0 => {
                tracing::info!(raised, cleared, "fleet alerts changed")
            }
            Ok(_) => {}
            Err(StoreError::WriterGone) => break,
            Err(e) => tracing::error!(error = ?e, "cannot record alerts"),
        }
    }
    tracing::debug!("alert evaluator stopped");
}

fn ack_form(lang: Lang, action: &str, csrf: &str, id: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button id=\"{id}\" class=\"secondary\">{}</button></form>",
        esc(csrf),
        lang.t("ack")
    )
}

/// `GET /admin/alerts`: open alerts, open notices, then what was handled recently.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(st): State<WebState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, WebError> {
    let s = session(&st, &headers, &uri).await?;
    let lang = s.lang;
    let off = st.ctx.utc_offset_min;
    let branch = s.scope(None)?;
    let (alerts, notices) = st
        .app
        .reads
        .run(move |c| {
            Ok((
                admin::alerts(c, branch.as_deref(), false, 200)?,
                admin::branch_notices(c, branch.as_deref(), false, 200)?,
            ))
        })
        .await?;
    let mut b = format!("<h1>{}</h1>", lang.t("alerts"));
    let open: Vec<_> = alerts
        .iter()
        .filter(|a| a.acknowledged_at.is_none())
        .collect();
    let _ = write!(
        b,
        "<h2>{} ({})</h2><table class=\"stack\" id=\"open-alerts\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        lang.t("open_alerts"),
        open.len(),
        lang.t("kind"),
        lang.t("device"),
        lang.t("detail"),
        lang.t("raised"),
        lang.t("cleared"),
    );
    for a in &open {
        let _ = write!(
            b,
            "<tr id=\"alert-{id}\" data-kind=\"{kind}\" data-device=\"{dev}\"><td data-label=\"{}\"><strong>{}</strong></td>\
             <td data-label=\"{}\"><a href=\"/admin/devices/{}\">{dev}</a> <span class=\"muted\">{}</span></td>\
             <td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td>{}</td></tr>",
            lang.t("kind"),
            lang.t(&format!("alert_{}", a.kind)),
            lang.t("device"),
            url_enc(&a.device),
            esc(&a.branch),
            lang.t("detail"),
            esc(&a.detail),
            lang.t("raised"),
            datetime(a.raised_at, off),
            lang.t("cleared"),
            a.cleared_at.map(|t| datetime(t, off)).unwrap_or_else(|| "–".into()),
            ack_form(lang, &format!("/admin/alerts/{}/ack", a.id), &s.csrf, &format!("ack-alert-{}", a.id)),
            id = a.id,
            kind = esc(&a.kind),
            dev = esc(&a.device),
        );
    }
    if open.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"6\" class=\"muted\">{}</td></tr>",
            lang.t("none")
        );
    }
    b.push_str("</tbody></table>");
    let open_n: Vec<_> = notices
        .iter()
        .filter(|n| n.notice.acknowledged_at.is_none())
        .collect();
    let _ = write!(
        b,
        "<h2>{} ({})</h2><table class=\"stack\" id=\"open-notices\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        lang.t("notices"),
        open_n.len(),
        lang.t("kind"),
        lang.t("device"),
        lang.t("item"),
        lang.t("patron"),
        lang.t("detail"),
        lang.t("raised"),
    );
    for n in &open_n {
        let x = &n.notice;
        let _ = write!(
            b,
            "<tr id=\"notice-{id}\" data-kind=\"{kind}\"><td data-label=\"{}\"><strong>{}</strong></td><td data-label=\"{}\">{}</td>\
             <td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td>{}</td></tr>",
            lang.t("kind"),
            lang.t(&x.kind),
            lang.t("device"),
            esc(x.device.as_deref().unwrap_or("")),
            lang.t("item"),
            esc(x.item.as_deref().unwrap_or("")),
            lang.t("patron"),
            esc(x.patron.as_deref().unwrap_or("")),
            lang.t("detail"),
            esc(&x.detail),
            lang.t("raised"),
            datetime(x.created_at, off),
            ack_form(lang, &format!("/admin/notices/{}/ack", x.id), &s.csrf, &format!("ack-notice-{}", x.id)),
            id = x.id,
            kind = esc(&x.kind),
        );
    }
    if open_n.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"7\" class=\"muted\">{}</td></tr>",
            lang.t("none")
        );
    }
    b.push_str("</tbody></table>");
    // Recently acknowledged, alerts and notices together, newest first.
    let mut done: Vec<(i64, String)> = alerts
        .iter()
        .filter_map(|a| {
            Some((
                a.acknowledged_at?,
                format!(
                    "<tr id=\"acked-alert-{}\"><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\" class=\"acked-by\">{}</td><td data-label=\"{}\">{}</td></tr>",
                    a.id,
                    lang.t("kind"),
                    lang.t(&format!("alert_{}", a.kind)),
                    lang.t("device"),
                    esc(&a.device),
                    lang.t("acked_by"),
                    esc(a.acknowledged_by.as_deref().unwrap_or("")),
                    lang.t("when"),
                    datetime(a.acknowledged_at?, off)
                ),
            ))
        })
        .collect();
    done.extend(notices.iter().filter_map(|n| {
        let x = &n.notice;
        Some((
            x.acknowledged_at?,
            format!(
                "<tr id=\"acked-notice-{}\"><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\" class=\"acked-by\">{}</td><td data-label=\"{}\">{}</td></tr>",
                x.id,
                lang.t("kind"),
                lang.t(&x.kind),
                lang.t("device"),
                esc(x.device.as_deref().unwrap_or("")),
                lang.t("acked_by"),
                esc(x.acknowledged_by.as_deref().unwrap_or("")),
                lang.t("when"),
                datetime(x.acknowledged_at?, off)
            ),
        ))
    }));
    done.sort_by_key(|d| std::cmp::Reverse(d.0));
    let _ = write!(
        b,
        "<h2>{}</h2><table class=\"stack\" id=\"handled\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        lang.t("history"),
        lang.t("kind"),
        lang.t("device"),
        lang.t("acked_by"),
        lang.t("when"),
    );
    for (_, row) in done.iter().take(50) {
        b.push_str(row);
    }
    if done.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"4\" class=\"muted\">{}</td></tr>",
            lang.t("none")
        );
    }
    b.push_str("</tbody></table>");
    Ok(html_response(layout(
        lang,
        lang.t("alerts"),
        "alerts",
        Some(&s.viewer()),
        &b,
    )))
}

/// `POST /admin/alerts/{id}/ack`.
#[tracing::instrument(skip_all, fields(alert = id))]
pub async fn ack_alert(
    State(st): State<WebState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let s = session(&st, &headers, &uri).await?;
    s.check_csrf(f.csrf.as_deref())?;
    let branch = st
        .app
        .reads
        .run(move |c| admin::alert_branch(c, id))
        .await?;
    let Some(branch) = branch else {
        return Err(WebError::NotFound(s.lang));
    };
    s.may_see(Some(&branch))?;
    let user = s.user.clone();
    let now = now_ms();
    if st
        .app
        .writer
        .run(move |w| w.ack_alert(id, &user, now))
        .await?
    {
        tracing::info!(user = %s.user, alert = id, "alert acknowledged");
    }
    Ok(Redirect::to("/admin/alerts").into_response())
}

/// `POST /admin/notices/{id}/ack`.
#[tracing::instrument(skip_all, fields(notice = id))]
pub async fn ack_notice(
    State(st): State<WebState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let s = session(&st, &headers, &uri).await?;
    s.check_csrf(f.csrf.as_deref())?;
    let branch = st
        .app
        .reads
        .run(move |c| admin::notice_branch(c, id))
        .await?;
    let Some(branch) = branch else {
        return Err(WebError::NotFound(s.lang));
    };
    s.may_see(branch.as_deref())?;
    let user = s.user.clone();
    let now = now_ms();
    if st
        .app
        .writer
        .run(move |w| w.ack_notice(id, &user, now))
        .await?
    {
        tracing::info!(user = %s.user, notice = id, "notice acknowledged");
    }
    Ok(Redirect::to("/admin/alerts").into_response())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rong_protocol::status::{DeviceState, DeviceStatus, HardwareStatus};

    use super::*;

    fn status(outbox_age: Option<u64>, disk_mb: u64, missing: bool) -> DeviceStatus {
        let mut hardware = BTreeMap::new();
        hardware.insert(
            "barcode".to_owned(),
            HardwareStatus {
                health: if missing { Health::Missing } else { Health::Ok },
                detail: None,
            },
        );
        DeviceStatus {
            v: 1,
            device: rong_protocol::ids::DeviceId::new("k1".to_owned()).unwrap(),
            branch: rong_protocol::ids::BranchId::new("kontum".to_owned()).unwrap(),
            state: DeviceState::Online,
            version: "0.1.0".into(),
            boot_id: "b".into(),
            started_at: 0,
            at: 0,
            time_synced: true,
            outbox_depth: 3,
            oldest_unsynced_age_s: outbox_age,
            catalogue_version: 1,
            disk_free_bytes: Some(disk_mb * MIB),
            temperature_c: None,
            hardware,
            digitise: None,
        }
    }

    fn row(state: &str, seen: i64, st: DeviceStatus) -> FleetRow {
        FleetRow {
            id: "k1".into(),
            branch: "kontum".into(),
            state: Some(state.into()),
            last_seen: Some(seen),
            status: Some(st),
        }
    }

    #[test]
    fn thresholds() {
        let cfg = AlertsConfig {
            offline_minutes: 10,
            unsynced_hours: 2,
            low_disk_mb: 100,
            hardware_missing: true,
            check_secs: 1,
        };
        let now = 100 * 3_600_000;
        let kinds = |rows: &[FleetRow]| -> Vec<&'static str> {
            evaluate(rows, now, &cfg, 30)
                .0
                .iter()
                .map(|a| a.kind)
                .collect()
        };
        assert!(kinds(&[row("online", now, status(None, 500, false))]).is_empty());
        assert_eq!(
            kinds(&[row("offline", now - 9 * 60_000, status(None, 500, false))]),
            Vec::<&str>::new()
        );
        assert_eq!(
            kinds(&[row("offline", now - 11 * 60_000, status(None, 500, false))]),
            ["offline"]
        );
        // Stale counts as offline for the alert.
        assert_eq!(
            kinds(&[row("online", now - 11 * 60_000, status(None, 500, false))]),
            ["offline"]
        );
        assert_eq!(
            kinds(&[row("online", now, status(Some(2 * 3600), 500, false))]),
            ["unsynced"]
        );
        assert_eq!(
            kinds(&[row("online", now, status(Some(3600), 50, true))]),
            ["hardware_missing", "low_disk"]
        );
        // Offline devices' hardware is unknown, not missing.
        assert_eq!(
            kinds(&[row("offline", now, status(None, 500, true))]),
            Vec::<&str>::new()
        );
        let (_, fleet) = evaluate(
            &[
                row("online", now, status(Some(40), 500, false)),
                row("online", now - 61_000, status(None, 500, false)),
                row("offline", now, status(None, 500, false)),
            ],
            now,
            &cfg,
            30,
        );
        assert_eq!(
            (fleet.online, fleet.stale, fleet.offline, fleet.ingest_lag_s),
            (1, 1, 1, 40)
        );
    }
}
