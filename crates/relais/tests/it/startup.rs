//! Starting as an operator meets it: a database that cannot be reached says why at once.

use std::process::Command;
use std::time::{Duration, Instant};

const RELAIS: &str = env!("CARGO_BIN_EXE_relais");

#[test]
fn an_unreachable_postgres_is_named_at_once() {
    let started = Instant::now();
    let run = Command::new(RELAIS)
        .args(["migrate", "--db", "postgres://postgres@127.0.0.1:1/relais"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("cannot connect to PostgreSQL at 127.0.0.1:1/relais"),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let Some(admin) = testkit::postgres_admin_url() else {
        return;
    };
    let missing = testkit::with_database(&admin, "relais_no_such_database");
    let run = Command::new(RELAIS)
        .args(["migrate", "--db", &missing])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("database \"relais_no_such_database\" does not exist"),
        "{stderr}"
    );
}
