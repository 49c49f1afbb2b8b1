//! Replaying real traffic: `fetchbench trace-stats` on the three trace formats, and (below) runs
//! of `keys = "trace:FILE"` workloads against a real redis-server, the embedded S3 endpoint and
//! real agents.

mod common;

use common::{Sandbox, stderr, stdout};

/// The line of `out` that starts with `prefix`.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?} line in:\n{out}"))
}

/// 199 requests over 100 keys: k0 60 times, k1 41 times, k2..k99 once each.
fn keys_trace() -> String {
    let mut text = String::new();
    for i in 0..60 {
        text.push_str("k0\n");
        if i < 40 {
            text.push_str("k1\n");
        }
    }
    for k in 1..100 {
        text.push_str(&format!("k{k}\n"));
    }
    text
}

#[test]
fn trace_stats_reads_one_key_per_line() {
    let sb = Sandbox::new();
    let path = sb.write("keys.txt", &keys_trace());
    let out = sb.run(&["trace-stats", path.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(line(&text, "trace:").contains("one key per line"), "{text}");
    assert_eq!(line(&text, "requests:"), "requests: 199");
    assert_eq!(line(&text, "distinct keys:"), "distinct keys: 100");
    // The top 1% of 100 keys is k0, with 60 of 199 requests.
    assert_eq!(line(&text, "top 1% of keys"), "top 1% of keys (1 key): 30.2% of requests");
    assert_eq!(line(&text, "object sizes"), "object sizes: not in the trace");
    assert_eq!(line(&text, "span"), "span: no times in the trace");
    assert_eq!(line(&text, "objects ="), "objects = 100");
    assert!(line(&text, "keys = \"zipf:").len() > 10, "{text}");
}

#[test]
fn trace_stats_reads_csv_with_times_and_sizes() {
    let sb = Sandbox::new();
    let csv = "timestamp,key,size\n\
               2026-12-01T10:00:00Z,a,100\n\
               2026-12-01T10:00:01Z,b,300\n\
               2026-12-01T10:00:02Z,a,100\n\
               2026-12-01T10:00:04Z,c,1000\n";
    let path = sb.write("t.csv", csv);
    let out = sb.run(&["trace-stats", path.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(line(&text, "trace:").contains("(CSV)"), "{text}");
    assert_eq!(line(&text, "requests:"), "requests: 4");
    assert_eq!(line(&text, "distinct keys:"), "distinct keys: 3");
    assert_eq!(
        line(&text, "object sizes"),
        "object sizes (bytes, 3 keys with a size): min 100, p50 300, p90 1000, p99 1000, max 1000, mean 466.7"
    );
    assert_eq!(line(&text, "span:"), "span: 4.000 s, mean rate 1.0 requests/s");
    assert_eq!(line(&text, "top 1% of keys"), "top 1% of keys (1 key): 50.0% of requests");
    assert!(line(&text, "size = ").starts_with("size = { median = 300, sigma = "), "{text}");
}

#[test]
fn trace_stats_reads_an_s3_access_log() {
    let sb = Sandbox::new();
    let record = |second: u32, op: &str, key: &str, size: &str| {
        format!(
            "79a59df9 bucket1 [06/Feb/2019:00:00:{second:02} +0000] 192.0.2.3 79a59df9 3E5742{second:02} \
             {op} {key} \"GET /bucket1/{key} HTTP/1.1\" 200 - {size} {size} 70 10 \"-\" \"S3Console/0.4\" - \
             s9lz= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader bucket1.s3.us-west-1.amazonaws.com TLSV1.2\n"
        )
    };
    let log = [
        record(10, "REST.GET.OBJECT", "photos/cat%20one.jpg", "5000"),
        record(11, "REST.GET.BUCKETPOLICY", "-", "-"),
        record(12, "REST.GET.OBJECT", "photos/dog.jpg", "7000"),
        record(20, "REST.GET.OBJECT", "photos/cat%20one.jpg", "5000"),
        record(21, "REST.PUT.OBJECT", "photos/new.jpg", "-"),
    ]
    .concat();
    let path = sb.write("access.log", &log);
    let out = sb.run(&["trace-stats", path.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        line(&text, "trace:").contains("(S3 server access log, 2 records of other operations skipped)"),
        "{text}"
    );
    assert_eq!(line(&text, "requests:"), "requests: 3");
    assert_eq!(line(&text, "distinct keys:"), "distinct keys: 2");
    assert!(line(&text, "object sizes").contains("min 5000, p50 5000, p90 7000"), "{text}");
    assert_eq!(line(&text, "span:"), "span: 10.000 s, mean rate 0.3 requests/s");
}

#[test]
fn a_bad_trace_is_one_line_naming_file_and_line_with_exit_2() {
    let sb = Sandbox::new();
    let path = sb.write("bad.csv", "key,time\na,1\nb,soon\n");
    let out = sb.run(&["trace-stats", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("fetchbench: trace "), "{err}");
    assert!(err.contains("bad.csv:3: timestamp \"soon\" is neither seconds"), "{err}");
    let out = sb.run(&["trace-stats", "missing.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.txt: no such file"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

/// Every command a Redis server runs from now on, as MONITOR reports them: `(client, args)`.
struct Monitor {
    port: u16,
    reader: std::thread::JoinHandle<Vec<(String, Vec<String>)>>,
}

/// Ends what MONITOR reads: echoed once the run is over, it comes after everything the run sent.
const MONITOR_END: &str = "fetchbench-test-monitor-end";

impl Monitor {
    fn start(port: u16) -> Monitor {
        use std::io::{BufRead, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("redis answers");
        conn.write_all(b"MONITOR\r\n").expect("MONITOR");
        let mut lines = std::io::BufReader::new(conn).lines();
        assert_eq!(lines.next().expect("a reply").expect("MONITOR's +OK"), "+OK");
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for line in lines {
                let line = line.expect("a MONITOR line");
                // +1701234567.123456 [0 127.0.0.1:54321] "GET" "fetchbench:filename3.txt"
                let Some((client, rest)) = line
                    .split_once("] ")
                    .and_then(|(head, rest)| Some((head.rsplit_once(' ')?.1.to_owned(), rest)))
                else {
                    continue;
                };
                let args = quoted(rest);
                if args.iter().any(|a| a == MONITOR_END) {
                    break;
                }
                seen.push((client, args));
            }
            seen
        });
        Monitor { port, reader }
    }

    /// What it saw, up to now.
    fn stop(self) -> Vec<(String, Vec<String>)> {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("redis answers");
        conn.write_all(format!("ECHO {MONITOR_END}\r\n").as_bytes()).expect("ECHO");
        let _ = conn.read(&mut [0u8; 64]);
        self.reader.join().expect("the MONITOR reader")
    }
}

/// The double-quoted strings of a MONITOR line, `\"` and `\\` unescaped.
fn quoted(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => s.extend(chars.next()),
                '"' => break,
                c => s.push(c),
            }
        }
        out.push(s);
    }
    out
}

/// The trace both replay tests read: dataset objects and keys the dataset lacks (two with the
/// trace's sizes, one with a space in its name), each read several times, interleaved.
const TRACE: &str = "\
time,key,size
0.00,filename3.txt,
0.10,photos/cat.jpg,5000
0.20,filename0.txt,
0.30,docs/a b.txt,42
0.40,photos/cat.jpg,5000
0.50,filename12.txt,
0.60,filename3.txt,
0.70,docs/a b.txt,42
0.80,filename7.txt,
0.90,photos/cat.jpg,5000
1.00,filename12.txt,
1.10,filename0.txt,
1.20,docs/a b.txt,42
1.30,filename3.txt,
1.40,photos/cat.jpg,5000
1.50,filename9.txt,
1.60,filename12.txt,
1.70,docs/a b.txt,42
1.80,filename3.txt,
2.00,photos/cat.jpg,5000
";

/// The keys of TRACE, in order.
fn trace_keys() -> Vec<&'static str> {
    TRACE.lines().skip(1).map(|l| l.split(',').nth(1).expect("a key")).collect()
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn a_trace_replays_in_order_on_each_agent_and_seeds_the_keys_the_dataset_lacks() {
    let sb = Sandbox::new();
    let redis = common::Redis::start();
    sb.write("traffic.csv", TRACE);
    // objects = 10: filename12.txt is not a dataset object; it is seeded like the named keys,
    // with a size drawn from the dataset's.
    let scenario = sb.write(
        "replay.toml",
        "name = \"replay\"\n[dataset]\nobjects = 10\nsize = 100\n\
         [[workload]]\nname = \"redis-replay\"\ntarget = \"redis\"\nkeys = \"trace:traffic.csv\"\n\
         [[workload]]\nname = \"s3-replay\"\ntarget = \"s3\"\nkeys = \"trace:traffic.csv\"\nconcurrency = 2\n",
    );
    let monitor = Monitor::start(redis.port);
    let out = sb.path().join("out");
    let o = sb.run(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--agents",
        "2",
        "--redis-url",
        &redis.url(),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let seen = monitor.stop();
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let r = common::read_json(&out.join("result.json"));
    for w in r["workloads"].as_array().expect("workloads") {
        // Every record read once, and found: the named keys were seeded in both stores.
        assert_eq!((&w["ops"], &w["errors"]), (&20.into(), &0.into()), "{}", w["name"]);
        let per_agent: Vec<u64> = w["per_agent"]
            .as_array()
            .expect("per agent")
            .iter()
            .map(|a| a["ops"].as_u64().expect("ops"))
            .collect();
        assert_eq!(per_agent.len(), 2, "{}", w["name"]);
    }

    // The seeding wrote the named keys with the trace's sizes.
    let set_size = |key: &str| {
        seen.iter()
            .find(|(_, args)| args[0] == "SET" && args[1] == format!("fetchbench:{key}"))
            .unwrap_or_else(|| panic!("no SET of {key}"))
            .1[2]
            .len()
    };
    assert_eq!(
        (set_size("photos/cat.jpg"), set_size("docs/a b.txt"), set_size("filename3.txt")),
        (5000, 42, 100)
    );
    assert_eq!(set_size("filename12.txt"), 100, "a size drawn from the dataset's");

    // Each agent's connection read its keys in the trace's order, and no key was read by two.
    let mut by_client: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for (client, args) in &seen {
        if args[0] == "GET" {
            let key = args[1].strip_prefix("fetchbench:").expect("the run's key prefix");
            by_client.entry(client).or_default().push(key);
        }
    }
    assert_eq!(by_client.values().map(Vec::len).sum::<usize>(), 20, "{by_client:?}");
    let trace = trace_keys();
    for (client, keys) in &by_client {
        let expected: Vec<&str> = trace.iter().copied().filter(|k| keys.contains(k)).collect();
        assert_eq!(keys, &expected, "client {client} read out of the trace's order");
        for (other, theirs) in by_client.iter().filter(|(o, _)| o != &client) {
            assert!(keys.iter().all(|k| !theirs.contains(k)), "{client} and {other} both read a key");
        }
    }
    assert!(by_client.len() >= 2, "both agents read part of the trace: {by_client:?}");
    sb.assert_clean();
}

#[test]
fn a_timed_replay_keeps_the_recorded_times_scaled_by_speed() {
    let sb = Sandbox::new();
    sb.write("traffic.csv", TRACE);
    // TRACE spans 2 s; at speed 2 its last request is meant to start 1 s after the first.
    let scenario = sb.write(
        "timed.toml",
        "name = \"timed\"\n[dataset]\nobjects = 10\nsize = 100\n\
         [[workload]]\nname = \"timed\"\ntarget = \"redis\"\nkeys = \"trace:traffic.csv\"\n\
         replay = \"timed\"\nspeed = 2.0\nconcurrency = 2\n",
    );
    let out = sb.path().join("out");
    let o = sb.run(&["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let w = &common::read_json(&out.join("result.json"))["workloads"][0];
    assert_eq!((&w["ops"], &w["errors"]), (&20.into(), &0.into()), "{w}");
    // At least the scaled span (the last request cannot go out before its time), and less than
    // the recorded span: a replay that ignored speed would take 2 s, a fast one a few ms.
    let took = f(&w["duration_s"]);
    assert!((1.0..2.0).contains(&took), "the replay took {took} s");
    // 20 requests over 1 s: an open loop at the trace's mean rate.
    assert_eq!(w["loop"], "open", "{w}");
    assert!((f(&w["target_rate_ops_s"]) - 20.0).abs() < 1e-6, "{w}");
    sb.assert_clean();
}

#[test]
fn a_duration_or_a_request_count_ends_a_replay_before_its_records_run_out() {
    let sb = Sandbox::new();
    sb.write("traffic.csv", TRACE);
    // Timed, as recorded: 5 of TRACE's records (0.0 s to 0.4 s) are meant to start within 450 ms.
    let scenario = sb.write(
        "ends.toml",
        "name = \"ends\"\n[dataset]\nobjects = 10\nsize = 100\n\
         [[workload]]\nname = \"timed\"\ntarget = \"redis\"\nkeys = \"trace:traffic.csv\"\n\
         replay = \"timed\"\nconcurrency = 2\nduration = \"450ms\"\n\
         [[workload]]\nname = \"fast\"\ntarget = \"redis\"\nkeys = \"trace:traffic.csv\"\nrequests = 7\n",
    );
    let out = sb.path().join("out");
    let o = sb.run(&["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let r = common::read_json(&out.join("result.json"));
    let timed = &r["workloads"][0];
    let sent_or_not = timed["ops"].as_u64().expect("ops") + timed["unsent"].as_u64().expect("unsent");
    assert_eq!(sent_or_not, 5, "{timed}");
    assert_eq!(timed["errors"], 0, "{timed}");
    let took = f(&timed["duration_s"]);
    assert!((0.4..1.0).contains(&took), "a 450 ms phase took {took} s");
    assert_eq!((&r["workloads"][1]["ops"], &r["workloads"][1]["errors"]), (&7.into(), &0.into()));
    sb.assert_clean();
}
