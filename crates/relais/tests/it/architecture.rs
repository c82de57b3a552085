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
    "inventory",
    "outbox",
    "customers",
    "orders",
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
    for name in DOMAIN.iter().chain(&["store", "app", "api", "relais"]) {
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
    for production in DOMAIN.iter().copied().chain(["app", "api", "relais"]) {
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
    for production in DOMAIN.iter().copied().chain(["app", "api", "relais"]) {
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
        ("app", &["api", "relais", "axum", "clap", "utoipa", "serde_json"]),
        ("api", &["relais", "clap"]),
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
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ARCHITECTURE.md"))
        .unwrap();
    let table = app::access::markdown_table();
    assert!(
        doc.contains(&table),
        "ARCHITECTURE.md's access table is out of date; paste this:\n{table}"
    );
}
