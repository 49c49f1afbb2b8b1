//! `fetchbench run` end to end through the real binaries: local agents over gRPC, a real
//! redis-server and the embedded S3 endpoint.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Sandbox, read_json, stderr, stdout};
use serde_json::Value;

#[test]
fn seed_scenario_on_two_agents_writes_the_contracted_result() {
    let sb = Sandbox::new();
    let out = sb.path().join("out");
    let o = sb.run(&["run", "--agents", "2", "--out", out.to_str().expect("utf-8 path")]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{}", stderr(&o));

    for line in [
        "Average Latency in Microseconds: ",
        "MAX Latency in Microseconds: ",
        "MIN Latency in Microseconds: ",
    ] {
        assert_eq!(text.matches(line).count(), 2, "{line:?} once per store in:\n{text}");
    }
    assert!(text.contains("x faster than S3"), "{text}");
    assert!(text.contains("199 requests per agent after 1 request of warm-up"), "{text}");
    for column in ["ops/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs"] {
        assert!(text.contains(column), "no {column} column in:\n{text}");
    }

    let r = read_json(&out.join("result.json"));
    assert_eq!(r["schema"], "fetchbench.result/v1");
    assert_eq!(r["fleet"], "local");
    assert_eq!(r["degraded"], false);
    assert_eq!(r["scenario"]["name"], "seed");
    for field in ["started_at", "finished_at"] {
        let t = r[field].as_str().expect("timestamp");
        assert!(t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T', "{field} = {t}");
    }
    let agents = r["agents"].as_array().expect("agents");
    assert_eq!(agents.len(), 2);
    for a in agents {
        assert_eq!(a["status"], "ok");
        assert!(a["error"].is_null());
        assert!(a["address"].as_str().expect("address").starts_with("127.0.0.1:"));
    }

    let workloads = r["workloads"].as_array().expect("workloads");
    let names: Vec<&str> = workloads.iter().map(|w| w["name"].as_str().expect("name")).collect();
    assert_eq!(names, ["redis-get", "s3-get"]);
    for w in workloads {
        assert_eq!(w["ops"], 199 * 2, "{}", w["name"]);
        assert_eq!(w["errors"], 0);
        assert_eq!(w["errors_by_kind"], serde_json::json!({}));
        let per_agent = w["per_agent"].as_array().expect("per_agent");
        assert_eq!(per_agent.len(), 2);
        let sum: u64 = per_agent.iter().map(|a| a["ops"].as_u64().expect("ops")).sum();
        assert_eq!(sum, w["ops"].as_u64().expect("ops"));
        let l = &w["latency_us"];
        let get = |k: &str| l[k].as_f64().unwrap_or_else(|| panic!("latency_us.{k}"));
        assert!(get("min") > 0.0);
        assert!(get("min") <= get("p50") && get("p50") <= get("p90") && get("p90") <= get("p99"));
        assert!(get("p99") <= get("p999") && get("p999") <= get("max"));
        assert!(w["throughput_ops_s"].as_f64().expect("throughput") > 0.0);
        assert!(w["duration_s"].as_f64().expect("duration") > 0.0);
        let histogram =
            fetchbench::results::histogram::decode_base64(w["histogram"].as_str().expect("histogram"))
                .expect("the histogram decodes");
        assert_eq!(histogram.len(), 199 * 2);
    }
    let p50 = |i: usize| workloads[i]["latency_us"]["p50"].as_f64().expect("p50");
    assert!(p50(0) < p50(1), "redis p50 {} is not below s3 p50 {}", p50(0), p50(1));
    sb.assert_clean();
}

/// Each workload's result beside the scenario's echo of its settings.
fn with_settings(r: &Value) -> impl Iterator<Item = (&Value, &Value)> {
    fn list(v: &Value) -> std::slice::Iter<'_, Value> {
        v.as_array().expect("an array").iter()
    }
    list(&r["workloads"]).zip(list(&r["scenario"]["workloads"]))
}

#[test]
fn flags_override_every_workload_of_the_scenario() {
    let sb = Sandbox::new();
    let out = sb.path().join("closed");
    let o = sb.run(&["run", "--concurrency", "4", "--requests", "40", "--out", out.to_str().expect("utf-8")]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{}", stderr(&o));
    assert_eq!(text.matches("1 agent x 4 in flight, 40 requests per agent").count(), 2, "{text}");
    let r = read_json(&out.join("result.json"));
    for (w, echoed) in with_settings(&r) {
        assert_eq!((&w["ops"], &w["errors"], &w["loop"]), (&40.into(), &0.into(), &"closed".into()), "{w}");
        assert_eq!((&echoed["concurrency"], &echoed["stop"]["requests"]), (&4.into(), &40.into()));
    }

    // An open loop of 200 requests/s for half a second: 100 requests scheduled per workload.
    let out = sb.path().join("open");
    let o = sb.run(&["run", "--duration", "500ms", "--rate", "200", "--out", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let r = read_json(&out.join("result.json"));
    for (w, echoed) in with_settings(&r) {
        assert_eq!(
            (&w["loop"], &w["target_rate_ops_s"], &w["errors"]),
            (&"open".into(), &200.0.into(), &0.into())
        );
        // Each sent, or counted unsent when the agent was behind as the phase ended (a busy
        // machine's S3 endpoint may not keep up with 200/s on one connection).
        let scheduled = w["ops"].as_u64().expect("ops") + w["unsent"].as_u64().expect("unsent");
        assert!((99..=101).contains(&scheduled), "{scheduled} requests scheduled in 500 ms at 200/s");
        assert_eq!((&echoed["rate"], &echoed["stop"]["duration"]), (&200.0.into(), &"500ms".into()));
    }

    // --workload keeps the workloads named, and drops the thresholds of the others: b's would
    // be breached (exit 99) if it ran.
    let scenario = two_workloads(&sb, "\"a.errors\" = 0\n\"b.p99_us\" = 0.001");
    let out = sb.path().join("only-a");
    let o = sb.run(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--workload",
        "a",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let r = read_json(&out.join("result.json"));
    let names: Vec<&str> = r["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .map(|w| w["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["a"]);
    assert_eq!(r["workloads"][0]["ops"], 3);
    assert_eq!(r["scenario"]["thresholds"], serde_json::json!({"a.errors": 0.0}));
    sb.assert_clean();
}

#[test]
fn a_list_of_values_sweeps_every_workload_and_compares_each_level() {
    let sb = Sandbox::new();
    let scenario = two_workloads(&sb, "\"a.errors\" = 0");
    let names = |r: &Value| -> Vec<String> {
        r["workloads"]
            .as_array()
            .expect("workloads")
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let out = sb.path().join("sweep");
    let args = ["--concurrency", "1,4", "--requests", "20", "--out", out.to_str().expect("utf-8")];
    let o = sb.run(&[&["run", scenario.to_str().expect("utf-8")][..], &args].concat());
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{}", stderr(&o));
    let r = read_json(&out.join("result.json"));
    // Each workload at each level, in the scenario's order; the recorded scenario says what ran.
    assert_eq!(names(&r), ["a-c1", "a-c4", "b-c1", "b-c4"]);
    for (i, concurrency) in [1, 4, 1, 4].into_iter().enumerate() {
        assert_eq!(r["workloads"][i]["ops"], 20, "{}", r["workloads"][i]);
        assert_eq!(r["scenario"]["workloads"][i]["concurrency"], concurrency);
    }
    // The workload's threshold holds for every level of it.
    assert_eq!(r["scenario"]["thresholds"], serde_json::json!({"a-c1.errors": 0.0, "a-c4.errors": 0.0}));
    assert!(text.contains("thresholds: all 2 held"), "{text}");
    // Each S3 level is set against the Redis run at the same level.
    for pair in ["a-c1 vs b-c1: Redis was", "a-c4 vs b-c4: Redis was"] {
        assert!(text.contains(pair), "{text}");
    }
    // The report charts each store's levels against the throughput they reached.
    let page = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(page.contains("<h2>Latency against load</h2>"), "no load chart");
    for line in ["a p99", "a p50", "b p99", "b p50"] {
        assert!(page.contains(&format!("data-series=\"{line}\"")), "{line} is not charted");
    }

    // A rate sweep into the same folder: open loops at each rate, and the folder holds this
    // run's histograms only.
    assert!(out.join("b-c4.hgrm").is_file());
    let args = [
        "--workload",
        "a",
        "--rate",
        "100,400",
        "--duration",
        "500ms",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    let earlier = read_json(&out.join("result.json"));
    let (earlier_name, earlier_start) = (&earlier["scenario"]["name"], &earlier["started_at"]);
    let (earlier_name, earlier_start) =
        (earlier_name.as_str().expect("name"), earlier_start.as_str().expect("started_at"));
    let o = sb.run(&[&["run", scenario.to_str().expect("utf-8")][..], &args].concat());
    assert_eq!(o.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    // Said, not silent: the folder held another run's result.
    let replaced =
        format!("replaced: the result of {earlier_name} ({earlier_start}) that {} held", out.display());
    assert!(stdout(&o).contains(&replaced), "{replaced:?} missing from:\n{}", stdout(&o));
    let r = read_json(&out.join("result.json"));
    assert_eq!(names(&r), ["a-r100", "a-r400"]);
    for (w, rate) in r["workloads"].as_array().expect("workloads").iter().zip([100.0, 400.0]) {
        assert_eq!(w["target_rate_ops_s"], rate);
        let ops = w["ops"].as_f64().expect("ops");
        assert!((ops - rate / 2.0).abs() <= 1.0, "{ops} requests in 500 ms at {rate}/s");
    }
    let mut hgrm: Vec<String> = std::fs::read_dir(&out)
        .expect("the output folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".hgrm"))
        .collect();
    hgrm.sort();
    assert_eq!(hgrm, ["a-r100.hgrm", "a-r400.hgrm"]);
    sb.assert_clean();
}

#[test]
fn an_agents_sweep_runs_each_level_on_that_many_agents() {
    let sb = Sandbox::new();
    let (text, r) = run_two(&sb, "\"b.errors\" = 0", "agents", &["--agents", "1,3", "--requests", "20"]);
    assert!(text.contains("on 3 local agents"), "the fleet has the most: {text}");
    assert!(text.contains("running a-a1 (redis, 1 agent x 1 in flight"), "{text}");
    assert!(text.contains("running b-a3 (s3, 3 agents x 1 in flight"), "{text}");
    assert_eq!(r["agents"].as_array().expect("agents").len(), 3);
    let workloads = r["workloads"].as_array().expect("workloads");
    let ran: Vec<(&str, u64, Vec<&str>)> = workloads
        .iter()
        .map(|w| {
            let agents = w["per_agent"].as_array().expect("per_agent");
            let ids = agents.iter().map(|a| a["agent"].as_str().expect("id")).collect();
            (w["name"].as_str().expect("name"), w["ops"].as_u64().expect("ops"), ids)
        })
        .collect();
    // 20 requests per agent, on the first N agents of the fleet.
    let three = vec!["agent-0", "agent-1", "agent-2"];
    assert_eq!(
        ran,
        [
            ("a-a1", 20, vec!["agent-0"]),
            ("a-a3", 60, three.clone()),
            ("b-a1", 20, vec!["agent-0"]),
            ("b-a3", 60, three)
        ]
    );
    for (i, n) in [1, 3, 1, 3].into_iter().enumerate() {
        assert_eq!(r["scenario"]["workloads"][i]["agents"], n);
    }
    assert_eq!(r["scenario"]["thresholds"], serde_json::json!({"b-a1.errors": 0.0, "b-a3.errors": 0.0}));
    // Each S3 level against the Redis one on as many agents, and a line per store on the page.
    for pair in ["a-a1 vs b-a1: Redis was", "a-a3 vs b-a3: Redis was"] {
        assert!(text.contains(pair), "{text}");
    }
    let page = std::fs::read_to_string(sb.path().join("agents/report.html")).expect("report.html");
    for line in ["a p99", "b p50"] {
        assert!(page.contains(&format!("data-series=\"{line}\"")), "{line} is not charted");
    }
    sb.assert_clean();
}

#[test]
fn repeat_runs_the_workloads_in_rounds_and_gives_each_figure_its_spread() {
    let sb = Sandbox::new();
    let (text, r) = run_two(&sb, "\"b.errors\" = 0", "rounds", &["--repeat", "3", "--requests", "30"]);
    let w = r["workloads"].as_array().expect("workloads");
    let names: Vec<&str> = w.iter().map(|w| w["name"].as_str().expect("name")).collect();
    // Round by round, every workload in each.
    assert_eq!(names, ["a-1", "b-1", "a-2", "b-2", "a-3", "b-3"]);
    assert_eq!(r["scenario"]["rounds"], 3);
    assert_eq!(
        r["scenario"]["thresholds"],
        serde_json::json!({"b-1.errors": 0.0, "b-2.errors": 0.0, "b-3.errors": 0.0})
    );
    // The summary's medians and ranges are those of the rounds' own figures.
    let mut p50: Vec<f64> =
        [0, 2, 4].iter().map(|&i| w[i]["latency_us"]["p50"].as_f64().expect("p50")).collect();
    p50.sort_by(f64::total_cmp);
    let line = format!("  a  p50 {:.1} µs ({:.1} to {:.1}), p99", p50[1], p50[0], p50[2]);
    assert!(text.contains("over 3 rounds, median (min to max):"), "{text}");
    assert!(text.contains(&line), "{line:?} not in\n{text}");
    let mut ratios: Vec<f64> = [0, 2, 4]
        .iter()
        .map(|&i| f(&w[i + 1]["latency_us"]["mean"]) / f(&w[i]["latency_us"]["mean"]))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let speedup = format!(
        "  Redis was {:.1}x faster than S3 by mean latency ({:.1}x to {:.1}x)",
        ratios[1], ratios[0], ratios[2]
    );
    assert!(text.contains(&speedup), "{speedup:?} not in\n{text}");
    assert!(!text.contains("a-1 vs b-1"), "the rounds' speed-up instead of one line per round:\n{text}");
    // The cost of each workload once, at its median round's rate.
    let median_ops_s = {
        let mut v: Vec<f64> = [0, 2, 4].iter().map(|&i| f(&w[i]["throughput_ops_s"])).collect();
        v.sort_by(f64::total_cmp);
        v[1]
    };
    let cost = "  a (median round)  ";
    let line = text.lines().find(|l| l.starts_with(cost)).unwrap_or_else(|| panic!("no {cost:?} in\n{text}"));
    assert!(line.ends_with(&format!("at the measured {median_ops_s:.0} reads/s")), "{line}");
    assert!(!text.contains("\n  a-2 "), "one cost line per workload:\n{text}");
    let page = std::fs::read_to_string(sb.path().join("rounds/report.html")).expect("report.html");
    assert!(
        page.contains("<h3>Over 3 rounds</h3>") && page.contains("data-workload=\"b\""),
        "no rounds table"
    );
    // The page's cost table prices each workload once too, as the summary does.
    let cost_table = page.split("<section id=\"cost\">").nth(1).and_then(|s| s.split("</section>").next());
    let cost_table = cost_table.expect("a cost section");
    assert!(cost_table.contains("data-workload=\"a (median round)\""), "{cost_table}");
    assert!(!cost_table.contains("data-workload=\"a-2\""), "a cost row per round: {cost_table}");

    let o = sb.run(&["run", "--repeat", "0", "--dry-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--repeat \"0\": must be in 1..=1000"), "{}", stderr(&o));
    sb.assert_clean();
}

/// two.toml in `sb`: workload "a" reading Redis and "b" reading S3, three requests each, with
/// these `[thresholds]` lines.
fn two_workloads(sb: &Sandbox, thresholds: &str) -> std::path::PathBuf {
    sb.write(
        "two.toml",
        &format!(
            "name = \"two\"\n[dataset]\nobjects = 20\nsize = 100\n\
             [[workload]]\nname = \"a\"\ntarget = \"redis\"\nrequests = 3\n\
             [[workload]]\nname = \"b\"\ntarget = \"s3\"\nrequests = 3\n\
             [thresholds]\n{thresholds}\n"
        ),
    )
}

/// `fetchbench run` of [`two_workloads`] with `thresholds` and `args`, into `sb/<folder>`, which
/// must exit 0: what it printed and its result.json.
fn run_two(sb: &Sandbox, thresholds: &str, folder: &str, args: &[&str]) -> (String, Value) {
    let scenario = two_workloads(sb, thresholds);
    let out = sb.path().join(folder);
    let (scenario, out) = (scenario.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    let o = sb.run(&[&["run", scenario][..], args, &["--out", out]].concat());
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{}", stderr(&o));
    (text, read_json(&std::path::Path::new(out).join("result.json")))
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("a number")
}

#[test]
fn a_dry_run_prints_the_plan_and_starts_nothing() {
    let sb = Sandbox::new();
    let o = sb.run(&["run", "--dry-run", "--agents", "3", "--workload", "s3-get", "--rate", "50"]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{}", stderr(&o));
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "scenario \"seed\", 3 agents on this machine; 200 objects of 235-434 bytes in S3 and Redis, seed 1",
            "  s3-get (s3, 3 agents x open loop at 50 ops/s over 1 connection, 199 requests per agent after 1 \
             request of warm-up, keys uniform)",
            // 200 requests at 50/s.
            "  time: about 4s, plus seeding",
            "dry run: the scenario and flags are valid; nothing was started",
        ]
    );
    // A sweep in rounds: each workload at each level in each round, and the time they add up to.
    let o = sb.run(&["run", "--dry-run", "--concurrency", "1,8", "--repeat", "2", "--duration", "2s"]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{}", stderr(&o));
    let names: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("  ")?.split_once(" (").map(|(name, _)| name)).collect();
    assert_eq!(
        names,
        [
            "redis-get-c1-1",
            "redis-get-c8-1",
            "s3-get-c1-1",
            "s3-get-c8-1",
            "redis-get-c1-2",
            "redis-get-c8-2",
            "s3-get-c1-2",
            "s3-get-c8-2"
        ]
    );
    assert!(text.contains("  time: about 16s, plus warm-ups counted in requests, plus seeding\n"), "{text}");
    // A byte range is part of what a workload reads, so the plan says it.
    let sweep = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/size-sweep.toml");
    let o = sb.run(&["run", "--dry-run", sweep.to_str().expect("utf-8")]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{}", stderr(&o));
    assert!(text.contains(", keys uniform, bytes 0-1023 of each object)"), "{text}");
    // Agents the user started are not "on this machine".
    let o = sb.run(&["run", "--dry-run", "--agent", "127.0.0.1:7878", "--tls-dir", "certs"]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{}", stderr(&o));
    assert!(text.starts_with("scenario \"seed\", 1 agent you started (127.0.0.1:7878); "), "{text}");
    assert!(!sb.path().join("results").exists(), "a dry run writes no results");
    sb.assert_clean();
}

#[test]
fn default_output_folder_is_named_after_scenario_and_time() {
    let sb = Sandbox::new();
    let scenario = sb.write(
        "tiny.toml",
        "name = \"tiny\"\n[dataset]\nobjects = 5\nsize = 10\n[[workload]]\nname = \"r\"\ntarget = \"redis\"\nrequests = 3\n",
    );
    let o = sb.run(&["run", scenario.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dirs: Vec<String> = std::fs::read_dir(sb.path().join("results"))
        .expect("results/ was made")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let stamp = dirs[0].strip_prefix("tiny-").expect("named after the scenario");
    assert!(stamp.len() == 16 && stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T', "{stamp}");
    let r = read_json(&sb.path().join("results").join(&dirs[0]).join("result.json"));
    assert_eq!(r["workloads"][0]["ops"], 3);
    assert!(r["targets"]["s3_bucket"].is_null(), "no S3 was needed: {}", r["targets"]);
    sb.assert_clean();
}

#[test]
fn failed_run_stops_everything_and_exits_1() {
    let sb = Sandbox::new();
    // Nothing listens on port 1: the agents cannot reach "S3" and Prepare fails, after
    // redis-server, the agents and the temporary folder were all set up.
    let o = sb.run(&["run", "--agents", "2", "--s3-endpoint", "http://127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("fetchbench: agent-0"), "{err}");
    assert!(last.contains("s3 bucket fetchbench"), "{err}");
    // The cause in words, not the SDK's debug dump of the request.
    assert!(last.contains("Connection refused"), "{err}");
    assert!(!last.contains("DispatchFailure(") && last.len() < 400, "{} chars: {err}", last.len());
    sb.assert_clean();
}

/// An S3 endpoint of the user's with no credentials anywhere in the chain: what to set, in one
/// line, not the SDK's list of every provider it tried.
#[test]
fn missing_aws_credentials_for_a_given_s3_endpoint_say_what_to_set() {
    let sb = Sandbox::new();
    let o = sb
        .fetchbench()
        .args(["run", "--s3-endpoint", "http://127.0.0.1:1"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .expect("fetchbench runs");
    assert_eq!(o.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(last.contains("s3 bucket fetchbench: no AWS credentials found: set AWS_ACCESS_KEY_ID"), "{err}");
    assert!(!err.contains("Ec2InstanceMetadata"), "{err}");
    sb.assert_clean();
}

#[test]
fn unreachable_redis_is_named_in_one_line() {
    let sb = Sandbox::new();
    let o = sb.run(&["run", "--redis-url", "redis://127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("redis at redis://127.0.0.1:1 is unreachable"), "{err}");
    sb.assert_clean();
}

#[test]
fn ctrl_c_stops_the_agents_keeps_a_partial_result_and_exits_130() {
    interrupted_mid_run("-INT", 130);
}

/// `timeout`, `kill` and CI runners send SIGTERM: the run stops as for Ctrl-C, not as if killed.
#[test]
fn sigterm_stops_the_run_like_ctrl_c_and_exits_143() {
    interrupted_mid_run("-TERM", 143);
}

/// A closed terminal (SIGHUP) too.
#[test]
fn sighup_stops_the_run_like_ctrl_c_and_exits_129() {
    interrupted_mid_run("-HUP", 129);
}

/// Send `signal` to a run while its workload runs: the agents stop, what they measured is
/// written, nothing is left behind, and the exit code is `code`.
fn interrupted_mid_run(signal: &str, code: i32) {
    let sb = Sandbox::new();
    let scenario = sb.write(
        "long.toml",
        "name = \"long\"\nagents = 2\n[dataset]\nobjects = 50\nsize = 100\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nconcurrency = 2\nduration = \"5m\"\n",
    );
    let out = sb.path().join("out");
    let mut child = sb
        .fetchbench()
        .args(["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetchbench starts");
    // Wait until the workload is running on the agents (the first progress arrived).
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut seen = String::new();
    loop {
        let line = lines.next().expect("fetchbench ended before the workload ran").expect("utf-8");
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("running r ") {
            break;
        }
    }
    let sent_at = Instant::now();
    let kill = std::process::Command::new("kill").args([signal, &child.id().to_string()]).status();
    assert!(kill.expect("kill runs").success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("fetchbench exits");
    assert!(sent_at.elapsed() < Duration::from_secs(20), "took {:?} to stop", sent_at.elapsed());
    assert_eq!(status.code(), Some(code), "{seen}{}", rest.join("\n"));
    assert!(rest.iter().any(|l| l.starts_with("interrupted")), "{rest:?}");

    let r = read_json(&out.join("result.json"));
    assert_eq!(r["partial"], true);
    let w = &r["workloads"][0];
    assert!(w["ops"].as_u64().expect("ops") > 0, "nothing measured before the interrupt: {w}");
    let per_agent: u64 =
        w["per_agent"].as_array().expect("per_agent").iter().map(|a| a["ops"].as_u64().expect("ops")).sum();
    assert_eq!(per_agent, w["ops"].as_u64().expect("ops"));
    sb.assert_clean();
}
