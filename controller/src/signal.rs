//! The signals that stop a command the way Ctrl-C does: SIGINT, SIGTERM (`timeout`, `kill`,
//! systemd, CI runners cancelling a job) and SIGHUP (the terminal closed). Each cancels the
//! command's interrupt token, so a run stops its agents, writes what they measured and removes
//! its temporary folder, and the process exits 128 + the signal's number.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio_util::sync::CancellationToken;

/// Which signal arrived first, once one has.
#[derive(Debug, Clone, Default)]
pub struct Received(Arc<AtomicU8>);

impl Received {
    /// The exit code the signal calls for (128 + its number), when one arrived.
    pub fn received(&self) -> Option<u8> {
        Some(self.0.load(Ordering::SeqCst)).filter(|&code| code != 0)
    }

    fn set(&self, code: u8) {
        let _ = self.0.compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// Watch for the stopping signals on the current runtime; the first cancels `interrupt`.
#[cfg(unix)]
pub fn listen(interrupt: CancellationToken) -> std::io::Result<Received> {
    use tokio::signal::unix::{SignalKind, signal};
    let received = Received::default();
    for (kind, number) in
        [(SignalKind::interrupt(), 2), (SignalKind::terminate(), 15), (SignalKind::hangup(), 1)]
    {
        let mut stream = signal(kind)?;
        let (received, interrupt) = (received.clone(), interrupt.clone());
        tokio::spawn(async move {
            if stream.recv().await.is_some() {
                received.set(128 + number);
                interrupt.cancel();
            }
        });
    }
    Ok(received)
}

/// Watch for Ctrl-C on the current runtime; it cancels `interrupt`.
#[cfg(not(unix))]
pub fn listen(interrupt: CancellationToken) -> std::io::Result<Received> {
    let received = Received::default();
    let seen = received.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            seen.set(130);
            interrupt.cancel();
        }
    });
    Ok(received)
}
