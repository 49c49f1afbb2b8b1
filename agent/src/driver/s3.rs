//! S3 GetObject through `aws-sdk-s3`, on AWS or on any S3-compatible endpoint. The SDK's own
//! retries are off: a failed request is counted, never silently sent again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::SdkError;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use fetchbench_proto::dataset::Generator;

use crate::outcome::{Failure, Sample};
use crate::verify::Digest;

/// Region used when neither the request nor the agent's AWS configuration names one.
const FALLBACK_REGION: &str = "us-east-1";

/// Where the objects live and how to reach them; mirrors the proto's `S3Target`.
#[derive(Clone, Debug, Default)]
pub struct S3Config {
    /// Endpoint URL; empty for AWS S3.
    pub endpoint_url: String,
    /// Signing region; empty for the agent's AWS configuration.
    pub region: String,
    /// Bucket name.
    pub bucket: String,
    /// Path-style addressing.
    pub force_path_style: bool,
    /// Static access key; empty for the AWS credential chain.
    pub access_key_id: String,
    /// Secret key paired with `access_key_id`.
    pub secret_access_key: String,
}

/// A bucket, a client for it and the keys of the dataset in it.
#[derive(Clone, Debug)]
pub struct S3Target {
    client: Client,
    bucket: Arc<str>,
    keys: Arc<[String]>,
    /// `bytes=a-b` when workloads read a byte range.
    range: Option<Arc<str>>,
    /// Hash each body read, for the engine to check.
    verify: bool,
}

impl S3Target {
    /// A client for `config` and the keys of the dataset's objects.
    pub async fn new(config: &S3Config, dataset: &Generator) -> Self {
        // rustls on ring, the agent's one TLS backend, instead of the SDK's default (aws-lc).
        let https = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https);
        if !config.region.is_empty() {
            loader = loader.region(Region::new(config.region.clone()));
        }
        if !config.access_key_id.is_empty() {
            loader = loader.credentials_provider(Credentials::new(
                config.access_key_id.clone(),
                config.secret_access_key.clone(),
                None,
                None,
                "fetchbench-static",
            ));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .retry_config(RetryConfig::disabled())
            .force_path_style(config.force_path_style)
            // Checksums cost CPU per request that the tutorial's client never spent, and older
            // S3-compatible servers reject the trailing checksums the SDK sends by default.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if !config.endpoint_url.is_empty() {
            builder = builder.endpoint_url(config.endpoint_url.clone());
        }
        if shared.region().is_none() {
            builder = builder.region(Region::new(FALLBACK_REGION));
        }
        let keys = (0..dataset.total()).map(|i| dataset.key(i)).collect();
        S3Target {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket.as_str().into(),
            keys,
            range: None,
            verify: false,
        }
    }

    /// The same target reading only `length` bytes from `start` of each object.
    pub fn with_range(&self, start: u64, length: u64) -> S3Target {
        let range = (length > 0).then(|| format!("bytes={start}-{}", start + length - 1).into());
        S3Target { range, ..self.clone() }
    }

    /// The same target hashing each body it reads, for `verify`.
    pub fn with_verify(&self, verify: bool) -> S3Target {
        S3Target { verify, ..self.clone() }
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A driver sharing this target's connection pool.
    pub fn driver(&self) -> S3Driver {
        S3Driver { target: self.clone() }
    }
}

/// GetObject of the dataset's objects.
#[derive(Clone, Debug)]
pub struct S3Driver {
    target: S3Target,
}

impl S3Driver {
    /// GetObject of object `index`, reading the body to its end; the sample carries the time to
    /// the first body byte (and the body's digest, to verify), and the body comes back on success.
    pub async fn get_object(&mut self, index: u64) -> (Sample, Option<Vec<u8>>) {
        let t = &self.target;
        let sent = Instant::now();
        let response = t
            .client
            .get_object()
            .bucket(&*t.bucket)
            .key(&t.keys[index as usize])
            .set_range(t.range.as_deref().map(str::to_owned))
            .send()
            .await;
        let mut out = match response {
            Ok(out) => out,
            Err(e) => return (Sample::failed(classify(&e)), None),
        };
        let mut body = Vec::new();
        let mut ttfb: Option<Duration> = None;
        loop {
            match out.body.next().await {
                Some(Ok(chunk)) => {
                    ttfb.get_or_insert_with(|| sent.elapsed());
                    body.extend_from_slice(&chunk);
                }
                Some(Err(_)) => return (Sample::failed(Failure::Connection), None),
                None => break,
            }
        }
        let ttfb = ttfb.unwrap_or_else(|| sent.elapsed());
        let digest = t.verify.then(|| Digest::of(&body));
        (Sample { ttfb: Some(ttfb), body: digest, ..Sample::OK }, Some(body))
    }
}

impl S3Driver {
    /// PutObject of `body` as object `index`: a write's new version.
    pub async fn put_object(&mut self, index: u64, body: Vec<u8>) -> Result<(), Failure> {
        let t = &self.target;
        t.client
            .put_object()
            .bucket(&*t.bucket)
            .key(&t.keys[index as usize])
            .content_type("text/plain")
            .body(body.into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }
}

/// The failure kind of an SDK error, from its shape and, for service errors, the HTTP status.
pub fn classify<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Failure {
    match e {
        SdkError::TimeoutError(_) => Failure::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => Failure::Timeout,
        SdkError::DispatchFailure(_) => Failure::Connection,
        SdkError::ResponseError(_) => Failure::Connection,
        SdkError::ServiceError(s) => match s.raw().status().as_u16() {
            404 => Failure::NotFound,
            429 | 503 => Failure::Throttled,
            500..=599 => Failure::ServerError,
            400..=499 => Failure::ClientError,
            _ => Failure::Other,
        },
        _ => Failure::Other,
    }
}
