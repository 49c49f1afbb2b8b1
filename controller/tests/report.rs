//! What a run leaves beside result.json (report.html, the .hgrm files, summary.csv,
//! timeseries.csv, the cost) and `fetchbench report`, checked through the real binaries and a
//! real headless Chromium.

mod common;

use std::path::{Path, PathBuf};

use common::chromium::{self, Visit};
use common::{Sandbox, read_json, seed_run, stderr, stdout};
use serde_json::{Value, json};

/// What the page shows, read from its DOM: every chart line with its point count and drawn size,
/// the summary rows, the warnings and the break-even sentence.
const PAGE_SCRIPT: &str = r#"(() => {
  const line = g => {
    const poly = g.querySelector('polyline');
    const box = g.getBBox();
    const points = poly ? poly.points.numberOfItems : g.querySelectorAll('circle').length;
    return { name: g.dataset.series, points,
             width: box.width, height: box.height };
  };
  return {
    percentiles: [...document.querySelectorAll('#latency-percentiles g.series')].map(line),
    charts: [...document.querySelectorAll('#timeseries svg.chart')].map(svg => ({
      id: svg.id, workload: svg.dataset.workload,
      series: [...svg.querySelectorAll('g.series')].map(line) })),
    summary: [...document.querySelectorAll('#summary tr[data-workload]')].map(tr => tr.dataset.workload),
    agentTables: [...document.querySelectorAll('#agents table[data-workload]')].map(t => t.dataset.workload),
    warnings: [...document.querySelectorAll('#warnings .warning')].map(d => d.textContent),
    breakEven: (document.querySelector('#break-even') || {}).textContent || null,
    scenario: (document.querySelector('#scenario') || {}).textContent || '',
  };
})()"#;

fn workload_names(result: &Value) -> Vec<String> {
    result["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .map(|w| w["name"].as_str().expect("name").to_owned())
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Open `page` in Chromium and check what every report must satisfy: no console error, no
/// request but the file itself, a full-page screenshot, and for every workload of `result` its
/// line on the percentile chart, its summary row and its per-agent table.
fn visit_report(page: &Path, result: &Value, screenshot_to: &Path) -> Visit {
    let visit = chromium::visit(page, PAGE_SCRIPT);
    assert!(visit.errors.is_empty(), "console errors: {:#?}", visit.errors);
    let url = format!("file://{}", page.canonicalize().expect("exists").display());
    assert_eq!(visit.requests, [url], "the page fetched more than itself");
    std::fs::write(screenshot_to, &visit.screenshot).expect("write screenshot");
    let (width, height) = chromium::png_size(&visit.screenshot);
    assert_eq!(width, 1200);
    assert!(height > 900, "the screenshot is not the full page: {height} px");
    assert!(visit.screenshot.len() > 20_000, "a nearly blank screenshot: {} bytes", visit.screenshot.len());

    let v = &visit.value;
    for name in workload_names(result) {
        let line =
            v["percentiles"].as_array().expect("percentiles").iter().find(|l| l["name"] == name.as_str());
        let line = line.unwrap_or_else(|| panic!("no percentile line for {name}: {v}"));
        assert!(line["points"].as_u64().expect("points") >= 5, "{line}");
        assert!(f(&line["width"]) > 500.0, "the {name} line does not span the chart: {line}");
        assert!(v["summary"].as_array().expect("rows").iter().any(|r| r == name.as_str()), "{v}");
        assert!(v["agentTables"].as_array().expect("tables").iter().any(|r| r == name.as_str()), "{v}");
        assert!(v["scenario"].as_str().expect("text").contains(&name), "{v}");
    }
    let break_even = v["breakEven"].as_str().expect("a break-even sentence");
    assert!(break_even.contains("pays for itself above"), "{break_even}");
    visit
}

#[test]
fn a_run_writes_report_exports_and_cost_beside_result_json() {
    let run = seed_run();
    let r = read_json(&run.dir.join("result.json"));
    for file in ["report.html", "redis-get.hgrm", "s3-get.hgrm", "summary.csv", "timeseries.csv"] {
        assert!(run.dir.join(file).is_file(), "{file} was not written");
    }
    assert!(
        run.stdout.contains(&format!("report: {}", run.dir.join("report.html").display())),
        "{}",
        run.stdout
    );

    // Each agent says how its machine idles a core (this machine: one sysfs to read), over gRPC
    // into result.json and onto the page's agents table.
    let html = std::fs::read_to_string(run.dir.join("report.html")).expect("report.html");
    assert!(html.contains("<th class=\"name\">cpu idle</th>"), "no cpu idle column");
    let driver = std::fs::read_to_string("/sys/devices/system/cpu/cpuidle/current_driver")
        .map(|d| d.trim().to_owned())
        .unwrap_or_default();
    for a in r["agents"].as_array().expect("agents") {
        let idle = a["cpu_idle"].as_str().expect("cpu_idle is a string");
        assert!(idle.starts_with(&driver) && idle.is_empty() == driver.is_empty(), "{idle:?} vs {driver:?}");
        if driver == "haltpoll" {
            assert!(idle.starts_with("haltpoll (guest_halt_poll_ns="), "{idle:?}");
        }
        let cell = if idle.is_empty() { "-" } else { idle };
        assert!(html.contains(&format!("<td class=\"name\">{cell}</td>")), "no {cell:?} cell");
    }

    // The cost: the default price table row, the break-even rate from it, and the cache's cost
    // per read from the measured throughput.
    let c = &r["cost"];
    assert_eq!(c["region"], "us-east-1");
    assert_eq!(c["cache_node_type"], "cache.t4g.micro");
    let (node_hour, get) = (f(&c["cache_node_usd_per_hour"]), f(&c["s3_get_usd_per_1000"]));
    let break_even = f(&c["break_even_reads_s"]);
    assert!((break_even - node_hour / 3600.0 / (get / 1000.0)).abs() < 1e-9, "{c}");
    assert!((f(&c["s3_usd_per_million_reads"]) - get * 1000.0).abs() < 1e-12);
    let redis = &c["workloads"][0];
    assert_eq!(redis["name"], "redis-get");
    let measured = f(&r["workloads"][0]["throughput_ops_s"]);
    let expected = node_hour / (measured * 3600.0) * 1e6;
    assert!((f(&redis["usd_per_million_reads"]) - expected).abs() <= expected * 1e-9, "{redis}");
    assert!(
        run.stdout.contains(&format!("the cache pays for itself above {break_even:.1} reads/s")),
        "{}",
        run.stdout
    );

    // summary.csv holds result.json's figures: a row over all agents, then one per agent.
    let csv = std::fs::read_to_string(run.dir.join("summary.csv")).expect("summary.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col =
        |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no {name} column"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2 * 3, "{csv}");
    for w in r["workloads"].as_array().expect("workloads") {
        let row =
            rows.iter().find(|row| row[0] == w["name"].as_str().expect("name") && row[col("agent")] == "all");
        let row = row.unwrap_or_else(|| panic!("no row for {}", w["name"]));
        assert_eq!(row[col("ops")], w["ops"].to_string());
        let p99: f64 = row[col("p99_us")].parse().expect("number");
        assert_eq!(p99, f(&w["latency_us"]["p99"]));
    }

    // timeseries.csv: a row per interval of every workload's time series, if there is one.
    let intervals: usize = r["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .map(|w| w["timeseries"].as_array().map_or(0, Vec::len))
        .sum();
    let ts = std::fs::read_to_string(run.dir.join("timeseries.csv")).expect("timeseries.csv");
    assert!(
        ts.starts_with("workload,phase,t_s,interval_s,ops,errors,ops_s,p50_us,p99_us,hit_ratio\n"),
        "{ts}"
    );
    assert_eq!(ts.lines().count(), 1 + intervals);
}

/// One row of an .hgrm: value (µs), percentile (0 to 1), total count.
type Row = (f64, f64, u64);

/// The rows and the `#[...]` footer fields of an .hgrm.
fn parse_hgrm(text: &str) -> (Vec<Row>, Vec<(String, f64)>) {
    let mut rows = Vec::new();
    let mut footer = Vec::new();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(header, ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]);
    for line in lines.filter(|l| !l.trim().is_empty()) {
        if let Some(inner) = line.strip_prefix("#[").and_then(|l| l.strip_suffix(']')) {
            for field in inner.split(',') {
                let (k, v) = field.split_once('=').expect("key = value");
                footer.push((k.trim().to_owned(), v.trim().parse().expect("number")));
            }
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(cols.len() == 4 || cols.len() == 3, "{line}");
        rows.push((
            cols[0].parse().expect("value"),
            cols[1].parse().expect("percentile"),
            cols[2].parse().expect("count"),
        ));
    }
    (rows, footer)
}

#[test]
fn hgrm_files_agree_with_result_json() {
    let run = seed_run();
    let r = read_json(&run.dir.join("result.json"));
    for w in r["workloads"].as_array().expect("workloads") {
        let name = w["name"].as_str().expect("name");
        let text = std::fs::read_to_string(run.dir.join(format!("{name}.hgrm"))).expect("hgrm");
        let (rows, footer) = parse_hgrm(&text);
        let footer = |k: &str| footer.iter().find(|(key, _)| key == k).unwrap_or_else(|| panic!("no {k}")).1;
        let l = &w["latency_us"];
        let ops = w["ops"].as_u64().expect("ops");
        assert_eq!(footer("Total count"), ops as f64);
        assert!(
            (footer("Max") - f(&l["max"])).abs() < 0.0005,
            "{name}: max {} vs {}",
            footer("Max"),
            l["max"]
        );
        assert!(
            (footer("Mean") - f(&l["mean"])).abs() < 0.0005,
            "{name}: mean {} vs {}",
            footer("Mean"),
            l["mean"]
        );
        let last = rows.last().expect("rows");
        assert_eq!((last.1, last.2), (1.0, ops), "{name}: the last row is 100% of the requests");
        assert!((last.0 - f(&l["max"])).abs() < 0.0005);
        assert!(
            rows.windows(2).all(|p| p[0].0 <= p[1].0 && p[0].1 < p[1].1 && p[0].2 <= p[1].2),
            "{name}: not monotonic"
        );
        // 50% and 90% are rows of their own and equal result.json's figures; 99% and 99.9% fall
        // between two rows, which must bracket result.json's figures.
        for (q, key) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p999")] {
            let want = f(&l[key]);
            if let Some(row) = rows.iter().find(|row| row.1 == q) {
                assert!((row.0 - want).abs() < 0.0005, "{name} {key}: .hgrm {} vs result.json {want}", row.0);
            }
            let below = rows.iter().rev().find(|row| row.1 < q).expect("a row below");
            let above = rows.iter().find(|row| row.1 >= q).expect("a row at or above");
            assert!(
                below.0 <= want + 0.0005 && want <= above.0 + 0.0005,
                "{name} {key} = {want}: rows {below:?} {above:?}"
            );
        }
        assert!(rows.iter().any(|row| row.1 == 0.5) && rows.iter().any(|row| row.1 == 0.9), "{text}");
    }
}

#[test]
fn report_html_opens_cleanly_in_headless_chromium() {
    let run = seed_run();
    let r = read_json(&run.dir.join("result.json"));
    let sb = Sandbox::new();
    let shot = sb.path().join("report.png");
    let visit = visit_report(&run.dir.join("report.html"), &r, &shot);
    // FETCHBENCH_SCREENSHOT_OUT=docs/report-example.png keeps the screenshot (how the one in docs/
    // was made).
    if let Some(out) = std::env::var_os("FETCHBENCH_SCREENSHOT_OUT") {
        std::fs::copy(&shot, PathBuf::from(out)).expect("copy the screenshot");
    }
    let v = &visit.value;
    assert_eq!(v["percentiles"].as_array().expect("lines").len(), 2);
    check_timeseries_charts(v, &r);
    // A clean run warns of nothing, unless an agent's CPU was saturated.
    let client_bound: Vec<String> = r["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .filter(|w| w["client_bound"] == true)
        .map(|w| format!("CLIENT-BOUND: {}: ", w["name"].as_str().expect("name")))
        .collect();
    let warnings: Vec<&str> =
        v["warnings"].as_array().expect("warnings").iter().map(|w| w.as_str().expect("text")).collect();
    assert_eq!(warnings.len(), client_bound.len(), "{warnings:?}");
    for (w, expected) in warnings.iter().zip(&client_bound) {
        assert!(w.starts_with(expected.as_str()), "{w}");
    }
}

/// Every workload with a time series has its throughput chart (a point per interval), its
/// latency chart (p99 and p50, a point per interval in which a request succeeded) and, when its
/// intervals have a hit ratio, a hit-ratio chart; no other chart is drawn. An interval shorter
/// than 0.1 s (a one-request warm-up) gives no rate and is not drawn, and a workload with fewer
/// than two intervals left is said in words, not charted.
fn check_timeseries_charts(v: &Value, result: &Value) {
    let mut expected = 0;
    for (i, w) in result["workloads"].as_array().expect("workloads").iter().enumerate() {
        let series: Vec<Value> = w["timeseries"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| f(&p["interval_s"]) >= 0.1)
            .collect();
        if series.len() < 2 {
            continue;
        }
        let name = w["name"].as_str().expect("name");
        let with_ops = series.iter().filter(|p| f(&p["p99_us"]) > 0.0).count() as u64;
        let with_hits = series.iter().filter(|p| p["hit_ratio"].is_number()).count() as u64;
        let mut charts = vec![
            (format!("throughput-{i}"), vec![("ops/s", series.len() as u64)]),
            (format!("latency-{i}"), vec![("p99", with_ops), ("p50", with_ops)]),
        ];
        if with_hits > 0 {
            charts.push((format!("hit-ratio-{i}"), vec![("hit ratio", with_hits)]));
        }
        expected += charts.len();
        for (id, lines) in charts {
            let chart = v["charts"].as_array().expect("charts").iter().find(|c| c["id"] == id.as_str());
            let chart = chart.unwrap_or_else(|| panic!("no chart {id}: {v}"));
            assert_eq!(chart["workload"], name);
            for (line, points) in lines {
                let s = chart["series"].as_array().expect("series").iter().find(|s| s["name"] == line);
                let s = s.unwrap_or_else(|| panic!("{id} has no {line} line: {chart}"));
                assert_eq!(s["points"], points, "{id} {line}: one point per interval");
                if points > 2 {
                    assert!(f(&s["width"]) > 200.0, "{id} {line} is not drawn across the chart: {s}");
                }
            }
        }
    }
    assert_eq!(v["charts"].as_array().expect("charts").len(), expected, "{v}");
}

/// A copy of the seed run's result with a longer time series (2 warm-up and 5 measured intervals
/// per workload, the last without a successful request), one workload client-bound, one agent
/// lost and a breached threshold.
fn with_timeseries_and_trouble(result: &Value) -> Value {
    let mut r = result.clone();
    for (i, w) in r["workloads"].as_array_mut().expect("workloads").iter_mut().enumerate() {
        let base = f(&w["latency_us"]["p50"]);
        let points: Vec<Value> = (0..7)
            .map(|k| {
                let (phase, t) = if k < 2 { ("warmup", k + 1) } else { ("measured", k - 1) };
                let ops = 900 + 40 * k as u64 + 100 * i as u64;
                let ops = if k == 6 { 0 } else { ops };
                let (p50, p99) = if k == 6 {
                    (0.0, 0.0)
                } else {
                    (base * (1.0 + 0.05 * k as f64), base * (3.0 + 0.5 * k as f64))
                };
                // The second workload's intervals carry a hit ratio, as a cache-aside one's do.
                let hit_ratio = if i == 1 { json!(0.1 * k as f64) } else { Value::Null };
                json!({"phase": phase, "t_s": t as f64, "interval_s": 1.0, "ops": ops, "errors": 0,
                       "ops_s": ops as f64, "p50_us": p50, "p99_us": p99, "hit_ratio": hit_ratio})
            })
            .collect();
        w["timeseries"] = json!(points);
    }
    r["workloads"][1]["client_bound"] = json!(true);
    r["agents"][1]["status"] = json!("lost");
    r["agents"][1]["error"] = json!("unavailable: connection reset");
    r["degraded"] = json!(true);
    r["thresholds"] = json!([
        {"key": "redis-get.p99_us", "limit": 1.0, "value": 250.5, "bound": "max", "passed": false},
        {"key": "s3-get.errors", "limit": 0.0, "value": 0.0, "bound": "max", "passed": true},
    ]);
    r
}

#[test]
fn report_command_charts_time_series_and_shows_warnings() {
    let run = seed_run();
    let sb = Sandbox::new();
    let r = with_timeseries_and_trouble(&read_json(&run.dir.join("result.json")));
    let input = sb.write("result.json", &serde_json::to_string_pretty(&r).expect("serialises"));
    let page = sb.path().join("elsewhere.html");
    let o = sb.run(&["report", input.to_str().expect("utf-8"), "--html", page.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The terminal summary again, as the run printed it, then what was written.
    let out = stdout(&o);
    let lines: Vec<&str> = out.trim().lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{}: scenario \"seed\", 2 local agents, started {}",
            input.display(),
            r["started_at"].as_str().expect("started_at")
        )
    );
    assert_eq!(lines.last(), Some(&format!("report: {}", page.display()).as_str()), "{out}");
    let p50 = format!("{:.1}", f(&r["workloads"][0]["latency_us"]["p50"]));
    assert!(lines.iter().any(|l| l.starts_with("redis-get ") && l.contains(&p50)), "{out}");
    assert!(out.contains("x faster than S3"), "{out}");
    assert!(out.contains("DEGRADED: lost agent-1 (unavailable: connection reset)"), "{out}");
    assert!(out.contains("THRESHOLD BREACHED: redis-get.p99_us"), "{out}");
    assert!(!sb.path().join("report.html").exists(), "--html writes only the page it names");

    let shot = sb.path().join("report.png");
    let visit = visit_report(&page, &r, &shot);
    let v = &visit.value;
    check_timeseries_charts(v, &r);
    assert_eq!(v["charts"].as_array().expect("charts").len(), 5, "{v}");
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("CLIENT-BOUND: s3-get: "), "{warnings}");
    assert!(warnings.contains("DEGRADED: lost agent-1 (unavailable: connection reset)"), "{warnings}");
    assert!(
        warnings.contains("THRESHOLD BREACHED: redis-get.p99_us = 250.5, above the limit 1"),
        "{warnings}"
    );
    assert!(!warnings.contains("s3-get.errors"), "{warnings}");

    // Without --html the page and the exports go beside the result file, time series included.
    let o = sb.run(&["report", input.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(sb.path().join("report.html").is_file() && sb.path().join("s3-get.hgrm").is_file());
    let ts = std::fs::read_to_string(sb.path().join("timeseries.csv")).expect("timeseries.csv");
    assert_eq!(ts.lines().count(), 1 + 2 * 7, "{ts}");
    assert!(ts.lines().nth(1).expect("a row").starts_with("redis-get,warmup,1,1,900,0,900,"), "{ts}");
}

#[test]
fn the_chromium_check_sees_errors_and_requests() {
    // The checks above pass only because the report is clean: a page that logs an error, throws
    // and fetches an image must be caught on all three counts.
    let sb = Sandbox::new();
    let page = sb.write(
        "bad.html",
        "<!DOCTYPE html><html><body><img src=\"http://127.0.0.1:9/pixel.png\">\
         <script>console.error('boom'); undefinedFunction();</script></body></html>",
    );
    let visit = chromium::visit(&page, "document.images.length");
    assert_eq!(visit.value, json!(1));
    let errors = visit.errors.join("\n");
    assert!(errors.contains("boom"), "{errors}");
    assert!(errors.contains("undefinedFunction"), "{errors}");
    assert!(visit.requests.iter().any(|u| u == "http://127.0.0.1:9/pixel.png"), "{:?}", visit.requests);
}

#[test]
fn report_reprices_for_another_node_type() {
    let run = seed_run();
    let sb = Sandbox::new();
    let page = sb.path().join("r7g.html");
    let input = run.dir.join("result.json");
    let args = ["report", input.to_str().expect("utf-8"), "--html", page.to_str().expect("utf-8")];
    let o = sb.run(&[&args[..], &["--cache-node-type", "cache.r7g.large", "--cache-nodes", "2"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).expect("page");
    // 2 x $0.219/h against $0.0004 per 1,000 GETs: 2 * 0.219 / 3600 / 4e-7 = 304.2 reads/s.
    assert!(html.contains("pays for itself above 304.2 reads/s"), "{html}");
    assert!(html.contains("2 &times; cache.r7g.large"), "{html}");
    // The terminal says the same, without opening the page.
    let out = stdout(&o);
    assert!(
        out.contains("2 x cache.r7g.large") && out.contains("pays for itself above 304.2 reads/s"),
        "{out}"
    );
}

#[test]
fn report_refuses_bad_input_with_exit_2() {
    let sb = Sandbox::new();
    let run = seed_run();
    let mut other_schema = read_json(&run.dir.join("result.json"));
    other_schema["schema"] = json!("fetchbench.result/v9");
    let cases = [
        (sb.path().join("missing.json"), "missing.json"),
        (sb.write("text.json", "not json at all"), "is not a fetchbench result"),
        (sb.write("other.json", "{\"hello\": 1}"), "is not a fetchbench result"),
        (sb.write("v9.json", &other_schema.to_string()), "fetchbench.result/v9"),
    ];
    for (path, part) in cases {
        let o = sb.run(&["report", path.to_str().expect("utf-8")]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", path.display());
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(part), "{part:?} missing from {err}");
    }
    let input = run.dir.join("result.json");
    let o = sb.run(&[
        "report",
        input.to_str().expect("utf-8"),
        "--html",
        "x.html",
        "--cache-node-type",
        "cache.x9.huge",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cache.x9.huge") && stderr(&o).contains("cache.t4g.micro"), "{}", stderr(&o));
}

/// A kept result whose histogram is damaged is no mistake on the command line: `report` and
/// `compare --html` fail with exit 1, naming the file and the workload, and write no page.
#[test]
fn a_damaged_histogram_is_a_runtime_failure_naming_file_and_workload() {
    let sb = Sandbox::new();
    let run = seed_run();
    let mut damaged = read_json(&run.dir.join("result.json"));
    let name = damaged["workloads"][1]["name"].as_str().expect("name").to_owned();
    damaged["workloads"][1]["histogram"] = json!("AAAAAAAA");
    let path = sb.write("damaged.json", &damaged.to_string());
    let path = path.to_str().expect("utf-8");
    let expected = format!("{path}: histogram of workload \"{name}\" does not decode");
    let page = sb.path().join("page.html");
    let page = page.to_str().expect("utf-8");
    let good = run.dir.join("result.json");
    for args in [
        vec!["report", path, "--html", page],
        vec!["compare", good.to_str().expect("utf-8"), path, "--html", page],
    ] {
        let o = sb.run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(&expected), "{expected:?} missing from {err}");
        assert!(!Path::new(page).exists(), "{args:?} wrote a page");
    }
}

/// A run stopped before `s3-get` started: the summary, summary.csv, report.html and the cost
/// lines say "not run" or leave its figures out, instead of zeros, and it has no `.hgrm`.
#[test]
fn a_workload_that_never_ran_has_no_figures_anywhere() {
    let run = seed_run();
    let sb = Sandbox::new();
    let mut r = read_json(&run.dir.join("result.json"));
    r["partial"] = json!(true);
    let s3 = &mut r["workloads"][1];
    for field in ["ops", "errors", "throughput_ops_s", "achieved_rate_ops_s", "duration_s"] {
        s3[field] = json!(0);
    }
    for p in ["min", "mean", "p50", "p90", "p99", "p999", "max"] {
        s3["latency_us"][p] = json!(0.0);
    }
    for a in s3["per_agent"].as_array_mut().expect("per agent") {
        for field in ["ops", "errors", "throughput_ops_s", "duration_s"] {
            a[field] = json!(0);
        }
        for p in ["min", "mean", "p50", "p90", "p99", "p999", "max"] {
            a["latency_us"][p] = json!(0.0);
        }
    }
    s3["timeseries"] = json!([]);
    // As the run priced it: at the 0 reads/s it measured.
    r["cost"]["workloads"][1]["reads_s"] = json!(0.0);
    r["cost"]["workloads"][1]["usd_per_hour"] = json!(0.0);
    let input = sb.write("result.json", &serde_json::to_string_pretty(&r).expect("serialises"));
    let o = sb.run(&["report", input.to_str().expect("utf-8")]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    let row =
        out.lines().find(|l| l.starts_with("s3-get ")).unwrap_or_else(|| panic!("no s3-get row: {out}"));
    assert_eq!(
        row.split_whitespace().skip(2).collect::<Vec<_>>(),
        ["0", "0", "not", "run", "-", "-", "-", "-", "-"]
    );
    assert!(!out.contains("S3 (s3-get)"), "no tutorial lines of zeros: {out}");
    let cost = out.lines().find(|l| l.trim_start().starts_with("s3-get") && l.contains("price"));
    assert_eq!(
        cost.map(str::trim),
        Some("s3-get     not run: no request measured, nothing to price"),
        "{out}"
    );

    let csv = std::fs::read_to_string(sb.path().join("summary.csv")).expect("summary.csv");
    let rows: Vec<&str> = csv.lines().filter(|l| l.starts_with("s3-get,")).collect();
    assert!(!rows.is_empty(), "{csv}");
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells[3..14], ["0", "0", "", "", "", "", "", "", "", "", ""], "{row}");
    }
    assert!(sb.path().join("redis-get.hgrm").is_file() && !sb.path().join("s3-get.hgrm").exists());
    let page = std::fs::read_to_string(sb.path().join("report.html")).expect("report.html");
    let s3_row = page.split("<tr data-workload=\"s3-get\">").nth(1).expect("an s3-get row");
    let s3_row = &s3_row[..s3_row.find("</tr>").expect("the row's end")];
    assert!(s3_row.contains("<td>not run</td>") && !s3_row.contains("0.0"), "{s3_row}");
}

/// `--cache-nodes` names ElastiCache's real range, not a u32's.
#[test]
fn cache_nodes_beyond_what_elasticache_allows_exit_2_naming_the_range() {
    let sb = Sandbox::new();
    for n in ["0", "501", "99999999999"] {
        let o = sb.run(&["report", "result.json", "--cache-nodes", n]);
        assert_eq!(o.status.code(), Some(2), "{n}: {}", stderr(&o));
        assert!(stderr(&o).contains("1..=500"), "{n}: {}", stderr(&o));
    }
}

/// A result kept from a run on the stack's own burstable cache: `fetchbench report` warns, in the
/// summary and on the page, and names a steady node; a steady node and a local Redis do not.
#[test]
fn report_of_a_run_on_a_burstable_cache_warns_and_names_a_steady_node() {
    let run = seed_run();
    let sb = Sandbox::new();
    let original = read_json(&run.dir.join("result.json"));
    let warning = "BURSTABLE CACHE: cache.t4g.micro is a burstable node";
    for (node, warns) in [(Some("cache.t4g.micro"), true), (Some("cache.m7g.large"), false), (None, false)] {
        let mut r = original.clone();
        r["fleet"] = json!("aws");
        r["targets"]["redis_source"] = json!("elasticache");
        if let Some(node) = node {
            r["targets"]["cache_node_type"] = json!(node);
        }
        let input = sb.write("result.json", &serde_json::to_string_pretty(&r).expect("serialises"));
        let page = sb.path().join("page.html");
        let o = sb.run(&["report", input.to_str().expect("utf-8"), "--html", page.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let html = std::fs::read_to_string(&page).expect("page");
        let out = stdout(&o);
        assert_eq!(out.contains(warning), warns, "{node:?}: {out}");
        assert_eq!(html.contains(warning), warns, "{node:?}");
        if warns {
            assert!(
                out.contains("provision with --cache-node-type cache.m7g.large for steady figures"),
                "{out}"
            );
        }
    }
}
