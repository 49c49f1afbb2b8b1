//! CloudFormation: create, update, watch and delete the fleet's stack.

use aws_config::SdkConfig;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Capability, OnFailure, Parameter, Stack, StackEvent, Tag};

use super::AwsError;

const SERVICE: &str = "cloudformation";

/// A CloudFormation client.
#[derive(Clone, Debug)]
pub struct CloudFormation {
    client: Client,
}

/// What a stack is made of and tagged with.
#[derive(Clone, Debug)]
pub struct StackSpec<'a> {
    /// Stack name.
    pub name: &'a str,
    /// Template body (YAML).
    pub template: &'a str,
    /// Template parameters, key and value.
    pub parameters: &'a [(String, String)],
    /// Stack tags, which CloudFormation copies onto every resource that takes tags.
    pub tags: &'a [(String, String)],
}

impl CloudFormation {
    /// A client over `config`.
    pub fn new(config: &SdkConfig) -> CloudFormation {
        CloudFormation { client: Client::new(config) }
    }

    /// The stack, or `None` when there is none of that name.
    pub async fn describe_stacks(&self, name: &str) -> Result<Option<Stack>, AwsError> {
        match self.client.describe_stacks().stack_name(name).send().await {
            Ok(out) => Ok(out.stacks.and_then(|s| s.into_iter().next())),
            Err(e) if e.as_service_error().and_then(|s| s.meta().message()).is_some_and(does_not_exist) => {
                Ok(None)
            }
            Err(e) => Err(AwsError::call(SERVICE, "DescribeStacks", e)),
        }
    }

    /// Create the stack (IAM capability granted; a failed create rolls back). Returns its id.
    pub async fn create_stack(&self, spec: &StackSpec<'_>) -> Result<String, AwsError> {
        let out = self
            .client
            .create_stack()
            .stack_name(spec.name)
            .template_body(spec.template)
            .set_parameters(Some(parameters(spec.parameters)))
            .set_tags(Some(tags(spec.tags)))
            .capabilities(Capability::CapabilityIam)
            .on_failure(OnFailure::Rollback)
            .send()
            .await
            .map_err(|e| AwsError::call(SERVICE, "CreateStack", e))?;
        Ok(out.stack_id.unwrap_or_default())
    }

    /// Update the stack; `false` when CloudFormation says there is nothing to update.
    pub async fn update_stack(&self, spec: &StackSpec<'_>) -> Result<bool, AwsError> {
        match self
            .client
            .update_stack()
            .stack_name(spec.name)
            .template_body(spec.template)
            .set_parameters(Some(parameters(spec.parameters)))
            .set_tags(Some(tags(spec.tags)))
            .capabilities(Capability::CapabilityIam)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .and_then(|s| s.meta().message())
                    .is_some_and(|m| m.contains("No updates are to be performed")) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::call(SERVICE, "UpdateStack", e)),
        }
    }

    /// The template the stack was made from, as it was sent.
    pub async fn get_template(&self, name: &str) -> Result<String, AwsError> {
        let out = self
            .client
            .get_template()
            .stack_name(name)
            .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
            .send()
            .await
            .map_err(|e| AwsError::call(SERVICE, "GetTemplate", e))?;
        Ok(out.template_body.unwrap_or_default())
    }

    /// The stack's most recent events, newest first (one page: enough to follow progress).
    pub async fn describe_stack_events(&self, name: &str) -> Result<Vec<StackEvent>, AwsError> {
        let out = self
            .client
            .describe_stack_events()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| AwsError::call(SERVICE, "DescribeStackEvents", e))?;
        Ok(out.stack_events.unwrap_or_default())
    }

    /// The physical id of one of the stack's resources, when it exists.
    pub async fn describe_stack_resource(
        &self,
        name: &str,
        logical_id: &str,
    ) -> Result<Option<String>, AwsError> {
        match self
            .client
            .describe_stack_resource()
            .stack_name(name)
            .logical_resource_id(logical_id)
            .send()
            .await
        {
            Ok(out) => Ok(out.stack_resource_detail.and_then(|d| d.physical_resource_id)),
            Err(e) if e.as_service_error().and_then(|s| s.meta().message()).is_some_and(does_not_exist) => {
                Ok(None)
            }
            Err(e) => Err(AwsError::call(SERVICE, "DescribeStackResource", e)),
        }
    }

    /// Start deleting the stack.
    pub async fn delete_stack(&self, name: &str) -> Result<(), AwsError> {
        self.client
            .delete_stack()
            .stack_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::call(SERVICE, "DeleteStack", e))
    }
}

fn does_not_exist(message: &str) -> bool {
    message.contains("does not exist")
}

fn parameters(pairs: &[(String, String)]) -> Vec<Parameter> {
    pairs.iter().map(|(k, v)| Parameter::builder().parameter_key(k).parameter_value(v).build()).collect()
}

fn tags(pairs: &[(String, String)]) -> Vec<Tag> {
    pairs.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}
