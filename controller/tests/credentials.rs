//! Secrets a user hands fetchbench: a Redis password never appears in what it prints, and a
//! failed login or an untrusted certificate is called that.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Sandbox, stderr, stdout};

const PASSWORD: &str = "WRONGpw123";

/// A redis-server child on a free loopback port with `args` added; killed when dropped.
struct Server {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Start redis-server with `args`, listening (plain or TLS) on `port`.
fn redis_server(port: u16, args: &[&str]) -> Server {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(args)
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().expect("try_wait").is_none(), "redis-server on {port} exited");
        assert!(Instant::now() < deadline, "redis-server on {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, _dir: dir }
}

/// `fetchbench run` against `url` (plus `extra`), which must fail before measuring anything.
fn run_against(sb: &Sandbox, url: &str, extra: &[&str]) -> (Output, String) {
    let o = sb.fetchbench().args(["run", "--redis-url", url]).args(extra).output().expect("fetchbench runs");
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains(PASSWORD), "the password was printed:\n{all}");
    assert!(!sb.path().join("results").exists() || !contains_in_files(&sb.path().join("results")));
    (o, all)
}

/// Whether any file under `dir` holds the password.
fn contains_in_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            contains_in_files(&path)
        } else {
            std::fs::read(&path).is_ok_and(|b| String::from_utf8_lossy(&b).contains(PASSWORD))
        }
    })
}

fn last_line(o: &Output) -> String {
    stderr(o).trim_end().lines().last().unwrap_or_default().to_owned()
}

#[test]
fn a_wrong_redis_password_says_authentication_failed_and_is_never_printed() {
    let port = free_port();
    let _redis = redis_server(port, &["--port", &port.to_string(), "--requirepass", "right-one"]);
    let sb = Sandbox::new();
    for (url, user) in [
        (format!("redis://:{PASSWORD}@127.0.0.1:{port}"), "default"),
        (format!("redis://bob:{PASSWORD}@127.0.0.1:{port}"), "bob"),
    ] {
        let (o, all) = run_against(&sb, &url, &[]);
        assert_eq!(o.status.code(), Some(1), "{all}");
        let last = last_line(&o);
        assert!(last.contains(&format!("authentication failed for user {user}")), "{last}");
        assert!(last.contains("check the user and password"), "{last}");
        assert!(last.contains(&format!(":***@127.0.0.1:{port}")), "{last}");
        assert!(!last.contains("unreachable"), "{last}");
    }
    // The same through a cluster client, which wraps the server's refusal in its own error.
    let (o, all) = run_against(&sb, &format!("redis://:{PASSWORD}@127.0.0.1:{port}"), &["--redis-cluster"]);
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(last_line(&o).contains("authentication failed for user default"), "{all}");
    sb.assert_clean();
}

#[test]
fn refused_and_malformed_redis_urls_hide_the_password() {
    let sb = Sandbox::new();
    let (o, all) = run_against(&sb, &format!("redis://:{PASSWORD}@127.0.0.1:1"), &["--redis-cluster"]);
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(last_line(&o).contains("redis at redis://:***@127.0.0.1:1 is unreachable"), "{all}");
    let (o, all) = run_against(&sb, &format!("redis://:{PASSWORD}@127.0.0.1:99999"), &[]);
    assert!(matches!(o.status.code(), Some(1 | 2)), "{all}");
    assert!(last_line(&o).contains("redis://:***@127.0.0.1:99999"), "{all}");
    let (o, all) = run_against(&sb, &format!("http://:{PASSWORD}@127.0.0.1:1"), &[]);
    assert_eq!(o.status.code(), Some(2), "{all}");
    sb.assert_clean();
}

#[test]
fn an_untrusted_redis_certificate_says_to_add_insecure() {
    // A TLS redis-server whose certificate an authority of the test's own signed.
    let dir = tempfile::tempdir().expect("temporary folder");
    let ca = fetchbench::tls::Authority::generate("redis-test").expect("authority");
    let issued = ca.issue_agent("127.0.0.1").expect("certificate");
    let (cert, key) = (dir.path().join("redis.pem"), dir.path().join("redis.key"));
    std::fs::write(&cert, &issued.cert_pem).expect("write cert");
    std::fs::write(&key, &issued.key_pem).expect("write key");
    let port = free_port();
    let _redis = redis_server(
        port,
        &[
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            cert.to_str().expect("utf-8"),
            "--tls-key-file",
            key.to_str().expect("utf-8"),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            PASSWORD,
        ],
    );
    let sb = Sandbox::new();
    let (o, all) = run_against(&sb, &format!("rediss://:{PASSWORD}@127.0.0.1:{port}"), &[]);
    assert_eq!(o.status.code(), Some(1), "{all}");
    let last = last_line(&o);
    assert!(last.contains("certificate not trusted: add #insecure for a self-signed server"), "{last}");
    assert!(!last.contains("unreachable"), "{last}");
    sb.assert_clean();
}

#[test]
fn rediss_to_a_server_without_tls_says_so() {
    let port = free_port();
    let _redis = redis_server(port, &["--port", &port.to_string()]);
    let sb = Sandbox::new();
    let (o, all) = run_against(&sb, &format!("rediss://:{PASSWORD}@127.0.0.1:{port}"), &[]);
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(last_line(&o).contains("rediss:// needs a server with TLS"), "{all}");
    sb.assert_clean();
}
