//! The public catalogue in a real headless Chromium: search "dia chi kon tum" without
//! diacritics, open the record, switch to English (remembered on the next page), and the
//! layout at phone width.

use std::time::Duration;

use rong_tests::browser::{Browser, BrowserOptions};
use rong_tests::scenario::{BrokerKind, Scenario};

const T: Duration = Duration::from_secs(30);

#[test]
fn search_open_a_record_and_switch_language() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let base = format!("http://{}", s.central.http);
    let b = Browser::start_with(&BrowserOptions::default()).expect("browser");
    b.set_window_size(390, 844).unwrap();

    b.navigate(&format!("{base}/opac")).unwrap();
    let q = b.wait_for("#q", T).unwrap();
    assert_eq!(b.text_of("label[for=q]").unwrap(), "Tìm sách");
    b.type_text(&q, "dia chi kon tum").unwrap();
    b.click(&b.find("form.search button").unwrap()).unwrap();
    let first = b.wait_for("ol.hits li a.title", T).unwrap();
    assert_eq!(b.text(&first).unwrap(), "Địa chí Kon Tum");
    assert!(b.text_of("ol.hits li .avail").unwrap().contains("bản"));
    // No horizontal scrolling at phone width.
    let wide = b
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            vec![],
        )
        .unwrap();
    assert_eq!(
        wide,
        serde_json::Value::Bool(false),
        "the page fits a phone"
    );

    b.click(&first).unwrap();
    b.wait_until("the record page", T, |b| {
        Ok(b.url()?.contains("/opac/record/").then_some(()))
    })
    .unwrap();
    assert_eq!(b.text_of("h1").unwrap(), "Địa chí Kon Tum");
    assert!(b.text_of("h2").unwrap().contains("Bản sách"));
    let rows = b.find_all("table.copies tbody tr").unwrap();
    assert!(!rows.is_empty(), "copies per branch");

    // English, and it sticks for the next page.
    b.click(&b.find("header a.lang").unwrap()).unwrap();
    b.wait_until("the English page", T, |b| {
        Ok((b.text_of("h2")? == "Copies in the libraries").then_some(()))
    })
    .unwrap();
    assert_eq!(b.text_of("h1").unwrap(), "Địa chí Kon Tum");
    b.navigate(&format!("{base}/opac")).unwrap();
    b.wait_for("#q", T).unwrap();
    assert_eq!(b.text_of("label[for=q]").unwrap(), "Find a book");
    assert_eq!(b.text_of("header a.lang").unwrap(), "Tiếng Việt");
}
