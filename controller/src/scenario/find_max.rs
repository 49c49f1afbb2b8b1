//! `find_max`: search for the highest rate a workload sustains within a latency objective, instead
//! of running it once. Written in a scenario as `find_max = { p99_ms = 2 }` on a workload, or for
//! every workload with `fetchbench run --find-max p99=2ms`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The percentile an objective bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Percentile {
    /// The median.
    P50,
    /// The 99th percentile.
    P99,
    /// The 99.9th percentile.
    P999,
}

impl Percentile {
    /// The quantile, 0..1.
    pub fn quantile(self) -> f64 {
        match self {
            Percentile::P50 => 0.5,
            Percentile::P99 => 0.99,
            Percentile::P999 => 0.999,
        }
    }

    /// The name in scenario files, flags and results: `p50`, `p99`, `p999`.
    pub fn as_str(self) -> &'static str {
        match self {
            Percentile::P50 => "p50",
            Percentile::P99 => "p99",
            Percentile::P999 => "p999",
        }
    }
}

/// Default cap on the error rate of a step that meets the objective: 0.1%.
pub const DEFAULT_ERROR_RATE: f64 = 0.001;
/// Default resolution: the search stops when the first failed rate is within 5% of the highest met.
pub const DEFAULT_RESOLUTION: f64 = 0.05;
/// Default length of one step at one rate.
pub const DEFAULT_STEP: Duration = Duration::from_secs(5);
/// Default time budget of a whole search.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(300);
/// Shortest step: the agents report once a second, and a step's figures need a few reports.
pub const MIN_STEP: Duration = Duration::from_secs(2);

/// A latency objective and how to search for the highest rate that meets it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindMax {
    /// The percentile of the latency (from each request's intended start) the objective bounds.
    pub percentile: Percentile,
    /// Its limit, in milliseconds.
    pub limit_ms: f64,
    /// The highest share of requests that may fail in a step that meets the objective.
    pub max_error_rate: f64,
    /// The search ends when (first failed - highest met) / highest met is at most this.
    pub resolution: f64,
    /// How long each rate is held.
    #[serde(with = "super::duration_text")]
    pub step: Duration,
    /// The longest the whole search may take; it ends after the step that passes it.
    #[serde(with = "super::duration_text")]
    pub budget: Duration,
}

impl FindMax {
    /// An objective with every other setting at its default.
    pub fn new(percentile: Percentile, limit_ms: f64) -> FindMax {
        FindMax {
            percentile,
            limit_ms,
            max_error_rate: DEFAULT_ERROR_RATE,
            resolution: DEFAULT_RESOLUTION,
            step: DEFAULT_STEP,
            budget: DEFAULT_BUDGET,
        }
    }

    /// `--find-max`'s value: `p99=2ms`, with optional `,errors=0.5%`, `,resolution=10%`,
    /// `,step=10s`, `,budget=10m`. The error names what is wrong and what is expected.
    pub fn from_flag(text: &str) -> Result<FindMax, String> {
        let mut parts = text.split(',').map(str::trim);
        let objective = parts.next().unwrap_or_default();
        let (name, limit) = objective
            .split_once('=')
            .ok_or_else(|| format!("{objective:?} is not an objective; write e.g. p99=2ms"))?;
        let percentile = percentile(name.trim())?;
        let limit = humantime::parse_duration(limit.trim())
            .map_err(|_| format!("{limit:?} is not a latency; write e.g. p99=2ms or p99=500us"))?;
        let mut find_max = FindMax::new(percentile, limit.as_secs_f64() * 1e3);
        for part in parts {
            let (key, value) = part.split_once('=').ok_or_else(|| format!("{part:?} is not KEY=VALUE"))?;
            let value = value.trim();
            match key.trim() {
                "errors" => find_max.max_error_rate = percent(value, "errors")?,
                "resolution" => find_max.resolution = percent(value, "resolution")?,
                "step" => find_max.step = duration(value, "step")?,
                "budget" => find_max.budget = duration(value, "budget")?,
                other => {
                    return Err(format!("unknown setting {other:?}; use errors, resolution, step or budget"));
                }
            }
        }
        find_max.check()?;
        Ok(find_max)
    }

    /// Why these settings cannot search, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if !(self.limit_ms.is_finite() && self.limit_ms > 0.0) {
            return Err(format!("the {} limit must be above 0 ms", self.percentile.as_str()));
        }
        if !(0.0..1.0).contains(&self.max_error_rate) {
            return Err(format!("an error rate of {} is not in [0, 1)", self.max_error_rate));
        }
        if !(self.resolution > 0.0 && self.resolution <= 0.5) {
            return Err(format!("a resolution of {} is not in (0, 0.5] (e.g. 0.05 for 5%)", self.resolution));
        }
        if self.step < MIN_STEP {
            return Err(format!(
                "a step of {} is too short to judge; give at least {}",
                humantime::format_duration(self.step),
                humantime::format_duration(MIN_STEP)
            ));
        }
        if self.budget < self.step * 2 {
            return Err("the budget must hold at least two steps".to_owned());
        }
        Ok(())
    }
}

impl fmt::Display for FindMax {
    /// `p99 <= 2 ms, errors <= 0.1%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} <= {} ms, errors <= {}%",
            self.percentile.as_str(),
            self.limit_ms,
            self.max_error_rate * 100.0
        )
    }
}

/// A percentile by name: `p50`, `p99`, `p999` (also `p99.9`).
pub fn percentile(name: &str) -> Result<Percentile, String> {
    match name {
        "p50" => Ok(Percentile::P50),
        "p99" => Ok(Percentile::P99),
        "p999" | "p99.9" => Ok(Percentile::P999),
        other => Err(format!("{other:?} is not a percentile; use p50, p99 or p999")),
    }
}

/// `0.5%` or `0.005`.
fn percent(text: &str, what: &str) -> Result<f64, String> {
    let parsed = match text.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => text.parse::<f64>(),
    };
    parsed
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{what}={text:?} is not a share; write e.g. 0.5%"))
}

/// A search's `step` or `budget`, as the flag and the scenario file write it.
pub(super) fn duration(text: &str, what: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|_| format!("{what}={text:?} is not a duration; write e.g. 10s"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_takes_an_objective_and_optional_settings() {
        let f = FindMax::from_flag("p99=2ms").expect("valid");
        assert_eq!((f.percentile, f.limit_ms, f.max_error_rate), (Percentile::P99, 2.0, 0.001));
        assert_eq!((f.resolution, f.step, f.budget), (0.05, DEFAULT_STEP, DEFAULT_BUDGET));
        let f = FindMax::from_flag("p999=500us, errors=1%,resolution=0.1,step=3s,budget=2m").expect("valid");
        assert_eq!((f.percentile, f.limit_ms, f.max_error_rate), (Percentile::P999, 0.5, 0.01));
        assert_eq!((f.resolution, f.step, f.budget), (0.1, Duration::from_secs(3), Duration::from_secs(120)));
        assert_eq!(f.to_string(), "p999 <= 0.5 ms, errors <= 1%");
    }

    #[test]
    fn a_bad_flag_says_what_is_wrong() {
        for (text, expected) in [
            ("p99", "not an objective"),
            ("p95=2ms", "use p50, p99 or p999"),
            ("p99=fast", "not a latency"),
            ("p99=0ms", "above 0 ms"),
            ("p99=2ms,colour=red", "unknown setting"),
            ("p99=2ms,errors=x", "not a share"),
            ("p99=2ms,errors=100%", "not in [0, 1)"),
            ("p99=2ms,resolution=0.9", "not in (0, 0.5]"),
            ("p99=2ms,step=1s", "too short"),
            ("p99=2ms,step=10s,budget=15s", "two steps"),
        ] {
            let e = FindMax::from_flag(text).expect_err(text);
            assert!(e.contains(expected), "{text}: {e}");
        }
    }
}
