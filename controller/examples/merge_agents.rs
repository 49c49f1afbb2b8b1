//! The controller's merge path under a large fleet, in one process: N simulated agents stream one
//! progress event per interval (latency and service-time histograms serialised as the agent does),
//! the controller folds every event into its `Tallies`, then merges the workload's result and
//! serialises it as result.json does. Prints the times; a benchmark, not a test.
//!
//!     cargo run --release --example merge_agents -- [AGENTS] [INTERVALS] [OPS_PER_INTERVAL]
//!
//! Defaults: 1000 agents, 10 one-second intervals, 20,000 requests per agent per interval. The
//! last line is JSON, for `bench/run`.

use std::time::{Duration, Instant};

use anyhow::Context;
use fetchbench::results::histogram::new_histogram;
use fetchbench::results::tally::Tallies;
use fetchbench_proto as pb;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2Serializer};

/// Distinct interval histograms generated; events reuse them round-robin (decoding and merging
/// cost the same whichever one an event carries).
const POOL: usize = 64;

fn main() -> anyhow::Result<()> {
    let arg = |i: usize, default: u64| -> anyhow::Result<u64> {
        std::env::args()
            .nth(i)
            .map_or(Ok(default), |s| s.parse().with_context(|| format!("argument {i}: {s}")))
    };
    let agents = arg(1, 1000)? as usize;
    let intervals = arg(2, 10)? as usize;
    let ops = arg(3, 20_000)?;

    let mut rng = SplitMix(1);
    let pool: Vec<(Vec<u8>, Vec<u8>)> = (0..POOL)
        .map(|_| {
            let latency = interval_histogram(&mut rng, ops);
            (serialize(&latency), serialize(&latency))
        })
        .collect();
    let bytes_per_event: usize = pool.iter().map(|(a, b)| a.len() + b.len()).sum::<usize>() / POOL;

    let mut tallies = Tallies::new(1, agents);
    let started = Instant::now();
    let mut slowest_interval = Duration::ZERO;
    for i in 0..intervals {
        let interval_start = Instant::now();
        for a in 0..agents {
            let (histogram, service) = &pool[(i * agents + a) % POOL];
            let progress = pb::Progress {
                workload: 0,
                warmup: false,
                elapsed_ms: (i as u64 + 1) * 1000,
                interval_ms: 1000,
                ops,
                histogram: histogram.clone(),
                service_histogram: service.clone(),
                ..Default::default()
            };
            tallies.add(a, 0, &pb::run_event::Event::Progress(progress)).context("folding an event")?;
        }
        slowest_interval = slowest_interval.max(interval_start.elapsed());
    }
    for a in 0..agents {
        let done = pb::WorkloadDone {
            workload: 0,
            ops: ops * intervals as u64,
            duration_us: intervals as u64 * 1_000_000,
            started_at_unix_ns: 1_700_000_000_000_000_000 + a as i64 * 1000,
            ..Default::default()
        };
        tallies.add(a, 0, &pb::run_event::Event::Done(done)).context("folding a done event")?;
    }
    let streamed = started.elapsed();

    let ids: Vec<String> = (0..agents).map(|a| format!("agent-{a}")).collect();
    let offsets = vec![0i64; agents];
    let merge_start = Instant::now();
    let result = tallies.workload_result(0, "redis-get", fetchbench::scenario::Target::Redis, &ids, &offsets);
    let merged = merge_start.elapsed();
    let json_start = Instant::now();
    let json = serde_json::to_vec_pretty(&result).context("serialising the result")?;
    let serialised = json_start.elapsed();
    let total = started.elapsed();

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{agents} agents x {intervals} intervals ({} events, {bytes_per_event} histogram bytes each)",
        agents * intervals
    );
    println!(
        "  fold every event into the tallies: {:.1} ms (slowest interval {:.1} ms)",
        ms(streamed),
        ms(slowest_interval)
    );
    println!("  merge the workload result:         {:.1} ms", ms(merged));
    println!("  serialise it ({} KiB of JSON):    {:.1} ms", json.len() / 1024, ms(serialised));
    println!(
        "  total:                             {:.1} ms; peak RSS {} MiB",
        ms(total),
        peak_rss_kib() / 1024
    );
    println!(
        "{}",
        serde_json::json!({
            "agents": agents,
            "intervals": intervals,
            "ops_per_interval": ops,
            "event_histogram_bytes": bytes_per_event,
            "fold_ms": ms(streamed),
            "slowest_interval_ms": ms(slowest_interval),
            "merge_ms": ms(merged),
            "serialise_ms": ms(serialised),
            "total_ms": ms(total),
            "peak_rss_kib": peak_rss_kib(),
            "merged_p99_us": result.latency_us.p99,
        })
    );
    Ok(())
}

/// `ops` latencies, nanoseconds, shaped like a loopback Redis GET: log-normal around 120 µs with a
/// tail to several milliseconds.
fn interval_histogram(rng: &mut SplitMix, ops: u64) -> Histogram<u64> {
    let mut h = new_histogram();
    for _ in 0..ops {
        // Irwin-Hall: the sum of 12 uniforms minus 6 is close enough to a standard normal.
        let z: f64 = (0..12).map(|_| rng.unit()).sum::<f64>() - 6.0;
        let ns = 120_000.0 * (0.5 * z).exp();
        let ns = if rng.unit() < 0.001 { ns * 20.0 } else { ns };
        h.record(ns as u64).expect("auto-resizing");
    }
    h
}

fn serialize(h: &Histogram<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    V2Serializer::new().serialize(h, &mut out).expect("serialising into a Vec cannot fail");
    out
}

/// The process's peak resident set, KiB (0 where /proc is missing).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:").and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            })
        })
        .unwrap_or(0)
}

/// SplitMix64: a small, seeded generator, so the example needs no extra dependency.
struct SplitMix(u64);

impl SplitMix {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}
