//! S3 GetObject through `aws-sdk-s3`, on AWS or on any S3-compatible endpoint. The SDK's own
//! retries are off: a failed request is counted, never silently sent again.
//!
//! An S3 Express One Zone directory bucket (`name--<az id>--x-s3`) goes through the same client:
//! the SDK sees the name, calls CreateSession with the base credentials, caches the session's
//! short-lived credentials and signs each request with them (service `s3express`). Only the
//! bucket-level calls of seeding (HeadBucket, CreateBucket) go without a session, as AWS takes
//! them (its control plane and HeadBucket authenticate the caller's own credentials).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::create_session::CreateSessionError;
use aws_sdk_s3::types::{
    BucketInfo, BucketType, CreateBucketConfiguration, DataRedundancy, LocationInfo, LocationType,
};
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
    /// The bucket is an S3 Express One Zone directory bucket.
    pub express: bool,
}

/// Suffix of every S3 Express One Zone directory bucket's name.
const EXPRESS_SUFFIX: &str = "--x-s3";

/// The availability zone ID in a directory bucket's name (`name--use1-az4--x-s3` gives
/// `use1-az4`); `None` when the name is not one.
pub fn express_zone(bucket: &str) -> Option<&str> {
    let rest = bucket.strip_suffix(EXPRESS_SUFFIX)?;
    let (name, zone) = rest.rsplit_once("--")?;
    (!name.is_empty() && !zone.is_empty()).then_some(zone)
}

/// A bucket, a client for it and the keys of the dataset in it.
#[derive(Clone, Debug)]
pub struct S3Target {
    client: Client,
    /// The same client without S3 Express sessions, for the bucket-level calls of seeding.
    control: Client,
    bucket: Arc<str>,
    /// The bucket is an S3 Express One Zone directory bucket.
    express: bool,
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
            control: Client::from_conf(builder.clone().disable_s3_express_session_auth(true).build()),
            client: Client::from_conf(builder.build()),
            bucket: config.bucket.as_str().into(),
            express: config.express,
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

    /// The client for bucket-level calls (HeadBucket, CreateBucket): the same as [`client`]
    /// except that it never asks for an S3 Express session.
    ///
    /// [`client`]: S3Target::client
    pub fn control(&self) -> &Client {
        &self.control
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Whether the bucket is an S3 Express One Zone directory bucket.
    pub fn is_express(&self) -> bool {
        self.express
    }

    /// What CreateBucket needs for this bucket: for a directory bucket, its zone (from the
    /// name) and type; `None` for a general purpose bucket, or a directory bucket name with no
    /// zone in it.
    pub fn create_configuration(&self) -> Option<CreateBucketConfiguration> {
        let zone = express_zone(&self.bucket).filter(|_| self.express)?;
        let location = LocationInfo::builder().r#type(LocationType::AvailabilityZone).name(zone).build();
        let bucket = BucketInfo::builder()
            .r#type(BucketType::Directory)
            .data_redundancy(DataRedundancy::SingleAvailabilityZone)
            .build();
        Some(CreateBucketConfiguration::builder().location(location).bucket(bucket).build())
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
pub fn classify<E: std::error::Error + 'static>(e: &SdkError<E, HttpResponse>) -> Failure {
    match e {
        SdkError::TimeoutError(_) => Failure::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => Failure::Timeout,
        SdkError::DispatchFailure(d) if d.is_other() => session_failure(e).unwrap_or(Failure::Connection),
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

/// When S3 Express session auth failed (the SDK's CreateSession call, made before the request
/// itself, was refused), the kind of that failure: 404 NoSuchBucket is `not_found`, 403
/// `client_error`, as if the request had been refused. Only on the error path: walks the cause
/// chain, allocates nothing.
fn session_failure(e: &(dyn std::error::Error + 'static)) -> Option<Failure> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(session) = c.downcast_ref::<SdkError<CreateSessionError, HttpResponse>>() {
            return Some(classify(session));
        }
        cause = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_bucket_name_gives_its_zone() {
        assert_eq!(express_zone("fetchbench--use1-az4--x-s3"), Some("use1-az4"));
        assert_eq!(express_zone("a--b--local-az1--x-s3"), Some("local-az1"));
        assert_eq!(express_zone("fetchbench"), None);
        assert_eq!(express_zone("--use1-az4--x-s3"), None);
        assert_eq!(express_zone("fetchbench--x-s3"), None);
    }
}
