//! A toxic TCP proxy between a station and central: it can cut every connection after a
//! budget of bytes, hold the station's bytes once a total has gone through (a link that
//! stalls mid-upload), and hold central's reply to a given request, until released.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
struct Toxics {
    cut: AtomicBool,
    /// Bytes a connection may carry towards central while cutting.
    budget: AtomicUsize,
    cuts: AtomicUsize,
    /// Bytes forwarded towards central, over all connections.
    forwarded: AtomicU64,
    /// Hold the station's bytes once `forwarded` reaches this; `u64::MAX`: never.
    hold_at: AtomicU64,
    /// Hold central's reply on a connection that carried a request starting with this.
    hold_reply_to: Mutex<Option<Vec<u8>>>,
    /// Replies held so far.
    replies_held: AtomicUsize,
}

/// A proxy to one target; it runs until the test process ends.
#[derive(Debug)]
pub struct Proxy {
    /// Where the station connects.
    pub addr: SocketAddr,
    toxics: Arc<Toxics>,
}

impl Proxy {
    /// Forwards to `target`, as a clean link until told otherwise.
    pub fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let toxics = Arc::new(Toxics {
            hold_at: AtomicU64::new(u64::MAX),
            ..Toxics::default()
        });
        let t = toxics.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let t = t.clone();
                std::thread::spawn(move || pipe(client, server, t));
            }
        });
        Proxy { addr, toxics }
    }

    /// From now on, drops each connection once it has carried `budget` bytes towards
    /// central.
    pub fn cut_after(&self, budget: usize) {
        self.toxics.budget.store(budget, Ordering::SeqCst);
        self.toxics.cut.store(true, Ordering::SeqCst);
    }

    /// Stops cutting connections.
    pub fn stop_cutting(&self) {
        self.toxics.cut.store(false, Ordering::SeqCst);
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> usize {
        self.toxics.cuts.load(Ordering::SeqCst)
    }

    /// Bytes forwarded towards central so far.
    pub fn forwarded(&self) -> u64 {
        self.toxics.forwarded.load(Ordering::SeqCst)
    }

    /// Holds the station's bytes once `more` bytes beyond those forwarded so far have
    /// gone through.
    pub fn hold_after(&self, more: u64) {
        let at = self.forwarded().saturating_add(more);
        self.toxics.hold_at.store(at, Ordering::SeqCst);
    }

    /// Whether the link is holding bytes back now.
    pub fn holding(&self) -> bool {
        self.forwarded() >= self.toxics.hold_at.load(Ordering::SeqCst)
    }

    /// From now on, holds central's reply to any request whose first line starts with
    /// `request` (e.g. `POST /api/v1/digitisation/bags`): the request reaches central,
    /// the station never hears back.
    pub fn hold_replies_to(&self, request: &str) {
        *self.toxics.hold_reply_to.lock().expect("proxy lock") = Some(request.as_bytes().to_vec());
    }

    /// Replies held so far.
    pub fn replies_held(&self) -> usize {
        self.toxics.replies_held.load(Ordering::SeqCst)
    }

    /// Lets everything through again (held replies go to their connection, if it is
    /// still there).
    pub fn release(&self) {
        self.toxics.hold_at.store(u64::MAX, Ordering::SeqCst);
        *self.toxics.hold_reply_to.lock().expect("proxy lock") = None;
    }
}

impl Toxics {
    fn holding_replies(&self) -> bool {
        self.hold_reply_to.lock().is_ok_and(|p| p.is_some())
    }
}

fn pipe(client: TcpStream, server: TcpStream, t: Arc<Toxics>) {
    let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let (mut s_read, mut c_write) = (server, client);
    let hold_reply = Arc::new(AtomicBool::new(false));
    let (held, t2) = (hold_reply.clone(), t.clone());
    // Central to station: copied as it comes, unless this connection's reply is held.
    let back = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match s_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            while held.load(Ordering::SeqCst) && t2.holding_replies() {
                std::thread::sleep(Duration::from_millis(5));
            }
            if c_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_write.shutdown(Shutdown::Both);
    });
    let mut sent = 0usize;
    let mut buf = [0u8; 16 * 1024];
    loop {
        // A held link reads nothing more from the station until released.
        while t.forwarded.load(Ordering::SeqCst) >= t.hold_at.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let room = t
            .hold_at
            .load(Ordering::SeqCst)
            .saturating_sub(t.forwarded.load(Ordering::SeqCst));
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if want == 0 {
            // Another connection reached the hold meanwhile: wait, don't read 0 bytes
            // (which would look like the station closing).
            continue;
        }
        let n = match c_read.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let pattern = t.hold_reply_to.lock().expect("proxy lock").clone();
        if pattern.is_some_and(|p| buf[..n].starts_with(&p)) {
            t.replies_held.fetch_add(1, Ordering::SeqCst);
            hold_reply.store(true, Ordering::SeqCst);
        }
        if s_write.write_all(&buf[..n]).is_err() {
            break;
        }
        t.forwarded.fetch_add(n as u64, Ordering::SeqCst);
        sent += n;
        if t.cut.load(Ordering::SeqCst) && sent > t.budget.load(Ordering::SeqCst) {
            t.cuts.fetch_add(1, Ordering::SeqCst);
            break;
        }
    }
    let _ = s_write.shutdown(Shutdown::Both);
    let _ = c_read.shutdown(Shutdown::Both);
    let _ = back.join();
}
