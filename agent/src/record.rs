//! Latency recording: workers record into a few sharded recorders; the engine drains them once
//! per interval into a delta that travels to the controller.

use std::sync::Mutex;
use std::time::Duration;

use fetchbench_proto::wire::HISTOGRAM_SIGNIFICANT_DIGITS;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2Serializer};

use crate::outcome::{Failure, Outcome, Sample};

/// A fresh, auto-resizing latency histogram in nanoseconds.
pub fn new_histogram() -> Histogram<u64> {
    sized_histogram(Duration::ZERO)
}

/// An auto-resizing latency histogram in nanoseconds with room for values up to `longest`
/// already made. A histogram grows by zeroing its new counts, page faults and all: where the
/// first request's record does that, every agent of a synchronized start does it in the
/// milliseconds its peers need the cores to send their first requests.
fn sized_histogram(longest: Duration) -> Histogram<u64> {
    let high = u64::try_from(longest.as_nanos()).unwrap_or(u64::MAX / 2).max(2);
    let mut h = Histogram::new_with_bounds(1, high, HISTOGRAM_SIGNIFICANT_DIGITS)
        .expect("1..high with 3 significant digits is a valid histogram range");
    h.auto(true);
    h
}

/// Counts and latencies of requests completed since the last drain.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Latencies of successful requests, nanoseconds: from the intended start in open loop.
    pub latency: Histogram<u64>,
    /// Service times of successful requests (from the actual send), nanoseconds.
    pub service: Histogram<u64>,
    /// Time to the first body byte of S3 responses, nanoseconds.
    pub ttfb: Histogram<u64>,
    /// Cache-aside: the Redis part of each request, nanoseconds.
    pub redis: Histogram<u64>,
    /// Cache-aside: the S3 part of each miss, nanoseconds.
    pub s3: Histogram<u64>,
    /// Successful requests.
    pub ops: u64,
    /// Failed requests by [`Failure::index`].
    pub errors: [u64; Failure::ALL.len()],
    /// Requests sent more than [`crate::engine::LATE`] after their intended start.
    pub late: u64,
    /// Cache-aside hits.
    pub hits: u64,
    /// Cache-aside misses.
    pub misses: u64,
    /// Requests whose reply arrived while their slot was busy-polling.
    pub busy_polled: u64,
    /// Cache-aside writes.
    pub writes: u64,
    /// Cache-aside reads that returned a stale version.
    pub stale_reads: u64,
    /// How stale each stale read was, nanoseconds.
    pub staleness: Histogram<u64>,
}

impl Interval {
    /// An interval with nothing recorded.
    pub fn empty() -> Self {
        Interval::sized(Duration::ZERO)
    }

    /// An interval with nothing recorded whose latency and service time histograms, which
    /// every successful request records into, hold values up to `longest` without growing.
    fn sized(longest: Duration) -> Self {
        Interval {
            latency: sized_histogram(longest),
            service: sized_histogram(longest),
            ttfb: new_histogram(),
            redis: new_histogram(),
            s3: new_histogram(),
            ops: 0,
            errors: [0; Failure::ALL.len()],
            late: 0,
            hits: 0,
            misses: 0,
            busy_polled: 0,
            writes: 0,
            stale_reads: 0,
            staleness: new_histogram(),
        }
    }

    /// Failed requests of every kind.
    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Add another interval's counts and latencies to this one.
    pub fn absorb(&mut self, other: &Interval) {
        for (mine, theirs) in [
            (&mut self.latency, &other.latency),
            (&mut self.service, &other.service),
            (&mut self.ttfb, &other.ttfb),
            (&mut self.redis, &other.redis),
            (&mut self.s3, &other.s3),
            (&mut self.staleness, &other.staleness),
        ] {
            mine.add(theirs).expect("auto-resizing histograms accept every value");
        }
        self.ops += other.ops;
        self.late += other.late;
        self.hits += other.hits;
        self.misses += other.misses;
        self.busy_polled += other.busy_polled;
        self.writes += other.writes;
        self.stale_reads += other.stale_reads;
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            *mine += theirs;
        }
    }

    fn reset(&mut self) {
        for h in [
            &mut self.latency,
            &mut self.service,
            &mut self.ttfb,
            &mut self.redis,
            &mut self.s3,
            &mut self.staleness,
        ] {
            h.reset();
        }
        self.ops = 0;
        self.late = 0;
        self.hits = 0;
        self.misses = 0;
        self.busy_polled = 0;
        self.writes = 0;
        self.stale_reads = 0;
        self.errors = [0; Failure::ALL.len()];
    }

    fn record(&mut self, sample: &Sample, latency: Duration, service: Duration, late: bool) {
        self.late += u64::from(late);
        self.busy_polled += u64::from(sample.busy_polled);
        self.writes += u64::from(sample.write);
        if let Some(stale) = sample.stale {
            self.stale_reads += 1;
            record(&mut self.staleness, stale);
        }
        match sample.outcome {
            Outcome::Ok => {
                record(&mut self.latency, latency);
                record(&mut self.service, service);
                self.ops += 1;
            }
            Outcome::Failed(kind) => self.errors[kind.index()] += 1,
        }
        if let Some(ttfb) = sample.ttfb {
            record(&mut self.ttfb, ttfb);
        }
        if let Some(parts) = sample.cache {
            if parts.hit {
                self.hits += 1;
            } else {
                self.misses += 1;
            }
            record(&mut self.redis, parts.redis);
            if let Some(s3) = parts.s3 {
                record(&mut self.s3, s3);
            }
        }
    }
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
    // Auto-resizing: `record` only fails for values beyond u64, which `ns` is not.
    let _ = h.record(ns);
}

/// A histogram in HdrHistogram's V2 format, as the proto carries it; empty bytes for an empty
/// histogram.
pub fn serialize(h: &Histogram<u64>) -> Vec<u8> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(64);
    V2Serializer::new().serialize(h, &mut out).expect("serialising into a Vec cannot fail");
    out
}

/// Recorders shared by the workers of one phase. Workers pick a shard by slot, so at most a few
/// threads ever meet on one lock, and the drain takes each lock once per interval.
#[derive(Debug)]
pub struct Recorders {
    shards: Vec<Mutex<Interval>>,
}

impl Recorders {
    /// Recorders for `workers` workers on a machine with `cores` cores, made ready for
    /// latencies up to `longest` (the request timeout; longer ones grow the histograms).
    pub fn new(workers: usize, cores: usize, longest: Duration) -> Self {
        let n = workers.clamp(1, cores.max(1) * 2);
        Recorders { shards: (0..n).map(|_| Mutex::new(Interval::sized(longest))).collect() }
    }

    /// Record one request of worker `slot`: `latency` from its intended start, `service` from
    /// its actual send (the same in closed loop), `late` when it started late.
    pub fn record(&self, slot: usize, sample: &Sample, latency: Duration, service: Duration, late: bool) {
        lock(&self.shards[slot % self.shards.len()]).record(sample, latency, service, late);
    }

    /// Everything recorded since the last drain; the recorders start again from zero.
    pub fn drain(&self) -> Interval {
        let mut total = Interval::empty();
        for shard in &self.shards {
            let mut shard = lock(shard);
            total.absorb(&shard);
            shard.reset();
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
    use crate::outcome::CacheParts;

    #[test]
    fn drain_returns_everything_once() {
        let r = Recorders::new(8, 2, Duration::from_secs(1));
        let us = Duration::from_micros;
        for slot in 0..8 {
            r.record(slot, &Sample::OK, us(900), us(100 + slot as u64), slot == 0);
        }
        r.record(3, &Sample::failed(Failure::Timeout), Duration::from_secs(1), Duration::from_secs(1), false);
        let hit = CacheParts { hit: true, redis: us(50), s3: None };
        let miss = CacheParts { hit: false, redis: us(60), s3: Some(us(700)) };
        for parts in [hit, miss] {
            r.record(1, &Sample { cache: Some(parts), ..Sample::OK }, us(800), us(800), false);
        }
        let first = r.drain();
        assert_eq!(first.ops, 10);
        assert_eq!(first.latency.len(), 10);
        assert_eq!(first.service.len(), 10);
        assert!(first.latency.min() > first.service.max() / 2, "latency and service kept apart");
        assert_eq!(first.errors[Failure::Timeout.index()], 1);
        assert_eq!(first.total_errors(), 1);
        assert_eq!(first.late, 1);
        assert_eq!((first.hits, first.misses, first.redis.len(), first.s3.len()), (1, 1, 2, 1));
        let second = r.drain();
        assert_eq!((second.ops, second.total_errors(), second.latency.len(), second.late), (0, 0, 0, 0));
    }

    #[test]
    fn latencies_up_to_the_timeout_do_not_grow_the_histograms() {
        let r = Recorders::new(1, 1, Duration::from_secs(5));
        let sizes = |r: &Recorders| {
            let shard = lock(&r.shards[0]);
            (shard.latency.distinct_values(), shard.service.distinct_values())
        };
        let before = sizes(&r);
        for d in [Duration::from_micros(30), Duration::from_millis(2), Duration::from_secs(5)] {
            r.record(0, &Sample::OK, d, d, false);
        }
        assert_eq!(sizes(&r), before, "recording within the timeout resized a histogram");
        r.record(0, &Sample::OK, Duration::from_secs(60), Duration::from_secs(60), false);
        assert!(sizes(&r).0 > before.0, "a latency beyond the timeout still fits (auto-resize)");
        let drained = r.drain();
        assert_eq!(drained.ops, 4);
        assert!(drained.latency.max() >= 59_000_000_000, "the 60 s latency kept: {}", drained.latency.max());
    }
}
