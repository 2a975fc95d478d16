//! The kiosk's benchmark: cold start to first frame, memory on the software renderer, and
//! scan-to-screen latency, with Chromium headless showing a comparable self-check page in
//! the same run for the memory ratio. Prints a Markdown table.
//!
//! `cargo build --release --bins && target/release/rong-bench-kiosk [--runs 5]`. Needs
//! `Xvfb` and `xwd` (Debian `xvfb`, `x11-apps`) and `chromium`.
//!
//! Everything is watched from outside the programs: the kiosk runs in a real X window on
//! Xvfb (winit, software renderer), and the screen is read back with `xwd`. "First frame"
//! is the first capture in which the window has drawn anything; "scan to screen" is from
//! the simulated scan reaching the agent's API to the first capture that differs. A capture
//! takes 10–30 ms here, which bounds the resolution of both.

#![allow(clippy::print_stdout)] // the table on stdout is this program's output

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rong_benches::flags::Flags;
use rong_benches::measure::{process_tree, pss_kb, status_kb};
use rong_tests::fixtures::barcode;
use rong_tests::proc::bin;
use rong_tests::scenario::{BrokerKind, Scenario};
use rong_tests::{wait_for, ApiClient};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 800;

fn main() {
    let flags = Flags::parse("usage: rong-bench-kiosk [--runs N]", &["--runs"]);
    let runs: usize = flags.get("--runs", 5);
    let kiosk_bin = bin("kiosk");

    let xvfb = Xvfb::start();
    let scenario = Scenario::start(BrokerKind::Embedded, "");
    let agent = scenario.agent("kontum-kiosk-bench", "kontum");
    let mut api = ApiClient::connect(&agent.socket).expect("agent API");

    let mut first_frame = Vec::new();
    let mut latency = Vec::new();
    let mut rss_idle = Vec::new();
    let mut pss_idle = Vec::new();
    let mut hwm = Vec::new();
    for run in 0..runs {
        let blank = xvfb.capture();
        let t0 = Instant::now();
        let mut kiosk = Command::new(&kiosk_bin)
            .env("DISPLAY", &xvfb.display)
            .env("RONG_KIOSK_SOCKET", &agent.socket)
            .env("RONG_KIOSK_WIDTH", WIDTH.to_string())
            .env("RONG_KIOSK_HEIGHT", HEIGHT.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the kiosk");
        assert!(
            wait_for(Duration::from_secs(20), || xvfb.capture() != blank),
            "the kiosk drew nothing in 20 s"
        );
        first_frame.push(t0.elapsed());

        // Settled: connected to the agent, start screen drawn, nothing moving.
        let settled = xvfb.settle();
        let pid = kiosk.id();
        rss_idle.push(status_kb(pid, "VmRSS"));
        pss_idle.push(pss_kb(&[pid]));

        // A scan on the start screen brings the "choose what to do first" notice.
        let code = barcode(run);
        let t = Instant::now();
        api.raw(&format!(r#"{{"op":"sim_scan","code":"{code}"}}"#))
            .expect("sim scan");
        assert!(
            wait_for(Duration::from_secs(10), || xvfb.capture() != settled),
            "the scan never reached the screen"
        );
        latency.push(t.elapsed());
        hwm.push(status_kb(pid, "VmHWM"));
        stop(&mut kiosk);
        xvfb.settle();
    }
    drop(api);
    drop(agent);
    drop(scenario);

    let chromium = chromium_memory(&xvfb);

    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let stats = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (ff_med, ff_max) = stats(&first_frame.iter().map(ms).collect::<Vec<_>>());
    let (lat_med, lat_max) = stats(&latency.iter().map(ms).collect::<Vec<_>>());
    let mb = |kb: u64| kb as f64 / 1024.0;
    let (rss_med, _) = stats(&rss_idle.iter().map(|k| mb(*k)).collect::<Vec<_>>());
    let (pss_med, _) = stats(&pss_idle.iter().map(|k| mb(*k)).collect::<Vec<_>>());
    let (_, hwm_max) = stats(&hwm.iter().map(|k| mb(*k)).collect::<Vec<_>>());

    println!("| Kiosk, {runs} cold starts, {WIDTH}×{HEIGHT}, winit + software renderer on Xvfb | median | worst |");
    println!("|---|---|---|");
    println!("| Cold start to first frame | {ff_med:.0} ms | {ff_max:.0} ms |");
    println!("| Scan to screen (agent API → pixels changed) | {lat_med:.0} ms | {lat_max:.0} ms |");
    println!("| Resident memory, start screen (RSS) | {rss_med:.1} MB | peak {hwm_max:.1} MB |");
    println!("| Proportional memory, start screen (PSS) | {pss_med:.1} MB | |");
    match chromium {
        Some((procs, rss, pss)) => {
            println!(
                "| Chromium headless, comparable self-check page ({procs} processes, RSS summed) | {:.1} MB | |",
                mb(rss)
            );
            println!("| Chromium headless, PSS summed | {:.1} MB | |", mb(pss));
            println!(
                "| Memory ratio Chromium / kiosk (PSS) | {:.1}× | |",
                mb(pss) / pss_med
            );
        }
        None => println!("| Chromium headless | not measured: chromium did not start | |"),
    }
}

/// A private X server.
struct Xvfb {
    display: String,
    child: Child,
}

impl Xvfb {
    fn start() -> Xvfb {
        // The first display number whose socket is free.
        let n = (90..200)
            .find(|n| !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists())
            .expect("a free X display");
        let child = Command::new("Xvfb")
            .arg(format!(":{n}"))
            .args(["-screen", "0", &format!("{WIDTH}x{HEIGHT}x24")])
            .args(["-nolisten", "tcp", "-br"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb (Debian xvfb)");
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        assert!(
            wait_for(Duration::from_secs(10), || socket.exists()),
            "Xvfb did not start"
        );
        let x = Xvfb {
            display: format!(":{n}"),
            child,
        };
        assert!(
            wait_for(Duration::from_secs(10), || !x.capture().is_empty()),
            "xwd cannot read the screen"
        );
        x
    }

    /// The screen's pixels (the XWD image data after its header and colour map).
    fn capture(&self) -> Vec<u8> {
        let out = Command::new("xwd")
            .args(["-root", "-silent", "-display", &self.display])
            .output()
            .expect("run xwd (Debian x11-apps)");
        let d = out.stdout;
        let word = |i: usize| {
            d.get(i * 4..i * 4 + 4)
                .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        };
        let start = word(0) + word(19) * 12;
        d.get(start..).map(<[u8]>::to_vec).unwrap_or_default()
    }

    /// Waits until two captures 300 ms apart agree, and returns the last.
    fn settle(&self) -> Vec<u8> {
        let mut last = self.capture();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(300));
            let now = self.capture();
            if now == last {
                return now;
            }
            last = now;
        }
        last
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A page like the kiosk's start screen: a title, a language switch, four big actions and
/// a status line, with a script polling a status the way the kiosk polls its agent.
const SELF_CHECK_PAGE: &str = r#"<!doctype html><html lang="vi"><meta charset="utf-8">
<title>Rông</title><style>
body{margin:0;font-family:sans-serif;background:#f6f3ea;color:#1b1b1b}
header{display:flex;justify-content:space-between;padding:24px;font-size:32px}
main{display:grid;grid-template-columns:1fr 1fr;gap:24px;padding:24px}
button{min-height:160px;font-size:36px;border-radius:16px;border:0;background:#0b5d3b;color:#fff}
footer{position:fixed;bottom:0;padding:12px 24px;font-size:18px}
</style><header><b>Thư viện tỉnh Kon Tum</b><span>Tiếng Việt | English</span></header>
<main><button>Mượn sách</button><button>Trả sách</button><button>Tài khoản</button>
<button>Tìm sách</button></main><footer id="s">Đang kiểm tra…</footer>
<script>let n=0;setInterval(()=>{n++;document.getElementById('s').textContent=
'Máy sẵn sàng · kiểm tra lần '+n},2000);</script></html>"#;

/// Chromium headless showing the self-check page at the kiosk's size: (processes, summed
/// RSS kB, summed PSS kB), once the page has loaded and settled.
fn chromium_memory(_x: &Xvfb) -> Option<(usize, u64, u64)> {
    let dir = tempfile::tempdir().ok()?;
    let page = dir.path().join("self-check.html");
    std::fs::write(&page, SELF_CHECK_PAGE).ok()?;
    let profile = dir.path().join("profile");
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // The DevTools port file appears once the browser is up; then let the page settle the
    // way the kiosk's screen did (its renderer and GPU process start after that).
    let port_file = profile.join("DevToolsActivePort");
    let up = wait_for(Duration::from_secs(30), || port_file.exists());
    let mut result = None;
    if up {
        let mut last = 0;
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(500));
            let n = process_tree(child.id()).len();
            if n == last && n >= 3 {
                break;
            }
            last = n;
        }
        let pids = process_tree(child.id());
        let rss = pids.iter().map(|p| status_kb(*p, "VmRSS")).sum();
        result = Some((pids.len(), rss, pss_kb(&pids)));
    }
    stop(&mut child);
    result
}
