//! The validated workload: a [`WorkloadPlan`] is what the agent runs, made from the Run request's
//! `Workload` only when every field is in range and fits the target, so that the engine never
//! meets a bad parameter once the load has started.

use std::time::Duration;

use fetchbench_proto as pb;
use fetchbench_proto::limits::{MAX_BUSY_POLL, MAX_CONCURRENCY, MAX_PIPELINE, MAX_RATE};

use std::sync::Arc;

use crate::driver::cache_aside::OnWrite;
use crate::keys::{KeyDist, KeySampler, TraceShare};

/// What ends a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// After this many requests (successful or not) on this agent.
    Requests(u64),
    /// After this long.
    Duration(Duration),
}

/// Which target a workload reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// Redis GET (and SET).
    Redis,
    /// S3 GetObject.
    S3,
    /// Redis GET, S3 GetObject and Redis SET on a miss.
    CacheAside,
    /// S3 GetObject from the S3 Express One Zone directory bucket, with session auth.
    S3Express,
}

/// A validated workload, as this agent runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadPlan {
    /// Name from the scenario.
    pub name: String,
    /// Target read from.
    pub target: TargetKind,
    /// Requests in flight (closed loop) or connections (open loop).
    pub concurrency: usize,
    /// End of the measured phase.
    pub stop: Stop,
    /// End of the warm-up phase; `None` for no warm-up.
    pub warmup: Option<Stop>,
    /// Key choice.
    pub keys: KeyDist,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Seed of this agent's key streams.
    pub seed: u64,
    /// Open loop: requests per second on this agent; `None` for closed loop.
    pub rate: Option<f64>,
    /// Redis: share of requests that are SETs.
    pub set_share: f64,
    /// Redis, closed loop: commands each slot sends at once before reading their replies.
    pub pipeline: usize,
    /// Redis, one command at a time: how long a slot polls for each reply before its thread may
    /// sleep; zero for never.
    pub busy_poll: Duration,
    /// Cache-aside: expiry of written values.
    pub ttl: Option<Duration>,
    /// S3 and cache-aside: `(start, length)` of the byte range read.
    pub range: Option<(u64, u64)>,
    /// Check each body read against the dataset's bytes.
    pub verify: bool,
    /// Cache-aside: share of requests that write a new version of the object.
    pub write_share: f64,
    /// Cache-aside writes: what they do to the cached copy.
    pub on_write: OnWrite,
    /// Cache-aside: record writes in, and judge reads against, the version registers.
    pub track_versions: bool,
}

impl WorkloadPlan {
    /// The requests per second an open loop's schedule asks for: the rate, or a timed trace's
    /// records over the time from its first intended start to its last; 0 for a closed loop.
    pub fn scheduled_rate(&self) -> f64 {
        match (self.rate, &self.keys) {
            (Some(rate), _) => rate,
            (None, KeyDist::Trace(share)) => match share.at.as_ref().and_then(|at| at.last()) {
                Some(last) if !last.is_zero() => share.index.len() as f64 / last.as_secs_f64(),
                _ => 0.0,
            },
            (None, _) => 0.0,
        }
    }
}

/// Why a requested workload cannot run: the caller gets it as `InvalidArgument`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workload {workload}: {problem}")]
pub struct PlanError {
    /// The workload's name.
    pub workload: String,
    /// The field, its value and what it should be.
    pub problem: String,
}

impl TryFrom<&pb::Workload> for WorkloadPlan {
    type Error = PlanError;

    fn try_from(w: &pb::Workload) -> Result<Self, PlanError> {
        let bad = |problem: String| PlanError { workload: w.name.clone(), problem };
        let target = target_of(w).map_err(bad)?;
        if !(1..=MAX_CONCURRENCY).contains(&w.concurrency) {
            return Err(bad(format!("concurrency {} is not in 1..={MAX_CONCURRENCY}", w.concurrency)));
        }
        let keys = keys_of(w).map_err(bad)?;
        let trace = matches!(keys, KeyDist::Trace(_));
        // A trace ends the workload when its records are used up, if nothing ends it before.
        let stop = stop_of(w.requests, w.duration_ms)
            .or(trace.then_some(Stop::Requests(u64::MAX)))
            .ok_or_else(|| bad("neither requests nor duration_ms is set".into()))?;
        if trace {
            check_trace(w).map_err(bad)?;
        } else {
            // Refuse bad key parameters here, where the caller still gets an answer.
            KeySampler::new(&keys, 1, 0, 1).map_err(bad)?;
        }
        if w.timeout_ms == 0 {
            return Err(bad("timeout_ms is 0".into()));
        }
        let rate = match w.rate {
            0.0 => None,
            r if r.is_finite() && r > 0.0 && r <= MAX_RATE => Some(r),
            r => return Err(bad(format!("rate {r} is not in (0, {MAX_RATE}]"))),
        };
        if !(0.0..=1.0).contains(&w.set_share) {
            return Err(bad(format!("set_share {} is not in [0, 1]", w.set_share)));
        }
        if w.set_share > 0.0 && target != TargetKind::Redis {
            return Err(bad("set_share applies to the redis target only".into()));
        }
        if !(0.0..=1.0).contains(&w.write_share) {
            return Err(bad(format!("write_share {} is not in [0, 1]", w.write_share)));
        }
        if w.write_share > 0.0 && target != TargetKind::CacheAside {
            return Err(bad("write_share applies to the cache-aside target only".into()));
        }
        if w.write_share > 0.0 && w.range_length > 0 {
            return Err(bad("write_share writes whole objects; remove the range".into()));
        }
        let pipeline = w.pipeline.max(1);
        if pipeline > MAX_PIPELINE {
            return Err(bad(format!("pipeline {pipeline} is not in 1..={MAX_PIPELINE}")));
        }
        if pipeline > 1 && (target != TargetKind::Redis || rate.is_some()) {
            return Err(bad("pipeline applies to the redis target in closed loop only".into()));
        }
        let busy_poll = Duration::from_micros(w.busy_poll_us);
        if busy_poll > MAX_BUSY_POLL {
            let max = MAX_BUSY_POLL.as_micros();
            return Err(bad(format!("busy_poll_us {} is not in 0..={max}", w.busy_poll_us)));
        }
        if !busy_poll.is_zero() && (target != TargetKind::Redis || pipeline > 1) {
            return Err(bad("busy_poll_us applies to the redis target one command at a time only".into()));
        }
        Ok(WorkloadPlan {
            name: w.name.clone(),
            target,
            concurrency: w.concurrency as usize,
            stop,
            warmup: stop_of(w.warmup_requests, w.warmup_ms),
            keys,
            timeout: Duration::from_millis(w.timeout_ms),
            seed: w.seed,
            rate,
            set_share: w.set_share,
            pipeline: pipeline as usize,
            busy_poll,
            ttl: (w.ttl_ms > 0).then(|| Duration::from_millis(w.ttl_ms)),
            range: (w.range_length > 0).then_some((w.range_start, w.range_length)),
            verify: w.verify,
            write_share: w.write_share,
            on_write: match pb::OnWrite::try_from(w.on_write) {
                Ok(pb::OnWrite::Update) => OnWrite::Update,
                Ok(pb::OnWrite::None) => OnWrite::Keep,
                _ => OnWrite::Invalidate,
            },
            track_versions: w.track_versions,
        })
    }
}

fn target_of(w: &pb::Workload) -> Result<TargetKind, String> {
    match pb::Target::try_from(w.target) {
        Ok(pb::Target::Redis) => Ok(TargetKind::Redis),
        Ok(pb::Target::S3) => Ok(TargetKind::S3),
        Ok(pb::Target::CacheAside) => Ok(TargetKind::CacheAside),
        Ok(pb::Target::S3Express) => Ok(TargetKind::S3Express),
        _ => Err(format!("target {} is not redis, s3, cache-aside or s3-express", w.target)),
    }
}

/// The end of a phase: a request count wins over a duration; `None` when neither is set.
fn stop_of(requests: u64, duration_ms: u64) -> Option<Stop> {
    match (requests, duration_ms) {
        (0, 0) => None,
        (0, ms) => Some(Stop::Duration(Duration::from_millis(ms))),
        (n, _) => Some(Stop::Requests(n)),
    }
}

/// The key distribution; uniform when the request names none.
fn keys_of(w: &pb::Workload) -> Result<KeyDist, String> {
    Ok(match w.keys.as_ref().and_then(|k| k.kind.as_ref()) {
        None | Some(pb::key_choice::Kind::Uniform(_)) => KeyDist::Uniform,
        Some(pb::key_choice::Kind::Sequential(_)) => KeyDist::Sequential,
        Some(pb::key_choice::Kind::Zipf(z)) => KeyDist::Zipf { exponent: z.exponent },
        Some(pb::key_choice::Kind::Hotset(h)) => {
            KeyDist::HotSet { key_fraction: h.key_fraction, request_share: h.request_share }
        }
        Some(pb::key_choice::Kind::Trace(t)) => KeyDist::Trace(Arc::new(trace_share(t)?)),
    })
}

/// A trace's records as the engine reads them; refused when its times do not fit its keys.
fn trace_share(t: &pb::TraceKeys) -> Result<TraceShare, String> {
    let at = match t.at_us.len() {
        0 => None,
        n if n == t.index.len() => {
            if let Some(i) = t.at_us.windows(2).position(|w| w[1] < w[0]) {
                return Err(format!("trace at_us goes back in time at record {}", i + 1));
            }
            Some(t.at_us.iter().map(|&us| Duration::from_micros(us)).collect())
        }
        n => return Err(format!("trace has {} records but {n} at_us times", t.index.len())),
    };
    Ok(TraceShare { index: t.index.clone(), at })
}

/// What a trace replay does not combine with: it reads each record once, at its own pace.
fn check_trace(w: &pb::Workload) -> Result<(), String> {
    if w.warmup_requests > 0 || w.warmup_ms > 0 {
        return Err("a trace replays once, without warm-up; set warmup_requests and warmup_ms to 0".into());
    }
    if w.rate != 0.0 {
        return Err("a trace sets its own pace (fast or timed); rate must be 0".into());
    }
    if w.pipeline > 1 || w.set_share > 0.0 {
        return Err("a trace replays its reads one at a time; pipeline and set_share do not apply".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid closed-loop Redis workload of 10 requests.
    fn redis_workload() -> pb::Workload {
        pb::Workload {
            name: "w".into(),
            target: pb::Target::Redis.into(),
            concurrency: 2,
            requests: 10,
            timeout_ms: 100,
            ..Default::default()
        }
    }

    /// The error text a caller gets for `w`.
    fn refusal(w: &pb::Workload) -> String {
        WorkloadPlan::try_from(w).expect_err("refused").to_string()
    }

    #[test]
    fn plans_check_open_loop_and_set_share() {
        let mut w = pb::Workload { rate: 500.0, set_share: 0.25, ..redis_workload() };
        let plan = WorkloadPlan::try_from(&w).expect("valid");
        assert_eq!((plan.rate, plan.set_share), (Some(500.0), 0.25));
        w.rate = -1.0;
        assert!(refusal(&w).contains("rate -1"));
        w.rate = 0.0;
        w.target = pb::Target::S3.into();
        assert!(refusal(&w).contains("set_share"));
        w.set_share = 0.0;
        w.pipeline = 8;
        assert!(refusal(&w).contains("pipeline"));
        w.target = pb::Target::Redis.into();
        assert_eq!(WorkloadPlan::try_from(&w).expect("pipelined redis").pipeline, 8);
        w.rate = 100.0;
        assert!(refusal(&w).contains("closed loop"), "pipelined open loop");
        w.rate = 0.0;
        w.busy_poll_us = 50;
        assert!(refusal(&w).contains("busy_poll_us"), "busy-polled batches");
        w.pipeline = 1;
        w.rate = 100.0;
        assert_eq!(
            WorkloadPlan::try_from(&w).expect("busy-polled open loop").busy_poll,
            Duration::from_micros(50)
        );
        w.busy_poll_us = 10_001;
        assert!(refusal(&w).contains("busy_poll_us 10001"), "too long");
        w.busy_poll_us = 50;
        w.target = pb::Target::S3.into();
        assert!(refusal(&w).contains("redis target"), "busy-polled s3");
    }

    #[test]
    fn a_refusal_names_the_workload_and_the_field_with_its_range() {
        let w = pb::Workload { concurrency: 0, ..redis_workload() };
        assert_eq!(refusal(&w), "workload w: concurrency 0 is not in 1..=100000");
        let w = pb::Workload { concurrency: MAX_CONCURRENCY + 1, ..redis_workload() };
        assert_eq!(refusal(&w), "workload w: concurrency 100001 is not in 1..=100000");
        let w = pb::Workload { pipeline: MAX_PIPELINE + 1, ..redis_workload() };
        assert_eq!(refusal(&w), "workload w: pipeline 10001 is not in 1..=10000");
        let w = pb::Workload { rate: MAX_RATE * 2.0, ..redis_workload() };
        assert_eq!(refusal(&w), "workload w: rate 20000000 is not in (0, 10000000]");
        let w = pb::Workload { target: 9, ..redis_workload() };
        assert_eq!(refusal(&w), "workload w: target 9 is not redis, s3, cache-aside or s3-express");
        let w = pb::Workload { requests: 0, ..redis_workload() };
        assert_eq!(refusal(&w), "workload w: neither requests nor duration_ms is set");
        let w = pb::Workload { timeout_ms: 0, ..redis_workload() };
        assert_eq!(refusal(&w), "workload w: timeout_ms is 0");
        let hot = pb::key_choice::Kind::Hotset(pb::HotSet { key_fraction: 1.5, request_share: 0.9 });
        let w = pb::Workload { keys: Some(pb::KeyChoice { kind: Some(hot) }), ..redis_workload() };
        assert_eq!(refusal(&w), "workload w: hotset key fraction 1.5 is not in (0, 1)");
    }

    #[test]
    fn a_request_count_ends_a_phase_before_a_duration_and_neither_means_no_warmup() {
        let w = pb::Workload {
            requests: 0,
            duration_ms: 1_500,
            warmup_requests: 7,
            warmup_ms: 900,
            range_start: 10,
            range_length: 20,
            ..redis_workload()
        };
        let plan = WorkloadPlan::try_from(&w).expect("valid");
        assert_eq!(plan.stop, Stop::Duration(Duration::from_millis(1_500)));
        assert_eq!(plan.warmup, Some(Stop::Requests(7)));
        assert_eq!(plan.range, Some((10, 20)));
        assert_eq!((plan.keys, plan.ttl, plan.pipeline), (KeyDist::Uniform, None, 1));
        let plan = WorkloadPlan::try_from(&redis_workload()).expect("valid");
        assert_eq!((plan.stop, plan.warmup, plan.range), (Stop::Requests(10), None, None));
    }

    #[test]
    fn a_trace_runs_until_its_records_are_used_up_and_checks_its_times() {
        let trace = |index: Vec<u64>, at_us: Vec<u64>| pb::KeyChoice {
            kind: Some(pb::key_choice::Kind::Trace(pb::TraceKeys { index, at_us })),
        };
        let w = pb::Workload { requests: 0, keys: Some(trace(vec![3, 1], vec![0, 500])), ..redis_workload() };
        let plan = WorkloadPlan::try_from(&w).expect("valid");
        assert_eq!(plan.stop, Stop::Requests(u64::MAX));
        let share =
            TraceShare { index: vec![3, 1], at: Some(vec![Duration::ZERO, Duration::from_micros(500)]) };
        assert_eq!(plan.keys, KeyDist::Trace(Arc::new(share)));
        let w = pb::Workload { keys: Some(trace(vec![3, 1], vec![9])), ..redis_workload() };
        assert_eq!(refusal(&w), "workload w: trace has 2 records but 1 at_us times");
        let w = pb::Workload { keys: Some(trace(vec![3, 1], vec![9, 8])), ..redis_workload() };
        assert_eq!(refusal(&w), "workload w: trace at_us goes back in time at record 1");
        let w = pb::Workload { keys: Some(trace(vec![3], vec![])), warmup_requests: 2, ..redis_workload() };
        assert!(refusal(&w).contains("without warm-up"));
        let w = pb::Workload { keys: Some(trace(vec![3], vec![])), rate: 10.0, ..redis_workload() };
        assert!(refusal(&w).contains("rate must be 0"));
        let timed = pb::Workload {
            keys: Some(trace(vec![3, 1, 2, 2], vec![0, 0, 100, 2_000_000])),
            ..redis_workload()
        };
        assert_eq!(
            WorkloadPlan::try_from(&timed).expect("valid").scheduled_rate(),
            2.0,
            "4 requests over 2 s"
        );
        let fast = pb::Workload { keys: Some(trace(vec![3, 1], vec![])), ..redis_workload() };
        assert_eq!(WorkloadPlan::try_from(&fast).expect("valid").scheduled_rate(), 0.0, "closed loop");
    }
}
