//! What the measured reads would cost on AWS: the price table of [`crate::results::pricing`] and
//! the arithmetic that turns it, the measured object sizes and a read rate into a cost per
//! million reads and per month for each store (S3 Standard, S3 Express One Zone, ElastiCache
//! nodes or Serverless, cache-aside), and the rate above which a cache pays for itself.
//!
//! Counted: requests, node-hours, ECPUs and the GB-hours a Serverless cache stores, per-GB
//! charges of S3 Express, and data crossing between availability zones when the goal says the
//! readers are in another. Left out: S3 storage and the EC2 clients, which cost the same whichever
//! store serves the reads.

pub use crate::results::pricing::PRICES_AS_OF;
use crate::results::pricing::{self, Price, PriceTable};
pub use crate::results::schema::{CostEstimate, WorkloadCost};
use crate::results::schema::{CostLine, RunResult, WorkloadResult};
use crate::scenario::Target;

/// Region priced when none is given.
pub const DEFAULT_REGION: &str = "us-east-1";
/// ElastiCache node type priced when none is given: the one `fetchbench provision` creates by
/// default, so a local run is priced as the cache the AWS fleet would have.
pub const DEFAULT_NODE_TYPE: &str = "cache.t4g.micro";
pub use crate::results::pricing::{DEFAULT_ENGINE, HOURS_PER_MONTH};
/// Bytes in the GB AWS bills by.
const GB: f64 = (1u64 << 30) as f64;

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
    /// The node type is not in the price table for the engine.
    #[error("cache node type {node_type:?} has no {engine} price for {region}; known: {known}")]
    UnknownNodeType {
        /// The node type asked for.
        node_type: String,
        /// The engine.
        engine: String,
        /// The region.
        region: String,
        /// The node types that have a price.
        known: String,
    },
    /// The engine has no Serverless prices.
    #[error("ElastiCache Serverless has no {engine} prices in the table; known: {known}")]
    UnknownServerless {
        /// The engine.
        engine: String,
        /// The engines that have them.
        known: String,
    },
    /// Fewer than one node.
    #[error("cache nodes {0} is not at least 1")]
    NoNodes(u32),
}

/// What to price: where, the cache, and the prices.
#[derive(Debug, Clone, PartialEq)]
pub struct Assumptions {
    /// AWS region.
    pub region: String,
    /// ElastiCache node type (unused for a Serverless cache).
    pub node_type: String,
    /// Nodes in the cache (a primary and its replicas all cost the same per hour).
    pub nodes: u32,
    /// The cache's engine: `redis` (Redis OSS) or `valkey`, which ElastiCache prices lower.
    pub engine: String,
    /// An ElastiCache Serverless cache (billed per ECPU and GB-hour) rather than nodes.
    pub serverless: bool,
    /// The prices: the built-in table, or it with a file's figures in place.
    pub prices: PriceTable,
    /// Where `prices` came from, for the result: "built-in table" or the file.
    pub prices_origin: String,
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            region: DEFAULT_REGION.into(),
            node_type: DEFAULT_NODE_TYPE.into(),
            nodes: 1,
            engine: DEFAULT_ENGINE.into(),
            serverless: false,
            prices: PriceTable::built_in(),
            prices_origin: BUILT_IN_ORIGIN.into(),
        }
    }
}

/// `prices_origin` of the built-in table.
pub const BUILT_IN_ORIGIN: &str = "built-in table";

/// The prices that apply to one set of assumptions, USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// S3 GET requests, per 1,000.
    pub s3_get_per_1000: f64,
    /// S3 PUT requests, per 1,000.
    pub s3_put_per_1000: f64,
    /// One cache node for one hour (0 for a Serverless cache).
    pub node_hour: f64,
}

impl Assumptions {
    /// Check the table prices the region and the cache, and look the prices up.
    pub fn prices(&self) -> Result<Prices, CostError> {
        let table = &self.prices;
        if self.nodes == 0 {
            return Err(CostError::NoNodes(self.nodes));
        }
        if !table.regions.contains(&self.region) {
            return Err(CostError::UnknownRegion {
                region: self.region.clone(),
                known: table.regions.join(", "),
            });
        }
        let node_hour = if self.serverless {
            self.serverless_prices()?;
            0.0
        } else {
            self.node_price()?.usd
        };
        Ok(Prices {
            s3_get_per_1000: table.s3_standard.get_per_1000.usd,
            s3_put_per_1000: table.s3_standard.put_per_1000.usd,
            node_hour,
        })
    }

    fn node_price(&self) -> Result<&Price, CostError> {
        self.prices.node_hour(&self.engine, &self.node_type).ok_or_else(|| CostError::UnknownNodeType {
            node_type: self.node_type.clone(),
            engine: self.engine.clone(),
            region: self.region.clone(),
            known: self
                .prices
                .nodes
                .get(&self.engine)
                .map(|n| n.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
        })
    }

    fn serverless_prices(&self) -> Result<&pricing::ServerlessPrices, CostError> {
        self.prices.serverless.get(&self.engine).ok_or_else(|| CostError::UnknownServerless {
            engine: self.engine.clone(),
            known: self.prices.serverless.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// The cache in words: "ElastiCache Redis OSS, 1 x cache.t4g.micro" or "ElastiCache
    /// Serverless Valkey".
    pub fn cache_name(&self) -> String {
        let engine = engine_name(&self.engine);
        if self.serverless {
            format!("ElastiCache Serverless {engine}")
        } else {
            format!("ElastiCache {engine}, {} x {}", self.nodes, self.node_type)
        }
    }
}

/// "Redis OSS" for `redis`, "Valkey" for `valkey`.
pub fn engine_name(engine: &str) -> &str {
    match engine {
        "redis" => "Redis OSS",
        "valkey" => "Valkey",
        other => other,
    }
}

/// Where reads come from, for pricing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// S3 Standard GETs.
    S3Standard,
    /// S3 Express One Zone GETs.
    S3Express,
    /// The cache alone.
    Cache,
    /// The cache, and S3 Standard for its misses.
    CacheAside,
}

impl Store {
    /// The store a workload's target reads.
    pub fn of(target: Target) -> Store {
        match target {
            Target::S3 => Store::S3Standard,
            Target::Redis => Store::Cache,
            Target::CacheAside => Store::CacheAside,
            Target::S3Express => Store::S3Express,
        }
    }

    /// The store in words, with the cache `a` describes.
    pub fn describe(self, a: &Assumptions) -> String {
        match self {
            Store::S3Standard => "S3 Standard".into(),
            Store::S3Express => "S3 Express One Zone".into(),
            Store::Cache => a.cache_name(),
            Store::CacheAside => format!("{} in front of S3 Standard", a.cache_name()),
        }
    }
}

/// What each read looks like, for the charges that depend on it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReadShape {
    /// Mean bytes a read returns.
    pub bytes: f64,
    /// Share of reads the cache serves (cache-aside), 0 to 1.
    pub hit_ratio: f64,
    /// Bytes the cache holds: the dataset (what a Serverless cache stores).
    pub dataset_bytes: f64,
    /// The readers are in another availability zone than the cache.
    pub cross_az: bool,
}

/// What serving reads from one store costs: a part per hour whatever the rate, and a part per
/// read, each item with the price it comes from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tariff {
    /// Each charge.
    pub lines: Vec<CostLine>,
}

impl Tariff {
    fn fixed(&mut self, what: String, usd_per_hour: f64, price: &Price) {
        self.lines.push(CostLine { what, usd_per_hour, usd_per_read: 0.0, source: price.cited() });
    }

    fn per_read(&mut self, what: String, usd_per_read: f64, price: &Price) {
        self.lines.push(CostLine { what, usd_per_hour: 0.0, usd_per_read, source: price.cited() });
    }

    /// USD per hour at `reads_s` reads per second.
    pub fn per_hour(&self, reads_s: f64) -> f64 {
        self.lines.iter().map(|l| l.usd_per_hour + l.usd_per_read * reads_s * 3600.0).sum()
    }

    /// USD per month (730 hours) at `reads_s` reads per second.
    pub fn per_month(&self, reads_s: f64) -> f64 {
        self.per_hour(reads_s) * HOURS_PER_MONTH
    }

    /// USD per million reads at `reads_s` reads per second; `None` at zero rate, where a fixed
    /// charge is spread over no reads.
    pub fn per_million(&self, reads_s: f64) -> Option<f64> {
        (reads_s > 0.0).then(|| self.per_hour(reads_s) / (reads_s * 3600.0) * 1e6)
    }
}

/// ECPUs of one request moving `bytes`: one per KiB, at least one.
pub fn ecpus(bytes: f64) -> f64 {
    (bytes / 1024.0).max(1.0)
}

/// What reads from `store` cost under `a`, for reads shaped as `read`.
pub fn tariff(store: Store, a: &Assumptions, read: &ReadShape) -> Result<Tariff, CostError> {
    a.prices()?;
    let table = &a.prices;
    let mut t = Tariff::default();
    let hit = read.hit_ratio.clamp(0.0, 1.0);
    let s3_get = &table.s3_standard.get_per_1000;
    match store {
        Store::S3Standard => t.per_read("S3 Standard GETs".into(), s3_get.usd / 1000.0, s3_get),
        Store::S3Express => {
            let e = &table.s3_express;
            t.per_read("S3 Express GETs".into(), e.get_per_1000.usd / 1000.0, &e.get_per_1000);
            let charged = (read.bytes - e.free_bytes_per_request as f64).max(0.0);
            t.per_read(
                "S3 Express retrieval per GB".into(),
                charged / GB * e.retrieval_per_gb.usd,
                &e.retrieval_per_gb,
            );
        }
        Store::Cache | Store::CacheAside => {
            let aside = store == Store::CacheAside;
            let cache = a.cache_name();
            if a.serverless {
                let p = a.serverless_prices()?;
                // A hit moves the value; a miss is a 1-ECPU GET and a SET of the value.
                let per_read = if aside {
                    hit * ecpus(read.bytes) + (1.0 - hit) * (1.0 + ecpus(read.bytes))
                } else {
                    ecpus(read.bytes)
                };
                t.per_read(
                    format!("{cache} ECPUs"),
                    per_read * p.ecpu_per_million.usd / 1e6,
                    &p.ecpu_per_million,
                );
                let stored = (read.dataset_bytes / GB).max(p.minimum_gb);
                t.fixed(format!("{cache} data stored ({stored:.2} GB)"), stored * p.gb_hour.usd, &p.gb_hour);
            } else {
                let price = a.node_price()?;
                t.fixed(format!("{cache} node-hours"), price.usd * f64::from(a.nodes), price);
            }
            if read.cross_az {
                let x = &table.transfer.inter_az_per_gb;
                t.per_read("data crossing AZs (both directions)".into(), read.bytes / GB * 2.0 * x.usd, x);
            }
            if aside {
                t.per_read("S3 Standard GETs of misses".into(), (1.0 - hit) * s3_get.usd / 1000.0, s3_get);
            }
        }
    }
    Ok(t)
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

/// The read rate (reads per second) at which the cache's fixed charges cost as much as the S3
/// GETs its hits save, less what the cache charges per read: above it the cache pays for itself.
/// `hit_ratio` is the share of reads served from the cache; at zero the cache never pays.
pub fn break_even(cache: &Tariff, s3_get_per_read: f64, hit_ratio: f64) -> f64 {
    let fixed: f64 = cache.lines.iter().map(|l| l.usd_per_hour).sum::<f64>() / 3600.0;
    let per_read: f64 = cache.lines.iter().map(|l| l.usd_per_read).sum();
    let saved_per_read = hit_ratio * s3_get_per_read - per_read;
    if saved_per_read <= 0.0 {
        return f64::INFINITY;
    }
    fixed / saved_per_read
}

/// The read rate at which a node cache's hours cost as much as the S3 GETs its hits save.
pub fn break_even_reads_s(p: &Prices, nodes: u32, hit_ratio: f64) -> f64 {
    let saved_per_read = hit_ratio * p.s3_get_per_1000 / 1000.0;
    if saved_per_read <= 0.0 {
        return f64::INFINITY;
    }
    p.node_hour * f64::from(nodes) / 3600.0 / saved_per_read
}

/// Mean bytes of the dataset's objects (from up to 10,000 of them, evenly spaced), and the bytes
/// of all of them.
pub fn dataset_bytes(result: &RunResult) -> (f64, f64) {
    let generator = result.scenario.dataset.generator();
    let total = generator.total().max(1);
    let samples = total.min(10_000);
    let sum: f64 = (0..samples).map(|k| generator.size(k * total / samples) as f64).sum();
    let mean = sum / samples as f64;
    (mean, mean * total as f64)
}

/// Mean bytes one read of workload `w` returns: the dataset's `mean` object, or less where the
/// workload reads a byte range.
pub fn read_bytes(result: &RunResult, w: &WorkloadResult, mean: f64) -> f64 {
    let range = result.scenario.workloads.iter().find(|s| s.name == w.name).and_then(|s| s.range);
    range.map_or(mean, |(first, last)| mean.min((last - first + 1) as f64))
}

/// A cache-aside workload's hit ratio once warm (its second half), else over the whole run.
pub fn hit_ratio(w: &WorkloadResult) -> Option<f64> {
    w.steady_hit_ratio.or(w.hit_ratio)
}

/// Price a run's workloads at their measured throughput.
pub fn estimate(result: &RunResult, assumptions: &Assumptions) -> Result<CostEstimate, CostError> {
    let a = of_run(result, assumptions);
    let p = a.prices()?;
    let aside = result.workloads.iter().find(|w| w.target == Target::CacheAside && hit_ratio(w).is_some());
    let (hit, hit_ratio_source) = match aside {
        Some(w) => (hit_ratio(w).unwrap_or(1.0).clamp(0.0, 1.0), w.name.clone()),
        None => (1.0, "assumed".to_owned()),
    };
    let (mean_bytes, dataset) = dataset_bytes(result);
    let mut workloads = Vec::new();
    for w in &result.workloads {
        let t = tariff(Store::of(w.target), &a, &shape_of(result, w, (mean_bytes, dataset)))?;
        workloads.push(WorkloadCost {
            name: w.name.clone(),
            target: w.target,
            reads_s: w.throughput_ops_s,
            usd_per_million_reads: t.per_million(w.throughput_ops_s),
            usd_per_hour: t.per_hour(w.throughput_ops_s),
        });
    }
    let shape =
        ReadShape { bytes: mean_bytes, hit_ratio: hit, dataset_bytes: dataset, cross_az: cross_az(result) };
    let cache = tariff(Store::Cache, &a, &shape)?;
    Ok(CostEstimate {
        region: a.region.clone(),
        prices_as_of: PRICES_AS_OF.to_owned(),
        prices_origin: a.prices_origin.clone(),
        s3_get_usd_per_1000: p.s3_get_per_1000,
        s3_put_usd_per_1000: p.s3_put_per_1000,
        cache_engine: a.engine.clone(),
        cache_serverless: a.serverless,
        cache_node_type: a.node_type.clone(),
        cache_nodes: a.nodes,
        cache_node_usd_per_hour: p.node_hour,
        hit_ratio: hit,
        hit_ratio_source,
        s3_usd_per_million_reads: s3_per_million(&p),
        break_even_reads_s: break_even(&cache, p.s3_get_per_1000 / 1000.0, hit),
        dataset_put_usd: result.scenario.dataset.objects as f64 * p.s3_put_per_1000 / 1000.0,
        workloads,
    })
}

/// `assumptions` for `result`'s cache: a cluster is priced as its shards (a primary each), not as
/// one node.
pub fn of_run(result: &RunResult, assumptions: &Assumptions) -> Assumptions {
    let shards = result.targets.redis_target.as_ref().filter(|t| t.cluster).and_then(|t| t.shards);
    Assumptions { nodes: assumptions.nodes.max(shards.unwrap_or(0)), ..assumptions.clone() }
}

/// What a read of `w` looks like, for pricing it.
pub fn read_shape(result: &RunResult, w: &WorkloadResult) -> ReadShape {
    shape_of(result, w, dataset_bytes(result))
}

/// [`read_shape`] with the dataset's `(mean, total)` bytes already worked out.
fn shape_of(result: &RunResult, w: &WorkloadResult, (mean, dataset): (f64, f64)) -> ReadShape {
    ReadShape {
        bytes: read_bytes(result, w, mean),
        hit_ratio: hit_ratio(w).unwrap_or(1.0),
        dataset_bytes: dataset,
        cross_az: cross_az(result),
    }
}

/// Whether the scenario's goal puts the readers in another AZ than the cache.
fn cross_az(result: &RunResult) -> bool {
    result.scenario.goal.as_ref().is_some_and(|g| g.cross_az)
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

    fn shape(bytes: f64) -> ReadShape {
        ReadShape { bytes, hit_ratio: 1.0, dataset_bytes: 1000.0 * bytes, cross_az: false }
    }

    fn month(store: Store, a: &Assumptions, read: ReadShape) -> f64 {
        tariff(store, a, &read).expect("priced").per_month(2000.0)
    }

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-6 * want.abs().max(1.0), "got {got}, want {want}");
    }

    #[test]
    fn each_store_costs_what_the_price_table_works_out_to_by_hand() {
        let redis = Assumptions::default();
        let valkey = Assumptions { engine: "valkey".into(), ..Default::default() };
        // S3 Standard: $0.0004 per 1,000 GETs, any size: 5.256e9 * 4e-7 = $2,102.40 a month.
        close(month(Store::S3Standard, &redis, shape(1048576.0)), 2102.4);
        close(
            tariff(Store::S3Standard, &redis, &shape(300.0))
                .expect("priced")
                .per_million(2000.0)
                .expect("rate"),
            0.40,
        );
        // S3 Express, 1 MiB: $0.00003 per 1,000 GETs plus 1/1024 GB at $0.0006 per GB
        // = 3e-8 + 5.859375e-7 = 6.159375e-7 per read, $0.6159375 per million.
        let express = tariff(Store::S3Express, &redis, &shape(1048576.0)).expect("priced");
        close(express.per_million(2000.0).expect("rate"), 0.615_937_5);
        // AWS's own example: 9,000,000 GETs of 10 KB retrieve 10/1,048,576 GB each at $0.0006 = $0.0515.
        let ten_kb = tariff(Store::S3Express, &redis, &shape(10240.0)).expect("priced");
        close(ten_kb.lines[1].usd_per_read * 9e6, 10.0 / 1_048_576.0 * 9e6 * 0.0006);
        // Nodes: one cache.t4g.micro for 730 hours, $0.016 (Redis OSS) or $0.0128 (Valkey) an hour.
        close(month(Store::Cache, &redis, shape(4096.0)), 11.68);
        close(month(Store::Cache, &valkey, shape(4096.0)), 9.344);
        // Serverless Valkey, 4 KiB reads: 4 ECPUs each at $0.0023 per million = 9.2e-9 per read,
        // $48.3552 a month; 4 MB stored is billed as the 0.1 GB minimum: 0.1 * 0.084 * 730 = $6.132.
        let serverless = Assumptions { serverless: true, ..valkey.clone() };
        close(month(Store::Cache, &serverless, shape(4096.0)), 48.3552 + 6.132);
        // Serverless Redis OSS, 512 B reads: 1 ECPU at $0.0034 per million = $17.8704 a month, and
        // its 1 GB minimum: 0.125 * 730 = $91.25.
        let serverless_redis = Assumptions { serverless: true, ..Default::default() };
        close(month(Store::Cache, &serverless_redis, shape(512.0)), 17.8704 + 91.25);
        // Serverless storage above the minimum: 2 GiB of data at $0.084 per GB-hour.
        let big = ReadShape { dataset_bytes: 2.0 * GB, ..shape(4096.0) };
        close(month(Store::Cache, &serverless, big), 48.3552 + 2.0 * 0.084 * 730.0);
        // Cache-aside on a node at a 90% hit ratio: the node, and 10% of the reads' S3 GETs.
        let hits = |h: f64, bytes: f64| ReadShape { hit_ratio: h, ..shape(bytes) };
        close(month(Store::CacheAside, &redis, hits(0.9, 4096.0)), 11.68 + 210.24);
        // Cache-aside on Serverless Valkey at 90%: 0.9 * 4 ECPUs per hit + 0.1 * (1 + 4) per miss
        // (its GET and its SET) = 4.1 ECPUs, $49.56408 a month, + $6.132 stored + $210.24 of GETs.
        close(month(Store::CacheAside, &serverless, hits(0.9, 4096.0)), 49.56408 + 6.132 + 210.24);
        // Readers in another AZ: each 4 KiB read crosses both ways at $0.01 per GB each:
        // 4096 / 2^30 * 0.02 = 7.62939453125e-8 per read, $401.0009765625 a month.
        let far = ReadShape { cross_az: true, ..shape(4096.0) };
        close(month(Store::Cache, &redis, far), 11.68 + 401.000_976_562_5);
        // S3 is regional: crossing AZs to it costs nothing.
        close(month(Store::S3Standard, &redis, far), 2102.4);
    }

    #[test]
    fn a_serverless_or_valkey_cache_is_priced_as_one_and_named() {
        let serverless = Assumptions { serverless: true, engine: "valkey".into(), ..Default::default() };
        assert_eq!(
            Store::CacheAside.describe(&serverless),
            "ElastiCache Serverless Valkey in front of S3 Standard"
        );
        assert_eq!(
            Store::Cache.describe(&Assumptions::default()),
            "ElastiCache Redis OSS, 1 x cache.t4g.micro"
        );
        let unknown = Assumptions { engine: "memcached".into(), ..Default::default() };
        let e = tariff(Store::Cache, &unknown, &shape(100.0)).unwrap_err().to_string();
        assert!(e.contains("no memcached price"), "{e}");
        // The break-even of a Serverless cache: its storage against what its hits save after
        // their ECPUs. 512 B reads on Redis OSS: $0.125/h stored; a hit saves 4e-7 - 3.4e-9.
        let t = tariff(Store::Cache, &Assumptions { serverless: true, ..Default::default() }, &shape(512.0))
            .expect("priced");
        close(break_even(&t, 4e-7, 1.0), 0.125 / 3600.0 / (4e-7 - 3.4e-9));
    }
}
