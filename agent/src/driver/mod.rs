//! One driver per target and in-flight slot: each worker holds its own and calls
//! [`Driver::fetch`] with an object index; the engine times the call and applies the timeout.

pub mod cache_aside;
pub mod direct;
pub mod redis;
pub mod s3;

use tokio::time::Instant;

use crate::outcome::Sample;

pub use self::cache_aside::CacheAsideDriver;
pub use self::redis::RedisDriver;
pub use self::s3::S3Driver;

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read the object.
    Get,
    /// Write the object (Redis SET of its dataset bytes).
    Set,
    /// Cache-aside: write a new version of the object to S3, then invalidate or update the
    /// cached copy.
    Write,
}

/// A connection to one target, ready to fetch objects by index.
#[derive(Debug)]
pub enum Driver {
    /// Redis GET (or SET).
    Redis(RedisDriver),
    /// S3 GetObject.
    S3(S3Driver),
    /// Redis GET, filled from S3 on a miss.
    CacheAside(CacheAsideDriver),
}

impl Driver {
    /// Run `op` on object `index` and say how it went.
    pub async fn fetch(&mut self, op: Op, index: u64) -> Sample {
        match (self, op) {
            (Driver::Redis(d), Op::Get) => d.get(index).await,
            (Driver::Redis(d), _) => d.set(index).await,
            (Driver::S3(d), _) => d.get_object(index).await.0,
            (Driver::CacheAside(d), Op::Write) => d.write(index).await,
            (Driver::CacheAside(d), _) => d.read(index).await,
        }
    }

    /// After a request was timed: what only a version-tracked cache-aside workload does then
    /// (record a write's version as committed; judge a read's freshness). Other drivers return
    /// `sample` as it is.
    pub async fn settle(&mut self, index: u64, sample: Sample) -> Sample {
        match self {
            Driver::CacheAside(d) => d.settle(index, sample).await,
            _ => sample,
        }
    }

    /// Run a batch of requests and push each one's outcome and the instant it ended onto
    /// `replies`, in order, as they come: Redis pipelines them (all sent at once, then the
    /// replies read); the other targets have no pipelining and run them one after another.
    /// When the future is dropped part way (a timeout), `replies` holds those that ended.
    pub async fn fetch_batch(&mut self, batch: &[(Op, u64)], replies: &mut Vec<(Sample, Instant)>) {
        if let Driver::Redis(d) = self {
            return d.pipeline(batch, replies).await;
        }
        for &(op, index) in batch {
            let sample = self.fetch(op, index).await;
            replies.push((sample, Instant::now()));
        }
    }
}
