//! `fetchbench`, the controller: the command line, scenario files, the local fleet (agents,
//! redis-server, an embedded S3 endpoint), run orchestration over gRPC, aggregation of the
//! agents' histograms, `result.json`, the terminal summary, live progress, report.html with its
//! exports, comparison of two runs and their cost.

pub mod aggregate;
pub mod aws;
pub mod awsrun;
pub mod chart;
pub mod cli;
pub mod compare;
pub mod compare_html;
pub mod cost;
pub mod error;
pub mod export;
pub mod fleet;
pub mod html;
pub mod install;
pub mod local;
pub mod pricing;
pub mod progress;
pub mod provision;
pub mod report;
pub mod result;
pub mod run;
pub mod s3local;
pub mod scenario;
pub mod signal;
pub mod stack;
pub mod state;
pub mod status;
pub mod summary;
pub mod teardown;
pub mod thresholds;
pub mod tls;
