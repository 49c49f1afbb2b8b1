//! The AWS lifecycle through the real `fetchbench` binary against a real moto server on
//! 127.0.0.1: provision -> install -> status -> teardown -> teardown, checking after each step
//! what moto holds. moto runs no SSM command and has no ElastiCache (see the README's testing
//! section), so the stack uses an existing cache and the agents report no address: install and
//! status end with exit 3 ("installed, but not reachable over gRPC"), which is what they would
//! say on AWS for agents they cannot reach.

mod common;
mod moto;

use std::os::unix::fs::PermissionsExt;

use common::{Sandbox, stderr, stdout};
use fetchbench::fleet::local::{default_agent_binary, fleet_agent_binary};
use fetchbench::stack::install::{INSTALL_SCRIPT, parameter_prefix, sha256_file};
use moto::{Moto, aws_env, sdk_config, spawn_moto};

const STACK: &str = "fbtest";

fn fetchbench(sb: &Sandbox, moto: &Moto, args: &[&str]) -> std::process::Output {
    let mut cmd = sb.fetchbench();
    cmd.envs(aws_env(moto)).args(args).stdin(std::process::Stdio::null());
    let out = cmd.output().expect("fetchbench runs");
    eprintln!("$ fetchbench {}\n{}{}", args.join(" "), stdout(&out), stderr(&out));
    out
}

#[tokio::test]
async fn provision_install_status_teardown_teardown() {
    let moto = spawn_moto();
    let sb = Sandbox::new();
    let config = sdk_config(&moto).await;
    let cf = aws_sdk_cloudformation::Client::new(&config);
    let s3 = aws_sdk_s3::Client::new(&config);
    let ssm = aws_sdk_ssm::Client::new(&config);
    let asg = aws_sdk_autoscaling::Client::new(&config);
    let state_dir = sb.path().join(".fetchbench").join(STACK);

    // provision: the stack from infra/fetchbench.yaml with the requested parameters.
    let o = fetchbench(
        &sb,
        &moto,
        &[
            "provision",
            "--stack-name",
            STACK,
            "--agents",
            "2",
            "--instance-type",
            "c7i.large",
            "--allow-cidr",
            "127.0.0.1/32",
            "--existing-cache",
            "10.0.0.9:6380",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "agents installed but unreachable");
    let text = stdout(&o);
    assert!(text.contains("stack fbtest: CREATE_COMPLETE in us-east-1"), "{text}");
    assert!(text.contains("about $0.19 per hour"), "{text}");
    assert!(text.contains("reported no public address"), "{text}");

    let stack = cf.describe_stacks().stack_name(STACK).send().await.expect("stack").stacks.unwrap().remove(0);
    assert_eq!(stack.stack_status().unwrap().as_str(), "CREATE_COMPLETE");
    let params: std::collections::HashMap<_, _> = stack
        .parameters()
        .iter()
        .map(|p| (p.parameter_key().unwrap().to_owned(), p.parameter_value().unwrap_or_default().to_owned()))
        .collect();
    for (k, v) in [
        ("AgentCount", "2"),
        ("InstanceType", "c7i.large"),
        ("AllowCidr", "127.0.0.1/32"),
        ("CreateCache", "false"),
        ("ExistingCacheAddress", "10.0.0.9"),
        ("ExistingCachePort", "6380"),
    ] {
        assert_eq!(params.get(k).map(String::as_str), Some(v), "parameter {k}");
    }
    let tags: Vec<_> = stack.tags().iter().map(|t| t.key().unwrap_or_default().to_owned()).collect();
    assert!(
        tags.contains(&"fetchbench:stack".to_owned()) && tags.contains(&"fetchbench:expires-at".to_owned())
    );
    let template = cf.get_template().stack_name(STACK).send().await.expect("template").template_body.unwrap();
    assert_eq!(template, include_str!("../../infra/fetchbench.yaml"));

    // Local state, keys readable by the owner only.
    let mode = |p: &str| std::fs::metadata(state_dir.join(p)).expect(p).permissions().mode() & 0o777;
    assert_eq!(mode(""), 0o700);
    assert_eq!(mode("ca.key"), 0o600);
    assert_eq!(mode("client.key"), 0o600);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state_dir.join("state.json")).expect("state"))
            .expect("json");
    let bucket = state["outputs"]["BucketName"].as_str().expect("bucket").to_owned();
    let kms_key = state["outputs"]["ParameterKeyArn"].as_str().expect("the parameters' KMS key");
    assert!(kms_key.starts_with("arn:aws:kms:us-east-1:123456789012:key/"), "{kms_key}");

    // The agent binary in the bucket under its SHA-256.
    // The default: scripts/build-agent's x86_64 agent when built, else the one beside fetchbench.
    let agent = fleet_agent_binary("x86_64");
    let sha = sha256_file(&agent).expect("agent binary");
    let key = format!("agents/fetchbench-agent-{sha}");
    let object = s3.get_object().bucket(&bucket).key(&key).send().await.expect("binary uploaded");
    let body = object.body.collect().await.expect("body").into_bytes();
    assert_eq!(body.len() as u64, std::fs::metadata(&agent).unwrap().len());

    // An AWS-RunShellScript command for exactly the agent instances, carrying the script.
    let group = state["outputs"]["AgentGroupName"].as_str().expect("group");
    let groups =
        asg.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.expect("asg");
    let mut instances: Vec<String> = groups.auto_scaling_groups()[0]
        .instances()
        .iter()
        .map(|i| i.instance_id().unwrap().to_owned())
        .collect();
    instances.sort();
    assert_eq!(instances.len(), 2);
    let commands = ssm.list_commands().send().await.expect("commands").commands.unwrap_or_default();
    assert_eq!(commands.len(), 1);
    let command = &commands[0];
    assert_eq!(command.document_name(), Some("AWS-RunShellScript"));
    let mut targets = command.instance_ids().to_vec();
    targets.sort();
    assert_eq!(targets, instances);
    let text = &command.parameters().unwrap()["commands"][0];
    assert!(text.contains(INSTALL_SCRIPT), "the command carries infra/agent-install.sh");
    assert!(text.contains(&sha));
    assert!(
        !text.contains("BEGIN PRIVATE KEY") && !text.contains("X-Amz-Signature"),
        "no secret in the command"
    );

    // Each instance's TLS identity: a SecureString tagged with that instance's ARN only.
    for id in &instances {
        let name = format!("{}/{id}", parameter_prefix(STACK));
        let p = ssm.get_parameter().name(&name).with_decryption(true).send().await.expect("parameter");
        let p = p.parameter.unwrap();
        assert_eq!(p.r#type().unwrap().as_str(), "SecureString");
        assert!(p.value().unwrap().contains("BEGIN PRIVATE KEY"));
        // Not a line of the identity the parameter holds is in the command, headers or not.
        for line in p.value().unwrap().lines().filter(|l| l.len() >= 40) {
            assert!(!text.contains(line), "the command carries a line of {id}'s identity: {line}");
        }
        let tags = ssm
            .list_tags_for_resource()
            .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
            .resource_id(&name)
            .send()
            .await
            .expect("tags");
        let arn = tags.tag_list().iter().find(|t| t.key() == "fetchbench:instance-arn").expect("arn tag");
        assert_eq!(arn.value(), format!("arn:aws:ec2:us-east-1:123456789012:instance/{id}"));
        // Encrypted with the stack's own KMS key, not the account's aws/ssm key.
        let described = ssm
            .describe_parameters()
            .parameter_filters(
                aws_sdk_ssm::types::ParameterStringFilter::builder()
                    .key("Name")
                    .values(&name)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("describe parameters");
        assert_eq!(described.parameters()[0].key_id(), Some(kms_key), "{name}");
    }

    // install again: the binary is already there, a second command goes out.
    let o = fetchbench(&sb, &moto, &["install", "--stack-name", STACK]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains(&format!("agent binary sha256 {sha} already in")), "{}", stdout(&o));
    assert_eq!(ssm.list_commands().send().await.expect("commands").commands.unwrap_or_default().len(), 2);

    // status: the stack, each agent, the cost so far.
    let o = fetchbench(&sb, &moto, &["status", "--stack-name", STACK]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "agents unreachable: degraded");
    assert!(text.contains("stack fbtest in us-east-1: CREATE_COMPLETE"), "{text}");
    assert!(text.contains("cost so far: about $"), "{text}");
    for id in &instances {
        assert!(text.contains(&format!("{id}  InService/Healthy")), "{text}");
    }

    // run reads the fleet from the stack: with agents that reported no address it refuses.
    let o = fetchbench(&sb, &moto, &["run", "--stack-name", STACK]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("reported no public address; run `fetchbench install`"), "{}", stderr(&o));

    // teardown: no stack, no bucket, no parameters, no local state.
    let o = fetchbench(&sb, &moto, &["teardown", "--stack-name", STACK]);
    assert_eq!(o.status.code(), Some(2), "without a terminal, --yes is required");
    assert!(stderr(&o).contains("--yes is required"));
    let o = fetchbench(&sb, &moto, &["teardown", "--yes", "--stack-name", STACK]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let gone = cf.describe_stacks().stack_name(STACK).send().await;
    assert!(gone.is_err_and(|e| format!("{:?}", e).contains("does not exist")), "the stack is gone");
    let buckets = s3.list_buckets().send().await.expect("buckets");
    assert!(buckets.buckets().iter().all(|b| b.name() != Some(bucket.as_str())), "the bucket is gone");
    let left = ssm.get_parameters_by_path().path("/fetchbench").recursive(true).send().await.expect("params");
    assert!(left.parameters().is_empty(), "no TLS parameter left");
    assert!(!state_dir.exists(), "local state removed");

    // A second teardown has nothing to delete.
    let o = fetchbench(&sb, &moto, &["teardown", "--yes", "--stack-name", STACK]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("nothing to delete"), "{}", stdout(&o));
}

#[tokio::test]
async fn provision_refuses_an_agent_binary_for_another_architecture() {
    let moto = spawn_moto();
    let sb = Sandbox::new();
    // The host's x86_64 agent, named explicitly: an aarch64 build from scripts/build-agent would
    // be the default for c7g.
    let host_agent = default_agent_binary();
    let o = fetchbench(
        &sb,
        &moto,
        &[
            "provision",
            "--stack-name",
            STACK,
            "--instance-type",
            "c7g.large",
            "--allow-cidr",
            "127.0.0.1/32",
            "--agent-binary",
            host_agent.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("is built for x86_64 but the agents' instance type is aarch64"), "{err}");
    assert!(err.contains("`scripts/build-agent --arch aarch64`"), "{err}");
    let cf = aws_sdk_cloudformation::Client::new(&sdk_config(&moto).await);
    assert!(cf.describe_stacks().stack_name(STACK).send().await.is_err(), "nothing was created");
}

#[tokio::test]
async fn provision_without_allow_cidr_and_no_terminal_exits_2() {
    let moto = spawn_moto();
    let sb = Sandbox::new();
    let o = fetchbench(&sb, &moto, &["provision", "--stack-name", STACK]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--allow-cidr is required"), "{}", stderr(&o));
}

/// infra/fetchbench.yaml as JSON, read by cfn-lint's own YAML loader (it knows `!Sub` and
/// friends) from the test virtualenv.
fn template() -> serde_json::Value {
    let path = moto::workspace().join("infra/fetchbench.yaml");
    let out = std::process::Command::new(moto::venv_tool("python"))
        .args([
            "-c",
            "import json, sys\nfrom cfnlint.decode import cfn_yaml\nprint(json.dumps(cfn_yaml.load(sys.argv[1])))",
        ])
        .arg(&path)
        .output()
        .expect("python runs; run `scripts/setup test`");
    assert!(out.status.success(), "cannot read the template: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("the template as JSON")
}

/// The statement `sid` of the agents' inline policy.
fn agent_statement<'a>(template: &'a serde_json::Value, sid: &str) -> &'a serde_json::Value {
    template["Resources"]["AgentRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid} in the agents' policy"))
}

/// What the README promises of the agents' role and the parameters' key (IAM and KMS policies
/// are not enforced by moto: what they say is checked here, what AWS does with them only on a
/// real account).
#[test]
fn the_template_keeps_each_agent_to_its_own_key_and_the_dataset() {
    let t = template();
    let parameters = serde_json::json!([
        { "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/fetchbench/${AWS::StackName}" },
        { "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/fetchbench/${AWS::StackName}/*" },
    ]);

    // An explicit Deny of every parameter read on the stack's path unless the parameter is tagged
    // with the caller's own instance: AmazonSSMManagedInstanceCore's allow cannot undo it.
    let deny = agent_statement(&t, "NoOtherTlsKey");
    assert_eq!(deny["Effect"], "Deny");
    let mut actions: Vec<&str> =
        deny["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    actions.sort();
    assert_eq!(
        actions,
        ["ssm:GetParameter", "ssm:GetParameterHistory", "ssm:GetParameters", "ssm:GetParametersByPath"]
    );
    assert_eq!(deny["Resource"], parameters);
    assert_eq!(
        deny["Condition"],
        serde_json::json!({ "StringNotEquals": { "ssm:resourceTag/fetchbench:instance-arn": "${ec2:SourceInstanceARN}" } })
    );
    // (install tags each parameter so: provision_install_status_teardown_teardown checks it.)

    // The stack's own KMS key: the account administers it, the agents may only decrypt, via SSM.
    let key = &t["Resources"]["ParameterKey"];
    assert_eq!(key["Type"], "AWS::KMS::Key");
    assert_eq!(key["Properties"]["PendingWindowInDays"], 7);
    let statements = key["Properties"]["KeyPolicy"]["Statement"].as_array().expect("key policy");
    assert_eq!(statements.len(), 2, "{statements:?}");
    let root = statements.iter().find(|s| s["Sid"] == "AccountAdministers").expect("administration");
    assert_eq!(
        root["Principal"]["AWS"],
        serde_json::json!({ "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" })
    );
    let agents = statements.iter().find(|s| s["Sid"] == "AgentsDecryptThroughSsm").expect("the agents");
    assert_eq!(agents["Effect"], "Allow");
    assert_eq!(agents["Principal"]["AWS"], serde_json::json!({ "Fn::GetAtt": ["AgentRole", "Arn"] }));
    assert_eq!(agents["Action"], "kms:Decrypt");
    assert_eq!(
        agents["Condition"]["StringEquals"]["kms:ViaService"],
        serde_json::json!({ "Fn::Sub": "ssm.${AWS::Region}.amazonaws.com" })
    );
    let alias = &t["Resources"]["ParameterKeyAlias"]["Properties"];
    assert_eq!(alias["AliasName"], serde_json::json!({ "Fn::Sub": "alias/fetchbench/${AWS::StackName}" }));
    assert_eq!(alias["TargetKeyId"], serde_json::json!({ "Ref": "ParameterKey" }));
    assert_eq!(
        t["Outputs"]["ParameterKeyArn"]["Value"],
        serde_json::json!({ "Fn::GetAtt": ["ParameterKey", "Arn"] })
    );

    // The agents write the dataset's objects only, never the agent binary under agents/.
    let writes: Vec<&serde_json::Value> =
        t["Resources"]["AgentRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                let action = s["Action"].to_string();
                s["Effect"] == "Allow"
                    && (action.contains("s3:Put") || action.contains("s3:Delete") || action.contains("s3:*"))
            })
            .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0]["Action"], "s3:PutObject");
    assert_eq!(writes[0]["Resource"], serde_json::json!({ "Fn::Sub": "${Bucket.Arn}/filename*.txt" }));
    assert_eq!(fetchbench_proto::dataset::Generator::s3_key(3), "filename3.txt", "the keys the agents write");

    // cfn-lint still finds nothing.
    let lint = std::process::Command::new(moto::venv_tool("cfn-lint"))
        .arg(moto::workspace().join("infra/fetchbench.yaml"))
        .output()
        .expect("cfn-lint runs; run `scripts/setup test`");
    assert!(lint.status.success(), "cfn-lint: {}{}", stdout(&lint), stderr(&lint));
}

/// The stack's ExpiresAt as CloudFormation holds it.
async fn expires_at(cf: &aws_sdk_cloudformation::Client) -> String {
    let stack = cf.describe_stacks().stack_name(STACK).send().await.expect("stack").stacks.unwrap().remove(0);
    let p = stack.parameters().iter().find(|p| p.parameter_key() == Some("ExpiresAt")).expect("ExpiresAt");
    p.parameter_value().unwrap().to_owned()
}

/// fetchbench:expires-at acts (a scheduled action scales the agents to 0), `status` and `run`
/// warn once it has passed, a re-run with nothing to change leaves the stack (and its time)
/// alone, and `--expires-in` renews it and brings the agents back.
#[tokio::test]
async fn expiry_scales_to_0_warns_is_kept_by_a_rerun_and_renewed_by_expires_in() {
    let moto = spawn_moto();
    let sb = Sandbox::new();
    let config = sdk_config(&moto).await;
    let cf = aws_sdk_cloudformation::Client::new(&config);
    let asg = aws_sdk_autoscaling::Client::new(&config);
    let provision = |extra: &[&str]| {
        let mut args = vec![
            "provision",
            "--stack-name",
            STACK,
            "--agents",
            "2",
            "--allow-cidr",
            "127.0.0.1/32",
            "--existing-cache",
            "10.0.0.9:6380",
            "--no-install",
        ];
        args.extend_from_slice(extra);
        fetchbench(&sb, &moto, &args)
    };

    // A stack that expires at once (moto builds it within the timeout, which --expires-in must
    // exceed).
    let o = provision(&["--expires-in", "4s", "--timeout", "3s"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("expired"), "not yet: {}", stderr(&o));
    let expired_at = expires_at(&cf).await;
    let expiry = humantime::parse_rfc3339(&expired_at).expect("a time");
    while std::time::SystemTime::now() <= expiry {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sb.path().join(".fetchbench").join(STACK).join("state.json"))
            .expect("state"),
    )
    .expect("json");
    let group = state["outputs"]["AgentGroupName"].as_str().expect("group").to_owned();

    // The scheduled action: the whole group to 0 at ExpiresAt.
    let actions =
        asg.describe_scheduled_actions().auto_scaling_group_name(&group).send().await.expect("actions");
    let actions = actions.scheduled_update_group_actions();
    assert_eq!(actions.len(), 1, "{actions:?}");
    let action = &actions[0];
    assert_eq!(
        (action.min_size(), action.max_size(), action.desired_capacity()),
        (Some(0), Some(0), Some(0))
    );
    let start = action.start_time().expect("a start time");
    assert_eq!(
        start.secs(),
        humantime::parse_rfc3339(&expired_at)
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    );

    // Auto Scaling runs the action (moto does not run it: the test does what it does).
    asg.update_auto_scaling_group()
        .auto_scaling_group_name(&group)
        .min_size(0)
        .max_size(0)
        .desired_capacity(0)
        .send()
        .await
        .expect("scale to 0");
    let warning = format!(
        "stack {STACK} expired at {expired_at}: its agents were scaled to 0; \
         `fetchbench provision --expires-in 4h` renews it, `fetchbench teardown` deletes it"
    );
    let o = fetchbench(&sb, &moto, &["status", "--stack-name", STACK]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(stdout(&o).matches(&warning).count(), 1, "{}", stdout(&o));
    let o = fetchbench(&sb, &moto, &["run", "--stack-name", STACK]);
    assert_eq!(stderr(&o).matches(&warning).count(), 1, "{}", stderr(&o));

    // A re-run with nothing to change: no update, the time kept.
    let o = provision(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("stack fbtest in us-east-1 already matches; nothing to update"),
        "{}",
        stdout(&o)
    );
    let stack = cf.describe_stacks().stack_name(STACK).send().await.expect("stack").stacks.unwrap().remove(0);
    assert_eq!(stack.stack_status().unwrap().as_str(), "CREATE_COMPLETE", "the stack was not rewritten");
    assert_eq!(expires_at(&cf).await, expired_at);

    // --expires-in renews it: a new time, and the agents back.
    let before = std::time::SystemTime::now();
    let o = provision(&["--expires-in", "4h"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .contains(&format!("the stack had expired at {expired_at}: its agents are scaled back to 2")),
        "{}",
        stdout(&o)
    );
    let renewed = humantime::parse_rfc3339(&expires_at(&cf).await).expect("a time");
    let four_hours = renewed.duration_since(before).expect("in the future").as_secs();
    assert!((4 * 3600 - 1..=4 * 3600 + 60).contains(&four_hours), "{four_hours} s");
    let groups =
        asg.describe_auto_scaling_groups().auto_scaling_group_names(&group).send().await.expect("asg");
    let g = &groups.auto_scaling_groups()[0];
    assert_eq!((g.min_size(), g.max_size(), g.desired_capacity()), (Some(2), Some(2), Some(2)));
    let o = fetchbench(&sb, &moto, &["status", "--stack-name", STACK]);
    assert!(!stdout(&o).contains("expired"), "{}", stdout(&o));
}

/// The agents' group starts once its subnet routes to the internet (the default route and the
/// subnet's association with its table), and its expiry is a scheduled action to 0 that exists
/// only when a time is set.
#[test]
fn the_agents_wait_for_their_subnets_route_and_expire_at_expires_at() {
    let t = template();
    let agents = &t["Resources"]["Agents"];
    let mut depends: Vec<&str> =
        agents["DependsOn"].as_array().expect("a list").iter().map(|d| d.as_str().unwrap()).collect();
    depends.sort();
    assert_eq!(depends, ["DefaultRoute", "SubnetARoutes"]);
    assert_eq!(
        t["Resources"]["SubnetARoutes"]["Properties"]["SubnetId"],
        serde_json::json!({ "Ref": "SubnetA" })
    );
    assert_eq!(agents["Properties"]["VPCZoneIdentifier"], serde_json::json!([{ "Ref": "SubnetA" }]));

    let expiry = &t["Resources"]["Expiry"];
    assert_eq!(expiry["Type"], "AWS::AutoScaling::ScheduledAction");
    assert_eq!(expiry["Condition"], "Expires");
    assert_eq!(
        t["Conditions"]["Expires"],
        serde_json::json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": "ExpiresAt" }, "unset"] }] })
    );
    let p = &expiry["Properties"];
    assert_eq!(p["AutoScalingGroupName"], serde_json::json!({ "Ref": "Agents" }));
    assert_eq!(p["StartTime"], serde_json::json!({ "Ref": "ExpiresAt" }));
    assert_eq!((&p["MinSize"], &p["MaxSize"], &p["DesiredCapacity"]), (&0.into(), &0.into(), &0.into()));
    // The time as Auto Scaling wants a start time: UTC, to the second, with a Z.
    let pattern = t["Parameters"]["ExpiresAt"]["AllowedPattern"].as_str().expect("a pattern");
    assert_eq!(pattern, r"^(unset|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$");
}

/// The agents go to a zone that offers their type (DescribeInstanceTypeOfferings), not to the
/// region's first zone; a type no zone offers is refused before anything is made.
#[tokio::test]
async fn the_agents_zone_offers_their_instance_type() {
    let moto = spawn_moto();
    let sb = Sandbox::new();
    let config = sdk_config(&moto).await;
    let cf = aws_sdk_cloudformation::Client::new(&config);
    let provision = |instance_type: &str| {
        let args = [
            "provision",
            "--stack-name",
            STACK,
            "--instance-type",
            instance_type,
            "--allow-cidr",
            "127.0.0.1/32",
            "--existing-cache",
            "10.0.0.9:6380",
            "--no-install",
        ];
        fetchbench(&sb, &moto, &args)
    };

    // No zone of us-east-1 offers it: exit 2, nothing made.
    let o = provision("c7i.nonesuch");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("instance type c7i.nonesuch: no availability zone of us-east-1 offers it"),
        "{}",
        stderr(&o)
    );
    assert!(cf.describe_stacks().stack_name(STACK).send().await.is_err(), "nothing was created");

    // moto offers trn1.2xlarge in us-east-1c and us-east-1f only (as AWS does in some regions).
    let o = provision("trn1.2xlarge");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("1 x trn1.2xlarge (x86_64) in us-east-1c"), "{}", stdout(&o));
    let stack = cf.describe_stacks().stack_name(STACK).send().await.expect("stack").stacks.unwrap().remove(0);
    let zone = stack.parameters().iter().find(|p| p.parameter_key() == Some("AvailabilityZone"));
    assert_eq!(zone.and_then(|p| p.parameter_value()), Some("us-east-1c"));
    let asg = aws_sdk_autoscaling::Client::new(&config);
    let groups = asg.describe_auto_scaling_groups().send().await.expect("groups");
    let instances = groups.auto_scaling_groups()[0].instances();
    assert_eq!(instances.len(), 1);
    assert!(instances.iter().all(|i| i.availability_zone() == Some("us-east-1c")), "{instances:?}");
}
