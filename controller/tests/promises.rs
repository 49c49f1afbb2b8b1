//! Promises the README makes that no other test held it to, each checked end to end through the
//! real binaries the way a user would check it: the exit code, what was printed, result.json,
//! the files in the results folder, what is left running, what the target holds afterwards.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{
    Redis, Sandbox, free_port, read_json, redis_server, signal, start_static_agent, stderr, stdout,
    tls_redis_server, wait_for_line,
};
use fetchbench_proto as pb;
use serde_json::{Value, json};

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not an unsigned integer"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn all_output(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", stdout(o), stderr(o))
}

/// What a fake S3 answers to one GET.
#[derive(Clone, Copy)]
enum Answer {
    /// A status line and an S3 error code (or the object's bytes for a 200).
    Status(&'static str, &'static str),
    /// Nothing, ever: the connection is held until the client gives up and closes it.
    Silence,
    /// A 200 whose headers S3's protocol cannot read (a Last-Modified that is not a date).
    Unreadable,
    /// Bytes that are not HTTP, then the connection closed.
    Garbage,
    /// The connection closed unanswered, and the port closed with it: every later connection is
    /// refused.
    CloseForGood,
}

/// A stand-in for S3 on a loopback port: the bucket exists, PUTs succeed, and the n-th GET (from
/// 0) is answered `answer(n)`. Returns its address and the count of GETs it saw.
fn fake_s3(answer: fn(u64) -> Answer) -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let gets = Arc::new(AtomicU64::new(0));
    // An answer that closes the port asks for it (first flag) and waits until the listener is
    // dropped (second flag), so the kernel refuses every connection after it.
    let closing = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
    let counter = gets.clone();
    listener.set_nonblocking(true).expect("a non-blocking listener");
    std::thread::spawn(move || {
        while !closing[0].load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).expect("a blocking stream");
                    let (gets, closing) = (counter.clone(), closing.clone());
                    std::thread::spawn(move || serve_s3(stream, &gets, &closing, answer));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        drop(listener);
        closing[1].store(true, Ordering::SeqCst);
    });
    (addr, gets)
}

fn serve_s3(
    mut stream: std::net::TcpStream,
    gets: &AtomicU64,
    closing: &[AtomicBool; 2],
    answer: fn(u64) -> Answer,
) {
    let mut buf = Vec::new();
    let fill = |buf: &mut Vec<u8>, stream: &mut std::net::TcpStream| {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    };
    loop {
        // One request: headers, then a Content-Length body.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !fill(&mut buf, &mut stream) {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            if !fill(&mut buf, &mut stream) {
                return;
            }
        }
        buf.drain(..head_end + length);
        let (status, body, extra) = match head.split_whitespace().next() {
            Some("GET") => match answer(gets.fetch_add(1, Ordering::SeqCst)) {
                Answer::Status(status, code) if status.starts_with("200") => (status, code.to_owned(), ""),
                Answer::Status(status, code) => (
                    status,
                    format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>\
                         <Message>{code}</Message></Error>"
                    ),
                    "",
                ),
                Answer::Unreadable => ("200 OK", "HELLO".to_owned(), "Last-Modified: yesterday\r\n"),
                Answer::Silence => {
                    // Until the client closes the connection.
                    while fill(&mut buf, &mut stream) {}
                    return;
                }
                Answer::Garbage => {
                    let _ = stream.write_all(b"SSH-2.0-not-an-s3-endpoint\r\n\r\n");
                    return;
                }
                Answer::CloseForGood => {
                    closing[0].store(true, Ordering::SeqCst);
                    while !closing[1].load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    return;
                }
            },
            _ => ("200 OK", String::new(), ""),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/xml\r\nETag: \"1\"\r\n{extra}\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// GETs answered in turn 200, 503 SlowDown, 500 InternalError, 403 AccessDenied: of 40 requests,
/// 10 succeed and 30 fail.
fn three_of_four_fail(n: u64) -> Answer {
    match n % 4 {
        0 => Answer::Status("200 OK", "HELLO"),
        1 => Answer::Status("503 Slow Down", "SlowDown"),
        2 => Answer::Status("500 Internal Server Error", "InternalError"),
        _ => Answer::Status("403 Forbidden", "AccessDenied"),
    }
}

/// `fetchbench run SCENARIO --s3-endpoint ADDR --out OUT` to the end.
fn run_on_s3(sb: &Sandbox, scenario: &Path, s3: SocketAddr, out: &Path) -> Output {
    sb.run(&["run", utf8(scenario), "--s3-endpoint", &format!("http://{s3}"), "--out", utf8(out)])
}

/// report.html is one self-contained page: no script in it, nothing it runs.
fn assert_no_script(out: &Path) {
    let page = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(page.contains("<svg"), "report.html has no chart; is it the report?");
    let lower = page.to_ascii_lowercase();
    for needle in ["<script", "javascript:", " onload=", " onclick=", " onerror=", " onmouseover="] {
        assert!(!lower.contains(needle), "report.html carries {needle:?}");
    }
}

#[test]
fn a_lower_bound_and_an_errors_limit_breached_exit_99_and_a_value_equal_to_its_limit_holds() {
    let sb = Sandbox::new();
    let (s3, gets) = fake_s3(three_of_four_fail);
    // 40 requests: 10 succeed, 30 fail, an error rate of exactly 0.75.
    let scenario = sb.write(
        "limits.toml",
        "name = \"limits\"\n[dataset]\nobjects = 3\nsize = 10\n\
         [[workload]]\nname = \"s\"\ntarget = \"s3\"\nrequests = 40\n\
         [thresholds]\n\"s.errors\" = 29\n\"s.throughput_ops_s\" = 1000000000\n\"s.error_rate\" = 0.75\n",
    );
    let out = sb.path().join("breached");
    let o = run_on_s3(&sb, &scenario, s3, &out);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(99), "{}", all_output(&o));
    assert_eq!(gets.load(Ordering::SeqCst), 40);
    assert!(text.contains("THRESHOLD BREACHED: s.errors = 30, above the limit 29\n"), "{text}");
    let throughput = text
        .lines()
        .find_map(|l| l.strip_prefix("THRESHOLD BREACHED: s.throughput_ops_s = "))
        .unwrap_or_else(|| panic!("no throughput breach printed:\n{text}"));
    assert!(throughput.ends_with(", below the limit 1000000000"), "{throughput}");
    assert!(!text.contains("s.error_rate"), "the error rate equal to its limit held:\n{text}");
    let r = read_json(&out.join("result.json"));
    let judged: Vec<(String, bool)> = r["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .map(|t| (t["key"].as_str().expect("key").to_owned(), t["passed"].as_bool().expect("passed")))
        .collect();
    assert_eq!(
        judged,
        [
            ("s.error_rate".to_owned(), true),
            ("s.errors".to_owned(), false),
            ("s.throughput_ops_s".to_owned(), false)
        ]
    );
    assert_no_script(&out);

    // Every value equal to its limit: the thresholds hold, and the run exits 3 for its errors only.
    let (s3, _) = fake_s3(three_of_four_fail);
    let scenario = sb.write(
        "equal.toml",
        "name = \"equal\"\n[dataset]\nobjects = 3\nsize = 10\n\
         [[workload]]\nname = \"s\"\ntarget = \"s3\"\nrequests = 40\n\
         [thresholds]\n\"s.errors\" = 30\n\"s.error_rate\" = 0.75\n",
    );
    let out = sb.path().join("equal");
    let o = run_on_s3(&sb, &scenario, s3, &out);
    assert_eq!(o.status.code(), Some(3), "{}", all_output(&o));
    assert!(stdout(&o).contains("thresholds: all 2 held"), "{}", stdout(&o));
    let r = read_json(&out.join("result.json"));
    assert!(
        r["thresholds"].as_array().expect("thresholds").iter().all(|t| t["passed"] == true),
        "{}",
        r["thresholds"]
    );
    sb.assert_clean();
}

#[test]
fn s3_404_is_not_found_429_and_503_are_throttled_other_5xx_and_4xx_are_server_and_client_errors() {
    let sb = Sandbox::new();
    let (s3, gets) = fake_s3(|n| match n % 6 {
        0 => Answer::Status("200 OK", "HELLO"),
        1 => Answer::Status("404 Not Found", "NoSuchKey"),
        2 => Answer::Status("429 Too Many Requests", "TooManyRequests"),
        3 => Answer::Status("503 Service Unavailable", "ServiceUnavailable"),
        4 => Answer::Status("500 Internal Server Error", "InternalError"),
        _ => Answer::Status("403 Forbidden", "AccessDenied"),
    });
    let scenario = sb.write(
        "kinds.toml",
        "name = \"kinds\"\n[dataset]\nobjects = 3\nsize = 10\n\
         [[workload]]\nname = \"s\"\ntarget = \"s3\"\nrequests = 60\n",
    );
    let out = sb.path().join("out");
    let o = run_on_s3(&sb, &scenario, s3, &out);
    assert_eq!(o.status.code(), Some(3), "{}", all_output(&o));
    assert_eq!(gets.load(Ordering::SeqCst), 60);
    let w = &read_json(&out.join("result.json"))["workloads"][0];
    assert_eq!(u(&w["ops"]), 10);
    assert_eq!(
        w["errors_by_kind"],
        json!({"not_found": 10, "throttled": 20, "server_error": 10, "client_error": 10})
    );
    sb.assert_clean();
}

#[test]
fn an_s3_that_never_answers_counts_timeouts_and_nothing_else() {
    let sb = Sandbox::new();
    let (s3, gets) = fake_s3(|_| Answer::Silence);
    let scenario = sb.write(
        "silent.toml",
        "name = \"silent\"\n[dataset]\nobjects = 3\nsize = 10\n\
         [[workload]]\nname = \"s\"\ntarget = \"s3\"\nrequests = 3\ntimeout = \"300ms\"\n",
    );
    let out = sb.path().join("out");
    let o = run_on_s3(&sb, &scenario, s3, &out);
    assert_eq!(o.status.code(), Some(3), "{}", all_output(&o));
    assert_eq!(gets.load(Ordering::SeqCst), 3, "one GET per request: the SDK's retries are off");
    let w = &read_json(&out.join("result.json"))["workloads"][0];
    assert_eq!((u(&w["ops"]), u(&w["errors"])), (0, 3));
    assert_eq!(w["errors_by_kind"], json!({"timeout": 3}));
    sb.assert_clean();
}

#[test]
fn an_s3_that_answers_garbage_hangs_up_or_refuses_counts_connection_errors_and_an_unreadable_200_other() {
    let sb = Sandbox::new();
    // The first GET is answered, the second gets a 200 whose headers cannot be read, the third
    // bytes that are not HTTP, the fourth a hang-up that closes the port: every GET after it finds
    // the connection refused.
    let (s3, gets) = fake_s3(|n| match n {
        0 => Answer::Status("200 OK", "HELLO"),
        1 => Answer::Unreadable,
        2 => Answer::Garbage,
        _ => Answer::CloseForGood,
    });
    let scenario = sb.write(
        "refused.toml",
        "name = \"refused\"\n[dataset]\nobjects = 3\nsize = 10\n\
         [[workload]]\nname = \"s\"\ntarget = \"s3\"\nrequests = 8\nconcurrency = 1\n",
    );
    let out = sb.path().join("out");
    let o = run_on_s3(&sb, &scenario, s3, &out);
    assert_eq!(o.status.code(), Some(3), "{}", all_output(&o));
    // At least four GETs reached the fake (the client may have opened one more connection before
    // the port closed), and not all eight: the rest found the port closed.
    let seen = gets.load(Ordering::SeqCst);
    assert!((4..8).contains(&seen), "{seen} GETs reached the fake, not 4 or 5");
    let w = &read_json(&out.join("result.json"))["workloads"][0];
    assert_eq!((u(&w["ops"]), u(&w["errors"])), (1, 7), "{w}");
    // The SDK reports a 200 it cannot read as the service's own unmodelled error, not as a broken
    // connection: it is counted `other`.
    assert_eq!(w["errors_by_kind"], json!({"connection": 6, "other": 1}), "{w}");
    sb.assert_clean();
}

/// `redis-cli -p PORT ARGS...`, its output trimmed.
fn redis_cli(port: u16, args: &[&str]) -> String {
    let o = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    assert!(o.status.success(), "redis-cli {args:?}: {}", stderr(&o));
    stdout(&o).trim().to_owned()
}

#[test]
fn cache_aside_values_written_after_a_miss_expire_after_ttl() {
    let sb = Sandbox::new();
    let redis = Redis::start();
    // A cold cache: every object is in S3 only, so the first GET of each key misses and writes it.
    let scenario = sb.write(
        "ttl.toml",
        "name = \"ttl\"\n[dataset]\nobjects = 5\nsize = 10\ncache = \"cold\"\n\
         [[workload]]\nname = \"c\"\ntarget = \"cache-aside\"\nkeys = \"sequential\"\nrequests = 10\nttl = \"1h\"\n",
    );
    let out = sb.path().join("out");
    let o = sb.run(&["run", utf8(&scenario), "--redis-url", &redis.url(), "--out", utf8(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    let w = &read_json(&out.join("result.json"))["workloads"][0];
    assert_eq!((u(&w["misses"]), u(&w["hits"])), (5, 5), "{w}");

    let keys = redis_cli(redis.port, &["--scan"]);
    let keys: Vec<&str> = keys.lines().collect();
    assert_eq!(keys.len(), 5, "the values written after the misses: {keys:?}");
    for key in keys {
        let ms: i64 = redis_cli(redis.port, &["PTTL", key]).parse().expect("PTTL is a number");
        assert!((3_500_000..=3_600_000).contains(&ms), "{key} expires in {ms} ms, not in about 1 h");
    }

    // Without a ttl, they never expire.
    let redis = Redis::start();
    let scenario = sb.write(
        "no-ttl.toml",
        "name = \"nottl\"\n[dataset]\nobjects = 5\nsize = 10\ncache = \"cold\"\n\
         [[workload]]\nname = \"c\"\ntarget = \"cache-aside\"\nkeys = \"sequential\"\nrequests = 10\n",
    );
    let o = sb.run(&[
        "run",
        utf8(&scenario),
        "--redis-url",
        &redis.url(),
        "--out",
        utf8(&sb.path().join("no-ttl")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    let keys = redis_cli(redis.port, &["--scan"]);
    assert_eq!(keys.lines().count(), 5, "{keys}");
    for key in keys.lines() {
        assert_eq!(redis_cli(redis.port, &["PTTL", key]), "-1", "{key} has an expiry");
    }
    sb.assert_clean();
}

#[test]
fn an_open_loop_that_keeps_up_reports_its_achieved_rate_and_no_partial() {
    let sb = Sandbox::new();
    // 100 requests/s for 2 s: 200 scheduled, an easy pace for a local redis-server.
    let scenario = sb.write(
        "open.toml",
        "name = \"open\"\n[dataset]\nobjects = 20\nsize = 100\n\
         [[workload]]\nname = \"o\"\ntarget = \"redis\"\nrate = 100.0\nduration = \"2s\"\nwarmup = 0\n",
    );
    let out = sb.path().join("out");
    let o = sb.run(&["run", utf8(&scenario), "--out", utf8(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    let r = read_json(&out.join("result.json"));
    assert_eq!(r["partial"], false);
    let w = &r["workloads"][0];
    assert_eq!((&w["loop"], &w["client_bound"], u(&w["errors"])), (&json!("open"), &json!(false), 0), "{w}");
    assert_eq!(f(&w["target_rate_ops_s"]), 100.0);
    let (ops, unsent, late) = (u(&w["ops"]), u(&w["unsent"]), u(&w["late_starts"]));
    assert_eq!(ops + unsent, 200, "{w}");
    assert!(ops >= 190, "{ops} of 200 sent: {w}");
    let achieved = f(&w["achieved_rate_ops_s"]);
    assert!((90.0..=105.0).contains(&achieved), "achieved {achieved} ops/s of 100: {w}");
    let duration = f(&w["duration_s"]);
    assert!(
        (achieved - ops as f64 / duration).abs() < 1.0,
        "{achieved} ops/s is not {ops} ops in {duration} s"
    );
    // Late starts are requests sent more than 1 ms late: some, on a busy machine, not most.
    assert!(late <= ops / 2, "{late} of {ops} started late");
    sb.assert_clean();
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if String::from_utf8_lossy(&std::fs::read(&path).expect("readable file")).contains(needle) {
            found.push(path);
        }
    }
    found
}

const PASSWORD: &str = "Sekr3tPassw0rd";

#[test]
fn a_run_with_a_redis_password_writes_it_nowhere() {
    let port = free_port();
    let _redis = redis_server(port, &["--port", &port.to_string(), "--requirepass", PASSWORD]);
    let sb = Sandbox::new();
    let out = sb.path().join("out");
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{port}");
    let o = sb.run(&["run", "--redis-url", &url, "--requests", "5", "--out", utf8(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    let r = read_json(&out.join("result.json"));
    assert_eq!(r["workloads"][0]["ops"], 5, "the run measured through the password");
    for file in ["result.json", "report.html", "summary.csv", "timeseries.csv", "dataset.csv"] {
        assert!(out.join(file).is_file(), "no {file}");
    }
    assert_eq!(files_containing(&out, PASSWORD), Vec::<PathBuf>::new(), "the password was written");
    assert!(!all_output(&o).contains(PASSWORD), "the password was printed:\n{}", all_output(&o));
    // The search above would find it: the URL is recorded, masked.
    assert!(
        !files_containing(&out, &format!(":***@127.0.0.1:{port}")).is_empty(),
        "the masked URL is in no file, so the search proves little"
    );
    assert_no_script(&out);
    sb.assert_clean();
}

#[test]
fn rediss_with_insecure_runs_against_a_self_signed_server() {
    // A TLS redis-server whose certificate an authority of the test's own signed; that it is
    // refused without #insecure is credentials.rs's an_untrusted_redis_certificate_says_to_add_insecure.
    let port = free_port();
    let _redis = tls_redis_server(port, &[]);
    let sb = Sandbox::new();
    let url = format!("rediss://127.0.0.1:{port}");
    let args = ["run", "--redis-url", "", "--workload", "redis-get", "--requests", "5", "--out", ""];
    let run = |url: &str, out: &str| {
        let mut args = args;
        (args[2], args[8]) = (url, out);
        sb.run(&args)
    };
    let refused = run(&url, utf8(&sb.path().join("refused")));
    assert_eq!(refused.status.code(), Some(1), "{}", all_output(&refused));
    let out = sb.path().join("out");
    let o = run(&format!("{url}#insecure"), utf8(&out));
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    assert_eq!(read_json(&out.join("result.json"))["workloads"][0]["ops"], 5);
    sb.assert_clean();
}

/// The agent's state, asked over mutual TLS as the controller would.
fn agent_state(certs: &Path, addr: SocketAddr) -> pb::AgentState {
    let tls = fetchbench::fleet::tls::ClientTls::load(certs).expect("the controller's identity");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (_, hello, _) =
            fetchbench::fleet::connect::connect("probe", addr, tls.config("127.0.0.1")).await.expect("hello");
        hello.state()
    })
}

#[test]
fn ctrl_c_stops_agents_the_user_started_and_keeps_what_they_measured() {
    let sb = Sandbox::new();
    let certs = sb.path().join("certs");
    let made = sb.run(&["certs", utf8(&certs), "127.0.0.1"]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let agents = [start_static_agent(&certs, "127.0.0.1"), start_static_agent(&certs, "127.0.0.1")];
    let scenario = sb.write(
        "long.toml",
        "name = \"long\"\nagents = 2\n[dataset]\nobjects = 20\nsize = 100\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nduration = \"5m\"\nwarmup = 0\n",
    );
    let out = sb.path().join("out");
    let mut child = sb
        .fetchbench()
        .args(["run", utf8(&scenario), "--tls-dir", utf8(&certs), "--out", utf8(&out)])
        .args(["--agent", &agents[0].addr.to_string(), "--agent", &agents[1].addr.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetchbench starts");
    let (_, rest) = wait_for_line(&mut child, "running r ");
    for agent in &agents {
        assert_eq!(agent_state(&certs, agent.addr), pb::AgentState::Running);
    }
    signal(child.id(), "-INT");
    let interrupted = Instant::now();
    let said: Vec<String> = rest.map_while(Result::ok).collect();
    let mut err = String::new();
    child.stderr.take().expect("piped").read_to_string(&mut err).expect("stderr");
    assert_eq!(child.wait().expect("fetchbench exits").code(), Some(130), "{said:?}\n{err}");
    // Stopped agents answer at once; one that ignored Stop would be waited for 10 s, then lost.
    assert!(interrupted.elapsed() < Duration::from_secs(8), "Ctrl-C took {:?}", interrupted.elapsed());
    assert!(!err.contains("lost"), "{err}");
    // Told to stop, not left to notice a silent controller (that takes about 5 s of unanswered
    // pings): their load is over by the time the controller is gone, give or take a busy
    // machine's moment. (A stopped agent keeps its preparation: Prepared, not Idle.)
    let exited = Instant::now();
    for agent in &agents {
        loop {
            let state = agent_state(&certs, agent.addr);
            if state != pb::AgentState::Running {
                break;
            }
            assert!(exited.elapsed() < Duration::from_secs(2), "agent {} still {state:?}", agent.addr);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let r = read_json(&out.join("result.json"));
    assert_eq!(r["partial"], true);
    for a in r["workloads"][0]["per_agent"].as_array().expect("per_agent") {
        assert!(u(&a["ops"]) > 0, "what the agent measured was kept: {a}");
    }
    // Ready for the next controller.
    let short = sb.write(
        "short.toml",
        "name = \"short\"\nagents = 2\n[dataset]\nobjects = 20\nsize = 100\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nrequests = 10\n",
    );
    let o = sb
        .fetchbench()
        .args(["run", utf8(&short), "--tls-dir", utf8(&certs), "--out", utf8(&sb.path().join("next"))])
        .args(["--agent", &agents[0].addr.to_string(), "--agent", &agents[1].addr.to_string()])
        .output()
        .expect("fetchbench runs");
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    drop(agents);
    sb.assert_clean();
}

/// The processes whose parent is `pid`, with their command lines. (redis-server rewrites its
/// process title over its environment, so Sandbox's marker cannot find it.)
fn children_of(pid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc is readable").flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let ppid: Option<u32> = after.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(pid) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push((child, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    found
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// The controller's redis-server and agents, checked to be there.
fn fleet_of(controller: u32, agents: usize) -> Vec<(u32, String)> {
    let children = children_of(controller);
    let count = |name: &str| children.iter().filter(|(_, c)| c.contains(name)).count();
    assert_eq!((count("redis-server"), count("fetchbench-agent")), (1, agents), "{children:?}");
    children
}

/// SIGKILLs what is left of a fleet when dropped, so a failing test leaves nothing running.
struct KillOnDrop(Vec<(u32, String)>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for (pid, cmdline) in &self.0 {
            let now = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if !is_gone(*pid) && String::from_utf8_lossy(&now).replace('\0', " ") == *cmdline {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
    }
}

fn wait_until_gone(fleet: &[(u32, String)], since: Instant) {
    for (pid, cmdline) in fleet {
        while !is_gone(*pid) {
            assert!(since.elapsed() < Duration::from_secs(5), "{pid} ({cmdline}) still running");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn ctrl_c_during_seeding_exits_130_and_leaves_nothing_behind() {
    let sb = Sandbox::new();
    // Enough objects that seeding takes a while on any machine.
    let scenario = sb.write(
        "big.toml",
        "name = \"big\"\n[dataset]\nobjects = 200000\nsize = 1024\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nrequests = 1\n",
    );
    let mut child = sb
        .fetchbench()
        .args(["run", utf8(&scenario), "--out", utf8(&sb.path().join("out"))])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetchbench starts");
    let _ = wait_for_line(&mut child, "seeding ");
    let fleet = fleet_of(child.id(), 1);
    let _guard = KillOnDrop(fleet.clone());
    signal(child.id(), "-INT");
    let interrupted = Instant::now();
    let o = child.wait_with_output().expect("fetchbench exits");
    let said = stdout(&o);
    assert_eq!(o.status.code(), Some(130), "{said}\n{}", stderr(&o));
    assert!(!said.contains("running r "), "seeding ended before Ctrl-C reached it:\n{said}");
    assert!(interrupted.elapsed() < Duration::from_secs(15), "Ctrl-C took {:?}", interrupted.elapsed());
    wait_until_gone(&fleet, Instant::now());
    sb.assert_clean();
}

#[test]
fn a_killed_controller_takes_its_local_fleet_with_it_and_the_next_run_sweeps_its_folder() {
    let sb = Sandbox::new();
    let scenario = sb.write(
        "long.toml",
        "name = \"long\"\nagents = 2\n[dataset]\nobjects = 20\nsize = 100\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nduration = \"5m\"\n",
    );
    let mut child = sb
        .fetchbench()
        .args(["run", utf8(&scenario), "--out", utf8(&sb.path().join("killed"))])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("fetchbench starts");
    let _ = wait_for_line(&mut child, "running r ");
    let fleet = fleet_of(child.id(), 2);
    let _guard = KillOnDrop(fleet.clone());
    signal(child.id(), "-KILL");
    let _ = child.wait();
    wait_until_gone(&fleet, Instant::now());
    let left = sb.leftover_processes();
    assert!(left.is_empty(), "still running after the controller died: {left:?}");
    let left: Vec<PathBuf> = std::fs::read_dir(sb.tmp()).expect("tmp").flatten().map(|e| e.path()).collect();
    assert!(!left.is_empty(), "a SIGKILLed controller cleans up nothing, yet its folder is gone");

    // An unrelated file beside it is not the controller's to sweep.
    let other = sb.tmp().join("someone-elses.txt");
    std::fs::write(&other, "keep me").expect("write");
    let o = sb.run(&[
        "run",
        "--workload",
        "redis-get",
        "--requests",
        "5",
        "--out",
        utf8(&sb.path().join("next")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    for folder in &left {
        assert!(!folder.exists(), "{} was left for good", folder.display());
    }
    assert_eq!(std::fs::read_to_string(&other).expect("still there"), "keep me");
    std::fs::remove_file(&other).expect("remove");
    sb.assert_clean();
}

/// `fetchbench run SCENARIO | head -1`: a reader that goes away takes the rest of what would have
/// been printed, not the run: it measures, writes its results and exits as it would have, with no
/// panic (a closed stdout used to abort it at its second line, before anything was measured).
#[test]
fn a_reader_that_closes_stdout_early_loses_the_printout_not_the_run() {
    use std::io::BufRead;
    let sb = Sandbox::new();
    let scenario = sb.write(
        "short.toml",
        "name = \"short\"\n[dataset]\nobjects = 20\nsize = 100\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nrequests = 50\n\
         [[workload]]\nname = \"s\"\ntarget = \"s3\"\nrequests = 50\n",
    );
    let out = sb.path().join("out");
    let mut child = sb
        .fetchbench()
        .args(["run", utf8(&scenario), "--out", utf8(&out)])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetchbench starts");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("a line");
    // The reader is dropped here, as `head -1` exits: every later write to stdout fails (EPIPE).
    let o = child.wait_with_output().expect("fetchbench ends");
    assert!(first.starts_with("fetchbench: scenario \"short\""), "{first}");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    let r = read_json(&out.join("result.json"));
    let ops: Vec<u64> = r["workloads"].as_array().expect("workloads").iter().map(|w| u(&w["ops"])).collect();
    assert_eq!(ops, [50, 50]);
    assert!(out.join("report.html").is_file());
    sb.assert_clean();
}
