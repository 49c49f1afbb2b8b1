//! The objects every workload reads, as in the tutorial: object `i` has S3 key
//! `filename{i}.txt`, Redis key `{prefix}filename{i}.txt`, a size drawn from the dataset's size
//! distribution (uniform in `[min, max]` bytes in the tutorial) and random `[A-Z0-9]` content.
//! Each object is derived from the dataset seed and its index alone, so any agent can write or
//! check any object, in any order. A replayed trace adds named objects after the generated ones:
//! object `objects + j` has the trace's `j`-th new key and the size the trace gave it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use crate::v1 as pb;

const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Bytes at the start of a written object that carry its version: `~`, 20 digits, `~`. Version 0
/// is the dataset's own bytes, which carry none (they never start with `~`).
pub const STAMP_LEN: usize = 22;

/// How object sizes are drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Sizes {
    /// Uniform in `[min, max]` bytes (a fixed size when equal).
    Uniform {
        /// Smallest, bytes.
        min: u64,
        /// Largest, bytes.
        max: u64,
    },
    /// One of several sizes, bytes, with relative weights.
    Weighted(Vec<(u64, f64)>),
    /// Log-normal around `median` bytes with log-deviation `sigma`, clamped to `[min, max]`.
    LogNormal {
        /// Median, bytes.
        median: f64,
        /// Standard deviation of ln(size).
        sigma: f64,
        /// Smallest, bytes.
        min: u64,
        /// Largest, bytes.
        max: u64,
    },
}

/// What makes a dataset's objects: how many, how big, and the seed of their bytes; every object's
/// key, size and bytes derive from it, the same on the controller and on every agent.
#[derive(Clone, Debug, PartialEq)]
pub struct Generator {
    /// Number of objects.
    pub objects: u64,
    /// Object sizes.
    pub sizes: Sizes,
    /// Seed of sizes and contents.
    pub seed: u64,
    /// Objects after the generated ones, `(S3 key, size in bytes)`: object `objects + j` is
    /// `named[j]`. Empty unless a trace names keys the generated ones are not.
    pub named: Vec<(String, u64)>,
}

impl Generator {
    /// S3 key of object `i`.
    pub fn s3_key(i: u64) -> String {
        format!("filename{i}.txt")
    }

    /// Redis key of object `i`.
    pub fn redis_key(prefix: &str, i: u64) -> String {
        format!("{prefix}filename{i}.txt")
    }

    /// Every object, generated and named: indices are `0..total()`.
    pub fn total(&self) -> u64 {
        self.objects + self.named.len() as u64
    }

    /// S3 key of object `i`, generated or named.
    pub fn key(&self, i: u64) -> String {
        match self.named_object(i) {
            Some((key, _)) => key.clone(),
            None => Generator::s3_key(i),
        }
    }

    /// Redis key of object `i`, generated or named: `prefix` followed by its S3 key.
    pub fn redis_key_of(&self, prefix: &str, i: u64) -> String {
        format!("{prefix}{}", self.key(i))
    }

    /// Size of object `i`, bytes.
    pub fn size(&self, i: u64) -> u64 {
        match self.named_object(i) {
            Some((_, size)) => *size,
            None => self.draw_size(&mut self.rng(i)),
        }
    }

    /// The bytes of object `i`.
    pub fn body(&self, i: u64) -> Vec<u8> {
        let mut rng = self.rng(i);
        let len = match self.named_object(i) {
            Some((_, size)) => *size,
            None => self.draw_size(&mut rng),
        };
        (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())]).collect()
    }

    /// The bytes of version `version` of object `i`: its dataset bytes, with the first
    /// [`STAMP_LEN`] replaced by the version's stamp when `version` > 0 (and the object is that
    /// long; shorter objects cannot carry a version).
    pub fn versioned_body(&self, i: u64, version: u64) -> Vec<u8> {
        let mut body = self.body(i);
        if version > 0 && body.len() >= STAMP_LEN {
            body[..STAMP_LEN].copy_from_slice(format!("~{version:020}~").as_bytes());
        }
        body
    }

    /// The version a body carries: its stamp's, or 0 for the dataset's own bytes.
    pub fn version_of(body: &[u8]) -> u64 {
        match body.get(..STAMP_LEN) {
            Some(stamp) if stamp[0] == b'~' && stamp[STAMP_LEN - 1] == b'~' => {
                std::str::from_utf8(&stamp[1..STAMP_LEN - 1])
                    .ok()
                    .and_then(|digits| digits.parse().ok())
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// A size from the dataset's distribution for a named object that has none: what generated
    /// object `i` would have, bytes.
    pub fn drawn_size(&self, i: u64) -> u64 {
        self.draw_size(&mut self.rng(i))
    }

    /// Largest size any object can have, bytes.
    pub fn max_size(&self) -> u64 {
        let generated = match &self.sizes {
            Sizes::Uniform { max, .. } | Sizes::LogNormal { max, .. } => *max,
            Sizes::Weighted(list) => list.iter().map(|(b, _)| *b).max().unwrap_or(0),
        };
        self.named.iter().map(|(_, size)| *size).fold(generated, u64::max)
    }

    fn named_object(&self, i: u64) -> Option<&(String, u64)> {
        i.checked_sub(self.objects).and_then(|j| self.named.get(usize::try_from(j).ok()?))
    }

    fn rng(&self, i: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(mix(self.seed, i))
    }

    fn draw_size(&self, rng: &mut ChaCha8Rng) -> u64 {
        match &self.sizes {
            Sizes::Uniform { min, max } => rng.random_range(*min..=*max),
            Sizes::Weighted(list) => {
                let total: f64 = list.iter().map(|(_, w)| w).sum();
                let mut u = rng.random_range(0.0..total);
                for (bytes, w) in list {
                    if u < *w {
                        return *bytes;
                    }
                    u -= w;
                }
                list.last().map_or(0, |(b, _)| *b)
            }
            Sizes::LogNormal { median, sigma, min, max } => {
                let d =
                    LogNormal::new(median.ln(), *sigma).expect("validated: finite median > 0, sigma >= 0");
                (d.sample(rng).round() as u64).clamp(*min, *max)
            }
        }
    }

    /// The dataset a proto message describes, checked.
    pub fn from_proto(d: &pb::Dataset) -> Result<Generator, String> {
        if d.objects == 0 {
            return Err("dataset objects is 0".into());
        }
        if d.size_min_bytes > d.size_max_bytes {
            return Err(format!("dataset size min {} is above max {}", d.size_min_bytes, d.size_max_bytes));
        }
        let (min, max) = (d.size_min_bytes, d.size_max_bytes);
        let sizes = match (&d.weighted[..], &d.lognormal) {
            ([], None) => Sizes::Uniform { min, max },
            (list, None) => {
                if list.iter().any(|w| !(w.weight.is_finite() && w.weight > 0.0)) {
                    return Err("every weighted size needs a weight > 0".into());
                }
                if !list.iter().map(|w| w.weight).sum::<f64>().is_finite() {
                    return Err("the weights of the sizes add up to more than a number can hold".into());
                }
                Sizes::Weighted(list.iter().map(|w| (w.bytes, w.weight)).collect())
            }
            ([], Some(l)) => {
                if !(l.median_bytes.is_finite() && l.median_bytes >= 1.0) {
                    return Err(format!("lognormal median {} is not a size >= 1 byte", l.median_bytes));
                }
                if !(l.sigma.is_finite() && (0.0..=10.0).contains(&l.sigma)) {
                    return Err(format!("lognormal sigma {} is not in [0, 10]", l.sigma));
                }
                Sizes::LogNormal { median: l.median_bytes, sigma: l.sigma, min, max }
            }
            _ => return Err("a dataset has either weighted sizes or a lognormal, not both".into()),
        };
        if let Some(n) = d.named.iter().find(|n| n.key.is_empty()) {
            return Err(format!("a named object of {} bytes has an empty key", n.size_bytes));
        }
        let named = d.named.iter().map(|n| (n.key.clone(), n.size_bytes)).collect();
        Ok(Generator { objects: d.objects, sizes, seed: d.seed, named })
    }

    /// The proto message for this dataset.
    pub fn to_proto(&self) -> pb::Dataset {
        let mut d = pb::Dataset {
            objects: self.objects,
            seed: self.seed,
            named: self
                .named
                .iter()
                .map(|(key, size)| pb::NamedObject { key: key.clone(), size_bytes: *size })
                .collect(),
            ..Default::default()
        };
        match &self.sizes {
            Sizes::Uniform { min, max } => (d.size_min_bytes, d.size_max_bytes) = (*min, *max),
            Sizes::Weighted(list) => {
                d.weighted = list.iter().map(|&(bytes, weight)| pb::WeightedSize { bytes, weight }).collect();
                d.size_min_bytes = list.iter().map(|(b, _)| *b).min().unwrap_or(0);
                d.size_max_bytes = list.iter().map(|(b, _)| *b).max().unwrap_or(0);
            }
            Sizes::LogNormal { median, sigma, min, max } => {
                d.lognormal = Some(pb::LogNormalSize { median_bytes: *median, sigma: *sigma });
                (d.size_min_bytes, d.size_max_bytes) = (*min, *max);
            }
        }
        d
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

    const SEED: Generator =
        Generator { objects: 200, sizes: Sizes::Uniform { min: 235, max: 434 }, seed: 1, named: Vec::new() };

    #[test]
    fn bodies_are_reproducible_and_in_range() {
        for i in 0..SEED.objects {
            let body = SEED.body(i);
            assert_eq!(body, SEED.body(i));
            assert!((235..=434).contains(&body.len()), "object {i} has {} bytes", body.len());
            assert!(body.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        }
        assert_ne!(SEED.body(0), SEED.body(1));
        assert_ne!(SEED.body(0), Generator { seed: 2, ..SEED }.body(0));
        assert_eq!(SEED.size(5), SEED.body(5).len() as u64);
    }

    #[test]
    fn weighted_sizes_follow_their_weights() {
        let d = Generator {
            objects: 20_000,
            sizes: Sizes::Weighted(vec![(1024, 0.7), (65536, 0.3)]),
            seed: 3,
            named: Vec::new(),
        };
        let small = (0..d.objects).filter(|&i| d.size(i) == 1024).count() as f64 / d.objects as f64;
        assert!((small - 0.7).abs() < 0.02, "share of 1 KiB objects {small}");
        assert!((0..d.objects).all(|i| [1024, 65536].contains(&d.size(i))));
    }

    #[test]
    fn lognormal_sizes_have_their_median_and_stay_clamped() {
        let sizes = Sizes::LogNormal { median: 4096.0, sigma: 1.0, min: 100, max: 100_000 };
        let d = Generator { objects: 20_001, sizes, seed: 4, named: Vec::new() };
        let mut all: Vec<u64> = (0..d.objects).map(|i| d.size(i)).collect();
        all.sort_unstable();
        let median = all[all.len() / 2] as f64;
        assert!((median / 4096.0 - 1.0).abs() < 0.05, "median {median}");
        assert!(all[0] >= 100 && *all.last().expect("sizes") <= 100_000);
    }

    #[test]
    fn proto_round_trip_keeps_the_distribution() {
        for sizes in [
            Sizes::Uniform { min: 1, max: 9 },
            Sizes::Weighted(vec![(10, 1.0), (20, 2.0)]),
            Sizes::LogNormal { median: 50.0, sigma: 0.5, min: 1, max: 500 },
        ] {
            let d = Generator { objects: 3, sizes, seed: 9, named: vec![("a/b.txt".into(), 7)] };
            assert_eq!(Generator::from_proto(&d.to_proto()).expect("valid"), d);
        }
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
    fn a_version_is_stamped_on_the_first_bytes_and_read_back() {
        let v = 1_765_000_000_123_456_789;
        let body = SEED.versioned_body(3, v);
        assert_eq!(Generator::version_of(&body), v);
        assert_eq!(&body[STAMP_LEN..], &SEED.body(3)[STAMP_LEN..], "the rest is the object's");
        assert_eq!(body.len(), SEED.body(3).len());
        assert_eq!(Generator::version_of(&SEED.body(3)), 0);
        assert_eq!(SEED.versioned_body(3, 0), SEED.body(3));
        assert_eq!(Generator::version_of(b"~short~"), 0);
    }

    #[test]
    fn named_objects_follow_the_generated_ones() {
        let d = Generator { named: vec![("photos/a b.jpg".into(), 5), ("x".into(), 0)], ..SEED };
        assert_eq!(d.total(), 202);
        assert_eq!(
            (d.key(199), d.key(200), d.key(201)),
            ("filename199.txt".into(), "photos/a b.jpg".into(), "x".into())
        );
        assert_eq!(d.redis_key_of("b:", 200), "b:photos/a b.jpg");
        assert_eq!((d.size(200), d.body(200).len(), d.body(201).len()), (5, 5, 0));
        assert_eq!(d.body(200), d.body(200));
        assert_eq!(d.body(7), SEED.body(7), "generated objects are unchanged");
        assert_eq!(Generator { named: vec![("big".into(), 1 << 20)], ..SEED }.max_size(), 1 << 20);
        assert!((235..=434).contains(&d.drawn_size(200)));
    }

    #[test]
    fn keys_follow_the_tutorial() {
        assert_eq!(Generator::s3_key(7), "filename7.txt");
        assert_eq!(Generator::redis_key("bucket:", 7), "bucket:filename7.txt");
    }
}
