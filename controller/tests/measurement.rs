//! The measurement engine end to end through the real binaries: synchronized starts on several
//! agents, time series, cache-aside hit ratios against a model, thresholds.

mod common;

use common::{Sandbox, read_json, stderr, stdout};
use serde_json::Value;

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not an unsigned integer"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn busy_polling_is_echoed_and_its_share_reported() {
    let sb = Sandbox::new();
    let scenario = sb.write(
        "polled.toml",
        r#"name = "polled"
[dataset]
objects = 100
size = 300
[[workload]]
name = "sleeping"
target = "redis"
duration = "1s"
[[workload]]
name = "polling"
target = "redis"
busy_poll = "10ms"
duration = "1s"
"#,
    );
    let out = sb.path().join("out");
    let o = sb.run(&["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("1 in flight, busy-polling up to 10ms"), "{text}");
    assert!(text.contains("polling: busy-polling caught"), "{text}");
    assert!(!text.contains("CLIENT-BOUND: polling"), "polling's own CPU is not a bottleneck: {text}");
    let r = read_json(&out.join("result.json"));
    assert_eq!(r["scenario"]["workloads"][1]["busy_poll"], "10ms");
    assert!(r["scenario"]["workloads"][0]["busy_poll"].is_null());
    let (sleeping, polling) = (&r["workloads"][0], &r["workloads"][1]);
    assert!(sleeping["busy_polled_share"].is_null(), "{sleeping}");
    assert!(u(&polling["ops"]) > 0 && u(&polling["errors"]) == 0, "{polling}");
    // What polling promises: a reply back within the 10 ms budget arrived while its slot was
    // polling, so it was caught. A local redis-server mostly answers in microseconds, but on a
    // loaded machine it is itself descheduled now and then; those slower replies need not be.
    // A request's latency (closed loop: from just before its send) bounds its reply's arrival.
    let ops = u(&polling["ops"]);
    let caught = (f(&polling["busy_polled_share"]) * ops as f64).round() as u64;
    let latencies =
        fetchbench::results::histogram::decode_base64(polling["histogram"].as_str().expect("histogram"))
            .expect("a latency histogram");
    // Below the histogram's bucket that holds 10 ms, so that none of these took longer.
    let within = latencies.count_between(0, latencies.lowest_equivalent(10_000_000) - 1);
    assert!(
        within > 0 && caught >= within,
        "busy-polling caught {caught} of {ops} replies, yet {within} came back within its budget"
    );
    assert_eq!(polling["client_bound"], false);
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("1 in flight, busy-polling up to 10ms"), "the report names the polling");
    sb.assert_clean();
}

#[test]
fn four_agents_start_together_and_their_totals_add_up() {
    let sb = Sandbox::new();
    let scenario = sb.write(
        "four.toml",
        r#"name = "four"
agents = 4
[dataset]
objects = 500
size = 300
[[workload]]
name = "redis-get"
target = "redis"
concurrency = 2
duration = "2500ms"
warmup = 20
[[workload]]
name = "s3-open"
target = "s3"
concurrency = 2
rate = 100.0
duration = "2s"
[[workload]]
name = "redis-pipelined"
target = "redis"
concurrency = 2
pipeline = 8
duration = "1500ms"
"#,
    );
    let out = sb.path().join("out");
    let o = sb.run(&["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("agents started each workload within"), "{}", stdout(&o));
    let r = read_json(&out.join("result.json"));

    let agents = r["agents"].as_array().expect("agents");
    assert_eq!(agents.len(), 4);
    for a in agents {
        // One machine, one clock: the estimated offsets are within the round trip.
        let (offset, rtt) = (f(&a["clock_offset_ms"]), f(&a["rtt_ms"]));
        assert!(rtt > 0.0 && offset.abs() <= rtt.max(1.0), "offset {offset} ms, rtt {rtt} ms");
    }
    let skew = f(&r["start_skew_ms"]);
    assert!((0.0..50.0).contains(&skew), "start skew {skew} ms");

    for w in r["workloads"].as_array().expect("workloads") {
        let per_agent = w["per_agent"].as_array().expect("per_agent");
        assert_eq!(per_agent.len(), 4);
        assert_eq!(u(&w["ops"]), per_agent.iter().map(|a| u(&a["ops"])).sum::<u64>());
        assert!(per_agent.iter().all(|a| u(&a["ops"]) > 0));
        let measured: Vec<&Value> = w["timeseries"]
            .as_array()
            .expect("timeseries")
            .iter()
            .filter(|i| i["phase"] == "measured")
            .collect();
        assert!(measured.len() >= 2, "{} measured intervals", measured.len());
        assert_eq!(measured.iter().map(|i| u(&i["ops"])).sum::<u64>(), u(&w["ops"]), "time series vs totals");
        assert_eq!(measured.iter().map(|i| u(&i["errors"])).sum::<u64>(), u(&w["errors"]));
        assert!(f(&w["cpu_utilization_max"]) > 0.0);
        assert!(w["client_bound"].is_boolean());
        assert!(f(&w["start_skew_ms"]) <= skew);
    }
    let redis = &r["workloads"][0];
    assert_eq!(redis["loop"], "closed");
    let warmup: u64 = redis["timeseries"]
        .as_array()
        .expect("series")
        .iter()
        .filter(|i| i["phase"] == "warmup")
        .map(|i| u(&i["ops"]))
        .sum();
    assert_eq!(warmup, 4 * 20, "warm-up kept apart in the series");

    let s3 = &r["workloads"][1];
    assert_eq!(s3["loop"], "open");
    assert_eq!(f(&s3["target_rate_ops_s"]), 400.0);
    // 100/s per agent for 2 s: exactly 200 scheduled sends per agent, each sent or, when the
    // agent was still behind as the phase ended at its duration, counted unsent.
    let per_agent = s3["per_agent"].as_array().expect("agents");
    assert!(
        per_agent.iter().all(|a| u(&a["ops"]) + u(&a["errors"]) + u(&a["unsent"]) == 200),
        "{per_agent:?}"
    );
    assert!(f(&s3["service_time_us"]["p50"]) > 0.0);
    assert!(f(&s3["ttfb_us"]["p50"]) > 0.0, "time to first byte is reported for s3");

    // The server's own view: its GETs from just before the first request to just after the last
    // are the requests the four agents sent, warm-up included.
    for redis in [&r["workloads"][0], &r["workloads"][2]] {
        let server = &redis["server"];
        let sent: u64 = redis["timeseries"]
            .as_array()
            .expect("series")
            .iter()
            .map(|i| u(&i["ops"]) + u(&i["errors"]))
            .sum();
        assert_eq!(u(&server["agent_gets"]), sent, "{server}");
        assert!(f(&server["gets_difference_percent"]) <= 1.0, "{server}");
        assert!(server["node"].as_str().expect("node").contains("127.0.0.1"), "{server}");
        let samples = server["samples"].as_array().expect("samples");
        assert!(samples.len() >= 2, "{} samples over more than a second", samples.len());
        assert!(f(&server["cpu_max"]) > 0.0, "{server}");
        assert!(samples.iter().any(|s| f(&s["gets_s"]) > 0.0 && u(&s["connected_clients"]) >= 8), "{server}");
    }
    assert!(r["workloads"][1]["server"].is_null(), "an S3 workload has no Redis server view");
    assert!(stdout(&o).contains("redis-get: the server counted "), "{}", stdout(&o));
    let page = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(
        page.contains("id=\"server-cpu-0\"") && page.contains("id=\"server-commands-2\""),
        "no server charts"
    );

    let pipelined = &r["workloads"][2];
    assert_eq!(r["scenario"]["workloads"][2]["pipeline"], 8);
    assert!(stdout(&o).contains("2 connections x pipeline 8 in flight"), "{}", stdout(&o));
    assert!(u(&pipelined["ops"]) > 0 && u(&pipelined["errors"]) == 0, "{pipelined}");
    assert_eq!(pipelined["loop"], "closed");
    assert!(f(&pipelined["latency_us"]["p50"]) > 0.0);
    sb.assert_clean();
}

#[test]
fn gets_from_another_client_during_a_workload_make_the_server_disagree_with_the_agents() {
    use std::io::{Read, Write};
    let sb = Sandbox::new();
    let redis = common::Redis::start();
    let scenario = sb.write(
        "shared.toml",
        "name = \"shared\"\n[dataset]\nobjects = 50\nsize = 100\n\
         [[workload]]\nname = \"redis-get\"\ntarget = \"redis\"\nrate = 200.0\nduration = \"2s\"\n",
    );
    // Another application on the same Redis: a GET every 5 ms for the whole run.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let other = {
        let (stop, port) = (stop.clone(), redis.port);
        std::thread::spawn(move || {
            let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("redis answers");
            let mut reply = [0u8; 64];
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                conn.write_all(b"GET someone-else\r\n").expect("GET");
                let _ = conn.read(&mut reply).expect("reply");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let out = sb.path().join("out");
    let o = sb.run(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--redis-url",
        &redis.url(),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    other.join().expect("the other client");
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let server = &read_json(&out.join("result.json"))["workloads"][0]["server"];
    let (gets, sent) = (u(&server["gets"]), u(&server["agent_gets"]));
    // 400 requests from the agent, and up to 200 a second from the other client.
    assert_eq!(sent, 400, "{server}");
    assert!(gets > sent + 100, "{server}");
    assert!(f(&server["gets_difference_percent"]) > 25.0, "{server}");
    let text = stdout(&o);
    assert!(
        text.contains(&format!(
            "redis-get: the server counted {gets} GETs, but the agents sent 400 requests ("
        )),
        "{text}"
    );
    assert!(text.contains("another client was using this Redis"), "{text}");
    sb.assert_clean();
}

/// `GET /metrics` from a `--metrics-listen` address: the status line and the body.
fn scrape(port: u16) -> (String, String) {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the metrics endpoint answers");
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("send");
    let mut text = String::new();
    conn.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

/// The value of the sample `series` (name and labels) in a scrape.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn live_metrics_move_while_the_run_goes_and_agree_with_result_json() {
    use common::{LOG_INTERVALS, RunLog, wait_for_line};
    use std::process::Stdio;
    let sb = Sandbox::new();
    let scenario = sb.write(
        "live.toml",
        "name = \"live\"\nagents = 2\n[dataset]\nobjects = 50\nsize = 100\n\
         [[workload]]\nname = \"first\"\ntarget = \"redis\"\nrate = 150.0\nduration = \"2s\"\n\
         [[workload]]\nname = \"second\"\ntarget = \"redis\"\nconcurrency = 2\nduration = \"4s\"\n",
    );
    let port = common::free_port();
    let out = sb.path().join("out");
    let mut child = sb
        .fetchbench()
        .args(["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")])
        .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", LOG_INTERVALS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetchbench starts");
    let mut log = RunLog::new(&mut child);
    let (_, rest) = wait_for_line(&mut child, "running second ");
    let second =
        |line: &str| line.contains(" fetchbench::run: interval ") && line.contains("workload=second");
    log.wait_for("an interval of the second workload", second);
    let (status, early) = scrape(port);
    log.wait_for("another interval of the second workload", second);
    log.wait_for("a third interval of the second workload", second);
    let (_, later) = scrape(port);
    let _: Vec<String> = rest.map_while(Result::ok).collect();
    let err = log.all();
    assert_eq!(child.wait().expect("fetchbench exits").code(), Some(0), "{err}");

    assert_eq!(status, "HTTP/1.1 200 OK", "{early}");
    let first = "{workload=\"first\",target=\"redis\"}";
    let second = "{workload=\"second\",target=\"redis\"}";
    let r = read_json(&out.join("result.json"));
    // The first workload ended before these scrapes: its counters are final and are result.json's.
    for body in [&early, &later] {
        let requests = sample(body, &format!("fetchbench_requests_total{first}")).expect("first's requests");
        assert_eq!(requests, f(&r["workloads"][0]["ops"]), "{body}");
        assert_eq!(sample(body, &format!("fetchbench_running{first}")), Some(0.0), "{body}");
        assert_eq!(
            sample(body, &format!("fetchbench_asked_rate_ops_per_second{first}")),
            Some(300.0),
            "{body}"
        );
    }
    // The second's move: more requests, each scrape a throughput and a p99 of its latest second.
    let count =
        |body: &str| sample(body, &format!("fetchbench_requests_total{second}")).expect("second's requests");
    assert!(count(&later) > count(&early) && count(&early) > 0.0, "{early}\n{later}");
    assert!(count(&later) <= f(&r["workloads"][1]["ops"]), "{later}");
    assert_eq!(sample(&later, &format!("fetchbench_running{second}")), Some(1.0), "{later}");
    assert!(
        sample(&later, &format!("fetchbench_throughput_ops_per_second{second}")).is_some_and(|v| v > 0.0)
    );
    let p99 = "fetchbench_latency_seconds{workload=\"second\",target=\"redis\",quantile=\"0.99\"}";
    assert!(sample(&later, p99).is_some_and(|v| v > 0.0 && v < 1.0), "{later}");
    // The server's own figures, read once a second.
    assert!(
        sample(&later, &format!("fetchbench_server_gets_per_second{second}")).is_some_and(|v| v > 0.0),
        "{later}"
    );
    assert!(later.contains("# TYPE fetchbench_requests_total counter"), "{later}");
    // The endpoint lives for the run's length only.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "still listening after the run");
    sb.assert_clean();
}

/// The hit ratio of an exact LRU cache of `capacity` keys over `reads` draws from `p` (after as
/// many draws to warm it), with a small generator of the test's own.
fn lru_hit_ratio(p: &[f64], capacity: usize, reads: usize) -> f64 {
    let cdf: Vec<f64> = p
        .iter()
        .scan(0.0, |sum, x| {
            *sum += x;
            Some(*sum)
        })
        .collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut draw = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let u = (state >> 11) as f64 / (1u64 << 53) as f64 * cdf[cdf.len() - 1];
        cdf.partition_point(|&c| c < u).min(cdf.len() - 1)
    };
    // Each key's last use; the cache holds the `capacity` most recent.
    let mut last_use = vec![None::<usize>; p.len()];
    let mut resident = std::collections::BTreeMap::<usize, usize>::new(); // last use -> key
    let mut hits = 0;
    for t in 0..2 * reads {
        let key = draw();
        match last_use[key] {
            Some(at) => {
                resident.remove(&at);
                if t >= reads {
                    hits += 1;
                }
            }
            None if resident.len() == capacity => {
                let (_, evicted) = resident.pop_first().expect("full");
                last_use[evicted] = None;
            }
            None => {}
        }
        resident.insert(t, key);
        last_use[key] = Some(t);
    }
    hits as f64 / reads as f64
}

#[test]
fn a_cache_smaller_than_the_data_evicts_and_holds_the_hit_ratio_an_lru_model_predicts() {
    let sb = Sandbox::new();
    let (objects, exponent) = (4000usize, 0.99);
    // 4,000 objects of 4 KiB (16 MiB) over a 4 MiB cache: four times its memory.
    let scenario = sb.write(
        "evicting.toml",
        &format!(
            "name = \"evicting\"\n[cache]\nmaxmemory = \"4mb\"\npolicy = \"allkeys-lru\"\n\
             [dataset]\nobjects = {objects}\nsize = 4096\ncache = \"cold\"\n\
             [[workload]]\nname = \"aside\"\ntarget = \"cache-aside\"\nconcurrency = 4\n\
             duration = \"6s\"\nkeys = \"zipf:{exponent}\"\n"
        ),
    );
    let out = sb.path().join("out");
    let o = sb.run(&["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let r = read_json(&out.join("result.json"));
    assert_eq!(r["scenario"]["cache"]["maxmemory_bytes"], 4 << 20);
    let w = &r["workloads"][0];
    let server = &w["server"];
    assert_eq!(
        (u(&server["maxmemory_bytes"]), server["maxmemory_policy"].as_str()),
        (4 << 20, Some("allkeys-lru"))
    );
    let (evicted, resident) = (u(&server["evicted_keys"]), u(&server["keys"]));
    // Each miss writes the object into the cache, and once it is full every write evicts one.
    let misses = server_misses(server);
    assert!(
        evicted > 0 && evicted + resident >= misses * 98 / 100,
        "{misses} misses, {evicted} evicted: {server}"
    );
    assert!((300..2000).contains(&resident), "about 4 MiB of 4 KiB values: {resident} keys");
    let steady = f(&w["steady_hit_ratio"]);
    assert!(steady > f(&w["hit_ratio"]), "warming from cold lowers the whole run's ratio: {w}");

    // An exact LRU of as many keys as the server held, over the same Zipf law.
    let p = zipf_pmf(objects, exponent);
    let model = lru_hit_ratio(&p, resident as usize, 200_000);
    eprintln!("steady hit ratio {steady:.3}, LRU model {model:.3} at {resident} keys");
    // Redis's LRU is approximate (it evicts the oldest of a few sampled keys), a little below.
    assert!(
        (steady - model).abs() < 0.08,
        "steady hit ratio {steady:.3}, LRU model {model:.3} at {resident} keys"
    );
    let text = stdout(&o);
    assert!(text.contains("once warm"), "{text}");
    assert!(text.contains("keys (maxmemory 4.0 MiB, allkeys-lru)"), "{text}");
    sb.assert_clean();
}

#[test]
fn a_cache_sweep_runs_each_size_on_an_empty_cache_and_a_bigger_one_hits_more() {
    let sb = Sandbox::new();
    let (objects, exponent) = (2000usize, 0.99);
    // 2,000 objects of 4 KiB (8 MiB) over caches of 2 and 8 MiB (Redis's own memory, about 1 MiB,
    // counts against both); an S3 workload is not swept. A count of requests, not a duration, so
    // that a slow machine reads as many keys and warms the cache as far.
    let scenario = sb.write(
        "sweep.toml",
        &format!(
            "name = \"sweep\"\n[dataset]\nobjects = {objects}\nsize = 4096\ncache = \"cold\"\n\
             [[workload]]\nname = \"aside\"\ntarget = \"cache-aside\"\nconcurrency = 4\n\
             requests = 8000\nkeys = \"zipf:{exponent}\"\n\
             [[workload]]\nname = \"s3\"\ntarget = \"s3\"\nrequests = 50\n"
        ),
    );
    let out = sb.path().join("out");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")];
        args.extend_from_slice(extra);
        sb.run(&args)
    };
    let o = run(&["--sweep-cache", "2mb,8mb"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    let r = read_json(&out.join("result.json"));
    let names: Vec<&str> =
        r["workloads"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["aside-m2mb", "aside-m8mb", "s3"]);
    let p = zipf_pmf(objects, exponent);
    let mut steady = Vec::new();
    for (i, mib) in [(0, 2u64), (1, 8)] {
        let w = &r["workloads"][i];
        let name = w["name"].as_str().unwrap();
        assert_eq!(u(&r["scenario"]["workloads"][i]["cache_maxmemory_bytes"]), mib << 20);
        // Each size starts on an empty cache: every key of the dataset deleted, the size set.
        let said = format!(
            "{name}: the cache emptied ({objects} keys deleted) and sized to {mib}.0 MiB (allkeys-lru)"
        );
        assert!(text.contains(&said), "{text}");
        let server = &w["server"];
        assert_eq!(
            (u(&server["maxmemory_bytes"]), server["maxmemory_policy"].as_str()),
            (mib << 20, Some("allkeys-lru")),
            "{name}"
        );
        // It began empty, whatever the size before: every key it held or evicted came from one of
        // its own misses (two concurrent misses of a key write it twice).
        let misses = server_misses(server);
        let (held, evicted) = (u(&server["keys"]), u(&server["evicted_keys"]));
        assert!(held + evicted <= misses && held + evicted >= misses * 98 / 100, "{name}: {server}");
        let ratio = f(&w["steady_hit_ratio"]);
        // An exact LRU of as many keys as the server held, over the same law.
        let model = lru_hit_ratio(&p, u(&server["keys"]) as usize, 100_000);
        eprintln!("{name}: steady hit ratio {ratio:.3}, LRU model {model:.3}");
        // Redis's LRU is approximate (it evicts the oldest of a few sampled keys): below the exact
        // model's, more so in a small cache.
        assert!(
            ratio > model - 0.15 && ratio < model + 0.05,
            "{name}: {ratio:.3} against the model's {model:.3}"
        );
        steady.push((ratio, u(&server["evicted_keys"])));
    }
    assert!(steady[1].0 > steady[0].0 + 0.1, "four times the cache hits more: {steady:?}");
    assert_eq!(u(&r["workloads"][0]["errors"]) + u(&r["workloads"][1]["errors"]), 0, "no write refused");
    assert!(steady[0].1 > steady[1].1, "and evicts less: {steady:?}");
    assert!(r["scenario"]["workloads"][2].get("cache_maxmemory_bytes").is_none(), "s3 is not swept");
    assert!(text.contains("by cache size (--sweep-cache):"), "{text}");
    let page = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    for chart in ["<section id=\"cache-sizes\">", "<svg id=\"cache-hit-ratio\"", "<svg id=\"cache-p99\""] {
        assert!(page.contains(chart), "report.html lacks {chart}");
    }

    // What it cannot size, refused before anything starts.
    for (extra, says) in [
        (&["--sweep-cache", "1mb"][..], "each size must be at least 2mb"),
        (
            &["--sweep-cache", "2mb,4mb", "--redis-url", "redis://127.0.0.1:9"],
            "sizes the redis-server fetchbench starts, not your --redis-url",
        ),
        (&["--sweep-cache", "2mb,4mb", "--workload", "s3"], "no workload of scenario \"sweep\" reads Redis"),
        (
            &["--sweep-cache", "2mb,4mb", "--concurrency", "1,2"],
            "sweep one of --agents, --concurrency, --rate, --sweep-cache and --sweep-ttl at a time",
        ),
        (&["--sweep-cache", "lots"], "\"lots\" is not a size; write e.g. 32mb, 512kb, 1gb"),
    ] {
        let o = run(extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{extra:?}: {}", stderr(&o));
    }
    sb.assert_clean();
}

/// The cache misses the server counted over a workload, from its samples.
fn server_misses(server: &Value) -> u64 {
    server["samples"].as_array().expect("samples").iter().map(|s| u(&s["misses"])).sum()
}

/// The Zipf law's probability of each rank 1..=objects.
fn zipf_pmf(objects: usize, exponent: f64) -> Vec<f64> {
    let norm: f64 = (1..=objects).map(|k| (k as f64).powf(-exponent)).sum();
    (1..=objects).map(|k| (k as f64).powf(-exponent) / norm).collect()
}

/// Expected number of distinct keys among `n` independent draws from `p`.
fn distinct(p: &[f64], n: u64) -> f64 {
    p.iter().map(|pk| 1.0 - (1.0 - pk).powf(n as f64)).sum()
}

#[test]
fn cache_aside_hit_ratio_rises_from_a_cold_cache_as_the_model_says() {
    let sb = Sandbox::new();
    let (objects, exponent) = (1000usize, 0.99);
    let scenario = sb.write(
        "cold.toml",
        &format!(
            r#"name = "cold"
[dataset]
objects = {objects}
size = 200
cache = "cold"
[[workload]]
name = "cache-aside"
target = "cache-aside"
concurrency = 1
requests = 1000
rate = 250.0
keys = "zipf:{exponent}"
"#
        ),
    );
    let out = sb.path().join("out");
    let o = sb.run(&["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("hit ratio"), "{}", stdout(&o));
    let r = read_json(&out.join("result.json"));
    let w = &r["workloads"][0];
    let (hits, misses) = (u(&w["hits"]), u(&w["misses"]));
    // One connection reading in order: the draws, and so the hits, do not depend on speed; the
    // schedule (250/s) spreads the 1,000 reads over four 1-second intervals.
    let n = hits + misses;
    assert_eq!((n, u(&w["ops"])), (1000, 1000));

    let p = zipf_pmf(objects, exponent);
    // With one reader and no expiry, a read misses exactly when its key was never read before.
    let expected = 1.0 - distinct(&p, n) / n as f64;
    let ratio = f(&w["hit_ratio"]);
    assert!((ratio - expected).abs() < 0.03, "hit ratio {ratio:.3}, model {expected:.3} over {n} reads");

    // It rises over the run, and the last whole interval matches the model for its reads. (A run
    // that ends a little after a tick has a short last interval: too few reads for a ratio.)
    let series: Vec<&Value> =
        w["timeseries"].as_array().expect("series").iter().filter(|i| i["phase"] == "measured").collect();
    let whole = series.iter().rposition(|i| u(&i["ops"]) >= 100).expect("a whole interval");
    assert!(whole >= 2, "{series:?}");
    let first = f(&series[0]["hit_ratio"]);
    let last = series[whole];
    assert!(f(&last["hit_ratio"]) > first, "hit ratio went from {first} to {}", last["hit_ratio"]);
    let before: u64 = series[..whole].iter().map(|i| u(&i["ops"])).sum();
    let in_last = u(&last["ops"]);
    let last_model = 1.0 - (distinct(&p, before + in_last) - distinct(&p, before)) / in_last as f64;
    let last_ratio = f(&last["hit_ratio"]);
    assert!((last_ratio - last_model).abs() < 0.05, "last interval {last_ratio:.3}, model {last_model:.3}");

    // The parts: every read touched Redis; only misses touched S3.
    assert!(f(&w["redis_part_us"]["p50"]) > 0.0);
    assert!(f(&w["s3_part_us"]["p50"]) > f(&w["redis_part_us"]["p50"]), "S3 is the slow part");
    sb.assert_clean();
}

fn threshold_scenario(sb: &Sandbox, p99_limit: &str) -> std::path::PathBuf {
    sb.write(
        "thresholds.toml",
        &format!(
            r#"name = "limits"
[dataset]
objects = 20
size = 100
[[workload]]
name = "get"
target = "redis"
requests = 200
[thresholds]
"get.p99_us" = {p99_limit}
"get.errors" = 0
"get.throughput_ops_s" = 1
"#
        ),
    )
}

#[test]
fn an_impossible_threshold_exits_99_and_a_satisfiable_one_exits_0() {
    let sb = Sandbox::new();
    let out = sb.path().join("breach");
    let path = threshold_scenario(&sb, "0.001");
    let o = sb.run(&["run", path.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(99), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    let breached: Vec<&str> = text.lines().filter(|l| l.starts_with("THRESHOLD BREACHED")).collect();
    assert_eq!(breached.len(), 1, "{text}");
    assert!(breached[0].contains("get.p99_us = ") && breached[0].contains("above the limit 0.001"), "{text}");
    let r = read_json(&out.join("result.json"));
    let t = r["thresholds"].as_array().expect("thresholds");
    assert_eq!(t.len(), 3);
    let p99 = t.iter().find(|t| t["key"] == "get.p99_us").expect("p99 threshold");
    assert_eq!(p99["passed"], false);
    assert_eq!(f(&p99["value"]), f(&r["workloads"][0]["latency_us"]["p99"]));

    let out = sb.path().join("ok");
    let path = threshold_scenario(&sb, "10000000");
    let o = sb.run(&["run", path.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("thresholds: all 3 held"), "{}", stdout(&o));
    sb.assert_clean();
}

#[test]
fn thresholds_naming_unknown_workloads_or_metrics_exit_2() {
    let sb = Sandbox::new();
    let good = std::fs::read_to_string(threshold_scenario(&sb, "1000")).expect("read");
    for (bad, part) in [
        (good.replace("\"get.p99_us\"", "\"nope.p99_us\""), "no workload is named \"nope\""),
        (good.replace("\"get.p99_us\"", "\"get.p98_us\""), "unknown metric \"p98_us\""),
        (good.replace("\"get.p99_us\"", "\"get.hit_ratio\""), "cache-aside workloads only"),
    ] {
        let path = sb.write("bad.toml", &bad);
        let o = sb.run(&["run", path.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains(part), "{part:?} not in {}", stderr(&o));
        assert!(stderr(&o).contains("bad.toml:"), "{}", stderr(&o));
    }
}

#[test]
fn byte_ranges_read_from_both_stores() {
    let sb = Sandbox::new();
    let scenario = sb.write(
        "ranges.toml",
        r#"name = "ranges"
[dataset]
objects = 10
size = 65536
[[workload]]
name = "redis-1k"
target = "redis"
range = "0-1023"
requests = 50
[[workload]]
name = "s3-1k"
target = "s3"
range = "1024-2047"
requests = 50
"#,
    );
    let out = sb.path().join("out");
    let o = sb.run(&["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let r = read_json(&out.join("result.json"));
    let w = r["workloads"].as_array().expect("workloads");
    assert_eq!((u(&w[0]["ops"]), u(&w[0]["errors"])), (50, 0));
    assert_eq!((u(&w[1]["ops"]), u(&w[1]["errors"])), (50, 0));
    assert_eq!(r["degraded"], false);
    let csv = std::fs::read_to_string(out.join("dataset.csv")).expect("dataset.csv");
    assert_eq!(csv.lines().count(), 11);
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",65536")), "{csv}");
    sb.assert_clean();
}

/// Run `fetchbench` with `args`, or fail (after interrupting it) if it outlasts `limit`.
fn run_within(sb: &Sandbox, args: &[&str], limit: std::time::Duration) -> std::process::Output {
    use std::process::Stdio;
    let child =
        sb.fetchbench().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(limit) {
        Ok(output) => output.expect("fetchbench runs"),
        Err(_) => {
            common::signal(pid, "-INT");
            panic!("fetchbench {args:?} was still running after {limit:?}");
        }
    }
}

#[test]
fn an_open_loop_rate_past_what_the_client_can_send_ends_at_its_duration_as_client_bound() {
    let sb = Sandbox::new();
    // One connection cannot send 500,000 GETs a second: 1,000,000 are scheduled over 2 s. Before
    // the phase ended at its duration, the agent sent its whole backlog, which took minutes.
    let scenario = sb.write(
        "flood.toml",
        r#"name = "flood"
[dataset]
objects = 100
size = 300
[[workload]]
name = "flood"
target = "redis"
rate = 500000.0
duration = "2s"
[thresholds]
"flood.p99_us" = 1000000000
"#,
    );
    let out = sb.path().join("out");
    let args = ["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")];
    let o = run_within(&sb, &args, std::time::Duration::from_secs(40));
    let text = stdout(&o);
    // A limit its latencies would meet is not judged on a client's figures: a failed measurement.
    assert_eq!(o.status.code(), Some(99), "{text}\n{}", stderr(&o));
    let r = read_json(&out.join("result.json"));
    let w = &r["workloads"][0];
    let duration = f(&w["duration_s"]);
    assert!((1.9..4.0).contains(&duration), "the measured phase lasted {duration} s, asked 2 s");
    let (sent, unsent) = (u(&w["ops"]) + u(&w["errors"]), u(&w["unsent"]));
    assert!(sent > 0 && unsent > 0, "sent {sent}, unsent {unsent}");
    assert_eq!(sent + unsent, 1_000_000, "every scheduled request is sent or counted unsent");
    assert_eq!(u(&w["per_agent"][0]["unsent"]), unsent);
    assert_eq!(w["client_bound"], true, "{w}");
    let reason = w["client_bound_reason"].as_str().expect("a reason");
    assert!(reason.starts_with("asked 500000 ops/s, sent "), "{reason}");
    assert!(reason.contains(&format!("{unsent} of 1000000 scheduled requests unsent")), "{reason}");
    let t = &r["thresholds"][0];
    assert_eq!((&t["passed"], t["not_judged"].as_str().is_some()), (&Value::Bool(false), true), "{t}");
    assert!(
        text.contains(&format!("CLIENT-BOUND: flood: the client could not keep up ({reason})")),
        "{text}"
    );
    assert!(
        text.contains("THRESHOLD NOT JUDGED: flood.p99_us: flood was client-bound (asked 500000 ops/s"),
        "{text}"
    );
    assert!(text.contains(&format!("late starts, {unsent} unsent")), "{text}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(
        html.contains("CLIENT-BOUND: flood: the client could not keep up (asked 500000 ops/s"),
        "warning"
    );
    assert!(html.contains("THRESHOLD NOT JUDGED: flood.p99_us"), "threshold warning");
    sb.assert_clean();
}

#[test]
fn an_open_loop_rate_the_client_keeps_up_with_sends_everything_and_closed_loop_has_no_late_starts() {
    let sb = Sandbox::new();
    let scenario = sb.write(
        "quiet.toml",
        r#"name = "quiet"
[dataset]
objects = 100
size = 300
[[workload]]
name = "quiet"
target = "redis"
rate = 50.0
duration = "2s"
[[workload]]
name = "closed"
target = "redis"
concurrency = 8
duration = "1s"
[thresholds]
"quiet.p99_us" = 1000000000
"#,
    );
    let out = sb.path().join("out");
    let args = ["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")];
    let o = run_within(&sb, &args, std::time::Duration::from_secs(60));
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}\n{}", stderr(&o));
    let r = read_json(&out.join("result.json"));
    let (quiet, closed) = (&r["workloads"][0], &r["workloads"][1]);
    assert_eq!((u(&quiet["ops"]) + u(&quiet["errors"]), u(&quiet["unsent"])), (100, 0), "{quiet}");
    assert_eq!((&quiet["client_bound"], &quiet["client_bound_reason"]), (&Value::Bool(false), &Value::Null));
    assert!(!text.contains("CLIENT-BOUND"), "{text}");
    assert!(text.contains("thresholds: all 1 held"), "{text}");
    // Closed loop schedules nothing, so nothing in it starts late, and nothing says so.
    assert_eq!((closed["loop"].as_str(), u(&closed["late_starts"])), (Some("closed"), 0), "{closed}");
    assert!(!text.lines().any(|l| l.starts_with("closed:") && l.contains("late starts")), "{text}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    let details = html.split("<section id=\"details\">").nth(1).expect("details section");
    let row = details.split("<tr data-workload=\"closed\">").nth(1).expect("closed row in details");
    let cells: Vec<&str> = row[..row.find("</tr>").expect("row end")]
        .split("</td>")
        .map(|c| c.rsplit('>').next().unwrap_or(""))
        .collect();
    // workload, loop, target ops/s, sent ops/s, late starts, unsent.
    assert_eq!((cells[1], cells[4], cells[5]), ("closed", "-", "-"), "{cells:?}");
    sb.assert_clean();
}

/// A stand-in S3 on a loopback port that keeps the Range header of every GET (`-` when there was
/// none) and answers it with as many bytes as the header asks for.
fn range_recording_s3() -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let ranges = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = ranges.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                loop {
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
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let header = |name: &str| {
                        head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
                    };
                    let length: usize = header("content-length:").and_then(|v| v.parse().ok()).unwrap_or(0);
                    while buf.len() < head_end + length {
                        let mut chunk = [0u8; 4096];
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + length);
                    let response = if head.starts_with("get ") {
                        let range = header("range:");
                        seen.lock().expect("lock").push(range.clone().unwrap_or_else(|| "-".into()));
                        let bytes = range
                            .and_then(|r| {
                                let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
                                Some(b.parse::<usize>().ok()? + 1 - a.parse::<usize>().ok()?)
                            })
                            .unwrap_or(65536);
                        format!(
                            "HTTP/1.1 206 Partial Content\r\nContent-Length: {bytes}\r\nETag: \"1\"\r\n\r\n{}",
                            "x".repeat(bytes)
                        )
                    } else {
                        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: \"1\"\r\n\r\n".to_owned()
                    };
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, ranges)
}

/// `calls` of `command` in Redis's INFO commandstats.
fn redis_calls(port: u16, command: &str) -> u64 {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("redis answers");
    conn.write_all(b"INFO commandstats\r\nQUIT\r\n").expect("send INFO");
    let mut text = String::new();
    conn.read_to_string(&mut text).expect("INFO reply");
    let prefix = format!("cmdstat_{command}:calls=");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |rest| rest.split(',').next().and_then(|n| n.parse().ok()).expect("a count"))
}

#[test]
fn byte_range_workloads_ask_both_stores_for_the_range_only() {
    let sb = Sandbox::new();
    let redis = common::Redis::start();
    let (s3, ranges) = range_recording_s3();
    let scenario = sb.write(
        "ranges.toml",
        r#"name = "ranges"
[dataset]
objects = 10
size = 65536
[[workload]]
name = "redis-1k"
target = "redis"
range = "0-1023"
requests = 50
warmup = 0
[[workload]]
name = "s3-1k"
target = "s3"
range = "1024-2047"
requests = 50
warmup = 0
"#,
    );
    let out = sb.path().join("out");
    let o = sb.run(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--redis-url",
        &redis.url(),
        "--s3-endpoint",
        &format!("http://{s3}"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let r = read_json(&out.join("result.json"));
    assert_eq!(u(&r["workloads"][0]["ops"]), 50);
    assert_eq!(u(&r["workloads"][1]["ops"]), 50);
    // Redis read 1 KiB of each 64 KiB value: GETRANGE, never a whole GET.
    assert_eq!(redis_calls(redis.port, "getrange"), 50);
    assert_eq!(redis_calls(redis.port, "get"), 0);
    // S3 was asked for the same kilobyte of every object.
    let ranges = ranges.lock().expect("lock");
    assert_eq!(ranges.len(), 50, "{ranges:?}");
    assert!(ranges.iter().all(|r| r == "bytes=1024-2047"), "{ranges:?}");
    sb.assert_clean();
}
