//! The `fetchbench-agent` binary: parse arguments, load its TLS identity, listen, announce the
//! address, serve mutual TLS until told to stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fetchbench_agent::daemon::Config;
use fetchbench_agent::tls::TlsFiles;

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
        // Colour codes only on a terminal: a log file (the local agents' logs, systemd's journal)
        // gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let config = Config {
        listen: args.listen,
        exit_on_stdin_close: args.exit_on_stdin_close,
        tls: TlsFiles { cert: args.tls_cert, key: args.tls_key, client_ca: args.tls_client_ca },
    };
    match fetchbench_agent::daemon::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fetchbench-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}
