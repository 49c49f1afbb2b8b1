//! Thresholds: limits from the scenario's `[thresholds]` table, checked against the merged
//! results. Latencies and errors are upper bounds; throughput and hit ratio are lower bounds.

use std::collections::BTreeMap;

use crate::result::{LatencySummary, ThresholdResult, WorkloadResult};
use crate::scenario::Metric;

/// Check every threshold; `thresholds` was validated with the scenario, so each names a workload
/// and a known metric.
pub fn check(thresholds: &BTreeMap<String, f64>, workloads: &[WorkloadResult]) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .filter_map(|(key, &limit)| {
            let (name, metric) = key.rsplit_once('.')?;
            let metric = Metric::parse(metric)?;
            let w = workloads.iter().find(|w| w.name == name)?;
            let value = value(w, metric);
            let passed = if metric.is_upper_bound() { value <= limit } else { value >= limit };
            let bound = if metric.is_upper_bound() { "max" } else { "min" };
            Some(ThresholdResult { key: key.clone(), limit, value, bound: bound.into(), passed })
        })
        .collect()
}

fn value(w: &WorkloadResult, metric: Metric) -> f64 {
    let stat = |l: &LatencySummary, s: &str| match s {
        "min" => l.min,
        "mean" => l.mean,
        "p50" => l.p50,
        "p90" => l.p90,
        "p99" => l.p99,
        "p999" => l.p999,
        _ => l.max,
    };
    match metric {
        Metric::Latency(s) => stat(&w.latency_us, s),
        Metric::Service(s) => stat(&w.service_time_us, s),
        Metric::Errors => w.errors as f64,
        Metric::ErrorRate => {
            let all = w.ops + w.errors;
            if all == 0 { 0.0 } else { w.errors as f64 / all as f64 }
        }
        Metric::Throughput => w.throughput_ops_s,
        Metric::HitRatio => w.hit_ratio.unwrap_or(0.0),
    }
}

/// One line per breached threshold: `redis-get.p99_us = 2310.4, above the limit 2000`.
pub fn breaches(results: &[ThresholdResult]) -> Vec<String> {
    results
        .iter()
        .filter(|t| !t.passed)
        .map(|t| {
            let side = if t.bound == "max" { "above" } else { "below" };
            format!("{} = {}, {side} the limit {}", t.key, round(t.value), round(t.limit))
        })
        .collect()
}

fn round(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
