//! The controller's errors and the exit codes of the contract: 1 runtime failure, 2 bad input.
//! (3 degraded, 99 thresholds breached and 130 interrupted are outcomes, not errors: see
//! [`crate::run::RunStatus`].)

use std::path::PathBuf;

use crate::aws::AwsError;
use crate::fleet::aws_state::StateError;
use crate::fleet::connect::HelloError;
use crate::fleet::local::FleetError;
use crate::fleet::tls::TlsError;
use crate::render::files::ReportError;
use crate::scenario::ScenarioError;
use crate::scenario::trace::TraceError;

/// Exit code: runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad input (command line or scenario).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code: completed, but an agent was lost or a workload ended with errors.
pub const EXIT_DEGRADED: u8 = 3;
/// Exit code: completed, but a threshold of the scenario was breached.
pub const EXIT_THRESHOLDS: u8 = 99;
/// Exit code: interrupted by Ctrl-C (128 + SIGINT); SIGTERM and SIGHUP give 143 and 129.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario file is missing or invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A trace file is missing or cannot be read as a trace.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// A command-line value is invalid.
    #[error("{flag} {value:?}: {detail}")]
    Usage {
        /// The flag.
        flag: &'static str,
        /// Its value.
        value: String,
        /// What is wrong and what would be valid.
        detail: String,
    },
    /// The local fleet did not start.
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// An agent failed a step of the run.
    #[error("{agent} ({address}): {step} failed: {detail}")]
    Agent {
        /// Agent id.
        agent: String,
        /// Its address.
        address: String,
        /// What the controller asked of it.
        step: &'static str,
        /// What the agent (or the network) said.
        detail: String,
    },
    /// An agent of the AWS fleet does not answer: its process or its instance is gone.
    #[error(
        "{agent} on {instance} ({address}) is lost: unreachable over gRPC ({detail}); \
         `fetchbench status` shows the fleet, `fetchbench install` starts its agent again"
    )]
    AgentLost {
        /// Agent id.
        agent: String,
        /// Its EC2 instance id.
        instance: String,
        /// Its address.
        address: String,
        /// What the network said.
        detail: String,
    },
    /// No availability zone of the region offers the agents' instance type.
    #[error(
        "instance type {instance_type}: no availability zone of {region} offers it; choose another type or region"
    )]
    NotOffered {
        /// The instance type.
        instance_type: String,
        /// The region.
        region: String,
    },
    /// No availability zone of the region offers both the agents' instance type and S3 Express
    /// One Zone.
    #[error(
        "no availability zone of {region} offers both instance type {instance_type} and S3 Express \
         One Zone (which {region} has in {express}); choose another type or region"
    )]
    NoExpressZone {
        /// The instance type.
        instance_type: String,
        /// The region.
        region: String,
        /// The zone IDs of the region that have S3 Express.
        express: String,
    },
    /// A result file could not be written.
    #[error("cannot write results to {path}: {source}")]
    Output {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A report, an export or a comparison could not be made: a result file given to `report`
    /// or `compare` is missing or not a fetchbench result (bad input), or one of its histograms
    /// is damaged, or a file could not be written (runtime failures).
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Ctrl-C (or SIGTERM, SIGHUP) before any result existed.
    #[error("interrupted before the run started; nothing was measured")]
    Interrupted,
    /// Ctrl-C (or SIGTERM, SIGHUP) during a command other than `run`.
    #[error(
        "interrupted; a CloudFormation or SSM request already sent goes on in AWS: `fetchbench \
         status` shows where the stack stands"
    )]
    InterruptedCommand,
    /// An AWS call failed.
    #[error(transparent)]
    Aws(AwsError),
    /// An agent is busy with another controller's run.
    #[error(
        "agent {address} is running another controller's run; wait for it to end, or stop that \
         controller (Ctrl-C): an agent whose controller is gone is idle again within about 5 s"
    )]
    AgentBusy {
        /// Where the agent serves.
        address: String,
    },
    /// The scenario's dataset does not fit where this run would put it.
    #[error("dataset: {0}")]
    DatasetTooLarge(String),
    /// A flag is required here.
    #[error("{flag} {detail}")]
    Missing {
        /// The flag.
        flag: &'static str,
        /// Why it is required.
        detail: String,
    },
    /// The fleet's local state could not be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// Certificates could not be made or read.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The provisioned fleet's certificates in `~/.fetchbench/<stack>/` could not be read.
    #[error("{0}; if the fleet's folder is damaged, tear the fleet down and provision it again")]
    FleetTls(TlsError),
    /// A stack operation failed or did not finish in time.
    #[error("stack {stack} entered {status}: {detail}")]
    Stack {
        /// Stack name.
        stack: String,
        /// Its status.
        status: String,
        /// The first failed resource and its reason, or what to do.
        detail: String,
    },
    /// A command needs a provisioned fleet and there is none.
    #[error("no fleet provisioned as stack {stack} (nothing in {dir}); run `fetchbench provision` first")]
    NoFleet {
        /// Stack name.
        stack: String,
        /// Where its state would be.
        dir: String,
    },
    /// The AWS fleet is in a state the command cannot work with.
    #[error("stack {stack}: {detail}")]
    AwsFleet {
        /// Stack name.
        stack: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The stack is provisioned in another region than the one asked for.
    #[error("stack {stack}: already provisioned in {region}; tear it down first, or use {region}")]
    OtherRegion {
        /// Stack name.
        stack: String,
        /// Where it is.
        region: String,
    },
    /// The agent binary cannot run on the fleet's instances.
    #[error("agent binary {path}: {detail}")]
    AgentBinary {
        /// The binary.
        path: PathBuf,
        /// What is wrong and how to build a suitable one.
        detail: String,
    },
    /// Installing the agents failed on some instances.
    #[error("install failed on {failed} of {total} instances (see above)")]
    Install {
        /// Instances whose install failed.
        failed: usize,
        /// Instances tried.
        total: usize,
    },
}

impl From<HelloError> for Error {
    fn from(e: HelloError) -> Error {
        Error::Agent { agent: e.agent, address: e.address, step: "hello", detail: e.detail }
    }
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Scenario(_)
            | Error::Trace(_)
            | Error::Usage { .. }
            | Error::Missing { .. }
            | Error::AgentBinary { .. }
            | Error::NotOffered { .. }
            | Error::NoExpressZone { .. }
            | Error::DatasetTooLarge(_) => EXIT_BAD_INPUT,
            Error::Interrupted | Error::InterruptedCommand => EXIT_INTERRUPTED,
            Error::Report(e) if e.is_bad_input() => EXIT_BAD_INPUT,
            Error::Report(_) => EXIT_FAILURE,
            Error::Fleet(_)
            | Error::Agent { .. }
            | Error::AgentLost { .. }
            | Error::AgentBusy { .. }
            | Error::Output { .. }
            | Error::Aws(_)
            | Error::State(_)
            | Error::Tls(_)
            | Error::FleetTls(_)
            | Error::Stack { .. }
            | Error::NoFleet { .. }
            | Error::AwsFleet { .. }
            | Error::OtherRegion { .. }
            | Error::Install { .. } => EXIT_FAILURE,
        }
    }
}
