//! The workload engine. Each workload runs a warm-up phase, then the measured phase, with one
//! worker per in-flight slot:
//! - closed loop: a slot sends its next request when the last one ended;
//! - open loop (`rate`): slot j of c sends its k-th request at `start + j/rate + k*c/rate`, one in
//!   flight per slot, so the agent's requests are evenly spaced at `1/rate`; a request's latency is
//!   timed from that intended start (coordinated omission corrected), its service time from the
//!   actual send. A slot that falls behind sends its overdue requests one after another, never
//!   several at once, and a phase with a duration still ends at it: what a slot is behind by
//!   then is not sent but counted as unsent, so an overload shows as unsent requests, not as a
//!   run that outlasts its `--duration` by the time its backlog takes;
//! - a replayed trace: the slots take the agent's records in order from one shared cursor, and
//!   send each when free (fast replay, closed loop) or at its recorded time (timed replay, open
//!   loop, timed from that intended start like a rate's); the phase ends when they are used up.
//!
//! A collector drains the recorders once per interval into a `Progress` event.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use fetchbench_proto as pb;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::cpu::process_cpu_time;
use crate::driver::{Driver, Op};
use crate::keys::{KeyDist, KeySampler, TraceCursor};
use crate::outcome::{Failure, Outcome, Sample};
use crate::pace::Pacer;
use crate::plan::{Stop, WorkloadPlan};
use crate::record::{Interval, Recorders, serialize};
use crate::verify::Verifier;
use fetchbench_proto::dataset::mix;
use fetchbench_proto::wire::unix_ns;

/// Where run events go: the Run rpc's response stream.
pub type Events = mpsc::Sender<Result<pb::RunEvent, Status>>;

/// An open-loop request sent later than this after its intended start counts as late. Closed
/// loop has no intended start, so nothing in it is late.
pub const LATE: Duration = Duration::from_millis(1);

/// Whether a request sent at `sent` started late: only an open loop's requests have an
/// intended start to be late for.
fn is_late(open_loop: bool, intended: Instant, sent: Instant) -> bool {
    open_loop && sent.duration_since(intended) > LATE
}

/// What every workload of a run shares.
#[derive(Debug)]
pub struct RunContext<'a> {
    /// Period of progress events.
    pub interval: Duration,
    /// The Run stream.
    pub events: &'a Events,
    /// Cancelled by Stop, a dropped stream or shutdown.
    pub cancel: &'a CancellationToken,
    /// Precise sleeps.
    pub pacer: &'a Pacer,
    /// Number of objects in the dataset.
    pub objects: u64,
}

/// A workload's in-flight slots: a driver each, and the check of the bodies they read when the
/// workload verifies them.
#[derive(Debug)]
pub struct Slots {
    /// One per slot.
    pub drivers: Vec<Driver>,
    /// With `verify`: what each body read should be.
    pub verifier: Option<Arc<Verifier>>,
}

/// Run one workload (warm-up, then measured) with one driver per slot, streaming its progress,
/// and return its totals. Its load starts at `start`, or at once when that has passed: everything
/// the first phase needs is set up before then, so that agents told to start at one instant do.
/// Cancelling `ctx.cancel` ends it early, with what was measured so far.
pub async fn run_workload(
    index: u32,
    plan: &WorkloadPlan,
    slots: Slots,
    ctx: &RunContext<'_>,
    start: std::time::Instant,
) -> pb::WorkloadDone {
    let start = Instant::from_std(start).max(Instant::now());
    let first_send = Arc::new(AtomicI64::new(0));
    let Slots { drivers, verifier } = slots;
    let mut phase = Phase { index, plan, drivers, verifier, ctx, first_send: first_send.clone() };
    if let Some(warmup) = plan.warmup {
        phase.run(true, warmup, start).await;
    }
    let measured = phase.run(false, plan.stop, start.max(Instant::now())).await;
    let wall = measured.duration.as_secs_f64();
    pb::WorkloadDone {
        workload: index,
        ops: measured.totals.ops,
        errors: measured.totals.total_errors(),
        duration_us: u64::try_from(measured.duration.as_micros()).unwrap_or(u64::MAX),
        stopped: ctx.cancel.is_cancelled(),
        started_at_unix_ns: first_send.load(Ordering::Relaxed),
        target_rate: plan.scheduled_rate(),
        late: measured.totals.late,
        unsent: measured.unsent,
        cpu_utilization: if wall > 0.0 { measured.cpu.as_secs_f64() / (wall * cores() as f64) } else { 0.0 },
    }
}

/// Cores this process may use. Asked once: on Linux the answer reads cgroup files, which is slow
/// enough to stagger the start of many agents on one machine.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

struct Phase<'a> {
    index: u32,
    plan: &'a WorkloadPlan,
    /// One per slot, lent to the slot's worker for a phase and handed back at its end (a
    /// driver owns its connection). Workers aborted by a cancel do not hand theirs back.
    drivers: Vec<Driver>,
    /// With `verify`: the check of each body read.
    verifier: Option<Arc<Verifier>>,
    ctx: &'a RunContext<'a>,
    /// When the workload's first request went out, ns since the Unix epoch; 0 until then.
    first_send: Arc<AtomicI64>,
}

struct PhaseEnd {
    totals: Interval,
    duration: Duration,
    cpu: Duration,
    /// Open loop: requests meant to start before the phase's end that were not sent.
    unsent: u64,
}

impl Phase<'_> {
    /// Run one phase whose load starts at `start`; its workers are ready before then.
    async fn run(&mut self, warmup: bool, stop: Stop, start: Instant) -> PhaseEnd {
        let plan = self.plan;
        let slots = self.drivers.len();
        let recorders = Arc::new(Recorders::new(slots, cores(), plan.timeout));
        let cpu_start = process_cpu_time();
        let budget = Arc::new(Budget::new(stop, start));
        let unsent = Arc::new(AtomicU64::new(0));
        let cursor = match &plan.keys {
            KeyDist::Trace(share) => Some(Arc::new(TraceCursor::new(share.clone()))),
            _ => None,
        };
        let mut workers = JoinSet::new();
        for (slot, driver) in std::mem::take(&mut self.drivers).into_iter().enumerate() {
            let keys = match &cursor {
                Some(cursor) => Keys::Trace(cursor.clone()),
                None => Keys::Drawn(
                    KeySampler::new(&plan.keys, self.ctx.objects, slot as u64, slots as u64)
                        .expect("key parameters were validated with the plan"),
                ),
            };
            let rng = ChaCha8Rng::seed_from_u64(mix(plan.seed, 2 * slot as u64 + u64::from(warmup)));
            let schedule = plan.rate.map(|rate| Schedule::new(start, slot, slots, rate));
            let worker = Worker {
                slot,
                driver,
                keys,
                rng,
                timeout: plan.timeout,
                set_share: plan.set_share,
                write_share: plan.write_share,
                settles: plan.track_versions,
                pipeline: plan.pipeline,
                schedule,
                verifier: self.verifier.clone(),
                pacer: self.ctx.pacer.clone(),
                start,
                first_send: self.first_send.clone(),
            };
            workers.spawn(worker.run(budget.clone(), recorders.clone(), unsent.clone()));
        }

        let interval = self.ctx.interval;
        let mut ticker = tokio::time::interval_at(start + interval, interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut totals = Interval::empty();
        let mut last = (start, cpu_start);
        let mut aborted = false;
        loop {
            tokio::select! {
                // Once only: a branch that is always ready would starve the aborted workers on a
                // single-threaded runtime.
                () = self.ctx.cancel.cancelled(), if !aborted => {
                    workers.abort_all();
                    aborted = true;
                }
                _ = ticker.tick() => last = self.flush(warmup, &recorders, &mut totals, start, last).await,
                joined = workers.join_next() => match joined {
                    Some(Ok(driver)) => self.drivers.push(driver),
                    Some(Err(_aborted)) => {}
                    None => break,
                },
            }
        }
        let (end, cpu_end) = self.flush(warmup, &recorders, &mut totals, start, last).await;
        PhaseEnd {
            totals,
            duration: end - start,
            cpu: cpu_end.saturating_sub(cpu_start),
            unsent: unsent.load(Ordering::Relaxed),
        }
    }

    /// Send what was recorded since `last` and add it to `totals`; returns the new `last`.
    async fn flush(
        &self,
        warmup: bool,
        recorders: &Recorders,
        totals: &mut Interval,
        start: Instant,
        (from, cpu_from): (Instant, Duration),
    ) -> (Instant, Duration) {
        let delta = recorders.drain();
        let (now, cpu_now) = (Instant::now(), process_cpu_time());
        let progress = pb::Progress {
            workload: self.index,
            warmup,
            elapsed_ms: millis(now - start),
            interval_ms: millis(now - from),
            ops: delta.ops,
            errors: delta.total_errors(),
            errors_by_kind: Failure::ALL
                .iter()
                .filter(|k| delta.errors[k.index()] > 0)
                .map(|k| (k.as_str().to_owned(), delta.errors[k.index()]))
                .collect(),
            histogram: serialize(&delta.latency),
            service_histogram: serialize(&delta.service),
            late: delta.late,
            cpu_ns: u64::try_from(cpu_now.saturating_sub(cpu_from).as_nanos()).unwrap_or(u64::MAX),
            ttfb_histogram: serialize(&delta.ttfb),
            hits: delta.hits,
            misses: delta.misses,
            redis_histogram: serialize(&delta.redis),
            s3_histogram: serialize(&delta.s3),
            busy_polled: delta.busy_polled,
            writes: delta.writes,
            stale_reads: delta.stale_reads,
            staleness_histogram: serialize(&delta.staleness),
        };
        totals.absorb(&delta);
        let event = pb::RunEvent { event: Some(pb::run_event::Event::Progress(progress)) };
        if self.ctx.events.send(Ok(event)).await.is_err() {
            // Nobody is listening any more: the controller left, so stop the load.
            self.ctx.cancel.cancel();
        }
        (now, cpu_now)
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

    /// Claim the right to send one more request, meant to start at `at`.
    fn take(&self, at: Instant) -> bool {
        match self {
            Budget::Requests(left) => left.fetch_sub(1, Ordering::Relaxed) > 0,
            Budget::Until(deadline) => at < *deadline,
        }
    }

    /// The end of a phase with a duration: nothing is sent from then on, however far behind.
    fn deadline(&self) -> Option<Instant> {
        match self {
            Budget::Requests(_) => None,
            Budget::Until(deadline) => Some(*deadline),
        }
    }
}

/// One open-loop slot's fixed schedule: `first + k * period`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Schedule {
    next: Instant,
    period: Duration,
}

impl Schedule {
    /// Slot `slot` of `slots` sharing `rate` requests per second, from `start`: each slot sends
    /// every `slots / rate` seconds, and slot j is offset by `j / rate` so that together they send
    /// evenly every `1 / rate`.
    fn new(start: Instant, slot: usize, slots: usize, rate: f64) -> Self {
        Schedule {
            next: start + Duration::from_secs_f64(slot as f64 / rate),
            period: Duration::from_secs_f64(slots as f64 / rate),
        }
    }

    /// The intended start of the next request; advances the schedule.
    fn advance(&mut self) -> Instant {
        let at = self.next;
        self.next += self.period;
        at
    }

    /// How many requests are left on the schedule before `deadline`, the next one included.
    fn left_before(&self, deadline: Instant) -> u64 {
        let span = deadline.saturating_duration_since(self.next).as_nanos();
        let period = self.period.as_nanos().max(1);
        u64::try_from(span.div_ceil(period)).unwrap_or(u64::MAX)
    }
}

/// How long before a phase's start its slots wake once to get ready: see [`Worker::wake_early`].
const EARLY_WAKE: Duration = Duration::from_millis(5);

/// First pause after a connection failure in closed loop; it doubles up to [`MAX_BACKOFF`] while
/// failures last, so a dead target is not hammered in a tight loop. (Open loop keeps its schedule.)
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Where a slot's keys come from.
enum Keys {
    /// Its own seeded draws.
    Drawn(KeySampler),
    /// The phase's shared trace cursor.
    Trace(Arc<TraceCursor>),
}

/// One in-flight slot.
struct Worker {
    slot: usize,
    driver: Driver,
    keys: Keys,
    rng: ChaCha8Rng,
    timeout: Duration,
    set_share: f64,
    /// Cache-aside: share of requests that write.
    write_share: f64,
    /// Whether each request is settled after it is timed (see [`Driver::settle`]).
    settles: bool,
    pipeline: usize,
    schedule: Option<Schedule>,
    /// With `verify`: checks each body read, after its request is timed.
    verifier: Option<Arc<Verifier>>,
    pacer: Pacer,
    /// The phase's start: a closed-loop slot waits for it, an open-loop schedule begins there.
    start: Instant,
    /// The workload's first send, shared by its workers; see [`Phase::first_send`].
    first_send: Arc<AtomicI64>,
}

impl Worker {
    /// Send requests until the budget is spent; returns the driver for the next phase. An
    /// open-loop slot still behind at a phase's deadline adds what it did not send to `unsent`.
    async fn run(mut self, budget: Arc<Budget>, recorders: Arc<Recorders>, unsent: Arc<AtomicU64>) -> Driver {
        if self.pipeline > 1 {
            return self.run_pipelined(budget, recorders).await;
        }
        let mut backoff = Backoff::default();
        self.wake_early().await;
        let mut request = self.next_request();
        let timed_trace = request.is_some_and(|(_, _, at)| at.is_some());
        let open_loop = self.schedule.is_some() || timed_trace;
        if !open_loop {
            self.pacer.sleep_until(self.start.into_std()).await;
        }
        let mut first = self.first_send.load(Ordering::Relaxed) == 0;
        while let Some((op, index, recorded)) = request {
            let intended = match (&mut self.schedule, recorded) {
                (None, Some(after)) => {
                    let at = self.start + after;
                    if !budget.take(at) {
                        break;
                    }
                    self.pacer.sleep_until(at.into_std()).await;
                    if let Some(deadline) = budget.deadline()
                        && Instant::now() >= deadline
                        && let Keys::Trace(cursor) = &self.keys
                    {
                        unsent.fetch_add(1 + cursor.skip_before(deadline - self.start), Ordering::Relaxed);
                        break;
                    }
                    at
                }
                (Some(schedule), _) => {
                    let at = schedule.next;
                    if !budget.take(at) {
                        break;
                    }
                    schedule.advance();
                    self.pacer.sleep_until(at.into_std()).await;
                    if let Some(deadline) = budget.deadline()
                        && Instant::now() >= deadline
                    {
                        unsent.fetch_add(1 + schedule.left_before(deadline), Ordering::Relaxed);
                        break;
                    }
                    at
                }
                (None, None) => {
                    let now = Instant::now();
                    if !budget.take(now) {
                        break;
                    }
                    now
                }
            };
            let sent = Instant::now();
            if std::mem::take(&mut first) {
                self.mark_first_send();
            }
            let sample = tokio::time::timeout(self.timeout, self.driver.fetch(op, index))
                .await
                .unwrap_or(Sample::failed(Failure::Timeout));
            let done = Instant::now();
            let sample = if self.settles { self.driver.settle(index, sample).await } else { sample };
            let sample = self.checked(index, sample);
            let late = is_late(open_loop, intended, sent);
            recorders.record(self.slot, &sample, done - intended, done - sent, late);
            request = self.next_request();
            if !open_loop {
                backoff.after(sample.outcome == Outcome::Failed(Failure::Connection)).await;
            }
        }
        self.driver
    }

    /// Closed loop, `pipeline` commands at a time: a batch goes out at once, each of its requests
    /// is timed from that send to its own reply, and a reply not back within the timeout of the
    /// send counts as a timeout.
    async fn run_pipelined(mut self, budget: Arc<Budget>, recorders: Arc<Recorders>) -> Driver {
        let mut backoff = Backoff::default();
        self.wake_early().await;
        self.pacer.sleep_until(self.start.into_std()).await;
        let mut first = self.first_send.load(Ordering::Relaxed) == 0;
        let mut batch = Vec::with_capacity(self.pipeline);
        let mut replies = Vec::with_capacity(self.pipeline);
        loop {
            batch.clear();
            replies.clear();
            let now = Instant::now();
            while batch.len() < self.pipeline && budget.take(now) {
                let Some((op, index, _)) = self.next_request() else { break };
                batch.push((op, index));
            }
            if batch.is_empty() {
                break;
            }
            let sent = Instant::now();
            if std::mem::take(&mut first) {
                self.mark_first_send();
            }
            let _timed_out =
                tokio::time::timeout(self.timeout, self.driver.fetch_batch(&batch, &mut replies)).await;
            let done = Instant::now();
            let timeout = (Sample::failed(Failure::Timeout), done);
            let mut connection_failed = false;
            let ended = replies.iter().chain(std::iter::repeat_n(&timeout, batch.len() - replies.len()));
            for (&(sample, at), &(_, index)) in ended.zip(&batch) {
                let sample = self.checked(index, sample);
                recorders.record(self.slot, &sample, at - sent, at - sent, false);
                connection_failed |= sample.outcome == Outcome::Failed(Failure::Connection);
            }
            backoff.after(connection_failed).await;
        }
        self.driver
    }

    /// Wake once [`EARLY_WAKE`] before the start. A process woken after a long wait runs its
    /// first request with cold caches; at a synchronized start on a shared machine every agent's
    /// cold wake-up queues for the same cores, so each slot wakes early (and draws its first
    /// request) while there is time to spare.
    async fn wake_early(&self) {
        if let Some(early) = self.start.checked_sub(EARLY_WAKE) {
            self.pacer.sleep_until(early.into_std()).await;
        }
    }

    /// The next request's operation, object and, in a timed replay, intended start after the
    /// phase's start; `None` when a trace is used up.
    fn next_request(&mut self) -> Option<(Op, u64, Option<Duration>)> {
        match &mut self.keys {
            Keys::Trace(cursor) => cursor.take().map(|(index, at)| (Op::Get, index, at)),
            Keys::Drawn(sampler) => {
                let index = sampler.next(&mut self.rng);
                let op = if self.set_share > 0.0 && self.rng.random_bool(self.set_share) {
                    Op::Set
                } else if self.write_share > 0.0 && self.rng.random_bool(self.write_share) {
                    Op::Write
                } else {
                    Op::Get
                };
                Some((op, index, None))
            }
        }
    }

    /// `sample` of a request for object `index`, its body checked when the workload verifies.
    fn checked(&self, index: u64, sample: Sample) -> Sample {
        match &self.verifier {
            Some(verifier) => verifier.check(index, sample),
            None => sample,
        }
    }

    /// Note this slot's first send as the workload's, unless another slot's came first.
    fn mark_first_send(&self) {
        let now = unix_ns(std::time::SystemTime::now());
        let _ = self.first_send.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// A closed-loop slot's pause after connection failures, doubling while they last.
#[derive(Debug)]
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(FIRST_BACKOFF)
    }
}

impl Backoff {
    /// After a request (or batch): pause and double the next pause if the connection failed,
    /// else start over.
    async fn after(&mut self, connection_failed: bool) {
        if connection_failed {
            tokio::time::sleep(self.0).await;
            self.0 = (self.0 * 2).min(MAX_BACKOFF);
        } else {
            self.0 = FIRST_BACKOFF;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_slots_interleave_evenly() {
        let start = Instant::now();
        let rate = 1000.0;
        let mut schedules: Vec<Schedule> = (0..4).map(|j| Schedule::new(start, j, 4, rate)).collect();
        let mut all: Vec<Duration> = schedules
            .iter_mut()
            .flat_map(|s| (0..25).map(|_| s.advance() - start).collect::<Vec<_>>())
            .collect();
        all.sort();
        // 100 requests, one every millisecond, from 0 to 99 ms, whichever slot sends them.
        for (k, at) in all.iter().enumerate() {
            let expected = Duration::from_millis(k as u64);
            let diff = at.abs_diff(expected);
            assert!(diff < Duration::from_micros(1), "request {k} at {at:?}");
        }
    }

    #[test]
    fn only_an_open_loop_request_can_start_late() {
        let intended = Instant::now();
        let sent = intended + Duration::from_millis(50);
        assert!(is_late(true, intended, sent));
        assert!(!is_late(true, intended, intended + LATE), "at the margin is on time");
        assert!(!is_late(false, intended, sent), "closed loop schedules nothing");
    }

    #[test]
    fn what_a_slot_has_not_sent_by_the_deadline_is_counted_once() {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(1);
        // 1000 requests per second over 4 slots for 1 s: 1000 scheduled, 250 per slot.
        let fresh: Vec<u64> =
            (0..4).map(|j| Schedule::new(start, j, 4, 1000.0).left_before(deadline)).collect();
        assert_eq!(fresh, [250, 250, 250, 250]);
        // A slot that got through 100 of its 250 when the deadline passed leaves 150 unsent.
        let mut slot = Schedule::new(start, 3, 4, 1000.0);
        for _ in 0..100 {
            slot.advance();
        }
        assert_eq!(slot.left_before(deadline), 150);
        for _ in 0..150 {
            slot.advance();
        }
        assert_eq!(slot.left_before(deadline), 0, "a schedule past the deadline has nothing left");
        let b = Budget::new(Stop::Duration(Duration::from_secs(1)), start);
        assert_eq!(b.deadline(), Some(deadline));
        assert_eq!(Budget::new(Stop::Requests(5), start).deadline(), None, "a count has no deadline");
    }

    #[test]
    fn duration_budget_refuses_requests_meant_after_the_deadline() {
        let start = Instant::now();
        let b = Budget::new(Stop::Duration(Duration::from_secs(1)), start);
        assert!(b.take(start + Duration::from_millis(999)));
        assert!(!b.take(start + Duration::from_secs(1)));
        let r = Budget::new(Stop::Requests(2), start);
        assert!(r.take(start) && r.take(start) && !r.take(start));
    }
}
