//! Redis behind Sentinel, against real processes the harness starts: a
//! master, a replica and a sentinel (`down-after-milliseconds` 1000). The
//! master is killed with SIGKILL under steady load: no request fails, the
//! sentinel promotes the replica, and hits resume on the new master.

use crate::support;

use cache_runtime::{Backend, RouteCache};
use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use support::{certs::Certs, redis::free_port, RedisServer, TestApp};

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
    start_sentinel_with(master_port, None, "")
}

/// A sentinel monitoring `127.0.0.1:master_port` as `mymaster`: plain, or
/// TLS-only with `certs` (talking TLS to the master too); `extra` are more
/// lines of its configuration.
fn start_sentinel_with(master_port: u16, certs: Option<&Certs>, extra: &str) -> Sentinel {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("sentinel.conf");
    let listen = match certs {
        None => format!("port {port}\n"),
        Some(certs) => format!(
            "port 0\ntls-port {port}\ntls-cert-file {}\ntls-key-file {}\n\
             tls-ca-cert-file {}\ntls-auth-clients no\ntls-replication yes\n",
            certs.path("server.crt").display(),
            certs.path("server.key").display(),
            certs.path("ca.crt").display(),
        ),
    };
    std::fs::write(
        &conf,
        format!(
            "{listen}bind 127.0.0.1\ndir {dir}\n\
             sentinel monitor mymaster 127.0.0.1 {master_port} 1\n\
             sentinel down-after-milliseconds mymaster 1000\n\
             sentinel failover-timeout mymaster 3000\n\
             sentinel parallel-syncs mymaster 1\n{extra}",
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
    let tls: Vec<String> = certs
        .map(|certs| {
            vec![
                "--tls".to_owned(),
                "--cacert".to_owned(),
                certs.path("ca.crt").display().to_string(),
            ]
        })
        .unwrap_or_default();
    wait_for("the sentinel", Duration::from_secs(10), || {
        let out = Command::new("redis-cli")
            .args(&tls)
            .args(["-p", &port.to_string(), "ping"])
            .output();
        out.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("PONG"))
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

/// `e` and its sources, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Polls `path` until it is a hit (every request answered), or fails
/// after `limit`.
async fn until_hit(app: &TestApp, path: &str, limit: Duration) -> Duration {
    support::eventually(limit, || async {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 200, "requests never fail on the cache");
        reply.x_cache() == "HIT"
    })
    .await
}

/// TLS-only sentinels, a TLS-only master the sentinel knows by its TLS
/// port (the sentinel talks TLS to it too), a CA made for the test and an ACL user:
/// the cache reaches both over TLS and caches, MISS then HIT then HIT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_sentinels_and_master_with_a_custom_ca_and_an_acl_user_cache() {
    let certs = Certs::generate();
    let (master, master_tls) = certs.server("no");
    // TLS only: the plaintext port the harness started it with (to see it
    // answer) is closed, so nothing can reach it in clear.
    let plain = master.url();
    master.config_set("port", "0").await;
    assert!(
        ::redis::Client::open(plain.as_str())
            .expect("URL")
            .get_multiplexed_async_connection()
            .await
            .is_err(),
        "the master's plaintext port is closed"
    );
    let sentinel = start_sentinel_with(
        master_tls,
        Some(&certs),
        "sentinel auth-user mymaster alice\nsentinel auth-pass mymaster s3cret-pw\n",
    );
    let cache = RouteCache::builder()
        .prefix(support::unique_prefix("sentinel_tls"))
        .redis_sentinel(
            [format!("rediss://127.0.0.1:{}", sentinel.port)],
            "mymaster",
        )
        .tls_root_ca(certs.pem("ca.crt"))
        .redis_auth("alice", "s3cret-pw")
        .build()
        .await
        .expect("build");
    assert_eq!(cache.backend(), Backend::RedisSentinel);
    assert!(cache.to_string().contains("TLS"), "{cache}");
    let app = TestApp::spawn(&cache).await;
    // The master is found in the background: the first answers may come
    // uncached, then the entry is stored (MISS) and served (HIT, HIT).
    let mut seen = Vec::new();
    let started = Instant::now();
    while seen.len() < 3 {
        let reply = app.get("/items/1").await;
        assert_eq!(reply.status, 200);
        let status = reply.header("cache-status").to_owned();
        if !status.contains("backend-error") {
            seen.push(reply.x_cache().to_owned());
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{seen:?} {status}"
        );
    }
    assert_eq!(seen, ["MISS", "HIT", "HIT"]);
    // The sockets to the master (and to the sentinel, while one is open)
    // have keepalive and TCP_USER_TIMEOUT, TLS or not.
    #[cfg(target_os = "linux")]
    {
        let to_master = support::redis::socket_options_to(master_tls);
        assert!(!to_master.is_empty(), "connected to the master");
        let to_sentinel = support::redis::socket_options_to(sentinel.port);
        for options in to_master.iter().chain(&to_sentinel) {
            assert_eq!(
                *options,
                (true, Some(cache_runtime::config::DEFAULT_TCP_USER_TIMEOUT)),
                "master {to_master:?}, sentinel {to_sentinel:?}"
            );
        }
    }
}

/// TLS sentinels with a master said to be plaintext, and a password: the
/// password would cross the network in clear. `build` refuses it with an
/// error that names the rule and not the password (which `from_env` logs
/// in its one error line as it disables the cache).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_master_behind_tls_sentinels_with_a_password_is_refused() {
    let error = RouteCache::builder()
        .redis_sentinel(["rediss://127.0.0.1:1"], "mymaster")
        .sentinel_master_tls(false)
        .redis_auth("alice", "s3cret-pw")
        .build()
        .await
        .expect_err("refused");
    let text = chain(&error);
    assert!(text.contains("plaintext"), "{text}");
    assert!(!text.contains("s3cret-pw"), "{text}");
    // Mixed schemes are refused too.
    let mixed = RouteCache::builder()
        .redis_sentinel(["rediss://127.0.0.1:1", "redis://127.0.0.1:2"], "mymaster")
        .build()
        .await
        .expect_err("mixed");
    assert!(chain(&mixed).contains("not a mix"));
}

/// A master, a replica synced from it and a sentinel: the processes of a
/// failover test. The sentinel monitors `monitored` (the master's port, or
/// a proxy's in front of it).
struct Group {
    master: RedisServer,
    replica: RedisServer,
    replica_port: u16,
    sentinel: Sentinel,
}

fn group(monitor_through: impl FnOnce(u16) -> u16) -> Group {
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
    let sentinel = start_sentinel(monitor_through(m));
    wait_for(
        "the sentinel to see the replica",
        Duration::from_secs(20),
        || cli(sentinel.port, &["sentinel", "replicas", "mymaster"]).contains(&r.to_string()),
    );
    Group {
        master,
        replica,
        replica_port: r,
        sentinel,
    }
}

/// The L1 on Sentinel: two instances, each with an L1. An invalidation on
/// A reaches B's L1 within 100 ms, before a failover and after it (the
/// sentinel promotes the replica; the L1s are flushed across the switch
/// and subscribe on the new master).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_l1_on_sentinel_stays_coherent_across_a_failover() {
    let g = group(|m| m);
    let prefix = support::unique_prefix("sentinel_l1");
    let build = || {
        RouteCache::builder()
            .prefix(prefix.clone())
            .redis_sentinel(
                [format!("redis://127.0.0.1:{}", g.sentinel.port)],
                "mymaster",
            )
            .l1_capacity(16 << 20)
            .l1_heartbeat(Duration::from_millis(200))
            .timeout(Duration::from_millis(200))
            .build()
    };
    let (cache_a, cache_b) = (build().await.unwrap(), build().await.unwrap());
    let (a, b) = (
        TestApp::spawn(&cache_a).await,
        TestApp::spawn(&cache_b).await,
    );
    // An entry in B's L1, invalidated on A: B misses within 100 ms.
    let coherent = |id: u32| {
        let (a, b, cache_a, cache_b) = (&a, &b, &cache_a, &cache_b);
        async move {
            let path = format!("/items/{id}");
            support::wait_for_l1(cache_a).await;
            support::wait_for_l1(cache_b).await;
            until_hit(a, &path, Duration::from_secs(10)).await;
            until_hit(b, &path, Duration::from_secs(10)).await;
            let l1_hits = cache_b.stats().l1_hits;
            assert_eq!(b.get(&path).await.x_cache(), "HIT");
            assert!(cache_b.stats().l1_hits > l1_hits, "B answers from its L1");
            cache_a.invalidate(&path).await.expect("invalidated");
            let started = Instant::now();
            while b.get(&path).await.x_cache() == "HIT" {
                assert!(
                    started.elapsed() < Duration::from_millis(100),
                    "B still served {path} from its L1 after 100 ms"
                );
            }
            started.elapsed()
        }
    };
    let before = coherent(1).await;
    let flushes = cache_b.stats().l1_flushes;
    cli(g.sentinel.port, &["sentinel", "failover", "mymaster"]);
    wait_for("the promotion", Duration::from_secs(20), || {
        master_port(g.sentinel.port) == Some(g.replica_port)
    });
    // B reads only from its L1 and the old master, which still answers
    // reads: it learns of the switch from the sentinels, within a beat.
    let started = Instant::now();
    while cache_b.stats().l1_flushes == flushes {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "B's L1 was not flushed across the switch"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let flushed_after = started.elapsed();
    let after = coherent(2).await;
    println!(
        "sentinel L1: invalidation reached B in {before:?} before the failover, {after:?} after; \
         B's L1 flushed {flushed_after:?} after the promotion was seen"
    );
    drop((g.master, g.replica));
}

/// A failover by black hole: the proxy the sentinel and the cache reach
/// the master through starts swallowing every byte (open connections and
/// new ones), as when the master's machine is lost; the sentinel promotes
/// the replica. No request fails, and hits resume on the new master
/// within 2 s of the promotion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_master_is_left_for_the_promoted_one() {
    let runtime = tokio::runtime::Handle::current();
    let mut proxy = None;
    let g = group(|m| {
        let started = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    runtime.block_on(support::proxy::RecordingProxy::start(format!(
                        "127.0.0.1:{m}"
                    )))
                })
                .join()
                .unwrap()
        });
        let port = port_of(&started.url);
        proxy = Some(started);
        port
    });
    let proxy = proxy.expect("the proxy");
    let cache = RouteCache::builder()
        .prefix(support::unique_prefix("sentinel_hole"))
        .redis_sentinel(
            [format!("redis://127.0.0.1:{}", g.sentinel.port)],
            "mymaster",
        )
        .timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let app = TestApp::spawn(&cache).await;
    until_hit(&app, "/items/1", Duration::from_secs(10)).await;
    let r = g.replica_port;
    wait_for("the entry on the replica", Duration::from_secs(10), || {
        cli(r, &["dbsize"]).trim() != "0"
    });
    proxy.isolate();
    let started = Instant::now();
    let (mut answered, mut promoted_at, mut resumed) = (0u32, None, None);
    while started.elapsed() < Duration::from_secs(30) {
        let reply = app.get("/items/1").await;
        assert_eq!(reply.status, 200, "request {answered} failed");
        answered += 1;
        if promoted_at.is_none() && master_port(g.sentinel.port) == Some(r) {
            promoted_at = Some(Instant::now());
        }
        if let Some(at) = promoted_at {
            if reply.x_cache() == "HIT" {
                resumed = Some(at.elapsed());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let promoted = promoted_at.expect("the sentinel promoted the replica") - started;
    let resumed = resumed.expect("hits resume on the new master");
    println!(
        "black-hole failover: promoted {promoted:?} after the isolation; hits resumed \
         {resumed:?} after the promotion; {answered} requests answered, 0 failed"
    );
    assert!(resumed < Duration::from_secs(2), "{resumed:?}");
    drop((g.master, g.replica));
}
