//! IIIF: static level 0 images made once from each master, the Image API `info.json`, and
//! the Presentation 3.0 manifest.
//!
//! Files: `{document}/derived/iiif/{page}/info.json`,
//! `.../{page}/full/{w},/0/default.jpg` for each width in [`WIDTHS`] (narrower than the
//! master) and `.../{page}/full/max/0/default.jpg`. They are served under
//! `/iiif/{document}/{page}/`, the page being its position from 1.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use central_store::digitise::{Document, Page};

/// Widths made besides the full size: viewer, thumbnail strip and small thumbnail.
pub const WIDTHS: [u32; 3] = [1000, 400, 150];
/// JPEG quality of the derivatives.
const QUALITY: u8 = 85;

/// What went wrong making the images.
#[derive(Debug, thiserror::Error)]
pub enum IiifError {
    /// The master could not be read or decoded.
    #[error("cannot read master {path}: {source}")]
    Master {
        /// The file.
        path: PathBuf,
        /// Why.
        source: image::ImageError,
    },
    /// A derivative could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The sizes listed in `info.json` for a page of `width` × `height`: each of [`WIDTHS`]
/// narrower than the page, then the full size; heights keep the aspect ratio.
pub fn sizes(width: u32, height: u32) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = WIDTHS
        .iter()
        .rev()
        .filter(|w| **w < width)
        .map(|w| {
            let h = (u64::from(height) * u64::from(*w) + u64::from(width) / 2) / u64::from(width);
            (*w, h.max(1) as u32)
        })
        .collect();
    out.push((width, height));
    out
}

/// The directory of a page's images.
pub fn page_dir(doc_dir: &Path, position: u32) -> PathBuf {
    doc_dir
        .join("derived")
        .join("iiif")
        .join(position.to_string())
}

/// Makes a page's JPEG derivatives from its master. Returns the master's size.
pub fn make_images(
    master: &Path,
    out: &Path,
    limits: &crate::images::ImageLimits,
) -> Result<(u32, u32), IiifError> {
    let img = limits.open(master).map_err(|source| IiifError::Master {
        path: master.to_owned(),
        source,
    })?;
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    for (sw, sh) in sizes(w, h) {
        let scaled = if sw == w {
            rgb.clone()
        } else {
            image::imageops::resize(&rgb, sw, sh, image::imageops::FilterType::Triangle)
        };
        let mut targets = vec![out.join("full").join(format!("{sw},")).join("0")];
        if sw == w {
            targets.push(out.join("full").join("max").join("0"));
        }
        for dir in targets {
            let path = dir.join("default.jpg");
            write_jpeg(&scaled, &path).map_err(|source| IiifError::Write { path, source })?;
        }
    }
    Ok((w, h))
}

fn write_jpeg(
    img: &image::RgbImage,
    path: &Path,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Written aside then renamed, so a reader never sees half a file.
    let tmp = path.with_extension("jpg.part");
    let file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(file, QUALITY);
    enc.encode_image(img)?;
    drop(enc);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The Image API 3 `info.json` of a page, with `id` the page's image service URL.
pub fn info_json(id: &str, width: u32, height: u32) -> Value {
    let sizes: Vec<Value> = sizes(width, height)
        .into_iter()
        .map(|(w, h)| json!({ "width": w, "height": h }))
        .collect();
    json!({
        "@context": "http://iiif.io/api/image/3/context.json",
        "id": id,
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level0",
        "width": width,
        "height": height,
        "sizes": sizes,
    })
}

/// Reads `Key: value` lines of the bag's `bag-info.txt` (Dublin Core and BagIt fields).
pub fn bag_info(doc_dir: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(doc_dir.join("bag").join("bag-info.txt")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .collect()
}

fn lang_map(s: &str) -> Value {
    json!({ "vi": [s] })
}

/// The Presentation 3.0 manifest: one canvas per page with its size, each painted by the
/// page's full image with a level 0 image service. `base` is the server's URL without a
/// trailing slash.
pub fn manifest(
    base: &str,
    doc: &Document,
    pages: &[Page],
    metadata: &[(String, String)],
) -> Value {
    let root = format!("{base}/iiif/{}", doc.id);
    let items: Vec<Value> = pages
        .iter()
        .map(|p| {
            let canvas = format!("{root}/canvas/{}", p.position);
            let service = format!("{root}/{}", p.position);
            let thumb = sizes(p.width, p.height)[0];
            json!({
                "id": canvas,
                "type": "Canvas",
                "label": { "none": [format!("{}", p.position)] },
                "width": p.width,
                "height": p.height,
                "thumbnail": [{
                    "id": format!("{service}/full/{},/0/default.jpg", thumb.0),
                    "type": "Image",
                    "format": "image/jpeg",
                    "width": thumb.0,
                    "height": thumb.1,
                }],
                "items": [{
                    "id": format!("{canvas}/page"),
                    "type": "AnnotationPage",
                    "items": [{
                        "id": format!("{canvas}/page/painting"),
                        "type": "Annotation",
                        "motivation": "painting",
                        "target": canvas,
                        "body": {
                            "id": format!("{service}/full/max/0/default.jpg"),
                            "type": "Image",
                            "format": "image/jpeg",
                            "width": p.width,
                            "height": p.height,
                            "service": [{
                                "id": service,
                                "type": "ImageService3",
                                "profile": "level0",
                            }],
                        },
                    }],
                }],
            })
        })
        .collect();
    let metadata: Vec<Value> = metadata
        .iter()
        .map(|(k, v)| json!({ "label": { "en": [k] }, "value": { "none": [v] } }))
        .collect();
    json!({
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": format!("{root}/manifest.json"),
        "type": "Manifest",
        "label": lang_map(&doc.title),
        "metadata": metadata,
        "rendering": [{
            "id": format!("{base}/documents/{}.pdf", doc.id),
            "type": "Text",
            "label": { "en": ["PDF"], "vi": ["PDF"] },
            "format": "application/pdf",
        }],
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_keep_the_aspect_ratio_and_end_with_the_full_size() {
        assert_eq!(
            sizes(2480, 3508),
            vec![(150, 212), (400, 566), (1000, 1415), (2480, 3508)]
        );
        assert_eq!(sizes(300, 200), vec![(150, 100), (300, 200)]);
    }

    #[test]
    fn manifest_has_one_canvas_per_page_with_its_size() {
        let doc = Document {
            id: "d1".into(),
            title: "Địa chí Kon Tum".into(),
            dir: PathBuf::from("/x"),
        };
        let page = |position| Page {
            position,
            width: 2000,
            height: 3000,
            ocr_state: "done".into(),
            text: None,
        };
        let m = manifest("http://h", &doc, &[page(1), page(2)], &[]);
        assert_eq!(m["label"]["vi"][0], "Địa chí Kon Tum");
        assert_eq!(m["items"].as_array().map(Vec::len), Some(2));
        assert_eq!(m["items"][1]["width"], 2000);
        let body = &m["items"][1]["items"][0]["items"][0]["body"];
        assert_eq!(body["service"][0]["id"], "http://h/iiif/d1/2");
        assert_eq!(body["service"][0]["type"], "ImageService3");
    }
}
