//! One file per subcommand: each turns its [`crate::cli`] arguments into checked options (the only
//! place an error names a flag) and runs it. `run_to_exit` is the binary's one call.

mod agent_binary;
mod certs;
mod compare;
mod prices;
mod provision;
mod report;
pub mod run;
mod stack;
mod trace_stats;

use tokio_util::sync::CancellationToken;

use crate::aws::AwsError;
use crate::cli::{Cli, Command};
use crate::error::{EXIT_FAILURE, EXIT_INTERRUPTED, Error};
use crate::fleet::aws_state::StateError;

/// clap's usage error on one line: its text up to the usage, what it lists (the missing
/// arguments, the flag it suggests) joined on, without the "error: " it starts with.
pub fn usage_error_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut out = String::new();
    for line in lines {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    out.trim_start_matches("error: ").to_owned()
}

/// Run `cli` on a runtime of its own, Ctrl-C, SIGTERM or SIGHUP interrupting it, and return the
/// process exit code (128 + the signal's number when one interrupted it).
/// Not async on purpose: the code of an async call tree is generated in the crate that polls it,
/// and polled here, the whole run path is compiled once, in this library, not in `main.rs` too.
pub fn run_to_exit(cli: Cli) -> u8 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fetchbench: cannot start the async runtime: {e}");
            return EXIT_FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let interrupt = CancellationToken::new();
        let signal = match crate::signal::listen(interrupt.clone()) {
            Ok(signal) => signal,
            Err(e) => {
                eprintln!("fetchbench: cannot handle signals: {e}");
                return EXIT_FAILURE;
            }
        };
        let code = match run(cli, interrupt).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("fetchbench: {}", explain(&e));
                e.exit_code()
            }
        };
        // An interrupted run exits 128 + the signal that interrupted it: 130 for Ctrl-C, 143
        // for SIGTERM, 129 for SIGHUP.
        match signal.received() {
            Some(exit) if code == EXIT_INTERRUPTED => exit,
            _ => code,
        }
    });
    // Do not wait for stray tasks (an agent stream still closing): the results are written.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

/// Run the command; the result is the process exit code.
pub async fn run(cli: Cli, interrupt: CancellationToken) -> Result<u8, Error> {
    if let Command::Run(args) = cli.command {
        return run::run(*args, interrupt).await;
    }
    // The other commands have nothing to keep: a signal ends them where they are, as it would
    // without a handler, but with the contract's exit code and a word on what was left.
    tokio::select! {
        code = other_command(cli.command) => code,
        () = interrupt.cancelled() => Err(Error::InterruptedCommand),
    }
}

/// The error in words, with the flag that fixes it where one does: the layers below name no flag.
fn explain(e: &Error) -> String {
    match e {
        Error::Aws(AwsError::NoRegion) => {
            "no AWS region configured; pass --region, set AWS_REGION, or set a region in your AWS profile"
                .into()
        }
        Error::OtherRegion { stack, region } => {
            format!(
                "stack {stack}: already provisioned in {region}; pass --region {region} or tear it down first"
            )
        }
        Error::State(StateError::Corrupt { path, detail }) => format!(
            "{}: {detail}; fix or remove it (fetchbench teardown --stack-name works without it)",
            path.display()
        ),
        other => format!("{other:#}"),
    }
}

async fn other_command(command: Command) -> Result<u8, Error> {
    match command {
        Command::Run(_) => unreachable!("run is handled by run()"),
        Command::Report(args) => report::report(&args).await,
        Command::Compare(args) => compare::compare(&args),
        Command::Provision(args) => provision::provision(args).await,
        Command::Install(args) => stack::install(&args).await,
        Command::Status(args) => stack::status(&args).await,
        Command::Certs(args) => certs::certs(&args),
        Command::Teardown(args) => stack::teardown(&args).await,
        Command::TraceStats(args) => trace_stats::trace_stats(&args),
    }
}
