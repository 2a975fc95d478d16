//! What central's digitisation tests share: a config on free ports, and central running
//! in this process (`central::serve`) until stopped.

#![allow(dead_code)] // each test file uses what it needs

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// A config for `data_dir` (created) with HTTP and the embedded broker on free ports.
pub fn config(data_dir: &Path) -> central::Config {
    let mut config = central::Config {
        data_dir: data_dir.to_owned(),
        ..central::Config::default()
    };
    config.http.listen = "127.0.0.1:0".parse().expect("addr");
    config.broker.listen = "127.0.0.1:0".parse().expect("addr");
    std::fs::create_dir_all(data_dir).expect("data dir");
    config
}

/// Central running in this process.
pub struct Running {
    /// Where its HTTP server listens.
    pub http: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Starts central and waits until it is ready.
    pub async fn start(config: central::Config) -> Running {
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(central::serve(
            config,
            async move {
                let _ = stop_rx.await;
            },
            Some(ready_tx),
        ));
        let ready = tokio::time::timeout(Duration::from_secs(30), ready_rx)
            .await
            .expect("central ready in time")
            .expect("ready sent");
        Running {
            http: ready.http,
            stop,
            task,
        }
    }

    /// `http://{addr}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Stops central and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("central stops in time")
            .expect("joined")
            .expect("central stopped cleanly");
    }
}
