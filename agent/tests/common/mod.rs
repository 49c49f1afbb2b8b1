//! Helpers for agent tests: a real redis-server on a free port and an in-process agent on
//! 127.0.0.1:0, both stopped when dropped.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fetchbench_proto as pb;
use fetchbench_proto::agent_client::AgentClient;
use tonic::transport::Channel;

/// A redis-server child with persistence off.
pub struct Redis {
    pub port: u16,
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Redis {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kill it (as a crash would).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Start redis-server on a free port and wait until it answers.
pub fn spawn_redis() -> Redis {
    spawn_redis_with(|port| vec!["--port".into(), port.to_string()])
}

/// Start redis-server with the arguments `args(port)` returns (which must make it listen on
/// `port`), persistence off, in a folder of its own, and wait until the port accepts.
pub fn spawn_redis_with(args: impl Fn(u16) -> Vec<String>) -> Redis {
    let dir = tempfile::tempdir().expect("temporary folder");
    for _ in 0..5 {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let mut child = Command::new("redis-server")
            .args(args(port))
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .current_dir(dir.path())
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if child.try_wait().expect("try_wait").is_some() {
                break; // port taken meanwhile: try another
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Redis { port, child, dir };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("redis-server did not start");
}

/// An agent served in-process on a free port.
pub struct Agent {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Agent {
    pub async fn client(&self) -> AgentClient<Channel> {
        AgentClient::connect(format!("http://{}", self.addr)).await.expect("agent accepts connections")
    }

    /// Shut the server down and wait for it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

pub async fn spawn_agent() -> Agent {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        fetchbench_agent::serve(listener, async {
            let _ = stopped.await;
        })
        .await
        .expect("agent serves");
    });
    Agent { addr, stop: Some(stop), task }
}

/// The tutorial's dataset.
pub fn seed_dataset() -> pb::Dataset {
    pb::Dataset { objects: 200, size_min_bytes: 235, size_max_bytes: 434, seed: 1, ..Default::default() }
}

pub fn prepare_redis(url: &str, seed_data: bool) -> pb::PrepareRequest {
    pb::PrepareRequest {
        redis: Some(pb::RedisTarget {
            url: url.to_owned(),
            key_prefix: "fetchbench:".into(),
            cluster: false,
        }),
        s3: None,
        dataset: Some(seed_dataset()),
        seed_data,
        cold_cache: false,
        s3_express: None,
    }
}

/// A Redis GET workload.
pub fn redis_workload(name: &str, concurrency: u32, requests: u64, duration_ms: u64) -> pb::Workload {
    pb::Workload {
        name: name.to_owned(),
        target: pb::Target::Redis.into(),
        concurrency,
        requests,
        duration_ms,
        warmup_requests: 0,
        warmup_ms: 0,
        keys: None,
        timeout_ms: 1_000,
        seed: 7,
        ..Default::default()
    }
}

/// Every event of a Run stream, to its end.
pub async fn collect(
    client: &mut AgentClient<Channel>,
    request: pb::RunRequest,
) -> Result<Vec<pb::run_event::Event>, tonic::Status> {
    let mut stream = client.run(request).await?.into_inner();
    let mut events = Vec::new();
    while let Some(e) = stream.message().await? {
        events.extend(e.event);
    }
    Ok(events)
}

/// Poll Hello until the agent reports `state`, for at most `within`.
pub async fn wait_for_state(
    client: &mut AgentClient<Channel>,
    state: pb::AgentState,
    within: Duration,
) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let reply = client.hello(pb::HelloRequest::default()).await.expect("hello").into_inner();
        if reply.state() == state {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
