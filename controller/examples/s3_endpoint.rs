//! The embedded S3 endpoint of local runs, on its own: serves the buckets under a directory on a
//! free 127.0.0.1 port until standard input closes, so that a client other than fetchbench (the
//! benchmark's boto3 script) can read the same objects from the same server as the agents.
//!
//!     cargo run --release --example s3_endpoint -- DIR
//!
//! Prints one line of JSON: `{"endpoint_url": ..., "access_key_id": ..., "secret_access_key": ...}`.

use std::path::PathBuf;

use anyhow::Context;
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(std::env::args().nth(1).context("usage: s3_endpoint DIR")?);
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let s3 = fetchbench::fleet::embedded_s3::EmbeddedS3::start(&root, std::net::Ipv4Addr::LOCALHOST.into())
        .await
        .context("cannot start the endpoint")?;
    let line = serde_json::json!({
        "endpoint_url": s3.endpoint_url(),
        "access_key_id": s3.access_key(),
        "secret_access_key": s3.secret_key(),
    });
    println!("{line}");
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
    s3.shutdown().await;
    Ok(())
}
