//! Store tests: migrations, refusals, ingest bookkeeping.

use super::*;

#[test]
fn fresh_then_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let mode: String = s
        .reader()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = s
        .reader()
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
}

#[test]
fn refuses_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    drop(Store::open(&path).unwrap());
    {
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::Open(OpenError::NewerSchema { .. })),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn binding_a_uid_to_another_card_withdraws_it_from_the_first() {
    use rong_protocol::delta::{Op, Patron};
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("c.db")).unwrap();
    let patron = |card: &str, uids: &[&str]| Patron {
        nfc_uids: uids.iter().map(|u| (*u).to_owned()).collect(),
        ..rong_tests::fixtures::patron(card)
    };
    s.put_ops(&[Op::PutPatron(patron("P1", &["04AA", "04BB"]))])
        .unwrap();
    let applied = s
        .put_ops(&[Op::PutPatron(patron("P2", &["04BB"]))])
        .unwrap();
    assert_eq!(
        applied.ops,
        vec![
            Op::PutPatron(patron("P2", &["04BB"])),
            Op::PutPatron(patron("P1", &["04AA"])),
        ],
        "devices learn that P1 lost the card"
    );
}

mod ingest {
    use super::*;
    use crate::queries::LoanRow;
    use crate::synthetic::{generate_with_pin_params, SeedData};
    use rong_protocol::event::{Event, EventBatch, EventBody};
    use rong_protocol::ids::{BranchId, DeviceId};
    use std::collections::HashSet;
    use uuid::Uuid;

    fn library() -> (tempfile::TempDir, Store, SeedData) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        let params = argon2::Params::new(8, 1, 1, None).unwrap();
        let data = generate_with_pin_params(3000, 300, 7, params);
        s.write_seed(&data, 420).unwrap();
        assert!(s.has_library().unwrap());
        assert!(s.write_seed(&data, 420).is_err(), "refuses a second seed");
        (dir, s, data)
    }

    /// A seeded library at Kon Tum, with the items and patrons free to lend to each other.
    struct Kontum {
        _dir: tempfile::TempDir,
        s: Store,
        cache: RefCache,
        kontum: BranchId,
        items: Vec<String>,
        patrons: Vec<String>,
    }

    impl Kontum {
        fn new() -> Kontum {
            let (_dir, s, data) = library();
            let cache = s.ref_cache().unwrap();
            let (items, patrons) = free(&data);
            let kontum = BranchId::new("kontum").unwrap();
            Kontum {
                _dir,
                s,
                cache,
                kontum,
                items,
                patrons,
            }
        }

        /// A kiosk of the branch, registered.
        fn kiosk(&mut self, name: &str) -> DeviceId {
            let d = DeviceId::new(name).unwrap();
            crate::identity::enrol_directly(&mut self.s, &self.kontum, &d, "key", now()).unwrap();
            let r = self.s.check_device(&self.kontum, &d).unwrap();
            assert_eq!(r, Registration::Known);
            d
        }

        /// Applies a kiosk's events from one log.
        fn send(&mut self, device: &DeviceId, log: Uuid, events: Vec<Event>) -> BatchOutcome {
            let b = EventBatch::new(device.clone(), log, events);
            self.s
                .apply_batch(&self.cache, &self.kontum, &b, now(), 420)
                .unwrap()
        }

        /// The item's loans, newest first: active ones only, or its whole history.
        fn loans(&self, item: &str, active: bool) -> Vec<LoanRow> {
            let f = LoanFilter {
                item: Some(item.to_owned()),
                active,
                limit: 10,
                ..Default::default()
            };
            queries::loans(self.s.reader(), &f).unwrap()
        }

        /// The due date of the item's one active loan.
        fn active_due(&self, item: &str) -> chrono::NaiveDate {
            let l = self.loans(item, true);
            assert_eq!(l.len(), 1, "one active loan of {item}");
            l[0].due
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    fn ev(seq: u64, body: EventBody) -> Event {
        Event {
            seq,
            id: Uuid::now_v7(),
            at: now(),
            clock_synced: true,
            body,
        }
    }

    /// `ev`, made at `at` by the device's clock.
    fn ev_at(seq: u64, at: i64, body: EventBody) -> Event {
        Event {
            at,
            ..ev(seq, body)
        }
    }

    fn out(item: &str, patron: &str) -> EventBody {
        EventBody::Checkout {
            item: item.into(),
            patron: patron.into(),
            due: chrono::Utc::now().date_naive() + chrono::Duration::days(14),
        }
    }

    fn back(item: &str, patron: Option<&str>) -> EventBody {
        EventBody::Checkin {
            item: item.into(),
            patron: patron.map(str::to_owned),
        }
    }

    fn free(data: &SeedData) -> (Vec<String>, Vec<String>) {
        let lent: HashSet<&str> = data.loans.iter().map(|l| l.loan.item.as_str()).collect();
        let busy: HashSet<&str> = data.loans.iter().map(|l| l.loan.patron.as_str()).collect();
        let items = data
            .items
            .iter()
            .filter(|i| {
                i.status == rong_protocol::delta::ItemStatus::Available
                    && !lent.contains(i.barcode.as_str())
            })
            .map(|i| i.barcode.clone())
            .collect();
        let patrons = data
            .patrons
            .iter()
            .map(|p| &p.patron)
            .filter(|p| {
                p.blocked.is_none()
                    && !p.staff
                    && p.category == "adult"
                    && !busy.contains(p.card.as_str())
            })
            .map(|p| p.card.clone())
            .collect();
        (items, patrons)
    }

    #[test]
    fn missed_return_and_unknown_item_through_the_store() {
        let mut k = Kontum::new();
        let d1 = k.kiosk("kontum-kiosk-1");
        let d2 = k.kiosk("kontum-kiosk-2");
        assert_eq!(
            k.s.check_device(&BranchId::new("dakto").unwrap(), &d1)
                .unwrap(),
            Registration::OtherBranch(k.kontum.clone())
        );
        let (items, patrons) = (k.items.clone(), k.patrons.clone());
        let v0 = current_version(k.s.reader()).unwrap();
        let (l1, l2) = (Uuid::now_v7(), Uuid::now_v7());
        let o = k.send(&d1, l1, vec![ev(1, out(&items[0], &patrons[0]))]);
        assert_eq!((o.acked_through, o.applied), (1, 1));
        assert_eq!(o.changes.from_version, v0);
        assert_eq!(o.changes.ops.len(), 1);
        let b2 = vec![
            ev(1, out(&items[0], &patrons[1])),
            ev(2, back("KT77777777", None)),
        ];
        let o = k.send(&d2, l2, b2.clone());
        assert_eq!((o.acked_through, o.applied), (2, 2));
        assert_eq!(current_version(k.s.reader()).unwrap(), v0 + 2);

        let all = k.loans(&items[0], false);
        assert_eq!(all.len(), 2);
        let old = all.iter().find(|l| l.patron == patrons[0]).unwrap();
        assert!(old.missed_return && old.returned_at.is_some());
        assert_eq!(old.return_device.as_deref(), Some("kontum-kiosk-2"));
        let new = all.iter().find(|l| l.patron == patrons[1]).unwrap();
        assert!(new.returned_at.is_none());
        let c = k.s.reader();
        let kinds: Vec<String> = queries::notices(c, &NoticeFilter::default())
            .unwrap()
            .into_iter()
            .map(|n| n.kind)
            .collect();
        assert_eq!(kinds, vec!["missed_return", "unknown_item"]);
        let evs = queries::events(c, "kontum-kiosk-2").unwrap();
        assert_eq!(evs[1].outcome, "unknown_item");
        assert_eq!(evs[1].item.as_deref(), Some("KT77777777"));
        // The same run replayed changes nothing.
        let o = k.send(&d2, l2, b2);
        assert_eq!((o.acked_through, o.applied, o.replayed), (2, 0, 2));
        assert!(o.changes.is_empty());
    }

    /// A kiosk's return of another branch's item puts it in transit home; the kiosk's return
    /// of a home item does not.
    #[test]
    fn a_kiosk_return_of_another_branchs_item_puts_it_in_transit() {
        let mut k = Kontum::new();
        let d1 = k.kiosk("kontum-kiosk-1");
        let home_of = |k: &Kontum, b: &str| -> String {
            k.s.reader()
                .query_row(
                    "SELECT home_branch FROM items WHERE barcode = ?1",
                    [b],
                    |r| r.get(0),
                )
                .unwrap()
        };
        let away = k
            .items
            .iter()
            .find(|i| home_of(&k, i) != "kontum")
            .unwrap()
            .clone();
        let home = k
            .items
            .iter()
            .find(|i| home_of(&k, i) == "kontum")
            .unwrap()
            .clone();
        let o = k.send(
            &d1,
            Uuid::now_v7(),
            vec![ev(1, back(&away, None)), ev(2, back(&home, None))],
        );
        assert_eq!(o.applied, 2);
        let t = crate::desk::in_transit(k.s.reader(), None).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].item, away);
        assert_eq!(t[0].from_branch, "kontum");
        assert_eq!(t[0].to_branch, home_of(&k, &away));
        assert_eq!(t[0].sent_by, "kontum-kiosk-1");
    }

    /// A renewal from an implausible clock is corrected from the current due date when that
    /// is later than today, as a renewal at central would be: never shortened.
    #[test]
    fn corrected_renewal_never_shortens_the_loan() {
        let mut k = Kontum::new();
        let dev = k.kiosk("kontum-kiosk-1");
        let (item, patron) = (k.items[0].clone(), k.patrons[0].clone());
        let log = Uuid::now_v7();
        let long_due = chrono::Utc::now().date_naive() + chrono::Duration::days(120);
        let lend = EventBody::Checkout {
            item: item.clone(),
            patron: patron.clone(),
            due: long_due,
        };
        k.send(&dev, log, vec![ev(1, lend)]);
        assert_eq!(k.active_due(&item), long_due);
        // The board rebooted without network: its clock says 1970.
        let renew = EventBody::Renew {
            item: item.clone(),
            patron,
            due: chrono::NaiveDate::from_ymd_opt(1970, 1, 29).unwrap(),
            renewals: 1,
        };
        let o = k.send(&dev, log, vec![ev_at(2, 86_400_000, renew)]);
        assert_eq!(o.acked_through, 2);
        let due = k.active_due(&item);
        assert!(due > long_due, "renewal moved the due date back to {due}");
    }

    /// A return made offline before someone else borrowed the item elsewhere must not
    /// close the newer loan when it reaches central late.
    #[test]
    fn late_return_of_an_earlier_loan_keeps_the_newer_loan() {
        let mut k = Kontum::new();
        let online = k.kiosk("kontum-kiosk-1");
        let offline = k.kiosk("kontum-kiosk-2");
        let (items, patrons) = (k.items.clone(), k.patrons.clone());
        let (l1, l2) = (Uuid::now_v7(), Uuid::now_v7());
        let t0 = now() - 3 * 3_600_000;
        k.send(&online, l1, vec![ev_at(1, t0, out(&items[0], &patrons[0]))]);
        // Patron 0 returns it at the offline kiosk; an hour later patron 1 borrows it at
        // the online one.
        let returned = ev_at(1, t0 + 3_600_000, back(&items[0], Some(&patrons[0])));
        let second = ev_at(2, t0 + 2 * 3_600_000, out(&items[0], &patrons[1]));
        k.send(&online, l1, vec![second]);
        // The offline kiosk comes back.
        let o = k.send(&offline, l2, vec![returned]);
        assert_eq!(o.acked_through, 1);
        let active = k.loans(&items[0], true);
        assert_eq!(active.len(), 1, "patron 1 still has the item");
        assert_eq!(active[0].patron, patrons[1]);
        assert!(
            o.changes.is_empty(),
            "no DelLoan goes down: {:?}",
            o.changes
        );
        // A return at a kiosk that has not heard of the newer loan, made after it, closes it.
        let later = ev(2, back(&items[0], Some(&patrons[0])));
        k.send(&offline, l2, vec![later]);
        let active = k.loans(&items[0], true);
        assert!(active.is_empty(), "{active:?}");
    }

    /// Applies 20,000 events in batches of 200 and reports the rate (run with `--release`
    /// for a meaningful number).
    #[test]
    fn ingest_rate() {
        let mut k = Kontum::new();
        let dev = k.kiosk("kontum-kiosk-1");
        let (items, patrons) = (k.items.clone(), k.patrons.clone());
        let log = Uuid::now_v7();
        let mut seq = 0u64;
        let mut bodies = Vec::new();
        for round in 0..(20_000 / (2 * items.len().min(1000))).max(1) {
            for (i, item) in items.iter().take(1000).enumerate() {
                let p = &patrons[(i + round) % patrons.len()];
                bodies.push(out(item, p));
            }
            for item in items.iter().take(1000) {
                bodies.push(back(item, None));
            }
        }
        let events: Vec<Event> = bodies
            .into_iter()
            .map(|b| {
                seq += 1;
                ev(seq, b)
            })
            .collect();
        let total = events.len() as u64;
        let t = std::time::Instant::now();
        for chunk in events.chunks(200) {
            let o = k.send(&dev, log, chunk.to_vec());
            assert_eq!(o.acked_through, chunk.last().unwrap().seq);
        }
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "ingest: {total} events in {secs:.2} s = {:.0} events/s",
            total as f64 / secs
        );
        assert_eq!(queries::stats(k.s.reader()).unwrap().events_recorded, total);
    }
}

/// A retained status is delivered again whenever central (re)subscribes; it is not news,
/// and must not make a long-gone device look freshly seen.
#[test]
fn a_redelivered_status_is_not_recorded_again() {
    use rong_protocol::ids::{BranchId, DeviceId};
    use rong_protocol::status::{DeviceState, DeviceStatus};
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("c.db")).unwrap();
    let branch = BranchId::new("kontum").unwrap();
    let device = DeviceId::new("kontum-kiosk-1").unwrap();
    s.put_ops(&[rong_protocol::delta::Op::PutBranch(
        rong_protocol::delta::Branch {
            id: branch.clone(),
            name: "Kon Tum".into(),
            closed_weekdays: vec![],
            require_pin: false,
        },
    )])
    .unwrap();
    crate::identity::enrol_directly(&mut s, &branch, &device, "key", 1).unwrap();
    let status = DeviceStatus {
        v: rong_protocol::SCHEMA_VERSION,
        device: device.clone(),
        branch,
        state: DeviceState::Offline,
        version: "0.1.0".into(),
        boot_id: "b1".into(),
        started_at: 1,
        at: 2,
        time_synced: true,
        outbox_depth: 0,
        oldest_unsynced_age_s: None,
        catalogue_version: 5,
        disk_free_bytes: Some(1 << 30),
        temperature_c: Some(48.5),
        hardware: Default::default(),
        digitise: None,
    };
    s.record_status(&status, 1_000).unwrap();
    s.record_status(&status, 9_000).unwrap();
    let d = queries::device_detail(s.reader(), "kontum-kiosk-1").unwrap();
    assert_eq!(d.device.last_seen, Some(1_000));
    assert_eq!(d.timeline.len(), 1);
    // A heartbeat is news.
    let beat = DeviceStatus {
        state: DeviceState::Online,
        at: 3,
        ..status
    };
    s.record_status(&beat, 12_000).unwrap();
    let d = queries::device_detail(s.reader(), "kontum-kiosk-1").unwrap();
    assert_eq!(d.device.last_seen, Some(12_000));
    assert_eq!(d.timeline.len(), 2);
}
