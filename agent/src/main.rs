//! The `fetchbench-agent` binary: parse arguments, load its TLS identity, listen, announce the
//! address, serve mutual TLS until told to stop.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use fetchbench_agent::tls::TlsFiles;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// Longest wait for connected clients after Ctrl-C or SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// The fetchbench load agent: runs Redis and S3 fetch workloads for a fetchbench controller.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to serve gRPC on; port 0 picks a free port. The chosen address is printed on
    /// standard output as "fetchbench-agent <version> listening on <addr>".
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,

    /// Exit when standard input closes, so that agents a local controller started end with it.
    #[arg(long)]
    exit_on_stdin_close: bool,

    /// The agent's TLS certificate (PEM), signed by the controller's fleet authority. The agent
    /// serves mutual TLS only: all three TLS options are required.
    #[arg(long, value_name = "PATH")]
    tls_cert: PathBuf,

    /// The private key of --tls-cert (PEM); keep it readable by the agent's user only.
    #[arg(long, value_name = "PATH")]
    tls_key: PathBuf,

    /// The authority whose client certificates are accepted (PEM); every other client is refused.
    #[arg(long, value_name = "PATH")]
    tls_client_ca: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // One TLS crypto backend, ring, for every client: Redis over TLS, the AWS SDK, the gRPC server.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fetchbench-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run(args: Args) -> anyhow::Result<()> {
    let tls = TlsFiles { cert: args.tls_cert, key: args.tls_key, client_ca: args.tls_client_ca }
        .server_config()
        .context("cannot set up mutual TLS")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr().context("cannot read the bound address")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "fetchbench-agent {} listening on {addr}", env!("CARGO_PKG_VERSION"))?;
    stdout.flush()?;
    drop(stdout);

    let exit_on_stdin_close = args.exit_on_stdin_close;
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
    let server = fetchbench_agent::serve_tls(listener, tls, stop.clone().cancelled_owned());
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
