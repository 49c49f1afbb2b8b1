//! Every price fetchbench uses, in one place: S3 requests per region (the cost of a run) and
//! hourly prices for the cost lines of `provision` and `status`: an estimate, not a bill.
//!
//! Source: AWS on-demand list prices for us-east-1 (EC2 Linux, aws.amazon.com/ec2/pricing/
//! on-demand; ElastiCache Redis OSS on-demand nodes, aws.amazon.com/elasticache/pricing; public
//! IPv4 addresses, aws.amazon.com/vpc/pricing), copied by hand in 2025. Other regions differ by
//! up to ~30 %; S3 requests and storage, data transfer and EBS volumes are left out (cents for a
//! benchmark's hours). Update the table when the defaults change.

/// USD per hour of an EC2 instance type (Linux, on demand, us-east-1).
const EC2: &[(&str, f64)] = &[
    ("t3.micro", 0.0104),
    ("t3.small", 0.0208),
    ("t3.medium", 0.0416),
    ("t3.large", 0.0832),
    ("t4g.micro", 0.0084),
    ("t4g.small", 0.0168),
    ("t4g.medium", 0.0336),
    ("c6i.large", 0.085),
    ("c6i.xlarge", 0.17),
    ("c6g.large", 0.068),
    ("c7i.large", 0.08925),
    ("c7i.xlarge", 0.1785),
    ("c7i.2xlarge", 0.357),
    ("c7g.large", 0.0725),
    ("c7g.xlarge", 0.145),
    ("c7gn.large", 0.0998),
    ("m7i.large", 0.1008),
    ("m7g.large", 0.0816),
];

/// USD per hour of an ElastiCache node type (Redis OSS, on demand, us-east-1).
const CACHE: &[(&str, f64)] = &[
    ("cache.t4g.micro", 0.016),
    ("cache.t4g.small", 0.032),
    ("cache.t4g.medium", 0.065),
    ("cache.t3.micro", 0.017),
    ("cache.t3.small", 0.034),
    ("cache.m6g.large", 0.149),
    ("cache.m7g.large", 0.158),
    ("cache.r6g.large", 0.206),
    ("cache.r7g.large", 0.219),
];

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

/// USD per hour of one public IPv4 address (each agent has one).
const PUBLIC_IPV4: f64 = 0.005;

/// USD per hour of the stack's KMS key for the agents' TLS parameters: $1 per month, prorated by
/// the hour over AWS's 730-hour month (aws.amazon.com/kms/pricing; its requests are left out).
const KMS_KEY: f64 = 1.0 / 730.0;

/// When the S3 prices below were read off AWS's public price pages.
pub const PRICES_AS_OF: &str = "2025";

/// One region's S3 request prices, USD.
#[derive(Debug)]
pub struct S3RequestPrices {
    /// Region code.
    pub region: &'static str,
    /// S3 Standard GET (and SELECT) requests, per 1,000.
    pub s3_get_per_1000: f64,
    /// S3 Standard PUT (COPY, POST, LIST) requests, per 1,000.
    pub s3_put_per_1000: f64,
}

// Source: the public price page of Amazon S3 (Standard storage class, "Requests & data
// retrievals"), read in 2025 (PRICES_AS_OF). Only regions whose figures were checked are listed.
// Cache node-hours come from CACHE above (ElastiCache Redis OSS on-demand, us-east-1; us-west-2
// lists the same). AWS changes prices rarely but does change them: re-check before
// quoting a figure to anyone.
const S3_REQUESTS: &[S3RequestPrices] = &[
    S3RequestPrices { region: "us-east-1", s3_get_per_1000: 0.0004, s3_put_per_1000: 0.005 },
    S3RequestPrices { region: "us-west-2", s3_get_per_1000: 0.0004, s3_put_per_1000: 0.005 },
];

/// The S3 request prices of `region`, if the table has them.
pub fn s3_requests(region: &str) -> Option<&'static S3RequestPrices> {
    S3_REQUESTS.iter().find(|r| r.region == region)
}

/// The regions whose S3 request prices the table has.
pub fn s3_regions() -> impl Iterator<Item = &'static str> {
    S3_REQUESTS.iter().map(|r| r.region)
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

/// The hourly cost of `agents` instances of `instance_type`, when created one cache node, and the
/// stack's KMS key.
pub fn hourly(agents: u32, instance_type: &str, cache_node_type: Option<&str>) -> HourlyCost {
    let mut cost = HourlyCost { usd: 0.0, unknown: Vec::new(), items: Vec::new() };
    let n = f64::from(agents);
    match lookup(EC2, instance_type) {
        Some(p) => {
            cost.usd += n * (p + PUBLIC_IPV4);
            cost.items.push(format!("{agents} x {instance_type} ${:.4}", n * p));
            cost.items.push(format!("{agents} x public IPv4 ${:.4}", n * PUBLIC_IPV4));
        }
        None => cost.unknown.push(instance_type.to_owned()),
    }
    if let Some(node) = cache_node_type {
        match lookup(CACHE, node) {
            Some(p) => {
                cost.usd += p;
                cost.items.push(format!("1 x {node} ${p:.4}"));
            }
            None => cost.unknown.push(node.to_owned()),
        }
    }
    cost.usd += KMS_KEY;
    cost.items.push(format!("1 x KMS key ${KMS_KEY:.4}"));
    cost
}

/// USD per hour of one ElastiCache node of `node_type`, when the table has it (also used by
/// [`crate::results::cost`] for the cost per read of a run).
pub fn cache_node_hour(node_type: &str) -> Option<f64> {
    lookup(CACHE, node_type)
}

/// The ElastiCache node types the table prices.
pub fn cache_node_types() -> impl Iterator<Item = &'static str> {
    CACHE.iter().map(|(t, _)| *t)
}

fn lookup(table: &[(&str, f64)], name: &str) -> Option<f64> {
    table.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
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
        assert!(CACHE.iter().any(|(n, _)| *n == STEADY_NODE_TYPE), "the advice is priced");
    }

    #[test]
    fn defaults_are_priced() {
        let c = hourly(2, "c7i.large", Some("cache.t4g.micro"));
        assert!(c.unknown.is_empty());
        assert!((c.usd - (2.0 * (0.08925 + 0.005) + 0.016 + 1.0 / 730.0)).abs() < 1e-9);
        assert_eq!(c.describe(), "about $0.21 per hour");
        assert_eq!(c.items.last().map(String::as_str), Some("1 x KMS key $0.0014"));
    }

    #[test]
    fn unknown_types_make_a_lower_bound() {
        let c = hourly(1, "x9.huge", None);
        assert_eq!(c.unknown, ["x9.huge"]);
        assert!(c.describe().starts_with("over $0.00"));
    }
}
