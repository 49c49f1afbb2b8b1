//! The provisioned AWS fleet as a run sees it: the agents found from the stack (the Auto Scaling
//! group's instances, at the addresses their install reported), Redis and the bucket from the
//! stack's outputs.

use std::net::SocketAddr;

use fetchbench_proto as pb;

use crate::aws::Aws;
use crate::error::Error;
use crate::fleet::aws_state::{self, State};
use crate::fleet::tls::ClientTls;
use crate::fleet::{Fleet, FleetAgent};
use crate::results::schema::{FleetKind, Targets};
use crate::scenario::Scenario;
use crate::stack::install;

/// An agent of the stack: its instance, the address its install reported, its TLS server name.
pub type StackAgent = (String, SocketAddr, String);

/// The fleet of `stack`, found from the stack: its state, and the agents in service (instance,
/// address, TLS server name) in the Auto Scaling group's order.
pub async fn agents_in_service(stack: &str) -> Result<(State, Vec<StackAgent>), Error> {
    let state = install::load(stack)?;
    let aws = Aws::connect(Some(&state.region), state.profile.as_deref()).await?;
    let fleet_error = |detail: String| Error::AwsFleet { stack: stack.to_owned(), detail };
    let described = aws.cloudformation.describe_stacks(stack).await?.ok_or_else(|| {
        fleet_error(format!("not found in {}; provision it again or `fetchbench teardown`", state.region))
    })?;
    let status = described.stack_status().map(|s| s.as_str()).unwrap_or_default();
    if !runnable(status) {
        return Err(fleet_error(format!(
            "is {status}; it must be CREATE_COMPLETE, UPDATE_COMPLETE or UPDATE_ROLLBACK_COMPLETE to run"
        )));
    }
    if let Some(warning) = crate::stack::expiry::warning(stack, &described, std::time::SystemTime::now()) {
        eprintln!("fetchbench: warning: {warning}");
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
    Ok((state, agents))
}

/// Whether a run may use a stack in `status`: one that is complete, including after a failed
/// update that CloudFormation rolled back (the previous template is back, and works).
fn runnable(status: &str) -> bool {
    matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE")
}

/// The URL of the stack's cache, from its outputs.
pub fn cache_url(state: &State) -> String {
    let scheme = if state.output("CacheTls") == "true" { "rediss" } else { "redis" };
    format!("{scheme}://{}:{}", state.output("CacheAddress"), state.output("CachePort"))
}

/// The fleet a run of `scenario` uses: `agents`, the controller's certificate from the fleet's
/// folder, and the targets from the stack's outputs.
pub fn fleet(scenario: &Scenario, state: &State, agents: Vec<StackAgent>) -> Result<Fleet, Error> {
    let tls = ClientTls::load(&aws_state::dir(&state.stack)?).map_err(Error::FleetTls)?;
    let uses_redis = scenario.workloads.iter().any(|w| w.target.uses_redis());
    let uses_s3 = scenario.workloads.iter().any(|w| w.target.uses_s3());
    let uses_s3_express = scenario.workloads.iter().any(|w| w.target.uses_s3_express());
    let bucket = state.output("BucketName").to_owned();
    let express_bucket = state.output("ExpressBucketName").to_owned();
    if uses_s3_express && express_bucket.is_empty() {
        return Err(Error::AwsFleet {
            stack: state.stack.clone(),
            detail: "has no S3 Express One Zone directory bucket, which s3-express workloads read; \
                     provision the stack with one"
                .into(),
        });
    }
    let mut targets = Targets::default();
    let redis = uses_redis.then(|| {
        let url = cache_url(state);
        targets.redis = Some(fetchbench_proto::redact::redact_url(&url));
        targets.redis_source = Some(
            if state.cache_node_type.is_some() || state.serverless { "elasticache" } else { "existing" }
                .into(),
        );
        targets.redis_target = targets
            .redis_source
            .as_deref()
            .map(|source| crate::results::schema::RedisTarget::of(&url, source, false));
        targets.cache_node_type = state.cache_node_type.clone();
        pb::RedisTarget { url, key_prefix: format!("{bucket}:"), cluster: false }
    });
    let s3 = uses_s3.then(|| {
        targets.s3_bucket = Some(bucket.clone());
        targets.s3_source = Some("stack".into());
        // Empty endpoint and keys: the agents use AWS S3 through their instance role.
        pb::S3Target { region: state.region.clone(), bucket: bucket.clone(), ..Default::default() }
    });
    let s3_express = uses_s3_express.then(|| {
        targets.s3_express_bucket = Some(express_bucket.clone());
        pb::S3Target { region: state.region.clone(), bucket: express_bucket, ..Default::default() }
    });
    let agents = agents
        .into_iter()
        .enumerate()
        .map(|(i, (instance, addr, server_name))| FleetAgent {
            host: instance,
            ..FleetAgent::numbered(i, addr, server_name)
        })
        .collect();
    let pricing = pricing(state);
    Ok(Fleet {
        kind: FleetKind::Aws,
        noun: "EC2 agent",
        agents,
        tls,
        redis,
        s3,
        s3_express,
        targets,
        pricing,
    })
}

/// What a run on the stack prices: its region, its cache's node type, engine and kind, and the
/// prices `provision --prices` kept for it (else the built-in table's). An existing cache (no
/// node type, no engine) is priced as the default node and engine.
fn pricing(state: &State) -> crate::results::cost::Assumptions {
    use crate::results::cost::{Assumptions, DEFAULT_ENGINE, DEFAULT_NODE_TYPE};
    let defaults = Assumptions::default();
    let (prices, prices_origin) =
        crate::stack::prices::kept(&state.stack).unwrap_or((defaults.prices, defaults.prices_origin));
    Assumptions {
        region: state.region.clone(),
        node_type: state.cache_node_type.clone().unwrap_or_else(|| DEFAULT_NODE_TYPE.to_owned()),
        nodes: 1,
        engine: state.cache_engine.clone().unwrap_or_else(|| DEFAULT_ENGINE.to_owned()),
        serverless: state.serverless,
        prices,
        prices_origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_s_engine_and_kind_are_priced() {
        let valkey_nodes = State {
            region: "eu-west-1".into(),
            cache_node_type: Some("cache.m7g.large".into()),
            cache_engine: Some("valkey".into()),
            ..State::default()
        };
        let p = pricing(&valkey_nodes);
        assert_eq!((p.region.as_str(), p.node_type.as_str()), ("eu-west-1", "cache.m7g.large"));
        assert_eq!((p.engine.as_str(), p.serverless), ("valkey", false));
        let serverless = State { cache_engine: Some("redis".into()), serverless: true, ..State::default() };
        let p = pricing(&serverless);
        assert_eq!((p.engine.as_str(), p.serverless), ("redis", true));
        let existing = pricing(&State::default());
        assert_eq!(existing.engine, crate::results::cost::DEFAULT_ENGINE);
        assert!(!existing.serverless);
    }

    #[test]
    fn a_run_takes_a_complete_or_rolled_back_stack_only() {
        for ok in ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"] {
            assert!(runnable(ok), "{ok}");
        }
        for not in [
            "CREATE_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_FAILED",
            "ROLLBACK_COMPLETE",
            "DELETE_IN_PROGRESS",
        ] {
            assert!(!runnable(not), "{not}");
        }
    }
}
