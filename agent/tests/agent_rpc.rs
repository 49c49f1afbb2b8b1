//! The agent's gRPC service against a real redis-server: lifecycle, totals, cancellation and
//! failures counted by kind.

mod common;

use std::time::Duration;

use common::*;
use fetchbench_proto as pb;
use redis::AsyncCommands;
use tonic::Code;

fn totals(events: &[pb::run_event::Event]) -> (u64, u64, Vec<pb::WorkloadDone>) {
    let (mut ops, mut errors, mut done) = (0, 0, Vec::new());
    for e in events {
        match e {
            pb::run_event::Event::Progress(p) if !p.warmup => {
                ops += p.ops;
                errors += p.errors;
            }
            pb::run_event::Event::Progress(_) | pb::run_event::Event::Heartbeat(_) => {}
            pb::run_event::Event::Done(d) => done.push(*d),
        }
    }
    (ops, errors, done)
}

/// The failures of `kind` over all of a run's progress events.
fn errors_of_kind(events: &[pb::run_event::Event], kind: &str) -> u64 {
    events
        .iter()
        .filter_map(|e| match e {
            pb::run_event::Event::Progress(p) => p.errors_by_kind.get(kind).copied(),
            _ => None,
        })
        .sum()
}

#[tokio::test]
async fn hello_reports_the_agent_and_its_host() {
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    let hello = client.hello(pb::HelloRequest::default()).await.expect("hello").into_inner();
    assert_eq!(hello.agent_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(hello.arch, std::env::consts::ARCH);
    assert_eq!(hello.os, std::env::consts::OS);
    let uname = std::process::Command::new("uname").arg("-n").output().expect("uname runs");
    assert_eq!(hello.hostname, String::from_utf8_lossy(&uname.stdout).trim());
    let cores = std::thread::available_parallelism().expect("the machine's cores").get();
    assert_eq!(hello.cores as usize, cores);
    // How this machine idles a core, as sysfs says it (empty where it does not).
    let sys = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_owned()).ok();
    let idle = match sys("/sys/devices/system/cpu/cpuidle/current_driver") {
        Some(d) => match sys("/sys/module/haltpoll/parameters/guest_halt_poll_ns") {
            Some(ns) if d == "haltpoll" => format!("haltpoll (guest_halt_poll_ns={ns})"),
            _ => d,
        },
        None => String::new(),
    };
    assert_eq!(hello.cpu_idle, idle);
    assert_eq!(hello.state(), pb::AgentState::Idle);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as i64;
    assert!((hello.agent_time_unix_ns - now).abs() < 5_000_000_000, "agent clock far off");
    agent.shutdown().await;
}

#[tokio::test]
async fn run_before_prepare_is_a_failed_precondition() {
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    let req = pb::RunRequest {
        workloads: vec![redis_workload("w", 1, 1, 0)],
        interval_ms: 100,
        ..Default::default()
    };
    let err = collect(&mut client, req).await.expect_err("not prepared");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    agent.shutdown().await;
}

#[tokio::test]
async fn bad_workloads_are_invalid_arguments() {
    let redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    client.prepare(prepare_redis(&redis.url(), false)).await.expect("prepare");
    let mut zero = redis_workload("w", 0, 1, 0);
    let err = collect(
        &mut client,
        pb::RunRequest { workloads: vec![zero.clone()], interval_ms: 100, ..Default::default() },
    )
    .await
    .expect_err("zero concurrency");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("concurrency 0"), "{}", err.message());
    zero.concurrency = 1;
    zero.requests = 0;
    let err = collect(
        &mut client,
        pb::RunRequest { workloads: vec![zero], interval_ms: 100, ..Default::default() },
    )
    .await
    .expect_err("no stop condition");
    assert_eq!(err.code(), Code::InvalidArgument);
    agent.shutdown().await;
}

#[tokio::test]
async fn seeding_writes_the_tutorial_dataset_into_redis() {
    let redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    let reply = client.prepare(prepare_redis(&redis.url(), true)).await.expect("prepare").into_inner();
    assert_eq!(reply.objects_written, 200);
    assert!((200 * 235..=200 * 434).contains(&reply.bytes_written));

    let mut conn = redis::Client::open(redis.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let keys: Vec<String> = conn.keys("fetchbench:filename*.txt").await.expect("KEYS");
    assert_eq!(keys.len(), 200);
    let value: Vec<u8> = conn.get("fetchbench:filename17.txt").await.expect("GET");
    let expected = fetchbench_proto::dataset::Generator::from_proto(&seed_dataset()).expect("valid").body(17);
    assert_eq!(value, expected);
    agent.shutdown().await;
}

#[tokio::test]
async fn progress_adds_up_to_the_workload_totals() {
    let redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    client.prepare(prepare_redis(&redis.url(), true)).await.expect("prepare");
    let mut w = redis_workload("w", 4, 2_000, 0);
    w.warmup_requests = 50;
    let events =
        collect(&mut client, pb::RunRequest { workloads: vec![w], interval_ms: 10, ..Default::default() })
            .await
            .expect("run");
    let (ops, errors, done) = totals(&events);
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].ops, done[0].errors), (2_000, 0));
    assert_eq!((ops, errors), (2_000, 0));
    assert!(!done[0].stopped);
    let warm: u64 = events
        .iter()
        .filter_map(|e| match e {
            pb::run_event::Event::Progress(p) if p.warmup => Some(p.ops),
            _ => None,
        })
        .sum();
    assert_eq!(warm, 50, "warm-up requests are reported apart");
    agent.shutdown().await;
}

#[tokio::test]
async fn a_dropped_run_stream_cancels_the_run() {
    let redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    client.prepare(prepare_redis(&redis.url(), true)).await.expect("prepare");
    let req = pb::RunRequest {
        workloads: vec![redis_workload("w", 2, 0, 600_000)],
        interval_ms: 50,
        ..Default::default()
    };
    let mut stream = client.run(req).await.expect("run").into_inner();
    stream.message().await.expect("first event").expect("an event");
    let mut other = agent.client().await;
    assert_eq!(
        other.hello(pb::HelloRequest::default()).await.expect("hello").into_inner().state(),
        pb::AgentState::Running
    );
    drop(stream);
    // The controller that prepared it is gone: the agent stops the load and goes back to idle.
    assert!(
        wait_for_state(&mut other, pb::AgentState::Idle, Duration::from_secs(5)).await,
        "the 10-minute run did not stop when its stream was dropped"
    );
    // And the agent takes the next controller's run.
    other.prepare(prepare_redis(&redis.url(), false)).await.expect("prepare again");
    let events = collect(
        &mut other,
        pb::RunRequest {
            workloads: vec![redis_workload("w", 1, 10, 0)],
            interval_ms: 50,
            ..Default::default()
        },
    )
    .await
    .expect("next run");
    assert_eq!(totals(&events).0, 10);
    agent.shutdown().await;
}

#[tokio::test]
async fn stop_ends_the_run_with_what_was_measured() {
    let redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    client.prepare(prepare_redis(&redis.url(), true)).await.expect("prepare");
    let req = pb::RunRequest {
        workloads: vec![redis_workload("w", 2, 0, 600_000)],
        interval_ms: 50,
        ..Default::default()
    };
    let mut stream = client.run(req).await.expect("run").into_inner();
    // Wait for the load itself (the first event may be a heartbeat).
    let mut events = Vec::new();
    while !events.iter().any(|e| matches!(e, pb::run_event::Event::Progress(_))) {
        events.extend(stream.message().await.expect("event").expect("the run goes on").event);
    }
    let mut second = agent.client().await;
    let busy = second
        .run(pb::RunRequest {
            workloads: vec![redis_workload("x", 1, 1, 0)],
            interval_ms: 50,
            ..Default::default()
        })
        .await;
    assert_eq!(busy.expect_err("already running").code(), Code::FailedPrecondition);
    assert!(second.stop(pb::StopRequest {}).await.expect("stop").into_inner().was_running);
    while let Some(e) = stream.message().await.expect("stream ends cleanly") {
        events.extend(e.event);
    }
    let (ops, _, done) = totals(&events);
    assert_eq!(done.len(), 1);
    assert!(done[0].stopped);
    assert!(ops > 0);
    assert_eq!(done[0].ops, ops);
    agent.shutdown().await;
}

#[tokio::test]
async fn unreachable_redis_fails_prepare_as_unavailable() {
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    let err =
        client.prepare(prepare_redis("redis://127.0.0.1:1", false)).await.expect_err("nothing on port 1");
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("redis at redis://127.0.0.1:1 is unreachable"), "{}", err.message());
    agent.shutdown().await;
}

#[tokio::test]
async fn missing_keys_and_a_dead_redis_are_counted_not_fatal() {
    let mut redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    // Not seeded: every GET is a miss.
    client.prepare(prepare_redis(&redis.url(), false)).await.expect("prepare");
    let events = collect(
        &mut client,
        pb::RunRequest {
            workloads: vec![redis_workload("w", 2, 100, 0)],
            interval_ms: 50,
            ..Default::default()
        },
    )
    .await
    .expect("run");
    let misses = errors_of_kind(&events, "miss");
    assert_eq!(misses, 100);
    assert_eq!(totals(&events).0, 0);

    // Redis dies between Prepare and Run: the run goes on, counting each request as a
    // connection error (with a growing pause between tries), and ends normally.
    redis.kill();
    let events = collect(
        &mut client,
        pb::RunRequest {
            workloads: vec![redis_workload("w", 1, 5, 0)],
            interval_ms: 50,
            ..Default::default()
        },
    )
    .await
    .expect("the run ends normally");
    let (ops, errors, done) = totals(&events);
    assert_eq!((ops, errors), (0, 5), "every request to a dead redis fails");
    assert_eq!((done[0].ops, done[0].errors), (0, 5));
    let connection = errors_of_kind(&events, "connection");
    assert_eq!(connection, 5);
    let mut probe = agent.client().await;
    assert!(wait_for_state(&mut probe, pb::AgentState::Prepared, Duration::from_secs(5)).await);
    agent.shutdown().await;
}

#[tokio::test]
async fn a_set_share_writes_the_dataset_bytes() {
    let redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    // Not seeded: Redis starts empty, and only the SETs can fill it.
    client.prepare(prepare_redis(&redis.url(), false)).await.expect("prepare");
    let w = pb::Workload { set_share: 1.0, keys: None, ..redis_workload("w", 2, 400, 0) };
    let events =
        collect(&mut client, pb::RunRequest { workloads: vec![w], interval_ms: 50, ..Default::default() })
            .await
            .expect("run");
    assert_eq!(totals(&events).0, 400, "every SET succeeds");
    let mut conn = redis::Client::open(redis.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let keys: Vec<String> = conn.keys("fetchbench:filename*.txt").await.expect("KEYS");
    assert!(keys.len() > 100, "only {} keys written", keys.len());
    let value: Vec<u8> = conn.get(&keys[0]).await.expect("GET");
    let index: u64 =
        keys[0].trim_start_matches("fetchbench:filename").trim_end_matches(".txt").parse().expect("index");
    let dataset = fetchbench_proto::dataset::Generator::from_proto(&seed_dataset()).expect("valid");
    assert_eq!(value, dataset.body(index));
    agent.shutdown().await;
}

/// Redis's own count of commands it ran and of socket reads it made, from INFO.
fn commands_and_reads(admin: &mut redis::Connection) -> (u64, u64) {
    let info: String = redis::cmd("INFO").arg("stats").query(admin).expect("INFO stats");
    let stat = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("INFO stats has no {name}"))
    };
    (stat("total_commands_processed"), stat("total_reads_processed"))
}

#[tokio::test]
async fn a_pipelined_workload_sends_its_commands_in_batches() {
    let redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    client.prepare(prepare_redis(&redis.url(), true)).await.expect("prepare");
    let mut admin = redis::Client::open(redis.url()).unwrap().get_connection().expect("admin connection");
    // Commands per socket read on Redis's side: about 1 one at a time, about 16 in pipelines of 16.
    let mut per_read = Vec::new();
    for pipeline in [1, 16] {
        let w = pb::Workload { pipeline, ..redis_workload("w", 2, 3_200, 0) };
        let before = commands_and_reads(&mut admin);
        let events = collect(
            &mut client,
            pb::RunRequest { workloads: vec![w], interval_ms: 50, ..Default::default() },
        )
        .await
        .expect("run");
        let after = commands_and_reads(&mut admin);
        let (_, _, done) = totals(&events);
        assert_eq!((done[0].ops, done[0].errors), (3_200, 0), "pipeline {pipeline}");
        per_read.push((after.0 - before.0) as f64 / (after.1 - before.1) as f64);
    }
    assert!(per_read[0] < 1.5, "one at a time, yet {:.1} commands per read", per_read[0]);
    assert!(per_read[1] > 8.0, "pipelines of 16, yet {:.1} commands per read", per_read[1]);
    agent.shutdown().await;
}

#[tokio::test]
async fn busy_polling_catches_the_replies_and_counts_them() {
    let redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    client.prepare(prepare_redis(&redis.url(), true)).await.expect("prepare");
    // A local redis-server answers within microseconds: polling for up to 10 ms per reply catches
    // (nearly) every one as it arrives; with no budget none is polled for.
    for budget_us in [10_000, 0] {
        let w = pb::Workload { busy_poll_us: budget_us, ..redis_workload("w", 2, 2_000, 0) };
        let events = collect(
            &mut client,
            pb::RunRequest { workloads: vec![w], interval_ms: 50, ..Default::default() },
        )
        .await
        .expect("run");
        let polled: u64 = events
            .iter()
            .filter_map(|e| match e {
                pb::run_event::Event::Progress(p) if !p.warmup => Some(p.busy_polled),
                _ => None,
            })
            .sum();
        let (_, _, done) = totals(&events);
        assert_eq!((done[0].ops, done[0].errors), (2_000, 0), "budget {budget_us} µs");
        if budget_us > 0 {
            assert!(polled >= 1_800, "only {polled} of 2000 replies were caught while polling");
        } else {
            assert_eq!(polled, 0, "nothing is polled for without a budget");
        }
    }
    agent.shutdown().await;
}

#[tokio::test]
async fn redis_dying_under_a_polling_slot_is_counted_not_fatal() {
    let mut redis = spawn_redis();
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    client.prepare(prepare_redis(&redis.url(), true)).await.expect("prepare");
    // A slot polling for up to 10 ms per reply spends nearly all its time polling: Redis dies
    // under it once the first interval has been reported, and the polls must hand the closed
    // socket to the read as a connection error.
    let w = pb::Workload { busy_poll_us: 10_000, ..redis_workload("w", 1, 0, 2_000) };
    let mut stream = client
        .run(pb::RunRequest { workloads: vec![w], interval_ms: 50, ..Default::default() })
        .await
        .expect("run")
        .into_inner();
    let mut events = Vec::new();
    while let Some(e) = stream.message().await.expect("the run goes on") {
        let served = matches!(&e.event, Some(pb::run_event::Event::Progress(p)) if p.ops > 0);
        events.extend(e.event);
        if served {
            break;
        }
    }
    redis.kill();
    while let Some(e) = stream.message().await.expect("the run ends normally") {
        events.extend(e.event);
    }
    let (ops, errors, done) = totals(&events);
    assert!(ops > 0 && errors > 0, "{ops} ops and {errors} errors");
    assert_eq!((done[0].ops, done[0].errors), (ops, errors));
    assert_eq!(errors_of_kind(&events, "connection"), errors, "every failure is the lost connection");
    agent.shutdown().await;
}
