//! A run on this machine: the local fleet (agents, redis-server, the embedded S3 endpoint) started
//! for the run, or agents the user started (`--agent`), as a [`Fleet`].

use fetchbench_proto as pb;
use fetchbench_proto::redact::redact_url;
use tokio_util::sync::CancellationToken;

use super::{DEFAULT_BUCKET, LOCAL_EXPRESS_BUCKET, RunOptions, RunReport, on_fleet};
use crate::error::Error;
use crate::fleet::local::{LocalFleet, LocalPlan};
use crate::fleet::{Fleet, FleetAgent};
use crate::results::schema::{FleetKind, Targets};

/// Run a scenario on the local fleet. `interrupt` is cancelled on Ctrl-C.
pub async fn run_local(opts: RunOptions, interrupt: CancellationToken) -> Result<RunReport, Error> {
    let scenario = &opts.scenario;
    let uses_redis = scenario.workloads.iter().any(|w| w.target.uses_redis());
    let uses_s3 = scenario.workloads.iter().any(|w| w.target.uses_s3());
    // S3 Express has no stand-in but the embedded endpoint's directory bucket, or the user's own.
    let uses_s3_express = scenario.workloads.iter().any(|w| w.target.uses_s3_express());
    let static_tls = opts.static_tls.clone().filter(|_| !opts.static_agents.is_empty());
    let plan = LocalPlan {
        agents: if opts.static_agents.is_empty() { scenario.agents as usize } else { 0 },
        redis: uses_redis && opts.redis_url.is_none(),
        redis_cache: scenario.cache.clone(),
        s3: (uses_s3 && opts.s3_endpoint.is_none() && opts.s3_bucket.is_none())
            || (uses_s3_express && opts.s3_express_bucket.is_none()),
        agent_binary: opts.agent_binary.clone(),
        serve_on: opts.serve_on,
    };
    let mut local = tokio::select! {
        started = LocalFleet::start(&plan) => started?,
        () = interrupt.cancelled() => return Err(Error::Interrupted),
    };
    let mut fleet = local_fleet(&opts, &local);
    if let Some(tls) = static_tls {
        fleet.noun = "agent";
        fleet.tls = tls;
        fleet.agents = opts
            .static_agents
            .iter()
            .enumerate()
            // The certificate `fetchbench certs` made names the agent by its address.
            .map(|(i, addr)| FleetAgent::numbered(i, *addr, addr.ip().to_string()))
            .collect();
    }
    let outcome = on_fleet(&opts, &fleet, &interrupt).await;
    local.shutdown().await;
    outcome
}

/// The local processes as a [`Fleet`], with the targets `opts` and the fleet give.
fn local_fleet(opts: &RunOptions, local: &LocalFleet) -> Fleet {
    let scenario = &opts.scenario;
    let bucket = opts.s3_bucket.clone().unwrap_or_else(|| DEFAULT_BUCKET.to_owned());
    let uses_redis = scenario.workloads.iter().any(|w| w.target.uses_redis());
    let uses_s3 = scenario.workloads.iter().any(|w| w.target.uses_s3());
    let uses_s3_express = scenario.workloads.iter().any(|w| w.target.uses_s3_express());

    let mut targets = Targets::default();
    let redis = match (uses_redis, &opts.redis_url, &local.redis) {
        (false, _, _) => None,
        (true, Some(url), _) => {
            targets.redis_source = Some("user".into());
            Some(url.clone())
        }
        (true, None, Some(local)) => {
            targets.redis_source = Some("local redis-server".into());
            Some(local.url.clone())
        }
        (true, None, None) => unreachable!("the fleet starts redis-server when the user gives no Redis"),
    }
    .map(|url| {
        targets.redis = Some(redact_url(&url));
        let source = targets.redis_source.as_deref().unwrap_or_default();
        targets.redis_target =
            Some(crate::results::schema::RedisTarget::of(&url, source, opts.redis_cluster));
        pb::RedisTarget { url, key_prefix: format!("{bucket}:"), cluster: opts.redis_cluster }
    });
    let s3 = uses_s3.then(|| {
        targets.s3_bucket = Some(bucket.clone());
        match &local.s3 {
            Some(embedded) => {
                targets.s3_endpoint = Some(embedded.endpoint_url());
                targets.s3_source = Some("embedded".into());
                embedded.target(&bucket)
            }
            None => {
                targets.s3_endpoint = opts.s3_endpoint.clone();
                targets.s3_source = Some("user".into());
                pb::S3Target {
                    endpoint_url: opts.s3_endpoint.clone().unwrap_or_default(),
                    bucket: bucket.clone(),
                    force_path_style: opts.s3_endpoint.is_some(),
                    ..Default::default()
                }
            }
        }
    });
    let s3_express = match (uses_s3_express, &opts.s3_express_bucket, &local.s3) {
        (false, _, _) => None,
        (true, Some(bucket), _) => {
            // The user's directory bucket: no endpoint, region or keys, so that the agents use
            // their AWS configuration (the environment local agents inherit), as for AWS S3.
            targets.s3_express_bucket = Some(bucket.clone());
            Some(pb::S3Target { bucket: bucket.clone(), ..Default::default() })
        }
        (true, None, Some(embedded)) => {
            targets.s3_express_bucket = Some(LOCAL_EXPRESS_BUCKET.to_owned());
            targets.s3_express_endpoint = Some(embedded.endpoint_url());
            Some(embedded.target(LOCAL_EXPRESS_BUCKET))
        }
        (true, None, None) => {
            unreachable!("the fleet starts the embedded endpoint when the user gives no directory bucket")
        }
    };
    let agents = local
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| FleetAgent {
            log: Some(a.log.clone()),
            ..FleetAgent::numbered(i, a.addr, a.server_name.clone())
        })
        .collect();
    Fleet {
        kind: FleetKind::Local,
        noun: "local agent",
        agents,
        tls: local.tls.clone(),
        redis,
        s3,
        s3_express,
        targets,
        pricing: crate::results::cost::Assumptions::default(),
    }
}
