//! The contract between the `fetchbench` controller and `fetchbench-agent`: the generated
//! messages, client and server of package `fetchbench.agent.v1`.

#![allow(missing_docs, missing_debug_implementations, clippy::all)]

/// Everything generated from `proto/fetchbench.proto`.
pub mod v1 {
    tonic::include_proto!("fetchbench.agent.v1");
}

pub use v1::*;
