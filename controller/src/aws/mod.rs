//! The AWS calls fetchbench makes, one module per service with one method per operation (named
//! after it), over one SDK configuration from the standard chain: credentials, region and
//! profile from the environment, `~/.aws` or the instance role; `AWS_ENDPOINT_URL` points every
//! service at another endpoint, as the tests do with moto on 127.0.0.1.

pub mod autoscaling;
pub mod cloudformation;
pub mod cloudwatch;
pub mod ec2;
pub mod pricing;
mod query;
pub mod s3;
pub mod ssm;

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// A failed AWS call, or no region to make it in.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// Neither a flag nor the standard chain named a region.
    #[error("no AWS region configured; set AWS_REGION, or set a region in your AWS profile")]
    NoRegion,
    /// A call failed; `detail` is the SDK's error chain.
    #[error("{service} {operation}: {detail}")]
    Call {
        /// The service, e.g. "cloudformation".
        service: &'static str,
        /// The operation, e.g. "CreateStack".
        operation: &'static str,
        /// What went wrong.
        detail: String,
    },
}

impl AwsError {
    /// A failed SDK call: the service's error code and message when it answered, else the chain
    /// of causes (no credentials, connection refused, ...) on one line.
    pub(crate) fn call<E, R>(service: &'static str, operation: &'static str, e: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let detail = match (e.code(), e.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => match &e {
                SdkError::ResponseError(r) => {
                    format!("unreadable response: {:?}", r.raw()).chars().take(300).collect()
                }
                _ => crate::support::error_chain(&e),
            },
        };
        AwsError::Call { service, operation, detail }
    }

    /// A failure before any request was sent (building or signing it).
    pub(crate) fn local(
        service: &'static str,
        operation: &'static str,
        e: impl std::fmt::Display,
    ) -> AwsError {
        AwsError::Call { service, operation, detail: e.to_string() }
    }
}

/// Load the SDK configuration from the standard chain; `region` and `profile` override it.
pub async fn load_config(region: Option<&str>, profile: Option<&str>) -> Result<SdkConfig, AwsError> {
    let mut loader = config_loader();
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(AwsError::NoRegion);
    }
    Ok(config)
}

/// The SDK's configuration loader with its HTTPS client: rustls on ring, the TLS backend of the
/// rest of fetchbench (the SDK's default client would build aws-lc, a long C build).
pub fn config_loader() -> ConfigLoader {
    let client =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(client)
}

/// The clients of the services fetchbench uses, over one configuration.
#[derive(Clone, Debug)]
pub struct Aws {
    /// The region every client talks to.
    pub region: String,
    /// CloudFormation: the stack.
    pub cloudformation: cloudformation::CloudFormation,
    /// Auto Scaling: the agents' instances.
    pub autoscaling: autoscaling::AutoScaling,
    /// CloudWatch: the cache's own metrics.
    pub cloudwatch: cloudwatch::CloudWatch,
    /// EC2: the zones that offer the agents' instance type.
    pub ec2: ec2::Ec2,
    /// Systems Manager: commands on the agents and their TLS keys.
    pub ssm: ssm::Ssm,
    /// S3: the agent binary and emptying the bucket.
    pub s3: s3::S3,
}

impl Aws {
    /// Clients for `region` (or the chain's region) and `profile`.
    pub async fn connect(region: Option<&str>, profile: Option<&str>) -> Result<Aws, AwsError> {
        let config = load_config(region, profile).await?;
        Ok(Aws {
            region: config.region().map(ToString::to_string).unwrap_or_default(),
            cloudformation: cloudformation::CloudFormation::new(&config),
            autoscaling: autoscaling::AutoScaling::new(&config),
            cloudwatch: cloudwatch::CloudWatch::new(&config),
            ec2: ec2::Ec2::new(&config),
            ssm: ssm::Ssm::new(&config),
            s3: s3::S3::new(&config),
        })
    }
}
