//! `fetchbench install`: put the agent binary in the fleet's bucket under its SHA-256, give each
//! instance its own TLS identity in a SecureString parameter only that instance may read, run
//! `infra/agent-install.sh` on every instance through SSM (50 to a command), wait on every
//! invocation, and check that each agent answers Hello over mutual TLS, many at once. After a
//! resize (`provision`), only the instances without an agent are installed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use sha2::{Digest, Sha256};

use crate::aws::Aws;
use crate::aws::ssm::{Invocation, InvocationError, MAX_SEND_TARGETS, SendError};
use crate::error::Error;
use crate::fleet::aws_state::{self, InstalledAgent, State};
use crate::fleet::connect::{HelloError, connect};
use crate::fleet::tls::{Authority, ClientTls};

/// The script SSM runs on every agent.
pub const INSTALL_SCRIPT: &str = include_str!("../../../infra/agent-install.sh");
/// The systemd unit the script installs.
pub const SERVICE_UNIT: &str = include_str!("../../../infra/fetchbench-agent.service");
/// How long the presigned URL of the binary stays valid.
const URL_LIFETIME: Duration = Duration::from_secs(3600);
/// Longest the script may run on an instance.
const SCRIPT_TIMEOUT_S: u32 = 600;
/// Longest wait for instances to register with SSM after boot.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest wait for every invocation to finish.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(900);
/// Pause between two looks at the invocations.
const POLL: Duration = Duration::from_secs(3);
/// Longest wait for the Auto Scaling group to reach its size.
const GROUP_TIMEOUT: Duration = Duration::from_secs(600);
/// Lines of an instance's standard error shown when its install failed.
const STDERR_TAIL: usize = 5;
/// Invocations waited on, or agents greeted, at once: a fleet of 64 unreachable agents takes two
/// Hello timeouts, not 64, without opening a connection to every agent at the same moment.
pub const AT_ONCE: usize = 32;

/// How an install ended: how many agents it installed, and how many of them did not answer Hello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Installed {
    /// Agents that did not answer Hello over mutual TLS.
    pub unreachable: usize,
    /// Agents installed.
    pub total: usize,
}

/// What `install` needs besides the state.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    /// The agent binary, checked for the fleet's architecture.
    pub binary: PathBuf,
    /// Leave the agents already installed from this binary as they are and install only the
    /// instances without one (`provision` scaling out); `false` reinstalls every instance.
    pub keep_installed: bool,
}

/// The SSM parameter prefix under which each agent finds its own bundle.
pub fn parameter_prefix(stack: &str) -> String {
    format!("/fetchbench/{stack}/agents")
}

/// The DNS name in the certificate of the agent on `instance_id`.
pub fn server_name(instance_id: &str) -> String {
    format!("{instance_id}.agents.fetchbench")
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The text SSM runs: the unit and the script written to a private temporary folder, then the
/// script with its inputs. No secret is in it: each instance reads its own parameter.
pub fn command_text(sha256: &str, prefix: &str, port: &str, region: &str) -> String {
    format!(
        "set -eu\n\
         dir=$(mktemp -d)\n\
         cat > \"$dir/fetchbench-agent.service\" <<'FETCHBENCH_UNIT_EOF'\n{SERVICE_UNIT}FETCHBENCH_UNIT_EOF\n\
         cat > \"$dir/agent-install.sh\" <<'FETCHBENCH_SCRIPT_EOF'\n{INSTALL_SCRIPT}FETCHBENCH_SCRIPT_EOF\n\
         status=0\n\
         FETCHBENCH_PARAMETER='{prefix}' FETCHBENCH_SHA256='{sha256}' FETCHBENCH_PORT='{port}' \
         FETCHBENCH_REGION='{region}' FETCHBENCH_UNIT_SOURCE=\"$dir/fetchbench-agent.service\" \
         bash \"$dir/agent-install.sh\" || status=$?\n\
         rm -rf \"$dir\"\n\
         exit $status\n"
    )
}

/// Run `fetchbench install` for the fleet of `stack`.
pub async fn install_command(
    mut state: State,
    region: Option<&str>,
    profile: Option<&str>,
    binary: PathBuf,
) -> Result<Installed, Error> {
    let aws =
        Aws::connect(Some(region.unwrap_or(&state.region)), profile.or(state.profile.as_deref())).await?;
    install(&aws, &mut state, &InstallOptions { binary, keep_installed: false }).await
}

/// The state of `stack`, or [`Error::NoFleet`].
pub fn load(stack: &str) -> Result<State, Error> {
    aws_state::load(stack)?.ok_or_else(|| Error::NoFleet {
        stack: stack.to_owned(),
        dir: aws_state::dir(stack).map(|d| d.display().to_string()).unwrap_or_default(),
    })
}

/// Install the agents of the fleet in `state`, record them there, and say Hello to each.
///
/// Instances no longer in service are forgotten and their parameters deleted. With
/// [`InstallOptions::keep_installed`], instances that already run an agent of this binary keep
/// it and only the others are installed.
pub async fn install(aws: &Aws, state: &mut State, opts: &InstallOptions) -> Result<Installed, Error> {
    let stack = state.stack.clone();
    let fleet_error = |detail: String| Error::AwsFleet { stack: stack.clone(), detail };
    let bucket = state.output("BucketName").to_owned();
    let group = state.output("AgentGroupName").to_owned();
    let port = state.output("AgentPort").to_owned();
    if bucket.is_empty() || group.is_empty() || port.is_empty() {
        return Err(fleet_error("has no outputs yet; run `fetchbench provision` to finish it".into()));
    }
    let kms_key = state.output("ParameterKeyArn").to_owned();
    if kms_key.is_empty() {
        return Err(fleet_error(
            "has no KMS key for the agents' TLS parameters (made by an older fetchbench); run `fetchbench provision` to update it".into(),
        ));
    }
    let (partition, account) =
        arn_account(state.stack_id.as_deref().unwrap_or_default()).ok_or_else(|| {
            fleet_error("has no stack id in the local state; run `fetchbench provision` again".into())
        })?;

    let sha256 = sha256_file(&opts.binary).map_err(|e| Error::AgentBinary {
        path: opts.binary.clone(),
        detail: format!("cannot read it: {e}"),
    })?;
    let instances = in_service(aws, &group).await?;
    if instances.is_empty() {
        return Err(fleet_error(format!(
            "Auto Scaling group {group} has no instance in service yet; try again shortly"
        )));
    }
    let prefix = parameter_prefix(&stack);
    forget_gone(aws, state, &instances, &prefix).await?;
    let same_binary = state.agent_sha256.as_deref() == Some(sha256.as_str());
    let targets: Vec<String> = if opts.keep_installed && same_binary {
        instances
            .iter()
            .filter(|id| !state.installed.iter().any(|a| &a.instance_id == *id))
            .cloned()
            .collect()
    } else {
        instances.clone()
    };
    let dir = aws_state::dir(&stack)?;
    if targets.is_empty() {
        say!("all {} instances already run agent sha256 {sha256}; nothing to install", instances.len());
        let tls = ClientTls::load(&dir).map_err(Error::FleetTls)?;
        let unreachable = check_agents(state, &tls).await;
        return Ok(Installed { unreachable, total: state.installed.len() });
    }
    if targets.len() < instances.len() {
        say!(
            "installing the agent on {} new instances ({} already run it)",
            targets.len(),
            instances.len() - targets.len()
        );
    }

    let key = format!("agents/fetchbench-agent-{sha256}");
    if aws.s3.head_object(&bucket, &key).await? {
        say!("agent binary sha256 {sha256} already in s3://{bucket}/{key}");
    } else {
        aws.s3.put_object(&bucket, &key, &opts.binary).await?;
        say!("uploaded {} (sha256 {sha256}) to s3://{bucket}/{key}", opts.binary.display());
    }
    let url = aws.s3.presign_get_object(&bucket, &key, URL_LIFETIME).await?;

    let ca = Authority::load(&dir, &stack).map_err(Error::FleetTls)?;
    for id in &targets {
        let issued = ca.issue_agent(&server_name(id))?;
        let bundle = format!("url={url}\n{}{}{}", issued.key_pem, issued.cert_pem, ca.cert_pem());
        let arn = format!("arn:{partition}:ec2:{}:{account}:instance/{id}", aws.region);
        let tags = [("fetchbench:instance-arn", arn.as_str()), ("fetchbench:stack", stack.as_str())];
        aws.ssm.put_parameter(&format!("{prefix}/{id}"), &bundle, &kms_key, &tags).await?;
    }
    say!("stored a TLS identity for each of {} instances under SSM {prefix}/", targets.len());

    let text = command_text(&sha256, &prefix, &port, &aws.region);
    let comment = format!("fetchbench install {}", &sha256[..12]);
    let mut commands = Vec::with_capacity(targets.len());
    for chunk in targets.chunks(MAX_SEND_TARGETS) {
        let command_id = send(aws, chunk, &text, &comment).await?;
        say!("running agent-install.sh on {} instances (SSM command {command_id})", chunk.len());
        commands.extend(chunk.iter().map(|id| (command_id.clone(), id.clone())));
    }

    let deadline = Instant::now() + INVOCATION_TIMEOUT;
    let mut results = stream::iter(commands)
        .map(|(command_id, id)| async move {
            let result = wait_invocation(aws, &command_id, &id, deadline).await;
            (id, result)
        })
        .buffered(AT_ONCE);
    let mut fresh = Vec::with_capacity(targets.len());
    let mut failed = 0;
    while let Some((id, result)) = results.next().await {
        let Some(inv) = result? else {
            say!("  {id}: no result within {}", humantime::format_duration(INVOCATION_TIMEOUT));
            failed += 1;
            continue;
        };
        if inv.status != "Success" {
            let tail: Vec<&str> = inv.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = tail[tail.len().saturating_sub(STDERR_TAIL)..].join("\n      ");
            say!("  {id}: {} (exit {})\n      {tail}", inv.status, inv.response_code);
            failed += 1;
            continue;
        }
        let address = ready_address(&inv.stdout);
        match &address {
            Some(a) => say!("  {id}: Success, agent at {a}"),
            None => say!("  {id}: Success, but the script reported no public address"),
        }
        fresh.push(InstalledAgent { instance_id: id.clone(), server_name: server_name(&id), address });
    }
    drop(results);
    // The agents kept, then the new ones, in the group's order.
    state.installed.retain(|a| !targets.contains(&a.instance_id));
    state.installed.extend(fresh);
    state.installed.sort_by_key(|a| instances.iter().position(|id| *id == a.instance_id));
    state.agent_sha256 = Some(sha256);
    aws_state::save(state)?;
    if failed > 0 {
        return Err(Error::Install { failed, total: targets.len() });
    }

    let tls = ClientTls::load(&dir).map_err(Error::FleetTls)?;
    let unreachable = check_agents(state, &tls).await;
    Ok(Installed { unreachable, total: state.installed.len() })
}

/// Wait until Auto Scaling group `group` has `count` instances in service, saying so once while
/// it has not; a scaled-in group's surplus may still be terminating.
pub async fn wait_in_service(aws: &Aws, stack: &str, group: &str, count: usize) -> Result<(), Error> {
    let deadline = Instant::now() + GROUP_TIMEOUT;
    let mut said = false;
    loop {
        let now = in_service(aws, group).await?.len();
        if now == count {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::AwsFleet {
                stack: stack.to_owned(),
                detail: format!(
                    "Auto Scaling group {group} has {now} of {count} instances in service after {}; \
                     see its activity history, then run `fetchbench provision` again",
                    humantime::format_duration(GROUP_TIMEOUT)
                ),
            });
        }
        if !said {
            say!(
                "waiting for Auto Scaling group {group} to have {count} instances in service (now {now}, \
                 up to {})",
                humantime::format_duration(GROUP_TIMEOUT)
            );
            said = true;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The ids of group `group`'s instances in service, sorted.
async fn in_service(aws: &Aws, group: &str) -> Result<Vec<String>, Error> {
    Ok(aws
        .autoscaling
        .describe_auto_scaling_groups(group)
        .await?
        .into_iter()
        .filter(|i| i.lifecycle == "InService")
        .map(|i| i.id)
        .collect())
}

/// Forget the agents of instances no longer in service and delete their TLS parameters.
async fn forget_gone(aws: &Aws, state: &mut State, instances: &[String], prefix: &str) -> Result<(), Error> {
    let gone: Vec<String> = state
        .installed
        .iter()
        .filter(|a| !instances.contains(&a.instance_id))
        .map(|a| a.instance_id.clone())
        .collect();
    if gone.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = gone.iter().map(|id| format!("{prefix}/{id}")).collect();
    aws.ssm.delete_parameters(&names).await?;
    state.installed.retain(|a| !gone.contains(&a.instance_id));
    aws_state::save(state)?;
    say!(
        "forgot {} agents no longer in the group and deleted their TLS parameters: {}",
        gone.len(),
        gone.join(", ")
    );
    Ok(())
}

/// Poll the invocation of `command_id` on `instance_id` until it is final; `None` past `deadline`.
async fn wait_invocation(
    aws: &Aws,
    command_id: &str,
    instance_id: &str,
    deadline: Instant,
) -> Result<Option<Invocation>, Error> {
    loop {
        match aws.ssm.get_command_invocation(command_id, instance_id).await {
            Ok(inv) if inv.is_final() => return Ok(Some(inv)),
            Ok(_) | Err(InvocationError::NotYet) if Instant::now() < deadline => {
                tokio::time::sleep(POLL).await
            }
            Ok(_) | Err(InvocationError::NotYet) => return Ok(None),
            Err(InvocationError::Aws(e)) => return Err(e.into()),
        }
    }
}

/// Say Hello to every installed agent over mutual TLS, [`AT_ONCE`] at a time, print one line
/// each in the state's order; returns how many did not answer.
pub async fn check_agents(state: &State, tls: &ClientTls) -> usize {
    let mut answers = stream::iter(&state.installed)
        .map(|agent| async move { (agent, hello(agent, tls).await) })
        .buffered(AT_ONCE);
    let mut unreachable = 0;
    while let Some((agent, answer)) = answers.next().await {
        match answer {
            Ok(text) => say!("  {}: {text}", agent.instance_id),
            Err(reason) => {
                say!("  {}: gRPC unreachable: {reason}", agent.instance_id);
                unreachable += 1;
            }
        }
    }
    unreachable
}

/// Why an installed agent did not answer Hello.
#[derive(Debug, thiserror::Error)]
pub enum Unanswered {
    /// Its install reported no public address.
    #[error("no public address known (its install reported none)")]
    NoAddress,
    /// Its install reported an address that is not one.
    #[error("bad address {0:?}")]
    BadAddress(String),
    /// It could not be reached, or did not answer.
    #[error(transparent)]
    Hello(#[from] HelloError),
}

/// One line about an agent's Hello, or why there was none.
pub async fn hello(agent: &InstalledAgent, tls: &ClientTls) -> Result<String, Unanswered> {
    let Some(address) = &agent.address else {
        return Err(Unanswered::NoAddress);
    };
    let addr = address.parse().map_err(|_| Unanswered::BadAddress(address.clone()))?;
    let (_, hello, _) = connect(&agent.instance_id, addr, tls.config(&agent.server_name)).await?;
    Ok(format!(
        "answers Hello at {address} (fetchbench-agent {}, {} cores, {})",
        hello.agent_version, hello.cores, hello.arch
    ))
}

/// SendCommand, retried while the instances are still registering with SSM after boot.
async fn send(aws: &Aws, instances: &[String], text: &str, comment: &str) -> Result<String, Error> {
    let deadline = Instant::now() + REGISTER_TIMEOUT;
    let mut said = false;
    loop {
        match aws.ssm.send_command(instances, text, comment, SCRIPT_TIMEOUT_S).await {
            Ok(id) => return Ok(id),
            Err(SendError::NotRegistered(e)) if Instant::now() < deadline => {
                if !said {
                    say!("waiting for the instances to register with SSM ({e})");
                    said = true;
                }
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
            Err(SendError::NotRegistered(e) | SendError::Aws(e)) => return Err(e.into()),
        }
    }
}

/// The `address=` of the script's "fetchbench-agent ready" line.
fn ready_address(stdout: &str) -> Option<String> {
    let line = stdout.lines().rev().find(|l| l.starts_with("fetchbench-agent ready "))?;
    let address = line.split_whitespace().find_map(|w| w.strip_prefix("address="))?;
    (!address.is_empty()).then(|| address.to_owned())
}

/// (partition, account) of an ARN such as a stack id.
fn arn_account(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, _, _, account, ..] if !account.is_empty() => {
            Some(((*partition).to_owned(), (*account).to_owned()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ready_line() {
        let out = "x\nfetchbench-agent ready instance=i-1 address=203.0.113.7:7878 sha256=ab\n";
        assert_eq!(ready_address(out).as_deref(), Some("203.0.113.7:7878"));
        assert_eq!(ready_address("fetchbench-agent ready instance=i-1 address= sha256=ab"), None);
        assert_eq!(ready_address(""), None);
    }

    #[test]
    fn account_comes_from_the_stack_arn() {
        let arn = "arn:aws:cloudformation:us-east-1:123456789012:stack/fb/abc";
        assert_eq!(arn_account(arn), Some(("aws".into(), "123456789012".into())));
        assert_eq!(arn_account("nope"), None);
    }

    /// What the command carries besides the script and the unit: only its four inputs, quoted.
    /// (That no secret reaches it is checked on the command moto received, in aws_lifecycle.rs.)
    #[test]
    fn the_command_is_the_script_the_unit_and_its_inputs() {
        let text = command_text(&"a".repeat(64), "/fetchbench/s/agents", "7878", "us-east-1");
        let rest = text.replacen(INSTALL_SCRIPT, "", 1).replacen(SERVICE_UNIT, "", 1);
        assert!(text.contains(INSTALL_SCRIPT) && text.contains(SERVICE_UNIT));
        for input in [
            format!("FETCHBENCH_SHA256='{}'", "a".repeat(64)),
            "FETCHBENCH_PARAMETER='/fetchbench/s/agents'".to_owned(),
            "FETCHBENCH_PORT='7878'".to_owned(),
            "FETCHBENCH_REGION='us-east-1'".to_owned(),
        ] {
            assert_eq!(rest.matches(&input).count(), 1, "{input} in {rest}");
        }
        // 500 bytes of wrapper lines and inputs: room for no key (a PEM key alone is 240 or more).
        assert!(rest.len() <= 520, "more than the wrapper lines and inputs: {rest}");
    }
}
