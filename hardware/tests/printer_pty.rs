//! The ESC/POS driver over a real serial line (a pseudo-terminal pair): a thread on the
//! master side plays the printer, answering status queries and recording the job.
#![cfg(feature = "serial")]

use std::fs::File;
use std::io::{Read, Write};
use std::time::Duration;

use rong_hardware::printer::escpos::{CUT, INIT};
use rong_hardware::printer::{decode_raster, render, Bitmap};
use rong_hardware::serial::open_port;
use rong_hardware::{EscPos, PaperWidth, PrinterStatus, Receipt, ReceiptPrinter};

#[test]
fn status_and_print_over_a_serial_line() {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let path = nix::unistd::ttyname(&pty.slave).expect("ttyname");
    let port = open_port(&path.to_string_lossy(), 115_200).expect("open pty slave");
    drop(pty.slave);
    let mut master = File::from(pty.master);

    // The printer: out of paper, so DLE EOT 1/2/4 answer offline / paper-end / paper-end.
    // It answers queries until the first byte that is not one; the rest is the job.
    let printer = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let mut queries = 0;
        let mut job_started = false;
        loop {
            let n = match master.read(&mut buf) {
                Ok(0) | Err(_) => break, // the driver closed its side
                Ok(n) => n,
            };
            got.extend_from_slice(&buf[..n]);
            while !job_started && got.len() >= queries + 3 {
                let answer = match got[queries..queries + 3] {
                    [0x10, 0x04, 1] => 0x1a,
                    [0x10, 0x04, 2] => 0x32,
                    [0x10, 0x04, 4] => 0x72,
                    _ => {
                        job_started = true;
                        break;
                    }
                };
                master.write_all(&[answer]).expect("answer");
                queries += 3;
            }
        }
        got.split_off(queries)
    });

    let mut p = EscPos::new(port, PaperWidth::Mm58, Duration::from_secs(5));
    assert_eq!(p.status(), PrinterStatus::PaperOut);
    let receipt = Receipt::sample();
    p.print(&receipt).expect("print");
    drop(p);

    let job = printer.join().expect("printer thread");
    assert!(job.starts_with(&INIT), "job starts with ESC @");
    assert!(job.ends_with(&CUT), "job ends with a cut");
    assert_eq!(
        Bitmap::vstack(&decode_raster(&job)),
        Some(render(&receipt, PaperWidth::Mm58))
    );
}
