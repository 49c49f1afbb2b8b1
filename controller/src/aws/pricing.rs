//! The AWS Price List API (`GetProducts`), by hand over [`QueryClient`] (one small JSON call, where
//! aws-sdk-pricing would cost more build time than it is worth): the current on-demand list
//! prices of S3 Standard requests and of ElastiCache nodes per engine, laid over the built-in
//! price table for `--prices live`. The API answers from us-east-1 whatever region it prices
//! (`regionCode` is a filter).

use aws_config::SdkConfig;
use futures_util::{StreamExt, TryStreamExt};

use super::AwsError;
use super::query::QueryClient;
use crate::results::pricing::{Price, PriceTable};

/// The Price List API's endpoint and signing region: it is served from us-east-1 (and
/// ap-south-1, eu-central-1) for every region's prices.
const ENDPOINT: &str = "https://api.pricing.us-east-1.amazonaws.com";
const SIGNING_REGION: &str = "us-east-1";
/// Pages read at most per query: a filtered query answers one or a few products.
const MAX_PAGES: usize = 10;
/// GetProducts calls in flight at once.
const IN_FLIGHT: usize = 4;

/// The Price List API.
#[derive(Clone, Debug)]
pub struct PriceList {
    client: QueryClient,
}

/// One figure read: its price and the date AWS says it took effect.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedPrice {
    /// USD per the dimension's unit.
    pub usd: f64,
    /// The on-demand term's effective date (or the product's publication date).
    pub as_of: String,
}

impl PriceList {
    /// A client over `config`'s credentials (and `AWS_ENDPOINT_URL`, as every service).
    pub fn new(config: &SdkConfig) -> PriceList {
        PriceList { client: QueryClient::at(config, "pricing", "pricing", SIGNING_REGION, ENDPOINT) }
    }

    /// `GetProducts` of `service_code` with a TERM_MATCH filter per `(field, value)`: every
    /// product's price list entry (a JSON document), all pages.
    pub async fn get_products(
        &self,
        service_code: &str,
        filters: &[(&str, &str)],
    ) -> Result<Vec<serde_json::Value>, AwsError> {
        let filters: Vec<serde_json::Value> = filters
            .iter()
            .map(|(field, value)| serde_json::json!({"Type": "TERM_MATCH", "Field": field, "Value": value}))
            .collect();
        let mut products = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut body = serde_json::json!({
                "ServiceCode": service_code,
                "Filters": filters,
                "FormatVersion": "aws_v1",
                "MaxResults": 100,
            });
            if let Some(t) = &token {
                body["NextToken"] = serde_json::Value::String(t.clone());
            }
            let answer = self
                .client
                .post_json("GetProducts", "AWSPriceListService.GetProducts", body.to_string())
                .await?;
            let answer: serde_json::Value = serde_json::from_str(&answer)
                .map_err(|e| AwsError::local("pricing", "GetProducts", format!("unreadable answer: {e}")))?;
            // Each entry is a JSON document in a string.
            for entry in answer["PriceList"].as_array().into_iter().flatten() {
                let product = match entry {
                    serde_json::Value::String(text) => serde_json::from_str(text).map_err(|e| {
                        AwsError::local("pricing", "GetProducts", format!("unreadable price list entry: {e}"))
                    })?,
                    other => other.clone(),
                };
                products.push(product);
            }
            token = answer["NextToken"].as_str().filter(|t| !t.is_empty()).map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(products)
    }
}

/// The on-demand price of a price list entry: its `terms.OnDemand` dimension in `unit` starting at
/// 0 (the first tier) with a price above 0. Reserved terms (upfront fees, $0 "reserved instance
/// applied" hours) are never read.
pub fn on_demand(product: &serde_json::Value, unit: &str) -> Option<ListedPrice> {
    let terms = product["terms"]["OnDemand"].as_object()?;
    for term in terms.values() {
        for dimension in term["priceDimensions"].as_object().into_iter().flat_map(|d| d.values()) {
            let first_tier = dimension["beginRange"].as_str().is_none_or(|b| b == "0");
            if dimension["unit"].as_str() != Some(unit) || !first_tier {
                continue;
            }
            let usd: f64 = dimension["pricePerUnit"]["USD"].as_str()?.parse().ok()?;
            if usd > 0.0 {
                let as_of = term["effectiveDate"]
                    .as_str()
                    .or(product["publicationDate"].as_str())
                    .unwrap_or_default()
                    .chars()
                    .take(10)
                    .collect();
                return Some(ListedPrice { usd, as_of });
            }
        }
    }
    None
}

/// The first product's on-demand price in `unit`.
fn first_price(products: &[serde_json::Value], unit: &str) -> Option<ListedPrice> {
    products.iter().find_map(|p| on_demand(p, unit))
}

/// Which figures to read besides S3 Standard's.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wanted<'a> {
    /// EC2 instance types (Linux, shared tenancy, on demand).
    pub instance_types: &'a [&'a str],
    /// Cache nodes as (engine, node type); `None` for every node type of every engine the table
    /// lists.
    pub nodes: Option<&'a [(&'a str, &'a str)]>,
}

/// The built-in table for `region` with every figure the Price List has in its place: S3
/// Standard GET and PUT, and the node-hours and instance-hours `wanted` names. The names of the
/// figures the Price List did not have (kept from the built-in table) come second.
pub async fn live_table(
    config: &SdkConfig,
    region: &str,
    read_on: &str,
    wanted: Wanted<'_>,
) -> Result<(PriceTable, Vec<String>), AwsError> {
    let list = PriceList::new(config);
    let mut table = PriceTable::built_in();
    table.regions = vec![region.to_owned()];
    let cite = |what: String, listed: ListedPrice, scale: f64| Price {
        usd: listed.usd * scale,
        source: format!("AWS Price List API, {what}, read {read_on}"),
        as_of: listed.as_of,
    };
    /// Where a figure goes in the table.
    enum Slot {
        S3Get,
        S3Put,
        Node { engine: String, node_type: String },
        Instance(String),
    }
    /// One figure's query, all of them asked at once: its name, where it goes, what to cite,
    /// the service and filters, its unit and the scale to the table's unit.
    struct Query {
        name: String,
        slot: Slot,
        what: String,
        service: &'static str,
        filters: Vec<(&'static str, String)>,
        unit: &'static str,
        scale: f64,
    }
    let mut queries = Vec::new();
    // S3 Standard: Tier 1 is PUT, COPY, POST and LIST; Tier 2 is GET and the rest. Per request.
    for (group, name) in
        [("S3-API-Tier2", "s3_standard.get_per_1000"), ("S3-API-Tier1", "s3_standard.put_per_1000")]
    {
        queries.push(Query {
            name: name.to_owned(),
            slot: if group == "S3-API-Tier2" { Slot::S3Get } else { Slot::S3Put },
            what: format!("AmazonS3 {region} {group}"),
            service: "AmazonS3",
            filters: vec![("regionCode", region.to_owned()), ("group", group.to_owned())],
            unit: "Requests",
            scale: 1000.0,
        });
    }
    // ElastiCache nodes: the Price List capitalises the engine.
    let every_node: Vec<(&str, &str)> = table
        .nodes
        .iter()
        .flat_map(|(engine, nodes)| nodes.keys().map(move |node| (engine.as_str(), node.as_str())))
        .collect();
    for &(engine, node_type) in wanted.nodes.unwrap_or(&every_node) {
        let listed_engine = match engine {
            "redis" => "Redis",
            "valkey" => "Valkey",
            other => other,
        };
        queries.push(Query {
            name: format!("nodes.{engine}.{node_type:?}"),
            slot: Slot::Node { engine: engine.to_owned(), node_type: node_type.to_owned() },
            what: format!("AmazonElastiCache {region} {node_type} {listed_engine}"),
            service: "AmazonElastiCache",
            filters: vec![
                ("regionCode", region.to_owned()),
                ("instanceType", node_type.to_owned()),
                ("cacheEngine", listed_engine.to_owned()),
            ],
            unit: "Hrs",
            scale: 1.0,
        });
    }
    // EC2: one product per instance type once the OS, tenancy, software, licence and capacity
    // reservation status are pinned.
    for instance_type in wanted.instance_types {
        queries.push(Query {
            name: format!("ec2.instances.{instance_type:?}"),
            slot: Slot::Instance((*instance_type).to_owned()),
            what: format!("AmazonEC2 {region} {instance_type} Linux on demand"),
            service: "AmazonEC2",
            filters: vec![
                ("regionCode", region.to_owned()),
                ("instanceType", (*instance_type).to_owned()),
                ("operatingSystem", "Linux".to_owned()),
                ("tenancy", "Shared".to_owned()),
                ("preInstalledSw", "NA".to_owned()),
                ("licenseModel", "No License required".to_owned()),
                ("capacitystatus", "Used".to_owned()),
            ],
            unit: "Hrs",
            scale: 1.0,
        });
    }
    // A few at a time: the Price List API throttles bursts.
    let answers: Vec<Vec<serde_json::Value>> = futures_util::stream::iter(queries.iter().map(|q| {
        let filters: Vec<(&str, &str)> = q.filters.iter().map(|(f, v)| (*f, v.as_str())).collect();
        let list = &list;
        async move { list.get_products(q.service, &filters).await }
    }))
    .buffered(IN_FLIGHT)
    .try_collect()
    .await?;
    let mut missing = Vec::new();
    for (q, products) in queries.into_iter().zip(answers) {
        let Some(listed) = first_price(&products, q.unit) else {
            missing.push(q.name);
            continue;
        };
        let price = cite(q.what, listed, q.scale);
        match q.slot {
            Slot::S3Get => table.s3_standard.get_per_1000 = price,
            Slot::S3Put => table.s3_standard.put_per_1000 = price,
            Slot::Node { engine, node_type } => {
                table.nodes.entry(engine).or_default().insert(node_type, price);
            }
            Slot::Instance(instance_type) => {
                table.ec2.instances.insert(instance_type, price);
            }
        }
    }
    Ok((table, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A price list entry as GetProducts answers it (abridged from the AmazonElastiCache offer),
    /// with a reserved term whose hours cost $0 and whose upfront fee is not an hourly price.
    const NODE: &str = r#"{
      "product": {"productFamily": "Cache Instance", "sku": "ABC",
                  "attributes": {"regionCode": "us-east-1", "instanceType": "cache.t4g.micro", "cacheEngine": "Valkey"}},
      "serviceCode": "AmazonElastiCache",
      "terms": {
        "Reserved": {"ABC.R1": {"effectiveDate": "2024-10-01T00:00:00Z", "priceDimensions": {
          "ABC.R1.2TG2D8R56U": {"unit": "Quantity", "description": "Upfront Fee", "pricePerUnit": {"USD": "61"}},
          "ABC.R1.6YS6EN2CT7": {"unit": "Hrs", "description": "reserved", "beginRange": "0", "pricePerUnit": {"USD": "0.0000000000"}}}}},
        "OnDemand": {"ABC.JRTCKXETXF": {"effectiveDate": "2026-11-01T00:00:00Z", "priceDimensions": {
          "ABC.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs", "beginRange": "0", "endRange": "Inf", "pricePerUnit": {"USD": "0.0128000000"}}}}}
      },
      "publicationDate": "2026-11-20T18:05:41Z"
    }"#;

    #[test]
    fn the_on_demand_hourly_price_is_read_and_reserved_terms_are_not() {
        let product: serde_json::Value = serde_json::from_str(NODE).expect("json");
        assert_eq!(on_demand(&product, "Hrs"), Some(ListedPrice { usd: 0.0128, as_of: "2026-11-01".into() }));
        assert_eq!(on_demand(&product, "Requests"), None, "no dimension in that unit");
        let mut reserved_only = product.clone();
        reserved_only["terms"].as_object_mut().expect("terms").remove("OnDemand");
        assert_eq!(on_demand(&reserved_only, "Hrs"), None);
    }

    #[test]
    fn a_tiered_price_is_read_from_its_first_tier() {
        let product = serde_json::json!({"terms": {"OnDemand": {"X.T": {"effectiveDate": "2026-01-01", "priceDimensions": {
            "X.T.2": {"unit": "Requests", "beginRange": "1000000", "pricePerUnit": {"USD": "0.0000002"}},
            "X.T.1": {"unit": "Requests", "beginRange": "0", "pricePerUnit": {"USD": "0.0000004"}}
        }}}}});
        assert_eq!(on_demand(&product, "Requests").map(|p| p.usd), Some(0.0000004));
    }
}
