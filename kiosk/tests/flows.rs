//! Every reader flow, driven through the real UI (Slint's testing backend, elements found
//! by accessible label) against a real edge-agent with simulated readers, which a real
//! seeded central feeds.
//!
//! One central serves all tests; each test gets its own agent (pushes from one agent's
//! simulated readers reach every kiosk subscribed to it), so the tests run in parallel.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementQuery};
use kiosk::controller::{channel, Controller};
use kiosk::link::SocketLink;
use kiosk::machine::Screen;
use kiosk::ui::AppWindow;
use kiosk::{Config, Lang};
use rong_protocol::api::RequestOp;
use rong_tests::fixtures::{barcode, card, free_books_of, uid, BRANCHES};
use rong_tests::scenario::{BrokerKind, Scenario};
use rong_tests::{wait_for, ApiClient};
use slint::platform::{PointerEventButton, WindowEvent};
use slint::ComponentHandle;

/// How many tests share the scenario; the keeper cleans up when all have finished.
const TESTS: usize = 10;

enum Ask {
    /// A device name, its branch, extra agent TOML, and where to send its socket.
    Agent(String, &'static str, &'static str, Sender<PathBuf>),
    Done,
}

/// The central and agents live on one thread for the whole run: the harness ties each
/// process's life to the thread that started it.
fn keeper() -> &'static Mutex<Sender<Ask>> {
    static KEEPER: OnceLock<Mutex<Sender<Ask>>> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let (tx, rx): (Sender<Ask>, Receiver<Ask>) = mpsc::channel();
        std::thread::spawn(move || {
            let scenario = Scenario::start(BrokerKind::Embedded, "");
            let mut agents = Vec::new();
            let mut done = 0;
            for ask in rx {
                match ask {
                    Ask::Agent(device, branch, extra, reply) => {
                        let a = if extra.is_empty() {
                            scenario.agent(&device, branch)
                        } else {
                            let mut a = scenario.prepare_agent(&device, branch, extra);
                            a.start();
                            rong_tests::scenario::wait_synced(&a);
                            a
                        };
                        let _ = reply.send(a.socket.clone());
                        agents.push(a);
                    }
                    Ask::Done => {
                        done += 1;
                        if done == TESTS {
                            break;
                        }
                    }
                }
            }
            drop(agents);
            drop(scenario);
        });
        Mutex::new(tx)
    })
}

/// A kiosk window attached to its own fresh agent.
struct Kiosk {
    window: AppWindow,
    controller: std::rc::Rc<std::cell::RefCell<Controller>>,
    socket: PathBuf,
}

impl Drop for Kiosk {
    fn drop(&mut self) {
        if let Ok(k) = keeper().lock() {
            let _ = k.send(Ask::Done);
        }
    }
}

impl Kiosk {
    fn start(device: &str, cfg: impl FnOnce(&mut Config)) -> Kiosk {
        Kiosk::start_with(device, "", cfg)
    }

    /// A kiosk on its defaults, started and switched to English.
    fn in_english(device: &str) -> Kiosk {
        let k = Kiosk::start(device, |_| {});
        k.english();
        k
    }

    /// Like [`Kiosk::start`], with `extra` TOML in the agent's config.
    fn start_with(device: &str, extra: &'static str, cfg: impl FnOnce(&mut Config)) -> Kiosk {
        let k = Kiosk::open_with(device, extra, cfg);
        k.wait("the agent to answer", |k| !k.kiosk(|s| s.out_of_service()));
        k
    }

    /// Like [`Kiosk::start`], without waiting for the agent to answer.
    fn open(device: &str, cfg: impl FnOnce(&mut Config)) -> Kiosk {
        Kiosk::open_with(device, "", cfg)
    }

    fn open_with(device: &str, extra: &'static str, cfg: impl FnOnce(&mut Config)) -> Kiosk {
        kiosk::screenshots::init_headless();
        let (tx, rx) = mpsc::channel();
        keeper()
            .lock()
            .expect("keeper")
            .send(Ask::Agent(device.into(), "kontum", extra, tx))
            .expect("keeper alive");
        let socket = rx.recv_timeout(Duration::from_secs(120)).expect("agent");
        let mut config = Config {
            socket: socket.clone(),
            width: 1280,
            height: 800,
            ..Config::default()
        };
        cfg(&mut config);
        let window = AppWindow::new().expect("window");
        window.window().set_size(slint::LogicalSize::new(
            config.width as f32,
            config.height as f32,
        ));
        let (sink, inbox) = channel(|| {});
        let link = SocketLink::spawn(&config.socket, sink).expect("link");
        let controller = Controller::attach(&window, &config, Box::new(link), inbox);
        Kiosk {
            window,
            controller,
            socket,
        }
    }

    fn kiosk<R>(&self, f: impl FnOnce(&kiosk::machine::Kiosk) -> R) -> R {
        f(self.controller.borrow().kiosk())
    }

    /// Pumps the controller until `cond` holds.
    fn wait(&self, what: &str, cond: impl Fn(&Kiosk) -> bool) {
        let ok = wait_for(Duration::from_secs(30), || {
            self.controller.borrow_mut().pump();
            cond(self)
        });
        assert!(
            ok,
            "timed out waiting for {what}; labels: {:?}",
            self.labels()
        );
    }

    fn screen(&self) -> Screen {
        self.kiosk(|k| k.screen)
    }

    /// Every label on screen, once each.
    fn labels(&self) -> Vec<String> {
        labels_of(ElementQuery::from_root(&self.window).match_descendants())
    }

    /// The labels of list lines (an item and what happened to it), once each.
    fn lines(&self) -> Vec<String> {
        labels_of(
            ElementQuery::from_root(&self.window)
                .match_descendants()
                .match_accessible_role(AccessibleRole::ListItem),
        )
    }

    /// How many list lines contain any of `texts`.
    fn lines_saying(&self, texts: &[&str]) -> usize {
        self.lines()
            .iter()
            .filter(|l| texts.iter().any(|t| l.contains(t)))
            .count()
    }

    /// Whether some element's label contains `text`.
    fn shows(&self, text: &str) -> bool {
        self.labels().iter().any(|l| l.contains(text))
    }

    fn button(&self, label: &str) -> ElementHandle {
        let wanted = label.to_owned();
        let found = ElementQuery::from_root(&self.window)
            .match_descendants()
            .match_accessible_role(AccessibleRole::Button)
            .match_predicate(move |e| e.accessible_label().is_some_and(|l| l == wanted.as_str()))
            .find_first();
        found.unwrap_or_else(|| panic!("no button {label:?}; labels: {:?}", self.labels()))
    }

    fn click(&self, label: &str) {
        self.button(label)
            .mock_single_click(PointerEventButton::Left);
    }

    /// Types like a keyboard-wedge scanner: the characters, then Enter.
    fn wedge(&self, text: &str) {
        for c in text.chars().chain(['\n']) {
            let t: slint::SharedString = c.to_string().into();
            self.window
                .window()
                .dispatch_event(WindowEvent::KeyPressed { text: t.clone() });
            self.window
                .window()
                .dispatch_event(WindowEvent::KeyReleased { text: t });
        }
    }

    fn api(&self) -> ApiClient {
        ApiClient::connect(&self.socket).expect("api")
    }

    /// Taps the digits of `pin` on the PIN pad.
    fn type_pin(&self, pin: &str) {
        for d in pin.chars() {
            self.click(&d.to_string());
        }
    }

    /// Logs in with the seeded staff card `S0001` (PIN 2468) from the start screen.
    fn staff_login(&self) {
        self.click("Borrow");
        self.wedge("S0001");
        self.wait("the PIN pad", |k| k.screen() == Screen::Pin);
        self.type_pin("2468");
        self.click("OK");
    }

    fn english(&self) {
        self.click("English");
        assert!(self.shows("Borrow"), "English labels: {:?}", self.labels());
    }
}

fn labels_of(q: ElementQuery) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in q.find_all().iter().filter_map(|e| e.accessible_label()) {
        if !l.is_empty() && !out.iter().any(|o| o == l.as_str()) {
            out.push(l.to_string());
        }
    }
    out
}

/// Kontum patrons the seed leaves free of PINs, blocks, expiry and loans.
fn kontum_patron(nth: usize) -> usize {
    rong_tests::fixtures::free_adults(1, 300)
        .into_iter()
        .filter(|i| BRANCHES[i % 6] == "kontum")
        .nth(nth)
        .expect("enough kontum patrons")
}

#[test]
fn borrow_three_items_from_a_tap_pushes_and_the_wedge() {
    let k = Kiosk::in_english("kontum-kiosk-borrow");
    let books = free_books_of("kontum", 1, 3);
    k.click("Borrow");
    assert_eq!(k.screen(), Screen::Identify);
    let p = kontum_patron(0);
    k.api().call(RequestOp::SimTap { uid: uid(p) });
    k.wait("the borrow screen", |k| k.screen() == Screen::Borrow);
    // Two from the agent's (simulated) scanner, one typed by a keyboard-wedge scanner.
    k.api().call(RequestOp::SimScan {
        code: barcode(books[0]),
    });
    k.api().call(RequestOp::SimScan {
        code: barcode(books[1]),
    });
    k.wedge(&barcode(books[2]));
    k.wait("three loans", |k| k.lines_saying(&["Borrowed: due"]) == 3);
    k.click("Finish");
    assert_eq!(k.screen(), Screen::Receipt);
    k.click("Print a receipt");
    k.wait("the summary", |k| k.screen() == Screen::Summary);
    // The printer may work or not (another helper is wiring it); either way the
    // summary says so and lists the three loans with their due dates.
    assert!(
        k.shows("Your receipt is printed") || k.shows("printer is not working"),
        "{:?}",
        k.labels()
    );
    assert!(k.shows("Books borrowed: 3"), "{:?}", k.labels());
    let loans = k
        .api()
        .call(RequestOp::Loans(rong_tests::agent::card_who(&card(p))));
    assert_eq!(
        serde_json::to_value(&loans.outcome).expect("json")["result"]["loans"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    k.click("Done");
    assert_eq!(k.screen(), Screen::Start);
    assert!(k.kiosk(|s| s.session.is_none() && s.rows.is_empty()));
    assert!(!k.shows("Borrowed: due"));
}

#[test]
fn a_blocked_patron_is_told_why_in_vietnamese() {
    let k = Kiosk::start("kontum-kiosk-blocked", |_| {});
    // P000294: blocked (294 % 97 == 3), a kontum patron with no PIN.
    k.click("Mượn sách");
    k.wedge(&card(294));
    k.wait("the refusal", |k| k.screen() == Screen::Refused);
    assert!(k.shows("Thẻ của bạn đang bị khóa"), "{:?}", k.labels());
    assert!(k.shows("Xin mời đến quầy thủ thư"), "{:?}", k.labels());
    k.click("Đồng ý");
    assert_eq!(k.screen(), Screen::Start);
}

#[test]
fn a_wrong_pin_is_explained_and_the_right_one_opens_the_session() {
    let k = Kiosk::in_english("kontum-kiosk-pin");
    // P000030: a kontum patron with PIN 0030 (i % 5 == 0).
    k.click("My account");
    k.wedge(&card(30));
    k.wait("the PIN pad", |k| k.screen() == Screen::Pin);
    k.type_pin("1111");
    assert!(k.shows("4 digits entered"), "{:?}", k.labels());
    k.click("OK");
    k.wait("the wrong PIN message", |k| k.shows("Wrong PIN"));
    assert_eq!(k.screen(), Screen::Pin);
    assert!(k.shows("0 digits entered"));
    k.type_pin("0030");
    k.click("OK");
    k.wait("the account", |k| {
        k.screen() == Screen::Account && !k.kiosk(|s| s.loading)
    });
}

#[test]
fn a_return_from_another_branch_goes_to_its_tray() {
    let k = Kiosk::in_english("kontum-kiosk-return");
    // A dakto book lent at dakto, returned here at kontum.
    let book = barcode(free_books_of("dakto", 1, 1)[0]);
    let p = rong_tests::fixtures::free_adults(1, 300)
        .into_iter()
        .find(|i| BRANCHES[i % 6] == "dakto")
        .expect("dakto patron");
    let mut api = k.api();
    let _ = api.checkout(&card(p), &book);
    k.click("Return");
    // A card tapped on the return screen is not needed: say so.
    api.call(RequestOp::SimTap {
        uid: uid(kontum_patron(1)),
    });
    k.wait("the no-card notice", |k| k.shows("No card is needed"));
    api.call(RequestOp::SimScan { code: book.clone() });
    k.wait("the transfer line", |k| {
        k.shows("Please put it in the tray for")
    });
    let line = k
        .labels()
        .into_iter()
        .find(|l| l.contains("tray for"))
        .expect("line");
    assert!(!line.contains("kontum"), "{line}");
    // Garbage and half a barcode get a message, not a request.
    k.wedge("KT\u{1b}[2~00");
    k.wait("the garbage notice", |k| k.shows("could not be read"));
    k.click("Done");
    assert_eq!(k.screen(), Screen::Start);
}

#[test]
fn renew_one_and_all_with_a_result_for_each() {
    let k = Kiosk::in_english("kontum-kiosk-renew");
    let p = kontum_patron(2);
    let books = free_books_of("kontum", 40, 2);
    let mut api = k.api();
    for b in &books {
        api.checkout(&card(p), &barcode(*b)).expect("checkout");
    }
    k.click("My account");
    k.wedge(&card(p));
    k.wait("two loans", |k| k.lines_saying(&[": Due "]) == 2);
    let title = k.kiosk(|s| s.rows[0].title.clone());
    k.click(&format!("Renew {title}"));
    k.wait("one renewal", |k| {
        k.lines_saying(&["Renewed: now due"]) == 1
    });
    k.click("Renew all");
    k.wait("a result for each loan", |k| {
        k.kiosk(|s| !s.busy()) && k.lines_saying(&["Renewed: now due", "cannot be renewed"]) == 2
    });
    k.click("Done");
}

#[test]
fn search_shows_call_number_and_availability() {
    let k = Kiosk::in_english("kontum-kiosk-search");
    // A word of a seeded kontum title, typed on the on-screen keyboard without diacritics.
    let api_title = {
        let mut api = k.api();
        let r = api.checkout(
            &card(kontum_patron(3)),
            &barcode(free_books_of("kontum", 80, 1)[0]),
        );
        match r {
            Ok(rong_protocol::api::Reply::CheckedOut { title, .. }) => title,
            other => panic!("checkout: {other:?}"),
        }
    };
    let word: String = fold(
        api_title
            .split_whitespace()
            .max_by_key(|w| w.chars().count())
            .expect("word"),
    );
    k.click("Find a book");
    for c in word.to_uppercase().chars() {
        k.click(&c.to_string());
    }
    k.click("Search");
    k.wait("results", |k| {
        k.kiosk(|s| s.hits.as_ref().is_some_and(|h| !h.is_empty()))
    });
    assert!(k.shows("Call number"), "{:?}", k.labels());
    assert!(
        k.shows("Available here") || k.shows("copies here are on loan") || k.shows("Not held"),
        "{:?}",
        k.labels()
    );
    k.click("Change search");
    k.click("Done");
}

/// Strips Vietnamese diacritics the way a reader would type on the plain keyboard.
fn fold(s: &str) -> String {
    const FROM: &str = "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ";
    const TO: &str = "aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd";
    s.to_lowercase()
        .chars()
        .map(|c| {
            FROM.chars()
                .position(|f| f == c)
                .and_then(|i| TO.chars().nth(i))
                .unwrap_or(c)
        })
        .filter(|c| c.is_ascii_alphabetic())
        .collect()
}

#[test]
fn inactivity_warns_then_logs_out_and_forgets_the_reader() {
    let k = Kiosk::start("kontum-kiosk-timeout", |c| {
        c.inactivity_s = 1;
        c.warning_s = 2;
    });
    k.english();
    k.click("Borrow");
    k.wedge(&card(kontum_patron(4)));
    k.wait("the borrow screen", |k| k.screen() == Screen::Borrow);
    k.click("Larger text");
    k.wait("the warning", |k| k.shows("Are you still there?"));
    k.click("I am still here");
    assert!(!k.shows("Are you still there?"));
    k.wait("the logout", |k| k.screen() == Screen::Start);
    assert!(k.kiosk(|s| s.session.is_none() && !s.large_text && s.lang == Lang::Vi));
    assert!(k.shows("Mượn sách"), "back in Vietnamese: {:?}", k.labels());
}

#[test]
fn the_staff_card_opens_the_staff_menu() {
    let k = Kiosk::in_english("kontum-kiosk-staff");
    k.staff_login();
    k.wait("the staff status", |k| {
        k.screen() == Screen::Staff && k.shows("Catalogue version")
    });
    k.click("Sync now");
    k.wait("sync", |k| k.shows("Sync finished"));
    k.click("Scanning station");
    assert_eq!(k.screen(), Screen::Scanning);
    // The job list, or the agent's plain answer where this build has no scanner.
    k.wait("the job list", |k| {
        k.shows("No scanning jobs yet") || k.shows("not available in this build")
    });
    k.click("New job");
    assert_eq!(k.screen(), Screen::JobNew);
    k.click("Back");
    assert_eq!(k.screen(), Screen::Scanning);
    k.click("Log out");
    assert_eq!(k.screen(), Screen::Start);
}

#[test]
fn out_of_service_until_the_agent_answers_then_recovers_by_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("agent.sock");
    let k = Kiosk::open("kontum-kiosk-service", |c| c.socket = link.clone());
    k.wait("the out-of-service screen", |k| {
        k.shows("Tạm ngừng phục vụ")
    });
    // The kiosk never crashed and keeps trying: make the socket appear.
    std::os::unix::fs::symlink(&k.socket, &link).expect("symlink");
    k.wait("recovery", |k| !k.shows("Tạm ngừng phục vụ"));
    assert!(k.shows("Chào mừng bạn đến thư viện"), "{:?}", k.labels());
}

/// The simulated document scanner, for the scanning station's flow.
const SCANNER_TOML: &str = "\n[hardware.scanner]\ndriver = \"sim\"\nresolution_dpi = 75\n";

#[test]
fn staff_scan_a_batch_turn_a_page_and_finish_against_the_real_agent() {
    let k = Kiosk::start_with("kontum-kiosk-scan", SCANNER_TOML, |_| {});
    k.english();
    k.staff_login();
    k.wait("the staff menu", |k| k.screen() == Screen::Staff);
    k.click("Scanning station");
    k.wait("the job list", |k| k.shows("No scanning jobs yet"));
    k.click("New job");
    k.click("Not in the catalogue");
    // "Sử thi" on the form's keyboard: plain letters, then the horn and the hook.
    for key in ["S", "U", "Horn: ơ ư", "Tone hỏi", "Space", "T", "H", "I"] {
        k.click(key);
    }
    assert_eq!(k.kiosk(|s| s.desk.form.title.clone()), "Sử thi");
    k.click("Start scanning");
    k.wait("the pages screen", |k| k.screen() == Screen::JobPages);
    k.api().call(RequestOp::SimDocScanner {
        action: "load".into(),
        sheets: Some(3),
    });
    k.click("Scan the feeder");
    k.wait("three pages with their thumbnails", |k| {
        k.kiosk(|s| {
            s.desk.busy.is_none()
                && s.desk.job.as_ref().is_some_and(|j| j.pages.len() == 3)
                && s.desk.thumbs.len() == 3
        })
    });
    assert!(
        k.lines().iter().any(|l| l.starts_with("Page 3")),
        "{:?}",
        k.lines()
    );
    let page2 = k
        .kiosk(|s| s.desk.job.as_ref().map(|j| j.pages[1].page))
        .expect("page 2");
    ElementQuery::from_root(&k.window)
        .match_descendants()
        .match_accessible_role(AccessibleRole::ListItem)
        .match_predicate(|e| {
            e.accessible_label()
                .is_some_and(|l| l.starts_with("Page 2"))
        })
        .find_first()
        .expect("page 2 card")
        .mock_single_click(PointerEventButton::Left);
    assert_eq!(k.kiosk(|s| s.desk.selected), Some(page2));
    k.click("Turn right");
    k.wait("page 2 turned", |k| {
        k.kiosk(|s| {
            s.desk
                .job
                .as_ref()
                .and_then(|j| j.pages.iter().find(|p| p.page == page2))
                .is_some_and(|p| p.rotation == 1)
        })
    });
    k.click("Finish");
    assert_eq!(k.screen(), Screen::JobFinish);
    k.click("Finish and upload");
    k.wait("the job queued in the list", |k| {
        k.screen() == Screen::Scanning
            && k.lines().iter().any(|l| {
                l.starts_with("Sử thi")
                    && (l.contains("Waiting to upload")
                        || l.contains("Uploaded")
                        || l.contains("Safe at central")
                        || l.contains("Refused"))
            })
    });
    k.click("Log out");
}
