//! A multi-host test bed on one machine: two network namespaces, each an agent "host" on its own
//! address, joined to the controller's side by veth pairs on a bridge the test makes. Cutting one
//! host's link in the middle of a run must lose that agent (and only it) within the silence bound,
//! keep what it reported, and exit 3; the cut agent, once reachable again, must be idle.
//!
//! Needs root and iproute2; fails without them unless FETCHBENCH_SKIP_NETNS=1 asks to skip it.
//! All traffic stays inside the bridge and namespaces the test creates.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    LOG_INTERVALS, RunLog, Sandbox, StaticAgent, agent_command, read_json, start_agent_process, stderr,
    wait_for_line,
};
use fetchbench_proto as pb;

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// Why this machine cannot host the test bed, if it cannot.
fn unsupported() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root: network namespaces need root".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("`ip` (iproute2) is not installed".into());
    }
    None
}

/// The bridge, namespaces and veth pairs; removed when dropped.
struct TestBed {
    bridge: String,
    hosts: Vec<Host>,
    /// The controller's address on the bridge.
    gateway: String,
}

struct Host {
    netns: String,
    /// The host end of its veth pair, on the bridge: set it down to cut the link.
    link: String,
    addr: String,
}

impl TestBed {
    fn new(hosts: usize) -> TestBed {
        let id = std::process::id() % 100_000;
        let subnet = format!("10.231.{}", id % 250);
        let bridge = format!("fbbr{id}");
        ip(&["link", "add", &bridge, "type", "bridge"]);
        let mut bed = TestBed { bridge: bridge.clone(), hosts: Vec::new(), gateway: format!("{subnet}.1") };
        ip(&["addr", "add", &format!("{}/24", bed.gateway), "dev", &bridge]);
        ip(&["link", "set", &bridge, "up"]);
        for h in 0..hosts {
            let netns = format!("fbns{id}x{h}");
            let (link, inner) = (format!("fbh{id}x{h}"), format!("fbn{id}x{h}"));
            let addr = format!("{subnet}.{}", 2 + h);
            ip(&["netns", "add", &netns]);
            bed.hosts.push(Host { netns: netns.clone(), link: link.clone(), addr: addr.clone() });
            ip(&["link", "add", &link, "type", "veth", "peer", "name", &inner]);
            ip(&["link", "set", &inner, "netns", &netns]);
            ip(&["link", "set", &link, "master", &bridge]);
            ip(&["link", "set", &link, "up"]);
            ip(&["netns", "exec", &netns, "ip", "addr", "add", &format!("{addr}/24"), "dev", &inner]);
            ip(&["netns", "exec", &netns, "ip", "link", "set", &inner, "up"]);
            ip(&["netns", "exec", &netns, "ip", "link", "set", "lo", "up"]);
        }
        bed
    }
}

impl Drop for TestBed {
    fn drop(&mut self) {
        for h in &self.hosts {
            let _ = Command::new("ip").args(["link", "del", &h.link]).output();
            let _ = Command::new("ip").args(["netns", "del", &h.netns]).output();
        }
        let _ = Command::new("ip").args(["link", "del", &self.bridge]).output();
    }
}

/// The agent of `host`, in its namespace, on port 7878 of its address.
fn start_agent(sb: &Sandbox, certs: &std::path::Path, host: &Host) -> StaticAgent {
    let addr = host.addr.to_string();
    let mut command =
        agent_command(certs, &addr, &format!("{addr}:7878"), &["ip", "netns", "exec", &host.netns]);
    command.env("FETCHBENCH_TEST_MARKER", &sb.marker).stderr(Stdio::null());
    start_agent_process(command)
}

/// Run `f` on a thread that joined network namespace `netns`: sockets it opens live there.
#[allow(unsafe_code)]
fn in_netns<T: Send>(netns: &str, f: impl FnOnce() -> T + Send) -> T {
    use std::os::fd::AsRawFd;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let ns =
                    std::fs::File::open(format!("/var/run/netns/{netns}")).expect("the namespace exists");
                // SAFETY: setns on a valid descriptor changes only this thread's network namespace.
                let joined = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(joined, 0, "setns {netns}: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .expect("the probe thread")
    })
}

fn agent_state(certs: &std::path::Path, addr: SocketAddr) -> Option<pb::AgentState> {
    let tls = fetchbench::fleet::tls::ClientTls::load(certs).expect("identity");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let probe = fetchbench::fleet::connect::connect("probe", addr, tls.config(&addr.ip().to_string()));
        match tokio::time::timeout(Duration::from_secs(5), probe).await {
            Ok(Ok((_, hello, _))) => Some(hello.state()),
            _ => None,
        }
    })
}

#[test]
fn cutting_one_agents_link_loses_only_that_agent() {
    if let Some(why) = unsupported() {
        // A skip must be asked for, so a suite that never ran this test cannot pass unseen.
        assert!(
            std::env::var("FETCHBENCH_SKIP_NETNS").as_deref() == Ok("1"),
            "cannot run the netns test: {why}; run as root with iproute2, or set FETCHBENCH_SKIP_NETNS=1 to skip it"
        );
        eprintln!("skipped (FETCHBENCH_SKIP_NETNS=1): {why}");
        return;
    }
    let sb = Sandbox::new();
    let bed = TestBed::new(2);
    let certs = sb.path().join("certs");
    let hosts: Vec<&str> = bed.hosts.iter().map(|h| h.addr.as_str()).collect();
    let made = sb.run(&[&["certs", certs.to_str().expect("utf-8")][..], &hosts].concat());
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let agents: Vec<StaticAgent> = bed.hosts.iter().map(|h| start_agent(&sb, &certs, h)).collect();

    let scenario = sb.write(
        "two.toml",
        "name = \"two\"\n[dataset]\nobjects = 20\nsize = 100\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nconcurrency = 2\nduration = \"12s\"\n",
    );
    let out = sb.path().join("out");
    let mut child = sb
        .fetchbench()
        .args(["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")])
        .args(["--tls-dir", certs.to_str().expect("utf-8"), "--serve-on", &bed.gateway])
        .args(["--agent", &agents[0].addr.to_string(), "--agent", &agents[1].addr.to_string()])
        .env("RUST_LOG", LOG_INTERVALS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetchbench starts");
    // Timed as each line comes, so the line saying an agent was lost has its time.
    let mut log = RunLog::new(&mut child);
    let (_, rest) = wait_for_line(&mut child, "running r ");
    // Let both agents report, then cut the second one's link: no packet says it is gone.
    log.wait_for_progress_of(2);
    ip(&["link", "set", &bed.hosts[1].link, "down"]);
    let cut = Instant::now();
    // The cut agent's keep-alive pings go unanswered: it must stop its load within about 5 s
    // (2 s between pings, 3 s to answer), asked from inside its own namespace.
    let idle_after = in_netns(&bed.hosts[1].netns, || {
        loop {
            if agent_state(&certs, agents[1].addr) == Some(pb::AgentState::Idle) {
                break cut.elapsed();
            }
            assert!(cut.elapsed() < Duration::from_secs(30), "the cut agent was still running 30 s later");
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    assert!(
        idle_after < Duration::from_secs(9),
        "the cut agent stopped its load {idle_after:?} after the cut"
    );
    let _: Vec<String> = rest.map_while(Result::ok).collect();
    let status = child.wait().expect("fetchbench exits");
    assert_eq!(status.code(), Some(3));

    let r = read_json(&out.join("result.json"));
    assert_eq!(r["agents"][0]["status"], "ok", "{}", r["agents"]);
    assert_eq!(r["agents"][1]["status"], "lost", "{}", r["agents"]);
    let reason = r["agents"][1]["error"].as_str().expect("a reason");
    // Found by the silence watchdog or by the HTTP/2 keep-alive pings breaking the connection,
    // whichever comes first: both within about 5 s.
    assert!(
        reason == "no progress or heartbeat for 5s"
            || reason.ends_with("error reading a body from connection"),
        "{reason}"
    );
    let (when, line) = log.wait_for("a line saying the agent was lost", |l| l.contains(" lost: "));
    assert!(line.contains(&format!("({}) lost: {reason}", agents[1].addr)), "{line}");
    let lost_after = when - cut;
    assert!(lost_after < Duration::from_secs(8), "the cut agent was found lost {lost_after:?} after the cut");
    let per_agent = r["workloads"][0]["per_agent"].as_array().expect("per_agent");
    assert!(per_agent[1]["ops"].as_u64().expect("ops") > 0, "the cut agent's figures were kept");
    assert!(per_agent[0]["ops"].as_u64().expect("ops") > per_agent[1]["ops"].as_u64().expect("ops"));

    // The cut agent lost its controller (keep-alive pings went unanswered) and stopped its load:
    // once its link is back, it answers, idle.
    ip(&["link", "set", &bed.hosts[1].link, "up"]);
    let state = loop {
        match agent_state(&certs, agents[1].addr) {
            Some(state) => break state,
            None if cut.elapsed() < Duration::from_secs(60) => std::thread::sleep(Duration::from_millis(200)),
            None => panic!("the cut agent never answered again"),
        }
    };
    assert_eq!(state, pb::AgentState::Idle);
    drop(agents);
    drop(bed);
    sb.assert_clean();
}
