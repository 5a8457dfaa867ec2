//! Seeded random streams.
//!
//! Every random draw in radbench comes from a ChaCha8 stream whose key is derived from the
//! experiment seed and a stable path of names (model id, fold, repeat, replicate, case ...):
//! `key = SHA-256("radbench-seed-v1" ‖ seed (u64 LE) ‖ for each part: len (u64 LE) ‖ bytes)`.
//! Streams never depend on thread ids, timing or iteration order of hash maps, so results are
//! identical at any thread count. Length-prefixing keeps `["ab", "c"]` and `["a", "bc"]` apart.

use rand::SeedableRng;
use sha2::{Digest, Sha256};

/// The generator behind every random stream.
pub type SeededRng = rand_chacha::ChaCha8Rng;

/// The 32-byte key of the stream named by `seed` and `path`.
pub fn derive_key(seed: u64, path: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"radbench-seed-v1");
    h.update(seed.to_le_bytes());
    for part in path {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// A fresh generator for the stream named by `seed` and `path`.
pub fn rng_for(seed: u64, path: &[&str]) -> SeededRng {
    SeededRng::from_seed(derive_key(seed, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_path_same_stream_other_path_other_stream() {
        let a = rng_for(7, &["model", "fold0"]).next_u64();
        let b = rng_for(7, &["model", "fold0"]).next_u64();
        let c = rng_for(7, &["model", "fold1"]).next_u64();
        let d = rng_for(8, &["model", "fold0"]).next_u64();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn parts_are_length_prefixed() {
        assert_ne!(derive_key(1, &["ab", "c"]), derive_key(1, &["a", "bc"]));
    }
}
