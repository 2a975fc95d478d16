//! MQTT topics. Every topic lives under `rong/v1/`.

use crate::ids::{BranchId, DeviceId};

/// The prefix of every topic.
pub const PREFIX: &str = "rong/v1";

/// A topic, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// Device → central: batches of events.
    Events(BranchId, DeviceId),
    /// Central → device: the application ack.
    Ack(BranchId, DeviceId),
    /// Device → all: retained status; the will sets it offline.
    Status(BranchId, DeviceId),
    /// Central → device: a command.
    Cmd(BranchId, DeviceId),
    /// Device → central: the reply to a command.
    CmdReply(BranchId, DeviceId),
    /// Device → central: a request for the deltas since a version.
    Catchup(BranchId, DeviceId),
    /// Central → one device: the answer to its catch-up request.
    DeviceDeltas(BranchId, DeviceId),
    /// Central → every device of a branch: live deltas.
    BranchDeltas(BranchId),
}

impl Topic {
    /// The topic string.
    pub fn to_topic_string(&self) -> String {
        match self {
            Topic::Events(b, d) => format!("{PREFIX}/{b}/{d}/events"),
            Topic::Ack(b, d) => format!("{PREFIX}/{b}/{d}/ack"),
            Topic::Status(b, d) => format!("{PREFIX}/{b}/{d}/status"),
            Topic::Cmd(b, d) => format!("{PREFIX}/{b}/{d}/cmd"),
            Topic::CmdReply(b, d) => format!("{PREFIX}/{b}/{d}/cmd-reply"),
            Topic::Catchup(b, d) => format!("{PREFIX}/{b}/{d}/catchup"),
            Topic::DeviceDeltas(b, d) => format!("{PREFIX}/{b}/{d}/deltas"),
            Topic::BranchDeltas(b) => format!("{PREFIX}/{b}/deltas"),
        }
    }

    /// Parses a topic string; `None` for anything outside the contract.
    pub fn parse(topic: &str) -> Option<Topic> {
        let rest = topic.strip_prefix(PREFIX)?.strip_prefix('/')?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            [b, "deltas"] => Some(Topic::BranchDeltas(BranchId::new(*b).ok()?)),
            [b, d, kind] => {
                let b = BranchId::new(*b).ok()?;
                let d = DeviceId::new(*d).ok()?;
                Some(match *kind {
                    "events" => Topic::Events(b, d),
                    "ack" => Topic::Ack(b, d),
                    "status" => Topic::Status(b, d),
                    "cmd" => Topic::Cmd(b, d),
                    "cmd-reply" => Topic::CmdReply(b, d),
                    "catchup" => Topic::Catchup(b, d),
                    "deltas" => Topic::DeviceDeltas(b, d),
                    _ => return None,
                })
            }
            _ => None,
        }
    }
}

/// Central's subscription filters: everything devices send up.
pub fn central_filters() -> [String; 4] {
    [
        format!("{PREFIX}/+/+/events"),
        format!("{PREFIX}/+/+/status"),
        format!("{PREFIX}/+/+/cmd-reply"),
        format!("{PREFIX}/+/+/catchup"),
    ]
}

/// A device's subscription filters: its own downlink topics and its branch's deltas.
pub fn device_filters(branch: &BranchId, device: &DeviceId) -> [String; 4] {
    [
        Topic::Ack(branch.clone(), device.clone()).to_topic_string(),
        Topic::Cmd(branch.clone(), device.clone()).to_topic_string(),
        Topic::DeviceDeltas(branch.clone(), device.clone()).to_topic_string(),
        Topic::BranchDeltas(branch.clone()).to_topic_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let b = BranchId::new("dakto").unwrap();
        let d = DeviceId::new("dakto-kiosk-1").unwrap();
        for t in [
            Topic::Events(b.clone(), d.clone()),
            Topic::Ack(b.clone(), d.clone()),
            Topic::Status(b.clone(), d.clone()),
            Topic::Cmd(b.clone(), d.clone()),
            Topic::CmdReply(b.clone(), d.clone()),
            Topic::Catchup(b.clone(), d.clone()),
            Topic::DeviceDeltas(b.clone(), d.clone()),
            Topic::BranchDeltas(b.clone()),
        ] {
            assert_eq!(Topic::parse(&t.to_topic_string()), Some(t));
        }
        assert_eq!(
            Topic::Events(b, d).to_topic_string(),
            "rong/v1/dakto/dakto-kiosk-1/events"
        );
    }

    #[test]
    fn rejects_foreign() {
        assert_eq!(Topic::parse("rong/v2/a/b/events"), None);
        assert_eq!(Topic::parse("rong/v1/a/b/other"), None);
        assert_eq!(Topic::parse("rong/v1/A/b/events"), None);
        assert_eq!(Topic::parse("rong/v1/a/b/c/events"), None);
        assert_eq!(Topic::parse("rong/v1"), None);
    }
}
