//! A 1-bit image, packed the way ESC/POS raster commands want it.

/// A 1-bit image: rows of packed bytes, most significant bit leftmost, a set bit is black.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitmap {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitmap({}x{})", self.width, self.height)
    }
}

impl Bitmap {
    /// An all-white image; `width` is rounded up to whole bytes.
    pub fn new(width: usize, height: usize) -> Self {
        let width = width.div_ceil(8) * 8;
        Self {
            width,
            height,
            data: vec![0; width / 8 * height],
        }
    }

    /// An image from packed rows; `None` if `data` is not `width_bytes * height` long.
    pub fn from_packed(width_bytes: usize, height: usize, data: Vec<u8>) -> Option<Self> {
        (data.len() == width_bytes * height).then_some(Self {
            width: width_bytes * 8,
            height,
            data,
        })
    }

    /// Width in dots (a multiple of 8).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in dots.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Bytes per row.
    pub fn width_bytes(&self) -> usize {
        self.width / 8
    }

    /// The packed rows.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Whether the dot at (`x`, `y`) is black; outside the image is white.
    pub fn get(&self, x: usize, y: usize) -> bool {
        if x >= self.width || y >= self.height {
            return false;
        }
        self.data[y * self.width_bytes() + x / 8] & (0x80 >> (x % 8)) != 0
    }

    /// Blackens the dot at (`x`, `y`); outside the image is ignored.
    pub fn set(&mut self, x: usize, y: usize) {
        if x < self.width && y < self.height {
            let wb = self.width_bytes();
            self.data[y * wb + x / 8] |= 0x80 >> (x % 8);
        }
    }

    /// Rows `from..to` as an image of their own (clamped to the image).
    pub fn rows(&self, from: usize, to: usize) -> Bitmap {
        let to = to.min(self.height);
        let from = from.min(to);
        let wb = self.width_bytes();
        Bitmap {
            width: self.width,
            height: to - from,
            data: self.data[from * wb..to * wb].to_vec(),
        }
    }

    /// Stacks images of the same width top to bottom; `None` if widths differ.
    pub fn vstack(parts: &[Bitmap]) -> Option<Bitmap> {
        let width = parts.first().map_or(0, |b| b.width);
        if parts.iter().any(|b| b.width != width) {
            return None;
        }
        Some(Bitmap {
            width,
            height: parts.iter().map(|b| b.height).sum(),
            data: parts.iter().flat_map(|b| b.data.iter().copied()).collect(),
        })
    }

    /// How many dots are black (handy in tests).
    pub fn black_count(&self) -> usize {
        self.data.iter().map(|b| b.count_ones() as usize).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_rows_stack() {
        let mut b = Bitmap::new(10, 4);
        assert_eq!(b.width(), 16);
        b.set(0, 0);
        b.set(9, 3);
        b.set(99, 99);
        assert!(b.get(0, 0) && b.get(9, 3) && !b.get(1, 0));
        assert_eq!(b.data()[0], 0x80);
        assert_eq!(b.black_count(), 2);
        let top = b.rows(0, 2);
        let bottom = b.rows(2, 10);
        assert_eq!((top.height(), bottom.height()), (2, 2));
        assert_eq!(Bitmap::vstack(&[top, bottom]), Some(b.clone()));
        assert_eq!(Bitmap::vstack(&[b.clone(), Bitmap::new(8, 1)]), None);
        assert!(Bitmap::from_packed(2, 4, b.data().to_vec()).is_some());
        assert!(Bitmap::from_packed(3, 4, b.data().to_vec()).is_none());
    }
}
