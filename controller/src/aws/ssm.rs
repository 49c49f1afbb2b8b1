//! Systems Manager: the agents' TLS keys as SecureString parameters, install commands through
//! AWS-RunShellScript, and the SSM agent's ping status.

use aws_config::SdkConfig;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{
    InstanceInformationStringFilter, ParameterTier, ParameterType, ResourceTypeForTagging, Tag,
};

use super::AwsError;

const SERVICE: &str = "ssm";

/// Most instance ids one SendCommand may target (its `InstanceIds`, per the API reference).
pub const MAX_SEND_TARGETS: usize = 50;
/// Most values one DescribeInstanceInformation filter may carry
/// (`InstanceInformationStringFilter.Values`, per the API reference).
pub const MAX_FILTER_VALUES: usize = 100;

/// An SSM client.
#[derive(Clone, Debug)]
pub struct Ssm {
    client: Client,
}

/// Where one command stands on one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// "Pending", "InProgress", "Delayed", "Success", "Failed", "Cancelled", "TimedOut", ...
    pub status: String,
    /// The script's exit code; -1 while it runs.
    pub response_code: i32,
    /// The start of its standard output (SSM keeps the first 24,000 characters).
    pub stdout: String,
    /// The start of its standard error (the first 8,000 characters).
    pub stderr: String,
}

impl Invocation {
    /// True once the invocation will not change any more.
    pub fn is_final(&self) -> bool {
        !matches!(self.status.as_str(), "Pending" | "InProgress" | "Delayed" | "Cancelling")
    }
}

/// Why GetCommandInvocation gave no invocation.
#[derive(Debug)]
pub enum InvocationError {
    /// SSM does not know it (yet: it appears a moment after SendCommand).
    NotYet,
    /// Any other failure.
    Aws(AwsError),
}

/// Why SendCommand failed.
#[derive(Debug)]
pub enum SendError {
    /// An instance is not registered with SSM (yet: its SSM agent starts after boot).
    NotRegistered(AwsError),
    /// Any other failure.
    Aws(AwsError),
}

impl Ssm {
    /// A client over `config`.
    pub fn new(config: &SdkConfig) -> Ssm {
        Ssm { client: Client::new(config) }
    }

    /// Store a secret as a SecureString encrypted with the KMS key `key_id`, replacing any
    /// earlier value, and tag it. Intelligent tiering keeps it standard unless it outgrows 4 KB.
    pub async fn put_parameter(
        &self,
        name: &str,
        value: &str,
        key_id: &str,
        tags: &[(&str, &str)],
    ) -> Result<(), AwsError> {
        self.client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .key_id(key_id)
            .tier(ParameterTier::IntelligentTiering)
            .overwrite(true)
            .description("fetchbench agent TLS identity")
            .send()
            .await
            .map_err(|e| AwsError::call(SERVICE, "PutParameter", e))?;
        // PutParameter refuses tags together with overwrite, so they are added afterwards.
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::local(SERVICE, "AddTagsToResource", e))?;
        self.client
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .set_tags(Some(tags))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::call(SERVICE, "AddTagsToResource", e))
    }

    /// Names of every parameter under `path`.
    pub async fn get_parameters_by_path(&self, path: &str) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .get_parameters_by_path()
                .path(path)
                .recursive(true)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::call(SERVICE, "GetParametersByPath", e))?;
            names.extend(out.parameters.unwrap_or_default().into_iter().filter_map(|p| p.name));
            token = out.next_token;
            if token.is_none() {
                return Ok(names);
            }
        }
    }

    /// Delete parameters (at most 10 per call, as the API allows); missing ones are ignored.
    pub async fn delete_parameters(&self, names: &[String]) -> Result<(), AwsError> {
        for chunk in names.chunks(10) {
            self.client
                .delete_parameters()
                .set_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| AwsError::call(SERVICE, "DeleteParameters", e))?;
        }
        Ok(())
    }

    /// Run a shell script on at most [`MAX_SEND_TARGETS`] instances through the
    /// AWS-RunShellScript document. Returns the command id.
    pub async fn send_command(
        &self,
        instance_ids: &[String],
        script: &str,
        comment: &str,
        timeout_s: u32,
    ) -> Result<String, SendError> {
        debug_assert!(instance_ids.len() <= MAX_SEND_TARGETS, "{} instances", instance_ids.len());
        let out = self
            .client
            .send_command()
            .document_name("AWS-RunShellScript")
            .set_instance_ids(Some(instance_ids.to_vec()))
            .parameters("commands", vec![script.to_owned()])
            .parameters("executionTimeout", vec![timeout_s.to_string()])
            .comment(comment)
            .send()
            .await
            .map_err(|e| {
                let not_registered = e.as_service_error().is_some_and(|s| s.is_invalid_instance_id());
                let e = AwsError::call(SERVICE, "SendCommand", e);
                if not_registered { SendError::NotRegistered(e) } else { SendError::Aws(e) }
            })?;
        Ok(out.command.and_then(|c| c.command_id).unwrap_or_default())
    }

    /// Where command `command_id` stands on `instance_id`.
    pub async fn get_command_invocation(
        &self,
        command_id: &str,
        instance_id: &str,
    ) -> Result<Invocation, InvocationError> {
        let out =
            self.client.get_command_invocation().command_id(command_id).instance_id(instance_id).send().await;
        match out {
            Ok(o) => Ok(Invocation {
                status: o.status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                response_code: o.response_code,
                stdout: o.standard_output_content.unwrap_or_default(),
                stderr: o.standard_error_content.unwrap_or_default(),
            }),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_invocation_does_not_exist()) => {
                Err(InvocationError::NotYet)
            }
            Err(e) => Err(InvocationError::Aws(AwsError::call(SERVICE, "GetCommandInvocation", e))),
        }
    }

    /// The SSM agent's ping status ("Online", "ConnectionLost", ...) per instance id, every page
    /// of it, asking for at most [`MAX_FILTER_VALUES`] ids at a time.
    pub async fn describe_instance_information(
        &self,
        instance_ids: &[String],
    ) -> Result<Vec<(String, String)>, AwsError> {
        let mut pings = Vec::with_capacity(instance_ids.len());
        for chunk in instance_ids.chunks(MAX_FILTER_VALUES) {
            let filter = InstanceInformationStringFilter::builder()
                .key("InstanceIds")
                .set_values(Some(chunk.to_vec()))
                .build()
                .map_err(|e| AwsError::local(SERVICE, "DescribeInstanceInformation", e))?;
            let mut token = None;
            loop {
                let out = self
                    .client
                    .describe_instance_information()
                    .filters(filter.clone())
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| AwsError::call(SERVICE, "DescribeInstanceInformation", e))?;
                pings.extend(out.instance_information_list.unwrap_or_default().into_iter().map(|i| {
                    (
                        i.instance_id.unwrap_or_default(),
                        i.ping_status.map(|p| p.as_str().to_owned()).unwrap_or_default(),
                    )
                }));
                token = out.next_token;
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(pings)
    }
}
