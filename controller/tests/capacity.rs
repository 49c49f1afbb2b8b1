//! `find_max` end to end through the real binaries, against Redis-protocol servers whose limits are
//! known: one that serves one GET at a time in a fixed time (a capacity of exactly 1/that time)
//! and one that answers every GET after a fixed delay whatever the load (no capacity limit, so a
//! client with few requests in flight is what limits the rate).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Sandbox, read_json, stderr, stdout};
use serde_json::Value;

/// How the fake server spends its time on a GET.
#[derive(Clone, Copy)]
enum Service {
    /// One GET at a time, each taking this long: a queue in front of one worker.
    Serial(Duration),
    /// Every GET answered this long after it arrived, however many are in flight.
    Delay(Duration),
}

/// A Redis-protocol server on a loopback port: SET stores, GET answers what was stored (after
/// `service`), DEL, PING and the rest answer as Redis would for a plain single node.
fn fake_redis(service: Service) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let store = Arc::new(Mutex::new(HashMap::<Vec<u8>, Vec<u8>>::new()));
    // When the one worker of a serial server is next free, and the work given to it so far.
    let worker = Arc::new(Mutex::new((Instant::now(), Duration::ZERO, 0)));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (store, worker) = (store.clone(), worker.clone());
            std::thread::spawn(move || serve(stream, service, &store, &worker));
        }
    });
    addr
}

/// When the one worker of a serial server is next free, the work given to it so far, and the GETs
/// it was given.
type Worker = Mutex<(Instant, Duration, u64)>;

/// INFO as Redis words it, with the figures a serial server knows: its worker's busy time as the
/// main thread's CPU (the work given to it, less what is still queued) and the GETs it was given.
fn info(worker: &Worker) -> Vec<u8> {
    let (free_at, given, gets) = *worker.lock().expect("lock");
    let busy = given.saturating_sub(free_at.saturating_duration_since(Instant::now()));
    let text = format!(
        "# Server\r\nredis_version:7.0.0\r\n# CPU\r\nused_cpu_user_main_thread:{:.6}\r\n\
         used_cpu_sys_main_thread:0.000000\r\n# Commandstats\r\ncmdstat_get:calls={gets},usec=0\r\n",
        busy.as_secs_f64()
    );
    [format!("${}\r\n", text.len()).as_bytes(), text.as_bytes(), b"\r\n"].concat()
}

fn serve(stream: TcpStream, service: Service, store: &Mutex<HashMap<Vec<u8>, Vec<u8>>>, worker: &Worker) {
    let _ = stream.set_nodelay(true);
    let mut out = stream.try_clone().expect("clone");
    let mut input = BufReader::new(stream);
    while let Some(args) = read_command(&mut input) {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        let reply: Vec<u8> = match name.as_str() {
            "GET" => {
                worker.lock().expect("lock").2 += 1;
                let done = match service {
                    Service::Serial(each) => {
                        let mut worker = worker.lock().expect("lock");
                        worker.0 = worker.0.max(Instant::now()) + each;
                        worker.1 += each;
                        worker.0
                    }
                    Service::Delay(d) => Instant::now() + d,
                };
                std::thread::sleep(done.saturating_duration_since(Instant::now()));
                match store.lock().expect("lock").get(&args[1]) {
                    Some(v) => [format!("${}\r\n", v.len()).as_bytes(), v, b"\r\n"].concat(),
                    None => b"$-1\r\n".to_vec(),
                }
            }
            "SET" => {
                store.lock().expect("lock").insert(args[1].clone(), args[2].clone());
                b"+OK\r\n".to_vec()
            }
            "DEL" | "UNLINK" => b":1\r\n".to_vec(),
            "PING" => b"+PONG\r\n".to_vec(),
            "INFO" => info(worker),
            "CLUSTER" => b"-ERR This instance has cluster support disabled\r\n".to_vec(),
            _ => b"+OK\r\n".to_vec(),
        };
        if out.write_all(&reply).is_err() {
            return;
        }
    }
}

/// One command as RESP: an array of bulk strings. `None` at the end of the stream.
fn read_command(input: &mut BufReader<TcpStream>) -> Option<Vec<Vec<u8>>> {
    let mut line = String::new();
    input.read_line(&mut line).ok().filter(|&n| n > 0)?;
    let count: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        line.clear();
        input.read_line(&mut line).ok()?;
        let len: usize = line.trim().strip_prefix('$')?.parse().ok()?;
        let mut arg = vec![0u8; len + 2];
        input.read_exact(&mut arg).ok()?;
        arg.truncate(len);
        args.push(arg);
    }
    Some(args)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

fn run(sb: &Sandbox, scenario_text: &str, server: SocketAddr, extra: &[&str]) -> (Value, String) {
    let scenario = sb.write("search.toml", scenario_text);
    let out = sb.path().join("out");
    let url = format!("redis://{server}");
    let mut args = vec!["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")];
    args.extend(["--redis-url", &url]);
    args.extend(extra);
    let o = sb.run(&args);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    (read_json(&out.join("result.json")), stdout(&o))
}

/// A server that serves 1,000 GETs a second and no more: the search finds a maximum within its
/// resolution below that capacity, misses the objective above it, and names the server's CPU (its
/// one thread, busy the whole second, as its INFO says) as the limit.
#[test]
fn the_search_finds_a_servers_known_capacity_and_names_the_server() {
    let sb = Sandbox::new();
    let server = fake_redis(Service::Serial(Duration::from_millis(1)));
    let (r, text) = run(
        &sb,
        "name = \"search\"\n[dataset]\nobjects = 50\nsize = 100\n\
         [[workload]]\nname = \"get\"\ntarget = \"redis\"\nconcurrency = 32\n\
         find_max = { p99_ms = 50, step = \"3s\", budget = \"2m\" }\n",
        server,
        &[],
    );
    let w = &r["workloads"][0];
    let c = &w["capacity"];
    let (max, failed) = (f(&c["max_rate_ops_s"]), f(&c["first_failed_ops_s"]));
    assert!((850.0..=1100.0).contains(&max), "max {max} ops/s for a capacity of 1000: {c}");
    assert!(failed > max && failed <= 1400.0, "first failed {failed}: {c}");
    assert_eq!(c["ended_by"], "resolution", "{c}");
    assert!((failed - max) / max <= 0.05 + 1e-9, "bisected to the resolution: {c}");
    assert_eq!(c["limited_by"], "server_cpu", "{c}");
    assert!(c["limited_by_reason"].as_str().expect("reason").contains("main thread used"), "{c}");
    let probe = f(&c["probe_ops_s"]);
    assert!((800.0..=1050.0).contains(&probe), "a closed loop is held to 1000/s too: {probe}");
    let steps = c["steps"].as_array().expect("steps");
    assert!(steps.len() >= 3, "{c}");
    for s in steps {
        let (rate, met) = (f(&s["rate_ops_s"]), s["met"].as_bool().expect("met"));
        assert_eq!(met, s["missed"].is_null(), "{s}");
        if rate > 1150.0 {
            assert!(!met, "no step well above the capacity meets the objective: {s}");
        }
        if met {
            assert!(f(&s["p99_us"]) <= 50_000.0 && f(&s["achieved_ops_s"]) >= 0.95 * rate, "{s}");
        }
        // The server's thread was as busy as the rate it served: 1 ms a GET.
        let cpu = f(&s["server_cpu"]);
        assert!(cpu <= 1.1 && (rate < 900.0 || cpu >= 0.9), "{s}");
    }
    // The workload's server figures are those of the step at the maximum.
    assert!(w["server"]["samples"].as_array().is_some_and(|s| !s.is_empty()), "{w}");
    // The workload's figures are those of the step at the maximum.
    assert_eq!(f(&w["target_rate_ops_s"]), max, "{w}");
    assert!(f(&w["latency_us"]["p99"]) <= 50_000.0, "{w}");
    assert_eq!(r["scenario"]["workloads"][0]["find_max"]["percentile"], "p99");
    let line = text.lines().find(|l| l.starts_with("get: ")).expect("the capacity line");
    assert!(line.contains("ops/s at p99 <= 50 ms (") && line.contains("limited by: server_cpu"), "{line}");
    sb.assert_clean();
}

/// A server with no capacity limit (every GET answered 2 ms after it arrives) and agents with two
/// requests in flight, so at most 1,000 a second: the search's limit is the client, named with the
/// advice to raise concurrency, not taken for the server's capacity.
#[test]
fn a_client_that_cannot_send_the_rate_is_named_the_limit() {
    let sb = Sandbox::new();
    let server = fake_redis(Service::Delay(Duration::from_millis(2)));
    let (r, text) = run(
        &sb,
        "name = \"search\"\n[dataset]\nobjects = 50\nsize = 100\n\
         [[workload]]\nname = \"get\"\ntarget = \"redis\"\nconcurrency = 2\nrequests = 10\n",
        server,
        &["--find-max", "p99=100ms,step=3s,budget=2m"],
    );
    let c = &r["workloads"][0]["capacity"];
    assert_eq!(c["limited_by"], "client", "{c}");
    let reason = c["limited_by_reason"].as_str().expect("reason");
    assert!(
        reason.contains("of the agents' 2 requests in flight") && reason.contains("raise concurrency"),
        "{c}"
    );
    let max = f(&c["max_rate_ops_s"]);
    assert!((400.0..=1050.0).contains(&max), "two in flight at 2 ms each send at most 1000/s: {c}");
    let line = text.lines().find(|l| l.starts_with("get: ")).expect("the capacity line");
    assert!(line.contains("limited by: client"), "{line}");
}

/// Bad objectives are refused before anything runs, naming the flag or the field.
#[test]
fn a_bad_objective_is_refused_naming_it() {
    let sb = Sandbox::new();
    let scenario = sb.write(
        "s.toml",
        "name = \"s\"\n[dataset]\nobjects = 5\nsize = 10\n[[workload]]\nname = \"w\"\ntarget = \"redis\"\nrequests = 5\n",
    );
    let o = sb.run(&["run", scenario.to_str().expect("utf-8"), "--find-max", "p95=2ms"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--find-max") && stderr(&o).contains("use p50, p99 or p999"),
        "{}",
        stderr(&o)
    );
    let bad = sb.write(
        "bad.toml",
        "name = \"s\"\n[dataset]\nobjects = 5\nsize = 10\n[[workload]]\nname = \"w\"\ntarget = \"redis\"\n\
         rate = 100.0\nfind_max = { p99_ms = 2 }\n",
    );
    let o = sb.run(&["run", bad.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("find_max sets the rate of each step itself; remove rate"), "{}", stderr(&o));
    let two = sb.write(
        "two.toml",
        "name = \"s\"\n[dataset]\nobjects = 5\nsize = 10\n[[workload]]\nname = \"w\"\ntarget = \"redis\"\n\
         find_max = { p99_ms = 2, p50_ms = 1 }\n",
    );
    let o = sb.run(&["run", two.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("give one objective"), "{}", stderr(&o));
}
