//! Coordinated omission, shown against a real redis-server: a 1 s stall (CLIENT PAUSE) in the
//! middle of a run. Open loop times each request from its intended start, so the stall shows in
//! its percentiles; closed loop (and service time) hide it in a handful of slow samples.

mod common;

use std::time::Duration;

use common::*;
use fetchbench_proto as pb;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;

struct Merged {
    latency: Histogram<u64>,
    service: Histogram<u64>,
    late: u64,
    done: pb::WorkloadDone,
}

fn decode(bytes: &[u8]) -> Histogram<u64> {
    if bytes.is_empty() {
        return Histogram::new(3).expect("valid");
    }
    Deserializer::new().deserialize(&mut std::io::Cursor::new(bytes)).expect("V2 histogram")
}

/// Run `workload`, pause Redis for 1 s once the measured phase has run for 1 s, and merge what
/// the agent streamed.
async fn run_with_stall(redis: &Redis, workload: pb::Workload) -> Merged {
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    client.prepare(prepare_redis(&redis.url(), true)).await.expect("prepare");
    let request = pb::RunRequest { workloads: vec![workload], interval_ms: 100, ..Default::default() };
    let mut stream = client.run(request).await.expect("run").into_inner();
    let mut admin = redis::Client::open(redis.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let mut merged = Merged {
        latency: Histogram::new(3).expect("valid"),
        service: Histogram::new(3).expect("valid"),
        late: 0,
        done: pb::WorkloadDone::default(),
    };
    let mut paused = false;
    while let Some(event) = stream.message().await.expect("stream") {
        match event.event {
            Some(pb::run_event::Event::Progress(p)) => {
                if !paused && p.elapsed_ms >= 1_000 {
                    redis::cmd("CLIENT")
                        .arg("PAUSE")
                        .arg(1000)
                        .arg("ALL")
                        .query_async::<()>(&mut admin)
                        .await
                        .expect("pause");
                    paused = true;
                }
                merged.latency.add(decode(&p.histogram)).expect("add");
                merged.service.add(decode(&p.service_histogram)).expect("add");
                merged.late += p.late;
            }
            Some(pb::run_event::Event::Done(d)) => merged.done = d,
            Some(pb::run_event::Event::Heartbeat(_)) | None => {}
        }
    }
    assert!(paused, "the run ended before the stall");
    agent.shutdown().await;
    merged
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shows_in_open_loop_latency_but_not_in_service_time_or_closed_loop() {
    let redis = spawn_redis();

    // A timeout longer than the stall, so that the stalled requests are measured, not failed.
    let workload = |name| pb::Workload { timeout_ms: 5_000, ..redis_workload(name, 4, 0, 4_000) };
    let mut open = workload("open");
    open.rate = 1_000.0;
    let o = run_with_stall(&redis, open).await;
    let (p99, service_p99) = (ms(o.latency.value_at_quantile(0.99)), ms(o.service.value_at_quantile(0.99)));
    assert!(p99 >= 500.0, "open loop: corrected p99 {p99:.1} ms, expected >= 500 ms after a 1 s stall");
    assert!(service_p99 < 50.0, "open loop: service-time p99 {service_p99:.1} ms should stay low");
    // About a second's worth of requests were due during the stall and went out late.
    assert!(o.late >= 700, "only {} late starts", o.late);
    assert_eq!(o.done.errors, 0);
    // The requests due during the stall went out after it: none lost. A slot still behind when
    // the 4 s ended counts the rest as unsent; on a loaded machine that may be a few, never the
    // stall's thousand.
    assert_eq!(o.done.ops + o.done.unsent, 4_000, "1,000/s over 4 s, each sent or counted unsent");
    assert!(o.done.unsent <= 40, "{} unsent: the stalled requests were not sent after it", o.done.unsent);
    assert_eq!(o.done.target_rate, 1_000.0);

    let c = run_with_stall(&redis, workload("closed")).await;
    let closed_p99 = ms(c.latency.value_at_quantile(0.99));
    assert!(closed_p99 < 50.0, "closed loop p99 {closed_p99:.1} ms: the stall hides in a few samples");
    assert!(ms(c.latency.max()) >= 900.0, "closed loop still saw the stall in its max");
    assert!(p99 > 10.0 * closed_p99, "open {p99:.1} ms vs closed {closed_p99:.1} ms");
}

#[tokio::test]
async fn open_loop_keeps_its_rate_and_reports_it() {
    let redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    client.prepare(prepare_redis(&redis.url(), true)).await.expect("prepare");
    let mut w = redis_workload("w", 2, 0, 1_000);
    w.rate = 200.0;
    let events =
        collect(&mut client, pb::RunRequest { workloads: vec![w], interval_ms: 100, ..Default::default() })
            .await
            .expect("run");
    let done = events
        .iter()
        .find_map(|e| match e {
            pb::run_event::Event::Done(d) => Some(*d),
            _ => None,
        })
        .expect("done");
    // 200/s for 1 s: the schedule allows exactly 200 sends.
    assert_eq!(done.ops + done.errors, 200);
    // Spread over the second, 20 per 100 ms interval, not sent in a burst: allow for a stall of
    // a loaded machine, after which the late sends catch up.
    let per_interval: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            pb::run_event::Event::Progress(p) => Some(p.ops + p.errors),
            _ => None,
        })
        .collect();
    assert!(per_interval.len() >= 9, "{per_interval:?}");
    assert!(per_interval.iter().all(|&n| n <= 60), "a burst: {per_interval:?}");
    let steady = per_interval.iter().filter(|&&n| (10..=30).contains(&n)).count();
    assert!(steady >= per_interval.len() / 2, "not 20 per 100 ms: {per_interval:?}");
    assert!(done.duration_us >= 995_000, "ended after {} us", done.duration_us);
    agent.shutdown().await;
}

#[tokio::test]
async fn a_synchronized_start_waits_for_its_instant() {
    let redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    client.prepare(prepare_redis(&redis.url(), true)).await.expect("prepare");
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as i64;
    let start_at = now + 300_000_000;
    let request = pb::RunRequest {
        workloads: vec![redis_workload("w", 1, 10, 0)],
        interval_ms: 100,
        start_at_unix_ns: start_at,
        ..Default::default()
    };
    let events = collect(&mut client, request).await.expect("run");
    let started = events
        .iter()
        .find_map(|e| match e {
            pb::run_event::Event::Done(d) => Some(d.started_at_unix_ns),
            _ => None,
        })
        .expect("done");
    let lag = Duration::from_nanos((started - start_at).max(0) as u64);
    assert!(started >= start_at, "started {} ns early", start_at - started);
    assert!(lag < Duration::from_millis(20), "started {lag:?} after the instant");
    agent.shutdown().await;
}
