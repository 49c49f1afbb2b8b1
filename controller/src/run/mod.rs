//! `fetchbench run`: start the fleet, say hello to every agent, seed the dataset through one of
//! them, run the workloads on all of them at once, merge what they stream back, write
//! `result.json` and print the summary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use fetchbench_proto as pb;
use fetchbench_proto::agent_client::AgentClient;
use fetchbench_proto::redact::redact_url;
use fetchbench_proto::wire::unix_ns;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::error::Error;
use crate::fleet::connect::{Clock, connect};
use crate::fleet::local::{LocalFleet, LocalPlan, log_tail};
use crate::fleet::tls::ClientTls;
use crate::fleet::{Fleet, FleetAgent};
use crate::render::files as report;
use crate::render::progress::Progress;
use crate::render::terminal as summary;
use crate::results::schema::{AgentResult, RunResult, SCHEMA, Targets};
use crate::results::tally::Tallies;
use crate::results::{cost, thresholds};
use crate::scenario::{Amount, CacheStart, KeyDist, OnAgentLoss, Scenario, Target};

/// Bucket of the embedded endpoint, and of a user's endpoint when `--s3-bucket` is not given.
pub const DEFAULT_BUCKET: &str = "fetchbench";
/// Period of the agents' progress events.
const INTERVAL: Duration = Duration::from_secs(1);
/// Longest wait for the agents to wind down after Stop.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// An agent that sends nothing (progress or heartbeat) for this long is lost.
pub const AGENT_SILENCE: Duration = Duration::from_secs(5);
/// How far ahead of now a workload's synchronized start is set, besides four round trips.
const START_MARGIN: Duration = Duration::from_millis(250);
/// Largest dataset whose per-object sizes are written to dataset.csv.
const DATASET_CSV_MAX_OBJECTS: u64 = 1_000_000;

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

/// Run a scenario on the local fleet. `interrupt` is cancelled on Ctrl-C.
pub async fn run_local(opts: RunOptions, interrupt: CancellationToken) -> Result<RunReport, Error> {
    let scenario = &opts.scenario;
    let uses_redis = scenario.workloads.iter().any(|w| w.target.uses_redis());
    let uses_s3 = scenario.workloads.iter().any(|w| w.target.uses_s3());
    let static_tls = opts.static_tls.clone().filter(|_| !opts.static_agents.is_empty());
    let plan = LocalPlan {
        agents: if opts.static_agents.is_empty() { scenario.agents as usize } else { 0 },
        redis: uses_redis && opts.redis_url.is_none(),
        s3: uses_s3 && opts.s3_endpoint.is_none() && opts.s3_bucket.is_none(),
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
            .map(|(i, addr)| FleetAgent {
                id: format!("agent-{i}"),
                addr: *addr,
                // The certificate `fetchbench certs` made names the agent by its address.
                server_name: addr.ip().to_string(),
                log: None,
                host: String::new(),
            })
            .collect();
    }
    let outcome = drive(&opts, &fleet, &interrupt).await;
    local.shutdown().await;
    outcome
}

/// The local processes as a [`Fleet`], with the targets `opts` and the fleet give.
fn local_fleet(opts: &RunOptions, local: &LocalFleet) -> Fleet {
    let scenario = &opts.scenario;
    let bucket = opts.s3_bucket.clone().unwrap_or_else(|| DEFAULT_BUCKET.to_owned());
    let uses_redis = scenario.workloads.iter().any(|w| w.target.uses_redis());
    let uses_s3 = scenario.workloads.iter().any(|w| w.target.uses_s3());

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
        (true, None, None) => unreachable!("the fleet starts redis-server when no --redis-url is given"),
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
                pb::S3Target {
                    endpoint_url: embedded.endpoint_url(),
                    region: "us-east-1".into(),
                    bucket: bucket.clone(),
                    force_path_style: true,
                    access_key_id: embedded.access_key().to_owned(),
                    secret_access_key: embedded.secret_key().to_owned(),
                }
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
    let agents = local
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| FleetAgent {
            id: format!("agent-{i}"),
            addr: a.addr,
            server_name: a.server_name.clone(),
            log: Some(a.log.clone()),
            host: String::new(),
        })
        .collect();
    Fleet {
        kind: "local",
        noun: "local agent",
        agents,
        tls: local.tls.clone(),
        redis,
        s3,
        targets,
        pricing: crate::results::cost::Assumptions::default(),
    }
}

/// Run the scenario on `fleet`: hello, seed through the first agent, measure on all of them,
/// write result.json and print the summary. Local and AWS fleets both come through here.
pub(crate) async fn drive(
    opts: &RunOptions,
    fleet: &Fleet,
    interrupt: &CancellationToken,
) -> Result<RunReport, Error> {
    let scenario = &opts.scenario;
    let started_at = SystemTime::now();
    let (redis, s3, mut targets) = (fleet.redis.clone(), fleet.s3.clone(), fleet.targets.clone());

    let mut agents = Vec::with_capacity(fleet.agents.len());
    let mut clients = Vec::with_capacity(fleet.agents.len());
    let mut clocks = Vec::with_capacity(fleet.agents.len());
    for agent in &fleet.agents {
        let tls = fleet.tls.config(&agent.server_name);
        let (client, hello, clock) =
            connect(&agent.id, agent.addr, tls).await.map_err(|e| with_log(e.into(), agent))?;
        // Checked before anything is printed or seeded: seeding would rewrite the data under the
        // other controller's run.
        if hello.state() == pb::AgentState::Running {
            return Err(Error::AgentBusy { address: agent.addr.to_string() });
        }
        agents.push(AgentResult {
            id: agent.id.clone(),
            address: agent.addr.to_string(),
            status: "ok".into(),
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

    println!(
        "fetchbench: scenario {:?} on {} {}{}",
        scenario.name,
        fleet.agents.len(),
        fleet.noun,
        if fleet.agents.len() == 1 { "" } else { "s" }
    );
    if let (Some(url), Some(source)) = (&targets.redis, &targets.redis_source) {
        println!("  redis: {url} ({source})");
    }
    if let (Some(b), Some(source)) = (&targets.s3_bucket, &targets.s3_source) {
        let endpoint = targets.s3_endpoint.as_deref().unwrap_or("AWS S3");
        println!("  s3:    bucket {b} on {endpoint} ({source})");
    }

    let generator = scenario.dataset.generator();
    let dataset = generator.to_proto();
    let cold = scenario.dataset.cache == CacheStart::Cold;
    let prepare = |seed_data: bool| pb::PrepareRequest {
        redis: redis.clone(),
        s3: s3.clone(),
        dataset: Some(dataset.clone()),
        seed_data,
        cold_cache: cold,
    };
    let stores = match (&redis, &s3) {
        (Some(_), Some(_)) if cold => "s3 (and removed from redis: cold cache)",
        (Some(_), None) if cold => "nothing (removed from redis: cold cache)",
        (Some(_), Some(_)) => "redis and s3",
        (Some(_), None) => "redis",
        (None, _) => "s3",
    };
    println!(
        "seeding {} objects of {} into {} through {}",
        dataset.objects,
        scenario.dataset.describe_sizes(),
        stores,
        agents[0].id
    );
    let mut seeder = clients[0].clone();
    let seeded = tokio::select! {
        r = seeder.prepare(prepare(true)) => r.map_err(|s| agent_error(&agents[0], "prepare (seeding)", &s))?,
        () = interrupt.cancelled() => return Err(Error::Interrupted),
    }
    .into_inner();
    if let Some(t) = targets.redis_target.as_mut().filter(|t| t.cluster) {
        t.shards = (seeded.redis_shards > 0).then_some(seeded.redis_shards);
    }
    println!(
        "seeded {} objects ({} bytes) in {:.2} s",
        seeded.objects_written,
        seeded.bytes_written,
        seeded.seed_duration_ms as f64 / 1000.0
    );
    let others = clients.iter().zip(&agents).skip(1).map(|(c, a)| {
        let mut c = c.clone();
        let req = prepare(false);
        async move { c.prepare(req).await.map_err(|s| agent_error(a, "prepare", &s)) }
    });
    tokio::select! {
        r = futures_util::future::try_join_all(others) => { r?; }
        () = interrupt.cancelled() => return Err(Error::Interrupted),
    }

    let dir = output_dir(opts.out.as_ref(), &scenario.name, started_at)?;
    write_dataset_csv(&dir, &generator)?;

    let measured = measure(scenario, &clients, &mut agents, &clocks, interrupt).await;
    let finished_at = SystemTime::now();

    let ids: Vec<String> = agents.iter().map(|a| a.id.clone()).collect();
    let offsets: Vec<i64> = clocks.iter().map(|c| c.offset_ns).collect();
    let workloads: Vec<_> = scenario
        .workloads
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut result = measured.tallies.workload_result(i, &w.name, w.target.as_str(), &ids, &offsets);
            if w.agents.is_some() {
                // On part of the fleet: its agents are the ones it ran on (a workload on the
                // whole fleet lists every agent, a lost one with nothing).
                let ran = measured.dispatched.get(i).map_or(&[][..], Vec::as_slice);
                result.per_agent = std::mem::take(&mut result.per_agent)
                    .into_iter()
                    .enumerate()
                    .filter(|(a, _)| ran.contains(a))
                    .map(|(_, r)| r)
                    .collect();
            }
            if w.busy_poll.is_some() {
                if result.ops + result.errors > 0 {
                    result.busy_polled_share.get_or_insert(0.0);
                }
                // Polling keeps the agent's cores busy by design: that is no sign of a bottleneck,
                // but sending less than an open-loop schedule asked still is.
                result.client_bound_reason = crate::results::tally::client_bound_reason(&result, false);
                result.client_bound = result.client_bound_reason.is_some();
            }
            result
        })
        .collect();
    let lost = agents.iter().any(|a| a.status != "ok");
    let degraded = lost || workloads.iter().any(|w| w.errors > 0);
    let start_skew_ms = workloads.iter().map(|w| w.start_skew_ms).fold(0.0, f64::max);
    let checked = thresholds::check(&scenario.thresholds, &workloads);
    let mut result = RunResult {
        schema: SCHEMA.into(),
        scenario: scenario.clone(),
        fleet: fleet.kind.into(),
        started_at: humantime::format_rfc3339_seconds(started_at).to_string(),
        finished_at: humantime::format_rfc3339_seconds(finished_at).to_string(),
        degraded: degraded || measured.aborted,
        partial: measured.interrupted || measured.aborted,
        targets,
        agents,
        workloads,
        start_skew_ms,
        thresholds: checked,
        cost: None,
    };
    result.cost = Some(cost::estimate_or_default(&result, &fleet.pricing));
    // An --out folder may hold an earlier run: its .hgrm files of workloads this run does not
    // have would sit beside this run's figures as if they were part of them.
    let earlier = crate::results::schema::load(&dir.join(crate::results::schema::RESULT_JSON)).ok();
    let path = result.write(&dir).map_err(|source| Error::Output { path: dir.clone(), source })?;
    print!("{}", summary::render(&result));
    if let Some(e) = &earlier {
        println!(
            "replaced: the result of {} ({}) that {} held",
            e.scenario.name,
            e.started_at,
            dir.display()
        );
    }
    println!("result: {}", path.display());
    let report = report::write_all(&result, result.cost.as_ref(), &dir)?;
    println!("report: {}", report.display());
    let current = crate::render::export::hgrm_names(&result);
    let earlier_hgrm = earlier.map(|e| crate::render::export::hgrm_names(&e)).unwrap_or_default();
    for stale in earlier_hgrm.iter().filter(|n| !current.contains(n)) {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    let breached = result.thresholds.iter().any(|t| !t.passed);
    let status = RunStatus::of(measured.interrupted, breached, degraded);
    Ok(RunReport { result, path, status })
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

struct Measured {
    tallies: Tallies,
    /// `[workload]`: the agents it was sent to, for the workloads that started.
    dispatched: Vec<Vec<usize>>,
    interrupted: bool,
    /// An agent was lost and the scenario says `on_agent_loss = "abort"`.
    aborted: bool,
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
async fn measure(
    scenario: &Scenario,
    clients: &[AgentClient<Channel>],
    agents: &mut [AgentResult],
    clocks: &[Clock],
    interrupt: &CancellationToken,
) -> Measured {
    let mut tallies = Tallies::new(scenario.workloads.len(), clients.len());
    let mut interrupted = false;
    let mut aborted = false;
    let mut progress = Progress::new(scenario, clients.len());
    let mut dispatched = Vec::with_capacity(scenario.workloads.len());
    for (w, workload) in scenario.workloads.iter().enumerate() {
        // A workload on part of the fleet takes its first agents still answering.
        let wanted = workload.agents.map_or(clients.len(), |n| n as usize);
        let live: Vec<usize> =
            (0..clients.len()).filter(|&a| agents[a].status == "ok").take(wanted).collect();
        if interrupted || aborted || live.is_empty() {
            break;
        }
        dispatched.push(live.clone());
        let max_rtt = live.iter().map(|&a| clocks[a].rtt).max().unwrap_or_default();
        let start = unix_ns(SystemTime::now() + START_MARGIN + max_rtt * 4);
        let (tx, mut rx) = mpsc::channel::<(usize, Delivery)>(1024);
        let mut streams: Vec<Option<tokio::task::AbortHandle>> = vec![None; clients.len()];
        for &a in &live {
            let request = run_request(scenario, w, a, start + clocks[a].offset_ns);
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
        let mut stop_deadline = None;
        while streams.iter().any(Option::is_some) {
            let next = tokio::select! {
                next = rx.recv() => next,
                () = interrupt.cancelled(), if !interrupted => {
                    interrupted = true;
                    progress.clear();
                    println!("interrupted: stopping the agents and keeping what they measured");
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
                        if scenario.on_agent_loss == OnAgentLoss::Abort && !aborted {
                            aborted = true;
                            progress.clear();
                            println!("aborting the run: an agent was lost and on_agent_loss is \"abort\"");
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
                        println!("running {}", describe(workload, live.len()));
                        progress.started(w);
                    }
                    match &*event {
                        pb::run_event::Event::Progress(p) => {
                            // RUST_LOG=fetchbench::run=debug shows each agent's intervals as they
                            // come (tests wait on them for an agent's first progress).
                            tracing::debug!(
                                agent = %agents[a].id,
                                workload = %workload.name,
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
                        None if tallies.get(w, a).duration.is_none() && !interrupted && !aborted => {
                            Some("its stream ended before the workload finished".to_owned())
                        }
                        None => None,
                    };
                    if let Some(reason) = reason {
                        lose(&mut agents[a], reason);
                        if scenario.on_agent_loss == OnAgentLoss::Abort && !aborted {
                            aborted = true;
                            progress.clear();
                            println!("aborting the run: an agent was lost and on_agent_loss is \"abort\"");
                            stop_live(&streams).await;
                            stop_deadline = Some(tokio::time::Instant::now() + STOP_GRACE);
                        }
                    }
                }
            }
        }
        progress.done(w);
        let (ops, errors) =
            live.iter().map(|&a| tallies.get(w, a)).fold((0, 0), |(o, e), t| (o + t.ops, e + t.errors()));
        println!("  done: {ops} ops, {errors} errors");
    }
    Measured { tallies, dispatched, interrupted, aborted }
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

fn lose(agent: &mut AgentResult, reason: String) {
    if agent.status == "ok" {
        eprintln!("fetchbench: {} ({}) lost: {reason}", agent.id, agent.address);
        agent.status = "lost".into();
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

/// The Run request for workload `w` on agent `agent`, with this agent's own key seed and the
/// start instant on the agent's clock.
fn run_request(scenario: &Scenario, w: usize, agent: usize, start_at_unix_ns: i64) -> pb::RunRequest {
    let workload = &scenario.workloads[w];
    let (requests, duration_ms) = split(Some(workload.stop));
    let (warmup_requests, warmup_ms) = split(workload.warmup);
    let kind = match workload.keys {
        KeyDist::Uniform => pb::key_choice::Kind::Uniform(pb::Uniform {}),
        KeyDist::Sequential => pb::key_choice::Kind::Sequential(pb::Sequential {}),
        KeyDist::Zipf(exponent) => pb::key_choice::Kind::Zipf(pb::Zipf { exponent }),
        KeyDist::HotSet(key_fraction, request_share) => {
            pb::key_choice::Kind::Hotset(pb::HotSet { key_fraction, request_share })
        }
    };
    let (range_start, range_length) =
        workload.range.map_or((0, 0), |(first, last)| (first, last - first + 1));
    let spec = pb::Workload {
        name: workload.name.clone(),
        target: match workload.target {
            Target::Redis => pb::Target::Redis,
            Target::S3 => pb::Target::S3,
            Target::CacheAside => pb::Target::CacheAside,
        }
        .into(),
        concurrency: workload.concurrency,
        requests,
        duration_ms,
        warmup_requests,
        warmup_ms,
        keys: Some(pb::KeyChoice { kind: Some(kind) }),
        timeout_ms: u64::try_from(workload.timeout.as_millis()).unwrap_or(u64::MAX),
        seed: key_seed(scenario.dataset.seed, w, agent),
        rate: workload.rate.unwrap_or(0.0),
        set_share: workload.set_share,
        pipeline: workload.pipeline,
        busy_poll_us: workload.busy_poll.map_or(0, |d| d.as_micros() as u64),
        ttl_ms: workload.ttl.map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)),
        range_start,
        range_length,
    };
    pb::RunRequest { workloads: vec![spec], interval_ms: INTERVAL.as_millis() as u64, start_at_unix_ns }
}

/// `(requests, milliseconds)` of an amount, as the proto carries it.
fn split(amount: Option<Amount>) -> (u64, u64) {
    match amount {
        None => (0, 0),
        Some(Amount::Requests(n)) => (n, 0),
        Some(Amount::Duration(d)) => (0, u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)),
    }
}

/// A key-stream seed per scenario seed, workload and agent, so agents do not read in lockstep.
fn key_seed(seed: u64, workload: usize, agent: usize) -> u64 {
    let mut z = seed ^ ((workload as u64) << 32 | agent as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^ (z >> 31)
}

/// What `scenario` would run `place` ("on this machine"), for `run --dry-run`: the agents, the
/// data, each workload as the run announces it, and the thresholds.
pub fn plan(scenario: &crate::scenario::Scenario, place: &str) -> String {
    let agents = scenario.agents as usize;
    let d = &scenario.dataset;
    let cache = match d.cache {
        crate::scenario::CacheStart::Warm => "in S3 and Redis",
        crate::scenario::CacheStart::Cold => "in S3 only (cold cache)",
    };
    let mut out = format!(
        "scenario {:?}, {agents} agent{} {place}; {} objects of {} {cache}, seed {}\n",
        scenario.name,
        if agents == 1 { "" } else { "s" },
        d.objects,
        d.describe_sizes(),
        d.seed
    );
    for w in &scenario.workloads {
        out += &format!("  {}\n", describe(w, w.agents.map_or(agents, |n| n as usize)));
    }
    for (key, limit) in &scenario.thresholds {
        let upper = key
            .rsplit_once('.')
            .and_then(|(_, m)| crate::scenario::Metric::parse(m))
            .is_none_or(|m| m.is_upper_bound());
        out += &format!("  threshold {key} {} {limit}\n", if upper { "<=" } else { ">=" });
    }
    out += &format!("  {}\n", planned_time(scenario));
    out += "dry run: the scenario and flags are valid; nothing was started\n";
    out
}

/// How long the workloads' phases will take, as far as the scenario decides it: durations, and
/// an open loop's requests at its rate (a closed loop's requests take what the stores take).
fn planned_time(scenario: &crate::scenario::Scenario) -> String {
    let mut known = Duration::ZERO;
    let (mut counted, mut counted_warmups) = (0, 0);
    for w in &scenario.workloads {
        let phases = std::iter::once((w.stop, false)).chain(w.warmup.map(|a| (a, true)));
        for (amount, warmup) in phases {
            match (amount, w.rate) {
                (Amount::Duration(d), _) => known = known.saturating_add(d),
                (Amount::Requests(n), Some(rate)) => {
                    let d = Duration::try_from_secs_f64(n as f64 / rate).unwrap_or(Duration::MAX);
                    known = known.saturating_add(d);
                }
                (Amount::Requests(_), None) if warmup => counted_warmups += 1,
                (Amount::Requests(_), None) => counted += 1,
            }
        }
    }
    if counted == scenario.workloads.len() {
        return "time: set by how fast the stores answer (every workload counts requests)".to_owned();
    }
    let known = humantime::format_duration(Duration::from_secs(
        known.as_secs().saturating_add(u64::from(known.subsec_millis() >= 500)),
    ));
    let mut text =
        if counted == 0 { format!("time: about {known}") } else { format!("time: at least {known}") };
    if counted > 0 {
        text +=
            &format!(", plus {counted} workload{} counted in requests", if counted == 1 { "" } else { "s" });
    }
    if counted_warmups > 0 {
        text += ", plus warm-ups counted in requests";
    }
    text + ", plus seeding"
}

fn describe(w: &crate::scenario::Workload, agents: usize) -> String {
    let warmup = w.warmup.map(|a| format!(" after {a} of warm-up")).unwrap_or_default();
    let load = match w.rate {
        Some(rate) => format!(
            "open loop at {rate} ops/s over {} connection{}",
            w.concurrency,
            if w.concurrency == 1 { "" } else { "s" }
        ),
        None if w.pipeline > 1 => {
            format!("{} connections x pipeline {} in flight", w.concurrency, w.pipeline)
        }
        None => format!("{} in flight", w.concurrency),
    };
    let load = match w.busy_poll {
        Some(d) => format!("{load}, busy-polling up to {}", humantime::format_duration(d)),
        None => load,
    };
    let keys = match w.range {
        Some((first, last)) => format!("{}, bytes {first}-{last} of each object", w.keys),
        None => w.keys.to_string(),
    };
    format!(
        "{} ({}, {agents} agent{} x {load}, {} per agent{warmup}, keys {})",
        w.name,
        w.target.as_str(),
        if agents == 1 { "" } else { "s" },
        w.stop,
        keys
    )
}

/// `dataset.csv`: every object's keys and size, so a run can be reproduced and its sizes checked.
fn write_dataset_csv(
    dir: &std::path::Path,
    dataset: &fetchbench_proto::dataset::Dataset,
) -> Result<(), Error> {
    use std::io::Write;
    if dataset.objects > DATASET_CSV_MAX_OBJECTS {
        return Ok(());
    }
    let path = dir.join("dataset.csv");
    let write = || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(out, "index,s3_key,size_bytes")?;
        for i in 0..dataset.objects {
            writeln!(out, "{i},{},{}", fetchbench_proto::dataset::Dataset::s3_key(i), dataset.size(i))?;
        }
        out.flush()
    };
    write().map_err(|source| Error::Output { path: path.clone(), source })
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

/// The results folder: `out` when given, else `results/<name>-<UTC timestamp>/` (with a suffix
/// when two runs start in the same second).
fn output_dir(out: Option<&PathBuf>, name: &str, started: SystemTime) -> Result<PathBuf, Error> {
    let output = |path: &PathBuf, source| Error::Output { path: path.clone(), source };
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|e| output(dir, e))?;
        return Ok(dir.clone());
    }
    let stamp: String = humantime::format_rfc3339_seconds(started)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let base = PathBuf::from("results");
    std::fs::create_dir_all(&base).map_err(|e| output(&base, e))?;
    for n in 1.. {
        let dir = if n == 1 {
            base.join(format!("{name}-{stamp}"))
        } else {
            base.join(format!("{name}-{stamp}-{n}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(output(&dir, e)),
        }
    }
    unreachable!("the loop returns")
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

    #[test]
    fn planned_time_adds_timed_phases_and_saturates() {
        let mut scenario = crate::scenario::Scenario::seed();
        assert_eq!(
            planned_time(&scenario),
            "time: set by how fast the stores answer (every workload counts requests)"
        );
        scenario.workloads[0].stop = Amount::Duration(Duration::from_millis(1500));
        scenario.workloads[1].rate = Some(4.0); // 199 + 1 requests at 4/s: 50 s
        assert_eq!(
            planned_time(&scenario),
            "time: about 52s, plus warm-ups counted in requests, plus seeding"
        );
        // Absurd but valid input neither overflows nor panics.
        scenario.workloads[1].stop = Amount::Requests(u64::MAX);
        scenario.workloads[1].rate = Some(1e-9);
        assert!(planned_time(&scenario).starts_with("time: about "), "{}", planned_time(&scenario));
    }

    #[test]
    fn run_requests_carry_the_open_loop_and_the_start() {
        let text = "name = \"x\"\n[dataset]\nobjects = 10\nsize = 10\n[[workload]]\nname = \"w\"\n\
                    target = \"cache-aside\"\nduration = \"2s\"\nrate = 500.0\nttl = \"30s\"\nrange = \"0-99\"\n";
        let scenario = Scenario::parse(text, "t.toml").expect("valid");
        let req = run_request(&scenario, 0, 3, 42);
        assert_eq!(req.start_at_unix_ns, 42);
        let w = &req.workloads[0];
        assert_eq!((w.rate, w.ttl_ms, w.range_start, w.range_length), (500.0, 30_000, 0, 100));
        assert_eq!((w.requests, w.duration_ms), (0, 2_000));
        assert_eq!(w.target(), pb::Target::CacheAside);
    }

    #[test]
    fn agents_get_different_key_seeds() {
        let seeds: std::collections::HashSet<u64> =
            (0..4).flat_map(|w| (0..64).map(move |a| key_seed(1, w, a))).collect();
        assert_eq!(seeds.len(), 4 * 64);
    }
}
