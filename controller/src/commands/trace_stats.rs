//! `fetchbench trace-stats FILE`: what a trace holds, before a scenario replays it.

use crate::cli::TraceStatsArgs;
use crate::error::Error;
use crate::results::trace_stats::trace_stats as figures;
use crate::scenario::trace;

/// Run `fetchbench trace-stats`.
pub fn trace_stats(args: &TraceStatsArgs) -> Result<u8, Error> {
    let trace = trace::load(&args.file)?;
    let mut source = format!("{} ({}", args.file.display(), trace.format);
    if trace.skipped > 0 {
        source.push_str(&format!(", {} records of other operations skipped", trace.skipped));
    }
    source.push(')');
    say_text!(&crate::render::terminal::trace_stats_text(&source, &figures(&trace)));
    Ok(0)
}
