//! Redis GET through the `redis` crate on tokio. Each in-flight slot gets its own connection, as
//! memtier and redis-benchmark do; the connection manager reconnects after a failure.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ErrorKind, RedisError};

use crate::dataset::Dataset;
use crate::outcome::{Failure, Outcome};

/// How long connecting to Redis may take before the agent reports it unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A Redis endpoint and the keys of the dataset on it.
#[derive(Clone, Debug)]
pub struct RedisTarget {
    client: Client,
    url: Arc<str>,
    keys: Arc<[String]>,
}

impl RedisTarget {
    /// Parse `url` and precompute the keys of `objects` objects under `prefix`.
    pub fn new(url: &str, prefix: &str, objects: u64) -> Result<Self, RedisError> {
        let client = Client::open(url)?;
        let keys = (0..objects).map(|i| Dataset::redis_key(prefix, i)).collect();
        Ok(RedisTarget { client, url: url.into(), keys })
    }

    /// The URL this target was made from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Redis key of object `i`.
    pub fn key(&self, i: u64) -> &str {
        &self.keys[i as usize]
    }

    /// A new connection, ready to use.
    pub async fn connect(&self) -> Result<ConnectionManager, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(1);
        let mut conn = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        redis::cmd("PING").query_async::<()>(&mut conn).await?;
        Ok(conn)
    }

    /// A driver on a connection of its own.
    pub async fn driver(&self) -> Result<RedisDriver, RedisError> {
        Ok(RedisDriver { conn: self.connect().await?, target: self.clone() })
    }
}

/// One slot's Redis connection.
#[derive(Clone)]
pub struct RedisDriver {
    conn: ConnectionManager,
    target: RedisTarget,
}

impl std::fmt::Debug for RedisDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDriver").field("url", &self.target.url).finish_non_exhaustive()
    }
}

impl RedisDriver {
    /// GET object `index`; nil is a miss.
    pub async fn get(&mut self, index: u64) -> Outcome {
        let key = self.target.key(index);
        match redis::cmd("GET").arg(key).query_async::<Option<Vec<u8>>>(&mut self.conn).await {
            Ok(Some(_)) => Outcome::Ok,
            Ok(None) => Outcome::Failed(Failure::Miss),
            Err(e) => Outcome::Failed(classify(&e)),
        }
    }
}

/// The failure kind of a Redis error.
pub fn classify(e: &RedisError) -> Failure {
    if e.is_timeout() {
        Failure::Timeout
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        Failure::Connection
    } else if matches!(e.kind(), ErrorKind::Server(_)) {
        Failure::ServerError
    } else {
        Failure::Other
    }
}
