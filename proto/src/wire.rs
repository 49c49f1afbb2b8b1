//! What both ends of a connection assume about each other beyond the messages: how often they
//! ping, how timestamps are written and how precise the latency histograms are.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often each side pings the other over HTTP/2. A peer gone silent (a cut link, a laptop
/// asleep) is found within [`KEEPALIVE_INTERVAL`] + [`KEEPALIVE_TIMEOUT`] even when no packet
/// says so: the controller then loses the agent, the agent stops the load.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
/// How long a side waits for the answer to a keep-alive ping before it drops the connection.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Significant decimal digits of every latency histogram an agent sends and the controller
/// merges (HdrHistogram, nanoseconds).
pub const HISTOGRAM_SIGNIFICANT_DIGITS: u8 = 3;

/// `t` as nanoseconds since the Unix epoch, the unit of every `*_unix_ns` field; 0 before the
/// epoch, `i64::MAX` past 2262.
pub fn unix_ns(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_ns_counts_from_the_epoch_and_saturates() {
        assert_eq!(unix_ns(UNIX_EPOCH + Duration::from_nanos(1_500)), 1_500);
        assert_eq!(unix_ns(UNIX_EPOCH - Duration::from_secs(1)), 0, "before the epoch");
        assert_eq!(unix_ns(UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 4)), i64::MAX);
    }
}
