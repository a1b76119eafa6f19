//! Redis behind Sentinel, against real processes the harness starts: a
//! master, a replica and a sentinel (`down-after-milliseconds` 1000). The
//! master is killed with SIGKILL under steady load: no request fails, the
//! sentinel promotes the replica, and hits resume on the new master.

mod support;

use cache_runtime::{Backend, RouteCache};
use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use support::{redis::free_port, RedisServer, TestApp};

struct Sentinel {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("the sentinel test needs `redis-cli` on PATH (Debian/Ubuntu: apt-get install redis-server)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_sentinel(master_port: u16) -> Sentinel {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\n\
             sentinel monitor mymaster 127.0.0.1 {master_port} 1\n\
             sentinel down-after-milliseconds mymaster 1000\n\
             sentinel failover-timeout mymaster 3000\n\
             sentinel parallel-syncs mymaster 1\n",
            dir = dir.path().display()
        ),
    )
    .unwrap();
    let child = Command::new("redis-server")
        .arg(&conf)
        .arg("--sentinel")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sentinel test needs `redis-server` on PATH (Debian/Ubuntu: apt-get install redis-server)");
    let sentinel = Sentinel {
        port,
        child,
        _dir: dir,
    };
    wait_for("the sentinel", Duration::from_secs(10), || {
        cli(port, &["ping"]).contains("PONG")
    });
    sentinel
}

fn master_port(sentinel: u16) -> Option<u16> {
    let out = cli(
        sentinel,
        &["sentinel", "get-master-addr-by-name", "mymaster"],
    );
    out.lines().nth(1).and_then(|p| p.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_under_load_fails_no_request_and_hits_resume_on_the_new_master() {
    let master = RedisServer::start();
    let m = port_of(&master.url());
    let replica = RedisServer::start_with(vec![
        "--replicaof".to_owned(),
        "127.0.0.1".to_owned(),
        m.to_string(),
    ]);
    let r = port_of(&replica.url());
    wait_for("the replica to sync", Duration::from_secs(20), || {
        cli(r, &["info", "replication"]).contains("master_link_status:up")
    });
    let sentinel = start_sentinel(m);
    wait_for(
        "the sentinel to see the replica",
        Duration::from_secs(20),
        || cli(sentinel.port, &["sentinel", "replicas", "mymaster"]).contains(&r.to_string()),
    );

    let cache = RouteCache::builder()
        .redis_sentinel([format!("redis://127.0.0.1:{}", sentinel.port)], "mymaster")
        .timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    assert_eq!(cache.backend(), Backend::RedisSentinel);
    let app = TestApp::spawn(&cache).await;
    let mut first = app.get("/items/1").await;
    for _ in 0..50 {
        if first.x_cache() == "HIT" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        first = app.get("/items/1").await;
    }
    assert_eq!(first.x_cache(), "HIT", "the master serves hits");
    wait_for("the entry on the replica", Duration::from_secs(10), || {
        cli(r, &["dbsize"]).trim() != "0"
    });

    // SIGKILL the master under steady load.
    let started = Instant::now();
    let _ = Command::new("kill")
        .args(["-9", &master.pid().to_string()])
        .status();
    let mut promoted_at = None;
    let mut hit_after_promotion = None;
    while started.elapsed() < Duration::from_secs(30) {
        let reply = app.get("/items/1").await;
        assert_eq!(reply.status, 200, "no request fails during the failover");
        if promoted_at.is_none() && master_port(sentinel.port) == Some(r) {
            promoted_at = Some(Instant::now());
        }
        if let Some(at) = promoted_at {
            if reply.x_cache() == "HIT" {
                hit_after_promotion = Some(at.elapsed());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(promoted_at.is_some(), "the sentinel promoted the replica");
    let resumed = hit_after_promotion.expect("hits resume on the new master");
    eprintln!(
        "failover: promoted {:?} after the kill; hits resumed {resumed:?} after the promotion",
        promoted_at.map(|at| at - started)
    );
    assert!(
        resumed < Duration::from_secs(10),
        "hits resumed {resumed:?} after the promotion"
    );
    drop(master);
}
