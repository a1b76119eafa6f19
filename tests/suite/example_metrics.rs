//! The example server, as a user runs it: `cargo run --example server`
//! (without Redis), a few requests, then `GET /metrics` shows per-route
//! hits and misses in Prometheus' text format. `cargo test` builds the
//! example; this test runs that binary on a port the system picks.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/examples/server`, next to this test's own binary.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let binary = profile_dir
        .join("examples")
        .join(format!("server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: run the suite with `cargo test` (which builds the examples)",
        binary.display()
    );
    binary
}

/// One HTTP/1.1 GET; the response as text.
fn get(port: u16, path: &str) -> std::io::Result<String> {
    get_with(port, path, "")
}

/// One HTTP/1.1 GET with `extra` header lines; the response as text (a
/// compressed body lossily).
fn get_with(port: u16, path: &str, extra: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n"
    )?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_example_serves_per_route_hits_and_misses_at_metrics() {
    let (server, port) = start_example(&[]);
    let first = get(port, "/items/42").unwrap();
    assert!(first.contains("x-cache: MISS"), "{first}");
    for _ in 0..2 {
        let again = get(port, "/items/42").unwrap();
        assert!(again.contains("x-cache: HIT"), "{again}");
    }
    // The catalogue, stored compressed: gzip as stored, identity decompressed.
    let gzip = "Accept-Encoding: gzip\r\n";
    let first = get_with(port, "/catalog", gzip).unwrap();
    assert!(
        first.contains("x-cache: MISS"),
        "{}",
        &first[..400.min(first.len())]
    );
    let hit = get_with(port, "/catalog", gzip).unwrap();
    let head = hit.split("\r\n\r\n").next().unwrap_or("").to_owned();
    assert!(head.contains("x-cache: HIT"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("vary: accept-encoding"), "{head}");
    let plain = get(port, "/catalog").unwrap();
    let (head, body) = plain.split_once("\r\n\r\n").unwrap_or_default();
    assert!(
        head.contains("x-cache: HIT") && !head.contains("content-encoding"),
        "{head}"
    );
    assert!(
        body.len() > 64 * 1024 && body.starts_with("[{\"id\":1,"),
        "{head}"
    );
    let metrics = get(port, "/metrics").unwrap();
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    let sample = |outcome: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("route_cache_requests_total{")
                    && l.contains("route=\"server::get_item\"")
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .and_then(|l| l.rsplit_once(' '))
            .map(|(_, v)| v.trim().to_owned())
    };
    assert_eq!(sample("miss").as_deref(), Some("1"), "{metrics}");
    assert_eq!(sample("hit").as_deref(), Some("2"), "{metrics}");
    assert!(
        metrics.contains("# HELP route_cache_requests_total"),
        "described: {metrics}"
    );
    // `/time` refreshes ahead (5 s TTL, at 80 %): polled past its TTL, it
    // never misses after the first request, and its answer moves on.
    let first = get(port, "/time").unwrap();
    assert!(first.contains("x-cache: MISS"), "{first}");
    let body = |reply: &str| reply.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    let polled = Instant::now();
    let mut last = body(&first);
    let mut changed = 0;
    while polled.elapsed() < Duration::from_secs(7) {
        std::thread::sleep(Duration::from_millis(100));
        let reply = get(port, "/time").unwrap();
        assert!(
            reply.contains("x-cache: HIT"),
            "after {:?}: {reply}",
            polled.elapsed()
        );
        let now = body(&reply);
        if now != last {
            changed += 1;
            last = now;
        }
    }
    assert!(changed >= 1, "the entry was refreshed ahead of its expiry");
    drop(server);
}

/// The example on `port`, in an environment without the cache's
/// variables but `env` (and `RUST_LOG` at `log`).
fn example(port: u16, log: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(example_binary());
    command
        .env("PORT", port.to_string())
        .env("RUST_LOG", log)
        .env_remove("REDIS_URL")
        .env_remove("REDIS_CLUSTER_URLS")
        .env_remove("REDIS_SENTINEL_URLS")
        .env_remove("REDIS_SENTINEL_MASTER")
        .env_remove("CACHE_ADMIN_TOKEN");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// The example on a port the system picks as it binds (`PORT=0`: no
/// other test can take it between a probe and the bind), with `RUST_LOG`
/// at `log` and `env`: its `cache:` start-up line, and the port its
/// `listening on` line names. Its stdout stays open in the child, so the
/// lines it prints after those land.
fn spawn_example(log: &str, env: &[(&str, &str)]) -> (Server, String, u16) {
    use std::io::BufRead;
    let mut command = example(0, log, env);
    command.stdout(Stdio::piped());
    let mut server = Server(command.spawn().expect("start the example"));
    let (mut cache_line, mut port) = (None, None);
    let stdout = server.0.stdout.as_mut().expect("piped stdout");
    for line in std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
    {
        if line.starts_with("cache:") {
            cache_line = Some(line);
        } else if let Some(rest) = line.strip_prefix("listening on http://127.0.0.1:") {
            port = rest.split(';').next().and_then(|p| p.parse().ok());
            break;
        }
    }
    match (cache_line, port) {
        (Some(line), Some(port)) => (server, line, port),
        (line, port) => panic!(
            "the example for {env:?} printed no `cache:` and `listening on` lines \
             (got {line:?}, port {port:?}); its stderr is above"
        ),
    }
}

/// The example's `cache:` start-up line for the environment `env`.
fn startup_line(env: &[(&str, &str)]) -> String {
    spawn_example("off", env).1
}

/// The start-up line names the backend truthfully for every
/// configuration, and never a password.
#[test]
fn the_example_names_its_backend_truthfully() {
    // The environment, and what the line must say.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case; 10] = [
        (&[], &["embedded in-process store"]),
        (
            &[("REDIS_URL", "redis://app:hunter2@127.0.0.1:1")],
            &["Redis at 127.0.0.1:1, shared by every instance"],
        ),
        (
            &[("REDIS_URL", "rediss://127.0.0.1:1")],
            &["Redis at 127.0.0.1:1, TLS, shared"],
        ),
        (
            &[(
                "REDIS_CLUSTER_URLS",
                "redis://127.0.0.1:1,redis://127.0.0.1:2",
            )],
            &["Redis Cluster (seeds 127.0.0.1:1, 127.0.0.1:2)"],
        ),
        (
            &[
                ("REDIS_SENTINEL_URLS", "redis://:hunter2@127.0.0.1:1"),
                ("REDIS_SENTINEL_MASTER", "mymaster"),
            ],
            &["Redis master \"mymaster\" through Sentinel (127.0.0.1:1)"],
        ),
        (
            &[(
                "REDIS_CLUSTER_URLS",
                "rediss://127.0.0.1:1,rediss://127.0.0.1:2",
            )],
            &["Redis Cluster (seeds 127.0.0.1:1, 127.0.0.1:2), TLS"],
        ),
        (
            &[
                ("REDIS_SENTINEL_URLS", "rediss://127.0.0.1:1"),
                ("REDIS_SENTINEL_MASTER", "mymaster"),
            ],
            &["through Sentinel (127.0.0.1:1), TLS"],
        ),
        (
            &[
                ("REDIS_SENTINEL_URLS", "rediss://127.0.0.1:1"),
                ("REDIS_SENTINEL_MASTER", "mymaster"),
                ("REDIS_SENTINEL_MASTER_TLS", "false"),
            ],
            &["TLS to the sentinels, plaintext to the master"],
        ),
        // The master's password would cross in clear: refused.
        (
            &[
                ("REDIS_SENTINEL_URLS", "rediss://127.0.0.1:1"),
                ("REDIS_SENTINEL_MASTER", "mymaster"),
                ("REDIS_SENTINEL_MASTER_TLS", "false"),
                ("REDIS_SENTINEL_MASTER_PASSWORD", "hunter2"),
            ],
            &["DISABLED"],
        ),
        (&[("REDIS_URL", "no scheme here")], &["DISABLED"]),
    ];
    for (env, expected) in cases {
        let line = startup_line(env);
        println!("{env:?}: {line}");
        for text in expected {
            assert!(line.contains(text), "{env:?}: {line}");
        }
        assert!(!line.contains("hunter2"), "a password in {line}");
        assert!(!line.contains("in-process") || env.is_empty(), "{line}");
    }
}

/// The example with `env` set, listening: the server and its port.
fn start_example(env: &[(&str, &str)]) -> (Server, u16) {
    let (server, _, port) = spawn_example("warn", env);
    (server, port)
}

/// With `CACHE_ADMIN_TOKEN` the example mounts the admin API at
/// `/_cache` (behind the token); without it, not at all. Its shadow-mode
/// route always answers from the handler, and `/metrics` counts the
/// comparisons.
#[test]
fn the_example_mounts_the_admin_api_with_a_token_and_shadows_a_route() {
    let token = "example-admin-token-0123456789";
    let (server, port) = start_example(&[("CACHE_ADMIN_TOKEN", token)]);
    for _ in 0..3 {
        let reply = get(port, "/items/42/price").unwrap();
        assert!(reply.contains("x-cache: MISS"), "{reply}");
    }
    get(port, "/items/42").unwrap();
    let metrics = get(port, "/metrics").unwrap();
    let shadow: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("route_cache_shadow_total{") && l.contains("server::price"))
        .collect();
    assert!(
        shadow
            .iter()
            .any(|l| l.contains("outcome=\"no-entry\"") && l.ends_with(" 1")),
        "{shadow:?}"
    );
    assert!(
        shadow
            .iter()
            .any(|l| l.contains("outcome=\"match\"") && l.ends_with(" 2")),
        "{shadow:?}"
    );
    let refused = get(port, "/_cache/routes").unwrap();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let routes = get_with(
        port,
        "/_cache/routes",
        &format!("Authorization: Bearer {token}\r\n"),
    )
    .unwrap();
    assert!(routes.starts_with("HTTP/1.1 200"), "{routes}");
    assert!(
        routes.contains("\"route\":\"server::get_item\""),
        "{routes}"
    );
    assert!(routes.contains("\"shadow\":true"), "{routes}");
    drop(server);

    let (server, port) = start_example(&[]);
    let absent = get(port, "/_cache/routes").unwrap();
    assert!(absent.starts_with("HTTP/1.1 404"), "not mounted: {absent}");
    drop(server);
}
