//! Reader categories and the loan-rule matrix in the dashboard (`/admin/rules`). Everyone
//! sees them; administrators change them. A category has a code, a name, the most loans at
//! once and a membership length. The matrix has a cell for every category and item type
//! (and `*` for any): the loan period in days (0: reading room only) and the renewals; an
//! empty cell falls back to a wider rule, and the `*` × `*` rule must be there. A matrix is
//! checked whole and saved whole; every change is audited and reaches the devices by delta.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;

use super::html::{esc, form_errors};
use super::{Page, Session, WebError, WebState};
use central_store::admin::Role;
use central_store::network::FieldError;
use central_store::rules::{self, CategoryRow, CellInput, MAX_LOAN_DAYS, MAX_RENEWALS};
use central_store::StoreError;
use rong_protocol::delta::LoanRule;

/// The categories and matrix as stored.
struct Current {
    categories: Vec<CategoryRow>,
    item_types: Vec<String>,
    rules: Vec<LoanRule>,
}

async fn current(st: &WebState) -> Result<Current, WebError> {
    Ok(st
        .reads
        .run(|c| {
            Ok(Current {
                categories: rules::categories(c)?,
                item_types: rules::item_types(c)?,
                rules: central_store::calendar::loan_rules(c)?,
            })
        })
        .await?)
}

/// A category form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct CategoryForm {
    csrf: Option<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    max_loans: String,
    #[serde(default)]
    membership_months: String,
}

/// A cell's field name: `d|category|type` for days, `r|…` for renewals.
fn cell_name(kind: char, category: &str, item_type: &str) -> String {
    format!("{kind}|{category}|{item_type}")
}

fn render(
    s: &Session,
    now: &Current,
    cat: &CategoryForm,
    typed: Option<&BTreeMap<String, String>>,
    errors: &[FieldError],
) -> axum::response::Response {
    let lang = s.lang;
    let admin = s.role == Role::Admin;
    let mut h = format!(
        "<h1>{}</h1>{}<h2>{}</h2><table id=\"categories\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        lang.t("rules"),
        form_errors(lang, errors),
        lang.t("categories"),
        lang.t("branch_code"),
        lang.t("name"),
        lang.t("max_loans"),
        lang.t("membership_months"),
    );
    for c in &now.categories {
        let _ = write!(
            h,
            "<tr data-category=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.category.id),
            esc(&c.category.id),
            esc(&c.category.name),
            c.category.max_loans,
            c.membership_months
        );
    }
    h.push_str("</tbody></table>");
    if admin {
        let _ = write!(
            h,
            "<form method=\"post\" action=\"/admin/rules/categories\" class=\"card stack\" id=\"category-form\">\
             <p class=\"muted\">{}</p><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label>{}<br><input name=\"id\" id=\"category-id\" value=\"{}\" maxlength=\"32\" required></label>\
             <label>{}<br><input name=\"name\" id=\"category-name\" value=\"{}\" maxlength=\"200\" required></label>\
             <label>{}<br><input type=\"number\" name=\"max_loans\" id=\"category-max\" value=\"{}\" min=\"0\" max=\"{}\" required></label>\
             <label>{}<br><input type=\"number\" name=\"membership_months\" id=\"category-months\" value=\"{}\" min=\"1\" max=\"{}\" required></label>\
             <p><button id=\"category-save\">{}</button></p></form>",
            lang.t("category_help"),
            esc(&s.csrf),
            lang.t("branch_code"),
            esc(&cat.id),
            lang.t("name"),
            esc(&cat.name),
            lang.t("max_loans"),
            esc(&cat.max_loans),
            rules::MAX_LOANS,
            lang.t("membership_months"),
            esc(&cat.membership_months),
            rules::MAX_MEMBERSHIP_MONTHS,
            lang.t("save"),
        );
    }
    // The matrix: a row per category (and any), a column per item type (and any).
    let stored: BTreeMap<(&str, &str), &LoanRule> = now
        .rules
        .iter()
        .map(|r| ((r.category.as_str(), r.item_type.as_str()), r))
        .collect();
    let mut rows: Vec<&str> = now
        .categories
        .iter()
        .map(|c| c.category.id.as_str())
        .collect();
    rows.push("*");
    let mut cols: Vec<&str> = now.item_types.iter().map(String::as_str).collect();
    cols.push("*");
    let _ = write!(
        h,
        "<h2>{}</h2><p class=\"muted\">{}</p><form method=\"post\" action=\"/admin/rules/matrix\" id=\"matrix-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><div class=\"scroll\"><table id=\"matrix\"><thead><tr><th></th>",
        lang.t("loan_rules"),
        lang.t("matrix_help")
            .replace("{days}", &MAX_LOAN_DAYS.to_string())
            .replace("{renewals}", &MAX_RENEWALS.to_string()),
        esc(&s.csrf),
    );
    for t in &cols {
        let _ = write!(h, "<th>{}</th>", esc(t));
    }
    h.push_str("</tr></thead><tbody>");
    let disabled = if admin { "" } else { " disabled" };
    for c in &rows {
        let _ = write!(h, "<tr><th>{}</th>", esc(c));
        for t in &cols {
            let (days_name, renew_name) = (cell_name('d', c, t), cell_name('r', c, t));
            let (days, renewals) = match typed {
                Some(f) => (
                    f.get(&days_name).cloned().unwrap_or_default(),
                    f.get(&renew_name).cloned().unwrap_or_default(),
                ),
                None => stored
                    .get(&(*c, *t))
                    .map_or((String::new(), String::new()), |r| {
                        (r.loan_days.to_string(), r.max_renewals.to_string())
                    }),
            };
            let _ = write!(
                h,
                "<td class=\"cell\"><input name=\"{}\" value=\"{}\" inputmode=\"numeric\" size=\"3\" aria-label=\"{} {c} × {t}\"{disabled}>\
                 <input name=\"{}\" value=\"{}\" inputmode=\"numeric\" size=\"2\" aria-label=\"{} {c} × {t}\"{disabled}></td>",
                esc(&days_name),
                esc(&days),
                lang.t("loan_days"),
                esc(&renew_name),
                esc(&renewals),
                lang.t("renewals"),
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    if admin {
        let _ = write!(
            h,
            "<p><button id=\"matrix-save\">{}</button></p>",
            lang.t("save")
        );
    }
    h.push_str("</form>");
    let mut r = s.page(lang.t("rules"), "rules", &h);
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    r
}

/// 403 unless the user is an administrator; CSRF checked.
fn admin_change(s: &Session, csrf: Option<&str>) -> Result<(), WebError> {
    s.check_change(csrf)?;
    s.admin_only()
}

/// `GET /admin/rules`.
#[tracing::instrument(skip_all)]
pub async fn show(State(st): State<WebState>, s: Session) -> Page {
    let now = current(&st).await?;
    let blank = CategoryForm {
        max_loans: "5".into(),
        membership_months: "12".into(),
        ..CategoryForm::default()
    };
    Ok(render(&s, &now, &blank, None, &[]))
}

/// `POST /admin/rules/categories`: adds a category, or changes the one with that code.
#[tracing::instrument(skip_all)]
pub async fn save_category(
    State(st): State<WebState>,
    s: Session,
    Form(f): Form<CategoryForm>,
) -> Page {
    admin_change(&s, f.csrf.as_deref())?;
    let now = current(&st).await?;
    let row = match rules::check_category(&f.id, &f.name, &f.max_loans, &f.membership_months) {
        Ok(row) => row,
        Err(errors) => return Ok(render(&s, &now, &f, None, &errors)),
    };
    let create = !now
        .categories
        .iter()
        .any(|c| c.category.id == row.category.id);
    let detail = format!(
        "{}; {} loans; {} months",
        row.category.name, row.category.max_loans, row.membership_months
    );
    let id = row.category.id.clone();
    st.network.save_category(row, create).await?;
    let action = if create {
        "category.create"
    } else {
        "category.update"
    };
    let _ = st.writer.audit(s.entry(action, &id).detail(detail)).await;
    Ok(Redirect::to("/admin/rules").into_response())
}

/// `POST /admin/rules/matrix`: saves the whole matrix, or shows every mistake in it.
#[tracing::instrument(skip_all)]
pub async fn save_matrix(
    State(st): State<WebState>,
    s: Session,
    Form(f): Form<BTreeMap<String, String>>,
) -> Page {
    admin_change(&s, f.get("csrf").map(String::as_str))?;
    let now = current(&st).await?;
    let mut cells: BTreeMap<(String, String), CellInput> = BTreeMap::new();
    for (name, value) in &f {
        let mut parts = name.splitn(3, '|');
        let (Some(kind), Some(category), Some(item_type)) =
            (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let known_row = category == "*" || now.categories.iter().any(|c| c.category.id == category);
        let known_col = item_type == "*" || now.item_types.iter().any(|t| t == item_type);
        if !known_row || !known_col {
            return Err(WebError::BadRequest(format!(
                "no such cell {category} × {item_type}"
            )));
        }
        let cell = cells
            .entry((category.to_owned(), item_type.to_owned()))
            .or_default();
        match kind {
            "d" => cell.days = value.clone(),
            "r" => cell.renewals = value.clone(),
            _ => {}
        }
    }
    let rules = match rules::check_matrix(&cells) {
        Ok(r) => r,
        Err(errors) => {
            let blank = CategoryForm::default();
            return Ok(render(&s, &now, &blank, Some(&f), &errors));
        }
    };
    let n = rules.len();
    match st.network.save_matrix(rules).await {
        Ok(()) => {}
        Err(StoreError::Conflict(m)) => return Err(WebError::BadRequest(m)),
        Err(e) => return Err(e.into()),
    }
    let _ = st
        .writer
        .audit(
            s.entry("rules.update", "matrix")
                .detail(format!("{n} rules")),
        )
        .await;
    Ok(Redirect::to("/admin/rules").into_response())
}
