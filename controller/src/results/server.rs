//! The server's own view of a workload: Redis INFO replies, read once an interval, turned into a
//! time series, with the server's GET count checked against the requests the agents sent.

use std::collections::HashMap;

use super::schema::{ServerMetrics, ServerSample};

/// Above this difference (percent) between the server's GET count and the agents' requests, the
/// summary says they disagree.
pub const GETS_TOLERANCE_PERCENT: f64 = 1.0;

/// One INFO reply (and INFO commandstats after it): its `field:value` lines.
#[derive(Clone, Debug, Default)]
pub struct Info {
    fields: HashMap<String, String>,
}

impl Info {
    /// The fields of `text`; headings (`# Server`), blank lines and lines without a colon are
    /// skipped.
    pub fn parse(text: &str) -> Info {
        let fields = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.trim().split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Info { fields }
    }

    fn text(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    fn count(&self, field: &str) -> u64 {
        self.text(field).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    fn seconds(&self, field: &str) -> Option<f64> {
        self.text(field).and_then(|v| v.parse().ok())
    }

    /// GET and GETRANGE calls so far, from commandstats (`cmdstat_get:calls=N,usec=...`).
    pub fn gets(&self) -> u64 {
        ["cmdstat_get", "cmdstat_getrange"]
            .iter()
            .filter_map(|f| self.text(f))
            .filter_map(|v| v.split(',').find_map(|kv| kv.strip_prefix("calls=")))
            .filter_map(|n| n.parse::<u64>().ok())
            .sum()
    }

    /// Keys in every database (`db0:keys=N,expires=...` in the keyspace section).
    pub fn keys(&self) -> u64 {
        self.fields
            .iter()
            .filter(|(k, _)| k.starts_with("db") && k[2..].chars().all(|c| c.is_ascii_digit()))
            .filter_map(|(_, v)| v.split(',').find_map(|kv| kv.strip_prefix("keys="))?.parse::<u64>().ok())
            .sum()
    }

    /// CPU seconds used so far (user + system): the main thread's where the server says (Redis
    /// 6.2 and later), else the whole process's.
    pub fn cpu_s(&self) -> f64 {
        let pair = |user: &str, sys: &str| Some(self.seconds(user)? + self.seconds(sys)?);
        pair("used_cpu_user_main_thread", "used_cpu_sys_main_thread")
            .or_else(|| pair("used_cpu_user", "used_cpu_sys"))
            .unwrap_or(0.0)
    }
}

/// What the server did between reading `a` at `t0` and reading `b` at `t1` (seconds since the
/// first reading).
pub fn sample(t0: f64, a: &Info, t1: f64, b: &Info) -> ServerSample {
    let dt = (t1 - t0).max(1e-9);
    let delta = |f: &str| b.count(f).saturating_sub(a.count(f));
    let rate = |f: &str| delta(f) as f64 / dt;
    ServerSample {
        t_s: t1,
        commands_s: rate("total_commands_processed"),
        gets_s: b.gets().saturating_sub(a.gets()) as f64 / dt,
        cpu: (b.cpu_s() - a.cpu_s()).max(0.0) / dt,
        connected_clients: b.count("connected_clients"),
        hits: delta("keyspace_hits"),
        misses: delta("keyspace_misses"),
        evicted: delta("evicted_keys"),
        expired: delta("expired_keys"),
        keys: b.keys(),
        net_in_bytes_s: rate("total_net_input_bytes"),
        net_out_bytes_s: rate("total_net_output_bytes"),
    }
}

/// The server's view of a workload from its readings (`(seconds since the first reading, INFO)`,
/// in time order), read from `node`; `agent_gets` is what the agents sent in the same window,
/// when comparable. `None` with fewer than two readings.
pub fn metrics(node: &str, readings: &[(f64, Info)], agent_gets: Option<u64>) -> Option<ServerMetrics> {
    let (first, last) = (&readings.first()?.1, &readings.last()?.1);
    if readings.len() < 2 {
        return None;
    }
    let samples: Vec<ServerSample> =
        readings.windows(2).map(|p| sample(p[0].0, &p[0].1, p[1].0, &p[1].1)).collect();
    let gets = last.gets().saturating_sub(first.gets());
    let gets_difference_percent =
        agent_gets.map(|sent| (gets as f64 - sent as f64).abs() / (sent.max(1) as f64) * 100.0);
    Some(ServerMetrics {
        node: node.to_owned(),
        version: last.text("redis_version").unwrap_or_default().to_owned(),
        maxmemory_bytes: last.count("maxmemory"),
        maxmemory_policy: last.text("maxmemory_policy").unwrap_or_default().to_owned(),
        cpu_max: samples.iter().map(|s| s.cpu).fold(0.0, f64::max),
        evicted_keys: last.count("evicted_keys").saturating_sub(first.count("evicted_keys")),
        keys: last.keys(),
        samples,
        gets,
        agent_gets,
        gets_difference_percent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(commands: u64, gets: u64, cpu_main: f64, hits: u64) -> Info {
        Info::parse(&format!(
            "# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:17\r\n\
             # Memory\r\nmaxmemory:67108864\r\nmaxmemory_policy:allkeys-lru\r\n\
             # Stats\r\ntotal_commands_processed:{commands}\r\ntotal_net_input_bytes:{}\r\n\
             total_net_output_bytes:{}\r\nkeyspace_hits:{hits}\r\nkeyspace_misses:3\r\nevicted_keys:0\r\n\
             expired_keys:0\r\n# CPU\r\nused_cpu_sys:9.5\r\nused_cpu_user:9.5\r\n\
             used_cpu_sys_main_thread:{}\r\nused_cpu_user_main_thread:{}\r\n\r\n\
             # Keyspace\r\ndb0:keys=40,expires=0,avg_ttl=0\r\ndb3:keys=2,expires=0\r\n\
             # Commandstats\r\ncmdstat_get:calls={gets},usec=100,usec_per_call=0.5,rejected_calls=0,failed_calls=0\r\n\
             cmdstat_getrange:calls=5,usec=1\r\ncmdstat_ping:calls=4,usec=1\r\n",
            commands * 30,
            commands * 1000,
            cpu_main / 2.0,
            cpu_main / 2.0,
        ))
    }

    #[test]
    fn readings_become_rates_per_second_and_the_main_threads_cpu() {
        let readings = [(0.0, info(1000, 500, 1.0, 10)), (0.5, info(6000, 5500, 1.4, 4010))];
        let m = metrics("redis://127.0.0.1:6379", &readings, Some(5000)).expect("two readings");
        assert_eq!((m.version.as_str(), m.maxmemory_bytes), ("7.0.15", 64 << 20));
        assert_eq!(m.maxmemory_policy, "allkeys-lru");
        assert_eq!(m.gets, 5000, "GET and GETRANGE calls between the first and the last reading");
        assert_eq!(m.gets_difference_percent, Some(0.0));
        let s = &m.samples[..];
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].t_s, s[0].commands_s, s[0].gets_s), (0.5, 10_000.0, 10_000.0));
        assert_eq!((s[0].net_in_bytes_s, s[0].net_out_bytes_s), (300_000.0, 10_000_000.0));
        assert_eq!((s[0].hits, s[0].misses, s[0].connected_clients), (4000, 0, 17));
        assert_eq!((s[0].keys, m.keys), (42, 42), "the keys of every database");
        // 0.4 s of the main thread in 0.5 s (not the process's, which did not move).
        assert!((s[0].cpu - 0.8).abs() < 1e-9, "{}", s[0].cpu);
        assert!((m.cpu_max - 0.8).abs() < 1e-9);
    }

    #[test]
    fn a_server_that_counted_other_clients_gets_disagrees_and_older_servers_report_the_process_cpu() {
        let readings = [(0.0, info(0, 0, 0.0, 0)), (1.0, info(0, 1030, 0.0, 0))];
        let m = metrics("n", &readings, Some(1000)).expect("two readings");
        let d = m.gets_difference_percent.expect("compared");
        assert!((d - 3.0).abs() < 1e-9 && d > GETS_TOLERANCE_PERCENT, "{d}");
        assert_eq!(metrics("n", &readings, None).and_then(|m| m.gets_difference_percent), None);
        assert!(metrics("n", &readings[..1], Some(1)).is_none(), "one reading is no sample");

        let old = |cpu: f64| Info::parse(&format!("used_cpu_sys:{cpu}\nused_cpu_user:{cpu}\n"));
        let m = metrics("n", &[(0.0, old(1.0)), (2.0, old(1.5))], None).expect("two readings");
        assert!((m.cpu_max - 0.5).abs() < 1e-9, "{}", m.cpu_max);
    }
}
