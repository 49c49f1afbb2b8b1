//! `fetchbench compare` through the real binary, on a real run's result and a copy of it made
//! worse (or better) in known ways.

mod common;

use std::path::PathBuf;

use common::{Sandbox, read_json, seed_run, stderr, stdout};
use serde_json::{Value, json};

/// The seed run's result.json, and a copy with `change` applied, both written into `sb`.
fn pair(sb: &Sandbox, change: impl FnOnce(&mut Value)) -> (PathBuf, PathBuf) {
    let base = read_json(&seed_run().dir.join("result.json"));
    let mut new = base.clone();
    change(&mut new);
    (sb.write("base.json", &base.to_string()), sb.write("new.json", &new.to_string()))
}

/// `fetchbench compare BASE NEW`, which must exit 0 (a changed setup is a note, not a failure),
/// and the notes it prints after the table on what the runs were set up to do differently.
fn setup_notes(sb: &Sandbox, base: &std::path::Path, new: &std::path::Path) -> Vec<String> {
    let o = sb.run(&["compare", base.to_str().expect("utf-8"), new.to_str().expect("utf-8")]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "a note, not a failure:\n{out}");
    out.lines().skip_while(|l| !l.contains("set up differently")).skip(1).map(str::to_owned).collect()
}

fn scale(v: &mut Value, factor: f64) {
    *v = json!(v.as_f64().expect("number") * factor);
}

/// The table row of `workload` and `metric`, split on whitespace after the metric label.
fn row<'a>(out: &'a str, workload: &str, metric: &str) -> Vec<&'a str> {
    let prefix = |l: &&str| l.starts_with(workload) && l[workload.len()..].trim_start().starts_with(metric);
    let line = out.lines().find(prefix).unwrap_or_else(|| panic!("no {workload} {metric} row in:\n{out}"));
    line[workload.len()..].trim_start()[metric.len()..].split_whitespace().collect()
}

#[test]
fn a_worse_p99_is_marked_and_fails_the_gate() {
    let sb = Sandbox::new();
    let (base, new) = pair(&sb, |r| {
        let redis = &mut r["workloads"][0];
        scale(&mut redis["latency_us"]["p99"], 1.5);
        scale(&mut redis["latency_us"]["p50"], 0.8);
        scale(&mut redis["throughput_ops_s"], 0.5);
        redis["errors"] = json!(3);
    });
    let (b, n) = (base.to_str().expect("utf-8"), new.to_str().expect("utf-8"));

    let o = sb.run(&["compare", b, n]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "no limit, no failure:\n{out}{}", stderr(&o));
    let p99 = row(&out, "redis-get", "p99 µs");
    assert_eq!(p99[2..], ["+50.0%", "worse"], "{out}");
    let base_p99: f64 = p99[0].parse().expect("number");
    let new_p99: f64 = p99[1].parse().expect("number");
    assert!((new_p99 / base_p99 - 1.5).abs() < 0.01, "{out}");
    assert_eq!(row(&out, "redis-get", "p50 µs")[2..], ["-20.0%", "better"], "{out}");
    assert_eq!(row(&out, "redis-get", "ops/s")[2..], ["-50.0%", "worse"], "{out}");
    assert_eq!(row(&out, "redis-get", "errors")[..], ["0", "3", "new", "worse"], "{out}");
    assert_eq!(row(&out, "redis-get", "p99.9 µs")[2..], ["+0.0%", "same"], "{out}");
    for metric in ["p50 µs", "p99 µs", "p99.9 µs", "ops/s", "errors"] {
        assert_eq!(row(&out, "s3-get", metric).last(), Some(&"same"), "{out}");
    }

    let o = sb.run(&["compare", b, n, "--fail-if-worse", "10"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL:")).collect();
    assert_eq!(fails, ["FAIL: redis-get p99 got worse by 50.0%, more than the 10% allowed"], "{out}");

    // Within the limit: throughput and errors got worse too, but only percentiles gate.
    let o = sb.run(&["compare", b, n, "--fail-if-worse", "60"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("ok: no percentile got more than 60% worse"), "{}", stdout(&o));
}

#[test]
fn a_run_against_itself_is_the_same_everywhere() {
    let sb = Sandbox::new();
    let (base, _) = pair(&sb, |_| {});
    let b = base.to_str().expect("utf-8");
    let o = sb.run(&["compare", b, b, "--fail-if-worse", "0"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let rows: Vec<&str> =
        out.lines().filter(|l| l.starts_with("redis-get") || l.starts_with("s3-get")).collect();
    assert_eq!(rows.len(), 2 * 5, "{out}");
    assert!(rows.iter().all(|l| l.ends_with("same")), "{out}");
    assert!(!out.contains("set up differently"), "{out}");
}

#[test]
fn a_different_setup_is_named_beside_the_figures() {
    let sb = Sandbox::new();
    let (base, new) = pair(&sb, |r| {
        r["fleet"] = json!("aws");
        r["scenario"]["dataset"]["objects"] = json!(500);
        r["scenario"]["workloads"][0]["concurrency"] = json!(8);
        r["scenario"]["workloads"][1]["rate"] = json!(250.0);
    });
    assert_eq!(
        setup_notes(&sb, &base, &new),
        [
            "  fleet: local -> aws",
            "  objects: 200 -> 500",
            "  redis-get concurrency: 1 -> 8",
            "  s3-get rate: closed loop -> 250 ops/s per agent",
        ]
    );
}

#[test]
fn a_change_in_how_the_agents_idle_is_named_only_when_both_runs_say() {
    let sb = Sandbox::new();
    let idle = |r: &mut Value, text: Option<&str>| {
        for a in r["agents"].as_array_mut().expect("agents") {
            let a = a.as_object_mut().expect("an agent");
            match text {
                Some(t) => a.insert("cpu_idle".into(), json!(t)),
                None => a.remove("cpu_idle"),
            };
        }
    };
    let mut base = read_json(&seed_run().dir.join("result.json"));
    idle(&mut base, Some("haltpoll (guest_halt_poll_ns=0)"));
    let mut new = base.clone();
    idle(&mut new, Some("haltpoll (guest_halt_poll_ns=200000)"));
    let b = sb.write("base.json", &base.to_string());
    let n = sb.write("new.json", &new.to_string());
    assert_eq!(
        setup_notes(&sb, &b, &n),
        ["  agents' cpu idle: haltpoll (guest_halt_poll_ns=0) -> haltpoll (guest_halt_poll_ns=200000)"]
    );

    // A result from before the field says nothing either way.
    idle(&mut base, None);
    let old = sb.write("old.json", &base.to_string());
    assert_eq!(setup_notes(&sb, &old, &n), Vec::<String>::new());
}

/// The seed run's result as if it had run in rounds (`run --repeat`), round r's figures scaled
/// by `factors(workload, r)` (p50, p99 and ops/s alike).
fn in_rounds(result: &Value, rounds: usize, factors: impl Fn(&str, usize) -> f64) -> Value {
    let mut r = result.clone();
    let (mut workloads, mut settings) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        for (w, setting) in result["workloads"]
            .as_array()
            .expect("workloads")
            .iter()
            .zip(result["scenario"]["workloads"].as_array().expect("scenario workloads"))
        {
            let name = w["name"].as_str().expect("name");
            let factor = factors(name, round);
            let (mut w, mut setting) = (w.clone(), setting.clone());
            scale(&mut w["latency_us"]["p50"], factor);
            scale(&mut w["latency_us"]["p99"], factor);
            scale(&mut w["throughput_ops_s"], factor);
            w["name"] = json!(format!("{name}-{round}"));
            setting["name"] = w["name"].clone();
            workloads.push(w);
            settings.push(setting);
        }
    }
    r["workloads"] = json!(workloads);
    r["scenario"]["workloads"] = json!(settings);
    r["scenario"]["rounds"] = json!(rounds);
    r
}

#[test]
fn runs_of_several_rounds_are_compared_by_their_medians_and_spreads() {
    let sb = Sandbox::new();
    let seed = read_json(&seed_run().dir.join("result.json"));
    // Redis: 1.0, 1.1, 0.9 of the seed's figures against 1.05, 1.2, 1.0: the median 5% higher,
    // inside both ranges. S3: the same in both runs against twice as slow in every round.
    let base = in_rounds(&seed, 3, |_, r| [1.0, 1.1, 0.9][r - 1]);
    let new = in_rounds(&seed, 3, |w, r| if w == "redis-get" { [1.05, 1.2, 1.0][r - 1] } else { 2.0 });
    let (b, n) = (sb.write("base.json", &base.to_string()), sb.write("new.json", &new.to_string()));
    let o =
        sb.run(&["compare", b.to_str().expect("utf-8"), n.to_str().expect("utf-8"), "--fail-if-worse", "10"]);
    let out = stdout(&o);
    assert!(out.contains("medians over the rounds (base 3, new 3)"), "{out}");
    let p50 = row(&out, "redis-get", "p50 µs");
    let seed_p50 = seed["workloads"][0]["latency_us"]["p50"].as_f64().expect("p50");
    assert_eq!(p50[0], format!("{seed_p50:.1}"), "the base's median round: {out}");
    assert_eq!(p50[2..], ["+5.0%", "worse", "(ranges", "overlap)"], "{out}");
    assert_eq!(row(&out, "redis-get", "ops/s")[2..], ["+5.0%", "better", "(ranges", "overlap)"], "{out}");
    assert_eq!(row(&out, "s3-get", "p99 µs")[2..], ["+100.0%", "worse"], "apart: {out}");
    // The gate goes by the medians: S3's doubled p50 and p99 fail it, Redis's 5% does not.
    let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL:")).collect();
    assert_eq!(
        fails,
        [
            "FAIL: s3-get p50 got worse by 100.0%, more than the 10% allowed",
            "FAIL: s3-get p99 got worse by 100.0%, more than the 10% allowed"
        ],
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1), "{out}");

    // A single run against rounds of it: the workloads still match, and the rounds are named.
    let single = sb.write("single.json", &seed.to_string());
    assert_eq!(setup_notes(&sb, &single, &b), ["  rounds: 1 -> 3"]);
}

#[test]
fn workloads_only_in_one_run_are_listed() {
    let sb = Sandbox::new();
    let (base, new) = pair(&sb, |r| {
        r["workloads"][1]["name"] = json!("s3-get-renamed");
    });
    let o = sb.run(&["compare", base.to_str().expect("utf-8"), new.to_str().expect("utf-8")]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("only in base: s3-get\n") && out.contains("only in new: s3-get-renamed\n"), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("s3-get ")), "{out}");
}

#[test]
fn bad_input_exits_2() {
    let sb = Sandbox::new();
    let (base, _) = pair(&sb, |_| {});
    let b = base.to_str().expect("utf-8");
    let not_a_result = sb.write("x.json", "[1, 2, 3]");
    for (args, part) in [
        (vec!["compare", b, "nope.json"], "nope.json"),
        (vec!["compare", not_a_result.to_str().expect("utf-8"), b], "is not a fetchbench result"),
        (vec!["compare", b, b, "--fail-if-worse=-5"], "--fail-if-worse \"-5\": must be a percentage"),
        (vec!["compare", b, b, "--fail-if-worse", "lots"], "--fail-if-worse"),
        (vec!["compare", b], "required arguments were not provided: <NEW_JSON>"),
    ] {
        let o = sb.run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(part), "{args:?}: {part:?} missing from {}", stderr(&o));
    }
}

/// A gate with nothing to compare (a sweep against a plain run, a rename) fails instead of
/// passing: a green CI job must mean a percentile was checked.
#[test]
fn the_gate_fails_when_no_workload_is_in_both_runs() {
    let sb = Sandbox::new();
    let (base, new) = pair(&sb, |r| {
        for w in r["workloads"].as_array_mut().expect("workloads") {
            let swept = format!("{}-c1", w["name"].as_str().expect("name"));
            w["name"] = json!(swept);
        }
    });
    let (b, n) = (base.to_str().expect("utf-8"), new.to_str().expect("utf-8"));
    let page_path = sb.path().join("compare.html");
    let o = sb.run(&["compare", b, n, "--fail-if-worse", "10", "--html", page_path.to_str().expect("utf-8")]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(out.contains("only in new: redis-get-c1, s3-get-c1"), "{out}");
    assert!(out.contains("FAIL: no workload is in both runs, so nothing was compared"), "{out}");
    assert!(!out.contains("ok: no percentile"), "{out}");
    let page = std::fs::read_to_string(&page_path).expect("the page");
    assert!(page.contains("<strong>Failed: no workload is in both runs"), "{page}");
    // Without a gate the same comparison is a report, not a failure.
    assert_eq!(sb.run(&["compare", b, n]).status.code(), Some(0));
}

#[test]
fn the_html_page_holds_the_table_the_verdict_and_both_runs_curves() {
    let sb = Sandbox::new();
    let (base, new) = pair(&sb, |r| {
        let redis = &mut r["workloads"][0];
        scale(&mut redis["latency_us"]["p99"], 1.5);
        r["scenario"]["workloads"][0]["concurrency"] = json!(8);
    });
    let (b, n) = (base.to_str().expect("utf-8"), new.to_str().expect("utf-8"));
    let page_path = sb.path().join("compare.html");
    let page_arg = page_path.to_str().expect("utf-8");
    let o = sb.run(&["compare", b, n, "--fail-if-worse", "10", "--html", page_arg]);
    let out = stdout(&o);
    // The page is written before the gate fails, so a CI job can keep it.
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(out.contains(&format!("page: {page_arg}")), "{out}");
    let page = std::fs::read_to_string(&page_path).expect("the page");
    assert!(page.contains("<strong>Failed: 1 percentile got more than 10% worse.</strong>"), "{page}");
    assert!(page.contains("<li>redis-get p99 got worse by 50.0%, more than the 10% allowed</li>"), "{page}");
    assert!(page.contains("<li>redis-get concurrency: 1 -&gt; 8</li>"), "the setup change: {page}");
    let row = |workload: &str, metric: &str| {
        let start = format!("data-workload=\"{workload}\" data-metric=\"{metric}\">");
        let at = page.find(&start).unwrap_or_else(|| panic!("no {workload} {metric} row"));
        let class =
            page[..at].rsplit("<tr class=\"").next().expect("a row").split('"').next().expect("a class");
        let end = page[at..].find("</tr>").expect("the row's end");
        (class.to_owned(), page[at..at + end].to_owned())
    };
    let (class, cells) = row("redis-get", "p99");
    assert_eq!(class, "worse", "{cells}");
    assert!(cells.contains("<td>+50.0%</td>"), "{cells}");
    assert_eq!(row("s3-get", "p50").0, "same");
    // One chart per workload, each with the base's and the new run's curve.
    for (i, workload) in ["redis-get", "s3-get"].iter().enumerate() {
        let svg = format!("<svg id=\"percentiles-{i}\" class=\"chart\" data-workload=\"{workload}\"");
        let at = page.find(&svg).unwrap_or_else(|| panic!("no chart {svg}"));
        let chart = &page[at..at + page[at..].find("</svg>").expect("the chart's end")];
        for series in ["base", "new"] {
            assert!(chart.contains(&format!("data-series=\"{series}\"")), "no {series} curve on {workload}");
        }
    }

    // As a browser shows it: nothing fetched but the page, and both curves drawn across each chart.
    let script = "[...document.querySelectorAll('#percentiles svg.chart')].map(svg => ({ \
        workload: svg.dataset.workload, \
        lines: [...svg.querySelectorAll('g.series')].map(g => [g.dataset.series, g.getBBox().width]) }))";
    let visit = common::chromium::visit(&page_path, script);
    assert!(visit.errors.is_empty(), "console errors: {:#?}", visit.errors);
    assert_eq!(visit.requests.len(), 1, "the page fetched more than itself: {:?}", visit.requests);
    let charts = visit.value.as_array().expect("charts");
    assert_eq!(charts.len(), 2, "{charts:?}");
    for chart in charts {
        let lines = chart["lines"].as_array().expect("lines");
        let names: Vec<&str> = lines.iter().map(|l| l[0].as_str().expect("a name")).collect();
        assert_eq!(names, ["base", "new"], "{chart}");
        assert!(
            lines.iter().all(|l| l[1].as_f64().expect("a width") > 300.0),
            "a curve not drawn across: {chart}"
        );
    }

    let o =
        sb.run(&["compare", b, n, "--html", sb.path().join("no/such/dir/c.html").to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot write") && stderr(&o).contains("no/such/dir/c.html"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_run_folder_stands_for_its_result_json() {
    let sb = Sandbox::new();
    let dir = sb.path().join("run");
    std::fs::create_dir(&dir).expect("a run folder");
    std::fs::copy(seed_run().dir.join("result.json"), dir.join("result.json")).expect("copy");
    let d = dir.to_str().expect("utf-8");
    let o = sb.run(&["compare", d, d, "--fail-if-worse", "0"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert_eq!(row(&out, "redis-get", "p50 µs").last(), Some(&"same"), "{out}");

    let o = sb.run(&["report", d]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(dir.join("report.html").is_file() && dir.join("summary.csv").is_file(), "written beside it");

    // A folder without a result names the file it looked for.
    let empty = sb.path().join("empty");
    std::fs::create_dir(&empty).expect("a folder");
    let o = sb.run(&["compare", d, empty.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let wanted = format!("cannot read {}", empty.join("result.json").display());
    assert!(stderr(&o).contains(&wanted), "{}", stderr(&o));
}

/// A workload the new run never measured (a run stopped before it started: 0 ops, 0.0 µs
/// percentiles) is not "100% better": the table says "not run" and the gate fails naming it.
#[test]
fn a_workload_that_never_ran_fails_the_gate_instead_of_looking_better() {
    let sb = Sandbox::new();
    let (base, new) = pair(&sb, |r| {
        let s3 = &mut r["workloads"][1];
        for field in ["ops", "errors", "throughput_ops_s", "achieved_rate_ops_s"] {
            s3[field] = json!(0);
        }
        for p in ["min", "mean", "p50", "p90", "p99", "p999", "max"] {
            s3["latency_us"][p] = json!(0.0);
        }
    });
    let (b, n) = (base.to_str().expect("utf-8"), new.to_str().expect("utf-8"));
    let o = sb.run(&["compare", b, n, "--fail-if-worse", "10"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let p50 = row(&out, "s3-get", "p50 µs");
    assert_eq!(p50[1..], ["not", "run", "-", "not", "run"], "{out}");
    assert!(!out.lines().any(|l| l.starts_with("s3-get") && l.contains("better")), "{out}");
    let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL:")).collect();
    assert_eq!(fails, ["FAIL: s3-get measured no request in the new run (not run)"], "{out}");
    // The other way round too: a base that never ran is no yardstick.
    let o = sb.run(&["compare", n, b, "--fail-if-worse", "10"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("FAIL: s3-get measured no request in the base run (not run)"),
        "{}",
        stdout(&o)
    );
}

/// An interrupted run, or a workload whose client was the bottleneck, is a failed measurement
/// for the gate, even with figures that look the same.
#[test]
fn a_partial_or_client_bound_run_fails_the_gate() {
    let sb = Sandbox::new();
    let (base, partial) = pair(&sb, |r| r["partial"] = json!(true));
    let o = sb.run(&[
        "compare",
        base.to_str().expect("utf-8"),
        partial.to_str().expect("utf-8"),
        "--fail-if-worse",
        "10",
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL: the new run was interrupted (partial) during s3-get, so its figures"),
        "{out}"
    );

    let bound = sb.write("bound.json", &{
        let mut r = read_json(&base);
        r["workloads"][0]["client_bound"] = json!(true);
        r["workloads"][0]["client_bound_reason"] = json!("sent 40% of the 500000 ops/s asked");
        r.to_string()
    });
    let o = sb.run(&[
        "compare",
        base.to_str().expect("utf-8"),
        bound.to_str().expect("utf-8"),
        "--fail-if-worse",
        "10",
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL:")).collect();
    assert_eq!(
        fails,
        [
            "FAIL: redis-get was client-bound in the new run (sent 40% of the 500000 ops/s asked): its figures are \
          the client's, not the target's"
        ],
        "{out}"
    );
}

/// A percentile worse than the limit whose rounds' ranges overlap: the gate's line says so, so
/// the table's "ranges overlap" and the FAIL do not contradict each other.
#[test]
fn a_failing_line_whose_ranges_overlap_says_so() {
    let sb = Sandbox::new();
    let seed = read_json(&seed_run().dir.join("result.json"));
    let base = in_rounds(&seed, 3, |w, r| if w == "redis-get" { [1.0, 1.5, 0.8][r - 1] } else { 1.0 });
    let new = in_rounds(&seed, 3, |w, r| if w == "redis-get" { [1.2, 1.3, 1.6][r - 1] } else { 1.0 });
    let (b, n) = (sb.write("base.json", &base.to_string()), sb.write("new.json", &new.to_string()));
    let o =
        sb.run(&["compare", b.to_str().expect("utf-8"), n.to_str().expect("utf-8"), "--fail-if-worse", "10"]);
    let out = stdout(&o);
    assert_eq!(row(&out, "redis-get", "p99 µs")[2..], ["+30.0%", "worse", "(ranges", "overlap)"], "{out}");
    assert!(
        out.contains(
            "FAIL: redis-get p99 got worse by 30.0%, more than the 10% allowed, though the two runs' ranges over \
             their rounds overlap"
        ),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1), "{out}");
}

/// The Redis itself is part of the setup: a run against a local redis-server and one against a
/// user's cluster over TLS with AUTH are not the same measurement, and compare says so.
#[test]
fn a_different_redis_target_is_named() {
    let sb = Sandbox::new();
    let (base, new) = pair(&sb, |r| {
        r["targets"]["redis_target"] =
            json!({"source": "user", "auth": true, "tls": true, "cluster": true, "shards": 3});
    });
    let recorded = &read_json(&base)["targets"]["redis_target"];
    assert_eq!(
        *recorded,
        json!({"source": "local redis-server", "auth": false, "tls": false, "cluster": false}),
        "the run records its Redis"
    );
    assert_eq!(
        setup_notes(&sb, &base, &new),
        [
            "  redis target: local redis-server -> user",
            "  redis auth: off -> on",
            "  redis tls: off -> on",
            "  redis cluster: off (one node) -> on, 3 shards",
        ]
    );
}
