//! Figures made from a run's workloads: spreads over the rounds of a `--repeat` run, the Redis
//! and S3 workloads a speed-up compares, the median round of a cost, and the warnings a reader
//! must see before trusting the figures.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::results::pricing;
use crate::results::schema::{
    AgentStatus, CostEstimate, RunResult, ThresholdResult, WorkloadCost, WorkloadResult,
};
use crate::scenario::expand::without_round;
use crate::scenario::{Target, Workload};

/// Something a reader must know before trusting a run's figures. The terminal summary and
/// report.html word each the same way (`render::terminal::warning`).
#[derive(Clone, Debug, PartialEq)]
pub enum Warning {
    /// The run was interrupted: the figures cover what ran until then.
    Partial,
    /// Agents lost during the run, in agent order.
    AgentsLost(Vec<LostAgent>),
    /// A workload's measured requests that failed.
    Errors {
        /// The workload.
        workload: String,
        /// Failed requests.
        errors: u64,
        /// Failed requests by kind.
        by_kind: BTreeMap<String, u64>,
    },
    /// A workload whose client could not keep up: its figures are the client's.
    ClientBound {
        /// The workload.
        workload: String,
        /// Why, in words.
        why: String,
    },
    /// A threshold that failed: breached, or not judged (see its `not_judged`).
    Threshold(ThresholdResult),
    /// The run is marked degraded and none of the above says why.
    Degraded,
    /// The stack's cache is a burstable node: its network baseline and CPU credits, not Redis,
    /// may set the Redis figures of a long or large-object run.
    BurstableCache {
        /// Its node type, e.g. "cache.t4g.micro".
        node_type: String,
    },
    /// Large objects read from the embedded S3 endpoint of this machine: the reads are
    /// throughput-bound, so the endpoint and the machine's cores set the S3 figures, not S3.
    LocalS3 {
        /// The dataset's mean object size, bytes.
        mean_bytes: f64,
    },
}

/// Objects at least this large on average make a local S3 read throughput-bound.
const LARGE_OBJECT_BYTES: f64 = (1u64 << 20) as f64;

/// An agent lost during a run.
#[derive(Clone, Debug, PartialEq)]
pub struct LostAgent {
    /// Its id.
    pub id: String,
    /// Why it was lost, when known.
    pub error: Option<String>,
}

/// The warnings of `result`, in the order a reader should meet them.
pub fn warnings(result: &RunResult) -> Vec<Warning> {
    let mut found = Vec::new();
    if result.partial {
        found.push(Warning::Partial);
    }
    let lost: Vec<LostAgent> = result
        .agents
        .iter()
        .filter(|a| a.status != AgentStatus::Ok)
        .map(|a| LostAgent { id: a.id.clone(), error: a.error.clone() })
        .collect();
    if !lost.is_empty() {
        found.push(Warning::AgentsLost(lost));
    }
    for w in result.workloads.iter().filter(|w| w.errors > 0) {
        found.push(Warning::Errors {
            workload: w.name.clone(),
            errors: w.errors,
            by_kind: w.errors_by_kind.clone(),
        });
    }
    for w in &result.workloads {
        if let Some(why) = w.client_bound_why() {
            found.push(Warning::ClientBound { workload: w.name.clone(), why });
        }
    }
    found.extend(result.thresholds.iter().filter(|t| !t.passed).cloned().map(Warning::Threshold));
    if result.degraded && found.is_empty() {
        found.push(Warning::Degraded);
    }
    if let Some(node_type) = result.targets.cache_node_type.as_deref().filter(|n| pricing::is_burstable(n)) {
        found.push(Warning::BurstableCache { node_type: node_type.to_owned() });
    }
    let t = &result.targets;
    let embedded = t.s3_source.as_deref() == Some("embedded") || t.s3_express_endpoint.is_some();
    let reads_s3 = result.scenario.workloads.iter().any(|w| w.target.uses_s3() || w.target.uses_s3_express());
    if embedded && reads_s3 {
        let (mean_bytes, _) = crate::results::cost::dataset_bytes(result);
        if mean_bytes >= LARGE_OBJECT_BYTES {
            found.push(Warning::LocalS3 { mean_bytes });
        }
    }
    found
}

/// The cache-aside workloads that differ from another of the run only in their `ttl` (a
/// `--sweep-ttl` run, or a scenario that lists a workload once per TTL), each with its ttl, in
/// the run's order: the rows of the TTL, hit ratio and staleness trade-off. Empty when no two
/// such workloads differ in ttl.
pub fn ttl_swept(result: &RunResult) -> Vec<(Option<Duration>, &WorkloadResult)> {
    let setting = |w: &WorkloadResult| {
        result.scenario.workloads.iter().find(|s| s.name == w.name && s.target == Target::CacheAside)
    };
    let but_ttl = |s: &Workload| -> Vec<(&'static str, String)> {
        s.settings().into_iter().filter(|(what, _)| *what != "ttl").collect()
    };
    result
        .workloads
        .iter()
        .filter_map(|w| {
            let s = setting(w)?;
            let same = but_ttl(s);
            let peer =
                result.workloads.iter().filter_map(setting).any(|o| o.ttl != s.ttl && but_ttl(o) == same);
            peer.then_some((s.ttl, w))
        })
        .collect()
}

/// Median, smallest and largest of some figures (all zero for none).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spread {
    /// The middle value; of an even count the lower of the two middle ones (see [`median_index`]).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`.
    pub fn of(values: &[f64]) -> Spread {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            return Spread::default();
        }
        Spread { median: v[median_index(n)], min: v[0], max: v[n - 1] }
    }
}

/// Where the median of `n` sorted figures is: the middle one, and of an even count the lower of
/// the two middle ones, so that a median over rounds is always a figure one round measured and
/// the summary's median and the cost lines' "median round" are the same figure.
pub fn median_index(n: usize) -> usize {
    n.saturating_sub(1) / 2
}

/// One workload of a `--repeat` run over its rounds: p50, p99 (µs) and ops/s.
#[derive(Clone, Debug, PartialEq)]
pub struct Rounds {
    /// The workload's name without its round number.
    pub name: String,
    /// Rounds that measured at least one request.
    pub count: usize,
    /// p50 latency, µs.
    pub p50: Spread,
    /// p99 latency, µs.
    pub p99: Spread,
    /// Throughput, ops/s.
    pub ops_s: Spread,
}

/// `items` in groups of equal `key`, the groups in the order their first item came.
pub fn grouped<T, K: PartialEq>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Vec<(K, Vec<T>)> {
    let mut groups: Vec<(K, Vec<T>)> = Vec::new();
    for item in items {
        let k = key(&item);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, members)) => members.push(item),
            None => groups.push((k, vec![item])),
        }
    }
    groups
}

/// Each workload's figures over the rounds of a `--repeat` run, in run order, and the
/// speed-ups of [`pairs`] over the rounds (`(label, spread)`, labelled as [`speedups`] does).
/// Empty for a run of one round.
pub fn rounds(result: &RunResult) -> (Vec<Rounds>, Vec<(String, Spread)>) {
    let n = result.scenario.rounds;
    if n <= 1 {
        return (Vec::new(), Vec::new());
    }
    let workloads = grouped(&result.workloads, |w| without_round(&w.name, n))
        .into_iter()
        .map(|(base, rounds)| {
            let ran: Vec<&WorkloadResult> = rounds.into_iter().filter(|w| w.ops > 0).collect();
            let spread =
                |f: fn(&WorkloadResult) -> f64| Spread::of(&ran.iter().map(|w| f(w)).collect::<Vec<_>>());
            Rounds {
                name: base.to_owned(),
                count: ran.len(),
                p50: spread(|w| w.latency_us.p50),
                p99: spread(|w| w.latency_us.p99),
                ops_s: spread(|w| w.throughput_ops_s),
            }
        })
        .collect();
    let label = |(r, s3): &(&WorkloadResult, &WorkloadResult)| {
        format!("{} vs {}", without_round(&r.name, n), without_round(&s3.name, n))
    };
    let speedups = grouped(pairs(result), label)
        .into_iter()
        .map(|(label, pairs)| {
            let ratio = |(r, s3): &(&WorkloadResult, &WorkloadResult)| {
                if r.latency_us.mean > 0.0 { s3.latency_us.mean / r.latency_us.mean } else { f64::INFINITY }
            };
            (label, Spread::of(&pairs.iter().map(ratio).collect::<Vec<_>>()))
        })
        .collect();
    (workloads, speedups)
}

/// `cost` with each workload of a `--repeat` run once: its round of median throughput among the
/// rounds that measured a request (by [`median_index`], as the summary's median), named without
/// the round.
pub fn median_rounds(cost: &CostEstimate, rounds: u32) -> CostEstimate {
    if rounds <= 1 {
        return cost.clone();
    }
    let workloads = grouped(&cost.workloads, |w| without_round(&w.name, rounds))
        .into_iter()
        .map(|(name, members)| {
            let mut ran: Vec<_> = members.iter().copied().filter(|w| w.reads_s > 0.0).collect();
            if ran.is_empty() {
                ran = members;
            }
            ran.sort_by(|a, b| a.reads_s.total_cmp(&b.reads_s));
            let median = ran[median_index(ran.len())];
            WorkloadCost { name: format!("{name} (median round)"), ..median.clone() }
        })
        .collect();
    CostEstimate { workloads, ..cost.clone() }
}

/// The Redis and S3 workloads a run's speed-up lines compare: each S3 workload with the first
/// Redis workload not yet taken that reads the same way (concurrency, keys, rate, byte range, one
/// command at a time, agents), so that a sweep compares each size with its own; when no two read the same
/// way, the first of each, as the tutorial's two scripts.
pub fn pairs(result: &RunResult) -> Vec<(&WorkloadResult, &WorkloadResult)> {
    let measured = |target: Target| result.workloads.iter().filter(move |w| w.target == target && w.ops > 0);
    let shape = |w: &WorkloadResult| {
        let s = result.scenario.workloads.iter().find(|s| s.name == w.name)?;
        Some((s.concurrency, &s.keys, s.rate.map(f64::to_bits), s.range, s.pipeline.max(1), s.agents))
    };
    let mut taken = Vec::new();
    let mut pairs = Vec::new();
    for s3 in measured(Target::S3) {
        let Some(want) = shape(s3) else { continue };
        let same = measured(Target::Redis).find(|r| !taken.contains(&r.name) && shape(r) == Some(want));
        if let Some(redis) = same {
            taken.push(redis.name.clone());
            pairs.push((redis, s3));
        }
    }
    if pairs.is_empty()
        && let (Some(redis), Some(s3)) = (measured(Target::Redis).next(), measured(Target::S3).next())
    {
        pairs.push((redis, s3));
    }
    pairs
}

/// Fewest measured requests on each side for a speed-up to be stated: with fewer, one slow or
/// fast request decides the ratio.
pub const MIN_COMPARED_OPS: u64 = 20;
