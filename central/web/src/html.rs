//! HTML building blocks: escaping, the page layout, and formatting of times and sizes.

use std::fmt::Write;

use super::i18n::Lang;
use central_store::network::FieldError;

/// The dashboard's stylesheet, embedded in the binary.
pub const CSS: &str = include_str!("static/app.css");
/// The dashboard's script (live updates), embedded in the binary.
pub const JS: &str = include_str!("static/app.js");

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn url_enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Who is looking at a page, for the header.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Login name.
    pub user: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Staff's branch (none for administrators).
    pub branch: Option<String>,
    /// Whether the viewer works at the circulation desk.
    pub lends: bool,
}

/// A whole page: header with navigation, language switch and logout, then `body`.
pub fn page(lang: Lang, title: &str, active: &str, viewer: Option<&Viewer>, body: &str) -> String {
    let mut s = String::with_capacity(body.len() + 2048);
    let _ = write!(
        s,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · {}</title><link rel=\"stylesheet\" href=\"/admin/static/app.css\"></head><body><header>\
         <span class=\"brand\">{}</span>",
        lang.code(),
        esc(title),
        lang.t("app"),
        lang.t("app")
    );
    if let Some(v) = viewer {
        s.push_str("<nav>");
        for (key, href) in [
            ("devices", "/admin/devices"),
            ("desk", "/admin/desk"),
            ("readers", "/admin/readers"),
            ("lists", "/admin/lists"),
            ("branches", "/admin/branches"),
            ("calendar", "/admin/calendar"),
            ("rules", "/admin/rules"),
            ("alerts", "/admin/alerts"),
            ("stats", "/admin/stats"),
            ("report", "/admin/report"),
            ("digitise", "/admin/digitise"),
            ("quarantine", "/admin/quarantine"),
            ("audit", "/admin/audit"),
            ("staff", "/admin/staff"),
        ] {
            // Accounts are kept by administrators, who are of no one branch.
            if key == "staff" && v.branch.is_some() || key == "desk" && !v.lends {
                continue;
            }
            let _ = write!(
                s,
                "<a href=\"{href}\" id=\"nav-{key}\"{}>{}</a>",
                if key == active { " class=\"on\"" } else { "" },
                lang.t(key)
            );
        }
        let _ = write!(
            s,
            "</nav><span class=\"who\"><a href=\"/admin/account\" id=\"who\">{}{}</a>\
             <a href=\"/admin/lang?to={}\" id=\"lang\">{}</a>\
             <form method=\"post\" action=\"/admin/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button id=\"logout\">{}</button></form></span>",
            esc(&v.user),
            v.branch
                .as_deref()
                .map(|b| format!(" · {}", esc(b)))
                .unwrap_or_default(),
            lang.other().code(),
            lang.t("lang_name"),
            esc(&v.csrf),
            lang.t("logout")
        );
    } else {
        let _ = write!(
            s,
            "<span class=\"who\"><a href=\"/admin/lang?to={}\" id=\"lang\">{}</a></span>",
            lang.other().code(),
            lang.t("lang_name")
        );
    }
    let _ = write!(
        s,
        "</header><main>{body}</main><script src=\"/admin/static/app.js\"></script></body></html>"
    );
    s
}

/// The one row of an empty table, spanning its `cols` columns.
pub fn none_row(lang: Lang, cols: usize) -> String {
    format!(
        "<tr><td colspan=\"{cols}\" class=\"muted\">{}</td></tr>",
        lang.t("none")
    )
}

/// A date and time in the library's zone, `yyyy-mm-dd hh:mm:ss`.
pub fn datetime(ms: i64, utc_offset_min: i32) -> String {
    chrono::DateTime::from_timestamp_millis(ms + i64::from(utc_offset_min) * 60_000)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A duration in seconds, short: `45 s`, `12 min`, `3 h`, `2 d`.
pub fn age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// Bytes as MiB or GiB.
pub fn bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let mib = n as f64 / MIB;
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

/// A form's mistakes as a list, each in the page's language (none: nothing).
pub fn form_errors(lang: Lang, errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "<div class=\"card err\" id=\"form-errors\" role=\"alert\"><p>{}</p><ul>",
        lang.t("form_not_saved")
    );
    for e in errors {
        let text = match lang {
            Lang::Vi => &e.vi,
            Lang::En => &e.en,
        };
        let _ = write!(s, "<li data-field=\"{}\">{}</li>", e.field, esc(text));
    }
    s.push_str("</ul></div>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        assert_eq!(
            esc("<a href=\"x\">'Đ' & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;Đ&#39; &amp; co&lt;/a&gt;"
        );
        assert_eq!(url_enc("a b/Đ"), "a%20b%2F%C4%90");
        assert_eq!(datetime(0, 420), "1970-01-01 07:00:00");
        assert_eq!(age(59), "59 s");
        assert_eq!(age(600), "10 min");
        assert_eq!(age(3 * 86_400), "3 d");
        assert_eq!(bytes(300 * 1024 * 1024), "300 MiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn page_escapes_the_user() {
        let v = Viewer {
            user: "<b>".into(),
            csrf: "t\"".into(),
            branch: Some("dakto".into()),
            lends: true,
        };
        let p = page(Lang::Vi, "T", "devices", Some(&v), "<p>x</p>");
        assert!(p.contains("&lt;b&gt; · dakto"));
        assert!(p.contains("value=\"t&quot;\""));
        assert!(p.contains("class=\"on\">Thiết bị"));
    }
}
