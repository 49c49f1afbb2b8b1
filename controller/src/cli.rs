//! The command line as the user typed it (clap), and its dispatch to the commands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::compare::compare;
use crate::cost::Assumptions;
use crate::error::{EXIT_DEGRADED, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_THRESHOLDS, Error};
use crate::local::default_agent_binary;
use crate::run::{RunOptions, RunStatus, run_local};
use crate::scenario::{MAX_AGENTS, Scenario};

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
    /// report.html, a .hgrm file per workload, summary.csv and timeseries.csv.
    Run(RunArgs),
    /// Write report.html, the .hgrm files and the CSV files again from a result.json.
    Report(ReportArgs),
    /// Compare two result files: per workload the change in p50, p99, p99.9, throughput and
    /// errors, each marked better or worse.
    Compare(CompareArgs),
}

/// Arguments of `fetchbench report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The result.json of a run.
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
    /// cache.t3.micro).
    #[arg(long, value_name = "T")]
    pub cache_node_type: Option<String>,

    /// Price this many cache nodes (a primary and its replicas) instead of one.
    #[arg(long, value_name = "N")]
    pub cache_nodes: Option<u32>,
}

/// Arguments of `fetchbench compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The result.json to compare against.
    #[arg(value_name = "BASE_JSON")]
    pub base: PathBuf,

    /// The result.json of the run being judged.
    #[arg(value_name = "NEW_JSON")]
    pub new: PathBuf,

    /// Exit 1 when a latency percentile (p50, p99 or p99.9) of a workload got worse by more
    /// than PCT percent, e.g. 10; for gating CI.
    #[arg(long, value_name = "PCT")]
    pub fail_if_worse: Option<f64>,
}

/// Arguments of `fetchbench run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML); without it, the built-in seed scenario (scenarios/seed.toml).
    pub scenario: Option<PathBuf>,

    /// Number of agents; overrides the scenario's `agents`.
    #[arg(long, value_name = "N")]
    pub agents: Option<u32>,

    /// Folder for result.json, report.html and the exports; default
    /// results/<scenario>-<UTC timestamp>/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

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

    /// The fetchbench-agent binary for local agents; default: the one beside fetchbench.
    #[arg(long, value_name = "PATH")]
    pub agent_binary: Option<PathBuf>,
}

/// Run the command; the result is the process exit code.
pub async fn run(cli: Cli, interrupt: CancellationToken) -> Result<u8, Error> {
    match cli.command {
        Command::Run(args) => run_command(args, interrupt).await,
        Command::Report(args) => report_command(&args),
        Command::Compare(args) => compare_command(&args),
    }
}

fn report_command(args: &ReportArgs) -> Result<u8, Error> {
    let repriced = args.region.is_some() || args.cache_node_type.is_some() || args.cache_nodes.is_some();
    let assumptions = repriced.then(|| {
        let recorded = crate::report::load(&args.result).ok().and_then(|r| r.cost);
        let defaults = recorded.map_or_else(Assumptions::default, |c| Assumptions {
            region: c.region,
            node_type: c.cache_node_type,
            nodes: c.cache_nodes,
        });
        Assumptions {
            region: args.region.clone().unwrap_or(defaults.region),
            node_type: args.cache_node_type.clone().unwrap_or(defaults.node_type),
            nodes: args.cache_nodes.unwrap_or(defaults.nodes),
        }
    });
    let written = crate::report::run(&args.result, args.html.as_deref(), assumptions.as_ref())?;
    println!("report: {}", written.display());
    Ok(0)
}

fn compare_command(args: &CompareArgs) -> Result<u8, Error> {
    if let Some(pct) = args.fail_if_worse.filter(|p| !(p.is_finite() && *p >= 0.0)) {
        return Err(Error::Usage {
            flag: "--fail-if-worse",
            value: pct.to_string(),
            detail: "must be a percentage of 0 or more, e.g. 10".into(),
        });
    }
    let base = crate::report::load(&args.base)?;
    let new = crate::report::load(&args.new)?;
    let comparison = compare(&base, &new);
    println!(
        "compare: {} ({}, {}) -> {} ({}, {})",
        args.base.display(),
        base.scenario.name,
        base.started_at,
        args.new.display(),
        new.scenario.name,
        new.started_at
    );
    print!("{}", comparison.render());
    let Some(limit) = args.fail_if_worse else { return Ok(0) };
    let breaches = comparison.breaches(limit);
    for c in &breaches {
        let by = c.percent.map_or_else(|| "from zero".to_owned(), |p| format!("by {p:.1}%"));
        println!("FAIL: {} {} got worse {by}, more than the {limit}% allowed", c.workload, c.metric.name());
    }
    if breaches.is_empty() {
        println!("ok: no percentile got more than {limit}% worse");
        Ok(0)
    } else {
        Ok(EXIT_FAILURE)
    }
}

async fn run_command(args: RunArgs, interrupt: CancellationToken) -> Result<u8, Error> {
    let opts = run_options(args)?;
    let report = run_local(opts, interrupt).await?;
    Ok(match report.status {
        RunStatus::Completed => 0,
        RunStatus::Degraded => EXIT_DEGRADED,
        RunStatus::Interrupted => EXIT_INTERRUPTED,
        RunStatus::ThresholdsBreached => EXIT_THRESHOLDS,
    })
}

/// Check the arguments and load the scenario.
pub fn run_options(args: RunArgs) -> Result<RunOptions, Error> {
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::seed(),
    };
    if let Some(n) = args.agents {
        if !(1..=MAX_AGENTS).contains(&n) {
            return Err(Error::Usage {
                flag: "--agents",
                value: n.to_string(),
                detail: format!("must be in 1..={MAX_AGENTS}"),
            });
        }
        scenario.agents = n;
    }
    for (flag, value, schemes) in [
        ("--redis-url", &args.redis_url, &["redis://", "rediss://", "unix://"][..]),
        ("--s3-endpoint", &args.s3_endpoint, &["http://", "https://"][..]),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !schemes.iter().any(|s| v.starts_with(s))) {
            return Err(Error::Usage {
                flag,
                value: v.to_owned(),
                detail: format!("must start with {}", schemes.join(" or ")),
            });
        }
    }
    if let Some(b) = &args.s3_bucket {
        let valid = (3..=63).contains(&b.len())
            && b.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid {
            return Err(Error::Usage {
                flag: "--s3-bucket",
                value: b.clone(),
                detail: "is not a valid bucket name (3-63 lowercase letters, digits, '-' or '.')".into(),
            });
        }
    }
    Ok(RunOptions {
        scenario,
        out: args.out,
        redis_url: args.redis_url,
        s3_endpoint: args.s3_endpoint,
        s3_bucket: args.s3_bucket,
        redis_cluster: args.redis_cluster,
        agent_binary: args.agent_binary.unwrap_or_else(default_agent_binary),
    })
}
