//! Aggregation: the agents' interval histograms are added up per agent and per workload, and the
//! summaries come from the merged histograms. Percentiles are never averaged.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use fetchbench_proto as pb;
use hdrhistogram::Histogram;

use crate::results::histogram::{DecodeError, add, decode_or_empty, encode, merge, new_histogram, summarize};
use crate::results::schema::{AgentWorkloadResult, IntervalResult, Phase, WorkloadResult};
use crate::scenario::Target;

/// Why an agent's report could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    /// The histogram bytes did not decode.
    #[error("histogram of workload {workload} does not decode: {source}")]
    Histogram {
        /// Workload index.
        workload: u32,
        /// What the decoder found.
        source: DecodeError,
    },
    /// The agent named a workload that is not in the run.
    #[error("event for workload {0}, which the run does not have")]
    UnknownWorkload(u32),
}

/// An agent using more than this share of its cores is flagged client-bound.
pub const CLIENT_BOUND_CPU: f64 = 0.85;

/// An open-loop workload whose agents sent less than this share of the requests their schedule
/// asked for is flagged client-bound: its latencies are those of a client that could not keep up.
pub const CLIENT_BOUND_SENT: f64 = 0.9;

/// Why a workload's figures may be the client's rather than the target's, in words, or `None`.
/// Asked against sent comes first: on one machine the agent shares its cores with a local
/// redis-server, so its CPU alone does not show a client that cannot keep up. `judge_cpu` is
/// false for a busy-polled workload, whose polling keeps a core busy by design.
pub fn client_bound_reason(w: &WorkloadResult, judge_cpu: bool) -> Option<String> {
    let mut reasons = Vec::new();
    if let Some(asked) = w.target_rate_ops_s {
        let sent = w.ops + w.errors;
        let scheduled = sent + w.unsent;
        if scheduled > 0 && (sent as f64) < CLIENT_BOUND_SENT * scheduled as f64 {
            reasons.push(format!(
                "asked {asked:.0} ops/s, sent {:.0} ops/s ({} of {scheduled} scheduled requests unsent)",
                w.achieved_rate_ops_s, w.unsent
            ));
        }
    }
    if judge_cpu && w.cpu_utilization_max > CLIENT_BOUND_CPU {
        reasons.push(format!("an agent used {:.0}% of its cores", w.cpu_utilization_max * 100.0));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// What one agent reported for one workload.
#[derive(Debug, Clone)]
pub struct AgentTally {
    /// Latencies of successful measured requests, nanoseconds (from the intended start in open
    /// loop).
    pub histogram: Histogram<u64>,
    /// Service times of successful measured requests, nanoseconds.
    pub service: Histogram<u64>,
    /// Time to first byte of S3 bodies, nanoseconds.
    pub ttfb: Histogram<u64>,
    /// Cache-aside Redis parts, nanoseconds.
    pub redis: Histogram<u64>,
    /// Cache-aside S3 parts, nanoseconds.
    pub s3: Histogram<u64>,
    /// Successful measured requests.
    pub ops: u64,
    /// Failed measured requests by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Late open-loop starts.
    pub late: u64,
    /// Open-loop requests scheduled before the measured phase's end but not sent, from
    /// WorkloadDone.
    pub unsent: u64,
    /// Cache-aside hits.
    pub hits: u64,
    /// Cache-aside misses.
    pub misses: u64,
    /// Requests whose reply arrived while their slot was busy-polling.
    pub busy_polled: u64,
    /// Cache-aside writes.
    pub writes: u64,
    /// Cache-aside stale reads.
    pub stale_reads: u64,
    /// How stale each stale read was, nanoseconds.
    pub staleness: Histogram<u64>,
    /// Measured-phase length, from WorkloadDone; `None` until it arrives.
    pub duration: Option<Duration>,
    /// End of the latest measured interval reported, since the measured phase began: the
    /// phase's length so far, for an agent lost (or a run interrupted) before WorkloadDone.
    pub measured_elapsed: Duration,
    /// Totals the agent announced in WorkloadDone, for a consistency check.
    pub announced: Option<(u64, u64)>,
    /// Start of the workload on the agent's clock, nanoseconds since the epoch.
    pub started_at_unix_ns: i64,
    /// Open-loop rate asked of this agent.
    pub target_rate: f64,
    /// Share of its cores the agent used during the measured phase.
    pub cpu_utilization: f64,
    /// Intervals seen so far, per phase: (warm-up, measured).
    intervals_seen: (usize, usize),
}

impl Default for AgentTally {
    fn default() -> Self {
        AgentTally {
            histogram: new_histogram(),
            service: new_histogram(),
            ttfb: new_histogram(),
            redis: new_histogram(),
            s3: new_histogram(),
            ops: 0,
            errors_by_kind: BTreeMap::new(),
            late: 0,
            unsent: 0,
            hits: 0,
            misses: 0,
            busy_polled: 0,
            writes: 0,
            stale_reads: 0,
            staleness: new_histogram(),
            duration: None,
            measured_elapsed: Duration::ZERO,
            announced: None,
            started_at_unix_ns: 0,
            target_rate: 0.0,
            cpu_utilization: 0.0,
            intervals_seen: (0, 0),
        }
    }
}

impl AgentTally {
    /// Failed measured requests.
    pub fn errors(&self) -> u64 {
        self.errors_by_kind.values().sum()
    }
}

/// One interval number of one phase, over all agents.
#[derive(Debug, Clone)]
struct IntervalTally {
    histogram: Histogram<u64>,
    ops: u64,
    errors: u64,
    errors_by_kind: BTreeMap<String, u64>,
    hits: u64,
    misses: u64,
    writes: u64,
    stale_reads: u64,
    /// How stale each stale read was, nanoseconds.
    staleness: Histogram<u64>,
    /// Longest interval and latest end any agent reported, milliseconds.
    interval_ms: u64,
    elapsed_ms: u64,
}

impl IntervalTally {
    /// Add a later interval of the same phase to this one: one interval spanning both.
    fn absorb(&mut self, later: &IntervalTally) {
        add(&mut self.histogram, &later.histogram);
        self.ops += later.ops;
        self.errors += later.errors;
        for (kind, n) in &later.errors_by_kind {
            *self.errors_by_kind.entry(kind.clone()).or_default() += n;
        }
        self.hits += later.hits;
        self.misses += later.misses;
        self.writes += later.writes;
        self.stale_reads += later.stale_reads;
        add(&mut self.staleness, &later.staleness);
        self.interval_ms += later.interval_ms;
        self.elapsed_ms = self.elapsed_ms.max(later.elapsed_ms);
    }
}

/// A phase's intervals as the time series shows them. When a phase ends just after a tick, its
/// final flush is an interval of a few milliseconds and a few requests, which would chart as a
/// spike or a dip that did not happen: an interval under a quarter of the one before it, at the
/// end, is folded into that one.
fn series_points(list: &[IntervalTally]) -> impl Iterator<Item = Cow<'_, IntervalTally>> {
    let n = list.len();
    let sliver = n >= 2 && list[n - 1].interval_ms * 4 < list[n - 2].interval_ms;
    let merged = sliver.then(|| {
        let mut last = list[n - 2].clone();
        last.absorb(&list[n - 1]);
        last
    });
    let kept = if sliver { n - 2 } else { n };
    list[..kept].iter().map(Cow::Borrowed).chain(merged.map(Cow::Owned))
}

impl Default for IntervalTally {
    fn default() -> Self {
        IntervalTally {
            histogram: new_histogram(),
            ops: 0,
            errors: 0,
            errors_by_kind: BTreeMap::new(),
            hits: 0,
            misses: 0,
            writes: 0,
            stale_reads: 0,
            staleness: new_histogram(),
            interval_ms: 0,
            elapsed_ms: 0,
        }
    }
}

/// The hit ratio over the second half of the measured intervals (at least the last one), after
/// the cache has warmed: `None` without reads there.
fn steady_hit_ratio(measured: &[IntervalTally]) -> Option<f64> {
    let half = &measured[measured.len() / 2..];
    let (hits, reads) = half.iter().fold((0, 0), |(h, r), i| (h + i.hits, r + i.hits + i.misses));
    (reads > 0).then(|| hits as f64 / reads as f64)
}

/// Tallies of every workload on every agent.
#[derive(Debug)]
pub struct Tallies {
    /// `[workload][agent]`.
    tallies: Vec<Vec<AgentTally>>,
    /// `[workload]`: warm-up intervals, then measured intervals, by interval number.
    series: Vec<(Vec<IntervalTally>, Vec<IntervalTally>)>,
}

impl Tallies {
    /// Empty tallies for `workloads` workloads on `agents` agents.
    pub fn new(workloads: usize, agents: usize) -> Self {
        Tallies {
            tallies: vec![vec![AgentTally::default(); agents]; workloads],
            series: vec![(Vec::new(), Vec::new()); workloads],
        }
    }

    /// Take workload 0 of `other` (tallies of one workload on the same agents: the step of a
    /// search that stands for it) as workload `w`.
    pub fn adopt(&mut self, w: usize, mut other: Tallies) {
        if other.tallies.is_empty() {
            return;
        }
        self.tallies[w] = other.tallies.swap_remove(0);
        self.series[w] = other.series.swap_remove(0);
    }

    /// Workload `w`'s latency at quantile `q` (0..1), microseconds, in each measured interval that
    /// every one of `agents` has reported so far, in order: `None` for an interval without a
    /// successful request.
    pub fn whole_intervals(&self, w: usize, agents: &[usize], q: f64) -> Vec<Option<f64>> {
        let whole = agents.iter().map(|&a| self.tallies[w][a].intervals_seen.1).min().unwrap_or(0);
        self.series[w]
            .1
            .iter()
            .take(whole)
            .map(|i| (!i.histogram.is_empty()).then(|| i.histogram.value_at_quantile(q) as f64 / 1e3))
            .collect()
    }

    /// Requests (successful or failed) the agents sent in workload `w`, warm-up included.
    pub fn requests_sent(&self, w: usize) -> u64 {
        let (warmup, measured) = &self.series[w];
        warmup.iter().chain(measured).map(|i| i.ops + i.errors).sum()
    }

    /// The tally of workload `w` on agent `a`.
    pub fn get(&self, w: usize, a: usize) -> &AgentTally {
        &self.tallies[w][a]
    }

    /// Fold in one event that agent `agent` sent about workload `workload`.
    pub fn add(
        &mut self,
        agent: usize,
        workload: usize,
        event: &pb::run_event::Event,
    ) -> Result<(), AggregateError> {
        let w = u32::try_from(workload).unwrap_or(u32::MAX);
        let tally = self
            .tallies
            .get_mut(workload)
            .and_then(|t| t.get_mut(agent))
            .ok_or(AggregateError::UnknownWorkload(w))?;
        match event {
            pb::run_event::Event::Progress(p) => {
                let decode_all = |bytes: &[u8]| {
                    decode_or_empty(bytes).map_err(|source| AggregateError::Histogram { workload: w, source })
                };
                let latency = decode_all(&p.histogram)?;
                let (series, seen) = if p.warmup {
                    (&mut self.series[workload].0, &mut tally.intervals_seen.0)
                } else {
                    (&mut self.series[workload].1, &mut tally.intervals_seen.1)
                };
                if series.len() <= *seen {
                    series.resize_with(*seen + 1, IntervalTally::default);
                }
                let slot = &mut series[*seen];
                *seen += 1;
                add(&mut slot.histogram, &latency);
                slot.ops += p.ops;
                slot.errors += p.errors;
                for (kind, n) in &p.errors_by_kind {
                    *slot.errors_by_kind.entry(kind.clone()).or_default() += n;
                }
                slot.hits += p.hits;
                slot.misses += p.misses;
                slot.writes += p.writes;
                slot.stale_reads += p.stale_reads;
                let staleness = decode_all(&p.staleness_histogram)?;
                add(&mut slot.staleness, &staleness);
                slot.interval_ms = slot.interval_ms.max(p.interval_ms);
                slot.elapsed_ms = slot.elapsed_ms.max(p.elapsed_ms);
                if p.warmup {
                    return Ok(());
                }
                add(&mut tally.histogram, &latency);
                add(&mut tally.service, &decode_all(&p.service_histogram)?);
                add(&mut tally.ttfb, &decode_all(&p.ttfb_histogram)?);
                add(&mut tally.redis, &decode_all(&p.redis_histogram)?);
                add(&mut tally.s3, &decode_all(&p.s3_histogram)?);
                add(&mut tally.staleness, &staleness);
                tally.writes += p.writes;
                tally.stale_reads += p.stale_reads;
                tally.ops += p.ops;
                tally.measured_elapsed = tally.measured_elapsed.max(Duration::from_millis(p.elapsed_ms));
                tally.late += p.late;
                tally.hits += p.hits;
                tally.misses += p.misses;
                tally.busy_polled += p.busy_polled;
                for (kind, n) in &p.errors_by_kind {
                    *tally.errors_by_kind.entry(kind.clone()).or_default() += n;
                }
            }
            // Liveness only: the run loop watches for silence.
            pb::run_event::Event::Heartbeat(_) => {}
            pb::run_event::Event::Done(d) => {
                tally.duration = Some(Duration::from_micros(d.duration_us));
                tally.announced = Some((d.ops, d.errors));
                tally.started_at_unix_ns = d.started_at_unix_ns;
                tally.target_rate = d.target_rate;
                tally.cpu_utilization = d.cpu_utilization;
                tally.unsent = d.unsent;
            }
        }
        Ok(())
    }

    /// The merged result of workload `w`. `agent_ids[a]` names agent `a`, and `clock_offsets_ns[a]`
    /// is its clock minus the controller's.
    pub fn workload_result(
        &self,
        w: usize,
        name: &str,
        target: Target,
        agent_ids: &[String],
        clock_offsets_ns: &[i64],
    ) -> WorkloadResult {
        let tallies = &self.tallies[w];
        // Start times on the controller's clock, for the agents that started at all.
        let starts: Vec<Option<i64>> = tallies
            .iter()
            .zip(clock_offsets_ns.iter().chain(std::iter::repeat(&0)))
            .map(|(t, off)| (t.started_at_unix_ns != 0).then(|| t.started_at_unix_ns - off))
            .collect();
        let earliest = starts.iter().flatten().min().copied().unwrap_or(0);
        let latest = starts.iter().flatten().max().copied().unwrap_or(0);
        let per_agent: Vec<AgentWorkloadResult> = tallies
            .iter()
            .zip(agent_ids)
            .zip(&starts)
            .map(|((t, id), start)| {
                // An agent lost before WorkloadDone: its rate over the intervals it reported.
                let duration_s = t.duration.unwrap_or(t.measured_elapsed).as_secs_f64();
                AgentWorkloadResult {
                    agent: id.clone(),
                    ops: t.ops,
                    errors: t.errors(),
                    errors_by_kind: t.errors_by_kind.clone(),
                    duration_s,
                    throughput_ops_s: rate(t.ops, duration_s),
                    latency_us: summarize(&t.histogram),
                    service_time_us: summarize(&t.service),
                    late_starts: t.late,
                    unsent: t.unsent,
                    cpu_utilization: t.cpu_utilization,
                    start_offset_ms: start.map_or(0.0, |s| (s - earliest) as f64 / 1e6),
                }
            })
            .collect();
        let merged = merge(tallies.iter().map(|t| &t.histogram));
        let mut errors_by_kind = BTreeMap::new();
        for t in tallies {
            for (k, n) in &t.errors_by_kind {
                *errors_by_kind.entry(k.clone()).or_default() += n;
            }
        }
        let ops: u64 = per_agent.iter().map(|a| a.ops).sum();
        let errors: u64 = errors_by_kind.values().sum();
        let duration_s = per_agent.iter().map(|a| a.duration_s).fold(0.0, f64::max);
        let open = tallies.iter().any(|t| t.target_rate > 0.0);
        let cache_aside = target == Target::CacheAside;
        let (hits, misses) = tallies.iter().fold((0, 0), |(h, m), t| (h + t.hits, m + t.misses));
        let busy_polled: u64 = tallies.iter().map(|t| t.busy_polled).sum();
        let writes: u64 = tallies.iter().map(|t| t.writes).sum();
        let stale_reads: u64 = tallies.iter().map(|t| t.stale_reads).sum();
        // Reads are judged stale only in a run that writes; such a run's reads report them, if
        // only as 0 (finish marks the rest of its cache-aside workloads).
        let tracked = cache_aside && (writes > 0 || stale_reads > 0);
        let optional = |h: Histogram<u64>| (!h.is_empty()).then(|| summarize(&h));
        let cpu_utilization_max = tallies.iter().map(|t| t.cpu_utilization).fold(0.0, f64::max);
        let (warmup, measured) = &self.series[w];
        let timeseries = [(Phase::Warmup, warmup), (Phase::Measured, measured)]
            .into_iter()
            .flat_map(|(phase, list)| {
                series_points(list).map(move |i| {
                    let interval_s = i.interval_ms as f64 / 1000.0;
                    let reads = i.hits + i.misses;
                    IntervalResult {
                        phase,
                        t_s: i.elapsed_ms as f64 / 1000.0,
                        interval_s,
                        ops: i.ops,
                        errors: i.errors,
                        errors_by_kind: i.errors_by_kind.clone(),
                        ops_s: rate(i.ops, interval_s),
                        p50_us: quantile_us(&i.histogram, 0.50),
                        p99_us: quantile_us(&i.histogram, 0.99),
                        hit_ratio: (cache_aside && reads > 0).then(|| i.hits as f64 / reads as f64),
                        stale_reads: tracked.then_some(i.stale_reads),
                        stale_share: (tracked && reads > 0).then(|| i.stale_reads as f64 / reads as f64),
                        staleness_p99_us: (!i.staleness.is_empty()).then(|| quantile_us(&i.staleness, 0.99)),
                    }
                })
            })
            .collect();
        let mut result = WorkloadResult {
            name: name.to_owned(),
            started_at: None,
            finished_at: None,
            target,
            ops,
            errors,
            errors_by_kind,
            duration_s,
            throughput_ops_s: rate(ops, duration_s),
            latency_us: summarize(&merged),
            histogram: encode(&merged),
            per_agent,
            r#loop: if open { "open" } else { "closed" }.to_owned(),
            service_time_us: summarize(&merge(tallies.iter().map(|t| &t.service))),
            target_rate_ops_s: open.then(|| tallies.iter().map(|t| t.target_rate).sum()),
            achieved_rate_ops_s: rate(ops + errors, duration_s),
            late_starts: tallies.iter().map(|t| t.late).sum(),
            unsent: tallies.iter().map(|t| t.unsent).sum(),
            ttfb_us: optional(merge(tallies.iter().map(|t| &t.ttfb))),
            hits: cache_aside.then_some(hits),
            misses: cache_aside.then_some(misses),
            hit_ratio: (cache_aside && hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
            steady_hit_ratio: cache_aside.then(|| steady_hit_ratio(measured)).flatten(),
            writes: (writes > 0).then_some(writes),
            stale_reads: tracked.then_some(stale_reads),
            stale_share: tracked.then(|| stale_reads as f64 / (hits + misses).max(1) as f64),
            staleness_us: optional(merge(tallies.iter().map(|t| &t.staleness))),
            redis_part_us: optional(merge(tallies.iter().map(|t| &t.redis))),
            s3_part_us: optional(merge(tallies.iter().map(|t| &t.s3))),
            busy_polled_share: (busy_polled > 0).then(|| busy_polled as f64 / (ops + errors).max(1) as f64),
            start_skew_ms: (latest - earliest) as f64 / 1e6,
            cpu_utilization_max,
            client_bound: false,
            client_bound_reason: None,
            timeseries,
            capacity: None,
            server: None,
        };
        result.client_bound_reason = client_bound_reason(&result, true);
        result.client_bound = result.client_bound_reason.is_some();
        result
    }
}

fn quantile_us(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 }
}

fn rate(ops: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { ops as f64 / seconds } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::histogram::decode_base64;
    use hdrhistogram::serialization::{Serializer, V2Serializer};

    /// Deterministic pseudo-random latencies (xorshift), nanoseconds.
    fn samples(seed: u64, n: usize, scale: u64) -> Vec<u64> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                1_000 + x % scale
            })
            .collect()
    }

    fn exact_quantile(sorted: &[u64], q: f64) -> u64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    fn progress(workload: u32, values: &[u64]) -> pb::run_event::Event {
        let mut h = new_histogram();
        for &v in values {
            h.record(v).expect("auto-resizing");
        }
        let mut bytes = Vec::new();
        V2Serializer::new().serialize(&h, &mut bytes).expect("serialises");
        pb::run_event::Event::Progress(pb::Progress {
            workload,
            ops: values.len() as u64,
            histogram: bytes,
            ..Default::default()
        })
    }

    #[test]
    fn a_sliver_at_the_end_of_a_phase_joins_the_interval_before_it() {
        let series = |intervals: &[(u64, usize)]| {
            let mut tallies = Tallies::new(1, 1);
            let mut elapsed = 0;
            for &(ms, ops) in intervals {
                elapsed += ms;
                let mut event = progress(0, &vec![1_000_000; ops]);
                if let pb::run_event::Event::Progress(p) = &mut event {
                    (p.interval_ms, p.elapsed_ms) = (ms, elapsed);
                }
                tallies.add(0, 0, &event).expect("valid event");
            }
            tallies.workload_result(0, "w", Target::Redis, &["a".to_owned()], &[0]).timeseries
        };
        // The final flush 10 ms after the last tick: 3 requests, not an interval of 300/s.
        let s = series(&[(1000, 100), (1000, 100), (10, 3)]);
        let shape: Vec<(u64, f64, f64)> = s.iter().map(|i| (i.ops, i.interval_s, i.t_s)).collect();
        assert_eq!(shape, [(100, 1.0, 1.0), (103, 1.01, 2.01)]);
        assert!((s[1].ops_s - 103.0 / 1.01).abs() < 1e-9);
        // A last interval of 600 ms is an interval of its own.
        assert_eq!(series(&[(1000, 100), (1000, 100), (600, 60)]).len(), 3);
        // So is a single short one.
        assert_eq!(series(&[(10, 3)]).len(), 1);
    }

    #[test]
    fn merged_percentiles_equal_those_of_the_union_of_samples() {
        // Three agents with different latency profiles, each reporting in several intervals.
        let agents = [samples(1, 5_000, 200_000), samples(2, 3_000, 2_000_000), samples(3, 8_000, 50_000)];
        let mut tallies = Tallies::new(1, agents.len());
        for (a, values) in agents.iter().enumerate() {
            for chunk in values.chunks(1_000) {
                tallies.add(a, 0, &progress(0, chunk)).expect("valid event");
            }
        }
        let ids: Vec<String> = (0..agents.len()).map(|a| format!("agent-{a}")).collect();
        let result = tallies.workload_result(0, "w", Target::Redis, &ids, &[0, 0, 0]);

        let mut union: Vec<u64> = agents.concat();
        union.sort_unstable();
        assert_eq!(result.ops, union.len() as u64);
        assert_eq!(result.ops, result.per_agent.iter().map(|a| a.ops).sum::<u64>());
        let checks = [
            (0.50, result.latency_us.p50),
            (0.90, result.latency_us.p90),
            (0.99, result.latency_us.p99),
            (0.999, result.latency_us.p999),
        ];
        for (q, got_us) in checks {
            let exact_us = exact_quantile(&union, q) as f64 / 1000.0;
            // Three significant digits: within 0.1% (plus one bucket).
            assert!(
                (got_us - exact_us).abs() <= exact_us * 0.002,
                "p{q}: merged {got_us} us, exact {exact_us} us"
            );
        }
        let exact_mean = union.iter().sum::<u64>() as f64 / union.len() as f64 / 1000.0;
        assert!((result.latency_us.mean - exact_mean).abs() <= exact_mean * 0.002);
        // Averaging the agents' p99s would be far off: the merged one must not be that.
        let avg_p99: f64 = result.per_agent.iter().map(|a| a.latency_us.p99).sum::<f64>() / 3.0;
        assert!((result.latency_us.p99 - avg_p99).abs() > exact_mean * 0.1);
        // The time series adds up to the totals: 8 intervals (the longest agent's), all ops.
        let series_ops: u64 = result.timeseries.iter().map(|i| i.ops).sum();
        assert_eq!(series_ops, result.ops);
        assert_eq!(result.timeseries.len(), 8);
    }

    #[test]
    fn a_busy_agent_flags_the_workload_client_bound() {
        let mut tallies = Tallies::new(1, 2);
        let done =
            |cpu| pb::run_event::Event::Done(pb::WorkloadDone { cpu_utilization: cpu, ..Default::default() });
        tallies.add(0, 0, &done(0.30)).expect("valid");
        tallies.add(1, 0, &done(0.80)).expect("valid");
        let ids = ["a".to_owned(), "b".to_owned()];
        let calm = tallies.workload_result(0, "w", Target::Redis, &ids, &[0, 0]);
        assert!(!calm.client_bound);
        assert_eq!(calm.cpu_utilization_max, 0.80);
        tallies.add(1, 0, &done(0.92)).expect("valid");
        let busy = tallies.workload_result(0, "w", Target::Redis, &ids, &[0, 0]);
        assert!(busy.client_bound, "an agent at 92% of its cores");
        assert_eq!(busy.client_bound_reason.as_deref(), Some("an agent used 92% of its cores"));
    }

    #[test]
    fn an_open_loop_that_sent_much_less_than_asked_is_client_bound_whatever_its_cpu() {
        let result = |sent: usize, unsent| {
            let mut tallies = Tallies::new(1, 1);
            tallies.add(0, 0, &progress(0, &vec![1_000; sent])).expect("valid");
            let done = pb::WorkloadDone {
                target_rate: 1000.0,
                duration_us: 2_000_000,
                unsent,
                cpu_utilization: 0.3,
                ..Default::default()
            };
            tallies.add(0, 0, &pb::run_event::Event::Done(done)).expect("valid");
            tallies.workload_result(0, "w", Target::Redis, &["a".to_owned()], &[0])
        };
        // 2,000 scheduled over 2 s, 1,000 sent.
        let behind = result(1000, 1000);
        assert_eq!((behind.unsent, behind.per_agent[0].unsent), (1000, 1000));
        assert!(behind.client_bound);
        assert_eq!(
            behind.client_bound_reason.as_deref(),
            Some("asked 1000 ops/s, sent 500 ops/s (1000 of 2000 scheduled requests unsent)")
        );
        // A few unsent at the very end is no sign of a client that could not keep up.
        let kept_up = result(1990, 10);
        assert_eq!((kept_up.client_bound, kept_up.client_bound_reason), (false, None));
    }

    #[test]
    fn start_skew_corrects_clock_offsets() {
        let mut tallies = Tallies::new(1, 2);
        let done = |started| {
            pb::run_event::Event::Done(pb::WorkloadDone { started_at_unix_ns: started, ..Default::default() })
        };
        // Agent 1's clock runs 5 s ahead; it really started 2 ms after agent 0.
        tallies.add(0, 0, &done(1_000_000_000_000)).expect("valid");
        tallies.add(1, 0, &done(1_005_002_000_000)).expect("valid");
        let ids = ["a".to_owned(), "b".to_owned()];
        let r = tallies.workload_result(0, "w", Target::Redis, &ids, &[0, 5_000_000_000]);
        assert!((r.start_skew_ms - 2.0).abs() < 1e-9, "skew {}", r.start_skew_ms);
        assert_eq!(r.per_agent[1].start_offset_ms, 2.0);
    }

    #[test]
    fn warmup_is_left_out_and_histograms_round_trip() {
        let mut tallies = Tallies::new(1, 1);
        let pb::run_event::Event::Progress(mut warm) = progress(0, &[5_000_000]) else { unreachable!() };
        warm.warmup = true;
        tallies.add(0, 0, &pb::run_event::Event::Progress(warm)).expect("valid");
        tallies.add(0, 0, &progress(0, &[1_000, 2_000, 3_000])).expect("valid");
        let r = tallies.workload_result(0, "w", Target::S3, &["agent-0".into()], &[0]);
        assert_eq!(r.ops, 3);
        assert!(r.latency_us.max < 4.0, "warm-up sample leaked: max {}", r.latency_us.max);
        let back = decode_base64(&r.histogram).expect("decodes");
        assert_eq!(back.len(), 3);
        assert_eq!(summarize(&back), r.latency_us);
        let phases: Vec<&str> = r.timeseries.iter().map(|i| i.phase.as_str()).collect();
        assert_eq!(phases, ["warmup", "measured"]);
        assert_eq!(r.timeseries[0].ops, 1, "warm-up is kept in the series, marked as such");
    }

    #[test]
    fn events_for_unknown_workloads_are_refused() {
        let mut tallies = Tallies::new(1, 1);
        assert!(tallies.add(0, 5, &progress(0, &[1])).is_err());
        assert!(tallies.add(3, 0, &progress(0, &[1])).is_err());
    }
}
