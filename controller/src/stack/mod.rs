//! The AWS fleet: the CloudFormation stack (provision, watch, status, teardown), the agents'
//! install through SSM, the fleet's saved state, and the [`crate::fleet::Fleet`] a run uses.

pub mod cloudwatch;
pub mod expiry;
pub mod fleet;
pub mod install;
pub mod prices;
pub mod provision;
pub mod status;
pub mod teardown;
pub mod watch;
