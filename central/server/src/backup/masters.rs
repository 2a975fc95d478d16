//! `central documents verify DIR`: checks a copy of the document masters against the
//! database that lists them, bag by bag, with the SHA-256 manifests the bags carry.

use std::path::Path;

use anyhow::Context;

use central_store::Reads;

/// What a check of a masters copy found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MastersCheck {
    /// Documents whose bag in the copy passed every fixity check.
    pub sound: usize,
    /// Their payload bytes.
    pub bytes: u64,
    /// One line per document that is missing or damaged in the copy.
    pub problems: Vec<String>,
}

/// Checks that every document the database at `db` lists has its bag under
/// `copy/documents/{id}/bag/` (a copy of central's data directory), and that each bag
/// passes the BagIt checks: every payload file against `manifest-sha256.txt`, nothing
/// extra, `Payload-Oxum`. Documents in the copy that `db` does not list are newer than it
/// and are not looked at.
pub fn verify(db: &Path, copy: &Path) -> anyhow::Result<MastersCheck> {
    rong_sqlite::backup::verify(db, central_store::SCHEMA_VERSION)
        .with_context(|| format!("cannot read the document list in {}", db.display()))?;
    anyhow::ensure!(copy.is_dir(), "{} is not a directory", copy.display());
    let docs = Reads::new(db).blocking(|c| central_store::documents::documents(c, None))?;
    let mut out = MastersCheck::default();
    for d in docs {
        let bag = d.bag_dir(copy);
        let id = &d.doc.document;
        if !bag.is_dir() {
            out.problems
                .push(format!("{id}: missing ({} not found)", bag.display()));
            continue;
        }
        match central_digitise::bag::check(&bag) {
            Ok(checked) => {
                out.sound += 1;
                out.bytes += checked.bytes;
            }
            Err(p) => out.problems.push(match &p.file {
                Some(f) => format!("{id}: {f}: {}", p.reason),
                None => format!("{id}: {}", p.reason),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use central_store::documents::NewDocument;
    use central_store::Store;
    use sha2::Digest;

    /// Writes a one-page bag for `id` under `data/documents/{id}/bag/`.
    fn bag(data: &Path, id: &str, page: &[u8]) {
        let bag = data.join("documents").join(id).join("bag");
        std::fs::create_dir_all(bag.join("data")).unwrap();
        std::fs::write(bag.join("data/page.png"), page).unwrap();
        std::fs::write(
            bag.join("bagit.txt"),
            "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        )
        .unwrap();
        std::fs::write(
            bag.join("bag-info.txt"),
            format!("Payload-Oxum: {}.1\n", page.len()),
        )
        .unwrap();
        let sum = sha2::Sha256::digest(page);
        let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(
            bag.join("manifest-sha256.txt"),
            format!("{hex}  data/page.png\n"),
        )
        .unwrap();
    }

    #[test]
    fn a_masters_copy_is_checked_against_the_database_and_the_manifests() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("central.db");
        let mut store = Store::open(&db).unwrap();
        for (k, id) in ["d1", "d2", "d3"].iter().enumerate() {
            store
                .insert_document(&NewDocument {
                    document: (*id).into(),
                    job: format!("job{k}"),
                    device: "kontum-station-1".into(),
                    branch: "kontum".into(),
                    title: "Địa chí".into(),
                    pages: 1,
                    bytes: 5,
                    received_at: 1,
                    ..NewDocument::default()
                })
                .unwrap();
        }
        drop(store);
        let copy = tmp.path().join("copy");
        bag(&copy, "d1", b"page1");
        bag(&copy, "d2", b"page2");
        // d2's master changed in the copy after its manifest was written; d3 never came.
        std::fs::write(copy.join("documents/d2/bag/data/page.png"), b"pageX").unwrap();
        let found = verify(&db, &copy).unwrap();
        assert_eq!(found.sound, 1);
        assert_eq!(found.bytes, 5);
        assert_eq!(found.problems.len(), 2, "{:?}", found.problems);
        assert!(found
            .problems
            .iter()
            .any(|p| p.starts_with("d2: data/page.png")));
        assert!(found.problems.iter().any(|p| p.starts_with("d3: missing")));
    }
}
