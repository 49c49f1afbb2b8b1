//! One driver per target. A driver is cheap to clone: each worker holds its own clone and calls
//! [`Driver::fetch`] with an object index; the engine times the call and applies the timeout.

pub mod redis;
pub mod s3;

use crate::outcome::Outcome;

pub use self::redis::RedisDriver;
pub use self::s3::S3Driver;

/// A connection to one target, ready to fetch objects by index.
#[derive(Clone, Debug)]
pub enum Driver {
    /// Redis GET.
    Redis(RedisDriver),
    /// S3 GetObject.
    S3(S3Driver),
}

impl Driver {
    /// Fetch object `index` whole and say how it went.
    pub async fn fetch(&mut self, index: u64) -> Outcome {
        match self {
            Driver::Redis(d) => d.get(index).await,
            Driver::S3(d) => d.get_object(index).await,
        }
    }
}
