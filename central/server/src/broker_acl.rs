//! Keeps the external broker's ACL file in step with the device table: written at start
//! and after every enrolment and revocation (the same text `central device acl` prints),
//! then the broker is told to reload it (`broker.acl_reload`). A failure is logged and
//! alerts nobody's request: the device table is the authority, and every message is signed
//! anyway; the ACL keeps a revoked or foreign board off the broker's topics.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use central_store::{Reads, StoreError};

/// How long the reload command may take.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// A Mosquitto ACL for the network: central may read and write every Rông topic; each
/// enrolled, unrevoked device (logging in with its device id as user name) may publish
/// only on its own uplink topics under its own branch, and read only its own downlink
/// topics and its branch's deltas. Nothing for revoked or unenrolled devices: they get no
/// topic at all. Print it with `central device acl`, install it as the broker's
/// `acl_file` and reload the broker after each enrolment or revocation.
pub fn mosquitto_acl(devices: &[central_store::identity::DeviceIdentity]) -> String {
    let mut out = String::from(
        "# Rông's Mosquitto ACL, written by `central device acl`: one block per enrolled device.\n\
         # Regenerate it after enrolling or revoking a device, then reload Mosquitto.\n\n\
         user central\ntopic readwrite rong/v1/#\n",
    );
    for d in devices {
        if d.enrolled_at.is_none() || d.revoked_at.is_some() {
            continue;
        }
        let (Ok(b), Ok(id)) = (
            rong_protocol::BranchId::new(&d.branch),
            rong_protocol::DeviceId::new(&d.device),
        ) else {
            continue;
        };
        out.push_str(&format!("\nuser {id}\n"));
        let topics = DeviceTopics::of(&b, &id);
        for topic in &topics.write {
            out.push_str(&format!("topic write {topic}\n"));
        }
        for topic in &topics.read {
            out.push_str(&format!("topic read {topic}\n"));
        }
    }
    out
}

/// The topics one device may use, on any broker: no wildcard, nothing of another device or
/// branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceTopics {
    /// Its uplinks: events, status, command replies, catch-up requests.
    pub write: Vec<String>,
    /// Its downlinks (acks, commands, its own deltas) and its branch's deltas.
    pub read: Vec<String>,
}

impl DeviceTopics {
    /// Those of `device` of `branch`.
    pub fn of(branch: &rong_protocol::BranchId, device: &rong_protocol::DeviceId) -> Self {
        use rong_protocol::topic::Topic;
        let t = |f: fn(rong_protocol::BranchId, rong_protocol::DeviceId) -> Topic| {
            f(branch.clone(), device.clone()).to_topic_string()
        };
        DeviceTopics {
            write: vec![
                t(Topic::Events),
                t(Topic::Status),
                t(Topic::CmdReply),
                t(Topic::Catchup),
            ],
            read: vec![
                t(Topic::Ack),
                t(Topic::Cmd),
                t(Topic::DeviceDeltas),
                Topic::BranchDeltas(branch.clone()).to_topic_string(),
            ],
        }
    }
}

/// The ACL file and how to make the broker reload it.
#[derive(Debug)]
pub struct BrokerAcl {
    file: PathBuf,
    reload: Vec<String>,
    reads: Reads,
    /// One rewrite at a time, so the file on disk is always the last one.
    busy: tokio::sync::Mutex<()>,
}

impl BrokerAcl {
    /// From `broker.acl_file` and `broker.acl_reload`; `None` when no file is configured.
    pub fn new(
        file: Option<PathBuf>,
        reload: Option<&str>,
        reads: Reads,
    ) -> Option<Arc<BrokerAcl>> {
        let file = file?;
        Some(Arc::new(BrokerAcl {
            file,
            reload: reload_words(reload),
            reads,
            busy: tokio::sync::Mutex::new(()),
        }))
    }

    /// Writes the ACL from the device table and reloads the broker; logs what fails.
    pub async fn refresh(&self) {
        let _one = self.busy.lock().await;
        let devices = match self
            .reads
            .run(|c| central_store::identity::device_identities(c))
            .await
        {
            Ok(d) => d,
            Err(e) => {
                return tracing::error!(error = %e, "cannot read devices for the broker's ACL")
            }
        };
        let text = mosquitto_acl(&devices);
        let file = self.file.clone();
        let written = tokio::task::spawn_blocking(move || write_atomically(&file, &text)).await;
        if let Err(e) = written
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
        {
            return tracing::error!(file = %self.file.display(), error = %e, "cannot write the broker's ACL");
        }
        let Some((program, args)) = self.reload.split_first() else {
            return tracing::info!(file = %self.file.display(), "broker ACL written");
        };
        let run = tokio::process::Command::new(program)
            .args(args)
            .kill_on_drop(true)
            .output();
        match tokio::time::timeout(RELOAD_TIMEOUT, run).await {
            Ok(Ok(out)) if out.status.success() => {
                tracing::info!(file = %self.file.display(), "broker ACL written and reloaded")
            }
            Ok(Ok(out)) => tracing::error!(
                command = %self.reload.join(" "),
                status = %out.status,
                stderr = %String::from_utf8_lossy(&out.stderr),
                "the broker's ACL reload failed"
            ),
            Ok(Err(e)) => {
                tracing::error!(command = %self.reload.join(" "), error = %e, "cannot run the broker's ACL reload")
            }
            Err(_) => {
                tracing::error!(command = %self.reload.join(" "), "the broker's ACL reload timed out")
            }
        }
    }
}

/// The reload command's words.
fn reload_words(command: Option<&str>) -> Vec<String> {
    command
        .map(|c| c.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The same, from the command line: `central device revoke` on a central that may not be
/// running.
pub fn refresh_blocking(
    file: Option<&Path>,
    reload: Option<&str>,
    store: &central_store::Store,
) -> Result<(), StoreError> {
    let Some(file) = file else {
        return Ok(());
    };
    let devices = central_store::identity::device_identities(store.reader())?;
    write_atomically(file, &mosquitto_acl(&devices))
        .map_err(|e| StoreError::Conflict(format!("broker ACL {}: {e}", file.display())))?;
    let words = reload_words(reload);
    if let Some((program, args)) = words.split_first() {
        let status = std::process::Command::new(program)
            .args(args)
            .status()
            .map_err(|e| StoreError::Conflict(format!("broker ACL reload {program}: {e}")))?;
        if !status.success() {
            return Err(StoreError::Conflict(format!(
                "broker ACL reload {program} failed: {status}"
            )));
        }
    }
    Ok(())
}

/// Writes `text` to `path` through a temporary file and a rename, so the broker never
/// reads half a file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(
        id: &str,
        branch: &str,
        enrolled: bool,
        revoked: bool,
    ) -> central_store::identity::DeviceIdentity {
        central_store::identity::DeviceIdentity {
            device: id.into(),
            branch: branch.into(),
            role: Some("kiosk".into()),
            enrolled_at: enrolled.then_some(1),
            revoked_at: revoked.then_some(2),
            revoked_by: None,
        }
    }

    #[test]
    fn the_acl_gives_each_enrolled_device_its_own_topics_only() {
        let acl = mosquitto_acl(&[
            device("kontum-kiosk-1", "kontum", true, false),
            device("dakto-kiosk-1", "dakto", true, true),
            device("dakto-kiosk-2", "dakto", false, false),
        ]);
        assert!(acl.contains("user central\ntopic readwrite rong/v1/#\n"));
        assert!(acl
            .contains("\nuser kontum-kiosk-1\ntopic write rong/v1/kontum/kontum-kiosk-1/events\n"));
        assert!(acl.contains("topic read rong/v1/kontum/deltas\n"));
        assert!(
            !acl.contains("dakto"),
            "revoked and unenrolled devices get nothing:\n{acl}"
        );
        assert!(
            !acl.contains('+') && !acl.contains("pattern"),
            "no wildcards for devices"
        );
        assert_eq!(acl.matches("topic ").count(), 1 + 8);
    }

    #[test]
    fn the_reload_command_is_split_on_spaces_without_a_shell() {
        assert_eq!(
            reload_words(Some("systemctl  reload mosquitto")),
            ["systemctl", "reload", "mosquitto"]
        );
        assert!(reload_words(None).is_empty());
    }
}
