//! Redis-specific behaviour against a `redis-server` each test starts on its
//! own port: the key layout as stored, and failing open when Redis is
//! stopped, paused, unreachable at start-up or answering garbage.

use crate::support;

use cache_runtime::RouteCache;
use std::time::{Duration, Instant};
use support::{app, unique_prefix, RedisServer, TestApp};

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("test connection to redis-server")
}

async fn keys(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    support::redis::scan_keys(conn, pattern).await
}

async fn cache_for(url: &str, test: &str) -> (RouteCache, String) {
    let prefix = unique_prefix(test);
    let cache = RouteCache::builder()
        .prefix(prefix.clone())
        .timeout(Duration::from_millis(200))
        .redis(url)
        .build()
        .await
        .expect("build cache");
    (cache, prefix)
}

/// Polls until a path is served as a hit (every request answered), and
/// returns how long that took; fails after `within`.
async fn wait_for_hit(app: &TestApp, path: &str, within: Duration) -> Duration {
    support::eventually(within, || async {
        let reply = app.get(path).await;
        assert_eq!(
            reply.status, 200,
            "requests keep succeeding while Redis recovers"
        );
        reply.x_cache() == "HIT"
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_scoped_to_their_route_and_written_with_the_route_ttl() {
    let server = RedisServer::start();
    let (cache, prefix) = cache_for(&server.url(), "layout").await;
    let app = TestApp::spawn(&cache).await;
    let long = format!("/search?q={}", "z".repeat(600));
    for path in [
        "/items/1",
        "/short/1",
        "/search?k:*=v%0D%0A&x=%FF&b=2&a=1",
        "/search?%2A=*",
        long.as_str(),
    ] {
        assert_eq!(app.get(path).await.x_cache(), "MISS", "{path}");
        assert_eq!(app.get(path).await.x_cache(), "HIT", "{path}");
    }

    let mut conn = redis_conn(&server.url()).await;
    let (indexes, stored): (Vec<String>, Vec<String>) = keys(&mut conn, &format!("{prefix}:*"))
        .await
        .into_iter()
        // Leases are released in the background just after a response.
        .filter(|k| !k.contains("#lease{"))
        .partition(|k| k.starts_with(&format!("{prefix}:#")));
    assert_eq!(stored.len(), 5, "{stored:#?}");
    // The path indexes live in hashed buckets: no request byte reaches an
    // index key, and every entry is listed.
    assert!((1..=5).contains(&indexes.len()), "{indexes:#?}");
    for index in &indexes {
        let bucket = index
            .strip_prefix(&format!("{prefix}:#i{{"))
            .and_then(|rest| rest.strip_suffix('}'))
            .unwrap_or_else(|| panic!("{index} is not an index bucket"));
        assert!(
            bucket.len() == 4 && bucket.bytes().all(|b| b.is_ascii_hexdigit()),
            "{index}"
        );
    }
    let mut inspector = support::Inspector::Server(conn.clone());
    let mut listed = Vec::new();
    for index in &indexes {
        listed.extend(inspector.zrange(index).await);
    }
    for key in &stored {
        assert!(
            listed.iter().any(|member| member.ends_with(key.as_str())),
            "{key} is in no index: {listed:#?}"
        );
    }
    let search_scope = format!("{prefix}:{}:GET:", app::route_key("search"));
    for key in &stored {
        let rest = key
            .strip_prefix(&format!("{prefix}:"))
            .and_then(|k| {
                ["items", "short", "search"]
                    .iter()
                    .find_map(|r| k.strip_prefix(&format!("{}:GET:", app::route_key(r))))
            })
            .unwrap_or_else(|| panic!("{key} is outside every route's key space"));
        assert!(
            !rest.contains([':', '*', '#', '\r', '\n', ' ']) || rest.starts_with("sha256:"),
            "{key}"
        );
        let ttl: i64 = redis::cmd("TTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if key.contains(&format!(":{}:", app::route_key("short"))) {
            assert!((0..=1).contains(&ttl), "{key} ttl {ttl}");
        } else {
            assert!((3590..=3600).contains(&ttl), "{key} ttl {ttl}");
        }
    }
    assert!(
        stored.contains(&format!(
            "{search_scope}/search?a=1&b=2&k%3A%2A=v%0D%0A&x=%FF"
        )),
        "{stored:#?}"
    );
    assert!(
        stored.contains(&format!("{search_scope}/search?%2A=%2A")),
        "{stored:#?}"
    );
    assert!(
        stored
            .iter()
            .any(|k| k.starts_with(&format!("{search_scope}sha256:"))),
        "long key hashed: {stored:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_succeed_while_redis_is_down_and_caching_resumes_after_restart() {
    let mut server = RedisServer::start();
    let (cache, _) = cache_for(&server.url(), "restart").await;
    let app = std::sync::Arc::new(TestApp::spawn(&cache).await);
    assert_eq!(app.get("/items/1").await.x_cache(), "MISS");
    assert_eq!(app.get("/items/1").await.x_cache(), "HIT");

    server.stop();
    let mut tasks = Vec::new();
    for batch in 0..10u64 {
        for i in 0..10u64 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                let id = (batch * 10 + i) % 5 + 1;
                let reply = app.get(&format!("/items/{id}")).await;
                (id, reply)
            }));
        }
    }
    let mut misses = 0;
    for task in tasks {
        let (id, reply) = task.await.unwrap();
        assert_eq!(reply.status, 200, "a request failed while Redis was down");
        assert_eq!(reply.json()["id"], id);
        misses += usize::from(reply.x_cache() == "MISS");
    }
    assert_eq!(
        misses, 100,
        "with Redis down every request is served by the handler"
    );

    server.restart();
    // Caching resumes within 10 s of the restart.
    wait_for_hit(&app, "/items/2", Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_costs_at_most_the_timeout() {
    let server = RedisServer::start();
    let (cache, _) = cache_for(&server.url(), "paused").await;
    let app = TestApp::spawn(&cache).await;
    assert_eq!(app.get("/items/1").await.x_cache(), "MISS");

    server.signal_pause(true);
    for id in 1..=3 {
        let start = Instant::now();
        let reply = app.get(&format!("/items/{id}")).await;
        let elapsed = start.elapsed();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.x_cache(), "MISS");
        // A hang detector, not a speed assertion: the timeout is 200 ms.
        assert!(
            elapsed < Duration::from_secs(5),
            "request took {elapsed:?} with Redis paused"
        );
    }
    server.signal_pause(false);
    wait_for_hit(&app, "/items/4", Duration::from_secs(10)).await;
}

/// Waits until no lease is left under `prefix`; fails after `within`
/// (every test here gives its leases 30 s to live).
async fn no_lease_left(url: &str, prefix: &str, within: Duration) {
    let conn = redis_conn(url).await;
    let pattern = format!("{prefix}:*#lease*");
    support::eventually(within, || {
        let (mut conn, pattern) = (conn.clone(), pattern.clone());
        async move { keys(&mut conn, &pattern).await.is_empty() }
    })
    .await;
}

/// A cache on `server` under `prefix` with a 200 ms timeout and leases
/// that live 30 s, adjusted by `configure`.
async fn long_lease_cache(
    server: &RedisServer,
    prefix: &str,
    configure: impl FnOnce(cache_runtime::RouteCacheBuilder) -> cache_runtime::RouteCacheBuilder,
) -> RouteCache {
    let builder = RouteCache::builder()
        .prefix(prefix)
        .timeout(Duration::from_millis(200))
        .lease_ttl(Duration::from_secs(30))
        .redis(server.url());
    configure(builder).build().await.expect("build cache")
}

/// A lookup's claim on the lease times out while Redis is paused, and
/// lands once it resumes: nobody holds that lease, and for its life (30 s
/// here) it would make other instances wait for an entry nobody computes.
/// It is released once Redis answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookups_lease_claim_that_timed_out_is_released() {
    let server = RedisServer::start();
    let prefix = unique_prefix("claim");
    let cache = long_lease_cache(&server, &prefix, |b| b).await;
    let app = TestApp::spawn(&cache).await;
    server.signal_pause(true);
    let reply = app.get("/items/1").await;
    server.signal_pause(false);
    assert_eq!((reply.status.as_u16(), reply.x_cache()), (200, "MISS"));
    no_lease_left(&server.url(), &prefix, Duration::from_secs(5)).await;
    // The next request takes the lease and stores.
    assert_eq!(app.get("/items/1").await.x_cache(), "MISS");
    wait_for_hit(&app, "/items/1", Duration::from_secs(5)).await;
}

/// The same for a stale entry's refresh, on an L1 that answers while
/// Redis is paused: the refresh's claim times out and lands later. Left
/// in place, it would hold off every instance's refresh of the entry for
/// the lease's life.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshs_lease_claim_that_timed_out_is_released() {
    let server = RedisServer::start();
    let prefix = unique_prefix("refresh_claim");
    let cache = long_lease_cache(&server, &prefix, |b| {
        b.stale(Duration::from_secs(30))
            .l1_capacity(1 << 20)
            .l1_heartbeat(Duration::from_secs(5))
    })
    .await;
    support::wait_for_l1(&cache).await;
    let app = TestApp::spawn(&cache).await;
    assert_eq!(app.get("/short/1").await.x_cache(), "MISS");
    wait_for_hit(&app, "/short/1", Duration::from_secs(5)).await;
    no_lease_left(&server.url(), &prefix, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    server.signal_pause(true);
    // Served from the L1 at once; its refresh's claim waits on Redis.
    assert_eq!(app.get("/short/1").await.x_cache(), "STALE");
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal_pause(false);
    no_lease_left(&server.url(), &prefix, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_startup_does_not_stop_the_app() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();
    let (cache, _) = cache_for(&url, "startup").await;
    let app = TestApp::spawn(&cache).await;
    for run in 1..=3 {
        let reply = app.get("/items/1").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["run"], run);
    }
    server.restart();
    wait_for_hit(&app, "/items/1", Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_down_at_startup_fails_open_and_is_used_once_up() {
    let _ports = support::cluster::private_cluster_lock().await;
    let ports: Vec<u16> = (0..3).map(|_| support::cluster::cluster_port()).collect();
    let urls: Vec<String> = ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    let cache = RouteCache::builder()
        .prefix(support::unique_prefix("cluster_startup"))
        .redis_cluster(urls)
        .timeout(Duration::from_millis(100))
        .connect_timeout(Duration::from_millis(100))
        .build()
        .await
        .expect("an unreachable cluster is not a build error");
    assert_eq!(cache.backend(), cache_runtime::Backend::RedisCluster);
    let app = TestApp::spawn(&cache).await;
    for run in 1..=3 {
        let reply = app.get("/items/1").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["run"], run, "served uncached");
    }
    let started = std::time::Instant::now();
    tokio::task::spawn_blocking(move || support::cluster::start_cluster_on(&ports))
        .await
        .expect("start the cluster");
    // Caching resumes once the cluster is up.
    let hit = wait_for_hit(&app, "/items/1", Duration::from_secs(15)).await;
    println!(
        "a hit {hit:?} after the cluster was up, {:?} after starting it",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_answering_garbage_fails_open() {
    // Something that is not Redis listens where Redis should be.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0
                        || socket
                            .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n\x00\xff")
                            .await
                            .is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    let (cache, _) = cache_for(&format!("redis://{addr}"), "garbage").await;
    let app = TestApp::spawn(&cache).await;
    for run in 1..=3 {
        let reply = app.get("/items/1").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["run"], run);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_string_value_under_the_key_is_a_miss_and_is_replaced() {
    let server = RedisServer::start();
    let (cache, _) = cache_for(&server.url(), "wrongtype").await;
    let app = TestApp::spawn(&cache).await;
    let key = cache
        .key_for::<cache_runtime::route!(app::items)>("http://app.test/items/3")
        .unwrap();
    let mut conn = redis_conn(&server.url()).await;
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("f")
        .arg("v")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(app.get("/items/3").await.x_cache(), "MISS");
    assert_eq!(app.get("/items/3").await.x_cache(), "HIT");
    let kind: String = redis::cmd("TYPE")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(kind, "string");
}

/// Takes 400 ms, so that a test can pause Redis while it runs.
#[cache_runtime::cached_route(ttl = 60, tags = ["withdrawn"])]
async fn slow_item(axum::extract::Path(id): axum::extract::Path<u32>) -> String {
    tokio::time::sleep(Duration::from_millis(400)).await;
    format!("item {id}")
}

/// The port of the cluster node (of those on `ports`) serving `key`, and
/// its process id.
async fn node_of(ports: &[u16], key: &str) -> (u16, u32) {
    let mut conn = redis_conn(&format!("redis://127.0.0.1:{}", ports[0])).await;
    let slot: i64 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let ranges: Vec<redis::Value> = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut conn)
        .await
        .unwrap();
    // Each range: start, end, then the master as [ip, port, id, …].
    let port = ranges
        .into_iter()
        .find_map(|range| {
            let redis::Value::Array(fields) = range else {
                return None;
            };
            let (start, end): (i64, i64) = (
                redis::from_redis_value(fields[0].clone()).ok()?,
                redis::from_redis_value(fields[1].clone()).ok()?,
            );
            let redis::Value::Array(master) = fields[2].clone() else {
                return None;
            };
            let port: u16 = redis::from_redis_value(master[1].clone()).ok()?;
            (start..=end).contains(&slot).then_some(port)
        })
        .expect("the slot is served");
    let mut node = redis_conn(&format!("redis://127.0.0.1:{port}")).await;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut node)
        .await
        .unwrap();
    let pid = info
        .lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
        .expect("INFO server names the process id");
    (port, pid)
}

fn signal(pid: u32, which: &str) {
    let status = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {which} {pid}");
}

/// On a cluster, a write that times out (its node stops answering after
/// the lookup) may still land once the node answers again, and then
/// without its index: the cache withdraws it over fresh attempts, so no
/// entry is left that invalidation cannot reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_write_that_timed_out_is_withdrawn_once_the_node_answers() {
    let _ports = support::cluster::private_cluster_lock().await;
    let ports: Vec<u16> = (0..3).map(|_| support::cluster::cluster_port()).collect();
    let spawn_ports = ports.clone();
    let urls =
        tokio::task::spawn_blocking(move || support::cluster::start_cluster_on(&spawn_ports))
            .await
            .expect("start the cluster");
    let cache = RouteCache::builder()
        .prefix(support::unique_prefix("withdraw"))
        .redis_cluster(urls)
        .timeout(Duration::from_millis(100))
        .build()
        .await
        .expect("build");
    let router = axum::Router::new()
        .route("/slow/{id}", axum::routing::get(slow_item))
        .layer(cache.layer());
    let app = std::sync::Arc::new(TestApp::serve(router, support::Calls::default()).await);
    let key = cache
        .key_for::<cache_runtime::route!(slow_item)>("/slow/1")
        .expect("a key");
    let (port, pid) = node_of(&ports, &key).await;
    let request = {
        let app = std::sync::Arc::clone(&app);
        tokio::spawn(async move { app.get("/slow/1").await })
    };
    // The lookup is done; the handler runs for 400 ms more.
    tokio::time::sleep(Duration::from_millis(150)).await;
    signal(pid, "-STOP");
    let reply = request.await.unwrap();
    assert_eq!(reply.status, 200, "a fault never fails the request");
    assert_eq!(reply.body, "item 1");
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(pid, "-CONT");
    let mut node = redis_conn(&format!("redis://127.0.0.1:{port}")).await;
    let mut left = true;
    for _ in 0..60 {
        let stored: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut node)
            .await
            .unwrap();
        left = stored.is_some();
        if !left {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!left, "the write landed late and was never withdrawn");
    // The cache works as before: stored, indexed, invalidated by its tag.
    wait_for_hit(&app, "/slow/1", Duration::from_secs(10)).await;
    assert_eq!(cache.invalidate_tag("withdrawn").await.unwrap(), 1);
    assert_eq!(app.get("/slow/1").await.x_cache(), "MISS");
}

/// A half-open connection: the proxy between the cache and Redis starts
/// swallowing every byte on the open connection, both ways, without
/// closing it (a lost machine or a partition sends no reset), while new
/// connections work. Under steady load every request keeps answering
/// (uncached) within the call timeout, and within the documented detection
/// time (`min(timeouts × timeout, window + timeout)` plus a connection) the
/// cache has replaced the dead connection and serves hits again. Without
/// the detection, nothing closes the connection on loopback: the kernel's
/// timers never fire while the proxy acknowledges every byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_connection_is_replaced_within_the_detection_time() {
    let server = RedisServer::start();
    let proxy = support::proxy::RecordingProxy::start(
        server.url().trim_start_matches("redis://").to_owned(),
    )
    .await;
    let timeout = Duration::from_millis(100);
    let cache = RouteCache::builder()
        .prefix(unique_prefix("half_open"))
        .redis(proxy.url.clone())
        .timeout(timeout)
        .build()
        .await
        .unwrap();
    let app = TestApp::spawn(&cache).await;
    assert_eq!(app.get("/items/1").await.x_cache(), "MISS");
    assert_eq!(app.get("/items/1").await.x_cache(), "HIT");
    let open = proxy.black_hole_open_connections();
    assert!(open >= 1, "the cache's connection goes through the proxy");
    let started = Instant::now();
    let (mut answered, mut slowest, mut back) = (0u32, Duration::ZERO, None);
    while started.elapsed() < Duration::from_secs(5) {
        let sent = Instant::now();
        let reply = app.get("/items/1").await;
        let took = sent.elapsed();
        assert_eq!(reply.status, 200, "request {answered} failed");
        answered += 1;
        slowest = slowest.max(took);
        if reply.x_cache() == "HIT" && back.is_none() && answered > 1 {
            back = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dead_after = timeout * cache_runtime::config::DEFAULT_DEAD_AFTER_TIMEOUTS;
    let bound = dead_after + cache.config().connect_timeout + Duration::from_millis(500);
    println!(
        "half-open: hits again after {back:?} (bound {bound:?}); {answered} requests answered, \
         0 failed, slowest {slowest:?}"
    );
    let back = back.expect("hits resumed on a new connection");
    assert!(back < bound, "{back:?} past the documented {bound:?}");
    assert!(
        slowest < timeout + Duration::from_millis(400),
        "a request waited {slowest:?} with a {timeout:?} call timeout"
    );
}

/// Every Redis socket has TCP keepalive on (what closes an idle half-open
/// connection), as `ss` shows its keepalive timer.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sockets_have_tcp_keepalive() {
    let server = RedisServer::start();
    let port = server.url().rsplit(':').next().unwrap().to_owned();
    let cache = RouteCache::builder()
        .prefix(unique_prefix("keepalive"))
        .redis(server.url())
        .build()
        .await
        .unwrap();
    let app = TestApp::spawn(&cache).await;
    assert_eq!(app.get("/items/1").await.x_cache(), "MISS");
    // `ss` shows a socket's keepalive timer only while nothing it sent
    // waits for an acknowledgement (else the retransmission timer, `on`):
    // the lease's release goes out just after the response, so a socket
    // may be caught busy for a moment. Without keepalive, never.
    let last = std::sync::Mutex::new(String::new());
    support::eventually_explained(
        Duration::from_secs(5),
        || {
            let out = std::process::Command::new("ss")
                .args(["-tno", "state", "established"])
                .arg(format!("( dport = :{port} )"))
                .output()
                .expect("this test needs `ss` (Debian/Ubuntu: apt-get install iproute2)");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let sockets: Vec<&str> = text.lines().skip(1).collect();
            let all = !sockets.is_empty() && sockets.iter().all(|s| s.contains("timer:(keepalive"));
            if all {
                println!("{} sockets to Redis, all with keepalive", sockets.len());
            }
            *last.lock().unwrap() = text;
            std::future::ready(all)
        },
        || {
            format!(
                "; not every socket to Redis showed a keepalive timer; `ss` printed:\n{}",
                last.lock().unwrap()
            )
        },
    )
    .await;
}

/// Every socket the cache opens to Redis, the L1's subscriber included,
/// has keepalive on and `TCP_USER_TIMEOUT` set, as read back from the
/// sockets: what closes a half-open connection, idle or busy.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sockets_have_keepalive_and_a_user_timeout() {
    let server = RedisServer::start();
    let port: u16 = server.url().rsplit(':').next().unwrap().parse().unwrap();
    let cache = RouteCache::builder()
        .prefix(unique_prefix("user_timeout"))
        .redis(server.url())
        .l1_capacity(1 << 20)
        .build()
        .await
        .unwrap();
    support::wait_for_l1(&cache).await;
    let app = TestApp::spawn(&cache).await;
    assert_eq!(app.get("/items/1").await.x_cache(), "MISS");
    let sockets = support::redis::socket_options_to(port);
    assert!(sockets.len() >= 2, "the store's and the L1's: {sockets:?}");
    for options in &sockets {
        assert_eq!(
            *options,
            (true, Some(cache_runtime::config::DEFAULT_TCP_USER_TIMEOUT)),
            "{sockets:?}"
        );
    }
    println!("{} sockets to Redis: {sockets:?}", sockets.len());
}
