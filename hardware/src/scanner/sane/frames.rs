//! Turns the frames SANE delivers into a [`Page`]: row padding removed, and three-pass
//! red, green and blue frames interleaved.

use crate::scanner::{Page, ScanError};

/// One frame's shape, as `SANE_Parameters` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FrameShape {
    /// 0 grey, 1 RGB, 2/3/4 red/green/blue only.
    pub format: i32,
    /// Bytes per line, padding included.
    pub bytes_per_line: usize,
    /// Pixels per line.
    pub pixels_per_line: u32,
    /// Bits per sample.
    pub depth: u8,
}

/// Builds a page from `frames` (one, or three for a three-pass colour scan). The height
/// is the number of whole lines read: ADF scanners that detect the paper length deliver
/// fewer (or more) lines than they announce.
pub(super) fn assemble(frames: Vec<(FrameShape, Vec<u8>)>, dpi: u32) -> Result<Page, ScanError> {
    let Some((first, _)) = frames.first() else {
        return Err(ScanError::Io("scan gave no frame".into()));
    };
    let first = *first;
    let bad = |why: &str| ScanError::Io(format!("unexpected scan data: {why} ({first:?})"));
    if !matches!(first.depth, 1 | 8 | 16) || first.bytes_per_line == 0 {
        return Err(bad("depth or line length"));
    }
    let width = first.pixels_per_line;
    match first.format {
        0 | 1 => {
            if frames.len() != 1 {
                return Err(bad("several frames for a single-pass scan"));
            }
            let channels = if first.format == 1 { 3 } else { 1 };
            if first.depth == 1 && channels == 3 {
                return Err(ScanError::Unsupported("1-bit colour".into()));
            }
            let row = Page::row_bytes(width, first.depth, channels);
            if row > first.bytes_per_line {
                return Err(bad("line shorter than its pixels"));
            }
            let (_, data) = frames.into_iter().next().ok_or_else(|| bad("no frame"))?;
            let data = strip(&data, first.bytes_per_line, row);
            let height = (data.len() / row.max(1)) as u32;
            let page = Page {
                width,
                height,
                depth: first.depth,
                channels,
                dpi,
                data,
            };
            page.validate()?;
            Ok(page)
        }
        2..=4 => {
            if frames.len() != 3 || first.depth == 1 {
                return Err(ScanError::Unsupported(
                    "this three-pass colour format".into(),
                ));
            }
            let sample = usize::from(first.depth / 8);
            let row = Page::row_bytes(width, first.depth, 1);
            let mut planes: [Vec<u8>; 3] = Default::default();
            for (shape, data) in frames {
                if shape.pixels_per_line != width || shape.depth != first.depth {
                    return Err(bad("frames of different shapes"));
                }
                let channel = (shape.format - 2) as usize;
                planes[channel] = strip(&data, shape.bytes_per_line, row);
            }
            let height = planes.iter().map(|p| p.len() / row).min().unwrap_or(0);
            let mut data = Vec::with_capacity(row * 3 * height);
            for i in 0..width as usize * height {
                for plane in &planes {
                    data.extend_from_slice(&plane[i * sample..(i + 1) * sample]);
                }
            }
            let page = Page {
                width,
                height: height as u32,
                depth: first.depth,
                channels: 3,
                dpi,
                data,
            };
            page.validate()?;
            Ok(page)
        }
        other => Err(ScanError::Unsupported(format!("SANE frame format {other}"))),
    }
}

/// Keeps the first `row` bytes of each whole `stride`-byte line.
fn strip(data: &[u8], stride: usize, row: usize) -> Vec<u8> {
    if stride == row {
        return data[..data.len() / stride * stride].to_vec();
    }
    data.chunks_exact(stride)
        .flat_map(|line| &line[..row])
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(format: i32, bpl: usize, ppl: u32, depth: u8) -> FrameShape {
        FrameShape {
            format,
            bytes_per_line: bpl,
            pixels_per_line: ppl,
            depth,
        }
    }

    #[test]
    fn padding_and_partial_lines_are_dropped() {
        let data = vec![1, 2, 3, 0, 4, 5, 6, 0, 7];
        let p = assemble(vec![(shape(0, 4, 3, 8), data)], 100).unwrap();
        assert_eq!((p.width, p.height, p.channels), (3, 2, 1));
        assert_eq!(p.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn three_pass_frames_interleave_in_channel_order() {
        let frames = vec![
            (shape(4, 2, 2, 8), vec![30, 31]),
            (shape(2, 2, 2, 8), vec![10, 11]),
            (shape(3, 2, 2, 8), vec![20, 21]),
        ];
        let p = assemble(frames, 50).unwrap();
        assert_eq!(p.data, vec![10, 20, 30, 11, 21, 31]);
        assert_eq!(p.channels, 3);
    }

    #[test]
    fn nonsense_shapes_are_errors() {
        assert!(assemble(vec![], 1).is_err());
        assert!(assemble(vec![(shape(0, 2, 3, 8), vec![0; 6])], 1).is_err());
        assert!(assemble(vec![(shape(9, 3, 3, 8), vec![0; 6])], 1).is_err());
    }
}
