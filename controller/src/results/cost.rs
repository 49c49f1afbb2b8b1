//! What the measured reads would cost on AWS: the prices of [`crate::results::pricing`] (S3
//! requests, ElastiCache node-hours) and the arithmetic that turns it and the measured throughput into a cost per
//! million reads from each store and the request rate above which a cache node pays for itself.
//!
//! Only request and node charges are counted: S3 storage, data transfer (free between S3 and EC2
//! in one region) and the EC2 clients cost the same with or without the cache.

use crate::results::pricing;
pub use crate::results::pricing::PRICES_AS_OF;
use crate::results::schema::RunResult;
pub use crate::results::schema::{CostEstimate, WorkloadCost};
use crate::scenario::Target;

/// Region priced when none is given.
pub const DEFAULT_REGION: &str = "us-east-1";
/// ElastiCache node type priced when none is given: the one `fetchbench provision` creates by
/// default, so a local run is priced as the cache the AWS fleet would have.
pub const DEFAULT_NODE_TYPE: &str = "cache.t4g.micro";

/// Cache engine priced when none is given: the engine `fetchbench provision` creates by default.
pub const DEFAULT_ENGINE: &str = "redis";

/// Why a run cannot be priced.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// The region is not in the price table.
    #[error("region {region:?} is not in the price table; known: {known}")]
    UnknownRegion {
        /// The region asked for.
        region: String,
        /// The regions that are.
        known: String,
    },
    /// The node type is not in the price table for the region.
    #[error("cache node type {node_type:?} has no price for {region}; known: {known}")]
    UnknownNodeType {
        /// The node type asked for.
        node_type: String,
        /// The region.
        region: String,
        /// The node types that have a price.
        known: String,
    },
    /// Fewer than one node.
    #[error("cache nodes {0} is not at least 1")]
    NoNodes(u32),
}

/// What to price: where, and the cache it would take.
#[derive(Debug, Clone, PartialEq)]
pub struct Assumptions {
    /// AWS region.
    pub region: String,
    /// ElastiCache node type.
    pub node_type: String,
    /// Nodes in the cache (a primary and its replicas all cost the same per hour).
    pub nodes: u32,
    /// The cache's engine: `redis` (Redis OSS) or `valkey`, which ElastiCache prices lower.
    pub engine: String,
    /// An ElastiCache Serverless cache (billed per ECPU and GB-hour) rather than nodes.
    pub serverless: bool,
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            region: DEFAULT_REGION.into(),
            node_type: DEFAULT_NODE_TYPE.into(),
            nodes: 1,
            engine: DEFAULT_ENGINE.into(),
            serverless: false,
        }
    }
}

/// The prices that apply to one set of assumptions, USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// S3 GET requests, per 1,000.
    pub s3_get_per_1000: f64,
    /// S3 PUT requests, per 1,000.
    pub s3_put_per_1000: f64,
    /// One cache node for one hour.
    pub node_hour: f64,
}

impl Assumptions {
    /// Look the prices up.
    pub fn prices(&self) -> Result<Prices, CostError> {
        if self.nodes == 0 {
            return Err(CostError::NoNodes(self.nodes));
        }
        let region = pricing::s3_requests(&self.region).ok_or_else(|| CostError::UnknownRegion {
            region: self.region.clone(),
            known: pricing::s3_regions().collect::<Vec<_>>().join(", "),
        })?;
        let node_hour =
            pricing::cache_node_hour(&self.node_type).ok_or_else(|| CostError::UnknownNodeType {
                node_type: self.node_type.clone(),
                region: self.region.clone(),
                known: pricing::cache_node_types().collect::<Vec<_>>().join(", "),
            })?;
        Ok(Prices {
            s3_get_per_1000: region.s3_get_per_1000,
            s3_put_per_1000: region.s3_put_per_1000,
            node_hour,
        })
    }
}

/// S3 GET charges per million reads, USD.
pub fn s3_per_million(p: &Prices) -> f64 {
    p.s3_get_per_1000 * 1000.0
}

/// The cache's node charges per million reads when it serves `reads_s` reads per second
/// around the clock, USD; `None` at zero rate.
pub fn cache_per_million(p: &Prices, nodes: u32, reads_s: f64) -> Option<f64> {
    (reads_s > 0.0).then(|| p.node_hour * f64::from(nodes) / (reads_s * 3600.0) * 1e6)
}

/// The read rate (reads per second) at which the cache's node-hours cost as much as the S3 GETs
/// its hits save: above it the cache pays for itself. `hit_ratio` is the share of reads served
/// from the cache; at zero the cache never pays.
pub fn break_even_reads_s(p: &Prices, nodes: u32, hit_ratio: f64) -> f64 {
    let saved_per_read = hit_ratio * p.s3_get_per_1000 / 1000.0;
    if saved_per_read <= 0.0 {
        return f64::INFINITY;
    }
    p.node_hour * f64::from(nodes) / 3600.0 / saved_per_read
}

/// Price a run's workloads at their measured throughput.
pub fn estimate(result: &RunResult, assumptions: &Assumptions) -> Result<CostEstimate, CostError> {
    let p = assumptions.prices()?;
    // A cluster is priced as its shards (a primary each), not as one node.
    let shards = result.targets.redis_target.as_ref().filter(|t| t.cluster).and_then(|t| t.shards);
    let nodes = assumptions.nodes.max(shards.unwrap_or(0));
    // A cache-aside workload's hit ratio once warm (its second half), else over the whole run.
    let ratio = |w: &crate::results::schema::WorkloadResult| w.steady_hit_ratio.or(w.hit_ratio);
    let aside = result.workloads.iter().find(|w| w.target == Target::CacheAside && ratio(w).is_some());
    let (hit_ratio, hit_ratio_source) = match aside {
        Some(w) => (ratio(w).unwrap_or(1.0).clamp(0.0, 1.0), w.name.clone()),
        None => (1.0, "assumed".to_owned()),
    };
    let workloads = result
        .workloads
        .iter()
        .map(|w| {
            let reads_s = w.throughput_ops_s;
            let s3_hour = |share: f64| reads_s * share * 3600.0 * p.s3_get_per_1000 / 1000.0;
            let node_hour = p.node_hour * f64::from(nodes);
            let (usd_per_million_reads, usd_per_hour) = match w.target {
                Target::S3 => (Some(s3_per_million(&p)), s3_hour(1.0)),
                Target::CacheAside => {
                    let miss = 1.0 - ratio(w).unwrap_or(1.0).clamp(0.0, 1.0);
                    let per_million =
                        cache_per_million(&p, nodes, reads_s).map(|c| c + miss * s3_per_million(&p));
                    (per_million, node_hour + s3_hour(miss))
                }
                Target::Redis => (cache_per_million(&p, nodes, reads_s), node_hour),
                // Not in this price table: the second cost model (issue 32) prices S3 Express.
                Target::S3Express => (None, 0.0),
            };
            WorkloadCost {
                name: w.name.clone(),
                target: w.target,
                reads_s,
                usd_per_million_reads,
                usd_per_hour,
            }
        })
        .collect();
    Ok(CostEstimate {
        region: assumptions.region.clone(),
        prices_as_of: PRICES_AS_OF.to_owned(),
        s3_get_usd_per_1000: p.s3_get_per_1000,
        s3_put_usd_per_1000: p.s3_put_per_1000,
        cache_node_type: assumptions.node_type.clone(),
        cache_nodes: nodes,
        cache_node_usd_per_hour: p.node_hour,
        hit_ratio,
        hit_ratio_source,
        s3_usd_per_million_reads: s3_per_million(&p),
        break_even_reads_s: break_even_reads_s(&p, nodes, hit_ratio),
        dataset_put_usd: result.scenario.dataset.objects as f64 * p.s3_put_per_1000 / 1000.0,
        workloads,
    })
}

/// Price a run with `assumptions`, or, when they are not in the price table (a region or node
/// type it lacks), with the defaults: a run never fails for want of a price, and the estimate
/// names the region and node type it used.
pub fn estimate_or_default(result: &RunResult, assumptions: &Assumptions) -> CostEstimate {
    estimate(result, assumptions).unwrap_or_else(|e| {
        tracing::warn!("pricing the run with the defaults: {e}");
        estimate(result, &Assumptions::default()).expect("the default assumptions are in the price table")
    })
}

/// Dollars with enough digits to tell small amounts apart: `$0.40`, `$0.000944`.
pub fn usd(amount: f64) -> String {
    if !amount.is_finite() {
        return "n/a".into();
    }
    if amount >= 1.0 || amount == 0.0 {
        format!("${amount:.2}")
    } else {
        // Three significant digits.
        let digits = (2 - amount.log10().floor() as i32).max(2) as usize;
        format!("${amount:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us_east(node_type: &str) -> Prices {
        Assumptions { node_type: node_type.into(), ..Default::default() }.prices().expect("in the table")
    }

    #[test]
    fn break_even_matches_hand_computed_rates() {
        // cache.t3.micro, $0.017/h, against GETs at $0.0004 per 1,000:
        // 0.017 / 3600 s = 4.7222e-6 $/s; one GET saves 4e-7 $; 4.7222e-6 / 4e-7 = 11.8056 reads/s.
        let p = us_east("cache.t3.micro");
        assert!((break_even_reads_s(&p, 1, 1.0) - 11.805_555_6).abs() < 1e-6);
        // Two nodes cost twice as much; a hit ratio of 0.8 saves 80% of the GETs:
        // 2 * 4.7222e-6 / (0.8 * 4e-7) = 29.5139 reads/s.
        assert!((break_even_reads_s(&p, 2, 0.8) - 29.513_888_9).abs() < 1e-6);
        // cache.r7g.large, $0.219/h: 0.219 / 3600 / 4e-7 = 152.0833 reads/s.
        assert!((break_even_reads_s(&us_east("cache.r7g.large"), 1, 1.0) - 152.083_333_3).abs() < 1e-6);
        // No hits, no savings.
        assert_eq!(break_even_reads_s(&p, 1, 0.0), f64::INFINITY);
    }

    #[test]
    fn cost_per_million_reads_matches_hand_computed_values() {
        let p = us_east("cache.t3.micro");
        // $0.0004 per 1,000 GETs is $0.40 per million.
        assert!((s3_per_million(&p) - 0.4).abs() < 1e-12);
        // At 5,000 reads/s a node serves 18e6 reads an hour: 0.017 / 18 = $0.000944 per million.
        let at_5000 = cache_per_million(&p, 1, 5000.0).expect("positive rate");
        assert!((at_5000 - 0.000_944_444).abs() < 1e-9, "{at_5000}");
        // At the break-even rate the cache costs exactly what S3 does per read.
        let even = cache_per_million(&p, 1, break_even_reads_s(&p, 1, 1.0)).expect("positive rate");
        assert!((even - s3_per_million(&p)).abs() < 1e-9, "{even}");
        assert_eq!(cache_per_million(&p, 1, 0.0), None);
    }

    fn run_with(workloads: Vec<crate::results::schema::WorkloadResult>) -> RunResult {
        RunResult::of(crate::scenario::Scenario::seed(), workloads)
    }

    #[test]
    fn a_run_is_priced_per_workload_at_its_measured_rate() {
        let w = |name: &str, target: &str, ops_s: f64, hit_ratio: Option<f64>| {
            crate::results::schema::WorkloadResult {
                name: name.into(),
                target: target.parse().expect("a target"),
                throughput_ops_s: ops_s,
                hit_ratio,
                ..Default::default()
            }
        };
        let run = run_with(vec![
            w("r", "redis", 5000.0, None),
            w("s", "s3", 300.0, None),
            w("ca", "cache-aside", 2000.0, Some(0.8)),
        ]);
        let c = estimate(&run, &Assumptions::default()).expect("default prices");
        assert_eq!((c.cache_node_type.as_str(), c.cache_node_usd_per_hour), ("cache.t4g.micro", 0.016));
        // The cache-aside workload's hit ratio sets the break-even: 0.016 / 3600 / (0.8 * 4e-7).
        assert_eq!((c.hit_ratio, c.hit_ratio_source.as_str()), (0.8, "ca"));
        assert!((c.break_even_reads_s - 13.888_888_9).abs() < 1e-6, "{}", c.break_even_reads_s);
        // 200 objects written once at $0.005 per 1,000 PUTs.
        assert!((c.dataset_put_usd - 0.001).abs() < 1e-12);
        let per_million = |name: &str| {
            c.workloads.iter().find(|x| x.name == name).and_then(|x| x.usd_per_million_reads).expect("priced")
        };
        // Redis at 5,000 reads/s: 0.016 / 18e6 reads * 1e6 = $0.000889.
        assert!((per_million("r") - 0.000_888_889).abs() < 1e-9);
        assert!((per_million("s") - 0.4).abs() < 1e-12);
        // Cache-aside at 2,000 reads/s: 0.016 / 7.2 = $0.002222 of node, plus 20% misses at $0.40.
        assert!((per_million("ca") - (0.002_222_222 + 0.08)).abs() < 1e-8, "{}", per_million("ca"));
        // An hour of S3 at 300 reads/s: 1.08e6 GETs at $0.0004 per 1,000 = $0.432.
        assert!((c.workloads[1].usd_per_hour - 0.432).abs() < 1e-9);
        // An hour of Redis is the node's hour; of cache-aside, the node's plus its misses' GETs:
        // 0.016 + 2,000 * 0.2 * 3,600 * 0.0004 / 1,000 = 0.016 + 0.576.
        assert!((c.workloads[0].usd_per_hour - 0.016).abs() < 1e-12);
        assert!((c.workloads[2].usd_per_hour - 0.592).abs() < 1e-9, "{}", c.workloads[2].usd_per_hour);

        // The steady hit ratio (once warm) is the one priced, where there is one.
        let mut warm = w("ca", "cache-aside", 2000.0, Some(0.8));
        warm.steady_hit_ratio = Some(0.9);
        let c = estimate(&run_with(vec![warm]), &Assumptions::default()).expect("default prices");
        assert_eq!(c.hit_ratio, 0.9);
        assert!(
            (c.workloads[0].usd_per_hour - (0.016 + 0.288)).abs() < 1e-9,
            "{}",
            c.workloads[0].usd_per_hour
        );
        // A cache-aside workload that read nothing has no hit ratio: a hit ratio of 1 is assumed.
        let c = estimate(&run_with(vec![w("ca", "cache-aside", 0.0, None)]), &Assumptions::default())
            .expect("priced");
        assert_eq!((c.hit_ratio, c.hit_ratio_source.as_str()), (1.0, "assumed"));
    }

    #[test]
    fn a_cluster_is_priced_as_its_shards() {
        let redis = crate::results::schema::WorkloadResult {
            name: "r".into(),
            target: Target::Redis,
            throughput_ops_s: 5000.0,
            ..Default::default()
        };
        let mut run = run_with(vec![redis]);
        let one = estimate(&run, &Assumptions::default()).expect("priced");
        run.targets.redis_target = Some(crate::results::schema::RedisTarget {
            cluster: true,
            shards: Some(3),
            ..crate::results::schema::RedisTarget::of("redis://h:1", "user", true)
        });
        let three = estimate(&run, &Assumptions::default()).expect("priced");
        assert_eq!((one.cache_nodes, three.cache_nodes), (1, 3));
        let per_million = |c: &CostEstimate| c.workloads[0].usd_per_million_reads.expect("priced");
        assert!((per_million(&three) / per_million(&one) - 3.0).abs() < 1e-9);
        assert!(three.break_even_reads_s > 2.9 * one.break_even_reads_s);
        assert!((three.workloads[0].usd_per_hour - 3.0 * 0.016).abs() < 1e-12, "three nodes' hours");
    }

    #[test]
    fn an_unpriced_region_falls_back_to_the_defaults() {
        let run = run_with(vec![]);
        let asked = Assumptions { region: "eu-central-9".into(), ..Default::default() };
        assert!(estimate(&run, &asked).is_err());
        let c = estimate_or_default(&run, &asked);
        assert_eq!(c.region, "us-east-1", "the estimate names the prices it used");
    }

    #[test]
    fn unknown_region_and_node_type_are_named() {
        let e = Assumptions { region: "mars-1".into(), ..Default::default() }.prices().unwrap_err();
        assert!(e.to_string().contains("\"mars-1\"") && e.to_string().contains("us-east-1"), "{e}");
        let e = Assumptions { node_type: "cache.x9.huge".into(), ..Default::default() }.prices().unwrap_err();
        assert!(e.to_string().contains("cache.x9.huge") && e.to_string().contains("cache.t4g.micro"), "{e}");
        assert!(Assumptions::default().prices().is_ok(), "the defaults must be priced");
        assert!(Assumptions { nodes: 0, ..Default::default() }.prices().is_err());
    }

    #[test]
    fn dollars_keep_three_significant_digits() {
        assert_eq!(usd(0.4), "$0.400");
        assert_eq!(usd(12.345), "$12.35");
        assert_eq!(usd(0.000_944_444), "$0.000944");
        assert_eq!(usd(0.017), "$0.0170");
        assert_eq!(usd(0.0), "$0.00");
    }
}
