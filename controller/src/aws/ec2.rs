//! EC2: which zones offer an instance type, and the zones' IDs. Two calls, made without
//! aws-sdk-ec2 (the largest SDK crate, for two operations): the EC2 Query API's
//! DescribeInstanceTypeOfferings and DescribeAvailabilityZones (`query`).

use aws_config::SdkConfig;

use super::AwsError;
use super::query::{QueryClient, elements};

const OPERATION: &str = "DescribeInstanceTypeOfferings";
const ZONES: &str = "DescribeAvailabilityZones";
/// The EC2 Query API's version.
const API_VERSION: &str = "2016-11-15";

/// An EC2 client for the calls fetchbench makes.
#[derive(Clone, Debug)]
pub struct Ec2 {
    client: QueryClient,
}

impl Ec2 {
    /// A client over `config`.
    pub fn new(config: &SdkConfig) -> Ec2 {
        Ec2 { client: QueryClient::new(config, "ec2", "ec2") }
    }

    /// The zones of the region (names, e.g. "us-east-1b") that offer `instance_type`, sorted.
    pub async fn describe_instance_type_offerings(
        &self,
        instance_type: &str,
    ) -> Result<Vec<String>, AwsError> {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", OPERATION)
            .append_pair("Version", API_VERSION)
            .append_pair("LocationType", "availability-zone")
            .append_pair("Filter.1.Name", "instance-type")
            .append_pair("Filter.1.Value.1", instance_type)
            .finish();
        let body = self.client.post(OPERATION, form).await?;
        let mut zones: Vec<String> = elements(&body, "location").map(str::to_owned).collect();
        zones.sort();
        zones.dedup();
        Ok(zones)
    }

    /// The region's availability zones: (name, ID) pairs, e.g. ("us-east-1d", "use1-az4"). The
    /// names are the account's own shuffle; the IDs are the same in every account, and S3
    /// Express names its zones by ID.
    pub async fn describe_availability_zones(&self) -> Result<Vec<(String, String)>, AwsError> {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", ZONES)
            .append_pair("Version", API_VERSION)
            .finish();
        let body = self.client.post(ZONES, form).await?;
        let names = elements(&body, "zoneName").map(str::to_owned);
        let ids = elements(&body, "zoneId").map(str::to_owned);
        Ok(names.zip(ids).collect())
    }
}
