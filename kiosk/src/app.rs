//! Runs the kiosk in a real window (winit on a desktop, linuxkms on a Pi).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use slint::ComponentHandle;

use crate::config::Config;
use crate::controller::{channel, Controller};
use crate::link::SocketLink;
use crate::ui::AppWindow;

/// Why the kiosk could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No window could be opened (no display, no DRM device).
    #[error("cannot open the window: {0}")]
    Platform(#[from] slint::PlatformError),
    /// The background threads could not start.
    #[error("cannot start the agent link: {0}")]
    Io(#[from] std::io::Error),
}

thread_local! {
    static CONTROLLER: RefCell<Option<Rc<RefCell<Controller>>>> = const { RefCell::new(None) };
}

fn pump() {
    CONTROLLER.with(|c| {
        if let Some(c) = c.borrow().as_ref() {
            // Busy means a callback is already running on this thread; the timer retries.
            if let Ok(mut c) = c.try_borrow_mut() {
                c.pump();
            }
        }
    });
}

/// Opens the window and runs until it is closed.
pub fn run(cfg: &Config) -> Result<(), RunError> {
    let window = AppWindow::new()?;
    window
        .window()
        .set_size(slint::LogicalSize::new(cfg.width as f32, cfg.height as f32));
    let (sink, inbox) = channel(|| {
        // Wakes the UI thread at once, so a scan shows without waiting for the timer.
        let _ = slint::invoke_from_event_loop(pump);
    });
    let link = SocketLink::spawn(&cfg.socket, sink)?;
    let controller = Controller::attach(&window, cfg, Box::new(link), inbox);
    CONTROLLER.with(|c| *c.borrow_mut() = Some(controller));
    let timer = slint::Timer::default();
    timer.start(slint::TimerMode::Repeated, Duration::from_millis(200), pump);
    tracing::info!(socket = %cfg.socket.display(), width = cfg.width, height = cfg.height, "kiosk started");
    window.run()?;
    CONTROLLER.with(|c| c.borrow_mut().take());
    Ok(())
}
