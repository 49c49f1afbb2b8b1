//! The controller's connection to one agent: mutual TLS, HTTP/2 keep-alive, and the Hellos that
//! estimate the agent's clock offset.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use fetchbench_proto as pb;
use fetchbench_proto::agent_client::AgentClient;
use fetchbench_proto::wire::{KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT, unix_ns};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

/// Longest wait for an agent to accept a connection or answer Hello.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Hellos per agent to estimate its clock offset; the one with the shortest round trip counts.
const CLOCK_PROBES: usize = 5;

/// An agent could not be reached or did not answer Hello.
#[derive(Debug, thiserror::Error)]
#[error("{agent} ({address}): hello failed: {detail}")]
pub struct HelloError {
    /// Agent id.
    pub agent: String,
    /// Its address.
    pub address: String,
    /// What the network or the agent said.
    pub detail: String,
}

/// An agent's clock against the controller's.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Agent clock minus controller clock, nanoseconds.
    pub offset_ns: i64,
    /// Round trip of the Hello the estimate came from.
    pub rtt: Duration,
}

/// Connect to an agent over mutual TLS, say hello a few times, and estimate its clock offset from
/// the Hello with the shortest round trip (its midpoint is the best guess of when the agent read
/// its clock).
pub async fn connect(
    id: &str,
    addr: SocketAddr,
    tls: ClientTlsConfig,
) -> Result<(AgentClient<Channel>, pb::HelloReply, Clock), HelloError> {
    let fail = |detail: String| HelloError { agent: id.to_owned(), address: addr.to_string(), detail };
    let endpoint = Endpoint::from_shared(format!("https://{addr}"))
        .map_err(|e| fail(e.to_string()))?
        .tls_config(tls)
        .map_err(|e| fail(format!("bad TLS configuration: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    // connect_timeout bounds the TCP connect only: a process that accepts (the kernel does it for
    // a stopped one) but never answers the TLS handshake would be waited on forever.
    let channel = tokio::time::timeout(CONNECT_TIMEOUT, endpoint.connect())
        .await
        .map_err(|_| fail(format!("no TLS handshake within {CONNECT_TIMEOUT:?}")))?
        .map_err(|e| fail(format!("cannot connect: {}", crate::support::error_chain(&e))))?;
    let mut client = AgentClient::new(channel);
    let mut best: Option<(pb::HelloReply, Clock)> = None;
    for _ in 0..CLOCK_PROBES {
        let sent = SystemTime::now();
        let request = pb::HelloRequest { controller_time_unix_ns: unix_ns(sent) };
        let hello = tokio::time::timeout(CONNECT_TIMEOUT, client.hello(request))
            .await
            .map_err(|_| fail(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|s| fail(s.message().to_owned()))?
            .into_inner();
        let received = SystemTime::now();
        let rtt = received.duration_since(sent).unwrap_or_default();
        let midpoint = unix_ns(sent) + (rtt.as_nanos() / 2) as i64;
        let clock = Clock { offset_ns: hello.agent_time_unix_ns - midpoint, rtt };
        if best.as_ref().is_none_or(|(_, b)| rtt < b.rtt) {
            best = Some((hello, clock));
        }
    }
    let (hello, clock) = best.expect("at least one probe");
    Ok((client, hello, clock))
}
