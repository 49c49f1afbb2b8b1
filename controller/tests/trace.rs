//! Replaying real traffic: `fetchbench trace-stats` on the three trace formats.

mod common;

use common::{Sandbox, stderr, stdout};

/// The line of `out` that starts with `prefix`.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?} line in:\n{out}"))
}

/// 199 requests over 100 keys: k0 60 times, k1 41 times, k2..k99 once each.
fn keys_trace() -> String {
    let mut text = String::new();
    for i in 0..60 {
        text.push_str("k0\n");
        if i < 40 {
            text.push_str("k1\n");
        }
    }
    for k in 1..100 {
        text.push_str(&format!("k{k}\n"));
    }
    text
}

#[test]
fn trace_stats_reads_one_key_per_line() {
    let sb = Sandbox::new();
    let path = sb.write("keys.txt", &keys_trace());
    let out = sb.run(&["trace-stats", path.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(line(&text, "trace:").contains("one key per line"), "{text}");
    assert_eq!(line(&text, "requests:"), "requests: 199");
    assert_eq!(line(&text, "distinct keys:"), "distinct keys: 100");
    // The top 1% of 100 keys is k0, with 60 of 199 requests.
    assert_eq!(line(&text, "top 1% of keys"), "top 1% of keys (1 key): 30.2% of requests");
    assert_eq!(line(&text, "object sizes"), "object sizes: not in the trace");
    assert_eq!(line(&text, "span"), "span: no times in the trace");
    assert_eq!(line(&text, "objects ="), "objects = 100");
    assert!(line(&text, "keys = \"zipf:").len() > 10, "{text}");
}

#[test]
fn trace_stats_reads_csv_with_times_and_sizes() {
    let sb = Sandbox::new();
    let csv = "timestamp,key,size\n\
               2026-12-01T10:00:00Z,a,100\n\
               2026-12-01T10:00:01Z,b,300\n\
               2026-12-01T10:00:02Z,a,100\n\
               2026-12-01T10:00:04Z,c,1000\n";
    let path = sb.write("t.csv", csv);
    let out = sb.run(&["trace-stats", path.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(line(&text, "trace:").contains("(CSV)"), "{text}");
    assert_eq!(line(&text, "requests:"), "requests: 4");
    assert_eq!(line(&text, "distinct keys:"), "distinct keys: 3");
    assert_eq!(
        line(&text, "object sizes"),
        "object sizes (bytes, 3 keys with a size): min 100, p50 300, p90 1000, p99 1000, max 1000, mean 466.7"
    );
    assert_eq!(line(&text, "span:"), "span: 4.000 s, mean rate 1.0 requests/s");
    assert_eq!(line(&text, "top 1% of keys"), "top 1% of keys (1 key): 50.0% of requests");
    assert!(line(&text, "size = ").starts_with("size = { median = 300, sigma = "), "{text}");
}

#[test]
fn trace_stats_reads_an_s3_access_log() {
    let sb = Sandbox::new();
    let record = |second: u32, op: &str, key: &str, size: &str| {
        format!(
            "79a59df9 bucket1 [06/Feb/2019:00:00:{second:02} +0000] 192.0.2.3 79a59df9 3E5742{second:02} \
             {op} {key} \"GET /bucket1/{key} HTTP/1.1\" 200 - {size} {size} 70 10 \"-\" \"S3Console/0.4\" - \
             s9lz= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader bucket1.s3.us-west-1.amazonaws.com TLSV1.2\n"
        )
    };
    let log = [
        record(10, "REST.GET.OBJECT", "photos/cat%20one.jpg", "5000"),
        record(11, "REST.GET.BUCKETPOLICY", "-", "-"),
        record(12, "REST.GET.OBJECT", "photos/dog.jpg", "7000"),
        record(20, "REST.GET.OBJECT", "photos/cat%20one.jpg", "5000"),
        record(21, "REST.PUT.OBJECT", "photos/new.jpg", "-"),
    ]
    .concat();
    let path = sb.write("access.log", &log);
    let out = sb.run(&["trace-stats", path.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        line(&text, "trace:").contains("(S3 server access log, 2 records of other operations skipped)"),
        "{text}"
    );
    assert_eq!(line(&text, "requests:"), "requests: 3");
    assert_eq!(line(&text, "distinct keys:"), "distinct keys: 2");
    assert!(line(&text, "object sizes").contains("min 5000, p50 5000, p90 7000"), "{text}");
    assert_eq!(line(&text, "span:"), "span: 10.000 s, mean rate 0.3 requests/s");
}

#[test]
fn a_bad_trace_is_one_line_naming_file_and_line_with_exit_2() {
    let sb = Sandbox::new();
    let path = sb.write("bad.csv", "key,time\na,1\nb,soon\n");
    let out = sb.run(&["trace-stats", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("fetchbench: trace "), "{err}");
    assert!(err.contains("bad.csv:3: timestamp \"soon\" is neither seconds"), "{err}");
    let out = sb.run(&["trace-stats", "missing.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.txt: no such file"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}
