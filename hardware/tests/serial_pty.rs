//! The serial barcode driver against a real pseudo-terminal pair: the test writes on the
//! master side what a scanner would send; the driver reads the slave side.
#![cfg(feature = "serial")]

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rong_hardware::{
    BarcodeError, BarcodeReader, ErrorKind, Framing, SerialBarcode, SerialConfig, Terminator,
};

/// Generous: CI machines are slow, and every wait below ends as soon as its condition holds.
const DEADLINE: Duration = Duration::from_secs(10);
const STEP: Duration = Duration::from_millis(50);

/// One end of a pty pair: the "scanner" side.
struct Scanner {
    master: File,
    slave_path: PathBuf,
    /// Held until the driver has opened the slave, so the pty does not vanish first.
    slave: Option<std::os::fd::OwnedFd>,
}

fn plug_in() -> Scanner {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave_path = nix::unistd::ttyname(&pty.slave).expect("ttyname of the pty slave");
    Scanner {
        master: File::from(pty.master),
        slave_path,
        slave: Some(pty.slave),
    }
}

impl Scanner {
    fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("write to pty master");
        self.master.flush().expect("flush pty master");
    }
}

fn config(path: &Path, terminator: Terminator) -> SerialConfig {
    let mut c = SerialConfig::new(path.to_string_lossy());
    c.framing = Framing {
        terminator,
        prefix: Vec::new(),
        suffix: Vec::new(),
    };
    c.debounce = Duration::from_secs(30);
    c
}

/// Reads until the driver yields a code or an error, or the deadline passes.
fn next(reader: &mut SerialBarcode) -> Result<String, BarcodeError> {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        if let Some(code) = reader.next_code(STEP)? {
            return Ok(code);
        }
    }
    panic!("nothing read within {DEADLINE:?}");
}

fn open(scanner: &mut Scanner, cfg: SerialConfig) -> SerialBarcode {
    let r = SerialBarcode::open(cfg).expect("open pty slave");
    scanner.slave = None;
    r
}

#[test]
fn each_terminator_frames_codes() {
    for (term, wire) in [
        (Terminator::Cr, &b"KT0001\rKT0002\r"[..]),
        (Terminator::Lf, &b"KT0001\nKT0002\n"[..]),
        (Terminator::CrLf, &b"KT0001\r\nKT0002\r\n"[..]),
    ] {
        let mut s = plug_in();
        let cfg = config(&s.slave_path, term);
        let mut r = open(&mut s, cfg);
        // Split the write so one frame straddles two reads.
        s.send(&wire[..4]);
        s.send(&wire[4..]);
        assert_eq!(next(&mut r).unwrap(), "KT0001", "{term:?}");
        assert_eq!(next(&mut r).unwrap(), "KT0002", "{term:?}");
        assert_eq!(r.next_code(Duration::from_millis(20)).unwrap(), None);
    }
}

#[test]
fn prefix_and_suffix_are_stripped() {
    let mut s = plug_in();
    let mut cfg = config(&s.slave_path, Terminator::CrLf);
    cfg.framing.prefix = b"]E0".to_vec();
    cfg.framing.suffix = vec![0x03];
    let mut r = open(&mut s, cfg);
    s.send(b"]E08935000000017\x03\r\nKT0009\r\n]E0KT0010\x03\r\n");
    assert_eq!(next(&mut r).unwrap(), "8935000000017");
    assert_eq!(next(&mut r).unwrap_err().kind(), ErrorKind::Garbage);
    assert_eq!(next(&mut r).unwrap(), "KT0010");
}

#[test]
fn garbage_is_rejected_and_repeats_are_debounced() {
    let mut s = plug_in();
    let cfg = config(&s.slave_path, Terminator::Cr);
    let mut r = open(&mut s, cfg);
    s.send(b"KT\x1b01\r");
    assert_eq!(next(&mut r).unwrap_err().kind(), ErrorKind::Garbage);
    s.send(&[b'7'; 1000]);
    s.send(b"\r");
    assert_eq!(next(&mut r).unwrap_err().kind(), ErrorKind::Garbage);
    // The tail of the long line is dropped, not read as a code; the reader resynchronises.
    s.send(b"KT0003\rKT0003\rKT0003\rKT0004\r");
    assert_eq!(next(&mut r).unwrap(), "KT0003");
    assert_eq!(next(&mut r).unwrap(), "KT0004");
}

#[test]
fn unplug_then_replug_resumes() {
    // A stable link, as udev's /dev/serial/by-id gives, pointing at the current pty.
    let dir = tempfile::tempdir().expect("temp dir");
    let link = dir.path().join("scanner");
    let mut s = plug_in();
    std::os::unix::fs::symlink(&s.slave_path, &link).expect("symlink");
    let mut r = open(&mut s, config(&link, Terminator::Cr));
    s.send(b"KT0005\r");
    assert_eq!(next(&mut r).unwrap(), "KT0005");

    drop(s); // unplug: the master side closes
    let err = next(&mut r).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    assert!(!r.is_open());
    // While unplugged, each read tries to reopen and reports the reader missing.
    let err = r.next_code(STEP).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");

    // Replug: a new device behind the same link.
    let mut s = plug_in();
    std::fs::remove_file(&link).expect("remove link");
    std::os::unix::fs::symlink(&s.slave_path, &link).expect("symlink");
    let end = Instant::now() + DEADLINE;
    while !r.is_open() {
        assert!(Instant::now() < end, "reader never reopened");
        // Disconnected until the reopen succeeds; after that, nothing read yet.
        match r.next_code(STEP) {
            Ok(code) => assert_eq!(code, None),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Disconnected, "{e}"),
        }
    }
    s.slave = None;
    s.send(b"KT0006\r");
    assert_eq!(next(&mut r).unwrap(), "KT0006");
}

#[test]
fn missing_device_is_disconnected() {
    let err = SerialBarcode::open(SerialConfig::new("/dev/rong-no-such-scanner")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
}
