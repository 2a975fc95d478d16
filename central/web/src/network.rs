//! The network's set-up in the browser: the first-run setup at `/setup` (public while
//! central has no dashboard user, and only with the setup code central writes to its data
//! directory), and the branches under `/admin/branches` (administrators change them; branch
//! staff see their own). Every change is audited and reaches the devices by delta; bad
//! input is shown back, in Vietnamese and English, with nothing saved.

use std::fmt::Write;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::html::{esc, none_row};
use super::i18n::Lang;
use super::{auth, html, lang_of, Page, Session, WebError, WebState};
use central_store::admin::Role;
use central_store::network::{
    self, BranchDetails, BranchInput, FieldError, FirstAdmin, HOURS_FIELDS,
};
use central_store::StoreError;

/// The cookie that carries the setup form's CSRF token.
const SETUP_CSRF_COOKIE: &str = "rong_setup_csrf";

/// Weekday names for the hours fields, Monday first.
const DAYS: [(&str, &str); 7] = [
    ("Thứ Hai", "Monday"),
    ("Thứ Ba", "Tuesday"),
    ("Thứ Tư", "Wednesday"),
    ("Thứ Năm", "Thursday"),
    ("Thứ Sáu", "Friday"),
    ("Thứ Bảy", "Saturday"),
    ("Chủ nhật", "Sunday"),
];

/// The hours a new branch's form starts with: Monday to Friday.
const NEW_HOURS: [&str; 7] = [
    "07:30-11:30, 13:30-17:00",
    "07:30-11:30, 13:30-17:00",
    "07:30-11:30, 13:30-17:00",
    "07:30-11:30, 13:30-17:00",
    "07:30-11:30, 13:30-17:00",
    "",
    "",
];

/// A branch form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct BranchForm {
    csrf: Option<String>,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name_vi: String,
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    hours_1: String,
    #[serde(default)]
    hours_2: String,
    #[serde(default)]
    hours_3: String,
    #[serde(default)]
    hours_4: String,
    #[serde(default)]
    hours_5: String,
    #[serde(default)]
    hours_6: String,
    #[serde(default)]
    hours_7: String,
    require_pin: Option<String>,
}

impl BranchForm {
    fn input(&self) -> BranchInput {
        BranchInput {
            code: self.code.clone(),
            name_vi: self.name_vi.clone(),
            name_en: self.name_en.clone(),
            address: self.address.clone(),
            hours: [
                self.hours_1.clone(),
                self.hours_2.clone(),
                self.hours_3.clone(),
                self.hours_4.clone(),
                self.hours_5.clone(),
                self.hours_6.clone(),
                self.hours_7.clone(),
            ],
            require_pin: self.require_pin.is_some(),
        }
    }

    fn of(d: &BranchDetails) -> BranchForm {
        let day = |i: u8| d.hours.day_text(i);
        BranchForm {
            csrf: None,
            code: d.branch.id.to_string(),
            name_vi: d.branch.name.clone(),
            name_en: d.name_en.clone(),
            address: d.address.clone(),
            hours_1: day(1),
            hours_2: day(2),
            hours_3: day(3),
            hours_4: day(4),
            hours_5: day(5),
            hours_6: day(6),
            hours_7: day(7),
            require_pin: d.branch.require_pin.then(|| "on".into()),
        }
    }

    fn new_branch() -> BranchForm {
        let [h1, h2, h3, h4, h5, h6, h7] = NEW_HOURS.map(str::to_owned);
        BranchForm {
            hours_1: h1,
            hours_2: h2,
            hours_3: h3,
            hours_4: h4,
            hours_5: h5,
            hours_6: h6,
            hours_7: h7,
            ..BranchForm::default()
        }
    }
}

/// The branch fields of a form (no `<form>` around them).
fn branch_fields(lang: Lang, f: &BranchForm, code_fixed: bool) -> String {
    let field = |name: &str, label: &str, value: &str, max: usize, extra: &str| {
        format!(
            "<label>{label}<br><input name=\"{name}\" id=\"{name}\" value=\"{}\" maxlength=\"{max}\"{extra}></label>",
            esc(value)
        )
    };
    let mut s = String::new();
    s.push_str(&field(
        "code",
        lang.t("branch_code"),
        &f.code,
        32,
        if code_fixed {
            " readonly"
        } else {
            " required pattern=\"[a-z0-9-]+\""
        },
    ));
    s.push_str(&field(
        "name_vi",
        lang.t("name_vi"),
        &f.name_vi,
        network::MAX_NAME_CHARS,
        " required",
    ));
    s.push_str(&field(
        "name_en",
        lang.t("name_en"),
        &f.name_en,
        network::MAX_NAME_CHARS,
        "",
    ));
    s.push_str(&field(
        "address",
        lang.t("address"),
        &f.address,
        network::MAX_ADDRESS_CHARS,
        "",
    ));
    let _ = write!(
        s,
        "<fieldset><legend>{}</legend><p class=\"muted\">{}</p>",
        lang.t("opening_hours"),
        lang.t("opening_hours_help")
    );
    let values = [
        &f.hours_1, &f.hours_2, &f.hours_3, &f.hours_4, &f.hours_5, &f.hours_6, &f.hours_7,
    ];
    for (i, (vi, en)) in DAYS.iter().enumerate() {
        let day = if lang == Lang::Vi { vi } else { en };
        s.push_str(&field(HOURS_FIELDS[i], day, values[i], 100, ""));
    }
    let _ = write!(
        s,
        "</fieldset><label><input type=\"checkbox\" name=\"require_pin\" id=\"require_pin\"{}> {}</label>",
        if f.require_pin.is_some() { " checked" } else { "" },
        lang.t("require_pin")
    );
    s
}

/// The page's `?welcome=1` after the first-run setup.
#[derive(Debug, Deserialize)]
pub struct BranchesQuery {
    welcome: Option<String>,
}

/// `GET /admin/branches`: the network's branches (a branch's staff see theirs).
#[tracing::instrument(skip_all)]
pub async fn list(State(st): State<WebState>, s: Session, Query(q): Query<BranchesQuery>) -> Page {
    let lang = s.lang;
    let (name, all) = st
        .reads
        .run(|c| Ok((network::name(c)?, network::branches(c)?)))
        .await?;
    let mine: Vec<&BranchDetails> = all
        .iter()
        .filter(|b| s.access().may_see(Some(b.branch.id.as_str())))
        .collect();
    let mut b = format!(
        "<h1>{}</h1><p class=\"muted\" id=\"network-name\">{}</p>",
        lang.t("branches"),
        esc(name.as_deref().unwrap_or(""))
    );
    if q.welcome.is_some() {
        let _ = write!(
            b,
            "<div class=\"card\" id=\"welcome\"><h2>{}</h2><ol><li><a href=\"/admin/catalogue/import\">{}</a></li>\
             <li><a href=\"/admin/readers/import\">{}</a></li><li><a href=\"/admin/enrol\">{}</a></li></ol></div>",
            lang.t("welcome"),
            lang.t("next_catalogue"),
            lang.t("next_readers"),
            lang.t("next_kiosk"),
        );
    }
    if s.role == Role::Admin {
        let _ = write!(
            b,
            "<p><a class=\"button\" href=\"/admin/branches/new\" id=\"branch-new\">{}</a></p>",
            lang.t("branch_new")
        );
    }
    let _ = write!(
        b,
        "<table id=\"branches\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        lang.t("branch_code"),
        lang.t("name"),
        lang.t("address"),
        lang.t("opening_hours"),
        lang.t("require_pin"),
    );
    if mine.is_empty() {
        b.push_str(&none_row(lang, 5));
    }
    for d in mine {
        let id = d.branch.id.as_str();
        let code = if s.role == Role::Admin {
            format!("<a href=\"/admin/branches/{id}\">{}</a>", esc(id))
        } else {
            esc(id).to_string()
        };
        let mut hours = String::new();
        for (i, (vi, en)) in DAYS.iter().enumerate() {
            let day = if lang == Lang::Vi { vi } else { en };
            let text = d.hours.day_text(i as u8 + 1);
            let text = if text.is_empty() {
                lang.t("closed").to_owned()
            } else {
                text
            };
            let _ = write!(hours, "{}: {}<br>", day, esc(&text));
        }
        let name = if lang == Lang::En && !d.name_en.is_empty() {
            &d.name_en
        } else {
            &d.branch.name
        };
        let _ = write!(
            b,
            "<tr data-branch=\"{}\"><td>{code}</td><td>{}</td><td>{}</td><td class=\"small\">{hours}</td><td>{}</td></tr>",
            esc(id),
            esc(name),
            esc(&d.address),
            if d.branch.require_pin { lang.t("yes") } else { lang.t("no") },
        );
    }
    b.push_str("</tbody></table>");
    Ok(s.page(lang.t("branches"), "branches", &b))
}

fn branch_form_page(
    s: &Session,
    f: &BranchForm,
    edit: Option<&str>,
    errors: &[FieldError],
) -> Response {
    let lang = s.lang;
    let title = if edit.is_some() {
        lang.t("branch_edit")
    } else {
        lang.t("branch_new")
    };
    let action = edit.map_or("/admin/branches".to_owned(), |id| {
        format!("/admin/branches/{id}")
    });
    let b = format!(
        "<p><a href=\"/admin/branches\">← {}</a></p><h1>{}</h1>{}\
         <form method=\"post\" action=\"{}\" class=\"card stack\" id=\"branch-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">{}<p><button id=\"branch-save\">{}</button></p></form>",
        lang.t("branches"),
        title,
        html::form_errors(lang, errors),
        esc(&action),
        esc(&s.csrf),
        branch_fields(lang, f, edit.is_some()),
        lang.t("save"),
    );
    let mut r = s.page(title, "branches", &b);
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    r
}

/// `GET /admin/branches/new` (administrators).
#[tracing::instrument(skip_all)]
pub async fn new_form(s: Session) -> Page {
    s.admin_only()?;
    Ok(branch_form_page(&s, &BranchForm::new_branch(), None, &[]))
}

/// `GET /admin/branches/{id}` (administrators).
#[tracing::instrument(skip_all)]
pub async fn edit_form(State(st): State<WebState>, s: Session, Path(id): Path<String>) -> Page {
    s.admin_only()?;
    let wanted = id.clone();
    let d = st
        .reads
        .run(move |c| network::branch(c, &wanted))
        .await?
        .ok_or(WebError::NotFound(s.lang))?;
    Ok(branch_form_page(&s, &BranchForm::of(&d), Some(&id), &[]))
}

async fn save(st: &WebState, s: &Session, f: BranchForm, edit: Option<String>) -> Page {
    s.check_change(f.csrf.as_deref())?;
    s.admin_only()?;
    let mut input = f.input();
    if let Some(id) = &edit {
        // The code names the branch: it does not change.
        input.code = id.clone();
    }
    let details = match input.check() {
        Ok(d) => d,
        Err(errors) => return Ok(branch_form_page(s, &f, edit.as_deref(), &errors)),
    };
    let id = details.branch.id.to_string();
    match st
        .network
        .save_branch(details.clone(), edit.is_none())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            let taken = FieldError {
                field: "code",
                en: format!("A branch with code {id} exists already"),
                vi: format!("Đã có chi nhánh mang mã {id}"),
            };
            return Ok(branch_form_page(s, &f, edit.as_deref(), &[taken]));
        }
        Err(e) => return Err(e.into()),
    }
    let action = if edit.is_some() {
        "branch.update"
    } else {
        "branch.create"
    };
    let detail = format!(
        "{}; closed weekdays {:?}; PIN required: {}",
        details.branch.name, details.branch.closed_weekdays, details.branch.require_pin
    );
    let entry = s.entry(action, &id).branch(Some(&id)).detail(detail);
    let _ = st.writer.audit(entry).await;
    Ok(Redirect::to("/admin/branches").into_response())
}

/// `POST /admin/branches`: adds a branch.
#[tracing::instrument(skip_all)]
pub async fn create(State(st): State<WebState>, s: Session, Form(f): Form<BranchForm>) -> Page {
    save(&st, &s, f, None).await
}

/// `POST /admin/branches/{id}`: changes a branch.
#[tracing::instrument(skip_all)]
pub async fn update(
    State(st): State<WebState>,
    s: Session,
    Path(id): Path<String>,
    Form(f): Form<BranchForm>,
) -> Page {
    save(&st, &s, f, Some(id)).await
}

/// The first-run form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct SetupForm {
    csrf: Option<String>,
    #[serde(default)]
    setup_code: String,
    #[serde(default)]
    admin: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
    #[serde(default)]
    network: String,
    #[serde(flatten)]
    branch: BranchForm,
}

fn setup_page(lang: Lang, f: &SetupForm, errors: &[FieldError], status: StatusCode) -> Response {
    let csrf = auth::random_token();
    let field = |name: &str, label: &str, value: &str, kind: &str, extra: &str| {
        format!(
            "<label>{label}<br><input type=\"{kind}\" name=\"{name}\" id=\"{name}\" value=\"{}\"{extra}></label>",
            esc(value)
        )
    };
    let body = format!(
        "<h1>{}</h1><p class=\"muted\">{}</p>{}\
         <form method=\"post\" action=\"/setup\" class=\"card stack\" id=\"setup-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <fieldset><legend>{}</legend>{}</fieldset>\
         <fieldset><legend>{}</legend>{}{}{}{}</fieldset>\
         <fieldset><legend>{}</legend>{}</fieldset>\
         <fieldset><legend>{}</legend>{}</fieldset>\
         <p><button id=\"setup-save\">{}</button></p></form>",
        lang.t("setup"),
        lang.t("setup_help"),
        html::form_errors(lang, errors),
        esc(&csrf),
        lang.t("setup_code"),
        field(
            "setup_code",
            lang.t("setup_code_help"),
            "",
            "password",
            " required autocomplete=\"off\""
        ),
        lang.t("first_admin"),
        field(
            "admin",
            lang.t("user"),
            &f.admin,
            "text",
            " required maxlength=\"64\" autocomplete=\"username\""
        ),
        field(
            "password",
            lang.t("password"),
            "",
            "password",
            " required minlength=\"8\" autocomplete=\"new-password\""
        ),
        field(
            "password2",
            lang.t("password_again"),
            "",
            "password",
            " required minlength=\"8\" autocomplete=\"new-password\""
        ),
        "",
        lang.t("network_name"),
        field(
            "network",
            lang.t("name"),
            &f.network,
            "text",
            " required maxlength=\"200\""
        ),
        lang.t("first_branch"),
        branch_fields(lang, &f.branch, false),
        lang.t("setup_save"),
    );
    let mut r = (
        status,
        axum::response::Html(html::page(lang, lang.t("setup"), "", None, &body)),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SETUP_CSRF_COOKIE}={csrf}; Path=/setup; HttpOnly; SameSite=Strict"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// Whether `/setup` is open: central has no dashboard user and knows its setup code.
async fn setup_open(st: &WebState) -> Result<bool, WebError> {
    if st.ctx.setup_code.is_none() {
        return Ok(false);
    }
    Ok(st.reads.run(|c| network::is_fresh(c)).await?)
}

/// `GET /setup`: the first-run setup, while central is not set up; afterwards, the login.
#[tracing::instrument(skip_all)]
pub async fn setup_form(State(st): State<WebState>, headers: HeaderMap, uri: Uri) -> Page {
    if !setup_open(&st).await? {
        return Ok(Redirect::to("/admin/login").into_response());
    }
    let lang = lang_of(&headers, &uri);
    let f = SetupForm {
        network: String::new(),
        branch: BranchForm::new_branch(),
        ..SetupForm::default()
    };
    Ok(setup_page(lang, &f, &[], StatusCode::OK))
}

/// `POST /setup`: with the setup code, makes the first administrator, names the network
/// and adds the first branch, then logs the administrator in.
#[tracing::instrument(skip_all)]
pub async fn setup(
    State(st): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<SetupForm>,
) -> Page {
    let lang = lang_of(&headers, &uri);
    if !setup_open(&st).await? {
        return Ok(Redirect::to("/admin/login").into_response());
    }
    if !super::login::form_token_matches(&headers, SETUP_CSRF_COOKIE, f.csrf.as_deref()) {
        tracing::warn!(peer = %peer, "setup form without a valid CSRF token refused");
        return Err(WebError::Forbidden(lang));
    }
    let keys = [format!("setup:{}", peer.ip())];
    let Some(attempt) = st.ctx.limiter.take(&keys, std::time::Instant::now()) else {
        tracing::warn!(peer = %peer, "setup rate limited");
        let e = FieldError {
            field: "setup_code",
            en: "Too many tries; please wait a few minutes".into(),
            vi: "Thử quá nhiều lần; vui lòng chờ vài phút".into(),
        };
        return Ok(setup_page(lang, &f, &[e], StatusCode::TOO_MANY_REQUESTS));
    };
    let expected = st.ctx.setup_code.as_deref().unwrap_or_default();
    if !auth::same_token(f.setup_code.trim(), expected) {
        drop(attempt);
        tracing::warn!(peer = %peer, "setup with a wrong setup code");
        let e = FieldError {
            field: "setup_code",
            en: "That is not the setup code: it is in the file setup-code in central's data directory".into(),
            vi: "Mã cài đặt không đúng: mã nằm trong tệp setup-code ở thư mục dữ liệu của máy chủ".into(),
        };
        return Ok(setup_page(lang, &f, &[e], StatusCode::UNAUTHORIZED));
    }
    attempt.succeeded();
    let mut errors = Vec::new();
    let admin = f.admin.trim().to_owned();
    if admin.is_empty() || admin.len() > 64 || admin.chars().any(char::is_whitespace) {
        errors.push(FieldError {
            field: "admin",
            en: "The user name has 1 to 64 characters and no spaces".into(),
            vi: "Tên đăng nhập có 1 đến 64 ký tự, không có dấu cách".into(),
        });
    }
    if f.password.chars().count() < 8 || f.password.chars().count() > 256 {
        errors.push(FieldError {
            field: "password",
            en: "The password has 8 to 256 characters".into(),
            vi: "Mật khẩu có từ 8 đến 256 ký tự".into(),
        });
    } else if f.password != f.password2 {
        errors.push(FieldError {
            field: "password2",
            en: "The two passwords differ".into(),
            vi: "Hai lần nhập mật khẩu không giống nhau".into(),
        });
    }
    let network = network::check_name("network", &f.network, false).map_err(|e| errors.push(e));
    let first = f
        .branch
        .input()
        .check()
        .map_err(|mut e| errors.append(&mut e));
    let (Ok(network), Ok(first), true) = (network, first, errors.is_empty()) else {
        return Ok(setup_page(lang, &f, &errors, StatusCode::BAD_REQUEST));
    };
    let password_hash = super::login::hash_new_password(&st, &f.password).await?;
    let branch_id = first.branch.id.to_string();
    st.network
        .init(
            FirstAdmin {
                name: admin.clone(),
                password_hash,
            },
            network.clone(),
            first,
        )
        .await?;
    tracing::info!(admin = %admin, "central set up in the browser");
    let entry = central_store::audit::Entry::new(&admin, "network.init", &branch_id)
        .role(Role::Admin.as_str())
        .peer(Some(peer.ip().to_string()))
        .detail(format!("network {network:?}, first branch {branch_id}"));
    let _ = st.writer.audit(entry).await;
    super::login::start_session(
        &st,
        &admin,
        Role::Admin,
        None,
        peer,
        "/admin/branches?welcome=1",
    )
    .await
}
