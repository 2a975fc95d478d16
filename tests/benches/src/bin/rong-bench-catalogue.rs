//! The catalogue benchmark: MARC import against pymarc reading the same file, search
//! latency on a device and through central's HTTP API, and the device snapshot's size and
//! load time. Prints a Markdown table for the README.
//!
//! `cargo build --release --bins && target/release/rong-bench-catalogue [--records N]`
//! (needs the venv from `scripts/setup.sh` for pymarc).

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rong_benches::flags::Flags;
use rong_benches::measure::{ms, percentile};
use rong_benches::programs::catalogue::{generate, iso2709, Field, Record};
use rong_benches::setup::{bootstrap_agent, tempdir};
use rong_benches::table::Table;
use rong_protocol::api::{Outcome, Reply, RequestOp};
use rong_tests::central::Central;
use rong_tests::http::{self, percent_encode};
use rong_tests::interop::{interop, venv_python};
use rong_tests::proc::bin;

fn data(tag: &[u8; 3], subs: &[(u8, &str)]) -> Field {
    Field::text(tag, subs)
}

/// Writes `n` generated records (the seed's titles, authors and subjects), each with one
/// item as a Koha 952 field, all held by the provincial library (which holds 271,500 books),
/// so that the device there holds `n` records and `n` items. Returns the titles and authors
/// for queries.
fn write_marc(path: &Path, n: usize) -> (Vec<String>, Vec<String>) {
    let seed = generate(n * 3, 0, 7);
    let mut out = BufWriter::new(std::fs::File::create(path).expect("create MARC file"));
    let mut titles = Vec::new();
    let mut authors = Vec::new();
    let mut items = seed.items.iter().peekable();
    for rec in seed.records.iter().take(n) {
        let mut r = Record::new();
        r.leader[9] = b'a';
        r.fields.push(Field::Control {
            tag: *b"001",
            value: rec.id.clone().into_bytes(),
        });
        if let Some(isbn) = &rec.isbn {
            r.fields.push(data(b"020", &[(b'a', isbn)]));
        }
        r.fields
            .push(data(b"100", &[(b'a', &format!("{},", rec.author))]));
        r.fields.push(data(b"245", &[(b'a', &rec.title)]));
        r.fields.push(data(
            b"260",
            &[
                (b'b', &format!("{},", rec.publisher)),
                (b'c', &rec.year.to_string()),
            ],
        ));
        for s in &rec.subjects {
            r.fields.push(data(b"650", &[(b'a', s)]));
        }
        let mut first = true;
        while let Some(item) = items.next_if(|i| i.record == rec.id) {
            if !std::mem::take(&mut first) {
                continue;
            }
            r.fields.push(data(
                b"952",
                &[
                    (b'a', "kontum"),
                    (b'b', "kontum"),
                    (b'c', &item.shelf),
                    (b'o', &item.call_number),
                    (b'p', &item.barcode),
                    (b'y', &item.item_type),
                ],
            ));
        }
        out.write_all(&iso2709::to_bytes(&r).expect("writable record"))
            .expect("write MARC");
        titles.push(rec.title.clone());
        authors.push(rec.author.clone());
    }
    out.flush().expect("flush MARC");
    (titles, authors)
}

/// What a reader types: prefixes of titles as they grow, whole titles, authors and
/// single common words, with and without diacritics.
fn queries(titles: &[String], authors: &[String], n: usize) -> Vec<String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut out = Vec::new();
    while out.len() < n {
        let t = titles.choose(&mut rng).expect("titles");
        let chars: Vec<char> = t.chars().collect();
        for len in [3usize, 6, 10, 16] {
            if len < chars.len() {
                out.push(chars[..len].iter().collect());
            }
        }
        out.push(rong_protocol::fold::fold(t));
        out.push(authors.choose(&mut rng).expect("authors").clone());
    }
    out.extend(["kon tum", "lịch sử", "tay nguyen", "dia chi", "ba na"].map(String::from));
    out
}

fn main() {
    let flags = Flags::parse("usage: rong-bench-catalogue [--records N]", &["--records"]);
    let records: usize = flags.get("--records", 300_000);
    let tmp = tempdir("rong-bench-catalogue-");
    let mut rows = Table::new();

    let marc = tmp.path().join("catalogue.mrc");
    let (titles, authors) = write_marc(&marc, records);
    let size = std::fs::metadata(&marc).map(|m| m.len()).unwrap_or(0);
    eprintln!("wrote {records} records, {:.1} MB", size as f64 / 1e6);

    // Central with branches and rules only, then the import through the real binary.
    let mut central = Central::prepare(tmp.path(), None, "");
    central.seed(0, 1);
    let t = Instant::now();
    let out = Command::new(bin("central"))
        .args(["import", "marc", marc.to_str().expect("utf-8 path")])
        .env("RONG_DATA_DIR", central.dir().join("data"))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run central import");
    let ours = t.elapsed();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.starts_with(&format!("imported {records},")),
        "import: {summary}"
    );
    let t = Instant::now();
    let py = Command::new(venv_python())
        .arg(interop("marc_tool.py"))
        .args(["count", marc.to_str().expect("utf-8 path")])
        .output()
        .expect("run pymarc (scripts/setup.sh makes its venv)");
    let theirs = t.elapsed();
    let counted: usize = String::from_utf8_lossy(&py.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert_eq!(counted, records, "pymarc read {counted}");
    // Like for like with pymarc: our reader alone (parse and check every record, no
    // database), in this process.
    let t = Instant::now();
    let file = std::fs::File::open(&marc).expect("open the MARC file");
    let mut read = 0usize;
    for record in iso2709::Reader::new(file) {
        let record = record.expect("our reader reads every generated record");
        read += usize::from(record.control_number().is_some());
    }
    let reader_alone = t.elapsed();
    assert_eq!(read, records, "our reader read {read}");
    rows.row(
        format!(
            "`central import marc`: {records} records with items ({:.0} MB), into SQLite",
            size as f64 / 1e6
        ),
        format!(
            "{:.1} s ({:.0} records/s)",
            ours.as_secs_f64(),
            records as f64 / ours.as_secs_f64()
        ),
        "–",
    );
    rows.row(
        "pymarc 5.4 only reading the same file",
        format!(
            "{:.1} s: ours is {:.1}x faster",
            theirs.as_secs_f64(),
            theirs.as_secs_f64() / ours.as_secs_f64()
        ),
        "≥ 10x",
    );
    rows.row(
        "Our MARC reader alone on the same file (parse and check, no database)",
        format!(
            "{:.2} s: {:.0}x faster than pymarc",
            reader_alone.as_secs_f64(),
            theirs.as_secs_f64() / reader_alone.as_secs_f64()
        ),
        "–",
    );

    central.start();
    let snap = http::request(central.http, "GET", "/api/v1/snapshot/kontum", None)
        .expect("snapshot")
        .body;
    rows.row(
        format!("Device snapshot, {records} records and their items (gzip)"),
        format!("{:.1} MB", snap.len() as f64 / 1e6),
        "< 40 MB",
    );
    let (mut agent, took) = bootstrap_agent(tmp.path(), &central, Duration::from_secs(600));
    rows.row(
        "Device bootstrap: snapshot download and load",
        format!("{:.1} s", took.as_secs_f64()),
        "< 30 s",
    );

    let qs = queries(&titles, &authors, 600);
    let mut c = agent.client();
    let mut device = Vec::with_capacity(qs.len());
    let mut found = 0usize;
    let mut slowest: Vec<(Duration, String)> = Vec::with_capacity(qs.len());
    for q in &qs {
        let t = Instant::now();
        let r = c.call(RequestOp::Search {
            q: q.clone(),
            limit: Some(20),
        });
        device.push(t.elapsed());
        slowest.push((t.elapsed(), q.clone()));
        if let Outcome::Ok {
            result: Reply::SearchResults { hits },
            ..
        } = r.outcome
        {
            found += usize::from(!hits.is_empty());
        }
    }
    device.sort();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (d, q) in slowest.iter().take(8) {
        eprintln!("slow on the device: {:.2} ms  {q:?}", d.as_secs_f64() * 1e3);
    }
    rows.row(
        format!(
            "Search on the device over {records} records, local API, {} queries ({found} with hits)",
            qs.len()
        ),
        format!(
            "p50 {}, p99 {}",
            ms(percentile(&device, 0.5)),
            ms(percentile(&device, 0.99))
        ),
        "p99 < 10 ms",
    );
    let mut web = Vec::with_capacity(qs.len());
    for q in &qs {
        let path = format!("/api/v1/search?q={}", percent_encode(q));
        let t = Instant::now();
        let r = central.request("GET", &path, None);
        assert_eq!(r.status, 200);
        web.push(t.elapsed());
    }
    web.sort();
    rows.row(
        format!("Search through central's HTTP API over {records} records"),
        format!(
            "p50 {}, p99 {}",
            ms(percentile(&web, 0.5)),
            ms(percentile(&web, 0.99))
        ),
        "p99 < 20 ms",
    );
    agent.stop();
    central.stop();

    rows.print();
}
