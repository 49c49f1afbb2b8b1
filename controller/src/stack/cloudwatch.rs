//! What CloudWatch kept of the stack's cache and bucket during a run: the cache node's own
//! figures (engine CPU, network allowance, hits, evictions, ...) and S3's request metrics of the
//! bucket (GETs, first-byte and total latency, errors) for the run's minutes, added to
//! result.json and the report once CloudWatch has published them.
//!
//! ElastiCache publishes each node's metrics once a minute, for the minute just ended, and S3 its
//! request metrics likewise (minutes without requests have none); CloudWatch may show a minute a
//! few minutes late. So the run is written first, as it ends, and then fetchbench waits (at most
//! `--cloudwatch-wait`) until each resource's minute of the run's last use of it appears, reads
//! every minute of the run, and writes the files again with them. A wait that runs out keeps
//! what was published and says the figures miss the run's end.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::aws::Aws;
use crate::aws::cloudwatch::{MetricQuery, MetricSeries, floor};
use crate::fleet::aws_state::State;
use crate::render::{files, terminal};
use crate::results::schema::{CloudWatchMetric, CloudWatchPoint, CloudWatchView, RunResult};

/// ElastiCache's and S3's period: one point per minute.
const PERIOD: Duration = Duration::from_secs(60);
/// How often CloudWatch is asked again while a run's last minute is missing.
const POLL: Duration = Duration::from_secs(10);

/// The cache node's metrics, with the statistic of each minute: what limits a node (its engine
/// thread, the host, its network allowance), and what it served.
const CACHE_METRICS: &[(&str, &str)] = &[
    ("EngineCPUUtilization", "Maximum"),
    ("CPUUtilization", "Maximum"),
    ("NetworkBandwidthOutAllowanceExceeded", "Sum"),
    ("NetworkBytesOut", "Sum"),
    ("CurrConnections", "Maximum"),
    ("CacheHits", "Sum"),
    ("CacheMisses", "Sum"),
    ("Evictions", "Sum"),
];

/// S3's request metrics of the bucket: what it served, how fast as S3 saw it, and what failed.
const BUCKET_METRICS: &[(&str, &str)] = &[
    ("GetRequests", "Sum"),
    ("BytesDownloaded", "Sum"),
    ("FirstByteLatency", "p99"),
    ("TotalRequestLatency", "p99"),
    ("4xxErrors", "Sum"),
    ("5xxErrors", "Sum"),
];

/// One resource to read: its metrics, and the end of the run's last use of it.
struct Source {
    resource: &'static str,
    namespace: &'static str,
    dimensions: Vec<(String, String)>,
    metrics: &'static [(&'static str, &'static str)],
    last_used: SystemTime,
}

/// The CloudWatch node of the stack's cache: its replication group's first (and only) member
/// cluster, `<group>-001`, node `0001`. None when the stack uses a cache the user brought.
pub fn node_dimensions(state: &State) -> Option<Vec<(String, String)>> {
    let group = state.output("CacheId");
    (!group.is_empty()).then(|| {
        vec![
            ("CacheClusterId".to_owned(), format!("{group}-001")),
            ("CacheNodeId".to_owned(), "0001".to_owned()),
        ]
    })
}

/// The dimensions of the bucket's request metrics, when the stack enabled them.
fn bucket_dimensions(state: &State) -> Option<Vec<(String, String)>> {
    let filter = state.output("BucketMetricsFilter");
    (!filter.is_empty()).then(|| {
        vec![
            ("BucketName".to_owned(), state.output("BucketName").to_owned()),
            ("FilterId".to_owned(), filter.to_owned()),
        ]
    })
}

/// Whether a run's results will be followed by CloudWatch's figures of the stack's resources.
pub fn reads_any(state: &State) -> bool {
    node_dimensions(state).is_some() || bucket_dimensions(state).is_some()
}

/// The resources `result` used that CloudWatch has figures of, each with the end of the run's
/// last workload on it.
fn sources(state: &State, result: &RunResult) -> Vec<Source> {
    let last_end = |uses: fn(crate::scenario::Target) -> bool| {
        result
            .workloads
            .iter()
            .filter(|w| uses(w.target))
            .filter_map(|w| w.finished_at.as_deref().and_then(|t| humantime::parse_rfc3339_weak(t).ok()))
            .max()
    };
    let mut found = Vec::new();
    if let (Some(dimensions), Some(last_used)) = (node_dimensions(state), last_end(|t| t.uses_redis())) {
        found.push(Source {
            resource: "cache",
            namespace: "AWS/ElastiCache",
            dimensions,
            metrics: CACHE_METRICS,
            last_used,
        });
    }
    if let (Some(dimensions), Some(last_used)) = (bucket_dimensions(state), last_end(|t| t.uses_s3())) {
        found.push(Source {
            resource: "bucket",
            namespace: "AWS/S3",
            dimensions,
            metrics: BUCKET_METRICS,
            last_used,
        });
    }
    found
}

/// Wait (at most `wait`) for CloudWatch to publish the minute of the run's last use of each of
/// the stack's resources it read, then add their figures to `result` and write it (to `path`,
/// result.json) and the report beside it again. Nothing is done for a cache the user brought or a
/// zero `wait`; a failed read is said and leaves the files as written.
pub async fn attach(
    state: &State,
    result: &mut RunResult,
    path: &Path,
    wait: Duration,
    interrupt: &CancellationToken,
) {
    let sources = sources(state, result);
    if sources.is_empty() || wait.is_zero() || interrupt.is_cancelled() {
        return;
    }
    let Some(start) = humantime::parse_rfc3339_weak(&result.started_at).ok() else { return };
    let views = match read(state, &sources, start, wait, interrupt).await {
        Ok(views) => views,
        Err(e) => {
            eprintln!(
                "fetchbench: warning: the stack's CloudWatch metrics could not be read ({e}); result.json has \
                 the run without them (the credentials need cloudwatch:GetMetricData)"
            );
            return;
        }
    };
    result.cloudwatch = views;
    let changed = crate::results::cloudwatch::refine_limits(result);
    let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    if let Err(e) = rewrite(result, &dir) {
        eprintln!("fetchbench: warning: the CloudWatch figures were not written: {e}");
        return;
    }
    let mut lines: Vec<String> = result.cloudwatch.iter().flat_map(terminal::cloudwatch_lines).collect();
    lines.extend(changed);
    say_text!(&format!("{}\n", lines.join("\n")));
}

/// Every minute of each source from `start`'s, once each source's last minute is published or
/// `wait` has passed.
async fn read(
    state: &State,
    sources: &[Source],
    start: SystemTime,
    wait: Duration,
    interrupt: &CancellationToken,
) -> Result<Vec<CloudWatchView>, crate::aws::AwsError> {
    let aws = Aws::connect(Some(&state.region), state.profile.as_deref()).await?;
    let first = floor(start, PERIOD);
    let deadline = Instant::now() + wait;
    let mut said = false;
    loop {
        let mut views = Vec::new();
        for source in sources {
            let queries: Vec<MetricQuery> = source
                .metrics
                .iter()
                .map(|(name, stat)| MetricQuery {
                    name: (*name).to_owned(),
                    namespace: source.namespace.to_owned(),
                    dimensions: source.dimensions.clone(),
                    stat: (*stat).to_owned(),
                    period_s: PERIOD.as_secs() as u32,
                })
                .collect();
            let last = floor(source.last_used, PERIOD);
            let series = aws.cloudwatch.get_metric_data(&queries, first, last + PERIOD).await?;
            let last_s = last.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            let complete = series.iter().any(|s| s.points.iter().any(|p| p.0 >= last_s));
            views.push(view(source, &series, first, last + PERIOD, complete));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let missing: Vec<&CloudWatchView> = views.iter().filter(|v| !v.complete).collect();
        if missing.is_empty() || left.is_zero() {
            return Ok(views);
        }
        if !said {
            let names: Vec<String> =
                missing.iter().map(|v| format!("the {}'s to {}", v.resource, v.end)).collect();
            eprintln!(
                "fetchbench: waiting for CloudWatch to publish the run's last minute ({}; at most {})",
                names.join(", "),
                humantime::format_duration(wait)
            );
            said = true;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL.min(left)) => {}
            () = interrupt.cancelled() => return Ok(views),
        }
    }
}

/// The view result.json keeps of `series`: each metric's points and its figure over the window.
fn view(
    source: &Source,
    series: &[MetricSeries],
    start: SystemTime,
    end: SystemTime,
    complete: bool,
) -> CloudWatchView {
    let dims: Vec<String> = source.dimensions.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let metrics = source
        .metrics
        .iter()
        .zip(series)
        .map(|((name, stat), s)| {
            let values = s.points.iter().map(|p| p.1);
            let value = if s.points.is_empty() {
                None
            } else if *stat == "Sum" {
                Some(values.sum())
            } else {
                Some(values.fold(f64::MIN, f64::max))
            };
            let points = s
                .points
                .iter()
                .map(|&(t, value)| CloudWatchPoint {
                    t: humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t)).to_string(),
                    value,
                })
                .collect();
            CloudWatchMetric { name: (*name).to_owned(), stat: (*stat).to_owned(), value, points }
        })
        .collect();
    CloudWatchView {
        resource: source.resource.to_owned(),
        source: format!("{} {}", source.namespace, dims.join(" ")),
        period_s: PERIOD.as_secs() as u32,
        start: humantime::format_rfc3339_seconds(start).to_string(),
        end: humantime::format_rfc3339_seconds(end).to_string(),
        complete,
        metrics,
    }
}

/// result.json and the files beside it, written again.
fn rewrite(result: &RunResult, dir: &Path) -> Result<(), String> {
    result.write(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    files::write_all(result, result.cost.as_ref(), dir).map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_sums_counts_and_takes_the_worst_minute_of_a_maximum_or_percentile() {
        let minute = 1_796_562_000;
        let series = |metrics: &[(&str, &str)]| -> Vec<MetricSeries> {
            metrics
                .iter()
                .map(|(name, _)| MetricSeries {
                    name: (*name).to_owned(),
                    points: if *name == "CacheMisses" {
                        vec![]
                    } else {
                        vec![(minute, 10.0), (minute + 60, 30.0)]
                    },
                })
                .collect()
        };
        let start = UNIX_EPOCH + Duration::from_secs(minute);
        let source = |resource, metrics| Source {
            resource,
            namespace: "AWS/ElastiCache",
            dimensions: vec![("CacheClusterId".into(), "fb-001".into())],
            metrics,
            last_used: start,
        };
        let cache = source("cache", CACHE_METRICS);
        let v = view(&cache, &series(CACHE_METRICS), start, start + PERIOD * 2, true);
        let of =
            |v: &CloudWatchView, name: &str| v.metrics.iter().find(|m| m.name == name).expect(name).value;
        assert_eq!(of(&v, "EngineCPUUtilization"), Some(30.0));
        assert_eq!(of(&v, "CacheHits"), Some(40.0));
        assert_eq!(of(&v, "CacheMisses"), None);
        assert_eq!(
            (v.resource.as_str(), v.source.as_str()),
            ("cache", "AWS/ElastiCache CacheClusterId=fb-001")
        );
        assert_eq!((v.start.as_str(), v.end.as_str()), ("2026-12-06T13:00:00Z", "2026-12-06T13:02:00Z"));
        assert_eq!(v.metrics[0].points[1].t, "2026-12-06T13:01:00Z");
        let bucket = source("bucket", BUCKET_METRICS);
        let v = view(&bucket, &series(BUCKET_METRICS), start, start + PERIOD * 2, false);
        assert_eq!(of(&v, "FirstByteLatency"), Some(30.0), "a p99's worst minute");
        assert_eq!(of(&v, "GetRequests"), Some(40.0));
    }
}
