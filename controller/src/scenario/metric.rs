//! The figures a scenario's thresholds can bound (`redis-get.p99_us`), and which way each bounds.

/// A figure a threshold can bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdMetric {
    /// Latency percentile or extreme, microseconds: an upper bound.
    Latency(&'static str),
    /// Service-time percentile, microseconds (open loop): an upper bound.
    Service(&'static str),
    /// Failed requests: an upper bound.
    Errors,
    /// Failed requests over all requests, 0..1: an upper bound.
    ErrorRate,
    /// Successful requests per second: a lower bound.
    Throughput,
    /// Cache-aside hits over all reads, 0..1: a lower bound.
    HitRatio,
}

impl ThresholdMetric {
    /// Every metric name a threshold may use.
    pub const NAMES: [&'static str; 18] = [
        "min_us",
        "mean_us",
        "p50_us",
        "p90_us",
        "p99_us",
        "p999_us",
        "max_us",
        "service_p50_us",
        "service_p90_us",
        "service_p99_us",
        "service_p999_us",
        "service_max_us",
        "service_mean_us",
        "service_min_us",
        "errors",
        "error_rate",
        "throughput_ops_s",
        "hit_ratio",
    ];

    /// The metric a name stands for.
    pub fn parse(name: &str) -> Option<ThresholdMetric> {
        let stat =
            |s: &str| ["min", "mean", "p50", "p90", "p99", "p999", "max"].into_iter().find(|k| *k == s);
        match name {
            "errors" => Some(ThresholdMetric::Errors),
            "error_rate" => Some(ThresholdMetric::ErrorRate),
            "throughput_ops_s" => Some(ThresholdMetric::Throughput),
            "hit_ratio" => Some(ThresholdMetric::HitRatio),
            _ => {
                let base = name.strip_suffix("_us")?;
                match base.strip_prefix("service_") {
                    Some(s) => stat(s).map(ThresholdMetric::Service),
                    None => stat(base).map(ThresholdMetric::Latency),
                }
            }
        }
    }

    /// True when a value above the limit breaches it; false when one below does.
    pub fn is_upper_bound(self) -> bool {
        !matches!(self, ThresholdMetric::Throughput | ThresholdMetric::HitRatio)
    }
}
