//! The first-run setup in a real browser, on an empty central: the setup code from the
//! data directory, the first administrator, the network and its first branch; then a
//! second branch on the branches page, with a mistake shown and corrected, a branch
//! librarian's account, and 2027's holidays with Tết moving a due date. Screenshots of
//! each page, desktop and phone (`RONG_UPDATE_SCREENS=1` writes them to
//! `docs/screens/setup/`).

use std::time::Duration;

use rong_tests::browser::{screens_dir, Browser, BrowserOptions};
use rong_tests::central::Central;

const T: Duration = Duration::from_secs(30);

fn shoot(b: &Browser, name: &str) {
    b.shoot(&screens_dir("setup"), name).expect("screenshots");
}

fn fill(b: &Browser, fields: &[(&str, &str)]) {
    for (id, text) in fields {
        b.type_text(&b.find(&format!("#{id}")).expect(id), text)
            .expect(id);
    }
}

#[test]
fn a_new_library_sets_itself_up_in_the_browser() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut central = Central::prepare(tmp.path(), None, "");
    central.start();
    let code = std::fs::read_to_string(central.dir().join("data").join("setup-code"))
        .expect("the setup code")
        .trim()
        .to_owned();
    let base = format!("http://{}", central.http);
    let b = Browser::start_with(&BrowserOptions::default()).expect("browser");

    // The dashboard of a fresh central: the login page has no one to log in yet; /setup
    // has the form.
    b.navigate(&format!("{base}/setup")).unwrap();
    b.wait_for("#setup-form", T).unwrap();
    assert_eq!(
        b.attribute(&b.find("#hours_1").unwrap(), "value")
            .unwrap()
            .as_deref(),
        Some("07:30-11:30, 13:30-17:00"),
        "office hours to start from"
    );
    fill(
        &b,
        &[
            ("setup_code", &code),
            ("admin", "quantri"),
            ("password", "mật-khẩu-đủ-dài"),
            ("password2", "mật-khẩu-đủ-dài"),
            ("network", "Thư viện tỉnh Kon Tum"),
            ("code", "kontum"),
            ("name_vi", "Thư viện tỉnh Kon Tum"),
            ("name_en", "Kon Tum Provincial Library"),
            ("address", "Số 1 Trần Phú, TP. Kon Tum"),
            ("hours_6", "7h30-11h30"),
        ],
    );
    shoot(&b, "setup");
    b.click(&b.find("#setup-save").unwrap()).unwrap();
    b.wait_for("#welcome", T).unwrap();
    assert!(b.url().unwrap().contains("/admin/branches"));
    assert!(b.text_of("#who").unwrap().contains("quantri"), "logged in");
    let row = b.text_of("tr[data-branch=kontum]").unwrap();
    assert!(row.contains("Thứ Bảy: 07:30-11:30"), "{row}");
    assert!(row.contains("Chủ nhật: đóng cửa"), "{row}");
    shoot(&b, "branches-welcome");

    // A second branch: a mistake is shown in place, with what was typed kept.
    b.click(&b.find("#branch-new").unwrap()).unwrap();
    b.wait_for("#branch-form", T).unwrap();
    fill(
        &b,
        &[
            ("code", "dakto"),
            ("name_vi", "Thư viện huyện Đăk Tô"),
            ("hours_2", "13:30-11:00"),
        ],
    );
    b.click(&b.find("#branch-save").unwrap()).unwrap();
    b.wait_for("#form-errors", T).unwrap();
    let errors = b.text_of("#form-errors").unwrap();
    assert!(errors.contains("Thứ Ba"), "{errors}");
    assert_eq!(
        b.attribute(&b.find("#name_vi").unwrap(), "value")
            .unwrap()
            .as_deref(),
        Some("Thư viện huyện Đăk Tô")
    );
    shoot(&b, "branch-errors");
    fill(&b, &[("hours_2", "07:00-11:00")]);
    b.click(&b.find("#branch-save").unwrap()).unwrap();
    b.wait_for("tr[data-branch=dakto]", T).unwrap();
    shoot(&b, "branches");

    // Staff accounts: a branch librarian for the new branch.
    b.click(&b.find("#nav-staff").unwrap()).unwrap();
    b.wait_for("#staff-form", T).unwrap();
    fill(
        &b,
        &[
            ("name", "thuthu-dakto"),
            ("password", "tạm-thời-123"),
            ("password2", "tạm-thời-123"),
        ],
    );
    b.execute("document.getElementById('branch').value = 'dakto';", vec![])
        .unwrap();
    b.click(&b.find("#staff-save").unwrap()).unwrap();
    b.wait_for("tr[data-user=thuthu-dakto]", T).unwrap();
    shoot(&b, "staff");
    b.click(&b.find("#who").unwrap()).unwrap();
    b.wait_for("#account-form", T).unwrap();
    shoot(&b, "account");

    // The calendar: 2027's holidays, and a loan of 27 January due after Tết.
    b.navigate(&format!("{base}/admin/calendar?branch=kontum&year=2027"))
        .unwrap();
    b.wait_for("#tet-preview", T).unwrap();
    b.click(&b.find("#add-holidays").unwrap()).unwrap();
    b.wait_for("tr[data-date='2027-02-10']", T).unwrap();
    let due = b
        .attribute(&b.find("tr[data-made='2027-01-27']").unwrap(), "data-due")
        .unwrap();
    assert_eq!(due.as_deref(), Some("2027-02-11"), "moved past Tết");
    shoot(&b, "calendar");

    // The categories and loan rules central started with.
    b.click(&b.find("#nav-rules").unwrap()).unwrap();
    b.wait_for("#matrix", T).unwrap();
    assert!(b.find_all("tr[data-category=child]").unwrap().len() == 1);
    shoot(&b, "rules");

    // A reader registered at the counter: the next card number, a PIN.
    b.click(&b.find("#nav-readers").unwrap()).unwrap();
    b.wait_for("#reader-search", T).unwrap();
    b.click(&b.find("#reader-new").unwrap()).unwrap();
    b.wait_for("#reader-form", T).unwrap();
    fill(
        &b,
        &[
            ("name", "Y Bhăm Ênuôl"),
            ("phone", "0260 386 2345"),
            ("nfc_uids", "04:A2:2B:1A"),
            ("pin", "2468"),
        ],
    );
    b.execute(
        "document.getElementById('category').value = 'child';",
        vec![],
    )
    .unwrap();
    shoot(&b, "reader-new");
    b.click(&b.find("#reader-save").unwrap()).unwrap();
    b.wait_for("#reader-state", T).unwrap();
    assert!(b.url().unwrap().ends_with("/admin/readers/P000001"));
    shoot(&b, "reader");

    b.click(&b.find("#nav-lists").unwrap()).unwrap();
    b.wait_for("#new-readers", T).unwrap();
    assert!(
        b.find_all("#new-readers tr[data-card=P000001]")
            .unwrap()
            .len()
            == 1
    );
    shoot(&b, "lists");

    // The login page afterwards, and no second setup.
    b.navigate(&format!("{base}/setup")).unwrap();
    b.wait_until("the setup page closed", T, |b| {
        Ok(b.url()?.contains("/admin/").then_some(()))
    })
    .unwrap();
    assert!(!b.url().unwrap().contains("/setup"));
    central.stop();
}
