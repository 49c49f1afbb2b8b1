//! report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) with the
//! summary table, the latency-percentile chart of every workload, throughput and latency over
//! time, the cost estimate, the per-agent breakdown, the scenario and the environment, and any
//! warning about the figures.

pub mod chart;
pub mod compare;

use std::fmt::Write;

use hdrhistogram::Histogram;

use crate::render::export::percentile_rows;
use crate::render::terminal as summary;
use crate::results::analysis;
use crate::results::cost::{self, CostEstimate};
use crate::results::histogram::{self, HistogramError};
use crate::results::schema::{
    Capacity, CapacityStep, LatencySummary, Outcome, Phase, RunResult, Verdict, WorkloadResult,
};
use crate::scenario::Percentile;
use chart::{Axis, Chart, Scale, Series, escape, latency_label, ops_label};

/// Percentile ticks per half distance to 100% for the percentile chart's points.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

const STYLE: &str = "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}\
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}\
h3{font-size:15px;margin-bottom:6px}.meta{color:#555;font-size:13px}\
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}\
th{background:#f6f6f6}td.name,th.name{text-align:left}\
.warning{background:#fff4e5;border-left:4px solid #e67e00;padding:8px 12px;margin:8px 0;font-size:14px}\
.note{color:#555;font-size:13px}.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}\
.charts{display:flex;flex-wrap:wrap;gap:8px}pre{background:#f6f6f6;padding:8px;font-size:12px;overflow:auto}";

/// The page for `result`, with `cost` in its cost section. Fails only when a workload's
/// histogram does not decode.
pub fn render(result: &RunResult, cost: Option<&CostEstimate>) -> Result<String, HistogramError> {
    let title = format!("fetchbench: {}", result.scenario.name);
    let mut page = page_start(&title, "");
    let agents = result.agents.len();
    let _ = write!(
        page,
        "<h1>{}</h1><p class=\"meta\">{} fleet, {agents} agent{}, {} to {}; largest start skew {:.2} ms</p>",
        escape(&title),
        escape(result.fleet.as_str()),
        if agents == 1 { "" } else { "s" },
        escape(&result.started_at),
        escape(&result.finished_at),
        result.start_skew_ms
    );
    page.push_str(&warnings(result));
    page.push_str(&summary_section(result));
    page.push_str(&details_section(result));
    page.push_str(&percentile_section(result)?);
    page.push_str(&load_section(result));
    page.push_str(&cache_sweep_section(result));
    page.push_str(&ttl_sweep_section(result));
    page.push_str(&capacity_section(result));
    page.push_str(&timeseries_section(result));
    page.push_str(&cloudwatch_section(result));
    if let Some(v) = &result.verdict {
        page.push_str(&verdict_section(v));
    }
    if let Some(c) = cost {
        page.push_str(&cost_section(&analysis::median_rounds(c, result.scenario.rounds)));
    }
    page.push_str(&agents_section(result));
    page.push_str(&scenario_section(result));
    let _ = writeln!(
        page,
        "<p class=\"meta\">written by fetchbench {} from a {} file</p></body></html>",
        env!("CARGO_PKG_VERSION"),
        escape(&result.schema)
    );
    Ok(page)
}

/// A page's start, up to the open `<body>`: the title and the shared style plus `extra_style`.
pub(crate) fn page_start(title: &str, extra_style: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}{extra_style}</style></head><body>",
        escape(title)
    )
}

/// The run's warnings, worded as the terminal summary words them.
fn warnings(result: &RunResult) -> String {
    let mut s = String::from("<section id=\"warnings\">");
    for item in analysis::warnings(result).iter().map(summary::warning) {
        let _ = write!(s, "<div class=\"warning\">{}</div>", escape(&item));
    }
    s.push_str("</section>");
    s
}

fn latency_cells(l: &LatencySummary) -> String {
    [l.p50, l.p90, l.p99, l.p999, l.max, l.mean].iter().map(|v| format!("<td>{v:.1}</td>")).collect()
}

fn summary_section(result: &RunResult) -> String {
    let mut s = String::from(
        "<section id=\"summary\"><h2>Summary</h2><table><tr><th class=\"name\">workload</th><th class=\"name\">target</th>\
         <th>ops</th><th>errors</th><th>ops/s</th><th>p50 µs</th><th>p90 µs</th><th>p99 µs</th><th>p99.9 µs</th>\
         <th>max µs</th><th>mean µs</th></tr>",
    );
    for (i, w) in result.workloads.iter().enumerate() {
        let _ = write!(
            s,
            "<tr data-workload=\"{}\"><td class=\"name\"><span class=\"swatch\" style=\"background:{}\"></span>{}</td>\
             <td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            escape(&w.name),
            chart::color(i),
            escape(&w.name),
            escape(w.target.as_str()),
            w.ops,
            w.errors,
            match summary::no_figures(w) {
                Some("not run") => "not run".to_owned(),
                _ => format!("{:.1}", w.throughput_ops_s),
            },
            summary::no_figures(w).map_or_else(|| latency_cells(&w.latency_us), |_| "<td>-</td>".repeat(6))
        );
    }
    s.push_str("</table>");
    for line in summary::speedups(result) {
        let _ = write!(s, "<p><strong>{}</strong></p>", escape(&line));
    }
    s.push_str(&rounds_table(result));
    s.push_str(
        "<p class=\"note\">Percentiles come from one HDR histogram merged over all agents (3 significant digits); \
         ops/s is successful measured requests over the measured phase's length; warm-up is left out.</p></section>",
    );
    s
}

/// A `--repeat` run's figures per workload over its rounds: median, then smallest to largest.
fn rounds_table(result: &RunResult) -> String {
    let (workloads, speedups) = analysis::rounds(result);
    if workloads.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "<h3>Over {} rounds</h3><table id=\"rounds\"><tr><th class=\"name\">workload</th><th>rounds measured</th>\
         <th>p50 µs</th><th>p99 µs</th><th>ops/s</th></tr>",
        result.scenario.rounds
    );
    let cell = |x: &analysis::Spread| format!("{:.1} ({:.1} to {:.1})", x.median, x.min, x.max);
    for w in &workloads {
        let _ = write!(
            s,
            "<tr data-workload=\"{}\"><td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&w.name),
            escape(&w.name),
            w.count,
            cell(&w.p50),
            cell(&w.p99),
            cell(&w.ops_s)
        );
    }
    s.push_str("</table>");
    for (label, x) in speedups {
        let _ = write!(
            s,
            "<p>{}: S3's mean latency over Redis's, median of the rounds {:.1}x ({:.1}x to {:.1}x)</p>",
            escape(&label),
            x.median,
            x.min,
            x.max
        );
    }
    s.push_str(
        "<p class=\"note\">Each cell is the median over the rounds, then the smallest to the largest.</p>",
    );
    s
}

fn opt_us(l: Option<&LatencySummary>, f: fn(&LatencySummary) -> f64) -> String {
    l.map_or_else(|| "-".to_owned(), |l| format!("{:.1}", f(l)))
}

/// An open-loop count, or `-` in closed loop, where nothing is scheduled.
fn open_loop_count(w: &WorkloadResult, n: u64) -> String {
    if w.target_rate_ops_s.is_some() { n.to_string() } else { "-".to_owned() }
}

/// How each workload was measured: the loop, the rates, service time beside latency, time to
/// first byte, hit ratio, start skew and the agents' CPU; then the scenario's thresholds.
fn details_section(result: &RunResult) -> String {
    let mut s = String::from(
        "<section id=\"details\"><h2>How it was measured</h2><table><tr><th class=\"name\">workload</th>\
         <th class=\"name\">loop</th><th>target ops/s</th><th>sent ops/s</th><th>late starts</th><th>unsent</th>\
         <th>service p50 µs</th><th>service p99 µs</th><th>TTFB p50 µs</th><th>TTFB p99 µs</th><th>hit ratio</th>\
         <th>start skew ms</th><th>max agent CPU</th></tr>",
    );
    for w in &result.workloads {
        let _ = write!(
            s,
            "<tr data-workload=\"{}\"><td class=\"name\">{}</td><td class=\"name\">{}</td><td>{}</td><td>{:.1}</td>\
             <td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.0}%</td></tr>",
            escape(&w.name),
            escape(&w.name),
            escape(&w.r#loop),
            w.target_rate_ops_s.map_or_else(|| "-".to_owned(), |r| format!("{r:.1}")),
            w.achieved_rate_ops_s,
            open_loop_count(w, w.late_starts),
            open_loop_count(w, w.unsent),
            w.service_time_us.p50,
            w.service_time_us.p99,
            opt_us(w.ttfb_us.as_ref(), |l| l.p50),
            opt_us(w.ttfb_us.as_ref(), |l| l.p99),
            w.hit_ratio.map_or_else(|| "-".to_owned(), |h| format!("{h:.3}")),
            w.start_skew_ms,
            100.0 * w.cpu_utilization_max,
        );
    }
    s.push_str(
        "</table><p class=\"note\">In open loop, latency runs from each request's intended start, so a stalled \
         server shows in it; service time runs from the actual send. Late starts left more than 1 ms after their \
         intended start; unsent requests were scheduled before the phase's end but not sent by then (the phase \
         ends at its duration). Start skew is how far apart the agents began, their clock offsets corrected.</p>",
    );
    let tracked: Vec<&WorkloadResult> = result.workloads.iter().filter(|w| w.stale_reads.is_some()).collect();
    if !tracked.is_empty() {
        s.push_str(
            "<h3>Writes and stale reads</h3><table id=\"stale-reads\"><tr><th class=\"name\">workload</th>\
             <th>writes</th><th>stale reads</th><th>share of reads</th><th>stale for p50 ms</th>\
             <th>stale for p99 ms</th></tr>",
        );
        for w in tracked {
            let ms = |f: fn(&crate::results::schema::LatencySummary) -> f64| {
                w.staleness_us.as_ref().map_or_else(|| "-".to_owned(), |l| format!("{:.1}", f(l) / 1e3))
            };
            let _ = write!(
                s,
                "<tr><td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{:.2}%</td><td>{}</td><td>{}</td></tr>",
                escape(&w.name),
                w.writes.unwrap_or(0),
                w.stale_reads.unwrap_or(0),
                w.stale_share.unwrap_or(0.0) * 100.0,
                ms(|l| l.p50),
                ms(|l| l.p99),
            );
        }
        s.push_str(
            "</table><p class=\"note\">A read is stale when a newer version of its object than the one it \
             returned was committed before it started; it was stale for the time from that commit to its \
             start.</p>",
        );
    }
    if !result.thresholds.is_empty() {
        s.push_str(
            "<h3>Thresholds</h3><table id=\"thresholds\"><tr><th class=\"name\">threshold</th><th>limit</th>\
             <th>measured</th><th class=\"name\">result</th></tr>",
        );
        for t in &result.thresholds {
            let _ = write!(
                s,
                "<tr><td class=\"name\">{} ({})</td><td>{}</td><td>{:.3}</td><td class=\"name\">{}</td></tr>",
                escape(&t.key),
                escape(&t.bound),
                t.limit,
                t.value,
                if t.passed { "passed" } else { "BREACHED" }
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</section>");
    s
}

/// `(1 / (1 - quantile), microseconds)` points of a workload's percentile curve: the rows of its
/// `.hgrm` file.
fn percentile_points(w: &WorkloadResult) -> Result<Vec<(f64, f64)>, HistogramError> {
    Ok(histogram_points(&histogram::of_workload(w)?))
}

/// `(1 / (1 - quantile), microseconds)` points of a nanosecond histogram's percentile curve.
pub(crate) fn histogram_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    percentile_rows(h, TICKS_PER_HALF_DISTANCE)
        .into_iter()
        .map(|row| {
            let x = if row.quantile < 1.0 { 1.0 / (1.0 - row.quantile) } else { f64::INFINITY };
            (x, row.value as f64 / 1000.0)
        })
        .collect()
}

/// The label of a percentile axis tick at `x` = 1 / (1 - quantile).
pub(crate) fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    let digits = (x.log10().round() as usize).saturating_sub(2);
    format!("{p:.digits$}%")
}

fn percentile_section(result: &RunResult) -> Result<String, HistogramError> {
    let mut curves = Vec::new();
    for (i, w) in result.workloads.iter().enumerate() {
        curves.push((i, w, percentile_points(w)?));
    }
    let count = result.workloads.iter().map(|w| w.ops).max().unwrap_or(0).max(10);
    let x_max = 10f64.powf((count as f64).log10().ceil());
    let values = curves.iter().flat_map(|(_, _, p)| p.iter().map(|(_, v)| *v)).filter(|v| *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let series: Vec<Series> = curves
        .into_iter()
        .filter(|(_, _, points)| !points.is_empty())
        .map(|(i, w, points)| Series {
            name: w.name.clone(),
            color: chart::color(i),
            dashed: false,
            points: points.into_iter().map(|(x, v)| (x.min(x_max), v)).collect(),
            labels: Vec::new(),
        })
        .collect();
    let mut s = String::from("<section id=\"percentiles\"><h2>Latency by percentile</h2>");
    if series.is_empty() {
        s.push_str(
            "<p class=\"note\">No workload completed a request: there is no latency to chart.</p></section>",
        );
        return Ok(s);
    }
    let x_scale = Scale::Log { min: 1.0, max: x_max };
    let chart = Chart {
        id: "latency-percentiles".into(),
        workload: None,
        title: "Latency by percentile, every workload (log scales)".into(),
        x: Axis::log(x_scale, "percentile", percentile_label),
        y: Axis::log(Scale::log_decades(lo, hi), "latency", latency_label),
        series,
        bands: Vec::new(),
        markers: false,
        width: 1000.0,
        height: 420.0,
    };
    s.push_str(&chart.render());
    s.push_str(
        "<p class=\"note\">Each line is one workload's merged histogram: at percentile p, p% of its requests took at \
         most that long. Both axes are logarithmic, so the tail gets as much room as the median; a line ends at its \
         slowest request.</p></section>",
    );
    Ok(s)
}

/// The workloads that read the same way and differ only in concurrency, rate or agents (a sweep,
/// such as `--concurrency 1,8,64` makes), two or more to a group, each group in run order.
fn sweeps(result: &RunResult) -> Vec<Vec<(usize, &WorkloadResult)>> {
    let shape = |w: &WorkloadResult| {
        let s = result.scenario.workloads.iter().find(|s| s.name == w.name)?;
        let level = (s.concurrency, s.rate.map(f64::to_bits), s.agents);
        let how = (s.target, &s.keys, s.range, s.pipeline, s.busy_poll, s.set_share.to_bits(), s.ttl);
        Some((how, level))
    };
    let mut groups: Vec<(_, Vec<(usize, &WorkloadResult)>)> = Vec::new();
    for (i, w) in result.workloads.iter().enumerate().filter(|(_, w)| w.ops > 0) {
        let Some((how, level)) = shape(w) else { continue };
        match groups.iter_mut().find(|(h, members)| {
            *h == how && members.iter().all(|(_, m)| shape(m).is_some_and(|(_, l)| l != level))
        }) {
            Some((_, members)) => members.push((i, w)),
            None => groups.push((how, vec![(i, w)])),
        }
    }
    groups.into_iter().map(|(_, members)| members).filter(|m| m.len() >= 2).collect()
}

/// What a sweep's lines are called: its workloads' common name up to its last separator
/// (`redis-get` for redis-get-c1, redis-get-c8, ...), or its target.
fn sweep_name(members: &[(usize, &WorkloadResult)]) -> String {
    let first = &members[0].1.name;
    let common = members.iter().fold(first.len(), |n, (_, w)| {
        first.bytes().zip(w.name.bytes()).take(n).take_while(|(a, b)| a == b).count()
    });
    let prefix = first.get(..common).unwrap_or("");
    let cut = prefix.rfind(['-', '_', '.']).map_or(prefix, |at| &prefix[..at]);
    if cut.is_empty() { members[0].1.target.to_string() } else { cut.to_owned() }
}

/// Each of a sweep's workloads by its level, in the order given: what differs between them of
/// concurrency (`c8`), rate per agent (`r500`) and agents (`a2`).
fn levels(result: &RunResult, sweep: &[&WorkloadResult]) -> Vec<String> {
    let setting = |w: &WorkloadResult| result.scenario.workloads.iter().find(|s| s.name == w.name);
    let parts = |w: &WorkloadResult| -> [String; 3] {
        setting(w).map_or_else(Default::default, |s| {
            [
                format!("c{}", s.concurrency),
                s.rate.map_or_else(|| "closed".to_owned(), |r| format!("r{r}")),
                s.agents.map_or_else(|| "a-all".to_owned(), |a| format!("a{a}")),
            ]
        })
    };
    let all: Vec<[String; 3]> = sweep.iter().map(|w| parts(w)).collect();
    let varies = |i: usize| all.iter().any(|p| p[i] != all[0][i]);
    all.iter()
        .map(|p| (0..3).filter(|i| varies(*i)).map(|i| p[i].clone()).collect::<Vec<_>>().join(" "))
        .collect()
}

/// A sweep's p50 and p99 against the throughput each level reached: where more load stops
/// buying throughput and starts costing latency. Empty when the run holds no sweep.
fn load_section(result: &RunResult) -> String {
    let groups = sweeps(result);
    if groups.is_empty() {
        return String::new();
    }
    let mut series = Vec::new();
    for members in &groups {
        let mut points: Vec<&WorkloadResult> = members.iter().map(|(_, w)| *w).collect();
        points.sort_by(|a, b| a.throughput_ops_s.total_cmp(&b.throughput_ops_s));
        // A --repeat run has a line per round.
        let round = members[0].1.name.rsplit_once('-').map(|(_, r)| r).filter(|_| result.scenario.rounds > 1);
        let name = match round {
            Some(r) => format!("{}, round {r}", sweep_name(members)),
            None => sweep_name(members),
        };
        let color = chart::color(members[0].0);
        let line =
            |f: fn(&WorkloadResult) -> f64| points.iter().map(|w| (w.throughput_ops_s, f(w))).collect();
        let labels = levels(result, &points);
        series.push(Series {
            name: format!("{name} p99"),
            color,
            dashed: false,
            points: line(|w| w.latency_us.p99),
            labels: labels.clone(),
        });
        series.push(Series {
            name: format!("{name} p50"),
            color,
            dashed: true,
            points: line(|w| w.latency_us.p50),
            labels,
        });
    }
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (x_lo, x_hi) = all().fold((f64::INFINITY, 0.0f64), |(lo, hi), (x, _)| (lo.min(*x), hi.max(*x)));
    let (y_lo, y_hi) = all().fold((f64::INFINITY, 0.0f64), |(lo, hi), (_, y)| (lo.min(*y), hi.max(*y)));
    let chart = Chart {
        id: "latency-throughput".into(),
        workload: None,
        title: "p99 and p50 latency against throughput, every sweep (log scales)".into(),
        x: Axis::log(Scale::log_decades(x_lo, x_hi), "throughput, ops/s", ops_label),
        y: Axis::log(Scale::log_decades(y_lo, y_hi), "latency", latency_label),
        series,
        bands: Vec::new(),
        markers: true,
        width: 1000.0,
        height: 420.0,
    };
    format!(
        "<section id=\"load\"><h2>Latency against load</h2>{}<p class=\"note\">Each line joins the workloads \
         that read the same way at different concurrency, rate or number of agents, one point per level at the throughput it reached \
         (p99 solid, p50 dashed): where a line turns up, more load stops buying throughput and starts costing \
         latency.</p></section>",
        chart.render()
    )
}

/// A `--sweep-cache` run: each swept workload's hit ratio once warm, and its p99, against the
/// cache's size, one line per workload of the scenario: the curve a node is sized with.
fn cache_sweep_section(result: &RunResult) -> String {
    let swept = summary::cache_swept(result);
    if swept.is_empty() {
        return String::new();
    }
    // One line per workload of the scenario: its name without the sweep's `-m<size>`.
    let mut lines: Vec<(String, Vec<(f64, &WorkloadResult)>)> = Vec::new();
    for (bytes, w) in &swept {
        let base = w.name.rsplit_once("-m").map_or(w.name.as_str(), |(base, _)| base).to_owned();
        match lines.iter_mut().find(|(name, _)| *name == base) {
            Some((_, points)) => points.push((*bytes as f64, w)),
            None => lines.push((base, vec![(*bytes as f64, w)])),
        }
    }
    let size_label = |b: f64| crate::scenario::human_bytes(b as u64);
    let sizes = || swept.iter().map(|(b, _)| *b as f64);
    let (x_lo, x_hi) = sizes().fold((f64::INFINITY, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let chart = |id: &str, title: &str, y: Axis, f: fn(&WorkloadResult) -> Option<f64>| {
        let series = lines
            .iter()
            .enumerate()
            .map(|(i, (name, points))| Series {
                name: name.clone(),
                color: chart::color(i),
                dashed: false,
                points: points.iter().filter_map(|(x, w)| f(w).map(|y| (*x, y))).collect(),
                labels: points.iter().filter(|(_, w)| f(w).is_some()).map(|(x, _)| size_label(*x)).collect(),
            })
            .collect();
        Chart {
            id: id.into(),
            workload: None,
            title: title.into(),
            x: Axis::log2(x_lo, x_hi, "cache size (maxmemory)", size_label),
            y,
            series,
            bands: Vec::new(),
            markers: true,
            width: 1000.0,
            height: 360.0,
        }
        .render()
    };
    let ratio = chart(
        "cache-hit-ratio",
        "hit ratio once warm against cache size",
        Axis::linear(Scale::linear_from_zero(1.0), "hit ratio once warm", |v| format!("{:.0}%", v * 100.0)),
        |w| w.steady_hit_ratio.or(w.hit_ratio),
    );
    let p99s = || swept.iter().map(|(_, w)| w.latency_us.p99).filter(|v| *v > 0.0);
    let (y_lo, y_hi) = p99s().fold((f64::INFINITY, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let latency = chart(
        "cache-p99",
        "p99 latency against cache size (log scales)",
        Axis::log(Scale::log_decades(y_lo.min(y_hi), y_hi.max(1.0)), "p99", latency_label),
        |w| (w.ops > 0).then_some(w.latency_us.p99),
    );
    format!(
        "<section id=\"cache-sizes\"><h2>Hit ratio and latency against cache size</h2>{ratio}{latency}\
         <p class=\"note\">Each point is one workload run on an empty cache of that maxmemory; \
         the hit ratio is the second half's, once the cache is warm. Where the hit ratio flattens, a bigger \
         node stops paying.</p></section>"
    )
}

/// The TTL trade-off (see [`analysis::ttl_swept`]): the hit ratio once warm and the share of
/// stale reads against the TTL, for the workloads that have one.
fn ttl_sweep_section(result: &RunResult) -> String {
    let swept: Vec<(f64, &WorkloadResult)> = analysis::ttl_swept(result)
        .into_iter()
        .filter_map(|(ttl, w)| Some((ttl?.as_secs_f64(), w)))
        .collect();
    if swept.len() < 2 {
        return String::new();
    }
    let (x_lo, x_hi) =
        swept.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), (x, _)| (lo.min(*x), hi.max(*x)));
    let seconds = |s: f64| humantime::format_duration(std::time::Duration::from_secs_f64(s)).to_string();
    let chart = |id: &str, title: &str, y: Axis, f: fn(&WorkloadResult) -> Option<f64>| {
        let points: Vec<&(f64, &WorkloadResult)> = swept.iter().filter(|(_, w)| f(w).is_some()).collect();
        Chart {
            id: id.into(),
            workload: None,
            title: title.into(),
            x: Axis::log(Scale::log_decades(x_lo, x_hi), "ttl", seconds),
            y,
            series: vec![Series {
                name: "cache-aside".into(),
                color: chart::color(0),
                dashed: false,
                points: points.iter().filter_map(|(x, w)| f(w).map(|y| (*x, y))).collect(),
                labels: points.iter().map(|(_, w)| w.name.clone()).collect(),
            }],
            bands: Vec::new(),
            markers: true,
            width: 1000.0,
            height: 300.0,
        }
        .render()
    };
    let percent = |v: f64| format!("{:.0}%", v * 100.0);
    let ratio = chart(
        "ttl-hit-ratio",
        "hit ratio once warm against TTL",
        Axis::linear(Scale::linear_from_zero(1.0), "hit ratio once warm", percent),
        |w| w.steady_hit_ratio.or(w.hit_ratio),
    );
    let top = swept.iter().filter_map(|(_, w)| w.stale_share).fold(0.0f64, f64::max);
    let stale = chart(
        "ttl-stale-share",
        "share of reads that were stale against TTL",
        Axis::linear(Scale::linear_from_zero(top.max(0.01)), "stale reads", |v| format!("{:.1}%", v * 100.0)),
        |w| w.stale_share,
    );
    format!(
        "<section id=\"ttl\"><h2>Hit ratio and staleness against TTL</h2>{ratio}{stale}\
         <p class=\"note\">A longer TTL keeps more reads in the cache and serves a stale copy for \
         longer after a write; each point is one workload, the same but for its ttl.</p></section>"
    )
}

/// Every `find_max` search: its line from the summary, the objective's percentile against the
/// rate asked at each step with the objective and the maximum marked, and the steps in a table.
fn capacity_section(result: &RunResult) -> String {
    let searched: Vec<(usize, &WorkloadResult, &Capacity)> = result
        .workloads
        .iter()
        .enumerate()
        .filter_map(|(i, w)| w.capacity.as_ref().map(|c| (i, w, c)))
        .collect();
    if searched.is_empty() {
        return String::new();
    }
    let mut out = String::from("<section id=\"capacity\"><h2>Highest rate within the objective</h2>");
    for (i, w, c) in searched {
        let _ =
            write!(out, "<h3>{}</h3><p>{}</p>", escape(&w.name), escape(&summary::capacity_line(&w.name, c)));
        let mut steps: Vec<&CapacityStep> = c.steps.iter().filter(|s| s.rate_ops_s > 0.0).collect();
        steps.sort_by(|a, b| a.rate_ops_s.total_cmp(&b.rate_ops_s));
        let percentile = c.objective.percentile;
        let value = |s: &CapacityStep| match percentile {
            Percentile::P50 => s.p50_us,
            Percentile::P99 => s.p99_us,
            Percentile::P999 => s.p999_us,
        };
        let limit_us = c.objective.limit_ms * 1e3;
        let points: Vec<(f64, f64)> =
            steps.iter().map(|s| (s.rate_ops_s, value(s))).filter(|(_, y)| *y > 0.0).collect();
        if points.len() >= 2 {
            let labels = steps
                .iter()
                .filter(|s| value(s) > 0.0)
                .map(|s| match (s.met, Some(s.rate_ops_s) == c.max_rate_ops_s) {
                    (true, true) => "max".to_owned(),
                    (true, false) => "met".to_owned(),
                    (false, _) => "missed".to_owned(),
                })
                .collect();
            let (x_lo, x_hi) =
                points.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), (x, _)| (lo.min(*x), hi.max(*x)));
            let y_lo = points.iter().map(|p| p.1).fold(limit_us, f64::min);
            let y_hi = points.iter().map(|p| p.1).fold(limit_us, f64::max);
            let chart = Chart {
                id: format!("capacity-{i}"),
                workload: Some(w.name.clone()),
                title: format!("{} against the rate asked, {} (log scales)", percentile.as_str(), w.name),
                x: Axis::log(Scale::log_decades(x_lo, x_hi), "rate asked, ops/s", ops_label),
                y: Axis::log(Scale::log_decades(y_lo, y_hi), "latency", latency_label),
                series: vec![
                    Series {
                        name: format!("{} at each step", percentile.as_str()),
                        color: chart::color(i),
                        dashed: false,
                        points,
                        labels,
                    },
                    Series {
                        name: format!("objective: {} <= {}", percentile.as_str(), latency_label(limit_us)),
                        color: "#c0392b",
                        dashed: true,
                        points: vec![(x_lo, limit_us), (x_hi, limit_us)],
                        labels: Vec::new(),
                    },
                ],
                bands: Vec::new(),
                markers: true,
                width: 1000.0,
                height: 360.0,
            };
            out.push_str(&chart.render());
        }
        out.push_str(
            "<table><tr><th>rate asked, ops/s</th><th>sent, ops/s</th><th>p50 µs</th><th>p99 µs</th>\
             <th>p99.9 µs</th><th>service p50 µs</th><th>errors</th><th>unsent</th><th class=\"name\">verdict</th></tr>",
        );
        for s in &c.steps {
            let _ = write!(
                out,
                "<tr><td>{:.0}</td><td>{:.0}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td><td class=\"name\">{}</td></tr>",
                s.rate_ops_s,
                s.achieved_ops_s,
                s.p50_us,
                s.p99_us,
                s.p999_us,
                s.service_p50_us,
                s.errors,
                s.unsent,
                escape(s.missed.as_deref().map_or("met", |m| m))
            );
        }
        out.push_str("</table>");
    }
    out.push_str(
        "<p class=\"note\">Each step held one rate (all agents together) in open loop, latency timed from each \
         request's intended start; a step met the objective when its latency and errors were within it and the agents \
         sent at least 95% of the rate asked. The search opened with a closed-loop probe of the most the agents \
         could send, then grew and bisected.</p></section>",
    );
    out
}

/// `v` to three decimals, without float noise: 0.06000000000000001 -> 0.06.
fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The shortest interval a chart over time draws, seconds: a tenth of the 1-second interval.
/// A shorter one (a warm-up of one request, over in a millisecond) gives no rate: one request
/// in 1 ms is drawn as 1,000 ops/s, twice what an S3 run then sustains.
pub const SHORTEST_CHARTED_INTERVAL_S: f64 = 0.1;

/// The intervals a chart over time draws: all but those too short to give a rate, of any target
/// ([`SHORTEST_CHARTED_INTERVAL_S`]).
fn charted_intervals(
    points: &[crate::results::schema::IntervalResult],
) -> Vec<&crate::results::schema::IntervalResult> {
    points.iter().filter(|p| p.interval_s >= SHORTEST_CHARTED_INTERVAL_S).collect()
}

fn timeseries_section(result: &RunResult) -> String {
    let mut s = String::from("<section id=\"timeseries\"><h2>Over time</h2>");
    if result.workloads.iter().all(|w| w.timeseries.is_empty()) {
        s.push_str(
            "<p class=\"note\">This result has no time series (it was written by a fetchbench that did not record \
             one), so there is nothing to chart over time.</p></section>",
        );
        return s;
    }
    for (i, w) in result.workloads.iter().enumerate() {
        let points = charted_intervals(&w.timeseries);
        // A short series (a 1 s run has one point) is drawn as marked points, not just a line.
        let markers = points.len() < 4;
        if w.timeseries.is_empty() {
            let _ = write!(s, "<h3>{}</h3><p class=\"note\">No intervals recorded.</p>", escape(&w.name));
            continue;
        }
        if points.len() < 2 {
            let ran_s: f64 = w.timeseries.iter().map(|p| p.interval_s).sum();
            let _ = write!(
                s,
                "<h3>{}</h3><p class=\"note\">Ran {} s in all, shorter than two 1-second intervals: too short to \
                 chart over time (its figures are in the table above).</p>",
                escape(&w.name),
                round3(ran_s)
            );
            continue;
        }
        // Warm-up first, then the measured phase, on one clock from the workload's start.
        let warmup_s = points.iter().filter(|p| p.phase == Phase::Warmup).map(|p| p.t_s).fold(0.0, f64::max);
        let at = |p: &crate::results::schema::IntervalResult| {
            if p.phase == Phase::Warmup { p.t_s } else { warmup_s + p.t_s }
        };
        let end = points.iter().map(|p| at(p)).fold(0.0, f64::max);
        // The axis ends at the data, not at a round number past it.
        let x_scale = Scale::Linear { min: 0.0, max: end };
        let bands = if warmup_s > 0.0 { vec![(0.0, warmup_s, "warm-up".to_owned())] } else { Vec::new() };
        let secs = |v: f64| format!("{} s", round3(v));
        let peak = points.iter().map(|p| p.ops_s).fold(0.0, f64::max);
        let throughput = Chart {
            id: format!("throughput-{i}"),
            workload: Some(w.name.clone()),
            title: format!("{}: throughput per second", w.name),
            x: Axis::linear(x_scale, "seconds since the workload started", secs),
            y: Axis::linear(Scale::linear_from_zero(peak), "ops/s", |v| round3(v).to_string()),
            series: vec![Series {
                name: "ops/s".into(),
                color: chart::color(i),
                dashed: false,
                points: points.iter().map(|p| (at(p), p.ops_s)).collect(),
                labels: Vec::new(),
            }],
            bands: bands.clone(),
            markers,
            width: 540.0,
            height: 260.0,
        };
        let lat = |f: fn(&crate::results::schema::IntervalResult) -> f64| -> Vec<(f64, f64)> {
            points.iter().filter(|p| f(p) > 0.0).map(|p| (at(p), f(p))).collect()
        };
        let (p99, p50) = (lat(|p| p.p99_us), lat(|p| p.p50_us));
        let lo = p50.iter().chain(&p99).map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
        let hi = p99.iter().chain(&p50).map(|(_, v)| *v).fold(0.0, f64::max);
        let latency = Chart {
            id: format!("latency-{i}"),
            workload: Some(w.name.clone()),
            title: format!("{}: p99 and p50 latency per second", w.name),
            x: Axis::linear(x_scale, "seconds since the workload started", secs),
            y: Axis::log(Scale::log_decades(lo, hi), "latency", latency_label),
            series: vec![
                Series {
                    name: "p99".into(),
                    color: chart::color(i),
                    dashed: false,
                    points: p99,
                    labels: Vec::new(),
                },
                Series {
                    name: "p50".into(),
                    color: chart::color(i),
                    dashed: true,
                    points: p50,
                    labels: Vec::new(),
                },
            ],
            bands: bands.clone(),
            markers,
            width: 540.0,
            height: 260.0,
        };
        // Cache-aside: how the hit ratio filled up.
        let hits: Vec<(f64, f64)> = points.iter().filter_map(|p| p.hit_ratio.map(|h| (at(p), h))).collect();
        let hit_ratio = (!hits.is_empty()).then(|| Chart {
            id: format!("hit-ratio-{i}"),
            workload: Some(w.name.clone()),
            title: format!("{}: cache hit ratio per second", w.name),
            x: Axis::linear(x_scale, "seconds since the workload started", secs),
            y: Axis::linear(Scale::Linear { min: 0.0, max: 1.0 }, "hit ratio", |v| {
                format!("{:.0}%", 100.0 * v)
            }),
            series: vec![Series {
                name: "hit ratio".into(),
                color: chart::color(i),
                dashed: false,
                points: hits,
                labels: Vec::new(),
            }],
            bands: bands.clone(),
            markers,
            width: 540.0,
            height: 260.0,
        });
        let _ = write!(
            s,
            "<h3>{}</h3><div class=\"charts\">{}{}{}{}</div>",
            escape(&w.name),
            throughput.render(),
            latency.render(),
            hit_ratio.map(|c| c.render()).unwrap_or_default(),
            w.server.as_ref().map(|server| server_charts(i, &w.name, server)).unwrap_or_default()
        );
    }
    s.push_str("</section>");
    s
}

/// The server's own view of workload `i` over time, from its INFO: commands and GETs per second,
/// and how much of a core it used. Empty with fewer than two samples.
fn server_charts(i: usize, name: &str, server: &crate::results::schema::ServerMetrics) -> String {
    let samples = &server.samples;
    if samples.len() < 2 {
        return String::new();
    }
    let end = samples.iter().map(|p| p.t_s).fold(0.0, f64::max);
    let x = || {
        Axis::linear(Scale::Linear { min: 0.0, max: end }, "seconds since the first reading", |v| {
            format!("{} s", round3(v))
        })
    };
    let line = |name: &str, dashed: bool, f: fn(&crate::results::schema::ServerSample) -> f64| Series {
        name: name.into(),
        color: chart::color(i),
        dashed,
        points: samples.iter().map(|p| (p.t_s, f(p))).collect(),
        labels: Vec::new(),
    };
    let peak = samples.iter().map(|p| p.commands_s.max(p.gets_s)).fold(0.0, f64::max);
    let commands = Chart {
        id: format!("server-commands-{i}"),
        workload: Some(name.to_owned()),
        title: format!("{name}: the server's commands and GETs per second ({})", server.node),
        x: x(),
        y: Axis::linear(Scale::linear_from_zero(peak), "per second", |v| round3(v).to_string()),
        series: vec![line("commands/s", false, |p| p.commands_s), line("GETs/s", true, |p| p.gets_s)],
        bands: Vec::new(),
        markers: samples.len() < 4,
        width: 540.0,
        height: 260.0,
    };
    let cpu = Chart {
        id: format!("server-cpu-{i}"),
        workload: Some(name.to_owned()),
        title: format!("{name}: the server's main thread, share of one core"),
        x: x(),
        y: Axis::linear(Scale::Linear { min: 0.0, max: server.cpu_max.max(1.0) }, "CPU", |v| {
            format!("{:.0}%", 100.0 * v)
        }),
        series: vec![line("CPU", false, |p| p.cpu)],
        bands: Vec::new(),
        markers: samples.len() < 4,
        width: 540.0,
        height: 260.0,
    };
    commands.render() + &cpu.render()
}

/// The verdict: the goal, each alternative met, missed or not shown with its cost per month at the
/// goal's rate and the charges behind it, the monthly cost of each against the read rate, and of
/// cache-aside against its hit ratio.
fn verdict_section(v: &Verdict) -> String {
    let g = &v.goal;
    let mut s = format!(
        "<section id=\"verdict\"><h2>Verdict</h2><p>Goal: {} reads/s with {} at most {} ms{}.</p>",
        g.reads_per_second,
        escape(&g.percentile),
        g.latency_ms,
        if g.cross_az { ", the readers in another AZ than the cache" } else { "" }
    );
    s.push_str(
        "<table><tr><th class=\"name\">alternative</th><th class=\"name\">store</th><th class=\"name\">outcome</th>\
         <th class=\"name\">why</th><th>USD per month at the goal's rate</th><th>USD per million reads</th></tr>",
    );
    for a in &v.alternatives {
        let outcome = match a.outcome {
            Outcome::Met => "met",
            Outcome::Missed => "missed",
            Outcome::NotShown => "not shown",
        };
        let _ = write!(
            s,
            "<tr data-alternative=\"{}\"><td class=\"name\">{}</td><td class=\"name\">{}</td><td class=\"name\">{outcome}</td>\
             <td class=\"name\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&a.alternative),
            escape(&a.alternative),
            escape(&a.store),
            escape(&a.reason),
            a.usd_per_month.map_or_else(|| "no price".into(), cost::usd),
            a.usd_per_million_reads.map_or_else(|| "n/a".into(), cost::usd),
        );
    }
    s.push_str("</table>");
    let cheapest = v.cheapest_met.as_ref().and_then(|n| v.alternatives.iter().find(|a| &a.alternative == n));
    let _ = write!(
        s,
        "<p id=\"cheapest\"><strong>{}</strong></p>",
        match cheapest {
            Some(a) => escape(&format!(
                "The cheapest alternative that met the goal: {} ({}), {} a month{}.",
                a.alternative,
                a.store,
                a.usd_per_month.map_or_else(|| "n/a".into(), cost::usd),
                crate::render::terminal::tie(&v.tied_with)
            )),
            None => "No alternative the run measured met the goal.".into(),
        }
    );
    s.push_str(&verdict_charts(v));
    s.push_str("<table><tr><th class=\"name\">alternative</th><th class=\"name\">charge</th><th>USD per hour</th><th>USD per read</th><th class=\"name\">price's source</th></tr>");
    for a in &v.alternatives {
        for l in &a.lines {
            let _ = write!(
                s,
                "<tr><td class=\"name\">{}</td><td class=\"name\">{}</td><td>{}</td><td>{}</td><td class=\"name\">{}</td></tr>",
                escape(&a.alternative),
                escape(&l.what),
                cost::usd(l.usd_per_hour),
                cost::usd(l.usd_per_read),
                escape(&l.source)
            );
        }
    }
    let _ = write!(
        s,
        "</table><p class=\"note\">Priced from the {}. An alternative met the goal where a workload of it ran at the goal's rate \
         or more (99% of it counts) with its {} within the objective and errors on at most 0.1% of reads; a cache-aside \
         alternative is judged and priced at its measured hit ratio.</p></section>",
        escape(&v.prices_origin),
        escape(&g.percentile)
    );
    s
}

/// Monthly cost against the read rate (a decade either side of the goal, the goal and each
/// measured rate apart from it marked), and cache-aside's against its hit ratio.
fn verdict_charts(v: &Verdict) -> String {
    let goal = v.goal.reads_per_second;
    let month = |a: &crate::results::schema::AlternativeVerdict, r: f64| {
        a.lines.iter().map(|l| l.usd_per_hour + l.usd_per_read * r * 3600.0).sum::<f64>()
            * cost::HOURS_PER_MONTH
    };
    let priced: Vec<_> = v.alternatives.iter().filter(|a| !a.lines.is_empty()).collect();
    if priced.is_empty() {
        return String::new();
    }
    let (lo, hi) = (goal / 10.0, goal * 10.0);
    let rates: Vec<f64> = (0..=40).map(|i| lo * 100f64.powf(f64::from(i) / 40.0)).collect();
    let series: Vec<Series> = priced
        .iter()
        .enumerate()
        .map(|(i, a)| Series {
            name: a.alternative.clone(),
            color: chart::color(i),
            dashed: false,
            points: rates.iter().map(|&r| (r, month(a, r))).collect(),
            labels: Vec::new(),
        })
        .collect();
    let (y_lo, y_hi) = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold((f64::INFINITY, 0.0f64), |(l, h), y| (l.min(y), h.max(y)));
    // The goal's rate, and each measured rate not already marked (within 5%): labels that would
    // print over one another are left out.
    let mut bands = vec![(goal * 0.98, goal * 1.02, "goal".to_owned())];
    for a in priced.iter().filter(|a| a.reads_s >= lo && a.reads_s <= hi) {
        let near = |(from, to, _): &(f64, f64, String)| a.reads_s >= from / 1.05 && a.reads_s <= to * 1.05;
        if !bands.iter().any(near) {
            bands.push((a.reads_s * 0.99, a.reads_s * 1.01, format!("{} measured", a.alternative)));
        }
    }
    let dollars = |v: f64| cost::usd(v);
    let by_rate = Chart {
        id: "verdict-cost-by-rate".into(),
        workload: None,
        title: "USD per month against the read rate".into(),
        x: Axis::log(Scale::log_decades(lo, hi), "reads/s", chart::ops_label),
        y: Axis::log(Scale::log_decades(y_lo.max(1e-4), y_hi), "USD per month", dollars),
        series,
        bands,
        markers: false,
        width: 1000.0,
        height: 320.0,
    }
    .render();
    let aside: Vec<Series> = priced
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.usd_per_month_by_hit_ratio.is_empty())
        .map(|(i, a)| Series {
            name: a.alternative.clone(),
            color: chart::color(i),
            dashed: false,
            points: a.usd_per_month_by_hit_ratio.clone(),
            labels: Vec::new(),
        })
        .collect();
    let by_hit = if aside.is_empty() {
        String::new()
    } else {
        let top = aside.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0f64, f64::max);
        let measured: Vec<(f64, f64, String)> = priced
            .iter()
            .filter_map(|a| a.hit_ratio.map(|h| (h - 0.005, h + 0.005, "measured".to_owned())))
            .collect();
        Chart {
            id: "verdict-cost-by-hit-ratio".into(),
            workload: None,
            title: "cache-aside: USD per month at the goal's rate against the hit ratio".into(),
            x: Axis::linear(Scale::Linear { min: 0.0, max: 1.0 }, "hit ratio", |v| {
                format!("{:.0}%", v * 100.0)
            }),
            y: Axis::linear(Scale::linear_from_zero(top), "USD per month", dollars),
            series: aside,
            bands: measured,
            markers: false,
            width: 1000.0,
            height: 300.0,
        }
        .render()
    };
    by_rate + &by_hit
}

fn cost_section(c: &CostEstimate) -> String {
    let mut s = String::from("<section id=\"cost\"><h2>Cost</h2>");
    let _ = write!(
        s,
        "<p>Priced for {} with {} &times; {} at {}/hour per node, S3 GET at {} and PUT at {} per 1,000 requests \
         (on-demand prices of {}; request and node charges only).</p>",
        escape(&c.region),
        c.cache_nodes,
        escape(&c.cache_node_type),
        cost::usd(c.cache_node_usd_per_hour),
        cost::usd(c.s3_get_usd_per_1000),
        cost::usd(c.s3_put_usd_per_1000),
        escape(&c.prices_as_of)
    );
    s.push_str(
        "<table><tr><th class=\"name\">workload</th><th class=\"name\">target</th><th>reads/s</th>\
         <th>USD per million reads</th><th>USD per hour at that rate</th></tr>",
    );
    for w in &c.workloads {
        let (reads_s, per_million, per_hour) = if w.reads_s > 0.0 {
            (
                format!("{:.1}", w.reads_s),
                w.usd_per_million_reads.map_or_else(|| "n/a".into(), cost::usd),
                cost::usd(w.usd_per_hour),
            )
        } else {
            ("not run".to_owned(), "-".to_owned(), "-".to_owned())
        };
        let _ = write!(
            s,
            "<tr data-workload=\"{}\"><td class=\"name\">{}</td><td class=\"name\">{}</td><td>{reads_s}</td><td>{per_million}</td><td>{per_hour}</td></tr>",
            escape(&w.name),
            escape(&w.name),
            escape(w.target.as_str()),
        );
    }
    s.push_str("</table>");
    let sentence = escape(&capitalized(&summary::break_even(c)));
    if c.break_even_reads_s.is_finite() {
        let _ = write!(
            s,
            "<p id=\"break-even\"><strong>{sentence}</strong>: below that rate its node-hours cost more than the S3 \
             GETs it saves.</p>"
        );
    } else {
        let _ = write!(s, "<p id=\"break-even\">{sentence}.</p>");
    }
    let _ = write!(
        s,
        "<p class=\"note\">A cache node's cost per read depends on how busy it is: the per-million figure for a cache \
         workload assumes the node serves the measured rate around the clock. Writing the dataset to S3 once costs {} \
         in PUT requests.</p></section>",
        cost::usd(c.dataset_put_usd)
    );
    s
}

/// `text` with its first letter a capital, to open a sentence.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// What CloudWatch kept of the stack's resources over the run's minutes: per resource, one row
/// per metric and a column per minute.
fn cloudwatch_section(result: &RunResult) -> String {
    if result.cloudwatch.is_empty() {
        return String::new();
    }
    let mut s = String::from("<section id=\"cloudwatch\"><h2>CloudWatch</h2>");
    for v in &result.cloudwatch {
        let mut minutes: Vec<&str> =
            v.metrics.iter().flat_map(|m| m.points.iter().map(|p| p.t.as_str())).collect();
        minutes.sort_unstable();
        minutes.dedup();
        let _ = write!(
            s,
            "<h3>{}</h3><p>{}</p><table data-resource=\"{}\"><tr><th class=\"name\">metric</th>\
             <th>statistic</th><th>whole run</th>",
            escape(&capitalized(&v.resource)),
            escape(&summary::cloudwatch_lines(v).join(" ")),
            escape(&v.resource)
        );
        for t in &minutes {
            let _ = write!(s, "<th>{}</th>", escape(t.get(11..16).unwrap_or(t)));
        }
        s.push_str("</tr>");
        for m in &v.metrics {
            let _ = write!(
                s,
                "<tr data-metric=\"{}\"><td class=\"name\">{}</td><td>{}</td><td>{}</td>",
                escape(&m.name),
                escape(&m.name),
                escape(&m.stat),
                escape(&summary::cloudwatch_value(m))
            );
            for t in &minutes {
                let cell = m.points.iter().find(|p| p.t == *t).map(|p| format!("{}", round3(p.value)));
                let _ = write!(s, "<td>{}</td>", cell.unwrap_or_default());
            }
            s.push_str("</tr>");
        }
        s.push_str("</table>");
    }
    s.push_str("</section>");
    s
}

fn agents_section(result: &RunResult) -> String {
    let mut s = String::from("<section id=\"agents\"><h2>Per agent</h2>");
    for w in &result.workloads {
        let _ = write!(
            s,
            "<h3>{}</h3><table data-workload=\"{}\"><tr><th class=\"name\">agent</th><th>ops</th><th>errors</th>\
             <th>ops/s</th><th>p50 µs</th><th>p90 µs</th><th>p99 µs</th><th>p99.9 µs</th><th>max µs</th><th>mean µs</th></tr>",
            escape(&w.name),
            escape(&w.name)
        );
        for a in &w.per_agent {
            let _ = write!(
                s,
                "<tr><td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{:.1}</td>{}</tr>",
                escape(&a.agent),
                a.ops,
                a.errors,
                a.throughput_ops_s,
                latency_cells(&a.latency_us)
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</section>");
    s
}

fn scenario_section(result: &RunResult) -> String {
    let sc = &result.scenario;
    let mut s = String::from("<section id=\"scenario\"><h2>Scenario and environment</h2>");
    let _ = write!(
        s,
        "<p>Scenario <strong>{}</strong>: {} objects of {} (seed {}, cache starts {}), {} agent{}.</p>",
        escape(&sc.name),
        sc.dataset.objects,
        escape(&sc.dataset.describe_sizes()),
        sc.dataset.seed,
        sc.dataset.cache.as_str(),
        sc.agents,
        if sc.agents == 1 { "" } else { "s" }
    );
    s.push_str(
        "<table><tr><th class=\"name\">workload</th><th class=\"name\">target</th><th>in flight per agent</th>\
         <th class=\"name\">load</th><th class=\"name\">measured</th><th class=\"name\">warm-up</th><th class=\"name\">keys</th><th class=\"name\">timeout</th></tr>",
    );
    for w in &sc.workloads {
        let settings = w.settings();
        let setting = |name: &str| {
            let value = settings.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v.as_str());
            escape(value)
        };
        let _ = write!(
            s,
            "<tr><td class=\"name\">{}</td><td class=\"name\">{}</td><td>{}</td><td class=\"name\">{}</td>\
             <td class=\"name\">{} per agent</td><td class=\"name\">{}</td><td class=\"name\">{}</td><td class=\"name\">{}</td></tr>",
            escape(&w.name),
            setting("target"),
            setting("concurrency"),
            escape(&w.describe_load()),
            setting("measured"),
            setting("warm-up"),
            setting("keys"),
            setting("timeout")
        );
    }
    s.push_str("</table><h3>Targets</h3><table>");
    let t = &result.targets;
    let rows = [
        ("redis", t.redis.as_deref().map(|u| format!("{u} ({})", t.redis_source.as_deref().unwrap_or("?")))),
        (
            "s3",
            t.s3_bucket.as_deref().map(|b| {
                format!(
                    "bucket {b} on {} ({})",
                    t.s3_endpoint.as_deref().unwrap_or("AWS S3"),
                    t.s3_source.as_deref().unwrap_or("?")
                )
            }),
        ),
    ];
    for (name, value) in rows {
        if let Some(v) = value {
            let _ =
                write!(s, "<tr><td class=\"name\">{name}</td><td class=\"name\">{}</td></tr>", escape(&v));
        }
    }
    s.push_str(
        "</table><h3>Agents</h3><table><tr><th class=\"name\">agent</th><th class=\"name\">address</th>\
         <th class=\"name\">status</th><th class=\"name\">host</th><th>cores</th><th class=\"name\">arch</th>\
         <th class=\"name\">cpu idle</th><th class=\"name\">version</th><th>clock offset ms</th><th>RTT ms</th></tr>",
    );
    for a in &result.agents {
        let status = match &a.error {
            Some(e) => format!("{} ({e})", a.status.as_str()),
            None => a.status.as_str().to_owned(),
        };
        let _ = write!(
            s,
            "<tr><td class=\"name\">{}</td><td class=\"name\">{}</td><td class=\"name\">{}</td><td class=\"name\">{}</td>\
             <td>{}</td><td class=\"name\">{}</td><td class=\"name\">{}</td><td class=\"name\">{}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            escape(&a.id),
            escape(&a.address),
            escape(&status),
            escape(&a.hostname),
            a.cores,
            escape(&a.arch),
            escape(if a.cpu_idle.is_empty() { "-" } else { &a.cpu_idle }),
            escape(&a.version),
            a.clock_offset_ms,
            a.rtt_ms
        );
    }
    s.push_str("</table>");
    let scenario_json = serde_json::to_string_pretty(sc).unwrap_or_default();
    let _ = write!(
        s,
        "<details><summary>The scenario as run (JSON)</summary><pre>{}</pre></details></section>",
        escape(&scenario_json)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::results::schema::{IntervalResult, LatencySummary};
    use crate::scenario::Target;

    /// A result with one workload that never completed a request, but has intervals.
    fn nothing_succeeded() -> RunResult {
        let interval = |phase: &str, t_s: f64| IntervalResult {
            phase: if phase == "warmup" { Phase::Warmup } else { Phase::Measured },
            t_s,
            interval_s: 1.0,
            ops: 0,
            errors: 5,
            ops_s: 0.0,
            p50_us: 0.0,
            p99_us: 0.0,
            errors_by_kind: [("timeout".to_owned(), 5)].into(),
            hit_ratio: None,
            stale_reads: None,
            stale_share: None,
            staleness_p99_us: None,
        };
        let workload = WorkloadResult {
            name: "w".into(),
            target: Target::Redis,
            errors: 10,
            histogram: crate::results::histogram::encode(&crate::results::histogram::new_histogram()),
            timeseries: vec![interval("warmup", 1.0), interval("measured", 1.0)],
            ..Default::default()
        };
        RunResult {
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:00:02Z".into(),
            degraded: true,
            ..RunResult::of(crate::scenario::Scenario::seed(), vec![workload])
        }
    }

    #[test]
    fn a_warm_up_of_no_measurable_length_is_left_off_the_charts_over_time() {
        let interval = |phase: &str, t_s: f64, interval_s: f64, ops: u64| IntervalResult {
            phase: if phase == "warmup" { Phase::Warmup } else { Phase::Measured },
            t_s,
            interval_s,
            ops,
            errors: 0,
            ops_s: if interval_s > 0.0 { ops as f64 / interval_s } else { 0.0 },
            p50_us: 100.0,
            p99_us: 200.0,
            errors_by_kind: Default::default(),
            hit_ratio: None,
            stale_reads: None,
            stale_share: None,
            staleness_p99_us: None,
        };
        // One request of warm-up took no measurable time; the seed run's shape.
        let points = vec![
            interval("warmup", 0.0, 0.0, 1),
            interval("measured", 1.0, 1.0, 5000),
            interval("measured", 2.0, 1.0, 5200),
        ];
        let charted: Vec<(&str, f64)> =
            charted_intervals(&points).iter().map(|p| (p.phase.as_str(), p.t_s)).collect();
        assert_eq!(charted, [("measured", 1.0), ("measured", 2.0)]);
        // S3's one-request warm-up took 1 ms: 1,000 ops/s, twice the measured rate; left off too.
        let s3 = vec![
            interval("warmup", 0.001, 0.001, 1),
            interval("measured", 1.0, 1.0, 500),
            interval("measured", 2.0, 1.0, 520),
        ];
        assert_eq!(charted_intervals(&s3).len(), 2);
        let mut run = nothing_succeeded();
        run.workloads[0].target = Target::S3;
        run.workloads[0].timeseries = s3;
        let page = timeseries_section(&run);
        assert!(!page.contains("warm-up"), "no band for a warm-up too short to chart: {page}");
        // Two points, both measured, and the x axis ends at the data (2 s).
        let line = page.split("data-series=\"ops/s\"><polyline points=\"").nth(1).expect("a line");
        assert_eq!(line.split('"').next().expect("points").split(' ').count(), 2, "{page}");
        assert!(page.contains(">2 s</text>") && !page.contains(">5 s</text>"), "{page}");
        // An interval with nothing in it is a real zero, and stays.
        let idle = [interval("measured", 1.0, 1.0, 0), interval("measured", 2.0, 1.0, 10)];
        assert_eq!(charted_intervals(&idle).len(), 2);
    }

    #[test]
    fn a_run_shorter_than_two_intervals_says_so_instead_of_drawing_a_dot() {
        let mut run = nothing_succeeded();
        run.workloads[0].timeseries.truncate(1);
        run.workloads[0].timeseries[0].interval_s = 0.4;
        let page = timeseries_section(&run);
        assert!(page.contains("Ran 0.4 s in all, shorter than two 1-second intervals"), "{page}");
        assert!(!page.contains("<svg"), "{page}");
    }

    #[test]
    fn the_summary_and_the_page_say_each_warning_the_same_way() {
        let mut result = nothing_succeeded();
        result.partial = true;
        result.thresholds = vec![crate::results::schema::ThresholdResult {
            key: "w.p99_us".into(),
            limit: 1000.0,
            value: 0.0,
            bound: "max".into(),
            passed: false,
            not_judged: Some("w had no successful request".into()),
        }];
        let said: Vec<String> = analysis::warnings(&result).iter().map(summary::warning).collect();
        assert_eq!(
            said,
            [
                "PARTIAL: the run was interrupted; the figures cover what ran until then",
                "DEGRADED: w had 10 errors ()",
                "THRESHOLD NOT JUDGED: w.p99_us: w had no successful request",
            ]
        );
        let (text, page) = (summary::render(&result), render(&result, None).expect("renders"));
        for line in &said {
            assert!(text.contains(&format!("{line}\n")), "{line:?} missing from the summary:\n{text}");
            assert!(page.contains(&format!("<div class=\"warning\">{}</div>", escape(line))), "{line:?}");
        }
    }

    #[test]
    fn the_scenario_table_says_each_load_as_the_run_announced_it() {
        let mut result = nothing_succeeded();
        let w = &mut result.scenario.workloads[0];
        (w.rate, w.concurrency, w.busy_poll) = (Some(500.0), 4, Some(std::time::Duration::from_micros(50)));
        let load = "open loop at 500 ops/s over 4 connections, busy-polling up to 50us";
        assert_eq!(w.describe_load(), load);
        assert!(w.describe(2).starts_with(&format!(
            "{} ({}, 2 agents x {load}, ",
            w.name,
            w.target.as_str()
        )));
        let page = render(&result, None).expect("renders");
        assert!(page.contains(&format!("<td class=\"name\">{load}</td>")), "the load column");
    }

    #[test]
    fn a_workload_without_a_single_success_still_renders() {
        // Its latency chart has no point to scale by; this once looped forever.
        let page = render(&nothing_succeeded(), None).expect("renders");
        assert!(page.contains("No workload completed a request"), "no percentile chart expected");
        assert!(page.contains("id=\"throughput-0\"") && page.contains("id=\"latency-0\""));
        assert!(page.contains("DEGRADED: w had 10 errors"));
    }

    #[test]
    fn workloads_that_differ_only_in_concurrency_or_rate_are_charted_against_their_throughput() {
        let toml = r#"
            name = "levels"
            [dataset]
            objects = 10
            size = 100
            [[workload]]
            name = "redis-get-c1"
            target = "redis"
            requests = 10
            [[workload]]
            name = "redis-get-c8"
            target = "redis"
            concurrency = 8
            requests = 10
            [[workload]]
            name = "piped"
            target = "redis"
            concurrency = 8
            pipeline = 16
            requests = 10
            [[workload]]
            name = "s3-slow"
            target = "s3"
            rate = 10
            requests = 10
            [[workload]]
            name = "s3-fast"
            target = "s3"
            rate = 100
            requests = 10
            [[workload]]
            name = "s3-alone"
            target = "s3"
            range = "0-9"
            requests = 10
        "#;
        let measured = |name: &str, target: &str, ops_s: f64, p99: f64| WorkloadResult {
            name: name.into(),
            target: target.parse().expect("a target"),
            ops: 10,
            throughput_ops_s: ops_s,
            latency_us: LatencySummary { p50: p99 / 2.0, p99, ..Default::default() },
            histogram: crate::results::histogram::encode(&crate::results::histogram::new_histogram()),
            ..Default::default()
        };
        let mut result = nothing_succeeded();
        result.scenario = crate::scenario::Scenario::parse(toml, "t.toml").expect("valid");
        result.workloads = vec![
            measured("redis-get-c1", "redis", 10_000.0, 150.0),
            measured("redis-get-c8", "redis", 50_000.0, 400.0),
            measured("piped", "redis", 500_000.0, 900.0),
            measured("s3-slow", "s3", 10.0, 3000.0),
            measured("s3-fast", "s3", 100.0, 4000.0),
            measured("s3-alone", "s3", 500.0, 2000.0),
        ];
        let groups: Vec<Vec<&str>> =
            sweeps(&result).iter().map(|g| g.iter().map(|(_, w)| w.name.as_str()).collect()).collect();
        assert_eq!(groups, [vec!["redis-get-c1", "redis-get-c8"], vec!["s3-slow", "s3-fast"]]);
        assert_eq!(sweep_name(&sweeps(&result)[0]), "redis-get");
        assert_eq!(sweep_name(&sweeps(&result)[1]), "s3", "no common name: the target");

        let page = load_section(&result);
        assert!(page.contains("id=\"latency-throughput\""), "{page}");
        for line in ["redis-get p99", "redis-get p50", "s3 p99", "s3 p50"] {
            assert!(page.contains(&format!("data-series=\"{line}\"")), "{line}: {page}");
        }
        assert!(!page.contains("piped") && !page.contains("s3-alone"), "{page}");
        // A dot per level: two levels, two lines per store, each dot labelled with its level.
        assert_eq!(page.matches("class=\"marker\"").count(), 2 * 2 * 2, "{page}");
        let labels: Vec<&str> = page
            .split("class=\"point-label\"")
            .skip(1)
            .map(|t| t.split('>').nth(1).and_then(|t| t.split('<').next()).expect("a label"))
            .collect();
        assert_eq!(labels, ["c1", "c8", "c1", "c8", "r10", "r100", "r10", "r100"], "{page}");
        assert_eq!(
            (ops_label(500.0), ops_label(20_000.0), ops_label(1_500_000.0)),
            ("500".into(), "20k".into(), "1.5M".into())
        );

        // No sweep, no section.
        result.workloads.truncate(1);
        assert_eq!(load_section(&result), "");

        // A sweep run in two rounds: a line per round.
        let level = |name: &str, c: u32| {
            format!("[[workload]]\nname = \"{name}\"\ntarget = \"redis\"\nconcurrency = {c}\nrequests = 10\n")
        };
        let names = [("w-c1-1", 1), ("w-c8-1", 8), ("w-c1-2", 1), ("w-c8-2", 8)];
        let toml = format!(
            "name = \"rounds\"\n[dataset]\nobjects = 10\nsize = 100\n{}",
            names.iter().map(|(n, c)| level(n, *c)).collect::<String>()
        );
        result.scenario = crate::scenario::Scenario::parse(&toml, "t.toml").expect("valid");
        result.scenario.rounds = 2;
        result.workloads =
            names.iter().map(|(n, c)| measured(n, "redis", 1000.0 * f64::from(*c), 100.0)).collect();
        let page = load_section(&result);
        for line in ["w, round 1 p99", "w, round 2 p99"] {
            assert!(page.contains(&format!("data-series=\"{line}\"")), "{line}: {page}");
        }
    }

    #[test]
    fn percentile_axis_labels() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(100_000.0), "99.999%");
    }
}
