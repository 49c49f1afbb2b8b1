//! `fetchbench compare BASE NEW`: per workload (matched by name) the change in p50, p99, p99.9,
//! throughput and errors, each marked better or worse, and the percentiles that got worse by more
//! than a limit, for gating CI on a regression. What the two runs were asked to do is compared
//! too: a change of load, fleet or data is named, since it moves the figures by itself. A run of
//! several rounds (`run --repeat`) is compared by its medians over the rounds, and a change that
//! stays inside both runs' round-to-round ranges is marked so.

use crate::results::analysis::{Spread, grouped};
use crate::results::schema::{RunResult, WorkloadResult};
use crate::scenario::Workload;
use crate::scenario::expand::without_round;

/// A figure of a workload that two runs are compared by (not a threshold's metric, which the
/// scenario names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Median latency, µs.
    P50,
    /// 99th percentile latency, µs.
    P99,
    /// 99.9th percentile latency, µs.
    P999,
    /// Successful requests per second.
    Throughput,
    /// Failed requests.
    Errors,
}

impl Figure {
    /// Every figure, in report order.
    pub const ALL: [Figure; 5] = [Figure::P50, Figure::P99, Figure::P999, Figure::Throughput, Figure::Errors];

    /// The label in the table.
    pub fn label(self) -> &'static str {
        match self {
            Figure::P50 => "p50 µs",
            Figure::P99 => "p99 µs",
            Figure::P999 => "p99.9 µs",
            Figure::Throughput => "ops/s",
            Figure::Errors => "errors",
        }
    }

    /// Short name, for the failure lines.
    pub fn name(self) -> &'static str {
        match self {
            Figure::P50 => "p50",
            Figure::P99 => "p99",
            Figure::P999 => "p99.9",
            Figure::Throughput => "throughput",
            Figure::Errors => "errors",
        }
    }

    /// True for the latency percentiles, which `--fail-if-worse` gates.
    pub fn is_percentile(self) -> bool {
        matches!(self, Figure::P50 | Figure::P99 | Figure::P999)
    }

    fn higher_is_better(self) -> bool {
        self == Figure::Throughput
    }

    fn of(self, w: &WorkloadResult) -> f64 {
        match self {
            Figure::P50 => w.latency_us.p50,
            Figure::P99 => w.latency_us.p99,
            Figure::P999 => w.latency_us.p999,
            Figure::Throughput => w.throughput_ops_s,
            Figure::Errors => w.errors as f64,
        }
    }
}

/// Better, worse or the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Improved.
    Better,
    /// Regressed.
    Worse,
    /// Changed by less than 0.05% (or not at all).
    Same,
    /// One of the runs measured no request of the workload: there is nothing to compare.
    NotRun,
}

impl Verdict {
    /// The marker printed after the change.
    pub fn marker(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::Same => "same",
            Verdict::NotRun => "not run",
        }
    }
}

/// One figure of one workload in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Workload name.
    pub workload: String,
    /// What changed.
    pub figure: Figure,
    /// Value in the base run.
    pub base: f64,
    /// Value in the new run.
    pub new: f64,
    /// Change relative to the base, percent; `None` when the base is zero and the new value not.
    pub percent: Option<f64>,
    /// Whether that is good.
    pub verdict: Verdict,
    /// Runs of several rounds: the two runs' ranges over their rounds overlap, so the change is
    /// within what the rounds moved by themselves.
    pub overlap: bool,
    /// Whether the base and the new run measured a request of the workload; a side that did not
    /// has no figure, and the change is [`Verdict::NotRun`].
    pub ran: (bool, bool),
}

impl Change {
    fn new(workload: &str, figure: Figure, base: f64, new: f64) -> Change {
        let percent = if base != 0.0 {
            Some((new - base) / base * 100.0)
        } else if new == 0.0 {
            Some(0.0)
        } else {
            None
        };
        let verdict = match percent {
            Some(p) if p.abs() < 0.05 => Verdict::Same,
            _ if (new > base) == figure.higher_is_better() => Verdict::Better,
            _ => Verdict::Worse,
        };
        Change {
            workload: workload.to_owned(),
            figure,
            base,
            new,
            percent,
            verdict,
            overlap: false,
            ran: (true, true),
        }
    }

    /// The change of a workload one run (or both) measured no request of: never better or worse.
    fn not_run(workload: &str, figure: Figure, base: f64, new: f64, ran: (bool, bool)) -> Change {
        Change { percent: None, verdict: Verdict::NotRun, ran, ..Change::new(workload, figure, base, new) }
    }

    /// True when this is a percentile that got worse by more than `limit_percent`.
    pub fn breaches(&self, limit_percent: f64) -> bool {
        self.figure.is_percentile()
            && self.verdict == Verdict::Worse
            && self.percent.is_none_or(|p| p > limit_percent)
    }

    /// The change as printed: `+12.3%`, or `new` from a base of zero.
    pub fn percent_text(&self) -> String {
        if self.verdict == Verdict::NotRun {
            return "-".to_owned();
        }
        match self.percent {
            Some(p) => format!("{p:+.1}%"),
            None => "new".to_owned(),
        }
    }

    /// How far it moved, for the gate's lines: `by 12.3%`, or `from zero`.
    pub fn by_text(&self) -> String {
        self.percent.map_or_else(|| "from zero".to_owned(), |p| format!("by {:.1}%", p.abs()))
    }

    /// The verdict as printed: `worse`, or `worse (ranges overlap)` when the rounds' ranges do.
    pub fn verdict_text(&self) -> String {
        if self.overlap && matches!(self.verdict, Verdict::Better | Verdict::Worse) {
            format!("{} (ranges overlap)", self.verdict.marker())
        } else {
            self.verdict.marker().to_owned()
        }
    }
}

/// Two runs side by side.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Every figure of every workload present in both runs, in the new run's order.
    pub changes: Vec<Change>,
    /// Workloads only the base run has.
    pub only_in_base: Vec<String>,
    /// Workloads only the new run has.
    pub only_in_new: Vec<String>,
    /// What the runs were set up to do differently, one `what: base -> new` each: the fleet,
    /// the data, and the settings of the workloads present in both.
    pub setup_changes: Vec<String>,
    /// Rounds of the base and the new run (`run --repeat`; 1 for a single run).
    pub rounds: (u32, u32),
    /// Why figures of the runs are not measurements of the target, one sentence each: a workload
    /// one run measured no request of, a run that was interrupted, a workload whose client was
    /// the bottleneck. The gate fails on each.
    pub not_measured: Vec<String>,
}

/// A setting's name, and how to read it off a `T` as text.
type Setting<T> = (&'static str, fn(&T) -> String);

/// `what: base -> new` for each setting of the runs, or of their workloads present in both, that
/// differs.
fn setup_changes(base: &RunResult, new: &RunResult) -> Vec<String> {
    let runs: [Setting<RunResult>; 7] = [
        ("fleet", |r| r.fleet.to_string()),
        ("rounds", |r| r.scenario.rounds.to_string()),
        ("agents", |r| r.agents.len().to_string()),
        ("objects", |r| r.scenario.dataset.objects.to_string()),
        ("object sizes", |r| r.scenario.dataset.describe_sizes()),
        ("dataset seed", |r| r.scenario.dataset.seed.to_string()),
        ("cache at the start", |r| r.scenario.dataset.cache.as_str().to_owned()),
    ];
    let mut changes = Vec::new();
    let mut note = |what: String, b: String, n: String| {
        if b != n {
            changes.push(format!("{what}: {b} -> {n}"));
        }
    };
    for (what, of) in runs {
        note(what.to_owned(), of(base), of(new));
    }
    // The Redis itself, where both runs recorded it (results before the field did not).
    if let (Some(b), Some(n)) = (&base.targets.redis_target, &new.targets.redis_target) {
        let on = |v: bool| if v { "on" } else { "off" }.to_owned();
        let cluster = |t: &crate::results::schema::RedisTarget| match (t.cluster, t.shards) {
            (false, _) => "off (one node)".to_owned(),
            (true, Some(n)) => format!("on, {n} shards"),
            (true, None) => "on".to_owned(),
        };
        note("redis target".to_owned(), b.source.clone(), n.source.clone());
        note("redis auth".to_owned(), on(b.auth), on(n.auth));
        note("redis tls".to_owned(), on(b.tls), on(n.tls));
        note("redis cluster".to_owned(), cluster(b), cluster(n));
    }
    // Only where both runs say: a result from before the field (or a machine that did not say)
    // is no evidence of a change.
    let (b, n) = (cpu_idle(base), cpu_idle(new));
    if !b.is_empty() && !n.is_empty() {
        note("agents' cpu idle".to_owned(), b, n);
    }
    let in_base = by_workload(base);
    for (name, n) in by_workload(new) {
        if let Some((_, b)) = in_base.iter().find(|(b, _)| *b == name) {
            for ((what, b), (_, n)) in b.settings().into_iter().zip(n.settings()) {
                note(format!("{name} {what}"), b, n);
            }
        }
    }
    changes
}

/// The scenario's workloads by name, a workload of several rounds once (its first round's) by
/// its name without the round.
fn by_workload(run: &RunResult) -> Vec<(&str, &Workload)> {
    grouped(&run.scenario.workloads, |w| without_round(&w.name, run.scenario.rounds))
        .into_iter()
        .map(|(name, rounds)| (name, rounds[0]))
        .collect()
}

/// One workload's figures in one run.
struct Figures {
    /// The workload's name (without the round of a `--repeat` run).
    name: String,
    /// Each figure of [`Figure::ALL`] over the rounds.
    spreads: [Spread; 5],
    /// Whether a round measured a request.
    ran: bool,
    /// Why a round's client was the bottleneck (empty when none was), one per such round.
    client_bound: Vec<String>,
}

/// A run's figures per workload, in run order: each figure of [`Figure::ALL`] over the rounds of
/// a `--repeat` run (the workload's name without its round), or the one figure of a single run.
/// Percentiles come from the rounds that measured a request, when there is one.
fn figures(run: &RunResult) -> Vec<Figures> {
    grouped(&run.workloads, |w| without_round(&w.name, run.scenario.rounds))
        .into_iter()
        .map(|(name, rounds)| {
            let measured: Vec<&WorkloadResult> = rounds.iter().copied().filter(|w| w.ops > 0).collect();
            let spreads = Figure::ALL.map(|m| {
                let from = if m.is_percentile() && !measured.is_empty() { &measured } else { &rounds };
                Spread::of(&from.iter().map(|w| m.of(w)).collect::<Vec<_>>())
            });
            let client_bound = rounds.iter().filter_map(|w| w.client_bound_why()).collect();
            Figures { name: name.to_owned(), spreads, ran: !measured.is_empty(), client_bound }
        })
        .collect()
}

/// The agents' ways of idling a core, each once in agent order; empty if any agent did not say.
fn cpu_idle(run: &RunResult) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for agent in &run.agents {
        if agent.cpu_idle.is_empty() {
            return String::new();
        }
        if !seen.contains(&agent.cpu_idle.as_str()) {
            seen.push(&agent.cpu_idle);
        }
    }
    seen.join(", ")
}

/// Compare `new` against `base`, workload by workload (a run of several rounds by its medians).
pub fn compare(base: &RunResult, new: &RunResult) -> Comparison {
    let rounds = (base.scenario.rounds, new.scenario.rounds);
    let (in_base, in_new) = (figures(base), figures(new));
    let mut changes = Vec::new();
    let mut not_measured = Vec::new();
    for (side, run) in [("base", base), ("new", new)] {
        if run.partial {
            // Workloads run in order: the last that sent a request is the one cut short.
            let during = run.workloads.iter().rev().find(|w| w.ops + w.errors > 0);
            let during = during.map_or_else(String::new, |w| format!(" during {}", w.name));
            not_measured.push(format!(
                "the {side} run was interrupted (partial){during}, so its figures cover only what ran until \
                 then; compare complete runs"
            ));
        }
    }
    for n in &in_new {
        let Some(b) = in_base.iter().find(|b| b.name == n.name) else { continue };
        let ran = (b.ran, n.ran);
        for (side, f) in [("base", b), ("new", n)] {
            if !f.ran {
                not_measured.push(format!("{} measured no request in the {side} run (not run)", f.name));
            }
            if let Some(why) = f.client_bound.first() {
                not_measured.push(format!(
                    "{} was client-bound in the {side} run ({why}): its figures are the client's, not the target's",
                    f.name
                ));
            }
        }
        for (i, m) in Figure::ALL.iter().enumerate() {
            let (bs, ns) = (b.spreads[i], n.spreads[i]);
            if ran != (true, true) {
                changes.push(Change::not_run(&n.name, *m, bs.median, ns.median, ran));
                continue;
            }
            let mut change = Change::new(&n.name, *m, bs.median, ns.median);
            change.overlap = rounds != (1, 1) && bs.min <= ns.max && ns.min <= bs.max;
            changes.push(change);
        }
    }
    let only = |a: &[Figures], b: &[Figures]| -> Vec<String> {
        a.iter().filter(|f| !b.iter().any(|g| g.name == f.name)).map(|f| f.name.clone()).collect()
    };
    Comparison {
        only_in_base: only(&in_base, &in_new),
        only_in_new: only(&in_new, &in_base),
        changes,
        setup_changes: setup_changes(base, new),
        rounds,
        not_measured,
    }
}

impl Comparison {
    /// Why a `--fail-if-worse` gate fails with no percentile compared: no workload is in both
    /// runs (a sweep or a rename), so a pass would say nothing. `None` when something was.
    pub fn nothing_compared(&self) -> Option<String> {
        self.changes.is_empty().then(|| {
            "no workload is in both runs, so nothing was compared; workloads are matched by name \
             (a sweep names them redis-get-c1, ...): compare runs of the same workloads"
                .to_owned()
        })
    }

    /// The percentiles that got worse by more than `limit_percent`.
    pub fn breaches(&self, limit_percent: f64) -> Vec<&Change> {
        self.changes.iter().filter(|c| c.breaches(limit_percent)).collect()
    }

    /// Why the `--fail-if-worse` gate at `limit_percent` fails, one sentence each; empty when it
    /// passes. Nothing compared, a figure that is not a measurement, and every percentile worse
    /// than the limit each fail it; a percentile whose rounds' ranges overlap says so.
    pub fn gate(&self, limit_percent: f64) -> Vec<String> {
        let mut failures: Vec<String> = self.nothing_compared().into_iter().collect();
        failures.extend(self.not_measured.iter().cloned());
        for c in self.breaches(limit_percent) {
            let overlap = if c.overlap {
                ", though the two runs' ranges over their rounds overlap (within what the rounds moved by themselves)"
            } else {
                ""
            };
            failures.push(format!(
                "{} {} got worse {}, more than the {limit_percent}% allowed{overlap}",
                c.workload,
                c.figure.name(),
                c.by_text()
            ));
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_latency_and_higher_throughput_are_better() {
        assert_eq!(Change::new("w", Figure::P99, 100.0, 150.0).verdict, Verdict::Worse);
        assert_eq!(Change::new("w", Figure::P99, 100.0, 80.0).verdict, Verdict::Better);
        assert_eq!(Change::new("w", Figure::Throughput, 100.0, 80.0).verdict, Verdict::Worse);
        assert_eq!(Change::new("w", Figure::Throughput, 100.0, 120.0).verdict, Verdict::Better);
        assert_eq!(Change::new("w", Figure::Errors, 0.0, 0.0).verdict, Verdict::Same);
        assert_eq!(Change::new("w", Figure::P50, 100.0, 100.01).verdict, Verdict::Same);
        let errors = Change::new("w", Figure::Errors, 0.0, 3.0);
        assert_eq!((errors.verdict, errors.percent), (Verdict::Worse, None));
    }

    #[test]
    fn only_percentiles_worse_than_the_limit_breach() {
        let p99 = Change::new("w", Figure::P99, 100.0, 150.0);
        assert!((p99.percent.expect("finite") - 50.0).abs() < 1e-9);
        assert!(p99.breaches(10.0));
        assert!(!p99.breaches(50.0));
        assert!(!Change::new("w", Figure::P99, 100.0, 50.0).breaches(0.0));
        assert!(!Change::new("w", Figure::Throughput, 100.0, 10.0).breaches(0.0));
        assert!(!Change::new("w", Figure::Errors, 0.0, 10.0).breaches(0.0));
        assert!(Change::new("w", Figure::P999, 0.0, 10.0).breaches(1000.0));
    }

    #[test]
    fn an_interrupted_run_is_said_to_be_cut_short_during_its_last_workload_that_sent_a_request() {
        use crate::results::schema::{RunResult, WorkloadResult};
        let w = |name: &str, ops: u64, errors: u64| WorkloadResult {
            name: name.into(),
            ops,
            errors,
            ..Default::default()
        };
        let said = |workloads: Vec<WorkloadResult>| {
            let base = RunResult::of(crate::scenario::Scenario::seed(), workloads.clone());
            let new =
                RunResult { partial: true, ..RunResult::of(crate::scenario::Scenario::seed(), workloads) };
            let c = compare(&base, &new);
            c.not_measured.into_iter().find(|l| l.starts_with("the new run was interrupted")).expect("said")
        };
        // The third never started: the run was cut short during the second.
        let line = said(vec![w("a", 10, 0), w("b", 4, 0), w("c", 0, 0)]);
        assert!(line.contains("(partial) during b, so its figures"), "{line}");
        // A workload that only failed sent requests too.
        let line = said(vec![w("a", 10, 0), w("b", 2, 2), w("c", 0, 3)]);
        assert!(line.contains("(partial) during c, so its figures"), "{line}");
        let line = said(vec![w("a", 10, 0), w("b", 2, 2), w("c", 0, 0)]);
        assert!(line.contains("(partial) during b, so its figures"), "{line}");
    }

    #[test]
    fn a_workload_that_did_not_run_has_no_percent_change() {
        let change = Change::not_run("w", Figure::P99, 100.0, 0.0, (true, false));
        assert_eq!((change.verdict, change.percent, change.ran), (Verdict::NotRun, None, (true, false)));
    }

    #[test]
    fn a_repeat_runs_percentiles_come_from_the_rounds_that_measured_and_the_rest_from_every_round() {
        use crate::results::schema::{LatencySummary, RunResult, WorkloadResult};
        let round = |n: u32, ops: u64, p99: f64, ops_s: f64| WorkloadResult {
            name: format!("redis-get-{n}"),
            ops,
            throughput_ops_s: ops_s,
            latency_us: LatencySummary { p99, ..LatencySummary::default() },
            ..WorkloadResult::default()
        };
        let mut scenario = crate::scenario::Scenario::seed();
        scenario.rounds = 3;
        // The second round measured nothing (its figures are zeros).
        let run = RunResult::of(
            scenario,
            vec![round(1, 100, 300.0, 1000.0), round(2, 0, 0.0, 0.0), round(3, 100, 500.0, 900.0)],
        );
        let all = figures(&run);
        assert_eq!(all.len(), 1);
        let of = |f: Figure| {
            let at = Figure::ALL.iter().position(|x| *x == f).expect("a figure");
            let s = &all[0].spreads[at];
            (s.min, s.median, s.max)
        };
        assert_eq!(all[0].name, "redis-get");
        // The p99 of the two rounds that measured; the throughput of all three, the empty one's 0 too.
        assert_eq!(of(Figure::P99), (300.0, 300.0, 500.0));
        assert_eq!(of(Figure::Throughput), (0.0, 900.0, 1000.0));
        assert!(all[0].ran);
    }
}
