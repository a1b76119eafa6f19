//! Production Redis against real servers the harness starts: TLS with a CA
//! and certificates generated here with the `openssl` CLI, mutual TLS, ACL
//! users, and what every misconfiguration does: it fails open, says so in
//! one clear log line, and never falls back to a per-process store.

mod support;

use cache_runtime::{Backend, RouteCache};
use std::time::Duration;
use support::{certs::Certs, redis::free_port, Captured, TestApp};

/// A subscriber writing `warn` and above, without colours, to `captured`.
fn warnings_to(captured: &Captured) -> impl tracing::Subscriber + Send + Sync {
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish()
}

async fn build_logged(builder: cache_runtime::RouteCacheBuilder) -> (RouteCache, String) {
    let captured = Captured::default();
    let cache = {
        let _guard = tracing::subscriber::set_default(warnings_to(&captured));
        builder
            .connect_timeout(Duration::from_millis(500))
            .build()
            .await
            .expect("a reachable or unreachable Redis is no build error")
    };
    (cache, captured.text())
}

/// Three GETs of one item: MISS then HIT then HIT when the cache works.
async fn x_caches(cache: &RouteCache) -> Vec<String> {
    let app = TestApp::spawn(cache).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let reply = app.get("/items/1").await;
        assert_eq!(reply.status, 200, "requests never fail on the cache");
        seen.push(reply.x_cache().to_owned());
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_custom_ca_caches_and_misconfigurations_fail_open() {
    let certs = Certs::generate();
    let (_server, tls_port) = certs.server("no");
    let url = format!("rediss://127.0.0.1:{tls_port}");

    let (good, log) = build_logged(
        RouteCache::builder()
            .redis(&url)
            .tls_root_ca(certs.pem("ca.crt")),
    )
    .await;
    assert_eq!(good.backend(), Backend::Redis);
    assert!(!log.contains("WARN") && !log.contains("ERROR"), "{log}");
    assert_eq!(x_caches(&good).await, ["MISS", "HIT", "HIT"]);

    // Another CA: the server's certificate is not trusted.
    let (wrong_ca, log) = build_logged(
        RouteCache::builder()
            .redis(&url)
            .tls_root_ca(certs.pem("other-ca.crt")),
    )
    .await;
    assert_eq!(wrong_ca.backend(), Backend::Redis, "no in-process fallback");
    assert!(log.contains("not reachable yet"), "one clear line: {log}");
    assert_eq!(x_caches(&wrong_ca).await, ["MISS", "MISS", "MISS"]);

    // Plain text to the TLS port.
    let plain = format!("redis://127.0.0.1:{tls_port}");
    let (to_tls_port, log) = build_logged(RouteCache::builder().redis(&plain)).await;
    assert_eq!(to_tls_port.backend(), Backend::Redis);
    assert!(log.contains("not reachable yet"), "{log}");
    assert_eq!(x_caches(&to_tls_port).await, ["MISS", "MISS", "MISS"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_users_work_and_a_wrong_password_is_logged_without_it() {
    let certs = Certs::generate();
    let (server, tls_port) = certs.server("no");
    let plain_port = server.url();
    let good_url = plain_port.replace("redis://", "redis://alice:s3cret-pw@");
    let (good, _) = build_logged(RouteCache::builder().redis(&good_url)).await;
    assert_eq!(x_caches(&good).await, ["MISS", "HIT", "HIT"]);

    let tls_user = format!("rediss://alice:s3cret-pw@127.0.0.1:{tls_port}");
    let (over_tls, _) = build_logged(
        RouteCache::builder()
            .redis(&tls_user)
            .tls_root_ca(certs.pem("ca.crt")),
    )
    .await;
    // The same server over TLS, as the same ACL user: the entry is there.
    assert_eq!(x_caches(&over_tls).await, ["HIT", "HIT", "HIT"]);

    // The builder's credentials, in place of the URL's.
    let (by_builder, _) = build_logged(
        RouteCache::builder()
            .redis(&plain_port)
            .redis_auth("alice", "s3cret-pw"),
    )
    .await;
    assert_eq!(
        x_caches(&by_builder).await,
        ["HIT", "HIT", "HIT"],
        "the same server's entry"
    );
    let (wrong_by_builder, log) = build_logged(
        RouteCache::builder()
            .redis(&plain_port)
            .redis_auth("alice", "builder-wrong-pw"),
    )
    .await;
    assert!(
        log.contains("refused the credentials") && !log.contains("builder-wrong-pw"),
        "{log}"
    );
    assert_eq!(x_caches(&wrong_by_builder).await, ["MISS", "MISS", "MISS"]);

    let wrong = plain_port.replace("redis://", "redis://alice:not-the-pw@");
    let (refused, log) = build_logged(RouteCache::builder().redis(&wrong)).await;
    assert_eq!(refused.backend(), Backend::Redis, "no in-process fallback");
    assert!(
        log.contains("ERROR") && log.contains("refused the credentials"),
        "{log}"
    );
    assert!(
        log.contains("user=\"alice\"") || log.contains("user=alice"),
        "{log}"
    );
    assert!(
        !log.contains("not-the-pw"),
        "the password is never logged: {log}"
    );
    assert_eq!(x_caches(&refused).await, ["MISS", "MISS", "MISS"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_needs_the_client_certificate() {
    let certs = Certs::generate();
    let (_server, tls_port) = certs.server("yes");
    let url = format!("rediss://127.0.0.1:{tls_port}");
    let (with_cert, _) = build_logged(
        RouteCache::builder()
            .redis(&url)
            .tls_root_ca(certs.pem("ca.crt"))
            .tls_client_cert(certs.pem("client.crt"), certs.pem("client.key")),
    )
    .await;
    assert_eq!(x_caches(&with_cert).await, ["MISS", "HIT", "HIT"]);

    let (without, log) = build_logged(
        RouteCache::builder()
            .redis(&url)
            .tls_root_ca(certs.pem("ca.crt")),
    )
    .await;
    assert!(log.contains("not reachable yet"), "{log}");
    assert_eq!(x_caches(&without).await, ["MISS", "MISS", "MISS"]);
}

/// A 3-master Redis Cluster over TLS (`tls-cluster yes`), reached through
/// `rediss://` seeds and an ACL user: hits and misses work, and the TLS
/// ports are what the cluster announces to TLS clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_with_an_acl_user_caches() {
    let _ports = support::cluster::private_cluster_lock().await;
    let certs = Certs::generate();
    let ports: Vec<u16> = (0..3).map(|_| support::cluster::cluster_port()).collect();
    let tls_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let path = |name: &str| certs.path(name).display().to_string();
    support::cluster::start_cluster_with(&ports, |i| {
        let mut args: Vec<String> = [
            "--tls-cluster",
            "yes",
            "--tls-replication",
            "yes",
            "--tls-auth-clients",
            "no",
            "--user",
            "alice",
            "on",
            ">s3cret-pw",
            "~*",
            "&*",
            "+@all",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend([
            "--tls-port".to_owned(),
            tls_ports[i].to_string(),
            "--tls-cert-file".to_owned(),
            path("server.crt"),
            "--tls-key-file".to_owned(),
            path("server.key"),
            "--tls-ca-cert-file".to_owned(),
            path("ca.crt"),
        ]);
        args
    });
    let seeds: Vec<String> = tls_ports
        .iter()
        .map(|p| format!("rediss://alice:s3cret-pw@127.0.0.1:{p}"))
        .collect();
    let (cache, log) = build_logged(
        RouteCache::builder()
            .redis_cluster(seeds)
            .tls_root_ca(certs.pem("ca.crt")),
    )
    .await;
    assert_eq!(cache.backend(), Backend::RedisCluster);
    assert!(!log.contains("WARN") && !log.contains("ERROR"), "{log}");
    assert_eq!(x_caches(&cache).await, ["MISS", "HIT", "HIT"]);
}

/// The environment is the process's: every `from_env` case runs in this
/// one test, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_env_reads_tls_settings_and_never_falls_back_to_a_private_store() {
    let certs = Certs::generate();
    let (_server, tls_port) = certs.server("no");
    let clear = || {
        for name in [
            "REDIS_URL",
            "REDIS_CLUSTER_URLS",
            "REDIS_TLS_CA",
            "REDIS_TLS_CERT",
            "REDIS_TLS_KEY",
        ] {
            std::env::remove_var(name);
        }
    };
    clear();
    std::env::set_var("REDIS_URL", format!("rediss://127.0.0.1:{tls_port}"));
    std::env::set_var("REDIS_TLS_CA", certs.path("ca.crt"));
    let cache = RouteCache::from_env().await;
    assert_eq!(cache.backend(), Backend::Redis);
    assert_eq!(x_caches(&cache).await, ["MISS", "HIT", "HIT"]);

    // A configuration that cannot work: disabled, loudly, never embedded.
    for (name, value) in [
        ("REDIS_URL", "http://not-redis".to_owned()),
        ("REDIS_TLS_CA", "/nonexistent/ca.pem".to_owned()),
    ] {
        std::env::set_var(name, value);
        assert!(RouteCache::try_from_env().await.is_err(), "{name}");
        let cache = RouteCache::from_env().await;
        assert_eq!(
            cache.backend(),
            Backend::Disabled,
            "{name}: not a private store"
        );
        assert!(cache.disabled_reason().is_some());
        let app = TestApp::spawn(&cache).await;
        for _ in 0..2 {
            let reply = app.get("/items/1").await;
            assert_eq!(reply.status, 200);
            assert_eq!(
                reply.headers["cache-status"],
                "route-cache; fwd=bypass; detail=cache-disabled"
            );
        }
        assert!(
            cache.invalidate("/items/1").await.is_err(),
            "nothing to invalidate"
        );
        std::env::set_var("REDIS_URL", format!("rediss://127.0.0.1:{tls_port}"));
        std::env::set_var("REDIS_TLS_CA", certs.path("ca.crt"));
    }

    // The key secret from the environment, on Redis and in process.
    std::env::set_var("ROUTE_CACHE_KEY_SECRET", "a deployment's secret of 32 B");
    assert!(RouteCache::from_env().await.config().has_key_secret());
    std::env::remove_var("REDIS_URL");
    let embedded = RouteCache::from_env().await;
    assert_eq!(embedded.backend(), Backend::Embedded);
    assert!(embedded.config().has_key_secret(), "in process too");
    std::env::set_var("ROUTE_CACHE_KEY_SECRET", "short");
    assert_eq!(
        RouteCache::from_env().await.backend(),
        Backend::Disabled,
        "a short secret is an error, not ignored"
    );
    std::env::remove_var("ROUTE_CACHE_KEY_SECRET");

    // TLS sentinels with a plaintext master that has a password: the
    // password would cross in clear. Disabled, with one error line that
    // does not carry it.
    for (name, value) in [
        ("REDIS_SENTINEL_URLS", "rediss://127.0.0.1:1"),
        ("REDIS_SENTINEL_MASTER", "mymaster"),
        ("REDIS_SENTINEL_MASTER_TLS", "false"),
        ("REDIS_SENTINEL_MASTER_PASSWORD", "s3cret-pw"),
    ] {
        std::env::set_var(name, value);
    }
    let captured = Captured::default();
    let cache = {
        let _guard = tracing::subscriber::set_default(warnings_to(&captured));
        RouteCache::from_env().await
    };
    assert_eq!(cache.backend(), Backend::Disabled);
    let log = captured.text();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one error line: {log}");
    assert!(errors[0].contains("plaintext"), "{log}");
    assert!(!log.contains("s3cret-pw"), "the password in the log: {log}");
    for name in [
        "REDIS_SENTINEL_URLS",
        "REDIS_SENTINEL_MASTER",
        "REDIS_SENTINEL_MASTER_TLS",
        "REDIS_SENTINEL_MASTER_PASSWORD",
    ] {
        std::env::remove_var(name);
    }
    clear();
}
