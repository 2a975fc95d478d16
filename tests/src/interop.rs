//! The interop tools under `tests/interop/` (pymarc, bagit, tuspy, iiif-prezi3) and the
//! venv's Python that runs them (`scripts/setup.sh` makes it).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/interop/{name}`. Found from the running crate's directory when cargo runs it (CI
/// may run a binary built in another checkout), else where the kit was built.
pub fn interop(name: &str) -> PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|dir| {
            Path::new(&dir)
                .ancestors()
                .map(|a| a.join("tests/interop"))
                .find(|d| d.is_dir())
        })
        .unwrap_or(built)
        .join(name)
}

/// The interop venv's Python through `tests/interop/python`, which finds it the way every
/// test does and says how to make it when it is missing.
pub fn python() -> Command {
    Command::new(interop("python"))
}

/// The venv's Python itself (`$RONG_VENV`, default `~/.cache/rong-venv`), for a caller that
/// goes on without it when it is missing.
pub fn venv_python() -> PathBuf {
    std::env::var_os("RONG_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/rong-venv")
        })
        .join("bin/python")
}
