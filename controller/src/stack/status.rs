//! `fetchbench status`: the stack's status and age, an estimate of what it cost so far, and per
//! agent instance its Auto Scaling state, its SSM agent's ping and whether it answers Hello over
//! mutual TLS.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::{self, StreamExt};

use crate::aws::Aws;
use crate::error::{EXIT_DEGRADED, Error};
use crate::fleet::aws_state;
use crate::fleet::tls::ClientTls;
use crate::results::pricing::PriceTable;
use crate::stack::install::{self, hello};

/// Run `fetchbench status`: 0 when every agent is in service and answers, 3 when not.
/// `prices` (`--prices`) quote the cost in place of those the stack was provisioned with.
pub async fn status(
    stack: &str,
    region: Option<&str>,
    profile: Option<&str>,
    prices: Option<(PriceTable, String)>,
) -> Result<u8, Error> {
    let state = install::load(stack)?;
    let aws =
        Aws::connect(Some(region.unwrap_or(&state.region)), profile.or(state.profile.as_deref())).await?;
    let Some(described) = aws.cloudformation.describe_stacks(stack).await? else {
        return Err(Error::AwsFleet {
            stack: stack.to_owned(),
            detail: format!(
                "not found in {} (deleted outside fetchbench?); `fetchbench teardown` forgets it",
                aws.region
            ),
        });
    };
    let status = described.stack_status().map(|s| s.as_str()).unwrap_or_default();
    let created = described
        .creation_time()
        .map_or_else(SystemTime::now, |t| UNIX_EPOCH + Duration::from_secs(t.secs().max(0) as u64));
    let age = SystemTime::now().duration_since(created).unwrap_or_default();
    let age = Duration::from_secs(age.as_secs() / 60 * 60);
    say!(
        "stack {stack} in {}: {status}, up {} (since {})",
        aws.region,
        if age.is_zero() { "under a minute".to_owned() } else { humantime::format_duration(age).to_string() },
        humantime::format_rfc3339_seconds(created)
    );
    if let Some(warning) = crate::stack::expiry::warning(stack, &described, SystemTime::now()) {
        say!("warning: {warning}");
    }
    say!(
        "cache: {} at {}:{}{}",
        crate::stack::provision::describe_cache(&state),
        state.output("CacheAddress"),
        state.output("CachePort"),
        if state.output("CacheTls") == "true" { " (TLS)" } else { "" }
    );
    let (table, origin) = prices.unwrap_or_else(|| crate::stack::prices::of_stack(stack));
    let hourly = crate::stack::prices::hourly(&state, &table);
    let hours = age.as_secs_f64() / 3600.0;
    let prefix = if hourly.unknown.is_empty() { "about" } else { "over" };
    let serverless = if state.serverless { ", plus the serverless cache's ECPUs and GB-hours" } else { "" };
    say!(
        "cost so far: {prefix} ${:.2} ({}){serverless}; prices: {origin}",
        hourly.usd * hours,
        hourly.describe()
    );

    let group = state.output("AgentGroupName");
    let instances = if group.is_empty() {
        Vec::new()
    } else {
        aws.autoscaling.describe_auto_scaling_groups(group).await?
    };
    let ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
    let pings: Result<HashMap<String, String>, String> = if ids.is_empty() {
        Ok(HashMap::new())
    } else {
        aws.ssm
            .describe_instance_information(&ids)
            .await
            .map(|v| v.into_iter().collect())
            .map_err(|e| e.to_string())
    };
    if let Err(e) = &pings {
        say!("ssm ping unknown: {e}");
    }
    let tls = ClientTls::load(&aws_state::dir(stack)?).ok();
    say!("agents: {} of {} in the group", instances.len(), state.agents);
    let mut healthy = instances.len() == state.agents as usize;
    // Every agent greeted at once (within a bound), so unreachable ones cost one timeout in all.
    let greetings: Vec<Result<String, String>> = stream::iter(&instances)
        .map(|instance| {
            let (state, tls) = (&state, &tls);
            async move {
                match (state.installed.iter().find(|a| a.instance_id == instance.id), tls) {
                    (None, _) => Err("no agent installed; run `fetchbench install`".to_owned()),
                    (Some(_), None) => Err("no client certificate in the local state".to_owned()),
                    (Some(agent), Some(tls)) => hello(agent, tls).await.map_err(|e| e.to_string()),
                }
            }
        })
        .buffered(install::AT_ONCE)
        .collect()
        .await;
    for (instance, grpc) in instances.iter().zip(greetings) {
        let ping = match &pings {
            Ok(map) => map.get(&instance.id).cloned().unwrap_or_else(|| "not registered".into()),
            Err(_) => "unknown".into(),
        };
        healthy &= instance.lifecycle == "InService" && grpc.is_ok();
        say!(
            "  {}  {}/{}  ssm {ping}  grpc {}",
            instance.id,
            instance.lifecycle,
            instance.health,
            grpc.unwrap_or_else(|e| format!("unreachable: {e}"))
        );
    }
    Ok(if healthy && status.ends_with("_COMPLETE") { 0 } else { EXIT_DEGRADED })
}
