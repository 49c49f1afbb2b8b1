//! Thresholds: limits from the scenario's `[thresholds]` table, checked against the merged
//! results. Latencies and errors are upper bounds; throughput and hit ratio are lower bounds. A
//! client-bound workload's figures are the client's, so its thresholds fail as not judged rather
//! than pass or fail the target on them.

use std::collections::BTreeMap;

use crate::results::schema::{LatencySummary, ThresholdResult, WorkloadResult};
use crate::scenario::metric::ThresholdMetric;

/// Check every threshold; `thresholds` was validated with the scenario, so each names a workload
/// and a known metric.
pub fn check(thresholds: &BTreeMap<String, f64>, workloads: &[WorkloadResult]) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .filter_map(|(key, &limit)| {
            let (name, metric) = key.rsplit_once('.')?;
            let metric = ThresholdMetric::parse(metric)?;
            let bound = if metric.is_upper_bound() { "max" } else { "min" };
            // A workload that never ran (an interrupted run) or measured nothing has no figures
            // to hold to a limit: its zeros would pass every upper bound.
            let w = workloads.iter().find(|w| w.name == name && w.ops + w.errors > 0);
            let timed = !matches!(metric, ThresholdMetric::Errors | ThresholdMetric::ErrorRate);
            let Some(w) = w.filter(|w| w.ops > 0 || !timed) else {
                let why = if w.is_some() { "had no successful request" } else { "measured no request" };
                let not_judged = Some(format!("{name} {why}"));
                return Some(ThresholdResult { key: key.clone(), limit, value: 0.0, bound: bound.into(), passed: false, not_judged });
            };
            let value = value(w, metric);
            let not_judged = w.client_bound_why().map(|why| {
                format!("{name} was client-bound ({why}): the client could not keep up, add agents or lower the rate")
            });
            let held = if metric.is_upper_bound() { value <= limit } else { value >= limit };
            let passed = held && not_judged.is_none();
            Some(ThresholdResult { key: key.clone(), limit, value, bound: bound.into(), passed, not_judged })
        })
        .collect()
}

fn value(w: &WorkloadResult, metric: ThresholdMetric) -> f64 {
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
        ThresholdMetric::Latency(s) => stat(&w.latency_us, s),
        ThresholdMetric::Service(s) => stat(&w.service_time_us, s),
        ThresholdMetric::Errors => w.errors as f64,
        ThresholdMetric::ErrorRate => {
            let all = w.ops + w.errors;
            if all == 0 { 0.0 } else { w.errors as f64 / all as f64 }
        }
        ThresholdMetric::Throughput => w.throughput_ops_s,
        ThresholdMetric::HitRatio => w.hit_ratio.unwrap_or(0.0),
    }
}

/// A failed threshold in words, after its label: `redis-get.p99_us = 2310.4, above the limit
/// 2000`, or (not judged) `redis-get.p99_us: redis-get was client-bound (...)`.
pub fn breach(t: &ThresholdResult) -> String {
    if let Some(why) = &t.not_judged {
        return format!("{}: {why}", t.key);
    }
    let side = if t.bound == "max" { "above" } else { "below" };
    format!("{} = {}, {side} the limit {}", t.key, round(t.value), round(t.limit))
}

fn round(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaches(results: &[ThresholdResult]) -> Vec<String> {
        results.iter().filter(|t| !t.passed).map(breach).collect()
    }

    #[test]
    fn a_client_bound_workload_fails_its_thresholds_as_not_judged() {
        let limits = BTreeMap::from([("fast.p99_us".to_owned(), 1000.0), ("slow.p99_us".to_owned(), 1000.0)]);
        let fast = WorkloadResult {
            name: "fast".into(),
            ops: 100,
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
            ["slow.p99_us: slow was client-bound (asked 500000 ops/s, sent 41200 ops/s): the \
              client could not keep up, add agents or lower the rate"]
        );
    }

    fn measured(name: &str) -> WorkloadResult {
        WorkloadResult {
            name: name.into(),
            ops: 990,
            errors: 10,
            throughput_ops_s: 500.0,
            hit_ratio: Some(0.8),
            latency_us: LatencySummary {
                min: 5.0,
                mean: 40.0,
                p50: 30.0,
                p99: 200.0,
                max: 900.0,
                ..Default::default()
            },
            service_time_us: LatencySummary { p99: 150.0, ..Default::default() },
            ..Default::default()
        }
    }

    /// (limit key, limit, passed) for one workload's figures.
    fn judged(limits: &[(&str, f64)]) -> Vec<(String, bool)> {
        let limits: BTreeMap<String, f64> = limits.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        check(&limits, &[measured("w")]).into_iter().map(|t| (t.key, t.passed)).collect()
    }

    #[test]
    fn upper_bounds_hold_up_to_and_at_their_limit() {
        let r = judged(&[
            ("w.p99_us", 200.0),
            ("w.max_us", 899.9),
            ("w.service_p99_us", 149.0),
            ("w.errors", 10.0),
            ("w.error_rate", 0.01),
            ("w.mean_us", 40.5),
        ]);
        let expect = [
            ("w.error_rate", true), // 10 of 1000 requests is exactly 1%
            ("w.errors", true),     // equal to its limit
            ("w.max_us", false),
            ("w.mean_us", true),
            ("w.p99_us", true), // equal to its limit
            ("w.service_p99_us", false),
        ];
        assert_eq!(r, expect.map(|(k, p)| (k.to_owned(), p)));
        assert_eq!(judged(&[("w.error_rate", 0.0099)]), [("w.error_rate".to_owned(), false)]);
    }

    #[test]
    fn each_latency_limit_bounds_its_own_figure() {
        let stats = ["min", "mean", "p50", "p90", "p99", "p999", "max"];
        let figures =
            LatencySummary { min: 1.0, mean: 2.0, p50: 3.0, p90: 4.0, p99: 5.0, p999: 6.0, max: 7.0 };
        let w = WorkloadResult { latency_us: figures, service_time_us: figures, ..measured("w") };
        for (i, stat) in stats.iter().enumerate() {
            let figure = (i + 1) as f64;
            for key in [format!("w.{stat}_us"), format!("w.service_{stat}_us")] {
                let at = BTreeMap::from([(key.clone(), figure)]);
                let below = BTreeMap::from([(key.clone(), figure - 0.5)]);
                assert!(check(&at, std::slice::from_ref(&w))[0].passed, "{key} at {figure}");
                assert!(!check(&below, std::slice::from_ref(&w))[0].passed, "{key} below {figure}");
            }
        }
    }

    #[test]
    fn lower_bounds_hold_down_to_and_at_their_limit() {
        let r = judged(&[("w.throughput_ops_s", 500.0), ("w.hit_ratio", 0.81)]);
        assert_eq!(r, [("w.hit_ratio".to_owned(), false), ("w.throughput_ops_s".to_owned(), true)]);
        let limits = BTreeMap::from([("w.throughput_ops_s".to_owned(), 501.0)]);
        let checked = check(&limits, &[measured("w")]);
        assert_eq!(breaches(&checked), ["w.throughput_ops_s = 500, below the limit 501"]);
        let limits = BTreeMap::from([("w.p99_us".to_owned(), 150.5)]);
        assert_eq!(breaches(&check(&limits, &[measured("w")])), ["w.p99_us = 200, above the limit 150.5"]);
    }

    #[test]
    fn a_workload_that_measured_nothing_fails_every_limit_as_not_judged() {
        let limits = BTreeMap::from([("w.p99_us".to_owned(), 1000.0), ("gone.errors".to_owned(), 0.0)]);
        let idle = WorkloadResult { ops: 0, errors: 0, ..measured("w") };
        let checked = check(&limits, &[idle]);
        assert_eq!(checked.iter().map(|t| t.passed).collect::<Vec<_>>(), [false, false]);
        assert_eq!(
            breaches(&checked),
            ["gone.errors: gone measured no request", "w.p99_us: w measured no request"]
        );
        // Every request failed: the errors are judged, the latency of nothing is not.
        let limits = BTreeMap::from([("w.p99_us".to_owned(), 1000.0), ("w.errors".to_owned(), 0.0)]);
        let failed = WorkloadResult { ops: 0, errors: 50, ..measured("w") };
        assert_eq!(
            breaches(&check(&limits, &[failed])),
            ["w.errors = 50, above the limit 0", "w.p99_us: w had no successful request"]
        );
    }
}
