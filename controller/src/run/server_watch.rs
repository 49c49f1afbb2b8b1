//! The server's own view while a workload runs: Redis INFO, read through one agent (which reaches
//! the cache where the controller may not: ElastiCache answers inside its VPC only) just before
//! the workload's first request, once an interval during it, and just after its last.

use std::time::Duration;

use fetchbench_proto as pb;
use fetchbench_proto::agent_client::AgentClient;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use std::sync::Arc;

use crate::render::live::LiveMetrics;
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
}

/// Readings in progress.
pub struct Watch {
    client: AgentClient<Channel>,
    first: Instant,
    stop: CancellationToken,
    task: JoinHandle<Vec<(Instant, Info)>>,
}

impl Watch {
    /// Read the server's INFO through `client` now, then once every `interval` until
    /// [`Watch::finish`], each sample also published to `live` under the workload's name. `None`
    /// when the first reading fails (said on stderr, with `agent`'s name): the workload then runs
    /// without the server's view.
    pub async fn start(
        client: AgentClient<Channel>,
        agent: &str,
        interval: Duration,
        live: Option<(Arc<LiveMetrics>, String)>,
    ) -> Option<Watch> {
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
        Some(Watch { client, first: start, stop, task })
    }

    /// Stop, read once more, and return the readings as (seconds since the first, INFO).
    pub async fn finish(self) -> Vec<(f64, Info)> {
        self.stop.cancel();
        let mut readings = self.task.await.unwrap_or_default();
        if let Ok(info) = read(&self.client).await {
            readings.push((Instant::now(), info));
        }
        readings.into_iter().map(|(at, info)| ((at - self.first).as_secs_f64(), info)).collect()
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
