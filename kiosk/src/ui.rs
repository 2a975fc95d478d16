//! The code Slint generates from `ui/app.slint`.
#![allow(missing_docs, clippy::all, clippy::unwrap_used)]

slint::include_modules!();
