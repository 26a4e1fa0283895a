//! Real clusters from the machine's PostgreSQL binaries.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use local_postgres::Cluster;

fn accepts_connections(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_millis(300),
    )
    .is_ok()
}

fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "{what} did not happen within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_ephemeral_cluster_serves_databases_and_disappears_on_drop() {
    let mut cluster = Cluster::ephemeral().unwrap();
    let port = cluster.port();
    let data_dir = cluster.data_dir().to_path_buf();
    assert!(cluster.is_running());
    assert!(
        cluster
            .url("app")
            .ends_with(&format!("@127.0.0.1:{port}/app")),
        "{}",
        cluster.url("app")
    );

    assert!(!cluster.database_exists("app").unwrap());
    assert!(cluster.create_database("app").unwrap());
    assert!(
        !cluster.create_database("app").unwrap(),
        "a second create is a no-op"
    );
    assert!(cluster.database_exists("app").unwrap());
    let rows = cluster
        .query(
            "app",
            "SELECT current_setting('fsync'), current_setting('max_connections')::int >= 300",
        )
        .unwrap();
    assert_eq!(
        rows,
        vec![vec![Some("off".to_owned()), Some("t".to_owned())]]
    );
    // btree_gist is there for the booking schema.
    cluster
        .execute("app", "CREATE EXTENSION btree_gist")
        .unwrap();
    let err = cluster
        .execute("app", "SELECT * FROM no_such_table")
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("42P01"), "{err}");
    cluster.drop_database("app").unwrap();
    assert!(!cluster.database_exists("app").unwrap());

    // Stopped and started again: same port, same data.
    cluster.create_database("kept").unwrap();
    cluster.stop().unwrap();
    assert!(!cluster.is_running());
    assert!(!accepts_connections(port));
    cluster.start().unwrap();
    assert_eq!(cluster.port(), port);
    assert!(cluster.database_exists("kept").unwrap());

    drop(cluster);
    assert!(!data_dir.exists(), "{} is left behind", data_dir.display());
    assert!(
        !accepts_connections(port),
        "the server still listens on {port}"
    );
}

#[test]
fn a_killed_owner_leaves_no_server_behind() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-postgres"))
        .arg("ephemeral")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap();
    let data = lines.next().unwrap().unwrap();
    let port: u16 = url
        .strip_prefix("url ")
        .and_then(|u| u.rsplit(':').next())
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {url:?}"));
    let data_dir = PathBuf::from(data.strip_prefix("data ").unwrap());
    assert!(accepts_connections(port));
    assert!(data_dir.join("postmaster.pid").exists());

    // SIGKILL: no destructor runs.
    child.kill().unwrap();
    child.wait().unwrap();

    wait_until("the server stopping", Duration::from_secs(20), || {
        !accepts_connections(port)
    });
    wait_until(
        "the data directory being removed",
        Duration::from_secs(20),
        || !data_dir.exists(),
    );
}

/// Stops the persistent cluster in `data` and removes `root` even when an assertion fails.
struct Cleanup {
    root: PathBuf,
    data: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Cluster::stop_existing(&self.data);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_root(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("local-postgres-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn ensure_initialises_once_reuses_a_running_server_and_keeps_data_across_restarts() {
    let root = temp_root("ensure");
    let data_dir = root.join("pgdata");
    let _cleanup = Cleanup {
        root: root.clone(),
        data: data_dir.clone(),
    };
    let port = free_port();

    let first = Cluster::ensure(&data_dir, port).unwrap();
    assert_eq!(first.port(), port);
    assert!(!first.is_ephemeral());
    first.create_database("booking").unwrap();
    first
        .execute(
            "booking",
            "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')",
        )
        .unwrap();
    drop(first);
    assert!(
        accepts_connections(port),
        "dropping a persistent handle must not stop the server"
    );

    // Running: reused as it is, whatever port is asked for.
    let mut again = Cluster::ensure(&data_dir, free_port()).unwrap();
    assert_eq!(again.port(), port);
    again.stop().unwrap();
    assert!(!again.is_running());
    assert!(!accepts_connections(port));

    // Stopped: started again with the same data.
    let new_port = free_port();
    let mut restarted = Cluster::ensure(&data_dir, new_port).unwrap();
    assert_eq!(restarted.port(), new_port);
    let rows = restarted.query("booking", "SELECT v FROM kept").unwrap();
    assert_eq!(rows, vec![vec![Some("still here".to_owned())]]);
    // A dev cluster keeps its data safe.
    let rows = restarted
        .query("postgres", "SELECT current_setting('fsync')")
        .unwrap();
    assert_eq!(rows, vec![vec![Some("on".to_owned())]]);
    restarted.stop().unwrap();
    assert!(Path::new(&data_dir).join("PG_VERSION").exists());
}

#[test]
fn ensure_refuses_a_directory_that_holds_something_else() {
    let root = temp_root("refuse");
    let _cleanup = Cleanup {
        root: root.clone(),
        data: root.clone(),
    };
    std::fs::write(root.join("notes.txt"), "mine").unwrap();
    let err = Cluster::ensure(&root, free_port()).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert!(root.join("notes.txt").exists());
}
