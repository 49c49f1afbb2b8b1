//! Scenario files: what to measure. [`Scenario::load`] parses the TOML into raw, span-carrying
//! types and validates them into a [`Scenario`]; every error names the file, the line, the field
//! and its value.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

pub mod expand;

/// The built-in seed scenario: the tutorial's experiment.
pub const SEED_TOML: &str = include_str!("../../../scenarios/seed.toml");

/// The limits an agent holds to as well.
pub use fetchbench_proto::limits::{
    MAX_BUSY_POLL, MAX_CONCURRENCY, MAX_OBJECT_BYTES, MAX_PIPELINE, MAX_RATE,
};

/// Most agents one run may use.
pub const MAX_AGENTS: u32 = 1024;
/// Most objects in a dataset.
pub const MAX_OBJECTS: u64 = 100_000_000;
/// Longest phase (warm-up or measured) or request timeout.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Shortest measured phase: a shorter one ends before a request to S3 can (1 ns gave 27 Redis
/// reads against one S3 read).
pub const MIN_DURATION: Duration = Duration::from_millis(1);
/// Largest dataset, bytes (1 TiB, estimated from the sizes): a larger one would take hours to
/// seed and more memory than any cache node has.
pub const MAX_DATASET_BYTES: u64 = 1 << 40;

/// A validated scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Names the run and its output folder.
    pub name: String,
    /// Agents to run on (the `--agents` flag overrides it).
    pub agents: u32,
    /// The objects written before the run and read by every workload.
    pub dataset: Dataset,
    /// Workloads, run one after another in file order.
    pub workloads: Vec<Workload>,
    /// Limits checked against the merged results, `"<workload>.<metric>"` -> value; a breach
    /// makes the run exit 99.
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
    /// What to do when an agent is lost mid-run.
    #[serde(default)]
    pub on_agent_loss: OnAgentLoss,
    /// How many times the workloads ran in turn (`run --repeat`): round r's copy of a workload
    /// is named `<workload>-<r>`. 1 when they ran once.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub rounds: u32,
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// What a run does when an agent stops answering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnAgentLoss {
    /// Carry on with the agents left; the result is marked degraded.
    #[default]
    Continue,
    /// Stop every agent and end the run, keeping what was measured.
    Abort,
}

/// The objects of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Number of objects, keys `filename{i}.txt` for i in 0..objects.
    pub objects: u64,
    /// Object sizes, bytes.
    pub size: Sizes,
    /// Seed of sizes, contents and key choices.
    pub seed: u64,
    /// Whether the objects are written to Redis too before the run (`warm`), or Redis starts
    /// without them (`cold`, for cache-aside workloads to fill).
    #[serde(default)]
    pub cache: CacheStart,
}

/// How object sizes are drawn, bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sizes {
    /// Uniform in `[min, max]` (fixed when equal).
    Uniform {
        /// Smallest, bytes.
        min: u64,
        /// Largest, bytes.
        max: u64,
    },
    /// One of several sizes with relative weights: `[[bytes, weight], ...]`.
    Weighted(Vec<(u64, f64)>),
    /// Log-normal around `median` with log-deviation `sigma`, clamped to `[min, max]`.
    Lognormal {
        /// Median, bytes.
        median: f64,
        /// Standard deviation of ln(size).
        sigma: f64,
        /// Smallest, bytes.
        min: u64,
        /// Largest, bytes.
        max: u64,
    },
}

impl Sizes {
    /// The smallest size an object can have, bytes.
    pub fn smallest(&self) -> u64 {
        match self {
            Sizes::Uniform { min, .. } | Sizes::Lognormal { min, .. } => *min,
            Sizes::Weighted(sizes) => sizes.iter().map(|&(bytes, _)| bytes).min().unwrap_or(0),
        }
    }
}

/// Whether Redis holds the objects when the run starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStart {
    /// Written to Redis as well as S3 (the tutorial).
    #[default]
    Warm,
    /// Written to S3 only, and removed from Redis.
    Cold,
}

impl CacheStart {
    /// The name used in scenario files and results.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStart::Warm => "warm",
            CacheStart::Cold => "cold",
        }
    }
}

impl Dataset {
    /// The dataset's total size, bytes, estimated from up to 10,000 of its objects spread
    /// evenly over it (exact for fewer objects).
    pub fn estimated_bytes(&self) -> u64 {
        let generator = self.generator();
        let sampled = self.objects.min(10_000);
        let step = self.objects / sampled;
        let sum: u64 = (0..sampled).map(|k| generator.size(k * step)).sum();
        let mean = sum as f64 / sampled as f64;
        (mean * self.objects as f64).min(u64::MAX as f64) as u64
    }

    /// The dataset as the agents generate it.
    pub fn generator(&self) -> fetchbench_proto::dataset::Dataset {
        use fetchbench_proto::dataset as d;
        let sizes = match &self.size {
            Sizes::Uniform { min, max } => d::Sizes::Uniform { min: *min, max: *max },
            Sizes::Weighted(list) => d::Sizes::Weighted(list.clone()),
            Sizes::Lognormal { median, sigma, min, max } => {
                d::Sizes::LogNormal { median: *median, sigma: *sigma, min: *min, max: *max }
            }
        };
        d::Dataset { objects: self.objects, sizes, seed: self.seed }
    }

    /// A short description: "235-434 bytes", "1024 bytes (70%) or 65536 bytes (30%)".
    pub fn describe_sizes(&self) -> String {
        match &self.size {
            Sizes::Uniform { min, max } if min == max => format!("{min} bytes"),
            Sizes::Uniform { min, max } => format!("{min}-{max} bytes"),
            Sizes::Weighted(list) => {
                let total: f64 = list.iter().map(|(_, w)| w).sum();
                let parts: Vec<String> =
                    list.iter().map(|(b, w)| format!("{b} bytes ({:.0}%)", 100.0 * w / total)).collect();
                parts.join(" or ")
            }
            Sizes::Lognormal { median, sigma, .. } => {
                format!("log-normal sizes, median {median} bytes, sigma {sigma}")
            }
        }
    }
}

/// One workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Unique name, used in results.
    pub name: String,
    /// What it reads from.
    pub target: Target,
    /// Requests in flight per agent.
    pub concurrency: u32,
    /// When the measured phase ends.
    pub stop: Amount,
    /// Warm-up before the measured phase, left out of the results; `None` for none.
    pub warmup: Option<Amount>,
    /// How keys are chosen.
    pub keys: KeyDist,
    /// Per-request timeout.
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    /// Open loop: requests per second per agent; `None` for closed loop.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Redis: share of requests that SET the object instead of reading it.
    #[serde(default)]
    pub set_share: f64,
    /// Redis, closed loop: commands each connection sends at once before reading their replies.
    #[serde(default = "one")]
    pub pipeline: u32,
    /// Redis, one command at a time: how long each slot polls for a reply before its thread may
    /// sleep; `None` for never.
    #[serde(default, with = "duration_text_opt")]
    pub busy_poll: Option<Duration>,
    /// Cache-aside: expiry of the values written back after a miss; `None` for none.
    #[serde(default, with = "duration_text_opt")]
    pub ttl: Option<Duration>,
    /// Inclusive byte range read from each object (S3 Range, Redis GETRANGE), `None` for the whole.
    #[serde(default)]
    pub range: Option<(u64, u64)>,
    /// Runs on the first this many of the run's agents (`--agents 1,2,4` sweeps it); `None` for
    /// all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<u32>,
}

/// One command at a time: the default of `pipeline`, also for results written before it.
fn one() -> u32 {
    1
}

impl Workload {
    /// The workload in one line, as a run and its dry run announce it: `redis-get (redis, 2
    /// agents x 16 in flight, 10s per agent after 1s of warm-up, keys uniform)`. `agents` is how
    /// many agents run it.
    pub fn describe(&self, agents: usize) -> String {
        let warmup = self.warmup.map(|a| format!(" after {a} of warm-up")).unwrap_or_default();
        let keys = match self.range {
            Some((first, last)) => format!("{}, bytes {first}-{last} of each object", self.keys),
            None => self.keys.to_string(),
        };
        format!(
            "{} ({}, {agents} agent{} x {}, {} per agent{warmup}, keys {keys})",
            self.name,
            self.target.as_str(),
            if agents == 1 { "" } else { "s" },
            self.describe_load(),
            self.stop
        )
    }

    /// How each agent loads the target: `open loop at 500 ops/s over 4 connections`, `4
    /// connections x pipeline 8 in flight` or `16 in flight`, each followed by `, busy-polling up
    /// to 50us` when it polls.
    pub fn describe_load(&self) -> String {
        let plural = if self.concurrency == 1 { "" } else { "s" };
        let load = match self.rate {
            Some(rate) => format!("open loop at {rate} ops/s over {} connection{plural}", self.concurrency),
            None if self.pipeline > 1 => {
                format!("{} connections x pipeline {} in flight", self.concurrency, self.pipeline)
            }
            None => format!("{} in flight", self.concurrency),
        };
        match self.busy_poll {
            Some(d) => format!("{load}, busy-polling up to {}", humantime::format_duration(d)),
            None => load,
        }
    }

    /// Each setting that changes what the workload measures, by name, in words: what `fetchbench
    /// compare` names when two runs differ, and what report.html lists.
    pub fn settings(&self) -> [(&'static str, String); 13] {
        let duration = |d: Option<Duration>, none: &str| {
            d.map_or_else(|| none.to_owned(), |d| humantime::format_duration(d).to_string())
        };
        [
            ("target", self.target.as_str().to_owned()),
            ("agents", self.agents.map_or_else(|| "all".to_owned(), |n| n.to_string())),
            ("concurrency", self.concurrency.to_string()),
            ("measured", self.stop.to_string()),
            ("warm-up", self.warmup.map_or_else(|| "none".to_owned(), |a| a.to_string())),
            ("rate", self.rate.map_or_else(|| "closed loop".to_owned(), |r| format!("{r} ops/s per agent"))),
            ("pipeline", self.pipeline.to_string()),
            ("keys", self.keys.to_string()),
            ("busy_poll", duration(self.busy_poll, "off")),
            ("set_share", self.set_share.to_string()),
            (
                "range",
                self.range.map_or_else(|| "whole objects".to_owned(), |(a, b)| format!("bytes {a}-{b}")),
            ),
            ("ttl", duration(self.ttl, "none")),
            ("timeout", duration(Some(self.timeout), "")),
        ]
    }
}

/// What a workload reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Redis GET of `{bucket}:filename{i}.txt`.
    Redis,
    /// S3 GetObject of `filename{i}.txt`.
    S3,
    /// Redis GET; on a miss S3 GetObject, then Redis SET.
    CacheAside,
}

impl Target {
    /// The name used in scenario files and results.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Redis => "redis",
            Target::S3 => "s3",
            Target::CacheAside => "cache-aside",
        }
    }

    /// Reads from Redis.
    pub fn uses_redis(self) -> bool {
        matches!(self, Target::Redis | Target::CacheAside)
    }

    /// Reads from S3.
    pub fn uses_s3(self) -> bool {
        matches!(self, Target::S3 | Target::CacheAside)
    }
}

/// A number of requests per agent, or a length of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amount {
    /// Requests per agent.
    Requests(u64),
    /// Wall-clock time.
    #[serde(with = "duration_text")]
    Duration(Duration),
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Requests(1) => write!(f, "1 request"),
            Amount::Requests(n) => write!(f, "{n} requests"),
            Amount::Duration(d) => write!(f, "{}", humantime::format_duration(*d)),
        }
    }
}

/// How requests choose their object.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum KeyDist {
    /// `uniform`: every object equally likely.
    Uniform,
    /// `sequential`: 0, 1, 2, ... wrapping around.
    Sequential,
    /// `zipf:S`: rank k with probability proportional to 1/k^S.
    Zipf(f64),
    /// `hotset:F:P`: a fraction F of the objects takes a share P of the requests.
    HotSet(f64, f64),
}

impl FromStr for KeyDist {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let number = |text: &str, what: &str| -> Result<f64, String> {
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{what} {text:?} is not a number"))
        };
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["uniform"] => Ok(KeyDist::Uniform),
            ["sequential"] => Ok(KeyDist::Sequential),
            ["zipf", e] => {
                let e = number(e, "zipf exponent")?;
                if e <= 0.0 || e > 10.0 {
                    return Err(format!("zipf exponent {e} is not in (0, 10]"));
                }
                Ok(KeyDist::Zipf(e))
            }
            ["hotset", f, p] => {
                let (f, p) = (number(f, "hotset key fraction")?, number(p, "hotset request share")?);
                if !(f > 0.0 && f < 1.0) {
                    return Err(format!("hotset key fraction {f} is not in (0, 1)"));
                }
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("hotset request share {p} is not in [0, 1]"));
                }
                Ok(KeyDist::HotSet(f, p))
            }
            _ => Err(format!(
                "{s:?} is not a key distribution; expected uniform, sequential, zipf:S \
                 (e.g. zipf:0.99) or hotset:F:P (e.g. hotset:0.1:0.9)"
            )),
        }
    }
}

impl fmt::Display for KeyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyDist::Uniform => f.write_str("uniform"),
            KeyDist::Sequential => f.write_str("sequential"),
            KeyDist::Zipf(e) => write!(f, "zipf:{e}"),
            KeyDist::HotSet(k, p) => write!(f, "hotset:{k}:{p}"),
        }
    }
}

impl TryFrom<String> for KeyDist {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<KeyDist> for String {
    fn from(k: KeyDist) -> String {
        k.to_string()
    }
}

/// Durations as humantime text ("30s", "1m 30s") in result files.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// A figure a threshold can bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Latency percentile or extreme, microseconds: an upper bound.
    Latency(&'static str),
    /// Service-time percentile, microseconds (open loop): an upper bound.
    Service(&'static str),
    /// Failed requests: an upper bound.
    Errors,
    /// Failed requests over all requests, 0..1: an upper bound.
    ErrorRate,
    /// Successful requests per second: a lower bound.
    Throughput,
    /// Cache-aside hits over all reads, 0..1: a lower bound.
    HitRatio,
}

impl Metric {
    /// Every metric name a threshold may use.
    pub const NAMES: [&'static str; 18] = [
        "min_us",
        "mean_us",
        "p50_us",
        "p90_us",
        "p99_us",
        "p999_us",
        "max_us",
        "service_p50_us",
        "service_p90_us",
        "service_p99_us",
        "service_p999_us",
        "service_max_us",
        "service_mean_us",
        "service_min_us",
        "errors",
        "error_rate",
        "throughput_ops_s",
        "hit_ratio",
    ];

    /// The metric a name stands for.
    pub fn parse(name: &str) -> Option<Metric> {
        let stat =
            |s: &str| ["min", "mean", "p50", "p90", "p99", "p999", "max"].into_iter().find(|k| *k == s);
        match name {
            "errors" => Some(Metric::Errors),
            "error_rate" => Some(Metric::ErrorRate),
            "throughput_ops_s" => Some(Metric::Throughput),
            "hit_ratio" => Some(Metric::HitRatio),
            _ => {
                let base = name.strip_suffix("_us")?;
                match base.strip_prefix("service_") {
                    Some(s) => stat(s).map(Metric::Service),
                    None => stat(base).map(Metric::Latency),
                }
            }
        }
    }

    /// True when a value above the limit breaches it; false when one below does.
    pub fn is_upper_bound(self) -> bool {
        !matches!(self, Metric::Throughput | Metric::HitRatio)
    }
}

/// Optional durations as humantime text.
mod duration_text_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| humantime::parse_duration(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Why a scenario was refused. Displays as one line: `file:line: field: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ScenarioError {
    /// The file, or `<built-in seed>`.
    pub file: String,
    /// Line of the offending text, 1-based, when known.
    pub line: Option<usize>,
    /// The field at fault, when known.
    pub field: Option<String>,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl ScenarioError {
    fn render(&self) -> String {
        let mut out = format!("scenario {}", self.file);
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
        }
        out.push_str(": ");
        if let Some(field) = &self.field {
            out.push_str(field);
            out.push_str(": ");
        }
        // One line, whatever the parser said.
        out.push_str(&self.message.split_whitespace().collect::<Vec<_>>().join(" "));
        out
    }
}

impl Scenario {
    /// The built-in seed scenario.
    pub fn seed() -> Scenario {
        Scenario::parse(SEED_TOML, "<built-in seed>").expect("the built-in seed scenario is valid")
    }

    /// Read, parse and validate the scenario at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let fail = |message: String| ScenarioError { file: file.clone(), line: None, field: None, message };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if path.is_dir() => {
                return Err(fail(format!("is a directory, not a scenario file ({e})")));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(fail("no such file; scenarios/ holds examples".into()));
            }
            Err(e) => return Err(fail(format!("cannot read it: {e}"))),
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            fail(format!("is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
        })?;
        Scenario::parse(&text, &file)
    }

    /// Parse and validate scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let span = e.span();
            ScenarioError {
                file: file.to_owned(),
                line: span.as_ref().map(|s| line_of(text, s.start)),
                field: span.as_ref().and_then(|s| key_at(text, s.start)).filter(|k| {
                    // "unknown field `foo`" already names it; "missing field" spans a whole table.
                    !e.message().contains(&format!("`{k}`")) && !e.message().starts_with("missing field")
                }),
                message: e.message().trim().to_owned(),
            }
        })?;
        Validator { text, file }.scenario(raw)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    agents: Option<Spanned<u32>>,
    dataset: RawDataset,
    #[serde(default)]
    workload: Vec<Spanned<RawWorkload>>,
    #[serde(default)]
    thresholds: BTreeMap<Spanned<String>, Spanned<f64>>,
    #[serde(default)]
    on_agent_loss: OnAgentLoss,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    objects: Spanned<u64>,
    size: Spanned<toml::Value>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    cache: CacheStart,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    name: Spanned<String>,
    target: Target,
    concurrency: Option<Spanned<u32>>,
    requests: Option<Spanned<u64>>,
    duration: Option<Spanned<String>>,
    warmup: Option<Spanned<RawAmount>>,
    keys: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    rate: Option<Spanned<f64>>,
    set_share: Option<Spanned<f64>>,
    pipeline: Option<Spanned<u32>>,
    busy_poll: Option<Spanned<String>>,
    ttl: Option<Spanned<String>>,
    range: Option<Spanned<String>>,
    agents: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAmount {
    Requests(u64),
    Duration(String),
}

/// Default per-request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

struct Validator<'a> {
    text: &'a str,
    file: &'a str,
}

impl Validator<'_> {
    fn error(&self, span: &Range<usize>, field: &str, message: String) -> ScenarioError {
        ScenarioError {
            file: self.file.to_owned(),
            line: Some(line_of(self.text, span.start)),
            field: Some(field.to_owned()),
            message,
        }
    }

    fn scenario(&self, raw: RawScenario) -> Result<Scenario, ScenarioError> {
        let name = raw.name.get_ref().trim().to_owned();
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            return Err(self.error(
                &raw.name.span(),
                "name",
                format!("{name:?} is not a valid name; use 1-64 letters, digits, '-', '_' or '.'"),
            ));
        }
        let agents = match &raw.agents {
            Some(a) => self.count(a, MAX_AGENTS, "agents")?,
            None => 1,
        };
        let dataset = self.dataset(&raw.dataset)?;
        if raw.workload.is_empty() {
            return Err(ScenarioError {
                file: self.file.to_owned(),
                line: None,
                field: Some("workload".into()),
                message: "no [[workload]] table; a scenario needs at least one".into(),
            });
        }
        let mut workloads: Vec<Workload> = Vec::with_capacity(raw.workload.len());
        for w in &raw.workload {
            let workload = self.workload(w.get_ref())?;
            let smallest = dataset.size.smallest();
            if let (Some((first, _)), Some(span)) = (workload.range, &w.get_ref().range)
                && first >= smallest
            {
                // S3 answers such a read 416 and Redis an empty string: every short object would
                // be an error, which says nothing about either store.
                return Err(self.error(
                    &span.span(),
                    "workload.range",
                    format!(
                        "starts at byte {first}, past the end of the smallest objects ({smallest} byte{}); \
                         start it below {smallest}",
                        if smallest == 1 { "" } else { "s" }
                    ),
                ));
            }
            if let (Some(n), Some(span)) = (workload.agents, &w.get_ref().agents)
                && n > agents
            {
                return Err(self.error(
                    &span.span(),
                    &format!("workload {:?} agents", workload.name),
                    format!(
                        "{n} is more than the scenario's {agents} agent{}; raise the scenario's agents or lower this",
                        if agents == 1 { "" } else { "s" }
                    ),
                ));
            }
            if workloads.iter().any(|o| o.name == workload.name) {
                return Err(self.error(
                    &w.get_ref().name.span(),
                    "workload.name",
                    format!("{:?} is used by two workloads; names must be unique", workload.name),
                ));
            }
            workloads.push(workload);
        }
        let mut thresholds = BTreeMap::new();
        for (key, value) in &raw.thresholds {
            let (k, v) = (key.get_ref(), *value.get_ref());
            let field = format!("thresholds.{k:?}");
            let (workload, metric) = k.rsplit_once('.').ok_or_else(|| {
                self.error(
                    &key.span(),
                    &field,
                    "write \"<workload>.<metric>\", e.g. \"redis-get.p99_us\"".into(),
                )
            })?;
            let Some(w) = workloads.iter().find(|w| w.name == workload) else {
                let names: Vec<&str> = workloads.iter().map(|w| w.name.as_str()).collect();
                return Err(self.error(
                    &key.span(),
                    &field,
                    format!("no workload is named {workload:?}; the workloads are {}", names.join(", ")),
                ));
            };
            let Some(m) = Metric::parse(metric) else {
                return Err(self.error(
                    &key.span(),
                    &field,
                    format!("unknown metric {metric:?}; use one of {}", Metric::NAMES.join(", ")),
                ));
            };
            if m == Metric::HitRatio && w.target != Target::CacheAside {
                return Err(self.error(
                    &key.span(),
                    &field,
                    "hit_ratio applies to cache-aside workloads only".into(),
                ));
            }
            if !v.is_finite() || v < 0.0 {
                return Err(self.error(&value.span(), &field, format!("{v} is not a number >= 0")));
            }
            if matches!(m, Metric::ErrorRate | Metric::HitRatio) && v > 1.0 {
                return Err(self.error(
                    &value.span(),
                    &field,
                    format!("{v} is not a share in [0, 1] (0.01 is 1% of requests)"),
                ));
            }
            if matches!(m, Metric::Service(_)) && w.rate.is_none() {
                return Err(self.error(
                    &key.span(),
                    &field,
                    format!(
                        "service time applies to open-loop workloads (rate = ...); workload {:?} \
                         runs closed loop, where the latency is the service time: use {}",
                        w.name,
                        metric.trim_start_matches("service_")
                    ),
                ));
            }
            thresholds.insert(k.clone(), v);
        }
        Ok(Scenario {
            name,
            agents,
            dataset,
            workloads,
            thresholds,
            on_agent_loss: raw.on_agent_loss,
            rounds: 1,
        })
    }

    fn dataset(&self, d: &RawDataset) -> Result<Dataset, ScenarioError> {
        let objects = *d.objects.get_ref();
        if !(1..=MAX_OBJECTS).contains(&objects) {
            return Err(self.error(
                &d.objects.span(),
                "dataset.objects",
                format!("{objects} is not in 1..={MAX_OBJECTS}"),
            ));
        }
        let size = self.sizes(&d.size)?;
        let generator = Dataset { objects, size: size.clone(), seed: d.seed, cache: d.cache }.generator();
        if generator.max_size() > MAX_OBJECT_BYTES {
            return Err(self.error(
                &d.size.span(),
                "dataset.size",
                format!(
                    "objects up to {} bytes are above {MAX_OBJECT_BYTES} bytes (1 GiB)",
                    generator.max_size()
                ),
            ));
        }
        let dataset = Dataset { objects, size, seed: d.seed, cache: d.cache };
        let bytes = dataset.estimated_bytes();
        if bytes > MAX_DATASET_BYTES {
            return Err(self.error(
                &d.objects.span(),
                "dataset.objects",
                format!(
                    "{objects} objects of {} come to about {}, above the 1 TiB a dataset may hold; \
                     use fewer or smaller objects",
                    dataset.describe_sizes(),
                    human_bytes(bytes)
                ),
            ));
        }
        Ok(dataset)
    }

    /// `size = 1024`, `{ min, max }`, `[[bytes, weight], ...]` or `{ median, sigma, min?, max? }`.
    fn sizes(&self, v: &Spanned<toml::Value>) -> Result<Sizes, ScenarioError> {
        let fail = |msg: String| self.error(&v.span(), "dataset.size", msg);
        let bytes = |v: &toml::Value, what: &str| -> Result<u64, ScenarioError> {
            v.as_integer()
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| fail(format!("{what} {v} is not a number of bytes >= 0")))
        };
        let number = |v: &toml::Value, what: &str| -> Result<f64, ScenarioError> {
            v.as_float()
                .or_else(|| v.as_integer().map(|n| n as f64))
                .filter(|f| f.is_finite())
                .ok_or_else(|| fail(format!("{what} {v} is not a number")))
        };
        let expected = "write a number of bytes, { min = A, max = B }, [[bytes, weight], ...] \
                        or { median = M, sigma = S }";
        let sizes = match v.get_ref() {
            toml::Value::Integer(_) => {
                let n = bytes(v.get_ref(), "size")?;
                Sizes::Uniform { min: n, max: n }
            }
            toml::Value::Array(items) => {
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    let pair = item
                        .as_array()
                        .filter(|p| p.len() == 2)
                        .ok_or_else(|| fail(format!("{item} is not a [bytes, weight] pair; {expected}")))?;
                    let w = number(&pair[1], "weight")?;
                    if w <= 0.0 {
                        return Err(fail(format!("weight {w} is not > 0")));
                    }
                    list.push((bytes(&pair[0], "size")?, w));
                }
                if list.is_empty() {
                    return Err(fail(format!("the list is empty; {expected}")));
                }
                if !list.iter().map(|(_, w)| w).sum::<f64>().is_finite() {
                    return Err(fail("the weights add up to more than a number can hold".into()));
                }
                Sizes::Weighted(list)
            }
            toml::Value::Table(t) => {
                let known = ["min", "max", "median", "sigma"];
                if let Some(k) = t.keys().find(|k| !known.contains(&k.as_str())) {
                    return Err(fail(format!("unknown key {k:?}; {expected}")));
                }
                let min = t.get("min").map(|v| bytes(v, "min")).transpose()?;
                let max = t.get("max").map(|v| bytes(v, "max")).transpose()?;
                match (t.get("median"), t.get("sigma")) {
                    (None, None) => match (min, max) {
                        (Some(min), Some(max)) if min <= max => Sizes::Uniform { min, max },
                        (Some(min), Some(max)) => return Err(fail(format!("min {min} is above max {max}"))),
                        _ => return Err(fail(format!("a range needs both min and max; {expected}"))),
                    },
                    (Some(median), Some(sigma)) => {
                        let (median, sigma) = (number(median, "median")?, number(sigma, "sigma")?);
                        if median < 1.0 {
                            return Err(fail(format!("median {median} is below 1 byte")));
                        }
                        if !(0.0..=10.0).contains(&sigma) {
                            return Err(fail(format!("sigma {sigma} is not in [0, 10]")));
                        }
                        let (min, max) = (min.unwrap_or(1), max.unwrap_or(MAX_OBJECT_BYTES));
                        if min > max {
                            return Err(fail(format!("min {min} is above max {max}")));
                        }
                        Sizes::Lognormal { median, sigma, min, max }
                    }
                    _ => return Err(fail("a log-normal needs both median and sigma".into())),
                }
            }
            other => return Err(fail(format!("{other} is not a size; {expected}"))),
        };
        Ok(sizes)
    }

    fn workload(&self, w: &RawWorkload) -> Result<Workload, ScenarioError> {
        let name = w.name.get_ref().trim().to_owned();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(self.error(
                &w.name.span(),
                "workload.name",
                format!("{name:?} is not a valid name; use 1-64 printable characters"),
            ));
        }
        let field = |f: &str| format!("workload {name:?} {f}");
        let concurrency = match &w.concurrency {
            Some(c) => self.count(c, MAX_CONCURRENCY, &field("concurrency"))?,
            None => 1,
        };
        let stop = match (&w.requests, &w.duration) {
            (Some(_), Some(d)) => {
                return Err(self.error(
                    &d.span(),
                    &field("duration"),
                    "set either requests or duration, not both".into(),
                ));
            }
            (Some(r), None) => {
                let n = *r.get_ref();
                if n == 0 {
                    return Err(self.error(
                        &r.span(),
                        &field("requests"),
                        "0 requests; use at least 1".into(),
                    ));
                }
                Amount::Requests(n)
            }
            (None, Some(d)) => Amount::Duration(self.duration(d, &field("duration"))?),
            (None, None) => {
                return Err(self.error(
                    &w.name.span(),
                    &field("requests"),
                    "missing; set requests = N (per agent) or duration = \"30s\"".into(),
                ));
            }
        };
        let warmup = match &w.warmup {
            None => None,
            Some(s) => match s.get_ref() {
                RawAmount::Requests(0) => None,
                RawAmount::Requests(n) => Some(Amount::Requests(*n)),
                RawAmount::Duration(text) => {
                    let spanned = Spanned::new(s.span(), text.clone());
                    let d = self.duration(&spanned, &field("warmup"))?;
                    (!d.is_zero()).then_some(Amount::Duration(d))
                }
            },
        };
        let keys = match &w.keys {
            Some(k) => k.get_ref().parse().map_err(|e| self.error(&k.span(), &field("keys"), e))?,
            None => KeyDist::Uniform,
        };
        let timeout = match &w.timeout {
            Some(t) => {
                let d = self.duration(t, &field("timeout"))?;
                if d < Duration::from_millis(1) {
                    return Err(self.error(&t.span(), &field("timeout"), "must be at least 1ms".into()));
                }
                d
            }
            None => DEFAULT_TIMEOUT,
        };
        let rate = match &w.rate {
            Some(r) => {
                let v = *r.get_ref();
                if !(v.is_finite() && v > 0.0 && v <= MAX_RATE) {
                    return Err(self.error(
                        &r.span(),
                        &field("rate"),
                        format!("{v} is not a rate in (0, {MAX_RATE}] requests per second per agent"),
                    ));
                }
                Some(v)
            }
            None => None,
        };
        let set_share = match &w.set_share {
            Some(p) => {
                let v = *p.get_ref();
                if !(0.0..=1.0).contains(&v) {
                    return Err(self.error(&p.span(), &field("set_share"), format!("{v} is not in [0, 1]")));
                }
                if v > 0.0 && w.target != Target::Redis {
                    return Err(self.error(
                        &p.span(),
                        &field("set_share"),
                        "applies to target = \"redis\" only".into(),
                    ));
                }
                v
            }
            None => 0.0,
        };
        let pipeline = match &w.pipeline {
            Some(p) => {
                let n = *p.get_ref();
                let problem = if !(1..=MAX_PIPELINE).contains(&n) {
                    Some(format!("{n} is not in 1..={MAX_PIPELINE}"))
                } else if n > 1 && w.target != Target::Redis {
                    Some("applies to target = \"redis\" only".to_owned())
                } else if n > 1 && rate.is_some() {
                    Some("applies to closed loop only; remove rate, or set pipeline = 1".to_owned())
                } else {
                    None
                };
                if let Some(message) = problem {
                    return Err(self.error(&p.span(), &field("pipeline"), message));
                }
                n
            }
            None => 1,
        };
        let busy_poll = match &w.busy_poll {
            Some(b) => {
                let d = self.duration(b, &field("busy_poll"))?;
                let problem = if d < Duration::from_micros(1) || d > MAX_BUSY_POLL {
                    Some(format!("{:?} is not in 1us..=10ms", b.get_ref()))
                } else if w.target != Target::Redis {
                    Some("applies to target = \"redis\" only".to_owned())
                } else if pipeline > 1 {
                    Some("applies to one command at a time; remove pipeline or busy_poll".to_owned())
                } else {
                    None
                };
                if let Some(message) = problem {
                    return Err(self.error(&b.span(), &field("busy_poll"), message));
                }
                Some(d)
            }
            None => None,
        };
        let ttl = match &w.ttl {
            Some(t) => {
                if w.target != Target::CacheAside {
                    return Err(self.error(
                        &t.span(),
                        &field("ttl"),
                        "applies to target = \"cache-aside\" only".into(),
                    ));
                }
                let d = self.duration(t, &field("ttl"))?;
                if d < Duration::from_millis(1) {
                    return Err(self.error(
                        &t.span(),
                        &field("ttl"),
                        format!(
                            "{:?} would expire every cached copy at once; give at least 1ms, or \
                             leave ttl out for copies that never expire",
                            t.get_ref()
                        ),
                    ));
                }
                Some(d)
            }
            None => None,
        };
        let range = match &w.range {
            Some(r) => {
                let parsed = r.get_ref().split_once('-').and_then(|(a, b)| {
                    let (a, b) = (a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?);
                    (a <= b).then_some((a, b))
                });
                Some(parsed.ok_or_else(|| {
                    self.error(
                        &r.span(),
                        &field("range"),
                        format!(
                            "{:?} is not a byte range; write \"FIRST-LAST\", e.g. \"0-1023\"",
                            r.get_ref()
                        ),
                    )
                })?)
            }
            None => None,
        };
        let agents = match &w.agents {
            Some(a) => Some(self.count(a, MAX_AGENTS, &field("agents"))?),
            None => None,
        };
        if let (Some(r), Some(rate)) = (&w.rate, rate) {
            for amount in std::iter::once(stop).chain(warmup) {
                if let Some(problem) = too_long_at_rate(amount, rate) {
                    return Err(self.error(&r.span(), &field("rate"), problem));
                }
            }
        }
        Ok(Workload {
            name,
            target: w.target,
            concurrency,
            stop,
            warmup,
            keys,
            timeout,
            rate,
            set_share,
            pipeline,
            busy_poll,
            ttl,
            range,
            agents,
        })
    }

    /// A count of at least 1 and at most `max`.
    fn count(&self, v: &Spanned<u32>, max: u32, field: &str) -> Result<u32, ScenarioError> {
        let n = *v.get_ref();
        if !(1..=max).contains(&n) {
            return Err(self.error(&v.span(), field, format!("{n} is not in 1..={max}")));
        }
        Ok(n)
    }

    fn duration(&self, s: &Spanned<String>, field: &str) -> Result<Duration, ScenarioError> {
        let text = s.get_ref();
        let d = humantime::parse_duration(text).map_err(|e| {
            self.error(
                &s.span(),
                field,
                format!("{text:?} is not a duration ({e}); write e.g. \"30s\", \"500ms\", \"2m\""),
            )
        })?;
        if d.is_zero() && field.ends_with("duration") {
            return Err(self.error(&s.span(), field, format!("{text:?} is zero; use a positive duration")));
        }
        if d < MIN_DURATION && field.ends_with("duration") {
            return Err(self.error(
                &s.span(),
                field,
                format!("{text:?} is shorter than one request can take; use at least 1ms"),
            ));
        }
        if d > MAX_DURATION {
            return Err(self.error(&s.span(), field, format!("{text:?} is longer than 7 days")));
        }
        Ok(d)
    }
}

/// Why `amount` at `rate` requests per second would be a phase longer than [`MAX_DURATION`],
/// if it would.
pub fn too_long_at_rate(amount: Amount, rate: f64) -> Option<String> {
    let Amount::Requests(n) = amount else { return None };
    let secs = n as f64 / rate;
    (secs > MAX_DURATION.as_secs_f64()).then(|| {
        let days = secs / 86_400.0;
        format!(
            "{n} requests at {rate} per second take about {days:.0} days, longer than the 7 days a \
             phase may last; raise the rate or lower the requests"
        )
    })
}

/// `bytes` in the largest binary unit that keeps a figure of at least 1: "1.5 TiB".
pub fn human_bytes(bytes: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", units[unit]) }
}

/// 1-based line of byte offset `pos`.
fn line_of(text: &str, pos: usize) -> usize {
    text[..pos.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// The key whose value (or which itself) starts at byte offset `pos`, read off its line.
fn key_at(text: &str, pos: usize) -> Option<String> {
    let pos = pos.min(text.len());
    let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
    let is_key = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let before = &text[line_start..pos];
    let key: String = match before.rfind('=') {
        Some(eq) => {
            let lhs = before[..eq].trim_end();
            let rev: String = lhs.chars().rev().take_while(|&c| is_key(c)).collect();
            rev.chars().rev().collect()
        }
        None => text[pos..line_end].chars().take_while(|&c| is_key(c)).collect(),
    };
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_the_tutorial_experiment() {
        let s = Scenario::seed();
        assert_eq!(s.name, "seed");
        assert_eq!(s.dataset.objects, 200);
        assert_eq!(s.dataset.size, Sizes::Uniform { min: 235, max: 434 });
        let targets: Vec<_> = s.workloads.iter().map(|w| w.target).collect();
        assert_eq!(targets, [Target::Redis, Target::S3]);
        for w in &s.workloads {
            assert_eq!(w.stop, Amount::Requests(199));
            assert_eq!(w.warmup, Some(Amount::Requests(1)));
            assert_eq!(w.concurrency, 1);
            assert_eq!(w.keys, KeyDist::Uniform);
        }
    }

    #[test]
    fn every_example_scenario_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("scenarios/ exists") {
            let path = entry.expect("readable entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                seen += 1;
            }
        }
        assert!(seen >= 2, "only {seen} example scenarios");
    }

    /// The README's scenario reference is a scenario, and every key it shows commented out is one
    /// the parser knows.
    #[test]
    fn the_readme_scenario_reference_parses() {
        let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md is readable");
        let (_, after) =
            readme.split_once("## Scenario reference").expect("the README has a scenario reference");
        let (_, block) = after.split_once("```toml\n").expect("the reference holds a toml block");
        let (block, _) = block.split_once("```").expect("the toml block ends");
        Scenario::parse(block, "README.md").unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = block.lines().collect();
        let commented: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].strip_prefix("# ").is_some_and(|l| l.split_once(" = ").is_some()))
            .collect();
        assert!(commented.len() >= 8, "only {} commented keys", commented.len());
        for i in commented {
            let key = lines[i][2..].split_once(" = ").map_or("", |(k, _)| k.trim());
            let variant: Vec<&str> = lines
                .iter()
                .enumerate()
                // `duration` replaces `requests`; the rest add to the scenario as it is.
                .filter(|&(j, l)| !(key == "duration" && j != i && l.starts_with("requests =")))
                .map(|(j, l)| if j == i { &l[2..] } else { l })
                .collect();
            if let Err(e) = Scenario::parse(&variant.join("\n"), "README.md") {
                assert!(!e.to_string().contains("unknown field"), "{key}: {e}");
            }
        }
    }

    #[test]
    fn key_distributions_round_trip() {
        for text in ["uniform", "sequential", "zipf:0.99", "hotset:0.1:0.9"] {
            let k: KeyDist = text.parse().expect(text);
            assert_eq!(k.to_string(), text);
        }
        for bad in ["zipf", "zipf:-1", "zipf:abc", "hotset:2:0.5", "hotset:0.1:1.5", "pareto"] {
            assert!(bad.parse::<KeyDist>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn errors_name_line_and_field() {
        let text = "name = \"x\"\n[dataset]\nobjects = 10\nsize = 100\n[[workload]]\nname = \"a\"\n\
                    target = \"redis\"\nrequests = 5\nconcurrency = 0\n";
        let e = Scenario::parse(text, "t.toml").expect_err("zero concurrency");
        assert_eq!(e.line, Some(9));
        assert_eq!(e.to_string(), "scenario t.toml:9: workload \"a\" concurrency: 0 is not in 1..=100000");

        let e = Scenario::parse(&text.replace("concurrency = 0", "concurrency = \"x\""), "t.toml")
            .expect_err("wrong type");
        assert_eq!((e.line, e.field.as_deref()), (Some(9), Some("concurrency")));
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn a_workload_runs_on_part_of_the_fleet_within_the_scenarios_agents() {
        let text = "name = \"x\"\nagents = 4\n[dataset]\nobjects = 10\nsize = 100\n[[workload]]\nname = \"a\"\n\
                    target = \"redis\"\nrequests = 5\nagents = 2\n[[workload]]\nname = \"b\"\ntarget = \"s3\"\nrequests = 5\n";
        let s = Scenario::parse(text, "t.toml").expect("valid");
        assert_eq!(s.workloads[0].agents, Some(2));
        assert_eq!(s.workloads[1].agents, None, "all of them");

        let e = Scenario::parse(&text.replace("agents = 2", "agents = 5"), "t.toml").expect_err("5 of 4");
        assert_eq!(
            e.to_string(),
            "scenario t.toml:10: workload \"a\" agents: 5 is more than the scenario's 4 agents; \
             raise the scenario's agents or lower this"
        );
        let e = Scenario::parse(&text.replace("agents = 2", "agents = 0"), "t.toml").expect_err("none");
        assert_eq!(e.to_string(), "scenario t.toml:10: workload \"a\" agents: 0 is not in 1..=1024");
    }

    #[test]
    fn durations_and_warmups_parse() {
        let text = "name = \"x\"\n[dataset]\nobjects = 10\nsize = { min = 1, max = 2 }\n[[workload]]\n\
                    name = \"a\"\ntarget = \"s3\"\nduration = \"1m 30s\"\nwarmup = \"5s\"\ntimeout = \"250ms\"\n";
        let s = Scenario::parse(text, "t.toml").expect("valid");
        let w = &s.workloads[0];
        assert_eq!(w.stop, Amount::Duration(Duration::from_secs(90)));
        assert_eq!(w.warmup, Some(Amount::Duration(Duration::from_secs(5))));
        assert_eq!(w.timeout, Duration::from_millis(250));
        let json = serde_json::to_string(&s).expect("serialises");
        let back: Scenario = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, s);
    }

    const BASE: &str = "name = \"x\"\n[dataset]\nobjects = 10\nsize = 100\n[[workload]]\nname = \"w\"\n\
                        target = \"TARGET\"\nrequests = 5\n";

    fn with(target: &str, extra: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(&format!("{}{extra}\n", BASE.replace("TARGET", target)), "t.toml")
    }

    #[test]
    fn sizes_take_four_shapes() {
        let sized =
            |size: &str| Scenario::parse(&BASE.replace("TARGET", "s3").replace("size = 100", size), "t.toml");
        assert_eq!(sized("size = 7").expect("fixed").dataset.size, Sizes::Uniform { min: 7, max: 7 });
        let w = sized("size = [[1024, 0.7], [65536, 0.3]]").expect("weighted");
        assert_eq!(w.dataset.size, Sizes::Weighted(vec![(1024, 0.7), (65536, 0.3)]));
        let l = sized("size = { median = 4096, sigma = 1.0, max = 65536 }").expect("lognormal");
        assert_eq!(l.dataset.size, Sizes::Lognormal { median: 4096.0, sigma: 1.0, min: 1, max: 65536 });
        for (bad, part) in [
            ("size = { min = 5 }", "needs both min and max"),
            ("size = [[1024, 0]]", "weight 0 is not > 0"),
            ("size = [1024]", "is not a [bytes, weight] pair"),
            ("size = { median = 10 }", "needs both median and sigma"),
            ("size = \"big\"", "is not a size"),
            ("size = 2147483648", "above 1073741824 bytes"),
        ] {
            let e = sized(bad).expect_err(bad);
            assert!(e.to_string().contains(part), "{bad}: {e}");
            assert_eq!((e.line, e.field.as_deref()), (Some(4), Some("dataset.size")), "{bad}");
        }
    }

    #[test]
    fn target_specific_fields_are_checked() {
        let w = with("cache-aside", "ttl = \"30s\"\nrange = \"10-19\"").expect("valid");
        assert_eq!(w.workloads[0].ttl, Some(Duration::from_secs(30)));
        assert_eq!(w.workloads[0].range, Some((10, 19)));
        // A range may run past an object's end (both stores return what there is), not start there.
        assert_eq!(with("s3", "range = \"99-500\"").expect("valid").workloads[0].range, Some((99, 500)));
        let weighted = BASE.replace("TARGET", "s3").replace("size = 100", "size = [[4096, 0.9], [64, 0.1]]");
        let e = Scenario::parse(&format!("{weighted}range = \"64-127\"\n"), "t.toml").expect_err("past 64");
        assert!(e.to_string().contains("smallest objects (64 bytes); start it below 64"), "{e}");
        assert_eq!(with("redis", "set_share = 0.2").expect("valid").workloads[0].set_share, 0.2);
        assert_eq!(with("redis", "pipeline = 16").expect("valid").workloads[0].pipeline, 16);
        assert_eq!(with("s3", "").expect("valid").workloads[0].pipeline, 1, "one at a time by default");
        assert_eq!(
            with("redis", "busy_poll = \"50us\"").expect("valid").workloads[0].busy_poll,
            Some(Duration::from_micros(50))
        );
        assert_eq!(with("redis", "").expect("valid").workloads[0].busy_poll, None, "off by default");
        assert_eq!(
            with("redis", "rate = 250").expect("an integer rate is fine").workloads[0].rate,
            Some(250.0)
        );
        assert_eq!(with("redis", "rate = 250.0").expect("valid").workloads[0].rate, Some(250.0));
        for (target, extra, part) in [
            ("s3", "ttl = \"1s\"", "cache-aside"),
            ("s3", "set_share = 0.5", "applies to target = \"redis\" only"),
            ("redis", "set_share = 1.5", "1.5 is not in [0, 1]"),
            ("redis", "pipeline = 0", "0 is not in 1..=10000"),
            ("s3", "pipeline = 4", "applies to target = \"redis\" only"),
            ("redis", "pipeline = 4\nrate = 100", "closed loop only"),
            ("redis", "busy_poll = \"1s\"", "is not in 1us..=10ms"),
            ("redis", "busy_poll = \"0us\"", "is not in 1us..=10ms"),
            ("redis", "busy_poll = \"fast\"", "is not a duration"),
            ("s3", "busy_poll = \"50us\"", "applies to target = \"redis\" only"),
            ("redis", "busy_poll = \"50us\"\npipeline = 4", "remove pipeline or busy_poll"),
            ("redis", "rate = -5.0", "is not a rate"),
            ("s3", "range = \"9-1\"", "is not a byte range"),
            (
                "redis",
                "range = \"100-200\"",
                "starts at byte 100, past the end of the smallest objects (100 bytes)",
            ),
        ] {
            let e = with(target, extra).expect_err(extra);
            assert!(e.to_string().contains(part), "{extra}: {e}");
            assert_eq!(e.line, Some(9), "{extra}");
        }
    }

    #[test]
    fn thresholds_parse_and_name_bounds() {
        let s =
            with("cache-aside", "[thresholds]\n\"w.p99_us\" = 100\n\"w.hit_ratio\" = 0.5").expect("valid");
        assert_eq!(s.thresholds.len(), 2);
        assert!(Metric::parse("p99_us").expect("known").is_upper_bound());
        assert!(!Metric::parse("hit_ratio").expect("known").is_upper_bound());
        assert_eq!(Metric::parse("service_p999_us"), Some(Metric::Service("p999")));
        for name in Metric::NAMES {
            assert!(Metric::parse(name).is_some(), "{name}");
        }
        let e = with("redis", "[thresholds]\n\"w.p99_us\" = -1").expect_err("negative limit");
        assert_eq!(e.line, Some(10));
    }
}
