//! The independent random streams of one seed: every use of randomness in a run (initial
//! weights, the shuffle of each epoch, the sampled labels and the augmentation of each step)
//! draws from its own ChaCha8 stream of the run's seed, so that no two uses see the same
//! numbers.
//!
//! ChaCha8 takes a 64-bit stream id beside its key: the initial weights are stream 0 of the
//! seed (`ChaCha8Rng::seed_from_u64(seed)` itself), the sampled labels of step s stream
//! 2⁶² + s of the seed, the augmentation of the batch of step s stream 2⁶¹ + s, and the
//! shuffle of epoch e stream 0 of the key seed ^ (e + 1)·φ (φ = 0x9E3779B97F4A7C15, the
//! derivation of the first release, kept so that committed first-order records stay
//! bit-identical; its key differs from the seed's in every epoch). Before, the labels of step s
//! were drawn from the key seed ^ s·φ: the shuffle of epoch s − 1 at step s and the initial
//! weights at step 0.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// One use of a run's seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The initial weights (stream 0: `seed_from_u64(seed)` unchanged).
    Init,
    /// The order of the training samples in epoch `e` (0-based).
    Shuffle(u64),
    /// The sampled labels of the Monte-Carlo Fisher at optimizer step `s` (0-based).
    Labels(u64),
    /// The augmentation (crop offsets, flips) of the training batch of step `s` (0-based).
    Augment(u64),
}

/// φ, the odd 64-bit constant of the shuffles' key derivation.
const PHI: u64 = 0x9E37_79B9_7F4A_7C15;

impl Stream {
    /// The (key, stream id) of this use of `seed`.
    pub fn key_and_id(self, seed: u64) -> (u64, u64) {
        match self {
            Stream::Init => (seed, 0),
            Stream::Shuffle(e) => (seed ^ (e.wrapping_add(1)).wrapping_mul(PHI), 0),
            Stream::Labels(s) => (seed, (1 << 62) + (s % (1 << 62))),
            Stream::Augment(s) => (seed, (1 << 61) + (s % (1 << 61))),
        }
    }

    /// The generator of this use of `seed`.
    pub fn rng(self, seed: u64) -> ChaCha8Rng {
        let (key, id) = self.key_and_id(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(key);
        rng.set_stream(id);
        rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::RngCore;

    fn first(mut rng: ChaCha8Rng) -> Vec<u64> {
        (0..8).map(|_| rng.next_u64()).collect()
    }

    #[test]
    fn init_and_shuffles_keep_their_first_release_streams() {
        assert_eq!(
            first(Stream::Init.rng(7)),
            first(ChaCha8Rng::seed_from_u64(7))
        );
        assert_eq!(
            first(Stream::Shuffle(2).rng(7)),
            first(ChaCha8Rng::seed_from_u64(7 ^ 3u64.wrapping_mul(PHI)))
        );
    }

    /// The collisions of the earlier derivation (key seed ^ s·φ for the labels of step s: the
    /// shuffle of epoch s − 1, and the initial weights at step 0) are gone.
    #[test]
    fn uses_draw_different_numbers() {
        let seed = 3;
        let mut seen = vec![first(Stream::Init.rng(seed))];
        for k in 0..50 {
            seen.push(first(Stream::Shuffle(k).rng(seed)));
            seen.push(first(Stream::Labels(k).rng(seed)));
            seen.push(first(Stream::Augment(k).rng(seed)));
        }
        for (i, a) in seen.iter().enumerate() {
            for b in &seen[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // The same use of the same seed is reproducible.
        assert_eq!(
            first(Stream::Labels(4).rng(seed)),
            first(Stream::Labels(4).rng(seed))
        );
    }
}
