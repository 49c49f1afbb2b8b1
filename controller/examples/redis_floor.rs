//! The floor under a Redis GET at concurrency 1 on this machine: the least a client can do per
//! request, one blocking write of the command and blocking reads until the whole reply is in,
//! timed around both. No runtime, no event loop, no parser beyond the bulk string's length.
//! `bench/run` runs it beside redis-benchmark and fetchbench, so that the gap between those two
//! can be split into what any client pays on this machine and what fetchbench's agent adds.
//! A benchmark, not a test.
//!
//!     cargo run --release --example redis_floor -- PORT [SECONDS] [KEYS] [spin|rearm]
//!
//! Reads `key:000000000000` .. (redis-benchmark's key names, which must hold values) in turn for
//! SECONDS (default 10) over KEYS keys (default 200). The last line is JSON, for `bench/run`.
//! With `spin` the socket is non-blocking and the client retries its reads without pause, so its
//! core never sleeps: the floor of a client that busy-polls (fetchbench's `busy_poll`).
//! With `rearm` the client waits in `epoll_wait` and, after each write, removes the socket from
//! its epoll set and adds it again, as redis-benchmark's event loop does (its `aeDeleteFileEvent`
//! and `aeCreateFileEvent` around every request): work that does nothing for the request, kept
//! to measure what it does to the wait on this machine.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 =
        args.get(1).context("usage: redis_floor PORT [SECONDS] [KEYS]")?.parse().context("PORT")?;
    let seconds: f64 = args.get(2).map_or(Ok(10.0), |s| s.parse()).context("SECONDS")?;
    let keys: u64 = args.get(3).map_or(Ok(200), |s| s.parse()).context("KEYS")?;
    if keys == 0 || seconds <= 0.0 {
        bail!("SECONDS and KEYS must be above 0");
    }
    let mut conn =
        TcpStream::connect(("127.0.0.1", port)).with_context(|| format!("redis on port {port}"))?;
    conn.set_nodelay(true)?;
    let mut wait = match args.get(4).map(String::as_str) {
        None => Wait::Block,
        Some("spin") => Wait::Spin,
        Some("rearm") => Wait::Rearm {
            poll: mio::Poll::new().context("epoll_create")?,
            events: mio::Events::with_capacity(1),
            // The same socket (a second descriptor of it), as epoll sees it.
            source: mio::net::TcpStream::from_std(conn.try_clone()?),
        },
        Some(other) => bail!(
            "{other:?} is neither \"spin\" nor \"rearm\"; usage: redis_floor PORT [SECONDS] [KEYS] [spin|rearm]"
        ),
    };
    conn.set_nonblocking(!matches!(wait, Wait::Block))?;
    let commands: Vec<Vec<u8>> = (0..keys)
        .map(|i| {
            let key = format!("key:{i:012}");
            format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).into_bytes()
        })
        .collect();
    let mut reply = vec![0u8; 64 * 1024];
    let mut latencies_ns = Vec::with_capacity(1 << 20);
    let length = Duration::from_secs_f64(seconds);
    let begin = Instant::now();
    let mut done = begin;
    for key in (0..commands.len()).cycle() {
        if done - begin >= length {
            break;
        }
        let sent = Instant::now();
        write_all(&mut conn, &commands[key]).context("writing to redis")?;
        wait.rearm().context("epoll_ctl")?;
        read_bulk(&mut conn, &mut wait, &mut reply)
            .with_context(|| format!("reading the reply to GET key:{key:012}"))?;
        done = Instant::now();
        latencies_ns.push((done - sent).as_nanos() as u64);
    }
    let wall = done - begin;
    latencies_ns.sort_unstable();
    let n = latencies_ns.len();
    let quantile_us = |q: f64| latencies_ns[((q * n as f64) as usize).min(n - 1)] as f64 / 1e3;
    let mean_us = latencies_ns.iter().sum::<u64>() as f64 / n as f64 / 1e3;
    println!(
        "{n} GETs at concurrency 1 in {:.1} s: p50 {:.1} µs, p99 {:.1} µs, mean {mean_us:.1} µs",
        wall.as_secs_f64(),
        quantile_us(0.5),
        quantile_us(0.99)
    );
    println!(
        "{{\"requests\": {n}, \"ops_s\": {:.1}, \"p50_us\": {:.2}, \"p99_us\": {:.2}, \"mean_us\": {mean_us:.2}}}",
        n as f64 / wall.as_secs_f64(),
        quantile_us(0.5),
        quantile_us(0.99)
    );
    Ok(())
}

/// How the client waits for a reply.
enum Wait {
    /// Blocking reads: the thread sleeps in `recvfrom`.
    Block,
    /// Non-blocking reads retried without pause: the core never sleeps.
    Spin,
    /// Non-blocking reads, and a sleep in `epoll_wait` until the socket is readable; its
    /// registration is removed and added again after each write.
    Rearm { poll: mio::Poll, events: mio::Events, source: mio::net::TcpStream },
}

impl Wait {
    /// After a write: take the socket out of the epoll set and put it back (`EPOLL_CTL_DEL`,
    /// `EPOLL_CTL_ADD`), as redis-benchmark does. Nothing for the other ways of waiting.
    fn rearm(&mut self) -> std::io::Result<()> {
        if let Wait::Rearm { poll, source, .. } = self {
            // Before the first request there is nothing to remove.
            let _ = poll.registry().deregister(source);
            poll.registry().register(source, mio::Token(0), mio::Interest::READABLE)?;
        }
        Ok(())
    }
}

/// Read one bulk-string reply (`$LEN\r\n` then LEN bytes and `\r\n`) into `buf`.
fn read_bulk(conn: &mut TcpStream, wait: &mut Wait, buf: &mut [u8]) -> anyhow::Result<()> {
    let mut got = 0;
    let total = loop {
        let n = read(conn, wait, &mut buf[got..])?;
        if n == 0 {
            bail!("redis closed the connection");
        }
        got += n;
        if let Some(end) = buf[..got].windows(2).position(|w| w == b"\r\n") {
            let header = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let Some(length) = header.strip_prefix('$').and_then(|l| l.parse::<i64>().ok()) else {
                bail!("unexpected reply {header:?}");
            };
            if length < 0 {
                bail!("the key holds no value; load redis-benchmark's keys first");
            }
            break end + 2 + length as usize + 2;
        }
    };
    if total > buf.len() {
        bail!("a reply of {total} bytes is larger than this client's buffer");
    }
    while got < total {
        let n = read(conn, wait, &mut buf[got..total])?;
        if n == 0 {
            bail!("redis closed the connection");
        }
        got += n;
    }
    Ok(())
}

/// One read; on a non-blocking socket, retried until something arrives: at once when spinning,
/// after `epoll_wait` says the socket is readable when re-arming.
fn read(conn: &mut TcpStream, wait: &mut Wait, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match conn.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => match wait {
                Wait::Rearm { poll, events, .. } => poll.poll(events, None)?,
                _ => std::hint::spin_loop(),
            },
            other => return other,
        }
    }
}

/// `write_all` that also retries on a non-blocking socket whose buffer is full.
fn write_all(conn: &mut TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match conn.write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
