//! A real 3-master Redis Cluster for the tests: the one named by
//! `REDIS_CLUSTER_URLS` (as `.ci/run` starts it), or one this test binary
//! starts on free loopback ports, shared by its tests, and stopped by a
//! watchdog when the test process exits.

use std::{
    process::{Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

const HOW_TO_GET_A_CLUSTER: &str = "the cluster tests need `redis-server` and `redis-cli` on PATH \
(Debian/Ubuntu: `apt-get install redis-server`), or REDIS_CLUSTER_URLS=redis://host:port,… naming \
a running Redis Cluster";

/// Seed URLs of the cluster the tests use.
pub fn cluster_urls() -> Vec<String> {
    static URLS: OnceLock<Vec<String>> = OnceLock::new();
    URLS.get_or_init(|| match std::env::var("REDIS_CLUSTER_URLS") {
        Ok(urls) if !urls.trim().is_empty() => urls
            .split(',')
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect(),
        _ => start_cluster(),
    })
    .clone()
}

fn start_cluster() -> Vec<String> {
    let ports: Vec<u16> = (0..3).map(|_| cluster_port()).collect();
    start_cluster_on(&ports)
}

/// A free port whose cluster bus port (port + 10000) is free too.
pub fn cluster_port() -> u16 {
    loop {
        let port = super::redis::free_port();
        if port > 55_000 {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// Starts a Redis Cluster with one master on each of `ports`, waits until it
/// is ready and returns its node URLs. The nodes live until the test process
/// exits.
// The nodes outlive this function on purpose: the watchdog stops them when
// the test process exits.
#[allow(clippy::zombie_processes)]
pub fn start_cluster_on(ports: &[u16]) -> Vec<String> {
    start_cluster_with(ports, |_| Vec::new())
}

/// [`start_cluster_on`] with more arguments for each node (`extra(i)` for
/// the node on `ports[i]`), such as a TLS port; the cluster is created and
/// checked over the plain ports.
#[allow(clippy::zombie_processes)]
pub fn start_cluster_with(ports: &[u16], extra: impl Fn(usize) -> Vec<String>) -> Vec<String> {
    let dir = tempfile::tempdir()
        .expect("create a temporary directory for the cluster")
        .keep();
    let mut pids = Vec::new();
    for (i, &port) in ports.iter().enumerate() {
        let node_dir = dir.join(format!("node{i}"));
        std::fs::create_dir_all(&node_dir).expect("create node directory");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--dir", &node_dir.display().to_string()])
            .args(["--logfile", "redis.log"])
            .args(extra(i))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not run redis-server ({e}); {HOW_TO_GET_A_CLUSTER}"));
        pids.push(child.id());
    }
    // Stop the nodes when this test process ends, however it ends.
    let pid_list = pids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; kill {pid_list}; rm -rf '{}'",
            std::process::id(),
            dir.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    for &port in ports {
        wait_until(Duration::from_secs(10), || {
            super::redis::ping(port).then_some(())
        })
        .unwrap_or_else(|| panic!("cluster node on port {port} did not answer PING"));
    }
    let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let status = Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(&nodes)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("could not run redis-cli ({e}); {HOW_TO_GET_A_CLUSTER}"));
    assert!(status.success(), "redis-cli --cluster create failed");
    for &port in ports {
        wait_until(Duration::from_secs(20), || {
            let out = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "cluster", "info"])
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .contains("cluster_state:ok")
                .then_some(())
        })
        .unwrap_or_else(|| panic!("cluster node {port} never reported cluster_state:ok"));
    }
    ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect()
}

fn wait_until<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every key matching `pattern` on every master of the cluster (`SCAN` on
/// each), for tests that look at what was stored.
pub async fn cluster_keys(pattern: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for url in cluster_urls() {
        let client = ::redis::Client::open(url.as_str()).expect("cluster node URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to a cluster node");
        let role: String = ::redis::cmd("ROLE")
            .query_async::<Vec<::redis::Value>>(&mut conn)
            .await
            .ok()
            .and_then(|v| v.into_iter().next())
            .and_then(|v| ::redis::from_redis_value::<String>(v).ok())
            .unwrap_or_default();
        if role != "master" {
            continue;
        }
        let found = super::redis::scan_keys(&mut conn, pattern).await;
        keys.extend(found);
    }
    keys.sort();
    keys
}

/// Held by a test that starts a cluster of its own on ports it picked
/// ahead of time: two such tests at once could pick the same free ports.
pub async fn private_cluster_lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
