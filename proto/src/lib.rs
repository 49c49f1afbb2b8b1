//! The contract between the `fetchbench` controller and `fetchbench-agent`: the generated
//! messages, client and server of package `fetchbench.agent.v1`, and the dataset definition
//! both sides derive object sizes and bytes from.

/// Everything generated from `proto/fetchbench.proto`.
#[allow(missing_docs, missing_debug_implementations, clippy::all)]
pub mod v1 {
    tonic::include_proto!("fetchbench.agent.v1");
}

pub use v1::*;

pub mod dataset;
pub mod redact;
