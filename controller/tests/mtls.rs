//! Mutual TLS between the controller and a real `fetchbench-agent` process: the agent answers a
//! client holding a certificate from its fleet's authority, and refuses a plaintext client, a
//! TLS client without a certificate, and one whose certificate another authority signed.

use std::time::Duration;

use fetchbench::fleet::local::{LocalFleet, LocalPlan, default_agent_binary};
use fetchbench::fleet::tls::{Authority, ClientTls};
use fetchbench_proto as pb;
use fetchbench_proto::agent_client::AgentClient;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

async fn one_agent() -> LocalFleet {
    let plan = LocalPlan {
        agents: 1,
        redis: false,
        redis_cache: Default::default(),
        s3: false,
        agent_binary: default_agent_binary(),
        serve_on: std::net::Ipv4Addr::LOCALHOST.into(),
    };
    LocalFleet::start(&plan).await.expect("a local agent starts")
}

/// Hello through `endpoint`; the error text when the agent (or the handshake) refused it.
async fn hello(endpoint: Endpoint) -> Result<pb::HelloReply, String> {
    let endpoint = endpoint.connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(5));
    let channel = endpoint.connect().await.map_err(|e| fetchbench::support::error_chain(&e))?;
    AgentClient::new(channel)
        .hello(pb::HelloRequest::default())
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| format!("{:?}: {}", s.code(), fetchbench::support::error_chain(&s)))
}

/// The refusal was about the client: the agent is up and answers its own controller.
async fn still_answers_its_controller(fleet: &mut LocalFleet) {
    let config = fleet.tls.config(&fleet.agents[0].server_name);
    hello(https(fleet, config)).await.expect("the agent still answers its controller");
    fleet.shutdown().await;
}

/// The agent refuses `endpoint`'s client certificate during the handshake, with `alert`. Under
/// TLS 1.3 the client finishes its half of the handshake before the server checks its certificate,
/// so a request may see the connection closed or reset before it reads the alert: every try must
/// fail that way, and at least one of 20 must read the alert itself.
async fn assert_tls_refusal(endpoint: Endpoint, alert: &str) {
    assert_refused(endpoint, &format!("received fatal alert: {alert}")).await;
}

/// Every one of 20 tries is refused, with `wanted` in the error or the connection cut, and at
/// least one says `wanted`.
async fn assert_refused(endpoint: Endpoint, wanted: &str) {
    let mut seen = Vec::new();
    for _ in 0..20 {
        let err = hello(endpoint.clone()).await.expect_err("the client must be refused");
        if err.contains(wanted) {
            return;
        }
        let cut = ["connection closed", "broken pipe", "connection reset"].iter().any(|c| err.contains(c));
        assert!(cut, "not a TLS refusal: {err}");
        seen.push(err);
    }
    panic!("no try said {wanted:?}: {seen:#?}");
}

fn https(fleet: &LocalFleet, tls: ClientTlsConfig) -> Endpoint {
    Endpoint::from_shared(format!("https://{}", fleet.agents[0].addr))
        .expect("uri")
        .tls_config(tls)
        .expect("tls")
}

#[tokio::test]
async fn agent_answers_its_fleets_controller() {
    let mut fleet = one_agent().await;
    let config = fleet.tls.config(&fleet.agents[0].server_name);
    let reply = hello(https(&fleet, config)).await.expect("hello over mutual TLS");
    assert_eq!(reply.agent_version, env!("CARGO_PKG_VERSION"));
    fleet.shutdown().await;
}

#[tokio::test]
async fn agent_refuses_plaintext_clients() {
    let mut fleet = one_agent().await;
    let plain = Endpoint::from_shared(format!("http://{}", fleet.agents[0].addr)).expect("uri");
    // The agent answers the HTTP/2 preface with TLS: to the plaintext client, a frame of a size
    // that makes no sense (unless it sees the connection closed first).
    assert_refused(plain, "frame with invalid size").await;
    still_answers_its_controller(&mut fleet).await;
}

#[tokio::test]
async fn agent_refuses_tls_clients_without_a_certificate() {
    let mut fleet = one_agent().await;
    let ca = std::fs::read_to_string(fleet.dir().join("ca.pem")).expect("the fleet's CA certificate");
    let no_cert = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name(fleet.agents[0].server_name.clone());
    assert_tls_refusal(https(&fleet, no_cert), "CertificateRequired").await;
    still_answers_its_controller(&mut fleet).await;
}

#[tokio::test]
async fn agent_refuses_certificates_from_another_authority() {
    let mut fleet = one_agent().await;
    let ca = std::fs::read_to_string(fleet.dir().join("ca.pem")).expect("the fleet's CA certificate");
    let other = Authority::generate("other").expect("another CA");
    // Trusts the agent's authority (so the server side of the handshake succeeds) but presents a
    // certificate the agent's authority never signed.
    let stranger = ClientTls::new(ca, other.issue_client().expect("client cert"));
    assert_tls_refusal(https(&fleet, stranger.config(&fleet.agents[0].server_name)), "UnknownCA").await;
    still_answers_its_controller(&mut fleet).await;
}

#[tokio::test]
async fn controller_refuses_an_agent_its_authority_did_not_sign() {
    let mut fleet = one_agent().await;
    let other = Authority::generate("other").expect("another CA");
    let other_client = ClientTls::new(other.cert_pem().to_owned(), other.issue_client().expect("client"));
    let err = hello(https(&fleet, other_client.config(&fleet.agents[0].server_name)))
        .await
        .expect_err("the controller must not trust an agent signed by another CA");
    assert!(err.contains("certificate") || err.contains("UnknownIssuer"), "unexpected error: {err}");
    fleet.shutdown().await;
}

#[test]
fn agent_will_not_start_without_tls() {
    let out = std::process::Command::new(default_agent_binary())
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .expect("fetchbench-agent runs");
    assert_eq!(out.status.code(), Some(2), "it must refuse to start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls-cert"), "{err}");
}
