//! Live progress while a run goes: per workload the throughput of the latest interval, the errors,
//! p50 and p99 so far (from the merged measured histogram) and the time left. On a terminal it is
//! an indicatif bar; otherwise (a pipe, a CI log) a plain line every few seconds of the
//! workload's own clock (the agents' interval ends), so the lines do not depend on when the
//! controller happens to receive them.
//!
//! [`Progress`] is driven from the run's event loop: [`Progress::started`] when a workload's first
//! event arrives, [`Progress::interval`] for every interval an agent reports,
//! [`Progress::done`] when every agent finished the workload.

use std::io::IsTerminal;
use std::time::Duration;

use fetchbench_proto as pb;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::render::html::chart::latency_label;
use crate::results::histogram::{decode, new_histogram};
use crate::scenario::{Amount, Scenario};

/// How often a plain progress line is printed per workload, in the workload's time (warm-up and
/// measured phase together).
pub const PLAIN_PERIOD: Duration = Duration::from_secs(5);

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An indicatif bar on standard output (a terminal).
    Bar,
    /// A plain line on standard output every [`PLAIN_PERIOD`].
    Plain,
}

/// What one agent last reported for one workload.
#[derive(Debug, Clone, Default)]
struct AgentState {
    /// Has reported at least once.
    seen: bool,
    /// Its latest interval was warm-up.
    warmup: bool,
    /// End of its latest interval since its phase started.
    elapsed: Duration,
    /// Length of its warm-up, as far as it went.
    warmup_elapsed: Duration,
    /// Successful requests per second in its latest interval.
    ops_s: f64,
    /// Requests (successful or not) per second in its latest interval.
    requests_s: f64,
    /// Warm-up requests so far.
    warmup_requests: u64,
    /// Measured requests so far.
    measured_requests: u64,
    /// Finished the workload.
    done: bool,
}

/// Where one workload stands, merged over the agents.
#[derive(Debug)]
pub struct WorkloadProgress {
    name: String,
    stop: Amount,
    warmup: Option<Amount>,
    agents: Vec<AgentState>,
    histogram: Histogram<u64>,
    ops: u64,
    errors: u64,
    /// Workload time at which the next plain line is due.
    next_line: Duration,
}

/// A moment's view of a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Every reporting agent is still warming up.
    pub warmup: bool,
    /// Successful requests per second, summed over the agents' latest intervals.
    pub ops_s: f64,
    /// Failed measured requests so far.
    pub errors: u64,
    /// Median measured latency so far, µs.
    pub p50_us: Option<f64>,
    /// 99th percentile measured latency so far, µs.
    pub p99_us: Option<f64>,
    /// Time until the slowest agent finishes, when it can be told.
    pub left: Option<Duration>,
}

impl WorkloadProgress {
    /// A workload that has not started, on `agents` agents.
    pub fn new(name: &str, stop: Amount, warmup: Option<Amount>, agents: usize) -> Self {
        WorkloadProgress {
            name: name.to_owned(),
            stop,
            warmup,
            agents: vec![AgentState::default(); agents],
            histogram: new_histogram(),
            ops: 0,
            errors: 0,
            next_line: PLAIN_PERIOD,
        }
    }

    /// Fold in an interval agent `agent` reported.
    pub fn interval(&mut self, agent: usize, p: &pb::Progress) {
        let Some(state) = self.agents.get_mut(agent) else { return };
        let seconds = p.interval_ms as f64 / 1000.0;
        let requests = p.ops + p.errors;
        state.seen = true;
        state.warmup = p.warmup;
        state.elapsed = Duration::from_millis(p.elapsed_ms);
        if seconds > 0.0 {
            state.ops_s = p.ops as f64 / seconds;
            state.requests_s = requests as f64 / seconds;
        }
        if p.warmup {
            state.warmup_elapsed = state.elapsed;
            state.warmup_requests += requests;
        } else {
            state.measured_requests += requests;
            self.ops += p.ops;
            self.errors += p.errors;
            if let Ok(h) = decode(&p.histogram) {
                let _ = self.histogram.add(&h);
            }
        }
    }

    /// Agent `agent` finished the workload.
    pub fn agent_done(&mut self, agent: usize) {
        if let Some(state) = self.agents.get_mut(agent) {
            state.done = true;
        }
    }

    /// Time agent `a` still needs, when it can be told.
    fn left(&self, a: &AgentState) -> Option<Duration> {
        if a.done {
            return Some(Duration::ZERO);
        }
        let at_rate = |requests: u64| {
            (a.requests_s > 0.0).then(|| Duration::from_secs_f64(requests as f64 / a.requests_s))
        };
        let remaining = |amount: Amount, elapsed: Duration, done: u64| match amount {
            Amount::Duration(d) => Some(d.saturating_sub(elapsed)),
            Amount::Requests(n) => at_rate(n.saturating_sub(done)),
        };
        if a.warmup {
            let warm =
                self.warmup.map_or(Some(Duration::ZERO), |w| remaining(w, a.elapsed, a.warmup_requests))?;
            let measured = remaining(self.stop, Duration::ZERO, 0)?;
            Some(warm + measured)
        } else {
            remaining(self.stop, a.elapsed, a.measured_requests)
        }
    }

    /// Where the workload stands now.
    pub fn snapshot(&self) -> Snapshot {
        let seen: Vec<&AgentState> = self.agents.iter().filter(|a| a.seen).collect();
        let running = seen.iter().filter(|a| !a.done);
        let left = seen.iter().map(|a| self.left(a)).try_fold(Duration::ZERO, |acc, l| l.map(|l| acc.max(l)));
        let quantile =
            |q| (!self.histogram.is_empty()).then(|| self.histogram.value_at_quantile(q) as f64 / 1000.0);
        Snapshot {
            warmup: !seen.is_empty() && seen.iter().all(|a| a.warmup),
            // An empty f64 sum is -0.0, which prints as "-0 ops/s": start from +0.0.
            ops_s: running.fold(0.0, |sum, a| sum + a.ops_s),
            errors: self.errors,
            p50_us: quantile(0.5),
            p99_us: quantile(0.99),
            left: if seen.is_empty() { None } else { left },
        }
    }

    /// The progress text, without the workload's name.
    pub fn status(&self) -> String {
        let s = self.snapshot();
        let mut parts = Vec::new();
        if s.warmup {
            parts.push("warm-up".to_owned());
        }
        parts.push(format!("{:.0} ops/s", s.ops_s));
        parts.push(format!("{} errors", s.errors));
        if let (Some(p50), Some(p99)) = (s.p50_us, s.p99_us) {
            parts.push(format!("p50 {}", latency_text(p50)));
            parts.push(format!("p99 {}", latency_text(p99)));
        }
        parts.push(match s.left {
            Some(left) => format!("{} left", seconds_text(left)),
            None => "time left unknown".to_owned(),
        });
        parts.join(", ")
    }

    /// The plain line: `  name: status`.
    pub fn line(&self) -> String {
        format!("  {}: {}", self.name, self.status())
    }

    /// How far the workload got: the furthest agent's warm-up and measured time together.
    pub fn time(&self) -> Duration {
        let agent = |a: &AgentState| if a.warmup { a.elapsed } else { a.warmup_elapsed + a.elapsed };
        self.agents.iter().filter(|a| a.seen).map(agent).max().unwrap_or_default()
    }

    /// The plain line, when the workload's time passed the next multiple of [`PLAIN_PERIOD`].
    fn due_line(&mut self) -> Option<String> {
        let time = self.time();
        if time < self.next_line {
            return None;
        }
        let periods = (time.as_secs_f64() / PLAIN_PERIOD.as_secs_f64()).floor() as u32;
        self.next_line = PLAIN_PERIOD * (periods + 1);
        Some(self.line())
    }

    /// Share of the workload done, 0 to 1, from the time spent and the time left.
    fn fraction(&self) -> f64 {
        let spent = self.time();
        match self.snapshot().left {
            Some(left) if !(spent + left).is_zero() => spent.as_secs_f64() / (spent + left).as_secs_f64(),
            _ => 0.0,
        }
    }
}

/// `163 µs`, `3.34 ms`: three significant digits.
fn latency_text(us: f64) -> String {
    let three = |v: f64| {
        if v >= 100.0 {
            format!("{v:.0}")
        } else if v >= 10.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.2}")
        }
    };
    if us < 1000.0 {
        format!("{} µs", three(us))
    } else if us < 1_000_000.0 {
        format!("{} ms", three(us / 1000.0))
    } else {
        latency_label(us)
    }
}

/// `42 s`, `3 m 05 s`, `1 h 02 m`.
fn seconds_text(d: Duration) -> String {
    let s = d.as_secs_f64().ceil() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} m {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} m", s / 3600, (s % 3600) / 60),
    }
}

/// Live progress of a run's workloads.
#[derive(Debug)]
pub struct Progress {
    mode: Mode,
    workloads: Vec<WorkloadProgress>,
    /// Workloads whose first event arrived.
    started: Vec<bool>,
    /// The bar on screen, and the workload it shows.
    bar: Option<(usize, ProgressBar)>,
}

impl Progress {
    /// Progress for `scenario` on `agents` agents: a bar when standard output is a terminal,
    /// plain lines otherwise.
    pub fn new(scenario: &Scenario, agents: usize) -> Self {
        let mode = if std::io::stdout().is_terminal() { Mode::Bar } else { Mode::Plain };
        Self::with_mode(scenario, agents, mode)
    }

    /// Progress in a given mode.
    pub fn with_mode(scenario: &Scenario, agents: usize, mode: Mode) -> Self {
        let workloads = scenario
            .workloads
            .iter()
            .map(|w| WorkloadProgress::new(&w.name, w.stop, w.warmup, agents))
            .collect::<Vec<_>>();
        let started = vec![false; workloads.len()];
        Progress { mode, workloads, started, bar: None }
    }

    /// Workload `w` started (its first event arrived).
    pub fn started(&mut self, w: usize) {
        let Some(started) = self.started.get_mut(w) else { return };
        *started = true;
        if self.mode == Mode::Bar {
            self.clear();
            let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stdout());
            let style = ProgressStyle::with_template("  {prefix} [{bar:24}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(self.workloads[w].name.clone());
            bar.set_message(self.workloads[w].status());
            self.bar = Some((w, bar));
        }
    }

    /// Agent `agent` reported an interval of workload `w` (its Run request's workload index may
    /// differ: the controller may send one workload per request).
    pub fn interval(&mut self, w: usize, agent: usize, p: &pb::Progress) {
        if let Some(line) = self.fold(w, agent, p) {
            say!("{line}");
        }
    }

    /// Fold the interval in; the plain line to print now, if one is due.
    fn fold(&mut self, w: usize, agent: usize, p: &pb::Progress) -> Option<String> {
        let workload = self.workloads.get_mut(w)?;
        workload.interval(agent, p);
        if !self.started[w] {
            return None;
        }
        match self.mode {
            Mode::Bar => {
                if let Some((_, bar)) = self.bar.as_ref().filter(|(shown, _)| *shown == w) {
                    bar.set_position((workload.fraction() * 1000.0) as u64);
                    bar.set_message(workload.status());
                }
                None
            }
            Mode::Plain => workload.due_line(),
        }
    }

    /// Agent `agent` finished workload `w`.
    pub fn agent_done(&mut self, w: usize, agent: usize) {
        if let Some(workload) = self.workloads.get_mut(w) {
            workload.agent_done(agent);
        }
    }

    /// Every agent finished workload `w`: take its bar away (agents that finished early may
    /// already be on the next workload, whose bar stays).
    pub fn done(&mut self, w: usize) {
        if self.bar.as_ref().is_some_and(|(shown, _)| *shown == w) {
            self.clear();
        }
    }

    /// Take any bar off the screen, so that a line can be printed.
    pub fn clear(&mut self) {
        if let Some((_, bar)) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::{Serializer, V2Serializer};

    fn interval(warmup: bool, elapsed_ms: u64, ops: u64, errors: u64, latency_ns: u64) -> pb::Progress {
        let mut h = new_histogram();
        h.record_n(latency_ns, ops).expect("auto-resizing");
        let mut bytes = Vec::new();
        V2Serializer::new().serialize(&h, &mut bytes).expect("serialises");
        pb::Progress {
            warmup,
            elapsed_ms,
            interval_ms: 1000,
            ops,
            errors,
            histogram: bytes,
            ..Default::default()
        }
    }

    #[test]
    fn duration_workload_sums_rates_and_counts_down() {
        let mut w = WorkloadProgress::new("r", Amount::Duration(Duration::from_secs(30)), None, 2);
        w.interval(0, &interval(false, 1000, 1000, 0, 200_000));
        w.interval(1, &interval(false, 2000, 3000, 2, 400_000));
        let s = w.snapshot();
        assert_eq!(s.ops_s, 4000.0);
        assert_eq!(s.errors, 2);
        // 1,000 samples at 200 µs and 3,000 at 400 µs: the median and p99 are 400 µs.
        let p50 = s.p50_us.expect("measured");
        assert!((p50 - 400.0).abs() < 0.5, "{p50}");
        // The slower agent is 1 s in, of 30.
        assert_eq!(s.left, Some(Duration::from_secs(29)));
        assert_eq!(w.line(), "  r: 4000 ops/s, 2 errors, p50 400 µs, p99 400 µs, 29 s left");
    }

    #[test]
    fn request_workload_estimates_time_left_from_the_rate() {
        // 1,000 requests per agent after 100 of warm-up.
        let mut w = WorkloadProgress::new("s", Amount::Requests(1000), Some(Amount::Requests(100)), 1);
        w.interval(0, &interval(true, 1000, 50, 0, 1_000_000));
        // Warm-up: 50 left at 50/s, then 1,000 at 50/s: 21 s. Warm-up latencies are left out.
        let s = w.snapshot();
        assert!(s.warmup);
        assert_eq!(s.left, Some(Duration::from_secs(21)));
        assert_eq!(s.p50_us, None);
        assert_eq!(w.line(), "  s: warm-up, 50 ops/s, 0 errors, 21 s left");
        w.interval(0, &interval(false, 1000, 200, 0, 1_500_000));
        // 800 requests left at 200/s.
        assert_eq!(w.snapshot().left, Some(Duration::from_secs(4)));
        assert!(w.line().contains("p99 1.50 ms"), "{}", w.line());
        w.agent_done(0);
        assert_eq!(w.snapshot().left, Some(Duration::ZERO));
        assert_eq!(w.snapshot().ops_s, 0.0, "a finished agent adds no throughput");
        assert!(w.line().starts_with("  s: 0 ops/s, "), "{}", w.line());
    }

    #[test]
    fn a_stalled_agent_makes_time_left_unknown() {
        let mut w = WorkloadProgress::new("s", Amount::Requests(1000), None, 1);
        w.interval(0, &interval(false, 1000, 0, 0, 1));
        assert_eq!(w.snapshot().left, None);
        assert!(w.line().ends_with("time left unknown"), "{}", w.line());
    }

    #[test]
    fn plain_lines_come_every_period_of_workload_time() {
        let scenario = Scenario::seed();
        let mut p = Progress::with_mode(&scenario, 2, Mode::Plain);
        p.started(0);
        let mut printed = Vec::new();
        // Two warm-up seconds, then measured intervals; agent 1 lags agent 0 by half a second.
        for s in 1..=12u64 {
            let (warmup, elapsed) = if s <= 2 { (true, s * 1000) } else { (false, (s - 2) * 1000) };
            for (agent, lag) in [(0, 0), (1, 500)] {
                let e = interval(warmup, elapsed.saturating_sub(lag), 10, 0, 100_000);
                if let Some(line) = p.fold(0, agent, &e) {
                    printed.push((s, agent, line));
                }
            }
        }
        let at: Vec<(u64, usize)> = printed.iter().map(|(s, a, _)| (*s, *a)).collect();
        assert_eq!(at, [(5, 0), (10, 0)], "once per 5 s of the furthest agent's warm-up and measured time");
        assert!(printed[0].2.starts_with("  redis-get: 20 ops/s, 0 errors, p50 100 µs"), "{}", printed[0].2);
        // Workloads whose first event has not been announced print nothing; unknown ones are ignored.
        for s in 1..=12u64 {
            assert_eq!(p.fold(1, 0, &interval(false, s * 1000, 1, 0, 1)), None);
        }
        assert_eq!(p.fold(9, 0, &interval(false, 1000, 1, 0, 1)), None);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(seconds_text(Duration::from_millis(41_200)), "42 s");
        assert_eq!(seconds_text(Duration::from_secs(185)), "3 m 05 s");
        assert_eq!(seconds_text(Duration::from_secs(3720)), "1 h 02 m");
        assert_eq!(latency_text(163.3), "163 µs");
        assert_eq!(latency_text(3340.0), "3.34 ms");
        assert_eq!(latency_text(12.34), "12.3 µs");
    }
}
