//! The gRPC face of the agent: the `fetchbench.agent.v1.Agent` service over the engine.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fetchbench_proto as pb;
use fetchbench_proto::agent_server::{Agent, AgentServer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use fetchbench_proto::dataset::{Generator, STAMP_LEN};
use fetchbench_proto::limits::{MAX_MESSAGE_BYTES, MAX_OBJECT_BYTES};
use fetchbench_proto::wire::{KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT, unix_ns};

use crate::cpu;
use crate::driver::cache_aside::CachePolicy;
use crate::driver::redis::{ConnectError, RedisTarget};
use crate::driver::s3::{S3Config, S3Target};
use crate::driver::{CacheAsideDriver, Driver};
use crate::engine::{self, Events, RunContext, Slots};
use crate::keys::KeyDist;
use crate::pace::Pacer;
use crate::plan::{TargetKind, WorkloadPlan};
use crate::seed;
use crate::verify::Verifier;

/// Longest the agent agrees to wait for a synchronized start.
const MAX_START_DELAY: Duration = Duration::from_secs(60);
/// Shortest progress interval the agent agrees to, milliseconds.
const MIN_INTERVAL_MS: u64 = 10;
/// Events buffered between the engine and a slow controller.
const EVENT_BUFFER: usize = 256;

/// Serve the agent in plaintext on `listener` until `shutdown` completes; a run in progress is
/// stopped first. For in-process tests: the `fetchbench-agent` binary serves [`serve_tls`] only.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve_with(Server::builder(), listener, shutdown).await
}

/// Serve the agent over TLS on `listener` until `shutdown` completes. With a client CA in `tls`
/// (see [`crate::tls::TlsFiles`]) only clients holding a certificate it signed get through.
pub async fn serve_tls(
    listener: TcpListener,
    tls: ServerTlsConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve_with(Server::builder().tls_config(tls)?, listener, shutdown).await
}

async fn serve_with(
    builder: Server,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    // Read before the first Hello, whose round trip the controller times.
    let _ = cpu::idle();
    let service = AgentService::default();
    let state = service.clone();
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    builder
        // Find a vanished controller (laptop asleep, network gone) within a few seconds even when
        // no packet says so: its Run stream then drops and the load stops.
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        // A Run request carries each agent's share of a replayed trace whole.
        .add_service(AgentServer::new(service).max_decoding_message_size(MAX_MESSAGE_BYTES))
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.await;
            state.stop_run();
        })
        .await
}

/// The agent's state behind the rpc handlers. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct AgentService {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    prepared: Option<Arc<Prepared>>,
    /// Cancels the run in progress.
    run: Option<CancellationToken>,
}

/// Targets connected and checked by Prepare.
#[derive(Debug)]
struct Prepared {
    dataset: Arc<Generator>,
    redis: Option<RedisTarget>,
    s3: Option<S3Target>,
    /// The S3 Express One Zone directory bucket.
    s3_express: Option<S3Target>,
}

impl AgentService {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Cancel the run in progress; true when there was one.
    fn stop_run(&self) -> bool {
        match &self.lock().run {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Claim the agent for a run of `plans`, returning what Prepare connected and the run's
    /// cancel token. Refused while another run is in progress, before Prepare, and when a plan
    /// needs a target Prepare did not name.
    fn begin_run(&self, plans: &[WorkloadPlan]) -> Result<(Arc<Prepared>, CancellationToken), Status> {
        let mut state = self.lock();
        if state.run.is_some() {
            return Err(Status::failed_precondition("a run is already in progress"));
        }
        let prepared = state
            .prepared
            .clone()
            .ok_or_else(|| Status::failed_precondition("the agent is not prepared; send Prepare first"))?;
        for plan in plans {
            prepared.check_can_run(plan)?;
        }
        let cancel = CancellationToken::new();
        state.run = Some(cancel.clone());
        Ok((prepared, cancel))
    }

    /// The run is over: the agent takes the next one. When the controller went away, its
    /// preparation went with it: back to idle, ready for whoever prepares next.
    fn end_run(&self, controller_lost: bool) {
        let mut state = self.lock();
        // Run refuses to start while `run` is set, so the token there is the ending run's.
        state.run = None;
        if controller_lost {
            state.prepared = None;
            tracing::warn!("the controller went away mid-run; load stopped, agent idle");
        }
    }
}

impl Prepared {
    /// Whether `plan` can run on these targets: the ones it reads from were prepared, and
    /// busy-polling has a Redis that allows it.
    fn check_can_run(&self, plan: &WorkloadPlan) -> Result<(), Status> {
        let (redis, s3) = (self.redis.is_none(), self.s3.is_none());
        let missing = match plan.target {
            TargetKind::Redis => redis.then_some("redis"),
            TargetKind::S3 => s3.then_some("s3"),
            TargetKind::CacheAside => (redis || s3).then_some("redis and s3"),
            TargetKind::S3Express => self.s3_express.is_none().then_some("s3-express"),
        };
        if let Some(target) = missing {
            return Err(Status::failed_precondition(format!(
                "workload {} reads from {target}, but Prepare named no {target} target",
                plan.name
            )));
        }
        if let KeyDist::Trace(share) = &plan.keys
            && let Some(i) = share.index.iter().find(|&&i| i >= self.dataset.total())
        {
            return Err(Status::invalid_argument(format!(
                "workload {}: the trace reads object {i}, but the prepared dataset has {} objects",
                plan.name,
                self.dataset.total()
            )));
        }
        if !plan.busy_poll.is_zero() && self.redis.as_ref().is_some_and(|r| !r.can_busy_poll()) {
            return Err(Status::failed_precondition(format!(
                "workload {}: busy_poll needs a single Redis node over plain TCP with RESP2 \
                 (not TLS, RESP3 or a cluster); remove busy_poll",
                plan.name
            )));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl Agent for AgentService {
    async fn hello(&self, _: Request<pb::HelloRequest>) -> Result<Response<pb::HelloReply>, Status> {
        let state = {
            let s = self.lock();
            match (&s.run, &s.prepared) {
                (Some(_), _) => pb::AgentState::Running,
                (None, Some(_)) => pb::AgentState::Prepared,
                (None, None) => pb::AgentState::Idle,
            }
        };
        Ok(Response::new(pb::HelloReply {
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            hostname: hostname(),
            cores: engine::cores() as u32,
            arch: std::env::consts::ARCH.to_owned(),
            os: std::env::consts::OS.to_owned(),
            agent_time_unix_ns: unix_ns(SystemTime::now()),
            state: state.into(),
            cpu_idle: cpu::idle().to_owned(),
        }))
    }

    async fn prepare(
        &self,
        request: Request<pb::PrepareRequest>,
    ) -> Result<Response<pb::PrepareReply>, Status> {
        let req = request.into_inner();
        if self.lock().run.is_some() {
            return Err(Status::failed_precondition("a run is in progress; send Stop first"));
        }
        let dataset = Arc::new(validate_dataset(req.dataset.as_ref())?);
        let redis = match &req.redis {
            Some(r) => Some(connect_redis(r, &dataset).await?),
            None => None,
        };
        let s3 = match &req.s3 {
            Some(s) => Some(s3_target(s, &dataset, false).await?),
            None => None,
        };
        let s3_express = match &req.s3_express {
            Some(s) => Some(s3_target(s, &dataset, true).await?),
            None => None,
        };
        let buckets: Vec<&S3Target> = s3.iter().chain(&s3_express).collect();
        let (seeded, seed_duration_ms) = fill_targets(&req, &dataset, redis.as_ref(), &buckets).await?;
        let redis_shards = match &redis {
            Some(r) => r.shards().await.unwrap_or(0),
            None => 0,
        };
        self.lock().prepared = Some(Arc::new(Prepared { dataset, redis, s3, s3_express }));
        Ok(Response::new(pb::PrepareReply {
            objects_written: seeded.objects,
            bytes_written: seeded.bytes,
            seed_duration_ms,
            redis_shards,
        }))
    }

    type RunStream = ReceiverStream<Result<pb::RunEvent, Status>>;

    async fn run(&self, request: Request<pb::RunRequest>) -> Result<Response<Self::RunStream>, Status> {
        let req = request.into_inner();
        let plans = plans_of(&req.workloads)?;
        let interval = Duration::from_millis(req.interval_ms.max(MIN_INTERVAL_MS));
        let start_at = local_start(req.start_at_unix_ns)?;
        let (prepared, cancel) = self.begin_run(&plans)?;
        let (events, rx) = mpsc::channel(EVENT_BUFFER);
        // The run's own pacer, on this runtime; it stops when the run ends.
        let clock_ahead_ns = req.clock_ahead_ns;
        let run = AcceptedRun {
            plans,
            prepared,
            interval,
            start_at,
            clock_ahead_ns,
            cancel,
            pacer: Pacer::start(),
            events,
        };
        tokio::spawn(run.execute(self.clone()));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn stop(&self, _: Request<pb::StopRequest>) -> Result<Response<pb::StopReply>, Status> {
        Ok(Response::new(pb::StopReply { was_running: self.stop_run() }))
    }

    async fn server_info(
        &self,
        _: Request<pb::ServerInfoRequest>,
    ) -> Result<Response<pb::ServerInfoReply>, Status> {
        let redis = self.lock().prepared.as_ref().and_then(|p| p.redis.clone());
        let redis = redis.ok_or_else(|| Status::failed_precondition("Prepare named no Redis target"))?;
        let info = redis
            .info()
            .await
            .map_err(|e| Status::unavailable(ConnectError::new(redis.url(), &e).to_string()))?;
        Ok(Response::new(pb::ServerInfoReply { info, agent_time_unix_ns: unix_ns(SystemTime::now()) }))
    }

    async fn reset_cache(
        &self,
        req: Request<pb::ResetCacheRequest>,
    ) -> Result<Response<pb::ResetCacheReply>, Status> {
        let req = req.into_inner();
        if req.maxmemory_bytes < MIN_MAXMEMORY {
            return Err(Status::invalid_argument(format!(
                "maxmemory_bytes {} is below {MIN_MAXMEMORY} (1 MiB)",
                req.maxmemory_bytes
            )));
        }
        let prepared = self.lock().prepared.clone();
        let prepared = prepared.ok_or_else(|| Status::failed_precondition("no Prepare yet"))?;
        let redis = prepared
            .redis
            .clone()
            .ok_or_else(|| Status::failed_precondition("Prepare named no Redis target"))?;
        let refused =
            |e: &redis::RedisError| Status::unavailable(ConnectError::new(redis.url(), e).to_string());
        redis.config_set("maxmemory", &req.maxmemory_bytes.to_string()).await.map_err(|e| refused(&e))?;
        if !req.policy.is_empty() {
            redis.config_set("maxmemory-policy", &req.policy).await.map_err(|e| refused(&e))?;
        }
        let deleted = seed::empty_redis(&prepared.dataset, &redis)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(pb::ResetCacheReply { deleted }))
    }
}

/// The smallest maxmemory ResetCache sets: below it Redis holds next to nothing.
const MIN_MAXMEMORY: u64 = 1 << 20;

/// The workloads of a Run request, validated; refused as a whole when any is invalid.
fn plans_of(workloads: &[pb::Workload]) -> Result<Vec<WorkloadPlan>, Status> {
    let plans = workloads
        .iter()
        .map(WorkloadPlan::try_from)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    if plans.is_empty() {
        return Err(Status::invalid_argument("the run has no workloads"));
    }
    Ok(plans)
}

/// The synchronized start `start_at_unix_ns` on this machine's monotonic clock: now when it
/// has passed, refused when it is further off than [`MAX_START_DELAY`] (clocks far apart).
fn local_start(start_at_unix_ns: i64) -> Result<std::time::Instant, Status> {
    let start_delay = Duration::from_nanos(
        u64::try_from(start_at_unix_ns.saturating_sub(unix_ns(SystemTime::now()))).unwrap_or(0),
    );
    if start_delay > MAX_START_DELAY {
        return Err(Status::invalid_argument(format!(
            "start_at_unix_ns is {start_delay:?} away, more than {MAX_START_DELAY:?}; check the clocks"
        )));
    }
    Ok(std::time::Instant::now() + start_delay)
}

/// A run the Run rpc accepted: everything its task needs.
struct AcceptedRun {
    plans: Vec<WorkloadPlan>,
    prepared: Arc<Prepared>,
    /// Period of progress events and heartbeats.
    interval: Duration,
    /// The synchronized start of the load.
    start_at: std::time::Instant,
    /// This agent's clock minus the controller's, nanoseconds.
    clock_ahead_ns: i64,
    /// Cancelled by Stop, shutdown or a controller gone away.
    cancel: CancellationToken,
    pacer: Pacer,
    /// The Run response stream.
    events: Events,
}

impl AcceptedRun {
    /// Run the workloads one after another with heartbeats beside them, then free `service`
    /// for the next run.
    async fn execute(self, service: AgentService) {
        let finished = CancellationToken::new();
        let watchdog = tokio::spawn(heartbeat_until(
            finished.clone(),
            self.events.clone(),
            self.cancel.clone(),
            self.interval,
        ));
        self.run_workloads().await;
        finished.cancel();
        let controller_lost = watchdog.await.unwrap_or(false);
        service.end_run(controller_lost);
    }

    /// Each workload in turn, its totals sent when it is done, until the end, a cancel or a
    /// closed stream.
    async fn run_workloads(&self) {
        // Connect every workload's slots first, so that the synchronized start is the start of
        // the load, not of the connection set-up.
        let mut slots = Vec::with_capacity(self.plans.len());
        for plan in &self.plans {
            slots.push(slots_for(&self.prepared, plan, self.clock_ahead_ns).await);
        }
        let ctx = RunContext {
            interval: self.interval,
            events: &self.events,
            cancel: &self.cancel,
            pacer: &self.pacer,
            objects: self.prepared.dataset.objects,
        };
        for (index, (plan, slots)) in self.plans.iter().zip(slots).enumerate() {
            if self.cancel.is_cancelled() {
                break;
            }
            let done = engine::run_workload(index as u32, plan, slots, &ctx, self.start_at).await;
            let event = pb::RunEvent { event: Some(pb::run_event::Event::Done(done)) };
            if self.events.send(Ok(event)).await.is_err() {
                break;
            }
        }
    }
}

/// Send a heartbeat every `interval` until `finished`. A dropped response stream (or a
/// connection the keep-alive pings found dead) means the controller left: cancel the load and
/// return true.
async fn heartbeat_until(
    finished: CancellationToken,
    events: Events,
    cancel: CancellationToken,
    interval: Duration,
) -> bool {
    let mut beat = tokio::time::interval(interval);
    loop {
        tokio::select! {
            () = events.closed() => {
                cancel.cancel();
                return true;
            }
            () = finished.cancelled() => return false,
            _ = beat.tick() => {
                let heartbeat = pb::Heartbeat { agent_time_unix_ns: unix_ns(SystemTime::now()) };
                let event = pb::RunEvent { event: Some(pb::run_event::Event::Heartbeat(heartbeat)) };
                // Never wait on a full stream: the progress behind it says as much.
                let _ = events.try_send(Ok(event));
            }
        }
    }
}

/// One driver per slot: its own connection for Redis, a shared pool for S3. A Redis that cannot be
/// reached now does not stop the run: its slots count connection errors and keep trying.
async fn slots_for(prepared: &Prepared, plan: &WorkloadPlan, clock_ahead_ns: i64) -> Slots {
    // Cache-aside hashes the value it returns itself, from Redis or from S3.
    let hashes = plan.verify && plan.target != TargetKind::CacheAside;
    let redis_drivers = || async {
        let redis = prepared.redis.as_ref().expect("checked when the run started");
        let redis = match (plan.target, plan.range) {
            (TargetKind::Redis, Some((start, length))) => redis.with_range(start, length),
            _ => redis.clone(),
        };
        let redis = redis.with_busy_poll(plan.busy_poll).with_verify(hashes);
        futures_util::future::join_all((0..plan.concurrency).map(|_| redis.driver())).await
    };
    let s3 = || {
        let s3 = match plan.target {
            TargetKind::S3Express => prepared.s3_express.as_ref(),
            _ => prepared.s3.as_ref(),
        };
        let s3 = s3.expect("checked when the run started");
        let s3 = match plan.range {
            Some((start, length)) => s3.with_range(start, length),
            None => s3.clone(),
        };
        s3.with_verify(hashes)
    };
    let drivers = match plan.target {
        TargetKind::Redis => redis_drivers().await.into_iter().map(Driver::Redis).collect(),
        TargetKind::S3 | TargetKind::S3Express => {
            let s3 = s3();
            (0..plan.concurrency).map(|_| Driver::S3(s3.driver())).collect()
        }
        TargetKind::CacheAside => {
            let s3 = s3();
            let policy = CachePolicy {
                ttl: plan.ttl,
                verify: plan.verify,
                on_write: plan.on_write,
                track_versions: plan.track_versions,
                clock_ahead_ns,
            };
            redis_drivers()
                .await
                .into_iter()
                .map(|r| Driver::CacheAside(CacheAsideDriver::new(r, s3.driver(), policy)))
                .collect()
        }
    };
    let skip = if plan.track_versions { STAMP_LEN } else { 0 };
    let verifier = plan.verify.then(|| Arc::new(Verifier::new(prepared.dataset.clone(), plan.range, skip)));
    Slots { drivers, verifier }
}

/// The Redis target Prepare names, connected once to check that it answers.
async fn connect_redis(r: &pb::RedisTarget, dataset: &Arc<Generator>) -> Result<RedisTarget, Status> {
    let target = RedisTarget::new(&r.url, &r.key_prefix, r.cluster, dataset.clone())
        .map_err(|e| Status::invalid_argument(ConnectError::new(&r.url, &e).to_string()))?;
    target.connect().await.map_err(|e| Status::unavailable(ConnectError::new(&r.url, &e).to_string()))?;
    Ok(target)
}

/// The S3 target Prepare names, holding the dataset's objects; `express` for the S3 Express One
/// Zone directory bucket, whose name must say its zone.
async fn s3_target(s: &pb::S3Target, dataset: &Generator, express: bool) -> Result<S3Target, Status> {
    if s.bucket.is_empty() {
        return Err(Status::invalid_argument("s3 target has no bucket"));
    }
    if express && crate::driver::s3::express_zone(&s.bucket).is_none() {
        return Err(Status::invalid_argument(format!(
            "s3-express bucket {} is not a directory bucket name: want NAME--AZ_ID--x-s3, e.g. \
             fetchbench--use1-az4--x-s3",
            s.bucket
        )));
    }
    let config = S3Config {
        endpoint_url: s.endpoint_url.clone(),
        region: s.region.clone(),
        bucket: s.bucket.clone(),
        force_path_style: s.force_path_style,
        access_key_id: s.access_key_id.clone(),
        secret_access_key: s.secret_access_key.clone(),
        express,
    };
    Ok(S3Target::new(&config, dataset).await)
}

/// Seed the dataset into the targets when the request asks to, returning what was written and
/// how long it took, milliseconds; otherwise only make sure the bucket exists.
async fn fill_targets(
    req: &pb::PrepareRequest,
    dataset: &Generator,
    redis: Option<&RedisTarget>,
    buckets: &[&S3Target],
) -> Result<(seed::Seeded, u64), Status> {
    if !req.seed_data {
        for s3 in buckets {
            seed::ensure_bucket(s3, false).await.map_err(|e| Status::unavailable(e.to_string()))?;
        }
        return Ok((seed::Seeded::default(), 0));
    }
    let started = std::time::Instant::now();
    let seeded = seed::seed(dataset, redis, buckets, req.cold_cache)
        .await
        .map_err(|e| Status::unavailable(format!("seeding failed: {e}")))?;
    Ok((seeded, started.elapsed().as_millis() as u64))
}

fn validate_dataset(d: Option<&pb::Dataset>) -> Result<Generator, Status> {
    let d = d.ok_or_else(|| Status::invalid_argument("prepare request has no dataset"))?;
    let dataset = Generator::from_proto(d).map_err(Status::invalid_argument)?;
    if dataset.max_size() > MAX_OBJECT_BYTES {
        return Err(Status::invalid_argument(format!(
            "dataset objects up to {} bytes are above the limit of {MAX_OBJECT_BYTES} bytes",
            dataset.max_size()
        )));
    }
    Ok(dataset)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_needs_workloads_and_each_must_be_valid() {
        let refused = plans_of(&[]).expect_err("no workloads");
        assert_eq!(
            (refused.code(), refused.message()),
            (tonic::Code::InvalidArgument, "the run has no workloads")
        );
        let bad = pb::Workload {
            name: "w".into(),
            target: pb::Target::Redis.into(),
            concurrency: 1,
            requests: 1,
            ..Default::default()
        };
        let refused = plans_of(&[bad]).expect_err("no timeout");
        assert_eq!(
            (refused.code(), refused.message()),
            (tonic::Code::InvalidArgument, "workload w: timeout_ms is 0")
        );
    }

    #[test]
    fn a_start_in_the_past_is_now_and_one_too_far_ahead_is_refused() {
        let now = std::time::Instant::now();
        let past = local_start(0).expect("a start in the past");
        assert!(past >= now && past - now < Duration::from_secs(1), "{:?} after now", past - now);
        let in_ten = unix_ns(SystemTime::now() + Duration::from_secs(10));
        let ahead = local_start(in_ten).expect("ten seconds ahead").duration_since(now);
        assert!(ahead > Duration::from_secs(9) && ahead < Duration::from_secs(11), "{ahead:?} ahead");
        let far = unix_ns(SystemTime::now() + MAX_START_DELAY + Duration::from_secs(5));
        let refused = local_start(far).expect_err("too far ahead");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(refused.message().ends_with("check the clocks"), "{}", refused.message());
    }
}
