//! Redis through the `redis` crate on tokio: a single node or a Redis Cluster (ElastiCache
//! cluster mode), plain or TLS (`rediss://`), with AUTH from the URL. Each in-flight slot gets its
//! own connection, as memtier and redis-benchmark do: a [`DirectConn`] on plain single-node Redis,
//! the crate's own connection otherwise. Connections are replaced after a failure.

use std::sync::Arc;
use std::time::Duration;

use fetchbench_proto::dataset::Generator;
use fetchbench_proto::redact::{redact_in, redact_url, url_user};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Client, Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use tokio::time::Instant;

use crate::driver::Op;
use crate::driver::direct::{self, DirectConn, Head};
use crate::outcome::{Failure, Sample};
use crate::verify::Digest;

/// How long connecting to Redis may take before the agent reports it unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The client library's own response timeout. The engine times every request out itself (the
/// workload's `timeout`); the library's default (500 ms) would cut slow requests short.
/// Longest a read of the server's INFO may take.
pub const INFO_TIMEOUT: Duration = Duration::from_secs(2);
const LIBRARY_RESPONSE_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Why a Redis target cannot be used, in words a user can act on. Every URL in it is redacted,
/// and the password appears nowhere, whatever the client library said.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL does not parse.
    #[error(
        "redis url {url} is not valid ({detail}): give redis://[USER:PASSWORD@]HOST:PORT[/DB], \
         rediss:// for TLS (#insecure to skip certificate checks) or unix://PATH"
    )]
    BadUrl {
        /// The URL, redacted.
        url: String,
        /// What the client library said, redacted.
        detail: String,
    },
    /// The server refused the user and password (or wants one the URL does not give).
    #[error("redis at {url}: authentication failed {hint}")]
    Auth {
        /// The URL, redacted.
        url: String,
        /// Whom the server refused, and what to do.
        hint: String,
    },
    /// The TLS server's certificate is not signed by an authority this machine trusts.
    #[error(
        "redis at {url}: certificate not trusted: add #insecure for a self-signed server, or name \
         its authority's PEM file in the agent's SSL_CERT_FILE ({detail})"
    )]
    Certificate {
        /// The URL, redacted.
        url: String,
        /// What the TLS library said.
        detail: String,
    },
    /// Anything else: refused, timed out, no route.
    #[error("redis at {url} is unreachable: {detail}")]
    Unreachable {
        /// The URL, redacted.
        url: String,
        /// What the client library said, redacted, with a hint where one helps.
        detail: String,
    },
}

impl ConnectError {
    /// The error `url` met, sorted by what the user must do about it.
    pub fn new(url: &str, e: &RedisError) -> ConnectError {
        // The library's text ends in its kind (" - AuthenticationFailed"), and a cluster wraps the
        // per-node error in its own ("Failed to create initial connections - Io: ..."): match on
        // the text, not only the kind.
        let detail = redact_in(&e.to_string(), url);
        let shown = redact_url(url);
        let lower = detail.to_ascii_lowercase();
        if e.kind() == ErrorKind::InvalidClientConfig && lower.contains("url") {
            return ConnectError::BadUrl { url: shown, detail };
        }
        if e.kind() == ErrorKind::AuthenticationFailed
            || ["authenticationfailed", "wrongpass", "noauth", "invalid username-password"]
                .iter()
                .any(|t| lower.contains(t))
        {
            let hint = match url_user(url) {
                Some(user) => {
                    format!(
                        "for user {user}: check the user and password in the url (redis://USER:PASSWORD@HOST:PORT)"
                    )
                }
                None => "(no password given): the server wants one; add it to the url as \
                         redis://USER:PASSWORD@HOST:PORT"
                    .to_owned(),
            };
            return ConnectError::Auth { url: shown, hint };
        }
        if lower.contains("certificate") || lower.contains("unknownissuer") {
            return ConnectError::Certificate { url: shown, detail };
        }
        let detail = if url.starts_with("rediss://")
            && (lower.contains("timed out") || lower.contains("corrupt") || lower.contains("tls"))
        {
            format!("{detail} (rediss:// needs a server with TLS; for one without, use redis://)")
        } else {
            detail
        };
        ConnectError::Unreachable { url: shown, detail }
    }
}

/// A Redis endpoint and the keys of the dataset on it.
#[derive(Clone)]
pub struct RedisTarget {
    client: Clients,
    url: Arc<str>,
    keys: Arc<[String]>,
    dataset: Arc<Generator>,
    /// `(first, last)` byte offsets when reads use GETRANGE.
    range: Option<(u64, u64)>,
    /// How long a slot polls for each reply before its thread may sleep; zero for never.
    busy_poll: Duration,
    /// Hash each value read, for the engine to check.
    verify: bool,
    /// The connection [`RedisTarget::info`] reads on, made at its first call.
    info: Arc<tokio::sync::OnceCell<ConnectionManager>>,
}

// One per target, cloned once per connection: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Clients {
    Single(Client),
    Cluster(ClusterClient),
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget").field("url", &redact_url(&self.url)).finish_non_exhaustive()
    }
}

impl RedisTarget {
    /// Parse `url` and precompute the keys of the dataset's objects under `prefix`.
    pub fn new(url: &str, prefix: &str, cluster: bool, dataset: Arc<Generator>) -> Result<Self, RedisError> {
        let client = if cluster {
            let builder = ClusterClient::builder(vec![url]);
            let builder = match trust_anchors(url)? {
                Some(certs) => builder.certs(certs),
                None => builder,
            };
            Clients::Cluster(
                builder
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(LIBRARY_RESPONSE_TIMEOUT)
                    .retries(0)
                    .build()?,
            )
        } else {
            Clients::Single(open(url)?)
        };
        let keys = (0..dataset.total()).map(|i| dataset.redis_key_of(prefix, i)).collect();
        Ok(RedisTarget {
            client,
            url: url.into(),
            keys,
            dataset,
            range: None,
            busy_poll: Duration::ZERO,
            verify: false,
            info: Arc::default(),
        })
    }

    /// The same target reading only `length` bytes from `start` of each value (GETRANGE).
    pub fn with_range(&self, start: u64, length: u64) -> RedisTarget {
        let range = (length > 0).then(|| (start, start + length - 1));
        RedisTarget { range, ..self.clone() }
    }

    /// The same target with slots that poll for each reply for up to `budget` before their
    /// thread may sleep. Only slots' own connections poll: see [`Self::can_busy_poll`].
    pub fn with_busy_poll(&self, budget: Duration) -> RedisTarget {
        RedisTarget { busy_poll: budget, ..self.clone() }
    }

    /// The same target hashing each value it reads, for `verify`.
    pub fn with_verify(&self, verify: bool) -> RedisTarget {
        RedisTarget { verify, ..self.clone() }
    }

    /// Whether slots get connections of their own, which can busy-poll: one node over plain TCP
    /// with RESP2. TLS, RESP3 and cluster connections are the crate's, which cannot.
    pub fn can_busy_poll(&self) -> bool {
        matches!(&self.client, Clients::Single(client) if DirectConn::serves(client.get_connection_info()))
    }

    /// Call `f` with the command of `op` on object `index`, name first: GET (GETRANGE for a byte
    /// range) or SET of the object's dataset bytes.
    fn with_args<R>(&self, op: Op, index: u64, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let key = self.key(index).as_bytes();
        match (op, self.range) {
            (Op::Get, None) => f(&[b"GET", key]),
            (Op::Get, Some((first, last))) => {
                let (mut a, mut b) = (itoa::Buffer::new(), itoa::Buffer::new());
                f(&[b"GETRANGE", key, a.format(first).as_bytes(), b.format(last).as_bytes()])
            }
            (Op::Set | Op::Write, _) => f(&[b"SET", key, &self.dataset.body(index)]),
        }
    }

    /// The command of `op` on object `index`, for the crate's connections.
    fn command(&self, op: Op, index: u64) -> Cmd {
        self.with_args(op, index, |args| {
            let mut cmd = Cmd::new();
            for arg in args {
                cmd.arg(*arg);
            }
            cmd
        })
    }

    /// The URL this target was made from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Redis key of object `i`.
    pub fn key(&self, i: u64) -> &str {
        &self.keys[i as usize]
    }

    /// The dataset whose objects live here.
    pub fn dataset(&self) -> &Generator {
        &self.dataset
    }

    /// A new connection, checked with PING.
    pub async fn connect(&self) -> Result<Conn, RedisError> {
        let mut conn = match &self.client {
            Clients::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(LIBRARY_RESPONSE_TIMEOUT))
                    .set_number_of_retries(1);
                Conn::Single(ConnectionManager::new_with_config(client.clone(), config).await?)
            }
            Clients::Cluster(client) => Conn::Cluster(client.get_async_connection().await?),
        };
        redis::cmd("PING").query_async::<()>(&mut conn).await?;
        Ok(conn)
    }

    /// The server's own counters: the replies to INFO and INFO commandstats, one after the other,
    /// from the node the URL names (in a cluster too: that node only), on a connection of its own
    /// kept between calls. Each call takes at most [`INFO_TIMEOUT`].
    pub async fn info(&self) -> Result<String, RedisError> {
        let read = async {
            let mut conn = self.info_conn().await?;
            let mut info: String = redis::cmd("INFO").query_async(&mut conn).await?;
            let commands: String = redis::cmd("INFO").arg("commandstats").query_async(&mut conn).await?;
            info.push_str("\r\n");
            info.push_str(&commands);
            Ok(info)
        };
        tokio::time::timeout(INFO_TIMEOUT, read)
            .await
            .unwrap_or_else(|_| Err(RedisError::from((ErrorKind::Io, "INFO timed out"))))
    }

    /// The connection of INFO and CONFIG SET to the node the URL names, made on first use.
    async fn info_conn(&self) -> Result<ConnectionManager, RedisError> {
        let conn = self
            .info
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(INFO_TIMEOUT))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(open(&self.url)?, config).await
            })
            .await?;
        Ok(conn.clone())
    }

    /// `CONFIG SET name value` on the node the URL names, on the INFO connection.
    pub async fn config_set(&self, name: &str, value: &str) -> Result<(), RedisError> {
        let set = async {
            let mut conn = self.info_conn().await?;
            redis::cmd("CONFIG").arg("SET").arg(name).arg(value).query_async::<()>(&mut conn).await
        };
        tokio::time::timeout(INFO_TIMEOUT, set)
            .await
            .unwrap_or_else(|_| Err(RedisError::from((ErrorKind::Io, "CONFIG SET timed out"))))
    }

    /// A cluster's shards: the primaries that serve slots, from CLUSTER NODES; `None` for a
    /// single node or when the cluster will not say (the figure only prices the cluster).
    pub async fn shards(&self) -> Option<u32> {
        let Clients::Cluster(client) = &self.client else { return None };
        let mut conn = client.get_async_connection().await.ok()?;
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query_async(&mut conn).await.ok()?;
        let shards = nodes.lines().filter(|line| serves_slots_as_primary(line)).count();
        u32::try_from(shards).ok().filter(|&n| n > 0)
    }

    /// A connection for one in-flight slot, checked with PING: a direct one where it serves
    /// (plain TCP, one node, RESP2), else the crate's own.
    async fn connect_slot(&self) -> Result<SlotConn, RedisError> {
        if let Clients::Single(client) = &self.client
            && DirectConn::serves(client.get_connection_info())
        {
            let mut conn = DirectConn::connect(client.get_connection_info(), CONNECT_TIMEOUT).await?;
            redis::cmd("PING").query_async::<()>(&mut conn).await?;
            conn.set_busy_poll(self.busy_poll);
            return Ok(SlotConn::Direct(conn));
        }
        Ok(SlotConn::Shared(self.connect().await?))
    }

    /// A driver on a connection of its own; when Redis cannot be reached now, a driver that
    /// connects on its first request instead.
    pub async fn driver(&self) -> RedisDriver {
        RedisDriver { conn: self.connect_slot().await.ok(), target: self.clone() }
    }
}

/// The variable naming a PEM file of the authorities a `rediss://` server's certificate may
/// chain to, in place of the built-in Mozilla roots (which hold the public Amazon CAs of
/// ElastiCache's certificates): OpenSSL's own name for its trust bundle, for a cache whose
/// authority is private.
pub const CERT_FILE_VAR: &str = "SSL_CERT_FILE";

/// The trust anchors of a `rediss://` URL when [`CERT_FILE_VAR`] names some; `None` for the
/// built-in roots (or a plain URL).
fn trust_anchors(url: &str) -> Result<Option<redis::TlsCertificates>, RedisError> {
    let tls = url.get(..9).is_some_and(|scheme| scheme.eq_ignore_ascii_case("rediss://"));
    let Some(path) = std::env::var_os(CERT_FILE_VAR).filter(|p| tls && !p.is_empty()) else {
        return Ok(None);
    };
    let pem = std::fs::read(&path).map_err(|e| {
        RedisError::from((
            ErrorKind::InvalidClientConfig,
            "cannot read the certificate file",
            format!("{CERT_FILE_VAR}={}: {e}", std::path::Path::new(&path).display()),
        ))
    })?;
    Ok(Some(redis::TlsCertificates { client_tls: None, root_cert: Some(pem) }))
}

/// A client of the single node at `url`, trusting what [`trust_anchors`] says.
fn open(url: &str) -> Result<Client, RedisError> {
    match trust_anchors(url)? {
        Some(certs) => Client::build_with_tls(url, certs),
        None => Client::open(url),
    }
}

/// One slot's connection.
#[derive(Debug)]
enum SlotConn {
    /// Its own socket, read and written by the slot's task.
    Direct(DirectConn),
    /// The crate's multiplexed connection (TLS, RESP3) or cluster connection.
    Shared(Conn),
}

/// `ConnectionLike` for an enum of connections: every call goes to the variant's connection.
macro_rules! delegate_connection_like {
    ($enum:ident: $($variant:ident),+) => {
        impl ConnectionLike for $enum {
            fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
                match self {
                    $($enum::$variant(c) => c.req_packed_command(cmd),)+
                }
            }

            fn req_packed_commands<'a>(
                &'a mut self,
                cmd: &'a Pipeline,
                offset: usize,
                count: usize,
            ) -> RedisFuture<'a, Vec<Value>> {
                match self {
                    $($enum::$variant(c) => c.req_packed_commands(cmd, offset, count),)+
                }
            }

            fn get_db(&self) -> i64 {
                match self {
                    $($enum::$variant(c) => c.get_db(),)+
                }
            }
        }
    };
}

delegate_connection_like!(SlotConn: Direct, Shared);

/// Whether a CLUSTER NODES line (`id addr flags primary ping pong epoch state slot...`) is a
/// primary serving at least one slot.
fn serves_slots_as_primary(line: &str) -> bool {
    let fields: Vec<&str> = line.split_whitespace().collect();
    fields.len() > 8 && fields[2].split(',').any(|f| f == "master") && !fields[2].contains("fail")
}

/// A connection to a single node or to a cluster.
#[derive(Clone)]
pub enum Conn {
    /// One node; reconnects after a failure.
    Single(ConnectionManager),
    /// A cluster; routes each key to its shard.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Single(_) => "Conn::Single",
            Conn::Cluster(_) => "Conn::Cluster",
        })
    }
}

delegate_connection_like!(Conn: Single, Cluster);

/// One slot's Redis connection.
pub struct RedisDriver {
    /// `None` until a connection could be made, and after a direct one broke.
    conn: Option<SlotConn>,
    target: RedisTarget,
}

impl std::fmt::Debug for RedisDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDriver").field("url", &redact_url(&self.target.url)).finish_non_exhaustive()
    }
}

impl RedisDriver {
    /// The connection, made now if there was none or the last one broke.
    async fn conn(&mut self) -> Result<&mut SlotConn, RedisError> {
        connection(&mut self.conn, &self.target).await
    }

    /// GET object `index` (GETRANGE when the workload reads a byte range); nil is a miss.
    pub async fn get(&mut self, index: u64) -> Sample {
        self.request(Op::Get, index).await
    }

    /// SET object `index` to its dataset bytes.
    pub async fn set(&mut self, index: u64) -> Sample {
        self.request(Op::Set, index).await
    }

    /// Run `op` on object `index` and say how it went. On a slot's own connection the command is
    /// packed straight into the write buffer and a value's bytes are read past, not kept.
    async fn request(&mut self, op: Op, index: u64) -> Sample {
        let RedisDriver { conn, target } = self;
        let read = Read { range: target.range.is_some(), hash: target.verify };
        match connection(conn, target).await {
            Err(e) => Sample::failed(classify(&e)),
            Ok(SlotConn::Direct(conn)) => {
                let packed = |out: &mut Vec<u8>| target.with_args(op, index, |args| direct::pack(out, args));
                match conn.send(1, packed).await {
                    Ok(()) => {
                        let reply = conn.next_reply_head(read.hash).await;
                        Sample { busy_polled: conn.busy_polled(), ..read.head_sample(op, reply) }
                    }
                    Err(e) => Sample::failed(classify(&e)),
                }
            }
            Ok(SlotConn::Shared(conn)) => {
                read.reply_sample(op, conn.req_packed_command(&target.command(op, index)).await)
            }
        }
    }

    /// GET object `index`, returning its value.
    pub async fn get_value(&mut self, index: u64) -> Result<Option<bytes::Bytes>, RedisError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.target.key(index));
        cmd.query_async::<Option<bytes::Bytes>>(self.conn().await?).await
    }

    /// Pipeline `batch`: every command sent at once, then each reply's outcome pushed onto
    /// `replies` with the instant it was read. A slot's own connection writes them in one write
    /// and reads the replies in order; the crate's multiplexed connections (TLS, RESP3, cluster)
    /// get them all at once and write them as they come.
    pub async fn pipeline(&mut self, batch: &[(Op, u64)], replies: &mut Vec<(Sample, Instant)>) {
        let RedisDriver { conn, target } = self;
        let read = Read { range: target.range.is_some(), hash: target.verify };
        let conn = match connection(conn, target).await {
            Ok(conn) => conn,
            Err(e) => return fail_rest(batch.len(), classify(&e), replies),
        };
        match conn {
            SlotConn::Direct(conn) => {
                let packed = |out: &mut Vec<u8>| {
                    for &(op, index) in batch {
                        target.with_args(op, index, |args| direct::pack(out, args));
                    }
                };
                if let Err(e) = conn.send(batch.len(), packed).await {
                    return fail_rest(batch.len(), classify(&e), replies);
                }
                for &(op, _) in batch {
                    let reply = conn.next_reply_head(read.hash).await;
                    // An error reply comes back as a value; an error here is a reply that could
                    // not be read, and the ones after it never will be.
                    let unreadable = reply.is_err();
                    replies.push((read.head_sample(op, reply), Instant::now()));
                    if unreadable {
                        return fail_rest(batch.len(), Failure::Connection, replies);
                    }
                }
            }
            SlotConn::Shared(conn) => {
                let cmds: Vec<Cmd> = batch.iter().map(|&(op, index)| target.command(op, index)).collect();
                let mut pending: FuturesOrdered<_> = cmds
                    .iter()
                    .zip(batch)
                    .map(|(cmd, &(op, _))| {
                        let mut conn = conn.clone();
                        async move { (op, conn.req_packed_command(cmd).await) }
                    })
                    .collect();
                while let Some((op, reply)) = pending.next().await {
                    replies.push((read.reply_sample(op, reply), Instant::now()));
                }
            }
        }
    }

    /// Run `cmd` on this slot's connection.
    pub async fn query<T: redis::FromRedisValue>(&mut self, cmd: &Cmd) -> RedisResult<T> {
        cmd.query_async(self.conn().await?).await
    }

    /// The target's Redis key of object `index`.
    pub fn key(&self, index: u64) -> &str {
        self.target.key(index)
    }

    /// The dataset whose objects this driver reads.
    pub fn dataset(&self) -> &Generator {
        self.target.dataset()
    }

    /// SET object `index` to `value`, expiring after `ttl` when given.
    pub async fn set_value(
        &mut self,
        index: u64,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), RedisError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.target.key(index)).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
        }
        cmd.query_async::<()>(self.conn().await?).await
    }
}

/// A driver's connection to `target`, made now if there was none or the last one broke.
async fn connection<'a>(
    conn: &'a mut Option<SlotConn>,
    target: &RedisTarget,
) -> Result<&'a mut SlotConn, RedisError> {
    if matches!(conn, Some(SlotConn::Direct(c)) if c.is_broken()) {
        *conn = None;
    }
    if conn.is_none() {
        *conn = Some(target.connect_slot().await?);
    }
    Ok(conn.as_mut().expect("set above"))
}

/// How a workload reads values: whole or a range (GETRANGE), and whether each is hashed.
#[derive(Clone, Copy, Debug)]
struct Read {
    /// GETRANGE, which answers "" for a missing key.
    range: bool,
    /// Carry each value's digest in its sample, for `verify`.
    hash: bool,
}

impl Read {
    /// What a reply to `op` says about the request: a value (or `OK` to a SET) is a success, nil
    /// or an empty range a miss, an error reply a server error.
    fn reply_sample(self, op: Op, reply: RedisResult<Value>) -> Sample {
        match (op, reply.and_then(Value::extract_error)) {
            (_, Err(e)) => Sample::failed(classify(&e)),
            (Op::Get, Ok(Value::BulkString(v))) if !(self.range && v.is_empty()) => {
                Sample { body: self.hash.then(|| Digest::of(&v)), ..Sample::OK }
            }
            (Op::Get, Ok(Value::BulkString(_) | Value::Nil)) => Sample::failed(Failure::Miss),
            (Op::Set, Ok(Value::Okay)) => Sample::OK,
            (_, Ok(_)) => Sample::failed(Failure::Other),
        }
    }

    /// What a reply read by [`DirectConn::next_reply_head`] says about the request, as
    /// [`Read::reply_sample`] does for a whole reply.
    fn head_sample(self, op: Op, reply: RedisResult<Head>) -> Sample {
        match reply {
            Ok(Head::Bulk { len: 0, .. }) if op == Op::Get && self.range => Sample::failed(Failure::Miss),
            Ok(Head::Bulk { digest, .. }) if op == Op::Get => Sample { body: digest, ..Sample::OK },
            Ok(Head::Bulk { .. }) => Sample::failed(Failure::Other),
            Ok(Head::Whole(value)) => self.reply_sample(op, Ok(value)),
            Err(e) => self.reply_sample(op, Err(e)),
        }
    }
}

/// Push a failure of `kind` for each request of a batch of `len` that has no outcome yet.
fn fail_rest(len: usize, kind: Failure, replies: &mut Vec<(Sample, Instant)>) {
    let now = Instant::now();
    let missing = len.saturating_sub(replies.len());
    replies.extend(std::iter::repeat_n((Sample::failed(kind), now), missing));
}

/// The failure kind of a Redis error. An error reply is a server error whether or not the crate
/// knows its code (`WRONGTYPE`, `OOM` and the like are `Extension` to it).
pub fn classify(e: &RedisError) -> Failure {
    if e.is_timeout() {
        Failure::Timeout
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        Failure::Connection
    } else if matches!(e.kind(), ErrorKind::Server(_) | ErrorKind::Extension) {
        Failure::ServerError
    } else {
        Failure::Other
    }
}

#[cfg(test)]
mod shard_tests {
    #[test]
    fn cluster_nodes_lines_count_primaries_that_serve_slots() {
        use super::serves_slots_as_primary as primary;
        assert!(primary("07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460"));
        assert!(primary("67ed 127.0.0.1:30002@40002 master - 0 1426238316232 2 connected 5461-10922 11000"));
        assert!(!primary("292f 127.0.0.1:30004@40004 slave 07c3 0 1426238318243 4 connected"));
        assert!(!primary("6ec2 127.0.0.1:30005@40005 master - 0 0 5 connected"), "no slots");
        assert!(!primary("824f 127.0.0.1:30003@40003 master,fail - 0 0 3 connected 10923-16383"));
    }
}
