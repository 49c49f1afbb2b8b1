//! The AWS workflow end to end, through the real `fetchbench` binary, against `scripts/aws-sandbox`
//! (moto extended to run SSM commands for real on per-instance roots, with ElastiCache as a local
//! redis-server): provision installs two agents through SSM, `run` of the seed scenario measures
//! from both against the stack's own cache and bucket, `status` sees them healthy, an agent
//! killed on its instance makes `status` exit 3 and `run` fail naming it, `teardown` leaves no
//! stack, parameter, bucket, agent or redis-server, and a second teardown has nothing to do.

mod common;
mod moto;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Sandbox, read_json, stderr, stdout, verdict_alternative};
use moto::{venv_tool, workspace};

/// A running `scripts/aws-sandbox`, stopped with SIGTERM (as Ctrl-C would) when dropped.
struct AwsSandbox {
    child: Child,
    /// Its folder: instances/<id>/ (each instance's root), caches/<name>/ (each redis-server).
    dir: PathBuf,
    /// The `export NAME=value` pairs it printed.
    env: Vec<(String, String)>,
}

impl AwsSandbox {
    fn start(dir: &Path) -> AwsSandbox {
        // A loopback /24 of this sandbox, so that concurrent tests and test runs on one machine
        // do not bind the same 127.x.y.N:7878.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let net = format!("127.{}.{}", 1 + std::process::id() % 250, 1 + n % 250);
        let mut child = Command::new(venv_tool("python"))
            .arg(workspace().join("scripts/aws-sandbox"))
            .args(["--dir", dir.to_str().expect("utf-8 path"), "--agent-net", &net])
            .current_dir(workspace())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("scripts/aws-sandbox starts; run `scripts/setup test`");
        let mut env = Vec::new();
        let mut emulates = String::new();
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        for line in lines.by_ref() {
            let line = line.expect("sandbox output");
            if line.starts_with("aws-sandbox: ") {
                emulates = line.clone();
            }
            if let Some(exports) = line.strip_prefix("export ") {
                for pair in exports.split_whitespace() {
                    let (k, v) = pair.split_once('=').expect("NAME=value");
                    env.push((k.to_owned(), v.to_owned()));
                }
            }
            if line.starts_with("# Ctrl-C") {
                break;
            }
        }
        assert!(
            env.iter().any(|(k, v)| k == "AWS_ENDPOINT_URL" && v.starts_with("http://127.0.0.1:")),
            "{env:?}"
        );
        assert!(emulates.contains("not emulated: IAM policies"), "says what it does not emulate: {emulates}");
        // Keep draining its standard output so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        AwsSandbox { child, dir: dir.to_owned(), env }
    }

    /// SDK configuration for assertions against the sandbox.
    async fn sdk_config(&self) -> aws_config::SdkConfig {
        let endpoint = self.env.iter().find(|(k, _)| k == "AWS_ENDPOINT_URL").map(|(_, v)| v.clone());
        fetchbench::aws::config_loader()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint.expect("AWS_ENDPOINT_URL"))
            .credentials_provider(aws_sdk_ssm::config::Credentials::new("test", "test", None, None, "tests"))
            .load()
            .await
    }

    /// The pids the sandbox's agents and redis-servers recorded.
    fn recorded_pids(&self) -> Vec<(String, u32)> {
        let mut pids = Vec::new();
        for (kind, file) in [("instances", "run/fetchbench-agent.pid"), ("caches", "redis.pid")] {
            for entry in std::fs::read_dir(self.dir.join(kind)).into_iter().flatten().flatten() {
                if let Ok(text) = std::fs::read_to_string(entry.path().join(file)) {
                    let pid = text.trim().parse().expect("a pid");
                    pids.push((entry.file_name().to_string_lossy().into_owned(), pid));
                }
            }
        }
        pids
    }
}

impl Drop for AwsSandbox {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// report.html carries the CloudWatch tables, with the cache's hits and the bucket's GETs.
fn page_has_cloudwatch(report: &Path) -> bool {
    let page = std::fs::read_to_string(report).unwrap_or_default();
    page.contains("<section id=\"cloudwatch\">")
        && page.contains("data-metric=\"CacheHits\"")
        && page.contains("data-metric=\"GetRequests\"")
}

/// The agent `scripts/build-agent --arch x86_64` wrote in this target dir (scripts/test makes it
/// before the tests): `provision` installs it by default, so the sandbox's instances run it.
fn built_agent() -> PathBuf {
    let fetchbench = PathBuf::from(env!("CARGO_BIN_EXE_fetchbench"));
    let target = fetchbench.parent().and_then(Path::parent).expect("the target dir");
    let path = target.join("agents/fetchbench-agent-linux-x86_64");
    assert!(path.is_file(), "{} is missing: run `scripts/build-agent --arch x86_64 --dev`", path.display());
    path
}

/// The process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

/// What the AWS CLI (of the test virtualenv) answers from the sandbox, as JSON.
fn aws_cli(aws: &AwsSandbox, args: &[&str]) -> serde_json::Value {
    let o = Command::new(venv_tool("aws"))
        .args(args)
        .args(["--output", "json"])
        .envs(aws.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("the AWS CLI runs");
    assert!(o.status.success(), "aws {}: {}", args.join(" "), stderr(&o));
    serde_json::from_slice(&o.stdout).expect("JSON")
}

fn fetchbench(sb: &Sandbox, aws: &AwsSandbox, args: &[&str]) -> Output {
    let mut cmd = sb.fetchbench();
    cmd.envs(aws.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))).args(args).stdin(Stdio::null());
    let out = cmd.output().expect("fetchbench runs");
    eprintln!("$ fetchbench {}\n{}{}", args.join(" "), stdout(&out), stderr(&out));
    out
}

#[tokio::test]
async fn provision_run_status_teardown_through_the_sandbox() {
    let sb = Sandbox::new();
    let aws = AwsSandbox::start(&sb.path().join("aws"));
    let config = aws.sdk_config().await;

    // provision: stack, cache, bucket, and the agents installed through SSM runs of the script.
    let o = fetchbench(&sb, &aws, &["provision", "--agents", "2", "--allow-cidr", "127.0.0.1/32"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("stack fetchbench: CREATE_COMPLETE in us-east-1"), "{text}");
    assert!(text.contains("2 agents ready"), "{text}");
    // The default cache node is burstable: provision says so and names a steady one.
    let burstable = "cache.t4g.micro is a burstable node";
    assert!(stderr(&o).contains(burstable), "{}", stderr(&o));
    assert!(stderr(&o).contains("--cache-node-type cache.m7g.large"), "{}", stderr(&o));
    let state = read_json(&sb.path().join(".fetchbench/fetchbench/state.json"));
    let bucket = state["outputs"]["BucketName"].as_str().expect("bucket").to_owned();
    let cache = format!(
        "{}:{}",
        state["outputs"]["CacheAddress"].as_str().expect("cache address"),
        state["outputs"]["CachePort"].as_str().expect("cache port")
    );
    let installed = state["installed"].as_array().expect("installed agents");
    assert_eq!(installed.len(), 2);
    for agent in installed {
        let address = agent["address"].as_str().expect("each agent reported its address");
        assert!(address.starts_with("127.") && address.ends_with(":7878"), "{address}");
    }
    // What runs on the instances is scripts/build-agent's glibc 2.34 build, the default.
    let built = std::fs::read(built_agent()).expect("the built agent");
    for id in installed.iter().map(|a| a["instance_id"].as_str().expect("instance id")) {
        let on_instance = aws.dir.join("instances").join(id).join("opt/fetchbench/bin/fetchbench-agent");
        assert!(std::fs::read(&on_instance).expect("installed agent") == built, "{id} runs another binary");
    }
    let pids = aws.recorded_pids();
    assert_eq!(pids.len(), 3, "two agents and one redis-server: {pids:?}");
    assert!(pids.iter().all(|(_, pid)| alive(*pid)), "{pids:?}");

    // run: the seed scenario on both agents, against the stack's cache and bucket.
    let seed = workspace().join("scenarios/seed.toml");
    let o = fetchbench(&sb, &aws, &["run", seed.to_str().expect("utf-8 path"), "--agents", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (folder, result) = result_of(&sb, &o);
    assert_eq!(result["fleet"], "aws");
    // The cache's node type is kept in result.json, and the summary and report warn from it.
    assert_eq!(result["targets"]["cache_node_type"], "cache.t4g.micro");
    assert_eq!(stdout(&o).matches(&format!("BURSTABLE CACHE: {burstable}")).count(), 1, "{}", stdout(&o));
    let report = sb.path().join(&folder).with_file_name("report.html");
    let page = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{}: {e}", report.display()));
    assert!(page.contains(&format!("BURSTABLE CACHE: {burstable}")), "report.html warns too");
    let agents = result["agents"].as_array().expect("agents");
    assert_eq!(agents.len(), 2);
    assert!(agents.iter().all(|a| a["status"] == "ok"), "{agents:?}");
    assert_eq!(result["targets"]["redis"], format!("redis://{cache}"));
    assert_eq!(result["targets"]["redis_source"], "elasticache");
    assert_eq!(result["targets"]["s3_bucket"], bucket.as_str());
    assert_eq!(result["targets"]["s3_source"], "stack");
    for workload in result["workloads"].as_array().expect("workloads") {
        let per_agent = workload["per_agent"].as_array().expect("per agent");
        assert_eq!(per_agent.len(), 2, "{}", workload["name"]);
        for agent in per_agent {
            assert_eq!(agent["ops"], 199, "{} from {}", workload["name"], agent["agent"]);
            assert_eq!(agent["errors"], 0, "{} from {}", workload["name"], agent["agent"]);
        }
    }
    let targets: Vec<_> =
        result["workloads"].as_array().unwrap().iter().map(|w| w["target"].clone()).collect();
    assert_eq!(targets, ["redis", "s3"]);

    // CloudWatch: the cache node's and the bucket's minutes of the run, as the sandbox's
    // ElastiCache and S3 published them. Every GET of the run hit a seeded key, so the node's
    // CacheHits over the run's minutes are the GETs the server counted in the Redis workload.
    let views = result["cloudwatch"].as_array().expect("cloudwatch views");
    let resources: Vec<_> = views.iter().map(|v| v["resource"].as_str().expect("resource")).collect();
    assert_eq!(resources, ["cache", "bucket"]);
    let (cache_view, bucket_view) = (&views[0], &views[1]);
    let group = state["outputs"]["CacheId"].as_str().expect("the stack names its replication group");
    let node = format!("AWS/ElastiCache CacheClusterId={group}-001 CacheNodeId=0001");
    assert_eq!(cache_view["source"], node, "{cache_view}");
    assert_eq!(
        bucket_view["source"],
        format!("AWS/S3 BucketName={bucket} FilterId=EntireBucket"),
        "{bucket_view}"
    );
    for view in views {
        assert_eq!(view["complete"], true, "the run's last minute of each was published: {view}");
    }
    let value = |view: &serde_json::Value, name: &str| {
        let metrics = view["metrics"].as_array().expect("metrics");
        metrics.iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("{name}"))["value"].as_f64()
    };
    // The cache's memory and policy, as ElastiCache's default parameter group sets them for the
    // node type: 75% of a cache.t4g.micro's 0.5 GiB, volatile-lru.
    let server = &result["workloads"][0]["server"];
    assert_eq!(server["maxmemory_bytes"], 402_653_184, "{server}");
    assert_eq!(server["maxmemory_policy"], "volatile-lru", "{server}");
    let server_gets = result["workloads"][0]["server"]["gets"].as_u64().expect("the server's GETs");
    assert!(server_gets >= 398, "{}", result["workloads"][0]["server"]);
    assert_eq!(value(cache_view, "CacheHits"), Some(server_gets as f64), "{cache_view}");
    assert_eq!(value(cache_view, "CacheMisses"), Some(0.0), "{cache_view}");
    assert_eq!(value(cache_view, "Evictions"), Some(0.0), "{cache_view}");
    // Each GET's answer carries a value of at least 235 bytes (the seed's smallest).
    assert!(
        value(cache_view, "NetworkBytesOut").expect("bytes out") >= (server_gets * 235) as f64,
        "{cache_view}"
    );
    assert!(value(cache_view, "CurrConnections").expect("connections") >= 2.0, "{cache_view}");
    // The bucket: S3 counted the agents' GETs, a warm-up each, and the install's two downloads
    // of the agent binary, seconds before, when they share the run's first minute.
    let s3 = &result["workloads"][1];
    let sent: u64 = s3["per_agent"].as_array().unwrap().iter().map(|a| a["ops"].as_u64().unwrap()).sum();
    let gets = value(bucket_view, "GetRequests").expect("GetRequests");
    assert!((sent as f64..=(sent + 4) as f64).contains(&gets), "{gets} GETs for {sent} sent: {bucket_view}");
    assert_eq!(value(bucket_view, "4xxErrors"), Some(0.0), "{bucket_view}");
    assert_eq!(value(bucket_view, "5xxErrors"), Some(0.0), "{bucket_view}");
    assert!(value(bucket_view, "BytesDownloaded").expect("bytes") >= (sent * 235) as f64, "{bucket_view}");
    let first_byte = value(bucket_view, "FirstByteLatency").expect("a p99 of the first byte");
    let slowest_ms = s3["latency_us"]["max"].as_f64().unwrap() / 1e3;
    assert!(
        first_byte > 0.0 && first_byte <= slowest_ms,
        "{first_byte} ms, the agents' slowest {slowest_ms} ms"
    );
    // Each workload's window, within the run's, which the views wait for.
    for w in result["workloads"].as_array().unwrap() {
        let began = w["started_at"].as_str().expect("started_at");
        let ended = w["finished_at"].as_str().expect("finished_at");
        // To the second, as the run's own times are kept.
        assert!(
            result["started_at"].as_str().unwrap()[..19] <= began[..19] && began < ended,
            "{began} {ended}"
        );
    }
    let summary = stdout(&o);
    let line = |prefix: &str| {
        let found = summary.lines().find(|l| l.starts_with(prefix));
        found.unwrap_or_else(|| panic!("a {prefix} line: {summary}")).to_owned()
    };
    let cache_line = line("CloudWatch, AWS/ElastiCache");
    assert!(cache_line.contains(&format!("CacheHits {server_gets}")), "{cache_line}");
    let bucket_line = line("CloudWatch, AWS/S3");
    assert!(bucket_line.contains(&format!("GetRequests {gets}")), "{bucket_line}");
    assert!(bucket_line.contains("FirstByteLatency p99 (worst minute) "), "{bucket_line}");
    let report = sb.path().join(&folder).with_file_name("report.html");
    assert!(page_has_cloudwatch(&report), "report.html shows them");

    // status: the stack complete, both instances online in SSM and answering over gRPC.
    let o = fetchbench(&sb, &aws, &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let text = stdout(&o);
    assert_eq!(text.matches("InService/Healthy  ssm Online  grpc answers Hello").count(), 2, "{text}");

    // An agent killed on its instance: status names it, exit 3; a run names it and fails.
    let victim = &installed[1];
    let (victim_id, victim_address) =
        (victim["instance_id"].as_str().expect("instance id"), victim["address"].as_str().unwrap());
    let victim_pid = pids.iter().find(|(owner, _)| owner == victim_id).expect("the victim's pid").1;
    let _ = Command::new("kill").args(["-KILL", &victim_pid.to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(victim_pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = fetchbench(&sb, &aws, &["status"]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    let text = stdout(&o);
    let line = text.lines().find(|l| l.contains(victim_id)).expect("a line for the killed agent");
    assert!(line.contains("grpc unreachable"), "{line}");
    assert_eq!(text.matches("grpc answers Hello").count(), 1, "{text}");
    let o = fetchbench(&sb, &aws, &["run", seed.to_str().unwrap(), "--agents", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let line =
        err.lines().find(|l| l.contains(victim_id)).unwrap_or_else(|| panic!("names the instance: {err}"));
    assert!(line.contains(victim_address), "and its address: {line}");
    assert!(line.contains("lost"), "says it is lost: {line}");
    assert!(
        line.contains("`fetchbench status`") && line.contains("`fetchbench install`"),
        "what to do: {line}"
    );

    // teardown: the dataset and the binary emptied from the bucket, nothing left running.
    let o = fetchbench(&sb, &aws, &["teardown", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning"), "a clean delete, as AWS does it: {}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains(&format!("emptied bucket {bucket}: 201 object versions deleted")), "{text}");
    assert!(text.contains("deleted 2 agent TLS parameters"), "{text}");
    let running: Vec<_> = pids.iter().filter(|(_, pid)| alive(*pid)).collect();
    assert!(running.is_empty(), "still running after teardown: {running:?}");
    let left = sb.leftover_processes();
    assert!(left.is_empty(), "processes left running: {left:?}");
    let cf = aws_sdk_cloudformation::Client::new(&config);
    let gone = cf.describe_stacks().stack_name("fetchbench").send().await;
    assert!(gone.is_err_and(|e| format!("{e:?}").contains("does not exist")), "the stack is gone");
    let buckets = aws_sdk_s3::Client::new(&config).list_buckets().send().await.expect("buckets");
    assert!(buckets.buckets().iter().all(|b| b.name() != Some(bucket.as_str())), "the bucket is gone");
    let ssm = aws_sdk_ssm::Client::new(&config);
    let params = ssm.get_parameters_by_path().path("/fetchbench").recursive(true).send().await;
    assert!(params.expect("parameters").parameters().is_empty(), "no TLS parameter left");

    let o = fetchbench(&sb, &aws, &["teardown", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("nothing to delete"), "{}", stdout(&o));
}

/// What AWS documents and moto lacks: SendCommand takes at most 50 instances,
/// DescribeInstanceInformation lists every running instance Online in pages of at most 50, and a
/// command's invocation carries its real status, exit code, output and the instance's metadata.
#[tokio::test]
async fn the_sandbox_runs_commands_and_keeps_aws_limits() {
    let sb = Sandbox::new();
    let aws = AwsSandbox::start(&sb.path().join("aws"));
    let launched = Command::new(venv_tool("aws"))
        .args(["ec2", "run-instances", "--image-id", "ami-12c6146b", "--instance-type", "t3.micro"])
        .args(["--count", "55", "--query", "Instances[].InstanceId", "--output", "text"])
        .envs(aws.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("HOME", sb.path())
        .output()
        .expect("aws cli runs");
    assert!(launched.status.success(), "{}", stderr(&launched));
    let mut launched: Vec<String> = stdout(&launched).split_whitespace().map(str::to_owned).collect();
    launched.sort();
    assert_eq!(launched.len(), 55);

    let ssm = aws_sdk_ssm::Client::new(&aws.sdk_config().await);

    // Every running instance is registered and Online, 50 to a page.
    let first = ssm.describe_instance_information().send().await.expect("first page");
    assert_eq!(first.instance_information_list().len(), 50);
    let token = first.next_token().expect("a second page").to_owned();
    let second = ssm.describe_instance_information().next_token(token).send().await.expect("second page");
    assert_eq!(second.instance_information_list().len(), 5);
    assert!(second.next_token().is_none());
    let mut seen: Vec<String> = first
        .instance_information_list()
        .iter()
        .chain(second.instance_information_list())
        .inspect(|i| assert_eq!(i.ping_status().map(|p| p.as_str()), Some("Online")))
        .map(|i| i.instance_id().unwrap().to_owned())
        .collect();
    seen.sort();
    assert_eq!(seen, launched);

    // At most 50 instances per SendCommand, as on AWS.
    let send = |ids: &[String], text: &str| {
        ssm.send_command()
            .document_name("AWS-RunShellScript")
            .set_instance_ids(Some(ids.to_vec()))
            .parameters("commands", vec![text.to_owned()])
            .send()
    };
    let err = send(&launched[..51], "true").await.expect_err("51 instances are refused");
    let err = err.into_service_error();
    assert_eq!(err.meta().code(), Some("ValidationException"), "{err:?}");
    assert!(err.meta().message().unwrap_or_default().contains("less than or equal to 50"), "{err:?}");

    // A command runs on each instance, which answers its own metadata; a failure is reported as such.
    let text = "t=$(curl -sf -X PUT http://169.254.169.254/latest/api/token)\n\
                curl -sf http://169.254.169.254/latest/meta-data/instance-id || echo -n no-token-no-metadata\n\
                echo\ncurl -sf -H \"X-aws-ec2-metadata-token: $t\" http://169.254.169.254/latest/meta-data/instance-id\n\
                echo\ncurl -sf -H \"X-aws-ec2-metadata-token: $t\" http://169.254.169.254/latest/meta-data/public-ipv4\n\
                echo\necho oops >&2\nexit 3";
    let sent = send(&launched[..50], text).await.expect("50 instances are accepted");
    let id = sent.command().and_then(|c| c.command_id()).expect("command id").to_owned();
    let mut addresses = Vec::new();
    for instance in &launched[..50] {
        let deadline = Instant::now() + Duration::from_secs(60);
        let inv = loop {
            let inv = ssm.get_command_invocation().command_id(&id).instance_id(instance).send().await;
            let inv = inv.expect("invocation");
            let status = inv.status().map(|s| s.as_str().to_owned()).unwrap_or_default();
            if !matches!(status.as_str(), "Pending" | "InProgress") || Instant::now() > deadline {
                break inv;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(inv.status().map(|s| s.as_str()), Some("Failed"), "{inv:?}");
        assert_eq!(inv.response_code(), 3);
        assert_eq!(inv.standard_error_content(), Some("oops\n"));
        let out = inv.standard_output_content().unwrap_or_default();
        let lines: Vec<&str> = out.lines().collect();
        let [without_token, own_id, address] = lines[..] else { panic!("three lines: {out:?}") };
        assert_eq!(without_token, "no-token-no-metadata", "IMDSv2 only");
        assert_eq!(own_id, instance.as_str());
        addresses.push(address.to_owned());
    }
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 50, "one loopback address per instance: {addresses:?}");
    // Only the instances named run it.
    for instance in &launched[50..] {
        let inv = ssm.get_command_invocation().command_id(&id).instance_id(instance).send().await;
        let err = inv.expect_err("no invocation on an instance the command did not name");
        assert!(err.into_service_error().is_invocation_does_not_exist());
    }

    // At most 100 instance ids in DescribeInstanceInformation's InstanceIds filter, as on AWS.
    let filter = |n: usize| {
        aws_sdk_ssm::types::InstanceInformationStringFilter::builder()
            .key("InstanceIds")
            .set_values(Some(launched.iter().cycle().take(n).cloned().collect()))
            .build()
            .expect("a filter")
    };
    let err = ssm.describe_instance_information().filters(filter(101)).send().await;
    let err = err.expect_err("101 ids are refused").into_service_error();
    assert_eq!(err.meta().code(), Some("ValidationException"), "{err:?}");
    ssm.describe_instance_information().filters(filter(100)).send().await.expect("100 ids are accepted");
    assert!(addresses.iter().all(|a| a.starts_with("127.")), "{addresses:?}");

    // A command that outruns its executionTimeout is stopped and reported TimedOut.
    let started = Instant::now();
    let sent = ssm
        .send_command()
        .document_name("AWS-RunShellScript")
        .instance_ids(&launched[0])
        .parameters("commands", vec!["echo started\nsleep 60".to_owned()])
        .parameters("executionTimeout", vec!["1".to_owned()])
        .send()
        .await
        .expect("sent");
    let id = sent.command().and_then(|c| c.command_id()).expect("command id").to_owned();
    let inv = loop {
        let inv = ssm.get_command_invocation().command_id(&id).instance_id(&launched[0]).send().await;
        let inv = inv.expect("invocation");
        if !matches!(inv.status().map(|s| s.as_str()), Some("Pending" | "InProgress")) {
            break inv;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "still running: {inv:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(inv.status().map(|s| s.as_str()), Some("TimedOut"), "{inv:?}");
    assert_eq!(inv.standard_output_content(), Some("started\n"));
}

/// The agent binary beside `fetchbench`, stripped into `dir`: many instances download it, and the
/// debug build is mostly debug information.
/// The result.json a finished `fetchbench run` printed the path of (relative to the sandbox), and
/// that path.
fn result_of(sb: &Sandbox, o: &std::process::Output) -> (String, serde_json::Value) {
    let folder =
        stdout(o).lines().find_map(|l| l.strip_prefix("result: ").map(str::to_owned)).expect("a result line");
    let result = read_json(&sb.path().join(&folder));
    (folder, result)
}

fn stripped_agent(dir: &Path) -> PathBuf {
    let agent = Path::new(env!("CARGO_BIN_EXE_fetchbench")).with_file_name("fetchbench-agent");
    let stripped = dir.join("fetchbench-agent");
    let o =
        Command::new("objcopy").arg("--strip-all").arg(&agent).arg(&stripped).output().expect("objcopy runs");
    assert!(o.status.success(), "objcopy: {}", stderr(&o));
    stripped
}

/// Sends SIGCONT to the agents it holds when dropped, so that a failed assertion leaves none
/// stopped (the sandbox stops its agents with SIGTERM, which a stopped process does not act on).
struct Stopped(Vec<u32>);

impl Drop for Stopped {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = Command::new("kill").args(["-CONT", &pid.to_string()]).status();
        }
    }
}

/// A fleet of 64: SendCommand goes out in chunks of 50, `status` sees every instance's SSM ping
/// through DescribeInstanceInformation's pages of 50, and the agents are greeted concurrently, so
/// that 64 agents that never answer cost `status` about one Hello timeout, not 64.
#[tokio::test]
async fn a_fleet_of_64_installs_in_chunks_and_is_checked_concurrently() {
    let sb = Sandbox::new();
    let aws = AwsSandbox::start(&sb.path().join("aws"));
    let agent = stripped_agent(sb.path());
    let agent = agent.to_str().expect("utf-8 path");

    let started = Instant::now();
    let o = fetchbench(
        &sb,
        &aws,
        &["provision", "--agents", "64", "--allow-cidr", "127.0.0.1/32", "--agent-binary", agent],
    );
    eprintln!("provision --agents 64 took {:?}", started.elapsed());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("running agent-install.sh on 50 instances"), "{text}");
    assert!(text.contains("running agent-install.sh on 14 instances"), "{text}");
    assert!(text.contains("64 agents ready"), "{text}");
    let state = read_json(&sb.path().join(".fetchbench/fetchbench/state.json"));
    let installed = state["installed"].as_array().expect("installed agents");
    assert_eq!(installed.len(), 64);
    let mut ids: Vec<&str> = installed.iter().map(|a| a["instance_id"].as_str().expect("id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 64, "one agent per instance");

    // Every instance Online in SSM (the 14 past the first page too) and answering Hello.
    let o = fetchbench(&sb, &aws, &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(text.contains("agents: 64 of 64 in the group"), "{text}");
    assert_eq!(text.matches("InService/Healthy  ssm Online  grpc answers Hello").count(), 64, "{text}");

    // Every agent stopped, not killed: its port still accepts connections, but nothing answers.
    let pids: Vec<u32> = aws
        .recorded_pids()
        .into_iter()
        .filter(|(owner, _)| owner.starts_with("i-"))
        .map(|(_, p)| p)
        .collect();
    assert_eq!(pids.len(), 64, "{pids:?}");
    let stopped = Stopped(pids.clone());
    for pid in &stopped.0 {
        let o = Command::new("kill").args(["-STOP", &pid.to_string()]).output().expect("kill runs");
        assert!(o.status.success(), "kill -STOP {pid}: {}", stderr(&o));
    }
    let started = Instant::now();
    let o = fetchbench(&sb, &aws, &["status"]);
    let took = started.elapsed();
    eprintln!("status of 64 stopped agents took {took:?}");
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    let text = stdout(&o);
    assert_eq!(text.matches("grpc unreachable").count(), 64, "{text}");
    // One after the other, 64 agents would take 64 timeouts.
    let timeout = fetchbench::fleet::connect::CONNECT_TIMEOUT;
    assert!(
        took < 4 * timeout,
        "status took {took:?}, {} Hello timeouts",
        took.as_secs_f64() / timeout.as_secs_f64()
    );
    // In the group's order, as without the concurrency.
    let listed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("grpc unreachable"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, ids, "one line per instance, sorted by instance id");
    drop(stopped);
}

/// Scaling out: a second `provision` with more agents waits for the group's new instances,
/// installs only those and keeps the running agent; scaling in forgets the removed instances
/// and deletes their TLS parameters.
#[tokio::test]
async fn provision_scales_the_fleet_out_and_in() {
    let sb = Sandbox::new();
    let aws = AwsSandbox::start(&sb.path().join("aws"));
    let config = aws.sdk_config().await;
    let agent = stripped_agent(sb.path());
    let agent = agent.to_str().expect("utf-8 path");
    let provision = |n: &str| {
        fetchbench(
            &sb,
            &aws,
            &["provision", "--agents", n, "--allow-cidr", "127.0.0.1/32", "--agent-binary", agent],
        )
    };
    let installed = || -> Vec<String> {
        let state = read_json(&sb.path().join(".fetchbench/fetchbench/state.json"));
        let agents = state["installed"].as_array().expect("installed agents");
        agents.iter().map(|a| a["instance_id"].as_str().expect("id").to_owned()).collect()
    };

    let o = provision("1");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = installed();
    assert_eq!(first.len(), 1);
    let first = first[0].clone();
    let pid_of = |id: &str| aws.recorded_pids().into_iter().find(|(owner, _)| owner == id).map(|(_, p)| p);
    let first_pid = pid_of(&first).expect("the first agent's pid");

    let o = provision("3");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("installing the agent on 2 new instances (1 already run it)"), "{text}");
    assert!(text.contains("running agent-install.sh on 2 instances"), "{text}");
    assert!(text.contains("3 agents ready"), "{text}");
    let three = installed();
    assert_eq!(three.len(), 3, "{three:?}");
    assert!(three.contains(&first), "{three:?}");
    assert_eq!(pid_of(&first), Some(first_pid), "the first agent was not reinstalled");
    assert!(alive(first_pid));

    let ssm = aws_sdk_ssm::Client::new(&config);
    let parameters = || async {
        let out =
            ssm.get_parameters_by_path().path("/fetchbench/fetchbench/agents").recursive(true).send().await;
        let mut names: Vec<String> = out
            .expect("parameters")
            .parameters()
            .iter()
            .filter_map(|p| p.name().map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    assert_eq!(parameters().await.len(), 3);

    let o = provision("2");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("forgot 1 agents no longer in the group"), "{text}");
    assert!(text.contains("2 agents ready"), "{text}");
    let two = installed();
    assert_eq!(two.len(), 2, "{two:?}");
    assert!(two.iter().all(|id| three.contains(id)), "{two:?} of {three:?}");
    let mut expected: Vec<String> =
        two.iter().map(|id| format!("/fetchbench/fetchbench/agents/{id}")).collect();
    expected.sort();
    assert_eq!(parameters().await, expected, "the removed instance's parameter is deleted");
}

/// `--cache-engine valkey` reaches the template, the state and `status`; the sandbox records the
/// engine (its server is still redis-server: only a real account runs Valkey itself). The cost
/// is quoted with `--prices live` (the sandbox's Price List), kept for `status`, which another
/// `--prices` overrides.
#[tokio::test]
async fn provision_creates_the_cache_engine_asked_for() {
    let sb = Sandbox::new();
    let aws = AwsSandbox::start(&sb.path().join("aws"));
    let config = aws.sdk_config().await;
    let o = fetchbench(
        &sb,
        &aws,
        &[
            "provision",
            "--no-install",
            "--cache-engine",
            "valkey",
            "--allow-cidr",
            "127.0.0.1/32",
            "--prices",
            "live",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(
            "creating stack fetchbench in us-east-1: 1 x c7i.large agents, ElastiCache valkey cache.t4g.micro"
        ),
        "{text}"
    );
    assert!(text.contains("  cache:  ElastiCache valkey cache.t4g.micro at 127.0.0.1:"), "{text}");
    let state = read_json(&sb.path().join(".fetchbench/fetchbench/state.json"));
    assert_eq!(state["cache_engine"], "valkey", "{state}");
    assert_eq!(state["serverless"], false, "{state}");
    let cf = aws_sdk_cloudformation::Client::new(&config);
    let stacks = cf.describe_stacks().stack_name("fetchbench").send().await.expect("the stack");
    let parameter = |key: &str| {
        let stack = &stacks.stacks()[0];
        let found = stack.parameters().iter().find(|p| p.parameter_key() == Some(key));
        found.and_then(|p| p.parameter_value()).unwrap_or_default().to_owned()
    };
    assert_eq!(
        (parameter("CacheEngine"), parameter("CacheEngineVersion"), parameter("CacheServerless")),
        ("valkey".into(), "8.0".into(), "false".into())
    );
    // The Price List's Linux on-demand c7i.large (not its Windows or dedicated products) and its
    // Valkey node, with the KMS key and the address from the table.
    let listed =
        "1 x c7i.large $0.0892, 1 x public IPv4 $0.0050, 1 x cache.t4g.micro $0.0128, 1 x KMS key $0.0014";
    assert!(text.contains(&format!("  cost:   about $0.11 per hour ({listed})")), "{text}");
    let today = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10].to_owned();
    let live = format!("AWS Price List API (us-east-1, read {today})");
    assert!(text.contains(&format!("  prices: {live}")), "{text}");
    // Only the stack's own instance type and node are asked for, and the Price List has both.
    assert!(!stderr(&o).contains("has no us-east-1 price"), "{}", stderr(&o));
    let kept = std::fs::read_to_string(sb.path().join(".fetchbench/fetchbench/prices.toml")).expect("kept");
    assert!(kept.starts_with(&format!("# The prices stack fetchbench was priced with: {live}.")), "{kept}");
    assert!(kept.contains("AWS Price List API, AmazonEC2 us-east-1 c7i.large Linux on demand"), "{kept}");
    let o = fetchbench(&sb, &aws, &["status"]);
    let text = stdout(&o);
    assert!(text.contains("cache: ElastiCache valkey cache.t4g.micro at 127.0.0.1:"), "{text}");
    assert!(text.contains(&format!("(about $0.11 per hour); prices: {live}")), "{text}");
    // Another table for this status only: the agents at $1 an hour.
    let file = sb.write("mine.toml", "[ec2.instances]\n\"c7i.large\" = { usd = 1.0 }\n");
    let o = fetchbench(&sb, &aws, &["status", "--prices", file.to_str().expect("utf-8")]);
    let text = stdout(&o);
    assert!(
        text.contains(&format!("(about $1.02 per hour); prices: price file {}", file.display())),
        "{text}"
    );
    // ElastiCache's own view of the group the stack made.
    let group = state["outputs"]["CacheId"].as_str().expect("the replication group");
    let groups =
        aws_cli(&aws, &["elasticache", "describe-replication-groups", "--replication-group-id", group]);
    let described = &groups["ReplicationGroups"][0];
    assert_eq!(described["Engine"], "valkey", "{groups}");
    assert_eq!(described["CacheNodeType"], "cache.t4g.micro", "{groups}");
    let port = state["outputs"]["CachePort"].as_str().expect("port");
    assert_eq!(described["NodeGroups"][0]["PrimaryEndpoint"]["Port"].to_string(), port, "{groups}");

    // A re-run without the flag keeps the stack's engine.
    let o = fetchbench(&sb, &aws, &["provision", "--no-install", "--allow-cidr", "127.0.0.1/32"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("already matches"), "{}", stdout(&o));
    let state = read_json(&sb.path().join(".fetchbench/fetchbench/state.json"));
    assert_eq!(state["cache_engine"], "valkey", "{state}");

    let o = fetchbench(&sb, &aws, &["teardown", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(aws.recorded_pids().iter().all(|(_, pid)| !alive(*pid)), "the cache's redis-server stopped");
}

/// `--cache serverless`: the stack's ElastiCache Serverless cache is the sandbox's redis-server
/// serving TLS only, with a certificate from the sandbox's own authority, which the agents trust
/// through SSL_CERT_FILE. A run reads every object over rediss:// with no error, the server's own
/// counters agree, and teardown stops the server.
#[tokio::test]
async fn a_serverless_cache_is_reached_over_tls() {
    let sb = Sandbox::new();
    let aws = AwsSandbox::start(&sb.path().join("aws"));
    let agent = stripped_agent(sb.path());
    let o = fetchbench(
        &sb,
        &aws,
        &[
            "provision",
            "--cache",
            "serverless",
            "--allow-cidr",
            "127.0.0.1/32",
            "--agent-binary",
            agent.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("  cache:  ElastiCache Serverless redis at 127.0.0.1:"), "{text}");
    assert!(text.contains("(TLS)"), "{text}");
    assert!(!stderr(&o).contains("burstable"), "no node, no burstable node: {}", stderr(&o));
    let state = read_json(&sb.path().join(".fetchbench/fetchbench/state.json"));
    assert_eq!(state["serverless"], true, "{state}");
    assert_eq!(state["cache_node_type"], serde_json::Value::Null, "{state}");
    assert_eq!(state["outputs"]["CacheTls"], "true", "{state}");
    let port: u16 = state["outputs"]["CachePort"].as_str().expect("port").parse().expect("a port");
    // TLS only: a plain client gets no PONG.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the TLS port");
    plain.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    std::io::Write::write_all(&mut plain, b"PING\r\n").expect("write");
    let mut reply = [0u8; 16];
    let n = std::io::Read::read(&mut plain, &mut reply).unwrap_or(0);
    assert!(!reply[..n].starts_with(b"+PONG"), "a plain PING was answered");
    let cache_pids: Vec<u32> = aws
        .recorded_pids()
        .into_iter()
        .filter(|(owner, _)| owner == "fetchbench-cache")
        .map(|(_, pid)| pid)
        .collect();
    assert_eq!(cache_pids.len(), 1, "{:?}", aws.recorded_pids());

    let o = fetchbench(&sb, &aws, &["status"]);
    assert!(stdout(&o).contains("cache: ElastiCache Serverless redis at 127.0.0.1:"), "{}", stdout(&o));
    assert!(stdout(&o).contains("plus the serverless cache's ECPUs and GB-hours"), "{}", stdout(&o));
    // ElastiCache's own view: the cache the template described, at the endpoint the stack gave.
    let caches = aws_cli(&aws, &["elasticache", "describe-serverless-caches"]);
    let described = &caches["ServerlessCaches"][0];
    assert_eq!(described["ServerlessCacheName"], "fetchbench-cache", "{caches}");
    assert_eq!(
        (&described["Status"], &described["Engine"], &described["MajorEngineVersion"]),
        (&"available".into(), &"redis".into(), &"7".into()),
        "{caches}"
    );
    assert_eq!(described["Endpoint"]["Port"], port, "{caches}");
    assert!(stdout(&o).contains("(TLS)"), "{}", stdout(&o));

    let scenario = sb.path().join("tls.toml");
    std::fs::write(
        &scenario,
        "name = \"tls\"\n[dataset]\nobjects = 50\nsize = 300\nseed = 1\n\
         [[workload]]\nname = \"get\"\ntarget = \"redis\"\nkeys = \"sequential\"\nrequests = 50\n",
    )
    .expect("write the scenario");
    let o = fetchbench(&sb, &aws, &["run", scenario.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (_, result) = result_of(&sb, &o);
    assert_eq!(result["targets"]["redis"], format!("rediss://127.0.0.1:{port}"));
    assert_eq!(result["targets"]["redis_target"]["tls"], true, "{}", result["targets"]);
    let workload = &result["workloads"][0];
    assert_eq!(workload["ops"], 50, "{workload}");
    assert_eq!(workload["errors"], 0, "{workload}");
    let server_gets = workload["server"]["gets"].as_u64().expect("the server's GETs");
    assert!(server_gets >= 50, "{}", workload["server"]);

    let o = fetchbench(&sb, &aws, &["teardown", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(cache_pids.iter().all(|pid| !alive(*pid)), "the TLS redis-server stopped");
    let caches = aws_cli(&aws, &["elasticache", "describe-serverless-caches"]);
    assert_eq!(caches["ServerlessCaches"], serde_json::json!([]), "{caches}");
    let left = sb.leftover_processes();
    assert!(left.is_empty(), "processes left running: {left:?}");
}

/// A re-run of `provision` with the other kind replaces the cache, as CloudFormation does when a
/// resource's condition turns: the node's redis-server stops, the serverless one serves TLS.
#[tokio::test]
async fn provision_again_with_the_other_kind_replaces_the_cache() {
    let sb = Sandbox::new();
    let aws = AwsSandbox::start(&sb.path().join("aws"));
    let provision = |extra: &[&str]| {
        let args = [&["provision", "--no-install", "--allow-cidr", "127.0.0.1/32"][..], extra].concat();
        fetchbench(&sb, &aws, &args)
    };
    let o = provision(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before = aws.recorded_pids();
    assert_eq!(before.len(), 1, "the node's redis-server: {before:?}");
    let o = provision(&["--cache", "serverless"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A re-run without --cache keeps the serverless cache, and warns of no burstable node.
    let o = provision(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("already matches"), "{}", stdout(&o));
    assert!(!stderr(&o).contains("burstable"), "{}", stderr(&o));
    let state = read_json(&sb.path().join(".fetchbench/fetchbench/state.json"));
    assert_eq!(
        (&state["serverless"], &state["outputs"]["CacheTls"]),
        (&true.into(), &"true".into()),
        "{state}"
    );
    assert!(state["outputs"].get("CacheId").is_none(), "no replication group: {state}");
    assert!(!alive(before[0].1), "the node's redis-server stopped");
    let after: Vec<_> = aws.recorded_pids().into_iter().filter(|(_, pid)| alive(*pid)).collect();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].0, "fetchbench-cache", "{after:?}");

    // And back: a node again, the serverless cache gone.
    let o = provision(&["--cache", "nodes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let state = read_json(&sb.path().join(".fetchbench/fetchbench/state.json"));
    assert_eq!(
        (&state["serverless"], &state["outputs"]["CacheTls"]),
        (&false.into(), &"false".into()),
        "{state}"
    );
    assert!(state["outputs"]["CacheId"].is_string(), "a replication group again: {state}");
    assert!(!alive(after[0].1), "the serverless cache's redis-server stopped");
    let nodes: Vec<_> = aws.recorded_pids().into_iter().filter(|(_, pid)| alive(*pid)).collect();
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    let o = fetchbench(&sb, &aws, &["teardown", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!alive(nodes[0].1), "the node's redis-server stopped");
}

/// `provision --s3-express`: the agents' zone is one with S3 Express (moto's us-east-1 zones
/// use1-az4, -az5 and -az6), the stack adds a directory bucket named by that zone's ID, and an
/// `s3-express` workload on the fleet reads it through CreateSession sessions; then
/// scenarios/alternatives.toml ends with a verdict on every store the fleet has.
#[tokio::test]
async fn provision_s3_express_adds_a_directory_bucket_that_s3_express_workloads_read() {
    let sb = Sandbox::new();
    let aws = AwsSandbox::start(&sb.path().join("aws"));
    let agent = stripped_agent(sb.path());
    let agent = agent.to_str().expect("utf-8 path");
    let o = fetchbench(
        &sb,
        &aws,
        &[
            "provision",
            "--agents",
            "1",
            "--allow-cidr",
            "127.0.0.1/32",
            "--s3-express",
            "--agent-binary",
            agent,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let state = read_json(&sb.path().join(".fetchbench/fetchbench/state.json"));
    let bucket = state["outputs"]["ExpressBucketName"].as_str().expect("a directory bucket").to_owned();
    let zone = state["outputs"]["AvailabilityZone"].as_str().expect("the agents' zone");
    let zone_id = match zone {
        "us-east-1d" => "use1-az4",
        "us-east-1f" => "use1-az5",
        "us-east-1a" => "use1-az6",
        other => panic!("the agents' zone {other} has no S3 Express"),
    };
    assert!(bucket.ends_with(&format!("--{zone_id}--x-s3")), "{bucket} is not in {zone_id}");

    let scenario = sb.write(
        "express.toml",
        "name = \"express\"\n[dataset]\nobjects = 40\nsize = { min = 100, max = 300 }\n\
         [[workload]]\nname = \"dir\"\ntarget = \"s3-express\"\nrequests = 40\nkeys = \"sequential\"\nverify = true\n",
    );
    let o = fetchbench(&sb, &aws, &["run", scenario.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (_, result) = result_of(&sb, &o);
    let w = &result["workloads"][0];
    assert_eq!(w["target"], "s3-express", "{w}");
    assert_eq!(w["ops"], 40, "every object read once: {w}");
    assert_eq!(w["errors"], 0, "{w}");
    assert_eq!(result["targets"]["s3_express_bucket"], bucket.as_str());
    // Session auth ran against the sandbox: the agent asked for a session of that bucket.
    let sessions =
        std::fs::read_to_string(aws.dir.join("s3express-sessions.log")).expect("CreateSession log");
    assert!(sessions.contains(&format!("CreateSession {bucket} 1")), "{sessions}");
    // Without a session the sandbox refuses the directory bucket's objects, as AWS does.
    let config = aws.sdk_config().await;
    let sessionless = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config).disable_s3_express_session_auth(true).build(),
    );
    let refused = sessionless.get_object().bucket(&bucket).key("filename0.txt").send().await;
    let status = refused.expect_err("a read without a session").raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(403));

    // The README's alternatives scenario on this fleet: every store it has, judged against the
    // goal and priced as the stack's own cache, in the summary and result.json.
    let alternatives = workspace().join("scenarios/alternatives.toml");
    let o = fetchbench(&sb, &aws, &["run", alternatives.to_str().expect("utf-8 path"), "--duration", "2s"]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let (_, result) = result_of(&sb, &o);
    let verdict = &result["verdict"];
    let judged: Vec<&str> = verdict["alternatives"]
        .as_array()
        .expect("alternatives")
        .iter()
        .filter_map(|a| a["alternative"].as_str())
        .collect();
    assert_eq!(judged, ["s3", "s3-express", "cache-aside", "redis"], "{verdict}");
    assert_eq!(verdict_alternative(verdict, "redis")["store"], "ElastiCache Redis OSS, 1 x cache.t4g.micro");
    assert_eq!(verdict_alternative(verdict, "s3-express")["store"], "S3 Express One Zone");
    // S3 Standard at the goal's 400 reads/s: 400 * 3,600 * 730 GETs at $0.0004 per 1,000.
    let s3 = verdict_alternative(verdict, "s3")["usd_per_month"].as_f64().expect("priced");
    assert!((s3 - 420.48).abs() < 1e-6, "{s3}");
    let printed = stdout(&o);
    assert!(printed.contains("verdict: 400 reads/s with p99 at most 20 ms"), "{printed}");
    assert!(
        printed.contains("cheapest that met the goal:")
            || printed.contains("no alternative measured met the goal"),
        "{printed}"
    );

    let o = fetchbench(&sb, &aws, &["teardown", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The alternatives' 200 objects replaced the first run's 40.
    let emptied = format!("emptied directory bucket {bucket}: 200 objects deleted");
    assert!(stdout(&o).contains(&emptied), "{}", stdout(&o));
}

/// `run --local --s3-express-bucket`: the user's own directory bucket, reached through the AWS
/// configuration of the environment (here the sandbox's), is created in the zone its name gives,
/// seeded and read with session auth, while plain `s3` workloads keep the embedded endpoint.
#[tokio::test]
async fn a_local_run_seeds_and_reads_the_users_own_directory_bucket() {
    let sb = Sandbox::new();
    let aws = AwsSandbox::start(&sb.path().join("aws"));
    let bucket = "mine--use1-az4--x-s3";
    let scenario = sb.write(
        "mine.toml",
        "name = \"mine\"\n[dataset]\nobjects = 30\nsize = { min = 100, max = 300 }\n\
         [[workload]]\nname = \"dir\"\ntarget = \"s3-express\"\nrequests = 30\nkeys = \"sequential\"\nverify = true\n\
         [[workload]]\nname = \"gp\"\ntarget = \"s3\"\nrequests = 30\nkeys = \"sequential\"\n",
    );
    let o = fetchbench(
        &sb,
        &aws,
        &["run", "--local", scenario.to_str().expect("utf-8 path"), "--s3-express-bucket", bucket],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let banner = format!("s3-express: directory bucket {bucket} on AWS S3 Express One Zone");
    assert!(stdout(&o).contains(&banner), "{}", stdout(&o));
    let (_, result) = result_of(&sb, &o);
    let targets = &result["targets"];
    assert_eq!(targets["s3_express_bucket"], bucket, "{targets}");
    assert!(targets["s3_express_endpoint"].is_null(), "the user's bucket is on AWS: {targets}");
    // The plain s3 workload still read the embedded endpoint's bucket.
    assert_eq!(targets["s3_source"], "embedded", "{targets}");
    for (name, target) in [("dir", "s3-express"), ("gp", "s3")] {
        let w = result["workloads"].as_array().expect("workloads").iter().find(|w| w["name"] == name);
        let w = w.unwrap_or_else(|| panic!("workload {name} in {result}"));
        assert_eq!(w["target"], target, "{w}");
        assert_eq!(w["ops"], 30, "every object read once: {w}");
        assert_eq!(w["errors"], 0, "{w}");
    }
    // The agent asked the sandbox for a session of the user's bucket (before this test lists it).
    let sessions =
        std::fs::read_to_string(aws.dir.join("s3express-sessions.log")).expect("CreateSession log");
    assert!(sessions.contains(&format!("CreateSession {bucket} ")), "{sessions}");

    // Seeding created the bucket and wrote the dataset into it.
    let config = aws.sdk_config().await;
    let s3 = aws_sdk_s3::Client::new(&config);
    let listed = s3.list_objects_v2().bucket(bucket).send().await.expect("the bucket lists");
    let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort_unstable();
    let mut wanted: Vec<String> = (0..30).map(|i| format!("filename{i}.txt")).collect();
    wanted.sort_unstable();
    assert_eq!(keys, wanted);
    // Created as AWS takes a directory bucket only: the sandbox refuses one without the zone and
    // type, so the agent's CreateBucket named both.
    let sessionless = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config).disable_s3_express_session_auth(true).build(),
    );
    let refused = sessionless.create_bucket().bucket("other--use1-az4--x-s3").send().await;
    let status = refused.expect_err("no configuration").raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(400));
}
