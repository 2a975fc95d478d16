//! The code Slint generates from `ui/app.slint`.
#![allow(
    missing_docs,
    clippy::all,
    clippy::unwrap_used,
    clippy::todo,
    clippy::dbg_macro,
    clippy::print_stdout
)]

slint::include_modules!();
