//! What one request ended as. Small and `Copy`: the hot path counts outcomes, it never formats or
//! boxes an error.

use std::time::Duration;

use crate::verify::Digest;

/// The result of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The object came back whole (or was written, for a SET).
    Ok,
    /// The request failed; it is counted under this kind and its latency is not recorded.
    Failed(Failure),
}

/// What a driver measured about one request, besides its total time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// How it ended.
    pub outcome: Outcome,
    /// S3: time from the send to the first byte of the body.
    pub ttfb: Option<Duration>,
    /// Cache-aside: what happened on the way.
    pub cache: Option<CacheParts>,
    /// Redis with busy-polling: the reply arrived while the slot was polling for it.
    pub busy_polled: bool,
    /// With `verify`: the digest of the body read, for the engine to check.
    pub body: Option<Digest>,
    /// Cache-aside: the request wrote the object (a new version) rather than read it.
    pub write: bool,
    /// Cache-aside, version-tracked: the read returned a stale version, newer ones having been
    /// committed this long before it started.
    pub stale: Option<Duration>,
}

/// The parts of a cache-aside read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheParts {
    /// Redis had the value.
    pub hit: bool,
    /// Time spent talking to Redis: the GET, plus the SET after a miss.
    pub redis: Duration,
    /// Time spent on the S3 GetObject after a miss.
    pub s3: Option<Duration>,
}

impl Sample {
    /// A plain success.
    pub const OK: Sample = Sample {
        outcome: Outcome::Ok,
        ttfb: None,
        cache: None,
        busy_polled: false,
        body: None,
        write: false,
        stale: None,
    };

    /// A failure of this kind.
    pub const fn failed(kind: Failure) -> Sample {
        Sample { outcome: Outcome::Failed(kind), ..Sample::OK }
    }
}

/// Why a request failed. The names are the keys of `errors_by_kind` in results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No answer within the per-request timeout.
    Timeout,
    /// The connection could not be made, broke, or was refused.
    Connection,
    /// Redis answered nil: the key is not in the cache.
    Miss,
    /// S3 answered 404 NoSuchKey (or NoSuchBucket).
    NotFound,
    /// The service asked us to slow down (S3 503 SlowDown, HTTP 429).
    Throttled,
    /// The service failed (HTTP 5xx other than SlowDown, a Redis error reply).
    ServerError,
    /// The service rejected the request (HTTP 4xx: bad credentials, access denied).
    ClientError,
    /// Anything else, such as a malformed response.
    Other,
    /// With `verify`: the body read is not the object's bytes.
    Corrupt,
}

impl Failure {
    /// Every kind, in the order of [`Failure::index`].
    pub const ALL: [Failure; 9] = [
        Failure::Timeout,
        Failure::Connection,
        Failure::Miss,
        Failure::NotFound,
        Failure::Throttled,
        Failure::ServerError,
        Failure::ClientError,
        Failure::Other,
        Failure::Corrupt,
    ];

    /// Position of this kind in [`Failure::ALL`], for counter arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The name used in results.
    pub const fn as_str(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Connection => "connection",
            Failure::Miss => "miss",
            Failure::NotFound => "not_found",
            Failure::Throttled => "throttled",
            Failure::ServerError => "server_error",
            Failure::ClientError => "client_error",
            Failure::Other => "other",
            Failure::Corrupt => "corrupt",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_position_in_all() {
        for (i, kind) in Failure::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i, "{}", kind.as_str());
        }
    }

    #[test]
    fn each_kind_has_the_name_result_json_counts_it_under() {
        let names: Vec<&str> = Failure::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "timeout",
                "connection",
                "miss",
                "not_found",
                "throttled",
                "server_error",
                "client_error",
                "other",
                "corrupt"
            ]
        );
    }
}
