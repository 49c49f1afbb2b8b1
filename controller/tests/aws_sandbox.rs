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

use common::{Sandbox, read_json, stderr, stdout};
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
    let folder = stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("result: ").map(str::to_owned))
        .expect("a result line");
    let result = read_json(&sb.path().join(folder));
    assert_eq!(result["fleet"], "aws");
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
    assert!(stderr(&o).contains(victim_address), "names the agent: {}", stderr(&o));

    // teardown: the dataset and the binary emptied from the bucket, nothing left running.
    let o = fetchbench(&sb, &aws, &["teardown", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
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
