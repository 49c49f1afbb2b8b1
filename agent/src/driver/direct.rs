//! A Redis connection owned by one in-flight slot: the slot's own task writes each command (or
//! each pipelined batch, in one write) and reads the replies, as redis-benchmark and memtier do.
//!
//! The `redis` crate's async connections are all multiplexed: every request crosses a channel to
//! a connection task and its reply crosses back, two task wake-ups and about 9 µs of CPU per
//! request on the critical path (measured: see docs/benchmarks.md). A slot has one request in
//! flight at a time, so it needs none of that. This connection parses the replies a slot gets
//! on every request (bulk string, nil, `+OK`, integer) itself, straight from its read buffer,
//! and leaves the rare kinds (errors, RESP3 types) to the crate's general parser
//! (`redis::parse_redis_value`): with it on every reply, user space took 32% of the agent's CPU
//! at concurrency 1 (perf), without it 26%. The workload's own requests go further: their
//! commands are packed with [`pack`] rather than built as `redis::Cmd`s, and a value's bytes are
//! read past rather than kept ([`DirectConn::next_reply_head`]). It serves single-node Redis over
//! plain TCP with RESP2 (AUTH and SELECT from the URL included); TLS, RESP3 and cluster mode keep
//! the crate's connections.
//!
//! With a busy-poll budget the slot polls its socket after each send, yielding to the runtime's
//! other tasks between polls, rather than letting its thread sleep until the reply wakes it. On
//! a machine whose idle cores wake slowly that wake-up is part of every round trip at low
//! concurrency: on the 2-core guest of docs/benchmarks.md a Redis GET took 62 µs at p50 with the
//! client's core asleep and 23 µs with it polling.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use redis::aio::ConnectionLike;
use redis::{
    Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, Pipeline, ProtocolVersion, RedisError, RedisFuture,
    RedisResult, Value,
};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::verify::{Digest, Hasher};

/// Longest reply header line accepted (`$<length>\r\n`, a status or an error message).
const MAX_LINE: usize = 64 * 1024;

/// One slot's connection to a single Redis node.
#[derive(Debug)]
pub struct DirectConn {
    stream: BufReader<TcpStream>,
    /// The packed command being sent.
    out: Vec<u8>,
    /// The reply being read.
    frame: Vec<u8>,
    /// Replies owed for commands sent. Left above 0 when a request's future was dropped (say by
    /// a timeout) or a reply could not be read: the replies are then out of step with the
    /// commands, so the connection is unusable.
    pending: usize,
    db: i64,
    /// How long to poll for a reply before the thread may sleep; zero for never.
    busy_poll: Duration,
    /// Whether the last reply read arrived while polling for it.
    busy_polled: bool,
}

impl DirectConn {
    /// Whether `info` is something this connection serves: one node over plain TCP, RESP2.
    pub fn serves(info: &ConnectionInfo) -> bool {
        matches!(info.addr(), ConnectionAddr::Tcp(..))
            && info.redis_settings().protocol() == ProtocolVersion::RESP2
    }

    /// Connect within `timeout`, then AUTH and SELECT as the URL asks.
    pub async fn connect(info: &ConnectionInfo, timeout: Duration) -> RedisResult<DirectConn> {
        let ConnectionAddr::Tcp(host, port) = info.addr() else {
            return Err(RedisError::from((
                ErrorKind::InvalidClientConfig,
                "direct connections are plain TCP only",
            )));
        };
        let stream =
            tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), *port))).await.map_err(
                |_| io::Error::new(io::ErrorKind::TimedOut, format!("no connection within {timeout:?}")),
            )??;
        stream.set_nodelay(true)?;
        let settings = info.redis_settings();
        let mut conn = DirectConn {
            stream: BufReader::new(stream),
            out: Vec::with_capacity(256),
            frame: Vec::with_capacity(1024),
            pending: 0,
            db: settings.db(),
            busy_poll: Duration::ZERO,
            busy_polled: false,
        };
        if let Some(password) = settings.password() {
            let mut auth = redis::cmd("AUTH");
            if let Some(user) = settings.username() {
                auth.arg(user);
            }
            auth.arg(password);
            auth.query_async::<()>(&mut conn).await?;
        }
        if settings.db() != 0 {
            redis::cmd("SELECT").arg(settings.db()).query_async::<()>(&mut conn).await?;
        }
        Ok(conn)
    }

    /// Poll for each reply for up to `budget` after it is awaited (zero: never).
    pub fn set_busy_poll(&mut self, budget: Duration) {
        self.busy_poll = budget;
    }

    /// Whether the last reply read arrived while this connection was polling for it.
    pub fn busy_polled(&self) -> bool {
        self.busy_polled
    }

    /// Whether a cancelled request left this connection out of step; replace it if so.
    pub fn is_broken(&self) -> bool {
        self.pending > 0
    }

    async fn request(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        self.send(1, |out| cmd.write_packed_command(out)).await?;
        self.next_reply().await
    }

    /// Send `count` commands in one write, as a pipeline: `pack` appends them to the buffer,
    /// with [`pack`] or `Cmd::write_packed_command`. Their replies are read with
    /// [`Self::next_reply`] or [`Self::next_reply_head`].
    pub async fn send(&mut self, count: usize, pack: impl FnOnce(&mut Vec<u8>)) -> RedisResult<()> {
        if self.is_broken() {
            return Err(out_of_step());
        }
        self.out.clear();
        pack(&mut self.out);
        self.pending = count;
        self.stream.get_mut().write_all(&self.out).await?;
        Ok(())
    }

    /// The reply to the oldest command sent and not yet answered.
    pub async fn next_reply(&mut self) -> RedisResult<Value> {
        self.expect_reply()?;
        let reply = match self.read_head().await? {
            Head::Bulk { len, .. } => Value::BulkString(self.read_body(len).await?),
            Head::Whole(value) => value,
        };
        self.pending -= 1;
        Ok(reply)
    }

    /// The reply to the oldest command sent and not yet answered, with the bytes of a bulk
    /// string read past rather than kept: enough to tell a value from nil or an error. With
    /// `hash`, the bytes are hashed as they are read past, into the head's digest.
    pub async fn next_reply_head(&mut self, hash: bool) -> RedisResult<Head> {
        self.expect_reply()?;
        let mut head = self.read_head().await?;
        if let Head::Bulk { len, digest } = &mut head {
            let mut hasher = hash.then(Hasher::default);
            self.skip_body(*len, hasher.as_mut()).await?;
            *digest = hasher.map(|h| h.digest());
        }
        self.pending -= 1;
        Ok(head)
    }

    fn expect_reply(&self) -> RedisResult<()> {
        match self.pending {
            0 => Err(RedisError::from((ErrorKind::Client, "no command awaits a reply"))),
            _ => Ok(()),
        }
    }

    /// Read a reply up to the body of a bulk string, or the whole reply of any other kind. The
    /// replies a slot gets on every request (a bulk string or nil, `+OK`, an integer) are parsed
    /// here, straight from the read buffer; the rest (errors, RESP3 types) is framed into
    /// `frame` and parsed by the crate. Aggregates (arrays, maps) are refused: none of the
    /// commands sent on a slot (GET, GETRANGE, SET, PING, AUTH, SELECT) answers one.
    async fn read_head(&mut self) -> RedisResult<Head> {
        self.poll_for_reply().await?;
        self.frame.clear();
        let read = (&mut self.stream).take(MAX_LINE as u64).read_until(b'\n', &mut self.frame).await?;
        if read == 0 {
            return Err(closed());
        }
        let Some(header) = self.frame.strip_suffix(b"\r\n") else {
            return Err(protocol_error("a reply line without CRLF"));
        };
        match header.first() {
            Some(b'$') => Ok(match usize::try_from(parse_int(&header[1..])?) {
                Ok(len) => Head::Bulk { len, digest: None },
                Err(_) => Head::Whole(Value::Nil),
            }),
            Some(b'+') if header == b"+OK" => Ok(Head::Whole(Value::Okay)),
            Some(b':') => Ok(Head::Whole(Value::Int(parse_int(&header[1..])?))),
            // Length-prefixed: blob error, verbatim string.
            Some(b'!' | b'=') => {
                let length =
                    usize::try_from(parse_int(&header[1..])?).map_err(|_| protocol_error("a bad length"))?;
                let start = self.frame.len();
                self.frame.resize(start + length + 2, 0);
                self.stream.read_exact(&mut self.frame[start..]).await?;
                redis::parse_redis_value(&self.frame).map(Head::Whole)
            }
            // One line: status, error, null, double, boolean, big number.
            Some(b'+' | b'-' | b'_' | b',' | b'#' | b'(') => {
                redis::parse_redis_value(&self.frame).map(Head::Whole)
            }
            _ => Err(protocol_error("an aggregate or unknown reply type")),
        }
    }

    /// With a busy-poll budget and nothing buffered: try to fill the read buffer until bytes (or
    /// the end) are there or the budget is spent, yielding between tries. A try only makes a
    /// system call once the runtime has seen the socket become readable, and that call is the
    /// read itself; the yield lets the runtime look, without sleeping, and run other slots.
    ///
    /// Once the budget is spent there is one more yield and try: the thread may have been away
    /// (descheduled on a busy machine, or running other slots) since the runtime last looked,
    /// and a reply that came meanwhile was not one the budget was too short for.
    async fn poll_for_reply(&mut self) -> io::Result<()> {
        self.busy_polled = false;
        if self.busy_poll.is_zero() || !self.stream.buffer().is_empty() {
            return Ok(());
        }
        let until = Instant::now() + self.busy_poll;
        let mut last_try = false;
        loop {
            let stream = &mut self.stream;
            let filled = poll_fn(|cx| match Pin::new(&mut *stream).poll_fill_buf(cx) {
                Poll::Ready(result) => Poll::Ready(Some(result.map(|_| ()))),
                Poll::Pending => Poll::Ready(None),
            })
            .await;
            if let Some(filled) = filled {
                self.busy_polled = filled.is_ok();
                return filled;
            }
            if last_try {
                return Ok(());
            }
            last_try = Instant::now() >= until;
            tokio::task::yield_now().await;
        }
    }

    /// The `len` bytes of a bulk string whose header was read, and its CRLF.
    async fn read_body(&mut self, len: usize) -> RedisResult<Vec<u8>> {
        // Read into the body's spare capacity: no zeroing, no growth.
        let mut body = Vec::with_capacity(len + 2);
        while body.len() < len + 2 {
            let left = (len + 2 - body.len()) as u64;
            if (&mut self.stream).take(left).read_buf(&mut body).await? == 0 {
                return Err(closed());
            }
        }
        if !body.ends_with(b"\r\n") {
            return Err(protocol_error("a bulk string without CRLF"));
        }
        body.truncate(len);
        Ok(body)
    }

    /// Read past the `len` bytes of a bulk string whose header was read, and its CRLF, adding
    /// them to `hasher` when there is one.
    async fn skip_body(&mut self, len: usize, mut hasher: Option<&mut Hasher>) -> RedisResult<()> {
        let mut left = len;
        while left > 0 {
            let available = self.stream.fill_buf().await?;
            if available.is_empty() {
                return Err(closed());
            }
            let n = available.len().min(left);
            if let Some(h) = hasher.as_mut() {
                h.update(&available[..n]);
            }
            self.stream.consume(n);
            left -= n;
        }
        let mut crlf = [0; 2];
        self.stream.read_exact(&mut crlf).await?;
        if &crlf != b"\r\n" {
            return Err(protocol_error("a bulk string without CRLF"));
        }
        Ok(())
    }
}

/// A reply as far as [`DirectConn::next_reply_head`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Head {
    /// A bulk string of `len` bytes, read past.
    Bulk {
        /// Its length.
        len: usize,
        /// The digest of its bytes, when they were hashed.
        digest: Option<Digest>,
    },
    /// Any other reply, whole: nil, `OK`, an integer, an error.
    Whole(Value),
}

/// Append one command, packed as RESP (an array of bulk strings, the command's name first), to
/// `out`: what `Cmd::write_packed_command` writes, without building a `Cmd`.
pub fn pack(out: &mut Vec<u8>, args: &[&[u8]]) {
    let mut digits = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(digits.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(digits.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// The integer of a reply header (`$334`, `:1`).
fn parse_int(digits: &[u8]) -> RedisResult<i64> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| protocol_error("a bad integer"))
}

fn closed() -> RedisError {
    io::Error::new(io::ErrorKind::UnexpectedEof, "Redis closed the connection").into()
}

fn out_of_step() -> RedisError {
    io::Error::new(io::ErrorKind::BrokenPipe, "a cancelled request left the connection out of step").into()
}

fn protocol_error(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::Parse, "unexpected reply from Redis", what.to_owned()))
}

impl ConnectionLike for DirectConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(self.request(cmd))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        _pipeline: &'a Pipeline,
        _offset: usize,
        _count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async {
            Err(RedisError::from((ErrorKind::Client, "pipelines are not sent on a slot's connection")))
        })
    }

    fn get_db(&self) -> i64 {
        self.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::IntoConnectionInfo;

    #[test]
    fn packed_commands_are_what_the_crate_packs() {
        let body = vec![0xffu8; 300];
        let mut out = Vec::new();
        pack(&mut out, &[b"GET", b"fetchbench:filename7.txt"]);
        pack(&mut out, &[b"SET", b"k", b"", &body]);
        let mut expected = redis::cmd("GET").arg("fetchbench:filename7.txt").get_packed_command();
        expected.extend(redis::cmd("SET").arg("k").arg("").arg(&body).get_packed_command());
        assert!(out == expected, "{}\nis not\n{}", out.escape_ascii(), expected.escape_ascii());
    }

    /// On a busy machine the polling thread is taken away now and then. A reply that came while
    /// it was away, and is waiting when it comes back after the budget ran out, was not missed
    /// by the budget: it is caught, not left to the sleeping read (and the summary's advice to
    /// raise `busy_poll`).
    #[test]
    fn a_reply_that_came_while_the_poller_was_away_is_caught() {
        use std::io::Write;
        let budget = Duration::from_millis(10);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("redis://{}", listener.local_addr().expect("addr"));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let caught = runtime.block_on(async move {
            let info = url.as_str().into_connection_info().expect("url");
            let mut conn = DirectConn::connect(&info, Duration::from_secs(5)).await.expect("connect");
            let (mut server, _) = listener.accept().expect("accept");
            conn.set_busy_poll(budget);
            conn.send(1, |out| pack(out, &[b"PING"])).await.expect("send");
            let poller = tokio::spawn(async move {
                let reply = conn.next_reply().await.expect("reply");
                (reply, conn.busy_polled())
            });
            // Woken by the runtime's timer between two of the poller's looks (ahead of it in
            // the queue): the reply arrives, then the thread is away for three budgets.
            let away = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                server.write_all(b"+PONG\r\n").expect("reply");
                std::thread::sleep(3 * budget);
                server
            });
            let caught = poller.await.expect("poller");
            drop(away.await);
            caught
        });
        assert_eq!(caught, (Value::SimpleString("PONG".into()), true));
    }
}
