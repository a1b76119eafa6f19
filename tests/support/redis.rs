//! A real `redis-server` per test: spawned on a free loopback port with no
//! persistence in a temporary directory, stopped on drop, and stoppable and
//! restartable on the same port by the test.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const HOW_TO_GET_REDIS: &str = "the integration tests need Redis: put `redis-server` on PATH \
(Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`), \
or set REDIS_URL=redis://host:port to use a running server for the tests that do not stop it";

/// A `redis-server` process owned by the test.
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// More `redis-server` arguments (TLS ports, ACL users).
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`.
    pub fn start() -> Self {
        Self::start_with(Vec::new())
    }

    /// [`RedisServer::start`] with more arguments; the plain port (for
    /// `PING`) stays open and the `default` user without a password.
    pub fn start_with(extra: Vec<String>) -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory for redis-server");
        let mut server = Self {
            port: free_port(),
            dir,
            child: None,
            extra,
        };
        for _ in 0..5 {
            if server.spawn() {
                return server;
            }
            server.port = free_port();
        }
        panic!("redis-server did not start on a free port after 5 attempts; {HOW_TO_GET_REDIS}");
    }

    fn spawn(&mut self) -> bool {
        let log: PathBuf = self.dir.path().join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--dir", &self.dir.path().display().to_string()])
            .args(["--logfile", &log.display().to_string()])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("`redis-server` was not found on PATH; {HOW_TO_GET_REDIS}")
            }
            Err(e) => panic!("could not run redis-server: {e}; {HOW_TO_GET_REDIS}"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    // Exited: most likely the port was taken meanwhile.
                    self.child = None;
                    return false;
                }
            }
            if ping(self.port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "redis-server on port {} did not answer PING within 10 s",
            self.port
        );
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A connection of the test's own, to look at or change the server
    /// behind the cache's back.
    pub async fn connect(&self) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(self.url())
            .expect("Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the test Redis")
    }

    /// Sets a server setting (`CONFIG SET name value`).
    pub async fn config_set(&self, name: &str, value: &str) {
        let mut conn = self.connect().await;
        let _: () = ::redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CONFIG SET {name} {value}: {e}"));
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .expect("redis-server is not running")
            .id()
    }

    /// Kills the server (as a crash would) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (with an empty data set).
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(
                Instant::now() < deadline,
                "redis-server could not restart on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGSTOP (`pause = true`) or SIGCONT to the server.
    pub fn signal_pause(&self, pause: bool) {
        let signal = if pause { "-STOP" } else { "-CONT" };
        let status = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free loopback port")
}

pub fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// Redis for a test that does not stop it: the server at `REDIS_URL` when
/// that is set, otherwise a server of the test's own.
pub enum TestRedis {
    /// A server this test started.
    Own(RedisServer),
    /// The server named by `REDIS_URL`.
    External(String),
}

impl TestRedis {
    /// See the type docs.
    pub fn acquire() -> Self {
        match std::env::var("REDIS_URL") {
            Ok(url) if !url.trim().is_empty() => Self::External(url),
            _ => Self::Own(RedisServer::start()),
        }
    }

    /// The URL to connect to.
    pub fn url(&self) -> String {
        match self {
            Self::Own(server) => server.url(),
            Self::External(url) => url.clone(),
        }
    }
}

/// Every key matching `pattern` on one server, read with `SCAN` (the
/// product never uses `KEYS`, and neither do its tests).
pub async fn scan_keys(
    conn: &mut ::redis::aio::MultiplexedConnection,
    pattern: &str,
) -> Vec<String> {
    let mut cursor = 0u64;
    let mut out = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .expect("SCAN");
        out.extend(batch);
        if next == 0 {
            out.sort();
            return out;
        }
        cursor = next;
    }
}

/// The TCP options of this process's open sockets to loopback `port`:
/// whether keepalive is on, and the `TCP_USER_TIMEOUT` (Linux), read back
/// from the sockets themselves with `getsockopt`.
#[cfg(target_os = "linux")]
pub fn socket_options_to(port: u16) -> Vec<(bool, Option<std::time::Duration>)> {
    use ::redis::io::tcp::socket2::SockRef;
    use std::os::fd::BorrowedFd;
    let mut found = Vec::new();
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return found;
    };
    for fd in fds.flatten() {
        let is_socket = std::fs::read_link(fd.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let Some(fd) = fd.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if !is_socket {
            continue;
        }
        // SAFETY: the descriptor was open a moment ago and is only read
        // here (getsockopt); one closed meanwhile fails the calls below.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = SockRef::from(&fd);
        let peer = socket.peer_addr().ok().and_then(|a| a.as_socket());
        if peer.is_some_and(|peer| peer.port() == port && peer.ip().is_loopback()) {
            found.push((
                socket.keepalive().unwrap_or(false),
                socket.tcp_user_timeout().ok().flatten(),
            ));
        }
    }
    found
}
