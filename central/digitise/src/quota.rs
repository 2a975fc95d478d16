//! Room for uploads: each device may hold at most its quota of upload bytes (finished or
//! not) at central, and central's disk keeps a free-space reserve. Both are checked at tus
//! creation from `Upload-Length`, before a byte is accepted, so a device cannot fill the
//! disk by creating uploads and sending them slowly.

pub use crate::tus::Room;
use crate::tus::{TusError, UploadInfo, Uploads};
use rong_protocol::digitise::upload_meta;

fn free_bytes(dir: &std::path::Path) -> Result<u64, TusError> {
    let st = nix::sys::statvfs::statvfs(dir).map_err(|e| TusError::Io(e.into()))?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

impl Uploads {
    /// Sets the quota and the reserve.
    pub fn with_room(mut self, room: Room) -> Uploads {
        self.room = room;
        self
    }

    /// Every upload whose info file reads.
    pub fn infos(&self) -> Result<Vec<UploadInfo>, TusError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.dir())? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".json") {
                if let Ok(info) = self.info(id) {
                    out.push(info);
                }
            }
        }
        Ok(out)
    }

    /// The bytes `device`'s uploads take (their whole announced length).
    pub fn used_by(&self, device: &str) -> Result<u64, TusError> {
        Ok(self
            .infos()?
            .iter()
            .filter(|i| i.meta(upload_meta::DEVICE) == Some(device))
            .map(|i| i.length)
            .sum())
    }

    /// Whether `device` may create an upload of `length` bytes.
    pub(crate) fn check_room(&self, device: &str, length: u64) -> Result<(), TusError> {
        if let Some(quota) = self.room.per_device {
            let used = self.used_by(device)?;
            if used.saturating_add(length) > quota {
                return Err(TusError::OverQuota(format!(
                    "device {device} holds {used} bytes of uploads; {length} more would pass its quota of {quota} bytes"
                )));
            }
        }
        let free = free_bytes(self.dir())?;
        if free < length.saturating_add(self.room.reserve) {
            tracing::error!(
                free,
                length,
                reserve = self.room.reserve,
                "upload refused: central's disk is nearly full"
            );
            return Err(TusError::NoSpace(format!(
                "central keeps {} bytes free on its disk and has {free}; an upload of {length} bytes does not fit",
                self.room.reserve
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tus::tests::{meta, OWNER};

    #[test]
    fn quota_and_reserve_are_checked_before_a_byte_arrives() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path().join("uploads"), 1000, 10)
            .unwrap()
            .with_room(Room {
                per_device: Some(100),
                reserve: 0,
            });
        u.create(60, &meta("j1", "a"), OWNER, 0).unwrap();
        assert!(matches!(
            u.create(41, &meta("j1", "b"), OWNER, 0),
            Err(TusError::OverQuota(_))
        ));
        u.create(40, &meta("j1", "b"), OWNER, 0).unwrap();
        assert_eq!(u.used_by(OWNER).unwrap(), 100);
        assert!(matches!(
            u.create(1, &meta("j1", "c"), "another-device", 0),
            Err(TusError::Forbidden(_))
        ));
        let full = Uploads::open(dir.path().join("full"), u64::MAX, 10)
            .unwrap()
            .with_room(Room {
                per_device: None,
                reserve: u64::MAX / 2,
            });
        assert!(matches!(
            full.create(1, &meta("j1", "a"), OWNER, 0),
            Err(TusError::NoSpace(_))
        ));
    }
}
