//! The `fetchbench` binary: parse the command line, run the command, map the outcome to the
//! contract's exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match fetchbench::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version, on stdout, exit 0.
        Err(e) if !e.use_stderr() => e.exit(),
        // No command at all: the usage, on stderr, exit 2.
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        // A usage error: one line, as every other bad input gets, and exit 2.
        Err(e) => {
            eprintln!(
                "fetchbench: {}; see fetchbench --help",
                fetchbench::commands::usage_error_line(&e.to_string())
            );
            return ExitCode::from(fetchbench::error::EXIT_BAD_INPUT);
        }
    };
    // Off EC2 the AWS SDK's look-ups of the instance metadata service fail as expected, and
    // warned once per look-up ahead of fetchbench's own one-line error ("no AWS region
    // configured; pass --region ..."); RUST_LOG still shows them.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: a log file (the local agents' logs, systemd's journal)
        // gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,aws_config::imds=error")),
        )
        .init();
    let code = fetchbench::commands::run_to_exit(cli);
    ExitCode::from(code)
}
