//! Live progress of `fetchbench run` when standard output is not a terminal: a plain line per
//! workload every few seconds, with the throughput, errors, p50, p99 and time left.

mod common;

use common::{Sandbox, stderr, stdout};

#[test]
fn a_long_workload_prints_plain_progress_lines() {
    let sb = Sandbox::new();
    let scenario = sb.write(
        "long.toml",
        "name = \"long\"\n[dataset]\nobjects = 20\nsize = 100\n\
         [[workload]]\nname = \"r\"\ntarget = \"redis\"\nduration = \"7s\"\n",
    );
    let o = sb.run(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--out",
        sb.path().join("out").to_str().expect("utf-8"),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("  r: ")).collect();
    // A line every 5 s of a 7 s workload (which starts being reported after its first second).
    assert_eq!(lines.len(), 1, "{out}");
    let fields: Vec<&str> = lines[0]["  r: ".len()..].split(", ").collect();
    assert_eq!(fields.len(), 5, "{}", lines[0]);
    let number = |field: &str, unit: &str| -> f64 {
        let v = field.strip_suffix(unit).unwrap_or_else(|| panic!("{field:?} does not end in {unit:?}"));
        v.trim().parse().unwrap_or_else(|_| panic!("{field:?} is not a number and {unit:?}"))
    };
    assert!(number(fields[0], " ops/s") > 0.0, "{}", lines[0]);
    assert_eq!(fields[1], "0 errors");
    assert!(fields[2].starts_with("p50 ") && fields[3].starts_with("p99 "), "{}", lines[0]);
    let left = number(fields[4], " s left");
    assert!(
        (1.0..=3.0).contains(&left),
        "about 2 s of 7 should be left 5 s after the first report: {}",
        lines[0]
    );
    // The line comes between the workload's start and its end.
    let at = |needle: &str| out.find(needle).unwrap_or_else(|| panic!("no {needle:?} in {out}"));
    assert!(at("running r ") < at("  r: ") && at("  r: ") < at("  done: "), "{out}");
    sb.assert_clean();
}
