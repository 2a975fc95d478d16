//! A client for the edge-agent's local API: JSON lines over a Unix socket
//! ([`rong_protocol::api`]). The kiosk, `edge-agent ctl`, the end-to-end tests and the
//! benchmarks all speak to the agent through it.
//!
//! A [`Client`] is one connection. [`Client::call`] sends a request with a fresh id and
//! waits for *its* response, passing over pushes; [`Client::subscribe`] turns a connection
//! into a [`Subscription`] that yields pushes one by one. It blocks: every user either has
//! threads of its own (the kiosk) or nothing else to do while it waits.
//!
//! Failures keep the agent's refusal ([`Error::Refused`]) apart from failures to talk to it
//! at all ([`Error::is_transport`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rong_protocol::api::{ApiError, ErrorCode, Outcome, Push, Reply, Request, RequestOp, Response};

/// How long connecting may take before the agent counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest line the client reads. Larger than the agent's request limit
/// ([`rong_protocol::api::MAX_LINE`]): replies carry page pictures and whole job lists.
pub const MAX_REPLY_LINE: usize = 16 * 1024 * 1024;

/// Why a request got no answer, or an answer that says no.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket did not accept a connection.
    #[error("cannot reach the agent at {}: {source}", socket.display())]
    Connect {
        /// The agent's socket.
        socket: PathBuf,
        /// What connecting said.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing failed, or a reply took longer than the reply timeout.
    #[error("lost the agent at {}: {source}", socket.display())]
    Io {
        /// The agent's socket.
        socket: PathBuf,
        /// What the socket said.
        #[source]
        source: std::io::Error,
    },
    /// The agent closed the connection.
    #[error("lost the agent at {}: connection closed", socket.display())]
    Closed {
        /// The agent's socket.
        socket: PathBuf,
    },
    /// The agent sent a line longer than [`MAX_REPLY_LINE`].
    #[error("the agent at {} sent a line longer than {limit} bytes", socket.display())]
    TooLong {
        /// The agent's socket.
        socket: PathBuf,
        /// The limit.
        limit: usize,
    },
    /// A line from the agent was not the JSON expected.
    #[error("unreadable line from the agent {line:?}: {source}")]
    Decode {
        /// The line as it came.
        line: String,
        /// What the decoder said.
        #[source]
        source: serde_json::Error,
    },
    /// The request could not be written as JSON.
    #[error("cannot encode the request: {0}")]
    Encode(#[source] serde_json::Error),
    /// The agent answered, and refused.
    #[error("refused: {}: {}", code_name(.0.code), .0.message)]
    Refused(ApiError),
}

impl Error {
    /// Whether the conversation with the agent failed (as opposed to the agent refusing):
    /// the request may or may not have been carried out.
    pub fn is_transport(&self) -> bool {
        !matches!(self, Error::Refused(_))
    }
}

/// An error code as it is written on the wire (`loan_limit`).
pub fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

/// A response as it came: its line, and what it says.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The line, without its newline.
    pub line: String,
    /// The decoded response.
    pub response: Response,
}

impl Answer {
    /// Whether the agent did what was asked.
    pub fn is_ok(&self) -> bool {
        matches!(self.response.outcome, Outcome::Ok { .. })
    }

    /// The reply, or the agent's refusal.
    pub fn outcome(self) -> Result<Reply, ApiError> {
        match self.response.outcome {
            Outcome::Ok { result, .. } => Ok(result),
            Outcome::Err { error, .. } => Err(error),
        }
    }
}

/// One connection to the agent's local API.
#[derive(Debug)]
pub struct Client {
    socket: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

impl Client {
    /// Connects to the agent at `socket`, giving up after [`CONNECT_TIMEOUT`]. Each later
    /// read waits at most `reply_timeout` (`None`: as long as it takes, which a feeder
    /// batch or a push subscription needs).
    pub fn connect(
        socket: impl AsRef<Path>,
        reply_timeout: Option<Duration>,
    ) -> Result<Client, Error> {
        let socket = socket.as_ref().to_owned();
        let stream = open(&socket, reply_timeout).map_err(|source| Error::Connect {
            socket: socket.clone(),
            source,
        })?;
        let writer = stream.try_clone().map_err(|source| Error::Connect {
            socket: socket.clone(),
            source,
        })?;
        Ok(Client {
            socket,
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
        })
    }

    /// The agent's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends `op` and returns the agent's reply; a refusal is [`Error::Refused`].
    pub fn call(&mut self, op: RequestOp) -> Result<Reply, Error> {
        self.request(op)?.outcome().map_err(Error::Refused)
    }

    /// Sends `op` with a fresh id and returns its response, success or refusal alike.
    /// Pushes, and stale responses of other ids, are passed over.
    pub fn request(&mut self, op: RequestOp) -> Result<Answer, Error> {
        let id = self.next_id;
        self.next_id += 1;
        let line = serde_json::to_string(&Request { id, op }).map_err(Error::Encode)?;
        self.send_line(&line)?;
        loop {
            let line = self.read_line()?;
            // Decode as a response first: replies can be megabytes, pushes are rare.
            match serde_json::from_str::<Response>(&line) {
                Ok(response) if response.id == id => return Ok(Answer { line, response }),
                Ok(_) => {}
                Err(_) if is_push(&line) => {}
                Err(source) => return Err(Error::Decode { line, source }),
            }
        }
    }

    /// Sends one line as it is (a newline is added) and returns the next line that is not
    /// a push, undecoded: for `ctl raw` and for tests of what the agent makes of bad input.
    pub fn raw(&mut self, line: &str) -> Result<String, Error> {
        self.send_line(line)?;
        loop {
            let line = self.read_line()?;
            if !is_push(&line) {
                return Ok(line);
            }
        }
    }

    /// Writes bytes as they are, newline or none: for tests of the agent's line handling.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.writer
            .write_all(bytes)
            .map_err(|source| self.io(source))
    }

    /// Reads the next line, whatever it is (a response or a push), without its newline.
    pub fn read_line(&mut self) -> Result<String, Error> {
        let mut buf = Vec::with_capacity(256);
        let mut limited = (&mut self.reader).take(MAX_REPLY_LINE as u64 + 1);
        let n = limited
            .read_until(b'\n', &mut buf)
            .map_err(|source| Error::Io {
                socket: self.socket.clone(),
                source,
            })?;
        if n == 0 {
            return Err(Error::Closed {
                socket: self.socket.clone(),
            });
        }
        if buf.last() != Some(&b'\n') && buf.len() > MAX_REPLY_LINE {
            return Err(Error::TooLong {
                socket: self.socket.clone(),
                limit: MAX_REPLY_LINE,
            });
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// Asks for pushes on this connection and returns it as a [`Subscription`].
    pub fn subscribe(mut self) -> Result<Subscription, Error> {
        self.call(RequestOp::Subscribe)?;
        Ok(self.into_pushes())
    }

    /// This connection as a [`Subscription`], for a caller that sent `subscribe` itself
    /// (with [`Client::request`], to show its answer).
    pub fn into_pushes(self) -> Subscription {
        Subscription { client: self }
    }

    fn send_line(&mut self, line: &str) -> Result<(), Error> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.send_raw(&bytes)
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            socket: self.socket.clone(),
            source,
        }
    }
}

/// A connection that receives pushes: barcodes, card taps, central's messages, pages.
#[derive(Debug)]
pub struct Subscription {
    client: Client,
}

impl Subscription {
    /// The next push, decoded. A push this client does not know is [`Error::Decode`]; the
    /// subscription stays usable after it.
    pub fn next_push(&mut self) -> Result<Push, Error> {
        let line = self.next_line()?;
        serde_json::from_str(&line).map_err(|source| Error::Decode { line, source })
    }

    /// The next line as it came (for `ctl watch`, which prints them).
    pub fn next_line(&mut self) -> Result<String, Error> {
        self.client.read_line()
    }
}

fn open(socket: &Path, reply_timeout: Option<Duration>) -> std::io::Result<UnixStream> {
    let s = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    s.connect_timeout(&socket2::SockAddr::unix(socket)?, CONNECT_TIMEOUT)?;
    let stream = UnixStream::from(std::os::fd::OwnedFd::from(s));
    stream.set_read_timeout(reply_timeout)?;
    // A writer blocks only when the agent stops reading; give it as long as a reply.
    stream.set_write_timeout(reply_timeout)?;
    Ok(stream)
}

/// Whether a line is a push (`{"push": ...}`) rather than a response.
fn is_push(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .is_some_and(|v| v.get("push").is_some())
}

#[cfg(test)]
mod tests;
