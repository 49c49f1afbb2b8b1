//! Sweeps and repeats: the workloads of a scenario rewritten into one per swept value
//! (`<workload>-<letter><value>`) or per round (`<workload>-<round>`), each with its workload's
//! thresholds.

use std::collections::BTreeMap;

use super::{Scenario, Workload};

/// Two workloads of a sweep would have the same name (it holds the name).
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("two workloads of the sweep would both be named {0:?}")]
pub struct NameClash(pub String);

/// Most rounds of `--repeat`.
pub const MAX_ROUNDS: u32 = 1000;

/// Every workload `rounds` times in turn, round r's named `<workload>-<r>`, with the workload's
/// thresholds on each. The names cannot clash: the workloads' own names differ, and a round
/// number holds no '-', so a name splits back into its workload and round one way only.
pub fn repeat(scenario: &mut Scenario, rounds: u32) {
    let mut all: Vec<Workload> = Vec::with_capacity(scenario.workloads.len() * rounds as usize);
    let mut thresholds = BTreeMap::new();
    for round in 1..=rounds {
        for w in &scenario.workloads {
            let mut one = w.clone();
            one.name = format!("{}-{round}", w.name);
            carry_thresholds(&scenario.thresholds, &w.name, &one.name, &mut thresholds);
            all.push(one);
        }
    }
    scenario.workloads = all;
    scenario.thresholds = thresholds;
    scenario.rounds = rounds;
}

/// Set a field of every workload to `values`' one value; or, given several, replace every
/// workload by one per value, named `<workload>-<letter><value>`, in the scenario's order and
/// each workload's values in the order given, with the workload's thresholds on each.
pub fn sweep<T: std::fmt::Display>(
    scenario: &mut Scenario,
    values: &[T],
    letter: char,
    set: impl Fn(&mut Workload, &T),
) -> Result<(), NameClash> {
    if let [one] = values {
        scenario.workloads.iter_mut().for_each(|w| set(w, one));
        return Ok(());
    }
    if values.is_empty() {
        return Ok(());
    }
    let mut swept = Vec::with_capacity(scenario.workloads.len() * values.len());
    let mut thresholds = BTreeMap::new();
    for w in &scenario.workloads {
        for value in values {
            let mut one = w.clone();
            one.name = format!("{}-{letter}{value}", w.name);
            set(&mut one, value);
            if swept.iter().any(|o: &Workload| o.name == one.name) {
                return Err(NameClash(one.name));
            }
            carry_thresholds(&scenario.thresholds, &w.name, &one.name, &mut thresholds);
            swept.push(one);
        }
    }
    scenario.workloads = swept;
    scenario.thresholds = thresholds;
    Ok(())
}

/// The limits `thresholds` put on workload `from`, put on workload `to` in `into`.
fn carry_thresholds(
    thresholds: &BTreeMap<String, f64>,
    from: &str,
    to: &str,
    into: &mut BTreeMap<String, f64>,
) {
    for (key, limit) in thresholds {
        if let Some((_, metric)) = key.rsplit_once('.').filter(|(name, _)| *name == from) {
            into.insert(format!("{to}.{metric}"), *limit);
        }
    }
}

/// `name` without the `-<round>` a `--repeat` run gave it, when it has one.
pub fn without_round(name: &str, rounds: u32) -> &str {
    match name.rsplit_once('-') {
        Some((base, r)) if rounds > 1 && r.parse::<u32>().is_ok_and(|r| (1..=rounds).contains(&r)) => base,
        _ => name,
    }
}
