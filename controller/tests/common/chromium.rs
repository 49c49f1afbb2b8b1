//! Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
//! messages separated by NUL bytes on file descriptors 3 and 4), with no crate beyond serde_json:
//! open a local file, record every console message, exception and network request, evaluate a
//! script in the page and take a full-page screenshot.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// Longest wait for any one answer or event from the browser.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// What a page did while it loaded.
#[derive(Debug)]
pub struct Visit {
    /// Console messages of type error or assert, uncaught exceptions and browser log entries of
    /// level error (failed loads, blocked content), as text.
    pub errors: Vec<String>,
    /// The URL of every request the page made, the page itself included.
    pub requests: Vec<String>,
    /// What the script evaluated to.
    pub value: Value,
    /// The full page as a PNG.
    pub screenshot: Vec<u8>,
}

struct Browser {
    child: Child,
    to: ChildStdin,
    from: Receiver<Value>,
    next_id: u64,
    /// Events received while waiting for answers, in order.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

/// The Chromium binary: `$FETCHBENCH_CHROMIUM`, else `chromium` (Debian's package).
pub fn binary() -> String {
    std::env::var("FETCHBENCH_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

impl Browser {
    fn launch() -> Browser {
        let profile = tempfile::tempdir().expect("profile folder");
        // fd 3 carries our commands to the browser and fd 4 its answers back: the shell moves
        // our stdin/stdout pipes there, then hands chromium /dev/null and stderr.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec \"$@\" 3<&0 4>&1 0</dev/null 1>&2")
            .arg("sh")
            .arg(binary())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--disable-extensions",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                // Anything that did try the network would go to a closed local port.
                "--proxy-server=http://127.0.0.1:9",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e} (scripts/setup test installs it)", binary()));
        let to = child.stdin.take().expect("piped");
        let out = child.stdout.take().expect("piped");
        let (tx, from) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            loop {
                let mut message = Vec::new();
                match reader.read_until(0, &mut message) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if message.last() == Some(&0) {
                            message.pop();
                        }
                        let Ok(value) = serde_json::from_slice::<Value>(&message) else { continue };
                        if tx.send(value).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Browser { child, to, from, next_id: 0, events: Vec::new(), _profile: profile }
    }

    fn receive(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.from.recv_timeout(left) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => panic!("chromium: no {waiting_for} within {ANSWER_TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait();
                panic!("chromium exited while waiting for {waiting_for}: {status:?}")
            }
        }
    }

    /// Call `method` (in `session`, or on the browser) and return its result; events that arrive
    /// meanwhile are kept.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&message).expect("serialises");
        bytes.push(0);
        self.to.write_all(&bytes).and_then(|()| self.to.flush()).expect("chromium reads its pipe");
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let v = self.receive(deadline, method);
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method} failed: {}", v["error"]);
                return v["result"].clone();
            }
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    /// Wait for the event `method` in `session` (it may have arrived already).
    fn wait_for(&mut self, session: &str, method: &str) {
        let seen = |e: &Value| e["method"] == method && e["sessionId"] == session;
        if self.events.iter().any(seen) {
            return;
        }
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let v = self.receive(deadline, method);
            let found = seen(&v);
            if v.get("method").is_some() {
                self.events.push(v);
            }
            if found {
                return;
            }
        }
    }

    fn close(mut self) {
        let _ = self.call(None, "Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Open `page` in a fresh headless Chromium, 1200 CSS pixels wide, wait for its load event,
/// evaluate `script` (an expression; its value must be JSON) and take a full-page screenshot.
pub fn visit(page: &Path, script: &str) -> Visit {
    let url = format!("file://{}", page.canonicalize().expect("page exists").display());
    let mut b = Browser::launch();
    let target = b.call(None, "Target.createTarget", json!({"url": "about:blank"}));
    let target_id = target["targetId"].as_str().expect("targetId").to_owned();
    let attached = b.call(None, "Target.attachToTarget", json!({"targetId": target_id, "flatten": true}));
    let session = attached["sessionId"].as_str().expect("sessionId").to_owned();
    let s = Some(session.as_str());
    for domain in ["Runtime", "Log", "Network", "Page"] {
        b.call(s, &format!("{domain}.enable"), json!({}));
    }
    b.call(
        s,
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );
    let nav = b.call(s, "Page.navigate", json!({"url": url}));
    assert!(nav.get("errorText").is_none(), "navigation to {url} failed: {nav}");
    b.wait_for(&session, "Page.loadEventFired");
    let value = b.call(s, "Runtime.evaluate", json!({"expression": script, "returnByValue": true}));
    assert!(value.get("exceptionDetails").is_none(), "the script threw: {value}");
    let value = value["result"]["value"].clone();
    let metrics = b.call(s, "Page.getLayoutMetrics", json!({}));
    let size = &metrics["cssContentSize"];
    let (width, height) =
        (size["width"].as_f64().unwrap_or(0.0).max(1200.0), size["height"].as_f64().unwrap_or(900.0));
    let shot = b.call(
        s,
        "Page.captureScreenshot",
        json!({"format": "png", "captureBeyondViewport": true,
               "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
    );
    let screenshot = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("screenshot data"))
        .expect("screenshot is base64");
    // Anything logged up to here counts.
    let events: Vec<Value> =
        std::mem::take(&mut b.events).into_iter().filter(|e| e["sessionId"] == session.as_str()).collect();
    b.close();

    let mut errors = Vec::new();
    let mut requests = Vec::new();
    for e in &events {
        let p = &e["params"];
        match e["method"].as_str().unwrap_or_default() {
            "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert")) => {
                errors.push(format!("console.{}: {}", p["type"], p["args"]));
            }
            "Runtime.exceptionThrown" => errors.push(format!("exception: {}", p["exceptionDetails"])),
            "Log.entryAdded" if p["entry"]["level"] == "error" => {
                errors.push(format!("log: {} {}", p["entry"]["text"], p["entry"]["url"]));
            }
            "Network.requestWillBeSent" => {
                requests.push(p["request"]["url"].as_str().unwrap_or_default().to_owned());
            }
            _ => {}
        }
    }
    Visit { errors, requests, value, screenshot }
}

/// Width and height of a PNG, from its IHDR chunk.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert_eq!(&png[12..16], b"IHDR", "no IHDR chunk first");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}
