//! What `fetchbench compare` prints: the table of every figure's change, then what was only in
//! one run, what is not a measurement, and how the runs were set up differently.

use std::fmt::Write;

use crate::render::terminal::{Align, text_table};
use crate::results::compare::{Comparison, Figure};

/// The comparison as text, one line per workload and figure, ending in a newline.
pub fn text(c: &Comparison) -> String {
    let header = ["workload", "metric", "base", "new", "change", ""].map(str::to_owned);
    let number = |m: Figure, v: f64| if m == Figure::Errors { format!("{v:.0}") } else { format!("{v:.1}") };
    let rows: Vec<[String; 6]> = c
        .changes
        .iter()
        .map(|c| {
            let cell = |ran: bool, v: f64| if ran { number(c.figure, v) } else { "not run".to_owned() };
            [
                c.workload.clone(),
                c.figure.label().to_owned(),
                cell(c.ran.0, c.base),
                cell(c.ran.1, c.new),
                c.percent_text(),
                c.verdict_text(),
            ]
        })
        .collect();
    let mut out = String::new();
    if c.rounds != (1, 1) {
        let _ = writeln!(
            out,
            "medians over the rounds (base {}, new {}); \"ranges overlap\": the two runs' smallest-to-largest \
             figures over their rounds overlap, so the change is within what the rounds moved by themselves",
            c.rounds.0, c.rounds.1
        );
    }
    // Names and the verdict left-aligned, numbers right-aligned.
    let align = std::array::from_fn(|i| if i < 2 || i == 5 { Align::Left } else { Align::Right });
    out.push_str(&text_table(&header, &rows, align));
    if !c.only_in_base.is_empty() {
        let _ = writeln!(out, "only in base: {}", c.only_in_base.join(", "));
    }
    if !c.only_in_new.is_empty() {
        let _ = writeln!(out, "only in new: {}", c.only_in_new.join(", "));
    }
    for why in &c.not_measured {
        let _ = writeln!(out, "not a measurement: {why}");
    }
    if !c.setup_changes.is_empty() {
        let _ = writeln!(out, "the runs were set up differently, which moves the figures by itself:");
        for change in &c.setup_changes {
            let _ = writeln!(out, "  {change}");
        }
    }
    out
}
