//! The floor under a synchronized start on this machine: N bare processes told to wake at one
//! instant, each of which only takes the time and writes one line, the least an agent can do at
//! its start. What is left of the spread is the cost of waking N processes on this machine's
//! cores; `bench/run` prints it next to the start skew of N real agents. A benchmark, not a test.
//!
//!     cargo run --release --example wake_floor -- [PROCESSES] [REDIS_PORT]
//!
//! Default: 64 processes. With REDIS_PORT each process also does what an agent's first request
//! does, with no runtime: it connects before the instant, and after taking the time it sends one
//! GET of a 334-byte value to the redis-server on 127.0.0.1:REDIS_PORT and blocks until the whole
//! reply is in. The server's work and the replies' wake-ups then share the cores with the
//! processes still to send, as they do in a fleet's start. The last line is JSON, for `bench/run`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

/// Time to spawn every process before the instant comes.
const LEAD: Duration = Duration::from_secs(1);
/// How long a woken process stays, idle, so that its exit does not delay the others' wake.
const LINGER: Duration = Duration::from_secs(2);
/// The key each process reads with REDIS_PORT, and its value's size (the benchmarks' objects).
const KEY: &str = "wake_floor:value";
const VALUE_BYTES: usize = 334;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let at = args.get(2).context("--child needs the instant")?.parse().context("the instant")?;
        let port = args.get(3).map(|p| p.parse::<u16>()).transpose().context("REDIS_PORT")?;
        return child(at, port);
    }
    let processes: usize = args.get(1).map_or(Ok(64), |s| s.parse()).context("PROCESSES")?;
    let port = args.get(2).map(|p| p.parse::<u16>()).transpose().context("REDIS_PORT")?;
    if let Some(port) = port {
        set_value(port)?;
    }
    let at = now_ns() + LEAD.as_nanos() as u64;
    let me = std::env::current_exe().context("finding this program")?;
    let mut children = (0..processes)
        .map(|_| {
            let mut args = vec!["--child".to_owned(), at.to_string()];
            args.extend(port.map(|p| p.to_string()));
            Command::new(&me).args(args).stdout(Stdio::piped()).spawn().context("spawning a process")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut late_ns = Vec::with_capacity(processes);
    for c in &mut children {
        let mut line = String::new();
        BufReader::new(c.stdout.take().context("piped stdout")?).read_line(&mut line)?;
        late_ns.push(line.trim().parse::<u64>().with_context(|| format!("a process wrote {line:?}"))?);
    }
    for mut c in children {
        c.wait()?;
    }
    late_ns.sort_unstable();
    let first = late_ns[0];
    let offset_ms = |q: f64| {
        let i = ((q * processes as f64) as usize).min(processes - 1);
        (late_ns[i] - first) as f64 / 1e6
    };
    println!(
        "{processes} processes woken at one instant: first {:.3} ms after it; offsets from the first p50 {:.3} ms, p99 {:.3} ms",
        first as f64 / 1e6,
        offset_ms(0.5),
        offset_ms(0.99)
    );
    println!(
        "{{\"processes\": {processes}, \"first_late_ms\": {:.4}, \"offset_p50_ms\": {:.4}, \"offset_p99_ms\": {:.4}}}",
        first as f64 / 1e6,
        offset_ms(0.5),
        offset_ms(0.99)
    );
    Ok(())
}

/// Sleep until `at` (ns since the Unix epoch), take the time, GET the value if there is a
/// Redis, write how late it woke, then stay idle.
fn child(at: u64, port: Option<u16>) -> anyhow::Result<()> {
    let mut conn = port.map(connect).transpose()?;
    std::thread::sleep(Duration::from_nanos(at.saturating_sub(now_ns())));
    let late = now_ns().saturating_sub(at);
    if let Some(conn) = &mut conn {
        conn.write_all(format!("*2\r\n$3\r\nGET\r\n${}\r\n{KEY}\r\n", KEY.len()).as_bytes())?;
        let header = format!("${VALUE_BYTES}\r\n");
        let mut reply = vec![0; header.len() + VALUE_BYTES + 2];
        conn.read_exact(&mut reply).context("reading the GET's reply")?;
        if !reply.starts_with(header.as_bytes()) {
            bail!("unexpected reply {:?}", String::from_utf8_lossy(&reply));
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{late}")?;
    out.flush()?;
    std::thread::sleep(LINGER);
    Ok(())
}

/// Store the value the processes will read.
fn set_value(port: u16) -> anyhow::Result<()> {
    let mut conn = connect(port)?;
    let value = "v".repeat(VALUE_BYTES);
    conn.write_all(
        format!("*3\r\n$3\r\nSET\r\n${}\r\n{KEY}\r\n${VALUE_BYTES}\r\n{value}\r\n", KEY.len()).as_bytes(),
    )?;
    let mut ok = [0; 5];
    conn.read_exact(&mut ok).context("reading the SET's reply")?;
    if &ok != b"+OK\r\n" {
        bail!("SET {KEY} answered {:?}", String::from_utf8_lossy(&ok));
    }
    Ok(())
}

fn connect(port: u16) -> anyhow::Result<TcpStream> {
    let conn = TcpStream::connect(("127.0.0.1", port)).with_context(|| format!("redis on port {port}"))?;
    conn.set_nodelay(true)?;
    Ok(conn)
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
