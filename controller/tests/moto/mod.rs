//! A real moto server (the AWS emulator, from the `.venv` that `scripts/setup test` makes) on a
//! free 127.0.0.1 port, stopped when dropped, and SDK configuration pointing at it.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// A tool from the test virtualenv, or from PATH when there is none.
pub fn venv_tool(name: &str) -> PathBuf {
    let venv = workspace().join(".venv/bin").join(name);
    if venv.exists() { venv } else { PathBuf::from(name) }
}

/// PATH with the test virtualenv first (for the `aws` CLI the install script calls).
pub fn path_with_venv() -> String {
    format!("{}:{}", workspace().join(".venv/bin").display(), std::env::var("PATH").unwrap_or_default())
}

/// A moto server child.
pub struct Moto {
    pub endpoint: String,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start moto on a free port and wait until it accepts connections.
pub fn spawn_moto() -> Moto {
    // moto's server with scripts/moto_patches.py loaded (the gaps scripts/aws-sandbox patches too).
    let server = venv_tool("python");
    let serve = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport moto_patches\nfrom moto.server import main\nmain()",
        workspace().join("scripts").display().to_string()
    );
    for _ in 0..5 {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let mut child = Command::new(&server)
            .args(["-c", &serve, "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} ({e}); run `scripts/setup test`", server.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if child.try_wait().expect("try_wait").is_some() {
                break; // the port was taken meanwhile: try another
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Moto { endpoint: format!("http://127.0.0.1:{port}"), child };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("moto_server did not start");
}

/// The AWS environment every process of a test gets: moto, static credentials, a region, and no
/// instance metadata lookups, so that nothing leaves 127.0.0.1.
pub fn aws_env(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

/// SDK configuration for assertions against moto.
pub async fn sdk_config(moto: &Moto) -> aws_config::SdkConfig {
    let credentials = aws_sdk_s3::config::Credentials::new("test", "test", None, None, "tests");
    fetchbench::aws::config_loader()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}
