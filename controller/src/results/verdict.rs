//! The verdict: each store the run measured judged against the scenario's `[goal]` (a read rate
//! and a latency objective) and priced per month at that rate, and the cheapest that met it.
//!
//! An alternative is judged on its workloads that reached the goal's rate: it met the goal when
//! one of them kept the objective's percentile within it, with errors on at most 0.1% of reads.
//! A run that never drove a store as hard as the goal shows nothing about it at that rate.

use crate::results::cost::{self, Assumptions, Store};
use crate::results::schema::{AlternativeVerdict, Outcome, RunResult, Verdict, WorkloadResult};
use crate::scenario::{Goal, Target};

/// A workload that ran at this share of the goal's rate or more reached it: an open loop asked for
/// exactly the goal's rate sends a little less in its measured window.
pub const RATE_REACHED: f64 = 0.99;

/// The most errors, as a share of reads, a workload may have and meet the goal.
pub const ERRORS_ALLOWED: f64 = 0.001;

/// Judge `result`'s alternatives against its scenario's goal, priced as `assumptions` say; `None`
/// when the scenario has no goal.
pub fn judge(result: &RunResult, assumptions: &Assumptions) -> Option<Verdict> {
    let goal = result.scenario.goal.clone()?;
    let assumptions = cost::of_run(result, assumptions);
    let mut targets: Vec<Target> = Vec::new();
    for w in &result.workloads {
        if !targets.contains(&w.target) {
            targets.push(w.target);
        }
    }
    let alternatives: Vec<AlternativeVerdict> =
        targets.into_iter().filter_map(|t| alternative(result, &assumptions, &goal, t)).collect();
    let met: Vec<(f64, &AlternativeVerdict)> = alternatives
        .iter()
        .filter(|a| a.outcome == Outcome::Met)
        .filter_map(|a| a.usd_per_month.map(|usd| (usd, a)))
        .collect();
    // The first listed of the cheapest, and the others that cost the same to the cent.
    let cheapest =
        met.iter().min_by(|x, y| x.0.total_cmp(&y.0)).map(|&(usd, a)| (usd, a.alternative.clone()));
    let tied_with = cheapest
        .as_ref()
        .map(|(usd, name)| {
            met.iter()
                .filter(|(other, a)| &a.alternative != name && (other - usd).abs() < TIE_USD)
                .map(|(_, a)| a.alternative.clone())
                .collect()
        })
        .unwrap_or_default();
    Some(Verdict {
        goal,
        cheapest_met: cheapest.map(|(_, name)| name),
        tied_with,
        alternatives,
        prices_origin: assumptions.prices_origin.clone(),
    })
}

/// Monthly costs closer than this are a tie: the summary shows cents.
const TIE_USD: f64 = 0.005;

/// The latency of `w` at the goal's percentile, milliseconds.
pub fn latency_ms(w: &WorkloadResult, goal: &Goal) -> f64 {
    let us = match goal.percentile.as_str() {
        "p50" => w.latency_us.p50,
        "p999" => w.latency_us.p999,
        _ => w.latency_us.p99,
    };
    us / 1000.0
}

fn clean(w: &WorkloadResult) -> bool {
    w.errors as f64 <= ERRORS_ALLOWED * (w.ops + w.errors).max(1) as f64
}

/// How hard the run drove a workload, requests per second: what it completed, or for an open
/// loop what it sent (a workload whose reads all failed was still driven at its rate).
fn load(w: &WorkloadResult) -> f64 {
    w.throughput_ops_s.max(w.achieved_rate_ops_s)
}

fn alternative(
    result: &RunResult,
    a: &Assumptions,
    goal: &Goal,
    target: Target,
) -> Option<AlternativeVerdict> {
    let of_target: Vec<&WorkloadResult> = result.workloads.iter().filter(|w| w.target == target).collect();
    let reached: Vec<&WorkloadResult> = of_target
        .iter()
        .copied()
        .filter(|w| w.ops + w.errors > 0 && load(w) >= goal.reads_per_second * RATE_REACHED)
        .collect();
    let within = |w: &&WorkloadResult| clean(w) && latency_ms(w, goal) <= goal.latency_ms;
    let by_latency =
        |x: &&WorkloadResult, y: &&WorkloadResult| latency_ms(x, goal).total_cmp(&latency_ms(y, goal));
    let by_rate = |x: &&WorkloadResult, y: &&WorkloadResult| load(x).total_cmp(&load(y));
    let (outcome, w) = if let Some(w) = reached.iter().copied().filter(within).min_by(by_latency) {
        (Outcome::Met, w)
    } else if let Some(w) = reached.iter().copied().min_by(by_rate) {
        // The one nearest the goal's rate: the fairest test of it.
        (Outcome::Missed, w)
    } else {
        (Outcome::NotShown, of_target.iter().copied().max_by(by_rate)?)
    };
    let latency = latency_ms(w, goal);
    let p = &goal.percentile;
    let rate = load(w);
    let name = &w.name;
    let reason = match outcome {
        Outcome::Met => {
            format!("{p} {latency:.2} ms <= {} ms at {rate:.0} reads/s (workload {name})", goal.latency_ms)
        }
        Outcome::Missed if !clean(w) => {
            format!(
                "{} errors in {} reads at {rate:.0} reads/s (workload {name})",
                w.errors,
                w.ops + w.errors
            )
        }
        Outcome::Missed => {
            format!("{p} {latency:.2} ms > {} ms at {rate:.0} reads/s (workload {name})", goal.latency_ms)
        }
        Outcome::NotShown => format!(
            "the run reached {rate:.0} reads/s at most (workload {name}); run it at {} reads/s or more",
            goal.reads_per_second
        ),
    };
    let store = Store::of(target);
    let shape = cost::read_shape(result, w);
    let tariff = cost::tariff(store, a, &shape).ok();
    let by_hit_ratio = if store == Store::CacheAside {
        (0..=20)
            .filter_map(|i| {
                let hit_ratio = f64::from(i) / 20.0;
                let t = cost::tariff(store, a, &cost::ReadShape { hit_ratio, ..shape }).ok()?;
                Some((hit_ratio, t.per_month(goal.reads_per_second)))
            })
            .collect()
    } else {
        Vec::new()
    };
    Some(AlternativeVerdict {
        alternative: target.as_str().to_owned(),
        store: store.describe(a),
        outcome,
        reason,
        workload: w.name.clone(),
        reads_s: rate,
        latency_ms: latency,
        hit_ratio: (target == Target::CacheAside).then_some(shape.hit_ratio),
        bytes_per_read: shape.bytes,
        usd_per_month: tariff.as_ref().map(|t| t.per_month(goal.reads_per_second)),
        usd_per_million_reads: tariff.as_ref().and_then(|t| t.per_million(goal.reads_per_second)),
        lines: tariff.map(|t| t.lines).unwrap_or_default(),
        usd_per_month_by_hit_ratio: by_hit_ratio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::schema::LatencySummary;

    fn w(name: &str, target: &str, reads_s: f64, p99_ms: f64) -> WorkloadResult {
        WorkloadResult {
            name: name.into(),
            target: target.parse().expect("a target"),
            ops: (reads_s * 10.0) as u64,
            throughput_ops_s: reads_s,
            latency_us: LatencySummary { p50: p99_ms * 300.0, p99: p99_ms * 1000.0, ..Default::default() },
            ..Default::default()
        }
    }

    fn judged(goal: Option<Goal>, workloads: Vec<WorkloadResult>) -> Option<Verdict> {
        let mut run = RunResult::of(crate::scenario::Scenario::seed(), workloads);
        run.scenario.goal = goal;
        judge(&run, &Assumptions::default())
    }

    fn goal() -> Goal {
        Goal { reads_per_second: 2000.0, percentile: "p99".into(), latency_ms: 5.0, cross_az: false }
    }

    fn of<'a>(v: &'a Verdict, alternative: &str) -> &'a AlternativeVerdict {
        v.alternatives.iter().find(|a| a.alternative == alternative).expect("judged")
    }

    #[test]
    fn each_alternative_is_met_missed_or_not_shown_and_the_cheapest_that_met_is_named() {
        let mut aside = w("ca", "cache-aside", 2050.0, 1.2);
        aside.steady_hit_ratio = Some(0.9);
        let v = judged(
            Some(goal()),
            vec![
                w("s3-slow", "s3", 2400.0, 12.3),
                w("s3-light", "s3", 500.0, 3.0),
                aside,
                w("r", "redis", 1500.0, 0.4),
            ],
        )
        .expect("a goal");
        let s3 = of(&v, "s3");
        // Judged at the load nearest the goal that reached it, not at the light one that met 5 ms.
        assert_eq!((s3.outcome, s3.workload.as_str()), (Outcome::Missed, "s3-slow"));
        assert_eq!(s3.reason, "p99 12.30 ms > 5 ms at 2400 reads/s (workload s3-slow)");
        assert!((s3.usd_per_month.expect("priced") - 2102.4).abs() < 1e-6);
        let ca = of(&v, "cache-aside");
        assert_eq!((ca.outcome, ca.hit_ratio), (Outcome::Met, Some(0.9)));
        assert!((ca.usd_per_month.expect("priced") - (11.68 + 210.24)).abs() < 1e-6);
        assert_eq!(ca.usd_per_month_by_hit_ratio.len(), 21);
        let r = of(&v, "redis");
        assert_eq!(r.outcome, Outcome::NotShown);
        assert!(r.reason.starts_with("the run reached 1500 reads/s at most"), "{}", r.reason);
        assert_eq!(v.cheapest_met.as_deref(), Some("cache-aside"));
        assert_eq!(v.prices_origin, "built-in table");

        // A Redis workload that reached the rate within the objective is cheaper still.
        let mut aside = w("ca", "cache-aside", 2050.0, 1.2);
        aside.hit_ratio = Some(0.5);
        let v = judged(Some(goal()), vec![aside, w("r", "redis", 2500.0, 0.4)]).expect("a goal");
        assert_eq!(v.cheapest_met.as_deref(), Some("redis"));
        assert!(v.tied_with.is_empty());

        // Every read a hit: cache-aside costs what the cache alone does, and the tie is said.
        let mut aside = w("ca", "cache-aside", 2050.0, 1.2);
        aside.steady_hit_ratio = Some(1.0);
        let v = judged(Some(goal()), vec![aside, w("r", "redis", 2500.0, 0.4)]).expect("a goal");
        assert_eq!(
            (v.cheapest_met.as_deref(), v.tied_with.as_slice()),
            (Some("cache-aside"), &["redis".to_owned()][..])
        );
    }

    #[test]
    fn errors_a_missed_objective_or_an_unreached_rate_mean_no_alternative_met() {
        // 99% of the goal's rate counts as reaching it (an open loop sends a little less).
        let v = judged(Some(goal()), vec![w("s", "s3", 1985.0, 4.0)]).expect("a goal");
        assert_eq!(of(&v, "s3").outcome, Outcome::Met);
        let v = judged(Some(goal()), vec![w("s", "s3", 1975.0, 4.0)]).expect("a goal");
        assert_eq!(of(&v, "s3").outcome, Outcome::NotShown);
        // Errors on more than 0.1% of the reads miss the goal whatever the latency.
        let mut failing = w("s", "s3", 2100.0, 1.0);
        failing.errors = failing.ops / 100;
        let v = judged(Some(goal()), vec![failing]).expect("a goal");
        assert_eq!(of(&v, "s3").outcome, Outcome::Missed);
        assert_eq!(of(&v, "s3").reason, "210 errors in 21210 reads at 2100 reads/s (workload s)");
        assert_eq!(v.cheapest_met, None);
        // The objective's percentile is the one judged.
        let p50 = Goal { percentile: "p50".into(), latency_ms: 1.0, ..goal() };
        let v = judged(Some(p50), vec![w("s", "s3", 2100.0, 3.0)]).expect("a goal");
        assert_eq!((of(&v, "s3").outcome, of(&v, "s3").latency_ms), (Outcome::Met, 0.9));
        // No goal, no verdict.
        assert_eq!(judged(None, vec![w("s", "s3", 2100.0, 3.0)]), None);
    }
}
