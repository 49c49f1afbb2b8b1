//! CloudWatch: the figures AWS itself kept of the run's cache, by GetMetricData over the Query API
//! (`query`; one operation, not worth aws-sdk-cloudwatch's build).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;

use super::AwsError;
use super::query::{QueryClient, elements};

const OPERATION: &str = "GetMetricData";
/// CloudWatch's Query API version.
const API_VERSION: &str = "2010-08-01";

/// One metric to read: `stat` (e.g. "Maximum", "Sum") of `namespace`/`name` with exactly
/// `dimensions`, per `period_s`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricQuery {
    /// The metric's name, e.g. "EngineCPUUtilization"; also its id in the answer.
    pub name: String,
    /// E.g. "AWS/ElastiCache".
    pub namespace: String,
    /// Name and value of each dimension.
    pub dimensions: Vec<(String, String)>,
    /// The statistic.
    pub stat: String,
    /// Seconds per point.
    pub period_s: u32,
}

/// The points CloudWatch holds for one [`MetricQuery`], oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSeries {
    /// The query's metric name.
    pub name: String,
    /// Each point's period start (seconds since the epoch) and value.
    pub points: Vec<(u64, f64)>,
}

/// A CloudWatch client for the one call fetchbench makes.
#[derive(Clone, Debug)]
pub struct CloudWatch {
    client: QueryClient,
}

impl CloudWatch {
    /// A client over `config`.
    pub fn new(config: &SdkConfig) -> CloudWatch {
        CloudWatch { client: QueryClient::new(config, "cloudwatch", "monitoring") }
    }

    /// Every point of `queries` from `start` to `end` (period starts), all pages of the answer.
    pub async fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        start: SystemTime,
        end: SystemTime,
    ) -> Result<Vec<MetricSeries>, AwsError> {
        let mut series: Vec<MetricSeries> =
            queries.iter().map(|q| MetricSeries { name: q.name.clone(), points: Vec::new() }).collect();
        let mut next: Option<String> = None;
        loop {
            let form = form(queries, start, end, next.as_deref());
            let body = self.client.post(OPERATION, form).await?;
            for (id, points) in results(&body) {
                let Some(s) = id.strip_prefix('m').and_then(|i| i.parse::<usize>().ok()) else { continue };
                if let Some(s) = series.get_mut(s) {
                    s.points.extend(points);
                }
            }
            next = elements(&body, "NextToken").next().filter(|t| !t.is_empty()).map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        for s in &mut series {
            s.points.sort_by_key(|p| p.0);
            s.points.dedup_by_key(|p| p.0);
        }
        Ok(series)
    }
}

/// The form of one GetMetricData page: query `i` has the id `m<i>`.
fn form(queries: &[MetricQuery], start: SystemTime, end: SystemTime, next: Option<&str>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", OPERATION)
        .append_pair("Version", API_VERSION)
        .append_pair("StartTime", &humantime::format_rfc3339_seconds(start).to_string())
        .append_pair("EndTime", &humantime::format_rfc3339_seconds(end).to_string())
        .append_pair("ScanBy", "TimestampAscending");
    for (i, q) in queries.iter().enumerate() {
        let member = format!("MetricDataQueries.member.{}", i + 1);
        form.append_pair(&format!("{member}.Id"), &format!("m{i}"))
            .append_pair(&format!("{member}.MetricStat.Metric.Namespace"), &q.namespace)
            .append_pair(&format!("{member}.MetricStat.Metric.MetricName"), &q.name)
            .append_pair(&format!("{member}.MetricStat.Period"), &q.period_s.to_string())
            .append_pair(&format!("{member}.MetricStat.Stat"), &q.stat)
            .append_pair(&format!("{member}.ReturnData"), "true");
        for (j, (name, value)) in q.dimensions.iter().enumerate() {
            let dimension = format!("{member}.MetricStat.Metric.Dimensions.member.{}", j + 1);
            form.append_pair(&format!("{dimension}.Name"), name)
                .append_pair(&format!("{dimension}.Value"), value);
        }
    }
    if let Some(token) = next {
        form.append_pair("NextToken", token);
    }
    form.finish()
}

/// Each result of a GetMetricData answer: its id and its points (period start, value).
fn results(xml: &str) -> Vec<(String, Vec<(u64, f64)>)> {
    let Some(block) = elements(xml, "MetricDataResults").next() else { return Vec::new() };
    top_level(block, "member")
        .into_iter()
        .map(|result| {
            let id = elements(result, "Id").next().unwrap_or_default().to_owned();
            let list = |name: &str| -> Vec<&str> {
                top_level(result, name).first().map(|l| elements(l, "member").collect()).unwrap_or_default()
            };
            let times = list("Timestamps").into_iter().map(|t| {
                humantime::parse_rfc3339_weak(t)
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_secs())
            });
            let values = list("Values").into_iter().map(|v| v.parse::<f64>().ok());
            let points = times.zip(values).filter_map(|(t, v)| Some((t?, v?))).collect();
            (id, points)
        })
        .collect()
}

/// The contents of the outermost `<name>` elements of `xml` (those not inside another `<name>`).
fn top_level<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut found = Vec::new();
    let (mut depth, mut at, mut start) = (0usize, 0usize, 0usize);
    loop {
        let next_open = xml[at..].find(&open).map(|i| i + at);
        let next_close = xml[at..].find(&close).map(|i| i + at);
        match (next_open, next_close) {
            (Some(o), Some(c)) if o < c => {
                if depth == 0 {
                    start = o + open.len();
                }
                depth += 1;
                at = o + open.len();
            }
            (_, Some(c)) => {
                if depth == 1 {
                    found.push(&xml[start..c]);
                }
                depth = depth.saturating_sub(1);
                at = c + close.len();
            }
            _ => return found,
        }
    }
}

/// `t` rounded down to a whole `period`.
pub fn floor(t: SystemTime, period: Duration) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let p = period.as_secs().max(1);
    UNIX_EPOCH + Duration::from_secs(secs - secs % p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_results_points_by_id_and_the_next_token() {
        let xml = "<GetMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\
            <GetMetricDataResult><MetricDataResults>\
            <member><Timestamps><member>2026-12-06T13:01:00Z</member><member>2026-12-06T13:00:00.000Z</member>\
            </Timestamps><Label>EngineCPUUtilization</Label><Id>m0</Id>\
            <Values><member>12.5</member><member>3</member></Values><StatusCode>Complete</StatusCode></member>\
            <member><Id>m1</Id><Timestamps/><Values/><StatusCode>Complete</StatusCode></member>\
            </MetricDataResults><NextToken>abc</NextToken><Messages/></GetMetricDataResult>\
            </GetMetricDataResponse>";
        let r = results(xml);
        let minute = 1_796_562_000; // 2026-12-06T13:00:00Z
        assert_eq!(
            r,
            [("m0".to_owned(), vec![(minute + 60, 12.5), (minute, 3.0)]), ("m1".to_owned(), vec![])]
        );
        assert_eq!(elements(xml, "NextToken").next(), Some("abc"));
    }

    #[test]
    fn the_form_names_each_query_its_dimensions_and_the_window() {
        let q = MetricQuery {
            name: "CacheHits".into(),
            namespace: "AWS/ElastiCache".into(),
            dimensions: vec![
                ("CacheClusterId".into(), "fb-001".into()),
                ("CacheNodeId".into(), "0001".into()),
            ],
            stat: "Sum".into(),
            period_s: 60,
        };
        let start = UNIX_EPOCH + Duration::from_secs(1_796_562_000);
        let f = form(&[q], start, start + Duration::from_secs(120), Some("t"));
        let pairs: Vec<(String, String)> = form_urlencoded::parse(f.as_bytes()).into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("StartTime"), Some("2026-12-06T13:00:00Z"));
        assert_eq!(get("EndTime"), Some("2026-12-06T13:02:00Z"));
        assert_eq!(get("MetricDataQueries.member.1.Id"), Some("m0"));
        assert_eq!(get("MetricDataQueries.member.1.MetricStat.Metric.MetricName"), Some("CacheHits"));
        assert_eq!(
            get("MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.2.Value"),
            Some("0001")
        );
        assert_eq!(get("MetricDataQueries.member.1.MetricStat.Stat"), Some("Sum"));
        assert_eq!(get("NextToken"), Some("t"));
    }

    #[test]
    fn floor_rounds_down_to_the_period() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_562_059);
        assert_eq!(floor(t, Duration::from_secs(60)), UNIX_EPOCH + Duration::from_secs(1_796_562_000));
    }
}
