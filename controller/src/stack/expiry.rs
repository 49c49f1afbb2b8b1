//! The stack's expiry: its `ExpiresAt` parameter (also the `fetchbench:expires-at` tag), at which
//! the template's scheduled action scales the agents to 0, and the warning once it has passed.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudformation::types::Stack;

/// How long a new stack lives when `--expires-in` is not given.
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(24 * 3600);

/// The template's value for "no expiry".
pub const UNSET: &str = "unset";

/// `ExpiresAt` as the stack holds it (`unset` included): its parameter, else its tag.
pub fn expires_at(stack: &Stack) -> Option<String> {
    let parameter = stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("ExpiresAt"))
        .and_then(|p| p.parameter_value());
    let tag =
        || stack.tags().iter().find(|t| t.key() == Some("fetchbench:expires-at")).and_then(|t| t.value());
    parameter.or_else(tag).map(str::to_owned)
}

/// `ExpiresAt` for a provision at `now`: now plus `expires_in` when given, else the existing
/// stack's time, else now plus [`DEFAULT_EXPIRES_IN`]. The format is the one Auto Scaling wants
/// for a scheduled action's start: `YYYY-MM-DDThh:mm:ssZ`.
pub fn next(expires_in: Option<Duration>, existing: Option<&Stack>, now: SystemTime) -> String {
    let at = |d: Duration| humantime::format_rfc3339_seconds(now + d).to_string();
    match (expires_in, existing.and_then(expires_at)) {
        (Some(d), _) => at(d),
        (None, Some(kept)) => kept,
        (None, None) => at(DEFAULT_EXPIRES_IN),
    }
}

/// When the stack expired, if that time is not after `now`.
pub fn passed(stack: &Stack, now: SystemTime) -> Option<String> {
    let at = expires_at(stack)?;
    let time = humantime::parse_rfc3339(&at).ok()?;
    (time <= now).then_some(at)
}

/// The one-line warning for stack `name`, once its time has passed at `now`.
pub fn warning(name: &str, stack: &Stack, now: SystemTime) -> Option<String> {
    passed(stack, now).map(|at| crate::render::terminal::expired(name, &at))
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudformation::types::{Parameter, Tag};

    use super::*;

    fn stack(parameter: Option<&str>, tag: Option<&str>) -> Stack {
        let mut b = Stack::builder();
        if let Some(v) = parameter {
            b = b.parameters(Parameter::builder().parameter_key("ExpiresAt").parameter_value(v).build());
        }
        if let Some(v) = tag {
            b = b.tags(Tag::builder().key("fetchbench:expires-at").value(v).build());
        }
        b.build()
    }

    #[test]
    fn a_rerun_keeps_the_time_unless_a_new_one_is_given() {
        let now = humantime::parse_rfc3339("2026-06-01T12:00:00Z").unwrap();
        let old = stack(Some("2026-06-01T18:30:00Z"), Some("2026-06-01T18:30:00Z"));
        assert_eq!(next(None, Some(&old), now), "2026-06-01T18:30:00Z");
        assert_eq!(next(Some(Duration::from_secs(4 * 3600)), Some(&old), now), "2026-06-01T16:00:00Z");
        assert_eq!(next(None, None, now), "2026-06-02T12:00:00Z");
        assert_eq!(next(None, Some(&stack(None, Some("2026-06-03T00:00:00Z"))), now), "2026-06-03T00:00:00Z");
    }

    #[test]
    fn the_warning_comes_once_the_time_has_passed() {
        let s = stack(Some("2026-06-01T18:30:00Z"), None);
        let before = humantime::parse_rfc3339("2026-06-01T18:29:59Z").unwrap();
        let after = humantime::parse_rfc3339("2026-06-01T18:30:00Z").unwrap();
        assert_eq!(warning("fb", &s, before), None);
        assert_eq!(
            warning("fb", &s, after).as_deref(),
            Some(
                "stack fb expired at 2026-06-01T18:30:00Z: its agents were scaled to 0; \
                 `fetchbench provision --expires-in 4h` renews it, `fetchbench teardown` deletes it"
            )
        );
        assert_eq!(warning("fb", &stack(Some(UNSET), None), after), None);
    }
}
