//! Helpers for tests that drive the real `fetchbench` binary: a private temporary folder per
//! test, and a marker in the environment that every child process inherits, so a test can tell
//! whether anything it started is still running.

#![allow(dead_code)]

pub mod chromium;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

/// One test's sandbox: a folder for results and for the controller's TMPDIR.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub marker: String,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::create_dir(dir.path().join("tmp")).expect("tmp folder");
        let marker = format!("fbtest-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        Sandbox { dir, marker }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The controller's TMPDIR: it must be empty again after every run.
    pub fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// `fetchbench` with the sandbox's environment, working in the sandbox.
    pub fn fetchbench(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fetchbench"));
        cmd.current_dir(self.path())
            .env("TMPDIR", self.tmp())
            // Fleet state lives in $HOME/.fetchbench: a private HOME keeps the developer's own
            // fleets out of the tests, and the tests' out of the developer's.
            .env("HOME", self.path())
            .env("FETCHBENCH_TEST_MARKER", &self.marker)
            // Keep every AWS SDK lookup on this machine: static credentials, a fixed region, no
            // instance metadata service.
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL");
        cmd
    }

    /// Run `fetchbench` with `args` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.fetchbench().args(args).output().expect("fetchbench runs")
    }

    /// Write a file in the sandbox and return its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// Processes (other than zombies) whose environment carries this sandbox's marker, or that
    /// work in a folder inside the sandbox.
    pub fn leftover_processes(&self) -> Vec<String> {
        let needle = format!("FETCHBENCH_TEST_MARKER={}", self.marker);
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc is readable").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
            let marked = environ.split(|b| *b == 0).any(|var| var == needle.as_bytes());
            // redis-server writes its process title over its environment, marker included; it
            // works in the run's temporary folder, inside the sandbox.
            let inside =
                std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(self.path()));
            if marked || inside {
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                found.push(format!("{name}: {cmdline}"));
            }
        }
        found
    }

    /// Assert nothing the run started is alive and its temporary data is gone.
    pub fn assert_clean(&self) {
        let left = self.leftover_processes();
        assert!(left.is_empty(), "processes left running: {left:?}");
        let tmp: Vec<_> =
            std::fs::read_dir(self.tmp()).expect("tmp exists").flatten().map(|e| e.path()).collect();
        assert!(tmp.is_empty(), "temporary data left behind: {tmp:?}");
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// result.json as untyped JSON, so the tests check the file's contract, not our own types.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("result.json is JSON")
}

/// A finished `fetchbench run --agents 2` of the seed scenario.
pub struct SeedRun {
    /// Its results folder.
    pub dir: PathBuf,
    /// What it printed.
    pub stdout: String,
}

/// One seed run shared by the tests of a test binary (they only read it), made on first use in
/// a folder under the target directory named after this process.
pub fn seed_run() -> &'static SeedRun {
    static RUN: std::sync::OnceLock<SeedRun> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Folders of earlier test processes that are gone.
        for entry in std::fs::read_dir(scratch).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("seed-run-")
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = scratch.join(format!("seed-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sb = Sandbox::new();
        let o = sb.run(&["run", "--agents", "2", "--out", dir.to_str().expect("utf-8 path")]);
        let stdout = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{}", stderr(&o));
        sb.assert_clean();
        SeedRun { dir, stdout }
    })
}

/// A redis-server child on a free loopback port, with persistence off; killed when dropped.
pub struct Redis {
    pub port: u16,
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Start one on a free port.
    pub fn start() -> Redis {
        let dir = tempfile::tempdir().expect("temporary folder");
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let child = Redis::spawn(port, dir.path());
        Redis { port, child, dir }
    }

    fn spawn(port: u16, dir: &Path) -> std::process::Child {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(child.try_wait().expect("try_wait").is_none(), "redis-server on {port} exited");
            assert!(std::time::Instant::now() < deadline, "redis-server on {port} did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kill it as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again on the same port (empty: persistence is off).
    pub fn restart(&mut self) {
        self.child = Redis::spawn(self.port, self.dir.path());
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Read `child`'s stdout until a line starts with `prefix`; returns what was read, and the rest
/// of the lines to read on.
pub fn wait_for_line(
    child: &mut std::process::Child,
    prefix: &str,
) -> (String, std::io::Lines<std::io::BufReader<std::process::ChildStdout>>) {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let mut seen = String::new();
    loop {
        let line = match lines.next() {
            Some(Ok(line)) => line,
            _ => panic!("fetchbench ended before printing {prefix:?}; it printed:\n{seen}"),
        };
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with(prefix) {
            return (seen, lines);
        }
    }
}

/// Send `signal` (e.g. "-KILL") to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill").args([signal, &pid.to_string()]).status().expect("kill runs");
    assert!(status.success(), "kill {signal} {pid} failed");
}

impl Sandbox {
    /// Pids of the processes this sandbox started whose command line contains `needle`.
    pub fn pids_of(&self, needle: &str) -> Vec<u32> {
        self.leftover_processes()
            .iter()
            .filter(|p| p.contains(needle))
            .filter_map(|p| p.split(':').next()?.parse().ok())
            .collect()
    }
}

/// A `fetchbench-agent` the test started itself, outside any fleet, with the certificates
/// `fetchbench certs` made; killed when dropped.
pub struct StaticAgent {
    pub child: std::process::Child,
    /// The address it announced.
    pub addr: std::net::SocketAddr,
}

impl Drop for StaticAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The agent binary (cargo builds it beside the test harness) serving on `listen` with the
/// certificate `certs` holds for `host`; run through `prefix` when given (`ip netns exec NS`).
pub fn agent_command(certs: &Path, host: &str, listen: &str, prefix: &[&str]) -> Command {
    let binary = fetchbench::fleet::local::default_agent_binary();
    let mut command = match prefix.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(&binary);
            c
        }
        None => Command::new(&binary),
    };
    command
        .args(["--listen", listen])
        .arg("--tls-cert")
        .arg(certs.join(format!("agent-{host}.pem")))
        .arg("--tls-key")
        .arg(certs.join(format!("agent-{host}.key")))
        .arg("--tls-client-ca")
        .arg(certs.join("ca.pem"))
        .stdout(std::process::Stdio::piped());
    command
}

/// Start `command` (from [`agent_command`]) and wait for the address it announces.
pub fn start_agent_process(mut command: Command) -> StaticAgent {
    let mut child = command.spawn().expect("the agent starts");
    let mut first = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().expect("piped"));
    std::io::BufRead::read_line(&mut out, &mut first).expect("the agent announces its address");
    let addr =
        first.trim().rsplit_once("listening on ").and_then(|(_, a)| a.parse().ok()).expect("an address");
    StaticAgent { child, addr }
}

/// An agent with `host`'s certificate on a free port of `host` (an address on this machine;
/// loopback for a name), its log discarded.
pub fn start_static_agent(certs: &Path, host: &str) -> StaticAgent {
    let ip = if host.parse::<std::net::IpAddr>().is_ok() { host } else { "127.0.0.1" };
    let mut command = agent_command(certs, host, &format!("{ip}:0"), &[]);
    command.stderr(std::process::Stdio::null());
    start_agent_process(command)
}

/// A free TCP port on loopback (free when asked; another process may take it after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A redis-server child with `args` added (a port, AUTH, TLS), persistence off; killed when
/// dropped.
pub struct RedisServer {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    /// Files it reads (a TLS certificate and key), kept as long as it runs.
    _files: Option<tempfile::TempDir>,
}

impl RedisServer {
    /// The authority of a TLS server's certificate (PEM), from [`tls_redis_server`].
    pub fn ca_file(&self) -> PathBuf {
        self._files.as_ref().expect("a TLS server").path().join("ca.pem")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start redis-server with `args`, and wait until it accepts connections on `port` (plain or
/// TLS).
pub fn redis_server(port: u16, args: &[&str]) -> RedisServer {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(args)
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("redis-server is installed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().expect("try_wait").is_none(), "redis-server on {port} exited");
        assert!(Instant::now() < deadline, "redis-server on {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    RedisServer { child, _dir: dir, _files: None }
}

/// `RUST_LOG` for a run whose agents' progress a test waits on with [`RunLog`]: the usual
/// warnings, and the run loop's line for each interval an agent reports.
pub const LOG_INTERVALS: &str = "warn,fetchbench::run=debug";

/// One interval an agent reported, as the run logs it with [`LOG_INTERVALS`].
#[derive(Debug, Clone)]
pub struct Interval {
    pub agent: String,
    pub ops: u64,
    pub errors: u64,
}

impl Interval {
    /// The interval a log line names, if it names one.
    fn parse(line: &str) -> Option<Interval> {
        let fields = line.split_once(" fetchbench::run: interval ")?.1;
        let field = |name: &str| fields.split(' ').find_map(|f| f.strip_prefix(name)?.strip_prefix('='));
        Some(Interval {
            agent: field("agent")?.to_owned(),
            ops: field("ops")?.parse().ok()?,
            errors: field("errors")?.parse().ok()?,
        })
    }
}

/// A running `fetchbench`'s standard error, read on a thread so that each line is seen, and
/// timed, as it comes: a test waits for what the run reports rather than sleeping and hoping.
pub struct RunLog {
    lines: std::sync::mpsc::Receiver<(std::time::Instant, String)>,
    seen: String,
}

impl RunLog {
    /// Take over `child`'s piped standard error.
    pub fn new(child: &mut std::process::Child) -> RunLog {
        use std::io::BufRead;
        let stderr = std::io::BufReader::new(child.stderr.take().expect("stderr is piped"));
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if tx.send((std::time::Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        RunLog { lines, seen: String::new() }
    }

    /// Read on until a line passes `test`: the line, and when it came. Fails when the run ends,
    /// or a minute goes by, without one.
    pub fn wait_for(
        &mut self,
        what: &str,
        mut test: impl FnMut(&str) -> bool,
    ) -> (std::time::Instant, String) {
        use std::sync::mpsc::RecvTimeoutError;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
                Ok((at, line)) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if test(&line) {
                        return (at, line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within a minute; the run said:\n{}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the run ended before {what}; it said:\n{}", self.seen)
                }
            }
        }
    }

    /// Read on until an agent reports an interval that passes `test`.
    pub fn wait_for_interval(&mut self, what: &str, mut test: impl FnMut(&Interval) -> bool) -> Interval {
        let (_, line) = self.wait_for(what, |line| Interval::parse(line).is_some_and(|i| test(&i)));
        Interval::parse(&line).expect("an interval")
    }

    /// Read on until each of `agents` agents has reported an interval with successful requests.
    pub fn wait_for_progress_of(&mut self, agents: usize) {
        let mut reported = std::collections::HashSet::new();
        self.wait_for_interval(&format!("progress from all {agents} agents"), |i| {
            if i.ops > 0 {
                reported.insert(i.agent.clone());
            }
            reported.len() == agents
        });
    }

    /// All the run wrote on standard error, once it ends.
    pub fn all(mut self) -> String {
        for (_, line) in self.lines.iter() {
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        self.seen
    }
}

/// A redis-server that serves TLS only, on `port`, with a certificate an authority of the test's
/// own signed (so untrusted by default), clients not asked for one, and `extra` arguments.
pub fn tls_redis_server(port: u16, extra: &[&str]) -> RedisServer {
    let dir = tempfile::tempdir().expect("temporary folder");
    let ca = fetchbench::fleet::tls::Authority::generate("redis-test").expect("authority");
    let issued = ca.issue_agent("127.0.0.1").expect("certificate");
    let (cert, key) = (dir.path().join("redis.pem"), dir.path().join("redis.key"));
    std::fs::write(&cert, &issued.cert_pem).expect("write cert");
    std::fs::write(&key, &issued.key_pem).expect("write key");
    std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).expect("write the authority");
    let tls_port = port.to_string();
    let mut args = vec![
        "--port",
        "0",
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        cert.to_str().expect("utf-8"),
        "--tls-key-file",
        key.to_str().expect("utf-8"),
        "--tls-auth-clients",
        "no",
    ];
    args.extend_from_slice(extra);
    let mut server = redis_server(port, &args);
    // redis-server has read its certificate and key: they live as long as the server.
    server._files = Some(dir);
    server
}

/// The alternative named `name` of a result.json's `verdict`.
pub fn verdict_alternative<'a>(verdict: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    verdict["alternatives"]
        .as_array()
        .expect("alternatives")
        .iter()
        .find(|a| a["alternative"] == name)
        .unwrap_or_else(|| panic!("no alternative {name} in {verdict}"))
}
