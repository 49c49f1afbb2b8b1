//! Live metrics while a run goes (`--metrics-listen`), in Prometheus text exposition: per workload
//! and target the requests and errors so far, the latest interval's throughput, latency quantiles
//! and rates, and the Redis server's latest sample. Fed from the run's event loop as the agents'
//! intervals arrive; read by whoever scrapes.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, MutexGuard};

use fetchbench_proto as pb;
use hdrhistogram::Histogram;

use crate::results::histogram::{decode, new_histogram};
use crate::results::schema::ServerSample;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The quantiles exposed of the latest interval's latency.
const QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

/// Every workload seen so far, in the order they started.
#[derive(Debug, Default)]
pub struct LiveMetrics {
    workloads: Mutex<Vec<Workload>>,
}

#[derive(Debug)]
struct Workload {
    name: String,
    target: &'static str,
    running: bool,
    /// Successful measured requests so far, all agents.
    requests: u64,
    /// Failed measured requests so far, by kind.
    errors: BTreeMap<String, u64>,
    /// Open loop: requests per second asked of all agents.
    asked: Option<f64>,
    /// Each agent's latest interval.
    latest: Vec<Option<Latest>>,
    /// The Redis server's latest sample.
    server: Option<ServerSample>,
}

#[derive(Debug)]
struct Latest {
    ops_s: f64,
    requests_s: f64,
    histogram: Histogram<u64>,
}

impl LiveMetrics {
    fn lock(&self) -> MutexGuard<'_, Vec<Workload>> {
        self.workloads.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn with<R>(&self, name: &str, f: impl FnOnce(&mut Workload) -> R) -> Option<R> {
        self.lock().iter_mut().find(|w| w.name == name).map(f)
    }

    /// Workload `name` starts (again, for the next step of a search) on `agents` agents, reading
    /// `target`, asked `asked` requests per second in all (open loop).
    pub fn started(&self, name: &str, target: &'static str, agents: usize, asked: Option<f64>) {
        let fresh = || Workload {
            name: name.to_owned(),
            target,
            running: true,
            requests: 0,
            errors: BTreeMap::new(),
            asked,
            latest: Vec::new(),
            server: None,
        };
        let mut workloads = self.lock();
        let w = match workloads.iter().position(|w| w.name == name) {
            Some(i) => &mut workloads[i],
            None => {
                workloads.push(fresh());
                workloads.last_mut().expect("pushed")
            }
        };
        w.running = true;
        w.asked = asked;
        w.latest = (0..agents).map(|_| None).collect();
    }

    /// Agent `agent` reported an interval of workload `name`; a histogram it cannot decode leaves
    /// the interval's latency out.
    pub fn interval(&self, name: &str, agent: usize, p: &pb::Progress) {
        let seconds = (p.interval_ms as f64 / 1e3).max(1e-3);
        let histogram = decode(&p.histogram).unwrap_or_else(|_| new_histogram());
        self.with(name, |w| {
            if !p.warmup {
                w.requests += p.ops;
                for (kind, n) in &p.errors_by_kind {
                    *w.errors.entry(kind.clone()).or_default() += n;
                }
            }
            if let Some(slot) = w.latest.get_mut(agent) {
                let requests_s = (p.ops + p.errors) as f64 / seconds;
                *slot = Some(Latest { ops_s: p.ops as f64 / seconds, requests_s, histogram });
            }
        });
    }

    /// The Redis server's latest sample during workload `name`.
    pub fn server(&self, name: &str, sample: ServerSample) {
        self.with(name, |w| w.server = Some(sample));
    }

    /// Workload `name` ended (its figures stay, frozen).
    pub fn done(&self, name: &str) {
        self.with(name, |w| w.running = false);
    }

    /// Everything, in Prometheus text exposition.
    pub fn render(&self) -> String {
        let workloads = self.lock();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, f64)>| {
            let _ = writeln!(out, "# HELP fetchbench_{name} {help}\n# TYPE fetchbench_{name} {kind}");
            for (labels, value) in rows {
                let _ = writeln!(out, "fetchbench_{name}{{{labels}}} {value}");
            }
        };
        let labels = |w: &Workload| format!("workload=\"{}\",target=\"{}\"", escape(&w.name), w.target);
        let each = |f: &dyn Fn(&Workload) -> Option<f64>| -> Vec<(String, f64)> {
            workloads.iter().filter_map(|w| f(w).map(|v| (labels(w), v))).collect()
        };
        fn latest(w: &Workload) -> impl Iterator<Item = &Latest> {
            w.latest.iter().flatten()
        }
        family(
            "running",
            "gauge",
            "1 while the workload runs, 0 once it ended.",
            each(&|w| Some(if w.running { 1.0 } else { 0.0 })),
        );
        family(
            "requests_total",
            "counter",
            "Successful measured requests so far, all agents (result.json ops).",
            each(&|w| Some(w.requests as f64)),
        );
        let errors = workloads
            .iter()
            .flat_map(|w| {
                w.errors
                    .iter()
                    .map(move |(kind, n)| (format!("{},kind=\"{}\"", labels(w), escape(kind)), *n as f64))
            })
            .collect();
        family(
            "errors_total",
            "counter",
            "Failed measured requests so far, by kind (result.json errors_by_kind).",
            errors,
        );
        family(
            "throughput_ops_per_second",
            "gauge",
            "Successful requests per second in the latest interval, all agents.",
            each(&|w| Some(latest(w).map(|l| l.ops_s).sum())),
        );
        family(
            "achieved_rate_ops_per_second",
            "gauge",
            "Requests (successful or failed) sent per second in the latest interval, all agents.",
            each(&|w| Some(latest(w).map(|l| l.requests_s).sum())),
        );
        family(
            "asked_rate_ops_per_second",
            "gauge",
            "Open loop: requests per second asked of all agents.",
            each(&|w| w.asked),
        );
        let quantiles = workloads
            .iter()
            .flat_map(|w| {
                let mut merged = new_histogram();
                for l in latest(w) {
                    let _ = merged.add(&l.histogram);
                }
                let labels = labels(w);
                (!merged.is_empty())
                    .then(|| {
                        QUANTILES.map(|q| {
                            (format!("{labels},quantile=\"{q}\""), merged.value_at_quantile(q) as f64 / 1e9)
                        })
                    })
                    .into_iter()
                    .flatten()
            })
            .collect();
        family(
            "latency_seconds",
            "gauge",
            "Latency of the latest interval's successful requests (from the intended start in open loop), all agents.",
            quantiles,
        );
        let server = |f: fn(&ServerSample) -> f64| each(&|w| w.server.as_ref().map(f));
        family(
            "server_commands_per_second",
            "gauge",
            "Redis: commands the server processed per second, latest sample.",
            server(|s| s.commands_s),
        );
        family(
            "server_gets_per_second",
            "gauge",
            "Redis: GET and GETRANGE per second, latest sample.",
            server(|s| s.gets_s),
        );
        family(
            "server_cpu_ratio",
            "gauge",
            "Redis: share of one core the server's main thread used, latest sample.",
            server(|s| s.cpu),
        );
        family(
            "server_connected_clients",
            "gauge",
            "Redis: clients connected, latest sample.",
            server(|s| s.connected_clients as f64),
        );
        family(
            "server_evicted_keys",
            "gauge",
            "Redis: keys evicted during the latest sample.",
            server(|s| s.evicted as f64),
        );
        family(
            "server_network_out_bytes_per_second",
            "gauge",
            "Redis: bytes the server sent per second, latest sample.",
            server(|s| s.net_out_bytes_s),
        );
        family(
            "server_network_in_bytes_per_second",
            "gauge",
            "Redis: bytes the server received per second, latest sample.",
            server(|s| s.net_in_bytes_s),
        );
        out
    }
}

/// A label value as the exposition format quotes it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use hdrhistogram::serialization::{Serializer, V2Serializer};

    use super::*;

    fn progress(warmup: bool, ops: u64, errors: u64, latency_ns: u64) -> pb::Progress {
        let mut h = new_histogram();
        for _ in 0..ops {
            h.record(latency_ns).expect("in range");
        }
        let mut bytes = Vec::new();
        V2Serializer::new().serialize(&h, &mut bytes).expect("serialises");
        pb::Progress {
            warmup,
            interval_ms: 500,
            ops,
            errors,
            errors_by_kind: if errors > 0 {
                [("timeout".to_owned(), errors)].into()
            } else {
                Default::default()
            },
            histogram: bytes,
            ..Default::default()
        }
    }

    #[test]
    fn measured_intervals_count_and_the_latest_sets_rates_and_quantiles() {
        let live = LiveMetrics::default();
        live.started("get \"a\"", "redis", 2, Some(400.0));
        live.interval("get \"a\"", 0, &progress(true, 50, 0, 1_000_000));
        live.interval("get \"a\"", 0, &progress(false, 100, 2, 2_000_000));
        live.interval("get \"a\"", 1, &progress(false, 100, 0, 2_000_000));
        live.interval("nothing", 0, &progress(false, 100, 0, 1));
        let text = live.render();
        let labels = "workload=\"get \\\"a\\\"\",target=\"redis\"";
        for line in [
            format!("fetchbench_running{{{labels}}} 1"),
            format!("fetchbench_requests_total{{{labels}}} 200"),
            format!("fetchbench_errors_total{{{labels},kind=\"timeout\"}} 2"),
            format!("fetchbench_throughput_ops_per_second{{{labels}}} 400"),
            format!("fetchbench_achieved_rate_ops_per_second{{{labels}}} 404"),
            format!("fetchbench_asked_rate_ops_per_second{{{labels}}} 400"),
            "# TYPE fetchbench_requests_total counter".to_owned(),
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        let p99 = text
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("fetchbench_latency_seconds{{{labels},quantile=\"0.99\"}} "))
            })
            .expect("a p99");
        let p99: f64 = p99.parse().expect("a number");
        assert!((p99 - 0.002).abs() < 0.00001, "{p99}");
        assert!(!text.contains("nothing"), "a workload that never started is not listed");

        live.done("get \"a\"");
        live.server(
            "get \"a\"",
            ServerSample {
                t_s: 1.0,
                commands_s: 5.0,
                gets_s: 4.0,
                cpu: 0.25,
                connected_clients: 3,
                hits: 0,
                misses: 0,
                evicted: 7,
                expired: 0,
                keys: 10,
                net_in_bytes_s: 1.0,
                net_out_bytes_s: 2.0,
            },
        );
        let text = live.render();
        assert!(text.contains(&format!("fetchbench_running{{{labels}}} 0\n")), "{text}");
        assert!(text.contains(&format!("fetchbench_server_cpu_ratio{{{labels}}} 0.25\n")), "{text}");
        assert!(text.contains(&format!("fetchbench_server_evicted_keys{{{labels}}} 7\n")), "{text}");
    }
}
