//! Facts about the board itself: free space on the data disk and the SoC temperature.

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
