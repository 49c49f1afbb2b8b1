//! The floor under a synchronized start on this machine: N bare processes told to wake at one
//! instant, each of which only takes the time and writes one line, the least an agent can do at
//! its start. What is left of the spread is the cost of waking N processes on this machine's
//! cores; `bench/run` prints it next to the start skew of N real agents. A benchmark, not a test.
//!
//!     cargo run --release --example wake_floor -- [PROCESSES]
//!
//! Default: 64 processes. The last line is JSON, for `bench/run`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

/// Time to spawn every process before the instant comes.
const LEAD: Duration = Duration::from_secs(1);
/// How long a woken process stays, idle, so that its exit does not delay the others' wake.
const LINGER: Duration = Duration::from_secs(2);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let at = args.get(2).context("--child needs the instant")?.parse().context("the instant")?;
        return child(at);
    }
    let processes: usize = args.get(1).map_or(Ok(64), |s| s.parse()).context("PROCESSES")?;
    let at = now_ns() + LEAD.as_nanos() as u64;
    let me = std::env::current_exe().context("finding this program")?;
    let mut children = (0..processes)
        .map(|_| {
            Command::new(&me)
                .args(["--child", &at.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .context("spawning a process")
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

/// Sleep until `at` (ns since the Unix epoch), write how late it woke, then stay idle.
fn child(at: u64) -> anyhow::Result<()> {
    std::thread::sleep(Duration::from_nanos(at.saturating_sub(now_ns())));
    let late = now_ns().saturating_sub(at);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{late}")?;
    out.flush()?;
    std::thread::sleep(LINGER);
    Ok(())
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
