//! Every price fetchbench uses, in one place: S3 requests per region (the cost of a run) and
//! hourly prices for the cost lines of `provision` and `status`: an estimate, not a bill.
//!
//! The cost model's prices (S3 Standard and Express, ElastiCache nodes per engine and
//! Serverless, data transfer) are in the price table, `prices.toml` beside this file, each figure
//! with its source and date; `--prices FILE` overrides them.
//!
//! The stack's own hourly items (EC2 instances, their public IPv4 addresses, the KMS key) are in
//! the same table, for the cost lines of `provision` and `status`; S3 storage, data transfer and
//! EBS volumes are left out there (cents for a benchmark's hours).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A non-burstable node type to name instead of a burstable one: Graviton, general purpose,
/// 12.5 Gbps "up to" network without CPU credits, at about ten times a cache.t4g.micro's price.
pub const STEADY_NODE_TYPE: &str = "cache.m7g.large";

/// Whether an ElastiCache node type is burstable (cache.t2, t3, t4g): a low baseline network
/// bandwidth (0.064 Gbps for a cache.t4g.micro) and CPU credits, which a long or large-object run
/// can spend, so that Redis looks slower than it is on a steady node.
pub fn is_burstable(node_type: &str) -> bool {
    let family = node_type.strip_prefix("cache.").unwrap_or(node_type).split('.').next().unwrap_or_default();
    matches!(family, "t2" | "t3" | "t4g")
}

/// Baseline network bandwidth of an ElastiCache node type, Gbps: what it sustains once its
/// burst credits are spent (ElastiCache's "Supported node types" tables, read 2026-12).
const CACHE_BASELINE_GBPS: &[(&str, f64)] = &[
    ("cache.t4g.micro", 0.064),
    ("cache.t4g.small", 0.128),
    ("cache.t4g.medium", 0.256),
    ("cache.t3.micro", 0.064),
    ("cache.t3.small", 0.128),
    ("cache.m6g.large", 0.75),
    ("cache.m7g.large", 0.937),
    ("cache.r6g.large", 0.75),
    ("cache.r7g.large", 0.937),
];

/// A node type's baseline network bandwidth in bytes per second, when the table has it.
pub fn cache_baseline_bytes_s(node_type: &str) -> Option<f64> {
    CACHE_BASELINE_GBPS.iter().find(|(t, _)| *t == node_type).map(|(_, gbps)| gbps * 1e9 / 8.0)
}

/// Hours in AWS's billing month.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Cache engine priced when none is given: the engine `fetchbench provision` creates by default.
pub const DEFAULT_ENGINE: &str = "redis";

/// What the built-in table's figures were last checked against, for lines that show no per-figure
/// date (`provision` and `status`).
pub const PRICES_AS_OF: &str = "2026-12";

/// The built-in price table: the same layout `--prices FILE` takes.
const BUILT_IN: &str = include_str!("prices.toml");

/// One price: USD per unit, where the figure comes from and when it was read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// USD per the unit its name gives (`get_per_1000`: per 1,000 GETs).
    pub usd: f64,
    /// Where the figure was read: a page, the AWS Price List API, or the file that set it.
    #[serde(default)]
    pub source: String,
    /// When it was read: a date, or as much of one as is known.
    #[serde(default)]
    pub as_of: String,
}

impl Price {
    /// "aws.amazon.com/s3/pricing, ... (2026-12)": the source and its date, for a cost line.
    pub fn cited(&self) -> String {
        if self.as_of.is_empty() { self.source.clone() } else { format!("{} ({})", self.source, self.as_of) }
    }
}

/// S3 Standard request prices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3StandardPrices {
    /// GET (and SELECT) requests, per 1,000.
    pub get_per_1000: Price,
    /// PUT (COPY, POST, LIST) requests, per 1,000.
    pub put_per_1000: Price,
}

/// S3 Express One Zone prices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3ExpressPrices {
    /// GET requests, per 1,000.
    pub get_per_1000: Price,
    /// PUT requests, per 1,000.
    pub put_per_1000: Price,
    /// Bytes read, per GB (2^30 bytes).
    pub retrieval_per_gb: Price,
    /// Bytes written, per GB.
    pub upload_per_gb: Price,
    /// Bytes of each request the per-GB charges leave out.
    pub free_bytes_per_request: u64,
}

/// Data transfer prices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferPrices {
    /// Between two availability zones of a region, per GB in each direction.
    pub inter_az_per_gb: Price,
}

/// ElastiCache Serverless prices of one engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerlessPrices {
    /// A million ElastiCache Processing Units (one per KiB a request transfers, at least one).
    pub ecpu_per_million: Price,
    /// One GB of data stored for one hour.
    pub gb_hour: Price,
    /// The least data billed, GB.
    pub minimum_gb: f64,
}

/// The stack's EC2 prices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2Prices {
    /// One public IPv4 address (each agent has one), per hour.
    pub public_ipv4_per_hour: Price,
    /// An instance (Linux, shared tenancy, on demand) per hour, by instance type.
    pub instances: BTreeMap<String, Price>,
}

/// KMS prices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsPrices {
    /// One customer managed key, per month.
    pub key_per_month: Price,
}

/// Every price the cost model uses, with where each came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    /// The regions whose prices these are.
    pub regions: Vec<String>,
    /// S3 Standard.
    pub s3_standard: S3StandardPrices,
    /// S3 Express One Zone.
    pub s3_express: S3ExpressPrices,
    /// Data transfer.
    pub transfer: TransferPrices,
    /// ElastiCache Serverless, by engine (`redis`, `valkey`).
    pub serverless: BTreeMap<String, ServerlessPrices>,
    /// ElastiCache node-hours, by engine and node type.
    pub nodes: BTreeMap<String, BTreeMap<String, Price>>,
    /// The stack's agents.
    pub ec2: Ec2Prices,
    /// The stack's key.
    pub kms: KmsPrices,
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable::built_in()
    }
}

/// Why a price file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PriceFileError {
    /// It cannot be read.
    #[error("cannot read the price file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a price table.
    #[error("the price file {path} is not a price table: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, and where.
        reason: String,
    },
}

impl PriceTable {
    /// The table built into fetchbench (src/results/prices.toml).
    pub fn built_in() -> PriceTable {
        toml::from_str(BUILT_IN).expect("the built-in price table parses (tested)")
    }

    /// The built-in table with the figures `text` gives in its place. A figure given without a
    /// `source` is cited as `origin`, the file it came from.
    pub fn overridden(text: &str, origin: &str) -> Result<PriceTable, String> {
        let given: toml::Table = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let mut merged: toml::Table =
            toml::from_str(BUILT_IN).expect("the built-in price table parses (tested)");
        overlay(&mut merged, given, origin);
        let table: PriceTable =
            toml::Value::Table(merged).try_into().map_err(|e: toml::de::Error| e.message().to_owned())?;
        table.check().map(|()| table)
    }

    /// The built-in table with the figures of the TOML file at `path` in its place.
    pub fn from_file(path: &std::path::Path) -> Result<PriceTable, PriceFileError> {
        PriceTable::read_kept(path).map(|(table, _)| table)
    }

    /// Every price is a finite amount of at least 0.
    fn check(&self) -> Result<(), String> {
        let mut prices: Vec<(String, f64)> = vec![
            ("s3_standard.get_per_1000".into(), self.s3_standard.get_per_1000.usd),
            ("s3_standard.put_per_1000".into(), self.s3_standard.put_per_1000.usd),
            ("s3_express.get_per_1000".into(), self.s3_express.get_per_1000.usd),
            ("s3_express.put_per_1000".into(), self.s3_express.put_per_1000.usd),
            ("s3_express.retrieval_per_gb".into(), self.s3_express.retrieval_per_gb.usd),
            ("s3_express.upload_per_gb".into(), self.s3_express.upload_per_gb.usd),
            ("transfer.inter_az_per_gb".into(), self.transfer.inter_az_per_gb.usd),
            ("ec2.public_ipv4_per_hour".into(), self.ec2.public_ipv4_per_hour.usd),
            ("kms.key_per_month".into(), self.kms.key_per_month.usd),
        ];
        prices.extend(self.ec2.instances.iter().map(|(t, p)| (format!("ec2.instances.{t:?}"), p.usd)));
        for (engine, p) in &self.serverless {
            prices.push((format!("serverless.{engine}.ecpu_per_million"), p.ecpu_per_million.usd));
            prices.push((format!("serverless.{engine}.gb_hour"), p.gb_hour.usd));
            prices.push((format!("serverless.{engine}.minimum_gb"), p.minimum_gb));
        }
        for (engine, nodes) in &self.nodes {
            prices.extend(nodes.iter().map(|(node, p)| (format!("nodes.{engine}.{node:?}"), p.usd)));
        }
        match prices.into_iter().find(|(_, usd)| !(usd.is_finite() && *usd >= 0.0)) {
            Some((name, usd)) => Err(format!("{name} = {usd} is not a price of at least 0")),
            None => Ok(()),
        }
    }

    /// The table as a file of its own, headed by what it priced and where it came from: what
    /// [`PriceTable::read_kept`] reads back, and a valid `--prices FILE`.
    pub fn kept_text(&self, subject: &str, origin: &str) -> String {
        format!(
            "# The prices {subject} was priced with: {origin}.\n{}",
            toml::to_string(self).unwrap_or_default()
        )
    }

    /// A table [`PriceTable::kept_text`] wrote, and its origin as the header gives it (else the
    /// file's name).
    pub fn read_kept(path: &std::path::Path) -> Result<(PriceTable, String), PriceFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| PriceFileError::Read { path: shown.clone(), source })?;
        let table = PriceTable::overridden(&text, &shown)
            .map_err(|reason| PriceFileError::Invalid { path: shown.clone(), reason })?;
        let origin = text
            .lines()
            .next()
            .and_then(|l| l.split_once(" was priced with: "))
            .map(|(_, origin)| origin.trim_end_matches('.').to_owned())
            .unwrap_or_else(|| format!("price file {shown}"));
        Ok((table, origin))
    }

    /// USD per hour of one node of `engine` and `node_type`, when the table has it.
    pub fn node_hour(&self, engine: &str, node_type: &str) -> Option<&Price> {
        self.nodes.get(engine)?.get(node_type)
    }
}

/// Lay `given` over `base`: tables merge key by key, and a price (a table with `usd`) or any
/// other value replaces what `base` had. A price without a source is cited as `origin`.
fn overlay(base: &mut toml::Table, given: toml::Table, origin: &str) {
    for (key, value) in given {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(g)) if !g.contains_key("usd") => {
                overlay(b, g, origin)
            }
            (_, toml::Value::Table(mut g)) if g.contains_key("usd") => {
                g.entry("source").or_insert_with(|| toml::Value::String(origin.to_owned()));
                base.insert(key, toml::Value::Table(g));
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The hourly cost of a fleet, with what the estimate could not price.
#[derive(Clone, Debug, PartialEq)]
pub struct HourlyCost {
    /// USD per hour of what the table knows.
    pub usd: f64,
    /// Types missing from the table: the true cost is higher.
    pub unknown: Vec<String>,
    /// One line per item, e.g. "2 x c7i.large $0.1785".
    pub items: Vec<String>,
}

impl HourlyCost {
    /// "$0.19 per hour", or "over $0.17 per hour (no price for x)".
    pub fn describe(&self) -> String {
        if self.unknown.is_empty() {
            format!("about ${:.2} per hour", self.usd)
        } else {
            format!("over ${:.2} per hour (no price known for {})", self.usd, self.unknown.join(", "))
        }
    }
}

/// What the stack runs by the hour: its agents, and its cache when it has nodes of its own.
#[derive(Clone, Copy, Debug)]
pub struct StackShape<'a> {
    /// How many agents.
    pub agents: u32,
    /// Their EC2 instance type.
    pub instance_type: &'a str,
    /// The cache's engine and node type, when the stack created a node-based cache.
    pub cache_node: Option<(&'a str, &'a str)>,
}

/// The hourly cost of the stack `shape`: its agents' instances and public IPv4 addresses, its
/// cache node and its KMS key, at the prices of `table`.
pub fn hourly(table: &PriceTable, shape: StackShape<'_>) -> HourlyCost {
    let mut cost = HourlyCost { usd: 0.0, unknown: Vec::new(), items: Vec::new() };
    let (agents, instance_type) = (shape.agents, shape.instance_type);
    let n = f64::from(agents);
    let ipv4 = table.ec2.public_ipv4_per_hour.usd;
    match table.ec2.instances.get(instance_type).map(|p| p.usd) {
        Some(p) => {
            cost.usd += n * (p + ipv4);
            cost.items.push(format!("{agents} x {instance_type} ${:.4}", n * p));
            cost.items.push(format!("{agents} x public IPv4 ${:.4}", n * ipv4));
        }
        None => cost.unknown.push(instance_type.to_owned()),
    }
    if let Some((engine, node)) = shape.cache_node {
        match table.node_hour(engine, node).map(|p| p.usd) {
            Some(p) => {
                cost.usd += p;
                cost.items.push(format!("1 x {node} ${p:.4}"));
            }
            None => cost.unknown.push(node.to_owned()),
        }
    }
    let key = table.kms.key_per_month.usd / HOURS_PER_MONTH;
    cost.usd += key;
    cost.items.push(format!("1 x KMS key ${key:.4}"));
    cost
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_nodes_are_burstable_and_the_advice_is_not() {
        for node in ["cache.t4g.micro", "cache.t4g.medium", "cache.t3.small", "cache.t2.micro"] {
            assert!(is_burstable(node), "{node}");
        }
        for node in ["cache.m7g.large", "cache.r7g.large", "cache.m6g.large", "cache.c7gn.large"] {
            assert!(!is_burstable(node), "{node}");
        }
        assert!(!is_burstable(STEADY_NODE_TYPE));
        assert!(
            PriceTable::built_in().node_hour("redis", STEADY_NODE_TYPE).is_some(),
            "the advice is priced"
        );
    }

    #[test]
    fn defaults_are_priced() {
        let t = PriceTable::built_in();
        let shape = StackShape {
            agents: 2,
            instance_type: "c7i.large",
            cache_node: Some(("redis", "cache.t4g.micro")),
        };
        let c = hourly(&t, shape);
        assert!(c.unknown.is_empty());
        assert!((c.usd - (2.0 * (0.08925 + 0.005) + 0.016 + 1.0 / 730.0)).abs() < 1e-9);
        assert_eq!(c.describe(), "about $0.21 per hour");
        assert_eq!(c.items.last().map(String::as_str), Some("1 x KMS key $0.0014"));
        // A Valkey node is priced as Valkey, a Serverless cache (no node) not at all.
        let valkey = hourly(&t, StackShape { cache_node: Some(("valkey", "cache.t4g.micro")), ..shape });
        assert!((c.usd - valkey.usd - (0.016 - 0.0128)).abs() < 1e-9, "{valkey:?}");
        let serverless = hourly(&t, StackShape { cache_node: None, ..shape });
        assert!((c.usd - serverless.usd - 0.016).abs() < 1e-9, "{serverless:?}");
    }

    #[test]
    fn a_kept_table_reads_back_with_its_origin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("prices.toml");
        let mut t = PriceTable::built_in();
        t.ec2.instances.get_mut("c7i.large").expect("listed").usd = 0.09;
        std::fs::write(&path, t.kept_text("stack x", "AWS Price List API (us-east-1, read 2026-12-06)"))
            .expect("write");
        let (back, origin) = PriceTable::read_kept(&path).expect("reads");
        assert_eq!(back, t);
        assert_eq!(origin, "AWS Price List API (us-east-1, read 2026-12-06)");
        std::fs::write(&path, "[kms]\nkey_per_month = { usd = 2.0 }\n").expect("write");
        let (_, origin) = PriceTable::read_kept(&path).expect("reads");
        assert_eq!(origin, format!("price file {}", path.display()));
    }

    #[test]
    fn unknown_types_make_a_lower_bound() {
        let c = hourly(
            &PriceTable::built_in(),
            StackShape { agents: 1, instance_type: "x9.huge", cache_node: None },
        );
        assert_eq!(c.unknown, ["x9.huge"]);
        assert!(c.describe().starts_with("over $0.00"));
    }

    #[test]
    fn the_built_in_table_cites_every_figure() {
        let t = PriceTable::built_in();
        let mut cited =
            vec![&t.s3_standard.get_per_1000, &t.s3_express.retrieval_per_gb, &t.transfer.inter_az_per_gb];
        cited.extend(t.serverless.values().flat_map(|p| [&p.ecpu_per_million, &p.gb_hour]));
        cited.extend(t.nodes.values().flat_map(|n| n.values()));
        cited.extend(t.ec2.instances.values());
        cited.extend([&t.ec2.public_ipv4_per_hour, &t.kms.key_per_month]);
        for p in cited {
            assert!(!p.source.is_empty() && !p.as_of.is_empty(), "{p:?}");
        }
        assert_eq!(t.node_hour("valkey", "cache.t4g.micro").map(|p| p.usd), Some(0.0128));
        assert_eq!(t.serverless["valkey"].minimum_gb, 0.1);
    }

    #[test]
    fn a_price_file_replaces_only_the_figures_it_gives() {
        let text = "regions = [\"eu-west-1\"]\n[s3_standard]\nget_per_1000 = { usd = 0.00042 }\n\
                    [nodes.valkey]\n\"cache.m7g.large\" = { usd = 0.2, source = \"our EDP\", as_of = \"2026-11\" }\n";
        let t = PriceTable::overridden(text, "mine.toml").expect("valid");
        assert_eq!(t.regions, ["eu-west-1"]);
        assert_eq!(t.s3_standard.get_per_1000.usd, 0.00042);
        assert_eq!(t.s3_standard.get_per_1000.source, "mine.toml", "a figure without a source is the file's");
        assert_eq!(t.s3_standard.get_per_1000.as_of, "");
        assert_eq!(t.s3_standard.put_per_1000, PriceTable::built_in().s3_standard.put_per_1000, "kept");
        let node = t.node_hour("valkey", "cache.m7g.large").expect("given");
        assert_eq!((node.usd, node.source.as_str(), node.as_of.as_str()), (0.2, "our EDP", "2026-11"));
        assert!(t.node_hour("valkey", "cache.t4g.micro").is_some(), "the other node types stay");
    }

    #[test]
    fn a_bad_price_file_is_refused_with_where() {
        for (text, says) in [
            (
                "[s3_standard]\nget_per_1000 = { usd = -1.0 }\n",
                "s3_standard.get_per_1000 = -1 is not a price",
            ),
            ("[s3_standard]\nget_per_100 = { usd = 1.0 }\n", "unknown field `get_per_100`"),
            ("[s3_express]\nget_per_1000 = 0.1\n", "invalid type"),
            ("[s3_standard\n", "unclosed table"),
        ] {
            let e = PriceTable::overridden(text, "f.toml").unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
        let missing = PriceTable::from_file(std::path::Path::new("/nonexistent/prices.toml")).unwrap_err();
        assert!(
            missing.to_string().starts_with("cannot read the price file /nonexistent/prices.toml"),
            "{missing}"
        );
    }
}
