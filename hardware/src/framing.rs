//! Splitting a serial byte stream into barcode frames.
//!
//! Pure logic, no I/O: the serial driver feeds it what it reads and asks for frames.

/// How a reader frames one code on the wire. In TOML: `terminator = "crlf"`,
/// `prefix = [2]`, `suffix = [3]` (bytes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Framing {
    /// What ends a frame.
    pub terminator: Terminator,
    /// Bytes the reader sends before each code; stripped, and required when set.
    pub prefix: Vec<u8>,
    /// Bytes the reader sends after each code, before the terminator; stripped, and
    /// required when set.
    pub suffix: Vec<u8>,
}

impl Default for Framing {
    fn default() -> Self {
        Self {
            terminator: Terminator::Cr,
            prefix: Vec::new(),
            suffix: Vec::new(),
        }
    }
}

/// What ends a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Terminator {
    /// Carriage return (0x0D), the usual scanner default.
    Cr,
    /// Line feed (0x0A).
    Lf,
    /// Carriage return then line feed.
    CrLf,
}

impl Terminator {
    /// The bytes on the wire.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Terminator::Cr => b"\r",
            Terminator::Lf => b"\n",
            Terminator::CrLf => b"\r\n",
        }
    }

    /// Parses `cr`, `lf` or `crlf` (any case), as written in config files.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cr" => Some(Terminator::Cr),
            "lf" => Some(Terminator::Lf),
            "crlf" => Some(Terminator::CrLf),
            _ => None,
        }
    }
}

/// The longest frame kept while waiting for its terminator; longer input is garbage.
pub const MAX_FRAME_LEN: usize = 256;

/// One frame cut from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The payload with prefix and suffix stripped (still unchecked text).
    Code(String),
    /// Something that cannot be a code: a missing prefix or suffix, or an over-long line.
    Garbage(String),
}

/// Accumulates bytes and cuts frames at the terminator, with a bounded buffer.
#[derive(Debug)]
pub struct FrameSplitter {
    framing: Framing,
    buf: Vec<u8>,
    /// Set after an over-long line: drop bytes up to the next terminator, so the tail of the
    /// line is not read as a code of its own.
    skipping: bool,
}

impl FrameSplitter {
    /// A splitter for the given framing.
    pub fn new(framing: Framing) -> Self {
        Self {
            framing,
            buf: Vec::new(),
            skipping: false,
        }
    }

    /// Forgets any partial frame (after a reconnect the half-read line is meaningless).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.skipping = false;
    }

    /// Feeds bytes and returns every frame they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        let term = self.framing.terminator.bytes();
        for &b in bytes {
            self.buf.push(b);
            if self.buf.ends_with(term) {
                let len = self.buf.len() - term.len();
                let raw: Vec<u8> = self.buf.drain(..).take(len).collect();
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                out.push(self.unwrap_frame(&raw));
            } else if self.buf.len() > MAX_FRAME_LEN {
                if !self.skipping {
                    out.push(Frame::Garbage(shown(&self.buf)));
                    self.skipping = true;
                }
                // Keep the last byte: it may be the first half of a CRLF terminator.
                let keep = self.buf.len() - 1;
                self.buf.drain(..keep);
            }
        }
        out
    }

    fn unwrap_frame(&self, raw: &[u8]) -> Frame {
        let Some(rest) = raw.strip_prefix(self.framing.prefix.as_slice()) else {
            return Frame::Garbage(shown(raw));
        };
        let Some(code) = rest.strip_suffix(self.framing.suffix.as_slice()) else {
            return Frame::Garbage(shown(raw));
        };
        match std::str::from_utf8(code) {
            Ok(s) => Frame::Code(s.to_owned()),
            Err(_) => Frame::Garbage(shown(raw)),
        }
    }
}

/// A short printable rendering of raw bytes for error messages.
fn shown(raw: &[u8]) -> String {
    String::from_utf8_lossy(&raw[..raw.len().min(64)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splitter(t: Terminator, prefix: &[u8], suffix: &[u8]) -> FrameSplitter {
        FrameSplitter::new(Framing {
            terminator: t,
            prefix: prefix.to_vec(),
            suffix: suffix.to_vec(),
        })
    }

    fn code(s: &str) -> Frame {
        Frame::Code(s.into())
    }

    #[test]
    fn terminators() {
        let mut s = splitter(Terminator::Cr, b"", b"");
        assert_eq!(s.push(b"KT1\rKT"), vec![code("KT1")]);
        assert_eq!(s.push(b"2\r"), vec![code("KT2")]);
        let mut s = splitter(Terminator::Lf, b"", b"");
        assert_eq!(s.push(b"A\nB\n"), vec![code("A"), code("B")]);
        let mut s = splitter(Terminator::CrLf, b"", b"");
        assert_eq!(s.push(b"A\r"), vec![]);
        assert_eq!(s.push(b"\nB\r\n"), vec![code("A"), code("B")]);
        // A lone CR inside a CRLF-framed stream is payload (the filter rejects it later).
        assert_eq!(s.push(b"C\rD\r\n"), vec![code("C\rD")]);
    }

    #[test]
    fn prefix_and_suffix_are_stripped_and_required() {
        let mut s = splitter(Terminator::Cr, b"\x02", b"\x03");
        assert_eq!(s.push(b"\x02KT9\x03\r"), vec![code("KT9")]);
        assert!(matches!(s.push(b"KT9\x03\r")[..], [Frame::Garbage(_)]));
        assert!(matches!(s.push(b"\x02KT9\r")[..], [Frame::Garbage(_)]));
    }

    #[test]
    fn over_long_line_is_one_garbage_then_resyncs() {
        let mut s = splitter(Terminator::CrLf, b"", b"");
        let long = vec![b'9'; MAX_FRAME_LEN * 3];
        let frames = s.push(&long);
        assert!(matches!(frames[..], [Frame::Garbage(_)]));
        // The tail of the long line ends at this terminator and is dropped.
        assert_eq!(s.push(b"999\r\nKT1\r\n"), vec![code("KT1")]);
        assert!(s.buf.is_empty());
    }

    proptest::proptest! {
        /// However the bytes are cut into reads, the same codes come out, in order.
        #[test]
        fn chunking_does_not_matter(
            codes in proptest::collection::vec("[A-Z0-9]{1,20}", 0..8),
            cuts in proptest::collection::vec(0usize..200, 0..10),
            term in proptest::sample::select(vec![Terminator::Cr, Terminator::Lf, Terminator::CrLf]),
        ) {
            let mut wire = Vec::new();
            for c in &codes {
                wire.extend_from_slice(b"\x02");
                wire.extend_from_slice(c.as_bytes());
                wire.extend_from_slice(term.bytes());
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(wire.len())).collect();
            cuts.push(0);
            cuts.push(wire.len());
            cuts.sort_unstable();
            let mut s = splitter(term, b"\x02", b"");
            let mut got = Vec::new();
            for w in cuts.windows(2) {
                got.extend(s.push(&wire[w[0]..w[1]]));
            }
            let want: Vec<Frame> = codes.iter().map(|c| code(c)).collect();
            proptest::prop_assert_eq!(got, want);
        }

        /// Arbitrary bytes never panic, and the buffer stays bounded.
        #[test]
        fn buffer_is_bounded(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let mut s = splitter(Terminator::CrLf, b"", b"");
            for f in s.push(&bytes) {
                if let Frame::Code(c) = f {
                    proptest::prop_assert!(c.len() <= MAX_FRAME_LEN);
                }
            }
            proptest::prop_assert!(s.buf.len() <= MAX_FRAME_LEN + 1);
        }
    }

    #[test]
    fn invalid_utf8_is_garbage() {
        let mut s = splitter(Terminator::Lf, b"", b"");
        assert!(matches!(s.push(b"\xff\xfe\n")[..], [Frame::Garbage(_)]));
    }
}
