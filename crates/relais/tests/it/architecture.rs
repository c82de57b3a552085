//! The invariants of ARCHITECTURE.md that can be checked mechanically: which crate may depend on which,
//! and that no SQL text stands outside `store`.

use std::collections::BTreeMap;
use std::path::Path;

/// Every workspace crate and the names of its normal (non-dev) dependencies.
fn workspace() -> BTreeMap<String, Vec<String>> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let doc: toml::Table = text.parse().unwrap();
        let name = doc["package"]["name"].as_str().unwrap().to_owned();
        let deps = doc
            .get("dependencies")
            .and_then(|d| d.as_table())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        out.insert(name, deps);
    }
    out
}

const DOMAIN: &[&str] = &[
    "kernel",
    "catalog",
    "pricing",
    "promotions",
    "inventory",
    "outbox",
    "customers",
    "orders",
    "notify",
    "loyalty",
];
const IO_AND_FRAMEWORKS: &[&str] = &[
    "sqlx",
    "rusqlite",
    "axum",
    "tokio",
    "askama",
    "clap",
    "hyper",
    "tower",
    "tower-http",
    "reqwest",
    "tracing-subscriber",
];

#[test]
fn the_workspace_is_what_the_rules_talk_about() {
    let ws = workspace();
    for name in DOMAIN
        .iter()
        .chain(&["store", "app", "api", "console", "relais"])
    {
        assert!(ws.contains_key(*name), "crate {name} is missing");
    }
}

#[test]
fn domain_crates_are_pure() {
    let ws = workspace();
    for domain in DOMAIN {
        for dep in &ws[*domain] {
            assert!(
                !IO_AND_FRAMEWORKS.contains(&dep.as_str()),
                "domain crate {domain} depends on {dep}"
            );
            assert!(
                !["store", "api", "relais", "testkit"].contains(&dep.as_str()),
                "domain crate {domain} points upward to {dep}"
            );
        }
    }
}

#[test]
fn only_store_holds_sql() {
    let ws = workspace();
    for production in DOMAIN
        .iter()
        .copied()
        .chain(["app", "api", "console", "relais"])
    {
        for dep in &ws[production] {
            assert!(
                dep != "sqlx" && dep != "rusqlite",
                "{production} depends on {dep}: SQL lives in `store` only"
            );
        }
    }
}

/// `store::Conn` is public (commands run on it), so a crate above could still pass it SQL of
/// its own; no production source outside `store` may hold a statement.
#[test]
fn no_sql_text_outside_store() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let statements = ["\"SELECT ", "\"INSERT INTO", "\"UPDATE ", "\"DELETE FROM"];
    for production in DOMAIN
        .iter()
        .copied()
        .chain(["app", "api", "console", "relais"])
    {
        let mut todo = vec![crates.join(production).join("src")];
        while let Some(dir) = todo.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    todo.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for statement in statements {
                    assert!(
                        !text.contains(statement),
                        "{} holds SQL ({statement}…): SQL lives in `store` only",
                        path.display()
                    );
                }
            }
        }
    }
}

#[test]
fn layers_point_one_way() {
    let ws = workspace();
    let forbidden: &[(&str, &[&str])] = &[
        ("store", &["app", "api", "relais", "axum"]),
        ("app", &["api", "relais", "axum", "clap", "utoipa"]),
        ("api", &["relais", "clap", "console"]),
        ("console", &["relais", "clap"]),
    ];
    for (krate, bad) in forbidden {
        for dep in &ws[*krate] {
            assert!(
                !bad.contains(&dep.as_str()),
                "{krate} must not depend on {dep}"
            );
        }
    }
}

/// ARCHITECTURE.md shows the route table of `app::access` as it is: rendered from the table
/// itself, so a changed rule without the document (or the reverse) fails here.
#[test]
fn the_access_table_in_architecture_md_is_the_one_enforced() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ARCHITECTURE.md"),
    )
    .unwrap();
    let table = app::access::markdown_table();
    assert!(
        doc.contains(&table),
        "ARCHITECTURE.md's access table is out of date; paste this:\n{table}"
    );
}

/// Production functions of more than this many lines (signature to closing brace) must be
/// named in [`LONG_FUNCTIONS`].
const MAX_FUNCTION_LINES: usize = 70;

/// Functions longer than [`MAX_FUNCTION_LINES`] today. This list only shrinks: a function
/// that becomes short must leave it, and no new one may join.
const LONG_FUNCTIONS: &[&str] = &[
    "app/src/checkout.rs::plan_fulfilment",
    "app/src/checkout.rs::plan_order",
    "bench/src/checkout.rs::run",
    "bench/src/events.rs::run",
    "bench/src/events_floor.rs::write_run",
    "bench/src/fanout.rs::fanout",
    "bench/src/load.rs::drive_observed",
    "bench/src/main.rs::main",
    "orders/src/routing.rs::route",
    "relais/src/cli.rs::run",
    "relais/src/demo_customers.rs::consents",
    "relais/src/demo_customers.rs::one_customer",
    "relais/src/import.rs::import_rows",
    "store/src/customer_events.rs::ingest",
    "store/src/customer_events.rs::resolve_run",
    "store/src/customers.rs::link",
    "store/src/customers.rs::merge",
    "store/src/gdpr.rs::erase",
    "store/src/orders.rs::place",
    "store/src/orders.rs::purchase",
    "store/src/orders.rs::transition",
    "store/src/returns.rs::record",
    "store/src/stock.rs::create_hold",
];

/// `(file, function, lines)` of every production function, found by matching braces
/// (string and char literals skipped); `#[cfg(test)]` modules end a file's production code.
fn production_functions() -> Vec<(String, String, usize)> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    let mut todo: Vec<_> = std::fs::read_dir(&crates)
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .collect();
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().unwrap() != "tests.rs"
            {
                let text = std::fs::read_to_string(&path).unwrap();
                let name = path.strip_prefix(&crates).unwrap().display().to_string();
                for (function, lines) in functions_in(&text) {
                    found.push((name.clone(), function, lines));
                }
            }
        }
    }
    found
}

/// The braces of a line, outside string and char literals.
fn braces(line: &str) -> (usize, usize) {
    let (mut open, mut close, mut in_str, mut chars) = (0, 0, false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_str => {
                chars.next();
            }
            '"' => in_str = !in_str,
            '\'' if !in_str => {
                // A char literal ('{'), not a lifetime ('a): skip to its closing quote.
                let rest: String = chars.clone().take(3).collect();
                if rest.chars().nth(1) == Some('\'') || rest.starts_with('\\') {
                    for n in chars.by_ref() {
                        if n == '\'' {
                            break;
                        }
                    }
                }
            }
            '/' if !in_str && chars.peek() == Some(&'/') => break,
            '{' if !in_str => open += 1,
            '}' if !in_str => close += 1,
            _ => {}
        }
    }
    (open, close)
}

fn functions_in(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .collect();
    let mut out = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(at) = trimmed.find("fn ") else {
            continue;
        };
        let head = &trimmed[..at];
        if !(head.is_empty()
            || head.ends_with("pub ")
            || head.ends_with("async ")
            || head.ends_with("const ")
            || head.ends_with(") "))
        {
            continue;
        }
        let name: String = trimmed[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let mut depth = 0usize;
        let mut opened = false;
        for (i, l) in lines[start..].iter().enumerate() {
            let (open, close) = braces(l);
            if !opened && open == 0 && l.trim_end().ends_with(';') {
                break; // a declaration without a body
            }
            opened |= open > 0;
            depth = (depth + open).saturating_sub(close);
            if opened && depth == 0 {
                out.push((name.clone(), i + 1));
                break;
            }
        }
    }
    out
}

#[test]
fn production_functions_stay_short() {
    let functions = production_functions();
    assert!(
        functions.len() > 500,
        "the scan finds the functions ({})",
        functions.len()
    );
    let long: Vec<String> = functions
        .iter()
        .filter(|(_, _, lines)| *lines > MAX_FUNCTION_LINES)
        .map(|(file, name, _)| format!("{file}::{name}"))
        .collect();
    let report: Vec<String> = functions
        .iter()
        .filter(|(_, _, lines)| *lines > MAX_FUNCTION_LINES)
        .map(|(file, name, lines)| format!("{file}::{name} ({lines} lines)"))
        .collect();
    for f in &long {
        assert!(
            LONG_FUNCTIONS.contains(&f.as_str()),
            "{f} is over {MAX_FUNCTION_LINES} lines: split it (every long one: {report:#?})"
        );
    }
    for f in LONG_FUNCTIONS {
        assert!(
            long.iter().any(|l| l == f),
            "{f} is short now (or gone): remove it from LONG_FUNCTIONS"
        );
    }
}

#[test]
fn the_function_scan_measures_what_it_should() {
    let text = "pub async fn a(x: u8) -> String {\n    let s = \"}{\";\n    if x > 0 { '}' } else { '{' };\n    s.into()\n}\nfn decl();\nfn b() {}\n";
    assert_eq!(
        functions_in(text),
        [("a".to_owned(), 5), ("b".to_owned(), 1)]
    );
}

/// Route handlers decide no access: the door applies the route table and `app` the rules
/// about whose order, customer or hold it is. A handler that checks a scope itself is a
/// second place where access is decided.
#[test]
fn handlers_decide_no_access() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let routes = std::fs::read_dir(here.join("../api/src/routes")).unwrap();
    let console = std::fs::read_dir(here.join("../console/src")).unwrap();
    for entry in routes.chain(console) {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for decision in [
            "require_staff(",
            "require_admin(",
            "forbidden(",
            ".is_staff()",
            ".is_admin()",
            ".store_only()",
            "ErrorCode::Forbidden",
        ] {
            assert!(
                !text.contains(decision),
                "{} decides access itself (`{decision}`): move the rule to app",
                path.display()
            );
        }
    }
}

/// How many commands a source file hands to the writer itself.
fn writer_commands(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    [
        "db.write_once(",
        "db.write(",
        "db.write_alone(",
        "write_with_refunds(",
        "store::orders::place",
        "store::orders::transition",
    ]
    .iter()
    .map(|w| text.matches(w).count())
    .sum()
}

/// `api`, the console and the demo hand no command to the writer: every write is a use case of `app`,
/// which decides who may make it. Test code (`tests/`) is not scanned.
#[test]
fn api_and_demo_write_only_through_app() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![here.join("../api/src"), here.join("../console/src")];
    let mut scanned = Vec::new();
    while let Some(dir) = files.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.push(path);
            } else {
                scanned.push(path);
            }
        }
    }
    assert!(
        scanned.len() > 15,
        "the scan found {} files of api",
        scanned.len()
    );
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let demo: Vec<_> = std::fs::read_dir(&demo)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("demo"))
        .collect();
    assert!(demo.len() >= 3, "the scan found {} demo files", demo.len());
    for path in scanned.iter().chain(&demo) {
        let writes = writer_commands(path);
        assert_eq!(
            writes,
            0,
            "{} hands {writes} commands to the writer itself: call a use case of `app`",
            path.display()
        );
    }
}
