//! The signal that stops a daemon.

/// Completes on SIGTERM (systemd stopping the service) or SIGINT (ctrl-c), logging which.
/// Where those cannot be watched it falls back to tokio's ctrl-c.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM"),
                _ = int.recv() => tracing::info!("SIGINT"),
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use nix::sys::signal::{raise, Signal};
    use tokio::signal::unix::{signal, SignalKind};

    use super::*;

    #[tokio::test]
    async fn completes_on_sigterm() {
        // Once tokio watches SIGTERM it does so for the life of the process, so the raises
        // below can never kill the test binary, whether or not the future is listening yet.
        let _watching = signal(SignalKind::terminate()).expect("watch SIGTERM");
        let mut stopped = tokio::spawn(shutdown_signal());
        // A signal raised before the spawned future first runs is not seen by it: raise
        // until it completes.
        let seen = async {
            loop {
                raise(Signal::SIGTERM).expect("raise");
                if tokio::time::timeout(Duration::from_millis(50), &mut stopped)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), seen)
            .await
            .expect("SIGTERM ends the wait");
    }
}
