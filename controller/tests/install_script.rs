//! `infra/agent-install.sh` for real on this machine: the agent binary served over HTTP on
//! 127.0.0.1, the instance's SecureString parameter in a real moto (read by the real `aws` CLI),
//! everything written under a temporary root. A wrong checksum stops it with a clear error and
//! installs nothing; the right one leaves an agent answering Hello over mutual TLS (started by
//! the script's documented fallback, as systemd does not manage an install under a root prefix).

mod moto;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fetchbench::fleet::local::default_agent_binary;
use fetchbench::fleet::tls::{Authority, ClientTls};
use fetchbench::stack::install::{parameter_prefix, server_name, sha256_file};
use moto::{Moto, aws_env, path_with_venv, sdk_config, spawn_moto, workspace};

const INSTANCE: &str = "i-0123456789abcdef0";

/// Serve `body` to every GET on a free 127.0.0.1 port, from a background thread, until the
/// process ends. Returns the URL.
fn serve_file(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
        }
    });
    format!("http://{addr}/agents/fetchbench-agent?X-Amz-Signature=test")
}

/// The fleet's authority, the instance's bundle stored in moto, and the controller's identity.
async fn store_bundle(moto: &Moto, url: &str) -> ClientTls {
    let ca = Authority::generate("script").expect("ca");
    let agent = ca.issue_agent(&server_name(INSTANCE)).expect("agent cert");
    let bundle = format!("url={url}\n{}{}{}", agent.key_pem, agent.cert_pem, ca.cert_pem());
    let ssm = aws_sdk_ssm::Client::new(&sdk_config(moto).await);
    ssm.put_parameter()
        .name(format!("{}/{INSTANCE}", parameter_prefix("script")))
        .value(bundle)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("put parameter");
    ClientTls::new(ca.cert_pem().to_owned(), ca.issue_client().expect("client cert"))
}

/// An agent the script started, stopped (by the pid the script recorded) when dropped.
struct Installed {
    pid_file: PathBuf,
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.pid_file) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// True while process `pid` runs (a zombie waiting for its reaper does not count).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(") ").next().is_some_and(|rest| !rest.starts_with('Z')))
}

fn run_script(moto: &Moto, root: &Path, sha256: &str, port: u16) -> Output {
    let infra = workspace().join("infra");
    Command::new("bash")
        .arg(infra.join("agent-install.sh"))
        .envs(aws_env(moto))
        .env("PATH", path_with_venv())
        .env("FETCHBENCH_ROOT", root)
        .env("FETCHBENCH_INSTANCE_ID", INSTANCE)
        .env("FETCHBENCH_PUBLIC_IP", "127.0.0.1")
        .env("FETCHBENCH_PORT", port.to_string())
        .env("FETCHBENCH_LISTEN", format!("127.0.0.1:{port}"))
        .env("FETCHBENCH_PARAMETER", parameter_prefix("script"))
        .env("FETCHBENCH_SHA256", sha256)
        .env("FETCHBENCH_REGION", "us-east-1")
        .env("FETCHBENCH_UNIT_SOURCE", infra.join("fetchbench-agent.service"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash runs the script")
}

#[tokio::test]
async fn wrong_checksum_installs_nothing() {
    let moto = spawn_moto();
    let url = serve_file(std::fs::read(default_agent_binary()).expect("agent binary"));
    store_bundle(&moto, &url).await;
    let root = tempfile::tempdir().expect("root");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let out = run_script(&moto, root.path(), &"0".repeat(64), port);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("agent-install: checksum mismatch: the downloaded binary has sha256"), "{err}");
    assert!(err.contains("nothing was installed"), "{err}");
    assert!(!root.path().join("opt/fetchbench/bin/fetchbench-agent").exists());
    assert!(!root.path().join("etc/fetchbench/tls/agent.key").exists());
    assert!(!root.path().join("run/fetchbench-agent.pid").exists());
}

#[tokio::test]
async fn right_checksum_leaves_an_agent_answering_over_mutual_tls() {
    let moto = spawn_moto();
    let binary = default_agent_binary();
    let sha = sha256_file(&binary).expect("sha256");
    let url = serve_file(std::fs::read(&binary).expect("agent binary"));
    let tls = store_bundle(&moto, &url).await;
    let root = tempfile::tempdir().expect("root");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let out = run_script(&moto, root.path(), &sha, port);
    let _agent = Installed { pid_file: root.path().join("run/fetchbench-agent.pid") };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {text}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = text.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("fetchbench-agent ready instance={INSTANCE} address=127.0.0.1:{port} sha256={sha}")
    );

    let mode = |p: &str| std::fs::metadata(root.path().join(p)).expect(p).permissions().mode() & 0o777;
    assert_eq!(mode("etc/fetchbench/tls"), 0o700);
    assert_eq!(mode("etc/fetchbench/tls/agent.key"), 0o600);
    assert_eq!(mode("opt/fetchbench/bin/fetchbench-agent"), 0o755);
    assert_eq!(sha256_file(&root.path().join("opt/fetchbench/bin/fetchbench-agent")).unwrap(), sha);
    let unit =
        std::fs::read_to_string(root.path().join("etc/systemd/system/fetchbench-agent.service")).unwrap();
    assert_eq!(unit, include_str!("../../infra/fetchbench-agent.service"));

    let agent = fetchbench::fleet::aws_state::InstalledAgent {
        instance_id: INSTANCE.into(),
        server_name: server_name(INSTANCE),
        address: Some(format!("127.0.0.1:{port}")),
    };
    let hello = fetchbench::stack::install::hello(&agent, &tls).await.expect("Hello over mutual TLS");
    assert!(hello.contains(&format!("fetchbench-agent {}", env!("CARGO_PKG_VERSION"))), "{hello}");

    // Running it again upgrades in place: the old agent is stopped, a new one answers.
    let old_pid = std::fs::read_to_string(root.path().join("run/fetchbench-agent.pid")).unwrap();
    let out = run_script(&moto, root.path(), &sha, port);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let new_pid = std::fs::read_to_string(root.path().join("run/fetchbench-agent.pid")).unwrap();
    assert_ne!(old_pid, new_pid);
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", old_pid.trim())).unwrap_or_default();
    assert!(!alive(old_pid.trim()), "the old agent was stopped: {stat}");
    fetchbench::stack::install::hello(&agent, &tls).await.expect("the new agent answers");
}
