//! `--metrics-listen`: the run's live metrics served over HTTP for Prometheus to scrape, for the
//! run's length.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::render::live::{CONTENT_TYPE, LiveMetrics};

/// The metrics endpoint, serving until dropped.
pub struct MetricsServer {
    /// What it serves; the run feeds it.
    pub live: Arc<LiveMetrics>,
    /// Where it listens.
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// Serve `GET /metrics` (any other path: 404) on `listener`, bound where the command line
    /// said.
    pub fn start(listener: &std::net::TcpListener) -> std::io::Result<MetricsServer> {
        let listener = listener.try_clone()?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = TcpListener::from_std(listener)?;
        let live = Arc::new(LiveMetrics::default());
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let (live, stop) = (live.clone(), stop.clone());
            async move {
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let socket = tokio::select! {
                        () = stop.cancelled() => break,
                        accepted = listener.accept() => match accepted {
                            Ok((socket, _)) => socket,
                            Err(_) => continue,
                        },
                    };
                    let live = live.clone();
                    let service = hyper::service::service_fn(move |request| answer(live.clone(), request));
                    let conn = http.serve_connection(TokioIo::new(socket), service).into_owned();
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = conn => {}
                            () = stop.cancelled() => {}
                        }
                    });
                }
            }
        });
        Ok(MetricsServer { live, addr, stop, task })
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.cancel();
        self.task.abort();
    }
}

async fn answer(
    live: Arc<LiveMetrics>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if request.uri().path() == "/metrics" {
        Response::builder().header("content-type", CONTENT_TYPE).body(Full::new(Bytes::from(live.render())))
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"fetchbench serves its metrics at /metrics\n")))
    };
    Ok(response.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}
