//! The local fleet: agent processes on free 127.0.0.1 ports serving mutual TLS with certificates
//! from a certificate authority made for this run, a `redis-server` child with persistence off,
//! and the embedded S3 endpoint, all over one temporary directory. Everything is
//! stopped and the directory removed by [`LocalFleet::shutdown`], and on drop as a last resort.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::fleet::embedded_s3::EmbeddedS3;
use crate::fleet::tls::{Authority, ClientTls, Issued, TlsError, write_private};

/// How long an agent may take to announce its address.
const AGENT_START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long redis-server may take to answer PING.
const REDIS_START_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports tried for redis-server before giving up (another process may take the free port first).
const REDIS_PORT_ATTEMPTS: usize = 3;

/// Why the local fleet could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// No agent binary next to the controller.
    #[error(
        "fetchbench-agent not found at {0}; build it beside fetchbench with `cargo build --release` \
         (it is part of this workspace)"
    )]
    AgentMissing(PathBuf),
    /// An agent did not start.
    #[error("agent-{index} did not start: {detail}")]
    AgentStart {
        /// Agent index.
        index: usize,
        /// What happened, with the end of its log.
        detail: String,
    },
    /// redis-server is not installed.
    #[error(
        "redis-server not found on PATH; install it (Debian/Ubuntu: `sudo apt-get install -y \
         redis-server`, macOS: `brew install redis`) or point at a running Redis with --redis-url"
    )]
    RedisMissing,
    /// redis-server did not start.
    #[error("redis-server did not start: {0}")]
    RedisStart(String),
    /// The embedded S3 endpoint did not start.
    #[error("embedded S3 endpoint did not start: {0}")]
    S3Start(String),
    /// The temporary directory could not be made.
    #[error("cannot create a temporary directory: {0}")]
    TempDir(std::io::Error),
    /// The run's certificates could not be made.
    #[error("cannot set up mutual TLS for the local agents: {0}")]
    Tls(#[from] TlsError),
}

/// What to start.
#[derive(Debug, Clone)]
pub struct LocalPlan {
    /// Number of agent processes.
    pub agents: usize,
    /// Start a redis-server child.
    pub redis: bool,
    /// The scenario's `[cache]`: the redis-server's memory limit and eviction policy.
    pub redis_cache: crate::scenario::CacheConfig,
    /// Start the embedded S3 endpoint.
    pub s3: bool,
    /// The agent binary.
    pub agent_binary: PathBuf,
    /// Address redis-server and the embedded S3 endpoint listen on: loopback unless agents on
    /// other hosts (or network namespaces) must reach them.
    pub serve_on: IpAddr,
}

/// A running agent process.
#[derive(Debug)]
pub struct LocalAgent {
    /// Where it serves gRPC.
    pub addr: SocketAddr,
    /// The DNS name its certificate carries, which the controller verifies.
    pub server_name: String,
    child: Child,
    /// Its standard error.
    pub log: PathBuf,
    /// Held open: the agent exits when it closes, so agents never outlive the controller.
    _stdin: ChildStdin,
    _stdout: BufReader<ChildStdout>,
}

/// A running redis-server child.
#[derive(Debug)]
pub struct LocalRedis {
    /// `redis://IP:PORT`.
    pub url: String,
    child: Child,
}

/// Everything a local run started.
#[derive(Debug)]
pub struct LocalFleet {
    /// The agents, in index order.
    pub agents: Vec<LocalAgent>,
    /// The redis-server child, when started.
    pub redis: Option<LocalRedis>,
    /// The embedded S3 endpoint, when started.
    pub s3: Option<EmbeddedS3>,
    /// The controller's side of mutual TLS with these agents.
    pub tls: ClientTls,
    tmp: Option<TempDir>,
}

/// The agent binary beside the controller's own executable.
pub fn default_agent_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = format!("fetchbench-agent{}", std::env::consts::EXE_SUFFIX);
    let beside = dir.join(&name);
    // Test harnesses live one folder down (target/debug/deps).
    match dir.parent() {
        Some(up) if !beside.exists() && up.join(&name).exists() => up.join(name),
        _ => beside,
    }
}

/// The file name `scripts/build-agent` writes for `arch` (x86_64 or aarch64) in
/// `<target dir>/agents/`.
pub fn built_agent_name(arch: &str) -> String {
    format!("fetchbench-agent-linux-{arch}")
}

/// The agent to install on an AWS fleet of `arch`: `scripts/build-agent`'s output, found in
/// `agents/` beside the controller's executable (a copied install) or in the target dir it was
/// built in (`target/<profile>/`, and `target/<profile>/deps/` for test harnesses); else the
/// agent beside the controller.
pub fn fleet_agent_binary(arch: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let name = built_agent_name(arch);
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join("agents").join(&name))
        .find(|p| p.is_file())
        .unwrap_or_else(default_agent_binary)
}

impl LocalFleet {
    /// Start what `plan` asks for. On failure everything already started is stopped again.
    pub async fn start(plan: &LocalPlan) -> Result<LocalFleet, FleetError> {
        if plan.agents > 0 && !plan.agent_binary.is_file() {
            return Err(FleetError::AgentMissing(plan.agent_binary.clone()));
        }
        sweep_stale_dirs(&std::env::temp_dir());
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{TMP_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(FleetError::TempDir)?;
        mark_owned(tmp.path());
        let ca = Authority::generate("local")?;
        let tls = ClientTls::new(ca.cert_pem().to_owned(), ca.issue_client()?);
        let mut fleet = LocalFleet { agents: Vec::new(), redis: None, s3: None, tls, tmp: Some(tmp) };
        match fleet.fill(plan, &ca).await {
            Ok(()) => Ok(fleet),
            Err(e) => {
                fleet.shutdown().await;
                Err(e)
            }
        }
    }

    async fn fill(&mut self, plan: &LocalPlan, ca: &Authority) -> Result<(), FleetError> {
        let dir = self.dir().to_path_buf();
        if plan.redis {
            self.redis = Some(start_redis(&dir, plan.serve_on, &redis_args(&plan.redis_cache)).await?);
        }
        if plan.s3 {
            let root = dir.join("s3");
            std::fs::create_dir_all(&root).map_err(|e| FleetError::S3Start(e.to_string()))?;
            self.s3 = Some(
                EmbeddedS3::start(&root, plan.serve_on)
                    .await
                    .map_err(|e| FleetError::S3Start(e.to_string()))?,
            );
        }
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, ca.cert_pem()).map_err(|e| FleetError::AgentStart {
            index: 0,
            detail: format!("cannot write {}: {e}", ca_path.display()),
        })?;
        let mut identities = Vec::with_capacity(plan.agents);
        for i in 0..plan.agents {
            let server_name = format!("agent-{i}.local.fetchbench");
            identities.push((server_name.clone(), ca.issue_agent(&server_name)?));
        }
        let starts = identities.into_iter().enumerate().map(|(i, (server_name, identity))| {
            start_agent(&plan.agent_binary, &dir, i, server_name, identity)
        });
        let mut first_error = None;
        for started in futures_util::future::join_all(starts).await {
            // Keep every agent that started, so that a failure still stops them all in order.
            match started {
                Ok(agent) => self.agents.push(agent),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The temporary directory holding the S3 data, redis' working directory and agent logs.
    pub fn dir(&self) -> &Path {
        self.tmp.as_ref().map_or(Path::new(""), TempDir::path)
    }

    /// The last lines of agent `index`'s log, for error messages.
    pub fn agent_log_tail(&self, index: usize) -> String {
        self.agents.get(index).map(|a| log_tail(&a.log)).unwrap_or_default()
    }

    /// Stop every process, wait for them, stop the S3 endpoint and remove the directory.
    pub async fn shutdown(&mut self) {
        for agent in &mut self.agents {
            let _ = agent.child.kill().await;
        }
        self.agents.clear();
        if let Some(mut redis) = self.redis.take() {
            let _ = redis.child.kill().await;
        }
        if let Some(s3) = self.s3.take() {
            s3.shutdown().await;
        }
        if let Some(tmp) = self.tmp.take() {
            let path = tmp.path().to_path_buf();
            if let Err(e) = tmp.close() {
                tracing::warn!("cannot remove {}: {e}", path.display());
            }
        }
    }
}

/// A dataset that does not fit where a local run would keep it.
#[derive(Debug, thiserror::Error)]
pub enum NoRoom {
    /// More than the memory available for the local redis-server.
    #[error(
        "{dataset} come to about {needed}, more than the {available} of memory available here for the local redis-server"
    )]
    Memory {
        /// The dataset, in words.
        dataset: String,
        /// What Redis would hold.
        needed: String,
        /// The memory available.
        available: String,
    },
    /// More than the disk free for the embedded S3 endpoint.
    #[error("{dataset} come to about {needed}, more than the {available} free under {} for the embedded S3 endpoint", folder.display())]
    Disk {
        /// The dataset, in words.
        dataset: String,
        /// What the objects take.
        needed: String,
        /// The disk free.
        available: String,
        /// The temporary folder the endpoint keeps them in.
        folder: PathBuf,
    },
}

/// Which of a run's stores would be on this machine, were its workloads to read them.
#[derive(Clone, Copy, Debug)]
pub struct OnThisMachine {
    /// Redis is the local redis-server, not the user's.
    pub redis: bool,
    /// The general purpose bucket is the embedded endpoint's, not on the user's endpoint or AWS.
    pub s3: bool,
    /// The directory bucket is the embedded endpoint's, not the user's own.
    pub s3_express: bool,
}

/// Whether the dataset of `scenario` fits where this run would keep it on this machine: in the
/// memory of the local redis-server (when the objects go into Redis) and on the disk under the
/// temporary directory, once per bucket of the embedded S3 endpoint that workloads read. The
/// message names the estimate, what is available and what to do.
pub fn check_room(scenario: &crate::scenario::Scenario, local: OnThisMachine) -> Result<(), NoRoom> {
    use crate::scenario::{CacheStart, human_bytes};
    let d = &scenario.dataset;
    let bytes = d.estimated_bytes();
    let into_redis = local.redis
        && d.cache == CacheStart::Warm
        && scenario.workloads.iter().any(|w| w.target.uses_redis());
    // Redis keeps each value with its key and about 50 bytes of bookkeeping, up to its
    // `[cache] maxmemory` (past which it evicts, or refuses writes).
    let in_memory = bytes.saturating_add(d.objects.saturating_mul(100));
    let in_memory = scenario.cache.maxmemory_bytes.map_or(in_memory, |limit| in_memory.min(limit));
    if let Some(available) = available_memory().filter(|&a| into_redis && in_memory > a) {
        return Err(NoRoom::Memory {
            dataset: format!("{} objects of {}", d.objects, d.describe_sizes()),
            needed: human_bytes(in_memory),
            available: human_bytes(available),
        });
    }
    // Seeding writes every object into each bucket the workloads read.
    let reads = |on_disk: bool, uses: fn(crate::scenario::Target) -> bool| {
        u64::from(on_disk && scenario.workloads.iter().any(|w| uses(w.target)))
    };
    let copies = reads(local.s3, crate::scenario::Target::uses_s3)
        + reads(local.s3_express, crate::scenario::Target::uses_s3_express);
    let on_disk = bytes.saturating_mul(copies);
    let tmp = std::env::temp_dir();
    if let Some(available) = available_disk(&tmp).filter(|&a| on_disk > a) {
        let each = if copies > 1 { format!(" in each of {copies} buckets") } else { String::new() };
        return Err(NoRoom::Disk {
            dataset: format!("{} objects of {}{each}", d.objects, d.describe_sizes()),
            needed: human_bytes(on_disk),
            available: human_bytes(available),
            folder: tmp,
        });
    }
    Ok(())
}

/// Bytes an unprivileged user may still write on the file system holding `path`.
#[cfg(unix)]
fn available_disk(path: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(not(unix))]
fn available_disk(_: &Path) -> Option<u64> {
    None
}

/// `MemAvailable` of /proc/meminfo, bytes (Linux).
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Temporary folders of local runs are named `fetchbench-<controller pid>-<random>`.
const TMP_PREFIX: &str = "fetchbench-";
/// The file in each of them that says this program made it, and which controller owns it.
const OWNER_MARKER: &str = ".fetchbench-run";

/// Who owns a temporary folder of a local run: the controller process (its pid and, since pids
/// are reused, its start time) and the boot it ran in (pids and start times mean nothing in
/// another).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    pid: u32,
    started: u64,
    boot: String,
}

impl Owner {
    /// This process, when the system tells (Linux).
    fn current() -> Option<Owner> {
        let pid = std::process::id();
        Some(Owner { pid, started: process_start(pid)?, boot: boot_id()? })
    }

    fn to_text(&self) -> String {
        format!("pid={}\nstarted={}\nboot={}\n", self.pid, self.started, self.boot)
    }

    fn parse(text: &str) -> Option<Owner> {
        let field =
            |key: &str| text.lines().find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('=')));
        Some(Owner {
            pid: field("pid")?.parse().ok()?,
            started: field("started")?.parse().ok()?,
            boot: field("boot")?.to_owned(),
        })
    }

    /// Whether the controller that wrote this is gone: same boot, and no process with its pid
    /// and start time. From another boot (or when this cannot be told) it is not known gone.
    fn is_gone(&self) -> bool {
        boot_id().is_some_and(|boot| boot == self.boot) && process_start(self.pid) != Some(self.started)
    }
}

/// Mark `dir` as this controller's, so the next run may sweep it if this one is killed.
fn mark_owned(dir: &Path) {
    if let Some(owner) = Owner::current()
        && let Err(e) = std::fs::write(dir.join(OWNER_MARKER), owner.to_text())
    {
        tracing::warn!("cannot mark {} as this run's: {e}", dir.display());
    }
}

/// Remove the temporary folders of local runs whose controller is gone: one killed with SIGKILL
/// never had the chance. Only folders this program made are touched: named as ours, owned by
/// this user, holding the marker, from this boot, and whose controller no longer runs. Anything
/// else in the temporary directory, whatever its name, is left alone.
fn sweep_stale_dirs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let Some(me) = user_id() else { return };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            continue;
        }
        let path = entry.path();
        // Not followed: a link to a folder is not a folder we made.
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if !meta.is_dir() || owner_uid(&meta) != Some(me) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(path.join(OWNER_MARKER)) else { continue };
        if Owner::parse(&text).is_some_and(|o| o.is_gone()) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// The user this process runs as: the owner of its own /proc entry.
fn user_id() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().as_ref().and_then(owner_uid)
}

#[cfg(unix)]
fn owner_uid(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.uid())
}

#[cfg(not(unix))]
fn owner_uid(_: &std::fs::Metadata) -> Option<u32> {
    None
}

/// When process `pid` started, in clock ticks since boot (`/proc/PID/stat` field 22); `None`
/// when no such process runs (or off Linux).
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// This boot's random id (Linux).
fn boot_id() -> Option<String> {
    Some(std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?.trim().to_owned())
}

/// A command for a child of the fleet: its own process group, so a Ctrl-C in the terminal reaches
/// the controller only and the controller stops the children in order; killed if dropped; and on
/// Linux killed by the kernel if the controller dies without a chance to clean up (SIGKILL).
fn child_command(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    die_with_parent(&mut cmd);
    cmd
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only calls prctl, which is
    // async-signal-safe. The signal is tied to the spawning thread: a tokio worker thread, which
    // lives as long as the runtime, that is as long as the controller.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

async fn start_agent(
    binary: &Path,
    dir: &Path,
    index: usize,
    server_name: String,
    identity: Issued,
) -> Result<LocalAgent, FleetError> {
    let fail = |detail: String| FleetError::AgentStart { index, detail };
    let (cert, key) = (dir.join(format!("agent-{index}.pem")), dir.join(format!("agent-{index}.key")));
    std::fs::write(&cert, &identity.cert_pem)
        .map_err(|e| fail(format!("cannot write {}: {e}", cert.display())))?;
    write_private(&key, &identity.key_pem)?;
    let log = dir.join(format!("agent-{index}.log"));
    let log_file =
        std::fs::File::create(&log).map_err(|e| fail(format!("cannot create {}: {e}", log.display())))?;
    let mut child = child_command(binary)
        .args(["--listen", "127.0.0.1:0", "--exit-on-stdin-close"])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .arg("--tls-client-ca")
        .arg(dir.join("ca.pem"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", binary.display())))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    let read = tokio::time::timeout(AGENT_START_TIMEOUT, stdout.read_line(&mut line)).await;
    let addr = match read {
        Ok(Ok(n)) if n > 0 => line
            .trim()
            .rsplit_once("listening on ")
            .and_then(|(_, addr)| addr.parse::<SocketAddr>().ok())
            .ok_or_else(|| fail(format!("unexpected first line {:?}", line.trim())))?,
        Ok(_) => return Err(fail(format!("it exited: {}", log_tail(&log)))),
        Err(_) => return Err(fail(format!("no address within {AGENT_START_TIMEOUT:?}: {}", log_tail(&log)))),
    };
    Ok(LocalAgent { addr, server_name, child, log, _stdin: stdin, _stdout: stdout })
}

/// The redis-server arguments that apply `[cache]`.
pub fn redis_args(cache: &crate::scenario::CacheConfig) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(bytes) = cache.maxmemory_bytes {
        args.extend(["--maxmemory".to_owned(), bytes.to_string()]);
    }
    if let Some(policy) = &cache.policy {
        args.extend(["--maxmemory-policy".to_owned(), policy.clone()]);
    }
    args
}

async fn start_redis(dir: &Path, ip: IpAddr, extra: &[String]) -> Result<LocalRedis, FleetError> {
    let redis_dir = dir.join("redis");
    std::fs::create_dir_all(&redis_dir).map_err(|e| FleetError::RedisStart(e.to_string()))?;
    let log = redis_dir.join("redis.log");
    let mut last_error = String::new();
    for _ in 0..REDIS_PORT_ATTEMPTS {
        let port = free_port(ip).map_err(|e| FleetError::RedisStart(format!("no free port on {ip}: {e}")))?;
        let spawned = child_command(Path::new("redis-server"))
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                &ip.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            // Protected mode refuses every client but loopback ones; on another address the user
            // asked for agents elsewhere to reach it.
            .args(["--protected-mode", if ip.is_loopback() { "yes" } else { "no" }])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .args(extra)
            .arg("--dir")
            .arg(&redis_dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(FleetError::RedisMissing),
            Err(e) => return Err(FleetError::RedisStart(format!("cannot run redis-server: {e}"))),
        };
        let deadline = tokio::time::Instant::now() + REDIS_START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                last_error = format!("it exited with {status}: {}", log_tail(&log));
                break;
            }
            if ping(ip, port).await {
                return Ok(LocalRedis { url: format!("redis://{}", SocketAddr::new(ip, port)), child });
            }
            if tokio::time::Instant::now() > deadline {
                let _ = child.kill().await;
                return Err(FleetError::RedisStart(format!(
                    "no answer to PING on port {port} within {REDIS_START_TIMEOUT:?}: {}",
                    log_tail(&log)
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Err(FleetError::RedisStart(last_error))
}

/// True when a Redis on `ip:port` answers PING.
async fn ping(ip: IpAddr, port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((ip, port)).await else { return false };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    let read = tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut buf)).await;
    matches!(read, Ok(Ok(_))) && &buf == b"+PONG\r\n"
}

/// A port that was free a moment ago on `ip`.
fn free_port(ip: IpAddr) -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind((ip, 0))?.local_addr()?.port())
}

/// The last few lines of a log file, on one line.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    if tail.is_empty() { "(no output)".to_owned() } else { tail }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A pid no process has any longer: a child that ran and was reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().expect("true runs");
        let pid = child.id();
        child.wait().expect("true ends");
        pid
    }

    fn folder(root: &Path, name: &str, marker: Option<&Owner>) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join("result.json"), "{}").expect("a file inside");
        if let Some(owner) = marker {
            std::fs::write(dir.join(OWNER_MARKER), owner.to_text()).expect("marker");
        }
        dir
    }

    #[test]
    fn the_sweep_removes_only_marked_folders_of_controllers_that_are_gone() {
        let root = tempfile::tempdir().expect("tempdir");
        let me = Owner::current().expect("this process is described on Linux");
        let dead = Owner { pid: dead_pid(), ..me.clone() };
        let reused = Owner { started: me.started + 1, ..me.clone() };
        let other_boot = Owner { boot: "another-boot".into(), ..dead.clone() };

        // A user's folders that merely look like ours: never touched, marker or not.
        let users = folder(root.path(), "fetchbench-2025-12-results", None);
        let named = folder(root.path(), "fetchbench-20261206-seed", None);
        let digits = folder(root.path(), &format!("fetchbench-{}-abc", dead.pid), None);
        // Ours, of a controller that still runs, or of another boot: kept.
        let live = folder(root.path(), &format!("fetchbench-{}-live", me.pid), Some(&me));
        let old_boot = folder(root.path(), "fetchbench-1-boot", Some(&other_boot));
        // A link to a marked folder is not a folder we made.
        let target = folder(root.path(), "elsewhere", Some(&dead));
        let link = root.path().join("fetchbench-2-link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        // Ours, of a controller that is gone (or whose pid now belongs to another process).
        let stale = folder(root.path(), &format!("fetchbench-{}-stale", dead.pid), Some(&dead));
        let stale_reused = folder(root.path(), "fetchbench-3-reused", Some(&reused));

        sweep_stale_dirs(root.path());

        for kept in [&users, &named, &digits, &live, &old_boot, &target] {
            assert!(kept.join("result.json").is_file(), "{} was removed", kept.display());
        }
        assert!(link.exists(), "the link was removed");
        assert!(!stale.exists(), "{} is left", stale.display());
        assert!(!stale_reused.exists(), "{} is left", stale_reused.display());
    }

    #[test]
    fn an_owner_reads_back_as_written() {
        let me = Owner::current().expect("this process is described on Linux");
        assert_eq!(Owner::parse(&me.to_text()), Some(me.clone()));
        assert!(!me.is_gone(), "this process is alive");
        assert_eq!(Owner::parse("pid=12\nboot=x\n"), None, "no start time");
    }
}
