//! What Rông's benchmarks share, written once: their command-line flags, the set-up (a
//! seeded central, an agent bootstrapped from its snapshot), the readings (percentiles,
//! memory, CPU, bytes written) and the Markdown table they print. Each benchmark is a
//! binary in `src/bin/`; they run the real programs through the test kit (`rong-tests`),
//! so build those first: `cargo build --release --bins`.

pub mod flags;
pub mod measure;
pub mod pages;
pub mod programs;
pub mod setup;
pub mod table;
