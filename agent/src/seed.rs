//! Writing the dataset to the targets before a run: S3 PutObject with many requests in flight
//! (creating the bucket when it is missing) and Redis SET in pipelined batches.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use futures_util::{StreamExt, TryStreamExt};

use fetchbench_proto::dataset::Generator;
use fetchbench_proto::redact::{redact_in, redact_url};

use crate::driver::cache_aside::register_key;
use crate::driver::redis::{ConnectError, RedisTarget};
use crate::driver::s3::S3Target;

/// PutObject requests in flight while seeding.
const S3_PUTS_IN_FLIGHT: usize = 32;
/// SET commands in flight while seeding (the connection pipelines them).
const REDIS_SETS_IN_FLIGHT: usize = 128;
/// Longest a single seeding request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why seeding failed; the message names the target and what it said.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The bucket could not be checked or created.
    #[error("s3 bucket {bucket}: {detail}")]
    Bucket {
        /// Bucket name.
        bucket: String,
        /// What went wrong.
        detail: String,
    },
    /// An object could not be written to S3.
    #[error("s3 put of {key} into bucket {bucket}: {detail}")]
    S3Put {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
        /// What went wrong.
        detail: String,
    },
    /// Redis could not be reached or logged into.
    #[error(transparent)]
    Connect(ConnectError),
    /// Redis refused the writes.
    #[error("redis at {url}: {detail}")]
    Redis {
        /// Redis URL, redacted.
        url: String,
        /// What went wrong.
        detail: String,
    },
}

/// Objects and bytes written to each target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Objects written.
    pub objects: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// An S3 SDK error on one line: each cause's own text, outermost first (`dispatch failure: io:
/// client error (Connect): tcp connect error: Connection refused (os error 111)`), without the
/// debug dump of the request that the SDK's `DisplayErrorContext` ends in; and what to do when
/// no credentials were found.
fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        let text = c.to_string().lines().next().unwrap_or_default().trim().to_owned();
        if !text.is_empty() && !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = c.source();
    }
    let line = parts.join(": ");
    if line.contains("loading credentials") || line.contains("no credentials found") {
        return "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or \
                AWS_PROFILE) for this endpoint"
            .to_owned();
    }
    line
}

/// Make sure the bucket exists, creating it when the endpoint says it does not. A directory
/// bucket (S3 Express One Zone) is created only when `create_directory` (while seeding, in the
/// zone its name gives): otherwise its absence is the error, as one a reader has to fix.
pub async fn ensure_bucket(s3: &S3Target, create_directory: bool) -> Result<(), SeedError> {
    let bucket = s3.bucket();
    let fail = |detail: String| SeedError::Bucket { bucket: bucket.to_owned(), detail };
    match s3.control().head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
            if s3.is_express() && !create_directory {
                return Err(fail(
                    "directory bucket not found (S3 Express One Zone); create it, or let fetchbench \
                     seed the dataset, which creates it"
                        .to_owned(),
                ));
            }
            s3.control()
                .create_bucket()
                .bucket(bucket)
                .set_create_bucket_configuration(s3.create_configuration())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| fail(format!("create failed: {}", one_line(&e))))
        }
        Err(e) => Err(fail(one_line(&e))),
    }
}

/// Write every object of `dataset` to the given targets (S3 buckets: general purpose and
/// directory); with `cold_cache`, to S3 only, and remove the objects from Redis instead.
pub async fn seed(
    dataset: &Generator,
    redis: Option<&RedisTarget>,
    buckets: &[&S3Target],
    cold_cache: bool,
) -> Result<Seeded, SeedError> {
    let mut seeded = Seeded::default();
    for s3 in buckets {
        ensure_bucket(s3, true).await?;
        seeded = seed_s3(dataset, s3).await?;
    }
    if let Some(redis) = redis {
        if cold_cache {
            write_redis(dataset, redis, false).await?;
        } else {
            seeded = write_redis(dataset, redis, true).await?;
        }
        forget_versions(dataset, redis).await?;
    }
    Ok(seeded)
}

/// Delete every object of `dataset` from Redis: an empty cache for the next workload. The
/// count of keys deleted (each DEL, whether the key was there or not).
pub async fn empty_redis(dataset: &Generator, redis: &RedisTarget) -> Result<u64, SeedError> {
    write_redis(dataset, redis, false).await.map(|s| s.objects)
}

async fn seed_s3(dataset: &Generator, s3: &S3Target) -> Result<Seeded, SeedError> {
    futures_util::stream::iter(0..dataset.total())
        .map(|i| async move {
            let body = dataset.body(i);
            let len = body.len() as u64;
            let key = dataset.key(i);
            let fail = |detail: String| SeedError::S3Put {
                bucket: s3.bucket().to_owned(),
                key: key.clone(),
                detail,
            };
            let put = s3
                .client()
                .put_object()
                .bucket(s3.bucket())
                .key(&key)
                .content_type("text/plain")
                .body(ByteStream::from(body))
                .send();
            match tokio::time::timeout(REQUEST_TIMEOUT, put).await {
                Ok(Ok(_)) => Ok(len),
                Ok(Err(e)) => Err(fail(one_line(&e))),
                Err(_) => Err(fail(format!("no answer within {REQUEST_TIMEOUT:?}"))),
            }
        })
        .buffer_unordered(S3_PUTS_IN_FLIGHT)
        .try_fold(Seeded::default(), |acc, len| async move {
            Ok(Seeded { objects: acc.objects + 1, bytes: acc.bytes + len })
        })
        .await
}

/// Delete every object's version register: the objects just written are version 0 again, and
/// versions an earlier run wrote must not make their reads look stale.
async fn forget_versions(dataset: &Generator, redis: &RedisTarget) -> Result<(), SeedError> {
    each_object(dataset, redis, |i| {
        let mut del = redis::cmd("DEL");
        del.arg(register_key(redis.key(i)));
        (del, 0)
    })
    .await
    .map(|_| ())
}

/// SET every object (`set`) or DEL every object's key (not `set`).
async fn write_redis(dataset: &Generator, redis: &RedisTarget, set: bool) -> Result<Seeded, SeedError> {
    each_object(dataset, redis, |i| {
        if set {
            let body = dataset.body(i);
            let len = body.len() as u64;
            let mut cmd = redis::cmd("SET");
            cmd.arg(redis.key(i)).arg(body);
            (cmd, len)
        } else {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(redis.key(i));
            (cmd, 0)
        }
    })
    .await
}

/// Send `command(i)` for every object `i` of `dataset`, many in flight; each gives the command
/// and the bytes it writes. One command per object rather than a pipeline: in a cluster the
/// keys live on different shards.
async fn each_object(
    dataset: &Generator,
    redis: &RedisTarget,
    command: impl Fn(u64) -> (redis::Cmd, u64),
) -> Result<Seeded, SeedError> {
    let fail = |detail: String| SeedError::Redis {
        url: redact_url(redis.url()),
        detail: redact_in(&detail, redis.url()),
    };
    let conn = redis.connect().await.map_err(|e| SeedError::Connect(ConnectError::new(redis.url(), &e)))?;
    futures_util::stream::iter(0..dataset.total())
        .map(|i| {
            let mut conn = conn.clone();
            let (cmd, len) = command(i);
            async move {
                match tokio::time::timeout(REQUEST_TIMEOUT, cmd.query_async::<()>(&mut conn)).await {
                    Ok(Ok(())) => Ok(len),
                    Ok(Err(e)) => Err(fail(e.to_string())),
                    Err(_) => Err(fail(format!("no answer within {REQUEST_TIMEOUT:?}"))),
                }
            }
        })
        .buffer_unordered(REDIS_SETS_IN_FLIGHT)
        .try_fold(Seeded::default(), |acc, len| async move {
            Ok(Seeded { objects: acc.objects + 1, bytes: acc.bytes + len })
        })
        .await
}
