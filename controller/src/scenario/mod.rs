//! Scenario files: what to measure. [`Scenario::load`] parses the TOML into raw, span-carrying
//! types and validates them into a [`Scenario`]; every error names the file, the line, the field
//! and its value.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod expand;
pub mod find_max;
pub mod metric;
mod parse;
pub mod trace;

pub use find_max::{FindMax, Percentile};
pub use parse::ScenarioError;

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
    /// `[cache]`: the memory limit and eviction policy of the redis-server fetchbench starts.
    #[serde(default, skip_serializing_if = "CacheConfig::is_default")]
    pub cache: CacheConfig,
    /// `[goal]`: the application's read rate and latency objective, which the run's verdict judges
    /// each measured alternative against; `None` for no verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
}

/// `[goal]`: what the application needs, for the verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// The application's read rate, reads per second: each alternative is priced per month at it,
    /// and judged only where the run drove it at least this hard.
    pub reads_per_second: f64,
    /// The latency objective's percentile: `p50`, `p99` or `p999`.
    pub percentile: String,
    /// The objective, milliseconds: met when that percentile of the read latency is at most this.
    pub latency_ms: f64,
    /// The application's readers are in another availability zone than the cache: each byte read
    /// from ElastiCache pays for crossing between zones.
    #[serde(default)]
    pub cross_az: bool,
}

/// The Redis eviction policies `[cache] policy` may name.
pub const POLICIES: [&str; 8] = [
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
];

/// `[cache]`: how the redis-server fetchbench starts is sized. A Redis the user brings (or
/// ElastiCache, whose node type sets them) keeps its own; the run records what it has.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheConfig {
    /// `maxmemory`, bytes; `None` for Redis's default (no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmemory_bytes: Option<u64>,
    /// `maxmemory-policy`, one of [`POLICIES`]; `None` for Redis's default (`noeviction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl CacheConfig {
    fn is_default(&self) -> bool {
        *self == CacheConfig::default()
    }
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
    /// Objects the replayed traces read beyond `filename{i}.txt`, `(S3 key, size in bytes)`:
    /// object `objects + j` is `named[j]`. Seeded with the others; made from the trace files
    /// when the scenario is loaded, so not written to result.json.
    #[serde(skip)]
    pub named: Vec<(String, u64)>,
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
        let named: u64 = self.named.iter().map(|(_, size)| size).sum();
        (mean * self.objects as f64).min(u64::MAX as f64) as u64 + named
    }

    /// The dataset as the agents generate it.
    pub fn generator(&self) -> fetchbench_proto::dataset::Generator {
        use fetchbench_proto::dataset as d;
        let sizes = match &self.size {
            Sizes::Uniform { min, max } => d::Sizes::Uniform { min: *min, max: *max },
            Sizes::Weighted(list) => d::Sizes::Weighted(list.clone()),
            Sizes::Lognormal { median, sigma, min, max } => {
                d::Sizes::LogNormal { median: *median, sigma: *sigma, min: *min, max: *max }
            }
        };
        d::Generator { objects: self.objects, sizes, seed: self.seed, named: self.named.clone() }
    }

    /// The objects in words: `200 objects of 235-434 bytes`, then those the traces name beside
    /// them: `, and 4 more a trace names (107.1 KiB)`.
    pub fn describe_objects(&self) -> String {
        let generated = format!("{} objects of {}", self.objects, self.describe_sizes());
        if self.named.is_empty() {
            return generated;
        }
        let bytes = self.named.iter().map(|(_, size)| size).sum();
        format!("{generated}, and {} more a trace names ({})", self.named.len(), human_bytes(bytes))
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
    /// A trace's replay: at the recorded times or as fast as the slots allow.
    #[serde(default, skip_serializing_if = "Replay::is_fast")]
    pub replay: Replay,
    /// Timed replay: how many times faster than recorded the requests go out, > 0.
    #[serde(default = "one_f64", skip_serializing_if = "is_one_f64")]
    pub speed: f64,
    /// The trace of `keys = "trace:FILE"` as it is replayed; read when the scenario is loaded,
    /// so not written to result.json.
    #[serde(skip)]
    pub trace: Option<std::sync::Arc<Replayed>>,
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
    /// Check every body read against the dataset's bytes; a body that differs is a `corrupt`
    /// error.
    #[serde(default)]
    pub verify: bool,
    /// Cache-aside: share of requests that write a new version of the object to S3.
    #[serde(default)]
    pub write_share: f64,
    /// Cache-aside writes: what they do to the cached copy.
    #[serde(default)]
    pub on_write: OnWrite,
    /// Runs on the first this many of the run's agents (`--agents 1,2,4` sweeps it); `None` for
    /// all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<u32>,
    /// Search for the highest rate that meets a latency objective instead of running once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find_max: Option<FindMax>,
    /// `--sweep-cache`: the cache's maxmemory for this workload, bytes; the cache is emptied
    /// and sized to it just before the workload starts. `None` leaves the cache as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_maxmemory_bytes: Option<u64>,
}

/// A cache size as `--sweep-cache` and the workloads it names say it: `32mb`, `1gb`, `512kb`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSize(pub u64);

impl std::fmt::Display for CacheSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0;
        match () {
            () if b >= 1 << 30 && b.is_multiple_of(1 << 30) => write!(f, "{}gb", b >> 30),
            () if b >= 1 << 20 && b.is_multiple_of(1 << 20) => write!(f, "{}mb", b >> 20),
            () if b >= 1 << 10 && b.is_multiple_of(1 << 10) => write!(f, "{}kb", b >> 10),
            () => write!(f, "{b}b"),
        }
    }
}

impl std::str::FromStr for CacheSize {
    type Err = String;

    fn from_str(text: &str) -> Result<CacheSize, String> {
        parse::memory_bytes(text)
            .map(CacheSize)
            .ok_or_else(|| format!("{text:?} is not a size; write e.g. 32mb, 512kb, 1gb"))
    }
}

/// One command at a time: the default of `pipeline`, also for results written before it.
fn one() -> u32 {
    1
}

/// The recorded pace: the default of `speed`.
fn one_f64() -> f64 {
    1.0
}

fn is_one_f64(v: &f64) -> bool {
    *v == 1.0
}

/// How a trace is replayed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Replay {
    /// Each slot sends the next record when its last one ended (closed loop).
    #[default]
    Fast,
    /// Each record goes out at its recorded time after the first, divided by `speed` (open loop).
    Timed,
}

impl Replay {
    fn is_fast(&self) -> bool {
        *self == Replay::Fast
    }
}

/// A trace as a workload replays it: each record's object index and, for a timed replay, its
/// intended start after the workload's start (the recorded offset divided by `speed`).
#[derive(Clone, Debug, PartialEq)]
pub struct Replayed {
    /// Object index of each record, in the trace's order.
    pub objects: Vec<u64>,
    /// Timed replay: each record's intended start; `None` for fast replay.
    pub at: Option<Vec<Duration>>,
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
        let length = match &self.find_max {
            Some(f) => format!(
                "the highest rate with {f}, {} per step, up to {} in all",
                humantime::format_duration(f.step),
                humantime::format_duration(f.budget)
            ),
            None => match (&self.trace, self.stop) {
                (Some(t), Amount::Requests(n)) if n == t.objects.len() as u64 => {
                    format!("the trace's {n} records, split between the agents by key")
                }
                (Some(_), stop) => format!("{stop} per agent, or fewer when its share of the trace ends"),
                (None, stop) => format!("{stop} per agent"),
            },
        };
        let keys = match (&self.trace, self.replay) {
            (Some(_), Replay::Timed) => format!("{keys}, at the recorded times x{}", self.speed),
            (Some(_), Replay::Fast) => format!("{keys}, as fast as the slots allow"),
            (None, _) => keys,
        };
        let writes = if self.write_share > 0.0 {
            let what = match self.on_write {
                OnWrite::Invalidate => "invalidate",
                OnWrite::Update => "update",
                OnWrite::None => "leave",
            };
            format!(", {}% writes that {what} the cached copy", self.write_share * 100.0)
        } else {
            String::new()
        };
        format!(
            "{} ({}, {agents} agent{} x {}, {length}{warmup}, keys {keys}{writes})",
            self.name,
            self.target.as_str(),
            if agents == 1 { "" } else { "s" },
            self.describe_load(),
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
    pub fn settings(&self) -> [(&'static str, String); 16] {
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
            // A trace's replay and speed change what it measures as much as its file does.
            (
                "keys",
                match (&self.keys, self.replay) {
                    (KeyDist::Trace(_), Replay::Timed) => {
                        format!("{} (timed, speed {})", self.keys, self.speed)
                    }
                    (KeyDist::Trace(_), Replay::Fast) => format!("{} (fast)", self.keys),
                    _ => self.keys.to_string(),
                },
            ),
            ("busy_poll", duration(self.busy_poll, "off")),
            ("set_share", self.set_share.to_string()),
            (
                "range",
                self.range.map_or_else(|| "whole objects".to_owned(), |(a, b)| format!("bytes {a}-{b}")),
            ),
            ("ttl", duration(self.ttl, "none")),
            ("verify", if self.verify { "every body" } else { "off" }.to_owned()),
            ("write_share", self.write_share.to_string()),
            (
                "on_write",
                if self.write_share > 0.0 { self.on_write.as_str() } else { "no writes" }.to_owned(),
            ),
            ("timeout", duration(Some(self.timeout), "")),
        ]
    }
}

/// What a cache-aside write does to the cached copy once the new version is in S3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnWrite {
    /// DEL it: the next read misses and fills the cache from S3.
    #[default]
    Invalidate,
    /// SET it to the new bytes.
    Update,
    /// Leave it, to expire (ttl) or be evicted.
    None,
}

impl OnWrite {
    /// The name used in scenario files and results.
    pub fn as_str(self) -> &'static str {
        match self {
            OnWrite::Invalidate => "invalidate",
            OnWrite::Update => "update",
            OnWrite::None => "none",
        }
    }
}

/// What a workload reads from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Redis GET of `{bucket}:filename{i}.txt`.
    #[default]
    Redis,
    /// S3 GetObject of `filename{i}.txt`.
    S3,
    /// Redis GET; on a miss S3 GetObject, then Redis SET.
    CacheAside,
    /// S3 GetObject of `filename{i}.txt` from an S3 Express One Zone directory bucket, through
    /// the SDK's session auth (CreateSession).
    S3Express,
}

impl Target {
    /// The name used in scenario files and results.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Redis => "redis",
            Target::S3 => "s3",
            Target::CacheAside => "cache-aside",
            Target::S3Express => "s3-express",
        }
    }

    /// Reads from Redis.
    pub fn uses_redis(self) -> bool {
        matches!(self, Target::Redis | Target::CacheAside)
    }

    /// Reads from S3 (a general purpose bucket).
    pub fn uses_s3(self) -> bool {
        matches!(self, Target::S3 | Target::CacheAside)
    }

    /// Reads from an S3 Express One Zone directory bucket.
    pub fn uses_s3_express(self) -> bool {
        self == Target::S3Express
    }
}

impl FromStr for Target {
    type Err = String;

    /// A target by the name scenario files and results use.
    fn from_str(s: &str) -> Result<Target, String> {
        [Target::Redis, Target::S3, Target::CacheAside, Target::S3Express]
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown target {s:?}; use redis, s3, cache-aside or s3-express"))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// `trace:FILE`: the keys a trace file lists, in its order (FILE relative to the scenario's
    /// folder; the loaded scenario holds the path resolved).
    Trace(String),
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
        if let Some(file) = s.strip_prefix("trace:") {
            if file.trim().is_empty() {
                return Err("trace: names no file; write trace:FILE, e.g. trace:traffic.csv".into());
            }
            return Ok(KeyDist::Trace(file.to_owned()));
        }
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
                 (e.g. zipf:0.99), hotset:F:P (e.g. hotset:0.1:0.9) or trace:FILE"
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
            KeyDist::Trace(file) => write!(f, "trace:{file}"),
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
