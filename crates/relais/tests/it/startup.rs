//! Starting and listening as an operator meets it: a port in use fails before the database
//! is touched, a database that cannot be reached says why at once, and the server holds many
//! idle sockets (its open-files limit raised) while dropping clients that send nothing.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RELAIS: &str = env!("CARGO_BIN_EXE_relais");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_port_in_use_fails_before_the_database_is_touched() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    for command in ["demo", "serve"] {
        let file = dir.path().join(format!("{command}.db"));
        let started = Instant::now();
        let run = Command::new(RELAIS)
            .args([command, "--listen", &listen, "--db"])
            .arg(format!("sqlite://{}", file.display()))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{command} started on a busy port");
        assert!(stderr.contains(&format!("listen on {listen}")), "{stderr}");
        assert!(!file.exists(), "{command} made its database before binding");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{command} was slow to fail"
        );
    }
}

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

/// A server started with a soft limit of 256 open files, a header timeout of 2 s.
fn low_limit_server(dir: &std::path::Path, port: u16) -> Child {
    let script = format!(
        "ulimit -Sn 256 && exec {RELAIS} serve --listen 127.0.0.1:{port} --db sqlite://{}/s.db",
        dir.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .env("RELAIS_HEADER_TIMEOUT_S", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn health(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let request = "GET /health HTTP/1.1\r\nhost: relais\r\nconnection: close\r\n\r\n";
    if std::io::Write::write_all(&mut s, request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

#[test]
fn many_idle_sockets_are_held_and_silent_clients_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = low_limit_server(dir.path(), port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !health(port) {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.id())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = open_files.split_whitespace().skip(3).take(2).collect();
    assert_eq!(
        numbers[0], numbers[1],
        "the soft limit is raised to the hard one: {open_files}"
    );
    // Twice the soft limit the server started with, all idle: it still answers at once.
    let idle: Vec<TcpStream> = (0..512)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    assert!(health(port), "no answer with 512 idle sockets open");
    // A client that sends nothing (or half its headers) is disconnected after the timeout.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(&mut slow, b"GET /health HTTP/1.1\r\n").unwrap();
    for mut s in [slow, idle.into_iter().next().unwrap()] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "a silent client was kept"
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}
