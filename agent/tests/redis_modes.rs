//! The Redis driver against the ways ElastiCache is deployed, each on real redis-server processes:
//! AUTH, in-transit encryption (TLS), and cluster mode (three shards).

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use fetchbench_agent::driver::Op;
use fetchbench_agent::driver::redis::{RedisDriver, RedisTarget};
use fetchbench_agent::outcome::{Failure, Outcome};
use fetchbench_proto as pb;
use fetchbench_proto::dataset::Generator;
use tonic::Code;

fn prepare(url: String, cluster: bool, seed_data: bool) -> pb::PrepareRequest {
    pb::PrepareRequest {
        redis: Some(pb::RedisTarget { url, key_prefix: "fetchbench:".into(), cluster }),
        ..prepare_redis("", seed_data)
    }
}

/// Seed through one agent, run 500 GETs one at a time and 500 in pipelines of 8, and return
/// (ops, errors) of the two together.
async fn seed_and_read(request: pb::PrepareRequest) -> Result<(u64, u64), tonic::Status> {
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    let outcome = async {
        let seeded = client.prepare(request).await?.into_inner();
        assert_eq!(seeded.objects_written, 200);
        let events = collect(
            &mut client,
            pb::RunRequest {
                workloads: vec![
                    redis_workload("w", 4, 500, 0),
                    pb::Workload { pipeline: 8, ..redis_workload("p", 4, 500, 0) },
                ],
                interval_ms: 100,
                ..Default::default()
            },
        )
        .await?;
        let done: Vec<pb::WorkloadDone> = events
            .iter()
            .filter_map(|e| match e {
                pb::run_event::Event::Done(d) => Some(*d),
                _ => None,
            })
            .collect();
        assert_eq!(done.len(), 2, "a WorkloadDone for each workload");
        Ok((done.iter().map(|d| d.ops).sum(), done.iter().map(|d| d.errors).sum()))
    }
    .await;
    agent.shutdown().await;
    outcome
}

#[tokio::test]
async fn auth_comes_from_the_url_and_a_wrong_password_is_named() {
    let redis = spawn_redis_with(|port| {
        vec!["--port".into(), port.to_string(), "--requirepass".into(), "s3cret".into()]
    });
    let url = |pw: &str| format!("redis://:{pw}@127.0.0.1:{}", redis.port);
    assert_eq!(
        seed_and_read(prepare(url("s3cret"), false, true)).await.expect("authenticated run"),
        (1000, 0)
    );
    // The database number in the URL: seeded and read in database 3 (a GET in the wrong database
    // would miss and count as an error).
    let db3 = format!("redis://:s3cret@127.0.0.1:{}/3", redis.port);
    assert_eq!(seed_and_read(prepare(db3, false, true)).await.expect("run in database 3"), (1000, 0));
    let in_db3: u64 = redis::cmd("DBSIZE")
        .query(&mut redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/3", redis.port)).unwrap())
        .expect("DBSIZE");
    assert_eq!(in_db3, 200);
    let err = seed_and_read(prepare(url("wrong"), false, true)).await.expect_err("wrong password");
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("redis at"), "{}", err.message());
    assert!(err.message().to_lowercase().contains("pass"), "names the password problem: {}", err.message());
}

#[tokio::test]
async fn tls_redis_is_read_over_rediss() {
    // The agent binary installs the TLS crypto provider in main; here the agent runs in-process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certs = tempfile::tempdir().expect("temporary folder");
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed (apt-get install openssl)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let redis = spawn_redis_with(|port| {
        vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            cert.clone(),
            "--tls-key-file".into(),
            key.clone(),
            "--tls-ca-cert-file".into(),
            cert.clone(),
            "--tls-auth-clients".into(),
            "no".into(),
        ]
    });
    // A self-signed certificate: `#insecure` skips verification, as for a test endpoint.
    let tls = format!("rediss://127.0.0.1:{}/#insecure", redis.port);
    assert_eq!(seed_and_read(prepare(tls.clone(), false, true)).await.expect("run over TLS"), (1000, 0));
    // Plaintext to the TLS port fails at Prepare, with the URL named.
    let plain = format!("redis://127.0.0.1:{}", redis.port);
    let err = seed_and_read(prepare(plain.clone(), false, true)).await.expect_err("plaintext to a TLS port");
    assert!(err.message().contains(&plain), "{}", err.message());
    // TLS connections are the crate's, which cannot busy-poll: the run is refused, naming it.
    let agent = spawn_agent().await;
    let mut client = agent.client().await;
    client.prepare(prepare(tls, false, false)).await.expect("prepare over TLS");
    let polled = pb::Workload { busy_poll_us: 50, ..redis_workload("polled", 1, 10, 0) };
    let err = collect(&mut client, pb::RunRequest { workloads: vec![polled], ..Default::default() })
        .await
        .expect_err("busy-polling over TLS");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("busy_poll") && err.message().contains("TLS"), "{}", err.message());
    agent.shutdown().await;
}

#[tokio::test]
async fn cluster_mode_spreads_the_keys_over_the_shards() {
    let nodes: Vec<Redis> = (0..3)
        .map(|_| {
            spawn_redis_with(|port| {
                vec![
                    "--port".into(),
                    port.to_string(),
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    format!("nodes-{port}.conf"),
                ]
            })
        })
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli is installed (apt-get install redis-tools)");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stdout));
    // Every node must know the whole slot map before a client may rely on any of them.
    let deadline = Instant::now() + Duration::from_secs(20);
    for node in &nodes {
        loop {
            let info =
                Command::new("redis-cli").args(["-p", &node.port.to_string(), "cluster", "info"]).output();
            if info.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok")) {
                break;
            }
            assert!(Instant::now() < deadline, "the cluster did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let url = format!("redis://{}", addrs[1]);
    let read = seed_and_read(prepare(url.clone(), true, true)).await;
    assert_eq!(read.unwrap_or_else(|e| panic!("cluster run: {e}")), (1000, 0));
    // Every shard holds part of the 200 objects, and together they hold all of them.
    let sizes: Vec<u64> = nodes
        .iter()
        .map(|n| {
            let out = Command::new("redis-cli")
                .args(["-p", &n.port.to_string(), "dbsize"])
                .output()
                .expect("dbsize");
            String::from_utf8_lossy(&out.stdout).trim().parse().expect("a number")
        })
        .collect();
    assert!(sizes.iter().all(|&n| n > 0), "keys per shard {sizes:?}");
    assert_eq!(sizes.iter().sum::<u64>(), 200);
    // The cluster's shards, which result.json records and the cost model prices.
    let dataset = Arc::new(Generator::from_proto(&seed_dataset()).expect("valid dataset"));
    let cluster = RedisTarget::new(&url, "fetchbench:", true, dataset.clone()).expect("valid url");
    assert_eq!(cluster.shards().await, Some(3));
    let one = RedisTarget::new(&url, "fetchbench:", false, dataset).expect("valid url");
    assert_eq!(one.shards().await, None, "one node is no cluster");
}

/// The seed dataset on `redis` as one node, and a plain connection to it for the test's own
/// commands.
fn single_node(redis: &Redis) -> (Arc<Generator>, RedisTarget, redis::Connection) {
    let dataset = Arc::new(Generator::from_proto(&seed_dataset()).expect("valid dataset"));
    let target = RedisTarget::new(&redis.url(), "fetchbench:", false, dataset.clone()).expect("valid url");
    let admin = redis::Client::open(redis.url()).unwrap().get_connection().expect("admin connection");
    (dataset, target, admin)
}

#[tokio::test]
async fn a_request_cut_short_by_a_timeout_does_not_shift_the_replies_of_the_next() {
    let redis = spawn_redis();
    let (dataset, target, mut admin) = single_node(&redis);
    for i in 0..3 {
        let () = redis::cmd("SET").arg(target.key(i)).arg(dataset.body(i)).query(&mut admin).unwrap();
    }
    let mut driver = target.driver().await;
    let value = |v: Option<bytes::Bytes>| v.expect("the key exists").to_vec();
    assert_eq!(value(driver.get_value(0).await.unwrap()), dataset.body(0));

    // Redis holds every command for 300 ms: the GET of object 1 times out and is dropped, and
    // its reply arrives later on that connection.
    let () = redis::cmd("CLIENT").arg("PAUSE").arg(300).arg("ALL").query(&mut admin).unwrap();
    let cut = tokio::time::timeout(Duration::from_millis(50), driver.get_value(1)).await;
    assert!(cut.is_err(), "the paused GET timed out");

    // The next GET is of object 2 and must answer object 2's bytes, not object 1's late reply.
    let started = Instant::now();
    assert_eq!(value(driver.get_value(2).await.expect("GET after the pause")), dataset.body(2));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(value(driver.get_value(1).await.unwrap()), dataset.body(1));
}

#[tokio::test]
async fn every_kind_of_reply_a_slot_reads_comes_back_as_redis_sent_it() {
    let redis = spawn_redis();
    let (dataset, target, mut admin) = single_node(&redis);
    // Bigger than the connection's read buffer, so that its body arrives over several reads.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let () = redis::cmd("SET").arg(target.key(0)).arg(dataset.body(0)).query(&mut admin).unwrap();
    let () = redis::cmd("SET").arg(target.key(1)).arg("").query(&mut admin).unwrap();
    let () = redis::cmd("SET").arg(target.key(2)).arg(&big).query(&mut admin).unwrap();
    let _: i64 = redis::cmd("RPUSH").arg(target.key(5)).arg("a list").query(&mut admin).unwrap();

    let mut driver = target.driver().await;
    let got = driver.get_value(0).await.expect("GET of a value");
    assert_eq!(got.as_deref(), Some(&dataset.body(0)[..]));
    assert_eq!(driver.get_value(1).await.expect("GET of an empty value").as_deref(), Some(&b""[..]));
    assert_eq!(driver.get_value(2).await.expect("GET of a big value").as_deref(), Some(&big[..]));
    assert_eq!(driver.get_value(3).await.expect("GET of a missing key"), None);
    assert_eq!(driver.get(3).await.outcome, Outcome::Failed(Failure::Miss));

    // +OK: the SET is acknowledged and the value is there.
    driver.set_value(4, b"written", Some(Duration::from_secs(60))).await.expect("SET with a TTL");
    let stored: Vec<u8> = redis::cmd("GET").arg(target.key(4)).query(&mut admin).unwrap();
    assert_eq!(stored, b"written");

    // An error reply is a server error, and the connection goes on in step.
    assert_eq!(driver.get(5).await.outcome, Outcome::Failed(Failure::ServerError));
    assert_eq!(driver.get(0).await.outcome, Outcome::Ok);

    // GETRANGE: a range of a present value is a hit, of a missing one a miss.
    let mut ranged = target.with_range(10, 20).driver().await;
    assert_eq!(ranged.get(0).await.outcome, Outcome::Ok);
    assert_eq!(ranged.get(3).await.outcome, Outcome::Failed(Failure::Miss));
}

/// A batch's outcomes, in order.
async fn pipelined(driver: &mut RedisDriver, batch: &[(Op, u64)]) -> Vec<Outcome> {
    let mut replies = Vec::new();
    driver.pipeline(batch, &mut replies).await;
    replies.iter().map(|(sample, _)| sample.outcome).collect()
}

#[tokio::test]
async fn a_pipeline_answers_each_request_in_order_on_both_kinds_of_connection() {
    let redis = spawn_redis();
    let (dataset, target, mut admin) = single_node(&redis);
    let () = redis::cmd("SET").arg(target.key(0)).arg(dataset.body(0)).query(&mut admin).unwrap();
    let () = redis::cmd("SET").arg(target.key(1)).arg("").query(&mut admin).unwrap();
    // Bigger than the connection's read buffer: its bytes are read past over several reads.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let () = redis::cmd("SET").arg(target.key(2)).arg(&big).query(&mut admin).unwrap();
    let _: i64 = redis::cmd("RPUSH").arg(target.key(5)).arg("a list").query(&mut admin).unwrap();
    let batch =
        [(Op::Get, 5), (Op::Get, 3), (Op::Set, 4), (Op::Get, 2), (Op::Get, 0), (Op::Get, 1), (Op::Get, 4)];
    let expected = [
        Outcome::Failed(Failure::ServerError),
        Outcome::Failed(Failure::Miss),
        Outcome::Ok,
        Outcome::Ok,
        Outcome::Ok,
        Outcome::Ok,
        Outcome::Ok,
    ];
    // A slot's own connection, then the crate's multiplexed one (RESP3 is left to the crate).
    let resp3 =
        RedisTarget::new(&format!("{}/?protocol=resp3", redis.url()), "fetchbench:", false, dataset.clone())
            .expect("valid url");
    for target in [&target, &resp3] {
        let () = redis::cmd("DEL").arg(target.key(4)).query(&mut admin).unwrap();
        let mut driver = target.driver().await;
        assert_eq!(pipelined(&mut driver, &batch).await, expected, "{target:?}");
        let stored: Vec<u8> = redis::cmd("GET").arg(target.key(4)).query(&mut admin).unwrap();
        assert_eq!(stored, dataset.body(4), "the pipelined SET wrote the object's bytes");
        // GETRANGE: a range of a present value is a hit, of a missing one (which answers "") a miss.
        let mut ranged = target.with_range(10, 20).driver().await;
        let outcomes = pipelined(&mut ranged, &[(Op::Get, 3), (Op::Get, 2), (Op::Get, 0)]).await;
        assert_eq!(outcomes, [Outcome::Failed(Failure::Miss), Outcome::Ok, Outcome::Ok], "{target:?}");
    }
}

#[tokio::test]
async fn a_pipeline_cut_short_by_a_timeout_does_not_shift_the_replies_of_the_next() {
    let redis = spawn_redis();
    let (dataset, target, mut admin) = single_node(&redis);
    let () = redis::cmd("SET").arg(target.key(0)).arg(dataset.body(0)).query(&mut admin).unwrap();
    let _: i64 = redis::cmd("RPUSH").arg(target.key(5)).arg("a list").query(&mut admin).unwrap();
    let mut driver = target.driver().await;
    let batch = [(Op::Get, 5), (Op::Get, 3), (Op::Get, 0)];
    let expected = [Outcome::Failed(Failure::ServerError), Outcome::Failed(Failure::Miss), Outcome::Ok];
    assert_eq!(pipelined(&mut driver, &batch).await, expected);

    // Redis holds every command for 300 ms: the batch times out with none of its replies read.
    let () = redis::cmd("CLIENT").arg("PAUSE").arg(300).arg("ALL").query(&mut admin).unwrap();
    let mut replies = Vec::new();
    let cut = tokio::time::timeout(Duration::from_millis(50), driver.pipeline(&batch, &mut replies)).await;
    assert!(cut.is_err() && replies.is_empty(), "the paused batch timed out");

    // The next batch answers its own requests, not the late replies of the last.
    let reversed = [(Op::Get, 0), (Op::Get, 3), (Op::Get, 5)];
    let mut expected = expected;
    expected.reverse();
    assert_eq!(pipelined(&mut driver, &reversed).await, expected);
}
