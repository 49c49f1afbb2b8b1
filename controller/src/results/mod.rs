//! result.json and the figures made from it. Data and statistics only: nothing here renders.

pub mod analysis;
pub mod cloudwatch;
pub mod compare;
pub mod cost;
pub mod histogram;
pub mod pricing;
pub mod schema;
pub mod server;
pub mod tally;
pub mod thresholds;
pub mod trace_stats;
pub mod verdict;
