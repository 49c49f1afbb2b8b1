//! The contract between the `fetchbench` controller and `fetchbench-agent`: the generated
//! messages, client and server of package `fetchbench.agent.v1`, and what both sides agree on
//! beyond them: the dataset definition they derive object sizes and bytes from ([`dataset`]), the
//! largest workload an agent accepts ([`limits`]), and the keep-alive, timestamps and histogram
//! precision ([`wire`]).

/// Everything generated from `proto/fetchbench.proto`.
#[allow(missing_docs, missing_debug_implementations, clippy::all)]
pub mod v1 {
    tonic::include_proto!("fetchbench.agent.v1");
}

pub use v1::*;

pub mod dataset;
pub mod limits;
pub mod redact;
pub mod wire;
