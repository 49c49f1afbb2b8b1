//! Cache-aside with writes (`write_share`, `on_write`): each write puts a new version of its
//! object in S3, every version's bytes carry it, and a read that returns an older version than
//! one committed before it started is a stale read. The tests run real agents against a real
//! redis-server and read back the version registers the agents keep there.

mod common;

use std::process::Command;

use common::*;

const OBJECTS: u64 = 20;

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a count"))
}

/// A cache-aside workload over every object in order, `requests` long, one at a time.
fn workload(name: &str, requests: u64, extra: &str) -> String {
    format!(
        "[[workload]]\nname = \"{name}\"\ntarget = \"cache-aside\"\nkeys = \"sequential\"\n\
         requests = {requests}\n{extra}\n"
    )
}

fn scenario(name: &str, workloads: &[String]) -> String {
    format!("name = \"{name}\"\n[dataset]\nobjects = {OBJECTS}\nsize = 300\nseed = 3\n{}", workloads.concat())
}

/// `fetchbench run` of `text` against `redis`; its exit code and result.json.
fn run(sb: &Sandbox, redis: &Redis, text: &str) -> (Option<i32>, serde_json::Value, String) {
    let path = sb.write("writes.toml", text);
    let out = sb.path().join("out");
    let o = sb.run(&[
        "run",
        path.to_str().expect("utf-8"),
        "--redis-url",
        &redis.url(),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let printed = format!("{}\n{}", stdout(&o), stderr(&o));
    let result = if out.join("result.json").exists() {
        read_json(&out.join("result.json"))
    } else {
        serde_json::Value::Null
    };
    (o.status.code(), result, printed)
}

fn workload_named<'a>(result: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    result["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("no workload {name} in {result}"))
}

/// The versions committed for object `i`, newest first, from its register in `redis`.
fn register(redis: &Redis, i: u64) -> Vec<(u64, i64)> {
    let out = Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "--raw",
            "LRANGE",
            &format!("fetchbench:filename{i}.txt#versions"),
            "0",
            "-1",
        ])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (v, at) = l.split_once(':').unwrap_or_else(|| panic!("register entry {l:?}"));
            (v.parse().expect("version"), at.parse().expect("commit time"))
        })
        .collect()
}

/// The version the cached copy of object `i` carries (0: the dataset's own bytes).
fn cached_version(redis: &Redis, i: u64) -> u64 {
    let out = Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "--raw",
            "GETRANGE",
            &format!("fetchbench:filename{i}.txt"),
            "0",
            "21",
        ])
        .output()
        .expect("redis-cli runs");
    let stamp = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    stamp.strip_prefix('~').and_then(|s| s.strip_suffix('~')).map_or(0, |d| d.parse().expect("a version"))
}

#[test]
fn reads_of_a_copy_the_writes_left_behind_are_stale_and_invalidated_ones_are_not() {
    let redis = Redis::start();
    let sb = Sandbox::new();
    let (code, result, printed) = run(
        &sb,
        &redis,
        &scenario(
            "stale",
            &[
                // Every object gets a new version in S3, and the cache keeps the old copy.
                workload("write-keep", OBJECTS, "write_share = 1.0\non_write = \"none\""),
                workload("read-old", 2 * OBJECTS, ""),
                // Every object again, its cached copy deleted: reads fill the cache anew.
                workload("write-invalidate", OBJECTS, "write_share = 1.0\non_write = \"invalidate\""),
                workload("read-new", 2 * OBJECTS, "verify = true"),
                // And once more, the cached copy overwritten.
                workload("write-update", OBJECTS, "write_share = 1.0\non_write = \"update\""),
                workload("read-updated", 2 * OBJECTS, "verify = true"),
            ],
        ),
    );
    assert_eq!(code, Some(0), "{printed}");
    for name in ["write-keep", "write-invalidate", "write-update"] {
        let w = workload_named(&result, name);
        assert_eq!((u(&w["writes"]), u(&w["ops"]), u(&w["errors"])), (OBJECTS, OBJECTS, 0), "{name}: {w}");
    }
    // The log of versions: three writes of every object, committed in the order they were made.
    let mut first_commits = Vec::new();
    for i in 0..OBJECTS {
        let log = register(&redis, i);
        assert_eq!(log.len(), 3, "object {i}: {log:?}");
        assert!(log.windows(2).all(|w| w[0].0 > w[1].0 && w[0].1 > w[1].1), "object {i}: {log:?}");
        first_commits.push(log[2].1);
        assert_eq!(cached_version(&redis, i), log[0].0, "object {i}: the cache holds the last version");
    }
    // Every read of read-old returned the dataset's bytes, older than a committed version.
    let old = workload_named(&result, "read-old");
    assert_eq!((u(&old["stale_reads"]), u(&old["hits"])), (2 * OBJECTS, 2 * OBJECTS), "{old}");
    assert_eq!(old["stale_share"].as_f64(), Some(1.0));
    // Stale since the first write, which ended before read-old began.
    assert!(old["staleness_us"]["max"].as_f64().expect("staleness") > 0.0, "{old}");
    let series: u64 =
        old["timeseries"].as_array().expect("series").iter().map(|i| u(&i["stale_reads"])).sum();
    assert_eq!(series, 2 * OBJECTS, "the intervals add up");
    for point in old["timeseries"].as_array().expect("series") {
        assert_eq!(point["stale_share"].as_f64(), Some(1.0), "{point}");
        assert!(point["staleness_p99_us"].as_f64().expect("staleness p99") > 0.0, "{point}");
    }
    // After the invalidation each object misses once, then hits, always the newest version; the
    // bytes after the version stamp are the object's.
    let new = workload_named(&result, "read-new");
    assert_eq!((u(&new["stale_reads"]), u(&new["misses"]), u(&new["errors"])), (0, OBJECTS, 0), "{new}");
    let updated = workload_named(&result, "read-updated");
    assert_eq!(
        (u(&updated["stale_reads"]), u(&updated["hits"]), u(&updated["errors"])),
        (0, 2 * OBJECTS, 0),
        "{updated}"
    );
    assert!(printed.contains("read-old: 40 stale reads (100.00% of reads), stale for p50"), "{printed}");
    assert!(printed.contains("write-keep: 20 writes; 0 stale reads"), "{printed}");
    sb.assert_clean();
}

#[test]
fn concurrent_updates_leave_stale_copies_that_readers_see() {
    let redis = Redis::start();
    let sb = Sandbox::new();
    // Four objects, 16 requests in flight, half of them writes: writes of one object overlap,
    // and an update whose PUT finished first can be overwritten in the cache by an older one.
    let (code, result, printed) = run(
        &sb,
        &redis,
        "name = \"race\"\n[dataset]\nobjects = 4\nsize = 300\n\
         [[workload]]\nname = \"update\"\ntarget = \"cache-aside\"\nconcurrency = 16\nrequests = 3000\n\
         write_share = 0.5\non_write = \"update\"\n",
    );
    assert_eq!(code, Some(0), "{printed}");
    let w = workload_named(&result, "update");
    let (stale, reads) = (u(&w["stale_reads"]), u(&w["hits"]) + u(&w["misses"]));
    assert!(stale > 0 && stale <= reads, "{stale} stale of {reads} reads: {w}");
    assert_eq!(u(&w["writes"]) + reads, 3000, "{w}");
    // The log agrees: each register holds committed versions, newest first by version.
    for i in 0..4 {
        let log = register(&redis, i);
        assert!(!log.is_empty() && log.len() <= 16, "object {i}: {log:?}");
    }
    sb.assert_clean();
}

#[test]
fn write_settings_are_checked_before_anything_runs() {
    let sb = Sandbox::new();
    for (extra, target, size, expected) in [
        ("write_share = 1.5", "cache-aside", 300, "write_share: 1.5 is not in [0, 1]"),
        ("write_share = 0.1", "redis", 300, "applies to target = \"cache-aside\" only"),
        ("write_share = 0.1", "cache-aside", 16, "make the dataset's objects at least 22 bytes"),
        ("on_write = \"update\"", "cache-aside", 300, "this workload has no write_share"),
        ("write_share = 0.1\nrange = \"0-9\"", "cache-aside", 300, "writes whole objects; remove range"),
    ] {
        let path = sb.write(
            "bad.toml",
            &format!(
                "name = \"bad\"\n[dataset]\nobjects = 4\nsize = {size}\n[[workload]]\nname = \"w\"\n\
                 target = \"{target}\"\nrequests = 10\n{extra}\n"
            ),
        );
        let o = sb.run(&["run", path.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(2), "{extra}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{extra}: {}", stderr(&o));
    }
}

#[test]
fn a_ttl_sweep_shows_the_hit_ratio_bought_with_staleness() {
    let sb = Sandbox::new();
    let path = sb.write(
        "ttl.toml",
        "name = \"ttl\"\n[dataset]\nobjects = 50\nsize = 300\ncache = \"cold\"\n\
         [[workload]]\nname = \"aside\"\ntarget = \"cache-aside\"\nconcurrency = 4\nrequests = 3000\n\
         write_share = 0.1\non_write = \"none\"\n",
    );
    let out = sb.path().join("out");
    let o = sb.run(&[
        "run",
        path.to_str().expect("utf-8"),
        "--sweep-ttl",
        "100ms,1h",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}\n{}", stderr(&o));
    let result = read_json(&out.join("result.json"));
    let (short, long) = (workload_named(&result, "aside-t100ms"), workload_named(&result, "aside-t1h"));
    let share =
        |w: &serde_json::Value| w["stale_share"].as_f64().unwrap_or_else(|| panic!("stale_share in {w}"));
    let ratio = |w: &serde_json::Value| w["hit_ratio"].as_f64().unwrap_or_else(|| panic!("hit_ratio in {w}"));
    // A copy that lives an hour outlives every write of the run: more hits, and more of them stale.
    assert!(ratio(long) > ratio(short), "hit ratio {} at 1h, {} at 100ms", ratio(long), ratio(short));
    assert!(share(long) > share(short), "stale share {} at 1h, {} at 100ms", share(long), share(short));
    assert_eq!(result["scenario"]["workloads"][0]["ttl"], "100ms");
    assert!(text.contains("by TTL (hit ratio against staleness):"), "{text}");
    let (_, table) = text.split_once("by TTL (hit ratio against staleness):").expect("the TTL table");
    let row =
        table.lines().find(|l| l.starts_with("aside-t1h ")).unwrap_or_else(|| panic!("no 1h row in {table}"));
    assert!(row.contains(&format!("{:.2}%", share(long) * 100.0)), "{row}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("id=\"ttl-hit-ratio\"") && html.contains("id=\"ttl-stale-share\""));
    let stale_row = format!(
        "<tr><td class=\"name\">aside-t1h</td><td>{}</td><td>{}</td>",
        u(&long["writes"]),
        u(&long["stale_reads"])
    );
    assert!(html.contains(&stale_row), "report.html lacks {stale_row}");
    let o = sb.run(&["run", path.to_str().expect("utf-8"), "--sweep-ttl", "0s,1s"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--sweep-ttl"), "{}", stderr(&o));
    sb.assert_clean();
}
