//! The catalogue's pages as HTML. Every piece of stored text goes through [`esc`].

use std::fmt::Write;

use rong_protocol::delta::Record;

use super::text::{texts, Lang};
use crate::html::{esc, url_enc as url};
use central_store::search::{CatalogueHit, Copy};

/// The style sheet: large type, high contrast, one column on a phone.
pub const STYLE: &str = r#"
:root { --ink:#1a1a1a; --muted:#4a4a4a; --line:#d0d0d0; --brand:#7a2e0e; --ok:#1d6b2f; --warn:#8a4b00; --bg:#fbf8f3; }
* { box-sizing: border-box; }
body { margin:0; font: 18px/1.5 "Noto Sans", "DejaVu Sans", system-ui, sans-serif; color:var(--ink); background:var(--bg); }
header { background:var(--brand); color:#fff; padding:.75rem 1rem; display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:center; justify-content:space-between; }
header a { color:#fff; }
.brand { font-weight:700; font-size:1.15rem; text-decoration:none; }
.brand small { display:block; font-weight:400; font-size:.9rem; opacity:.9; }
.lang { border:2px solid #fff; border-radius:.4rem; padding:.35rem .8rem; text-decoration:none; min-height:44px; display:inline-flex; align-items:center; }
main { max-width:60rem; margin:0 auto; padding:1rem; }
form.search { display:flex; flex-wrap:wrap; gap:.5rem; align-items:end; }
form.search label { width:100%; font-weight:700; }
form.search input { flex:1 1 14rem; font:inherit; padding:.6rem .75rem; min-height:48px; border:2px solid var(--muted); border-radius:.4rem; background:#fff; }
form.search button { font:inherit; font-weight:700; padding:.6rem 1.4rem; min-height:48px; border:0; border-radius:.4rem; background:var(--brand); color:#fff; cursor:pointer; }
input:focus, button:focus, a:focus { outline:3px solid #f0b400; outline-offset:2px; }
.hint, .count { color:var(--muted); }
ol.hits { list-style:none; padding:0; margin:1rem 0; }
ol.hits li { background:#fff; border:1px solid var(--line); border-radius:.5rem; padding:.75rem 1rem; margin:.6rem 0; }
ol.hits a.title { font-size:1.15rem; font-weight:700; color:var(--brand); }
.meta { color:var(--muted); }
.avail { margin-top:.25rem; }
.yes { color:var(--ok); font-weight:700; }
.no { color:var(--warn); font-weight:700; }
dl.fields { display:grid; grid-template-columns: max-content 1fr; gap:.35rem 1rem; background:#fff; border:1px solid var(--line); border-radius:.5rem; padding:1rem; }
dl.fields dt { font-weight:700; }
dl.fields dd { margin:0; }
dl.fields a { color:var(--brand); }
table.copies { width:100%; border-collapse:collapse; background:#fff; }
table.copies th, table.copies td { text-align:left; padding:.5rem; border-bottom:1px solid var(--line); vertical-align:top; }
a.more, a.back { display:inline-block; margin:.5rem 0; font-weight:700; color:var(--brand); min-height:44px; padding:.5rem 0; }
@media (max-width: 40rem) {
  body { font-size:17px; }
  dl.fields { grid-template-columns: 1fr; }
  dl.fields dt { margin-top:.4rem; }
  table.copies thead { display:none; }
  table.copies tr { display:block; border-bottom:2px solid var(--line); padding:.4rem 0; }
  table.copies td { display:block; border:0; padding:.15rem .5rem; }
  table.copies td::before { content: attr(data-label) ": "; font-weight:700; }
}
"#;

fn head(lang: Lang, library: &str, title: &str, switch_href: &str) -> String {
    let t = texts(lang);
    format!(
        "<!doctype html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {library}</title><link rel=\"stylesheet\" href=\"/opac/style.css\"></head>\
         <body><header><a class=\"brand\" href=\"/opac\">{library}<small>{catalogue}</small></a>\
         <a class=\"lang\" href=\"{switch_href}\" lang=\"{other}\" hreflang=\"{other}\">{switch}</a></header><main>",
        code = lang.code(),
        title = esc(title),
        library = esc(library),
        catalogue = t.catalogue,
        switch_href = esc(switch_href),
        other = lang.other().code(),
        switch = t.switch_to,
    )
}

const FOOT: &str = "</main></body></html>\n";

fn search_form(lang: Lang, q: &str) -> String {
    let t = texts(lang);
    format!(
        "<form class=\"search\" role=\"search\" action=\"/opac\" method=\"get\">\
         <label for=\"q\">{label}</label>\
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{q}\" placeholder=\"{ph}\" autocomplete=\"off\" autofocus>\
         <button type=\"submit\">{button}</button></form><p class=\"hint\">{hint}</p>",
        label = t.search_label,
        q = esc(q),
        ph = t.placeholder,
        button = t.search_button,
        hint = esc(t.hint),
    )
}

fn availability(lang: Lang, hit: &CatalogueHit) -> String {
    let t = texts(lang);
    if hit.branches.is_empty() {
        return format!("<span class=\"no\">{}</span>", t.no_copies);
    }
    let available: u32 = hit.branches.iter().map(|b| b.available).sum();
    let total: u32 = hit.branches.iter().map(|b| b.total).sum();
    let class = if available > 0 { "yes" } else { "no" };
    let per: Vec<String> = hit
        .branches
        .iter()
        .map(|b| format!("{} {}/{}", esc(&b.name), b.available, b.total))
        .collect();
    let summary = match lang {
        Lang::Vi => format!("{} {available}/{total} {}", t.available_of, t.copies),
        Lang::En => format!("{available} {} {total} {}", t.available_of, t.copies),
    };
    format!(
        "<span class=\"{class}\">{summary}</span> · {}",
        per.join(", ")
    )
}

/// The search page, with results when there was a query.
pub fn search_page(
    lang: Lang,
    library: &str,
    q: &str,
    hits: Option<&[CatalogueHit]>,
    page: usize,
    per_page: usize,
    documents: &str,
) -> String {
    let t = texts(lang);
    let switch = format!("/opac?q={}&lang={}", url(q), lang.other().code());
    let title = if q.is_empty() { t.catalogue } else { q };
    let mut out = head(lang, library, title, &switch);
    out.push_str(&search_form(lang, q));
    if let Some(hits) = hits {
        let shown = hits.len().min(page * per_page);
        if hits.is_empty() && !documents.is_empty() {
            // Only digitised documents matched: they follow.
        } else if hits.is_empty() {
            let _ = write!(
                out,
                "<p class=\"count\" role=\"status\">{}</p><p>{}</p>",
                t.no_results, t.no_results_hint
            );
        } else {
            let _ = write!(
                out,
                "<p class=\"count\" role=\"status\">{}{} {} \u{201c}{}\u{201d}</p><ol class=\"hits\">",
                shown,
                if hits.len() > shown { "+" } else { "" },
                t.results_for,
                esc(q)
            );
            for hit in &hits[..shown] {
                let mut meta: Vec<String> = Vec::new();
                if !hit.author.is_empty() {
                    meta.push(esc(&hit.author));
                }
                if let Some(y) = hit.year {
                    meta.push(y.to_string());
                }
                if !hit.call_number.is_empty() {
                    meta.push(esc(&hit.call_number));
                }
                let _ = write!(
                    out,
                    "<li><a class=\"title\" href=\"/opac/record/{id}\">{title}</a>\
                     <div class=\"meta\">{meta}</div><div class=\"avail\">{avail}</div></li>",
                    id = url(&hit.record),
                    title = esc(&hit.title),
                    meta = meta.join(" · "),
                    avail = availability(lang, hit),
                );
            }
            out.push_str("</ol>");
            if hits.len() > shown && page < 5 {
                let _ = write!(
                    out,
                    "<a class=\"more\" href=\"/opac?q={}&amp;page={}\">{}</a>",
                    url(q),
                    page + 1,
                    t.more
                );
            }
        }
    }
    out.push_str(documents);
    out.push_str(FOOT);
    out
}

fn due(date: &str) -> String {
    // Stored as YYYY-MM-DD; shown as DD/MM/YYYY.
    match date.split('-').collect::<Vec<_>>()[..] {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => date.to_owned(),
    }
}

/// A record with its copies.
pub fn record_page(lang: Lang, library: &str, rec: &Record, copies: &[Copy]) -> String {
    let t = texts(lang);
    let switch = format!("/opac/record/{}?lang={}", url(&rec.id), lang.other().code());
    let mut out = head(lang, library, &rec.title, &switch);
    let _ = write!(
        out,
        "<a class=\"back\" href=\"/opac\">\u{2190} {}</a><h1>{}</h1><dl class=\"fields\">",
        t.back,
        esc(&rec.title)
    );
    let mut field = |label: &str, value: String| {
        if !value.is_empty() {
            let _ = write!(out, "<dt>{label}</dt><dd>{value}</dd>");
        }
    };
    field(t.author, esc(&rec.author));
    field(
        t.subjects,
        rec.subjects
            .iter()
            .map(|s| format!("<a href=\"/opac?q={}\">{}</a>", url(s), esc(s)))
            .collect::<Vec<_>>()
            .join(" · "),
    );
    field(t.publisher, esc(&rec.publisher));
    field(t.year, rec.year.map(|y| y.to_string()).unwrap_or_default());
    field(t.isbn, esc(rec.isbn.as_deref().unwrap_or("")));
    field(t.call_number, esc(&rec.call_number));
    out.push_str("</dl>");
    let _ = write!(out, "<h2>{}</h2>", t.copies_heading);
    if copies.is_empty() {
        let _ = write!(out, "<p class=\"no\">{}</p>", t.no_copies);
    } else {
        let _ = write!(
            out,
            "<table class=\"copies\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            t.library, t.call_number, t.shelf, t.status
        );
        for c in copies {
            let status = if let Some(d) = &c.due {
                format!("<span class=\"no\">{} {}</span>", t.on_loan_until, due(d))
            } else if c.status == "not_for_loan" {
                format!("<span class=\"yes\">{}</span>", t.reference_only)
            } else {
                format!("<span class=\"yes\">{}</span>", t.on_shelf)
            };
            let _ = write!(
                out,
                "<tr><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td>\
                 <td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td></tr>",
                t.library,
                esc(&c.branch_name),
                t.call_number,
                esc(&c.call_number),
                t.shelf,
                esc(&c.shelf),
                t.status,
                status
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str(FOOT);
    out
}

/// A page that only says what went wrong.
pub fn error_page(lang: Lang, library: &str, message: &str) -> String {
    let mut out = head(
        lang,
        library,
        message,
        &format!("/opac?lang={}", lang.other().code()),
    );
    out.push_str(&search_form(lang, ""));
    let _ = write!(out, "<p class=\"no\" role=\"alert\">{}</p>", esc(message));
    out.push_str(FOOT);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            esc(r#"<b a="1">Tom & 'Jerry'</b>"#),
            "&lt;b a=&quot;1&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
        assert_eq!(url("địa chí&x"), "%C4%91%E1%BB%8Ba%20ch%C3%AD%26x");
        assert_eq!(due("2026-12-16"), "16/12/2026");
    }

    #[test]
    fn hostile_text_is_inert() {
        let hit = CatalogueHit {
            record: "R\"1".into(),
            title: "<script>alert(1)</script>".into(),
            author: "A & B".into(),
            subjects: vec![],
            publisher: String::new(),
            year: Some(2020),
            isbn: None,
            call_number: String::new(),
            branches: vec![],
        };
        let page = search_page(Lang::Vi, "Thư viện", "<x>", Some(&[hit]), 1, 20, "");
        assert!(!page.contains("<script>"));
        assert!(!page.contains("<x>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("/opac/record/R%221"));
        assert!(page.contains("lang=\"vi\""));
    }
}
