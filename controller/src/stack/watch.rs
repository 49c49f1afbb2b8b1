//! Following a CloudFormation stack to the end of a create, update or delete: its new events
//! printed as progress, a bounded wait, and on failure the first resource that failed and why.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::types::StackEvent;

use crate::aws::AwsError;
use crate::aws::cloudformation::CloudFormation;
use crate::error::Error;

/// Pause between two looks at the stack.
const POLL: Duration = Duration::from_secs(5);

/// How a watched operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It reached a `*_COMPLETE` status that is not a rollback; carries the status.
    Complete(String),
    /// The stack is gone (a delete finished).
    Gone,
}

/// Watch stack `name` until it stops changing, printing events newer than `since` (Unix
/// seconds). A failed or rolled-back operation is an [`Error::Stack`] naming the first failed
/// resource; waiting longer than `timeout` is one too.
pub async fn watch(cf: &CloudFormation, name: &str, since: i64, timeout: Duration) -> Result<Outcome, Error> {
    let started = Instant::now();
    let mut seen = HashSet::new();
    let mut failures: Vec<String> = Vec::new();
    loop {
        let stack = cf.describe_stacks(name).await?;
        // Events after the status: a final status is then never missing its last events.
        let events = match cf.describe_stack_events(name).await {
            Ok(e) => e,
            Err(_) if stack.is_none() => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        for event in events.iter().rev().filter(|e| newer(e, since)) {
            let id = event.event_id().unwrap_or_default().to_owned();
            if !seen.insert(id) {
                continue;
            }
            say!("  {}", describe(event));
            let status = event.resource_status().map(|s| s.as_str()).unwrap_or_default();
            let reason = event.resource_status_reason().unwrap_or_default();
            if status.ends_with("_FAILED") && !reason.contains("cancelled") {
                failures.push(format!(
                    "{} ({}): {reason}",
                    event.logical_resource_id().unwrap_or_default(),
                    event.resource_type().unwrap_or_default()
                ));
            }
        }
        let Some(stack) = stack else { return Ok(Outcome::Gone) };
        let status = stack.stack_status().map(|s| s.as_str().to_owned()).unwrap_or_default();
        if status == "DELETE_COMPLETE" {
            return Ok(Outcome::Gone);
        }
        if !status.ends_with("_IN_PROGRESS") {
            let failed = status.contains("FAILED") || status.contains("ROLLBACK");
            if !failed {
                return Ok(Outcome::Complete(status));
            }
            let detail = failures.first().cloned().unwrap_or_else(|| {
                stack.stack_status_reason().map_or_else(|| "no reason given".to_owned(), str::to_owned)
            });
            return Err(Error::Stack {
                stack: name.to_owned(),
                status,
                detail: format!("first failure: {detail}"),
            });
        }
        if started.elapsed() > timeout {
            return Err(Error::Stack {
                stack: name.to_owned(),
                status,
                detail: format!(
                    "still in progress after {}; follow it with `fetchbench status` or in the CloudFormation console",
                    humantime::format_duration(timeout)
                ),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn newer(event: &StackEvent, since: i64) -> bool {
    event.timestamp().is_some_and(|t| t.secs() >= since)
}

fn describe(event: &StackEvent) -> String {
    let time = event
        .timestamp()
        .map(|t| {
            let t = UNIX_EPOCH + Duration::from_secs(t.secs().max(0) as u64);
            humantime::format_rfc3339_seconds(t).to_string()[11..19].to_owned()
        })
        .unwrap_or_default();
    let reason = event.resource_status_reason().map(|r| format!(": {r}")).unwrap_or_default();
    format!(
        "{time}  {:<20}  {} ({}){reason}",
        event.resource_status().map(|s| s.as_str()).unwrap_or_default(),
        event.logical_resource_id().unwrap_or_default(),
        event.resource_type().unwrap_or_default()
    )
}

impl From<AwsError> for Error {
    fn from(e: AwsError) -> Error {
        Error::Aws(e)
    }
}
