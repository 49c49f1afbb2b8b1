//! The server's own view while a workload runs: Redis INFO, read through one agent (which reaches
//! the cache where the controller may not: ElastiCache answers inside its VPC only) just before
//! the workload's first request, once an interval during it, and just after its last.

use std::sync::Arc;
use std::time::Duration;

use fetchbench_proto as pb;
use fetchbench_proto::agent_client::AgentClient;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use super::request::INTERVAL;
use crate::render::live::LiveMetrics;
use crate::results::schema::{AgentResult, ServerMetrics};
use crate::results::server::{self, Info};

/// Longest a reading may take; the agent gives Redis 2 s of it.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// The Redis server a run reads, as the server's view needs it.
#[derive(Clone, Debug)]
pub struct Server {
    /// Its URL, password hidden.
    pub node: String,
    /// A cluster: INFO is one node's, so its GET count is not the workload's.
    pub cluster: bool,
    /// The node's baseline network bandwidth, bytes/s, when its type is known (ElastiCache).
    pub network_baseline_bytes_s: Option<f64>,
}

/// Readings in progress.
pub struct Watch {
    client: AgentClient<Channel>,
    node: String,
    first: Instant,
    stop: CancellationToken,
    task: JoinHandle<Vec<(Instant, Info)>>,
}

impl Watch {
    /// Read `server`'s INFO through `agent` (reached by `client`) now, then once every
    /// [`INTERVAL`] until [`Watch::finish`], each sample also published to `live` under
    /// `workload`. `None` when the first reading fails (said on stderr, naming the agent): the
    /// workload then runs without the server's view.
    pub async fn start(
        server: &Server,
        client: &AgentClient<Channel>,
        agent: &AgentResult,
        live: Option<&Arc<LiveMetrics>>,
        workload: &str,
    ) -> Option<Watch> {
        let (client, agent, interval) = (client.clone(), &agent.id, INTERVAL);
        let live: Option<(Arc<LiveMetrics>, String)> = live.map(|l| (l.clone(), workload.to_owned()));
        let first = match read(&client).await {
            Ok(info) => info,
            Err(e) => {
                eprintln!(
                    "fetchbench: cannot read the Redis server's INFO through {agent} ({e}); \
                     this workload's result has no server figures"
                );
                return None;
            }
        };
        let start = Instant::now();
        let stop = CancellationToken::new();
        let (reader, until) = (client.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut readings = vec![(start, first)];
            let mut tick = tokio::time::interval_at(start + interval, interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = until.cancelled() => return readings,
                    _ = tick.tick() => {}
                }
                let reading = tokio::select! {
                    () = until.cancelled() => return readings,
                    reading = read(&reader) => reading,
                };
                // A reading that fails leaves a longer sample; the next one may succeed.
                if let Ok(info) = reading {
                    let now = Instant::now();
                    if let (Some((live, name)), Some((then, before))) = (&live, readings.last()) {
                        let at = |t: Instant| (t - start).as_secs_f64();
                        live.server(name, server::sample(at(*then), before, at(now), &info));
                    }
                    readings.push((now, info));
                }
            }
        });
        Some(Watch { client, node: server.node.clone(), first: start, stop, task })
    }

    /// Stop, read once more, and make the server's view of the readings, its GET count checked
    /// against `agent_gets` when given.
    pub async fn finish(self, agent_gets: Option<u64>) -> Option<ServerMetrics> {
        self.stop.cancel();
        let mut readings = self.task.await.unwrap_or_default();
        if let Ok(info) = read(&self.client).await {
            readings.push((Instant::now(), info));
        }
        let readings: Vec<(f64, Info)> =
            readings.into_iter().map(|(at, info)| ((at - self.first).as_secs_f64(), info)).collect();
        server::metrics(&self.node, &readings, agent_gets)
    }
}

/// One reading of INFO through the agent.
async fn read(client: &AgentClient<Channel>) -> Result<Info, String> {
    let mut client = client.clone();
    match tokio::time::timeout(READ_TIMEOUT, client.server_info(pb::ServerInfoRequest {})).await {
        Ok(Ok(reply)) => Ok(Info::parse(&reply.into_inner().info)),
        Ok(Err(status)) => Err(status.message().to_owned()),
        Err(_) => Err(format!("no answer within {READ_TIMEOUT:?}")),
    }
}
