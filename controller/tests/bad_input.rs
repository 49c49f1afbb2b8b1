//! Bad scenarios and flags: exit code 2 and one line naming the file and line, the field, the value
//! and what would be valid. Nothing is started for them.

mod common;

use common::{Sandbox, stderr};

const GOOD: &str = r#"name = "x"
[dataset]
objects = 10
size = { min = 1, max = 2 }
[[workload]]
name = "w"
target = "redis"
requests = 5
"#;

/// What a case feeds `fetchbench`.
enum Input {
    /// GOOD with the first text replaced by the second.
    Edit(&'static str, &'static str),
    /// GOOD with these lines appended.
    Append(&'static str),
    /// A whole scenario text.
    Text(&'static str),
    /// Raw bytes as the scenario file.
    Bytes(&'static [u8]),
    /// Command-line arguments after `run`, with no scenario file.
    Args(&'static [&'static str]),
    /// GOOD with the first text replaced by the second, and these arguments after its path.
    EditWithArgs(&'static str, &'static str, &'static [&'static str]),
    /// `run` on a path that does not exist.
    Missing,
    /// `run` on a directory.
    Directory,
}

/// (what, input, parts the single stderr line must contain)
const CASES: &[(&str, Input, &[&str])] = &[
    (
        "unknown field",
        Input::Edit("requests = 5", "requests = 5\ncolour = \"red\""),
        &["bad.toml:9", "unknown field `colour`", "expected one of"],
    ),
    (
        "unknown top-level field",
        Input::Edit("name = \"x\"", "name = \"x\"\nspeed = 3"),
        &["bad.toml:2", "unknown field `speed`"],
    ),
    (
        "unknown dataset field",
        Input::Edit("objects = 10", "objects = 10\nshards = 2"),
        &["bad.toml:4", "unknown field `shards`"],
    ),
    (
        "wrong type",
        Input::Edit("requests = 5", "requests = \"five\""),
        &["bad.toml:8", "requests", "invalid type"],
    ),
    (
        "zero concurrency",
        Input::Edit("requests = 5", "requests = 5\nconcurrency = 0"),
        &["bad.toml:9", "concurrency", "0 is not in 1..=100000"],
    ),
    (
        "huge concurrency",
        Input::Edit("requests = 5", "requests = 5\nconcurrency = 999999999999"),
        &["bad.toml:9", "concurrency"],
    ),
    ("negative objects", Input::Edit("objects = 10", "objects = -3"), &["bad.toml:3", "objects", "-3"]),
    (
        "zero objects",
        Input::Edit("objects = 10", "objects = 0"),
        &["bad.toml:3", "dataset.objects", "0 is not in 1..="],
    ),
    (
        "too many objects",
        Input::Edit("objects = 10", "objects = 1000000000000"),
        &["bad.toml:3", "dataset.objects"],
    ),
    (
        "unknown target",
        Input::Edit("\"redis\"", "\"memcached\""),
        &["bad.toml:7", "target", "unknown variant `memcached`", "`redis`, `s3`, `cache-aside`"],
    ),
    (
        "unknown key distribution",
        Input::Edit("requests = 5", "requests = 5\nkeys = \"pareto\""),
        &["bad.toml:9", "keys", "\"pareto\"", "zipf:S"],
    ),
    (
        "bad zipf exponent",
        Input::Edit("requests = 5", "requests = 5\nkeys = \"zipf:-1\""),
        &["bad.toml:9", "keys", "zipf exponent -1"],
    ),
    (
        "bad hotset",
        Input::Edit("requests = 5", "requests = 5\nkeys = \"hotset:2:0.5\""),
        &["bad.toml:9", "hotset key fraction 2"],
    ),
    ("no stop condition", Input::Edit("requests = 5\n", ""), &["requests", "duration"]),
    (
        "both stop conditions",
        Input::Edit("requests = 5", "requests = 5\nduration = \"1s\""),
        &["bad.toml:9", "duration", "not both"],
    ),
    ("zero requests", Input::Edit("requests = 5", "requests = 0"), &["bad.toml:8", "requests", "at least 1"]),
    (
        "bad duration",
        Input::Edit("requests = 5", "duration = \"soon\""),
        &["bad.toml:8", "duration", "\"soon\"", "\"30s\""],
    ),
    ("zero duration", Input::Edit("requests = 5", "duration = \"0s\""), &["bad.toml:8", "duration", "zero"]),
    (
        "huge duration",
        Input::Edit("requests = 5", "duration = \"30days\""),
        &["bad.toml:8", "duration", "longer than 7 days"],
    ),
    (
        "min above max",
        Input::Edit("max = 2", "max = 0"),
        &["bad.toml:4", "dataset.size", "min 1 is above max 0"],
    ),
    (
        "negative rate",
        Input::Edit("requests = 5", "requests = 5\nrate = -10.0"),
        &["bad.toml:9", "rate", "-10"],
    ),
    (
        "pipeline in open loop",
        Input::Edit("requests = 5", "requests = 5\npipeline = 16\nrate = 100.0"),
        &["bad.toml:9", "pipeline", "closed loop only"],
    ),
    (
        "busy_poll with pipelining",
        Input::Edit("requests = 5", "requests = 5\npipeline = 4\nbusy_poll = \"50us\""),
        &["bad.toml:10", "busy_poll", "remove pipeline or busy_poll"],
    ),
    (
        "ttl on a plain redis workload",
        Input::Edit("requests = 5", "requests = 5\nttl = \"1m\""),
        &["bad.toml:9", "ttl", "cache-aside"],
    ),
    (
        "bad byte range",
        Input::Edit("requests = 5", "requests = 5\nrange = \"10-1\""),
        &["bad.toml:9", "range", "\"10-1\""],
    ),
    (
        "byte range past the smallest objects",
        Input::Edit("requests = 5", "requests = 5\nrange = \"1-9\""),
        &["bad.toml:9", "range", "starts at byte 1", "smallest objects (1 byte); start it below 1"],
    ),
    (
        "duplicate workload names",
        Input::Append("[[workload]]\nname = \"w\"\ntarget = \"s3\"\nrequests = 1"),
        &["bad.toml:10", "\"w\"", "unique"],
    ),
    (
        "threshold on an unknown workload",
        Input::Append("[thresholds]\n\"nope.p99_us\" = 5"),
        &["bad.toml:10", "no workload is named \"nope\""],
    ),
    (
        "threshold with an unknown metric",
        Input::Append("[thresholds]\n\"w.p98_us\" = 5"),
        &["bad.toml:10", "unknown metric \"p98_us\"", "p99_us"],
    ),
    ("bad scenario name", Input::Edit("name = \"x\"", "name = \"a/b\""), &["bad.toml:1", "name", "\"a/b\""]),
    (
        "no workloads",
        Input::Text("name = \"x\"\n[dataset]\nobjects = 1\nsize = 1\n"),
        &["workload", "at least one"],
    ),
    ("syntax error", Input::Edit("requests = 5", "requests = = 5"), &["bad.toml:8"]),
    (
        "unknown on_agent_loss",
        Input::Edit("name = \"x\"", "name = \"x\"\non_agent_loss = \"panic\""),
        &["bad.toml:2", "unknown variant `panic`", "`continue`"],
    ),
    ("not UTF-8", Input::Bytes(b"name = \"caf\xe9\"\n"), &["not UTF-8"]),
    ("missing file", Input::Missing, &["nope.toml", "no such file"]),
    ("a directory", Input::Directory, &["is a directory"]),
    (
        "results folder under a file",
        Input::Args(&["--out", "/proc/version/results"]),
        &["--out \"/proc/version/results\"", "/proc/version is a file, not a folder"],
    ),
    ("zero agents flag", Input::Args(&["--agents", "0"]), &["--agents", "'0'", "1..=1024"]),
    ("misspelt flag", Input::Args(&["--concurency", "4"]), &["'--concurency'", "'--concurrency'"]),
    ("flag needing another", Input::Args(&["--redis-cluster"]), &["not provided: --redis-url <URL>"]),
    ("tls dir without agents", Input::Args(&["--tls-dir", "certs"]), &["not provided: --agent <HOST:PORT>"]),
    (
        "serve-on without agents",
        Input::Args(&["--serve-on", "10.0.0.1"]),
        &["not provided: --agent <HOST:PORT>"],
    ),
    (
        "workload flag naming no workload",
        Input::Args(&["--workload", "redis-gte"]),
        &["--workload", "\"redis-gte\"", "scenario \"seed\"", "redis-get, s3-get"],
    ),
    ("zero concurrency flag", Input::Args(&["--concurrency", "0"]), &["--concurrency", "'0'", "1..=100000"]),
    (
        "a zero in a concurrency sweep",
        Input::Args(&["--concurrency", "4,0"]),
        &["--concurrency", "'0'", "1..=100000"],
    ),
    (
        "a value twice in a sweep",
        Input::Args(&["--concurrency", "2,2"]),
        &["--concurrency", "\"2,2\"", "both be named \"redis-get-c2\""],
    ),
    (
        "two sweeps at once",
        Input::Args(&["--concurrency", "1,2", "--rate", "5,6"]),
        &["--rate", "\"5,6\"", "sweep one of --agents, --concurrency, --rate, --sweep-cache and --sweep-ttl"],
    ),
    (
        "agents and concurrency sweeps at once",
        Input::Args(&["--agents", "1,2", "--concurrency", "1,8"]),
        &[
            "--concurrency",
            "\"1,8\"",
            "sweep one of --agents, --concurrency, --rate, --sweep-cache and --sweep-ttl",
        ],
    ),
    ("zero in an agents sweep", Input::Args(&["--agents", "2,0"]), &["--agents", "'0'", "1..=1024"]),
    (
        "workload on more agents than the scenario's",
        Input::Edit("requests = 5", "requests = 5\nagents = 3"),
        &[
            "bad.toml:9",
            "workload \"w\" agents",
            "3 is more than the scenario's 1 agent",
            "raise the scenario's agents",
        ],
    ),
    (
        "agents flag below a workload's agents",
        Input::EditWithArgs(
            "name = \"x\"\n[dataset]\nobjects = 10\nsize = { min = 1, max = 2 }\n[[workload]]\nname = \"w\"\ntarget = \"redis\"\nrequests = 5",
            "name = \"x\"\nagents = 4\n[dataset]\nobjects = 10\nsize = 1\n[[workload]]\nname = \"w\"\ntarget = \"redis\"\nrequests = 5\nagents = 3",
            &["--agents", "2"],
        ),
        &["--agents", "\"2\"", "workload \"w\" of the scenario runs on 3 agents", "at least that many"],
    ),
    ("zero requests flag", Input::Args(&["--requests", "0"]), &["--requests", "\"0\"", "at least 1"]),
    (
        "duration flag that is no duration",
        Input::Args(&["--duration", "soon"]),
        &["--duration", "\"soon\"", "not a duration", "30s"],
    ),
    ("zero duration flag", Input::Args(&["--duration", "0s"]), &["--duration", "\"0s\"", "above zero"]),
    (
        "duration and requests flags together",
        Input::Args(&["--duration", "5s", "--requests", "10"]),
        &["--duration", "--requests", "cannot be used with"],
    ),
    ("negative rate flag", Input::Args(&["--rate=-5"]), &["--rate", "\"-5\"", "requests per second"]),
    (
        "rate flag over a pipelined workload",
        Input::EditWithArgs("requests = 5", "requests = 5\npipeline = 8", &["--rate", "100"]),
        &["--rate", "\"100\"", "workload \"w\" pipelines 8 commands", "leave out --rate"],
    ),
    ("bad redis url", Input::Args(&["--redis-url", "localhost:6379"]), &["--redis-url", "redis://"]),
    ("bad s3 endpoint", Input::Args(&["--s3-endpoint", "127.0.0.1:9000"]), &["--s3-endpoint", "http://"]),
    (
        "bad bucket",
        Input::Args(&["--s3-bucket", "Bad_Bucket"]),
        &["--s3-bucket", "\"Bad_Bucket\"", "lowercase"],
    ),
    (
        "bad directory bucket",
        Input::Args(&["--s3-express-bucket", "not-a-directory-bucket"]),
        &["--s3-express-bucket", "\"not-a-directory-bucket\"", "BASE--AZ_ID--x-s3", "mydata--use1-az4--x-s3"],
    ),
    (
        "directory bucket with no s3-express workload",
        Input::Args(&["--s3-express-bucket", "mydata--use1-az4--x-s3"]),
        &["--s3-express-bucket", "scenario \"seed\" runs none", "target = \"s3-express\""],
    ),
    (
        "agent without tls dir",
        Input::Args(&["--agent", "127.0.0.1:7878"]),
        &["--tls-dir", "fetchbench certs"],
    ),
    (
        "agent with an empty tls dir",
        Input::Args(&["--agent", "127.0.0.1:7878", "--tls-dir", "/nonexistent/certs"]),
        &[
            "--tls-dir \"/nonexistent/certs\"",
            "/nonexistent/certs/ca.pem: No such file",
            "; make one with `fetchbench certs",
        ],
    ),
    (
        "busy_poll against TLS redis",
        Input::EditWithArgs(
            "requests = 5",
            "requests = 5\nbusy_poll = \"50us\"",
            &["--redis-url", "rediss://:pw@127.0.0.1:1"],
        ),
        &["--redis-url", "\"rediss://:***@127.0.0.1:1\"", "is TLS", "workload w sets busy_poll", "redis://"],
    ),
    (
        "busy_poll against a cluster",
        Input::EditWithArgs(
            "requests = 5",
            "requests = 5\nbusy_poll = \"50us\"",
            &["--redis-url", "redis://127.0.0.1:1", "--redis-cluster"],
        ),
        &["--redis-cluster", "is a cluster", "remove busy_poll"],
    ),
    ("agent that is no address", Input::Args(&["--agent", "somewhere"]), &["--agent", "somewhere"]),
    (
        "redis url with a port that is no port",
        Input::Args(&["--redis-url", "redis://:hunter2@127.0.0.1:99999"]),
        &["--redis-url \"redis://:***@127.0.0.1:99999\"", "port \"99999\"", "1-65535"],
    ),
    (
        "s3 endpoint with no host",
        Input::Args(&["--s3-endpoint", "http://:9000"]),
        &["--s3-endpoint \"http://:9000\"", "names no host"],
    ),
    (
        "results folder that cannot be written",
        Input::Args(&["--out", "/proc/fetchbench-results"]),
        &["--out \"/proc/fetchbench-results\"", "cannot write in /proc", "a folder you can write"],
    ),
    (
        "agent binary that does not exist",
        Input::Args(&["--agent-binary", "/nonexistent/fetchbench-agent"]),
        &["--agent-binary \"/nonexistent/fetchbench-agent\"", "is not a file"],
    ),
    (
        "a rate that would run for years",
        Input::Args(&["--rate", "0.0000001"]),
        &["--rate \"0.0000001\"", "workload \"redis-get\"", "longer than the 7 days", "raise the rate"],
    ),
    (
        "a rate in the scenario that would run for years",
        Input::Edit("requests = 5", "requests = 5000\nrate = 0.001"),
        &["bad.toml:9", "workload \"w\" rate", "about 58 days", "longer than the 7 days"],
    ),
    (
        "a duration shorter than a request",
        Input::Args(&["--duration", "1ns"]),
        &["--duration \"1ns\"", "shorter than one request", "at least 1ms"],
    ),
    (
        "a dataset above 1 TiB",
        Input::Edit("objects = 10\nsize = { min = 1, max = 2 }", "objects = 2000000\nsize = 1048576"),
        &["bad.toml:3", "dataset.objects", "about 1.9 TiB", "above the 1 TiB"],
    ),
    (
        "a dataset larger than this machine's memory for the local redis-server",
        Input::Edit("objects = 10\nsize = { min = 1, max = 2 }", "objects = 500000\nsize = 1048576"),
        &["dataset: 500000 objects of 1048576 bytes", "memory available here", "--redis-url"],
    ),
    (
        "a dataset larger than the free disk for the embedded S3 endpoint",
        Input::Edit(
            "objects = 10\nsize = { min = 1, max = 2 }\n[[workload]]\nname = \"w\"\ntarget = \"redis\"",
            "objects = 900000\nsize = 1048576\n[[workload]]\nname = \"w\"\ntarget = \"s3\"",
        ),
        &["dataset: 900000 objects of 1048576 bytes", "free under", "embedded S3", "TMPDIR"],
    ),
    (
        "a ttl of zero",
        Input::Edit(
            "target = \"redis\"\nrequests = 5",
            "target = \"cache-aside\"\nrequests = 5\nttl = \"0s\"",
        ),
        &["bad.toml:9", "workload \"w\" ttl", "\"0s\"", "at least 1ms", "leave ttl out"],
    ),
    (
        "an error rate above 1",
        Input::Append("[thresholds]\n\"w.error_rate\" = 5"),
        &["bad.toml:10", "error_rate", "5 is not a share in [0, 1]"],
    ),
    (
        "a service-time threshold on a closed-loop workload",
        Input::Append("[thresholds]\n\"w.service_p99_us\" = 500"),
        &["bad.toml:10", "service_p99_us", "open-loop", "runs closed loop", "use p99_us"],
    ),
    (
        "an agents sweep over a workload with agents of its own",
        Input::EditWithArgs(
            "name = \"x\"\n[dataset]\nobjects = 10\nsize = { min = 1, max = 2 }\n[[workload]]\nname = \"w\"\ntarget = \"redis\"\nrequests = 5",
            "name = \"x\"\nagents = 4\n[dataset]\nobjects = 10\nsize = 1\n[[workload]]\nname = \"w\"\ntarget = \"redis\"\nrequests = 5\nagents = 3",
            &["--agents", "1,2,4"],
        ),
        &["--agents \"1,2,4\"", "workload \"w\" runs on 3 of its own", "give --agents one value"],
    ),
    (
        "concurrency beyond u32",
        Input::Args(&["--concurrency", "99999999999"]),
        &["--concurrency", "99999999999", "1..=100000"],
    ),
    ("unknown flag", Input::Args(&["--no-such-flag"]), &["--no-such-flag"]),
    (
        "a cache memory limit below 1mb",
        Input::Append("[cache]\nmaxmemory = \"100kb\""),
        &["bad.toml:10", "cache.maxmemory", "\"100kb\"", "at least 1mb"],
    ),
    (
        "an eviction policy Redis does not have",
        Input::Append("[cache]\npolicy = \"lru\""),
        &["bad.toml:10", "cache.policy", "\"lru\"", "allkeys-lru"],
    ),
    (
        "a metrics address that is not this machine's",
        Input::Args(&["--metrics-listen", "192.0.2.1:9464"]),
        &["--metrics-listen \"192.0.2.1:9464\"", "cannot listen there", "give a free address"],
    ),
    (
        "a metrics address that is no address",
        Input::Args(&["--metrics-listen", "port9464"]),
        &["--metrics-listen", "port9464"],
    ),
];

#[test]
fn every_bad_input_exits_2_with_one_line_naming_what_is_wrong() {
    assert!(CASES.len() >= 25);
    let sb = Sandbox::new();
    let path = sb.path().join("bad.toml");
    let path_text = path.to_str().expect("utf-8").to_owned();
    let mut failures = Vec::new();
    for (what, input, parts) in CASES {
        let mut args = vec!["run".to_owned()];
        match input {
            Input::Edit(from, to) => {
                assert!(GOOD.contains(from), "{what}: {from:?} is not in the good scenario");
                std::fs::write(&path, GOOD.replacen(from, to, 1)).expect("write");
                args.push(path_text.clone());
            }
            Input::Append(text) => {
                std::fs::write(&path, format!("{GOOD}{text}\n")).expect("write");
                args.push(path_text.clone());
            }
            Input::Text(text) => {
                std::fs::write(&path, text).expect("write");
                args.push(path_text.clone());
            }
            Input::Bytes(bytes) => {
                std::fs::write(&path, bytes).expect("write");
                args.push(path_text.clone());
            }
            Input::Args(extra) => args.extend(extra.iter().map(|s| s.to_string())),
            Input::EditWithArgs(from, to, extra) => {
                assert!(GOOD.contains(from), "{what}: {from:?} is not in the good scenario");
                std::fs::write(&path, GOOD.replacen(from, to, 1)).expect("write");
                args.push(path_text.clone());
                args.extend(extra.iter().map(|s| s.to_string()));
            }
            Input::Missing => args.push(sb.path().join("nope.toml").display().to_string()),
            Input::Directory => args.push(sb.path().display().to_string()),
        }
        let o = sb.fetchbench().args(&args).output().expect("fetchbench runs");
        let err = stderr(&o);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        let problem = if o.status.code() != Some(2) {
            Some(format!("exit code {:?}", o.status.code()))
        } else if lines.len() != 1 {
            Some(format!("{} lines", lines.len()))
        } else {
            parts.iter().find(|p| !lines[0].contains(**p)).map(|p| format!("{p:?} is missing"))
        };
        if let Some(problem) = problem {
            failures.push(format!("{what}: {problem}: {err}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    sb.assert_clean();
}

#[test]
fn no_aws_region_is_one_line_where_the_instance_metadata_service_is_not() {
    let sb = Sandbox::new();
    // Off EC2 nothing answers at the metadata address: a closed port on loopback stands in.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let o = sb
        .fetchbench()
        .args(["teardown", "--yes"])
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("http://{closed}"))
        .output()
        .expect("fetchbench runs");
    let line = one_line_error(&o, 1);
    assert!(line.contains("no AWS region configured") && line.contains("--region"), "{line}");
}

/// Contradicting cache choices (the created cache's engine or kind beside an existing cache, a
/// node type for a serverless cache): one line naming the flag, exit 2, before anything is
/// asked of AWS.
#[test]
fn provision_refuses_contradicting_cache_choices() {
    let sb = Sandbox::new();
    for (flag, value) in [("--cache", "serverless"), ("--cache-engine", "valkey")] {
        let o = sb
            .fetchbench()
            .args(["provision", "--existing-cache", "cache.internal:6379", "--allow-cidr", "1.2.3.4/32"])
            .args([flag, value])
            .output()
            .expect("fetchbench runs");
        let line = one_line_error(&o, 2);
        assert!(line.contains(&format!("{flag} \"{value}\"")), "{line}");
        assert!(line.contains("contradicts --existing-cache"), "{line}");
    }
    let o = sb
        .fetchbench()
        .args(["provision", "--allow-cidr", "1.2.3.4/32", "--cache", "serverless"])
        .args(["--cache-node-type", "cache.m7g.large"])
        .output()
        .expect("fetchbench runs");
    let err = stderr(&o);
    assert_eq!((o.status.code(), err.trim().lines().count()), (Some(2), 1), "{err}");
    assert!(err.contains("--cache-node-type \"cache.m7g.large\": a serverless cache"), "{err}");
    let o = sb.fetchbench().args(["provision", "--cache", "cluster"]).output().expect("fetchbench runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("[possible values: nodes, serverless]"), "{}", stderr(&o));
}

/// A price file `provision` cannot use stops it before anything is asked of AWS or made: one
/// line naming the flag, the file and the field, exit 2.
#[test]
fn provision_refuses_a_bad_price_file_before_anything_is_made() {
    let sb = Sandbox::new();
    let bad = sb.write("bad.toml", "[ec2.instances]\n\"c7i.large\" = { usd = -1.0 }\n");
    let missing = sb.path().join("missing.toml");
    for (file, says) in [
        (&bad, "ec2.instances.\"c7i.large\" = -1 is not a price of at least 0"),
        (&missing, "cannot read the price file"),
    ] {
        let o = sb
            .fetchbench()
            .args(["provision", "--no-install", "--allow-cidr", "1.2.3.4/32", "--prices"])
            .arg(file)
            .output()
            .expect("fetchbench runs");
        let line = one_line_error(&o, 2);
        assert!(line.contains(&format!("--prices \"{}\"", file.display())) && line.contains(says), "{line}");
        assert!(!sb.path().join(".fetchbench/fetchbench").exists(), "no state was written");
    }
}

/// With a provisioned fleet, `run` goes to it, which reads its stack's buckets: the user's own
/// directory bucket is refused with one line saying to run on this machine (`--local`).
#[test]
fn a_directory_bucket_of_ones_own_with_a_fleet_needs_local() {
    let sb = Sandbox::new();
    let state = sb.path().join(".fetchbench/fetchbench");
    std::fs::create_dir_all(&state).expect("state folder");
    let fleet = r#"{"stack": "fetchbench", "region": "us-east-1", "created_at": "2026-12-01T00:00:00Z",
        "agents": 1, "instance_type": "c7i.large", "arch": "x86_64", "outputs": {}, "installed": []}"#;
    std::fs::write(state.join("state.json"), fleet).expect("write state");
    let scenario = sb.write(
        "express.toml",
        "name = \"x\"\n[dataset]\nobjects = 10\nsize = 1\n[[workload]]\nname = \"w\"\ntarget = \"s3-express\"\nrequests = 5\n",
    );
    let o = sb
        .fetchbench()
        .args(["run", scenario.to_str().expect("utf-8"), "--s3-express-bucket", "mine--use1-az4--x-s3"])
        .output()
        .expect("fetchbench runs");
    let line = one_line_error(&o, 2);
    assert!(line.contains("--local") && line.contains("--s3-express-bucket"), "{line}");
    sb.assert_clean();
}

/// The one line a refused command wrote to stderr, once its exit code is `code`.
fn one_line_error(o: &std::process::Output, code: i32) -> String {
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!((o.status.code(), lines.len()), (Some(code), 1), "{err}");
    lines[0].to_owned()
}
