//! `fetchbench report RESULT`: report.html (and its exports) from a kept result, repriced if asked,
//! and the terminal summary again.

use crate::cli::ReportArgs;
use crate::error::Error;
use crate::results::cost::Assumptions;

/// Run `fetchbench report`.
pub async fn report(args: &ReportArgs) -> Result<u8, Error> {
    let repriced = args.region.is_some()
        || args.cache_node_type.is_some()
        || args.cache_nodes.is_some()
        || args.prices.is_some();
    let prices = super::prices::prices_of(
        args.prices.as_deref(),
        super::prices::LiveFor { region: args.region.as_deref(), ..Default::default() },
    )
    .await?;
    let assumptions = repriced.then(|| {
        let recorded = crate::results::schema::load(&args.result).ok().and_then(|r| r.cost);
        let defaults = recorded.map_or_else(Assumptions::default, |c| Assumptions {
            region: c.region,
            node_type: c.cache_node_type,
            nodes: c.cache_nodes,
            engine: if c.cache_engine.is_empty() {
                crate::results::cost::DEFAULT_ENGINE.to_owned()
            } else {
                c.cache_engine
            },
            serverless: c.cache_serverless,
            ..Default::default()
        });
        let (table, origin) =
            prices.unwrap_or_else(|| (defaults.prices.clone(), defaults.prices_origin.clone()));
        Assumptions {
            region: args.region.clone().unwrap_or(defaults.region),
            node_type: args.cache_node_type.clone().unwrap_or(defaults.node_type),
            nodes: args.cache_nodes.unwrap_or(defaults.nodes),
            prices: table,
            prices_origin: origin,
            ..defaults
        }
    });
    let (written, result) =
        crate::render::files::write_report(&args.result, args.html.as_deref(), assumptions.as_ref())?;
    // The terminal summary again, priced as the page is: the figures without opening a browser.
    say!(
        "{}: scenario \"{}\", {} {} agent{}, started {}",
        args.result.display(),
        result.scenario.name,
        result.agents.len(),
        result.fleet,
        if result.agents.len() == 1 { "" } else { "s" },
        result.started_at
    );
    say_text!(&crate::render::terminal::render(&result));
    say!("report: {}", written.display());
    Ok(0)
}
