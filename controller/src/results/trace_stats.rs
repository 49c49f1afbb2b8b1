//! What a trace holds, in the figures a synthetic scenario is made to match: requests, distinct
//! keys, object sizes, its time span and rate, how concentrated its requests are, and the Zipf
//! exponent that fits its key popularity best.

use std::time::Duration;

use crate::scenario::trace::Trace;

/// The figures of one trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceStats {
    /// Requests (records) in the trace.
    pub requests: u64,
    /// Distinct keys.
    pub distinct_keys: u64,
    /// Sizes of the distinct keys whose size the trace gives; `None` when it gives none.
    pub sizes: Option<SizeStats>,
    /// From the first record's time to the last's; `None` without times.
    pub span: Option<Duration>,
    /// Requests per second over the span; `None` without times or with a zero span.
    pub mean_rate: Option<f64>,
    /// The most requested 1% of the keys (at least one key): how many they are.
    pub top_keys: u64,
    /// The share of the requests those keys take, in [0, 1].
    pub top_share: f64,
    /// The exponent s of the truncated Zipf law P(rank k) ∝ 1/k^s over the distinct keys that
    /// makes the trace's rank-frequency counts most likely, in [0, 5].
    pub zipf_exponent: f64,
}

/// Object sizes, bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct SizeStats {
    /// Keys with a known size.
    pub known: u64,
    /// Smallest.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation of ln(size) over the sizes of at least 1 byte: the `sigma` of a
    /// log-normal whose median is `p50`.
    pub ln_sigma: f64,
}

/// Largest exponent the Zipf fit considers.
pub const MAX_ZIPF_EXPONENT: f64 = 5.0;

/// The figures of `trace`.
pub fn trace_stats(trace: &Trace) -> TraceStats {
    let mut counts = trace.counts();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let requests = trace.records.len() as u64;
    let top_keys = (counts.len() as u64).div_ceil(100).max(1);
    let top: u64 = counts.iter().take(top_keys as usize).sum();
    let times: Vec<Duration> = trace.records.iter().filter_map(|r| r.at).collect();
    let span = (trace.has_times()).then(|| times.iter().max().copied().unwrap_or_default());
    let mean_rate = span.filter(|s| !s.is_zero()).map(|s| requests as f64 / s.as_secs_f64());
    TraceStats {
        requests,
        distinct_keys: counts.len() as u64,
        sizes: size_stats(trace.key_sizes().into_iter().flatten().collect()),
        span,
        mean_rate,
        top_keys,
        top_share: if requests == 0 { 0.0 } else { top as f64 / requests as f64 },
        zipf_exponent: zipf_fit(&counts),
    }
}

/// Percentiles, mean and log-deviation of `sizes`; `None` when empty.
fn size_stats(mut sizes: Vec<u64>) -> Option<SizeStats> {
    if sizes.is_empty() {
        return None;
    }
    sizes.sort_unstable();
    let n = sizes.len();
    // Nearest rank: the smallest size with at least q of the sizes at or below it.
    let rank = |q: f64| sizes[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    let logs: Vec<f64> = sizes.iter().filter(|&&s| s >= 1).map(|&s| (s as f64).ln()).collect();
    let ln_sigma = if logs.len() < 2 {
        0.0
    } else {
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt()
    };
    Some(SizeStats {
        known: n as u64,
        min: sizes[0],
        p50: rank(0.5),
        p90: rank(0.9),
        p99: rank(0.99),
        max: sizes[n - 1],
        mean: sizes.iter().map(|&s| s as f64).sum::<f64>() / n as f64,
        ln_sigma,
    })
}

/// The maximum-likelihood exponent of a truncated Zipf law for rank-frequency `counts` (sorted
/// from the most requested key down). The negative log-likelihood
/// `s * Σ c_k ln k + N ln H(n, s)`, with `H(n, s) = Σ_{k<=n} k^-s`, is convex in s (its second
/// derivative is N times the variance of ln k under the law), so a golden-section search on
/// [0, 5] finds its minimum.
pub fn zipf_fit(counts: &[u64]) -> f64 {
    let n = counts.len();
    if n < 2 {
        return 0.0;
    }
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    let ln_ranks: Vec<f64> = (1..=n).map(|k| (k as f64).ln()).collect();
    let weighted: f64 = counts.iter().zip(&ln_ranks).map(|(&c, l)| c as f64 * l).sum();
    let cost = |s: f64| {
        let h: f64 = ln_ranks.iter().map(|l| (-s * l).exp()).sum();
        s * weighted + total * h.ln()
    };
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut lo, mut hi) = (0.0, MAX_ZIPF_EXPONENT);
    let (mut a, mut b) = (hi - ratio * (hi - lo), lo + ratio * (hi - lo));
    let (mut fa, mut fb) = (cost(a), cost(b));
    while hi - lo > 1e-4 {
        if fa < fb {
            (hi, b, fb) = (b, a, fa);
            a = hi - ratio * (hi - lo);
            fa = cost(a);
        } else {
            (lo, a, fa) = (a, b, fb);
            b = lo + ratio * (hi - lo);
            fb = cost(b);
        }
    }
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::trace::parse;
    use fetchbench_proto::dataset::mix;

    /// Rank-frequency counts of `draws` draws from a Zipf law of exponent `s` over `n` keys.
    fn zipf_counts(n: usize, s: f64, draws: u64, seed: u64) -> Vec<u64> {
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
        let total: f64 = weights.iter().sum();
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0;
        for w in &weights {
            acc += w / total;
            cdf.push(acc);
        }
        let mut counts = vec![0u64; n];
        for i in 0..draws {
            let u = (mix(seed, i) >> 11) as f64 / (1u64 << 53) as f64;
            let k = cdf.partition_point(|&c| c < u).min(n - 1);
            counts[k] += 1;
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        counts
    }

    #[test]
    fn the_fit_recovers_the_exponent_of_a_sampled_zipf() {
        for s in [0.6, 0.99, 1.3] {
            let fitted = zipf_fit(&zipf_counts(1000, s, 200_000, 7));
            assert!((fitted - s).abs() < 0.03, "sampled with s = {s}, fitted {fitted}");
        }
        let uniform = zipf_fit(&[1000; 50]);
        assert!(uniform < 0.01, "equal counts fit {uniform}");
    }

    #[test]
    fn figures_of_a_small_trace() {
        // 4 keys: a 5 times, b 3, c 1, d 1; the top 1% is one key, a, with 5 of 10 requests.
        let text = "key,time,size\na,0,100\nb,0.5,200\na,1,100\nc,1,\nb,2,200\na,2,100\nd,3,4000\na,3,100\nb,4,250\na,5,100\n";
        let stats = trace_stats(&parse(text).expect("valid"));
        assert_eq!((stats.requests, stats.distinct_keys, stats.top_keys), (10, 4, 1));
        assert!((stats.top_share - 0.5).abs() < 1e-12);
        assert_eq!(stats.span, Some(Duration::from_secs(5)));
        assert_eq!(stats.mean_rate, Some(2.0));
        let sizes = stats.sizes.expect("sizes");
        assert_eq!((sizes.known, sizes.min, sizes.p50, sizes.max), (3, 100, 250, 4000));
        assert!((sizes.mean - 1450.0).abs() < 1e-9);
        assert!(stats.zipf_exponent > 0.5, "skewed counts fit {}", stats.zipf_exponent);
        let bare = trace_stats(&parse("x\ny\nx\n").expect("valid"));
        assert_eq!((bare.sizes, bare.span, bare.mean_rate), (None, None, None));
    }
}
