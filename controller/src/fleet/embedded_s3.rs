//! The embedded S3-compatible endpoint of local runs: s3s over a directory, served by hyper on a
//! free port (of 127.0.0.1 unless told otherwise) inside the controller process, behind the S3
//! Express session layer ([`super::s3_express`]) so that directory buckets work too.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::s3_express::{ExpressFront, SessionAccess, Sessions};

/// How long open connections get to finish when the endpoint stops.
const GRACE: Duration = Duration::from_secs(2);

/// A running embedded S3 endpoint.
#[derive(Debug)]
pub struct EmbeddedS3 {
    addr: SocketAddr,
    access_key: String,
    secret_key: String,
    sessions: Arc<Sessions>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl EmbeddedS3 {
    /// Serve the buckets under `root` (one directory per bucket) on a free port of `ip`, with
    /// fresh random credentials.
    pub async fn start(root: &Path, ip: IpAddr) -> std::io::Result<EmbeddedS3> {
        let fs = super::s3_store::Store::new(root)?;
        let access_key = random_token("FB");
        let secret_key = random_token("");
        let sessions = Arc::new(Sessions::new(&access_key, root));
        let service = {
            let mut b = S3ServiceBuilder::new(fs);
            b.set_auth(SimpleAuth::from_single(access_key.clone(), secret_key.clone()));
            b.set_access(SessionAccess);
            ExpressFront::new(b.build(), sessions.clone())
        };
        let listener = TcpListener::bind((ip, 0)).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let http = ConnBuilder::new(TokioExecutor::new());
                let graceful = hyper_util::server::graceful::GracefulShutdown::new();
                loop {
                    let socket = tokio::select! {
                        () = stop.cancelled() => break,
                        accepted = listener.accept() => match accepted {
                            Ok((socket, _)) => socket,
                            Err(e) => {
                                tracing::warn!("embedded s3: accept failed: {e}");
                                continue;
                            }
                        },
                    };
                    // Without TCP_NODELAY every small GET waits for the peer's delayed ACK (~40 ms).
                    let _ = socket.set_nodelay(true);
                    let conn = http.serve_connection(TokioIo::new(socket), service.clone());
                    let conn = graceful.watch(conn.into_owned());
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
                let _ = tokio::time::timeout(GRACE, graceful.shutdown()).await;
            }
        });
        Ok(EmbeddedS3 { addr, access_key, secret_key, sessions, stop, task: Some(task) })
    }

    /// `http://IP:PORT`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Access key agents sign with.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// Secret key agents sign with.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// `bucket` on this endpoint as agents are given it: addressed in the path (with an
    /// IP-literal endpoint the SDK addresses directory buckets in the path too), with its keys.
    pub fn target(&self, bucket: &str) -> fetchbench_proto::S3Target {
        fetchbench_proto::S3Target {
            endpoint_url: self.endpoint_url(),
            region: "us-east-1".into(),
            bucket: bucket.to_owned(),
            force_path_style: true,
            access_key_id: self.access_key.clone(),
            secret_access_key: self.secret_key.clone(),
        }
    }

    /// S3 Express sessions (CreateSession calls) issued so far.
    pub fn sessions_issued(&self) -> u64 {
        self.sessions.issued()
    }

    /// Stop serving and wait for the server task to end.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// 32 random alphanumeric characters after `prefix`, from the standard library's randomly keyed
/// hasher (credentials for a loopback endpoint that lives as long as one run).
pub(super) fn random_token(prefix: &str) -> String {
    use std::hash::{BuildHasher, RandomState};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = String::from(prefix);
    for i in 0u64..32 {
        let r = RandomState::new().hash_one(i);
        out.push(ALPHABET[(r % ALPHABET.len() as u64) as usize] as char);
    }
    out
}
