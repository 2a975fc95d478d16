//! The `[import]` section of central's configuration: the default branch and item type,
//! and which holdings field and subfields give the items.

use serde::{Deserialize, Serialize};

/// Catalogue import settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// The branch for items whose branch code is missing or unknown; `None` skips such records.
    pub default_branch: Option<String>,
    /// The item type when the holdings field has none (or no item-type subfield is mapped).
    pub default_item_type: String,
    /// Which holdings field gives the items, and which subfields.
    pub holdings: HoldingsConfig,
}

/// The holdings field mapping. Unset subfields take the defaults of the tag (see
/// [`HoldingsConfig::codes`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HoldingsConfig {
    /// The holdings tag: "952" (Koha) or "852" (MARC21 holdings).
    pub tag: String,
    /// Barcode subfield.
    pub barcode: Option<char>,
    /// Home branch subfield.
    pub home_branch: Option<char>,
    /// Holding (current) branch subfield; read but not stored (Rông items have a home branch).
    pub holding_branch: Option<char>,
    /// Item type subfield.
    pub item_type: Option<char>,
    /// Call number subfield.
    pub call_number: Option<char>,
    /// Shelving location subfield.
    pub shelf: Option<char>,
}

/// The effective holdings mapping, as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldingsCodes {
    /// The holdings tag.
    pub tag: [u8; 3],
    /// Barcode subfield.
    pub barcode: u8,
    /// Home branch subfield.
    pub home_branch: u8,
    /// Holding branch subfield, if any.
    pub holding_branch: Option<u8>,
    /// Item type subfield, if any.
    pub item_type: Option<u8>,
    /// Call number subfield.
    pub call_number: u8,
    /// Shelving location subfield.
    pub shelf: u8,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            default_branch: None,
            default_item_type: "book".into(),
            holdings: HoldingsConfig::default(),
        }
    }
}

impl Default for HoldingsConfig {
    fn default() -> Self {
        HoldingsConfig {
            tag: "952".into(),
            barcode: None,
            home_branch: None,
            holding_branch: None,
            item_type: None,
            call_number: None,
            shelf: None,
        }
    }
}

fn code(c: Option<char>, default: Option<u8>) -> Result<Option<u8>, String> {
    match c {
        None => Ok(default),
        Some(c) if c.is_ascii_alphanumeric() => Ok(Some(c as u8)),
        Some(c) => Err(format!(
            "subfield code {c:?} is not an ASCII letter or digit"
        )),
    }
}

impl HoldingsConfig {
    /// The effective mapping: Koha's 952 defaults ($p barcode, $a home branch, $b holding
    /// branch, $y item type, $o call number, $c shelving location) or 852's ($p barcode, $b
    /// location as branch, $h call number, $c shelving location, no item type), with any
    /// configured subfield overriding its default.
    pub fn codes(&self) -> Result<HoldingsCodes, String> {
        let d: (u8, u8, Option<u8>, Option<u8>, u8) = match self.tag.as_str() {
            "952" => (b'p', b'a', Some(b'b'), Some(b'y'), b'o'),
            "852" => (b'p', b'b', None, None, b'h'),
            other => {
                return Err(format!(
                    "import.holdings.tag {other:?} is not supported (use \"952\" or \"852\")"
                ))
            }
        };
        let mut tag = [0u8; 3];
        tag.copy_from_slice(self.tag.as_bytes());
        Ok(HoldingsCodes {
            tag,
            barcode: code(self.barcode, Some(d.0))?.unwrap_or(d.0),
            home_branch: code(self.home_branch, Some(d.1))?.unwrap_or(d.1),
            holding_branch: code(self.holding_branch, d.2)?,
            item_type: code(self.item_type, d.3)?,
            call_number: code(self.call_number, Some(d.4))?.unwrap_or(d.4),
            shelf: code(self.shelf, Some(b'c'))?.unwrap_or(b'c'),
        })
    }
}
