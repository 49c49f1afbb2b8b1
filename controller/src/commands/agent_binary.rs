//! `--agent-binary` of `provision` and `install`: the binary to install on the fleet, checked for
//! the instances' architecture before anything is created or sent.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::fleet::local::default_agent_binary;

/// Check that `path` (default: the `fetchbench-agent` beside the controller) is a Linux ELF
/// binary for `arch`; return the path.
pub fn check(path: Option<&Path>, arch: &str) -> Result<PathBuf, Error> {
    let path = path.map_or_else(default_agent_binary, Path::to_path_buf);
    let target = if arch == "aarch64" { "aarch64-unknown-linux-musl" } else { "x86_64-unknown-linux-musl" };
    let how = format!(
        "build one with `cargo build --release -p fetchbench-agent --target {target}` and pass \
         --agent-binary target/{target}/release/fetchbench-agent"
    );
    let fail = |detail: String| Error::AgentBinary { path: path.clone(), detail };
    let mut header = [0u8; 20];
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(|e| fail(format!("cannot read it ({e}); {how}")))?;
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Err(fail(format!("is not a 64-bit little-endian Linux (ELF) binary; {how}")));
    }
    let found = match u16::from_le_bytes([header[18], header[19]]) {
        0x3e => "x86_64",
        0xb7 => "aarch64",
        other => return Err(fail(format!("is an ELF binary for machine {other:#x}; {how}"))),
    };
    if found != arch {
        return Err(fail(format!("is built for {found} but the agents' instance type is {arch}; {how}")));
    }
    Ok(path)
}
