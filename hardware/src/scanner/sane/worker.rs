//! The SANE thread. libsane keeps process-wide state and is not thread-safe, so one
//! thread per process makes every SANE call, and [`SaneScanner`](super::SaneScanner)
//! handles talk to it over a channel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::thread;

use super::ffi::{Device, Session};
use super::frames::{assemble, FrameShape};
use crate::scanner::{DeviceInfo, OptionValue, Page, ScanError, ScanOption};

/// Where a request's answer goes.
pub(super) type Reply<T> = Sender<Result<T, ScanError>>;

/// A request to the SANE thread. Devices are named by the id `Open` returned.
pub(super) enum Request {
    /// List devices.
    Devices(Reply<Vec<DeviceInfo>>),
    /// Open a device.
    Open(String, Reply<u64>),
    /// Close a device.
    Close(u64),
    /// List a device's options.
    Options(u64, Reply<Vec<ScanOption>>),
    /// Set an option by name.
    Set(u64, String, OptionValue, Reply<()>),
    /// Start a page and read it whole.
    Feed(u64, Reply<Page>),
    /// End a scan or batch.
    Cancel(u64),
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, id) = match self {
            Request::Devices(_) => ("devices", None),
            Request::Open(..) => ("open", None),
            Request::Close(id) => ("close", Some(id)),
            Request::Options(id, _) => ("options", Some(id)),
            Request::Set(id, ..) => ("set", Some(id)),
            Request::Feed(id, _) => ("feed", Some(id)),
            Request::Cancel(id) => ("cancel", Some(id)),
        };
        f.debug_struct("Request")
            .field("what", &what)
            .field("device", &id)
            .finish()
    }
}

struct Running {
    requests: Sender<Request>,
    config_dir: Option<PathBuf>,
}

static THREAD: Mutex<Option<Running>> = Mutex::new(None);

/// A sender to the SANE thread, starting it (and `sane_init`) on first use. `config_dir`
/// sets `SANE_CONFIG_DIR` before `sane_init`; it must agree with the running thread's.
pub(super) fn connect(config_dir: Option<&Path>) -> Result<Sender<Request>, ScanError> {
    let mut running = THREAD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = running.as_ref() {
        if config_dir.is_some() && config_dir != r.config_dir.as_deref() {
            return Err(ScanError::Unsupported(format!(
                "SANE already runs with config dir {:?}; one per process",
                r.config_dir
            )));
        }
        return Ok(r.requests.clone());
    }
    // Unbounded: each caller sends one request and waits for its reply (`call`), so it
    // holds at most one request per scanner user.
    let (requests, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let dir = config_dir.map(Path::to_path_buf);
    let thread_dir = dir.clone();
    thread::Builder::new()
        .name("sane".into())
        .spawn(move || {
            block_sigpipe();
            if let Some(dir) = thread_dir {
                // libsane reads it in sane_init, on this thread; Rust's own env access is
                // locked, and no other SANE call runs concurrently.
                std::env::set_var("SANE_CONFIG_DIR", dir);
            }
            match Session::init() {
                Ok(session) => {
                    let _ = ready_tx.send(Ok(()));
                    serve(session, rx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })
        .map_err(|e| ScanError::Io(format!("cannot start the SANE thread: {e}")))?;
    ready_rx
        .recv()
        .map_err(|_| ScanError::Io("the SANE thread died while starting".into()))??;
    *running = Some(Running {
        requests: requests.clone(),
        config_dir: dir,
    });
    Ok(requests)
}

/// Blocks SIGPIPE on this thread, and so on the reader threads backends start from it
/// (they inherit the mask). A backend such as `test` keeps writing into its pipe after
/// `sane_cancel` closed it; unblocked, that SIGPIPE would kill a program that did not
/// ignore it. Blocked, the write fails with EPIPE, which the backend handles.
fn block_sigpipe() {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGPIPE);
    if let Err(e) = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None) {
        tracing::warn!(error = %e, "cannot block SIGPIPE on the SANE thread");
    }
}

fn serve(session: Session, rx: Receiver<Request>) {
    let mut devices: HashMap<u64, (String, Device)> = HashMap::new();
    let mut next_id = 1u64;
    // The sender lives in THREAD forever, so this loop runs for the life of the process.
    for req in rx {
        let gone = |id: u64| ScanError::DeviceGone(format!("scanner handle {id} is closed"));
        match req {
            Request::Devices(reply) => {
                let _ = reply.send(session.devices());
            }
            Request::Open(name, reply) => {
                let r = session.open(&name).map(|d| {
                    let id = next_id;
                    next_id += 1;
                    tracing::info!(device = %name, id, "scanner opened");
                    devices.insert(id, (name, d));
                    id
                });
                let _ = reply.send(r);
            }
            Request::Close(id) => {
                if let Some((name, d)) = devices.remove(&id) {
                    d.cancel();
                    tracing::info!(device = %name, id, "scanner closed");
                }
            }
            Request::Options(id, reply) => {
                let r = match devices.get(&id) {
                    Some((_, d)) => d.options().map(|v| v.into_iter().map(|(_, o)| o).collect()),
                    None => Err(gone(id)),
                };
                let _ = reply.send(r);
            }
            Request::Set(id, name, value, reply) => {
                let r = match devices.get(&id) {
                    Some((_, d)) => set(d, &name, &value),
                    None => Err(gone(id)),
                };
                let _ = reply.send(r);
            }
            Request::Feed(id, reply) => {
                let r = match devices.get(&id) {
                    Some((name, d)) => feed(d).inspect_err(|e| {
                        tracing::warn!(device = %name, error = %e, "scan failed");
                    }),
                    None => Err(gone(id)),
                };
                let _ = reply.send(r);
            }
            Request::Cancel(id) => {
                if let Some((_, d)) = devices.get(&id) {
                    d.cancel();
                }
            }
        }
    }
    // Close the devices before `session` (sane_exit).
    drop(devices);
}

fn set(d: &Device, name: &str, value: &OptionValue) -> Result<(), ScanError> {
    let opts = d.options()?;
    let (index, opt) = opts
        .iter()
        .find(|(_, o)| o.name == name)
        .ok_or_else(|| ScanError::InvalidOption(format!("no option {name}")))?;
    if !opt.settable || !opt.active {
        return Err(ScanError::InvalidOption(format!(
            "{name} cannot be set now"
        )));
    }
    d.set(*index, opt, value)
}

/// Starts a page and reads every frame of it.
fn feed(d: &Device) -> Result<Page, ScanError> {
    let dpi = d
        .options()?
        .into_iter()
        .find(|(_, o)| o.name == "resolution")
        .and_then(|(_, o)| o.value.and_then(|v| v.as_f64()))
        .map(|r| r.round() as u32)
        .unwrap_or(0);
    let mut frames = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        d.start()?;
        let p = d.params()?;
        let shape = FrameShape {
            format: p.format,
            bytes_per_line: usize::try_from(p.bytes_per_line).unwrap_or(0),
            pixels_per_line: u32::try_from(p.pixels_per_line).unwrap_or(0),
            depth: u8::try_from(p.depth).unwrap_or(0),
        };
        let expected = usize::try_from(p.lines).unwrap_or(0) * shape.bytes_per_line;
        let mut data = Vec::with_capacity(expected);
        while let Some(n) = d.read(&mut buf)? {
            data.extend_from_slice(&buf[..n]);
        }
        frames.push((shape, data));
        if p.last_frame != 0 {
            break;
        }
        if frames.len() >= 3 {
            return Err(ScanError::Io("more than three frames in one page".into()));
        }
    }
    assemble(frames, dpi)
}
