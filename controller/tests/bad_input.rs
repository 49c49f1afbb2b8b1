//! Bad scenarios and flags: exit code 2 and one line naming the field and what is wrong. Nothing
//! is started for them.

mod common;

use common::{Sandbox, stderr};

const GOOD: &str = r#"name = "x"
[dataset]
objects = 10
size = { min = 1, max = 2 }
[[workload]]
name = "w"
target = "redis"
requests = 5
"#;

/// Run `fetchbench run` on `text` and return the single stderr line, after checking exit 2.
fn refused(sb: &Sandbox, text: &str) -> String {
    let path = sb.write("bad.toml", text);
    let o = sb.run(&["run", path.to_str().expect("utf-8")]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "accepted:\n{text}\nstderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    err.trim_end().to_owned()
}

#[test]
fn malformed_scenarios_exit_2_naming_the_field_and_line() {
    let sb = Sandbox::new();
    let cases: [(&str, String, &[&str]); 5] = [
        (
            "unknown field",
            GOOD.replace("requests = 5", "requests = 5\ncolour = \"red\""),
            &["bad.toml:9", "unknown field `colour`"],
        ),
        (
            "wrong type",
            GOOD.replace("requests = 5", "requests = \"five\""),
            &["bad.toml:8", "requests", "invalid type"],
        ),
        (
            "zero concurrency",
            GOOD.replace("requests = 5", "requests = 5\nconcurrency = 0"),
            &["bad.toml:9", "concurrency", "0 is not in 1..="],
        ),
        ("negative number", GOOD.replace("objects = 10", "objects = -3"), &["bad.toml:3", "objects"]),
        (
            "unknown target",
            GOOD.replace("\"redis\"", "\"memcached\""),
            &["bad.toml:7", "target", "unknown variant `memcached`", "`redis`"],
        ),
    ];
    for (what, text, expected) in cases {
        let line = refused(&sb, &text);
        for part in expected {
            assert!(line.contains(part), "{what}: {part:?} missing from {line:?}");
        }
    }
    sb.assert_clean();
}

#[test]
fn semantic_errors_name_the_field() {
    let sb = Sandbox::new();
    let cases = [
        (GOOD.replace("requests = 5\n", ""), "requests"),
        (GOOD.replace("requests = 5", "requests = 5\nduration = \"1s\""), "duration"),
        (GOOD.replace("requests = 5", "duration = \"soon\""), "duration"),
        (GOOD.replace("max = 2", "max = 0"), "dataset.size"),
        (GOOD.replace("requests = 5", "requests = 5\nkeys = \"pareto\""), "keys"),
        (format!("{GOOD}[[workload]]\nname = \"w\"\ntarget = \"s3\"\nrequests = 1\n"), "must be unique"),
        (GOOD.replace("name = \"x\"", "name = \"a/b\""), "name"),
        ("name = \"x\"\n[dataset]\nobjects = 1\nsize = 1\n".to_owned(), "workload"),
    ];
    for (text, part) in cases {
        let line = refused(&sb, &text);
        assert!(line.contains(part), "{part:?} missing from {line:?}");
    }
}

#[test]
fn unreadable_scenarios_exit_2() {
    let sb = Sandbox::new();
    let missing = sb.path().join("nope.toml");
    let o = sb.run(&["run", missing.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.toml: no such file"), "{}", stderr(&o));

    let o = sb.run(&["run", sb.path().to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));

    let path = sb.path().join("latin1.toml");
    std::fs::write(&path, b"name = \"caf\xe9\"\n").expect("write");
    let o = sb.run(&["run", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not UTF-8"), "{}", stderr(&o));
}

#[test]
fn bad_flags_exit_2() {
    let sb = Sandbox::new();
    for (args, part) in [
        (&["run", "--agents", "0"][..], "--agents"),
        (&["run", "--redis-url", "localhost:6379"][..], "--redis-url"),
        (&["run", "--s3-endpoint", "127.0.0.1:9000"][..], "--s3-endpoint"),
        (&["run", "--s3-bucket", "Bad_Bucket"][..], "--s3-bucket"),
        (&["run", "--no-such-flag"][..], "--no-such-flag"),
    ] {
        let o = sb.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(part), "{args:?}: {}", stderr(&o));
    }
}
