//! The WebDriver client itself: a headless Chromium opens a page, finds, types, clicks,
//! waits for script changes and takes a screenshot.

use std::time::Duration;

use rong_tests::browser::{Browser, BrowserOptions};

#[test]
fn drives_a_page() {
    let b = Browser::start_with(&BrowserOptions {
        width: 390,
        height: 700,
        ..BrowserOptions::default()
    })
    .expect("start browser");
    let page = "data:text/html;charset=utf-8,<title>Thử</title>\
        <input id=q><button id=go onclick=\"setTimeout(()=>{document.getElementById('out').textContent='Đã gửi: '+document.getElementById('q').value},100)\">Gửi</button>\
        <p id=out></p><a id=l href=/x data-k=v>l</a>";
    b.navigate(page).expect("navigate");
    assert_eq!(b.title().unwrap(), "Thử");
    let q = b.find("#q").unwrap();
    b.type_text(&q, "Địa chí Kon Tum").unwrap();
    b.click(&b.find("#go").unwrap()).unwrap();
    let text = b
        .wait_until("the script's reply", Duration::from_secs(10), |b| {
            let t = b.text_of("#out")?;
            Ok((!t.is_empty()).then_some(t))
        })
        .unwrap();
    assert_eq!(text, "Đã gửi: Địa chí Kon Tum");
    let a = b.find("#l").unwrap();
    assert_eq!(b.attribute(&a, "data-k").unwrap().as_deref(), Some("v"));
    assert!(b.find_all(".none").unwrap().is_empty());
    let width = b.execute("return window.innerWidth;", vec![]).unwrap();
    assert_eq!(width, 390);
    let png = b.screenshot().unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(b
        .wait_until("nothing", Duration::from_millis(200), |_| Ok(None::<()>))
        .is_err());
}
