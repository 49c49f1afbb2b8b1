//! `fetchbench run`: the arguments checked and applied to the scenario (overrides, sweeps,
//! repeats), then the run on the local fleet, on agents the user started, or on the AWS fleet.

use tokio_util::sync::CancellationToken;

use crate::cli::RunArgs;
use crate::error::{EXIT_DEGRADED, EXIT_INTERRUPTED, EXIT_THRESHOLDS, Error};
use crate::fleet::local::{NoRoom, default_agent_binary};
use crate::fleet::tls::ClientTls;
use crate::run::{RunOptions, RunReport, RunStatus, run_local};
use crate::scenario::expand::{self, MAX_ROUNDS};
use crate::scenario::{
    Amount, FindMax, MAX_AGENTS, MAX_CONCURRENCY, MAX_DURATION, MAX_RATE, MIN_DURATION, Scenario, Target,
};

/// The smallest cache `--sweep-cache` sets: Redis's own memory (about 1 MiB) counts against
/// maxmemory, so below this it refuses the workload's writes or holds next to nothing.
const MIN_CACHE_BYTES: u64 = 2 << 20;

/// Run `fetchbench run`; the result is the process exit code.
pub async fn run(args: RunArgs, interrupt: CancellationToken) -> Result<u8, Error> {
    let local_only = args.redis_url.is_some()
        || args.s3_endpoint.is_some()
        || args.s3_bucket.is_some()
        || args.s3_express_bucket.is_some();
    let aws = !args.local && args.agent.is_empty() && crate::fleet::aws_state::load(&args.stack)?.is_some();
    if !args.sweep_cache.is_empty() && (aws || args.redis_url.is_some()) {
        let whose = if aws {
            "the AWS fleet's ElastiCache (its node type sets its memory)"
        } else {
            "your --redis-url"
        };
        return Err(Error::Usage {
            flag: "--sweep-cache",
            value: join(&args.sweep_cache),
            detail: format!(
                "sizes the redis-server fetchbench starts, not {whose}; run with --local and no --redis-url"
            ),
        });
    }
    if aws && local_only {
        return Err(Error::Missing {
            flag: "--local",
            detail: format!(
                "is required with --redis-url, --s3-endpoint, --s3-bucket and --s3-express-bucket: the \
                 AWS fleet {} reads its stack's cache and buckets",
                args.stack
            ),
        });
    }
    let stack = args.stack.clone();
    let cloudwatch_wait = args.cloudwatch_wait;
    let dry_run = args.dry_run;
    let tls_dir = args.tls_dir.clone();
    let live = args.prices.as_deref() == Some(std::path::Path::new(super::prices::LIVE));
    let mut opts = run_options(args)?;
    if !aws {
        let local = crate::fleet::local::OnThisMachine {
            redis: opts.redis_url.is_none(),
            s3: opts.s3_endpoint.is_none() && opts.s3_bucket.is_none(),
            s3_express: opts.s3_express_bucket.is_none(),
        };
        crate::fleet::local::check_room(&opts.scenario, local).map_err(|e| {
            let advice = match e {
                NoRoom::Memory { .. } => {
                    "use fewer or smaller objects, or point --redis-url at a larger Redis"
                }
                NoRoom::Disk { .. } => {
                    "use fewer or smaller objects, set TMPDIR to a larger disk, or use --s3-endpoint"
                }
            };
            Error::DatasetTooLarge(format!("{e}; {advice}"))
        })?;
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
        say_text!(&crate::run::dry_run::text(&opts.scenario, &place));
        return Ok(0);
    }
    if opts.prices.is_none() && live {
        let region = match crate::fleet::aws_state::load(&stack)? {
            Some(state) if aws => Some(state.region),
            _ => None,
        };
        opts.prices = super::prices::live_prices(super::prices::LiveFor {
            region: region.as_deref(),
            ..Default::default()
        })
        .await
        .map(Some)?;
    }
    let report = if aws {
        run_aws(opts, &stack, cloudwatch_wait, interrupt).await?
    } else {
        // The static agents' TLS identity, loaded before anything starts.
        if let Some(dir) = tls_dir.filter(|_| !opts.static_agents.is_empty()) {
            opts.static_tls = Some(ClientTls::load(&dir).map_err(|e| Error::Usage {
                flag: "--tls-dir",
                value: dir.display().to_string(),
                detail: format!("{e}; make one with `fetchbench certs DIR HOST...`"),
            })?);
        }
        run_local(opts, interrupt).await?
    };
    Ok(match report.status {
        RunStatus::Completed => 0,
        RunStatus::Degraded => EXIT_DEGRADED,
        RunStatus::Interrupted => EXIT_INTERRUPTED,
        RunStatus::ThresholdsBreached => EXIT_THRESHOLDS,
    })
}

/// Run the scenario in `opts` on the provisioned fleet of `stack`: as many of its agents in
/// service as the scenario asks for, its cache and bucket; then add what CloudWatch kept of the
/// cache (waiting at most `cloudwatch_wait`).
async fn run_aws(
    opts: RunOptions,
    stack: &str,
    cloudwatch_wait: std::time::Duration,
    interrupt: CancellationToken,
) -> Result<RunReport, Error> {
    let (state, mut agents) = crate::stack::fleet::agents_in_service(stack).await?;
    let wanted = opts.scenario.agents as usize;
    if agents.len() < wanted {
        return Err(Error::Usage {
            flag: "--agents",
            value: wanted.to_string(),
            detail: format!(
                "the fleet has {} agents in service; pass --agents {} or `fetchbench provision --agents {wanted}`",
                agents.len(),
                agents.len()
            ),
        });
    }
    if agents.len() > wanted {
        say!(
            "using {wanted} of the fleet's {} agents (the scenario's agents; --agents overrides)",
            agents.len()
        );
    }
    agents.truncate(wanted);
    check_busy_poll(&opts.scenario, &crate::stack::fleet::cache_url(&state), false, "the stack's cache")?;
    let fleet = crate::stack::fleet::fleet(&opts.scenario, &state, agents)?;
    let mut report = crate::run::on_fleet(&opts, &fleet, &interrupt).await?;
    if report.status != RunStatus::Interrupted {
        if !cloudwatch_wait.is_zero() && crate::stack::cloudwatch::reads_any(&state) {
            say!("the stack's CloudWatch figures follow once published (--cloudwatch-wait 0 skips them)");
        }
        let path = report.path.clone();
        crate::stack::cloudwatch::attach(&state, &mut report.result, &path, cloudwatch_wait, &interrupt)
            .await;
    }
    Ok(report)
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
    if let Some(b) = args.s3_bucket.as_ref().filter(|b| !bucket_name_ok(b, true)) {
        return Err(Error::Usage {
            flag: "--s3-bucket",
            value: b.clone(),
            detail: "is not a valid bucket name (3-63 lowercase letters, digits, '-' or '.')".into(),
        });
    }
    let reads_express = scenario.workloads.iter().any(|w| w.target.uses_s3_express());
    if let Some(b) = args.s3_express_bucket.as_ref().filter(|b| !directory_bucket_ok(b)) {
        return Err(Error::Usage {
            flag: "--s3-express-bucket",
            value: b.clone(),
            detail: "is not a directory bucket name: write BASE--AZ_ID--x-s3, e.g. mydata--use1-az4--x-s3 \
                     (3-63 characters in all: lowercase letters, digits and '-')"
                .into(),
        });
    }
    if let Some(b) = args.s3_express_bucket.as_ref().filter(|_| !reads_express) {
        return Err(Error::Usage {
            flag: "--s3-express-bucket",
            value: b.clone(),
            detail: format!(
                "is read by s3-express workloads, and scenario {:?} runs none; add one (target = \"s3-express\")",
                scenario.name
            ),
        });
    }
    if let Some(url) = &args.redis_url {
        let flag = if args.redis_cluster { "--redis-cluster" } else { "--redis-url" };
        check_busy_poll(&scenario, url, args.redis_cluster, flag)?;
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
    // Bound here, before anything starts, so that an address in use is the command line's error.
    let metrics_listen = match args.metrics_listen {
        Some(addr) => {
            Some(std::sync::Arc::new(std::net::TcpListener::bind(addr).map_err(|e| Error::Usage {
                flag: "--metrics-listen",
                value: addr.to_string(),
                detail: format!("cannot listen there ({e}); give a free address, e.g. 127.0.0.1:9464"),
            })?))
        }
        None => None,
    };
    let prices = args
        .prices
        .as_deref()
        .filter(|p| *p != std::path::Path::new(super::prices::LIVE))
        .map(super::prices::price_file)
        .transpose()?;
    Ok(RunOptions {
        prices,
        scenario,
        out: args.out,
        redis_url: args.redis_url,
        s3_endpoint: args.s3_endpoint,
        s3_bucket: args.s3_bucket,
        s3_express_bucket: args.s3_express_bucket,
        redis_cluster: args.redis_cluster,
        agent_binary: args.agent_binary.unwrap_or_else(default_agent_binary),
        static_agents: args.agent,
        static_tls: None,
        serve_on: args.serve_on,
        metrics_listen,
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
        ("--sweep-cache", args.sweep_cache.len(), join(&args.sweep_cache)),
        ("--sweep-ttl", args.sweep_ttl.len(), join(&args.sweep_ttl)),
    ];
    if let [_, (flag, _, values), ..] = swept.iter().filter(|(_, n, _)| *n > 1).collect::<Vec<_>>()[..] {
        return Err(usage(
            flag,
            values.clone(),
            "sweep one of --agents, --concurrency, --rate, --sweep-cache and --sweep-ttl at a time; give the \
             others one value"
                .into(),
        ));
    }
    if !args.sweep_ttl.is_empty() {
        if let Some(short) = args.sweep_ttl.iter().find(|t| **t < std::time::Duration::from_millis(1).into())
        {
            return Err(usage(
                "--sweep-ttl",
                short.to_string(),
                "each TTL must be at least 1ms (a shorter one expires every cached copy at once)".into(),
            ));
        }
        if !scenario.workloads.iter().any(|w| w.target == Target::CacheAside) {
            return Err(usage(
                "--sweep-ttl",
                join(&args.sweep_ttl),
                format!("sets the TTL of cache-aside workloads, and scenario {:?} has none", scenario.name),
            ));
        }
    }
    if !args.sweep_cache.is_empty() {
        if let Some(small) = args.sweep_cache.iter().find(|s| s.0 < MIN_CACHE_BYTES) {
            return Err(usage(
                "--sweep-cache",
                small.to_string(),
                "each size must be at least 2mb (Redis's own memory counts against it)".into(),
            ));
        }
        if !scenario.workloads.iter().any(|w| w.target.uses_redis()) {
            return Err(usage(
                "--sweep-cache",
                join(&args.sweep_cache),
                format!("sizes the cache, but no workload of scenario {:?} reads Redis", scenario.name),
            ));
        }
        if let Some(w) = scenario.workloads.iter().find(|w| w.target.uses_redis() && w.find_max.is_some()) {
            return Err(usage(
                "--sweep-cache",
                join(&args.sweep_cache),
                format!("cannot size the cache of workload {:?}, a find_max search; remove one", w.name),
            ));
        }
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
    if let Some(text) = &args.find_max {
        let find_max = FindMax::from_flag(text).map_err(|e| usage("--find-max", text.clone(), e))?;
        if let Some(w) = scenario.workloads.iter().find(|w| w.trace.is_some()) {
            return Err(usage(
                "--find-max",
                text.clone(),
                format!(
                    "workload {:?} replays a trace at its own pace; run the search without it (--workload)",
                    w.name
                ),
            ));
        }
        if let Some(w) = scenario.workloads.iter().find(|w| w.pipeline > 1) {
            return Err(usage(
                "--find-max",
                text.clone(),
                format!(
                    "workload {:?} pipelines {} commands, and the search runs in open loop, one at a \
                     time; remove its pipeline",
                    w.name, w.pipeline
                ),
            ));
        }
        for w in &mut scenario.workloads {
            w.rate = None;
            w.stop = Amount::Duration(find_max.step);
            w.find_max = Some(find_max.clone());
        }
    }
    for &rate in &args.rate {
        if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
            return Err(usage(
                "--rate",
                rate.to_string(),
                format!("must be in (0, {MAX_RATE}] requests per second per agent"),
            ));
        }
        if let Some(w) = scenario.workloads.iter().find(|w| w.trace.is_some()) {
            return Err(usage(
                "--rate",
                rate.to_string(),
                format!(
                    "workload {:?} replays a trace at its own pace (replay = \"timed\" keeps the recorded \
                     times); leave out --rate or run other workloads (--workload)",
                    w.name
                ),
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
        expand::sweep(scenario, &args.agents, 'a', |w, &n| w.agents = Some(n))
            .map_err(|c| usage("--agents", join(&args.agents), c.to_string()))?;
    }
    expand::sweep(scenario, &args.concurrency, 'c', |w, &n| w.concurrency = n)
        .map_err(|c| usage("--concurrency", join(&args.concurrency), c.to_string()))?;
    expand::sweep(scenario, &args.rate, 'r', |w, &rate| w.rate = Some(rate))
        .map_err(|c| usage("--rate", join(&args.rate), c.to_string()))?;
    let reads_redis = |w: &crate::scenario::Workload| w.target.uses_redis();
    expand::sweep_some(scenario, &args.sweep_cache, 'm', reads_redis, |w, size| {
        w.cache_maxmemory_bytes = Some(size.0);
    })
    .map_err(|c| usage("--sweep-cache", join(&args.sweep_cache), c.to_string()))?;
    let ttls: Vec<TtlName> = args.sweep_ttl.iter().map(|t| TtlName(**t)).collect();
    expand::sweep_some(
        scenario,
        &ttls,
        't',
        |w| w.target == Target::CacheAside,
        |w, ttl| w.ttl = Some(ttl.0),
    )
    .map_err(|c| usage("--sweep-ttl", join(&args.sweep_ttl), c.to_string()))?;
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
            expand::repeat(scenario, n);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether `name` may be an S3 bucket's: 3-63 lowercase letters, digits, '-' and, when `dots`,
/// '.' (general purpose buckets only; directory buckets take none).
fn bucket_name_ok(name: &str, dots: bool) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.'))
}

/// Whether `name` may be an S3 Express One Zone directory bucket's: `BASE--AZ_ID--x-s3` as a
/// whole a bucket name without dots, BASE and AZ_ID each starting and ending with a letter or
/// digit (the agent creates the bucket in the zone AZ_ID names).
fn directory_bucket_ok(name: &str) -> bool {
    let alnum_ends = |part: &str| {
        let ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        ok(part.chars().next()) && ok(part.chars().last())
    };
    bucket_name_ok(name, false)
        && name
            .strip_suffix("--x-s3")
            .and_then(|rest| rest.rsplit_once("--"))
            .is_some_and(|(base, zone)| alnum_ends(base) && alnum_ends(zone))
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

/// A TTL as a swept workload's name gives it: `10s`, `1m30s` (humantime's words, unspaced).
struct TtlName(std::time::Duration);

impl std::fmt::Display for TtlName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&humantime::format_duration(self.0).to_string().replace(' ', ""))
    }
}

fn join<T: std::fmt::Display>(values: &[T]) -> String {
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// Refuse, before anything starts, a scenario that busy-polls a Redis its slots cannot poll:
/// only a slot's own connection can (one node, plain TCP, RESP2); TLS, RESP3, unix sockets and
/// clusters use the `redis` crate's connections. `flag` names where the Redis came from.
fn check_busy_poll(
    scenario: &crate::scenario::Scenario,
    url: &str,
    cluster: bool,
    flag: &'static str,
) -> Result<(), Error> {
    let Some(w) = scenario.workloads.iter().find(|w| w.busy_poll.is_some()) else {
        return Ok(());
    };
    let kind = if cluster {
        "a cluster"
    } else if url.starts_with("rediss://") {
        "TLS"
    } else if url.starts_with("unix://") {
        "a unix socket"
    } else if url.to_ascii_lowercase().contains("protocol=resp3") {
        "RESP3"
    } else {
        return Ok(());
    };
    Err(Error::Usage {
        flag,
        value: fetchbench_proto::redact::redact_url(url),
        detail: format!(
            "is {kind}, but workload {} sets busy_poll, which needs one Redis node over plain TCP \
             (redis://); remove busy_poll or point it at such a Redis",
            w.name
        ),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    /// `fetchbench run ARGS...` as the user would type it, checked.
    fn options(args: &[&str]) -> Result<RunOptions, Error> {
        let cli = Cli::try_parse_from(["fetchbench", "run"].iter().chain(args)).expect("clap accepts it");
        let Command::Run(args) = cli.command else { unreachable!("a run") };
        run_options(*args)
    }

    fn usage(args: &[&str]) -> (&'static str, String, String) {
        match options(args) {
            Err(Error::Usage { flag, value, detail }) => (flag, value, detail),
            other => panic!("{args:?} gave {other:?}, not a usage error"),
        }
    }

    fn names(opts: &RunOptions) -> Vec<&str> {
        opts.scenario.workloads.iter().map(|w| w.name.as_str()).collect()
    }

    #[test]
    fn a_concurrency_sweep_makes_a_workload_per_level() {
        let opts = options(&["--concurrency", "1,8"]).expect("valid");
        assert_eq!(names(&opts), ["redis-get-c1", "redis-get-c8", "s3-get-c1", "s3-get-c8"]);
    }

    #[test]
    fn agents_sweep_and_repeat_combine_as_rounds_of_the_sweep() {
        let opts = options(&["--agents", "1,2", "--repeat", "2"]).expect("valid");
        assert_eq!(opts.scenario.agents, 2, "the fleet is as large as the largest level");
        assert_eq!(opts.scenario.rounds, 2);
        assert_eq!(
            names(&opts),
            [
                "redis-get-a1-1",
                "redis-get-a2-1",
                "s3-get-a1-1",
                "s3-get-a2-1",
                "redis-get-a1-2",
                "redis-get-a2-2",
                "s3-get-a1-2",
                "s3-get-a2-2"
            ]
        );
    }

    #[test]
    fn only_one_flag_is_swept_at_a_time_and_the_second_is_named() {
        let (flag, value, detail) = usage(&["--agents", "1,2", "--concurrency", "1,4"]);
        assert_eq!((flag, value.as_str()), ("--concurrency", "1,4"));
        assert!(
            detail.starts_with(
                "sweep one of --agents, --concurrency, --rate, --sweep-cache and --sweep-ttl at a time"
            ),
            "{detail}"
        );
    }

    #[test]
    fn workload_keeps_the_named_ones_and_refuses_unknown_names_listing_the_known() {
        let opts = options(&["--workload", "s3-get", "--duration", "2s"]).expect("valid");
        assert_eq!(names(&opts), ["s3-get"]);
        assert_eq!(opts.scenario.workloads[0].stop, Amount::Duration(std::time::Duration::from_secs(2)));
        let (flag, value, detail) = usage(&["--workload", "nope"]);
        assert_eq!((flag, value.as_str()), ("--workload", "nope"));
        assert!(detail.ends_with("its workloads are redis-get, s3-get"), "{detail}");
    }

    #[test]
    fn durations_rates_and_rounds_out_of_range_are_refused_naming_the_flag() {
        assert_eq!(usage(&["--duration", "0s"]).0, "--duration");
        assert_eq!(usage(&["--duration", "soon"]).0, "--duration");
        assert_eq!(usage(&["--requests", "0"]).0, "--requests");
        assert_eq!(usage(&["--rate", "0"]).0, "--rate");
        assert_eq!(usage(&["--repeat", "1001"]).0, "--repeat");
        let (flag, _, detail) = usage(&["--rate", "1e-9", "--requests", "1000000"]);
        assert_eq!(flag, "--rate");
        assert!(detail.contains("longer than the 7 days a phase may last"), "{detail}");
    }

    #[test]
    fn urls_are_checked_for_scheme_host_and_port_with_the_password_hidden() {
        let (flag, value, detail) = usage(&["--redis-url", "http://127.0.0.1:6379"]);
        assert_eq!(flag, "--redis-url");
        assert!(detail.starts_with("must start with redis://"), "{detail}");
        assert_eq!(value, "http://127.0.0.1:6379");
        let (_, value, detail) = usage(&["--redis-url", "redis://:hunter2@127.0.0.1:70000"]);
        assert!(!value.contains("hunter2"), "{value}");
        assert!(detail.contains("\"70000\", which is not a port"), "{detail}");
        assert_eq!(
            url_address_problem("redis://:6379").as_deref(),
            Some("names no host; write e.g. redis://127.0.0.1:6379")
        );
        assert_eq!(url_address_problem("redis://[::1]:6379"), None);
        assert_eq!(url_address_problem("unix:///tmp/redis.sock"), None);
    }

    #[test]
    fn directory_bucket_names_have_a_base_and_a_zone_and_take_no_dots() {
        for ok in ["mydata--use1-az4--x-s3", "a--b--local-az1--x-s3", "x1--usw2-lax1-az1--x-s3"] {
            assert!(directory_bucket_ok(ok), "{ok}");
        }
        let long = format!("{}--use1-az4--x-s3", "a".repeat(50));
        for bad in
            ["mydata", "mydata--x-s3", "--use1-az4--x-s3", "my.data--use1-az4--x-s3", "My--use1-az4--x-s3"]
        {
            assert!(!directory_bucket_ok(bad), "{bad}");
        }
        assert!(!directory_bucket_ok(&long), "{long}");
        assert!(!directory_bucket_ok("mydata---use1-az4--x-s3"), "a base ending in '-'");
        assert!(bucket_name_ok("my.data", true) && !bucket_name_ok("my.data", false));
    }

    #[test]
    fn an_out_path_through_a_file_is_refused() {
        let dir = tempfile::tempdir().expect("a folder");
        let file = dir.path().join("plain-file");
        std::fs::write(&file, "x").expect("write");
        let out = file.join("results");
        let (flag, _, detail) = usage(&["--out", out.to_str().expect("utf-8")]);
        assert_eq!(flag, "--out");
        assert!(detail.contains("is a file, not a folder"), "{detail}");
        assert!(options(&["--out", dir.path().join("new/folder").to_str().expect("utf-8")]).is_ok());
    }
}
