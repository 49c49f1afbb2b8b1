//! `fetchbench run --dry-run`: what a scenario would run, where, for how long, without starting
//! anything.

use std::time::Duration;

use crate::scenario::{Amount, Scenario};

/// What `scenario` would run `place` ("on this machine"), for `run --dry-run`: the agents, the
/// data, each workload as the run announces it, and the thresholds.
pub fn text(scenario: &Scenario, place: &str) -> String {
    let agents = scenario.agents as usize;
    let d = &scenario.dataset;
    let cache = match d.cache {
        crate::scenario::CacheStart::Warm => "in S3 and Redis",
        crate::scenario::CacheStart::Cold => "in S3 only (cold cache)",
    };
    let mut out = format!(
        "scenario {:?}, {agents} agent{} {place}; {} {cache}, seed {}\n",
        scenario.name,
        if agents == 1 { "" } else { "s" },
        d.describe_objects(),
        d.seed
    );
    for w in &scenario.workloads {
        out += &format!("  {}\n", w.describe(w.agents.map_or(agents, |n| n as usize)));
    }
    for (key, limit) in &scenario.thresholds {
        let upper = key
            .rsplit_once('.')
            .and_then(|(_, m)| crate::scenario::metric::ThresholdMetric::parse(m))
            .is_none_or(|m| m.is_upper_bound());
        out += &format!("  threshold {key} {} {limit}\n", if upper { "<=" } else { ">=" });
    }
    out += &format!("  {}\n", planned_time(scenario));
    out += "dry run: the scenario and flags are valid; nothing was started\n";
    out
}

/// How long the workloads' phases will take, as far as the scenario decides it: durations, and
/// an open loop's requests at its rate (a closed loop's requests take what the stores take).
fn planned_time(scenario: &Scenario) -> String {
    let mut known = Duration::ZERO;
    let (mut counted, mut counted_warmups) = (0, 0);
    for w in &scenario.workloads {
        // A search takes at most its budget, and a step more.
        let stop = w.find_max.as_ref().map_or(w.stop, |f| Amount::Duration(f.budget + f.step));
        let phases = std::iter::once((stop, false)).chain(w.warmup.map(|a| (a, true)));
        for (amount, warmup) in phases {
            // A timed trace's records take its (scaled) span, at least.
            let span = w.trace.as_ref().and_then(|t| t.at.as_ref()?.last().copied());
            match (amount, w.rate) {
                (Amount::Duration(d), _) => known = known.saturating_add(d),
                (Amount::Requests(_), None) if let Some(span) = span => known = known.saturating_add(span),
                (Amount::Requests(n), Some(rate)) => {
                    let d = Duration::try_from_secs_f64(n as f64 / rate).unwrap_or(Duration::MAX);
                    known = known.saturating_add(d);
                }
                (Amount::Requests(_), None) if warmup => counted_warmups += 1,
                (Amount::Requests(_), None) => counted += 1,
            }
        }
    }
    if counted == scenario.workloads.len() {
        return "time: set by how fast the stores answer (every workload counts requests)".to_owned();
    }
    let known = humantime::format_duration(Duration::from_secs(
        known.as_secs().saturating_add(u64::from(known.subsec_millis() >= 500)),
    ));
    let mut text =
        if counted == 0 { format!("time: about {known}") } else { format!("time: at least {known}") };
    if counted > 0 {
        text +=
            &format!(", plus {counted} workload{} counted in requests", if counted == 1 { "" } else { "s" });
    }
    if counted_warmups > 0 {
        text += ", plus warm-ups counted in requests";
    }
    text + ", plus seeding"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_time_adds_timed_phases_and_saturates() {
        let mut scenario = crate::scenario::Scenario::seed();
        assert_eq!(
            planned_time(&scenario),
            "time: set by how fast the stores answer (every workload counts requests)"
        );
        scenario.workloads[0].stop = Amount::Duration(Duration::from_millis(1500));
        scenario.workloads[1].rate = Some(4.0); // 199 + 1 requests at 4/s: 50 s
        assert_eq!(
            planned_time(&scenario),
            "time: about 52s, plus warm-ups counted in requests, plus seeding"
        );
        // Absurd but valid input neither overflows nor panics.
        scenario.workloads[1].stop = Amount::Requests(u64::MAX);
        scenario.workloads[1].rate = Some(1e-9);
        assert!(planned_time(&scenario).starts_with("time: about "), "{}", planned_time(&scenario));
    }
}
