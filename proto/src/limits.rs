//! The largest workload an agent accepts. The controller refuses a scenario beyond them when it
//! is loaded, naming the field; the agent refuses a request beyond them with `InvalidArgument`,
//! for any other caller. Both read them from here so that the two checks cannot drift apart.

use std::time::Duration;

/// Most requests in flight (closed loop) or connections (open loop) per agent and workload.
pub const MAX_CONCURRENCY: u32 = 100_000;
/// Highest open-loop rate per agent, requests per second.
pub const MAX_RATE: f64 = 10_000_000.0;
/// Most Redis commands one connection sends at once.
pub const MAX_PIPELINE: u32 = 10_000;
/// Longest busy-poll for one Redis reply.
pub const MAX_BUSY_POLL: Duration = Duration::from_millis(10);
/// Largest object, bytes (1 GiB).
pub const MAX_OBJECT_BYTES: u64 = 1 << 30;
/// Most records a replayed trace may hold (`keys = "trace:FILE"`). Each agent gets its share of
/// them in its Run request, at most about 20 bytes a record (an object index and a time).
pub const MAX_TRACE_RECORDS: usize = 10_000_000;
/// Largest message an agent decodes, bytes (256 MiB, instead of tonic's default 4 MiB): a Run
/// request carrying a trace of [`MAX_TRACE_RECORDS`] records for one agent fits.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;
