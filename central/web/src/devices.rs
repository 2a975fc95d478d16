//! The devices page (with filters and live updates) and the device detail page (status,
//! hardware, timeline, commands and their replies).

use std::convert::Infallible;
use std::fmt::Write;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use rong_protocol::ids::DeviceId;
use rong_protocol::status::{CommandKind, Health};
use serde::Deserialize;

use super::html::{age, bytes, datetime, esc, none_row, url_enc};
use super::i18n::Lang;
use super::{now_ms, still_valid, Page, Session, WebError, WebState};
use crate::rules::fleet_state;
use central_store::admin::{self, FleetRow};
use central_store::queries;

fn badge(lang: Lang, key: &str) -> String {
    format!("<span class=\"badge b-{key}\">{}</span>", lang.t(key))
}

fn hw_badges(row: &FleetRow) -> String {
    let Some(st) = &row.status else {
        return String::new();
    };
    let mut s = String::from("<span class=\"hw\">");
    for (name, h) in &st.hardware {
        let key = match h.health {
            Health::Ok => "ok",
            Health::Missing => "missing",
            Health::Error => "error",
        };
        let _ = write!(
            s,
            "<span class=\"badge b-{key}\" title=\"{}\">{}: {key}</span>",
            esc(h.detail.as_deref().unwrap_or("")),
            esc(name)
        );
    }
    s.push_str("</span>");
    s
}

/// Query of the devices page.
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    branch: Option<String>,
    state: Option<String>,
}

struct ListData {
    rows: Vec<FleetRow>,
    version: u64,
    branches: Vec<String>,
}

async fn list_data(st: &WebState, branch: Option<String>) -> Result<ListData, WebError> {
    st.reads
        .run(move |c| {
            Ok(ListData {
                rows: admin::fleet(c, branch.as_deref())?,
                version: central_store::current_version(c)?,
                branches: central_store::snapshot::branch_ids(c)?
                    .into_iter()
                    .map(|b| b.to_string())
                    .collect(),
            })
        })
        .await
        .map_err(WebError::from)
}

/// Renders the live part of the devices page: the counts and the table.
fn fleet_html(
    lang: Lang,
    data: &ListData,
    state: Option<&str>,
    now: i64,
    hb: u64,
    off: i32,
) -> String {
    let mut counts = [0usize; 4];
    let mut body = String::with_capacity(data.rows.len() * 700);
    for row in &data.rows {
        let fs = fleet_state(row, now, hb);
        counts[fs as usize] += 1;
        if state.is_some_and(|s| !s.is_empty() && s != fs.key()) {
            continue;
        }
        let st = row.status.as_ref();
        let seen = row
            .last_seen
            .map(|t| {
                format!(
                    "<span>{}<br><span class=\"muted\">{}</span></span>",
                    datetime(t, off),
                    age(((now - t).max(0) / 1000) as u64)
                )
            })
            .unwrap_or_default();
        let lag = st
            .map(|s| data.version.saturating_sub(s.catalogue_version).to_string())
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr id=\"dev-{id}\" data-state=\"{key}\"><td data-label=\"{l_dev}\"><a href=\"/admin/devices/{idu}\">{id}</a></td>\
             <td data-label=\"{l_br}\">{br}</td><td data-label=\"{l_st}\" class=\"state\">{badge}</td>\
             <td data-label=\"{l_seen}\">{seen}</td><td data-label=\"{l_ver}\">{ver}</td>\
             <td data-label=\"{l_out}\" class=\"num\">{outbox}</td><td data-label=\"{l_old}\" class=\"num\">{oldest}</td>\
             <td data-label=\"{l_lag}\" class=\"num\">{lag}</td><td data-label=\"{l_disk}\" class=\"num\">{disk}</td>\
             <td data-label=\"{l_temp}\" class=\"num\">{temp}</td><td data-label=\"{l_hw}\">{hw}</td></tr>",
            id = esc(&row.id),
            idu = url_enc(&row.id),
            key = fs.key(),
            br = esc(&row.branch),
            badge = badge(lang, fs.key()),
            ver = st.map(|s| esc(&s.version)).unwrap_or_default(),
            outbox = st.map(|s| s.outbox_depth.to_string()).unwrap_or_default(),
            oldest = st
                .and_then(|s| s.oldest_unsynced_age_s)
                .map(age)
                .unwrap_or_else(|| "–".into()),
            disk = st
                .and_then(|s| s.disk_free_bytes)
                .map(bytes)
                .unwrap_or_default(),
            temp = st
                .and_then(|s| s.temperature_c)
                .map(|t| format!("{t:.0} °C"))
                .unwrap_or_default(),
            hw = hw_badges(row),
            l_dev = lang.t("device"),
            l_br = lang.t("branch"),
            l_st = lang.t("state"),
            l_seen = lang.t("last_seen"),
            l_ver = lang.t("version"),
            l_out = lang.t("outbox"),
            l_old = lang.t("oldest"),
            l_lag = lang.t("lag"),
            l_disk = lang.t("disk"),
            l_temp = lang.t("temp"),
            l_hw = lang.t("hardware"),
        );
    }
    let mut s = String::from("<div class=\"summary\">");
    for (i, key) in ["online", "stale", "offline", "unknown"].iter().enumerate() {
        let _ = write!(
            s,
            "<div class=\"card\" id=\"count-{key}\"><div class=\"n\">{}</div>{}</div>",
            counts[i],
            badge(lang, key)
        );
    }
    let _ = write!(
        s,
        "</div><div class=\"scroll\"><table class=\"stack fleet\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th>\
         <th class=\"num\">{}</th><th>{}</th></tr></thead><tbody>{body}</tbody></table></div>",
        lang.t("device"),
        lang.t("branch"),
        lang.t("state"),
        lang.t("last_seen"),
        lang.t("version"),
        lang.t("outbox"),
        lang.t("oldest"),
        lang.t("lag"),
        lang.t("disk"),
        lang.t("temp"),
        lang.t("hardware"),
    );
    s
}

/// `GET /admin/devices?branch=&state=`.
#[tracing::instrument(skip_all)]
pub async fn list(State(st): State<WebState>, s: Session, Query(q): Query<ListQuery>) -> Page {
    let lang = s.lang;
    let branch = s.scope(q.branch.as_deref())?;
    let data = list_data(&st, branch.clone()).await?;
    let now = now_ms();
    let state = q.state.as_deref().filter(|v| !v.is_empty());
    let mut b = format!("<h1>{}</h1>", lang.t("devices"));
    if s.role == central_store::admin::Role::Admin {
        let _ = write!(
            b,
            "<p><a href=\"/admin/enrol\" id=\"to-enrol\">{}</a></p>",
            lang.t("enrol")
        );
    }
    b.push_str("<form class=\"filters\" method=\"get\" action=\"/admin/devices\">");
    let _ = write!(
        b,
        "<label>{}<select name=\"branch\" id=\"f-branch\">",
        lang.t("branch")
    );
    b.push_str(&s.branch_options(&data.branches, branch.as_ref()));
    let _ = write!(
        b,
        "</select></label><label>{}<select name=\"state\" id=\"f-state\"><option value=\"\">{}</option>",
        lang.t("state"),
        lang.t("all")
    );
    for key in ["online", "stale", "offline", "unknown"] {
        let _ = write!(
            b,
            "<option value=\"{key}\"{}>{}</option>",
            if state == Some(key) { " selected" } else { "" },
            lang.t(key)
        );
    }
    let live = format!(
        "/admin/devices/live?branch={}&state={}&lang={}",
        url_enc(branch.as_deref().unwrap_or("")),
        url_enc(state.unwrap_or("")),
        lang.code()
    );
    let _ = write!(
        b,
        "</select></label><button id=\"f-go\">{}</button><span class=\"muted\">● {}</span></form>\
         <div id=\"fleet\" data-live=\"{}\">{}</div>",
        lang.t("filter"),
        lang.t("live"),
        esc(&live),
        fleet_html(
            lang,
            &data,
            state,
            now,
            st.ctx.dashboard.heartbeat_secs,
            st.ctx.utc_offset_min
        )
    );
    Ok(s.page(lang.t("devices"), "devices", &b))
}

/// Server-sent events: `render`'s HTML whenever it changes, checking every second, for as
/// long as the session `s` stays valid (a logout or an expiry ends the stream).
fn live<F, Fut>(st: WebState, s: &Session, render: F) -> Response
where
    F: Fn(WebState) -> Fut + Send + 'static,
    Fut: Future<Output = Result<String, WebError>> + Send,
{
    let seed = (st, s.token_hash.clone(), render, None::<u64>);
    let stream = futures_util::stream::unfold(seed, |(st, hash, render, mut last)| async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            still_valid(&st, &hash).await.ok()?;
            let html = render(st.clone()).await.ok()?;
            let mut h = std::collections::hash_map::DefaultHasher::new();
            html.hash(&mut h);
            let h = h.finish();
            if last != Some(h) {
                last = Some(h);
                let event: Result<Event, Infallible> = Ok(Event::default().data(html));
                return Some((event, (st, hash, render, last)));
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `GET /admin/devices/live?branch=&state=`: the fleet table as server-sent events.
#[tracing::instrument(skip_all)]
pub async fn list_live(State(st): State<WebState>, s: Session, Query(q): Query<ListQuery>) -> Page {
    let branch = s.scope(q.branch.as_deref())?;
    let state = q.state.filter(|v| !v.is_empty());
    let lang = s.lang;
    Ok(live(st, &s, move |st| {
        let (branch, state) = (branch.clone(), state.clone());
        async move {
            let data = list_data(&st, branch).await?;
            let hb = st.ctx.dashboard.heartbeat_secs;
            let now = now_ms();
            Ok(fleet_html(
                lang,
                &data,
                state.as_deref(),
                now,
                hb,
                st.ctx.utc_offset_min,
            ))
        }
    }))
}

async fn device_for(
    st: &WebState,
    s: &Session,
    id: &str,
) -> Result<(queries::DeviceDetail, u64), WebError> {
    let id2 = id.to_owned();
    let branch = st.reads.run(move |c| admin::device_branch(c, &id2)).await?;
    let Some(branch) = branch else {
        return Err(WebError::NotFound(s.lang));
    };
    s.may_see(Some(&branch))?;
    let id = id.to_owned();
    st.reads
        .run(move |c| {
            Ok((
                queries::device_detail(c, &id)?,
                central_store::current_version(c)?,
            ))
        })
        .await
        .map_err(WebError::from)
}

fn command_label(lang: Lang, cmd: Option<&serde_json::Value>) -> String {
    let Some(c) = cmd else {
        return "?".into();
    };
    match c["command"].as_str().unwrap_or("") {
        "sync_now" => lang.t("sync_now").into(),
        "reload_config" => lang.t("reload_config").into(),
        "show_message" => format!(
            "{}: “{}”",
            lang.t("show_message"),
            esc(c["text"].as_str().unwrap_or(""))
        ),
        other => esc(other),
    }
}

/// Renders the live part of the detail page.
fn detail_html(lang: Lang, d: &queries::DeviceDetail, version: u64, hb: u64, off: i32) -> String {
    let now = now_ms();
    let status: Option<rong_protocol::status::DeviceStatus> = d
        .status
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let row = FleetRow {
        id: d.device.id.clone(),
        branch: d.device.branch.clone(),
        state: d.device.state.clone(),
        last_seen: d.device.last_seen,
        status: status.clone(),
    };
    let fs = fleet_state(&row, now, hb);
    let mut s = String::new();
    let _ = write!(
        s,
        "<div class=\"grid\"><div class=\"card\"><dl class=\"kv\"><dt>{}</dt><dd id=\"state\" data-state=\"{}\">{}</dd><dt>{}</dt><dd>{}</dd>",
        lang.t("state"),
        fs.key(),
        badge(lang, fs.key()),
        lang.t("last_seen"),
        d.device
            .last_seen
            .map(|t| format!("{} ({})", datetime(t, off), age(((now - t).max(0) / 1000) as u64)))
            .unwrap_or_default()
    );
    if let Some(st) = &status {
        let _ = write!(
            s,
            "<dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{} ({} → {})</dd>\
             <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>",
            lang.t("version"),
            esc(&st.version),
            lang.t("outbox"),
            st.outbox_depth,
            lang.t("oldest"),
            st.oldest_unsynced_age_s.map(age).unwrap_or_else(|| "–".into()),
            lang.t("lag"),
            version.saturating_sub(st.catalogue_version),
            st.catalogue_version,
            version,
            lang.t("disk"),
            st.disk_free_bytes.map(bytes).unwrap_or_default(),
            lang.t("temp"),
            st.temperature_c.map(|t| format!("{t:.1} °C")).unwrap_or_default(),
            lang.t("hardware"),
            hw_badges(&row),
        );
    }
    s.push_str("</dl></div>");
    // Commands and replies.
    let _ = write!(
        s,
        "<div class=\"card\"><h2>{}</h2><table class=\"stack\" id=\"commands\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        lang.t("commands"),
        lang.t("command"),
        lang.t("sent"),
        lang.t("reply")
    );
    for c in d.commands.iter().take(10) {
        let reply = match (c.ok, &c.message) {
            (Some(ok), m) => format!(
                "<span class=\"reply\"><span class=\"badge b-{}\">{}</span> <span class=\"reply-msg\">{}</span><br><span class=\"muted\">{}</span></span>",
                if ok { "ok" } else { "error" },
                lang.t(if ok { "ok" } else { "failed" }),
                esc(m.as_deref().unwrap_or("")),
                c.replied_at.map(|t| datetime(t, off)).unwrap_or_default()
            ),
            (None, _) => format!("<span class=\"muted\">{}</span>", lang.t("waiting")),
        };
        let _ = write!(
            s,
            "<tr id=\"cmd-{}\" data-replied=\"{}\"><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{reply}</td></tr>",
            esc(&c.id),
            c.ok.is_some(),
            lang.t("command"),
            command_label(lang, c.command.as_ref()),
            lang.t("sent"),
            c.sent_at.map(|t| datetime(t, off)).unwrap_or_default(),
            lang.t("reply"),
        );
    }
    if d.commands.is_empty() {
        s.push_str(&none_row(lang, 3));
    }
    s.push_str("</tbody></table></div></div>");
    // Timeline: a strip of states over the span shown, then the entries.
    let _ = write!(
        s,
        "<div class=\"card\"><h2>{}</h2>{}<table class=\"stack\" id=\"timeline\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th class=\"num\">{}</th></tr></thead><tbody>",
        lang.t("timeline"),
        super::svg::timeline(
            &d.timeline
                .iter()
                .map(|t| (t.received_at, t.state == "online"))
                .collect::<Vec<_>>(),
            now,
            off
        ),
        lang.t("received"),
        lang.t("state"),
        lang.t("version"),
        lang.t("outbox"),
    );
    for t in d.timeline.iter().take(20) {
        let _ = write!(
            s,
            "<tr><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\" class=\"num\">{}</td></tr>",
            lang.t("received"),
            datetime(t.received_at, off),
            lang.t("state"),
            badge(lang, if t.state == "online" { "online" } else { "offline" }),
            lang.t("version"),
            esc(t.status["version"].as_str().unwrap_or("")),
            lang.t("outbox"),
            t.status["outbox_depth"].as_u64().unwrap_or(0),
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

/// Query of a device's page.
#[derive(Debug, Deserialize)]
pub struct DetailQuery {
    /// Set after a revocation, to say it was done.
    revoked: Option<String>,
}

/// `GET /admin/devices/{id}`.
#[tracing::instrument(skip_all, fields(device = %id))]
pub async fn detail(
    State(st): State<WebState>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Page {
    let lang = s.lang;
    let (d, version) = device_for(&st, &s, &id).await?;
    let idu = url_enc(&id);
    let csrf = esc(&s.csrf);
    let mut b = format!(
        "<p><a href=\"/admin/devices\">← {}</a></p><h1>{} <span class=\"muted\">· {}</span></h1>",
        lang.t("devices"),
        esc(&id),
        esc(&d.device.branch)
    );
    let revoked = crate::enrolment::is_revoked(&st, &id).await;
    if q.revoked.is_some() {
        let _ = write!(
            b,
            "<p class=\"card ok\" id=\"revoked-done\">{}</p>",
            lang.t("revoked_done")
        );
    }
    // Read-only users get no command forms (and the handler refuses them).
    if s.access().may_change() && !revoked {
        let _ = write!(
        b,
        "<div class=\"card cmds\">\
         <form method=\"post\" action=\"/admin/devices/{idu}/commands\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"kind\" value=\"sync_now\"><button id=\"cmd-sync\">{}</button></form>\
         <form method=\"post\" action=\"/admin/devices/{idu}/commands\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"kind\" value=\"reload_config\"><button id=\"cmd-reload\" class=\"secondary\">{}</button></form>\
         <form method=\"post\" action=\"/admin/devices/{idu}/commands\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"kind\" value=\"show_message\">\
         <label>{}<br><input name=\"text\" id=\"msg-text\" maxlength=\"200\" required></label>\
         <label>{}<br><input name=\"seconds\" type=\"number\" min=\"1\" max=\"3600\" value=\"30\" style=\"width:6rem\"></label>\
         <button id=\"cmd-message\" class=\"secondary\">{}</button></form></div>",
        lang.t("sync_now"),
        lang.t("reload_config"),
        lang.t("message"),
        lang.t("seconds"),
        lang.t("show_message"),
    );
    }
    let _ = write!(
        b,
        "<div id=\"detail\" data-live=\"/admin/devices/{idu}/live?lang={}\">{}</div>",
        lang.code(),
        detail_html(
            lang,
            &d,
            version,
            st.ctx.dashboard.heartbeat_secs,
            st.ctx.utc_offset_min
        )
    );
    b.push_str(&crate::enrolment::revoke_card(&s, &id, revoked));
    Ok(s.page(&id, "devices", &b))
}

/// `GET /admin/devices/{id}/live`: the detail's status, commands and timeline as events.
#[tracing::instrument(skip_all, fields(device = %id))]
pub async fn detail_live(State(st): State<WebState>, s: Session, Path(id): Path<String>) -> Page {
    device_for(&st, &s, &id).await?;
    let who = s.clone();
    Ok(live(st, &s, move |st| {
        let (s, id) = (who.clone(), id.clone());
        async move {
            let (d, version) = device_for(&st, &s, &id).await?;
            let hb = st.ctx.dashboard.heartbeat_secs;
            Ok(detail_html(s.lang, &d, version, hb, st.ctx.utc_offset_min))
        }
    }))
}

/// The command form.
#[derive(Debug, Deserialize)]
pub struct CommandForm {
    csrf: Option<String>,
    kind: String,
    text: Option<String>,
    seconds: Option<u32>,
}

/// `POST /admin/devices/{id}/commands`.
#[tracing::instrument(skip_all, fields(device = %id))]
pub async fn command(
    State(st): State<WebState>,
    s: Session,
    Path(id): Path<String>,
    Form(f): Form<CommandForm>,
) -> Page {
    s.check_change(f.csrf.as_deref())?;
    let (d, _) = device_for(&st, &s, &id).await?;
    let kind = match f.kind.as_str() {
        "sync_now" => CommandKind::SyncNow,
        "reload_config" => CommandKind::ReloadConfig,
        "show_message" => {
            let text = f.text.unwrap_or_default().trim().to_owned();
            if text.is_empty() || text.chars().count() > 200 {
                return Err(WebError::BadRequest(
                    "message must be 1 to 200 characters".into(),
                ));
            }
            CommandKind::ShowMessage {
                text,
                seconds: f.seconds.unwrap_or(30).clamp(1, 3600),
            }
        }
        other => return Err(WebError::BadRequest(format!("unknown command {other}"))),
    };
    let device = DeviceId::new(id.clone()).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let cmd_id = st.commands.send(device, kind).await?;
    tracing::info!(user = %s.user, device = %id, command = %f.kind, id = %cmd_id, "command sent from the dashboard");
    let entry = s.entry("device.command", id.clone());
    let detail = format!("{} ({cmd_id})", f.kind);
    let _ = st
        .writer
        .audit(entry.branch(Some(&d.device.branch)).detail(detail))
        .await;
    Ok(Redirect::to(&format!(
        "/admin/devices/{}?sent={}",
        url_enc(&id),
        url_enc(&cmd_id)
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::FleetState;

    fn row(state: Option<&str>, seen: Option<i64>) -> FleetRow {
        FleetRow {
            id: "k1".into(),
            branch: "kontum".into(),
            state: state.map(str::to_owned),
            last_seen: seen,
            status: None,
        }
    }

    #[test]
    fn stale_after_two_silent_heartbeats() {
        let now = 1_000_000;
        assert_eq!(
            fleet_state(&row(Some("online"), Some(now - 59_000)), now, 30),
            FleetState::Online
        );
        assert_eq!(
            fleet_state(&row(Some("online"), Some(now - 61_000)), now, 30),
            FleetState::Stale
        );
        assert_eq!(
            fleet_state(&row(Some("offline"), Some(now)), now, 30),
            FleetState::Offline
        );
        assert_eq!(fleet_state(&row(None, None), now, 30), FleetState::Unknown);
    }
}
