//! Key choice: which object each request reads. Every worker draws from its own seeded stream, so
//! a run's key sequence is reproducible from the scenario seed; a replayed trace is read instead
//! through one cursor its slots share, in the trace's order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};

/// How requests pick object indices in `[0, objects)`, or which a trace names.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyDist {
    /// Every object equally likely.
    Uniform,
    /// 0, 1, 2, ... wrapping around.
    Sequential,
    /// Rank `k` (object `k - 1`) with probability proportional to `1 / k^exponent`.
    Zipf {
        /// Skew; 0.99 is YCSB's classic.
        exponent: f64,
    },
    /// A fraction `key_fraction` of the objects (the lowest indices) takes `request_share` of
    /// the requests.
    HotSet {
        /// Fraction of objects that are hot, in (0, 1).
        key_fraction: f64,
        /// Share of requests sent to hot objects, in [0, 1].
        request_share: f64,
    },
    /// This agent's share of a replayed trace.
    Trace(Arc<TraceShare>),
}

/// An agent's share of a replayed trace: the objects its requests read, in order, and for a
/// timed replay when each is meant to start.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceShare {
    /// Object index of each request.
    pub index: Vec<u64>,
    /// Timed replay: each request's intended start after the phase's start, non-decreasing and
    /// as long as `index`; `None` for fast replay.
    pub at: Option<Vec<Duration>>,
}

/// The records of a trace not yet sent, shared by the slots of a phase: each slot takes the next
/// one when it is free, so the agent sends its records in the trace's order.
#[derive(Debug)]
pub struct TraceCursor {
    share: Arc<TraceShare>,
    next: AtomicUsize,
}

impl TraceCursor {
    /// A cursor at the first record of `share`.
    pub fn new(share: Arc<TraceShare>) -> Self {
        TraceCursor { share, next: AtomicUsize::new(0) }
    }

    /// The next record: its object and, in a timed replay, its intended start after the phase's
    /// start; `None` once the records are used up.
    pub fn take(&self) -> Option<(u64, Option<Duration>)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let index = *self.share.index.get(i)?;
        Some((index, self.share.at.as_ref().map(|at| at[i])))
    }

    /// Timed replay at a phase's deadline: pass over every record not yet taken that was meant
    /// to start before `limit` after the phase's start, and return how many there were.
    pub fn skip_before(&self, limit: Duration) -> u64 {
        let Some(at) = &self.share.at else { return 0 };
        let end = at.partition_point(|&t| t < limit);
        let before = self.next.fetch_max(end, Ordering::Relaxed);
        end.saturating_sub(before) as u64
    }
}

/// One worker's key stream.
#[derive(Debug)]
pub struct KeySampler {
    objects: u64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Uniform,
    Sequential { next: u64 },
    Zipf(Zipf<f64>),
    HotSet { hot: u64, share: f64 },
}

impl KeySampler {
    /// A sampler over `objects` objects for worker `slot` of `slots`. `objects` must be > 0.
    pub fn new(dist: &KeyDist, objects: u64, slot: u64, slots: u64) -> Result<Self, String> {
        if objects == 0 {
            return Err("the dataset has no objects".into());
        }
        let kind = match *dist {
            KeyDist::Uniform => Kind::Uniform,
            // Slots start spread over the key space so they do not read in lockstep.
            KeyDist::Sequential => Kind::Sequential { next: objects * slot / slots.max(1) },
            KeyDist::Zipf { exponent } => Kind::Zipf(
                Zipf::new(objects as f64, exponent).map_err(|e| format!("zipf exponent {exponent}: {e}"))?,
            ),
            KeyDist::HotSet { key_fraction, request_share } => {
                if !(key_fraction > 0.0 && key_fraction < 1.0) {
                    return Err(format!("hotset key fraction {key_fraction} is not in (0, 1)"));
                }
                if !(0.0..=1.0).contains(&request_share) {
                    return Err(format!("hotset request share {request_share} is not in [0, 1]"));
                }
                let hot = ((objects as f64 * key_fraction).ceil() as u64).clamp(1, objects);
                Kind::HotSet { hot, share: request_share }
            }
            KeyDist::Trace(_) => return Err("a trace is read through a TraceCursor, not drawn".into()),
        };
        Ok(KeySampler { objects, kind })
    }

    /// The next object index.
    pub fn next(&mut self, rng: &mut ChaCha8Rng) -> u64 {
        match &mut self.kind {
            Kind::Uniform => rng.random_range(0..self.objects),
            Kind::Sequential { next } => {
                let i = *next;
                *next = (i + 1) % self.objects;
                i
            }
            Kind::Zipf(z) => (z.sample(rng) as u64).clamp(1, self.objects) - 1,
            Kind::HotSet { hot, share } => {
                if *hot == self.objects || rng.random_bool(*share) {
                    rng.random_range(0..*hot)
                } else {
                    rng.random_range(*hot..self.objects)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn counts(dist: KeyDist, objects: u64, draws: usize) -> Vec<u64> {
        let mut s = KeySampler::new(&dist, objects, 0, 1).expect("valid sampler");
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut c = vec![0u64; objects as usize];
        for _ in 0..draws {
            c[s.next(&mut rng) as usize] += 1;
        }
        c
    }

    #[test]
    fn sequential_wraps_and_slots_start_apart() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut a = KeySampler::new(&KeyDist::Sequential, 4, 0, 2).expect("valid");
        let mut b = KeySampler::new(&KeyDist::Sequential, 4, 1, 2).expect("valid");
        let seq: Vec<u64> = (0..6).map(|_| a.next(&mut rng)).collect();
        assert_eq!(seq, [0, 1, 2, 3, 0, 1]);
        assert_eq!(b.next(&mut rng), 2);
    }

    #[test]
    fn uniform_covers_every_key_evenly() {
        let c = counts(KeyDist::Uniform, 10, 100_000);
        for (i, n) in c.iter().enumerate() {
            assert!((9_000..11_000).contains(n), "key {i} drawn {n} times");
        }
    }

    #[test]
    fn zipf_top_keys_match_theory() {
        let (n, s, draws) = (1000u64, 0.99, 400_000usize);
        let c = counts(KeyDist::Zipf { exponent: s }, n, draws);
        let norm: f64 = (1..=n).map(|k| (k as f64).powf(-s)).sum();
        for k in 1..=5u64 {
            let expected = (k as f64).powf(-s) / norm;
            let observed = c[(k - 1) as usize] as f64 / draws as f64;
            assert!(
                (observed - expected).abs() < 0.05 * expected,
                "rank {k}: observed share {observed:.4}, expected {expected:.4}"
            );
        }
    }

    #[test]
    fn hotset_sends_the_share_to_the_hot_keys() {
        let c = counts(KeyDist::HotSet { key_fraction: 0.1, request_share: 0.9 }, 100, 200_000);
        let hot: u64 = c[..10].iter().sum();
        let share = hot as f64 / 200_000.0;
        assert!((share - 0.9).abs() < 0.01, "hot share {share}");
    }

    #[test]
    fn slots_share_a_trace_cursor_in_order_and_skip_what_a_deadline_passed() {
        let at = [0, 10, 20, 30, 40].map(Duration::from_millis).to_vec();
        let share = Arc::new(TraceShare { index: vec![4, 2, 4, 0, 1], at: Some(at) });
        let cursor = TraceCursor::new(share);
        assert_eq!(cursor.take(), Some((4, Some(Duration::ZERO))));
        assert_eq!(cursor.take(), Some((2, Some(Duration::from_millis(10)))));
        // At a deadline 35 ms in, records 2 and 3 (20 and 30 ms) were never taken.
        assert_eq!(cursor.skip_before(Duration::from_millis(35)), 2);
        assert_eq!(cursor.skip_before(Duration::from_millis(35)), 0, "counted once");
        assert_eq!(cursor.take(), Some((1, Some(Duration::from_millis(40)))));
        assert_eq!(cursor.take(), None);
        assert_eq!(cursor.take(), None, "used up stays used up");
        let fast = TraceCursor::new(Arc::new(TraceShare { index: vec![7], at: None }));
        assert_eq!((fast.take(), fast.skip_before(Duration::MAX)), (Some((7, None)), 0));
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(KeySampler::new(&KeyDist::Uniform, 0, 0, 1).is_err());
        assert!(KeySampler::new(&KeyDist::Zipf { exponent: -1.0 }, 10, 0, 1).is_err());
        let bad = KeyDist::HotSet { key_fraction: 1.5, request_share: 0.5 };
        assert!(KeySampler::new(&bad, 10, 0, 1).is_err());
    }
}
