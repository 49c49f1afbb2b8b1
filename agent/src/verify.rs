//! Checking the bodies a workload reads (`verify`): a driver hashes each body it reads (xxh3, as
//! the bytes arrive where it does not keep them) into a small [`Digest`], and the engine, after
//! the request is timed, compares it with the digest of the bytes the dataset says the object
//! holds. A mismatch is a `corrupt` error. The expected digest of an object is worked out on its
//! first read (its bytes generated from the dataset seed) and kept, once per agent.

use std::sync::{Arc, OnceLock};

use fetchbench_proto::dataset::Generator;
use xxhash_rust::xxh3::{Xxh3Default, xxh3_64};

use crate::outcome::{Failure, Outcome, Sample};

/// The length and hash of a body: what a check compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest {
    /// Bytes.
    pub len: u64,
    /// xxh3 of the bytes.
    pub hash: u64,
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest { len: bytes.len() as u64, hash: xxh3_64(bytes) }
    }
}

/// A digest made from a body read in pieces, none of them kept.
#[derive(Clone, Default)]
pub struct Hasher {
    state: Xxh3Default,
    len: u64,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").field("len", &self.len).finish_non_exhaustive()
    }
}

impl Hasher {
    /// Add the next piece of the body.
    pub fn update(&mut self, piece: &[u8]) {
        self.state.update(piece);
        self.len += piece.len() as u64;
    }

    /// The digest of every piece added.
    pub fn digest(&self) -> Digest {
        Digest { len: self.len, hash: self.state.digest() }
    }
}

/// What a workload's bodies should be: the dataset's bytes, or the byte range the workload reads
/// of them, with each object's digest kept from its first check.
#[derive(Debug)]
pub struct Verifier {
    dataset: Arc<Generator>,
    /// `(start, length)` of the range read; `None` for whole objects.
    range: Option<(u64, u64)>,
    /// Leading bytes left out of the check: a version stamp's, when the workload writes
    /// versions of its objects.
    skip: usize,
    expected: Vec<OnceLock<Digest>>,
}

impl Verifier {
    /// A verifier of `dataset`'s objects, or of bytes `[start, start + length)` of each,
    /// leaving out the first `skip` bytes (bodies hashed the same way).
    pub fn new(dataset: Arc<Generator>, range: Option<(u64, u64)>, skip: usize) -> Verifier {
        let expected = (0..dataset.total()).map(|_| OnceLock::new()).collect();
        Verifier { dataset, range, skip, expected }
    }

    /// The digest object `index`'s body should have.
    pub fn expected(&self, index: u64) -> Digest {
        *self.expected[index as usize].get_or_init(|| {
            let body = self.dataset.body(index);
            let read = match self.range {
                None => &body[..],
                // As S3's Range and Redis's GETRANGE do: the part of the range the object has.
                Some((start, length)) => {
                    let first = (start as usize).min(body.len());
                    let end = start.saturating_add(length).min(body.len() as u64) as usize;
                    &body[first..end]
                }
            };
            Digest::of(&read[self.skip.min(read.len())..])
        })
    }

    /// `sample` of a read of object `index`, as a `corrupt` failure when it succeeded with a body
    /// other than the expected one. A success that carries no digest (a SET) is left as it is.
    pub fn check(&self, index: u64, sample: Sample) -> Sample {
        match (sample.outcome, sample.body) {
            (Outcome::Ok, Some(digest)) if digest != self.expected(index) => {
                Sample { outcome: Outcome::Failed(Failure::Corrupt), ..sample }
            }
            _ => sample,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fetchbench_proto::dataset::{STAMP_LEN, Sizes};

    fn dataset() -> Arc<Generator> {
        Arc::new(Generator {
            objects: 3,
            sizes: Sizes::Uniform { min: 100, max: 200 },
            seed: 7,
            named: Vec::new(),
        })
    }

    fn read(body: &[u8]) -> Sample {
        Sample { body: Some(Digest::of(body)), ..Sample::OK }
    }

    #[test]
    fn the_dataset_bytes_pass_and_one_changed_byte_or_a_short_body_is_corrupt() {
        let d = dataset();
        let v = Verifier::new(d.clone(), None, 0);
        let mut body = d.body(1);
        assert_eq!(v.check(1, read(&body)), read(&body));
        assert_eq!(v.check(2, read(&body)).outcome, Outcome::Failed(Failure::Corrupt), "another object's");
        body[50] ^= 1;
        assert_eq!(v.check(1, read(&body)).outcome, Outcome::Failed(Failure::Corrupt));
        body[50] ^= 1;
        assert_eq!(v.check(1, read(&body[..body.len() - 1])).outcome, Outcome::Failed(Failure::Corrupt));
        assert_eq!(v.check(1, Sample::OK), Sample::OK, "a SET has no body to check");
        let failed = Sample::failed(Failure::Miss);
        assert_eq!(v.check(1, failed), failed);
    }

    #[test]
    fn a_range_is_checked_against_the_part_of_the_object_it_covers() {
        let d = dataset();
        let body = d.body(0);
        let v = Verifier::new(d.clone(), Some((10, 20)), 0);
        assert_eq!(v.check(0, read(&body[10..30])).outcome, Outcome::Ok);
        assert_eq!(v.check(0, read(&body[11..31])).outcome, Outcome::Failed(Failure::Corrupt));
        let tail = Verifier::new(d.clone(), Some((90, 1_000)), 0);
        let versioned = Verifier::new(d.clone(), None, STAMP_LEN);
        let v9 = d.versioned_body(0, 9);
        assert_eq!(versioned.check(0, read(&v9[STAMP_LEN..])).outcome, Outcome::Ok, "any version");
        assert_eq!(tail.check(0, read(&body[90..])).outcome, Outcome::Ok, "a range past the end");
    }

    #[test]
    fn a_body_hashed_in_pieces_has_the_digest_of_the_whole() {
        let body = dataset().body(2);
        let mut h = Hasher::default();
        for piece in body.chunks(7) {
            h.update(piece);
        }
        assert_eq!(h.digest(), Digest::of(&body));
    }
}
