//! The `fetchbench` binary: parse the command line, run the command, map the outcome to the
//! contract's exit code.

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = match fetchbench::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version, on stdout, exit 0.
        Err(e) if !e.use_stderr() => e.exit(),
        // A usage error: one line, as every other bad input gets, and exit 2.
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default().trim_start_matches("error: ");
            eprintln!("fetchbench: {first}; see fetchbench --help");
            return ExitCode::from(fetchbench::error::EXIT_BAD_INPUT);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fetchbench: cannot start the async runtime: {e}");
            return ExitCode::from(fetchbench::error::EXIT_FAILURE);
        }
    };
    let code = runtime.block_on(async {
        let interrupt = CancellationToken::new();
        tokio::spawn({
            let interrupt = interrupt.clone();
            async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    interrupt.cancel();
                }
            }
        });
        match fetchbench::cli::run(cli, interrupt).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("fetchbench: {e:#}");
                e.exit_code()
            }
        }
    });
    // Do not wait for stray tasks (an agent stream still closing): the results are written.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    ExitCode::from(code)
}
