//! The prices a stack is priced with: the table `provision --prices FILE|live` read, kept in the
//! stack's state folder so that `status` and runs on the fleet quote the same figures, else the
//! built-in table.

use std::path::PathBuf;

use crate::error::Error;
use crate::fleet::aws_state::{self, State};
use crate::results::cost::BUILT_IN_ORIGIN;
use crate::results::pricing::{self, HourlyCost, PriceTable, StackShape};

/// The kept table's file in the stack's state folder.
const KEPT: &str = "prices.toml";

/// The table `provision --prices` kept for `stack`, and where its figures came from; `None` when
/// it kept none. A kept file that no longer reads is left out with a warning.
pub fn kept(stack: &str) -> Option<(PriceTable, String)> {
    let path = aws_state::dir(stack).ok()?.join(KEPT);
    if !path.exists() {
        return None;
    }
    match PriceTable::read_kept(&path) {
        Ok(kept) => Some(kept),
        Err(e) => {
            eprintln!("fetchbench: warning: {e}; the built-in prices stand in");
            None
        }
    }
}

/// The kept table of `stack`, else the built-in one, with its origin.
pub fn of_stack(stack: &str) -> (PriceTable, String) {
    kept(stack)
        .unwrap_or_else(|| (PriceTable::built_in(), format!("{BUILT_IN_ORIGIN} ({})", pricing::PRICES_AS_OF)))
}

/// Keep `table` (from `origin`) as the prices of `stack`, in its state folder.
pub fn keep(stack: &str, table: &PriceTable, origin: &str) -> Result<PathBuf, Error> {
    let path = aws_state::dir(stack)?.join(KEPT);
    crate::support::write_atomic(&path, table.kept_text(&format!("stack {stack}"), origin).as_bytes())
        .map_err(|source| Error::Output { path: path.clone(), source })?;
    Ok(path)
}

/// What the stack of `state` costs by the hour at the prices of `table`: its agents, its cache
/// nodes (an existing cache and a Serverless cache have none) and its key.
pub fn hourly(state: &State, table: &PriceTable) -> HourlyCost {
    let shape = StackShape {
        agents: state.agents,
        instance_type: &state.instance_type,
        cache_node: cache_node(state),
    };
    pricing::hourly(table, shape)
}

/// The stack's cache node as (engine, node type); `None` for an existing or Serverless cache.
pub fn cache_node(state: &State) -> Option<(&str, &str)> {
    let engine = state.cache_engine.as_deref().unwrap_or(pricing::DEFAULT_ENGINE);
    state.cache_node_type.as_deref().filter(|_| !state.serverless).map(|node| (engine, node))
}
