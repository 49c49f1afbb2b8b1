//! The Run request an agent gets for one workload: the scenario's workload in the proto's terms,
//! with the agent's own key seed and the start instant on its clock.

use fetchbench_proto as pb;

use fetchbench_proto::dataset::mix;

use crate::scenario::{Amount, KeyDist, OnWrite, Replayed, Scenario, Target};

/// Period of the agents' progress events.
pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The Run request for workload `w` on agent `agent`, with this agent's own key seed, and the
/// start instant on the agent's clock, whose offset from the controller's is `clock_ahead_ns`.
/// `share` is `(k, n)`: the agent is the k-th of the n that run the workload, and gets the k-th
/// share of a replayed trace.
pub fn run_request(
    scenario: &Scenario,
    w: usize,
    agent: usize,
    share: (usize, usize),
    start_at_unix_ns: i64,
    clock_ahead_ns: i64,
) -> pb::RunRequest {
    let workload = &scenario.workloads[w];
    let (requests, duration_ms) = split(Some(workload.stop));
    let (warmup_requests, warmup_ms) = split(workload.warmup);
    let kind = match (&workload.keys, &workload.trace) {
        (_, Some(replayed)) => pb::key_choice::Kind::Trace(trace_share(replayed, share)),
        (KeyDist::Uniform | KeyDist::Trace(_), None) => pb::key_choice::Kind::Uniform(pb::Uniform {}),
        (KeyDist::Sequential, None) => pb::key_choice::Kind::Sequential(pb::Sequential {}),
        (&KeyDist::Zipf(exponent), None) => pb::key_choice::Kind::Zipf(pb::Zipf { exponent }),
        (&KeyDist::HotSet(key_fraction, request_share), None) => {
            pb::key_choice::Kind::Hotset(pb::HotSet { key_fraction, request_share })
        }
    };
    let (range_start, range_length) =
        workload.range.map_or((0, 0), |(first, last)| (first, last - first + 1));
    let spec = pb::Workload {
        name: workload.name.clone(),
        target: match workload.target {
            Target::Redis => pb::Target::Redis,
            Target::S3 => pb::Target::S3,
            Target::S3Express => pb::Target::S3Express,
            Target::CacheAside => pb::Target::CacheAside,
        }
        .into(),
        concurrency: workload.concurrency,
        requests,
        duration_ms,
        warmup_requests,
        warmup_ms,
        keys: Some(pb::KeyChoice { kind: Some(kind) }),
        timeout_ms: u64::try_from(workload.timeout.as_millis()).unwrap_or(u64::MAX),
        seed: key_seed(scenario.dataset.seed, w, agent),
        rate: workload.rate.unwrap_or(0.0),
        set_share: workload.set_share,
        pipeline: workload.pipeline,
        busy_poll_us: workload.busy_poll.map_or(0, |d| d.as_micros() as u64),
        verify: workload.verify,
        write_share: workload.write_share,
        on_write: match workload.on_write {
            OnWrite::Invalidate => pb::OnWrite::Invalidate,
            OnWrite::Update => pb::OnWrite::Update,
            OnWrite::None => pb::OnWrite::None,
        }
        .into(),
        // Once any workload writes, every cache-aside read may meet a newer version.
        track_versions: workload.target == Target::CacheAside
            && scenario.workloads.iter().any(|w| w.write_share > 0.0),
        ttl_ms: workload.ttl.map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)),
        range_start,
        range_length,
    };
    pb::RunRequest {
        workloads: vec![spec],
        interval_ms: INTERVAL.as_millis() as u64,
        start_at_unix_ns,
        clock_ahead_ns,
    }
}

/// Share `k` of `n` of a replayed trace: the records whose object hashes to k, in the trace's
/// order. All of one key's requests go to one agent, so none of them overtakes another.
fn trace_share(replayed: &Replayed, (k, n): (usize, usize)) -> pb::TraceKeys {
    let mine = |object: u64| mix(TRACE_SPLIT_SALT, object) % n.max(1) as u64 == k as u64;
    let picked = replayed.objects.iter().enumerate().filter(|&(_, &o)| mine(o));
    let (mut index, mut at_us) = (Vec::new(), Vec::new());
    for (r, &object) in picked {
        index.push(object);
        if let Some(at) = &replayed.at {
            at_us.push(u64::try_from(at[r].as_micros()).unwrap_or(u64::MAX));
        }
    }
    pb::TraceKeys { index, at_us }
}

/// Salt of the hash that splits a trace's keys between agents.
const TRACE_SPLIT_SALT: u64 = 0x7472_6163_6573_706c;

/// `(requests, milliseconds)` of an amount, as the proto carries it.
fn split(amount: Option<Amount>) -> (u64, u64) {
    match amount {
        None => (0, 0),
        Some(Amount::Requests(n)) => (n, 0),
        Some(Amount::Duration(d)) => (0, u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)),
    }
}

/// A key-stream seed per scenario seed, workload and agent, so agents do not read in lockstep.
fn key_seed(seed: u64, workload: usize, agent: usize) -> u64 {
    let mut z = seed ^ ((workload as u64) << 32 | agent as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn run_requests_carry_the_open_loop_and_the_start() {
        let text = "name = \"x\"\n[dataset]\nobjects = 10\nsize = 10\n[[workload]]\nname = \"w\"\n\
                    target = \"cache-aside\"\nduration = \"2s\"\nrate = 500.0\nttl = \"30s\"\nrange = \"0-99\"\n";
        let scenario = Scenario::parse(text, "t.toml").expect("valid");
        let req = run_request(&scenario, 0, 3, (0, 1), 42, 0);
        assert_eq!(req.start_at_unix_ns, 42);
        let w = &req.workloads[0];
        assert_eq!((w.rate, w.ttl_ms, w.range_start, w.range_length), (500.0, 30_000, 0, 100));
        assert_eq!((w.requests, w.duration_ms), (0, 2_000));
        assert_eq!(w.target(), pb::Target::CacheAside);
    }

    #[test]
    fn a_trace_is_split_by_key_and_keeps_each_keys_order() {
        let at = |ms: u64| Duration::from_millis(ms);
        let objects: Vec<u64> = (0..1000).map(|r| r % 37).collect();
        let replayed = Replayed { objects: objects.clone(), at: Some((0..1000).map(at).collect()) };
        let shares: Vec<pb::TraceKeys> = (0..3).map(|k| trace_share(&replayed, (k, 3))).collect();
        assert_eq!(shares.iter().map(|s| s.index.len()).sum::<usize>(), 1000, "every record once");
        for s in &shares {
            assert!(!s.index.is_empty(), "37 keys land on each of 3 agents");
            assert!(s.at_us.windows(2).all(|w| w[0] < w[1]), "in the trace's order");
            for (o, us) in s.index.iter().zip(&s.at_us) {
                assert_eq!(objects[(us / 1000) as usize], *o, "each record keeps its time");
            }
        }
        for o in 0..37u64 {
            let holders = shares.iter().filter(|s| s.index.contains(&o)).count();
            assert_eq!(holders, 1, "key {o} is read on one agent only");
        }
        let fast = trace_share(&Replayed { objects, at: None }, (0, 1));
        assert_eq!((fast.index.len(), fast.at_us.len()), (1000, 0));
    }

    #[test]
    fn agents_get_different_key_seeds() {
        let seeds: std::collections::HashSet<u64> =
            (0..4).flat_map(|w| (0..64).map(move |a| key_seed(1, w, a))).collect();
        assert_eq!(seeds.len(), 4 * 64);
    }
}
