//! The pieces of tus 1.0 (creation, checksum) that both of the kit's ends use: the bag
//! sender that uploads to a real central, and the stand-in central's server.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Lowercase hex of the SHA-256 of `bytes`, as manifests and upload metadata carry it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `Upload-Checksum` of a chunk: `sha256 <base64 digest>`.
pub fn checksum(chunk: &[u8]) -> String {
    format!("sha256 {}", STANDARD.encode(Sha256::digest(chunk)))
}

/// An `Upload-Metadata` value: `key base64(value)` pairs joined by commas.
pub fn encode_metadata(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", STANDARD.encode(v.as_bytes())))
        .collect::<Vec<_>>()
        .join(",")
}

/// The pairs of an `Upload-Metadata` value; `None` when a value is not base64 of UTF-8.
pub fn decode_metadata(header: &str) -> Option<HashMap<String, String>> {
    let mut meta = HashMap::new();
    for pair in header.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = String::from_utf8(STANDARD.decode(value).ok()?).ok()?;
        meta.insert(key.to_owned(), value);
    }
    Some(meta)
}
