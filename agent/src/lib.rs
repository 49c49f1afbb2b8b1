//! `fetchbench-agent`: the load agent. It serves the `fetchbench.agent.v1.Agent` gRPC service,
//! connects to Redis and S3, seeds the dataset when asked, and runs fetch workloads whose latency
//! histograms it streams back to the controller.

pub mod cpu;
pub mod daemon;
pub mod driver;
pub mod engine;
pub mod keys;
pub mod outcome;
pub mod pace;
pub mod plan;
pub mod record;
pub mod seed;
pub mod server;
pub mod tls;
pub mod verify;

pub use server::{AgentService, serve, serve_tls};
