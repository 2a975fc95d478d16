use rong_protocol::digitise::{DublinCore, PageInfo};
use rong_tests::interop::python;

use super::*;
use crate::digitise::pages::{process, write_atomic};

fn bagit_validate(dir: &Path) -> (bool, String) {
    let out = python()
        .args(["-m", "bagit", "--validate"])
        .arg(dir)
        .output()
        .expect("run bagit.py");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Three pages written as the agent writes them; the second is shown first.
fn job(dir: &Path) -> Vec<PageRow> {
    let mut rows = Vec::new();
    for page in 1..=3u32 {
        let mut data = vec![230u8; 64 * 48];
        data[page as usize * 100] = 0;
        let p = rong_hardware::scanner::Page {
            width: 64,
            height: 48,
            depth: 8,
            channels: 1,
            dpi: 300,
            data,
        };
        let out = process(&p, 85).unwrap();
        for (kind, ext, bytes) in [
            ("master", "png", &out.master_png),
            ("access", "jpg", &out.access_jpeg),
        ] {
            std::fs::create_dir_all(dir.join(kind)).unwrap();
            write_atomic(&dir.join(kind).join(format!("{page}.{ext}")), bytes).unwrap();
        }
        rows.push(PageRow {
            info: PageInfo {
                page,
                position: page,
                width: 64,
                height: 48,
                dpi: 300,
                rotation: 0,
                checks: vec![],
                master_bytes: out.master_png.len() as u64,
                access_bytes: out.access_jpeg.len() as u64,
            },
            master_sha256: sha256_hex(&out.master_png),
            access_sha256: sha256_hex(&out.access_jpeg),
        });
    }
    rows.swap(0, 1);
    rows
}

#[test]
fn bags_validate_with_bagit_py_and_a_tampered_copy_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let job_dir = dir.path().join("jobs/j1");
    let pages = job(&job_dir);
    let meta = DublinCore {
        title: "Địa chí Kon Tum\nquyển 1".into(),
        creator: Some("Nhiều tác giả".into()),
        language: Some("vie".into()),
        ..Default::default()
    };
    let bags = dir.path().join("bags");
    let files = build(
        &bags,
        &BagInput {
            job: "j1",
            device: "kontum-scan-1",
            branch: "kontum",
            record: Some("R42"),
            metadata: &meta,
            pages: &pages,
            job_dir: &job_dir,
            bagging_date: "2026-11-25",
        },
    )
    .unwrap();
    let order: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        order,
        [
            "bagit.txt",
            "bag-info.txt",
            "manifest-sha256.txt",
            "tagmanifest-sha256.txt",
            "data/access/0001.jpg",
            "data/access/0002.jpg",
            "data/access/0003.jpg",
            "data/master/0001.png",
            "data/master/0002.png",
            "data/master/0003.png",
        ]
    );
    let bag = bags.join("j1");
    assert!(!tmp_dir(&bags, "j1").exists());
    // Reading order: the bag's first page is stable page 2.
    assert_eq!(
        std::fs::read(bag.join("data/master/0001.png")).unwrap(),
        std::fs::read(job_dir.join("master/2.png")).unwrap()
    );
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    for want in [
        "External-Identifier: j1\n",
        "Rong-Device: kontum-scan-1\n",
        "Rong-Record: R42\n",
        "Rong-Pages: 3\n",
        "DC-Title: Địa chí Kon Tum quyển 1\n",
        "DC-Language: vie\n",
    ] {
        assert!(info.contains(want), "{want:?} in {info}");
    }
    for f in &files {
        let bytes = std::fs::read(bag.join(&f.path)).unwrap();
        assert_eq!(
            (bytes.len() as u64, sha256_hex(&bytes)),
            (f.size, f.sha256.clone())
        );
    }
    let (ok, out) = bagit_validate(&bag);
    assert!(ok, "bagit.py refused our bag: {out}");

    // A copy with one changed byte in a master fails, naming the file.
    let bad = dir.path().join("tampered");
    std::fs::create_dir_all(bad.join("data/access")).unwrap();
    std::fs::create_dir_all(bad.join("data/master")).unwrap();
    for f in &files {
        std::fs::copy(bag.join(&f.path), bad.join(&f.path)).unwrap();
    }
    let victim = bad.join("data/master/0002.png");
    let mut bytes = std::fs::read(&victim).unwrap();
    let n = bytes.len() - 20;
    bytes[n] ^= 0x55;
    std::fs::write(&victim, bytes).unwrap();
    let (ok, out) = bagit_validate(&bad);
    assert!(!ok, "bagit.py accepted a tampered bag: {out}");
    assert!(out.contains("0002.png"), "{out}");
}

#[test]
fn a_damaged_page_file_stops_the_bag() {
    let dir = tempfile::tempdir().unwrap();
    let job_dir = dir.path().join("jobs/j2");
    let pages = job(&job_dir);
    std::fs::write(job_dir.join("access/3.jpg"), b"not the scan").unwrap();
    let meta = DublinCore {
        title: "T".into(),
        ..Default::default()
    };
    let err = build(
        &dir.path().join("bags"),
        &BagInput {
            job: "j2",
            device: "d",
            branch: "b",
            record: None,
            metadata: &meta,
            pages: &pages,
            job_dir: &job_dir,
            bagging_date: "2026-11-25",
        },
    )
    .unwrap_err();
    assert!(matches!(err, BagError::Damaged(p) if p.ends_with("access/3.jpg")));
}
