//! `find_max`: the highest rate a workload sustains within a latency objective. A closed-loop probe
//! measures the most the agents can send at the workload's concurrency; then open-loop steps, each
//! held for the objective's step, bisect between the highest rate that met the objective and the
//! lowest that did not (growing first while every step meets it), until the two are within the
//! resolution or the budget is spent. A step meets the objective when its latency (from each
//! request's intended start, so coordinated omission is corrected) and its error rate are within
//! it and the agents actually sent the rate asked: an agent that cannot keep up is named as the
//! limit, not taken for the server's.

use std::time::{Duration, Instant};

use super::measure::{Agents, Ended, Say, Settle, pass};
use super::server_watch::{Server, Watch};
use crate::render::progress::Progress;
use crate::results::schema::{
    AgentResult, AgentStatus, Capacity, CapacityStep, ServerMetrics, WorkloadResult,
};
use crate::results::tally::Tallies;
use crate::scenario::{Amount, FindMax, Percentile, Scenario};

/// A step sent the rate asked when it sent at least this share of it.
const SENT_SHARE: f64 = 0.95;
/// The service time "grew" (the server slowed under the load) when its median at the deciding step
/// is at least this many times its median at the lightest step.
const SERVICE_GROWTH: f64 = 2.0;
/// The client's requests in flight are what limits the rate when the rate needs at least this
/// share of them (Little's law: rate x service time / requests in flight).
const SLOTS_BUSY: f64 = 0.9;
/// An agent whose cores were busier than this may have been the bottleneck.
const CLIENT_CPU: f64 = 0.85;
/// The server's main thread is what limits the rate when it used at least this share of a core.
const SERVER_CPU: f64 = 0.9;
/// The share of the node type's baseline network bandwidth at which the network is named.
const NETWORK_SHARE: f64 = 0.9;
/// The longest a step is held to gather enough requests to judge its percentile.
const MAX_STEP: Duration = Duration::from_secs(60);
/// A step that has not settled by this many times its shortest length ends there.
const LONGEST_STEP_FACTOR: u32 = 3;
/// A step has settled when its percentile in each of its last this many whole seconds...
const STABLE_WINDOW: usize = 3;
/// ...is within this share of the lowest of them (or all of them missed the objective).
const STABLE_TOLERANCE: f64 = 0.25;

/// How a step ended: `Some("stable")` when the percentile of each of its last [`STABLE_WINDOW`]
/// whole seconds (`per_second`, microseconds) is within [`STABLE_TOLERANCE`] of the lowest of
/// them, `Some("missed")` when all of them are above `limit_us`; `None` (go on) before
/// `min_seconds`, or while a second without a successful request is in the window.
fn settled(per_second: &[Option<f64>], min_seconds: usize, limit_us: f64) -> Option<&'static str> {
    if per_second.len() < min_seconds.max(STABLE_WINDOW) {
        return None;
    }
    let last: Option<Vec<f64>> = per_second[per_second.len() - STABLE_WINDOW..].iter().copied().collect();
    let last = last?;
    let (lo, hi) = last.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if lo > limit_us {
        Some("missed")
    } else if hi <= lo * (1.0 + STABLE_TOLERANCE) {
        Some("stable")
    } else {
        None
    }
}

/// Requests a step needs to judge `percentile`: ten beyond it (1,000 for p99, 10,000 for p999),
/// and 20 for the median.
fn min_samples(percentile: Percentile) -> f64 {
    match percentile {
        Percentile::P50 => 20.0,
        Percentile::P99 => 1_000.0,
        Percentile::P999 => 10_000.0,
    }
}

/// The shortest a step at `rate` (all agents) is held: the objective's step, longer when that
/// would not send enough requests to judge the percentile, at most [`MAX_STEP`]; `None` when even
/// that is too short (the rate is too low to judge).
fn step_length(find_max: &FindMax, rate: f64) -> Option<Duration> {
    let needed = Duration::from_secs_f64(min_samples(find_max.percentile) / rate.max(f64::MIN_POSITIVE));
    if needed > MAX_STEP.max(find_max.step) {
        return None;
    }
    Some(find_max.step.max(needed))
}

/// What a search leaves for the workload's result.
pub struct Found {
    /// The tallies of the step that stands for the workload (the highest that met the objective,
    /// else the lowest run).
    pub tallies: Tallies,
    /// What the search found.
    pub capacity: Capacity,
    /// The Redis server's view of that step.
    pub server: Option<ServerMetrics>,
}

/// Search workload `w` for its highest rate within `find_max` on agents `live`; with `server`
/// (a workload that reads Redis), each step also reads the server's INFO.
#[allow(clippy::too_many_arguments)]
pub async fn search(
    scenario: &Scenario,
    w: usize,
    find_max: &FindMax,
    live: &[usize],
    fleet: &Agents<'_>,
    agents: &mut [AgentResult],
    server: Option<&Server>,
    ended: &mut Ended,
) -> Found {
    let workload = &scenario.workloads[w];
    let ids: Vec<String> = agents.iter().map(|a| a.id.clone()).collect();
    let offsets: Vec<i64> = fleet.clocks.iter().map(|c| c.offset_ns).collect();
    let slots = live.len() as u64 * u64::from(workload.concurrency);
    say!(
        "searching {} for its highest rate with {find_max} ({} agent{} x {} in flight, {} per step)",
        workload.name,
        live.len(),
        if live.len() == 1 { "" } else { "s" },
        workload.concurrency,
        humantime::format_duration(find_max.step)
    );
    let started = Instant::now();
    let mut steps_of = Steps {
        scenario,
        w,
        live,
        fleet,
        ids: &ids,
        offsets: &offsets,
        server,
        watch_server: true,
        find_max,
        settled: "",
    };
    let (probe_tallies, probe) = steps_of.run(None, find_max.step, workload.warmup, agents, ended).await;
    let probe_ops_s = probe.achieved_rate_ops_s;
    say!(
        "  probe, closed loop: {probe_ops_s:.0} ops/s sent, p50 {:.2} ms, p99 {:.2} ms",
        probe.latency_us.p50 / 1e3,
        probe.latency_us.p99 / 1e3
    );
    let mut steps: Vec<(CapacityStep, WorkloadResult)> = Vec::new();
    let mut stands_for: (Option<f64>, Tallies, Option<ServerMetrics>) = (None, probe_tallies, probe.server);
    let (mut met, mut failed): (Option<f64>, Option<f64>) = (None, None);
    let mut rate = probe_ops_s * 0.5;
    let ended_by = loop {
        if ended.interrupted {
            break "interrupted";
        }
        if ended.aborted || live.iter().any(|&a| agents[a].status != AgentStatus::Ok) {
            break "agent lost";
        }
        let Some(length) = step_length(find_max, rate) else {
            break "rates low enough to meet it send too few requests to judge it";
        };
        if !steps.is_empty() && started.elapsed() + length > find_max.budget {
            break "budget";
        }
        let mut tries = 0;
        let (tallies, result, judged) = loop {
            tries += 1;
            let (tallies, result) = steps_of.run(Some(rate), length, None, agents, ended).await;
            let mut judged = judge(find_max, rate, &result);
            judged.tries = tries;
            judged.settled = steps_of.settled.to_owned();
            say!(
                "  {:>9.0} ops/s asked, {:>9.0} sent, {} {:.2} ms, {} errors, {:.1} s ({}): {}",
                rate,
                judged.achieved_ops_s,
                find_max.percentile.as_str(),
                percentile_us(&result, find_max.percentile) / 1e3,
                result.errors,
                result.duration_s,
                judged.settled,
                judged.missed.as_deref().map_or_else(|| "met".to_owned(), |m| format!("missed ({m})"))
            );
            // A miss on latency alone is run again, and stands only if it misses again: one
            // stall of a busy machine is not taken for the limit of the service.
            if tries == 1
                && missed_on_latency_alone(find_max, rate, &result)
                && !ended.interrupted
                && !ended.aborted
            {
                continue;
            }
            break (tallies, result, judged);
        };
        if ended.interrupted || ended.aborted {
            // A cut-short step says nothing about its rate.
            break if ended.interrupted { "interrupted" } else { "agent lost" };
        }
        if judged.met {
            met = Some(met.map_or(rate, |m: f64| m.max(rate)));
            if met == Some(rate) {
                stands_for = (Some(rate), tallies, result.server.clone());
            }
        } else {
            failed = Some(failed.map_or(rate, |f: f64| f.min(rate)));
            // Until a step meets the objective, the lowest step run stands for the workload.
            if met.is_none() && stands_for.0.is_none_or(|r| rate < r) {
                stands_for = (Some(rate), tallies, result.server.clone());
            }
        }
        steps.push((judged, result));
        match next_rate(met, failed, probe_ops_s, find_max.resolution) {
            Some(next) => rate = next,
            None => break "resolution",
        }
        if started.elapsed() >= find_max.budget {
            break "budget";
        }
    };
    let baseline = server.and_then(|s| s.network_baseline_bytes_s);
    let (limited_by, limited_by_reason) = limit(find_max, &steps, failed, slots, baseline, ended_by);
    let capacity = Capacity {
        objective: find_max.clone(),
        probe_ops_s,
        max_rate_ops_s: met,
        first_failed_ops_s: failed,
        limited_by: limited_by.to_owned(),
        limited_by_reason,
        ended_by: ended_by.to_owned(),
        steps: steps.into_iter().map(|(s, _)| s).collect(),
    };
    Found { tallies: stands_for.1, capacity, server: stands_for.2 }
}

/// What every step of one search shares.
struct Steps<'a> {
    scenario: &'a Scenario,
    w: usize,
    live: &'a [usize],
    fleet: &'a Agents<'a>,
    ids: &'a [String],
    offsets: &'a [i64],
    /// The Redis server the workload reads, if it does.
    server: Option<&'a Server>,
    /// False once a reading of the server's INFO failed: the later steps do not try again.
    watch_server: bool,
    /// The objective, whose percentile decides when a step has settled.
    find_max: &'a FindMax,
    /// How the last step ended: `stable`, `missed` or `longest` (see [`settled`]).
    settled: &'static str,
}

impl Steps<'_> {
    /// One step at `rate` (all agents; closed loop when `None`) for `length` after `warmup`: its
    /// tallies and its figures, with the server's view of it when the server could be read.
    async fn run(
        &mut self,
        rate: Option<f64>,
        length: Duration,
        warmup: Option<Amount>,
        agents: &mut [AgentResult],
        ended: &mut Ended,
    ) -> (Tallies, WorkloadResult) {
        let per_agent = rate.map(|r| r / self.live.len() as f64);
        // An open-loop step is held at least `length`, then until it settles, at most
        // LONGEST_STEP_FACTOR times as long; the closed-loop probe for `length`.
        let longest = match rate {
            Some(_) => (length * LONGEST_STEP_FACTOR).min(MAX_STEP.max(length)),
            None => length,
        };
        let one = step_scenario(self.scenario, self.w, per_agent, longest, warmup);
        let agents_n = self.fleet.clients.len();
        let mut tallies = Tallies::new(1, agents_n);
        let mut progress = Progress::new(&one, agents_n);
        let watch = match self.server.filter(|_| self.watch_server) {
            Some(server) => {
                let a = self.live[0];
                let (client, live) = (&self.fleet.clients[a], self.fleet.live);
                Watch::start(server, client, &agents[a], live, &one.workloads[0].name).await
            }
            None => None,
        };
        self.watch_server &= watch.is_some();
        let how = std::sync::OnceLock::new();
        let (live, find_max) = (self.live, self.find_max);
        let min_seconds = length.as_secs_f64().ceil() as usize;
        let settle = |t: &Tallies| {
            let per_second = t.whole_intervals(0, live, find_max.percentile.quantile());
            settled(&per_second, min_seconds, find_max.limit_ms * 1e3)
                .map(|h| how.get_or_init(|| h))
                .is_some()
        };
        let settle = rate.is_some().then_some(&settle as Settle<'_>);
        pass(&one, 0, self.live, self.fleet, agents, &mut tallies, &mut progress, ended, Say::Quiet, settle)
            .await;
        let workload = &one.workloads[0];
        let mut result = tallies.workload_result(0, &workload.name, workload.target, self.ids, self.offsets);
        self.settled = how.get().map_or("longest", |h| h);
        if let Some(watch) = watch {
            result.server = watch.finish(None).await;
        }
        (tallies, result)
    }
}

/// Workload `w` of `scenario` alone, as one step runs it: at `rate` per agent (closed loop when
/// `None`), for `length`, after `warmup`.
fn step_scenario(
    scenario: &Scenario,
    w: usize,
    rate: Option<f64>,
    length: Duration,
    warmup: Option<Amount>,
) -> Scenario {
    let mut workload = scenario.workloads[w].clone();
    workload.rate = rate;
    workload.stop = Amount::Duration(length);
    workload.warmup = warmup;
    workload.find_max = None;
    Scenario { workloads: vec![workload], thresholds: Default::default(), ..scenario.clone() }
}

/// The figure an objective bounds, microseconds.
fn percentile_us(result: &WorkloadResult, percentile: Percentile) -> f64 {
    match percentile {
        Percentile::P50 => result.latency_us.p50,
        Percentile::P99 => result.latency_us.p99,
        Percentile::P999 => result.latency_us.p999,
    }
}

/// The step sent the rate asked without too many errors, and missed on its latency only.
fn missed_on_latency_alone(find_max: &FindMax, rate: f64, result: &WorkloadResult) -> bool {
    let sent = result.ops + result.errors;
    sent > 0
        && result.achieved_rate_ops_s >= rate * SENT_SHARE
        && result.errors as f64 <= sent as f64 * find_max.max_error_rate
        && percentile_us(result, find_max.percentile) > find_max.limit_ms * 1e3
}

/// One step judged against the objective.
pub fn judge(find_max: &FindMax, rate: f64, result: &WorkloadResult) -> CapacityStep {
    let sent = result.ops + result.errors;
    let achieved = result.achieved_rate_ops_s;
    let mut missed = Vec::new();
    if sent == 0 {
        missed.push("nothing was sent".to_owned());
    } else {
        if achieved < rate * SENT_SHARE {
            missed.push(format!("sent {achieved:.0} of {rate:.0} ops/s asked"));
        }
        let error_rate = result.errors as f64 / sent as f64;
        if error_rate > find_max.max_error_rate {
            missed.push(format!("errors {:.2}% > {}%", error_rate * 100.0, find_max.max_error_rate * 100.0));
        }
        let latency = percentile_us(result, find_max.percentile);
        if latency > find_max.limit_ms * 1e3 {
            missed.push(format!(
                "{} {:.2} ms > {} ms",
                find_max.percentile.as_str(),
                latency / 1e3,
                find_max.limit_ms
            ));
        }
    }
    CapacityStep {
        rate_ops_s: rate,
        achieved_ops_s: achieved,
        p50_us: result.latency_us.p50,
        p99_us: result.latency_us.p99,
        p999_us: result.latency_us.p999,
        service_p50_us: result.service_time_us.p50,
        server_cpu: result.server.as_ref().map(|s| s.cpu_max),
        server_net_out_bytes_s: result
            .server
            .as_ref()
            .map(|s| s.samples.iter().map(|x| x.net_out_bytes_s).fold(0.0, f64::max)),
        errors: result.errors,
        unsent: result.unsent,
        met: missed.is_empty(),
        missed: (!missed.is_empty()).then(|| missed.join(", ")),
        tries: 1,
        held_s: result.duration_s,
        settled: String::new(),
    }
}

/// The rate of the next step, or `None` when the search has its answer: grow while every step
/// met the objective (doubling up to the probe's rate, then by a quarter), halve while none did,
/// then bisect until the lowest failed rate is within `resolution` of the highest met.
pub fn next_rate(met: Option<f64>, failed: Option<f64>, probe: f64, resolution: f64) -> Option<f64> {
    match (met, failed) {
        (None, None) => Some(probe * 0.5),
        (Some(m), None) if m < probe => Some((m * 2.0).min(probe * 1.1)),
        (Some(m), None) => Some(m * 1.25),
        (None, Some(f)) => Some(f * 0.5),
        (Some(m), Some(f)) if (f - m) <= m * resolution => None,
        (Some(m), Some(f)) => Some((m + f) / 2.0),
    }
}

/// What kept the rate from going higher, and the figure that decided it, from the lowest step that
/// failed (`failed`); `network_baseline` is the Redis node's baseline bandwidth, bytes/s, when
/// its type is known.
fn limit(
    find_max: &FindMax,
    steps: &[(CapacityStep, WorkloadResult)],
    failed: Option<f64>,
    slots: u64,
    network_baseline: Option<f64>,
    ended_by: &str,
) -> (&'static str, String) {
    let Some((step, result)) = failed.and_then(|f| steps.iter().find(|(s, _)| s.rate_ops_s == f)) else {
        return ("none found", format!("every step met the objective; the search ended by {ended_by}"));
    };
    let sent = result.ops + result.errors;
    let error_rate = if sent == 0 { 0.0 } else { result.errors as f64 / sent as f64 };
    if sent > 0 && error_rate > find_max.max_error_rate {
        let throttled = result.errors_by_kind.get("throttled").copied().unwrap_or(0);
        if throttled * 2 >= result.errors {
            return (
                "throttling",
                format!("{throttled} of {sent} requests were throttled at {:.0} ops/s", step.rate_ops_s),
            );
        }
        let kinds: Vec<String> = result.errors_by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
        return (
            "errors",
            format!(
                "{:.2}% of requests failed at {:.0} ops/s ({})",
                error_rate * 100.0,
                step.rate_ops_s,
                kinds.join(", ")
            ),
        );
    }
    if result.cpu_utilization_max > CLIENT_CPU {
        return (
            "client",
            format!(
                "an agent used {:.0}% of its cores at {:.0} ops/s; add agents or give them more cores",
                result.cpu_utilization_max * 100.0,
                step.rate_ops_s
            ),
        );
    }
    if let Some(cpu) = step.server_cpu.filter(|&cpu| cpu >= SERVER_CPU) {
        return (
            "server_cpu",
            format!(
                "the server's main thread used {:.0}% of a core at {:.0} ops/s: a bigger node (or more shards) \
                 serves more",
                cpu * 100.0,
                step.rate_ops_s
            ),
        );
    }
    let sent_out = step.server_net_out_bytes_s.zip(network_baseline);
    if let Some((out, baseline)) = sent_out.filter(|(out, baseline)| *out >= baseline * NETWORK_SHARE) {
        return (
            "network",
            format!(
                "the node sent {:.0} Mbit/s at {:.0} ops/s, {:.0}% of its type's baseline bandwidth ({:.0} Mbit/s): \
                 a node type with more bandwidth (or smaller objects) serves more",
                out * 8.0 / 1e6,
                step.rate_ops_s,
                out / baseline * 100.0,
                baseline * 8.0 / 1e6
            ),
        );
    }
    // The service time at the lightest load the search saw, against the deciding step's.
    let base = steps
        .iter()
        .filter(|(s, r)| r.ops > 0 && s.service_p50_us > 0.0)
        .min_by(|a, b| a.0.rate_ops_s.total_cmp(&b.0.rate_ops_s))
        .map_or(step.service_p50_us, |(s, _)| s.service_p50_us);
    let grew = step.service_p50_us >= base * SERVICE_GROWTH;
    let (base_ms, now_ms) = (base / 1e3, step.service_p50_us / 1e3);
    if grew {
        return (
            "server",
            format!(
                "the service time (p50) grew from {base_ms:.2} ms to {now_ms:.2} ms at {:.0} ops/s",
                step.rate_ops_s
            ),
        );
    }
    // Little's law: the requests in flight the rate needs at this service time, against the slots.
    let busy = step.rate_ops_s * step.service_p50_us / 1e6 / slots.max(1) as f64;
    if busy >= SLOTS_BUSY || step.achieved_ops_s < step.rate_ops_s * SENT_SHARE {
        return (
            "client",
            format!(
                "{:.0} ops/s at a service time near {now_ms:.2} ms needs {:.0}% of the agents' {slots} requests in \
                 flight (they sent {:.0} ops/s), and the service did not slow: raise concurrency or add agents",
                step.rate_ops_s,
                busy * 100.0,
                step.achieved_ops_s
            ),
        );
    }
    // The median from the intended start well above the median service time: requests waited in
    // the agents for a free slot before they were sent, which the server never saw.
    if step.p50_us > step.service_p50_us * SERVICE_GROWTH {
        return (
            "client",
            format!(
                "requests waited for one of the agents' {slots} requests in flight at {:.0} ops/s (p50 {:.2} ms \
                 from the intended start against a service time of {now_ms:.2} ms), and the service did not slow: \
                 raise concurrency or add agents",
                step.rate_ops_s,
                step.p50_us / 1e3
            ),
        );
    }
    (
        "none found",
        format!(
            "{} missed the objective at {:.0} ops/s with the service time near its light-load {base_ms:.2} ms: \
             the latency is the service's own",
            find_max.percentile.as_str(),
            step.rate_ops_s
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::schema::LatencySummary;

    #[test]
    fn a_step_lasts_long_enough_to_judge_its_percentile() {
        let p99 = FindMax::new(Percentile::P99, 2.0);
        assert_eq!(step_length(&p99, 10_000.0), Some(Duration::from_secs(5)));
        assert_eq!(step_length(&p99, 100.0), Some(Duration::from_secs(10)));
        assert_eq!(step_length(&p99, 1_000.0 / 60.0), Some(MAX_STEP));
        assert_eq!(step_length(&p99, 10.0), None);
        let p50 = FindMax::new(Percentile::P50, 2.0);
        assert_eq!(step_length(&p50, 1.0), Some(Duration::from_secs(20)));
    }

    #[test]
    fn a_step_settles_when_its_last_three_seconds_agree_or_all_missed_and_not_before_its_length() {
        let s = |v: &[f64]| v.iter().map(|&x| Some(x)).collect::<Vec<_>>();
        // Steady within 25% of the lowest: stable, once the shortest length has passed.
        assert_eq!(settled(&s(&[900.0, 1000.0, 1100.0]), 3, 2000.0), Some("stable"));
        assert_eq!(settled(&s(&[900.0, 1000.0, 1100.0]), 5, 2000.0), None, "before its length");
        assert_eq!(settled(&s(&[1000.0, 1000.0]), 2, 2000.0), None, "fewer than 3 seconds");
        // Rising under an overload: not stable, unless every one of them missed the objective.
        assert_eq!(settled(&s(&[500.0, 1000.0, 1500.0]), 3, 2000.0), None);
        assert_eq!(settled(&s(&[100.0, 3000.0, 6000.0, 9000.0]), 3, 2000.0), Some("missed"));
        assert_eq!(settled(&s(&[1000.0, 1249.0, 1251.0]), 3, 2000.0), None, "just past 25%");
        // Only the last three count.
        assert_eq!(settled(&s(&[10.0, 5000.0, 1000.0, 1100.0, 1200.0]), 3, 2000.0), Some("stable"));
        // A second without a successful request says nothing yet.
        assert_eq!(settled(&[Some(1000.0), None, Some(1000.0)], 3, 2000.0), None);
    }

    #[test]
    fn the_search_grows_then_halves_then_bisects_to_the_resolution() {
        assert_eq!(next_rate(None, None, 1000.0, 0.05), Some(500.0));
        assert_eq!(next_rate(Some(500.0), None, 1000.0, 0.05), Some(1000.0));
        assert_eq!(next_rate(Some(600.0), None, 1000.0, 0.05), Some(1100.0));
        assert_eq!(next_rate(Some(1100.0), None, 1000.0, 0.05), Some(1375.0));
        assert_eq!(next_rate(None, Some(500.0), 1000.0, 0.05), Some(250.0));
        assert_eq!(next_rate(Some(500.0), Some(1000.0), 1000.0, 0.05), Some(750.0));
        assert_eq!(next_rate(Some(960.0), Some(1000.0), 1000.0, 0.05), None, "within 5%");
        assert_eq!(next_rate(Some(940.0), Some(1000.0), 1000.0, 0.05), Some(970.0));
    }

    fn result(ops: u64, errors: u64, achieved: f64, p99_us: f64, service_p50_us: f64) -> WorkloadResult {
        WorkloadResult {
            ops,
            errors,
            achieved_rate_ops_s: achieved,
            latency_us: LatencySummary { p50: p99_us / 2.0, p99: p99_us, p999: p99_us, ..Default::default() },
            service_time_us: LatencySummary { p50: service_p50_us, ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn a_step_meets_the_objective_only_when_it_sent_the_rate_within_latency_and_errors() {
        let objective = FindMax::new(Percentile::P99, 2.0);
        let ok = judge(&objective, 1000.0, &result(5000, 0, 990.0, 1500.0, 100.0));
        assert!(ok.met && ok.missed.is_none(), "{ok:?}");
        let at_limit = judge(&objective, 1000.0, &result(5000, 0, 950.0, 2000.0, 100.0));
        assert!(at_limit.met, "a value equal to its limit meets it: {at_limit:?}");
        let slow = judge(&objective, 1000.0, &result(5000, 0, 1000.0, 2500.0, 100.0));
        assert_eq!(slow.missed.as_deref(), Some("p99 2.50 ms > 2 ms"));
        let unsent = judge(&objective, 1000.0, &result(4000, 0, 800.0, 1000.0, 100.0));
        assert_eq!(unsent.missed.as_deref(), Some("sent 800 of 1000 ops/s asked"));
        let failing = judge(&objective, 1000.0, &result(4990, 10, 1000.0, 1000.0, 100.0));
        assert_eq!(failing.missed.as_deref(), Some("errors 0.20% > 0.1%"));
        let nothing = judge(&objective, 1000.0, &result(0, 0, 0.0, 0.0, 0.0));
        assert_eq!(nothing.missed.as_deref(), Some("nothing was sent"));
    }

    #[test]
    fn the_limit_is_named_from_the_first_failed_step() {
        let objective = FindMax::new(Percentile::P99, 2.0);
        let step = |rate: f64, r: WorkloadResult| (judge(&objective, rate, &r), r);
        // Slots full while the service time stayed flat: the client.
        let steps = [
            step(500.0, result(2500, 0, 500.0, 900.0, 800.0)),
            step(1000.0, result(4000, 0, 800.0, 1900.0, 900.0)),
        ];
        let (by, why) = limit(&objective, &steps, Some(1000.0), 2, None, "resolution");
        assert_eq!(by, "client", "{why}");
        assert!(why.contains("needs 45% of the agents' 2 requests in flight (they sent 800 ops/s)"), "{why}");
        // Every slot busy, all sent, the latency missed while the service time stayed flat.
        let steps = [
            step(500.0, result(2500, 0, 500.0, 900.0, 1800.0)),
            step(1000.0, result(5000, 0, 990.0, 9000.0, 1900.0)),
        ];
        let (by, why) = limit(&objective, &steps, Some(1000.0), 2, None, "resolution");
        assert_eq!(by, "client", "{why}");
        assert!(why.contains("needs 95% of"), "{why}");
        // A few slots busy, all sent, the service time flat, but the median from the intended start
        // (4.5 ms) far above it (1.9 ms): requests waited in the agents for a slot.
        let (by, why) = limit(&objective, &steps, Some(1000.0), 64, None, "resolution");
        assert_eq!(by, "client", "{why}");
        assert!(why.contains("requests waited for one of the agents' 64 requests in flight"), "{why}");
        // The median near the service time and the p99 past the objective: the service's own.
        let steps = [
            step(500.0, result(2500, 0, 500.0, 900.0, 1800.0)),
            step(1000.0, result(5000, 0, 990.0, 3000.0, 1900.0)),
        ];
        let (by, why) = limit(&objective, &steps, Some(1000.0), 64, None, "resolution");
        assert_eq!(by, "none found", "{why}");
        // The server's main thread at a whole core: server_cpu, before anything else of the server.
        let mut steps = steps;
        steps[1].0.server_cpu = Some(0.97);
        let (by, why) = limit(&objective, &steps, Some(1000.0), 64, None, "resolution");
        assert_eq!(by, "server_cpu", "{why}");
        assert!(why.contains("main thread used 97% of a core at 1000 ops/s"), "{why}");
        // The node sending near its type's baseline bandwidth: the network, before its service time.
        steps[1].0.server_cpu = Some(0.5);
        steps[1].0.server_net_out_bytes_s = Some(7.5e6);
        let baseline = crate::results::pricing::cache_baseline_bytes_s("cache.t4g.micro");
        let (by, why) = limit(&objective, &steps, Some(1000.0), 64, baseline, "resolution");
        assert_eq!(by, "network", "{why}");
        assert!(
            why.contains("sent 60 Mbit/s at 1000 ops/s, 94% of its type's baseline bandwidth (64 Mbit/s)"),
            "{why}"
        );
        // Below 90% of it, or with no known node type, the network is not named.
        steps[1].0.server_net_out_bytes_s = Some(7.0e6);
        assert_eq!(limit(&objective, &steps, Some(1000.0), 64, baseline, "resolution").0, "none found");
        steps[1].0.server_net_out_bytes_s = Some(7.5e6);
        assert_eq!(limit(&objective, &steps, Some(1000.0), 64, None, "resolution").0, "none found");
        // The service time grew: the server.
        let steps = [
            step(500.0, result(2500, 0, 500.0, 900.0, 300.0)),
            step(1000.0, result(4000, 0, 800.0, 9000.0, 7000.0)),
        ];
        let (by, why) = limit(&objective, &steps, Some(1000.0), 64, None, "resolution");
        assert_eq!(by, "server", "{why}");
        assert!(why.contains("grew from 0.30 ms to 7.00 ms"), "{why}");
        // Throttled errors.
        let mut throttled = result(900, 100, 1000.0, 900.0, 300.0);
        throttled.errors_by_kind.insert("throttled".into(), 100);
        let steps = [step(1000.0, throttled)];
        assert_eq!(limit(&objective, &steps, Some(1000.0), 64, None, "resolution").0, "throttling");
        // Nothing failed.
        let steps = [step(500.0, result(2500, 0, 500.0, 900.0, 300.0))];
        let (by, why) = limit(&objective, &steps, None, 64, None, "budget");
        assert_eq!(
            (by, why.as_str()),
            ("none found", "every step met the objective; the search ended by budget")
        );
    }
}
