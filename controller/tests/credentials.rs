//! Secrets a user hands fetchbench: a Redis password never appears in what it prints, a failed
//! login or an untrusted certificate is called that, and `fetchbench certs` keeps a folder's
//! authority so agents started with it keep accepting the controller.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;

use common::{Sandbox, free_port, redis_server, start_static_agent, stderr, stdout, tls_redis_server};

const PASSWORD: &str = "WRONGpw123";

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
    // Checked before anything starts: bad input, with the flag named.
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(last_line(&o).contains("--redis-url \"redis://:***@127.0.0.1:99999\""), "{all}");
    let (o, all) = run_against(&sb, &format!("http://:{PASSWORD}@127.0.0.1:1"), &[]);
    assert_eq!(o.status.code(), Some(2), "{all}");
    sb.assert_clean();
}

#[test]
fn an_untrusted_redis_certificate_says_to_add_insecure() {
    let port = free_port();
    let _redis = tls_redis_server(port, &["--requirepass", PASSWORD]);
    let sb = Sandbox::new();
    let (o, all) = run_against(&sb, &format!("rediss://:{PASSWORD}@127.0.0.1:{port}"), &[]);
    assert_eq!(o.status.code(), Some(1), "{all}");
    let last = last_line(&o);
    assert!(last.contains("certificate not trusted: add #insecure for a self-signed server"), "{last}");
    assert!(!last.contains("unreachable"), "{last}");
    sb.assert_clean();
}

/// SSL_CERT_FILE names the authorities `rediss://` trusts, as OpenSSL reads it: the server's own
/// there, a run reads through; another there, the certificate is still refused.
#[test]
fn ssl_cert_file_names_the_authorities_a_rediss_url_trusts() {
    let port = free_port();
    let redis = tls_redis_server(port, &[]);
    let other = tls_redis_server(free_port(), &[]);
    let sb = Sandbox::new();
    let url = format!("rediss://127.0.0.1:{port}");
    let run = |ca: &Path| {
        sb.fetchbench().args(["run", "--redis-url", &url]).env("SSL_CERT_FILE", ca).output().expect("runs")
    };
    let o = run(&redis.ca_file());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&other.ca_file());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let last = last_line(&o);
    assert!(last.contains("certificate not trusted"), "{last}");
    assert!(last.contains("SSL_CERT_FILE"), "{last}");
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

/// Whether the agent at `addr` accepts the controller identity now in `certs`.
fn accepts_controller(certs: &Path, host: &str, addr: SocketAddr) -> Result<(), String> {
    let tls = fetchbench::fleet::tls::ClientTls::load(certs).expect("the controller's identity");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime
        .block_on(fetchbench::fleet::connect::connect("probe", addr, tls.config(host)))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn certs(sb: &Sandbox, dir: &Path, args: &[&str]) -> Output {
    let o = sb.fetchbench().arg("certs").arg(dir).args(args).output().expect("fetchbench runs");
    assert_eq!(o.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    o
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn certs_again_keeps_the_authority_so_running_agents_keep_working() {
    let sb = Sandbox::new();
    let dir = sb.path().join("certs");
    certs(&sb, &dir, &["127.0.0.1"]);
    let (ca, client) = (
        std::fs::read(dir.join("ca.pem")).expect("ca"),
        std::fs::read(dir.join("client.pem")).expect("client"),
    );
    let agent = start_static_agent(&dir, "127.0.0.1");

    let again = certs(&sb, &dir, &["localhost"]);
    assert!(stdout(&again).contains("reusing the authority"), "{}", stdout(&again));
    assert_eq!(std::fs::read(dir.join("ca.pem")).expect("ca"), ca, "ca.pem changed");
    assert_eq!(std::fs::read(dir.join("client.pem")).expect("client"), client, "client.pem changed");
    accepts_controller(&dir, "127.0.0.1", agent.addr).expect("the running agent accepts the controller");
    // The new host's certificate comes from the same authority.
    let second = start_static_agent(&dir, "localhost");
    accepts_controller(&dir, "localhost", second.addr).expect("the new agent accepts the controller");
    #[cfg(unix)]
    for key in ["ca.key", "client.key", "agent-127.0.0.1.key", "agent-localhost.key"] {
        assert_eq!(mode(&dir.join(key)), 0o600, "{key}");
    }
}

#[test]
fn certs_force_makes_a_new_authority_and_says_to_restart_agents() {
    let sb = Sandbox::new();
    let dir = sb.path().join("certs");
    certs(&sb, &dir, &["127.0.0.1"]);
    let ca = std::fs::read(dir.join("ca.pem")).expect("ca");
    let agent = start_static_agent(&dir, "127.0.0.1");

    let forced = certs(&sb, &dir, &["127.0.0.1", "--force"]);
    assert_ne!(std::fs::read(dir.join("ca.pem")).expect("ca"), ca, "--force kept the authority");
    assert!(
        stderr(&forced).contains("agents started with the old certificates must be restarted"),
        "{}",
        stderr(&forced)
    );
    assert!(
        accepts_controller(&dir, "127.0.0.1", agent.addr).is_err(),
        "the old agent trusts a new authority"
    );
    let restarted = start_static_agent(&dir, "127.0.0.1");
    accepts_controller(&dir, "127.0.0.1", restarted.addr).expect("a restarted agent accepts the controller");
}

#[test]
fn certs_refuses_a_host_that_is_no_ip_address_or_dns_name() {
    let sb = Sandbox::new();
    let dir = sb.path().join("certs");
    for host in ["bad host!", "../escape", "x-.example.com"] {
        let o = sb.fetchbench().arg("certs").arg(&dir).arg(host).output().expect("fetchbench runs");
        assert_eq!(o.status.code(), Some(2), "{host}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(&format!("{host:?}")) && err.contains("is not a valid host"), "{err}");
        assert!(err.contains("IP address or a DNS name"), "{err}");
        assert!(!dir.exists(), "{host}: certs wrote {}", dir.display());
    }
}
