//! `--prices live`: the AWS Price List API's current prices (GetProducts, signed with the standard
//! credential chain) in place of the built-in table, cited in the verdict and kept beside the
//! result. Against moto on 127.0.0.1 with scripts/price_list.py answering from saved replies.

mod common;
mod moto;

use common::*;
use moto::{aws_env, spawn_moto};

const SCENARIO: &str = r#"name = "live"
agents = 1
[goal]
reads_per_second = 50
p99_ms = 5000
[dataset]
objects = 20
size = 1000
[[workload]]
name = "s3"
target = "s3"
rate = 50.0
concurrency = 2
duration = "2s"
[[workload]]
name = "ca"
target = "cache-aside"
rate = 50.0
concurrency = 2
duration = "2s"
"#;

fn alternative<'a>(result: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    verdict_alternative(&result["verdict"], name)
}

/// `fetchbench run SCENARIO --prices live --out OUT` with `env` on top of the sandbox's.
fn run_live(
    sb: &Sandbox,
    env: &[(&str, String)],
    scenario: &std::path::Path,
    out: &std::path::Path,
) -> std::process::Output {
    let (scenario, out) = (scenario.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    sb.fetchbench()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["run", scenario, "--prices", "live", "--out", out])
        .output()
        .expect("fetchbench runs")
}

#[test]
fn live_prices_come_from_the_price_list_are_cited_and_kept_beside_the_result() {
    let moto = spawn_moto();
    let sb = Sandbox::new();
    let path = sb.write("live.toml", SCENARIO);
    let out = sb.path().join("out");
    let o = run_live(&sb, &aws_env(&moto), &path, &out);
    let (printed, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(0), "stdout:\n{printed}\nstderr:\n{err}");
    let result = read_json(&out.join("result.json"));
    let today: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .take(10)
        .collect();
    assert_eq!(result["verdict"]["prices_origin"], format!("AWS Price List API (us-east-1, read {today})"));
    assert_eq!(result["cost"]["region"], "us-east-1");
    // Every charge of both alternatives came from the Price List (S3 GETs, the node's hours), with
    // the on-demand term's date, not the reserved term's $0 hours.
    for name in ["s3", "cache-aside"] {
        for line in alternative(&result, name)["lines"].as_array().expect("lines") {
            let source = line["source"].as_str().expect("source");
            assert!(
                source.starts_with("AWS Price List API, Amazon") && source.ends_with("(2026-11-01)"),
                "{source}"
            );
        }
    }
    let node = &alternative(&result, "cache-aside")["lines"][0];
    assert_eq!(node["usd_per_hour"], 0.016, "{node}");
    assert!(
        node["source"]
            .as_str()
            .expect("source")
            .contains("AmazonElastiCache us-east-1 cache.t4g.micro Redis")
    );
    // 50 reads/s for a month of S3 GETs at the listed $0.0000004 each.
    let s3 = f64::from(50u32) * 3600.0 * 730.0 * 0.0000004;
    assert!((alternative(&result, "s3")["usd_per_month"].as_f64().expect("priced") - s3).abs() < 1e-6);
    // Node types the Price List did not answer keep the built-in figures, and the run says so.
    assert!(
        err.contains("fetchbench: warning: the AWS Price List has no us-east-1 price for")
            && err.contains("nodes.redis.\"cache.t3.micro\""),
        "{err}"
    );
    assert!(
        printed.contains(&format!("priced from the AWS Price List API (us-east-1, read {today})")),
        "{printed}"
    );

    // The prices are kept beside the result, and price it again as it was.
    let kept = out.join("prices.toml");
    let text = std::fs::read_to_string(&kept).expect("prices.toml beside result.json");
    assert!(text.starts_with("# The prices this run was priced with: AWS Price List API"), "{text}");
    let o = sb.run(&[
        "report",
        out.join("result.json").to_str().expect("utf-8"),
        "--prices",
        kept.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let again = read_json(&out.join("result.json"));
    let month =
        |r: &serde_json::Value| alternative(r, "cache-aside")["usd_per_month"].as_f64().expect("priced");
    assert!((month(&again) - month(&result)).abs() < 1e-9);

    // Another region's prices, from the AWS configuration's region.
    let west = sb.path().join("west");
    let mut env = aws_env(&moto);
    env.retain(|(k, _)| !k.starts_with("AWS_REGION") && *k != "AWS_DEFAULT_REGION");
    env.push(("AWS_REGION", "us-west-2".into()));
    let o = run_live(&sb, &env, &path, &west);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let west = read_json(&west.join("result.json"));
    assert_eq!(west["cost"]["region"], "us-west-2");
    assert!(
        alternative(&west, "s3")["lines"][0]["source"]
            .as_str()
            .expect("source")
            .contains("AmazonS3 us-west-2 S3-API-Tier2")
    );

    // No Price List to ask: one line naming what failed and what to do, exit 2, nothing run.
    drop(moto);
    let port = free_port();
    let nowhere = [("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))];
    let o = run_live(&sb, &nowhere, &path, &sb.path().join("none"));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--prices \"live\": cannot read the AWS Price List (pricing GetProducts:")
            && err.contains("pricing:GetProducts"),
        "{err}"
    );
    assert!(!sb.path().join("none").exists(), "nothing ran");
    sb.assert_clean();
}
