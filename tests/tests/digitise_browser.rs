//! Digitised documents in a real headless Chromium. A bag of three Vietnamese pages goes
//! straight to a real central over tus (as a station sends it); once central has read the
//! pages (its PDF is served), the public catalogue finds the document by a word of its
//! text typed without diacritics, and the viewer's own script loads the IIIF manifest and
//! shows the pages: page N of M, next and previous by button and keyboard, zoom, the PDF,
//! Vietnamese then English, and a phone's width. Meanwhile a real station (simulated
//! scanner) scans a job behind a held link: the dashboard's digitisation page shows its
//! pages and bytes waiting, then the job safe once the link opens, and branch staff see
//! only their branch. `RONG_UPDATE_SCREENS=1` writes screenshots to `docs/screens/digitise/`.

use std::time::Duration;

use rong_protocol::digitise::BagVerdict;
use rong_tests::bag::{submit_bag, BagSender};
use rong_tests::browser::{screens_dir, Browser, WdResult, ARROW_LEFT, ARROW_RIGHT};
use rong_tests::http::request_full;
use rong_tests::proxy::Proxy;
use rong_tests::scenario::{wait_synced, BrokerKind, Scenario};
use rong_tests::wait_until;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(30);
const PASSWORD: &str = "mật-khẩu-đủ-dài";
const TITLE: &str = "Sông Đăk Bla (bản quét thử)";

/// The text of each page: a word of page 1 ("Đăk Bla") is what a reader searches for.
const PAGES: [&[&str]; 3] = [
    &[
        "Sông Đăk Bla",
        "chảy qua thành phố Kon Tum,",
        "cầu treo Kon Klor nối đôi bờ.",
    ],
    &["Trang hai", "Làng buôn và phong tục", "của người Ba Na."],
    &["Trang ba", "Thư viện tỉnh Kon Tum", "lưu giữ tài liệu quý."],
];

/// A page image: the browser renders the lines large, black on white, at a page's shape,
/// and its screenshot is the master. (Any clear text does; this needs no font file.)
fn page_png(b: &Browser, lines: &[&str]) -> Vec<u8> {
    let body: String = lines.iter().map(|l| format!("<p>{l}</p>")).collect();
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"></head>\
         <body style=\"margin:0;padding:80px;background:#fff;color:#000;\
         font:56px/1.4 'DejaVu Sans',sans-serif\">{body}</body></html>"
    );
    let encoded: String = html
        .bytes()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                (c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect();
    b.set_window_size(1100, 1500).expect("page size");
    b.navigate(&format!("data:text/html;charset=utf-8,{encoded}"))
        .expect("render the page");
    b.screenshot().expect("page screenshot")
}

/// Saves desktop and phone screenshots of the current page.
fn shoot(b: &Browser, name: &str) {
    b.shoot(&screens_dir("digitise"), name)
        .expect("screenshots");
}

/// The viewer's page image: its source, and its rendered width when it has loaded.
fn shown(b: &Browser) -> WdResult<Option<(String, f64)>> {
    let v = b.execute(
        "var i=document.getElementById('page');\
         return i.complete && i.naturalWidth>0 ? [i.src, i.getBoundingClientRect().width] : null;",
        vec![],
    )?;
    Ok(v.as_array().map(|a| {
        (
            a[0].as_str().unwrap_or_default().to_owned(),
            a[1].as_f64().unwrap_or(0.0),
        )
    }))
}

/// Waits until the viewer shows page `n` (from 1) of `of`, its image loaded.
fn wait_page(b: &Browser, doc: &str, n: usize, of: usize) -> f64 {
    b.wait_until(&format!("page {n} of {of} shown"), T, |b| {
        let pos = b.text_of("#pos")?;
        Ok(shown(b)?
            .filter(|(src, _)| {
                pos == format!("{n} / {of}") && src.contains(&format!("/iiif/{doc}/{n}/full/"))
            })
            .map(|(_, w)| w))
    })
    .expect("the page image")
}

/// Whether the page scrolls sideways.
fn wide(b: &Browser) -> bool {
    b.execute(
        "return document.documentElement.scrollWidth > window.innerWidth;",
        vec![],
    )
    .expect("layout")
        == Value::Bool(true)
}

fn login(b: &Browser, base: &str, user: &str) {
    b.delete_cookies().expect("log out");
    b.navigate(&format!("{base}/admin/digitise")).expect("open");
    b.type_text(&b.wait_for("#user", T).expect("login form"), user)
        .expect("user");
    b.type_text(&b.find("#password").expect("password"), PASSWORD)
        .expect("password");
    b.click(&b.find("#login").expect("login button"))
        .expect("log in");
    b.wait_for("#stations, #stations-none", T)
        .expect("the digitisation page");
}

/// The cells of the first row of `table` whose text contains `needle`, if any.
fn row_cells(b: &Browser, table: &str, needle: &str) -> WdResult<Option<Vec<String>>> {
    let v = b.execute(
        "var needle=arguments[1];\
         var rows=Array.from(document.querySelectorAll(arguments[0]+' tr'))\
           .filter(function(r){return r.cells[0].tagName==='TD'&&r.textContent.indexOf(needle)>=0;});\
         return rows.length ? Array.from(rows[0].cells).map(function(c){return c.textContent;}) : null;",
        vec![json!(table), json!(needle)],
    )?;
    Ok(v.as_array().map(|a| {
        a.iter()
            .map(|c| c.as_str().unwrap_or_default().to_owned())
            .collect()
    }))
}

/// The cells of a station's row on the digitisation page: station, branch, jobs waiting,
/// pages waiting, bytes waiting, jobs safe, jobs refused.
fn station_row(b: &Browser, device: &str) -> WdResult<Option<Vec<String>>> {
    row_cells(b, "#stations", device)
}

#[test]
fn a_digitised_document_in_the_catalogue_the_viewer_and_the_dashboard() {
    let s = Scenario::start(BrokerKind::Embedded, "[digitise]\nocr_workers = 2\n");
    s.central.admin_create("ana", PASSWORD, None);
    s.central.admin_create("bo", PASSWORD, Some("kontum"));
    s.central.admin_create("lan", PASSWORD, Some("dakto"));
    let base = format!("http://{}", s.central.http);

    // A station whose link to central's HTTP side can be held (MQTT stays up).
    let link = Proxy::start(s.central.http);
    let mut station = s.prepare_agent_via(
        "kontum-station-1",
        "kontum",
        &link.addr.to_string(),
        "[sync]\nheartbeat_secs = 1\n\n[hardware.scanner]\ndriver = \"sim\"\nresolution_dpi = 75\n\n\
         [digitise]\nretry_max_secs = 1\npoll_secs = 1\n\n\
         [circulation]\noffline_staff_pin = true\n",
    );
    station.start();

    // The document: three pages, straight to central.
    let b = Browser::start();
    let masters: Vec<Vec<u8>> = PAGES.iter().map(|p| page_png(&b, p)).collect();
    // Sent as a second station would, with its own key.
    let signer = s.central.enrol_device("kontum", "kontum-station-2");
    let sender = BagSender {
        job: "browser-job-1",
        device: "kontum-station-2",
        branch: "kontum",
        title: TITLE,
        signer: &signer,
    };
    let doc = match submit_bag(s.central.http, &sender, &masters) {
        BagVerdict::Safe { document } => document,
        refused => panic!("central refused the bag: {refused:?}"),
    };

    // The station scans two sheets and finishes; its link holds every byte, so they wait.
    wait_synced(&station);
    link.hold_after(0);
    let mut api = station.client();
    let mut call = |v: Value| -> Value {
        let r = api.raw(&v.to_string()).expect("agent answers");
        assert_eq!(r["ok"], true, "{v} → {r}");
        r["result"].clone()
    };
    let session = call(json!({"op": "identify", "card": "S0001", "pin": "2468"}))["session"]
        .as_str()
        .expect("session")
        .to_owned();
    let job = call(json!({"op": "job_start", "session": session,
        "source": {"kind": "described", "title": "Địa chí Kon Tum (trạm)"}}))["job"]
        .as_str()
        .expect("job id")
        .to_owned();
    call(json!({"op": "sim_doc_scanner", "action": "load", "sheets": 2}));
    let scanned = call(json!({"op": "job_scan", "session": session, "job": job, "batch": true}));
    assert_eq!(scanned["pages"], 2, "{scanned}");
    call(json!({"op": "job_finish", "session": session, "job": job}));

    // Central has read every page when the searchable PDF is there.
    wait_until(
        "the document's OCR and PDF",
        Duration::from_secs(120),
        || {
            request_full(
                s.central.http,
                "GET",
                &format!("/documents/{doc}.pdf"),
                &[],
                None,
            )
            .is_ok_and(|r| r.status == 200)
        },
    );

    // The catalogue finds it by a word of its text, without diacritics.
    b.set_window_size(1280, 900).expect("desktop");
    b.navigate(&format!("{base}/opac")).expect("opac");
    b.type_text(&b.wait_for("#q", T).expect("search box"), "dak bla")
        .expect("type");
    b.click(&b.find("form.search button").expect("search button"))
        .expect("search");
    let hit = b
        .wait_for("ol.documents li a.document", T)
        .expect("a digitised document hit");
    assert_eq!(b.text(&hit).expect("hit"), TITLE);
    let snippet = b.text_of("ol.documents li .snippet").expect("snippet");
    assert!(snippet.contains("Bla"), "{snippet}");
    shoot(&b, "opac-hit");
    b.click(&hit).expect("open the viewer");

    // The viewer, in Vietnamese: its script loads the manifest and the first page.
    let w1 = wait_page(&b, &doc, 1, 3);
    assert!(b
        .url()
        .expect("url")
        .contains(&format!("/opac/documents/{doc}")));
    assert_eq!(b.text_of("h1").expect("title"), TITLE);
    assert!(b.text_of("#next").expect("next").contains("Trang sau"));
    let lang = b
        .execute("return document.documentElement.lang;", vec![])
        .expect("lang");
    assert_eq!(lang, "vi");
    b.wait_until("every thumbnail loaded", T, |b| {
        let n = b.execute(
            "return Array.from(document.querySelectorAll('#thumbs img'))\
             .filter(function(i){return i.complete && i.naturalWidth>0;}).length;",
            vec![],
        )?;
        Ok((n == 3).then_some(()))
    })
    .expect("thumbnails");
    shoot(&b, "viewer");

    // Next and previous, by button and by keyboard.
    b.click(&b.find("#next").expect("next")).expect("next");
    wait_page(&b, &doc, 2, 3);
    b.click(&b.find("#prev").expect("prev")).expect("prev");
    wait_page(&b, &doc, 1, 3);
    b.click(&b.find("#prev").expect("prev")).expect("prev");
    wait_page(&b, &doc, 1, 3);
    b.press_key(ARROW_RIGHT).expect("key");
    wait_page(&b, &doc, 2, 3);
    b.press_key(ARROW_RIGHT).expect("key");
    wait_page(&b, &doc, 3, 3);
    b.press_key(ARROW_RIGHT).expect("key");
    b.press_key(ARROW_LEFT).expect("key");
    wait_page(&b, &doc, 2, 3);

    // Zoom in and out change the displayed size.
    let w = wait_page(&b, &doc, 2, 3);
    b.click(&b.find("#zin").expect("zoom in")).expect("zoom in");
    let bigger = shown(&b).expect("shown").expect("loaded").1;
    assert!(bigger > w * 1.2, "zoom in: {w} → {bigger}");
    b.click(&b.find("#zout").expect("zoom out"))
        .expect("zoom out");
    b.click(&b.find("#zout").expect("zoom out"))
        .expect("zoom out");
    let smaller = shown(&b).expect("shown").expect("loaded").1;
    assert!(smaller < w * 0.9, "zoom out: {w} → {smaller}");
    b.click(&b.find("#fit").expect("fit")).expect("fit");
    let fitted = shown(&b).expect("shown").expect("loaded").1;
    assert!((fitted - w).abs() < 1.0, "fit: {w} → {fitted}");
    // And by keyboard: "+" zooms in, "0" fits again.
    b.press_key("+").expect("key");
    let keyed = shown(&b).expect("shown").expect("loaded").1;
    assert!(keyed > w * 1.2, "+ key: {w} → {keyed}");
    b.press_key("0").expect("key");
    let fitted = shown(&b).expect("shown").expect("loaded").1;
    assert!((fitted - w).abs() < 1.0, "0 key: {w} → {fitted}");
    assert!(w1 > 0.0);

    // The OCR text of the page, and the PDF the page links to.
    b.click(&b.find("#showtext").expect("text button"))
        .expect("show text");
    b.wait_until("the page's text", T, |b| {
        Ok(b.text_of("#text")?.contains("Trang").then_some(()))
    })
    .expect("page text");
    let href = b
        .attribute(&b.find("#pdf").expect("PDF link"), "href")
        .expect("href")
        .expect("a link");
    let (status, pdf) = b.fetch_text(&href).expect("fetch the PDF");
    assert_eq!(status, 200);
    assert!(pdf.starts_with("%PDF"), "{}", &pdf[..pdf.len().min(40)]);

    // At a phone's width nothing scrolls sideways, zoomed or not.
    b.set_window_size(390, 844).expect("phone");
    assert!(!wide(&b), "the viewer fits a phone");
    b.click(&b.find("#zin").expect("zoom in")).expect("zoom in");
    assert!(!wide(&b), "a zoomed page stays inside its frame");
    b.set_window_size(1280, 900).expect("desktop");

    // English.
    b.click(&b.find("header a[lang=en]").expect("English link"))
        .expect("English");
    b.wait_until("the English viewer", T, |b| {
        Ok(b.text_of("#next")?.contains("Next").then_some(()))
    })
    .expect("English");
    wait_page(&b, &doc, 1, 3);
    assert_eq!(
        b.execute("return document.documentElement.lang;", vec![])
            .expect("lang"),
        "en"
    );
    shoot(&b, "viewer-en");

    // The dashboard: the station's pages and bytes wait behind the held link.
    login(&b, &base, "ana");
    b.wait_until("the station's waiting job", T, |b| {
        b.navigate(&format!("{base}/admin/digitise"))?;
        Ok(station_row(b, "kontum-station-1")?.filter(|r| r[2] == "1" && r[3] == "2"))
    })
    .expect("the station row");
    let branch = b.text_of("#branches").expect("branches");
    assert!(branch.contains("kontum"), "{branch}");
    shoot(&b, "dashboard-waiting");

    // The link lets go: the job goes through and is safe at central.
    link.release();
    let row = b
        .wait_until("the station's job safe", Duration::from_secs(60), |b| {
            b.navigate(&format!("{base}/admin/digitise"))?;
            Ok(station_row(b, "kontum-station-1")?.filter(|r| r[5] == "1"))
        })
        .expect("the station row");
    assert_eq!((row[2].as_str(), row[3].as_str()), ("0", "0"), "{row:?}");
    // At central: two documents received (ours and the station's).
    assert_eq!(b.text_of("#ocr-documents .n").expect("documents"), "2");
    shoot(&b, "dashboard");

    // Branch staff see their branch only.
    login(&b, &base, "bo");
    assert!(station_row(&b, "kontum-station-1").expect("rows").is_some());
    assert!(b.find_all("#ocr-documents").expect("find").is_empty());
    login(&b, &base, "lan");
    assert!(b.find_all("#stations tr").expect("find").is_empty());
    b.find("#stations-none").expect("no station of dakto");
    b.find("#branches-none").expect("no branch row");
    let (status, _) = b
        .fetch_text("/admin/digitise?branch=kontum")
        .expect("fetch");
    assert_eq!(status, 403, "another branch's digitisation page");
}
