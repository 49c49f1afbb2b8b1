//! The measured phase: the workloads one after another, each on every live agent at once from a
//! synchronized start, what the agents stream back tallied, and agents that break or fall silent
//! lost.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fetchbench_proto as pb;
use fetchbench_proto::agent_client::AgentClient;
use fetchbench_proto::wire::unix_ns;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use super::request::run_request;
use super::server_watch::{Server, Watch};
use crate::fleet::connect::Clock;
use crate::render::live::LiveMetrics;
use crate::render::progress::Progress;
use crate::results::schema::{AgentResult, AgentStatus, Capacity, ServerMetrics};
use crate::results::tally::Tallies;
use crate::scenario::{OnAgentLoss, Scenario, Target};

/// Longest wait for the agents to wind down after Stop.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// An agent that sends nothing (progress or heartbeat) for this long is lost.
pub const AGENT_SILENCE: Duration = Duration::from_secs(5);
/// How far ahead of now a workload's synchronized start is set, besides four round trips.
const START_MARGIN: Duration = Duration::from_millis(250);

pub struct Measured {
    pub tallies: Tallies,
    /// `[workload]`: the agents it was sent to, for the workloads that started.
    pub dispatched: Vec<Vec<usize>>,
    pub interrupted: bool,
    /// An agent was lost and the scenario says `on_agent_loss = "abort"`.
    pub aborted: bool,
    /// `[workload]`: what a `find_max` search found.
    pub capacities: Vec<Option<Capacity>>,
    /// `[workload]`: the Redis server's own view of it.
    pub servers: Vec<Option<ServerMetrics>>,
    /// `[workload]`: when it began (its start sent to the agents) and ended (the agents done), for
    /// the workloads that started.
    pub windows: Vec<Option<(SystemTime, SystemTime)>>,
}

/// The policy a `--sweep-cache` step sets when the scenario's `[cache]` names none: Redis's
/// default, `noeviction`, would refuse the workload's writes once the cache is full.
pub const SWEEP_POLICY: &str = "allkeys-lru";

/// Empty the cache and size it to `bytes` through `agent` before workload `w` (a
/// `--sweep-cache` step); a refusal is said, and the workload runs on the cache as it is.
async fn reset_cache(scenario: &Scenario, w: usize, bytes: u64, agent: &AgentClient<Channel>) {
    let name = &scenario.workloads[w].name;
    let policy = scenario.cache.policy.clone().unwrap_or_else(|| SWEEP_POLICY.to_owned());
    let request = pb::ResetCacheRequest { maxmemory_bytes: bytes, policy: policy.clone() };
    match agent.clone().reset_cache(request).await {
        Ok(reply) => say!(
            "{name}: the cache emptied ({} keys deleted) and sized to {} ({policy})",
            reply.into_inner().deleted,
            crate::scenario::human_bytes(bytes)
        ),
        Err(status) => eprintln!(
            "fetchbench: warning: {name}: the cache could not be emptied and sized to {} ({}); the workload \
             runs on the cache as it is",
            crate::scenario::human_bytes(bytes),
            status.message()
        ),
    }
}

/// What an agent's stream delivered.
enum Delivery {
    Event(Box<pb::run_event::Event>),
    /// The stream ended; `Some` with the reason when it broke.
    End(Option<String>),
}

/// Run the workloads one after another, each on every live agent at once from a synchronized
/// start, and tally what the agents stream back. An agent whose stream breaks, or that says nothing
/// (no progress, no heartbeat) for [`AGENT_SILENCE`], is lost: what it reported stays in the tallies.
/// A workload with `find_max` runs as a search of several steps ([`super::capacity`]); its tallies
/// are those of the step that stands for it. A workload that reads `server` (Redis, cache-aside)
/// has the server's own view beside its figures.
pub async fn measure(
    scenario: &Scenario,
    clients: &[AgentClient<Channel>],
    agents: &mut [AgentResult],
    clocks: &[Clock],
    server: Option<&Server>,
    interrupt: &CancellationToken,
    metrics: Option<&Arc<LiveMetrics>>,
) -> Measured {
    let mut tallies = Tallies::new(scenario.workloads.len(), clients.len());
    let mut ended = Ended::default();
    let mut progress = Progress::new(scenario, clients.len());
    let mut dispatched = Vec::with_capacity(scenario.workloads.len());
    let mut capacities = vec![None; scenario.workloads.len()];
    let mut servers = vec![None; scenario.workloads.len()];
    let mut windows = vec![None; scenario.workloads.len()];
    for (w, workload) in scenario.workloads.iter().enumerate() {
        // A workload on part of the fleet takes its first agents still answering.
        let wanted = workload.agents.map_or(clients.len(), |n| n as usize);
        let live: Vec<usize> =
            (0..clients.len()).filter(|&a| agents[a].status == AgentStatus::Ok).take(wanted).collect();
        if ended.interrupted || ended.aborted || live.is_empty() {
            break;
        }
        dispatched.push(live.clone());
        if let Some(bytes) = workload.cache_maxmemory_bytes {
            reset_cache(scenario, w, bytes, &clients[live[0]]).await;
        }
        let began = SystemTime::now();
        let fleet = Agents { clients, clocks, interrupt, live: metrics };
        let watched = server.filter(|_| matches!(workload.target, Target::Redis | Target::CacheAside));
        if let Some(find_max) = &workload.find_max {
            let found =
                super::capacity::search(scenario, w, find_max, &live, &fleet, agents, watched, &mut ended)
                    .await;
            tallies.adopt(w, found.tallies);
            capacities[w] = Some(found.capacity);
            servers[w] = found.server;
            windows[w] = Some((began, SystemTime::now()));
            continue;
        }
        let said = Say::Announce(workload.describe(live.len()));
        let watch = match watched {
            Some(server) => {
                let a = live[0];
                Watch::start(server, &clients[a], &agents[a], fleet.live, &workload.name).await
            }
            None => None,
        };
        pass(scenario, w, &live, &fleet, agents, &mut tallies, &mut progress, &mut ended, said, None).await;
        windows[w] = Some((began, SystemTime::now()));
        if let (Some(watch), Some(server)) = (watch, watched) {
            // Every request is one GET, unless the workload also SETs or writes; a cluster's
            // INFO is one node's of several.
            let comparable = !server.cluster
                && (workload.target == Target::CacheAside || workload.set_share == 0.0)
                && workload.write_share == 0.0;
            servers[w] = watch.finish(comparable.then(|| tallies.requests_sent(w))).await;
        }
    }
    Measured {
        tallies,
        dispatched,
        interrupted: ended.interrupted,
        aborted: ended.aborted,
        capacities,
        servers,
        windows,
    }
}

/// The run's agents, as every pass reaches them.
pub struct Agents<'a> {
    pub clients: &'a [AgentClient<Channel>],
    pub clocks: &'a [Clock],
    pub interrupt: &'a CancellationToken,
    /// `--metrics-listen`: where each pass publishes its intervals as they come.
    pub live: Option<&'a Arc<LiveMetrics>>,
}

/// What ended the run early, if anything: shared by every pass.
#[derive(Debug, Default)]
pub struct Ended {
    /// Ctrl-C.
    pub interrupted: bool,
    /// An agent was lost and the scenario says `on_agent_loss = "abort"`.
    pub aborted: bool,
}

/// Whether a pass has seen enough to end before its workload's own end, from its tallies so far
/// (a step of a search whose figures are stable).
pub type Settle<'a> = &'a (dyn Fn(&Tallies) -> bool + Sync);

/// What a pass prints of itself.
pub enum Say {
    /// "running <what>" at its first progress, and its totals at the end.
    Announce(String),
    /// Nothing (a step of a search prints its own line).
    Quiet,
}

/// One pass of workload `w` of `scenario` on agents `live` from a synchronized start, tallied
/// into `tallies` as workload `w`. With `settle`, the agents are stopped as soon as it says the
/// tallies are enough.
#[allow(clippy::too_many_arguments)]
pub async fn pass(
    scenario: &Scenario,
    w: usize,
    live: &[usize],
    fleet: &Agents<'_>,
    agents: &mut [AgentResult],
    tallies: &mut Tallies,
    progress: &mut Progress,
    ended: &mut Ended,
    say: Say,
    settle: Option<Settle<'_>>,
) {
    let Agents { clients, clocks, interrupt, live: metrics } = *fleet;
    let workload = &scenario.workloads[w];
    if let Some(m) = metrics {
        let asked = workload.rate.map(|r| r * live.len() as f64);
        m.started(&workload.name, workload.target.as_str(), clients.len(), asked);
    }
    let max_rtt = live.iter().map(|&a| clocks[a].rtt).max().unwrap_or_default();
    let start = unix_ns(SystemTime::now() + START_MARGIN + max_rtt * 4);
    let (tx, mut rx) = mpsc::channel::<(usize, Delivery)>(1024);
    let mut streams: Vec<Option<tokio::task::AbortHandle>> = vec![None; clients.len()];
    for (k, &a) in live.iter().enumerate() {
        let clock = clocks[a].offset_ns;
        let request = run_request(scenario, w, a, (k, live.len()), start + clock, clock);
        streams[a] = Some(spawn_stream(clients[a].clone(), a, request, tx.clone()));
    }
    drop(tx);
    let stop_live = |streams: &[Option<tokio::task::AbortHandle>]| {
        let open: Vec<AgentClient<Channel>> = streams
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(a, _)| clients[a].clone())
            .collect();
        async move { stop_all(&open).await }
    };

    let mut last_heard = vec![tokio::time::Instant::now(); clients.len()];
    let mut watch = tokio::time::interval(Duration::from_millis(250));
    let mut announced = false;
    let mut settled = false;
    let mut stop_deadline = None;
    while streams.iter().any(Option::is_some) {
        let next = tokio::select! {
            next = rx.recv() => next,
            () = interrupt.cancelled(), if !ended.interrupted => {
                ended.interrupted = true;
                progress.clear();
                say!("interrupted: stopping the agents and keeping what they measured");
                stop_live(&streams).await;
                stop_deadline = Some(tokio::time::Instant::now() + STOP_GRACE);
                continue;
            }
            _ = watch.tick() => {
                let now = tokio::time::Instant::now();
                let silent: Vec<usize> = (0..clients.len())
                    .filter(|&a| streams[a].is_some() && now - last_heard[a] > AGENT_SILENCE)
                    .collect();
                for a in silent {
                    if let Some(stream) = streams[a].take() {
                        stream.abort();
                    }
                    lose(&mut agents[a], format!("no progress or heartbeat for {AGENT_SILENCE:?}"));
                    if abort_on_loss(scenario, &mut ended.aborted, progress) {
                        stop_live(&streams).await;
                        stop_deadline = Some(now + STOP_GRACE);
                    }
                }
                continue;
            }
            () = sleep_until(stop_deadline) => {
                for a in 0..clients.len() {
                    if let Some(stream) = streams[a].take() {
                        stream.abort();
                        lose(&mut agents[a], format!("did not stop within {STOP_GRACE:?} of Stop"));
                    }
                }
                break;
            }
        };
        let Some((a, delivery)) = next else { break };
        if streams[a].is_none() {
            continue; // already given up on: what it still had in flight is ignored
        }
        last_heard[a] = tokio::time::Instant::now();
        match delivery {
            Delivery::Event(event) => {
                if let Err(e) = tallies.add(a, w, &event) {
                    lose(&mut agents[a], format!("sent a bad event: {e}"));
                    continue;
                }
                if !announced && matches!(*event, pb::run_event::Event::Progress(_)) {
                    announced = true;
                    if let Say::Announce(what) = &say {
                        say!("running {what}");
                    }
                    progress.started(w);
                }
                if let (pb::run_event::Event::Progress(p), Some(settle), false) = (&*event, settle, settled)
                    && !p.warmup
                    && settle(tallies)
                {
                    settled = true;
                    stop_live(&streams).await;
                    stop_deadline = Some(tokio::time::Instant::now() + STOP_GRACE);
                }
                match &*event {
                    pb::run_event::Event::Progress(p) => {
                        if let Some(m) = metrics {
                            m.interval(&workload.name, a, p);
                        }
                        // Logged once the interval is in the live metrics too.
                        // RUST_LOG=fetchbench::run=debug shows each agent's intervals as they
                        // come (tests wait on them for an agent's first progress).
                        tracing::debug!(
                            target: "fetchbench::run",
                            agent = %agents[a].id,
                            workload = %scenario.workloads[w].name,
                            elapsed_ms = p.elapsed_ms,
                            ops = p.ops,
                            errors = p.errors,
                            "interval"
                        );
                        progress.interval(w, a, p)
                    }
                    pb::run_event::Event::Done(_) => progress.agent_done(w, a),
                    pb::run_event::Event::Heartbeat(_) => {}
                }
            }
            Delivery::End(reason) => {
                streams[a] = None;
                let reason = match reason {
                    Some(reason) => Some(reason),
                    None if tallies.get(w, a).duration.is_none() && !ended.interrupted && !ended.aborted => {
                        Some("its stream ended before the workload finished".to_owned())
                    }
                    None => None,
                };
                if let Some(reason) = reason {
                    lose(&mut agents[a], reason);
                    if abort_on_loss(scenario, &mut ended.aborted, progress) {
                        stop_live(&streams).await;
                        stop_deadline = Some(tokio::time::Instant::now() + STOP_GRACE);
                    }
                }
            }
        }
    }
    progress.done(w);
    if let Some(m) = metrics {
        m.done(&workload.name);
    }
    if let Say::Announce(_) = say {
        let (ops, errors) =
            live.iter().map(|&a| tallies.get(w, a)).fold((0, 0), |(o, e), t| (o + t.ops, e + t.errors()));
        say!("  done: {ops} ops, {errors} errors");
    }
}

/// Open agent `a`'s Run stream and forward what it delivers to `tx`, ending with `End`; aborting
/// the returned handle drops the stream, which stops the agent's load.
fn spawn_stream(
    mut client: AgentClient<Channel>,
    a: usize,
    request: pb::RunRequest,
    tx: mpsc::Sender<(usize, Delivery)>,
) -> tokio::task::AbortHandle {
    let task = tokio::spawn(async move {
        let mut stream = match client.run(request).await {
            Ok(r) => r.into_inner(),
            Err(s) => {
                let _ = tx.send((a, Delivery::End(Some(s.message().to_owned())))).await;
                return;
            }
        };
        loop {
            let delivery = match stream.message().await {
                Ok(Some(pb::RunEvent { event: Some(e) })) => Delivery::Event(Box::new(e)),
                Ok(Some(pb::RunEvent { event: None })) => continue,
                Ok(None) => Delivery::End(None),
                Err(s) => Delivery::End(Some(format!("{}: {}", code_name(s.code()), s.message()))),
            };
            let end = matches!(delivery, Delivery::End(_));
            if tx.send((a, delivery)).await.is_err() || end {
                return;
            }
        }
    });
    task.abort_handle()
}

/// After an agent was lost: whether the run stops now (the scenario says `on_agent_loss =
/// "abort"` and it has not stopped yet), said on the terminal; `aborted` records it.
fn abort_on_loss(scenario: &Scenario, aborted: &mut bool, progress: &mut Progress) -> bool {
    if scenario.on_agent_loss != OnAgentLoss::Abort || *aborted {
        return false;
    }
    *aborted = true;
    progress.clear();
    say!("aborting the run: an agent was lost and on_agent_loss is \"abort\"");
    true
}

fn lose(agent: &mut AgentResult, reason: String) {
    if agent.status == AgentStatus::Ok {
        eprintln!("fetchbench: {} ({}) lost: {reason}", agent.id, agent.address);
        agent.status = AgentStatus::Lost;
        agent.error = Some(reason);
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Tell every agent to stop, without waiting more than a moment for any.
async fn stop_all(clients: &[AgentClient<Channel>]) {
    let stops = clients.iter().map(|c| {
        let mut c = c.clone();
        async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), c.stop(pb::StopRequest {})).await;
        }
    });
    futures_util::future::join_all(stops).await;
}

fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Unavailable => "unavailable",
        tonic::Code::Cancelled => "cancelled",
        tonic::Code::DeadlineExceeded => "deadline exceeded",
        tonic::Code::FailedPrecondition => "failed precondition",
        tonic::Code::InvalidArgument => "invalid argument",
        _ => "error",
    }
}
