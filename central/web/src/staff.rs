//! Staff accounts in the dashboard. Administrators list every account with its role,
//! branch, last login and state, add accounts, disable and enable them (a disabled account
//! is logged out at once), and reset passwords (which ends the account's sessions). Every
//! user changes their own password at `/admin/account`. Each change is audited.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::html::{datetime, esc, form_errors};
use super::{auth, cookie_of, Page, Session, WebError, WebState};
use central_store::admin::Role;
use central_store::network::FieldError;
use central_store::staff;
use central_store::StoreError;

/// The longest password taken (argon2 hashes any length; this bounds the work).
const MAX_PASSWORD_CHARS: usize = 256;

fn err(field: &'static str, en: impl Into<String>, vi: impl Into<String>) -> FieldError {
    FieldError {
        field,
        en: en.into(),
        vi: vi.into(),
    }
}

/// Checks a new password typed twice.
fn check_password(password: &str, again: &str, errors: &mut Vec<FieldError>) {
    let n = password.chars().count();
    if !(8..=MAX_PASSWORD_CHARS).contains(&n) {
        errors.push(err(
            "password",
            format!("The password has 8 to {MAX_PASSWORD_CHARS} characters"),
            format!("Mật khẩu có từ 8 đến {MAX_PASSWORD_CHARS} ký tự"),
        ));
    } else if password != again {
        errors.push(err(
            "password2",
            "The two passwords differ",
            "Hai lần nhập mật khẩu không giống nhau",
        ));
    }
}

/// The words for a role.
fn role_name(s: &Session, role: Role) -> &'static str {
    s.lang.t(match role {
        Role::Admin => "role_admin",
        Role::Staff => "role_staff",
        Role::Readonly => "role_readonly",
        Role::Circulation => "role_circulation",
        Role::Cataloguer => "role_cataloguer",
    })
}

/// A new account as posted.
#[derive(Debug, Default, Deserialize)]
pub struct NewAccount {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    branch: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

async fn page(st: &WebState, s: &Session, f: &NewAccount, errors: &[FieldError]) -> Page {
    let lang = s.lang;
    let (accounts, branches) = st
        .reads
        .run(|c| {
            Ok((
                staff::accounts(c, None)?,
                central_store::snapshot::branch_ids(c)?,
            ))
        })
        .await?;
    let mut b = format!(
        "<h1>{}</h1><table id=\"staff\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        lang.t("staff"),
        lang.t("user"),
        lang.t("role"),
        lang.t("branch"),
        lang.t("last_login"),
        lang.t("state"),
    );
    for a in &accounts {
        let name = esc(&a.name);
        let toggle = if a.disabled_at.is_some() {
            ("enable", lang.t("enable"))
        } else {
            ("disable", lang.t("disable"))
        };
        let _ = write!(
            b,
            "<tr data-user=\"{name}\"><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>\
             <form method=\"post\" action=\"/admin/staff/{}/{}\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button id=\"{}-{name}\">{}</button></form> \
             <form method=\"post\" action=\"/admin/staff/{}/password\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"password\" name=\"password\" placeholder=\"{}\" minlength=\"8\" maxlength=\"{MAX_PASSWORD_CHARS}\" autocomplete=\"new-password\" required>\
             <input type=\"password\" name=\"password2\" placeholder=\"{}\" minlength=\"8\" maxlength=\"{MAX_PASSWORD_CHARS}\" autocomplete=\"new-password\" required>\
             <button id=\"reset-{name}\">{}</button></form></td></tr>",
            role_name(s, a.role),
            esc(a.branch.as_deref().unwrap_or("—")),
            a.last_login_at
                .map(|t| datetime(t, st.ctx.utc_offset_min))
                .unwrap_or_else(|| lang.t("never").to_owned()),
            if a.disabled_at.is_some() {
                lang.t("disabled")
            } else {
                lang.t("active")
            },
            html_path(&a.name),
            toggle.0,
            esc(&s.csrf),
            toggle.0,
            toggle.1,
            html_path(&a.name),
            esc(&s.csrf),
            lang.t("password"),
            lang.t("password_again"),
            lang.t("reset_password"),
        );
    }
    b.push_str("</tbody></table>");
    let mut options = String::new();
    for br in &branches {
        let selected = if br.as_str() == f.branch {
            " selected"
        } else {
            ""
        };
        let _ = write!(options, "<option{selected}>{}</option>", esc(br.as_str()));
    }
    let role_option = |value: &str, role: Role| {
        format!(
            "<option value=\"{value}\"{}>{}</option>",
            if f.role == value { " selected" } else { "" },
            role_name(s, role)
        )
    };
    let _ = write!(
        b,
        "<h2>{}</h2>{}<form method=\"post\" action=\"/admin/staff\" class=\"card stack\" id=\"staff-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>{}<br><input name=\"name\" id=\"name\" value=\"{}\" maxlength=\"64\" required autocomplete=\"off\"></label>\
         <label>{}<br><select name=\"role\" id=\"role\">{}{}{}{}{}</select></label>\
         <label>{}<br><select name=\"branch\" id=\"branch\"><option value=\"\">—</option>{options}</select></label>\
         <p class=\"muted\">{}</p>\
         <label>{}<br><input type=\"password\" name=\"password\" id=\"password\" minlength=\"8\" maxlength=\"{MAX_PASSWORD_CHARS}\" required autocomplete=\"new-password\"></label>\
         <label>{}<br><input type=\"password\" name=\"password2\" id=\"password2\" minlength=\"8\" maxlength=\"{MAX_PASSWORD_CHARS}\" required autocomplete=\"new-password\"></label>\
         <p><button id=\"staff-save\">{}</button></p></form>",
        lang.t("staff_new"),
        form_errors(lang, errors),
        esc(&s.csrf),
        lang.t("user"),
        esc(&f.name),
        lang.t("role"),
        role_option("staff", Role::Staff),
        role_option("circulation", Role::Circulation),
        role_option("cataloguer", Role::Cataloguer),
        role_option("readonly", Role::Readonly),
        role_option("admin", Role::Admin),
        lang.t("branch"),
        lang.t("staff_branch_help"),
        lang.t("password"),
        lang.t("password_again"),
        lang.t("save"),
    );
    let mut r = s.page(lang.t("staff"), "staff", &b);
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(r)
}

/// A user name in a path.
fn html_path(name: &str) -> String {
    super::html::url_enc(name)
}

/// `GET /admin/staff` (administrators).
#[tracing::instrument(skip_all)]
pub async fn list(State(st): State<WebState>, s: Session) -> Page {
    s.admin_only()?;
    page(&st, &s, &NewAccount::default(), &[]).await
}

/// `POST /admin/staff`: adds an account.
#[tracing::instrument(skip_all)]
pub async fn create(State(st): State<WebState>, s: Session, Form(f): Form<NewAccount>) -> Page {
    s.check_change(f.csrf.as_deref())?;
    s.admin_only()?;
    let mut errors = Vec::new();
    let name = f.name.trim().to_owned();
    if name.is_empty()
        || name.len() > 64
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        errors.push(err(
            "name",
            "The user name has 1 to 64 characters and no spaces",
            "Tên đăng nhập có 1 đến 64 ký tự, không có dấu cách",
        ));
    }
    let role = Role::parse(&f.role);
    let branch = Some(f.branch.trim()).filter(|b| !b.is_empty());
    match (role, branch) {
        (None, _) => errors.push(err("role", "Choose a role", "Vui lòng chọn vai trò")),
        (Some(Role::Admin), Some(_)) => errors.push(err(
            "branch",
            "An administrator sees every branch: leave the branch empty",
            "Quản trị viên xem được mọi chi nhánh: để trống ô chi nhánh",
        )),
        (Some(Role::Staff | Role::Readonly | Role::Circulation | Role::Cataloguer), None) => errors
            .push(err(
                "branch",
                "Everyone but an administrator works at one branch: choose it",
                "Mọi người trừ quản trị viên làm việc ở một chi nhánh: vui lòng chọn chi nhánh",
            )),
        _ => {}
    }
    check_password(&f.password, &f.password2, &mut errors);
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        return page(&st, &s, &f, &errors).await;
    };
    let hash = super::login::hash_new_password(&st, &f.password).await?;
    let (n, b) = (name.clone(), branch.map(str::to_owned));
    let now = chrono::Utc::now().timestamp_millis();
    let made = st
        .writer
        .run(move |w| w.create_user(&n, &hash, role, b.as_deref(), now))
        .await;
    match made {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            let taken = err(
                "name",
                format!("There is already a user {name}"),
                format!("Đã có người dùng {name}"),
            );
            return page(&st, &s, &f, &[taken]).await;
        }
        Err(StoreError::NotFound(_)) => {
            let unknown = err("branch", "No such branch", "Không có chi nhánh này");
            return page(&st, &s, &f, &[unknown]).await;
        }
        Err(e) => return Err(e.into()),
    }
    let entry = s
        .entry("staff.create", &name)
        .branch(branch)
        .detail(role.as_str());
    let _ = st.writer.audit(entry).await;
    Ok(Redirect::to("/admin/staff").into_response())
}

/// A form with its CSRF token and, for a password, the password twice.
#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    csrf: Option<String>,
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

/// `POST /admin/staff/{name}/{action}`: `disable`, `enable` or `password` (a reset).
#[tracing::instrument(skip_all)]
pub async fn change(
    State(st): State<WebState>,
    s: Session,
    Path((name, action)): Path<(String, String)>,
    Form(f): Form<AccountForm>,
) -> Page {
    s.check_change(f.csrf.as_deref())?;
    s.admin_only()?;
    let now = chrono::Utc::now().timestamp_millis();
    let n = name.clone();
    let audit = match action.as_str() {
        "disable" | "enable" => {
            let off = action == "disable";
            st.writer.run(move |w| w.set_disabled(&n, off, now)).await?;
            if off {
                "staff.disable"
            } else {
                "staff.enable"
            }
        }
        "password" => {
            let mut errors = Vec::new();
            check_password(&f.password, &f.password2, &mut errors);
            if !errors.is_empty() {
                return page(&st, &s, &NewAccount::default(), &errors).await;
            }
            let hash = super::login::hash_new_password(&st, &f.password).await?;
            st.writer
                .run(move |w| w.set_password(&n, &hash, None))
                .await?;
            "staff.password_reset"
        }
        _ => return Err(WebError::NotFound(s.lang)),
    };
    let _ = st.writer.audit(s.entry(audit, &name)).await;
    Ok(Redirect::to("/admin/staff").into_response())
}

fn account_page(s: &Session, errors: &[FieldError], done: bool) -> Response {
    let lang = s.lang;
    let b = format!(
        "<h1>{}</h1>{}{}<form method=\"post\" action=\"/admin/account\" class=\"card stack\" id=\"account-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>{}<br><input type=\"password\" name=\"current\" id=\"current\" required autocomplete=\"current-password\"></label>\
         <label>{}<br><input type=\"password\" name=\"password\" id=\"password\" minlength=\"8\" maxlength=\"{MAX_PASSWORD_CHARS}\" required autocomplete=\"new-password\"></label>\
         <label>{}<br><input type=\"password\" name=\"password2\" id=\"password2\" minlength=\"8\" maxlength=\"{MAX_PASSWORD_CHARS}\" required autocomplete=\"new-password\"></label>\
         <p><button id=\"account-save\">{}</button></p></form>",
        lang.t("account"),
        if done {
            format!("<p class=\"card\" id=\"account-done\">{}</p>", lang.t("password_changed"))
        } else {
            String::new()
        },
        form_errors(lang, errors),
        esc(&s.csrf),
        lang.t("password_current"),
        lang.t("password_new"),
        lang.t("password_again"),
        lang.t("save"),
    );
    let mut r = s.page(lang.t("account"), "", &b);
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    r
}

/// `GET /admin/account`: change one's own password.
#[tracing::instrument(skip_all)]
pub async fn account(s: Session) -> Page {
    Ok(account_page(&s, &[], false))
}

/// `POST /admin/account`: checks the current password, sets the new one, and ends the
/// user's other sessions.
#[tracing::instrument(skip_all)]
pub async fn change_own(
    State(st): State<WebState>,
    headers: axum::http::HeaderMap,
    s: Session,
    Form(f): Form<AccountForm>,
) -> Page {
    s.check_csrf(f.csrf.as_deref())?;
    let mut errors = Vec::new();
    check_password(&f.password, &f.password2, &mut errors);
    if f.current.chars().count() > MAX_PASSWORD_CHARS {
        errors.push(err(
            "current",
            "That is not your password",
            "Mật khẩu hiện tại không đúng",
        ));
    }
    if !errors.is_empty() {
        return Ok(account_page(&s, &errors, false));
    }
    let user = s.user.clone();
    let stored = st
        .reads
        .run(move |c| staff::password_hash(c, &user))
        .await?
        .ok_or(WebError::Forbidden(s.lang))?;
    let (current, new) = (f.current.clone(), f.password.clone());
    let hash = st
        .ctx
        .hash_work
        .run(move || {
            auth::verify_password(&current, &stored)
                .then(|| auth::hash_password(&new).map_err(|e| e.to_string()))
        })
        .await
        .map_err(WebError::Internal)?;
    let Some(hash) = hash else {
        tracing::warn!(user = %s.user, "a password change with a wrong current password");
        let wrong = err(
            "current",
            "That is not your password",
            "Mật khẩu hiện tại không đúng",
        );
        return Ok(account_page(&s, &[wrong], false));
    };
    let hash = hash.map_err(WebError::Internal)?;
    let keep = cookie_of(&headers, auth::SESSION_COOKIE).map(auth::token_hash);
    let user = s.user.clone();
    st.writer
        .run(move |w| w.set_password(&user, &hash, keep.as_deref()))
        .await?;
    let _ = st.writer.audit(s.entry("account.password", &s.user)).await;
    Ok(account_page(&s, &[], true))
}
