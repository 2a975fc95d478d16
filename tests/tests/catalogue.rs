//! The catalogue on a device: "find a book" through the local API and `ctl search`, with
//! the branch's own records only, copies here and elsewhere agreeing with central, and the
//! compact list of other branches' items that lets a device take them back by title.

use rong_protocol::api::{Reply, RequestOp, SearchHit};
use rong_tests::agent::outcome;
use rong_tests::fixtures::{barcode, free_books_of};
use rong_tests::scenario::{BrokerKind, Scenario};

fn search(agent: &rong_tests::agent::Agent, q: &str) -> Vec<SearchHit> {
    let mut c = agent.client();
    match outcome(c.call(RequestOp::Search {
        q: q.into(),
        limit: Some(100),
    })) {
        Ok(Reply::SearchResults { hits }) => hits,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn find_a_book_on_the_device_agrees_with_central() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let agent = s.agent("dakto-kiosk-1", "dakto");

    // The seed's first record has its first copy at Đắk Tô (item 1 of 6 branches).
    let hits = search(&agent, "DIA CHI kon tum");
    let top = &hits[0];
    assert_eq!(top.title, "Địa chí Kon Tum");
    assert!(top.total_here >= 1);
    assert!(top.shelf.is_some(), "copies here carry their shelf");
    assert!(!top.call_number.is_empty());
    // Copies per branch agree with central's answer.
    let central = s
        .central
        .get("/api/v1/search?q=dia%20chi%20kon%20tum&limit=1");
    let at_central = central["hits"][0]["branches"].as_array().unwrap();
    let mut device: Vec<(String, u32, u32)> = top
        .elsewhere
        .iter()
        .map(|b| (b.branch.to_string(), b.available, b.total))
        .collect();
    device.push(("dakto".into(), top.available_here, top.total_here));
    device.sort();
    let central: Vec<(String, u32, u32)> = at_central
        .iter()
        .map(|b| {
            (
                b["branch"].as_str().unwrap().to_owned(),
                b["available"].as_u64().unwrap() as u32,
                b["total"].as_u64().unwrap() as u32,
            )
        })
        .collect();
    assert_eq!(device, central);

    // Only the branch's own records are on the device: a record held elsewhere only is
    // found at central but not here.
    let central = s.central.get("/api/v1/search?q=kon&limit=100");
    let elsewhere_only = central["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| {
            h["branches"]
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b["branch"] != "dakto")
        })
        .expect("a record with no copy at Đắk Tô");
    let title = elsewhere_only["title"].as_str().unwrap();
    let id = elsewhere_only["record"].as_str().unwrap();
    assert!(search(&agent, title).iter().all(|h| h.record != id));

    // `ctl search` prints the same.
    let (code, out) = agent.ctl(&["search", "dia", "chi", "kon", "tum"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Địa chí Kon Tum"), "{out}");
    let (code, out) = agent.ctl(&["search", "--", "--"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing found"), "{out}");

    // Another branch's item is taken back by title, to go back home.
    let kontum_item = barcode(free_books_of("kontum", 1, 1)[0]);
    let mut c = agent.client();
    match c.checkin(&kontum_item).expect("checkin") {
        Reply::CheckedIn {
            title, transfer_to, ..
        } => {
            assert!(title.is_some_and(|t| !t.is_empty()));
            assert_eq!(
                transfer_to.map(|b| b.to_string()).as_deref(),
                Some("kontum")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}
