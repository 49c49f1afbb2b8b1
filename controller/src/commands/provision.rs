//! `fetchbench provision`: its arguments checked (the CIDR asked for on a terminal), then the stack.

use std::io::{BufRead, IsTerminal};

use crate::cli::ProvisionArgs;
use crate::error::Error;
use crate::stack::provision::{Engine, ProvisionOptions};

/// The node type of a node-based cache when none is given.
const DEFAULT_CACHE_NODE_TYPE: &str = "cache.t4g.micro";

/// Run `fetchbench provision`.
pub async fn provision(args: ProvisionArgs) -> Result<u8, Error> {
    let prices_arg = args.prices.clone();
    let mut opts = provision_options(args)?;
    // Read before anything is made: prices that cannot be read stop here. Live, only the
    // stack's own instance type and cache node.
    let kept = crate::fleet::aws_state::load(&opts.stack).ok().flatten().unwrap_or_default();
    let cache = opts.cache(&kept);
    let node: Vec<(&str, &str)> =
        cache.engine.zip(cache.node_type).map(|(e, n)| (e.name(), n)).into_iter().collect();
    let live = super::prices::LiveFor {
        region: opts.region.as_deref().or(Some(kept.region.as_str()).filter(|r| !r.is_empty())),
        profile: opts.profile.as_deref(),
        wanted: crate::aws::pricing::Wanted { instance_types: &[&opts.instance_type], nodes: Some(&node) },
    };
    opts.prices = super::prices::prices_of(prices_arg.as_deref(), live).await?;
    if opts.allow_cidr == "0.0.0.0/0" {
        eprintln!(
            "fetchbench: warning: --allow-cidr 0.0.0.0/0 opens the agents' gRPC port to the whole internet; \
             mutual TLS still refuses every client without this controller's certificate"
        );
    }
    if let Some(node) = opts.cache(&kept).node_type.filter(|n| crate::results::pricing::is_burstable(n)) {
        eprintln!("fetchbench: warning: {}", crate::render::terminal::burstable(node));
    }
    match crate::stack::provision::provision(opts).await? {
        Some(installed) => Ok(super::stack::installed(installed)),
        None => {
            say!("agents not installed (--no-install); run `fetchbench install` next");
            Ok(0)
        }
    }
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
    // The engine and kind are those of a cache the stack creates: an existing one has its own.
    if existing_cache.is_some() {
        for (flag, value) in [("--cache", &args.cache), ("--cache-engine", &args.cache_engine)] {
            if let Some(value) = value {
                return Err(usage(
                    flag,
                    value,
                    "contradicts --existing-cache, with which the stack creates no cache; drop one of the two",
                ));
            }
        }
    }
    let cache_engine =
        args.cache_engine.as_deref().map(|e| Engine::parse(e).expect("clap allows these only"));
    let serverless = args.cache.as_deref().map(|kind| kind == "serverless");
    if serverless == Some(true)
        && let Some(node) = &args.cache_node_type
    {
        return Err(usage(
            "--cache-node-type",
            node,
            "a serverless cache (--cache serverless) has no nodes; drop one of the two",
        ));
    }
    // Auto Scaling refuses a scheduled action that starts in the past, and the stack's is made
    // last: a time that could pass while the stack builds would fail (and roll back) the stack.
    if let Some(expires_in) = args.expires_in
        && expires_in <= args.timeout
    {
        return Err(usage(
            "--expires-in",
            &humantime::format_duration(expires_in).to_string(),
            &format!(
                "must be longer than --timeout ({}): the agents are scaled to 0 then, and the stack may take that long to build",
                humantime::format_duration(args.timeout)
            ),
        ));
    }
    let allow_cidr = match args.allow_cidr {
        Some(c) => c,
        None => ask_cidr()?,
    };
    if !is_ipv4_cidr(&allow_cidr) {
        return Err(usage("--allow-cidr", &allow_cidr, "must be an IPv4 CIDR such as 203.0.113.7/32"));
    }
    // Refuse an unusable agent binary before anything is created.
    let arch = crate::stack::provision::arch_of(&args.instance_type);
    let binary = if args.no_install {
        None
    } else {
        Some(super::agent_binary::check(args.agent_binary.as_deref(), arch)?)
    };
    Ok(ProvisionOptions {
        stack: args.stack.stack,
        region: args.stack.region,
        profile: args.stack.profile,
        agents: args.agents,
        instance_type: args.instance_type,
        cache_node_type: args.cache_node_type.unwrap_or_else(|| DEFAULT_CACHE_NODE_TYPE.to_owned()),
        existing_cache,
        cache_tls: args.cache_tls,
        s3_express: args.s3_express,
        cache_engine,
        serverless,
        prices: None,
        allow_cidr,
        expires_in: args.expires_in,
        timeout: args.timeout,
        binary,
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
    say_text!(
        "your public IPv4 address (the agents accept gRPC from it only; see https://checkip.amazonaws.com): "
    );
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use std::time::Duration;

    use super::*;
    use crate::cli::{Cli, Command};

    fn options(args: &[&str]) -> Result<ProvisionOptions, Error> {
        let cli =
            Cli::try_parse_from(["fetchbench", "provision"].iter().chain(args)).expect("clap accepts it");
        let Command::Provision(args) = cli.command else { unreachable!("provision") };
        provision_options(args)
    }

    fn refused_flag(args: &[&str]) -> &'static str {
        match options(args) {
            Err(Error::Usage { flag, .. }) => flag,
            other => panic!("{args:?} gave {other:?}, not a usage error"),
        }
    }

    #[test]
    fn a_valid_provision_keeps_what_was_asked() {
        let o = options(&[
            "--allow-cidr",
            "203.0.113.7/32",
            "--existing-cache",
            "cache.internal:6380",
            "--no-install",
        ])
        .expect("valid");
        assert_eq!(o.allow_cidr, "203.0.113.7/32");
        assert_eq!(o.existing_cache, Some(("cache.internal".to_owned(), 6380)));
        assert_eq!(o.binary, None, "--no-install");
        assert_eq!((o.cache_engine, o.serverless), (None, None), "not asked: the stack's, or the defaults");
        let o = options(&["--allow-cidr", "1.2.3.4/32", "--no-install", "--cache-engine", "valkey"]);
        assert_eq!(o.expect("valid").cache_engine, Some(Engine::Valkey));
        let o = options(&["--allow-cidr", "1.2.3.4/32", "--no-install", "--cache", "serverless"]);
        assert_eq!(o.expect("valid").serverless, Some(true));
        let o = options(&["--allow-cidr", "1.2.3.4/32", "--no-install", "--cache", "nodes"]);
        assert_eq!(o.expect("valid").serverless, Some(false));
    }

    #[test]
    fn contradicting_cache_choices_are_refused_naming_the_flag() {
        let existing =
            ["--allow-cidr", "1.2.3.4/32", "--no-install", "--existing-cache", "cache.internal:6379"];
        let with = |extra: &[&'static str]| [&existing[..], extra].concat();
        assert_eq!(refused_flag(&with(&["--cache", "serverless"])), "--cache");
        assert_eq!(refused_flag(&with(&["--cache-engine", "valkey"])), "--cache-engine");
        let serverless_nodes =
            ["--allow-cidr", "1.2.3.4/32", "--cache", "serverless", "--cache-node-type", "cache.m7g.large"];
        assert_eq!(refused_flag(&serverless_nodes), "--cache-node-type");
        let o = options(&["--allow-cidr", "1.2.3.4/32", "--no-install"]).expect("valid");
        assert_eq!(o.cache_node_type, "cache.t4g.micro", "the default node");
        let cli = Cli::try_parse_from(["fetchbench", "provision", "--cache-engine", "memcached"]);
        assert!(cli.is_err(), "clap names the engines it takes");
    }

    #[test]
    fn bad_cidrs_stack_names_and_caches_are_refused_naming_the_flag() {
        assert_eq!(refused_flag(&["--allow-cidr", "203.0.113.7"]), "--allow-cidr");
        assert_eq!(refused_flag(&["--allow-cidr", "203.0.113.7/33"]), "--allow-cidr");
        assert_eq!(refused_flag(&["--allow-cidr", "::1/128"]), "--allow-cidr");
        assert_eq!(refused_flag(&["--allow-cidr", "1.2.3.4/32", "--stack-name", "9lives"]), "--stack-name");
        assert_eq!(refused_flag(&["--allow-cidr", "1.2.3.4/32", "--stack-name", "a_b"]), "--stack-name");
        assert_eq!(
            refused_flag(&["--allow-cidr", "1.2.3.4/32", "--existing-cache", "cache:port"]),
            "--existing-cache"
        );
        assert_eq!(
            refused_flag(&["--allow-cidr", "1.2.3.4/32", "--existing-cache", ":6379"]),
            "--existing-cache"
        );
        assert_eq!(refused_flag(&["--allow-cidr", "1.2.3.4/32", "--expires-in", "30m"]), "--expires-in");
        assert_eq!(
            refused_flag(&["--allow-cidr", "1.2.3.4/32", "--expires-in", "2s", "--timeout", "2s"]),
            "--expires-in"
        );
        let o =
            options(&["--allow-cidr", "1.2.3.4/32", "--no-install", "--expires-in", "2s", "--timeout", "1s"]);
        assert_eq!(o.expect("valid").expires_in, Some(Duration::from_secs(2)));
        let o = options(&["--allow-cidr", "1.2.3.4/32", "--no-install"]).expect("valid");
        assert_eq!(o.expires_in, None, "not given: a new stack's default, or the stack's own time");
    }
}
