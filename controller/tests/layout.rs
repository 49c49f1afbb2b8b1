//! The controller's layout, checked: its rooms (the top-level modules of `src/`) import one way
//! only, from the top of [`ROOMS`] down, and no two of its modules import each other, directly
//! or round a cycle. A new upward `use crate::...` or a new cycle fails here, naming the files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The rooms, from the top down: a module may import from its own room and the rooms below it.
const ROOMS: [&str; 12] = [
    "commands", // one file per subcommand: arguments into checked options, then the work
    "cli",      // clap's types
    "run",      // one run of a scenario on a fleet
    "stack",    // the AWS fleet: provision, install, status, teardown
    "error",    // the controller's errors and exit codes
    "aws",      // the AWS SDK clients
    "fleet",    // how agents are reached: local processes, TLS, the gRPC connection
    "render",   // what a person reads: terminal, progress, report.html, exports
    "results",  // result.json and its figures; never renders
    "scenario", // the scenario file
    "signal",   // Ctrl-C, SIGTERM, SIGHUP
    "support",  // small helpers anyone may use
];

/// Every module of `src/` (by path, `render::html::chart`), with its source.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeMap::new();
    let mut folders = vec![src.clone()];
    while let Some(dir) = folders.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let Some(name) = module_name(&src, &path) else { continue };
                found.insert(name, std::fs::read_to_string(&path).expect("a source file"));
            }
        }
    }
    found
}

/// `a/b.rs` and `a/b/mod.rs` are `a::b`; `lib.rs` and `main.rs` are not rooms of their own.
fn module_name(src: &Path, file: &Path) -> Option<String> {
    let rel: PathBuf = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        return None;
    }
    Some(parts.join("::"))
}

/// The code of a source file without its comments (doc links are not imports).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `crate::` paths a source names, groups (`crate::render::{export, html}`) spelled out.
fn crate_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for piece in code.split("crate::").skip(1) {
        let prefix: String =
            piece.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':').collect();
        let prefix = prefix.trim_end_matches(':');
        let rest = &piece[prefix.len()..].trim_start_matches(':');
        if !rest.starts_with('{') {
            paths.push(prefix.to_owned());
            continue;
        }
        // One level of braces is enough to name the modules a group reaches.
        let inner = rest[1..].split('}').next().unwrap_or_default();
        for item in inner.split(',') {
            let item: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let item = item.trim_end_matches(':');
            if item.is_empty() || item == "self" {
                paths.push(prefix.to_owned());
            } else if prefix.is_empty() {
                paths.push(item.to_owned());
            } else {
                paths.push(format!("{prefix}::{item}"));
            }
        }
    }
    paths
}

/// The module a path names: its longest prefix that is a module.
fn resolve(path: &str, modules: &BTreeMap<String, String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len()).rev().map(|n| parts[..n].join("::")).find(|m| modules.contains_key(m))
}

/// Which modules each module imports (itself, its own children and its parents left out: a
/// folder's `mod.rs` declaring or re-exporting its files is not an import).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let mut graph = BTreeMap::new();
    for (name, text) in &modules {
        let used: BTreeSet<String> = crate_paths(&code(text))
            .iter()
            .filter_map(|p| resolve(p, &modules))
            .filter(|m| m != name && !m.starts_with(&format!("{name}::")))
            .collect();
        graph.insert(name.clone(), used);
    }
    graph
}

fn room(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

#[test]
fn every_module_belongs_to_a_room() {
    let stray: Vec<String> = modules().into_keys().filter(|m| !ROOMS.contains(&room(m))).collect();
    assert!(stray.is_empty(), "modules outside the rooms of tests/layout.rs: {stray:?}; put them in one");
}

#[test]
fn rooms_import_downward_only() {
    let rank = |m: &str| ROOMS.iter().position(|r| *r == room(m)).unwrap_or(usize::MAX);
    let mut upward = Vec::new();
    for (module, used) in imports() {
        for u in used.iter().filter(|u| rank(u) < rank(&module)) {
            upward.push(format!("{module} imports {u}"));
        }
    }
    assert!(upward.is_empty(), "imports against the direction {ROOMS:?}:\n{}", upward.join("\n"));
}

#[test]
fn no_two_modules_import_each_other_round_a_cycle() {
    let graph = imports();
    // Depth-first search; a module met again while still on the path closes a cycle.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == m) {
            cycles.push(format!("{} -> {m}", path[at..].join(" -> ")));
            return;
        }
        if !done.insert(m.to_owned()) {
            return;
        }
        path.push(m.to_owned());
        for next in graph.get(m).into_iter().flatten() {
            visit(next, graph, path, done, cycles);
        }
        path.pop();
    }
    let (mut done, mut cycles) = (BTreeSet::new(), Vec::new());
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn results_never_render_and_only_commands_name_flags() {
    let graph = imports();
    for (module, used) in &graph {
        if room(module) == "results" {
            let rendering: Vec<&String> = used.iter().filter(|u| room(u) == "render").collect();
            assert!(rendering.is_empty(), "{module} imports {rendering:?}");
        }
        if !matches!(room(module), "commands" | "cli") {
            assert!(!used.iter().any(|u| room(u) == "cli"), "{module} imports the command line's types");
        }
    }
    // An error naming a flag (Usage, Missing) is made where the flags are read, nowhere else.
    for (module, text) in modules() {
        if !matches!(room(&module), "commands" | "cli" | "error") {
            let code = code(&text);
            for variant in ["Error::Usage", "Error::Missing"] {
                assert!(!code.contains(variant), "{module} makes an {variant}: only commands/ names flags");
            }
        }
    }
}

/// The `--flag`s the string literals of `code` name.
fn flags_named(code: &str) -> Vec<String> {
    let mut flags = Vec::new();
    for (i, literal) in code.split('"').enumerate() {
        if i % 2 == 0 {
            continue; // outside a literal
        }
        for word in literal.split(|c: char| c.is_whitespace() || c == '`' || c == '(') {
            let name = word.strip_prefix("--").unwrap_or_default();
            if name.starts_with(|c: char| c.is_ascii_lowercase()) {
                flags.push(format!("--{}", name.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())));
            }
        }
    }
    flags
}

#[test]
fn below_the_commands_no_message_names_a_flag() {
    // fleet::local starts child processes (the agents, redis-server) with their own flags; the
    // terminal summary names the command line that reprices a run (`fetchbench report
    // --cache-nodes N`) and the expired stack's renewal (`fetchbench provision --expires-in 4h`),
    // as suggestions to the reader, not checks of what they typed.
    let allowed = ["fleet::local", "render::terminal"];
    let mut named = Vec::new();
    for (module, text) in modules() {
        if matches!(room(&module), "commands" | "cli") || allowed.contains(&module.as_str()) {
            continue;
        }
        let code = code(&text);
        let code = code.split("#[cfg(test)]").next().unwrap_or_default();
        named.extend(flags_named(code).into_iter().map(|f| format!("{module}: {f}")));
    }
    assert!(named.is_empty(), "flags named below commands/ (say them in commands/):\n{}", named.join("\n"));
}

/// The checker itself: a group import, a comment and a cycle are read as they should be.
#[test]
fn the_checker_reads_groups_and_skips_comments() {
    let text = "use crate::render::{export, html::chart};\n// crate::run::drive\nlet x = crate::results::tally::merge(); // crate::stack\n";
    assert_eq!(crate_paths(&code(text)), ["render::export", "render::html::chart", "results::tally::merge"]);
    assert_eq!(
        flags_named(r#"let a = "pass --region or `--stack-name`"; let b = 1 -- 2;"#),
        ["--region", "--stack-name"]
    );
}

/// Standard output goes through `say!`/`say_text!` (lib.rs), which go on when the reader has gone
/// (`fetchbench run | head -1`); `println!` or `print!` would panic there and lose the run.
#[test]
fn every_module_prints_through_say() {
    let mut printing = Vec::new();
    for (module, text) in modules() {
        let code = code(&text);
        for (n, line) in code.lines().enumerate() {
            let bare = line.replace("eprintln!", "").replace("eprint!", "");
            if bare.contains("println!") || bare.contains("print!(") {
                printing.push(format!("{module}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(printing.is_empty(), "print through say! or say_text! instead:\n{}", printing.join("\n"));
}
