//! Auto Scaling: which instances the agents' group holds.

use aws_config::SdkConfig;
use aws_sdk_autoscaling::Client;

use super::AwsError;

/// An Auto Scaling client.
#[derive(Clone, Debug)]
pub struct AutoScaling {
    client: Client,
}

/// One instance of the group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInstance {
    /// EC2 instance id.
    pub id: String,
    /// Lifecycle state: "InService", "Pending", "Terminating", ...
    pub lifecycle: String,
    /// "Healthy" or "Unhealthy".
    pub health: String,
}

impl AutoScaling {
    /// A client over `config`.
    pub fn new(config: &SdkConfig) -> AutoScaling {
        AutoScaling { client: Client::new(config) }
    }

    /// The instances of group `name`, sorted by id; empty when the group does not exist.
    pub async fn describe_auto_scaling_groups(&self, name: &str) -> Result<Vec<GroupInstance>, AwsError> {
        let out = self
            .client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|e| AwsError::call("autoscaling", "DescribeAutoScalingGroups", e))?;
        let mut instances: Vec<GroupInstance> = out
            .auto_scaling_groups
            .unwrap_or_default()
            .into_iter()
            .flat_map(|g| g.instances.unwrap_or_default())
            .map(|i| GroupInstance {
                id: i.instance_id.unwrap_or_default(),
                lifecycle: i.lifecycle_state.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                health: i.health_status.unwrap_or_default(),
            })
            .collect();
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(instances)
    }

    /// Set group `name`'s minimum, maximum and desired size to `size` (the template's sizes, after
    /// the expiry's scheduled action set them to 0).
    pub async fn update_auto_scaling_group(&self, name: &str, size: u32) -> Result<(), AwsError> {
        let size = i32::try_from(size).unwrap_or(i32::MAX);
        self.client
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(size)
            .max_size(size)
            .desired_capacity(size)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::call("autoscaling", "UpdateAutoScalingGroup", e))
    }
}
