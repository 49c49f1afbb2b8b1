//! `fetchbench`, the controller. Its folders, from the top down (a module imports only from the
//! rooms below it; `tests/layout.rs` fails on an import cycle or an import upward):
//!
//! - [`commands`]: one file per subcommand: turns its [`cli`] arguments into checked options
//!   (the only place an error names a flag) and runs it.
//! - [`run`]: one run of a scenario on a fleet: hello, seed, measure, result, files.
//! - [`stack`]: the AWS fleet: provision, install through SSM, status, teardown, and the fleet a
//!   run uses; [`aws`] holds the SDK clients it calls.
//! - [`fleet`]: how agents are reached: the local fleet's processes, the embedded S3 endpoint,
//!   certificates and the gRPC connection.
//! - [`render`]: what a person reads: the terminal summary, live progress, report.html, exports.
//! - [`results`]: result.json and the figures made from it: tallies of the agents' histograms,
//!   thresholds, cost, comparison; never imports `render`.
//! - [`scenario`]: the scenario file's model and its validation.

/// `println!` that goes on when nobody reads standard output any more (`fetchbench run | head -1`):
/// the run still measures and writes its files; only the printout is lost. Every module prints
/// through it (or [`say_text!`]), never `println!`, which would panic there.
macro_rules! say {
    () => {
        $crate::support::say(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::support::say(format_args!($($arg)*))
    };
}

/// `print!` of a finished text (a summary, a table), going on as [`say!`] does.
macro_rules! say_text {
    ($text:expr) => {
        $crate::support::say_text($text)
    };
}

pub mod aws;
pub mod cli;
pub mod commands;
pub mod error;
pub mod fleet;
pub mod render;
pub mod results;
pub mod run;
pub mod scenario;
pub mod signal;
pub mod stack;
pub mod support;
