//! The command line as the user typed it: clap's types only. [`crate::commands`] turns each
//! subcommand's arguments into checked options and runs it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::scenario::{MAX_AGENTS, MAX_CONCURRENCY};

/// Measure what a Redis cache (ElastiCache) buys an application that reads its objects from S3:
/// latency at every percentile, throughput and errors, on this machine or a fleet of agents.
#[derive(Debug, Parser)]
#[command(name = "fetchbench", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario (the built-in seed experiment when none is given) and write result.json,
    /// report.html, a .hgrm file per workload, summary.csv and timeseries.csv. It runs on the
    /// provisioned AWS fleet when there is one, else on this machine.
    Run(Box<RunArgs>),
    /// Print a result.json's summary again and write report.html, the .hgrm files and the CSV
    /// files from it; --region, --cache-node-type and --cache-nodes price it again.
    Report(ReportArgs),
    /// Compare two result files: per workload the change in p50, p99, p99.9, throughput and
    /// errors, each marked better or worse.
    Compare(CompareArgs),
    /// Create (or update) the AWS fleet: a CloudFormation stack with the agents, ElastiCache and
    /// a bucket; then install the agents.
    Provision(ProvisionArgs),
    /// (Re)install or upgrade the agents on the provisioned fleet through SSM.
    Install(InstallArgs),
    /// The fleet's stack, each agent's SSM and gRPC health, its age and its cost so far.
    Status(StatusArgs),
    /// Empty the bucket, delete the stack, wait until it is gone and forget the local state.
    Teardown(TeardownArgs),
    /// Make the certificates for agents you start yourself (`run --agent`): an authority, the
    /// controller's client identity, and a server certificate per agent host.
    Certs(CertsArgs),
    /// What a trace file holds, before replaying it with `keys = "trace:FILE"`: requests,
    /// distinct keys, object sizes, time span and rate, the share of requests on the top 1% of
    /// keys and the best-fitting Zipf exponent, then the scenario lines of a synthetic workload
    /// that matches it.
    TraceStats(TraceStatsArgs),
}

/// Arguments of `fetchbench trace-stats`.
#[derive(Debug, clap::Args)]
pub struct TraceStatsArgs {
    /// The trace: one key per line; CSV with a header naming a `key` column and optionally
    /// `timestamp` (or `time`: seconds, or RFC 3339) and `size` (or `bytes`) columns; or an S3
    /// server access log, whose REST.GET.OBJECT records are read.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Arguments of `fetchbench certs`.
#[derive(Debug, clap::Args)]
pub struct CertsArgs {
    /// Folder to write into (created; keys are written 0600). Pass it to `run --tls-dir`.
    pub dir: PathBuf,

    /// The agents' hosts as `run --agent` will name them: IP addresses or DNS names (letters,
    /// digits and '-' in dot-separated labels). A folder that already holds an authority keeps it
    /// and the controller's identity, and only adds certificates for these hosts.
    #[arg(required = true, value_name = "HOST")]
    pub hosts: Vec<String>,

    /// Make a new authority and controller identity even if the folder holds one; agents
    /// started with the old certificates must then be restarted with the new ones.
    #[arg(long)]
    pub force: bool,
}

/// Which fleet, and how to reach AWS.
#[derive(Debug, Clone, clap::Args)]
pub struct StackArgs {
    /// CloudFormation stack name of the fleet; its local state is ~/.fetchbench/<NAME>/.
    #[arg(long = "stack-name", value_name = "NAME", env = "FETCHBENCH_STACK", default_value = "fetchbench")]
    pub stack: String,

    /// AWS region; default: the one the fleet was provisioned in, else the standard AWS chain's.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// AWS profile (from ~/.aws/config); default: the standard AWS chain's.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// Arguments of `fetchbench provision`.
#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Number of agents (EC2 instances).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub agents: u32,

    /// EC2 instance type of the agents; Graviton types (c7g, ...) need an aarch64 agent binary.
    #[arg(long, value_name = "TYPE", default_value = "c7i.large")]
    pub instance_type: String,

    /// ElastiCache node type of a node-based cache [default: cache.t4g.micro]
    #[arg(long, value_name = "TYPE")]
    pub cache_node_type: Option<String>,

    /// Benchmark this existing Redis (HOST:PORT, reachable from the agents' VPC) instead of
    /// creating an ElastiCache cluster.
    #[arg(long, value_name = "HOST:PORT")]
    pub existing_cache: Option<String>,

    /// Encrypt traffic between agents and the cache (rediss://); a serverless cache always does.
    #[arg(long)]
    pub cache_tls: bool,

    /// Add an S3 Express One Zone directory bucket in the agents' availability zone, for
    /// `s3-express` workloads (the agents' zone is then one that offers S3 Express).
    #[arg(long)]
    pub s3_express: bool,
    /// Engine of the created cache: redis (Redis OSS 7.1) or valkey (Valkey 8.0, priced about
    /// 20% lower and protocol-compatible) [default: redis for a new stack; a re-run keeps the
    /// stack's engine]
    #[arg(long, value_name = "ENGINE", value_parser = ["redis", "valkey"])]
    pub cache_engine: Option<String>,

    /// Kind of the created cache: nodes (a replication group of --cache-node-type) or
    /// serverless (ElastiCache Serverless, TLS only, billed per ECPU and GB-hour) [default:
    /// nodes for a new stack; a re-run keeps the stack's kind]
    #[arg(long, value_name = "KIND", value_parser = ["nodes", "serverless"])]
    pub cache: Option<String>,

    /// Who may reach the agents' gRPC port: your public IP as a /32. Asked on a terminal when
    /// not given. 0.0.0.0/0 opens it to the internet (mutual TLS still guards it).
    #[arg(long, value_name = "CIDR")]
    pub allow_cidr: Option<String>,

    /// At now plus this (e.g. "8h"; longer than --timeout) the agents are scaled to 0 (the stack's
    /// fetchbench:expires-at); given again, it renews an expired stack [default: 24h for a new
    /// stack; a re-run keeps the stack's time]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub expires_in: Option<Duration>,

    /// Longest wait for the stack (ElastiCache alone takes about 10 minutes).
    #[arg(long, value_name = "DURATION", default_value = "45m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,

    /// The fetchbench-agent to install: a Linux binary for the instances' architecture;
    /// default: the one beside fetchbench.
    #[arg(long, value_name = "PATH")]
    pub agent_binary: Option<PathBuf>,

    /// Create the stack only; install the agents later with `fetchbench install`.
    #[arg(long)]
    pub no_install: bool,

    /// Quote the stack's cost with this price table (TOML, laid out like the built-in one) or
    /// `live`: the AWS Price List API's current prices for the region of the stack's own agents'
    /// instance type and cache node (and S3). Kept in the stack's folder: `status` and runs on the
    /// fleet use it too.
    #[arg(long, value_name = "FILE|live")]
    pub prices: Option<PathBuf>,
}

/// Arguments of `fetchbench status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Quote the cost so far with this price table or `live` (the AWS Price List API's current
    /// prices) instead of the prices the stack was provisioned with.
    #[arg(long, value_name = "FILE|live")]
    pub prices: Option<PathBuf>,
}

/// Arguments of `fetchbench install`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// The fetchbench-agent to install: a Linux binary for the instances' architecture;
    /// default: the one beside fetchbench.
    #[arg(long, value_name = "PATH")]
    pub agent_binary: Option<PathBuf>,
}

/// Arguments of `fetchbench teardown`.
#[derive(Debug, clap::Args)]
pub struct TeardownArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,

    /// Longest wait for the stack to be deleted.
    #[arg(long, value_name = "DURATION", default_value = "45m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// Arguments of `fetchbench report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The result.json of a run, or the run's folder holding it.
    #[arg(value_name = "RESULT_JSON")]
    pub result: PathBuf,

    /// Write only the HTML report, to this file; without it, report.html and the exports are
    /// written beside RESULT_JSON.
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,

    /// Price the run in this AWS region instead of the one it recorded (default us-east-1).
    #[arg(long, value_name = "R")]
    pub region: Option<String>,

    /// Price this ElastiCache node type instead of the one the run recorded (default
    /// cache.t4g.micro).
    #[arg(long, value_name = "T")]
    pub cache_node_type: Option<String>,

    /// Price this many cache nodes (a primary and its replicas) instead of one; ElastiCache
    /// allows up to 500 in one cluster.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    pub cache_nodes: Option<u32>,

    /// Reprice (cost and verdict) with this price table (TOML, laid out like the built-in one)
    /// in place of the built-in figures, or with `live` list prices from the AWS Price List API.
    #[arg(long, value_name = "FILE|live")]
    pub prices: Option<PathBuf>,
}

/// Arguments of `fetchbench compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The result.json to compare against, or the run's folder holding it.
    #[arg(value_name = "BASE_JSON")]
    pub base: PathBuf,

    /// The result.json of the run being judged, or its run's folder.
    #[arg(value_name = "NEW_JSON")]
    pub new: PathBuf,

    /// Exit 1 when a latency percentile (p50, p99 or p99.9) of a workload got worse by more
    /// than PCT percent, e.g. 10; for gating CI.
    #[arg(long, value_name = "PCT")]
    pub fail_if_worse: Option<f64>,

    /// Also write the comparison as one self-contained page to OUT: the table, the gate's
    /// verdict, the setup differences and each workload's two latency-by-percentile curves.
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
}

/// Arguments of `fetchbench run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML); without it, the built-in seed scenario (scenarios/seed.toml).
    pub scenario: Option<PathBuf>,

    /// Number of agents; overrides the scenario's `agents`. Several values ("1,2,4") sweep: the
    /// fleet has the most, and every workload runs once per value on that many of them, named
    /// `<workload>-a<N>`: how latency and throughput scale with the fleet.
    #[arg(
        long,
        value_name = "N[,N...]",
        value_delimiter = ',',
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_AGENTS))
    )]
    pub agents: Vec<u32>,

    /// Folder for result.json, report.html and the exports; default
    /// results/<scenario>-<UTC timestamp>/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Check the scenario and the flags, print what would run, and stop: nothing is started.
    #[arg(long)]
    pub dry_run: bool,

    /// Run only this workload of the scenario (by name); repeat for more. They run in the
    /// scenario's order.
    #[arg(long, value_name = "NAME")]
    pub workload: Vec<String>,

    /// Requests in flight per agent, for every workload; overrides the scenario's `concurrency`.
    /// Several values ("1,8,64") sweep: every workload runs once per value, named
    /// `<workload>-c<N>`.
    #[arg(
        long,
        value_name = "N[,N...]",
        value_delimiter = ',',
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CONCURRENCY))
    )]
    pub concurrency: Vec<u32>,

    /// Measure every workload for this long ("30s", "500ms", "2m"); overrides the scenario's
    /// `requests` or `duration`.
    #[arg(long, value_name = "DURATION", conflicts_with = "requests")]
    pub duration: Option<String>,

    /// Measured requests per agent, for every workload; overrides the scenario's `requests` or
    /// `duration`.
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,

    /// Open loop for every workload: requests per second per agent on a fixed schedule, latency
    /// timed from each request's intended start; overrides the scenario's `rate`. Several values
    /// ("100,1000,10000") sweep: every workload runs once per rate, named `<workload>-r<OPS>`.
    #[arg(long, value_name = "OPS[,OPS...]", value_delimiter = ',')]
    pub rate: Vec<f64>,

    /// Search every workload for the highest rate that meets a latency objective: "p99=2ms" (also
    /// p50, p999), optionally ",errors=0.1%,resolution=5%,step=5s,budget=5m" (the defaults). A
    /// closed-loop probe, then open-loop steps that grow and bisect, each held at least `step` and
    /// until its per-second percentile is steady; result.json gets each workload's `capacity`.
    /// Overrides the scenario's `find_max`.
    #[arg(long, value_name = "OBJECTIVE", conflicts_with_all = ["rate", "duration", "requests"])]
    pub find_max: Option<String>,

    /// Run the workloads N times in turn (every workload once, then again, ...), round r's copy
    /// named `<workload>-<r>`; the summary gives each workload's median and range over the
    /// rounds, so a figure comes with its spread.
    #[arg(long, value_name = "N")]
    pub repeat: Option<u32>,

    /// Run on this machine: local agent processes, redis-server and an embedded S3 endpoint.
    /// This is the default; the flag makes it explicit.
    #[arg(long)]
    pub local: bool,

    /// Use this running Redis instead of starting redis-server, e.g. redis://127.0.0.1:6379.
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,

    /// The --redis-url names a node of a Redis Cluster (ElastiCache with cluster mode enabled).
    #[arg(long, requires = "redis_url")]
    pub redis_cluster: bool,

    /// Use this S3-compatible endpoint (MinIO, another S3 server) instead of the embedded one;
    /// credentials come from the standard AWS environment variables or profile.
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// Bucket to seed and read; with no --s3-endpoint it is a bucket on AWS S3.
    #[arg(long, value_name = "NAME")]
    pub s3_bucket: Option<String>,

    /// Your own S3 Express One Zone directory bucket, named BASE--AZ_ID--x-s3 (e.g.
    /// mydata--use1-az4--x-s3), for s3-express workloads to seed and read instead of the embedded
    /// endpoint's; seeding creates it in that zone when missing. The agents reach it with their AWS
    /// configuration: local agents inherit this environment's (AWS_ENDPOINT_URL, AWS_REGION,
    /// AWS_PROFILE or keys); --agent agents use their own. Not for the AWS fleet, which reads its
    /// stack's bucket.
    #[arg(long, value_name = "NAME")]
    pub s3_express_bucket: Option<String>,

    /// The fetchbench-agent binary for local agents; default: the one beside fetchbench.
    #[arg(long, value_name = "PATH")]
    pub agent_binary: Option<PathBuf>,

    /// Use this already-running agent (HOST:PORT) instead of starting local ones; repeat for
    /// each agent. Needs --tls-dir with the certificates `fetchbench certs` made for them.
    #[arg(long, value_name = "HOST:PORT")]
    pub agent: Vec<SocketAddr>,

    /// Folder with the authority and client identity for --agent agents (see `fetchbench certs`).
    #[arg(long, value_name = "DIR", requires = "agent")]
    pub tls_dir: Option<PathBuf>,

    /// Address the local redis-server and embedded S3 endpoint listen on; give one that --agent
    /// agents on other hosts can reach.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1", requires = "agent")]
    pub serve_on: IpAddr,

    /// Serve live metrics for Prometheus at http://ADDR/metrics while the run goes (requests,
    /// errors by kind, the latest second's throughput, latency quantiles and rates, and the Redis
    /// server's figures, all named fetchbench_*), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// A price table (TOML, laid out like the built-in one, controller/src/results/prices.toml)
    /// whose figures replace the built-in ones in the run's cost and verdict (figures it leaves
    /// out keep the built-in values); or `live`: the current list prices from the AWS Price List
    /// API, with your AWS credentials. Either is kept beside result.json as prices.toml.
    #[arg(long, value_name = "FILE|live")]
    pub prices: Option<PathBuf>,

    /// Cache sizes ("32mb,64mb,128mb") for the redis-server fetchbench starts: every workload
    /// that reads Redis runs once per size, named `<workload>-m<size>`, each on an empty cache of
    /// that maxmemory (with the scenario's [cache] policy, else allkeys-lru): hit ratio and p99
    /// against cache size, the curve a node is sized with.
    #[arg(long, value_name = "SIZE[,SIZE...]", value_delimiter = ',')]
    pub sweep_cache: Vec<crate::scenario::CacheSize>,

    /// TTLs ("1s,10s,1m") for every cache-aside workload: each runs once per TTL, named
    /// `<workload>-t<TTL>`. With writes (write_share) the summary and report.html show the
    /// trade-off: the hit ratio once warm and the stale reads against the TTL.
    #[arg(long, value_name = "TTL[,TTL...]", value_delimiter = ',')]
    pub sweep_ttl: Vec<humantime::Duration>,

    /// On the AWS fleet: how long to wait after the run for CloudWatch to publish the stack's
    /// cache and bucket metrics of the run's last minute (they come once a minute, sometimes
    /// minutes late); the run's files are written first, then again with them. 0 skips them.
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = humantime::parse_duration)]
    pub cloudwatch_wait: std::time::Duration,

    /// The AWS fleet to run on, when provisioned (see `fetchbench provision`).
    #[arg(long = "stack-name", value_name = "NAME", env = "FETCHBENCH_STACK", default_value = "fetchbench")]
    pub stack: String,
}
