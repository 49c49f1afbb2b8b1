//! `fetchbench provision`: create (or update) the fleet's CloudFormation stack from the template
//! built into the binary, follow it to the end, remember its outputs in the local state, say what
//! it made and what it costs, then install the agents.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudformation::types::Stack;

use crate::aws::Aws;
use crate::aws::cloudformation::StackSpec;
use crate::error::Error;
use crate::fleet::aws_state::{self, State};
use crate::fleet::tls::{Authority, ClientTls};
use crate::stack::expiry;
use crate::stack::install::{self, InstallOptions, Installed};
use crate::stack::watch::{self, Outcome};

/// The template, as `infra/fetchbench.yaml` has it.
pub const TEMPLATE: &str = include_str!("../../../infra/fetchbench.yaml");

/// Everything `fetchbench provision` needs, after the command line was checked.
#[derive(Clone, Debug)]
pub struct ProvisionOptions {
    /// Stack name, also the folder name under `~/.fetchbench`.
    pub stack: String,
    /// Region; `None` for the standard chain's.
    pub region: Option<String>,
    /// AWS profile; `None` for the standard chain's.
    pub profile: Option<String>,
    /// Number of agents.
    pub agents: u32,
    /// EC2 instance type of the agents.
    pub instance_type: String,
    /// ElastiCache node type, when a cache is created.
    pub cache_node_type: String,
    /// An existing Redis (host, port) to use instead of creating a cache.
    pub existing_cache: Option<(String, u16)>,
    /// TLS between agents and the cache.
    pub cache_tls: bool,
    /// An S3 Express One Zone directory bucket in the agents' zone.
    pub s3_express: bool,
    /// Engine of the created cache; `None` keeps an existing stack's, and gives a new stack
    /// [`Engine::DEFAULT`].
    pub cache_engine: Option<Engine>,
    /// An ElastiCache Serverless cache rather than nodes; `None` keeps an existing stack's kind,
    /// and gives a new stack nodes.
    pub serverless: Option<bool>,
    /// Who may reach the agents' gRPC port, an IPv4 CIDR.
    pub allow_cidr: String,
    /// The stack's `fetchbench:expires-at` is now plus this; `None` keeps an existing stack's
    /// time, and gives a new stack [`DEFAULT_EXPIRES_IN`].
    pub expires_in: Option<Duration>,
    /// Longest wait for the stack.
    pub timeout: Duration,
    /// The agent binary to install once the stack is up, checked for the instances'
    /// architecture; `None` to leave the install for later.
    pub binary: Option<PathBuf>,
    /// The prices to quote the stack's cost with (`--prices`) and where they came from, kept in
    /// its state folder for `status` and runs; `None` keeps the ones kept before, else the
    /// built-in table.
    pub prices: Option<(crate::results::pricing::PriceTable, String)>,
}

/// The cache a stack gets: none of its own with an existing cache.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CacheChoice<'a> {
    /// The created cache's engine.
    pub engine: Option<Engine>,
    /// The created cache is ElastiCache Serverless.
    pub serverless: bool,
    /// The created cache's node type (none for a Serverless cache).
    pub node_type: Option<&'a str>,
}

impl ProvisionOptions {
    /// The cache's engine and kind: as asked, else as the stack `kept` already has them, else
    /// the defaults.
    pub fn cache<'a>(&'a self, kept: &State) -> CacheChoice<'a> {
        if self.existing_cache.is_some() {
            return CacheChoice { engine: None, serverless: false, node_type: None };
        }
        let engine = self
            .cache_engine
            .or_else(|| kept.cache_engine.as_deref().and_then(Engine::parse))
            .unwrap_or(Engine::DEFAULT);
        let serverless = self.serverless.unwrap_or(kept.serverless);
        let node_type = (!serverless).then_some(self.cache_node_type.as_str());
        CacheChoice { engine: Some(engine), serverless, node_type }
    }
}

/// The engine of the cache a stack creates, with the engine version the template is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Redis OSS 7.1: the server the local fleet and the sandbox run, and ElastiCache's
    /// longest-standing engine.
    Redis,
    /// Valkey 8.0, the Linux Foundation's fork of Redis 7.2.4: the same protocol, priced about
    /// 20% lower per node-hour (33% lower serverless).
    Valkey,
}

impl Engine {
    /// The engine a new stack gets when none is asked for.
    pub const DEFAULT: Engine = Engine::Redis;

    /// The engine named `name` as ElastiCache spells it ("redis", "valkey").
    pub fn parse(name: &str) -> Option<Engine> {
        match name {
            "redis" => Some(Engine::Redis),
            "valkey" => Some(Engine::Valkey),
            _ => None,
        }
    }

    /// The name ElastiCache (and the pricing) give it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Redis => "redis",
            Engine::Valkey => "valkey",
        }
    }

    /// The engine version of a node-based cache; a serverless cache takes its major version.
    pub fn version(self) -> &'static str {
        match self {
            Engine::Redis => "7.1",
            Engine::Valkey => "8.0",
        }
    }
}

/// CPU architecture (as Rust names it) of an EC2 instance type: Graviton families carry a "g"
/// after the generation digit (c7g, m6gd, t4g, c7gn, im4gn), and a1 is the first Graviton;
/// everything else here is x86_64.
pub fn arch_of(instance_type: &str) -> &'static str {
    let family = instance_type.split('.').next().unwrap_or_default();
    if family == "a1" {
        return "aarch64";
    }
    let suffix = family.trim_start_matches(|c: char| c.is_ascii_lowercase() && !c.is_ascii_digit());
    let after_generation = suffix.trim_start_matches(|c: char| c.is_ascii_digit());
    if suffix.len() > after_generation.len() && after_generation.contains('g') { "aarch64" } else { "x86_64" }
}

/// The public SSM parameter naming the current Amazon Linux 2023 AMI for `arch`.
fn image_parameter(arch: &str) -> &'static str {
    match arch {
        "aarch64" => "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        _ => "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    }
}

/// Run `fetchbench provision`; the result is the exit code.
pub async fn provision(opts: ProvisionOptions) -> Result<Option<Installed>, Error> {
    let arch = arch_of(&opts.instance_type);
    let aws = Aws::connect(opts.region.as_deref(), opts.profile.as_deref()).await?;
    let mut state = aws_state::load(&opts.stack)?.unwrap_or_default();
    if !state.region.is_empty() && state.region != aws.region {
        return Err(Error::OtherRegion { stack: opts.stack.clone(), region: state.region.clone() });
    }
    // Which zone, before anything is made: a type no zone offers is refused here.
    let existing = aws.cloudformation.describe_stacks(&opts.stack).await?;
    let (zone, express_zone_id) =
        agents_zone(&aws, &opts.instance_type, existing.as_ref(), opts.s3_express).await?;
    let now = SystemTime::now();
    state.stack = opts.stack.clone();
    state.region = aws.region.clone();
    state.profile = opts.profile.clone();
    if state.created_at.is_empty() {
        state.created_at = humantime::format_rfc3339_seconds(now).to_string();
    }
    state.agents = opts.agents;
    state.instance_type = opts.instance_type.clone();
    state.arch = arch.to_owned();
    let cache = opts.cache(&state);
    let (engine, serverless) = (cache.engine.unwrap_or(Engine::DEFAULT), cache.serverless);
    state.cache_node_type = cache.node_type.map(str::to_owned);
    state.cache_engine = cache.engine.map(|e| e.name().to_owned());
    state.serverless = cache.serverless;
    // Written before the stack exists, so a crash from here on can still be torn down.
    let dir = aws_state::save(&state)?;
    if let Some((table, origin)) = &opts.prices {
        crate::stack::prices::keep(&opts.stack, table, origin)?;
    }
    if !dir.join(crate::fleet::tls::CA_KEY).exists() {
        let ca = Authority::generate(&opts.stack)?;
        ca.save(&dir)?;
        ClientTls::new(ca.cert_pem().to_owned(), ca.issue_client()?).save_identity(&dir)?;
    }

    let expires_at = expiry::next(opts.expires_in, existing.as_ref(), now);
    let expired = existing.as_ref().and_then(|s| expiry::passed(s, now));
    let (cache_address, cache_port) = opts.existing_cache.clone().unwrap_or_default();
    let mut parameters = vec![
        ("AgentCount", opts.agents.to_string()),
        ("InstanceType", opts.instance_type.clone()),
        ("ImageId", image_parameter(arch).to_owned()),
        ("AllowCidr", opts.allow_cidr.clone()),
        ("CreateCache", opts.existing_cache.is_none().to_string()),
        ("CacheNodeType", opts.cache_node_type.clone()),
        ("CacheTransitEncryption", opts.cache_tls.to_string()),
        ("CacheEngine", engine.name().to_owned()),
        ("CacheEngineVersion", engine.version().to_owned()),
        ("CacheServerless", serverless.to_string()),
        ("ExpiresAt", expires_at.clone()),
        ("AvailabilityZone", zone),
        ("S3ExpressAzId", express_zone_id.unwrap_or_default()),
    ];
    if opts.existing_cache.is_some() {
        parameters.push(("ExistingCacheAddress", cache_address));
        parameters.push(("ExistingCachePort", cache_port.to_string()));
    }
    let parameters: Vec<(String, String)> = parameters.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let tags = [
        ("fetchbench:stack".to_owned(), opts.stack.clone()),
        ("fetchbench:expires-at".to_owned(), expires_at),
    ];
    let spec = StackSpec { name: &opts.stack, template: TEMPLATE, parameters: &parameters, tags: &tags };

    let since = watch::now_unix() - 1;
    let changed = match existing.as_ref().and_then(|s| s.stack_status()).map(|s| s.as_str().to_owned()) {
        None => {
            say!(
                "creating stack {} in {}: {} x {} agents, {}",
                opts.stack,
                aws.region,
                opts.agents,
                opts.instance_type,
                match &opts.existing_cache {
                    Some((host, port)) => format!("existing Redis at {host}:{port}"),
                    None if serverless => format!("ElastiCache Serverless {}", engine.name()),
                    None => format!("ElastiCache {} {}", engine.name(), opts.cache_node_type),
                }
            );
            let id = aws.cloudformation.create_stack(&spec).await?;
            state.stack_id = Some(id);
            aws_state::save(&state)?;
            true
        }
        Some(status) if status == "ROLLBACK_COMPLETE" || status.ends_with("_FAILED") => {
            return Err(Error::Stack {
                stack: opts.stack.clone(),
                status,
                detail: "it cannot be updated; run `fetchbench teardown`, then provision again".into(),
            });
        }
        Some(status) => {
            let current = existing.as_ref().expect("a stack with a status");
            if matches(current, &parameters, &tags)
                && aws.cloudformation.get_template(&opts.stack).await? == TEMPLATE
            {
                say!("stack {} in {} already matches; nothing to update", opts.stack, aws.region);
                false
            } else {
                say!("updating stack {} in {} (now {status})", opts.stack, aws.region);
                let changed = aws.cloudformation.update_stack(&spec).await?;
                if !changed {
                    say!("  the stack already matches; nothing to update");
                }
                changed
            }
        }
    };
    let outcome = if changed {
        watch::watch(&aws.cloudformation, &opts.stack, since, opts.timeout).await?
    } else {
        let status = existing.as_ref().and_then(|s| s.stack_status()).map(|s| s.as_str().to_owned());
        Outcome::Complete(status.unwrap_or_else(|| "UPDATE_COMPLETE".into()))
    };
    let Outcome::Complete(status) = outcome else {
        return Err(Error::Stack {
            stack: opts.stack.clone(),
            status: "DELETE_COMPLETE".into(),
            detail: "it vanished while being created; provision again".into(),
        });
    };

    // The expiry's scheduled action left the group at 0: a new time brings the agents back.
    if let (Some(at), Some(_)) = (&expired, opts.expires_in)
        && let Some(group) = existing.as_ref().and_then(|s| output(s, "AgentGroupName"))
    {
        aws.autoscaling.update_auto_scaling_group(group, opts.agents).await?;
        say!("  the stack had expired at {at}: its agents are scaled back to {}", opts.agents);
    }

    let described = aws.cloudformation.describe_stacks(&opts.stack).await?.ok_or_else(|| {
        Error::AwsFleet { stack: opts.stack.clone(), detail: "vanished right after it was created".into() }
    })?;
    state.stack_id = described.stack_id().map(str::to_owned).or(state.stack_id.take());
    state.outputs = described
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value().unwrap_or_default().to_owned())))
        .collect();
    let dir = aws_state::save(&state)?;
    print_made(&state, &status, &opts.allow_cidr);
    say!("state: {}", dir.display());
    if let Some(warning) = expiry::warning(&opts.stack, &described, SystemTime::now()) {
        eprintln!("fetchbench: warning: {warning}");
    }

    let Some(binary) = opts.binary.clone() else {
        return Ok(None);
    };
    // A resized group reaches its size after the stack update completes: install once it has.
    let group = state.output("AgentGroupName").to_owned();
    install::wait_in_service(&aws, &opts.stack, &group, opts.agents as usize).await?;
    install::install(&aws, &mut state, &InstallOptions { binary, keep_installed: true }).await.map(Some)
}

/// The zone IDs that have S3 Express One Zone, in the regions fetchbench knows them for
/// (docs.aws.amazon.com/AmazonS3/latest/userguide/s3-express-Endpoints.html, 2026-12); in other
/// regions the agents' zone is taken as it is, and CloudFormation says when it has none.
const EXPRESS_ZONES: &[(&str, &[&str])] = &[("us-east-1", &["use1-az4", "use1-az5", "use1-az6"])];

/// The zone of the agents (the template's `AvailabilityZone`): one that offers `instance_type`,
/// as DescribeInstanceTypeOfferings says (the region's first zone may not), and with
/// `s3_express` one that has S3 Express, whose zone ID comes back too (DescribeAvailabilityZones:
/// the bucket is named by ID, and names differ between accounts). An existing stack keeps its
/// zone while it qualifies, so that an update does not replace its subnet.
async fn agents_zone(
    aws: &Aws,
    instance_type: &str,
    existing: Option<&Stack>,
    s3_express: bool,
) -> Result<(String, Option<String>), Error> {
    let mut offered = aws.ec2.describe_instance_type_offerings(instance_type).await?;
    if offered.is_empty() {
        return Err(Error::NotOffered {
            instance_type: instance_type.to_owned(),
            region: aws.region.clone(),
        });
    }
    let ids = if s3_express { aws.ec2.describe_availability_zones().await? } else { Vec::new() };
    let id_of = |name: &str| ids.iter().find(|(n, _)| n == name).map(|(_, id)| id.clone());
    if s3_express {
        offered = with_express(&aws.region, offered, &ids).map_err(|express| Error::NoExpressZone {
            instance_type: instance_type.to_owned(),
            region: aws.region.clone(),
            express: express.join(", "),
        })?;
    }
    let kept = existing
        .filter(|stack| output(stack, "AvailabilityZone").is_some_and(|z| offered.iter().any(|o| o == z)))
        .and_then(|stack| stack.parameters().iter().find(|p| p.parameter_key() == Some("AvailabilityZone")))
        .and_then(|p| p.parameter_value())
        .map(str::to_owned);
    let zone = kept.unwrap_or_else(|| offered[0].clone());
    // An empty kept name (the template's default) means the region's first zone: its ID is the
    // stack's output's.
    let named = if zone.is_empty() {
        existing.and_then(|s| output(s, "AvailabilityZone")).unwrap_or_default()
    } else {
        &zone
    };
    let express_id = if s3_express { id_of(named) } else { None };
    Ok((zone, express_id))
}

/// The zones of `offered` (names) that have S3 Express One Zone, by their IDs in `ids` (name,
/// ID); all of them in a region [`EXPRESS_ZONES`] does not list. When none has it, the region's
/// S3 Express zone IDs, to name in the refusal.
fn with_express(
    region: &str,
    mut offered: Vec<String>,
    ids: &[(String, String)],
) -> Result<Vec<String>, &'static [&'static str]> {
    let Some((_, express)) = EXPRESS_ZONES.iter().find(|(r, _)| *r == region) else {
        return Ok(offered);
    };
    offered.retain(|name| ids.iter().any(|(n, id)| n == name && express.contains(&id.as_str())));
    if offered.is_empty() { Err(express) } else { Ok(offered) }
}

/// Whether `stack` already has these parameters (those sent; the others keep their defaults)
/// and tags.
fn matches(stack: &Stack, parameters: &[(String, String)], tags: &[(String, String)]) -> bool {
    let has_parameter = |(k, v): &(String, String)| {
        stack.parameters().iter().any(|p| p.parameter_key() == Some(k) && p.parameter_value() == Some(v))
    };
    let has_tag =
        |(k, v): &(String, String)| stack.tags().iter().any(|t| t.key() == Some(k) && t.value() == Some(v));
    parameters.iter().all(has_parameter) && tags.iter().all(has_tag) && stack.tags().len() == tags.len()
}

/// An output of `stack`, when it has it.
fn output<'a>(stack: &'a Stack, key: &str) -> Option<&'a str> {
    stack.outputs().iter().find(|o| o.output_key() == Some(key)).and_then(|o| o.output_value())
}

fn print_made(state: &State, status: &str, allow_cidr: &str) {
    say!("stack {}: {status} in {}", state.stack, state.region);
    say!(
        "  agents: {} x {} ({}) in {}, Auto Scaling group {}, gRPC port {} open to {allow_cidr}",
        state.agents,
        state.instance_type,
        state.arch,
        state.output("AvailabilityZone"),
        state.output("AgentGroupName"),
        state.output("AgentPort"),
    );
    let tls = if state.output("CacheTls") == "true" { "TLS" } else { "no TLS" };
    say!(
        "  cache:  {} at {}:{} ({tls})",
        describe_cache(state),
        state.output("CacheAddress"),
        state.output("CachePort")
    );
    say!("  bucket: {}", state.output("BucketName"));
    let (prices, origin) = crate::stack::prices::of_stack(&state.stack);
    let cost = crate::stack::prices::hourly(state, &prices);
    let serverless =
        if state.serverless { "; the serverless cache is billed per ECPU and GB-hour on top" } else { "" };
    say!(
        "  cost:   {} ({}{serverless}); `fetchbench teardown` stops it",
        cost.describe(),
        cost.items.join(", ")
    );
    say!("  prices: {origin}");
}

/// The stack's cache in words: "ElastiCache valkey cache.t4g.micro", "ElastiCache Serverless
/// valkey", or "existing Redis".
pub fn describe_cache(state: &State) -> String {
    // A fleet provisioned before the engine could be chosen has Redis OSS.
    let engine = state.cache_engine.as_deref().unwrap_or(Engine::Redis.name());
    match &state.cache_node_type {
        _ if state.serverless => format!("ElastiCache Serverless {engine}"),
        Some(node) => format!("ElastiCache {engine} {node}"),
        None => "existing Redis".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_express_keeps_the_zones_that_have_it_and_names_them_when_none_does() {
        // moto's us-east-1: a = use1-az6, b = az1, c = az2, d = az4.
        let ids: Vec<(String, String)> = [("a", "az6"), ("b", "az1"), ("c", "az2"), ("d", "az4")]
            .iter()
            .map(|(n, id)| (format!("us-east-1{n}"), format!("use1-{id}")))
            .collect();
        let zones = |names: &[&str]| names.iter().map(|n| format!("us-east-1{n}")).collect::<Vec<_>>();
        assert_eq!(with_express("us-east-1", zones(&["a", "b", "c", "d"]), &ids), Ok(zones(&["a", "d"])));
        assert_eq!(
            with_express("us-east-1", zones(&["b", "c"]), &ids),
            Err(&["use1-az4", "use1-az5", "use1-az6"][..])
        );
        // A region without a list: every offered zone, as it is.
        let west = vec!["us-west-2a".to_owned()];
        assert_eq!(with_express("us-west-2", west.clone(), &[]), Ok(west));
    }

    #[test]
    fn graviton_types_are_aarch64() {
        for t in
            ["c7g.large", "m6gd.xlarge", "t4g.micro", "c7gn.large", "im4gn.large", "r8g.medium", "a1.large"]
        {
            assert_eq!(arch_of(t), "aarch64", "{t}");
        }
        for t in ["c7i.large", "t3.micro", "g5.xlarge", "c5n.large", "m7a.large", "inf2.xlarge"] {
            assert_eq!(arch_of(t), "x86_64", "{t}");
        }
    }

    /// The names declared at the top level of `section` (e.g. `Parameters:`) of the template.
    fn declared(section: &str) -> Vec<String> {
        let mut lines = TEMPLATE.lines().skip_while(|l| *l != format!("{section}:")).skip(1);
        let mut names = Vec::new();
        for line in lines.by_ref().take_while(|l| l.is_empty() || l.starts_with(' ')) {
            if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
                && !name.starts_with(' ')
            {
                names.push(name.to_owned());
            }
        }
        names
    }

    #[test]
    fn the_template_declares_what_provision_sends_and_reads() {
        let parameters = declared("Parameters");
        for sent in [
            "AgentCount",
            "InstanceType",
            "ImageId",
            "AllowCidr",
            "CreateCache",
            "CacheNodeType",
            "CacheTransitEncryption",
            "CacheEngine",
            "CacheEngineVersion",
            "CacheServerless",
            "ExpiresAt",
            "ExistingCacheAddress",
            "ExistingCachePort",
            "AvailabilityZone",
            "S3ExpressAzId",
        ] {
            assert!(parameters.iter().any(|p| p == sent), "parameter {sent} is not in {parameters:?}");
        }
        // Every output the controller reads from its state, found in its own sources.
        let outputs = declared("Outputs");
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut read = 0;
        let mut files = vec![src];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).expect("a source folder").flatten().map(|e| e.path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for piece in text.split("output(\"").skip(1) {
                let name = piece.split('"').next().expect("a name");
                assert!(
                    outputs.iter().any(|o| o == name),
                    "{} reads output {name}, not in {outputs:?}",
                    path.display()
                );
                read += 1;
            }
        }
        assert!(read >= 7, "found only {read} reads of outputs");
        let agents = TEMPLATE.split("\n  Agents:\n").nth(1).expect("the Agents resource");
        assert!(agents.trim_start().starts_with("Type: AWS::AutoScaling::AutoScalingGroup"), "{agents}");
    }
}
