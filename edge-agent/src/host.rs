//! The board itself: free space on the data disk, the SoC temperature, and files written
//! whole or not at all.

use std::path::Path;

/// Free bytes on the file system holding `path`.
pub fn disk_free(path: &Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    Some((s.blocks_available() as u64).saturating_mul(s.fragment_size() as u64))
}

/// The SoC temperature, when the board reports one.
pub fn temperature() -> Option<f32> {
    let text = std::fs::read_to_string("/sys/class/thermal/thermal_zone0/temp").ok()?;
    let milli: f32 = text.trim().parse().ok()?;
    Some(milli / 1000.0)
}

/// Writes `path` whole or not at all, and makes it durable.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_free_reads_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        assert!(disk_free(dir.path()).unwrap() > 0);
        assert_eq!(disk_free(&dir.path().join("missing")), None);
    }
}
