//! `fetchbench`, the controller: the command line, scenario files, the local fleet (agents,
//! redis-server, an embedded S3 endpoint), run orchestration over gRPC, aggregation of the
//! agents' histograms, `result.json`, the terminal summary, live progress, report.html with its
//! exports, comparison of two runs and their cost.

pub mod aggregate;
pub mod chart;
pub mod cli;
pub mod compare;
pub mod cost;
pub mod error;
pub mod export;
pub mod html;
pub mod local;
pub mod progress;
pub mod report;
pub mod result;
pub mod run;
pub mod s3local;
pub mod scenario;
pub mod summary;
pub mod thresholds;
