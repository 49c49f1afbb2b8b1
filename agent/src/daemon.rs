//! The agent process: listen, announce the address, serve mutual TLS until told to stop.
//!
//! A plain function, not an `async fn` for the binary to await: the code of an async call tree
//! is generated in the crate that polls it, so with the runtime here the server's whole tree is
//! compiled once, in this library, and not again in `main.rs` (a shorter release build).

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::tls::TlsFiles;

/// Longest wait for connected clients after Ctrl-C or SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// What the command line asks of the agent process.
#[derive(Debug)]
pub struct Config {
    /// Address to serve gRPC on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Exit when standard input closes.
    pub exit_on_stdin_close: bool,
    /// The agent's TLS identity and the authority of the clients it accepts.
    pub tls: TlsFiles,
}

/// Serve until Ctrl-C, SIGTERM or (if asked) the end of standard input.
#[tokio::main]
pub async fn run(config: Config) -> anyhow::Result<()> {
    let tls = config.tls.server_config().context("cannot set up mutual TLS")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr().context("cannot read the bound address")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "fetchbench-agent {} listening on {addr}", env!("CARGO_PKG_VERSION"))?;
    stdout.flush()?;
    drop(stdout);

    let exit_on_stdin_close = config.exit_on_stdin_close;
    let stop = CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            tokio::select! {
                () = terminate() => {}
                () = stdin_closed(), if exit_on_stdin_close => {}
            }
            stop.cancel();
        }
    });
    let server = crate::serve_tls(listener, tls, stop.clone().cancelled_owned());
    // A client that keeps an idle connection open must not keep a stopped agent alive.
    let grace = async {
        stop.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = server => served.context("grpc server failed"),
        () = grace => {
            tracing::warn!("clients still connected {SHUTDOWN_GRACE:?} after the stop signal; exiting");
            Ok(())
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn terminate() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler cannot fail on unix");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Completes when standard input reaches its end (the parent went away).
async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
}
