//! The services' unit tests share this: a fresh store holding the reference data a test
//! gives (built with `rong_tests::fixtures`), and the services built over it the way `run`
//! builds them.

use std::path::Path;
use std::sync::Arc;

use rong_protocol::delta::{Delta, Op};
use rong_protocol::event::EventBody;
use tokio::sync::{broadcast, Notify};

use crate::circulation::{self, Circulation};
use crate::config::{ClockSynced, Config};
use crate::hardware::Hardware;
use crate::run::Services;
use crate::store::{Commit, LoanChange, NewEvent, SharedStore, Store};

/// A config whose data lives in `dir`, with a trusted clock and the default devices.
pub fn config(dir: &Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    config.clock.synced = ClockSynced::Yes;
    config
}

/// The store at `{data_dir}/agent.db`, holding `ops` as reference version 1.
pub fn seeded(config: &Config, ops: Vec<Op>) -> Store {
    let mut store = Store::open(&config.db_path()).unwrap();
    store
        .apply_delta(&Delta {
            from_version: 0,
            to_version: 1,
            ops,
        })
        .unwrap();
    store
}

/// [`seeded`], shared.
pub fn store(config: &Config, ops: Vec<Op>) -> SharedStore {
    SharedStore::new(seeded(config, ops))
}

/// Every service over a store holding `ops`, wired as `run` wires them, with the devices
/// `config` names.
pub fn services(config: &Config, ops: Vec<Op>) -> Services {
    let (pushes, _) = broadcast::channel(64);
    let hardware = Hardware::start(&config.hardware, pushes.clone());
    Services::build(config.clone(), seeded(config, ops), hardware, pushes)
}

/// The circulation service alone over `store`, as `config` sets it, with no devices.
pub fn circulation(config: &Config, store: &SharedStore) -> Circulation {
    let (tx, _) = broadcast::channel(1);
    Circulation::new(
        circulation::Settings::from_config(config),
        store.clone(),
        Arc::new(Hardware::start(&config.hardware, tx)),
        Arc::new(Notify::new()),
    )
}

/// A return of `item` logged at `at` by a board whose clock was not synced, as if another
/// session had written it: tests put the log's time where they need it.
pub fn checkin_at(item: &str, at: i64) -> Commit {
    Commit {
        event: Some(NewEvent {
            body: EventBody::Checkin {
                item: item.into(),
                patron: None,
            },
            at,
            clock_synced: false,
        }),
        loan: LoanChange::None,
        pin: None,
    }
}
