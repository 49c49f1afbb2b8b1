//! What a run needs from a fleet, whichever it is (local processes or EC2 instances): the agents
//! to reach, the controller's side of mutual TLS, and the targets the agents read. `run::on_fleet`
//! takes one of these, so the local and the AWS fleet share one path from Hello to result.json.

pub mod aws_state;
pub mod connect;
pub mod embedded_s3;
pub mod local;
pub mod s3_express;
pub mod s3_store;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

use fetchbench_proto as pb;

use crate::fleet::tls::ClientTls;
use crate::results::schema::{FleetKind, Targets};

/// One agent of a fleet.
#[derive(Clone, Debug)]
pub struct FleetAgent {
    /// `agent-0`, `agent-1`, ... as result.json names it.
    pub id: String,
    /// Where it serves gRPC.
    pub addr: SocketAddr,
    /// The DNS name in its certificate, which the controller verifies instead of the address.
    pub server_name: String,
    /// Where it logs, when the controller can read it (local agents).
    pub log: Option<PathBuf>,
    /// Where it runs, for the header line: empty locally, the instance id on AWS.
    pub host: String,
}

impl FleetAgent {
    /// The fleet's `index`th agent (`agent-<index>`) at `addr`, its certificate naming it
    /// `server_name`; no log to read, no host named.
    pub fn numbered(index: usize, addr: SocketAddr, server_name: String) -> FleetAgent {
        FleetAgent { id: format!("agent-{index}"), addr, server_name, log: None, host: String::new() }
    }
}

/// A fleet ready to run a scenario.
#[derive(Clone, Debug)]
pub struct Fleet {
    /// Local or AWS: result.json's `fleet`.
    pub kind: FleetKind,
    /// How the header names the agents: "local agent", "EC2 agent".
    pub noun: &'static str,
    /// The agents, in id order.
    pub agents: Vec<FleetAgent>,
    /// The controller's certificate and the authority it trusts.
    pub tls: ClientTls,
    /// Redis to read from, when a workload uses it.
    pub redis: Option<pb::RedisTarget>,
    /// S3 to read from, when a workload uses it.
    pub s3: Option<pb::S3Target>,
    /// The S3 Express One Zone directory bucket to read from, when a workload uses it.
    pub s3_express: Option<pb::S3Target>,
    /// The targets as result.json shows them (no credentials).
    pub targets: Targets,
    /// Where and with which cache node the run's reads are priced (result.json's `cost`).
    pub pricing: crate::results::cost::Assumptions,
}
