//! Central's one front door: every HTTP route, listed under the caller allowed to use it.
//!
//! Each caller's routes form their own [`Router`], merged at the end, each group with its
//! own `route_layer`: public routes are read-only and rate limited, the staff JSON API
//! takes an API token or a dashboard session ([`crate::http::guard::staff`]), the
//! operator's routes an operator token or loopback ([`crate::http::guard::operator`]). The handlers live in the crates that own them: the pages in `central-web`,
//! uploads, bags and IIIF in `central-digitise`, the JSON API in [`crate::http`]. Each takes
//! only the part of [`AppState`] it needs, through `FromRef`.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, head, post, MethodRouter};
use axum::Router;

use central_digitise::documents::{self, Documents};
use central_digitise::http::{self as intake, IntakeState};
use central_web::opac::{self, OpacState};
use central_web::{
    alerts, audit, calendar, catalogue_import, desk, desk_print, devices,
    digitise as digitise_page, enrolment, lists, network, readers, readers_import, rules_page,
    staff, stats, WebState,
};

use crate::http::device::{self as device_http, DeviceAuth};
use crate::http::{api, guard, openapi, public, snapshot, ApiError, ApiState};
use crate::metrics::{track_latency, Metrics};

/// Everything the handlers share; each handler extracts only its own part.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    /// The JSON API's.
    pub api: ApiState,
    /// The dashboard's.
    pub web: WebState,
    /// The public catalogue's.
    pub opac: OpacState,
    /// Uploads' and bag submissions'.
    pub intake: IntakeState,
    /// Public documents' (IIIF, PDF, text).
    pub documents: Documents,
    /// Device enrolment's and the device routes' guard's.
    pub devices: DeviceAuth,
    /// PIN checks for the boards.
    pub pins: crate::http::pins::Pins,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Caller {
    /// Anyone: the catalogue, public documents, the health check.
    Public,
    /// A board enrolling: it has no device credentials yet; its one-time code is the
    /// credential, and attempts are rate-limited per address.
    Enrolling,
    /// The first-run setup of a central with no dashboard user: the setup code central
    /// wrote to its data directory is the credential (rate-limited per address); once
    /// central is set up it only redirects to the login.
    Setup,
    /// The kiosks' and stations' agents, each request signed by the device's key.
    Device,
    /// Library staff: the dashboard and the JSON API.
    Staff,
    /// Whoever runs central: its metrics and the API's description.
    Operator,
}

/// One route: its caller, its path and its handlers by method.
struct Route {
    caller: Caller,
    path: &'static str,
    methods: MethodRouter<AppState>,
}

fn route(caller: Caller, path: &'static str, methods: MethodRouter<AppState>) -> Route {
    Route {
        caller,
        path,
        methods,
    }
}

/// Every route's caller and path, in the table's order (tests walk it to check that
/// every staff and operator route is guarded).
pub fn paths() -> Vec<(Caller, &'static str)> {
    table(1).iter().map(|r| (r.caller, r.path)).collect()
}

/// Whether a staff route belongs to the JSON API (guarded as a group) rather than to the
/// dashboard's pages (which check the session themselves and redirect to the login).
pub fn is_staff_api(path: &str) -> bool {
    path.starts_with("/api/")
}

/// Every route of central. `max_chunk` limits the body of a tus `PATCH`.
fn table(max_chunk: usize) -> Vec<Route> {
    use Caller::{Device, Enrolling, Operator, Public, Setup, Staff};
    // Every tus response carries `Tus-Resumable`, and every request but `OPTIONS` must.
    let tus = |m: MethodRouter<AppState>| m.layer(axum::middleware::from_fn(intake::tus_resumable));
    vec![
        // The public catalogue and the document viewer.
        route(Public, "/opac", get(opac::search_page)),
        route(Public, "/opac/", get(opac::search_page)),
        route(Public, "/opac/record/{id}", get(opac::record_page)),
        route(Public, "/opac/style.css", get(opac::style)),
        route(Public, "/opac/documents/{doc}", get(opac::viewer_page)),
        // Digitised documents: IIIF, the PDF and page text.
        route(
            Public,
            "/iiif/{doc}/manifest.json",
            get(documents::manifest),
        ),
        route(Public, "/iiif/{doc}/{page}/info.json", get(documents::info)),
        route(
            Public,
            "/iiif/{doc}/{page}/full/{size}/0/default.jpg",
            get(documents::image),
        ),
        route(Public, "/documents/{file}", get(documents::pdf)),
        route(Public, "/documents/{doc}/text/{page}", get(documents::text)),
        route(Public, "/healthz", get(api::healthz)),
        route(
            Enrolling,
            rong_identity::ENROL_PATH,
            post(device_http::enrol),
        ),
        route(
            Setup,
            "/setup",
            get(central_web::network::setup_form).post(central_web::network::setup),
        ),
        // Snapshots for agents that fell too far behind.
        route(Device, "/api/v1/snapshot/{branch}", get(snapshot::snapshot)),
        // A board asks central to check a reader's PIN.
        route(
            Device,
            rong_identity::pin::PIN_PATH,
            post(crate::http::pins::check_pin),
        ),
        // A board renews its TLS certificate.
        route(
            Device,
            rong_identity::CERTIFICATE_PATH,
            post(device_http::renew_certificate),
        ),
        // tus uploads of scanned pages, then the bag that names them.
        route(
            Device,
            "/files",
            tus(post(intake::tus_create).options(intake::tus_options)),
        ),
        route(
            Device,
            "/files/",
            tus(post(intake::tus_create).options(intake::tus_options)),
        ),
        route(
            Device,
            "/files/{id}",
            tus(head(intake::tus_offset)
                .patch(intake::tus_append)
                .layer(DefaultBodyLimit::max(max_chunk))),
        ),
        route(
            Device,
            "/api/v1/digitisation/bags",
            post(intake::submit_bag),
        ),
        // The dashboard: its login, static files and language switch are open; every
        // other page checks the session itself.
        route(Staff, "/", get(central_web::to_devices)),
        route(Staff, "/admin", get(central_web::to_devices)),
        route(Staff, "/admin/", get(central_web::to_devices)),
        route(Staff, "/admin/static/app.css", get(central_web::css)),
        route(Staff, "/admin/static/app.js", get(central_web::js)),
        route(Staff, "/admin/lang", get(central_web::set_lang)),
        route(
            Staff,
            "/admin/login",
            get(central_web::login::login_page).post(central_web::login::login),
        ),
        route(Staff, "/admin/logout", post(central_web::logout)),
        route(Staff, "/admin/devices", get(devices::list)),
        route(
            Staff,
            "/admin/branches",
            get(network::list).post(network::create),
        ),
        route(Staff, "/admin/branches/new", get(network::new_form)),
        route(
            Staff,
            "/admin/readers",
            get(readers::search).post(readers::create),
        ),
        route(Staff, "/admin/readers/new", get(readers::new_form)),
        route(
            Staff,
            "/admin/readers/import",
            get(readers_import::form).post(readers_import::post),
        ),
        route(
            Staff,
            "/admin/readers/{card}",
            get(readers::edit_form).post(readers::update),
        ),
        route(Staff, "/admin/readers/{card}/renew", post(readers::renew)),
        route(Staff, "/admin/lists", get(lists::page)),
        route(Staff, "/admin/desk", get(desk::page)),
        route(Staff, "/admin/desk/lend", post(desk::lend)),
        route(Staff, "/admin/desk/return", post(desk::take_back)),
        route(Staff, "/admin/desk/renew", post(desk::renew)),
        route(Staff, "/admin/desk/receipt", get(desk_print::receipt)),
        route(Staff, "/admin/desk/slip/{item}", get(desk_print::slip)),
        route(
            Staff,
            "/admin/catalogue/import",
            get(catalogue_import::form).post(catalogue_import::import),
        ),
        route(Staff, "/admin/rules", get(rules_page::show)),
        route(
            Staff,
            "/admin/rules/categories",
            post(rules_page::save_category),
        ),
        route(Staff, "/admin/rules/matrix", post(rules_page::save_matrix)),
        route(Staff, "/admin/calendar", get(calendar::show)),
        route(Staff, "/admin/calendar/holidays", post(calendar::holidays)),
        route(Staff, "/admin/calendar/closures", post(calendar::closure)),
        route(Staff, "/admin/calendar/remove", post(calendar::reopen)),
        route(Staff, "/admin/staff", get(staff::list).post(staff::create)),
        route(Staff, "/admin/staff/{name}/{action}", post(staff::change)),
        route(
            Staff,
            "/admin/account",
            get(staff::account).post(staff::change_own),
        ),
        route(
            Staff,
            "/admin/branches/{id}",
            get(network::edit_form).post(network::update),
        ),
        route(Staff, "/admin/devices/live", get(devices::list_live)),
        route(Staff, "/admin/devices/{id}", get(devices::detail)),
        route(Staff, "/admin/devices/{id}/live", get(devices::detail_live)),
        route(
            Staff,
            "/admin/devices/{id}/commands",
            post(devices::command),
        ),
        route(Staff, "/admin/devices/{id}/revoke", post(enrolment::revoke)),
        route(
            Staff,
            "/admin/enrol",
            get(enrolment::form).post(enrolment::make),
        ),
        route(Staff, "/admin/quarantine", get(enrolment::page)),
        route(
            Staff,
            "/admin/quarantine/{id}/{decision}",
            post(enrolment::decide),
        ),
        route(Staff, "/admin/digitise", get(digitise_page::page_route)),
        route(Staff, "/admin/alerts", get(alerts::page)),
        route(Staff, "/admin/alerts/{id}/ack", post(alerts::ack_alert)),
        route(Staff, "/admin/notices/{id}/ack", post(alerts::ack_notice)),
        route(Staff, "/admin/stats", get(stats::page_route)),
        route(Staff, "/admin/stats.csv", get(stats::csv)),
        route(Staff, "/admin/report", get(stats::report)),
        route(Staff, "/admin/audit", get(audit::page)),
        // The JSON API.
        route(Staff, "/api/v1/stats", get(api::stats)),
        route(Staff, "/api/v1/loans", get(api::loans)),
        route(Staff, "/api/v1/patrons/{card}", get(api::patron)),
        route(
            Staff,
            "/api/v1/patrons/{card}/block",
            post(api::block).delete(api::unblock),
        ),
        route(Staff, "/api/v1/items/{barcode}", get(api::item)),
        route(Staff, "/api/v1/search", get(api::search)),
        route(Staff, "/api/v1/devices", get(api::devices)),
        route(Staff, "/api/v1/devices/{id}", get(api::device)),
        route(Staff, "/api/v1/devices/{id}/commands", post(api::command)),
        route(
            Staff,
            "/api/v1/devices/{id}/revoke",
            post(device_http::revoke),
        ),
        route(Staff, "/api/v1/quarantine", get(device_http::quarantine)),
        route(
            Staff,
            "/api/v1/quarantine/{id}/{decision}",
            post(device_http::decide),
        ),
        route(Staff, "/api/v1/notices", get(api::notices)),
        route(Staff, "/api/v1/events", get(api::events)),
        route(Operator, "/metrics", get(api::metrics)),
        route(Operator, "/api/v1/openapi.json", get(openapi_document)),
    ]
}

/// `GET /api/v1/openapi.json`: the API's description, with the security of each route's
/// group as this table says.
async fn openapi_document() -> axum::Json<serde_json::Value> {
    let all = paths();
    let of = |caller: Caller| -> Vec<&str> {
        all.iter()
            .filter(|(c, _)| *c == caller)
            .map(|(_, p)| *p)
            .collect()
    };
    axum::Json(openapi::document(
        &of(Caller::Staff),
        &of(Caller::Operator),
        &of(Caller::Device),
    ))
}

/// The routes of one caller that `keep` keeps, as their own router.
fn group(routes: &[Route], caller: Caller, keep: impl Fn(&str) -> bool) -> Router<AppState> {
    routes
        .iter()
        .filter(|r| r.caller == caller && keep(r.path))
        .fold(Router::new(), |g, r| g.route(r.path, r.methods.clone()))
}

/// Central's whole HTTP side: the four groups merged, a JSON 404 for anything else, and
/// every request timed into the latency histogram.
pub fn router(state: AppState, metrics: Arc<Metrics>) -> Router {
    let routes = table(state.intake.intake.uploads.max_chunk());
    let all = |_: &str| true;
    // Authentication: none; read-only and rate limited per client address.
    let public = group(&routes, Caller::Public, all).route_layer(
        axum::middleware::from_fn_with_state(state.api.public_limit.clone(), public::guard),
    );
    // Authentication: the one-time enrolment code, in the handler (rate-limited).
    let enrolling = group(&routes, Caller::Enrolling, all);
    // Authentication: the setup code, in the handler (rate-limited), while central has no
    // dashboard user.
    let setup = group(&routes, Caller::Setup, all);
    // Authentication: every request signed by an enrolled, unrevoked device's key.
    let device = group(&routes, Caller::Device, all).route_layer(
        axum::middleware::from_fn_with_state(state.devices.clone(), device_http::device_auth),
    );
    // Authentication: the dashboard's pages check a session cookie (and CSRF on forms) in
    // their handlers, redirecting to the login page.
    let staff_pages = group(&routes, Caller::Staff, |p| !is_staff_api(p));
    // Authentication: an API token or a dashboard session (with CSRF on changes).
    let staff_api = group(&routes, Caller::Staff, is_staff_api).route_layer(
        axum::middleware::from_fn_with_state(state.api.clone(), guard::staff),
    );
    // Authentication: the operator token, an administrator's API token, or loopback.
    let operator = group(&routes, Caller::Operator, all).route_layer(
        axum::middleware::from_fn_with_state(state.api.clone(), guard::operator),
    );
    Router::new()
        .merge(public)
        .merge(enrolling)
        .merge(setup)
        .merge(device)
        .merge(staff_pages)
        .merge(staff_api)
        .merge(operator)
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(axum::middleware::from_fn_with_state(metrics, track_latency))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The routes each caller is given, as the table must list them.
    const EXPECTED: &[(Caller, &[&str])] = &[
        (
            Caller::Public,
            &[
                "/opac",
                "/opac/",
                "/opac/record/{id}",
                "/opac/style.css",
                "/opac/documents/{doc}",
                "/iiif/{doc}/manifest.json",
                "/iiif/{doc}/{page}/info.json",
                "/iiif/{doc}/{page}/full/{size}/0/default.jpg",
                "/documents/{file}",
                "/documents/{doc}/text/{page}",
                "/healthz",
            ],
        ),
        (Caller::Enrolling, &["/api/v1/device/enrol"]),
        (Caller::Setup, &["/setup"]),
        (
            Caller::Device,
            &[
                "/api/v1/device/certificate",
                "/api/v1/device/pin",
                "/api/v1/snapshot/{branch}",
                "/files",
                "/files/",
                "/files/{id}",
                "/api/v1/digitisation/bags",
            ],
        ),
        (Caller::Operator, &["/metrics", "/api/v1/openapi.json"]),
    ];

    #[test]
    fn every_route_is_in_exactly_one_group() {
        let routes = table(1024);
        let mut seen: BTreeMap<&str, Vec<Caller>> = BTreeMap::new();
        for r in &routes {
            seen.entry(r.path).or_default().push(r.caller);
        }
        for (path, callers) in &seen {
            assert_eq!(callers.len(), 1, "{path} is listed for {callers:?}");
        }
        for (caller, paths) in EXPECTED {
            let mut got: Vec<&str> = routes
                .iter()
                .filter(|r| r.caller == *caller)
                .map(|r| r.path)
                .collect();
            let mut want = paths.to_vec();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "routes of {caller:?}");
        }
        // Everything else is staff's: the dashboard and the JSON API.
        for r in routes.iter().filter(|r| r.caller == Caller::Staff) {
            assert!(!r.path.starts_with("/api/v1/device/"), "{}", r.path);
            assert!(
                r.path == "/" || r.path.starts_with("/admin") || r.path.starts_with("/api/v1/"),
                "{} is not a staff path",
                r.path
            );
        }
        assert!(routes.iter().any(|r| r.caller == Caller::Staff));
    }

    /// Every JSON route is in the OpenAPI document, with its group's security: a route
    /// added without its description, or described as open when it is not, fails here.
    #[tokio::test]
    async fn every_api_route_is_described_with_its_groups_security() {
        let axum::Json(doc) = openapi_document().await;
        for (caller, path) in paths() {
            if !path.starts_with("/api/") && path != "/metrics" && path != "/healthz" {
                continue;
            }
            let ops = doc["paths"][path]
                .as_object()
                .unwrap_or_else(|| panic!("{path} is not in the OpenAPI document"));
            for (method, op) in ops {
                let security = &op["security"];
                let want = match caller {
                    Caller::Public | Caller::Enrolling | Caller::Setup => serde_json::json!([]),
                    Caller::Device => serde_json::json!([{"deviceAuth": []}]),
                    Caller::Staff => serde_json::json!([{"bearerAuth": []}, {"cookieAuth": []}]),
                    Caller::Operator => serde_json::json!([{"bearerAuth": []}]),
                };
                assert_eq!(security, &want, "{method} {path} ({caller:?})");
            }
        }
    }
}
