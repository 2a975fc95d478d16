//! The Rông kiosk: the reader's touch screen, a Slint UI over the edge-agent's local API.
//!
//! The state machine ([`machine`]) holds every rule; the [`controller`] connects it to the
//! Slint window and to a [`link::Link`] to the agent. `kiosk screenshots` renders every
//! screen to PNG with the software renderer ([`screenshots`]).

pub mod app;
pub mod config;
pub mod controller;
pub mod fake;
pub mod link;
pub mod machine;
pub mod marks;
pub mod screenshots;
pub mod ui;
pub mod view;
pub mod wedge;

pub use config::{Config, Lang};
pub use controller::Controller;
