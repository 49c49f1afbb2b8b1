//! Files other tools read, written beside result.json: one `.hgrm` per workload (HdrHistogram's
//! percentile-distribution text, which HdrHistogram plotters load), `summary.csv` and
//! `timeseries.csv`.

use std::fmt::Write;

use hdrhistogram::Histogram;

use crate::results::histogram::{self, HistogramError};
use crate::results::schema::RunResult;

/// Percentile ticks per half distance to 100%, as HistogramLogProcessor prints them.
const TICKS_PER_HALF_DISTANCE: u32 = 5;
/// Nanoseconds per microsecond: the `.hgrm` files are in microseconds.
const NS_PER_US: f64 = 1000.0;

/// One row of a percentile distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PercentileRow {
    /// The highest value equivalent to the bucket reached, in the histogram's unit.
    pub value: u64,
    /// The percentile level iterated to, 0 to 1 (1 on the last row only).
    pub quantile: f64,
    /// Values at or below `value`.
    pub total_count: u64,
}

/// The rows HdrHistogram's percentile iterator yields, as its Java `PercentileIterator` does:
/// fixed ticks per half distance to 100%, levels kept in percent (so 70% is reached exactly, not
/// one float step past it), a row at every tick a bucket reaches, and a last row at 100%.
pub fn percentile_rows(h: &Histogram<u64>, ticks_per_half_distance: u32) -> Vec<PercentileRow> {
    let total = h.len();
    let mut rows = Vec::new();
    if total == 0 {
        return rows;
    }
    let mut level = 0.0f64;
    let mut count = 0u64;
    for v in h.iter_recorded() {
        count += v.count_at_value();
        let value = v.value_iterated_to();
        while 100.0 * count as f64 / total as f64 >= level {
            rows.push(PercentileRow { value, quantile: level / 100.0, total_count: count });
            if count == total {
                // One more step, to 100%, and no further ticks.
                rows.push(PercentileRow { value, quantile: 1.0, total_count: count });
                return rows;
            }
            // The same arithmetic as Java's, so the ticks land on the same doubles.
            let halvings = ((100.0 / (100.0 - level)).ln() / 2f64.ln()) as u32;
            let ticks = u64::from(ticks_per_half_distance) << (halvings + 1).min(62);
            let next = level + 100.0 / ticks as f64;
            if next <= level {
                // The step fell below a float's resolution; nothing more can be told apart.
                break;
            }
            level = next;
        }
    }
    rows
}

/// HdrHistogram's `outputPercentileDistribution` text for `h`, values divided by `unit_ratio`
/// (1000 turns nanoseconds into microseconds): byte for byte what HdrHistogram's Java
/// `HistogramLogProcessor` writes to its `.hgrm` file after its one-line time-range comment.
pub fn percentile_distribution(h: &Histogram<u64>, unit_ratio: f64) -> String {
    let sig = usize::from(h.sigfig());
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for row in percentile_rows(h, TICKS_PER_HALF_DISTANCE) {
        let value = fixed(row.value as f64 / unit_ratio, sig);
        let (q, total) = (row.quantile, row.total_count);
        if q < 1.0 {
            let _ =
                writeln!(out, "{value:>12} {:>2} {total:10} {:>14}", fixed(q, 12), fixed(1.0 / (1.0 - q), 2));
        } else {
            let _ = writeln!(out, "{value:>12} {:>2} {total:10}", fixed(q, 12));
        }
    }
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (h.mean() / unit_ratio, h.stdev() / unit_ratio, h.max() as f64 / unit_ratio)
    };
    let _ =
        writeln!(out, "#[Mean    = {:>12}, StdDeviation   = {:>12}]", fixed(mean, sig), fixed(stdev, sig));
    let _ = writeln!(out, "#[Max     = {:>12}, Total count    = {:12}]", fixed(max, sig), h.len());
    let _ = writeln!(out, "#[Buckets = {:12}, SubBuckets     = {:12}]", h.buckets(), sub_buckets(h.sigfig()));
    out
}

/// `v` with `decimals` digits after the point, rounded as Java's `%.Nf` rounds: half up, on the
/// shortest decimal that reads back as `v` (Rust's own `{:.N}` rounds the exact binary value, so
/// 0.9997802734375 would become ...437 where Java prints ...438).
fn fixed(v: f64, decimals: usize) -> String {
    let shortest = format!("{}", v.abs());
    let (int, frac) = shortest.split_once('.').unwrap_or((&shortest, ""));
    let mut digits: Vec<u8> =
        int.bytes().chain(frac.bytes().chain(std::iter::repeat(b'0')).take(decimals)).collect();
    if frac.as_bytes().get(decimals).is_some_and(|d| *d >= b'5') {
        // Carry from the last kept digit leftwards; a carry out of the first digit adds a 1.
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let split = digits.len() - decimals;
    let (int, frac) = digits.split_at(split);
    let sign = if v.is_sign_negative() && digits.iter().any(|d| *d != b'0') { "-" } else { "" };
    let int = String::from_utf8_lossy(int);
    if decimals == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{}", String::from_utf8_lossy(frac))
    }
}

/// Sub-buckets per bucket of a histogram with `sigfig` significant digits, as HdrHistogram
/// sizes them: the smallest power of two above twice 10^sigfig.
fn sub_buckets(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

/// File-name stems for the workloads' `.hgrm` files: the name with anything but letters,
/// digits, `-`, `_` and `.` replaced by `_`, made unique with a suffix when two collide.
pub fn file_stems(names: &[&str]) -> Vec<String> {
    let mut stems: Vec<String> = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let mut stem: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
            .collect();
        if stem.starts_with('.') {
            stem.insert(0, '_');
        }
        if stems.contains(&stem) {
            stem = format!("{stem}-{}", i + 1);
        }
        stems.push(stem);
    }
    stems
}

/// Each workload that measured a request, with the file name of its `.hgrm`, in workload order.
/// A workload that measured none has no distribution to export, and no file.
fn hgrm_workloads(result: &RunResult) -> Vec<(&crate::results::schema::WorkloadResult, String)> {
    let names: Vec<&str> = result.workloads.iter().map(|w| w.name.as_str()).collect();
    result
        .workloads
        .iter()
        .zip(file_stems(&names))
        .filter(|(w, _)| w.ops > 0)
        .map(|(w, stem)| (w, format!("{stem}.hgrm")))
        .collect()
}

/// The file name of every `.hgrm` [`hgrm_files`] writes, in workload order.
pub fn hgrm_names(result: &RunResult) -> Vec<String> {
    hgrm_workloads(result).into_iter().map(|(_, name)| name).collect()
}

/// `(file name, contents)` of the `.hgrm` of every workload that measured a request, latencies
/// in microseconds.
pub fn hgrm_files(result: &RunResult) -> Result<Vec<(String, String)>, HistogramError> {
    hgrm_workloads(result)
        .into_iter()
        .map(|(w, name)| Ok((name, percentile_distribution(&histogram::of_workload(w)?, NS_PER_US))))
        .collect()
}

/// One CSV field, quoted when it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `summary.csv`: a row per workload over all agents (`agent` = `all`), then a row per agent.
/// Latencies in microseconds.
pub fn summary_csv(result: &RunResult) -> String {
    let mut out = String::from(
        "workload,target,agent,ops,errors,duration_s,throughput_ops_s,\
         min_us,mean_us,p50_us,p90_us,p99_us,p999_us,max_us,client_bound,hit_ratio\n",
    );
    let opt = |v: Option<String>| v.unwrap_or_default();
    for w in &result.workloads {
        let rows = std::iter::once(("all", w.ops, w.errors, w.duration_s, w.throughput_ops_s, &w.latency_us))
            .chain(w.per_agent.iter().map(|a| {
                (a.agent.as_str(), a.ops, a.errors, a.duration_s, a.throughput_ops_s, &a.latency_us)
            }));
        for (i, (agent, ops, errors, duration_s, ops_s, l)) in rows.enumerate() {
            let (client_bound, hit_ratio) = if i == 0 {
                (w.client_bound.to_string(), opt(w.hit_ratio.map(|h| h.to_string())))
            } else {
                (String::new(), String::new())
            };
            // No successful request, no latency: empty fields, not zeros; and nothing sent at
            // all (a run stopped before the workload started) has no duration or rate either.
            let latencies = if ops > 0 {
                [l.min, l.mean, l.p50, l.p90, l.p99, l.p999, l.max].map(|v| v.to_string()).join(",")
            } else {
                ",".repeat(6)
            };
            let (duration_s, ops_s) = if ops + errors > 0 {
                (duration_s.to_string(), ops_s.to_string())
            } else {
                (String::new(), String::new())
            };
            let _ = writeln!(
                out,
                "{},{},{},{ops},{errors},{duration_s},{ops_s},{latencies},{client_bound},{hit_ratio}",
                field(&w.name),
                field(w.target.as_str()),
                field(agent),
            );
        }
    }
    out
}

/// `timeseries.csv`: every interval of every workload (only the header when the result has no
/// time series). `t_s` counts from the start of the interval's phase; `hit_ratio` is empty but
/// for cache-aside workloads.
pub fn timeseries_csv(result: &RunResult) -> String {
    let mut out = String::from("workload,phase,t_s,interval_s,ops,errors,ops_s,p50_us,p99_us,hit_ratio\n");
    for w in &result.workloads {
        for p in &w.timeseries {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{}",
                field(&w.name),
                field(p.phase.as_str()),
                p.t_s,
                p.interval_s,
                p.ops,
                p.errors,
                p.ops_s,
                p.p50_us,
                p.p99_us,
                p.hit_ratio.map(|h| h.to_string()).unwrap_or_default()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe_and_unique() {
        let stems = file_stems(&["redis-get", "s3 get/all", "s3_get_all", ".hidden", "s3 get/all"]);
        assert_eq!(stems, ["redis-get", "s3_get_all", "s3_get_all-3", "_.hidden", "s3_get_all-5"]);
    }

    #[test]
    fn fixed_point_rounds_half_up_like_java() {
        assert_eq!(fixed(0.999_780_273_437_5, 12), "0.999780273438");
        assert_eq!(fixed(0.999_926_757_812_5, 12), "0.999926757813");
        assert_eq!(fixed(159.103, 3), "159.103");
        assert_eq!(fixed(0.0, 12), "0.000000000000");
        assert_eq!(fixed(1.0, 12), "1.000000000000");
        assert_eq!(fixed(9.9996, 3), "10.000");
        assert_eq!(fixed(2.225, 2), "2.23");
        assert_eq!(fixed(1507.5275, 3), "1507.528");
        assert_eq!(fixed(7.0, 0), "7");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    /// `text` without HistogramLogProcessor's first line, which names the time range it read:
    /// the rest is `outputPercentileDistribution`'s.
    fn java_distribution(text: &str) -> &str {
        let (first, rest) = text.split_once('\n').expect("more than one line");
        assert!(first.starts_with("#[Overall percentile distribution"), "{first}");
        rest
    }

    #[test]
    fn matches_hdrhistogram_java_on_a_real_run() {
        // A seed run's redis-get histogram (result.json's base64) and what HdrHistogram 2.1.11's
        // HistogramLogProcessor wrote for it with -outputValueUnitRatio 1000.
        let h = crate::results::histogram::decode_base64(
            include_str!("../../tests/data/hgrm/seed-redis-get.base64").trim(),
        )
        .expect("fixture decodes");
        let java = include_str!("../../tests/data/hgrm/seed-redis-get.java.hgrm");
        assert_eq!(percentile_distribution(&h, NS_PER_US), java_distribution(java));
    }

    #[test]
    fn matches_hdrhistogram_java_over_seven_decades() {
        // 100,000 samples spread log-uniformly over 1 µs to 10 s: many buckets and percentiles
        // up to 99.999%. HistogramLogProcessor read this histogram's V2 deflate encoding.
        let mut h = crate::results::histogram::new_histogram();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let exponent = 3.0 + 7.0 * (x >> 11) as f64 / (1u64 << 53) as f64;
            h.record(10f64.powf(exponent) as u64).expect("auto-resizing");
        }
        let java = include_str!("../../tests/data/hgrm/wide.java.hgrm");
        assert_eq!(percentile_distribution(&h, NS_PER_US), java_distribution(java));
    }

    #[test]
    fn empty_histogram_prints_header_and_footer() {
        let text = percentile_distribution(&crate::results::histogram::new_histogram(), NS_PER_US);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        assert!(lines[2].starts_with("#[Mean    ="), "{text}");
        assert!(lines[3].ends_with("Total count    =            0]"), "{text}");
    }
}
