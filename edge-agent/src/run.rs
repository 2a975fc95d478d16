//! The injectable entry point: open the store, start the readers, the local API and the
//! sync loop, and stop them all cleanly.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{broadcast, watch};

use crate::agent::Agent;
use crate::config::Config;
use crate::hardware::Hardware;
use crate::store::Store;
use crate::{api, mqtt};

/// Runs the agent until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    run_with_ready(config, shutdown, |_| {}).await
}

/// Like [`run`], calling `ready` with the socket path once the local API accepts
/// connections.
pub async fn run_with_ready(
    config: Config,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(&Path),
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let db = config.db_path();
    let store = tokio::task::spawn_blocking(move || Store::open(&db)).await??;
    tracing::info!(
        device = %config.device,
        branch = %config.branch,
        log = %store.log(),
        version = store.version()?,
        "store open"
    );
    let socket = config.socket_path();
    let (pushes, _) = broadcast::channel(64);
    let hardware = Hardware::start(&config.hardware, pushes.clone());
    let agent = Arc::new(Agent::new(config, store, hardware, pushes));
    {
        let a = agent.clone();
        let recovered =
            tokio::task::spawn_blocking(move || crate::digitise::recover::recover(&a.digitise))
                .await??;
        tracing::debug!(?recovered, "digitisation checked");
    }
    let listener = api::bind(&socket)
        .with_context(|| format!("cannot bind the local API at {}", socket.display()))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let api_task = tokio::spawn(api::serve(listener, agent.clone(), stop_rx.clone()));
    let upload_task = tokio::spawn(crate::digitise::upload::run(
        agent.digitise.clone(),
        stop_rx.clone(),
    ));
    let mut sync_task = tokio::spawn(mqtt::run(agent.clone(), stop_rx));
    ready(&socket);
    tracing::info!(socket = %socket.display(), "agent ready");

    tokio::pin!(shutdown);
    let early = tokio::select! {
        _ = &mut shutdown => None,
        r = &mut sync_task => Some(r),
    };
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    let sync_result = match early {
        Some(r) => r,
        None => sync_task.await,
    };
    let _ = api_task.await;
    let _ = upload_task.await;
    agent.hardware.stop();
    if let Err(e) = std::fs::remove_file(&socket) {
        tracing::debug!(error = %e, "socket not removed");
    }
    sync_result.context("sync task failed")??;
    tracing::info!("stopped");
    Ok(())
}
