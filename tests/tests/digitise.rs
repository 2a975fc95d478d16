//! Digitisation end to end with the real programs: a staff session on a real edge-agent
//! with the simulated document scanner scans a 10-sheet feeder batch, finishes the job, and
//! the agent uploads the bag to a real central through a link that is cut again and again
//! (a proxy that drops every connection after a few hundred kilobytes). Central checks the
//! bag, keeps it, OCRs it and publishes a IIIF manifest and a PDF. The masters at central
//! match the station's SHA-256 manifest.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rong_tests::http::request_full;
use rong_tests::scenario::{wait_synced, BrokerKind, Scenario};
use rong_tests::wait_until;
use serde_json::Value;

/// Forwards to `target`; while `cut` is set, drops each connection once it has carried
/// `budget` bytes towards central, counting the cuts.
struct CuttingProxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
}

impl CuttingProxy {
    fn start(target: SocketAddr, budget: usize) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let cut = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicUsize::new(0));
        let (c, n) = (cut.clone(), cuts.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let (c, n) = (c.clone(), n.clone());
                std::thread::spawn(move || pipe(client, server, budget, &c, &n));
            }
        });
        CuttingProxy { addr, cut, cuts }
    }
}

fn pipe(client: TcpStream, server: TcpStream, budget: usize, cut: &AtomicBool, cuts: &AtomicUsize) {
    let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let (mut s_read, mut c_write) = (server, client);
    // Central to station: copied as it comes.
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut s_read, &mut c_write);
        let _ = c_write.shutdown(Shutdown::Both);
    });
    let mut sent = 0usize;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match c_read.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if s_write.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n;
        if cut.load(Ordering::Relaxed) && sent > budget {
            cuts.fetch_add(1, Ordering::Relaxed);
            break;
        }
    }
    let _ = s_write.shutdown(Shutdown::Both);
    let _ = c_read.shutdown(Shutdown::Both);
    let _ = back.join();
}

fn files_named(root: &Path, name: &str, out: &mut Vec<PathBuf>) {
    if let Ok(dir) = std::fs::read_dir(root) {
        for e in dir.flatten() {
            let p = e.path();
            if p.is_dir() {
                files_named(&p, name, out);
            } else if p.file_name().and_then(|n| n.to_str()) == Some(name) {
                out.push(p);
            }
        }
    }
}

fn sha256_hex(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_feeder_batch_travels_over_a_cut_link_to_ocr_and_iiif() {
    let scenario = Scenario::start(BrokerKind::Embedded, "");
    let proxy = CuttingProxy::start(scenario.central.http, 300 * 1024);
    let mut agent = rong_tests::Agent::prepare(
        scenario.tmp.path(),
        "kontum-station-1",
        "kontum",
        &scenario.central.mqtt_url,
        &proxy.addr.to_string(),
        "\n[hardware.scanner]\ndriver = \"sim\"\nresolution_dpi = 150\n\n[digitise]\nchunk_bytes = 65536\nretry_max_secs = 1\npoll_secs = 1\n",
    );
    agent.start();
    wait_synced(&agent);
    // The catalogue is in; from now on the link drops every connection after 300 KB.
    proxy.cut.store(true, Ordering::Relaxed);

    let mut api = agent.client();
    let mut call = |v: Value| -> Value {
        let r = api.raw(&v.to_string()).expect("agent answers");
        assert_eq!(r["ok"], true, "{v} → {r}");
        r["result"].clone()
    };
    let session = call(serde_json::json!({"op": "identify", "card": "S0001", "pin": "2468"}))
        ["session"]
        .as_str()
        .expect("session")
        .to_owned();
    let job = call(serde_json::json!({"op": "job_start", "session": session,
        "source": {"kind": "described", "title": "Địa chí Kon Tum (bản quét thử)",
                   "creator": "Thư viện tỉnh Kon Tum", "language": "vie"}}))["job"]
        .as_str()
        .expect("job id")
        .to_owned();
    call(serde_json::json!({"op": "sim_doc_scanner", "action": "load", "sheets": 10}));
    let scanned =
        call(serde_json::json!({"op": "job_scan", "session": session, "job": job, "batch": true}));
    assert_eq!(scanned["pages"], 10, "{scanned}");
    let finished = call(serde_json::json!({"op": "job_finish", "session": session, "job": job}));
    assert_eq!(finished["state"], "queued", "{finished}");

    // The upload gets through the cuts and central says the bag is safe.
    let mut document = String::new();
    wait_until(
        "the job is safe at central",
        Duration::from_secs(240),
        || {
            let jobs = call(serde_json::json!({"op": "job_list", "session": session}));
            let j = &jobs["jobs"][0];
            assert_ne!(j["state"], "refused", "{j}");
            if j["state"] == "safe" {
                document = j["document"].as_str().unwrap_or_default().to_owned();
                true
            } else {
                false
            }
        },
    );
    let cuts = proxy.cuts.load(Ordering::Relaxed);
    assert!(cuts >= 3, "the link was cut only {cuts} times");

    // Central's masters are the station's, byte for byte.
    let mut manifests = Vec::new();
    files_named(scenario.tmp.path(), "manifest-sha256.txt", &mut manifests);
    let station = manifests
        .iter()
        .find(|p| p.to_string_lossy().contains("kontum-station-1"))
        .expect("the station's bag");
    let central_bag = manifests
        .iter()
        .find(|p| {
            p.to_string_lossy()
                .contains(&format!("documents/{document}/bag"))
        })
        .expect("central's copy of the bag")
        .parent()
        .expect("bag dir")
        .to_path_buf();
    let lines = std::fs::read_to_string(station).expect("station manifest");
    let masters: Vec<(&str, &str)> = lines
        .lines()
        .filter_map(|l| l.split_once(char::is_whitespace))
        .map(|(sum, path)| (sum, path.trim()))
        .filter(|(_, path)| path.starts_with("data/master/"))
        .collect();
    assert_eq!(masters.len(), 10);
    for (sum, path) in masters {
        assert_eq!(sha256_hex(&central_bag.join(path)), sum, "{path}");
    }

    // OCR runs, then the IIIF manifest and the PDF are published.
    let http = scenario.central.http;
    let mut manifest = Value::Null;
    wait_until(
        "the IIIF manifest",
        Duration::from_secs(240),
        || match request_full(
            http,
            "GET",
            &format!("/iiif/{document}/manifest.json"),
            &[],
            None,
        ) {
            Ok(r) if r.status == 200 => {
                manifest = serde_json::from_slice(&r.body).expect("manifest JSON");
                true
            }
            _ => false,
        },
    );
    assert_eq!(manifest["type"], "Manifest");
    assert_eq!(manifest["items"].as_array().map(Vec::len), Some(10));
    wait_until("the searchable PDF", Duration::from_secs(240), || {
        request_full(
            http,
            "GET",
            &format!("/documents/{document}.pdf"),
            &[],
            None,
        )
        .is_ok_and(|r| r.status == 200)
    });
    let viewer = request_full(
        http,
        "GET",
        &format!("/opac/documents/{document}"),
        &[],
        None,
    )
    .expect("viewer");
    assert_eq!(viewer.status, 200);
    assert!(
        viewer.text().contains("Địa chí Kon Tum"),
        "{}",
        viewer.text()
    );
}
