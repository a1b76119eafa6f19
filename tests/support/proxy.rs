//! A TCP proxy in front of a real Redis that records, for every write a
//! client makes, when it arrived and which commands it carried: what a
//! test needs to count the round trips a request makes, and to see which
//! of them came before its handler ran and which after.

use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One client write: when it reached the proxy, and the commands that it
/// completed, each named by its first argument (for `EVAL`, also the first
/// words of its script).
#[derive(Debug, Clone)]
pub struct Write {
    pub at: Instant,
    pub commands: Vec<String>,
}

/// The proxy; it stops when dropped.
pub struct RecordingProxy {
    pub url: String,
    writes: Arc<Mutex<Vec<Write>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RecordingProxy {
    /// Listens on a free loopback port and forwards to `upstream`
    /// (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("redis://{}", listener.local_addr().expect("address"));
        let writes = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&writes);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        forward(client, server, log).await;
                    }
                });
            }
        });
        Self { url, writes, task }
    }

    /// Forgets what was recorded so far.
    pub fn clear(&self) {
        self.writes.lock().unwrap().clear();
    }

    /// What was recorded so far.
    pub fn writes(&self) -> Vec<Write> {
        self.writes.lock().unwrap().clone()
    }
}

async fn forward(client: TcpStream, server: TcpStream, log: Arc<Mutex<Vec<Write>>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut pending = Vec::new();
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let at = Instant::now();
            pending.extend_from_slice(&buf[..n]);
            let commands = take_commands(&mut pending);
            log.lock().unwrap().push(Write { at, commands });
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    };
    tokio::join!(upstream, downstream);
}

/// Removes the complete RESP commands at the front of `pending` and names
/// them.
fn take_commands(pending: &mut Vec<u8>) -> Vec<String> {
    let mut names = Vec::new();
    let mut at = 0;
    while let Some((args, end)) = command(&pending[at..]) {
        let mut name = String::from_utf8_lossy(args.first().map_or(&[][..], |a| a)).to_uppercase();
        if name == "EVAL" {
            if let Some(script) = args.get(1) {
                let words = String::from_utf8_lossy(script);
                let words: Vec<&str> = words.split_whitespace().take(4).collect();
                name = format!("EVAL {}", words.join(" "));
            }
        }
        names.push(name);
        at += end;
    }
    pending.drain(..at);
    names
}

/// One complete command (`*N` then N bulk strings) at the start of
/// `bytes`: its arguments, and where it ends.
fn command(bytes: &[u8]) -> Option<(Vec<&[u8]>, usize)> {
    let (count, mut at) = header(bytes, b'*')?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let (len, start) = header(&bytes[at..], b'$')?;
        let start = at + start;
        let end = start + len;
        if bytes.len() < end + 2 {
            return None;
        }
        args.push(&bytes[start..end]);
        at = end + 2;
    }
    Some((args, at))
}

/// `<marker><number>\r\n` at the start of `bytes`: the number, and where
/// the line ends.
fn header(bytes: &[u8], marker: u8) -> Option<(usize, usize)> {
    if bytes.first() != Some(&marker) {
        return None;
    }
    let line = bytes.windows(2).position(|w| w == b"\r\n")?;
    let number = std::str::from_utf8(&bytes[1..line]).ok()?.parse().ok()?;
    Some((number, line + 2))
}
