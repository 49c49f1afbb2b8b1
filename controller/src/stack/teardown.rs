//! `fetchbench teardown`: empty the fleet's bucket (every version), delete the agents' TLS
//! parameters, delete the stack, wait until it is gone, then forget the local state. Running it
//! again finds nothing to delete and says so.

use std::time::Duration;

use crate::aws::Aws;
use crate::error::Error;
use crate::fleet::aws_state;
use crate::stack::install::parameter_prefix;
use crate::stack::watch::{self, Outcome};

/// Run `fetchbench teardown`; the result is the exit code. `confirm(stack, region, bucket)` says
/// whether to go on, once what would be deleted is known.
pub async fn teardown(
    stack: &str,
    region: Option<&str>,
    profile: Option<&str>,
    confirm: impl FnOnce(&str, &str, Option<&str>) -> Result<bool, Error>,
    timeout: Duration,
) -> Result<u8, Error> {
    let saved = aws_state::load(stack)?;
    let dir = aws_state::dir(stack)?;
    let region = region.or(saved.as_ref().map(|s| s.region.as_str()));
    let profile = profile.or(saved.as_ref().and_then(|s| s.profile.as_deref()));
    let aws = Aws::connect(region, profile).await?;
    let existing = aws.cloudformation.describe_stacks(stack).await?;

    let Some(existing) = existing else {
        if saved.is_none() {
            say!(
                "nothing to delete: no stack {stack} in {} and no local state in {}",
                aws.region,
                dir.display()
            );
            return Ok(0);
        }
        delete_parameters(&aws, stack).await?;
        aws_state::remove(stack)?;
        say!("stack {stack} is already gone from {}; removed the local state {}", aws.region, dir.display());
        return Ok(0);
    };

    let bucket = match existing.outputs().iter().find(|o| o.output_key() == Some("BucketName")) {
        Some(o) => o.output_value().map(str::to_owned),
        None => aws.cloudformation.describe_stack_resource(stack, "Bucket").await?,
    };
    if !confirm(stack, &aws.region, bucket.as_deref())? {
        say!("nothing deleted");
        return Ok(0);
    }

    if let Some(bucket) = &bucket {
        let deleted = aws.s3.empty_bucket(bucket).await?;
        say!("emptied bucket {bucket}: {deleted} object versions deleted");
    }
    // CloudFormation deletes a directory bucket only when it is empty, as any bucket.
    let express = existing.outputs().iter().find(|o| o.output_key() == Some("ExpressBucketName"));
    if let Some(express) = express.and_then(|o| o.output_value()) {
        let deleted = aws.s3.empty_directory_bucket(express).await?;
        say!("emptied directory bucket {express}: {deleted} objects deleted");
    }
    delete_parameters(&aws, stack).await?;
    let since = watch::now_unix() - 1;
    say!("deleting stack {stack} in {}", aws.region);
    if let Err(e) = aws.cloudformation.delete_stack(stack).await {
        // Only an error if the stack is still there: the call may fail after the delete began.
        if aws.cloudformation.describe_stacks(stack).await?.is_some() {
            return Err(e.into());
        }
        eprintln!(
            "fetchbench: warning: {e}; the stack is gone, but look for leftover resources tagged \
             fetchbench:stack={stack}"
        );
    }
    match watch::watch(&aws.cloudformation, stack, since, timeout).await? {
        Outcome::Gone => {}
        Outcome::Complete(status) => {
            return Err(Error::Stack {
                stack: stack.to_owned(),
                status,
                detail: "it still exists after DeleteStack; run teardown again".into(),
            });
        }
    }
    aws_state::remove(stack)?;
    say!("stack {stack} deleted: nothing of it is left running; removed the local state {}", dir.display());
    Ok(0)
}

/// Delete every parameter install stored for the agents of `stack`.
async fn delete_parameters(aws: &Aws, stack: &str) -> Result<(), Error> {
    let names = aws.ssm.get_parameters_by_path(&format!("/fetchbench/{stack}")).await?;
    if !names.is_empty() {
        aws.ssm.delete_parameters(&names).await?;
        say!("deleted {} agent TLS parameters under {}", names.len(), parameter_prefix(stack));
    }
    Ok(())
}
