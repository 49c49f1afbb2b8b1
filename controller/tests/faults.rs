//! Faults while a run goes, with real processes: an agent killed, Redis killed and restarted,
//! S3 answering errors, the controller killed. Each run must end with a kept result, the contract's
//! exit code, and nothing left running.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{
    LOG_INTERVALS, Redis, RunLog, Sandbox, agent_command, read_json, signal, start_agent_process,
    start_static_agent, stderr, stdout, wait_for_line,
};
use fetchbench_proto as pb;
use serde_json::Value;

fn u_str(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("{v} is not a string"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not an unsigned integer"))
}

#[test]
fn sigkill_of_one_of_four_agents_keeps_its_figures_and_exits_3() {
    let sb = Sandbox::new();
    let scenario = sb.write(
        "four.toml",
        "name = \"four\"\nagents = 4\n[dataset]\nobjects = 50\nsize = 100\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nconcurrency = 2\nduration = \"5s\"\n",
    );
    let out = sb.path().join("out");
    let mut child = sb
        .fetchbench()
        .args(["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")])
        .env("RUST_LOG", LOG_INTERVALS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetchbench starts");
    let mut log = RunLog::new(&mut child);
    let (_, rest) = wait_for_line(&mut child, "running r ");
    let agents = sb.pids_of("fetchbench-agent");
    assert_eq!(agents.len(), 4, "{agents:?}");
    // Let the victim report progress first, so there is something to keep.
    log.wait_for_progress_of(4);
    signal(agents[2], "-KILL");
    let _: Vec<String> = rest.map_while(Result::ok).collect();
    let err = log.all();
    let status = child.wait().expect("fetchbench exits");
    assert_eq!(status.code(), Some(3), "{err}");

    let r = read_json(&out.join("result.json"));
    assert_eq!(r["degraded"], true);
    let lost: Vec<&Value> =
        r["agents"].as_array().expect("agents").iter().filter(|a| a["status"] == "lost").collect();
    assert_eq!(lost.len(), 1, "{}", r["agents"]);
    // Found through its broken connection at once, not after 5 s of silence.
    let reason = lost[0]["error"].as_str().expect("a reason");
    assert!(reason.contains("connection") && !reason.contains("heartbeat"), "{reason}");
    let said =
        format!("fetchbench: {} ({}) lost: {reason}", u_str(&lost[0]["id"]), u_str(&lost[0]["address"]));
    assert!(err.contains(&said), "{said:?} not in {err}");
    let w = &r["workloads"][0];
    let per_agent = w["per_agent"].as_array().expect("per_agent");
    let victim = per_agent.iter().find(|a| a["agent"] == lost[0]["id"]).expect("the lost agent's figures");
    assert!(u(&victim["ops"]) > 0, "what the lost agent reported was kept: {victim}");
    // Its rate is over the time it reported, not zero for want of the WorkloadDone it never sent.
    let seconds = victim["duration_s"].as_f64().expect("duration_s");
    assert!((0.5..5.0).contains(&seconds), "the lost agent measured for {seconds} s: {victim}");
    let rate = victim["throughput_ops_s"].as_f64().expect("throughput_ops_s");
    assert!((rate - u(&victim["ops"]) as f64 / seconds).abs() < 1.0, "{victim}");
    assert_eq!(u(&w["ops"]), per_agent.iter().map(|a| u(&a["ops"])).sum::<u64>());
    sb.assert_clean();
}

#[test]
fn with_on_agent_loss_abort_losing_an_agent_stops_the_run() {
    let sb = Sandbox::new();
    let scenario = sb.write(
        "abort.toml",
        "name = \"abort\"\nagents = 2\non_agent_loss = \"abort\"\n[dataset]\nobjects = 50\nsize = 100\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nduration = \"5m\"\n\
         [[workload]]\nname = \"never\"\ntarget = \"redis\"\nrequests = 10\n",
    );
    let out = sb.path().join("out");
    let mut child = sb
        .fetchbench()
        .args(["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetchbench starts");
    let (_, rest) = wait_for_line(&mut child, "running r ");
    let started = Instant::now();
    signal(sb.pids_of("fetchbench-agent")[0], "-KILL");
    let lines: Vec<String> = rest.map_while(Result::ok).collect();
    let status = child.wait().expect("fetchbench exits");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a 5-minute run went on for {:?}",
        started.elapsed()
    );
    assert_eq!(status.code(), Some(3));
    assert!(lines.iter().any(|l| l.starts_with("aborting the run")), "{lines:?}");
    let r = read_json(&out.join("result.json"));
    assert_eq!((r["partial"].as_bool(), r["degraded"].as_bool()), (Some(true), Some(true)));
    assert_eq!(u(&r["workloads"][1]["ops"]), 0, "the next workload never ran");
    sb.assert_clean();
}

#[test]
fn redis_killed_and_restarted_mid_run_is_counted_and_the_run_goes_on() {
    let sb = Sandbox::new();
    let mut redis = Redis::start();
    // Half the requests SET, so that after the restart (an empty Redis) requests succeed again.
    let scenario = sb.write(
        "outage.toml",
        "name = \"outage\"\n[dataset]\nobjects = 50\nsize = 100\n[[workload]]\nname = \"r\"\n\
         target = \"redis\"\nconcurrency = 2\nduration = \"6s\"\nset_share = 0.5\ntimeout = \"500ms\"\n",
    );
    let out = sb.path().join("out");
    let mut child = sb
        .fetchbench()
        .args(["run", scenario.to_str().expect("utf-8"), "--redis-url", &redis.url()])
        .args(["--out", out.to_str().expect("utf-8")])
        .env("RUST_LOG", LOG_INTERVALS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetchbench starts");
    let mut log = RunLog::new(&mut child);
    let (_, rest) = wait_for_line(&mut child, "running r ");
    log.wait_for_interval("an interval with successful requests", |i| i.ops > 0);
    redis.kill();
    // An outage for a whole interval, then Redis is back, empty.
    log.wait_for_interval("an interval with only errors", |i| i.errors > 0 && i.ops == 0);
    redis.restart();
    let _: Vec<String> = rest.map_while(Result::ok).collect();
    let err = log.all();
    let status = child.wait().expect("fetchbench exits");
    assert_eq!(status.code(), Some(3), "a workload that ended with errors exits 3: {err}");

    let r = read_json(&out.join("result.json"));
    assert_eq!(r["agents"][0]["status"], "ok", "a dead target does not lose the agent");
    let w = &r["workloads"][0];
    let kinds = w["errors_by_kind"].as_object().expect("errors_by_kind");
    let outage: u64 = ["connection", "timeout"].iter().filter_map(|k| kinds.get(*k)).map(u).sum();
    assert!(outage > 0, "the outage shows as connection or timeout errors: {kinds:?}");
    let series: Vec<&Value> =
        w["timeseries"].as_array().expect("series").iter().filter(|i| i["phase"] == "measured").collect();
    assert!(series.len() >= 5, "{} intervals", series.len());
    let during = series.iter().position(|i| u(&i["errors"]) > 0 && u(&i["ops"]) == 0);
    let during = during.unwrap_or_else(|| panic!("no interval with only errors: {series:?}"));
    assert!(u(&series[0]["ops"]) > 0, "requests succeeded before the outage");
    assert!(
        series[during + 1..].iter().any(|i| u(&i["ops"]) > 0),
        "requests succeeded again after the restart"
    );
    sb.assert_clean();
}

/// A stand-in for S3 on a loopback port: the bucket exists, PUTs succeed, and GETs answer in turn
/// 200, 503 SlowDown, 500 InternalError, 403 AccessDenied.
fn faulty_s3() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let gets = Arc::new(AtomicU64::new(0));
    let counter = gets.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let gets = counter.clone();
            std::thread::spawn(move || serve_s3(stream, &gets));
        }
    });
    (addr, gets)
}

fn serve_s3(mut stream: std::net::TcpStream, gets: &AtomicU64) {
    let mut buf = Vec::new();
    loop {
        // Read one request: headers, then a Content-Length body.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        let method = head.split_whitespace().next().unwrap_or("");
        let (status, body) = match method {
            "GET" => match gets.fetch_add(1, Ordering::SeqCst) % 4 {
                0 => ("200 OK", "HELLO".to_owned()),
                1 => ("503 Slow Down", error_xml("SlowDown", "Please reduce your request rate.")),
                2 => (
                    "500 Internal Server Error",
                    error_xml("InternalError", "We encountered an internal error."),
                ),
                _ => ("403 Forbidden", error_xml("AccessDenied", "Access Denied")),
            },
            _ => ("200 OK", String::new()),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/xml\r\nETag: \"1\"\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
}

/// Run one S3 workload `s` of three 10-byte objects against the S3 endpoint at `addr`, the rest
/// of its table (and any after it) given by `tail`; the output and the results folder.
fn run_s3_workload(sb: &Sandbox, addr: SocketAddr, tail: &str) -> (std::process::Output, std::path::PathBuf) {
    let scenario = sb.write(
        "s3.toml",
        &format!(
            "name = \"s3faults\"\n[dataset]\nobjects = 3\nsize = 10\n\
             [[workload]]\nname = \"s\"\ntarget = \"s3\"\n{tail}"
        ),
    );
    let out = sb.path().join("out");
    let endpoint = format!("http://{addr}");
    let args = ["run", scenario.to_str().expect("utf-8"), "--s3-endpoint", &endpoint, "--out"];
    (sb.run(&[&args[..], &[out.to_str().expect("utf-8")]].concat()), out)
}

#[test]
fn s3_slowdown_5xx_and_4xx_are_counted_by_kind_and_the_run_goes_on() {
    let sb = Sandbox::new();
    let (addr, gets) = faulty_s3();
    let (o, out) = run_s3_workload(&sb, addr, "requests = 40\n");
    assert_eq!(o.status.code(), Some(3), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(gets.load(Ordering::SeqCst), 40, "one GET per request: the SDK's retries are off");
    let r = read_json(&out.join("result.json"));
    let w = &r["workloads"][0];
    assert_eq!(u(&w["ops"]), 10);
    assert_eq!(u(&w["errors_by_kind"]["throttled"]), 10);
    assert_eq!(u(&w["errors_by_kind"]["server_error"]), 10);
    assert_eq!(u(&w["errors_by_kind"]["client_error"]), 10);
    assert!(
        stdout(&o).contains("DEGRADED: s had 30 errors (client_error 10, server_error 10, throttled 10)"),
        "{}",
        stdout(&o)
    );
    sb.assert_clean();
}

/// The agent's state, asked over mutual TLS as the controller would.
fn agent_state(certs: &Path, host: &str, addr: SocketAddr) -> pb::AgentState {
    let tls = fetchbench::fleet::tls::ClientTls::load(certs).expect("the controller's identity");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (_, hello, _) =
            fetchbench::fleet::connect::connect("probe", addr, tls.config(host)).await.expect("hello");
        hello.state()
    })
}

#[test]
fn a_killed_controller_leaves_its_agents_idle_within_10_s() {
    let sb = Sandbox::new();
    let certs = sb.path().join("certs");
    let made = sb.run(&["certs", certs.to_str().expect("utf-8"), "127.0.0.1"]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let agents = [start_static_agent(&certs, "127.0.0.1"), start_static_agent(&certs, "127.0.0.1")];
    let scenario = sb.write(
        "long.toml",
        "name = \"long\"\n[dataset]\nobjects = 20\nsize = 100\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nduration = \"5m\"\n",
    );
    let mut child = sb
        .fetchbench()
        .args(["run", scenario.to_str().expect("utf-8"), "--tls-dir", certs.to_str().expect("utf-8")])
        .args(["--agent", &agents[0].addr.to_string(), "--agent", &agents[1].addr.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("fetchbench starts");
    let _ = wait_for_line(&mut child, "running r ");
    for agent in &agents {
        assert_eq!(agent_state(&certs, "127.0.0.1", agent.addr), pb::AgentState::Running);
    }
    signal(child.id(), "-KILL");
    let _ = child.wait();
    let killed = Instant::now();
    for agent in &agents {
        loop {
            let state = agent_state(&certs, "127.0.0.1", agent.addr);
            if state == pb::AgentState::Idle {
                break;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(10),
                "agent {} still {state:?} 10 s later",
                agent.addr
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Idle and ready: the next controller's run goes through.
    let short = sb.write(
        "short.toml",
        "name = \"short\"\n[dataset]\nobjects = 20\nsize = 100\n[[workload]]\nname = \"r\"\ntarget = \"redis\"\nrequests = 10\n",
    );
    let o = sb.run(&[
        "run",
        short.to_str().expect("utf-8"),
        "--tls-dir",
        certs.to_str().expect("utf-8"),
        "--agent",
        &agents[0].addr.to_string(),
        "--agent",
        &agents[1].addr.to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    drop(agents);
    sb.assert_clean();
}

#[test]
fn a_breached_threshold_in_a_degraded_run_exits_99_not_3() {
    let sb = Sandbox::new();
    let (addr, _) = faulty_s3();
    // Three GETs in four fail (exit 3 on its own), and the error count breaches its limit.
    let (o, out) = run_s3_workload(&sb, addr, "requests = 8\n[thresholds]\n\"s.errors\" = 0\n");
    assert_eq!(o.status.code(), Some(99), "{}\n{}", stdout(&o), stderr(&o));
    let r = read_json(&out.join("result.json"));
    assert_eq!(r["degraded"], true, "the run was degraded as well");
    assert!(stdout(&o).contains("THRESHOLD BREACHED"), "{}", stdout(&o));
    sb.assert_clean();
}

/// When a stand-in agent's Run stream went quiet, and when the controller dropped it.
#[derive(Default)]
struct Silence {
    quiet_since: Option<Instant>,
    dropped_at: Option<Instant>,
}

/// A stand-in agent whose Run stream sends one heartbeat and then nothing, while its connection
/// stays healthy (its HTTP/2 stack answers pings): only the controller's silence watchdog can
/// find it lost.
#[derive(Clone)]
struct MuteAgent {
    silence: Arc<std::sync::Mutex<Silence>>,
}

/// Records when the stream is dropped (the controller gave up on it).
struct DropMark(Arc<std::sync::Mutex<Silence>>);

impl Drop for DropMark {
    fn drop(&mut self) {
        self.0.lock().expect("lock").dropped_at = Some(Instant::now());
    }
}

type EventStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<pb::RunEvent, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl pb::agent_server::Agent for MuteAgent {
    async fn hello(
        &self,
        _: tonic::Request<pb::HelloRequest>,
    ) -> Result<tonic::Response<pb::HelloReply>, tonic::Status> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
        Ok(tonic::Response::new(pb::HelloReply {
            agent_version: env!("CARGO_PKG_VERSION").into(),
            hostname: "mute".into(),
            cores: 1,
            arch: std::env::consts::ARCH.into(),
            os: std::env::consts::OS.into(),
            agent_time_unix_ns: now.as_nanos() as i64,
            state: pb::AgentState::Idle.into(),
            cpu_idle: String::new(),
        }))
    }

    async fn prepare(
        &self,
        _: tonic::Request<pb::PrepareRequest>,
    ) -> Result<tonic::Response<pb::PrepareReply>, tonic::Status> {
        Ok(tonic::Response::new(pb::PrepareReply::default()))
    }

    async fn server_info(
        &self,
        _: tonic::Request<pb::ServerInfoRequest>,
    ) -> Result<tonic::Response<pb::ServerInfoReply>, tonic::Status> {
        // Mute here too: the run must not wait on the server's view.
        std::future::pending().await
    }

    async fn reset_cache(
        &self,
        _: tonic::Request<pb::ResetCacheRequest>,
    ) -> Result<tonic::Response<pb::ResetCacheReply>, tonic::Status> {
        std::future::pending().await
    }

    type RunStream = EventStream;

    async fn run(
        &self,
        _: tonic::Request<pb::RunRequest>,
    ) -> Result<tonic::Response<EventStream>, tonic::Status> {
        let mark = DropMark(self.silence.clone());
        let silence = self.silence.clone();
        let heartbeat =
            pb::RunEvent { event: Some(pb::run_event::Event::Heartbeat(pb::Heartbeat::default())) };
        let once = futures_util::stream::once(async move {
            silence.lock().expect("lock").quiet_since = Some(Instant::now());
            Ok(heartbeat)
        });
        let never = futures_util::stream::poll_fn(move |_| {
            let _ = &mark;
            std::task::Poll::Pending
        });
        Ok(tonic::Response::new(Box::pin(futures_util::StreamExt::chain(once, never))))
    }

    async fn stop(
        &self,
        _: tonic::Request<pb::StopRequest>,
    ) -> Result<tonic::Response<pb::StopReply>, tonic::Status> {
        Ok(tonic::Response::new(pb::StopReply { was_running: true }))
    }
}

/// Serve a [`MuteAgent`] over mutual TLS with the certificates in `certs`, on a thread of its own.
fn start_mute_agent(certs: &Path) -> (SocketAddr, Arc<std::sync::Mutex<Silence>>) {
    let read = |name: &str| std::fs::read(certs.join(name)).expect("certificate file");
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            read("agent-127.0.0.1.pem"),
            read("agent-127.0.0.1.key"),
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(read("ca.pem")));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    let agent = MuteAgent { silence: Arc::default() };
    let silence = agent.silence.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            tonic::transport::Server::builder()
                .tls_config(tls)
                .expect("tls")
                .add_service(pb::agent_server::AgentServer::new(agent))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .expect("serves");
        });
    });
    (addr, silence)
}

#[test]
fn an_agent_that_goes_quiet_on_a_live_connection_is_lost_by_the_5_s_watchdog() {
    let sb = Sandbox::new();
    let certs = sb.path().join("certs");
    let made = sb.run(&["certs", certs.to_str().expect("utf-8"), "127.0.0.1"]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let (addr, silence) = start_mute_agent(&certs);
    let scenario = sb.write(
        "mute.toml",
        "name = \"mute\"\n[dataset]\nobjects = 5\nsize = 10\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nduration = \"5m\"\n",
    );
    let out = sb.path().join("out");
    let mut child = sb
        .fetchbench()
        .args(["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")])
        .args(["--tls-dir", certs.to_str().expect("utf-8"), "--agent", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetchbench starts");
    // Wait for the end, for 30 s at most: without the watchdog the run would wait 5 minutes.
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if began.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the quiet agent was not found lost within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child.stderr.take().expect("piped").read_to_string(&mut err).expect("stderr");
    assert_eq!(status.code(), Some(3), "{err}");
    let r = read_json(&out.join("result.json"));
    assert_eq!(r["agents"][0]["status"], "lost", "{}", r["agents"]);
    assert_eq!(r["agents"][0]["error"], "no progress or heartbeat for 5s", "{}", r["agents"]);
    let silence = silence.lock().expect("lock");
    let quiet = silence.quiet_since.expect("the run started");
    let dropped = silence.dropped_at.expect("the controller dropped the quiet stream");
    let after = dropped - quiet;
    // 5 s of silence, found by a check every 250 ms; a loaded machine adds a little.
    assert!(
        (Duration::from_secs(5)..Duration::from_secs(8)).contains(&after),
        "lost {after:?} after it went quiet"
    );
    sb.assert_clean();
}

/// A second controller pointed at an agent that is running the first one's run is told so
/// before it prints a banner or seeds anything (seeding would rewrite the first run's data),
/// and the first run goes on undisturbed.
#[test]
fn a_second_controller_on_a_busy_agent_is_told_before_it_starts_anything() {
    let sb = Sandbox::new();
    let certs = sb.path().join("certs");
    let made = sb.run(&["certs", certs.to_str().expect("utf-8"), "127.0.0.1"]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let agent = start_static_agent(&certs, "127.0.0.1");
    let address = agent.addr.to_string();
    let scenario = sb.write(
        "long.toml",
        "name = \"long\"\n[dataset]\nobjects = 20\nsize = 100\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nduration = \"5m\"\n",
    );
    let certs_arg = certs.to_str().expect("utf-8");
    let mut first = sb
        .fetchbench()
        .args(["run", scenario.to_str().expect("utf-8"), "--tls-dir", certs_arg, "--agent", &address])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("fetchbench starts");
    let (_, rest) = wait_for_line(&mut first, "running r ");

    let second = sb.run(&["run", "--tls-dir", certs_arg, "--agent", &address, "--requests", "5"]);
    assert_eq!(second.status.code(), Some(1), "{}\n{}", stdout(&second), stderr(&second));
    let err = stderr(&second);
    assert_eq!(
        err.trim(),
        format!(
            "fetchbench: agent {address} is running another controller's run; wait for it to end, or \
             stop that controller (Ctrl-C): an agent whose controller is gone is idle again within \
             about 5 s"
        )
    );
    assert_eq!(stdout(&second), "", "nothing printed as started");
    assert_eq!(
        agent_state(&certs, "127.0.0.1", agent.addr),
        pb::AgentState::Running,
        "the first run goes on"
    );

    signal(first.id(), "-INT");
    let said: Vec<String> = rest.map_while(Result::ok).collect();
    assert_eq!(first.wait().expect("the first run ends").code(), Some(130), "{said:?}");
    drop(agent);
    sb.assert_clean();
}

/// An agent's log written to a file (the local agents' logs, systemd's journal) is plain text:
/// no terminal colour codes in what a user opens or greps.
#[test]
fn an_agent_log_written_to_a_file_has_no_colour_codes() {
    let sb = Sandbox::new();
    let certs = sb.path().join("certs");
    let made = sb.run(&["certs", certs.to_str().expect("utf-8"), "127.0.0.1"]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let log_path = sb.path().join("agent.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut command = agent_command(&certs, "127.0.0.1", "127.0.0.1:0", &[]);
    command.env("RUST_LOG", "debug").stderr(log);
    let agent = start_agent_process(command);
    let addr = agent.addr;
    // A controller's hello makes the agent log its connection at debug level.
    assert_eq!(agent_state(&certs, "127.0.0.1", addr), pb::AgentState::Idle);
    drop(agent);
    let text = std::fs::read_to_string(&log_path).expect("the log");
    assert!(text.lines().count() > 0, "the agent logged nothing at debug level");
    assert!(!text.contains('\u{1b}'), "colour codes in the log:\n{text}");
}
