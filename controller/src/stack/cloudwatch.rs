//! What CloudWatch kept of the stack's cache during a run: the node's own figures (engine CPU,
//! network allowance, hits, evictions, ...) for the run's minutes, added to result.json and the
//! report once CloudWatch has published them.
//!
//! ElastiCache publishes each node's metrics once a minute, for the minute just ended, and
//! CloudWatch may show a minute a few minutes late. So the run is written first, as it ends, and
//! then fetchbench waits (at most `--cloudwatch-wait`) for the run's last minute to appear, reads
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

/// ElastiCache's period: one point per node per minute.
const PERIOD: Duration = Duration::from_secs(60);
/// How often CloudWatch is asked again while the run's last minute is missing.
const POLL: Duration = Duration::from_secs(10);
const NAMESPACE: &str = "AWS/ElastiCache";

/// The node metrics read, with the statistic of each minute: what limits a cache node (its
/// engine thread, the host, its network allowance), and what it served.
const METRICS: [(&str, &str); 8] = [
    ("EngineCPUUtilization", "Maximum"),
    ("CPUUtilization", "Maximum"),
    ("NetworkBandwidthOutAllowanceExceeded", "Sum"),
    ("NetworkBytesOut", "Sum"),
    ("CurrConnections", "Maximum"),
    ("CacheHits", "Sum"),
    ("CacheMisses", "Sum"),
    ("Evictions", "Sum"),
];

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

/// Wait (at most `wait`) for CloudWatch to publish the run's last minute of the stack's cache,
/// then add its figures to `result` and write it (to `path`, result.json) and the report beside
/// it again. Nothing is done for a cache the user brought or a zero `wait`; a failed read is
/// said and leaves the files as written.
pub async fn attach(
    state: &State,
    result: &mut RunResult,
    path: &Path,
    wait: Duration,
    interrupt: &CancellationToken,
) {
    let Some(dimensions) = node_dimensions(state) else { return };
    if wait.is_zero() || interrupt.is_cancelled() {
        return;
    }
    let window = |t: &str| humantime::parse_rfc3339_weak(t).ok();
    let (Some(start), Some(end)) = (window(&result.started_at), window(&result.finished_at)) else {
        return;
    };
    let view = match read(state, dimensions, start, end, wait, interrupt).await {
        Ok(view) => view,
        Err(e) => {
            eprintln!(
                "fetchbench: warning: the cache's CloudWatch metrics could not be read ({e}); result.json has \
                 the run without them (the credentials need cloudwatch:GetMetricData)"
            );
            return;
        }
    };
    result.cloudwatch = Some(view);
    let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    if let Err(e) = rewrite(result, &dir) {
        eprintln!("fetchbench: warning: the CloudWatch figures were not written: {e}");
        return;
    }
    if let Some(view) = &result.cloudwatch {
        say_text!(&format!("{}\n", terminal::cloudwatch_lines(view).join("\n")));
    }
}

/// Every minute of the node's metrics from `start`'s to `end`'s, once `end`'s minute is
/// published or `wait` has passed.
async fn read(
    state: &State,
    dimensions: Vec<(String, String)>,
    start: SystemTime,
    end: SystemTime,
    wait: Duration,
    interrupt: &CancellationToken,
) -> Result<CloudWatchView, crate::aws::AwsError> {
    let aws = Aws::connect(Some(&state.region), state.profile.as_deref()).await?;
    let queries: Vec<MetricQuery> = METRICS
        .iter()
        .map(|(name, stat)| MetricQuery {
            name: (*name).to_owned(),
            namespace: NAMESPACE.to_owned(),
            dimensions: dimensions.clone(),
            stat: (*stat).to_owned(),
            period_s: PERIOD.as_secs() as u32,
        })
        .collect();
    let (first, last) = (floor(start, PERIOD), floor(end, PERIOD));
    let last_s = last.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let deadline = Instant::now() + wait;
    let mut said = false;
    loop {
        let series = aws.cloudwatch.get_metric_data(&queries, first, last + PERIOD).await?;
        let complete = series.iter().any(|s| s.points.iter().any(|p| p.0 == last_s));
        let left = deadline.saturating_duration_since(Instant::now());
        if complete || left.is_zero() {
            return Ok(view(&dimensions, &series, first, last + PERIOD, complete));
        }
        if !said {
            eprintln!(
                "fetchbench: waiting for CloudWatch to publish the cache's minute to {} (at most {})",
                humantime::format_rfc3339_seconds(last + PERIOD),
                humantime::format_duration(wait)
            );
            said = true;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL.min(left)) => {}
            () = interrupt.cancelled() => return Ok(view(&dimensions, &series, first, last + PERIOD, false)),
        }
    }
}

/// The view result.json keeps of `series`: each metric's points and its figure over the window.
fn view(
    dimensions: &[(String, String)],
    series: &[MetricSeries],
    start: SystemTime,
    end: SystemTime,
    complete: bool,
) -> CloudWatchView {
    let dims: Vec<String> = dimensions.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let metrics = METRICS
        .iter()
        .zip(series)
        .map(|((name, stat), s)| {
            let values = s.points.iter().map(|p| p.1);
            let value = if s.points.is_empty() {
                None
            } else if *stat == "Maximum" {
                Some(values.fold(f64::MIN, f64::max))
            } else {
                Some(values.sum())
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
        source: format!("{NAMESPACE} {}", dims.join(" ")),
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
    fn a_view_takes_the_largest_minute_of_a_maximum_and_the_sum_of_a_count() {
        let minute = 1_796_562_000;
        let series: Vec<MetricSeries> = METRICS
            .iter()
            .map(|(name, _)| MetricSeries {
                name: (*name).to_owned(),
                points: if *name == "CacheMisses" {
                    vec![]
                } else {
                    vec![(minute, 10.0), (minute + 60, 30.0)]
                },
            })
            .collect();
        let start = UNIX_EPOCH + Duration::from_secs(minute);
        let v = view(&[("CacheClusterId".into(), "fb-001".into())], &series, start, start + PERIOD * 2, true);
        let of = |name: &str| v.metrics.iter().find(|m| m.name == name).expect(name).value;
        assert_eq!(of("EngineCPUUtilization"), Some(30.0));
        assert_eq!(of("CacheHits"), Some(40.0));
        assert_eq!(of("CacheMisses"), None);
        assert_eq!(v.source, "AWS/ElastiCache CacheClusterId=fb-001");
        assert_eq!((v.start.as_str(), v.end.as_str()), ("2026-12-06T13:00:00Z", "2026-12-06T13:02:00Z"));
        assert_eq!(v.metrics[0].points[1].t, "2026-12-06T13:01:00Z");
    }
}
