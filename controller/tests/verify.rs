//! `verify = true`: every body read is checked against the bytes the dataset says the object
//! holds, and one that differs counts as a `corrupt` error. The data is damaged on its way back
//! from a real redis-server by a proxy the test puts between it and the agents, as a faulty
//! network device or a store returning wrong data would; the test knows from the dataset which
//! objects the damage reaches.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

use common::*;
use fetchbench_proto::dataset::{Generator, Sizes};

/// A TCP proxy to `127.0.0.1:upstream` that changes, in what the server sends back, every `Q`
/// that follows a `Q` into `q`: so a value holding "QQ" comes back changed, and nothing else does
/// (replies' headers and statuses never hold "QQ"). Returns its port; it serves until the test
/// process ends.
fn damaging_proxy(upstream: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
            let (c2, s2) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
            std::thread::spawn(move || pipe(client, server, false));
            std::thread::spawn(move || pipe(s2, c2, true));
        }
    });
    port
}

/// Copy `from` to `to` until either ends; with `damage`, as [`damaging_proxy`] says. Whether a
/// byte is changed depends only on the byte before it in the stream, however the reads split it.
fn pipe(mut from: TcpStream, mut to: TcpStream, damage: bool) {
    let mut buf = [0u8; 16 * 1024];
    let mut last = 0u8;
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        if damage {
            for b in &mut buf[..n] {
                let original = *b;
                if original == b'Q' && last == b'Q' {
                    *b = b'q';
                }
                last = original;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

const OBJECTS: u64 = 200;

/// The scenario's dataset, as the agents make it.
fn dataset() -> Generator {
    Generator { objects: OBJECTS, sizes: Sizes::Uniform { min: 235, max: 434 }, seed: 1, named: Vec::new() }
}

/// The objects whose bytes hold "QQ": those the proxy damages.
fn damaged() -> u64 {
    let d = dataset();
    (0..OBJECTS).filter(|&i| d.body(i).windows(2).any(|w| w == b"QQ")).count() as u64
}

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a count"))
}

/// Each workload reads every object twice, in order, one agent, no warm-up.
fn workload(name: &str, target: &str, extra: &str) -> String {
    format!(
        "[[workload]]\nname = \"{name}\"\ntarget = \"{target}\"\nkeys = \"sequential\"\n\
         requests = {}\n{extra}\n",
        2 * OBJECTS
    )
}

/// `fetchbench run` of the scenario's dataset with `workloads`, against the Redis at `url`: what
/// it did and its result.json.
fn run(sb: &Sandbox, workloads: &[String], url: &str) -> (std::process::Output, serde_json::Value) {
    let scenario = sb.write(
        "verify.toml",
        &format!(
            "name = \"verify\"\n[dataset]\nobjects = {OBJECTS}\nsize = {{ min = 235, max = 434 }}\nseed = 1\n{}",
            workloads.concat()
        ),
    );
    let out = sb.path().join("out");
    let o = sb.run(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--redis-url",
        url,
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let result = if out.join("result.json").exists() {
        read_json(&out.join("result.json"))
    } else {
        serde_json::Value::Null
    };
    (o, result)
}

#[test]
fn bodies_that_differ_from_the_dataset_are_counted_as_corrupt_on_every_read_path() {
    let damaged = damaged();
    assert!((10..OBJECTS / 2).contains(&damaged), "the dataset has {damaged} objects with QQ");
    let redis = Redis::start();
    let proxy = damaging_proxy(redis.port);
    let sb = Sandbox::new();
    let workloads = [
        workload("redis-get", "redis", "verify = true"),
        workload("redis-pipelined", "redis", "verify = true\npipeline = 8"),
        workload("cache-aside", "cache-aside", "verify = true"),
        workload("s3-get", "s3", "verify = true"),
        workload("redis-unchecked", "redis", ""),
    ];
    let (o, result) = run(&sb, &workloads, &format!("redis://127.0.0.1:{proxy}"));
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "errors make a degraded run\n{text}\n{}", stderr(&o));
    let by_name = |name: &str| {
        result["workloads"]
            .as_array()
            .expect("workloads")
            .iter()
            .find(|w| w["name"] == name)
            .unwrap_or_else(|| panic!("no workload {name}"))
            .clone()
    };
    // Every read of a damaged object, and only those, whichever way it was read: one command at a
    // time, pipelined, and through the cache (all hits: the cache is warm).
    for name in ["redis-get", "redis-pipelined", "cache-aside"] {
        let w = by_name(name);
        assert_eq!(u(&w["errors_by_kind"]["corrupt"]), 2 * damaged, "{name}: {w}");
        assert_eq!(u(&w["errors"]), 2 * damaged, "{name}: no other errors");
        assert_eq!(u(&w["ops"]), 2 * (OBJECTS - damaged), "{name}");
    }
    // S3's bytes do not pass the proxy; and reads not verified count nothing.
    for name in ["s3-get", "redis-unchecked"] {
        let w = by_name(name);
        assert_eq!((u(&w["ops"]), u(&w["errors"])), (2 * OBJECTS, 0), "{name}: {w}");
    }
    assert!(
        text.contains(&format!("DEGRADED: redis-get had {} errors (corrupt {})", 2 * damaged, 2 * damaged)),
        "{text}"
    );
    assert!(text.contains("bodies read that are not the dataset's bytes"), "{text}");
    sb.assert_clean();

    // Through the redis crate's own connection (RESP3), which keeps each value whole.
    let sb = Sandbox::new();
    let url = format!("redis://127.0.0.1:{proxy}/?protocol=resp3");
    let (o, result) = run(&sb, &[workload("redis-get", "redis", "verify = true")], &url);
    assert_eq!(o.status.code(), Some(3), "{}\n{}", stdout(&o), stderr(&o));
    let w = &result["workloads"][0];
    assert_eq!(u(&w["errors_by_kind"]["corrupt"]), 2 * damaged, "{w}");
    sb.assert_clean();
}
