//! `fetchbench`, the controller: the command line, scenario files, the local fleet (agents,
//! redis-server, an embedded S3 endpoint), run orchestration over gRPC, aggregation of the
//! agents' histograms, `result.json` and the terminal summary.

pub mod aggregate;
pub mod aws;
pub mod awsrun;
pub mod cli;
pub mod error;
pub mod fleet;
pub mod install;
pub mod local;
pub mod pricing;
pub mod provision;
pub mod result;
pub mod run;
pub mod s3local;
pub mod scenario;
pub mod stack;
pub mod state;
pub mod status;
pub mod summary;
pub mod teardown;
pub mod thresholds;
pub mod tls;
