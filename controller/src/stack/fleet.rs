//! `fetchbench run` on the provisioned AWS fleet: the agents found from the stack (the Auto
//! Scaling group's instances, at the addresses their install reported), Redis and the bucket from
//! the stack's outputs, then the same [`crate::run::drive`] as the local fleet.

use std::net::SocketAddr;

use fetchbench_proto as pb;
use tokio_util::sync::CancellationToken;

use crate::aws::Aws;
use crate::error::Error;
use crate::fleet::tls::ClientTls;
use crate::fleet::{Fleet, FleetAgent};
use crate::results::schema::Targets;
use crate::run::{self, RunOptions, RunReport};
use crate::stack::install;
use crate::stack::state::{self, State};

/// Run the scenario in `opts` on the fleet of `stack`.
pub async fn run_aws(
    opts: RunOptions,
    stack: &str,
    interrupt: CancellationToken,
) -> Result<RunReport, Error> {
    let state = install::load(stack)?;
    let aws = Aws::connect(Some(&state.region), state.profile.as_deref()).await?;
    let fleet_error = |detail: String| Error::AwsFleet { stack: stack.to_owned(), detail };
    let described = aws.cloudformation.describe_stacks(stack).await?.ok_or_else(|| {
        fleet_error(format!("not found in {}; provision it again or `fetchbench teardown`", state.region))
    })?;
    let status = described.stack_status().map(|s| s.as_str()).unwrap_or_default();
    if !matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE") {
        return Err(fleet_error(format!(
            "is {status}; it must be CREATE_COMPLETE or UPDATE_COMPLETE to run"
        )));
    }
    let mut agents = Vec::new();
    for instance in aws.autoscaling.describe_auto_scaling_groups(state.output("AgentGroupName")).await? {
        if instance.lifecycle != "InService" {
            continue;
        }
        let installed = state.installed.iter().find(|a| a.instance_id == instance.id).ok_or_else(|| {
            fleet_error(format!("instance {} has no agent installed; run `fetchbench install`", instance.id))
        })?;
        let address = installed.address.as_deref().ok_or_else(|| {
            fleet_error(format!(
                "agent on {} reported no public address; run `fetchbench install`",
                instance.id
            ))
        })?;
        let addr: SocketAddr = address
            .parse()
            .map_err(|_| fleet_error(format!("agent on {} has a bad address {address:?}", instance.id)))?;
        agents.push((instance.id, addr, installed.server_name.clone()));
    }
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
        println!(
            "using {wanted} of the fleet's {} agents (the scenario's agents; --agents overrides)",
            agents.len()
        );
    }
    agents.truncate(wanted);
    run::check_busy_poll(&opts.scenario, &cache_url(&state), false, "the stack's cache")?;
    let fleet =
        aws_fleet(&opts, &state, agents, ClientTls::load(&state::dir(stack)?).map_err(Error::FleetTls)?);
    run::drive(&opts, &fleet, &interrupt).await
}

/// The URL of the stack's cache, from its outputs.
fn cache_url(state: &State) -> String {
    let scheme = if state.output("CacheTls") == "true" { "rediss" } else { "redis" };
    format!("{scheme}://{}:{}", state.output("CacheAddress"), state.output("CachePort"))
}

/// The fleet: its agents, and the targets from the stack's outputs.
fn aws_fleet(
    opts: &RunOptions,
    state: &State,
    agents: Vec<(String, SocketAddr, String)>,
    tls: ClientTls,
) -> Fleet {
    let uses_redis = opts.scenario.workloads.iter().any(|w| w.target.uses_redis());
    let uses_s3 = opts.scenario.workloads.iter().any(|w| w.target.uses_s3());
    let bucket = state.output("BucketName").to_owned();
    let mut targets = Targets::default();
    let redis = uses_redis.then(|| {
        let url = cache_url(state);
        targets.redis = Some(fetchbench_proto::redact::redact_url(&url));
        targets.redis_source =
            Some(if state.cache_node_type.is_some() { "elasticache" } else { "existing" }.into());
        targets.redis_target = targets
            .redis_source
            .as_deref()
            .map(|source| crate::results::schema::RedisTarget::of(&url, source, false));
        pb::RedisTarget { url, key_prefix: format!("{bucket}:"), cluster: false }
    });
    let s3 = uses_s3.then(|| {
        targets.s3_bucket = Some(bucket.clone());
        targets.s3_source = Some("stack".into());
        // Empty endpoint and keys: the agents use AWS S3 through their instance role.
        pb::S3Target { region: state.region.clone(), bucket: bucket.clone(), ..Default::default() }
    });
    let agents = agents
        .into_iter()
        .enumerate()
        .map(|(i, (instance, addr, server_name))| FleetAgent {
            id: format!("agent-{i}"),
            addr,
            server_name,
            log: None,
            host: instance,
        })
        .collect();
    // An existing cache (no node type) is priced as the default node.
    let pricing = crate::results::cost::Assumptions {
        region: state.region.clone(),
        node_type: state
            .cache_node_type
            .clone()
            .unwrap_or_else(|| crate::results::cost::DEFAULT_NODE_TYPE.to_owned()),
        nodes: 1,
    };
    Fleet { kind: "aws", noun: "EC2 agent", agents, tls, redis, s3, targets, pricing }
}
