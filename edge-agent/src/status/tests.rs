use rong_protocol::delta::Op;
use rong_tests::fixtures::{adults, branch};

use super::*;
use crate::testkit;

#[test]
fn the_outbox_is_what_was_written_and_not_acked() {
    let o = Outbox {
        last_seq: 7,
        acked_through: 3,
        oldest_unacked_at: Some(10_000),
    };
    assert_eq!(o.depth(), 4);
    assert_eq!(o.oldest_age_s(15_999), Some(5));
    // A clock stepped back never gives a negative age.
    assert_eq!(o.oldest_age_s(9_000), Some(0));
    let ahead = Outbox {
        acked_through: 9,
        oldest_unacked_at: None,
        ..o
    };
    assert_eq!(ahead.depth(), 0);
    assert_eq!(ahead.oldest_age_s(15_999), None);
}

#[test]
fn the_status_reads_the_store_the_link_and_the_devices() {
    let dir = tempfile::tempdir().unwrap();
    let s = testkit::services(
        &testkit::config(dir.path()),
        vec![Op::PutBranch(branch("kontum")), Op::PutCategory(adults(2))],
    );
    let now = now_ms();
    for _ in 0..3 {
        s.store
            .lock()
            .commit(testkit::checkin_at("KT1", now))
            .unwrap();
    }
    s.store.lock().mark_acked(1).unwrap();
    s.link.set_online(true);
    s.link.count_rejected();
    s.link.count_rejected();

    let st = s.status.agent().unwrap();
    assert_eq!(st.device, s.config.device);
    assert!(st.online);
    assert_eq!((st.last_seq, st.acked_through, st.outbox_depth), (3, 1, 2));
    assert!(st.oldest_unsynced_age_s.is_some());
    assert_eq!(st.catalogue_version, 1);
    assert_eq!(st.rejected_messages, 2);
    assert_eq!(
        st.digitise, None,
        "no scanner and no jobs: no digitisation part"
    );

    let offline = s.status.device(DeviceState::Offline);
    assert_eq!(offline.state, DeviceState::Offline);
    assert_eq!(offline.outbox_depth, 2);
    assert_eq!(offline.catalogue_version, 1);
    assert!(offline.time_synced, "the test config trusts the clock");
    assert!(offline.disk_free_bytes.is_some());
    let online = s.status.device(DeviceState::Online);
    assert_eq!(online.boot_id, offline.boot_id, "one boot id per start");
    assert_eq!(online.started_at, offline.started_at);
}
