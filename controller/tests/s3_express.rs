//! The `s3-express` target on the local fleet: the agent reads an S3 Express One Zone directory
//! bucket on the embedded endpoint through the SDK's session auth (CreateSession, then requests
//! signed with the session's credentials), the endpoint refuses a request without a live session,
//! and a missing directory bucket is named in one line.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Output, Stdio};

use common::{Sandbox, agent_command, read_json, start_agent_process, start_static_agent, stderr, stdout};
use fetchbench::fleet::local::{LocalFleet, LocalPlan, default_agent_binary};
use fetchbench_proto as pb;
use serde_json::Value;

/// The directory bucket of local runs.
const BUCKET: &str = "fetchbench--local-az1--x-s3";

/// A scenario of `objects` objects and one `s3-express` workload reading each of them once.
fn scenario(sb: &Sandbox, objects: u64) -> String {
    let path = sb.write(
        "express.toml",
        &format!(
            "name = \"express\"\nagents = 1\n[dataset]\nobjects = {objects}\nsize = {{ min = 100, max = 300 }}\n\
             [[workload]]\nname = \"dir\"\ntarget = \"s3-express\"\nconcurrency = 1\n\
             requests = {objects}\nkeys = \"sequential\"\nverify = true\n"
        ),
    );
    path.to_str().expect("utf-8").to_owned()
}

fn workload(result: &Value) -> &Value {
    &result["workloads"][0]
}

fn said(o: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", o.status.code(), stdout(o), stderr(o))
}

#[test]
fn a_local_run_reads_every_object_of_the_directory_bucket_through_session_auth() {
    let sb = Sandbox::new();
    let scenario = scenario(&sb, 60);
    let out = sb.path().join("out");
    let o = sb
        .fetchbench()
        .args(["run", &scenario, "--out", out.to_str().expect("utf-8")])
        // The embedded endpoint logs each CreateSession it answers.
        .env("RUST_LOG", "warn,fetchbench::fleet::s3_express=debug")
        .output()
        .expect("fetchbench runs");
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    let result = read_json(&out.join("result.json"));
    let w = workload(&result);
    assert_eq!(w["target"], "s3-express", "{w}");
    assert_eq!(w["ops"], 60, "every object read once: {w}");
    assert_eq!(w["errors"], 0, "{w}");
    assert!(w["latency_us"]["p50"].as_f64().expect("p50") > 0.0, "{w}");
    assert!(w["throughput_ops_s"].as_f64().expect("ops/s") > 0.0, "{w}");
    assert_eq!(result["targets"]["s3_express_bucket"], BUCKET, "{}", result["targets"]);
    assert!(
        stdout(&o).contains(&format!("s3-express: directory bucket {BUCKET} on http://127.0.0.1:")),
        "{}",
        said(&o)
    );
    assert!(w["ttfb_us"]["p50"].as_f64().expect("time to first byte") > 0.0, "{w}");
    assert!(stdout(&o).contains("dir: time to first byte p50 "), "{}", said(&o));
    // Session auth ran: the agent's SDK asked for a session (seeding and reading share one
    // client, so one session serves both within its five minutes).
    assert!(
        stderr(&o).contains(&format!("CreateSession for {BUCKET}: session 1 issued")),
        "no CreateSession: {}",
        said(&o)
    );
    sb.assert_clean();
}

/// `fetchbench certs` for 127.0.0.1 in `dir`.
fn certs(sb: &Sandbox, dir: &Path) {
    let o = sb.fetchbench().arg("certs").arg(dir).arg("127.0.0.1").output().expect("fetchbench runs");
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
}

#[test]
fn an_agent_reading_without_a_session_is_refused_and_its_errors_are_counted_as_client_errors() {
    let sb = Sandbox::new();
    let dir = sb.path().join("certs");
    certs(&sb, &dir);
    // agent-0 seeds and reads with session auth; agent-1's SDK is told to sign with its base
    // credentials instead, without a session token, as a client without S3 Express support would.
    let seeder = start_static_agent(&dir, "127.0.0.1");
    let mut command = agent_command(&dir, "127.0.0.1", "127.0.0.1:0", &[]);
    command.env("AWS_S3_DISABLE_EXPRESS_SESSION_AUTH", "true").stderr(Stdio::null());
    let sessionless = start_agent_process(command);
    let scenario = scenario(&sb, 30);
    let out = sb.path().join("out");
    let o = sb.run(&[
        "run",
        &scenario,
        "--agent",
        &seeder.addr.to_string(),
        "--agent",
        &sessionless.addr.to_string(),
        "--tls-dir",
        dir.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    // Completed with errors: degraded, exit 3.
    assert_eq!(o.status.code(), Some(3), "{}", said(&o));
    let result = read_json(&out.join("result.json"));
    let w = workload(&result);
    assert_eq!(w["ops"], 30, "agent-0 read every object: {w}");
    assert_eq!(w["errors"], 30, "agent-1 was refused every time: {w}");
    assert_eq!(w["errors_by_kind"]["client_error"], 30, "403 AccessDenied is a client error: {w}");
    assert_eq!(result["degraded"], true);
}

/// A request to `addr` signed for `s3express` with a session token the endpoint never issued:
/// the status line and the body of the reply.
fn forged_get(addr: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let request = format!(
        "GET /{BUCKET}/filename0.txt HTTP/1.1\r\nHost: {addr}\r\nx-amz-date: 20261206T000000Z\r\n\
         x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nx-amz-s3session-token: forged\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=FBXFORGED/20261206/us-east-1/s3express/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=00\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    reply
}

#[tokio::test]
async fn the_endpoint_refuses_a_forged_session_and_a_missing_directory_bucket_is_named() {
    let plan = LocalPlan {
        agents: 1,
        redis: false,
        redis_cache: Default::default(),
        s3: true,
        agent_binary: default_agent_binary(),
        serve_on: std::net::Ipv4Addr::LOCALHOST.into(),
    };
    let mut fleet = LocalFleet::start(&plan).await.expect("a local agent and the embedded endpoint");
    let embedded = fleet.s3.as_ref().expect("the embedded endpoint");
    let target = |bucket: &str| embedded.target(bucket);
    let dataset =
        pb::Dataset { objects: 5, size_min_bytes: 10, size_max_bytes: 10, seed: 1, ..Default::default() };
    let prepare = |bucket: &str, seed_data: bool| pb::PrepareRequest {
        s3_express: Some(target(bucket)),
        dataset: Some(dataset.clone()),
        seed_data,
        ..Default::default()
    };
    let agent = &fleet.agents[0];
    let (mut client, _, _) =
        fetchbench::fleet::connect::connect("agent-0", agent.addr, fleet.tls.config(&agent.server_name))
            .await
            .expect("hello");

    // A reader that is not seeding does not create a directory bucket: it says which is missing.
    let missing = "absent--local-az1--x-s3";
    let refused = client.prepare(prepare(missing, false)).await.expect_err("a missing directory bucket");
    assert_eq!(refused.code(), tonic::Code::Unavailable);
    assert_eq!(
        refused.message(),
        "s3 bucket absent--local-az1--x-s3: directory bucket not found (S3 Express One Zone); create it, \
         or let fetchbench seed the dataset, which creates it"
    );

    // Seeding creates it and writes it through a session.
    let seeded = client.prepare(prepare(BUCKET, true)).await.expect("seeding").into_inner();
    assert_eq!(seeded.objects_written, 5);
    assert_eq!(embedded.sessions_issued(), 1, "one session for the seeding client");
    assert!(fleet.dir().join("s3").join(BUCKET).join("filename4.txt").is_file());

    // A token the endpoint never issued is refused before s3s sees the request.
    let addr = embedded.endpoint_url().trim_start_matches("http://").to_owned();
    let reply = tokio::task::spawn_blocking(move || forged_get(&addr)).await.expect("request");
    assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
    assert!(reply.contains("<Code>AccessDenied</Code>"), "{reply}");
    assert!(reply.contains(&format!("no live S3 Express session for bucket {BUCKET}")), "{reply}");
    fleet.shutdown().await;
}
