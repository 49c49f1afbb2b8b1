//! Aggregation: the agents' interval histograms are added up per agent and per workload, and the
//! summaries come from the merged histograms. Percentiles are never averaged.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use fetchbench_proto as pb;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use crate::result::{AgentWorkloadResult, LatencySummary, WorkloadResult};

/// Significant digits of every histogram, as on the agents.
const SIGNIFICANT_DIGITS: u8 = 3;

/// A fresh auto-resizing histogram of nanoseconds.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 2, SIGNIFICANT_DIGITS)
        .expect("1..2 with 3 significant digits is a valid histogram range");
    h.auto(true);
    h
}

/// Why an agent's report could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    /// The histogram bytes did not decode.
    #[error("histogram of workload {workload} does not decode: {detail}")]
    Histogram {
        /// Workload index.
        workload: u32,
        /// Decoder message.
        detail: String,
    },
    /// The agent named a workload that is not in the run.
    #[error("event for workload {0}, which the run does not have")]
    UnknownWorkload(u32),
}

/// What one agent reported for one workload.
#[derive(Debug, Clone)]
pub struct AgentTally {
    /// Latencies of successful measured requests, nanoseconds.
    pub histogram: Histogram<u64>,
    /// Successful measured requests.
    pub ops: u64,
    /// Failed measured requests by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Measured-phase length, from WorkloadDone; `None` until it arrives.
    pub duration: Option<Duration>,
    /// Totals the agent announced in WorkloadDone, for a consistency check.
    pub announced: Option<(u64, u64)>,
}

impl Default for AgentTally {
    fn default() -> Self {
        AgentTally {
            histogram: new_histogram(),
            ops: 0,
            errors_by_kind: BTreeMap::new(),
            duration: None,
            announced: None,
        }
    }
}

impl AgentTally {
    /// Failed measured requests.
    pub fn errors(&self) -> u64 {
        self.errors_by_kind.values().sum()
    }
}

/// Tallies of every workload on every agent: `[workload][agent]`.
#[derive(Debug)]
pub struct Tallies {
    tallies: Vec<Vec<AgentTally>>,
}

impl Tallies {
    /// Empty tallies for `workloads` workloads on `agents` agents.
    pub fn new(workloads: usize, agents: usize) -> Self {
        Tallies { tallies: vec![vec![AgentTally::default(); agents]; workloads] }
    }

    /// The tally of workload `w` on agent `a`.
    pub fn get(&self, w: usize, a: usize) -> &AgentTally {
        &self.tallies[w][a]
    }

    /// Fold one event from agent `agent` in. Warm-up progress is left out.
    pub fn add(&mut self, agent: usize, event: &pb::run_event::Event) -> Result<(), AggregateError> {
        match event {
            pb::run_event::Event::Progress(p) => {
                let tally = self.slot(p.workload, agent)?;
                if p.warmup {
                    return Ok(());
                }
                let h = decode(&p.histogram)
                    .map_err(|detail| AggregateError::Histogram { workload: p.workload, detail })?;
                tally.histogram.add(&h).expect("auto-resizing histograms accept every value");
                tally.ops += p.ops;
                for (kind, n) in &p.errors_by_kind {
                    *tally.errors_by_kind.entry(kind.clone()).or_default() += n;
                }
            }
            pb::run_event::Event::Done(d) => {
                let tally = self.slot(d.workload, agent)?;
                tally.duration = Some(Duration::from_micros(d.duration_us));
                tally.announced = Some((d.ops, d.errors));
            }
        }
        Ok(())
    }

    fn slot(&mut self, workload: u32, agent: usize) -> Result<&mut AgentTally, AggregateError> {
        self.tallies
            .get_mut(workload as usize)
            .and_then(|w| w.get_mut(agent))
            .ok_or(AggregateError::UnknownWorkload(workload))
    }

    /// The merged result of workload `w`; `agent_ids[a]` names agent `a`.
    pub fn workload_result(
        &self,
        w: usize,
        name: &str,
        target: &str,
        agent_ids: &[String],
    ) -> WorkloadResult {
        let per_agent: Vec<AgentWorkloadResult> = self.tallies[w]
            .iter()
            .zip(agent_ids)
            .map(|(t, id)| {
                let duration_s = t.duration.map_or(0.0, |d| d.as_secs_f64());
                AgentWorkloadResult {
                    agent: id.clone(),
                    ops: t.ops,
                    errors: t.errors(),
                    errors_by_kind: t.errors_by_kind.clone(),
                    duration_s,
                    throughput_ops_s: rate(t.ops, duration_s),
                    latency_us: summarize(&t.histogram),
                }
            })
            .collect();
        let merged = merge(self.tallies[w].iter().map(|t| &t.histogram));
        let mut errors_by_kind = BTreeMap::new();
        for t in &self.tallies[w] {
            for (k, n) in &t.errors_by_kind {
                *errors_by_kind.entry(k.clone()).or_default() += n;
            }
        }
        let ops = per_agent.iter().map(|a| a.ops).sum();
        let duration_s = per_agent.iter().map(|a| a.duration_s).fold(0.0, f64::max);
        WorkloadResult {
            name: name.to_owned(),
            target: target.to_owned(),
            ops,
            errors: errors_by_kind.values().sum(),
            errors_by_kind,
            duration_s,
            throughput_ops_s: rate(ops, duration_s),
            latency_us: summarize(&merged),
            histogram: encode(&merged),
            per_agent,
            timeseries: None,
            client_bound: None,
            hit_ratio: None,
        }
    }
}

fn rate(ops: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { ops as f64 / seconds } else { 0.0 }
}

/// The sum of several histograms.
pub fn merge<'a>(histograms: impl IntoIterator<Item = &'a Histogram<u64>>) -> Histogram<u64> {
    let mut total = new_histogram();
    for h in histograms {
        total.add(h).expect("auto-resizing histograms accept every value");
    }
    total
}

/// Min, mean, percentiles and max of a nanosecond histogram, in microseconds.
pub fn summarize(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    let us = |ns: u64| ns as f64 / 1000.0;
    LatencySummary {
        min: us(h.min()),
        mean: h.mean() / 1000.0,
        p50: us(h.value_at_quantile(0.50)),
        p90: us(h.value_at_quantile(0.90)),
        p99: us(h.value_at_quantile(0.99)),
        p999: us(h.value_at_quantile(0.999)),
        max: us(h.max()),
    }
}

/// Decode a V2 (plain or deflate) serialised histogram.
pub fn decode(bytes: &[u8]) -> Result<Histogram<u64>, String> {
    Deserializer::new().deserialize(&mut std::io::Cursor::new(bytes)).map_err(|e| format!("{e:?}"))
}

/// Base64 of the V2 deflate serialisation, as result.json holds it.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut bytes).expect("serialising into a Vec cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decode result.json's `histogram` field.
pub fn decode_base64(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| e.to_string())?;
    decode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::V2Serializer;

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
    fn merged_percentiles_equal_those_of_the_union_of_samples() {
        // Three agents with different latency profiles, each reporting in several intervals.
        let agents = [samples(1, 5_000, 200_000), samples(2, 3_000, 2_000_000), samples(3, 8_000, 50_000)];
        let mut tallies = Tallies::new(1, agents.len());
        for (a, values) in agents.iter().enumerate() {
            for chunk in values.chunks(1_000) {
                tallies.add(a, &progress(0, chunk)).expect("valid event");
            }
        }
        let ids: Vec<String> = (0..agents.len()).map(|a| format!("agent-{a}")).collect();
        let result = tallies.workload_result(0, "w", "redis", &ids);

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
    }

    #[test]
    fn warmup_is_left_out_and_histograms_round_trip() {
        let mut tallies = Tallies::new(1, 1);
        let pb::run_event::Event::Progress(mut warm) = progress(0, &[5_000_000]) else { unreachable!() };
        warm.warmup = true;
        tallies.add(0, &pb::run_event::Event::Progress(warm)).expect("valid");
        tallies.add(0, &progress(0, &[1_000, 2_000, 3_000])).expect("valid");
        let r = tallies.workload_result(0, "w", "s3", &["agent-0".into()]);
        assert_eq!(r.ops, 3);
        assert!(r.latency_us.max < 4.0, "warm-up sample leaked: max {}", r.latency_us.max);
        let back = decode_base64(&r.histogram).expect("decodes");
        assert_eq!(back.len(), 3);
        assert_eq!(summarize(&back), r.latency_us);
    }

    #[test]
    fn events_for_unknown_workloads_are_refused() {
        let mut tallies = Tallies::new(1, 1);
        assert!(tallies.add(0, &progress(5, &[1])).is_err());
        assert!(tallies.add(3, &progress(0, &[1])).is_err());
    }
}
