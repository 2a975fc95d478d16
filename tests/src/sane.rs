//! SANE's `test` backend for the edge agent's document scanner: a private SANE
//! configuration directory whose `dll.conf` names only `test`, so the agent's real SANE
//! driver talks to a scanner simulated inside libsane (a ten-sheet feeder that can jam).

use std::path::{Path, PathBuf};

/// Writes a SANE configuration under `dir` (`dll.conf` with only `test`, and a `test.conf`
/// with two devices and a 300 mm area so A4 fits); returns the directory.
pub fn test_backend_config(dir: &Path) -> PathBuf {
    let sane = dir.join("sane");
    std::fs::create_dir_all(&sane).expect("mkdir sane config");
    std::fs::write(sane.join("dll.conf"), "test\n").expect("write dll.conf");
    std::fs::write(
        sane.join("test.conf"),
        "number_of_devices 2\ngeometry_min 0.0\ngeometry_max 300.0\ngeometry_quant 1.0\n",
    )
    .expect("write test.conf");
    sane
}

/// The agent's `[hardware.scanner]` table for device `test:0` of that configuration, in
/// greyscale at `dpi` (keep it low in tests), with the backend's `picture` (`Solid
/// black`, `Solid white`, `Grid` or `Color pattern`).
pub fn scanner_toml(sane_config_dir: &Path, dpi: u32, picture: &str) -> String {
    format!(
        "\n[hardware.scanner]\ndriver = \"sane\"\ndevice = \"test:0\"\nsane_config_dir = \"{}\"\nmode = \"gray\"\nresolution_dpi = {dpi}\noptions = {{ test-picture = \"{picture}\" }}\n",
        sane_config_dir.display()
    )
}
