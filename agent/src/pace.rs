//! A precise sleep for open-loop schedules and synchronized starts. Tokio's timer wheel rounds
//! every deadline up to the next millisecond, which would add up to a millisecond of our own
//! lateness to every corrected latency. On Linux a pacer task waits on a timerfd in the runtime's
//! own event loop and wakes each sleeper at its instant: the worker thread that wakes for the
//! timer runs the sleepers itself. Elsewhere (and if no timerfd can be made) a pacer thread
//! waits on a condition variable (tens of microseconds of slack) and wakes the sleepers from
//! outside the runtime, one thread wake-up more per sleep: with 64 local agents starting at one
//! instant on two cores, that second wake-up was a third of the start skew.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{Notify, oneshot};

/// Hands out precise sleeps. Cloning shares the pacer; it stops when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Pacer {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the pacer thread: a new earliest deadline, or shutdown.
    wake: Condvar,
    /// Wakes the pacer task: a new earliest deadline, or shutdown.
    changed: Notify,
    /// Which of the two waits: the thread (`wake`) or the task (`changed`). Only that one is
    /// notified of a new earliest deadline, once per open-loop request: std's `Condvar` makes a
    /// futex system call on every notify, with a waiter or without.
    threaded: bool,
}

#[derive(Debug, Default)]
struct State {
    sleepers: BinaryHeap<Sleeper>,
    seq: u64,
    shutdown: bool,
}

#[derive(Debug)]
struct Sleeper {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

// Earliest first in the (max-)heap; `seq` keeps equal instants in arrival order.
impl Ord for Sleeper {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}
impl PartialOrd for Sleeper {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Sleeper {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Sleeper {}

/// Stops the thread when the last `Pacer` clone goes.
#[derive(Debug)]
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        lock(&self.0).shutdown = true;
        self.0.wake.notify_all();
        self.0.changed.notify_one();
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pacer {
    /// Start the pacer: its task on the current tokio runtime (Linux; panics outside one), else
    /// its thread.
    pub fn start() -> Pacer {
        #[cfg(target_os = "linux")]
        match timerfd::Timer::new() {
            Ok(timer) => {
                let shared = Arc::new(Shared::default());
                tokio::spawn(timerfd::run(shared.clone(), timer));
                return Pacer::owning(shared);
            }
            Err(e) => tracing::warn!("no timerfd for the pacer ({e}); pacing from a thread instead"),
        }
        Pacer::on_thread()
    }

    /// The pacer thread: the fallback, and the pacer outside Linux.
    fn on_thread() -> Pacer {
        let shared = Arc::new(Shared { threaded: true, ..Shared::default() });
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("fetchbench-pacer".into())
            .spawn(move || run(&worker))
            .expect("spawning the pacer thread");
        Pacer::owning(shared)
    }

    /// The first handle on `shared`; the pacer stops when it and its clones are gone.
    fn owning(shared: Arc<Shared>) -> Pacer {
        Pacer { _owner: Arc::new(Owner(shared.clone())), shared }
    }

    /// Complete at `at` (at once when it has passed).
    pub async fn sleep_until(&self, at: Instant) {
        if at <= Instant::now() {
            return;
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut state = lock(&self.shared);
            state.seq += 1;
            let seq = state.seq;
            let earliest = state.sleepers.peek().is_none_or(|s| at < s.at);
            state.sleepers.push(Sleeper { at, seq, wake: tx });
            if earliest {
                if self.shared.threaded {
                    self.shared.wake.notify_one();
                } else {
                    self.shared.changed.notify_one();
                }
            }
        }
        // A dropped sender only happens at shutdown; then there is nothing left to wait for.
        let _ = rx.await;
    }
}

/// Wake every sleeper whose instant has come; returns the earliest instant still ahead.
fn wake_due(state: &mut State, now: Instant) -> Option<Instant> {
    while state.sleepers.peek().is_some_and(|s| s.at <= now) {
        let s = state.sleepers.pop().expect("peeked");
        let _ = s.wake.send(());
    }
    state.sleepers.peek().map(|s| s.at)
}

/// The pacer thread.
fn run(shared: &Shared) {
    let mut state = lock(shared);
    loop {
        if state.shutdown {
            return;
        }
        let now = Instant::now();
        match wake_due(&mut state, now) {
            None => state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
            Some(at) => {
                state = shared.wake.wait_timeout(state, at - now).unwrap_or_else(|p| p.into_inner()).0;
            }
        }
    }
}

/// The pacer task on a timerfd (Linux).
#[cfg(target_os = "linux")]
mod timerfd {
    use std::io;
    use std::os::fd::OwnedFd;
    use std::sync::Arc;
    use std::time::Instant;

    use rustix::time::{
        ClockId, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, clock_gettime,
        timerfd_create, timerfd_settime,
    };
    use tokio::io::unix::AsyncFd;

    use super::{Shared, lock, wake_due};

    /// A CLOCK_MONOTONIC timerfd in the runtime's event loop.
    pub(super) struct Timer(AsyncFd<OwnedFd>);

    impl Timer {
        /// Needs a tokio runtime (the timerfd joins its event loop).
        #[allow(unsafe_code)]
        pub(super) fn new() -> io::Result<Timer> {
            let fd =
                timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC)?;
            // SAFETY: `register` needs the descriptor to stay open and the same for the AsyncFd's
            // whole life: the AsyncFd owns the OwnedFd, which closes it only when dropped.
            let fd = unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)?;
            Ok(Timer(fd))
        }

        /// Fire at `at`, at once if it has passed.
        pub(super) fn arm(&self, at: Instant) -> io::Result<()> {
            // `Instant` is CLOCK_MONOTONIC underneath, but opaque: read both clocks together.
            let (clock, now) = (clock_gettime(ClockId::Monotonic), Instant::now());
            let ns = (clock.tv_sec as i128) * 1_000_000_000
                + clock.tv_nsec as i128
                + at.saturating_duration_since(now).as_nanos() as i128;
            // Zero would disarm the timer; an instant at or before now fires at once.
            let ns = ns.max(1);
            let value = Timespec { tv_sec: (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as _ };
            let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
            timerfd_settime(
                self.0.get_ref(),
                TimerfdTimerFlags::ABSTIME,
                &Itimerspec { it_interval: zero, it_value: value },
            )?;
            Ok(())
        }

        /// Wait until the armed instant.
        pub(super) async fn fired(&self) -> io::Result<()> {
            loop {
                let mut ready = self.0.readable().await?;
                let mut count = [0u8; 8];
                match ready.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut count)?)) {
                    Ok(read) => {
                        // The expiry is read and the timer disarmed until the next `arm`: say
                        // so, or the next wait would begin with a read that finds nothing (a
                        // system call per paced request).
                        ready.clear_ready();
                        return read.map(drop);
                    }
                    // Readiness left from an earlier expiry that re-arming reset: wait again.
                    Err(_would_block) => continue,
                }
            }
        }
    }

    /// Wake each sleeper at its instant until the pacer is dropped.
    pub(super) async fn run(shared: Arc<Shared>, timer: Timer) {
        loop {
            let next = {
                let mut state = lock(&shared);
                if state.shutdown {
                    return;
                }
                wake_due(&mut state, Instant::now())
            };
            let Some(at) = next else {
                shared.changed.notified().await;
                continue;
            };
            if let Err(e) = timer.arm(at) {
                // Cannot happen with a valid timerfd and time; pace coarsely rather than spin.
                tracing::warn!("arming the pacer's timerfd failed: {e}");
                tokio::time::sleep_until(at.into()).await;
                continue;
            }
            tokio::select! {
                fired = timer.fired() => if let Err(e) = fired {
                    tracing::warn!("reading the pacer's timerfd failed: {e}");
                    tokio::time::sleep_until(at.into()).await;
                },
                () = shared.changed.notified() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Sleepers handed to `pacer` out of order wake in deadline order, none early, and one added
    /// with an earlier deadline while the pacer waits for a later one wakes at its own.
    async fn wakes_in_deadline_order_and_never_early(pacer: Pacer) {
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let sleeper = |i: usize, ms: u64, at: Instant| {
            let (pacer, order) = (pacer.clone(), order.clone());
            tokio::spawn(async move {
                pacer.sleep_until(at).await;
                assert!(Instant::now() >= at, "sleeper {i} woke early");
                order.lock().expect("not poisoned").push((ms, Instant::now()));
            })
        };
        let mut tasks = vec![sleeper(0, 300, start + Duration::from_millis(300))];
        // Let the pacer (a thread may not have run yet) begin its wait for the 300 ms deadline
        // alone; the rest then come with earlier deadlines, which it must be told of.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = Instant::now();
        for (i, ms) in [10u64, 20, 0, 30].into_iter().enumerate() {
            tasks.push(sleeper(i + 1, ms, now + Duration::from_millis(ms)));
        }
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("the pacer woke every sleeper")
                .expect("sleeper finished");
        }
        let order = order.lock().expect("not poisoned");
        assert_eq!(order.iter().map(|(ms, _)| *ms).collect::<Vec<_>>(), [0, 10, 20, 30, 300]);
        let (_, woke_at_30) = order[3];
        assert!(
            woke_at_30 < start + Duration::from_millis(300),
            "the 30 ms sleeper waited for the 300 ms one"
        );
    }

    #[tokio::test]
    async fn the_pacer_wakes_in_deadline_order_and_never_early() {
        wakes_in_deadline_order_and_never_early(Pacer::start()).await;
    }

    #[tokio::test]
    async fn the_pacer_thread_wakes_in_deadline_order_and_never_early() {
        wakes_in_deadline_order_and_never_early(Pacer::on_thread()).await;
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_timer_armed_for_a_passed_instant_fires_at_once() {
        let timer = timerfd::Timer::new().expect("a timerfd");
        let past = Instant::now();
        tokio::time::sleep(Duration::from_millis(2)).await;
        timer.arm(past).expect("armed");
        tokio::time::timeout(Duration::from_secs(5), timer.fired())
            .await
            .expect("fired, not waited for an instant long gone")
            .expect("read the timerfd");
    }

    /// After an expiry is read its readiness is cleared; the next expiry must still be seen.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_timer_fires_at_each_instant_it_is_armed_for() {
        let timer = timerfd::Timer::new().expect("a timerfd");
        for _ in 0..3 {
            let at = Instant::now() + Duration::from_millis(5);
            timer.arm(at).expect("armed");
            tokio::time::timeout(Duration::from_secs(5), timer.fired())
                .await
                .expect("fired after being armed again")
                .expect("read the timerfd");
            assert!(Instant::now() >= at, "fired before the instant it was armed for");
        }
    }
}
