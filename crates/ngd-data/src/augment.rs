//! Training-time augmentation of image rows (C × H × W, row-major): the CIFAR-10 convention of
//! a random crop from the image padded by [`CROP_PAD`] pixels and a random horizontal flip
//! (torchvision's `RandomCrop(32, padding=4)` then `RandomHorizontalFlip()`). The padding is 0,
//! which after per-channel standardisation is the channel's mean.

use rand_chacha::rand_core::RngCore;
use serde::{Deserialize, Serialize};

/// Pixels of zero padding around the image before the random crop.
pub const CROP_PAD: usize = 4;

/// The augmentation of the training batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Augment {
    /// None: every epoch sees the images as they are.
    #[default]
    None,
    /// A random crop of the image padded by [`CROP_PAD`] and a horizontal flip with
    /// probability ½, drawn per image and step.
    FlipCrop,
}

impl Augment {
    /// Whether this is [`Augment::None`] (left out of serialised configs).
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }
}

impl std::str::FromStr for Augment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "flip-crop" => Ok(Self::FlipCrop),
            _ => Err(format!(
                "unknown augmentation '{s}' (expected none or flip-crop)"
            )),
        }
    }
}

impl std::fmt::Display for Augment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::FlipCrop => "flip-crop",
        })
    }
}

/// One image's crop offset and flip: out[c, i, j] = in[c, i + dy, j″ + dx] with j″ = W − 1 − j
/// when flipped (else j), 0 outside the image; dy, dx ∈ [−[`CROP_PAD`], [`CROP_PAD`]].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlipCrop {
    /// Vertical offset dy.
    pub dy: i64,
    /// Horizontal offset dx (before the flip).
    pub dx: i64,
    /// Horizontal flip.
    pub flip: bool,
}

impl FlipCrop {
    /// A draw from `rng`: dy and dx uniform on the 2·[`CROP_PAD`] + 1 offsets, flip with
    /// probability ½.
    pub fn draw(rng: &mut impl RngCore) -> Self {
        let span = 2 * CROP_PAD as u32 + 1;
        let pad = CROP_PAD as i64;
        Self {
            dy: (rng.next_u32() % span) as i64 - pad,
            dx: (rng.next_u32() % span) as i64 - pad,
            flip: rng.next_u32() & 1 == 1,
        }
    }

    /// Writes the transformed image `src` (C × H × W) into `dst`.
    pub fn apply(self, src: &[f32], dst: &mut [f32], [c, h, w]: [usize; 3]) {
        assert_eq!(src.len(), c * h * w, "an image of shape {c}×{h}×{w}");
        assert_eq!(dst.len(), src.len());
        for ch in 0..c {
            for i in 0..h {
                for j in 0..w {
                    let jj = if self.flip { w - 1 - j } else { j };
                    let (y, x) = (i as i64 + self.dy, jj as i64 + self.dx);
                    let inside = (0..h as i64).contains(&y) && (0..w as i64).contains(&x);
                    dst[(ch * h + i) * w + j] = if inside {
                        src[(ch * h + y as usize) * w + x as usize]
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// Flip-crops every row of `rows` (B × C·H·W) in place, one [`FlipCrop::draw`] per row in order.
pub fn flip_crop_rows(rows: &mut [f32], shape: [usize; 3], rng: &mut impl RngCore) {
    let dim = shape.iter().product::<usize>();
    let mut out = vec![0.0f32; dim];
    for row in rows.chunks_exact_mut(dim) {
        FlipCrop::draw(rng).apply(row, &mut out, shape);
        row.copy_from_slice(&out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transform equals padding the image by 4 zeros on every side, cutting the H × W
    /// window at (4 + dy, 4 + dx) and mirroring it left-right, written out explicitly.
    #[test]
    fn flip_crop_is_pad_crop_then_mirror() {
        let shape = [2, 5, 6];
        let [c, h, w] = shape;
        let src: Vec<f32> = (0..c * h * w).map(|k| k as f32 + 1.0).collect();
        let p = CROP_PAD;
        for (dy, dx, flip) in [(0, 0, false), (1, -2, false), (-4, 4, true), (3, 0, true)] {
            // Padded image, (h + 2p) × (w + 2p) per channel.
            let (ph, pw) = (h + 2 * p, w + 2 * p);
            let mut padded = vec![0.0f32; c * ph * pw];
            for ch in 0..c {
                for i in 0..h {
                    for j in 0..w {
                        padded[(ch * ph + i + p) * pw + j + p] = src[(ch * h + i) * w + j];
                    }
                }
            }
            let (oy, ox) = ((p as i64 + dy) as usize, (p as i64 + dx) as usize);
            let mut expected = vec![0.0f32; c * h * w];
            for ch in 0..c {
                for i in 0..h {
                    for j in 0..w {
                        let cropped = padded[(ch * ph + oy + i) * pw + ox + j];
                        let jj = if flip { w - 1 - j } else { j };
                        expected[(ch * h + i) * w + jj] = cropped;
                    }
                }
            }
            let mut got = vec![f32::NAN; c * h * w];
            FlipCrop { dy, dx, flip }.apply(&src, &mut got, shape);
            assert_eq!(got, expected, "dy {dy} dx {dx} flip {flip}");
        }
        let mut same = vec![0.0; src.len()];
        FlipCrop {
            dy: 0,
            dx: 0,
            flip: false,
        }
        .apply(&src, &mut same, shape);
        assert_eq!(same, src);
    }

    /// The draws cover every offset and both flips about equally (81 × 2 outcomes, 16,200
    /// draws: each offset pair ~200 times, each flip ~8,100).
    #[test]
    fn draws_cover_every_offset_and_flip() {
        let mut rng =
            <rand_chacha::ChaCha8Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(1);
        let mut counts = std::collections::HashMap::new();
        let mut flips = 0;
        let n = 16_200;
        for _ in 0..n {
            let d = FlipCrop::draw(&mut rng);
            *counts.entry((d.dy, d.dx)).or_insert(0) += 1;
            flips += usize::from(d.flip);
        }
        assert_eq!(counts.len(), 81);
        assert!(
            counts.values().all(|&k| (120..=280).contains(&k)),
            "{counts:?}"
        );
        assert!((7_700..=8_500).contains(&flips), "{flips}");
    }
}
