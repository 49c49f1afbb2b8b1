//! What CloudWatch's minutes say about a run's limits: a capacity search on the stack's cache
//! whose minutes show the node over its network allowance, or its engine thread near a whole
//! core, was limited by that, whatever the agents' figures alone suggested.

use std::time::SystemTime;

use super::schema::{CloudWatchView, RunResult};

/// EngineCPUUtilization (percent of the engine's thread) at which the engine is the limit.
pub const ENGINE_CPU_PERCENT: f64 = 90.0;
/// What the agents' figures may name that CloudWatch's minutes cannot overrule: failures they
/// saw themselves, and a client that could not send the rate.
const KEPT: [&str; 3] = ["errors", "throttling", "client"];

/// Name `network` or `server_cpu` as the limit of each capacity search on the cache whose
/// minutes (those overlapping the search's window) show it; returns a line per change.
pub fn refine_limits(result: &mut RunResult) -> Vec<String> {
    let Some(cache) = result.cloudwatch.iter().find(|v| v.resource == "cache").cloned() else {
        return Vec::new();
    };
    let mut said = Vec::new();
    for w in &mut result.workloads {
        let (Some(capacity), true) = (w.capacity.as_mut(), w.target.uses_redis()) else { continue };
        if KEPT.contains(&capacity.limited_by.as_str()) {
            continue;
        }
        let window = (w.started_at.as_deref().and_then(time), w.finished_at.as_deref().and_then(time));
        let (Some(began), Some(ended)) = window else { continue };
        let during = |name: &str| minutes(&cache, name, began, ended);
        let shaped: f64 = during("NetworkBandwidthOutAllowanceExceeded").iter().sum();
        let engine = during("EngineCPUUtilization").into_iter().fold(0.0, f64::max);
        let (by, reason) = if shaped > 0.0 {
            (
                "network",
                format!(
                    "CloudWatch counted {shaped:.0} packets over the node's network bandwidth allowance \
                     (NetworkBandwidthOutAllowanceExceeded) during the search: a node type with more bandwidth \
                     (or smaller objects) serves more"
                ),
            )
        } else if engine >= ENGINE_CPU_PERCENT && capacity.limited_by != "server_cpu" {
            (
                "server_cpu",
                format!(
                    "CloudWatch's EngineCPUUtilization reached {engine:.0}% in a minute of the search: a bigger \
                     node (or more shards) serves more"
                ),
            )
        } else {
            continue;
        };
        said.push(format!("{}: limited by {by} ({reason}), not {}", w.name, capacity.limited_by));
        capacity.limited_by = by.to_owned();
        capacity.limited_by_reason = reason;
    }
    said
}

/// The points of `name` in `view` whose minute overlaps `began..ended`.
fn minutes(view: &CloudWatchView, name: &str, began: SystemTime, ended: SystemTime) -> Vec<f64> {
    let Some(metric) = view.metrics.iter().find(|m| m.name == name) else { return Vec::new() };
    let period = std::time::Duration::from_secs(u64::from(view.period_s.max(1)));
    metric
        .points
        .iter()
        .filter_map(|p| time(&p.t).map(|t| (t, p.value)))
        .filter(|&(t, _)| t < ended && t + period > began)
        .map(|(_, v)| v)
        .collect()
}

fn time(t: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::schema::{Capacity, CloudWatchMetric, CloudWatchPoint, WorkloadResult};
    use crate::scenario::{FindMax, Percentile, Scenario, Target};

    fn run(limited_by: &str, shaped: [f64; 3], engine: [f64; 3]) -> RunResult {
        let minutes = ["2026-12-06T13:00:00Z", "2026-12-06T13:01:00Z", "2026-12-06T13:02:00Z"];
        let metric = |name: &str, values: [f64; 3]| CloudWatchMetric {
            name: name.into(),
            stat: "Sum".into(),
            value: Some(values.iter().sum()),
            points: minutes
                .iter()
                .zip(values)
                .map(|(t, value)| CloudWatchPoint { t: (*t).into(), value })
                .collect(),
        };
        let capacity = Capacity {
            objective: FindMax::new(Percentile::P99, 2.0),
            probe_ops_s: 1000.0,
            max_rate_ops_s: Some(800.0),
            first_failed_ops_s: Some(900.0),
            limited_by: limited_by.into(),
            limited_by_reason: "the agents' reason".into(),
            ended_by: "resolution".into(),
            steps: Vec::new(),
        };
        // The search ran in the middle minute only.
        let workload = WorkloadResult {
            name: "redis-get".into(),
            target: Target::Redis,
            started_at: Some("2026-12-06T13:01:05.000Z".into()),
            finished_at: Some("2026-12-06T13:01:50.000Z".into()),
            capacity: Some(capacity),
            ..Default::default()
        };
        let mut result = RunResult::of(Scenario::seed(), vec![workload]);
        result.cloudwatch = vec![CloudWatchView {
            resource: "cache".into(),
            source: "AWS/ElastiCache".into(),
            period_s: 60,
            start: minutes[0].into(),
            end: "2026-12-06T13:03:00Z".into(),
            complete: true,
            metrics: vec![
                metric("NetworkBandwidthOutAllowanceExceeded", shaped),
                metric("EngineCPUUtilization", engine),
            ],
        }];
        result
    }

    fn limit(r: &RunResult) -> (&str, &str) {
        let c = r.workloads[0].capacity.as_ref().expect("capacity");
        (c.limited_by.as_str(), c.limited_by_reason.as_str())
    }

    #[test]
    fn the_searchs_minutes_over_the_allowance_or_at_a_whole_engine_name_the_limit() {
        let mut r = run("none found", [0.0, 12.0, 0.0], [10.0, 50.0, 10.0]);
        let said = refine_limits(&mut r);
        assert_eq!(limit(&r).0, "network");
        assert!(
            limit(&r).1.contains("counted 12 packets over the node's network bandwidth allowance"),
            "{}",
            limit(&r).1
        );
        assert_eq!(said, [format!("redis-get: limited by network ({}), not none found", limit(&r).1)]);

        let mut r = run("server", [0.0, 0.0, 0.0], [10.0, 95.0, 10.0]);
        refine_limits(&mut r);
        assert_eq!(limit(&r).0, "server_cpu");
        assert!(limit(&r).1.contains("EngineCPUUtilization reached 95%"), "{}", limit(&r).1);
    }

    #[test]
    fn minutes_outside_the_search_and_limits_the_agents_saw_stay_as_they_were() {
        // Over the allowance and busy, but only in the minutes before and after the search.
        let mut r = run("none found", [40.0, 0.0, 40.0], [99.0, 20.0, 99.0]);
        assert!(refine_limits(&mut r).is_empty());
        assert_eq!(limit(&r), ("none found", "the agents' reason"));
        // Errors and a client that could not send the rate are the agents' own findings.
        for kept in KEPT {
            let mut r = run(kept, [0.0, 12.0, 0.0], [0.0, 99.0, 0.0]);
            assert!(refine_limits(&mut r).is_empty(), "{kept}");
            assert_eq!(limit(&r).0, kept);
        }
    }
}
