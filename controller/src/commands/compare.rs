//! `fetchbench compare BASE NEW`: the change of every figure, the gate (`--fail-if-worse`) and the
//! comparison page.

use crate::cli::CompareArgs;
use crate::error::{EXIT_FAILURE, Error};

/// Run `fetchbench compare`.
pub fn compare(args: &CompareArgs) -> Result<u8, Error> {
    if let Some(pct) = args.fail_if_worse.filter(|p| !(p.is_finite() && *p >= 0.0)) {
        return Err(Error::Usage {
            flag: "--fail-if-worse",
            value: pct.to_string(),
            detail: "must be a percentage of 0 or more, e.g. 10".into(),
        });
    }
    let base = crate::results::schema::load(&args.base).map_err(crate::render::files::ReportError::from)?;
    let new = crate::results::schema::load(&args.new).map_err(crate::render::files::ReportError::from)?;
    let comparison = crate::results::compare::compare(&base, &new);
    say!(
        "compare: {} ({}, {}) -> {} ({}, {})",
        args.base.display(),
        base.scenario.name,
        base.started_at,
        args.new.display(),
        new.scenario.name,
        new.started_at
    );
    say_text!(&crate::render::compare::text(&comparison));
    if let Some(path) = &args.html {
        use crate::render::html::compare::Side;
        crate::render::files::write_comparison_html(
            Side { path: &args.base, result: &base },
            Side { path: &args.new, result: &new },
            &comparison,
            args.fail_if_worse,
            path,
        )?;
        say!("page: {}", path.display());
    }
    let Some(limit) = args.fail_if_worse else { return Ok(0) };
    let failures = comparison.gate(limit);
    for why in &failures {
        say!("FAIL: {why}");
    }
    if failures.is_empty() {
        say!("ok: no percentile got more than {limit}% worse");
        Ok(0)
    } else {
        Ok(EXIT_FAILURE)
    }
}
