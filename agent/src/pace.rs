//! A precise sleep for open-loop schedules and synchronized starts. Tokio's timer wheel rounds
//! every deadline up to the next millisecond, which would add up to a millisecond of our own
//! lateness to every corrected latency; one pacer thread per agent instead waits on a condition
//! variable (tens of microseconds of slack) and wakes each sleeper at its instant.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::oneshot;

/// Hands out precise sleeps. Cloning shares the thread; it ends when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Pacer {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
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
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new()
    }
}

impl Pacer {
    /// Start the pacer thread.
    pub fn new() -> Pacer {
        let shared = Arc::new(Shared::default());
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("fetchbench-pacer".into())
            .spawn(move || run(&worker))
            .expect("spawning the pacer thread");
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
                self.shared.wake.notify_one();
            }
        }
        // A dropped sender only happens at shutdown; then there is nothing left to wait for.
        let _ = rx.await;
    }
}

fn run(shared: &Shared) {
    let mut state = lock(shared);
    loop {
        if state.shutdown {
            return;
        }
        let now = Instant::now();
        match state.sleepers.peek().map(|s| s.at) {
            None => state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
            Some(at) if at <= now => {
                while state.sleepers.peek().is_some_and(|s| s.at <= now) {
                    let s = state.sleepers.pop().expect("peeked");
                    let _ = s.wake.send(());
                }
            }
            Some(at) => {
                state = shared.wake.wait_timeout(state, at - now).unwrap_or_else(|p| p.into_inner()).0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wakes_in_deadline_order_and_never_early() {
        let pacer = Pacer::new();
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, ms) in [30u64, 10, 20, 0].into_iter().enumerate() {
            let (pacer, order) = (pacer.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let at = start + Duration::from_millis(ms);
                pacer.sleep_until(at).await;
                assert!(Instant::now() >= at, "sleeper {i} woke early");
                order.lock().expect("not poisoned").push(ms);
            }));
        }
        for t in tasks {
            t.await.expect("sleeper finished");
        }
        assert_eq!(*order.lock().expect("not poisoned"), [0, 10, 20, 30]);
    }
}
