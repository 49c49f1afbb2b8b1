//! The objects every workload reads, as in the tutorial: object `i` has S3 key
//! `filename{i}.txt`, Redis key `{prefix}filename{i}.txt`, a size drawn uniformly from
//! `[min, max]` bytes and random `[A-Z0-9]` content. Each object is derived from the dataset seed
//! and its index alone, so any agent can write or check any object, in any order.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The shape of a dataset; mirrors the proto's `Dataset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// Number of objects.
    pub objects: u64,
    /// Smallest object, bytes.
    pub size_min: u64,
    /// Largest object, bytes.
    pub size_max: u64,
    /// Seed of sizes and contents.
    pub seed: u64,
}

impl Dataset {
    /// S3 key of object `i`.
    pub fn s3_key(i: u64) -> String {
        format!("filename{i}.txt")
    }

    /// Redis key of object `i`.
    pub fn redis_key(prefix: &str, i: u64) -> String {
        format!("{prefix}filename{i}.txt")
    }

    /// The bytes of object `i`.
    pub fn body(&self, i: u64) -> Vec<u8> {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed, i));
        let len = rng.random_range(self.size_min..=self.size_max);
        (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())]).collect()
    }
}

/// Derive an independent seed from `seed` and `salt` (SplitMix64's finaliser), so neighbouring
/// indices get unrelated streams.
pub fn mix(seed: u64, salt: u64) -> u64 {
    let mut z = seed ^ salt.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: Dataset = Dataset { objects: 200, size_min: 235, size_max: 434, seed: 1 };

    #[test]
    fn bodies_are_reproducible_and_in_range() {
        for i in 0..SEED.objects {
            let body = SEED.body(i);
            assert_eq!(body, SEED.body(i));
            assert!((235..=434).contains(&body.len()), "object {i} has {} bytes", body.len());
            assert!(body.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        }
        assert_ne!(SEED.body(0), SEED.body(1));
        assert_ne!(SEED.body(0), Dataset { seed: 2, ..SEED }.body(0));
    }

    #[test]
    fn sizes_spread_over_the_range() {
        let sizes: Vec<usize> = (0..SEED.objects).map(|i| SEED.body(i).len()).collect();
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        assert!((300.0..370.0).contains(&mean), "mean size {mean}");
        assert!(*sizes.iter().min().expect("200 sizes") < 250);
        assert!(*sizes.iter().max().expect("200 sizes") > 420);
    }

    #[test]
    fn keys_follow_the_tutorial() {
        assert_eq!(Dataset::s3_key(7), "filename7.txt");
        assert_eq!(Dataset::redis_key("bucket:", 7), "bucket:filename7.txt");
    }
}
