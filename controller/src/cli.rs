//! The command line as the user typed it (clap), and its dispatch to the commands.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::compare::compare;
use crate::cost::Assumptions;
use crate::error::{EXIT_DEGRADED, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_THRESHOLDS, Error};
use crate::local::default_agent_binary;
use crate::provision::ProvisionOptions;
use crate::run::{RunOptions, RunStatus, run_local};
use crate::scenario::{
    Amount, MAX_AGENTS, MAX_CONCURRENCY, MAX_DURATION, MAX_RATE, MIN_DURATION, Scenario, Workload,
};

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
    Run(RunArgs),
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
    Status(StackArgs),
    /// Empty the bucket, delete the stack, wait until it is gone and forget the local state.
    Teardown(TeardownArgs),
    /// Make the certificates for agents you start yourself (`run --agent`): an authority, the
    /// controller's client identity, and a server certificate per agent host.
    Certs(CertsArgs),
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

    /// ElastiCache node type.
    #[arg(long, value_name = "TYPE", default_value = "cache.t4g.micro")]
    pub cache_node_type: String,

    /// Benchmark this existing Redis (HOST:PORT, reachable from the agents' VPC) instead of
    /// creating an ElastiCache cluster.
    #[arg(long, value_name = "HOST:PORT")]
    pub existing_cache: Option<String>,

    /// Encrypt traffic between agents and the cache (rediss://).
    #[arg(long)]
    pub cache_tls: bool,

    /// Who may reach the agents' gRPC port: your public IP as a /32. Asked on a terminal when
    /// not given. 0.0.0.0/0 opens it to the internet (mutual TLS still guards it).
    #[arg(long, value_name = "CIDR")]
    pub allow_cidr: Option<String>,

    /// The stack's fetchbench:expires-at tag is this far in the future, e.g. "8h".
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub expires_in: Duration,

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

    /// The AWS fleet to run on, when provisioned (see `fetchbench provision`).
    #[arg(long = "stack-name", value_name = "NAME", env = "FETCHBENCH_STACK", default_value = "fetchbench")]
    pub stack: String,
}

/// clap's usage error on one line: its text up to the usage, what it lists (the missing
/// arguments, the flag it suggests) joined on, without the "error: " it starts with.
pub fn usage_error_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut out = String::new();
    for line in lines {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    out.trim_start_matches("error: ").to_owned()
}

/// Run `cli` on a runtime of its own, Ctrl-C, SIGTERM or SIGHUP interrupting it, and return the
/// process exit code (128 + the signal's number when one interrupted it).
/// Not async on purpose: the code of an async call tree is generated in the crate that polls it,
/// and polled here, the whole run path is compiled once, in this library, not in `main.rs` too.
pub fn run_to_exit(cli: Cli) -> u8 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fetchbench: cannot start the async runtime: {e}");
            return EXIT_FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let interrupt = CancellationToken::new();
        let signal = match crate::signal::listen(interrupt.clone()) {
            Ok(signal) => signal,
            Err(e) => {
                eprintln!("fetchbench: cannot handle signals: {e}");
                return EXIT_FAILURE;
            }
        };
        let code = match run(cli, interrupt).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("fetchbench: {e:#}");
                e.exit_code()
            }
        };
        // An interrupted run exits 128 + the signal that interrupted it: 130 for Ctrl-C, 143
        // for SIGTERM, 129 for SIGHUP.
        match signal.received() {
            Some(exit) if code == EXIT_INTERRUPTED => exit,
            _ => code,
        }
    });
    // Do not wait for stray tasks (an agent stream still closing): the results are written.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

/// Run the command; the result is the process exit code.
pub async fn run(cli: Cli, interrupt: CancellationToken) -> Result<u8, Error> {
    if let Command::Run(args) = cli.command {
        return run_command(args, interrupt).await;
    }
    // The other commands have nothing to keep: a signal ends them where they are, as it would
    // without a handler, but with the contract's exit code and a word on what was left.
    tokio::select! {
        code = other_command(cli.command) => code,
        () = interrupt.cancelled() => Err(Error::InterruptedCommand),
    }
}

async fn other_command(command: Command) -> Result<u8, Error> {
    match command {
        Command::Run(_) => unreachable!("run is handled by run()"),
        Command::Report(args) => report_command(&args),
        Command::Compare(args) => compare_command(&args),
        Command::Provision(args) => crate::provision::provision(provision_options(args)?).await,
        Command::Install(args) => {
            let s = &args.stack;
            crate::install::install_command(
                &s.stack,
                s.region.as_deref(),
                s.profile.as_deref(),
                args.agent_binary.as_deref(),
            )
            .await
        }
        Command::Status(s) => {
            crate::status::status(&s.stack, s.region.as_deref(), s.profile.as_deref()).await
        }
        Command::Certs(args) => certs(&args),
        Command::Teardown(args) => {
            let s = &args.stack;
            crate::teardown::teardown(
                &s.stack,
                s.region.as_deref(),
                s.profile.as_deref(),
                args.yes,
                args.timeout,
            )
            .await
        }
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
    let (written, result) = crate::report::run(&args.result, args.html.as_deref(), assumptions.as_ref())?;
    // The terminal summary again, priced as the page is: the figures without opening a browser.
    println!(
        "{}: scenario \"{}\", {} {} agent{}, started {}",
        args.result.display(),
        result.scenario.name,
        result.agents.len(),
        result.fleet,
        if result.agents.len() == 1 { "" } else { "s" },
        result.started_at
    );
    print!("{}", crate::summary::render(&result));
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
    if let Some(path) = &args.html {
        use crate::compare_html::Side;
        crate::report::write_comparison_html(
            Side { path: &args.base, result: &base },
            Side { path: &args.new, result: &new },
            &comparison,
            args.fail_if_worse,
            path,
        )?;
        println!("page: {}", path.display());
    }
    let Some(limit) = args.fail_if_worse else { return Ok(0) };
    let failures = comparison.gate(limit);
    for why in &failures {
        println!("FAIL: {why}");
    }
    if failures.is_empty() {
        println!("ok: no percentile got more than {limit}% worse");
        Ok(0)
    } else {
        Ok(EXIT_FAILURE)
    }
}

async fn run_command(args: RunArgs, interrupt: CancellationToken) -> Result<u8, Error> {
    let local_only = args.redis_url.is_some() || args.s3_endpoint.is_some() || args.s3_bucket.is_some();
    let aws = !args.local && args.agent.is_empty() && crate::state::load(&args.stack)?.is_some();
    if aws && local_only {
        return Err(Error::Missing {
            flag: "--local",
            detail: format!(
                "is required with --redis-url, --s3-endpoint and --s3-bucket: the AWS fleet {} reads its \
                 stack's cache and bucket",
                args.stack
            ),
        });
    }
    let stack = args.stack.clone();
    let dry_run = args.dry_run;
    let opts = run_options(args)?;
    if !aws {
        let local_s3 = opts.s3_endpoint.is_none() && opts.s3_bucket.is_none();
        crate::local::check_room(&opts.scenario, opts.redis_url.is_none(), local_s3)
            .map_err(Error::DatasetTooLarge)?;
    }
    if dry_run {
        let place = if aws {
            "on the AWS fleet".to_owned()
        } else if !opts.static_agents.is_empty() {
            let at: Vec<String> = opts.static_agents.iter().map(ToString::to_string).collect();
            format!("you started ({})", at.join(", "))
        } else {
            "on this machine".to_owned()
        };
        print!("{}", crate::run::plan(&opts.scenario, &place));
        return Ok(0);
    }
    let report = if aws {
        crate::awsrun::run_aws(opts, &stack, interrupt).await?
    } else {
        run_local(opts, interrupt).await?
    };
    Ok(match report.status {
        RunStatus::Completed => 0,
        RunStatus::Degraded => EXIT_DEGRADED,
        RunStatus::Interrupted => EXIT_INTERRUPTED,
        RunStatus::ThresholdsBreached => EXIT_THRESHOLDS,
    })
}

/// `fetchbench certs DIR HOST...`: reuses the folder's authority unless `--force`, so agents
/// already started with it keep accepting the controller.
fn certs(args: &CertsArgs) -> Result<u8, Error> {
    use crate::tls::{
        Authority, CA_CERT, CA_KEY, CLIENT_CERT, CLIENT_KEY, ClientTls, valid_host, write_private,
    };
    if let Some(host) = args.hosts.iter().find(|h| !valid_host(h)) {
        return Err(Error::Usage {
            flag: "certs",
            value: host.clone(),
            detail: "is not a valid host: give an IP address or a DNS name (letters, digits and '-' in \
                     dot-separated labels of 1-63 characters, not starting or ending with '-')"
                .into(),
        });
    }
    let dir = &args.dir;
    let fail = |detail: String| Error::Usage { flag: "certs", value: dir.display().to_string(), detail };
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create the folder: {e}")))?;
    let had_authority = dir.join(CA_CERT).exists() || dir.join(CA_KEY).exists();
    let reuse = had_authority && !args.force;
    let ca = if reuse {
        let ca = Authority::load(dir, "static").map_err(|e| {
            fail(format!(
                "{e}; pass --force to make a new authority (agents started with the old one must then be \
                 restarted)"
            ))
        })?;
        println!(
            "reusing the authority in {} (agents started with it keep working; --force makes a new one)",
            dir.display()
        );
        ca
    } else {
        let ca = Authority::generate("static").map_err(|e| fail(e.to_string()))?;
        ca.save(dir).map_err(|e| fail(e.to_string()))?;
        ca
    };
    if !(reuse && dir.join(CLIENT_CERT).exists() && dir.join(CLIENT_KEY).exists()) {
        let client = ca.issue_client().map_err(|e| fail(e.to_string()))?;
        ClientTls::new(ca.cert_pem().to_owned(), client)
            .save_identity(dir)
            .map_err(|e| fail(e.to_string()))?;
    }
    if had_authority && args.force {
        eprintln!(
            "fetchbench: made a new authority in {}: agents started with the old certificates must be \
             restarted with the new ones, or they refuse this controller",
            dir.display()
        );
    }
    for host in &args.hosts {
        let issued = ca.issue_agent(host).map_err(|e| fail(e.to_string()))?;
        let (cert, key) = (dir.join(format!("agent-{host}.pem")), dir.join(format!("agent-{host}.key")));
        std::fs::write(&cert, &issued.cert_pem)
            .map_err(|e| fail(format!("cannot write {}: {e}", cert.display())))?;
        write_private(&key, &issued.key_pem).map_err(|e| fail(e.to_string()))?;
        println!(
            "{host}: fetchbench-agent --listen {host}:7878 --tls-cert {} --tls-key {} --tls-client-ca {}",
            cert.display(),
            key.display(),
            dir.join(CA_CERT).display()
        );
    }
    println!("then: fetchbench run --tls-dir {} --agent HOST:7878 ...", dir.display());
    Ok(0)
}

/// Check the arguments and load the scenario.
pub fn run_options(args: RunArgs) -> Result<RunOptions, Error> {
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::seed(),
    };
    for &n in &args.agents {
        if !(1..=MAX_AGENTS).contains(&n) {
            return Err(Error::Usage {
                flag: "--agents",
                value: n.to_string(),
                detail: format!("must be in 1..={MAX_AGENTS}"),
            });
        }
    }
    if let Some(&most) = args.agents.iter().max() {
        scenario.agents = most;
    }
    override_workloads(&mut scenario, &args)?;
    for (flag, value, schemes) in [
        ("--redis-url", &args.redis_url, &["redis://", "rediss://", "unix://"][..]),
        ("--s3-endpoint", &args.s3_endpoint, &["http://", "https://"][..]),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !schemes.iter().any(|s| v.starts_with(s))) {
            return Err(Error::Usage {
                flag,
                value: fetchbench_proto::redact::redact_url(v),
                detail: format!("must start with {}", schemes.join(" or ")),
            });
        }
    }
    for (flag, value) in [("--redis-url", &args.redis_url), ("--s3-endpoint", &args.s3_endpoint)] {
        if let Some(problem) = value.as_deref().and_then(url_address_problem) {
            let flag = if flag == "--redis-url" && args.redis_cluster { "--redis-cluster" } else { flag };
            return Err(Error::Usage {
                flag,
                value: fetchbench_proto::redact::redact_url(value.as_deref().unwrap_or_default()),
                detail: problem,
            });
        }
    }
    if let Some(path) = args.agent_binary.as_ref().filter(|p| !p.is_file()) {
        return Err(Error::Usage {
            flag: "--agent-binary",
            value: path.display().to_string(),
            detail: "is not a file; give the path of a built fetchbench-agent (cargo build --release \
                     puts it in target/release/)"
                .into(),
        });
    }
    // A results folder that cannot be one fails now, not after the fleet started and seeded.
    if let Some(out) = &args.out {
        check_out(out)?;
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
    if let Some(url) = &args.redis_url {
        let flag = if args.redis_cluster { "--redis-cluster" } else { "--redis-url" };
        crate::run::check_busy_poll(&scenario, url, args.redis_cluster, flag)?;
    }
    if !args.agent.is_empty() {
        if !args.agents.is_empty() {
            return Err(Error::Usage {
                flag: "--agents",
                value: join(&args.agents),
                detail: "cannot be combined with --agent: the agents are the ones given".into(),
            });
        }
        if args.tls_dir.is_none() {
            return Err(Error::Missing {
                flag: "--tls-dir",
                detail: "is required with --agent: the folder `fetchbench certs` made for those agents"
                    .into(),
            });
        }
        scenario.agents = args.agent.len() as u32;
    }
    // The scenario checked its workloads' agents against its own; --agents or --agent may give
    // fewer.
    if let Some(w) = scenario.workloads.iter().find(|w| w.agents.is_some_and(|n| n > scenario.agents)) {
        let (flag, value) = if args.agent.is_empty() {
            ("--agents", join(&args.agents))
        } else {
            ("--agent", join(&args.agent))
        };
        return Err(Error::Usage {
            flag,
            value,
            detail: format!(
                "workload {:?} of the scenario runs on {} agents; give at least that many",
                w.name,
                w.agents.unwrap_or_default()
            ),
        });
    }
    Ok(RunOptions {
        scenario,
        out: args.out,
        redis_url: args.redis_url,
        s3_endpoint: args.s3_endpoint,
        s3_bucket: args.s3_bucket,
        redis_cluster: args.redis_cluster,
        agent_binary: args.agent_binary.unwrap_or_else(default_agent_binary),
        static_agents: args.agent,
        tls_dir: args.tls_dir,
        serve_on: args.serve_on,
    })
}

/// Keep the `--workload` workloads, then apply `--concurrency`, `--duration`, `--requests` and
/// `--rate` to every workload, with the checks the scenario's own fields get.
fn override_workloads(scenario: &mut Scenario, args: &RunArgs) -> Result<(), Error> {
    let usage = |flag: &'static str, value: String, detail: String| Error::Usage { flag, value, detail };
    if let Some(name) = args.workload.iter().find(|n| !scenario.workloads.iter().any(|w| &w.name == *n)) {
        let names: Vec<&str> = scenario.workloads.iter().map(|w| w.name.as_str()).collect();
        return Err(usage(
            "--workload",
            name.clone(),
            format!(
                "no workload of scenario {:?} has that name; its workloads are {}",
                scenario.name,
                names.join(", ")
            ),
        ));
    }
    if !args.workload.is_empty() {
        scenario.workloads.retain(|w| args.workload.contains(&w.name));
        let kept =
            |key: &str| key.rsplit_once('.').is_some_and(|(w, _)| args.workload.iter().any(|n| n == w));
        scenario.thresholds.retain(|key, _| kept(key));
    }
    for &n in &args.concurrency {
        if !(1..=MAX_CONCURRENCY).contains(&n) {
            return Err(usage("--concurrency", n.to_string(), format!("must be in 1..={MAX_CONCURRENCY}")));
        }
    }
    let swept = [
        ("--agents", args.agents.len(), join(&args.agents)),
        ("--concurrency", args.concurrency.len(), join(&args.concurrency)),
        ("--rate", args.rate.len(), join(&args.rate)),
    ];
    if let [_, (flag, _, values), ..] = swept.iter().filter(|(_, n, _)| *n > 1).collect::<Vec<_>>()[..] {
        return Err(usage(
            flag,
            values.clone(),
            "sweep one of --agents, --concurrency and --rate at a time; give the others one value".into(),
        ));
    }
    if let Some(text) = &args.duration {
        let d = humantime::parse_duration(text).map_err(|e| {
            usage("--duration", text.clone(), format!("is not a duration ({e}); write e.g. 30s, 500ms, 2m"))
        })?;
        if d.is_zero() || d > MAX_DURATION {
            return Err(usage("--duration", text.clone(), "must be above zero and at most 7 days".into()));
        }
        if d < MIN_DURATION {
            return Err(usage(
                "--duration",
                text.clone(),
                "is shorter than one request can take; use at least 1ms".into(),
            ));
        }
        scenario.workloads.iter_mut().for_each(|w| w.stop = Amount::Duration(d));
    }
    if let Some(n) = args.requests {
        if n == 0 {
            return Err(usage("--requests", n.to_string(), "must be at least 1".into()));
        }
        scenario.workloads.iter_mut().for_each(|w| w.stop = Amount::Requests(n));
    }
    for &rate in &args.rate {
        if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
            return Err(usage(
                "--rate",
                rate.to_string(),
                format!("must be in (0, {MAX_RATE}] requests per second per agent"),
            ));
        }
        if let Some(w) = scenario.workloads.iter().find(|w| w.pipeline > 1) {
            return Err(usage(
                "--rate",
                rate.to_string(),
                format!(
                    "workload {:?} pipelines {} commands, and an open loop sends one at a time; \
                     remove its pipeline or leave out --rate",
                    w.name, w.pipeline
                ),
            ));
        }
    }
    if args.agents.len() > 1 {
        // The sweep sets every workload's agents: one that chose its own would silently lose it.
        if let Some(w) = scenario.workloads.iter().find(|w| w.agents.is_some()) {
            return Err(usage(
                "--agents",
                join(&args.agents),
                format!(
                    "sweeps every workload's agents, but workload {:?} runs on {} of its own; remove \
                     its agents or give --agents one value",
                    w.name,
                    w.agents.unwrap_or_default()
                ),
            ));
        }
        sweep(scenario, "--agents", &args.agents, 'a', |w, &n| w.agents = Some(n))?;
    }
    sweep(scenario, "--concurrency", &args.concurrency, 'c', |w, &n| w.concurrency = n)?;
    sweep(scenario, "--rate", &args.rate, 'r', |w, &rate| w.rate = Some(rate))?;
    if !args.rate.is_empty() || args.requests.is_some() {
        let (flag, value) = if args.rate.is_empty() {
            ("--requests", args.requests.unwrap_or_default().to_string())
        } else {
            ("--rate", join(&args.rate))
        };
        for w in &scenario.workloads {
            let Some(rate) = w.rate else { continue };
            if let Some(problem) = std::iter::once(w.stop)
                .chain(w.warmup)
                .find_map(|amount| crate::scenario::too_long_at_rate(amount, rate))
            {
                return Err(usage(flag, value, format!("workload {:?}: {problem}", w.name)));
            }
        }
    }
    match args.repeat {
        Some(n) if !(1..=MAX_ROUNDS).contains(&n) => {
            Err(usage("--repeat", n.to_string(), format!("must be in 1..={MAX_ROUNDS}")))
        }
        Some(n) if n > 1 => {
            repeat(scenario, n);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Most rounds of `--repeat`.
const MAX_ROUNDS: u32 = 1000;

/// Every workload `rounds` times in turn, round r's named `<workload>-<r>`, with the workload's
/// thresholds on each. The names cannot clash: the workloads' own names differ, and a round
/// number holds no '-', so a name splits back into its workload and round one way only.
fn repeat(scenario: &mut Scenario, rounds: u32) {
    let mut all: Vec<Workload> = Vec::with_capacity(scenario.workloads.len() * rounds as usize);
    let mut thresholds = BTreeMap::new();
    for round in 1..=rounds {
        for w in &scenario.workloads {
            let mut one = w.clone();
            one.name = format!("{}-{round}", w.name);
            carry_thresholds(&scenario.thresholds, &w.name, &one.name, &mut thresholds);
            all.push(one);
        }
    }
    scenario.workloads = all;
    scenario.thresholds = thresholds;
    scenario.rounds = rounds;
}

/// Set a field of every workload to `values`' one value; or, given several, replace every
/// workload by one per value, named `<workload>-<letter><value>`, in the scenario's order and
/// each workload's values in the order given, with the workload's thresholds on each.
fn sweep<T: std::fmt::Display>(
    scenario: &mut Scenario,
    flag: &'static str,
    values: &[T],
    letter: char,
    set: impl Fn(&mut Workload, &T),
) -> Result<(), Error> {
    if let [one] = values {
        scenario.workloads.iter_mut().for_each(|w| set(w, one));
        return Ok(());
    }
    if values.is_empty() {
        return Ok(());
    }
    let mut swept = Vec::with_capacity(scenario.workloads.len() * values.len());
    let mut thresholds = BTreeMap::new();
    for w in &scenario.workloads {
        for value in values {
            let mut one = w.clone();
            one.name = format!("{}-{letter}{value}", w.name);
            set(&mut one, value);
            if swept.iter().any(|o: &Workload| o.name == one.name) {
                return Err(Error::Usage {
                    flag,
                    value: join(values),
                    detail: format!("two workloads of the sweep would both be named {:?}", one.name),
                });
            }
            carry_thresholds(&scenario.thresholds, &w.name, &one.name, &mut thresholds);
            swept.push(one);
        }
    }
    scenario.workloads = swept;
    scenario.thresholds = thresholds;
    Ok(())
}

/// The limits `thresholds` put on workload `from`, put on workload `to` in `into`.
fn carry_thresholds(
    thresholds: &BTreeMap<String, f64>,
    from: &str,
    to: &str,
    into: &mut BTreeMap<String, f64>,
) {
    for (key, limit) in thresholds {
        if let Some((_, metric)) = key.rsplit_once('.').filter(|(name, _)| *name == from) {
            into.insert(format!("{to}.{metric}"), *limit);
        }
    }
}

/// What is wrong with the host and port of a `redis://`, `rediss://`, `http://` or `https://`
/// URL, if anything (a `unix://` path has neither).
fn url_address_problem(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme == "unix" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = match host_port.strip_prefix('[') {
        // [IPv6]:port
        Some(v6) => match v6.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return Some("has an unclosed '[' in its host".into()),
        },
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Some(format!("names no host; write e.g. {scheme}://127.0.0.1:6379"));
    }
    match port {
        Some(p) if !p.parse::<u16>().is_ok_and(|p| p > 0) => {
            Some(format!("has port {p:?}, which is not a port (1-65535)"))
        }
        _ => None,
    }
}

/// Whether `out` can be a results folder: the nearest existing path on it must be a folder (not
/// a file) that takes a new file.
fn check_out(out: &std::path::Path) -> Result<(), Error> {
    let refuse = |detail: String| Error::Usage { flag: "--out", value: out.display().to_string(), detail };
    let existing = out.ancestors().find(|p| p.as_os_str().is_empty() || p.exists());
    let dir = match existing {
        Some(p) if p.as_os_str().is_empty() => std::path::Path::new("."),
        Some(p) => p,
        None => return Ok(()),
    };
    if !dir.is_dir() {
        return Err(refuse(format!(
            "{} is a file, not a folder; give a folder (it is made if missing)",
            dir.display()
        )));
    }
    match tempfile::Builder::new().prefix(".fetchbench-write-check").tempfile_in(dir) {
        Ok(_) => Ok(()),
        Err(e) => Err(refuse(format!("cannot write in {}: {e}; give a folder you can write", dir.display()))),
    }
}

fn join<T: std::fmt::Display>(values: &[T]) -> String {
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// Check the arguments of `fetchbench provision`.
pub fn provision_options(args: ProvisionArgs) -> Result<ProvisionOptions, Error> {
    let usage = |flag: &'static str, value: &str, detail: &str| Error::Usage {
        flag,
        value: value.to_owned(),
        detail: detail.to_owned(),
    };
    if !(1..=64).contains(&args.agents) {
        return Err(usage("--agents", &args.agents.to_string(), "must be in 1..=64"));
    }
    let stack = &args.stack.stack;
    let valid_stack = stack.len() <= 64
        && stack.starts_with(|c: char| c.is_ascii_alphabetic())
        && stack.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid_stack {
        return Err(usage(
            "--stack-name",
            stack,
            "must start with a letter and hold letters, digits and '-' only",
        ));
    }
    let existing_cache = match &args.existing_cache {
        None => None,
        Some(v) => {
            let parsed = v.rsplit_once(':').and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)));
            match parsed {
                Some((host, port)) if !host.is_empty() => Some((host, port)),
                _ => {
                    return Err(usage(
                        "--existing-cache",
                        v,
                        "must be HOST:PORT, e.g. my-redis.internal:6379",
                    ));
                }
            }
        }
    };
    let allow_cidr = match args.allow_cidr {
        Some(c) => c,
        None => ask_cidr()?,
    };
    if !is_ipv4_cidr(&allow_cidr) {
        return Err(usage("--allow-cidr", &allow_cidr, "must be an IPv4 CIDR such as 203.0.113.7/32"));
    }
    Ok(ProvisionOptions {
        stack: args.stack.stack,
        region: args.stack.region,
        profile: args.stack.profile,
        agents: args.agents,
        instance_type: args.instance_type,
        cache_node_type: args.cache_node_type,
        existing_cache,
        cache_tls: args.cache_tls,
        allow_cidr,
        expires_in: args.expires_in,
        timeout: args.timeout,
        agent_binary: args.agent_binary,
        install: !args.no_install,
    })
}

/// Ask for the operator's public IP on a terminal; without one, the flag is required.
fn ask_cidr() -> Result<String, Error> {
    let missing = || Error::Missing {
        flag: "--allow-cidr",
        detail:
            "is required: your public IPv4 address as a /32 (e.g. from `curl https://checkip.amazonaws.com`)"
                .into(),
    };
    if !std::io::stdin().is_terminal() {
        return Err(missing());
    }
    print!(
        "your public IPv4 address (the agents accept gRPC from it only; see https://checkip.amazonaws.com): "
    );
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let ip = line.trim();
    if ip.is_empty() {
        return Err(missing());
    }
    Ok(if ip.contains('/') { ip.to_owned() } else { format!("{ip}/32") })
}

fn is_ipv4_cidr(c: &str) -> bool {
    match c.split_once('/') {
        Some((ip, bits)) => {
            ip.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32)
        }
        None => false,
    }
}
