//! The workload engine: closed-loop workers (each slot sends its next request when the last one
//! ended) that run a warm-up phase, then the measured phase, and a collector that drains the
//! recorders once per interval into a `Progress` event.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use fetchbench_proto as pb;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::dataset::mix;
use crate::driver::Driver;
use crate::keys::{KeyDist, KeySampler};
use crate::outcome::{Failure, Outcome};
use crate::record::{Interval, Recorders};

/// Where run events go: the Run rpc's response stream.
pub type Events = mpsc::Sender<Result<pb::RunEvent, Status>>;

/// What ends a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// After this many requests (successful or not) on this agent.
    Requests(u64),
    /// After this long.
    Duration(Duration),
}

/// Which target a workload reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// Redis GET.
    Redis,
    /// S3 GetObject.
    S3,
}

/// A validated workload, as this agent runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadPlan {
    /// Name from the scenario.
    pub name: String,
    /// Target read from.
    pub target: TargetKind,
    /// Requests in flight.
    pub concurrency: usize,
    /// End of the measured phase.
    pub stop: Stop,
    /// End of the warm-up phase; `None` for no warm-up.
    pub warmup: Option<Stop>,
    /// Key choice.
    pub keys: KeyDist,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Seed of this agent's key streams.
    pub seed: u64,
}

/// Largest concurrency an agent accepts per workload.
pub const MAX_CONCURRENCY: usize = 100_000;

impl TryFrom<&pb::Workload> for WorkloadPlan {
    type Error = String;

    fn try_from(w: &pb::Workload) -> Result<Self, String> {
        let name = &w.name;
        let target = match pb::Target::try_from(w.target) {
            Ok(pb::Target::Redis) => TargetKind::Redis,
            Ok(pb::Target::S3) => TargetKind::S3,
            _ => return Err(format!("workload {name}: target {} is not redis or s3", w.target)),
        };
        let concurrency = w.concurrency as usize;
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            return Err(format!(
                "workload {name}: concurrency {concurrency} is not in 1..={MAX_CONCURRENCY}"
            ));
        }
        let stop = match (w.requests, w.duration_ms) {
            (0, 0) => return Err(format!("workload {name}: neither requests nor duration_ms is set")),
            (0, ms) => Stop::Duration(Duration::from_millis(ms)),
            (n, _) => Stop::Requests(n),
        };
        let warmup = match (w.warmup_requests, w.warmup_ms) {
            (0, 0) => None,
            (0, ms) => Some(Stop::Duration(Duration::from_millis(ms))),
            (n, _) => Some(Stop::Requests(n)),
        };
        let keys = match w.keys.as_ref().and_then(|k| k.kind.as_ref()) {
            None | Some(pb::key_choice::Kind::Uniform(_)) => KeyDist::Uniform,
            Some(pb::key_choice::Kind::Sequential(_)) => KeyDist::Sequential,
            Some(pb::key_choice::Kind::Zipf(z)) => KeyDist::Zipf { exponent: z.exponent },
            Some(pb::key_choice::Kind::Hotset(h)) => {
                KeyDist::HotSet { key_fraction: h.key_fraction, request_share: h.request_share }
            }
        };
        // Refuse bad key parameters here, where the caller still gets an answer.
        KeySampler::new(keys, 1, 0, 1).map_err(|e| format!("workload {name}: {e}"))?;
        if w.timeout_ms == 0 {
            return Err(format!("workload {name}: timeout_ms is 0"));
        }
        Ok(WorkloadPlan {
            name: name.clone(),
            target,
            concurrency,
            stop,
            warmup,
            keys,
            timeout: Duration::from_millis(w.timeout_ms),
            seed: w.seed,
        })
    }
}

/// Run one workload (warm-up, then measured) with one driver per slot, streaming its progress,
/// and return its totals. Cancelling `cancel` ends it early, with what was measured so far.
pub async fn run_workload(
    index: u32,
    plan: &WorkloadPlan,
    drivers: Vec<Driver>,
    objects: u64,
    interval: Duration,
    events: &Events,
    cancel: &CancellationToken,
) -> pb::WorkloadDone {
    let phase = Phase { index, plan, drivers: &drivers, objects, interval, events, cancel };
    if let Some(warmup) = plan.warmup {
        phase.run(true, warmup).await;
    }
    let measured = phase.run(false, plan.stop).await;
    pb::WorkloadDone {
        workload: index,
        ops: measured.totals.ops,
        errors: measured.totals.total_errors(),
        duration_us: u64::try_from(measured.duration.as_micros()).unwrap_or(u64::MAX),
        stopped: cancel.is_cancelled(),
    }
}

struct Phase<'a> {
    index: u32,
    plan: &'a WorkloadPlan,
    drivers: &'a [Driver],
    objects: u64,
    interval: Duration,
    events: &'a Events,
    cancel: &'a CancellationToken,
}

struct PhaseEnd {
    totals: Interval,
    duration: Duration,
}

impl Phase<'_> {
    async fn run(&self, warmup: bool, stop: Stop) -> PhaseEnd {
        let plan = self.plan;
        let slots = self.drivers.len();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let recorders = Arc::new(Recorders::new(slots, cores));
        let start = Instant::now();
        let budget = Arc::new(Budget::new(stop, start));
        let mut workers = JoinSet::new();
        for (slot, driver) in self.drivers.iter().enumerate() {
            let keys = KeySampler::new(plan.keys, self.objects, slot as u64, slots as u64)
                .expect("key parameters were validated with the plan");
            let rng = ChaCha8Rng::seed_from_u64(mix(plan.seed, 2 * slot as u64 + u64::from(warmup)));
            let worker = Worker { slot, driver: driver.clone(), keys, rng, timeout: plan.timeout };
            workers.spawn(worker.run(budget.clone(), recorders.clone()));
        }

        let mut ticker = tokio::time::interval_at(start + self.interval, self.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut totals = Interval::empty();
        let mut last = start;
        let mut aborted = false;
        loop {
            tokio::select! {
                // Once only: a branch that is always ready would starve the aborted workers on a
                // single-threaded runtime.
                () = self.cancel.cancelled(), if !aborted => {
                    workers.abort_all();
                    aborted = true;
                }
                _ = ticker.tick() => {
                    let now = Instant::now();
                    self.flush(warmup, &recorders, &mut totals, start, last, now).await;
                    last = now;
                }
                joined = workers.join_next() => if joined.is_none() { break },
            }
        }
        let end = Instant::now();
        self.flush(warmup, &recorders, &mut totals, start, last, end).await;
        PhaseEnd { totals, duration: end - start }
    }

    /// Send what was recorded in `[from, to)` and add it to `totals`.
    async fn flush(
        &self,
        warmup: bool,
        recorders: &Recorders,
        totals: &mut Interval,
        start: Instant,
        from: Instant,
        to: Instant,
    ) {
        let delta = recorders.drain();
        let progress = pb::Progress {
            workload: self.index,
            warmup,
            elapsed_ms: millis(to - start),
            interval_ms: millis(to - from),
            ops: delta.ops,
            errors: delta.total_errors(),
            errors_by_kind: Failure::ALL
                .iter()
                .filter(|k| delta.errors[k.index()] > 0)
                .map(|k| (k.as_str().to_owned(), delta.errors[k.index()]))
                .collect(),
            histogram: delta.serialized_histogram(),
        };
        totals.absorb(&delta);
        let event = pb::RunEvent { event: Some(pb::run_event::Event::Progress(progress)) };
        if self.events.send(Ok(event)).await.is_err() {
            // Nobody is listening any more: the controller left, so stop the load.
            self.cancel.cancel();
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The requests or time a phase has left, shared by its workers.
#[derive(Debug)]
enum Budget {
    Requests(AtomicI64),
    Until(Instant),
}

impl Budget {
    fn new(stop: Stop, start: Instant) -> Self {
        match stop {
            Stop::Requests(n) => Budget::Requests(AtomicI64::new(i64::try_from(n).unwrap_or(i64::MAX))),
            Stop::Duration(d) => Budget::Until(start + d),
        }
    }

    /// Claim the right to send one more request.
    fn take(&self) -> bool {
        match self {
            Budget::Requests(left) => left.fetch_sub(1, Ordering::Relaxed) > 0,
            Budget::Until(deadline) => Instant::now() < *deadline,
        }
    }
}

/// First pause after a connection failure; it doubles up to [`MAX_BACKOFF`] while failures last,
/// so a dead target is not hammered in a tight loop.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// One in-flight slot.
struct Worker {
    slot: usize,
    driver: Driver,
    keys: KeySampler,
    rng: ChaCha8Rng,
    timeout: Duration,
}

impl Worker {
    async fn run(mut self, budget: Arc<Budget>, recorders: Arc<Recorders>) {
        let mut backoff = FIRST_BACKOFF;
        while budget.take() {
            let index = self.keys.next(&mut self.rng);
            let sent = Instant::now();
            let outcome = tokio::time::timeout(self.timeout, self.driver.fetch(index))
                .await
                .unwrap_or(Outcome::Failed(Failure::Timeout));
            recorders.record(self.slot, outcome, sent.elapsed());
            if outcome == Outcome::Failed(Failure::Connection) {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            } else {
                backoff = FIRST_BACKOFF;
            }
        }
    }
}
