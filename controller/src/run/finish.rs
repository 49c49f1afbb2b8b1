//! The files of a run: its results folder, dataset.csv, and (from the tallies) result.json with the
//! report and exports beside it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::measure::Measured;
use super::{RunReport, RunStatus};
use crate::error::Error;
use crate::fleet::Fleet;
use crate::fleet::connect::Clock;
use crate::render::{export, files, terminal};
use crate::results::schema::{AgentResult, AgentStatus, RESULT_JSON, RunResult, SCHEMA, Targets, load};
use crate::results::{cost, tally, thresholds};
use crate::scenario::{Scenario, Target};

/// Largest dataset whose per-object sizes are written to dataset.csv.
const DATASET_CSV_MAX_OBJECTS: u64 = 1_000_000;

/// The results folder: `out` when given, else `results/<name>-<UTC timestamp>/` (with a suffix
/// when two runs start in the same second).
pub fn output_dir(out: Option<&PathBuf>, name: &str, started: SystemTime) -> Result<PathBuf, Error> {
    let output = |path: &PathBuf, source| Error::Output { path: path.clone(), source };
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|e| output(dir, e))?;
        return Ok(dir.clone());
    }
    let stamp: String = humantime::format_rfc3339_seconds(started)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let base = PathBuf::from("results");
    std::fs::create_dir_all(&base).map_err(|e| output(&base, e))?;
    for n in 1.. {
        let dir = if n == 1 {
            base.join(format!("{name}-{stamp}"))
        } else {
            base.join(format!("{name}-{stamp}-{n}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(output(&dir, e)),
        }
    }
    unreachable!("the loop returns")
}

/// `dataset.csv`: every object's keys and size, so a run can be reproduced and its sizes checked.
pub fn write_dataset_csv(
    dir: &std::path::Path,
    dataset: &fetchbench_proto::dataset::Generator,
) -> Result<(), Error> {
    use std::io::Write;
    if dataset.total() > DATASET_CSV_MAX_OBJECTS {
        return Ok(());
    }
    let path = dir.join("dataset.csv");
    let write = || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(out, "index,s3_key,size_bytes")?;
        for i in 0..dataset.total() {
            writeln!(out, "{i},{},{}", dataset.key(i), dataset.size(i))?;
        }
        out.flush()
    };
    write().map_err(|source| Error::Output { path: path.clone(), source })
}

/// What a run knows besides its tallies when it ends.
pub struct Run<'a> {
    /// The fleet it ran on.
    pub fleet: &'a Fleet,
    /// How to price it: the fleet's cache, with the `--prices` table where one was given.
    pub pricing: crate::results::cost::Assumptions,
    /// The stores it read.
    pub targets: Targets,
    /// Its agents, as they ended (lost ones marked).
    pub agents: Vec<AgentResult>,
    /// Their clocks against the controller's.
    pub clocks: Vec<Clock>,
    /// When it started and ended.
    pub started_at: SystemTime,
    /// When the last workload ended.
    pub finished_at: SystemTime,
}

/// The price table a run used, beside its result.json, when it was not the built-in one.
pub const PRICES_TOML: &str = "prices.toml";

/// result.json from the tallies, priced and judged against the thresholds, written into `dir`
/// with the report and exports beside it, and the summary printed.
pub fn finish(scenario: &Scenario, run: Run, measured: Measured, dir: &Path) -> Result<RunReport, Error> {
    let Run { fleet, pricing, targets, agents, clocks, started_at, finished_at } = run;
    let ids: Vec<String> = agents.iter().map(|a| a.id.clone()).collect();
    let offsets: Vec<i64> = clocks.iter().map(|c| c.offset_ns).collect();
    let workloads: Vec<_> = scenario
        .workloads
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut result = measured.tallies.workload_result(i, &w.name, w.target, &ids, &offsets);
            if w.agents.is_some() {
                // On part of the fleet: its agents are the ones it ran on (a workload on the
                // whole fleet lists every agent, a lost one with nothing).
                let ran = measured.dispatched.get(i).map_or(&[][..], Vec::as_slice);
                result.per_agent = std::mem::take(&mut result.per_agent)
                    .into_iter()
                    .enumerate()
                    .filter(|(a, _)| ran.contains(a))
                    .map(|(_, r)| r)
                    .collect();
            }
            result.capacity = measured.capacities.get(i).cloned().flatten();
            result.server = measured.servers.get(i).cloned().flatten();
            if let Some((began, ended)) = measured.windows.get(i).copied().flatten() {
                result.started_at = Some(humantime::format_rfc3339_millis(began).to_string());
                result.finished_at = Some(humantime::format_rfc3339_millis(ended).to_string());
            }
            let run_writes = scenario.workloads.iter().any(|w| w.write_share > 0.0);
            if run_writes && w.target == Target::CacheAside && result.ops > 0 {
                // Its reads were judged against the versions the run wrote: none stale is a
                // figure, not a missing one.
                result.stale_reads.get_or_insert(0);
                result.stale_share.get_or_insert(0.0);
                for point in &mut result.timeseries {
                    point.stale_reads.get_or_insert(0);
                    if point.hit_ratio.is_some() {
                        point.stale_share.get_or_insert(0.0);
                    }
                }
            }
            if w.busy_poll.is_some() {
                if result.ops + result.errors > 0 {
                    result.busy_polled_share.get_or_insert(0.0);
                }
                // Polling keeps the agent's cores busy by design: that is no sign of a bottleneck,
                // but sending less than an open-loop schedule asked still is.
                result.client_bound_reason = tally::client_bound_reason(&result, false);
                result.client_bound = result.client_bound_reason.is_some();
            }
            result
        })
        .collect();
    let lost = agents.iter().any(|a| a.status != AgentStatus::Ok);
    let degraded = lost || workloads.iter().any(|w| w.errors > 0);
    let start_skew_ms = workloads.iter().map(|w| w.start_skew_ms).fold(0.0, f64::max);
    let checked = thresholds::check(&scenario.thresholds, &workloads);
    let mut result = RunResult {
        schema: SCHEMA.into(),
        scenario: scenario.clone(),
        fleet: fleet.kind,
        started_at: humantime::format_rfc3339_seconds(started_at).to_string(),
        finished_at: humantime::format_rfc3339_seconds(finished_at).to_string(),
        degraded: degraded || measured.aborted,
        partial: measured.interrupted || measured.aborted,
        targets,
        agents,
        workloads,
        start_skew_ms,
        thresholds: checked,
        cost: None,
        verdict: None,
        cloudwatch: Vec::new(),
    };
    result.cost = Some(cost::estimate_or_default(&result, &pricing));
    result.verdict = crate::results::verdict::judge(&result, &pricing);
    // An --out folder may hold an earlier run: its .hgrm files of workloads this run does not
    // have would sit beside this run's figures as if they were part of them.
    let earlier = load(&dir.join(RESULT_JSON)).ok();
    let path = result.write(dir).map_err(|source| Error::Output { path: dir.to_owned(), source })?;
    // Prices other than the built-in table's (a file, the Price List) are kept beside the result,
    // so that `report --prices` can price it again as it was.
    if pricing.prices_origin != cost::BUILT_IN_ORIGIN {
        let text = pricing.prices.kept_text("this run", &pricing.prices_origin);
        crate::support::write_atomic(&dir.join(PRICES_TOML), text.as_bytes())
            .map_err(|source| Error::Output { path: dir.join(PRICES_TOML), source })?;
    }
    say_text!(&terminal::render(&result));
    if let Some(e) = &earlier {
        say!("replaced: the result of {} ({}) that {} held", e.scenario.name, e.started_at, dir.display());
    }
    say!("result: {}", path.display());
    let report = files::write_all(&result, result.cost.as_ref(), dir)?;
    say!("report: {}", report.display());
    let current = export::hgrm_names(&result);
    let earlier_hgrm = earlier.map(|e| export::hgrm_names(&e)).unwrap_or_default();
    for stale in earlier_hgrm.iter().filter(|n| !current.contains(n)) {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    let breached = result.thresholds.iter().any(|t| !t.passed);
    let status = RunStatus::of(measured.interrupted, breached, degraded);
    Ok(RunReport { result, path, status })
}
