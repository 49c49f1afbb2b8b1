//! The verdict of a scenario with a `[goal]`: each store the run measured judged against the goal
//! and priced per month at its rate from the price table, and the cheapest that met it; a
//! `--prices` file reprices it. Real agents, the local redis-server and the embedded S3 endpoint.

mod common;

use common::*;

/// Hours in AWS's billing month.
const MONTH_H: f64 = 730.0;

const SCENARIO: &str = r#"name = "verdict"
agents = 1
[goal]
reads_per_second = 100
p99_ms = 2000
[dataset]
objects = 50
size = 300
seed = 4
cache = "cold"
[[workload]]
name = "s3"
target = "s3"
rate = 100.0
concurrency = 4
warmup = "1s"
duration = "3s"
keys = "uniform"
[[workload]]
name = "express"
target = "s3-express"
rate = 100.0
concurrency = 4
warmup = "1s"
duration = "3s"
keys = "uniform"
[[workload]]
name = "ca"
target = "cache-aside"
rate = 100.0
concurrency = 4
warmup = "1s"
duration = "3s"
keys = "uniform"
[[workload]]
name = "r"
target = "redis"
rate = 50.0
concurrency = 4
duration = "2s"
keys = "uniform"
"#;

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

use common::verdict_alternative as alternative;

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() < 1e-6 * want.max(1.0), "{what}: got {got}, want {want}");
}

#[test]
fn a_goal_ends_the_run_with_each_store_judged_and_priced_and_a_price_file_reprices_it() {
    let sb = Sandbox::new();
    let path = sb.write("verdict.toml", SCENARIO);
    let out = sb.path().join("out");
    let o = sb.run(&["run", path.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
    let printed = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "stdout:\n{printed}\nstderr:\n{}", stderr(&o));
    let result = read_json(&out.join("result.json"));
    let verdict = &result["verdict"];
    assert_eq!(verdict["goal"]["reads_per_second"], 100.0);
    assert_eq!(verdict["prices_origin"], "built-in table");

    // S3 Standard at the goal's 100 reads/s: 100 * 3,600 * 730 GETs at $0.0004 per 1,000.
    let s3 = alternative(verdict, "s3");
    assert_eq!(s3["store"], "S3 Standard");
    close(f(&s3["usd_per_month"]), 100.0 * 3600.0 * MONTH_H * 0.0004 / 1000.0, "s3 a month");
    close(f(&s3["usd_per_million_reads"]), 0.4, "s3 per million");
    // S3 Express: $0.00003 per 1,000 GETs and 300 bytes each at $0.0006 per GB (2^30 bytes).
    let express = alternative(verdict, "s3-express");
    assert_eq!(express["store"], "S3 Express One Zone");
    let per_read = 0.00003 / 1000.0 + 300.0 / (1u64 << 30) as f64 * 0.0006;
    close(f(&express["usd_per_month"]), 100.0 * 3600.0 * MONTH_H * per_read, "s3-express a month");
    // Cache-aside: one cache.t4g.micro ($0.016/h) and the S3 GETs of its measured misses.
    let ca = alternative(verdict, "cache-aside");
    let ca_w =
        result["workloads"].as_array().expect("workloads").iter().find(|w| w["name"] == "ca").expect("ca");
    let hit = f(&ca_w["steady_hit_ratio"]);
    assert_eq!(f(&ca["hit_ratio"]), hit);
    close(f(&ca["usd_per_month"]), 0.016 * MONTH_H + (1.0 - hit) * 105.12, "cache-aside a month");
    assert_eq!(ca["store"], "ElastiCache Redis OSS, 1 x cache.t4g.micro in front of S3 Standard");
    let sources: Vec<&str> =
        ca["lines"].as_array().expect("lines").iter().filter_map(|l| l["source"].as_str()).collect();
    assert!(sources.iter().all(|s| s.contains("aws.amazon.com")), "{sources:?}");

    // Each outcome agrees with the workload's own figures: met where it ran at 99% of the goal's
    // rate or more with its p99 within 2,000 ms and no errors.
    for (name, alt) in [("s3", s3), ("express", express), ("ca", ca)] {
        let w = result["workloads"]
            .as_array()
            .expect("workloads")
            .iter()
            .find(|w| w["name"] == name)
            .expect("ran");
        let reached = f(&w["throughput_ops_s"]).max(f(&w["achieved_rate_ops_s"])) >= 99.0;
        let within = f(&w["latency_us"]["p99"]) <= 2_000_000.0 && w["errors"] == 0;
        let want = match (reached, within) {
            (true, true) => "met",
            (true, false) => "missed",
            (false, _) => "not_shown",
        };
        assert_eq!(alt["outcome"], want, "{name}: {w}");
    }
    // The Redis workload ran at half the goal's rate: nothing is shown about the goal's.
    let r = alternative(verdict, "redis");
    assert_eq!(r["outcome"], "not_shown");
    assert!(r["reason"].as_str().expect("reason").starts_with("the run reached 50 reads/s at most"), "{r}");
    // It would be the cheapest, but the run did not show it meets the goal: the cheapest is the
    // cheapest of those that met it (S3 Express at $7.93 a month, where it met it).
    let met: Vec<(&str, f64)> = [s3, express, ca, r]
        .iter()
        .filter(|a| a["outcome"] == "met")
        .map(|a| (a["alternative"].as_str().expect("name"), f(&a["usd_per_month"])))
        .collect();
    let cheapest = met.iter().min_by(|x, y| x.1.total_cmp(&y.1)).map(|(n, _)| *n);
    assert_eq!(verdict["cheapest_met"].as_str(), cheapest, "{verdict}");
    match cheapest {
        Some(name) => {
            assert!(printed.contains(&format!("cheapest that met the goal: {name} (")), "{printed}")
        }
        None => assert!(printed.contains("no alternative measured met the goal"), "{printed}"),
    }
    assert!(printed.contains("verdict: 100 reads/s with p99 at most 2000 ms"), "{printed}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    for id in [
        "id=\"verdict\"",
        "id=\"verdict-cost-by-rate\"",
        "id=\"verdict-cost-by-hit-ratio\"",
        "id=\"cheapest\"",
    ] {
        assert!(html.contains(id), "report.html lacks {id}");
    }

    // Dearer GETs and a dearer node: S3 now costs $262.80 a month at the goal's rate, less than
    // the node's $365 (and more than S3 Express's $7.93, whose prices the file leaves).
    let prices = sb.write(
        "prices.toml",
        "[s3_standard]\nget_per_1000 = { usd = 0.001 }\n[nodes.redis]\n\"cache.t4g.micro\" = { usd = 0.5, as_of = \"2026-12-01\" }\n",
    );
    let html = sb.path().join("repriced.html");
    let o = sb.run(&[
        "report",
        out.join("result.json").to_str().expect("utf-8"),
        "--prices",
        prices.to_str().expect("utf-8"),
        "--html",
        html.to_str().expect("utf-8"),
    ]);
    let repriced = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{repriced}\n{}", stderr(&o));
    assert!(repriced.contains("$262.80 a month at the goal's rate: S3 Standard"), "{repriced}");
    assert!(repriced.contains(&format!("priced from the price file {}", prices.display())), "{repriced}");
    if s3["outcome"] == "met" && express["outcome"] != "met" {
        assert!(
            repriced.contains("cheapest that met the goal: s3 (S3 Standard), $262.80 a month"),
            "{repriced}"
        );
    }
    let page = std::fs::read_to_string(&html).expect("repriced.html");
    assert!(page.contains(&prices.display().to_string()), "the page cites the price file");

    // A price file that is not one: exit 2 and one line naming the file and the problem.
    let bad = sb.write("bad.toml", "[s3_standard]\nget_per_1000 = { usd = -3.0 }\n");
    let o = sb.run(&["run", path.to_str().expect("utf-8"), "--prices", bad.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--prices")
            && err.contains("bad.toml")
            && err.contains("s3_standard.get_per_1000 = -3 is not a price"),
        "{err}"
    );

    // Without a goal, no verdict: the same result with its goal taken out, repriced.
    let mut no_goal = result.clone();
    no_goal["scenario"].as_object_mut().expect("scenario").remove("goal");
    let plain = sb.write("plain.json", &no_goal.to_string());
    let o = sb.run(&["report", plain.to_str().expect("utf-8"), "--prices", prices.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).contains("verdict:"), "{}", stdout(&o));
    sb.assert_clean();
}
