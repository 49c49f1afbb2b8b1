//! `fetchbench install`, `status` and `teardown`: the stack's name, region and profile passed on to
//! [`crate::stack`].

use crate::cli::{InstallArgs, StackArgs, TeardownArgs};
use crate::error::Error;

/// Run `fetchbench install`.
pub async fn install(args: &InstallArgs) -> Result<u8, Error> {
    let s = &args.stack;
    crate::stack::install::install_command(
        &s.stack,
        s.region.as_deref(),
        s.profile.as_deref(),
        args.agent_binary.as_deref(),
    )
    .await
}

/// Run `fetchbench status`.
pub async fn status(s: &StackArgs) -> Result<u8, Error> {
    crate::stack::status::status(&s.stack, s.region.as_deref(), s.profile.as_deref()).await
}

/// Run `fetchbench teardown`.
pub async fn teardown(args: &TeardownArgs) -> Result<u8, Error> {
    let s = &args.stack;
    crate::stack::teardown::teardown(
        &s.stack,
        s.region.as_deref(),
        s.profile.as_deref(),
        args.yes,
        args.timeout,
    )
    .await
}
