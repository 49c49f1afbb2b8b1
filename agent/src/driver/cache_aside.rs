//! Cache-aside reads, as an application does them: GET from Redis; on a miss, GetObject from S3,
//! then SET the value into Redis with a TTL. The sample carries the hit or miss and the time spent
//! in each store.
//!
//! With writes (`write_share`), a write PUTs a new version of the object to S3 and then
//! invalidates (DEL) or updates (SET) the cached copy, or leaves it. Every version's bytes carry
//! it (see [`Generator::versioned_body`]), so a read knows which version it returned. Once a
//! request is timed, [`CacheAsideDriver::settle`] records a write's version as committed in the
//! object's version register (a Redis list the agents share), and judges a read against it: stale
//! when a newer version was committed before the read started.

use std::time::{Duration, Instant, SystemTime};

use fetchbench_proto::dataset::{Generator, STAMP_LEN};
use fetchbench_proto::wire::unix_ns;

use crate::driver::redis::{RedisDriver, classify};
use crate::driver::s3::S3Driver;
use crate::outcome::{CacheParts, Outcome, Sample};
use crate::verify::Digest;

/// Committed versions a register keeps per object, newest first.
pub const REGISTER_LENGTH: isize = 16;

/// A register's entries joined by commas, in one bulk string.
const READ_REGISTER: &str = "return table.concat(redis.call('LRANGE', KEYS[1], 0, -1), ',')";

/// What a write does to the cached copy once the new version is in S3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnWrite {
    /// DEL it.
    Invalidate,
    /// SET it to the new bytes.
    Update,
    /// Leave it.
    Keep,
}

/// How a cache-aside workload treats its objects.
#[derive(Clone, Copy, Debug)]
pub struct CachePolicy {
    /// Expiry of values written into the cache; `None` for none.
    pub ttl: Option<Duration>,
    /// Hash the value the application gets, for `verify`.
    pub verify: bool,
    /// What a write does to the cached copy.
    pub on_write: OnWrite,
    /// Record writes in, and judge reads against, the version registers.
    pub track_versions: bool,
    /// This agent's clock minus the controller's, nanoseconds.
    pub clock_ahead_ns: i64,
}

/// The version register of the object whose cache key is `key`.
pub fn register_key(key: &str) -> String {
    format!("{key}#versions")
}

/// One slot's cache-aside read path.
#[derive(Debug)]
pub struct CacheAsideDriver {
    redis: RedisDriver,
    s3: S3Driver,
    policy: CachePolicy,
    /// What the last request left for [`Self::settle`].
    last: Last,
}

/// The last request, as [`CacheAsideDriver::settle`] needs it.
#[derive(Clone, Copy, Debug)]
enum Last {
    None,
    /// A read that returned `version`, started at `started_ns` (controller's clock).
    Read {
        version: u64,
        started_ns: i64,
    },
    /// A write of `version`.
    Write {
        version: u64,
    },
}

impl CacheAsideDriver {
    /// Read through `redis`, falling back to `s3`, as `policy` says.
    pub fn new(redis: RedisDriver, s3: S3Driver, policy: CachePolicy) -> Self {
        CacheAsideDriver { redis, s3, policy, last: Last::None }
    }

    /// Now on the controller's clock, nanoseconds since the epoch.
    fn now_ns(&self) -> i64 {
        unix_ns(SystemTime::now()) - self.policy.clock_ahead_ns
    }

    /// The digest `verify` checks: of the bytes after the version stamp when the workload
    /// writes versions (the stamp is the only part that changes), else of the whole value.
    fn digest(&self, value: &[u8]) -> Option<Digest> {
        let skip = if self.policy.track_versions { STAMP_LEN.min(value.len()) } else { 0 };
        self.policy.verify.then(|| Digest::of(&value[skip..]))
    }

    /// Read object `index` through the cache.
    pub async fn read(&mut self, index: u64) -> Sample {
        self.last = Last::None;
        let started_ns = if self.policy.track_versions { self.now_ns() } else { 0 };
        let start = Instant::now();
        match self.redis.get_value(index).await {
            Ok(Some(value)) => {
                let parts = CacheParts { hit: true, redis: start.elapsed(), s3: None };
                self.last = Last::Read { version: Generator::version_of(&value), started_ns };
                return Sample { cache: Some(parts), body: self.digest(&value), ..Sample::OK };
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
        let outcome = match self.redis.set_value(index, &body, self.policy.ttl).await {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(classify(&e)),
        };
        let redis = (get_done - start) + s3_done.elapsed();
        self.last = Last::Read { version: Generator::version_of(&body), started_ns };
        Sample {
            outcome,
            ttfb: fetched.ttfb,
            cache: Some(parts(redis)),
            body: self.digest(&body),
            ..Sample::OK
        }
    }

    /// Write a new version of object `index`: PUT it to S3, then do `on_write` to the cached
    /// copy. The version is the write's start on the controller's clock.
    pub async fn write(&mut self, index: u64) -> Sample {
        self.last = Last::None;
        let version = u64::try_from(self.now_ns()).unwrap_or(1).max(1);
        let body = self.redis.dataset().versioned_body(index, version);
        let policy = self.policy;
        let cached = match policy.on_write {
            OnWrite::Update => Some(body.clone()),
            OnWrite::Invalidate | OnWrite::Keep => None,
        };
        if let Err(kind) = self.s3.put_object(index, body).await {
            return Sample { write: true, ..Sample::failed(kind) };
        }
        let done = match (policy.on_write, cached) {
            (OnWrite::Update, Some(value)) => self.redis.set_value(index, &value, policy.ttl).await,
            (OnWrite::Invalidate, _) => {
                let mut del = redis::cmd("DEL");
                del.arg(self.redis.key(index));
                self.redis.query::<()>(&del).await
            }
            _ => Ok(()),
        };
        if let Err(e) = done {
            return Sample { write: true, ..Sample::failed(classify(&e)) };
        }
        self.last = Last::Write { version };
        Sample { write: true, ..Sample::OK }
    }

    /// After the request was timed, with version tracking: a write's version goes into the
    /// object's register as committed now; a read is judged against the register. A register
    /// that cannot be read or written leaves the sample as it is (the request itself was done).
    pub async fn settle(&mut self, index: u64, sample: Sample) -> Sample {
        let last = std::mem::replace(&mut self.last, Last::None);
        if !self.policy.track_versions || sample.outcome != Outcome::Ok {
            return sample;
        }
        let register = register_key(self.redis.key(index));
        match last {
            Last::None => sample,
            Last::Write { version } => {
                // Two commands, not a pipeline: a slot's own connection sends one at a time.
                let mut push = redis::cmd("LPUSH");
                push.arg(&register).arg(format!("{version}:{}", self.now_ns()));
                if self.redis.query::<()>(&push).await.is_ok() {
                    let mut trim = redis::cmd("LTRIM");
                    trim.arg(&register).arg(0).arg(REGISTER_LENGTH - 1);
                    let _ = self.redis.query::<()>(&trim).await;
                }
                sample
            }
            Last::Read { version, started_ns } => {
                // The list as one string: a slot's own connection reads no arrays.
                let mut range = redis::cmd("EVAL");
                range.arg(READ_REGISTER).arg(1).arg(&register);
                let joined: String = self.redis.query(&range).await.unwrap_or_default();
                let entries: Vec<&str> = joined.split(',').filter(|e| !e.is_empty()).collect();
                Sample { stale: staleness(&entries, version, started_ns), ..sample }
            }
        }
    }
}

/// How stale a read of `version` started at `started_ns` was, from its object's register
/// `entries` ("VERSION:COMMITTED_NS"): from the commit of the oldest newer version committed
/// before the read started, to that start; `None` when no newer version was committed by then.
pub fn staleness(entries: &[&str], version: u64, started_ns: i64) -> Option<Duration> {
    entries
        .iter()
        .filter_map(|e| {
            let (v, at) = e.split_once(':')?;
            Some((v.parse::<u64>().ok()?, at.parse::<i64>().ok()?))
        })
        .filter(|&(v, at)| v > version && at <= started_ns)
        .map(|(_, at)| at)
        .min()
        .map(|at| Duration::from_nanos(u64::try_from(started_ns - at).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[(u64, i64)]) -> Vec<String> {
        list.iter().map(|(v, at)| format!("{v}:{at}")).collect()
    }

    fn staleness(entries: &[String], version: u64, started_ns: i64) -> Option<Duration> {
        let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
        super::staleness(&entries, version, started_ns)
    }

    #[test]
    fn a_read_is_stale_from_the_first_newer_commit_before_it_started() {
        let log = entries(&[(300, 3_000), (200, 2_000), (100, 1_500)]);
        assert_eq!(staleness(&log, 100, 2_500), Some(Duration::from_nanos(500)), "200 was committed at 2000");
        assert_eq!(staleness(&log, 0, 2_500), Some(Duration::from_nanos(1_000)), "100 at 1500");
        assert_eq!(staleness(&log, 200, 2_500), None, "the newest committed by then");
        assert_eq!(staleness(&log, 100, 1_900), None, "200 was still being written");
        assert_eq!(staleness(&log, 300, 9_000), None);
        assert_eq!(staleness(&[], 0, 9_000), None, "never written");
        assert_eq!(staleness(&["junk".into()], 0, 9_000), None);
    }
}
