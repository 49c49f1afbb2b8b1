//! The files written beside result.json after every run (report.html, one `.hgrm` per workload,
//! summary.csv, timeseries.csv) and `fetchbench report`, which writes them again from a result
//! file.

use std::path::{Path, PathBuf};

use crate::render::html::compare as compare_html;
use crate::render::{export, html};
use crate::results::compare::Comparison;
use crate::results::cost::{self, Assumptions, CostError, CostEstimate};
use crate::results::histogram::DamagedResult;
use crate::results::schema::{
    LoadError, REPORT_HTML, RESULT_JSON, RunResult, SUMMARY_CSV, TIMESERIES_CSV, load, result_file,
};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The result file is missing, unreadable or not a fetchbench result.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A histogram of a kept result does not decode: the file is damaged (a runtime failure,
    /// not bad input: the command line named a real result).
    #[error(transparent)]
    Damaged(#[from] DamagedResult),
    /// The cost assumptions are not in the price table.
    #[error(transparent)]
    Cost(#[from] CostError),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ReportError {
    /// True when the input (the result file, or a price assumption) is at fault, not the machine.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ReportError::Load(_) | ReportError::Cost(_))
    }
}

/// The cost to show for `result`: re-priced when `assumptions` are given, else the one the run
/// recorded, else priced with the defaults (files from before fetchbench priced runs).
pub fn cost_of(result: &RunResult, assumptions: Option<&Assumptions>) -> Result<CostEstimate, CostError> {
    match (assumptions, &result.cost) {
        (None, Some(recorded)) => Ok(recorded.clone()),
        (a, _) => cost::estimate(result, &a.cloned().unwrap_or_default()),
    }
}

/// Write `path` through a temporary file beside it.
fn write_file(path: &Path, contents: &str) -> Result<(), ReportError> {
    crate::support::write_atomic(path, contents.as_bytes())
        .map_err(|source| ReportError::Write { path: path.to_owned(), source })
}

/// Write report.html of `result`, read from the file `source`, to `path`.
fn write_html(
    result: &RunResult,
    source: &Path,
    cost: Option<&CostEstimate>,
    path: &Path,
) -> Result<(), ReportError> {
    let page = html::render(result, cost).map_err(|e| e.in_file(source))?;
    write_file(path, &page)
}

/// Write the page of `fetchbench compare --html` to `path`.
pub fn write_comparison_html(
    base: compare_html::Side,
    new: compare_html::Side,
    comparison: &Comparison,
    limit: Option<f64>,
    path: &Path,
) -> Result<(), ReportError> {
    let page = compare_html::render(base, new, comparison, limit)?;
    write_file(path, &page)
}

/// Write report.html, the `.hgrm` files and the CSV files into `dir`, beside the result.json
/// of `result`; returns the report's path.
pub fn write_all(
    result: &RunResult,
    cost: Option<&CostEstimate>,
    dir: &Path,
) -> Result<PathBuf, ReportError> {
    write_beside(result, &dir.join(RESULT_JSON), cost, dir)
}

/// [`write_all`] for `result` read from the file `source`.
fn write_beside(
    result: &RunResult,
    source: &Path,
    cost: Option<&CostEstimate>,
    dir: &Path,
) -> Result<PathBuf, ReportError> {
    for (name, text) in export::hgrm_files(result).map_err(|e| e.in_file(source))? {
        write_file(&dir.join(name), &text)?;
    }
    write_file(&dir.join(SUMMARY_CSV), &export::summary_csv(result))?;
    write_file(&dir.join(TIMESERIES_CSV), &export::timeseries_csv(result))?;
    let path = dir.join(REPORT_HTML);
    write_html(result, source, cost, &path)?;
    Ok(path)
}

/// `fetchbench report`: with `html_out`, write only the page there; without, write the page and
/// the exports beside the result file. Returns what was written, for the user, and the result
/// with the cost the files show (recorded, or priced again under `assumptions`).
pub fn write_report(
    result_path: &Path,
    html_out: Option<&Path>,
    assumptions: Option<&Assumptions>,
) -> Result<(PathBuf, RunResult), ReportError> {
    let result_path = &result_file(result_path);
    let mut result = load(result_path)?;
    let cost = cost_of(&result, assumptions)?;
    if let Some(a) = assumptions {
        result.verdict = crate::results::verdict::judge(&result, a);
    }
    let written = match html_out {
        Some(path) => {
            write_html(&result, result_path, Some(&cost), path)?;
            path.to_owned()
        }
        None => {
            let dir = match result_path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
                _ => PathBuf::from("."),
            };
            write_beside(&result, result_path, Some(&cost), &dir)?
        }
    };
    result.cost = Some(cost);
    Ok((written, result))
}
