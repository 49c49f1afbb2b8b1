//! The page `fetchbench compare --html` writes: the comparison table with each change marked
//! better or worse, the gate's verdict, what the runs were set up to do differently, and per
//! workload the two runs' latency-by-percentile curves on one chart. Self-contained like
//! report.html (inline CSS and SVG, no script), so it can go into a CI job's artefacts or a mail.

use std::fmt::Write;

use crate::render::html::chart::{Axis, Chart, Scale, Series, escape, latency_label};
use crate::render::html::{histogram_points, page_start, percentile_label};
use crate::results::compare::{Comparison, Figure};
use crate::results::histogram::{self, DamagedResult};
use crate::results::schema::RunResult;
use crate::scenario::expand::without_round;

/// Line colours of the two runs: the base grey and dashed, the new run in colour.
const BASE_COLOR: &str = "#7f7f7f";
const NEW_COLOR: &str = "#1f77b4";

/// One run as the page names it.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// The result file as the user gave it.
    pub path: &'a std::path::Path,
    /// Its contents.
    pub result: &'a RunResult,
}

/// The page comparing `new` against `base`; with `limit`, the `--fail-if-worse` verdict on top.
/// Fails only when a workload's histogram does not decode.
pub fn render(
    base: Side,
    new: Side,
    comparison: &Comparison,
    limit: Option<f64>,
) -> Result<String, DamagedResult> {
    let title = if base.result.scenario.name == new.result.scenario.name {
        format!("fetchbench compare: {}", new.result.scenario.name)
    } else {
        format!("fetchbench compare: {} against {}", new.result.scenario.name, base.result.scenario.name)
    };
    let mut page = page_start(
        &title,
        "tr.worse td.verdict{color:#c62828;font-weight:bold}tr.better td.verdict{color:#2e7d32}\
         .ok{background:#edf7ed;border-left:4px solid #2e7d32;padding:8px 12px;margin:8px 0;font-size:14px}",
    );
    let _ = write!(page, "<h1>{}</h1>", escape(&title));
    for (role, side) in [("base", base), ("new", new)] {
        let r = side.result;
        let agents = r.agents.len();
        let _ = write!(
            page,
            "<p class=\"meta\" id=\"{role}\"><strong>{role}</strong>: {} (scenario {}, {} fleet, {agents} agent{}, \
             started {}{})</p>",
            escape(&side.path.display().to_string()),
            escape(&r.scenario.name),
            escape(r.fleet.as_str()),
            if agents == 1 { "" } else { "s" },
            escape(&r.started_at),
            if r.scenario.rounds > 1 { format!(", {} rounds", r.scenario.rounds) } else { String::new() }
        );
    }
    page.push_str(&gate(comparison, limit));
    page.push_str(&setup_section(comparison));
    page.push_str(&changes_section(comparison));
    page.push_str(&percentiles_section(base, new, comparison)?);
    let _ = writeln!(
        page,
        "<p class=\"meta\">written by fetchbench {}</p></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    Ok(page)
}

/// The `--fail-if-worse` verdict, when there is a limit.
fn gate(comparison: &Comparison, limit: Option<f64>) -> String {
    let Some(limit) = limit else { return String::new() };
    if let Some(why) = comparison.nothing_compared() {
        return format!(
            "<div class=\"warning\" id=\"gate\"><strong>Failed: {}.</strong></div>",
            escape(&why)
        );
    }
    let failures = comparison.gate(limit);
    if failures.is_empty() {
        return format!("<p class=\"ok\" id=\"gate\">No percentile got more than {limit}% worse.</p>");
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let (breaches, unmeasured) = (comparison.breaches(limit).len(), comparison.not_measured.len());
    let mut why = Vec::new();
    if unmeasured > 0 {
        why.push(format!("{unmeasured} figure{} not a measurement of the target", plural(unmeasured)));
    }
    if breaches > 0 {
        why.push(format!("{breaches} percentile{} got more than {limit}% worse", plural(breaches)));
    }
    let mut s =
        format!("<div class=\"warning\" id=\"gate\"><strong>Failed: {}.</strong><ul>", why.join("; "));
    for line in failures {
        let _ = write!(s, "<li>{}</li>", escape(&line));
    }
    s.push_str("</ul></div>");
    s
}

fn setup_section(comparison: &Comparison) -> String {
    if comparison.setup_changes.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "<div class=\"warning\" id=\"setup\">The runs were set up differently, which moves the figures by itself:<ul>",
    );
    for change in &comparison.setup_changes {
        let _ = write!(s, "<li>{}</li>", escape(change));
    }
    s.push_str("</ul></div>");
    s
}

fn changes_section(comparison: &Comparison) -> String {
    let mut s = String::from("<section id=\"changes\"><h2>Changes</h2>");
    if comparison.rounds != (1, 1) {
        let _ = write!(
            s,
            "<p class=\"note\">Medians over the rounds (base {}, new {}). &ldquo;Ranges overlap&rdquo;: the two runs' \
             smallest-to-largest figures over their rounds overlap, so the change is within what the rounds moved by \
             themselves.</p>",
            comparison.rounds.0, comparison.rounds.1
        );
    }
    s.push_str(
        "<table><tr><th class=\"name\">workload</th><th class=\"name\">metric</th><th>base</th><th>new</th>\
         <th>change</th><th class=\"name\"></th></tr>",
    );
    for c in &comparison.changes {
        let number = |ran: bool, v: f64| match (ran, c.figure) {
            (false, _) => "not run".to_owned(),
            (true, Figure::Errors) => format!("{v:.0}"),
            (true, _) => format!("{v:.1}"),
        };
        let _ = write!(
            s,
            "<tr class=\"{}\" data-workload=\"{}\" data-metric=\"{}\"><td class=\"name\">{}</td><td class=\"name\">{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"name verdict\">{}</td></tr>",
            c.verdict.marker().replace(' ', "-"),
            escape(&c.workload),
            c.figure.name(),
            escape(&c.workload),
            c.figure.label(),
            number(c.ran.0, c.base),
            number(c.ran.1, c.new),
            c.percent_text(),
            c.verdict_text()
        );
    }
    s.push_str("</table>");
    for (which, names) in [("base", &comparison.only_in_base), ("new", &comparison.only_in_new)] {
        if !names.is_empty() {
            let _ = write!(s, "<p class=\"note\">Only in {which}: {}</p>", escape(&names.join(", ")));
        }
    }
    s.push_str("</section>");
    s
}

/// A workload's latency-by-percentile points in `side`, over all its rounds; `(points, rounds)`.
fn curve(side: Side, name: &str) -> Result<(Vec<(f64, f64)>, usize), DamagedResult> {
    let run = side.result;
    let mut histograms = Vec::new();
    for w in run.workloads.iter().filter(|w| without_round(&w.name, run.scenario.rounds) == name) {
        histograms.push(histogram::of_workload(w).map_err(|e| e.in_file(side.path))?);
    }
    Ok((histogram_points(&histogram::merge(&histograms)), histograms.len()))
}

fn percentiles_section(base: Side, new: Side, comparison: &Comparison) -> Result<String, DamagedResult> {
    let mut names: Vec<&str> = comparison.changes.iter().map(|c| c.workload.as_str()).collect();
    names.dedup();
    if names.is_empty() {
        return Ok(String::new());
    }
    let mut s =
        String::from("<section id=\"percentiles\"><h2>Latency by percentile</h2><div class=\"charts\">");
    for (i, name) in names.iter().enumerate() {
        let mut series = Vec::new();
        for (role, run, color, dashed) in [("base", base, BASE_COLOR, true), ("new", new, NEW_COLOR, false)] {
            let (points, rounds) = curve(run, name)?;
            if points.is_empty() {
                continue;
            }
            let label = if rounds > 1 { format!("{role} ({rounds} rounds merged)") } else { role.to_owned() };
            series.push(Series { name: label, color, dashed, points, labels: Vec::new() });
        }
        if series.is_empty() {
            let _ = write!(s, "<p class=\"note\">{}: neither run completed a request.</p>", escape(name));
            continue;
        }
        // The x axis reaches the decade of the deepest finite percentile either run measured.
        let finite_max = series
            .iter()
            .flat_map(|s| s.points.iter().map(|(x, _)| *x))
            .filter(|x| x.is_finite())
            .fold(10.0f64, f64::max);
        let x_max = 10f64.powf(finite_max.log10().ceil()).max(10.0);
        let values = series.iter().flat_map(|s| s.points.iter().map(|(_, v)| *v)).filter(|v| *v > 0.0);
        let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        for line in &mut series {
            for point in &mut line.points {
                point.0 = point.0.min(x_max);
            }
        }
        let chart = Chart {
            id: format!("percentiles-{i}"),
            workload: Some((*name).to_owned()),
            title: format!("{name}: latency by percentile, base and new (log scales)"),
            x: Axis::log(Scale::Log { min: 1.0, max: x_max }, "percentile", percentile_label),
            y: Axis::log(Scale::log_decades(lo, hi), "latency", latency_label),
            series,
            bands: Vec::new(),
            markers: false,
            width: 540.0,
            height: 320.0,
        };
        let _ = write!(s, "<div><h3>{}</h3>{}</div>", escape(name), chart.render());
    }
    s.push_str(
        "</div><p class=\"note\">Each line is one run's merged histogram of the workload (base dashed grey, new \
         solid): at percentile p, p% of its requests took at most that long. A line that sits lower is faster at \
         that percentile.</p></section>",
    );
    Ok(s)
}
