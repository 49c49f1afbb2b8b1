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
    sweep_some(scenario, values, letter, |_| true, set)
}

/// [`sweep`] of the workloads `applies` picks; the others stay as they are.
pub fn sweep_some<T: std::fmt::Display>(
    scenario: &mut Scenario,
    values: &[T],
    letter: char,
    applies: impl Fn(&Workload) -> bool,
    set: impl Fn(&mut Workload, &T),
) -> Result<(), NameClash> {
    if let [one] = values {
        scenario.workloads.iter_mut().filter(|w| applies(w)).for_each(|w| set(w, one));
        return Ok(());
    }
    if values.is_empty() {
        return Ok(());
    }
    let mut swept = Vec::with_capacity(scenario.workloads.len() * values.len());
    let mut thresholds = BTreeMap::new();
    for w in &scenario.workloads {
        if !applies(w) {
            carry_thresholds(&scenario.thresholds, &w.name, &w.name, &mut thresholds);
            swept.push(w.clone());
            continue;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_with_threshold() -> Scenario {
        let mut s = Scenario::seed();
        s.thresholds.insert("redis-get.p99_us".into(), 500.0);
        s
    }

    fn names(s: &Scenario) -> Vec<&str> {
        s.workloads.iter().map(|w| w.name.as_str()).collect()
    }

    #[test]
    fn one_value_sets_every_workload_and_keeps_their_names() {
        let mut s = seed_with_threshold();
        sweep(&mut s, &[8u32], 'c', |w, &n| w.concurrency = n).expect("one value");
        assert_eq!(names(&s), ["redis-get", "s3-get"]);
        assert!(s.workloads.iter().all(|w| w.concurrency == 8));
        assert_eq!(s.thresholds.keys().collect::<Vec<_>>(), ["redis-get.p99_us"]);
    }

    #[test]
    fn several_values_make_a_workload_per_value_with_its_thresholds() {
        let mut s = seed_with_threshold();
        sweep(&mut s, &[1u32, 16], 'c', |w, &n| w.concurrency = n).expect("a sweep");
        assert_eq!(names(&s), ["redis-get-c1", "redis-get-c16", "s3-get-c1", "s3-get-c16"]);
        let concurrency: Vec<u32> = s.workloads.iter().map(|w| w.concurrency).collect();
        assert_eq!(concurrency, [1, 16, 1, 16]);
        assert_eq!(s.thresholds.keys().collect::<Vec<_>>(), ["redis-get-c1.p99_us", "redis-get-c16.p99_us"]);
        assert_eq!(s.thresholds["redis-get-c16.p99_us"], 500.0);
    }

    #[test]
    fn two_values_that_print_alike_clash_by_name() {
        let mut s = Scenario::seed();
        let clash = sweep(&mut s, &[100.0f64, 100.0], 'r', |w, &r| w.rate = Some(r)).expect_err("a clash");
        assert_eq!(clash, NameClash("redis-get-r100".into()));
        assert_eq!(clash.to_string(), "two workloads of the sweep would both be named \"redis-get-r100\"");
    }

    #[test]
    fn rounds_run_every_workload_in_turn_and_their_names_split_back() {
        let mut s = seed_with_threshold();
        repeat(&mut s, 3);
        assert_eq!(s.rounds, 3);
        assert_eq!(
            names(&s),
            ["redis-get-1", "s3-get-1", "redis-get-2", "s3-get-2", "redis-get-3", "s3-get-3"]
        );
        assert_eq!(s.thresholds.len(), 3, "{:?}", s.thresholds);
        for w in &s.workloads {
            let base = without_round(&w.name, 3);
            assert!(base == "redis-get" || base == "s3-get", "{} -> {base}", w.name);
        }
    }

    #[test]
    fn a_name_keeps_a_suffix_that_is_not_one_of_its_rounds() {
        assert_eq!(without_round("s3-get", 3), "s3-get");
        assert_eq!(without_round("s3-get-4", 3), "s3-get-4", "round 4 of 3");
        assert_eq!(without_round("s3-get-2", 1), "s3-get-2", "a run of one round has no round names");
        assert_eq!(without_round("s3-get-c16", 3), "s3-get-c16", "a sweep's name is not a round's");
    }
}
