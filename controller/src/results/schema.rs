//! `result.json`, schema `fetchbench.result/v1`: the contract that reports, comparisons and users'
//! scripts read. Fields may be added; none is removed or renamed without a new schema version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scenario::{Scenario, Target};

/// Where a run's agents ran: result.json's `fleet`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FleetKind {
    /// On this machine (started for the run, or agents the user started).
    Local,
    /// On the provisioned AWS fleet.
    Aws,
}

impl FleetKind {
    /// As result.json and the summary write it.
    pub fn as_str(self) -> &'static str {
        match self {
            FleetKind::Local => "local",
            FleetKind::Aws => "aws",
        }
    }
}

impl std::fmt::Display for FleetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an agent ended a run: result.json's agent `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    /// It answered to the end.
    Ok,
    /// It broke or fell silent; what it reported before stays in the figures.
    Lost,
}

impl AgentStatus {
    /// As result.json and the report write it.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Ok => "ok",
            AgentStatus::Lost => "lost",
        }
    }
}

/// Which phase of a workload an interval belongs to: result.json's interval `phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Warm-up: left out of the figures.
    Warmup,
    /// The measured phase.
    Measured,
}

impl Phase {
    /// As result.json and timeseries.csv write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Warmup => "warmup",
            Phase::Measured => "measured",
        }
    }
}

/// The result file's name in a run's folder.
pub const RESULT_JSON: &str = "result.json";
/// The report's file name beside result.json.
pub const REPORT_HTML: &str = "report.html";
/// The summary export's file name.
pub const SUMMARY_CSV: &str = "summary.csv";
/// The time-series export's file name.
pub const TIMESERIES_CSV: &str = "timeseries.csv";
/// Value of the `schema` field.
pub const SCHEMA: &str = "fetchbench.result/v1";

/// One run's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The scenario as parsed, after command-line overrides.
    pub scenario: Scenario,
    /// Where the agents ran.
    pub fleet: FleetKind,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// When the run finished, RFC 3339 UTC.
    pub finished_at: String,
    /// True when an agent was lost or a workload ended with errors.
    pub degraded: bool,
    /// True when the run was interrupted (Ctrl-C) and holds only what was measured until then.
    #[serde(default)]
    pub partial: bool,
    /// What the agents read from.
    pub targets: Targets,
    /// The agents that took part.
    pub agents: Vec<AgentResult>,
    /// One entry per workload, in run order.
    pub workloads: Vec<WorkloadResult>,
    /// The largest start skew of any workload, milliseconds: how far apart the agents began.
    #[serde(default)]
    pub start_skew_ms: f64,
    /// Every threshold of the scenario and whether it held.
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    /// What the measured reads cost on AWS, from the built-in price table; absent in files
    /// written before fetchbench priced runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostEstimate>,
    /// With a scenario `[goal]`: each measured alternative judged against it and priced at its
    /// read rate, and the cheapest that met it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// On the AWS fleet: what CloudWatch kept of the stack's cache node and bucket over the
    /// run's minutes, one entry per resource the run read; empty elsewhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cloudwatch: Vec<CloudWatchView>,
}

/// What CloudWatch kept of one resource for a run's window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudWatchView {
    /// What it is of: `cache` (the ElastiCache node) or `bucket` (S3's request metrics).
    pub resource: String,
    /// The namespace and dimensions read, e.g. `AWS/ElastiCache CacheClusterId=fb-001 CacheNodeId=0001`.
    pub source: String,
    /// Seconds per point (ElastiCache publishes every 60 s).
    pub period_s: u32,
    /// The first minute read (its start), RFC 3339 UTC.
    pub start: String,
    /// The end of the last minute read, RFC 3339 UTC.
    pub end: String,
    /// True when CloudWatch had published the minute of the run's last use of the resource before
    /// fetchbench stopped waiting; false when the figures miss the run's end.
    pub complete: bool,
    /// Each metric read, in a fixed order.
    pub metrics: Vec<CloudWatchMetric>,
}

/// One CloudWatch metric over a run's window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudWatchMetric {
    /// E.g. `EngineCPUUtilization`.
    pub name: String,
    /// The statistic of each point: `Maximum`, `Sum` or a percentile (`p99`).
    pub stat: String,
    /// The statistic over the whole window: their sum for `Sum`, else the largest point (of a
    /// percentile, the worst minute's); `null` when CloudWatch had no point.
    pub value: Option<f64>,
    /// Each minute's point, oldest first.
    pub points: Vec<CloudWatchPoint>,
}

/// One point of a CloudWatch metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudWatchPoint {
    /// The start of its period, RFC 3339 UTC.
    pub t: String,
    /// The statistic over the period.
    pub value: f64,
}

/// One threshold, checked against the merged results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// `"<workload>.<metric>"`, as in the scenario.
    pub key: String,
    /// The limit.
    pub limit: f64,
    /// The measured value.
    pub value: f64,
    /// `"max"` when the value may not exceed the limit, `"min"` when it may not fall below it.
    pub bound: String,
    /// False when the value breached the limit, or could not be judged.
    pub passed: bool,
    /// Why the value was not judged against the limit (its workload was client-bound, so the
    /// figure is the client's); absent when it was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_judged: Option<String>,
}

/// The targets, without credentials.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Redis URL (password removed), when a workload used Redis.
    pub redis: Option<String>,
    /// Where Redis came from: `"local redis-server"` or `"user"`.
    pub redis_source: Option<String>,
    /// S3 endpoint URL; `null` means AWS S3.
    pub s3_endpoint: Option<String>,
    /// Bucket read from, when a workload used S3.
    pub s3_bucket: Option<String>,
    /// Where S3 came from: `"embedded"` or `"user"`.
    pub s3_source: Option<String>,
    /// What the Redis was, for comparing runs: absent when no workload used Redis, and in files
    /// written before the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_target: Option<RedisTarget>,
    /// ElastiCache node type of the stack's own cache (`redis_source` `"elasticache"`), e.g.
    /// `"cache.t4g.micro"`; absent for every other Redis, and in files written before the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_node_type: Option<String>,
    /// S3 Express One Zone directory bucket read from, when an `s3-express` workload ran;
    /// absent otherwise, and in files written before the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_express_bucket: Option<String>,
    /// Where the directory bucket is served: the embedded endpoint's URL; absent for AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_express_endpoint: Option<String>,
}

/// The Redis a run read from: the settings that move its figures by themselves.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisTarget {
    /// Where it came from, as `redis_source`: `"local redis-server"`, `"user"`,
    /// `"elasticache"` (the stack's own) or `"existing"` (a cache the stack was pointed at).
    pub source: String,
    /// True when the URL carries credentials (Redis AUTH).
    pub auth: bool,
    /// True over TLS (`rediss://`).
    pub tls: bool,
    /// True for a Redis Cluster (`--redis-cluster`).
    pub cluster: bool,
    /// Shards of the cluster, when the run knew them; absent for one node or when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
}

impl RedisTarget {
    /// The target a run reads at `url` (credentials are only looked at, not kept).
    pub fn of(url: &str, source: &str, cluster: bool) -> RedisTarget {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        RedisTarget {
            source: source.to_owned(),
            auth: authority.rsplit_once('@').is_some_and(|(userinfo, _)| !userinfo.is_empty()),
            tls: url.to_ascii_lowercase().starts_with("rediss://"),
            cluster,
            shards: None,
        }
    }
}

/// One agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentResult {
    /// `agent-0`, `agent-1`, ...
    pub id: String,
    /// gRPC address the controller used.
    pub address: String,
    /// Whether it stayed to the end.
    pub status: AgentStatus,
    /// Why the agent was lost, or `null`.
    pub error: Option<String>,
    /// fetchbench-agent version.
    pub version: String,
    /// Host name.
    pub hostname: String,
    /// Logical CPUs.
    pub cores: u32,
    /// CPU architecture.
    pub arch: String,
    /// How the agent's machine idles a core (the cpuidle driver, and under haltpoll how long
    /// the guest polls before halting); empty when the machine did not say or the result
    /// predates the field.
    #[serde(default)]
    pub cpu_idle: String,
    /// The agent's clock minus the controller's, milliseconds, estimated from the Hello round
    /// trip with the shortest time.
    #[serde(default)]
    pub clock_offset_ms: f64,
    /// That shortest Hello round trip, milliseconds.
    #[serde(default)]
    pub rtt_ms: f64,
}

/// Latency summary, microseconds, from a histogram of nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Fastest request.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest request.
    pub max: f64,
}

/// One workload, merged over all agents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkloadResult {
    /// Name from the scenario.
    pub name: String,
    /// When it began (its start sent to the agents), RFC 3339 UTC with milliseconds; absent in
    /// files written before fetchbench kept it, and for a workload that never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When its agents were done, as `started_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// What it read.
    pub target: Target,
    /// Successful measured requests, all agents.
    pub ops: u64,
    /// Failed measured requests, all agents.
    pub errors: u64,
    /// Failed requests by kind ("timeout", "connection", "miss", ...).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Length of the measured phase, seconds: the longest over the agents.
    pub duration_s: f64,
    /// `ops / duration_s`.
    pub throughput_ops_s: f64,
    /// Latency summary of the merged histogram, microseconds.
    pub latency_us: LatencySummary,
    /// Base64 of the HdrHistogram V2 deflate serialisation of the merged latencies, nanoseconds.
    pub histogram: String,
    /// The same figures per agent.
    pub per_agent: Vec<AgentWorkloadResult>,
    /// `"closed"` (each slot sends when its last request ended) or `"open"` (fixed schedule at
    /// `rate`; `latency_us` then runs from each request's intended start).
    #[serde(default = "closed")]
    pub r#loop: String,
    /// Service time (from the actual send) of successful requests, microseconds; equal to
    /// `latency_us` in closed loop.
    #[serde(default)]
    pub service_time_us: LatencySummary,
    /// Open loop: requests per second the schedule asked for, all agents.
    #[serde(default)]
    pub target_rate_ops_s: Option<f64>,
    /// Requests per second actually sent (successful or not), all agents.
    #[serde(default)]
    pub achieved_rate_ops_s: f64,
    /// Open loop: requests sent more than 1 ms after their intended start; 0 in closed loop,
    /// where nothing has an intended start.
    #[serde(default)]
    pub late_starts: u64,
    /// Open loop with a duration: requests the schedule meant to start before the measured phase
    /// ended that were not sent, because the agents were still behind when it ended (the phase
    /// ends at its duration), all agents.
    #[serde(default)]
    pub unsent: u64,
    /// S3 and cache-aside: time to the first byte of GetObject bodies, microseconds.
    #[serde(default)]
    pub ttfb_us: Option<LatencySummary>,
    /// Cache-aside: reads served from Redis.
    #[serde(default)]
    pub hits: Option<u64>,
    /// Cache-aside: reads filled from S3.
    #[serde(default)]
    pub misses: Option<u64>,
    /// Cache-aside: hits over hits plus misses.
    #[serde(default)]
    pub hit_ratio: Option<f64>,
    /// Cache-aside: the hit ratio over the second half of the measured phase, once the cache has
    /// warmed (and, when it is smaller than the data, evicts as much as it fills).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_hit_ratio: Option<f64>,
    /// Cache-aside with `write_share`: writes done (their outcomes are in ops and errors, their
    /// times in the latency, like reads').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<u64>,
    /// Cache-aside in a run that writes: successful reads that returned an older version of
    /// their object than one committed before they started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_reads: Option<u64>,
    /// `stale_reads` over the reads (hits plus misses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_share: Option<f64>,
    /// For each stale read: from the commit of the first newer version to the read's start,
    /// microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staleness_us: Option<LatencySummary>,
    /// Cache-aside: the Redis part of each read (GET, plus SET after a miss), microseconds.
    #[serde(default)]
    pub redis_part_us: Option<LatencySummary>,
    /// Cache-aside: the S3 GetObject of each miss, microseconds.
    #[serde(default)]
    pub s3_part_us: Option<LatencySummary>,
    /// Redis with busy_poll: the share of requests whose reply arrived while their slot was
    /// polling for it, rather than after the budget ran out and the thread slept.
    #[serde(default)]
    pub busy_polled_share: Option<f64>,
    /// How far apart the agents started this workload, milliseconds (clock offsets corrected).
    #[serde(default)]
    pub start_skew_ms: f64,
    /// The highest share of its cores any agent's process used during the measured phase.
    #[serde(default)]
    pub cpu_utilization_max: f64,
    /// True when the client may have been the bottleneck, so the latencies may be the client's,
    /// not the target's: the agents sent less than 90% of the requests an open-loop schedule asked
    /// for, or an agent used more than 85% of its cores (not judged for a workload with
    /// busy_poll, whose polling keeps the cores busy by design).
    #[serde(default)]
    pub client_bound: bool,
    /// Why `client_bound` is true, in words (`asked 500000 ops/s, sent 41200 ops/s (...)`,
    /// `an agent used 92% of its cores`); `null` when it is false.
    #[serde(default)]
    pub client_bound_reason: Option<String>,
    /// Per 1-second interval, merged over agents by interval number: warm-up first, then the
    /// measured phase.
    #[serde(default)]
    pub timeseries: Vec<IntervalResult>,
    /// A `find_max` search: every step, the highest rate that met the objective and what limited
    /// it. The workload's other figures are those of the highest step that met it (or, when none
    /// did, of the lowest step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// Redis and cache-aside: the server's own view of the workload, from its INFO read through
    /// an agent once an interval; `null` when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerMetrics>,
}

/// The Redis server's own view of one workload, from INFO read before the workload's first
/// request, once an interval during it, and after its last (warm-up included).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerMetrics {
    /// The node the figures are from, as the Redis URL names it (password hidden). In a cluster,
    /// that one node only.
    pub node: String,
    /// The server's version, as INFO says.
    pub version: String,
    /// Its memory limit, bytes (0: none), and what it evicts when full.
    pub maxmemory_bytes: u64,
    /// `maxmemory-policy`, e.g. "noeviction", "allkeys-lru".
    pub maxmemory_policy: String,
    /// One per reading after the first: what the server did since the reading before.
    pub samples: Vec<ServerSample>,
    /// GET and GETRANGE commands the server counted from the first reading to the last.
    pub gets: u64,
    /// Requests the agents sent in the same window (warm-up included), each one GET; `null` when
    /// the count cannot be compared (the workload also SETs, or a cluster spreads its GETs over
    /// nodes the figures are not from).
    pub agent_gets: Option<u64>,
    /// `|gets - agent_gets| / agent_gets` in percent; `null` when not compared. Above 1%, another
    /// client was using the server, or requests were lost on the way.
    pub gets_difference_percent: Option<f64>,
    /// The highest share of one core the server's main thread used in any sample (the whole
    /// process's where the server does not report its main thread, before Redis 6.2).
    pub cpu_max: f64,
    /// Keys the server evicted (maxmemory) from the first reading to the last.
    #[serde(default)]
    pub evicted_keys: u64,
    /// Keys in the server's databases at the last reading.
    #[serde(default)]
    pub keys: u64,
}

/// What the server did between two readings of its INFO.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerSample {
    /// The end of the sample since the first reading, seconds.
    pub t_s: f64,
    /// Commands processed per second.
    pub commands_s: f64,
    /// GET and GETRANGE commands per second.
    pub gets_s: f64,
    /// Share of one core used (user + system), of the main thread where the server says.
    pub cpu: f64,
    /// Clients connected at the end of the sample.
    pub connected_clients: u64,
    /// Keyspace hits and misses during the sample.
    pub hits: u64,
    /// Keyspace misses during the sample.
    pub misses: u64,
    /// Keys evicted (maxmemory) during the sample.
    pub evicted: u64,
    /// Keys expired (TTL) during the sample.
    pub expired: u64,
    /// Keys in the server's databases at the end of the sample.
    #[serde(default)]
    pub keys: u64,
    /// Bytes received per second.
    pub net_in_bytes_s: f64,
    /// Bytes sent per second.
    pub net_out_bytes_s: f64,
}

/// What a `find_max` search found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// The objective, e.g. `{ "percentile": "p99", "limit_ms": 2.0, ... }`.
    pub objective: crate::scenario::FindMax,
    /// What the agents sent in the closed-loop probe that opened the search, all agents: the
    /// most they could send at the workload's concurrency.
    pub probe_ops_s: f64,
    /// The highest rate asked (all agents) that met the objective; `null` when none did.
    pub max_rate_ops_s: Option<f64>,
    /// The lowest rate asked that did not; `null` when every step met it.
    pub first_failed_ops_s: Option<f64>,
    /// What kept the rate from going higher: `client`, `server_cpu` (the Redis server's main
    /// thread near a whole core), `network` (the node sent near its type's baseline bandwidth),
    /// `server` (its service time grew), `errors`, `throttling` or `none found`.
    pub limited_by: String,
    /// The figure that decided `limited_by`, in words.
    pub limited_by_reason: String,
    /// How the search ended: `resolution`, `budget`, `interrupted`, `agent lost`.
    pub ended_by: String,
    /// Every step, in the order run.
    pub steps: Vec<CapacityStep>,
}

/// One rate of a `find_max` search, held for the objective's step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityStep {
    /// Requests per second asked of all agents together.
    pub rate_ops_s: f64,
    /// Requests per second they sent (successful and failed).
    pub achieved_ops_s: f64,
    /// Latency from each request's intended start, microseconds.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Median service time (from the request leaving the agent), microseconds.
    pub service_p50_us: f64,
    /// Redis: the highest share of one core the server's main thread used in a second of the
    /// step, from its INFO; `null` when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu: Option<f64>,
    /// Redis: the most bytes per second the server sent in a second of the step, from its INFO;
    /// `null` when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_net_out_bytes_s: Option<f64>,
    /// Failed requests.
    pub errors: u64,
    /// Requests the schedule asked for that were never sent.
    pub unsent: u64,
    /// The step met the objective: latency and errors within it, and the asked rate sent.
    pub met: bool,
    /// Why it did not, in words; `null` when it did.
    pub missed: Option<String>,
    /// Times the rate was run: 2 when the first missed on latency alone (the figures are the
    /// second's, which stands).
    #[serde(default = "one_try")]
    pub tries: u32,
    /// How long the step was held, seconds.
    #[serde(default)]
    pub held_s: f64,
    /// Why it ended: `stable` (its percentile in each of its last 3 whole seconds within 25% of
    /// the lowest), `missed` (above the objective in each of them) or `longest` (it did not settle
    /// by 3 times the step length).
    #[serde(default)]
    pub settled: String,
}

fn one_try() -> u32 {
    1
}

fn closed() -> String {
    "closed".into()
}

/// One interval of a workload, all agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntervalResult {
    /// Warm-up or measured.
    pub phase: Phase,
    /// End of the interval, seconds since the phase started.
    pub t_s: f64,
    /// Length of the interval, seconds.
    pub interval_s: f64,
    /// Successful requests.
    pub ops: u64,
    /// Failed requests.
    pub errors: u64,
    /// Failed requests by kind.
    #[serde(default)]
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Successful requests per second.
    pub ops_s: f64,
    /// Median latency, microseconds (0 when no request succeeded).
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// Cache-aside: hits over reads in this interval.
    #[serde(default)]
    pub hit_ratio: Option<f64>,
    /// Cache-aside in a run that writes: stale reads in this interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_reads: Option<u64>,
    /// Cache-aside in a run that writes: stale reads over reads in this interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_share: Option<f64>,
    /// 99th percentile of how long this interval's stale reads had been stale, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staleness_p99_us: Option<f64>,
}

/// One workload on one agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentWorkloadResult {
    /// Agent id.
    pub agent: String,
    /// Successful measured requests.
    pub ops: u64,
    /// Failed measured requests.
    pub errors: u64,
    /// Failed requests by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Length of this agent's measured phase, seconds.
    pub duration_s: f64,
    /// `ops / duration_s`.
    pub throughput_ops_s: f64,
    /// Latency summary of this agent's histogram, microseconds.
    pub latency_us: LatencySummary,
    /// Service time summary, microseconds.
    #[serde(default)]
    pub service_time_us: LatencySummary,
    /// Open loop: requests sent more than 1 ms late.
    #[serde(default)]
    pub late_starts: u64,
    /// Open loop with a duration: scheduled requests this agent had not sent when the phase ended.
    #[serde(default)]
    pub unsent: u64,
    /// Share of the agent's cores its process used during the measured phase.
    #[serde(default)]
    pub cpu_utilization: f64,
    /// When this agent started the workload, milliseconds after the earliest agent did.
    #[serde(default)]
    pub start_offset_ms: f64,
}

impl WorkloadResult {
    /// Why the client was the bottleneck, in words, when it was: the recorded reason, or (for a
    /// result written before the reason was) its agents' CPU. One wording for the summary,
    /// report.html, thresholds and compare.
    pub fn client_bound_why(&self) -> Option<String> {
        self.client_bound.then(|| {
            self.client_bound_reason.clone().unwrap_or_else(|| {
                format!("an agent used {:.0}% of its cores", self.cpu_utilization_max * 100.0)
            })
        })
    }
}

impl RunResult {
    /// Write `dir/result.json` through a temporary file, so a crash never leaves half a file.
    pub fn write(&self, dir: &Path) -> std::io::Result<std::path::PathBuf> {
        let path = dir.join(RESULT_JSON);
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        crate::support::write_atomic(&path, &text)?;
        Ok(path)
    }

    /// A local run of `scenario` that measured `workloads`, with nothing else set: for tests.
    #[cfg(test)]
    pub fn of(scenario: Scenario, workloads: Vec<WorkloadResult>) -> RunResult {
        RunResult {
            schema: SCHEMA.into(),
            scenario,
            fleet: FleetKind::Local,
            started_at: String::new(),
            finished_at: String::new(),
            degraded: false,
            partial: false,
            targets: Targets::default(),
            agents: vec![],
            workloads,
            start_skew_ms: 0.0,
            thresholds: vec![],
            cost: None,
            verdict: None,
            cloudwatch: Vec::new(),
        }
    }
}

/// A run priced: `result.json`'s `cost` object. Money in USD, rates in reads per second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostEstimate {
    /// Region whose prices were used.
    pub region: String,
    /// When the price table was read.
    pub prices_as_of: String,
    /// Where the prices came from: "built-in table", or the `--prices` file.
    #[serde(default)]
    pub prices_origin: String,
    /// S3 GET requests, USD per 1,000.
    pub s3_get_usd_per_1000: f64,
    /// S3 PUT requests, USD per 1,000.
    pub s3_put_usd_per_1000: f64,
    /// The cache's engine priced: `redis` (Redis OSS) or `valkey`.
    #[serde(default)]
    pub cache_engine: String,
    /// The cache was priced as ElastiCache Serverless (no node type).
    #[serde(default)]
    pub cache_serverless: bool,
    /// ElastiCache node type priced.
    pub cache_node_type: String,
    /// Nodes in the cache.
    pub cache_nodes: u32,
    /// One node for one hour, USD.
    pub cache_node_usd_per_hour: f64,
    /// Share of reads the cache serves (and so of S3 GETs it saves), 0 to 1.
    pub hit_ratio: f64,
    /// Where `hit_ratio` came from: the name of the cache-aside workload that measured it, or
    /// `"assumed"` (every read a hit).
    pub hit_ratio_source: String,
    /// S3 GET charges per million reads served from S3, USD; the same at any rate.
    pub s3_usd_per_million_reads: f64,
    /// Read rate above which the cache costs less per hour than the S3 GETs it saves.
    pub break_even_reads_s: f64,
    /// Writing the dataset to S3 once (its PUT requests), USD.
    pub dataset_put_usd: f64,
    /// Each workload priced at its measured throughput.
    pub workloads: Vec<WorkloadCost>,
}

/// The verdict: which measured alternative meets the scenario's goal, and at what cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The goal judged against.
    pub goal: crate::scenario::Goal,
    /// One per store the run measured, in the order of their first workload.
    pub alternatives: Vec<AlternativeVerdict>,
    /// The `alternative` of the cheapest one that met the goal (the first listed, in a tie);
    /// `null` when none did.
    pub cheapest_met: Option<String>,
    /// The other alternatives that met the goal at the same monthly cost, to the cent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tied_with: Vec<String>,
    /// Where the prices came from: "built-in table", or the `--prices` file.
    pub prices_origin: String,
}

/// Whether an alternative met the goal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A workload reached the goal's rate, within the latency objective and without errors.
    Met,
    /// Workloads reached the rate, but none within the objective (or without errors).
    Missed,
    /// No workload reached the goal's rate: the run shows nothing about it.
    NotShown,
}

/// One alternative judged and priced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlternativeVerdict {
    /// The target its workloads read: `s3`, `s3-express`, `redis`, `cache-aside`.
    pub alternative: String,
    /// The store in words, e.g. "ElastiCache Redis OSS, 1 x cache.t4g.micro in front of S3 Standard".
    pub store: String,
    /// The outcome.
    pub outcome: Outcome,
    /// Why, in words: "p99 1.2 ms at 2,380 reads/s (workload ca)".
    pub reason: String,
    /// The workload judged: the one that met the goal, else the one nearest the goal's rate.
    pub workload: String,
    /// Its read rate, reads per second.
    pub reads_s: f64,
    /// Its latency at the goal's percentile, milliseconds.
    pub latency_ms: f64,
    /// Cache-aside: the hit ratio it was judged and priced at.
    pub hit_ratio: Option<f64>,
    /// Mean bytes per read it was priced at.
    pub bytes_per_read: f64,
    /// USD per month at the goal's read rate; `null` when the table cannot price it.
    pub usd_per_month: Option<f64>,
    /// USD per million reads at the goal's read rate.
    pub usd_per_million_reads: Option<f64>,
    /// Each charge, with the price it comes from.
    pub lines: Vec<CostLine>,
    /// Cache-aside: `(hit ratio, USD per month at the goal's rate)` from 0 to 1 in steps of 0.05,
    /// for the chart of what the hit ratio is worth; empty for other stores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usd_per_month_by_hit_ratio: Vec<(f64, f64)>,
}

/// One charge of a store: a part per hour and a part per read, and the price it comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostLine {
    /// What is charged, e.g. "S3 Standard GETs".
    pub what: String,
    /// USD per hour whatever the rate (node-hours, data stored).
    pub usd_per_hour: f64,
    /// USD per read.
    pub usd_per_read: f64,
    /// The price's source and date.
    pub source: String,
}

/// One workload priced at its measured throughput.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkloadCost {
    /// Workload name.
    pub name: String,
    /// What it read.
    pub target: Target,
    /// Measured throughput, reads per second.
    pub reads_s: f64,
    /// What a million reads cost at that rate, USD; `null` when nothing was measured (a cache
    /// node's cost per read depends on how busy it is).
    pub usd_per_million_reads: Option<f64>,
    /// What an hour at that rate costs, USD.
    pub usd_per_hour: f64,
}

/// Why a result file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file is missing or unreadable.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not JSON of a fetchbench result.
    #[error("{} is not a fetchbench result: {source}", path.display())]
    NotAResult {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// A result of another schema.
    #[error("{} has schema {found:?}; this fetchbench reads {SCHEMA:?}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// The schema it declares.
        found: String,
    },
}

/// The result file `path` names: `path` itself, or the result.json inside a run's folder.
pub fn result_file(path: &Path) -> PathBuf {
    if path.is_dir() { path.join(RESULT_JSON) } else { path.to_owned() }
}

/// Read a result file (or the result.json of a run's folder) and check it is one this
/// fetchbench understands.
pub fn load(path: &Path) -> Result<RunResult, LoadError> {
    let path = result_file(path);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(source) => return Err(LoadError::Read { path, source }),
    };
    let result: RunResult = match serde_json::from_str(&text) {
        Ok(result) => result,
        Err(source) => return Err(LoadError::NotAResult { path, source }),
    };
    if result.schema != SCHEMA {
        return Err(LoadError::Schema { path, found: result.schema });
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redis_target_says_auth_tls_and_cluster_without_keeping_the_password() {
        let t = RedisTarget::of("rediss://:s3cret@cache.example:6379/0", "user", true);
        assert_eq!((t.auth, t.tls, t.cluster, t.shards), (true, true, true, None));
        assert!(!serde_json::to_string(&t).expect("serialises").contains("s3cret"));
        let t = RedisTarget::of("redis://127.0.0.1:6379", "local redis-server", false);
        assert_eq!((t.auth, t.tls, t.cluster), (false, false, false));
        assert!(RedisTarget::of("redis://default:pw@h:1", "user", false).auth);
        assert!(!RedisTarget::of("redis://h:1/?x=a@b", "user", false).auth, "an @ past the host is no login");
    }
}
