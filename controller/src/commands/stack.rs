//! `fetchbench install`, `status` and `teardown`: the stack's name, region and profile passed on to
//! [`crate::stack`].

use std::io::{BufRead, IsTerminal};

use crate::cli::{InstallArgs, StatusArgs, TeardownArgs};
use crate::error::{EXIT_DEGRADED, Error};
use crate::stack::install::Installed;

/// Run `fetchbench install`.
pub async fn install(args: &InstallArgs) -> Result<u8, Error> {
    let s = &args.stack;
    let state = crate::stack::install::load(&s.stack)?;
    let binary = super::agent_binary::check(args.agent_binary.as_deref(), &state.arch)?;
    let done =
        crate::stack::install::install_command(state, s.region.as_deref(), s.profile.as_deref(), binary)
            .await?;
    Ok(installed(done))
}

/// Say how an install ended; the exit code: 3 when an agent does not answer over gRPC.
pub(super) fn installed(done: Installed) -> u8 {
    if done.unreachable > 0 {
        say!(
            "{} of {} agents cannot be reached over gRPC; check that --allow-cidr covers this machine's \
             public address, then `fetchbench status`",
            done.unreachable,
            done.total
        );
        return EXIT_DEGRADED;
    }
    say!("{} agents ready", done.total);
    0
}

/// Run `fetchbench status`.
pub async fn status(args: &StatusArgs) -> Result<u8, Error> {
    let s = &args.stack;
    let state = crate::stack::install::load(&s.stack)?;
    let node: Vec<(&str, &str)> = crate::stack::prices::cache_node(&state).into_iter().collect();
    let live = super::prices::LiveFor {
        region: Some(s.region.as_deref().unwrap_or(&state.region)),
        profile: s.profile.as_deref().or(state.profile.as_deref()),
        wanted: crate::aws::pricing::Wanted { instance_types: &[&state.instance_type], nodes: Some(&node) },
    };
    let prices = super::prices::prices_of(args.prices.as_deref(), live).await?;
    crate::stack::status::status(&s.stack, s.region.as_deref(), s.profile.as_deref(), prices).await
}

/// Run `fetchbench teardown`.
pub async fn teardown(args: &TeardownArgs) -> Result<u8, Error> {
    let s = &args.stack;
    let yes = args.yes;
    let ask = |stack: &str, region: &str, bucket: Option<&str>| Ok(yes || confirm(stack, region, bucket)?);
    crate::stack::teardown::teardown(&s.stack, s.region.as_deref(), s.profile.as_deref(), ask, args.timeout)
        .await
}

/// Ask on the terminal; without one, `--yes` is required.
fn confirm(stack: &str, region: &str, bucket: Option<&str>) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Missing {
            flag: "--yes",
            detail: format!("is required to delete stack {stack} when there is no terminal to ask on"),
        });
    }
    let what = bucket.map(|b| format!(", bucket {b} with everything in it,")).unwrap_or_default();
    say_text!(&format!(
        "delete stack {stack} in {region}{what} and every agent, cache and network resource in it? [y/N] "
    ));
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES"))
}
