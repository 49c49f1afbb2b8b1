//! Cache-aside reads, as an application does them: GET from Redis; on a miss, GetObject from S3,
//! then SET the value into Redis with a TTL. The sample carries the hit or miss and the time spent
//! in each store.

use std::time::{Duration, Instant};

use crate::driver::redis::{RedisDriver, classify};
use crate::driver::s3::S3Driver;
use crate::outcome::{CacheParts, Outcome, Sample};
use crate::verify::Digest;

/// One slot's cache-aside read path.
#[derive(Debug)]
pub struct CacheAsideDriver {
    redis: RedisDriver,
    s3: S3Driver,
    ttl: Option<Duration>,
    /// Hash the value the application gets, for the engine to check.
    verify: bool,
}

impl CacheAsideDriver {
    /// Read through `redis`, falling back to `s3`, writing back with `ttl` (`None`: no expiry);
    /// with `verify`, the sample carries the digest of the value read.
    pub fn new(redis: RedisDriver, s3: S3Driver, ttl: Option<Duration>, verify: bool) -> Self {
        CacheAsideDriver { redis, s3, ttl, verify }
    }

    /// Read object `index` through the cache.
    pub async fn read(&mut self, index: u64) -> Sample {
        let start = Instant::now();
        match self.redis.get_value(index).await {
            Ok(Some(value)) => {
                let parts = CacheParts { hit: true, redis: start.elapsed(), s3: None };
                let digest = self.verify.then(|| Digest::of(&value));
                return Sample { cache: Some(parts), body: digest, ..Sample::OK };
            }
            Ok(None) => {}
            Err(e) => return Sample::failed(classify(&e)),
        }
        let get_done = Instant::now();
        let (fetched, body): (Sample, Option<Vec<u8>>) = self.s3.get_object(index).await;
        let s3_done = Instant::now();
        let parts = |redis| CacheParts { hit: false, redis, s3: Some(s3_done - get_done) };
        let Some(body) = body else {
            return Sample { cache: Some(parts(get_done - start)), ..fetched };
        };
        // The application has its object, but a cache that refuses writes (full, read-only
        // replica) is what this workload is there to reveal: count it.
        let outcome = match self.redis.set_value(index, &body, self.ttl).await {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(classify(&e)),
        };
        let redis = (get_done - start) + s3_done.elapsed();
        let digest = self.verify.then(|| Digest::of(&body));
        Sample { outcome, ttfb: fetched.ttfb, cache: Some(parts(redis)), busy_polled: false, body: digest }
    }
}
