//! What a person reads: the terminal summary and `compare`'s text, live progress, report.html and
//! its exports, and the files a run or `fetchbench report` writes.

pub mod compare;
pub mod export;
pub mod files;
pub mod html;
pub mod live;
pub mod progress;
pub mod terminal;
