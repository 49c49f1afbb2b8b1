//! Thresholds: limits from the scenario's `[thresholds]` table, checked against the merged
//! results. Latencies and errors are upper bounds; throughput and hit ratio are lower bounds. A
//! client-bound workload's figures are the client's, so its thresholds fail as not judged rather
//! than pass or fail the target on them.

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
            let not_judged = w.client_bound.then(|| {
                let why = w.client_bound_reason.as_deref().unwrap_or("an agent's CPU was saturated");
                format!("{name} was client-bound ({why}): the client could not keep up, add agents or lower the rate")
            });
            let held = if metric.is_upper_bound() { value <= limit } else { value >= limit };
            let bound = if metric.is_upper_bound() { "max" } else { "min" };
            let passed = held && not_judged.is_none();
            Some(ThresholdResult { key: key.clone(), limit, value, bound: bound.into(), passed, not_judged })
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

/// One line per breached threshold: `redis-get.p99_us = 2310.4, above the limit 2000`, or
/// `redis-get.p99_us not judged: redis-get was client-bound (...)`.
pub fn breaches(results: &[ThresholdResult]) -> Vec<String> {
    results
        .iter()
        .filter(|t| !t.passed)
        .map(|t| {
            if let Some(why) = &t.not_judged {
                return format!("{} not judged: {why}", t.key);
            }
            let side = if t.bound == "max" { "above" } else { "below" };
            format!("{} = {}, {side} the limit {}", t.key, round(t.value), round(t.limit))
        })
        .collect()
}

fn round(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_bound_workload_fails_its_thresholds_as_not_judged() {
        let limits = BTreeMap::from([("fast.p99_us".to_owned(), 1000.0), ("slow.p99_us".to_owned(), 1000.0)]);
        let fast = WorkloadResult {
            name: "fast".into(),
            latency_us: LatencySummary { p99: 10.0, ..Default::default() },
            ..Default::default()
        };
        let slow = WorkloadResult {
            name: "slow".into(),
            client_bound: true,
            client_bound_reason: Some("asked 500000 ops/s, sent 41200 ops/s".into()),
            ..fast.clone()
        };
        let checked = check(&limits, &[fast, slow]);
        assert_eq!(checked.iter().map(|t| t.passed).collect::<Vec<_>>(), [true, false]);
        assert_eq!(
            breaches(&checked),
            ["slow.p99_us not judged: slow was client-bound (asked 500000 ops/s, sent 41200 ops/s): the \
              client could not keep up, add agents or lower the rate"]
        );
    }
}
