//! The terminal summary of a run: the tutorial's three lines per store, a percentile table, and
//! how many times faster the cache was than S3, and what the reads cost.

use std::fmt::Write;

use crate::results::analysis::{MIN_COMPARED_OPS, Spread, Warning, median_rounds, pairs, rounds, warnings};
use crate::results::schema::{
    Capacity, CloudWatchMetric, CloudWatchView, CostEstimate, Outcome, RunResult, ServerMetrics, Verdict,
    WorkloadResult,
};
use crate::results::thresholds;
use crate::results::{cost, server};
use crate::scenario::Target;

/// The whole summary, ending in a newline.
pub fn render(result: &RunResult) -> String {
    let mut out = String::new();
    let first = |target: Target| result.workloads.iter().find(|w| w.target == target && w.ops > 0);
    let (redis, s3) = (first(Target::Redis), first(Target::S3));
    for (label, w) in [("Redis", redis), ("S3", s3)] {
        if let Some(w) = w {
            let l = &w.latency_us;
            let _ = writeln!(out, "\n{label} ({})", w.name);
            let _ = writeln!(out, "Average Latency in Microseconds: {:.1}", l.mean);
            let _ = writeln!(out, "MAX Latency in Microseconds: {:.1}", l.max);
            let _ = writeln!(out, "MIN Latency in Microseconds: {:.1}", l.min);
        }
    }
    out.push('\n');
    out.push_str(&table(&result.workloads));
    let lines = speedups(result);
    if !lines.is_empty() {
        out.push('\n');
    }
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    out.push_str(&details(result));
    out.push_str(&cache_sweep_text(result));
    out.push_str(&ttl_sweep_text(result));
    out.push_str(&rounds_text(result));
    if let Some(cost) = &result.cost {
        out.push('\n');
        for line in cost_lines(&median_rounds(cost, result.scenario.rounds)) {
            let _ = writeln!(out, "{line}");
        }
        let cluster = result.targets.redis_target.as_ref().filter(|t| t.cluster && t.shards.is_none());
        if cluster.is_some() {
            let _ = writeln!(
                out,
                "  the Redis was a cluster of shards the run did not count: priced as {} node(s); \
                 `fetchbench report --cache-nodes N` prices its N nodes",
                cost.cache_nodes
            );
        }
    }
    if let Some(v) = &result.verdict {
        out.push('\n');
        for line in verdict_lines(v) {
            let _ = writeln!(out, "{line}");
        }
    }
    if !result.cloudwatch.is_empty() {
        out.push('\n');
    }
    for line in result.cloudwatch.iter().flat_map(cloudwatch_lines) {
        let _ = writeln!(out, "{line}");
    }
    // Client-bound workloads and thresholds are said with the details above.
    for w in warnings(result).iter().filter(|w| !is_detail(w)) {
        let _ = writeln!(out, "\n{}", warning(w));
    }
    out
}

/// The verdict block: the goal, one line per alternative (met, missed or not shown, and its cost
/// per month at the goal's rate), and the cheapest that met it.
pub fn verdict_lines(v: &Verdict) -> Vec<String> {
    let g = &v.goal;
    let mut lines = vec![format!(
        "verdict: {} reads/s with {} at most {} ms{}",
        g.reads_per_second,
        g.percentile,
        g.latency_ms,
        if g.cross_az { ", readers in another AZ than the cache" } else { "" }
    )];
    let width = v.alternatives.iter().map(|a| a.alternative.chars().count()).max().unwrap_or(0);
    for a in &v.alternatives {
        let outcome = match a.outcome {
            Outcome::Met => "met",
            Outcome::Missed => "missed",
            Outcome::NotShown => "not shown",
        };
        let month =
            a.usd_per_month.map_or_else(|| "no price".to_owned(), |m| format!("{} a month", cost::usd(m)));
        let hit = a.hit_ratio.map(|h| format!(" at hit ratio {:.1}%", h * 100.0)).unwrap_or_default();
        lines.push(format!("  {:width$}  {outcome}: {}", a.alternative, a.reason));
        lines.push(format!("  {:width$}  {month} at the goal's rate{hit}: {}", "", a.store));
    }
    lines.push(
        match v.cheapest_met.as_ref().and_then(|n| v.alternatives.iter().find(|a| &a.alternative == n)) {
            Some(a) => format!(
                "cheapest that met the goal: {} ({}), {} a month{}",
                a.alternative,
                a.store,
                a.usd_per_month.map_or_else(|| "n/a".to_owned(), cost::usd),
                tie(&v.tied_with)
            ),
            None => "no alternative measured met the goal".to_owned(),
        },
    );
    lines.push(format!(
        "  priced from the {}; result.json's verdict lists each charge and its source",
        v.prices_origin
    ));
    lines
}

/// The cost lines of the terminal summary.
pub fn cost_lines(c: &CostEstimate) -> Vec<String> {
    let engine = if c.cache_engine.is_empty() {
        String::new()
    } else {
        format!(" {}", cost::engine_name(&c.cache_engine))
    };
    let cache = if c.cache_serverless {
        format!("ElastiCache Serverless{engine}")
    } else {
        format!(
            "{} x {}{engine} at {}/h",
            c.cache_nodes,
            c.cache_node_type,
            cost::usd(c.cache_node_usd_per_hour)
        )
    };
    let origin = if c.prices_origin.is_empty() { cost::BUILT_IN_ORIGIN } else { c.prices_origin.as_str() };
    let mut lines = vec![format!(
        "cost ({}, {cache}, S3 GET {} per 1,000; {origin}, prices of {}):",
        c.region,
        cost::usd(c.s3_get_usd_per_1000),
        c.prices_as_of
    )];
    let width = c.workloads.iter().map(|w| w.name.chars().count()).max().unwrap_or(0);
    for w in &c.workloads {
        if w.reads_s <= 0.0 {
            lines.push(format!("  {:width$}  not run: no request measured, nothing to price", w.name));
            continue;
        }
        let per_million = w.usd_per_million_reads.map_or_else(|| "n/a".to_owned(), cost::usd);
        let at = match w.target.as_str() {
            "s3" | "s3-express" => "at any rate".to_owned(),
            _ => format!("at the measured {:.0} reads/s", w.reads_s),
        };
        lines.push(format!("  {:width$}  {per_million} per million reads {at}", w.name));
    }
    lines.push(format!("  {}", break_even(c)));
    lines
}

/// The rate above which the cache pays for itself, as the summary and report.html say it: "the
/// cache pays for itself above 11.1 reads/s (40000 reads/h) if every read is a cache hit".
pub fn break_even(c: &CostEstimate) -> String {
    let hit = if c.hit_ratio_source == "assumed" {
        "if every read is a cache hit".to_owned()
    } else {
        format!("at the hit ratio {:.3} of {}", c.hit_ratio, c.hit_ratio_source)
    };
    if c.break_even_reads_s.is_finite() {
        format!(
            "the cache pays for itself above {:.1} reads/s ({:.0} reads/h) {hit}",
            c.break_even_reads_s,
            c.break_even_reads_s * 3600.0
        )
    } else {
        format!("the cache never pays for itself {hit}")
    }
}

/// A warning as the summary and report.html say it.
pub fn warning(w: &Warning) -> String {
    match w {
        Warning::Partial => {
            "PARTIAL: the run was interrupted; the figures cover what ran until then".to_owned()
        }
        Warning::AgentsLost(lost) => {
            let lost: Vec<String> = lost
                .iter()
                .map(|a| format!("{} ({})", a.id, a.error.as_deref().unwrap_or("no reason")))
                .collect();
            format!("DEGRADED: lost {}", lost.join(", "))
        }
        Warning::Errors { workload, errors, by_kind } => {
            let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let corrupt = if by_kind.contains_key("corrupt") {
                "; corrupt: bodies read that are not the dataset's bytes (verify = true): \
                 something else wrote those keys, or the store returned wrong data"
            } else {
                ""
            };
            format!("DEGRADED: {workload} had {errors} errors ({}){corrupt}", kinds.join(", "))
        }
        Warning::ClientBound { workload, why } => format!(
            "CLIENT-BOUND: {workload}: the client could not keep up ({why}); the latencies may be the client's: \
             add agents or lower the rate"
        ),
        Warning::Threshold(t) if t.not_judged.is_some() => {
            format!("THRESHOLD NOT JUDGED: {}", thresholds::breach(t))
        }
        Warning::Threshold(t) => format!("THRESHOLD BREACHED: {}", thresholds::breach(t)),
        Warning::Degraded => "DEGRADED: the run was marked degraded".to_owned(),
        Warning::BurstableCache { node_type } => format!("BURSTABLE CACHE: {}", burstable(node_type)),
        Warning::LocalS3 { mean_bytes } => format!(
            "LOCAL S3: objects of {:.1} MiB on average make each S3 read throughput-bound, so the S3 figures \
             are this machine's embedded endpoint's (one process, files on this disk, sharing the cores \
             with the agents), not AWS S3's; docs/benchmarks.md has its throughput by object size. Run on \
             the AWS fleet (`fetchbench provision`) for S3's own",
            mean_bytes / f64::from(1u32 << 20)
        ),
    }
}

/// A cache-aside workload's writes and stale reads: `cache-aside: 812 writes; 37 stale reads
/// (0.9% of reads), stale for p50 1.2 ms, p99 8.0 ms after the newer version was written`.
fn stale_line(w: &WorkloadResult, stale: u64) -> String {
    let writes = w.writes.map_or(String::new(), |n| format!("{n} writes; "));
    let share = w.stale_share.unwrap_or(0.0) * 100.0;
    let how_long = w.staleness_us.map_or(String::new(), |s| {
        format!(
            ", stale for p50 {:.1} ms, p99 {:.1} ms after the newer version was written",
            s.p50 / 1e3,
            s.p99 / 1e3
        )
    });
    format!("{}: {writes}{stale} stale reads ({share:.2}% of reads){how_long}", w.name)
}

/// "; redis costs the same" after the cheapest alternative, when others tie with it.
pub fn tie(tied_with: &[String]) -> String {
    match tied_with {
        [] => String::new(),
        [one] => format!("; {one} costs the same"),
        many => format!("; {} cost the same", many.join(" and ")),
    }
}

/// What `status`, `run` and `provision` say of a stack whose `fetchbench:expires-at` (`at`) has
/// passed.
pub fn expired(stack: &str, at: &str) -> String {
    format!(
        "stack {stack} expired at {at}: its agents were scaled to 0; \
         `fetchbench provision --expires-in 4h` renews it, `fetchbench teardown` deletes it"
    )
}

/// What `provision`, the summary and report.html say of a burstable cache node.
pub fn burstable(node_type: &str) -> String {
    format!(
        "{node_type} is a burstable node (a low baseline network bandwidth, 0.064 Gbps for a cache.t4g.micro, \
         and CPU credits): on long or large-object runs Redis may look slower than it is; provision with \
         --cache-node-type {} for steady figures",
        crate::results::pricing::STEADY_NODE_TYPE
    )
}

/// Whether the summary says `w` among its details, beside the figures it is about, rather than
/// at its end.
fn is_detail(w: &Warning) -> bool {
    matches!(w, Warning::ClientBound { .. } | Warning::Threshold(_))
}

/// What the table does not say: open-loop service times, cache-aside hit ratios, busy-polling,
/// S3 time to first byte, start skew, client-bound agents and thresholds.
fn details(result: &RunResult) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        let _ = writeln!(out, "{text}");
    };
    line(String::new());
    for w in &result.workloads {
        if let Some(c) = &w.capacity {
            line(capacity_line(&w.name, c));
        }
    }
    for w in result.workloads.iter().filter(|w| no_figures(w) != Some("not run")) {
        let s = &w.service_time_us;
        if let Some(target) = w.target_rate_ops_s {
            line(format!(
                "{}: open loop, {:.1} ops/s asked, {:.1} ops/s sent, {} late starts, {} unsent; latencies run \
                 from each request's intended start; service time p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
                w.name, target, w.achieved_rate_ops_s, w.late_starts, w.unsent, s.p50, s.p99, s.max
            ));
        }
        if let (Some(ratio), Some(hits), Some(misses)) = (w.hit_ratio, w.hits, w.misses) {
            let part = |p: &Option<crate::results::schema::LatencySummary>| {
                p.map_or("-".to_owned(), |l| format!("p50 {:.1} µs, p99 {:.1} µs", l.p50, l.p99))
            };
            let steady =
                w.steady_hit_ratio.map_or(String::new(), |s| format!(", {:.1}% once warm", s * 100.0));
            line(format!(
                "{}: hit ratio {:.1}%{steady} ({hits} hits, {misses} misses); redis part {}; s3 part (misses) {}",
                w.name,
                ratio * 100.0,
                part(&w.redis_part_us),
                part(&w.s3_part_us)
            ));
        }
        if let Some(stale) = w.stale_reads {
            line(stale_line(w, stale));
        }
        if let Some(share) = w.busy_polled_share {
            let advice =
                if share < 0.5 { "; most replies outlasted the budget: raise busy_poll" } else { "" };
            line(format!(
                "{}: busy-polling caught {:.1}% of the replies as they arrived; the rest came after the slot's \
                 thread slept{advice}",
                w.name,
                share * 100.0
            ));
        }
        if let (Some(t), "s3" | "s3-express", 1..) = (&w.ttfb_us, w.target.as_str(), w.ops) {
            line(format!("{}: time to first byte p50 {:.1} µs, p99 {:.1} µs", w.name, t.p50, t.p99));
        }
        if let Some(server) = &w.server {
            line(server_line(&w.name, server));
        }
    }
    if result.agents.len() > 1 {
        let offset = result.agents.iter().map(|a| a.clock_offset_ms.abs()).fold(0.0, f64::max);
        line(format!(
            "agents started each workload within {:.2} ms of each other (clock offsets up to {offset:.2} ms corrected)",
            result.start_skew_ms
        ));
    }
    for w in warnings(result).iter().filter(|w| is_detail(w)) {
        line(warning(w));
    }
    if !result.thresholds.is_empty() && result.thresholds.iter().all(|t| t.passed) {
        line(format!("thresholds: all {} held", result.thresholds.len()));
    }
    if out.trim().is_empty() { String::new() } else { out }
}

/// A `find_max` search in one line: `redis-get: 48,200 ops/s at p99 <= 2 ms (50,600 missed it);
/// limited by: server (...)`.
pub fn capacity_line(name: &str, c: &Capacity) -> String {
    let objective = format!("{} <= {} ms", c.objective.percentile.as_str(), c.objective.limit_ms);
    let found = match (c.max_rate_ops_s, c.first_failed_ops_s) {
        (Some(max), Some(failed)) => {
            format!("{} ops/s at {objective} ({} missed it)", thousands(max), thousands(failed))
        }
        (Some(max), None) => format!("{} ops/s at {objective} (every step met it)", thousands(max)),
        (None, Some(failed)) => format!("no rate met {objective} (down to {} ops/s)", thousands(failed)),
        (None, None) => format!("no step ran ({})", c.ended_by),
    };
    format!(
        "{name}: {found}; limited by: {} ({}); {} steps after a closed-loop probe of {} ops/s, ended by {}",
        c.limited_by,
        c.limited_by_reason,
        c.steps.len(),
        thousands(c.probe_ops_s),
        c.ended_by
    )
}

/// The server's own view of a workload in one line: its GET count against the agents' requests,
/// and how busy its main thread was.
pub fn server_line(name: &str, s: &ServerMetrics) -> String {
    let counted = format!("{name}: the server counted {} GETs", thousands(s.gets as f64));
    let compared = match (s.agent_gets, s.gets_difference_percent) {
        (Some(sent), Some(d)) if d > server::GETS_TOLERANCE_PERCENT => format!(
            "{counted}, but the agents sent {} requests ({d:.1}% apart: another client was using this \
             Redis, or requests were lost on the way)",
            thousands(sent as f64)
        ),
        (Some(_), Some(d)) => format!("{counted}, as many as the agents sent (within {d:.2}%)"),
        _ => counted,
    };
    let peak = s.samples.iter().map(|x| x.commands_s).fold(0.0, f64::max);
    let evicted = match s.evicted_keys {
        0 => String::new(),
        n => format!(
            "; it evicted {} keys (maxmemory {}, {}) and held {} at the end",
            thousands(n as f64),
            crate::scenario::human_bytes(s.maxmemory_bytes),
            s.maxmemory_policy,
            thousands(s.keys as f64)
        ),
    };
    format!(
        "{compared}; its main thread peaked at {:.0}% of a core, {} commands/s{evicted}",
        s.cpu_max * 100.0,
        thousands(peak)
    )
}

/// What CloudWatch kept of the run's cache: one line of every metric's figure over the run's
/// minutes, then what they mean for the run's figures.
pub fn cloudwatch_lines(v: &CloudWatchView) -> Vec<String> {
    let minutes = v.metrics.iter().map(|m| m.points.len()).max().unwrap_or(0);
    let figures: Vec<String> =
        v.metrics.iter().map(|m| format!("{} {}", m.name, cloudwatch_value(m))).collect();
    let mut lines = vec![format!(
        "CloudWatch, {} ({minutes} minute{} from {} to {}): {}",
        v.source,
        if minutes == 1 { "" } else { "s" },
        v.start,
        v.end,
        figures.join(", ")
    )];
    let value = |name: &str| v.metrics.iter().find(|m| m.name == name).and_then(|m| m.value);
    if let Some(n) = value("NetworkBandwidthOutAllowanceExceeded").filter(|&n| n > 0.0) {
        lines.push(format!(
            "  the node exceeded its network bandwidth allowance ({n:.0} packets shaped): the run's figures \
             in those minutes are limited by the node's network, not its engine"
        ));
    }
    if let Some(cpu) =
        value("EngineCPUUtilization").filter(|&c| c >= crate::results::cloudwatch::ENGINE_CPU_PERCENT)
    {
        lines.push(format!(
            "  the engine's thread was busy {cpu:.0}% of a minute: the node's engine is near its limit"
        ));
    }
    if !v.complete {
        lines.push(format!(
            "  CloudWatch had not yet published the {}'s last minute of the run when fetchbench stopped waiting \
             (--cloudwatch-wait): its figures miss the run's end",
            v.resource
        ));
    }
    lines
}

/// A CloudWatch figure in its unit: `12.5%`, `1.2 MiB`, `4,200`, `p99 4.1 ms`, or `no data`.
pub fn cloudwatch_value(m: &CloudWatchMetric) -> String {
    let Some(v) = m.value else { return "no data".to_owned() };
    let of = match m.stat.as_str() {
        "Maximum" => "max ".to_owned(),
        "Sum" => String::new(),
        percentile => format!("{percentile} (worst minute) "),
    };
    if m.name.ends_with("Latency") {
        format!("{of}{v:.1} ms")
    } else if m.name.ends_with("Utilization") {
        format!("{of}{v:.1}%")
    } else if m.name.contains("Bytes") {
        format!("{of}{}", crate::scenario::human_bytes(v.max(0.0) as u64))
    } else {
        format!("{of}{}", thousands(v))
    }
}

/// A rate rounded to a whole number with thousands separated: `48,200`.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The summary's lines on a `--repeat` run: each workload's median and range over the rounds.
fn rounds_text(result: &RunResult) -> String {
    let (workloads, speedups) = rounds(result);
    if workloads.is_empty() {
        return String::new();
    }
    let mut out = format!("\nover {} rounds, median (min to max):\n", result.scenario.rounds);
    let width = workloads.iter().map(|w| w.name.chars().count()).max().unwrap_or(0);
    let range = |s: &Spread| format!("{:.1} to {:.1}", s.min, s.max);
    for w in &workloads {
        if w.count == 0 {
            let _ = writeln!(out, "  {:width$}  no round measured a request", w.name);
            continue;
        }
        let _ = writeln!(
            out,
            "  {:width$}  p50 {:.1} µs ({}), p99 {:.1} µs ({}), {:.1} ops/s ({})",
            w.name,
            w.p50.median,
            range(&w.p50),
            w.p99.median,
            range(&w.p99),
            w.ops_s.median,
            range(&w.ops_s)
        );
    }
    let named = speedups.len() > 1;
    for (label, s) in &speedups {
        let prefix = if named { format!("{label}: ") } else { String::new() };
        let (verdict, median, lo, hi) = if s.median >= 1.0 {
            ("faster", s.median, s.min, s.max)
        } else {
            ("slower", 1.0 / s.median, 1.0 / s.max, 1.0 / s.min)
        };
        let _ = writeln!(
            out,
            "  {prefix}Redis was {median:.1}x {verdict} than S3 by mean latency ({lo:.1}x to {hi:.1}x)"
        );
    }
    out
}

/// The workloads a `--sweep-cache` ran on each cache size, with their cache size, in run order.
pub fn cache_swept(result: &RunResult) -> Vec<(u64, &WorkloadResult)> {
    result
        .workloads
        .iter()
        .filter_map(|w| {
            let setting = result.scenario.workloads.iter().find(|s| s.name == w.name)?;
            Some((setting.cache_maxmemory_bytes?, w))
        })
        .collect()
}

/// A `--sweep-cache` run's table: per workload and cache size, the hit ratio once warm, p99 and
/// the keys the server evicted. Empty for other runs.
fn cache_sweep_text(result: &RunResult) -> String {
    let swept = cache_swept(result);
    if swept.is_empty() {
        return String::new();
    }
    let header =
        ["workload", "cache", "hit ratio once warm", "hit ratio", "p99 µs", "evicted keys"].map(String::from);
    let ratio = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0));
    let rows: Vec<[String; 6]> = swept
        .iter()
        .map(|(bytes, w)| {
            [
                w.name.clone(),
                crate::scenario::human_bytes(*bytes),
                ratio(w.steady_hit_ratio),
                ratio(w.hit_ratio),
                no_figures(w).map_or_else(|| format!("{:.1}", w.latency_us.p99), str::to_owned),
                w.server.as_ref().map_or_else(|| "-".to_owned(), |s| thousands(s.evicted_keys as f64)),
            ]
        })
        .collect();
    let align = [Align::Left, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right];
    format!("\nby cache size (--sweep-cache):\n{}", text_table(&header, &rows, align))
}

/// The TTL trade-off of a run whose cache-aside workloads differ only in their ttl: per
/// workload, the hit ratio once warm, the share of reads that were stale and for how long, and
/// p99. Empty for other runs.
fn ttl_sweep_text(result: &RunResult) -> String {
    let swept = crate::results::analysis::ttl_swept(result);
    if swept.is_empty() {
        return String::new();
    }
    let header = ["workload", "ttl", "hit ratio once warm", "stale reads", "stale for p99 ms", "p99 µs"]
        .map(String::from);
    let rows: Vec<[String; 6]> = swept
        .iter()
        .map(|(ttl, w)| {
            [
                w.name.clone(),
                ttl.map_or_else(|| "none".to_owned(), |t| humantime::format_duration(t).to_string()),
                w.steady_hit_ratio
                    .or(w.hit_ratio)
                    .map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0)),
                w.stale_share.map_or_else(|| "-".to_owned(), |s| format!("{:.2}%", s * 100.0)),
                w.staleness_us.map_or_else(|| "-".to_owned(), |s| format!("{:.1}", s.p99 / 1e3)),
                no_figures(w).map_or_else(|| format!("{:.1}", w.latency_us.p99), str::to_owned),
            ]
        })
        .collect();
    let align = [Align::Left, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right];
    format!("\nby TTL (hit ratio against staleness):\n{}", text_table(&header, &rows, align))
}

/// What a workload that measured no successful request shows in place of its figures: `not run`
/// when it sent nothing (a run stopped before it started), `-` when every request failed.
/// `None` for a workload that measured a request: its figures are figures.
pub fn no_figures(w: &WorkloadResult) -> Option<&'static str> {
    match (w.ops, w.errors) {
        (0, 0) => Some("not run"),
        (0, _) => Some("-"),
        _ => None,
    }
}

/// The percentile table, latencies in microseconds.
pub fn table(workloads: &[WorkloadResult]) -> String {
    let header =
        ["workload", "target", "ops", "errors", "ops/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs"];
    let rows: Vec<[String; 10]> = workloads
        .iter()
        .map(|w| {
            let l = &w.latency_us;
            let figure = |v: f64| no_figures(w).map_or_else(|| format!("{v:.1}"), |_| "-".to_owned());
            [
                w.name.clone(),
                w.target.to_string(),
                w.ops.to_string(),
                w.errors.to_string(),
                no_figures(w)
                    .filter(|t| *t == "not run")
                    .map_or_else(|| format!("{:.1}", w.throughput_ops_s), str::to_owned),
                figure(l.p50),
                figure(l.p90),
                figure(l.p99),
                figure(l.p999),
                figure(l.max),
            ]
        })
        .collect();
    // Names left-aligned, numbers right-aligned.
    let align = std::array::from_fn(|i| if i < 2 { Align::Left } else { Align::Right });
    text_table(&header.map(str::to_owned), &rows, align)
}

/// Which side of its column a cell of a [`text_table`] keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Padded on the right: names.
    Left,
    /// Padded on the left: numbers.
    Right,
}

/// A padded text table, a line per row after the header: each column as wide as its widest
/// cell, columns two spaces apart, no trailing spaces.
pub fn text_table<const N: usize>(header: &[String; N], rows: &[[String; N]], align: [Align; N]) -> String {
    let mut widths = [0usize; N];
    for row in std::iter::once(header).chain(rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .zip(align)
            .map(|((cell, w), align)| {
                let pad = " ".repeat(w - cell.chars().count());
                match align {
                    Align::Left => format!("{cell}{pad}"),
                    Align::Right => format!("{pad}{cell}"),
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// One [`speedup`] line per pair of [`pairs`], each naming its two workloads when the run has
/// more than one workload of either store; none for a run of several rounds, whose speed-ups
/// [`rounds`] gives over the rounds.
pub fn speedups(result: &RunResult) -> Vec<String> {
    if result.scenario.rounds > 1 {
        return Vec::new();
    }
    let count = |target: Target| result.workloads.iter().filter(|w| w.target == target && w.ops > 0).count();
    let named = count(Target::Redis) > 1 || count(Target::S3) > 1;
    pairs(result)
        .into_iter()
        .map(|(r, s3)| {
            let line = match [r, s3].into_iter().find(|w| w.ops < MIN_COMPARED_OPS) {
                Some(few) => format!(
                    "Redis and S3 not compared: {} measured {} request{}, fewer than the \
                     {MIN_COMPARED_OPS} a meaningful comparison needs on each side",
                    few.name,
                    few.ops,
                    if few.ops == 1 { "" } else { "s" }
                ),
                None => speedup(r, s3),
            };
            if named { format!("{} vs {}: {line}", r.name, s3.name) } else { line }
        })
        .collect()
}

/// "Redis was 31.2x faster than S3 ..." from the mean latencies (the tutorial's comparison) and
/// the medians; with a caveat when the Redis workload busy-polled, which S3 reads cannot.
pub fn speedup(redis: &WorkloadResult, s3: &WorkloadResult) -> String {
    let ratio = |a: f64, b: f64| if a > 0.0 { b / a } else { f64::INFINITY };
    let mean = ratio(redis.latency_us.mean, s3.latency_us.mean);
    let p50 = ratio(redis.latency_us.p50, s3.latency_us.p50);
    let p99 = ratio(redis.latency_us.p99, s3.latency_us.p99);
    let verdict = if mean >= 1.0 {
        format!("Redis was {mean:.1}x faster than S3")
    } else {
        format!("Redis was {:.1}x slower than S3", 1.0 / mean)
    };
    let caveat = if redis.busy_polled_share.is_some() {
        "; Redis busy-polled and S3 cannot, so only S3's figures include the client's wake-up"
    } else {
        ""
    };
    // A ratio under 1 is Redis behind at that percentile: said so, not as "0.5x" faster.
    let part = |name: &str, r: f64| {
        if r >= 1.0 { format!("{name} {r:.1}x") } else { format!("{name} {:.1}x slower", 1.0 / r) }
    };
    format!(
        "{verdict} (mean {:.1} µs vs {:.1} µs; {}, {}{caveat})",
        redis.latency_us.mean,
        s3.latency_us.mean,
        part("p50", p50),
        part("p99", p99)
    )
}

/// What `fetchbench trace-stats` prints: the trace's figures, then the scenario lines that make
/// a synthetic workload match them. `source` names the file and how it was read.
pub fn trace_stats_text(source: &str, s: &crate::results::trace_stats::TraceStats) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "trace: {source}");
    let _ = writeln!(out, "requests: {}", s.requests);
    let _ = writeln!(out, "distinct keys: {}", s.distinct_keys);
    match &s.sizes {
        Some(z) => {
            let _ = writeln!(
                out,
                "object sizes (bytes, {} keys with a size): min {}, p50 {}, p90 {}, p99 {}, max {}, mean {:.1}",
                z.known, z.min, z.p50, z.p90, z.p99, z.max, z.mean
            );
        }
        None => {
            let _ = writeln!(out, "object sizes: not in the trace");
        }
    }
    match (s.span, s.mean_rate) {
        (Some(span), Some(rate)) => {
            let _ = writeln!(out, "span: {:.3} s, mean rate {rate:.1} requests/s", span.as_secs_f64());
        }
        (Some(span), None) => {
            let _ = writeln!(out, "span: {:.3} s", span.as_secs_f64());
        }
        _ => {
            let _ = writeln!(out, "span: no times in the trace");
        }
    }
    let _ = writeln!(
        out,
        "top 1% of keys ({} key{}): {:.1}% of requests",
        s.top_keys,
        if s.top_keys == 1 { "" } else { "s" },
        100.0 * s.top_share
    );
    let _ = writeln!(out, "zipf exponent (best fit): {:.3}", s.zipf_exponent);
    let _ = writeln!(out, "\na synthetic scenario to match it:");
    let _ = writeln!(out, "[dataset]");
    let _ = writeln!(out, "objects = {}", s.distinct_keys);
    if let Some(z) = &s.sizes {
        if z.min == z.max {
            let _ = writeln!(out, "size = {}", z.min);
        } else {
            let _ = writeln!(
                out,
                "size = {{ median = {}, sigma = {:.3}, min = {}, max = {} }}",
                z.p50.max(1),
                z.ln_sigma.min(10.0),
                z.min,
                z.max
            );
        }
    }
    let _ = writeln!(out, "[[workload]]");
    // A scenario's zipf exponent is above 0; a flat trace is uniform.
    if s.zipf_exponent < 0.01 {
        let _ = writeln!(out, "keys = \"uniform\"");
    } else {
        let _ = writeln!(out, "keys = \"zipf:{:.3}\"", s.zipf_exponent);
    }
    if let Some(rate) = s.mean_rate {
        let _ = writeln!(out, "rate = {rate:.1}  # per agent: divide by the agents");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tie_for_cheapest_names_the_others() {
        assert_eq!(tie(&[]), "");
        assert_eq!(tie(&["redis".into()]), "; redis costs the same");
        assert_eq!(tie(&["redis".into(), "s3-express".into()]), "; redis and s3-express cost the same");
    }
    use crate::results::schema::LatencySummary;
    use crate::scenario::expand::without_round;

    fn workload(name: &str, target: &str, mean: f64, p50: f64) -> WorkloadResult {
        WorkloadResult {
            name: name.into(),
            target: target.parse().expect("a target"),
            ops: 100,
            errors: 0,
            errors_by_kind: Default::default(),
            duration_s: 1.0,
            throughput_ops_s: 10.0,
            latency_us: LatencySummary { mean, p50, p99: p50 * 2.0, ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn speedup_compares_means_and_medians() {
        let s = speedup(&workload("r", "redis", 100.0, 90.0), &workload("s", "s3", 2000.0, 1800.0));
        assert!(s.starts_with("Redis was 20.0x faster than S3"), "{s}");
        assert!(s.contains("p50 20.0x"), "{s}");
        let slower = speedup(&workload("r", "redis", 400.0, 400.0), &workload("s", "s3", 200.0, 200.0));
        assert!(slower.starts_with("Redis was 2.0x slower than S3"), "{slower}");
        assert!(slower.contains("; p50 2.0x slower, p99 2.0x slower)"), "{slower}");
        // Faster on the mean, behind at p99: the tail says which way it went.
        let tail = WorkloadResult {
            latency_us: LatencySummary { mean: 100.0, p50: 90.0, p99: 4000.0, ..Default::default() },
            ..workload("r", "redis", 100.0, 90.0)
        };
        let s2 = speedup(&tail, &workload("s", "s3", 300.0, 270.0));
        assert!(
            s2.contains(
                "Redis was 3.0x faster than S3 (mean 100.0 µs vs 300.0 µs; p50 3.0x, p99 7.4x slower)"
            ),
            "{s2}"
        );
        assert!(!s.contains("busy-polled"), "{s}");
        let polled = WorkloadResult { busy_polled_share: Some(0.99), ..workload("r", "redis", 25.0, 22.0) };
        let s = speedup(&polled, &workload("s", "s3", 500.0, 450.0));
        assert!(s.contains("p99 20.5x; Redis busy-polled and S3 cannot"), "{s}");
    }

    /// A run of `toml`'s workloads, each measured with the given mean latency (0 ops for `None`).
    fn run_of(toml: &str, means: &[(&str, &str, Option<f64>)]) -> RunResult {
        let workloads = means
            .iter()
            .map(|&(name, target, mean)| WorkloadResult {
                ops: if mean.is_some() { 100 } else { 0 },
                ..workload(name, target, mean.unwrap_or(0.0), mean.unwrap_or(0.0))
            })
            .collect();
        RunResult::of(crate::scenario::Scenario::parse(toml, "test.toml").expect("valid scenario"), workloads)
    }

    fn names(result: &RunResult) -> Vec<(&str, &str)> {
        pairs(result).into_iter().map(|(r, s)| (r.name.as_str(), s.name.as_str())).collect()
    }

    #[test]
    fn a_sweep_compares_each_s3_workload_with_the_redis_one_that_reads_the_same_way() {
        let toml = r#"
            name = "sweep"
            [dataset]
            objects = 10
            size = 100000
            [[workload]]
            name = "redis-1k"
            target = "redis"
            range = "0-1023"
            requests = 10
            [[workload]]
            name = "redis-piped"
            target = "redis"
            pipeline = 16
            requests = 10
            [[workload]]
            name = "s3-1k"
            target = "s3"
            range = "0-1023"
            requests = 10
            [[workload]]
            name = "redis-all"
            target = "redis"
            requests = 10
            [[workload]]
            name = "s3-all"
            target = "s3"
            requests = 10
        "#;
        let means = [
            ("redis-1k", "redis", Some(50.0)),
            ("redis-piped", "redis", Some(5.0)),
            ("s3-1k", "s3", Some(500.0)),
            ("redis-all", "redis", Some(400.0)),
            ("s3-all", "s3", Some(2000.0)),
        ];
        let run = run_of(toml, &means);
        assert_eq!(names(&run), [("redis-1k", "s3-1k"), ("redis-all", "s3-all")]);
        let lines = speedups(&run);
        assert!(lines[0].starts_with("redis-1k vs s3-1k: Redis was 10.0x faster than S3"), "{lines:?}");
        assert!(lines[1].starts_with("redis-all vs s3-all: Redis was 5.0x faster than S3"), "{lines:?}");
        let text = render(&run);
        assert_eq!(text.matches("faster than S3").count(), 2, "{text}");

        // Nothing reads the same way: the first of each, as before; one workload of each store
        // needs no names.
        let apart = r#"
            name = "apart"
            [dataset]
            objects = 10
            size = 100
            [[workload]]
            name = "redis-4"
            target = "redis"
            concurrency = 4
            requests = 10
            [[workload]]
            name = "s3-1"
            target = "s3"
            requests = 10
        "#;
        let lone = run_of(apart, &[("redis-4", "redis", Some(50.0)), ("s3-1", "s3", Some(500.0))]);
        assert_eq!(names(&lone), [("redis-4", "s3-1")]);
        assert!(speedups(&lone)[0].starts_with("Redis was 10.0x faster"), "{:?}", speedups(&lone));
        // A workload with nothing measured is never compared.
        let failed = run_of(apart, &[("redis-4", "redis", None), ("s3-1", "s3", Some(500.0))]);
        assert!(pairs(&failed).is_empty());
        // Too few requests on one side: no ratio, and why.
        let mut few = run_of(apart, &[("redis-4", "redis", Some(50.0)), ("s3-1", "s3", Some(500.0))]);
        few.workloads[1].ops = 1;
        assert_eq!(
            speedups(&few),
            ["Redis and S3 not compared: s3-1 measured 1 request, fewer than the 20 a meaningful \
              comparison needs on each side"]
        );
        few.workloads[1].ops = MIN_COMPARED_OPS;
        assert!(speedups(&few)[0].starts_with("Redis was 10.0x faster"), "{:?}", speedups(&few));
    }

    #[test]
    fn spreads_and_round_names() {
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]), Spread { median: 2.0, min: 1.0, max: 3.0 });
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 10.0]), Spread { median: 2.0, min: 1.0, max: 10.0 });
        assert_eq!(Spread::of(&[]), Spread::default());
        assert_eq!(without_round("redis-get-2", 3), "redis-get");
        assert_eq!(without_round("redis-get-c8-3", 3), "redis-get-c8");
        assert_eq!(without_round("redis-get-4", 3), "redis-get-4", "no round 4 in a run of 3");
        assert_eq!(without_round("s3", 3), "s3");
        assert_eq!(without_round("get-1", 1), "get-1", "a single run's names are the scenario's own");
    }

    #[test]
    fn a_round_that_measured_nothing_is_left_out_of_the_spread() {
        let toml = "name = \"r\"\n[dataset]\nobjects = 1\nsize = 1\n[[workload]]\nname = \"w\"\ntarget = \"redis\"\nrequests = 1\n";
        let mut run = run_of(
            toml,
            &[("w-1", "redis", Some(10.0)), ("w-2", "redis", None), ("w-3", "redis", Some(30.0))],
        );
        assert!(rounds(&run).0.is_empty(), "one round: nothing to spread");
        run.scenario.rounds = 3;
        let (workloads, speedups) = rounds(&run);
        assert_eq!(workloads.len(), 1);
        assert_eq!((workloads[0].name.as_str(), workloads[0].count), ("w", 2));
        assert_eq!(workloads[0].p50, Spread { median: 10.0, min: 10.0, max: 30.0 });
        assert!(speedups.is_empty(), "no S3 workload");
        assert!(
            render(&run).contains("over 3 rounds, median (min to max):\n  w  p50 10.0 µs (10.0 to 30.0)")
        );
    }

    /// With an even number of rounds the summary's median throughput and the cost lines'
    /// "median round" are one figure, and a round that measured nothing is in neither.
    #[test]
    fn the_median_of_an_even_count_of_rounds_is_one_figure_everywhere() {
        let toml = "name = \"r\"\n[dataset]\nobjects = 1\nsize = 1\n[[workload]]\nname = \"w\"\ntarget = \"redis\"\nrequests = 1\n";
        let cases: [(&[f64], f64); 3] = [
            (&[100.0, 300.0], 100.0),
            (&[400.0, 100.0, 300.0, 200.0], 200.0),
            (&[0.0, 100.0, 300.0, 200.0, 400.0], 200.0),
        ];
        for (rates, expected) in cases {
            let named: Vec<(String, f64)> =
                rates.iter().enumerate().map(|(i, r)| (format!("w-{}", i + 1), *r)).collect();
            let measured: Vec<(&str, &str, Option<f64>)> =
                named.iter().map(|(n, r)| (n.as_str(), "redis", (*r > 0.0).then_some(10.0))).collect();
            let mut run = run_of(toml, &measured);
            for (w, (_, rate)) in run.workloads.iter_mut().zip(&named) {
                w.throughput_ops_s = *rate;
            }
            run.scenario.rounds = rates.len() as u32;
            run.cost = Some(
                crate::results::cost::estimate(&run, &crate::results::cost::Assumptions::default())
                    .expect("priced"),
            );
            let text = render(&run);
            assert_eq!(rounds(&run).0[0].ops_s.median, expected, "{rates:?}");
            assert!(text.contains(&format!(", {expected:.1} ops/s (")), "{rates:?}: {text}");
            assert!(
                text.contains("w (median round)  $")
                    && text.contains(&format!("at the measured {expected:.0} reads/s")),
                "{rates:?}: {text}"
            );
        }
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&[workload("redis-get", "redis", 1.0, 1.0), workload("s3", "s3", 1.0, 1.0)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("workload   target"), "{t}");
        // The last column is right-aligned, so every line ends at the same place.
        let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{t}");
    }

    #[test]
    fn cloudwatch_lines_give_each_figure_in_its_unit_and_say_what_it_means() {
        use crate::results::schema::{CloudWatchMetric, CloudWatchPoint};
        let metric = |name: &str, stat: &str, value: Option<f64>| CloudWatchMetric {
            name: name.into(),
            stat: stat.into(),
            value,
            points: value
                .map(|value| CloudWatchPoint { t: "2026-12-06T13:00:00Z".into(), value })
                .into_iter()
                .collect(),
        };
        let view = CloudWatchView {
            resource: "cache".into(),
            source: "AWS/ElastiCache CacheClusterId=fb-001 CacheNodeId=0001".into(),
            period_s: 60,
            start: "2026-12-06T13:00:00Z".into(),
            end: "2026-12-06T13:01:00Z".into(),
            complete: false,
            metrics: vec![
                metric("EngineCPUUtilization", "Maximum", Some(93.04)),
                metric("NetworkBandwidthOutAllowanceExceeded", "Sum", Some(17.0)),
                metric("NetworkBytesOut", "Sum", Some(3.0 * 1024.0 * 1024.0)),
                metric("CacheHits", "Sum", Some(48_200.0)),
                metric("FirstByteLatency", "p99", Some(12.34)),
                metric("Evictions", "Sum", None),
            ],
        };
        let lines = cloudwatch_lines(&view);
        assert_eq!(
            lines[0],
            "CloudWatch, AWS/ElastiCache CacheClusterId=fb-001 CacheNodeId=0001 (1 minute from 2026-12-06T13:00:00Z \
             to 2026-12-06T13:01:00Z): EngineCPUUtilization max 93.0%, NetworkBandwidthOutAllowanceExceeded 17, \
             NetworkBytesOut 3.0 MiB, CacheHits 48,200, FirstByteLatency p99 (worst minute) 12.3 ms, Evictions no data"
        );
        assert!(
            lines[1].contains("exceeded its network bandwidth allowance (17 packets shaped)"),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains("engine's thread was busy 93% of a minute"), "{}", lines[2]);
        assert!(lines[3].contains("not yet published the cache's last minute"), "{}", lines[3]);
        assert_eq!(lines.len(), 4);
    }
}
