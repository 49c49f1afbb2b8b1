//! Latency recording: workers record into a few sharded recorders; the engine drains them once
//! per interval into a delta that travels to the controller.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2Serializer};

use crate::outcome::{Failure, Outcome};

/// Significant decimal digits kept by every latency histogram.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A fresh, auto-resizing latency histogram in nanoseconds.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 2, SIGNIFICANT_DIGITS)
        .expect("1..2 with 3 significant digits is a valid histogram range");
    h.auto(true);
    h
}

/// Counts and latencies of requests completed since the last drain.
#[derive(Debug)]
pub struct Interval {
    /// Latencies of successful requests, nanoseconds.
    pub histogram: Histogram<u64>,
    /// Successful requests.
    pub ops: u64,
    /// Failed requests by [`Failure::index`].
    pub errors: [u64; Failure::ALL.len()],
}

impl Interval {
    /// An interval with nothing recorded.
    pub fn empty() -> Self {
        Interval { histogram: new_histogram(), ops: 0, errors: [0; Failure::ALL.len()] }
    }

    /// Failed requests of every kind.
    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Add another interval's counts and latencies to this one.
    pub fn absorb(&mut self, other: &Interval) {
        self.histogram.add(&other.histogram).expect("auto-resizing histograms accept every value");
        self.ops += other.ops;
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            *mine += theirs;
        }
    }

    /// The histogram in HdrHistogram's V2 format, as the proto carries it.
    pub fn serialized_histogram(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        V2Serializer::new().serialize(&self.histogram, &mut out).expect("serialising into a Vec cannot fail");
        out
    }
}

/// Recorders shared by the workers of one phase. Workers pick a shard by slot, so at most a few
/// threads ever meet on one lock, and the drain takes each lock once per interval.
#[derive(Debug)]
pub struct Recorders {
    shards: Vec<Mutex<Interval>>,
}

impl Recorders {
    /// Recorders for `workers` workers on a machine with `cores` cores.
    pub fn new(workers: usize, cores: usize) -> Self {
        let n = workers.clamp(1, cores.max(1) * 2);
        Recorders { shards: (0..n).map(|_| Mutex::new(Interval::empty())).collect() }
    }

    /// Record one request of worker `slot` that took `latency`.
    pub fn record(&self, slot: usize, outcome: Outcome, latency: Duration) {
        let mut shard = lock(&self.shards[slot % self.shards.len()]);
        match outcome {
            Outcome::Ok => {
                let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1);
                // Auto-resizing: `record` only fails for values beyond u64, which `ns` is not.
                let _ = shard.histogram.record(ns);
                shard.ops += 1;
            }
            Outcome::Failed(kind) => shard.errors[kind.index()] += 1,
        }
    }

    /// Everything recorded since the last drain; the recorders start again from zero.
    pub fn drain(&self) -> Interval {
        let mut total = Interval::empty();
        for shard in &self.shards {
            let taken = std::mem::replace(&mut *lock(shard), Interval::empty());
            total.absorb(&taken);
        }
        total
    }
}

/// A poisoned recorder only means a worker panicked mid-record; its counts are still usable.
fn lock(m: &Mutex<Interval>) -> std::sync::MutexGuard<'_, Interval> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_returns_everything_once() {
        let r = Recorders::new(8, 2);
        for slot in 0..8 {
            r.record(slot, Outcome::Ok, Duration::from_micros(100 + slot as u64));
        }
        r.record(3, Outcome::Failed(Failure::Timeout), Duration::from_secs(1));
        let first = r.drain();
        assert_eq!(first.ops, 8);
        assert_eq!(first.histogram.len(), 8);
        assert_eq!(first.errors[Failure::Timeout.index()], 1);
        assert_eq!(first.total_errors(), 1);
        let second = r.drain();
        assert_eq!((second.ops, second.total_errors(), second.histogram.len()), (0, 0, 0));
    }
}
