//! One run of a scenario on a fleet: say hello to every agent, seed the dataset through one of
//! them, run the workloads on all of them at once ([`measure`]), merge what they stream back,
//! write `result.json` and the files beside it ([`finish`]) and print the summary. The local fleet
//! ([`local`]) and the AWS fleet ([`crate::stack::fleet`]) both come through [`on_fleet`].

mod capacity;
pub mod dry_run;
mod finish;
mod local;
mod measure;
mod metrics_server;
mod request;
mod server_watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use fetchbench_proto as pb;
use fetchbench_proto::agent_client::AgentClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::error::Error;
use crate::fleet::connect::{Clock, connect};
use crate::fleet::local::log_tail;
use crate::fleet::tls::ClientTls;
use crate::fleet::{Fleet, FleetAgent};
use crate::results::schema::{AgentResult, AgentStatus, FleetKind, RunResult, Targets};
use crate::scenario::{CacheStart, Scenario};
pub use local::run_local;
pub use measure::AGENT_SILENCE;

/// Bucket of the embedded endpoint, and of a user's endpoint when `--s3-bucket` is not given.
pub const DEFAULT_BUCKET: &str = "fetchbench";
/// The directory bucket (S3 Express One Zone) of local runs, on the embedded endpoint: a name in
/// AWS's form, `NAME--AZ_ID--x-s3`, in a made-up zone `local-az1`.
pub const LOCAL_EXPRESS_BUCKET: &str = "fetchbench--local-az1--x-s3";

/// Everything `fetchbench run` needs, after the command line was checked.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The scenario, with `--agents` applied.
    pub scenario: Scenario,
    /// Results folder; `None` for `results/<scenario>-<UTC timestamp>/`.
    pub out: Option<PathBuf>,
    /// A running Redis to use instead of starting redis-server.
    pub redis_url: Option<String>,
    /// An S3-compatible endpoint to use instead of the embedded one.
    pub s3_endpoint: Option<String>,
    /// A bucket to use; without `s3_endpoint` it is on AWS S3.
    pub s3_bucket: Option<String>,
    /// The user's own S3 Express One Zone directory bucket for s3-express workloads, reached
    /// through the agents' AWS configuration; `None` for the embedded endpoint's.
    pub s3_express_bucket: Option<String>,
    /// `redis_url` names a node of a Redis Cluster.
    pub redis_cluster: bool,
    /// Agents already running (`--agent`), instead of starting local ones.
    pub static_agents: Vec<SocketAddr>,
    /// The controller's TLS identity and the authority that signed the static agents' certificates.
    pub static_tls: Option<ClientTls>,
    /// Where the local redis-server and embedded S3 endpoint listen.
    pub serve_on: std::net::IpAddr,
    /// The fetchbench-agent binary for local agents.
    pub agent_binary: PathBuf,
    /// `--metrics-listen`: the socket to serve live metrics for Prometheus on, already bound.
    pub metrics_listen: Option<Arc<std::net::TcpListener>>,
    /// `--prices FILE`: the price table with the file's figures in place, and the file's name.
    pub prices: Option<(crate::results::pricing::PriceTable, String)>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Every agent finished every workload without errors.
    Completed,
    /// An agent was lost or a workload ended with errors.
    Degraded,
    /// Ctrl-C: the agents were stopped and what they had measured was kept.
    Interrupted,
    /// A threshold of the scenario was breached.
    ThresholdsBreached,
}

impl RunStatus {
    /// How a run ended, when more than one thing went wrong: Ctrl-C over a breached threshold over
    /// a degraded run, so that a script sees the most specific exit code (130, then 99, then 3).
    pub fn of(interrupted: bool, breached: bool, degraded: bool) -> RunStatus {
        if interrupted {
            RunStatus::Interrupted
        } else if breached {
            RunStatus::ThresholdsBreached
        } else if degraded {
            RunStatus::Degraded
        } else {
            RunStatus::Completed
        }
    }
}

/// A finished run.
#[derive(Debug)]
pub struct RunReport {
    /// What was written to result.json.
    pub result: RunResult,
    /// Where result.json is.
    pub path: PathBuf,
    /// How it ended.
    pub status: RunStatus,
}

/// Run the scenario on `fleet`: hello, seed through the first agent, measure on all of them,
/// write result.json and print the summary. Local and AWS fleets both come through here.
pub(crate) async fn on_fleet(
    opts: &RunOptions,
    fleet: &Fleet,
    interrupt: &CancellationToken,
) -> Result<RunReport, Error> {
    let scenario = &opts.scenario;
    let started_at = SystemTime::now();
    let mut targets = fleet.targets.clone();
    let metrics = match &opts.metrics_listen {
        Some(listener) => Some(
            metrics_server::MetricsServer::start(listener)
                .map_err(|source| Error::Output { path: PathBuf::from("the metrics endpoint"), source })?,
        ),
        None => None,
    };
    let (clients, mut agents, clocks) = hello(fleet).await?;
    announce(scenario, fleet, &targets);
    if let Some(m) = &metrics {
        say!("  metrics: http://{}/metrics while the run goes", m.addr);
    }
    let cache_sized = scenario.cache.maxmemory_bytes.is_some() || scenario.cache.policy.is_some();
    if cache_sized && targets.redis_source.as_deref().is_some_and(|s| s != "local redis-server") {
        say!(
            "  [cache] sizes the redis-server fetchbench starts; this Redis keeps its own memory limit and \
             policy (ElastiCache: its node type and parameter group), which result.json records"
        );
    }
    let generator = scenario.dataset.generator();
    let seeded = tokio::select! {
        seeded = seed(scenario, fleet, &clients, &agents) => seeded?,
        () = interrupt.cancelled() => return Err(Error::Interrupted),
    };
    if let Some(t) = targets.redis_target.as_mut().filter(|t| t.cluster) {
        t.shards = (seeded.redis_shards > 0).then_some(seeded.redis_shards);
    }
    let dir = finish::output_dir(opts.out.as_ref(), &scenario.name, started_at)?;
    finish::write_dataset_csv(&dir, &generator)?;
    let server = targets.redis.as_ref().map(|node| server_watch::Server {
        node: node.clone(),
        cluster: targets.redis_target.as_ref().is_some_and(|t| t.cluster),
        network_baseline_bytes_s: targets
            .cache_node_type
            .as_deref()
            .and_then(crate::results::pricing::cache_baseline_bytes_s),
    });
    let live = metrics.as_ref().map(|m| &m.live);
    let measured =
        measure::measure(scenario, &clients, &mut agents, &clocks, server.as_ref(), interrupt, live).await;
    let mut pricing = fleet.pricing.clone();
    if let Some((table, origin)) = &opts.prices {
        // A table of one other region (a file for eu-west-1, live prices) prices the run there.
        if let [region] = &table.regions[..]
            && *region != pricing.region
        {
            pricing.region = region.clone();
        }
        pricing.prices = table.clone();
        pricing.prices_origin = origin.clone();
    }
    let run =
        finish::Run { fleet, pricing, targets, agents, clocks, started_at, finished_at: SystemTime::now() };
    finish::finish(scenario, run, measured, &dir)
}

/// Connect to every agent of `fleet` and say hello: their clients, their entries of result.json
/// and their clocks. An agent busy with another controller's run is refused here, before anything
/// is printed or seeded.
async fn hello(fleet: &Fleet) -> Result<(Vec<AgentClient<Channel>>, Vec<AgentResult>, Vec<Clock>), Error> {
    let mut agents = Vec::with_capacity(fleet.agents.len());
    let mut clients = Vec::with_capacity(fleet.agents.len());
    let mut clocks = Vec::with_capacity(fleet.agents.len());
    for agent in &fleet.agents {
        let tls = fleet.tls.config(&agent.server_name);
        let (client, hello, clock) =
            connect(&agent.id, agent.addr, tls).await.map_err(|e| match fleet.kind {
                // An instance's agent has no log here to show: say what is lost and what to do.
                FleetKind::Aws => Error::AgentLost {
                    agent: e.agent,
                    instance: agent.host.clone(),
                    address: e.address,
                    detail: e.detail,
                },
                FleetKind::Local => with_log(e.into(), agent),
            })?;
        // Seeding would rewrite the data under the other controller's run.
        if hello.state() == pb::AgentState::Running {
            return Err(Error::AgentBusy { address: agent.addr.to_string() });
        }
        agents.push(AgentResult {
            id: agent.id.clone(),
            address: agent.addr.to_string(),
            status: AgentStatus::Ok,
            error: None,
            version: hello.agent_version,
            hostname: hello.hostname,
            cores: hello.cores,
            arch: hello.arch,
            cpu_idle: hello.cpu_idle,
            clock_offset_ms: clock.offset_ns as f64 / 1e6,
            rtt_ms: clock.rtt.as_secs_f64() * 1e3,
        });
        clients.push(client);
        clocks.push(clock);
    }

    Ok((clients, agents, clocks))
}

/// The run's banner: the scenario, the fleet and the stores.
fn announce(scenario: &Scenario, fleet: &Fleet, targets: &Targets) {
    say!(
        "fetchbench: scenario {:?} on {} {}{}",
        scenario.name,
        fleet.agents.len(),
        fleet.noun,
        if fleet.agents.len() == 1 { "" } else { "s" }
    );
    if let (Some(url), Some(source)) = (&targets.redis, &targets.redis_source) {
        say!("  redis: {url} ({source})");
    }
    if let (Some(b), Some(source)) = (&targets.s3_bucket, &targets.s3_source) {
        let endpoint = targets.s3_endpoint.as_deref().unwrap_or("AWS S3");
        say!("  s3:    bucket {b} on {endpoint} ({source})");
    }
    if let Some(b) = &targets.s3_express_bucket {
        let endpoint = targets.s3_express_endpoint.as_deref().unwrap_or("AWS S3 Express One Zone");
        say!("  s3-express: directory bucket {b} on {endpoint} (session auth)");
    }
}

/// Seed the dataset through the first agent, then prepare the others (their connections to the
/// stores); the seeding agent's answer.
async fn seed(
    scenario: &Scenario,
    fleet: &Fleet,
    clients: &[AgentClient<Channel>],
    agents: &[AgentResult],
) -> Result<pb::PrepareReply, Error> {
    let (redis, s3, s3_express) = (fleet.redis.clone(), fleet.s3.clone(), fleet.s3_express.clone());
    let generator = scenario.dataset.generator();
    let dataset = generator.to_proto();
    let cold = scenario.dataset.cache == CacheStart::Cold;
    let prepare = |seed_data: bool| pb::PrepareRequest {
        redis: redis.clone(),
        s3: s3.clone(),
        dataset: Some(dataset.clone()),
        seed_data,
        cold_cache: cold,
        s3_express: s3_express.clone(),
    };
    let stores = match (&redis, &s3) {
        (Some(_), Some(_)) if cold => "s3 (and removed from redis: cold cache)",
        (Some(_), None) if cold => "nothing (removed from redis: cold cache)",
        (Some(_), Some(_)) => "redis and s3",
        (Some(_), None) => "redis",
        (None, Some(_)) => "s3",
        (None, None) => "",
    };
    let stores = match (stores, &s3_express) {
        ("", _) => "s3-express".to_owned(),
        (stores, Some(_)) => format!("{stores} and s3-express"),
        (stores, None) => stores.to_owned(),
    };
    say!("seeding {} into {} through {}", scenario.dataset.describe_objects(), stores, agents[0].id);
    let mut seeder = clients[0].clone();
    let seeded = seeder
        .prepare(prepare(true))
        .await
        .map_err(|s| agent_error(&agents[0], "prepare (seeding)", &s))?
        .into_inner();
    say!(
        "seeded {} objects ({} bytes) in {:.2} s",
        seeded.objects_written,
        seeded.bytes_written,
        seeded.seed_duration_ms as f64 / 1000.0
    );
    let others = clients.iter().zip(agents).skip(1).map(|(c, a)| {
        let mut c = c.clone();
        let req = prepare(false);
        async move { c.prepare(req).await.map_err(|s| agent_error(a, "prepare", &s)) }
    });
    futures_util::future::try_join_all(others).await?;
    Ok(seeded)
}

fn agent_error(agent: &AgentResult, step: &'static str, status: &tonic::Status) -> Error {
    Error::Agent {
        agent: agent.id.clone(),
        address: agent.address.clone(),
        step,
        detail: status.message().to_owned(),
    }
}

/// Add the end of the agent's log, when the controller can read it, to a failure of that agent.
fn with_log(e: Error, agent: &FleetAgent) -> Error {
    match (e, &agent.log) {
        (Error::Agent { agent, address, step, detail }, Some(log)) => {
            Error::Agent { agent, address, step, detail: format!("{detail} (agent log: {})", log_tail(log)) }
        }
        (other, _) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_c_outranks_a_breached_threshold_which_outranks_a_degraded_run() {
        use RunStatus::*;
        // (interrupted, breached, degraded)
        assert_eq!(RunStatus::of(false, false, false), Completed);
        assert_eq!(RunStatus::of(false, false, true), Degraded);
        assert_eq!(RunStatus::of(false, true, false), ThresholdsBreached);
        assert_eq!(RunStatus::of(false, true, true), ThresholdsBreached);
        assert_eq!(RunStatus::of(true, false, false), Interrupted);
        assert_eq!(RunStatus::of(true, false, true), Interrupted);
        assert_eq!(RunStatus::of(true, true, false), Interrupted);
        assert_eq!(RunStatus::of(true, true, true), Interrupted);
    }
}
