//! What the controller remembers about a provisioned fleet, in `~/.fetchbench/<stack>/`:
//! `state.json` (stack, region, outputs, installed agents), the fleet's certificate authority and
//! the controller's client certificate (keys 0600, folder 0700). It is written before the stack
//! is created, so that a crash mid-provision can still be torn down, and removed by teardown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why the local state could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// `$HOME` is not set, so there is nowhere to keep state.
    #[error("HOME is not set; fetchbench keeps fleet state in $HOME/.fetchbench")]
    NoHome,
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// state.json is not what fetchbench wrote.
    #[error("{}: {detail}; fix or remove it (fetchbench teardown works without it)", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// `state.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// CloudFormation stack name.
    pub stack: String,
    /// AWS region of the stack.
    pub region: String,
    /// AWS profile given at provision time, used again by the other commands.
    pub profile: Option<String>,
    /// The stack's id (an ARN), once CloudFormation gave one.
    pub stack_id: Option<String>,
    /// When provision first ran, RFC 3339 UTC.
    pub created_at: String,
    /// Agents asked for.
    pub agents: u32,
    /// EC2 instance type of the agents.
    pub instance_type: String,
    /// CPU architecture of that type: "x86_64" or "aarch64".
    pub arch: String,
    /// Node type of the created cache; `None` when an existing cache (or a serverless one) is used.
    pub cache_node_type: Option<String>,
    /// Engine of the created cache, "redis" or "valkey"; `None` when an existing cache is used
    /// (and in the state of a fleet provisioned before the engine could be chosen: Redis OSS).
    #[serde(default)]
    pub cache_engine: Option<String>,
    /// The created cache is ElastiCache Serverless (TLS only, billed per ECPU and GB-hour)
    /// rather than nodes.
    #[serde(default)]
    pub serverless: bool,
    /// The stack's outputs, once it was created.
    pub outputs: BTreeMap<String, String>,
    /// The agents the last install set up, in instance id order.
    pub installed: Vec<InstalledAgent>,
    /// SHA-256 of the agent binary the last install delivered.
    pub agent_sha256: Option<String>,
}

/// One agent as install left it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstalledAgent {
    /// EC2 instance id.
    pub instance_id: String,
    /// DNS name in its certificate.
    pub server_name: String,
    /// `ip:port` it serves gRPC on, as its install script reported; `None` when it reported none.
    pub address: Option<String>,
}

impl State {
    /// An output of the stack, or an empty string.
    pub fn output(&self, key: &str) -> &str {
        self.outputs.get(key).map_or("", String::as_str)
    }
}

/// The folder of all fleets: `$HOME/.fetchbench`.
pub fn root() -> Result<PathBuf, StateError> {
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => Ok(PathBuf::from(home).join(".fetchbench")),
        _ => Err(StateError::NoHome),
    }
}

/// The folder of the fleet of stack `stack`.
pub fn dir(stack: &str) -> Result<PathBuf, StateError> {
    Ok(root()?.join(stack))
}

/// Read `state.json` of `stack`; `None` when there is no fleet of that name.
pub fn load(stack: &str) -> Result<Option<State>, StateError> {
    let path = dir(stack)?.join("state.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Io { path, source }),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| StateError::Corrupt { path, detail: e.to_string() })
}

/// Create the fleet's folder (0700) and write `state.json` into it, atomically.
pub fn save(state: &State) -> Result<PathBuf, StateError> {
    let dir = dir(&state.stack)?;
    create_private_dir(&dir)?;
    let path = dir.join("state.json");
    let text = serde_json::to_string_pretty(state).expect("state serialises");
    crate::support::write_atomic(&path, (text + "\n").as_bytes())
        .map_err(|source| StateError::Io { path: path.clone(), source })?;
    Ok(dir)
}

/// Forget the fleet: remove its folder.
pub fn remove(stack: &str) -> Result<(), StateError> {
    let dir = dir(stack)?;
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StateError::Io { path: dir, source }),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StateError> {
    let fail = |source| StateError::Io { path: dir.to_owned(), source };
    std::fs::create_dir_all(dir).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    }
    Ok(())
}
