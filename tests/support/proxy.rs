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
    /// Whether the server answered anything on this connection since the
    /// client's previous write: a new round trip, rather than the rest of
    /// a batch the client sent without waiting (a large pipeline can reach
    /// the proxy in several reads).
    pub after_reply: bool,
}

/// The proxy; it stops when dropped.
pub struct RecordingProxy {
    pub url: String,
    writes: Arc<Mutex<Vec<Write>>>,
    /// When set, the first client write carrying an `EVAL` whose script
    /// contains this text is forwarded up to the end of that command, and
    /// the connection is then cut (both ways): a connection lost right
    /// after those bytes. Cleared once it fired.
    cut_after: Arc<Mutex<Option<String>>>,
    /// After the cut, new connections are dropped at once until then: the
    /// server stays unreachable for a while.
    held_until: Arc<Mutex<Option<Instant>>>,
    /// How long the cut holds.
    hold: Arc<Mutex<std::time::Duration>>,
    /// When set, the next `PUBLISH` a client sends goes to another channel
    /// (its channel name's first byte changed): Redis answers it as ever,
    /// and no subscriber gets the message. Cleared once it fired.
    divert: Arc<std::sync::atomic::AtomicBool>,
    /// Each open connection's switch: once on, the connection swallows
    /// every byte both ways and never closes (a half-open connection).
    connections: Arc<Mutex<Vec<Arc<std::sync::atomic::AtomicBool>>>>,
    /// New connections are black holes from the start too.
    isolated: Arc<std::sync::atomic::AtomicBool>,
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
        let cut_after = Arc::new(Mutex::new(None));
        let held_until = Arc::new(Mutex::new(None::<Instant>));
        let hold = Arc::new(Mutex::new(std::time::Duration::ZERO));
        let divert = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let diverting = Arc::clone(&divert);
        let connections = Arc::new(Mutex::new(Vec::new()));
        let opened = Arc::clone(&connections);
        let isolated = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let isolating = Arc::clone(&isolated);
        let log = Arc::clone(&writes);
        let cut = Arc::clone(&cut_after);
        let (held, holding) = (Arc::clone(&held_until), Arc::clone(&hold));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if held
                    .lock()
                    .unwrap()
                    .is_some_and(|until| Instant::now() < until)
                {
                    drop(client); // unreachable for now
                    continue;
                }
                let upstream = upstream.clone();
                let log = Arc::clone(&log);
                let cut = Arc::clone(&cut);
                let on_cut = (Arc::clone(&held), Arc::clone(&holding));
                let divert = Arc::clone(&diverting);
                let dead = Arc::new(std::sync::atomic::AtomicBool::new(
                    isolating.load(std::sync::atomic::Ordering::SeqCst),
                ));
                opened.lock().unwrap().push(Arc::clone(&dead));
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        forward(client, server, log, cut, on_cut, (divert, dead)).await;
                    }
                });
            }
        });
        Self {
            url,
            writes,
            cut_after,
            held_until,
            hold,
            divert,
            connections,
            isolated,
            task,
        }
    }

    /// Isolates the server: every connection, open now or opened later, is
    /// a black hole (connecting still succeeds, as a proxy or a load
    /// balancer in front of a lost machine lets it).
    pub fn isolate(&self) {
        self.isolated
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.black_hole_open_connections();
    }

    /// Turns every connection open now into a black hole: bytes in either
    /// direction are read and dropped, and nothing is closed, as when the
    /// peer's machine is lost or a partition drops packets. Connections
    /// opened later are forwarded as ever (a route to the server that
    /// works). Returns how many connections were open.
    pub fn black_hole_open_connections(&self) -> usize {
        let connections = self.connections.lock().unwrap();
        for dead in connections.iter() {
            dead.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        connections.len()
    }

    /// Arms the diversion of the next `PUBLISH` (see the `divert` field):
    /// a pub/sub message lost on its way, with nothing else disturbed.
    pub fn divert_next_publish(&self) {
        self.divert.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the armed diversion has fired.
    pub fn diverted(&self) -> bool {
        !self.divert.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Arms the cut (see the `cut_after` field); after it, the proxy
    /// drops new connections for `hold`, so that the client's next calls
    /// fail too.
    pub fn cut_after_script(&self, text: &str, hold: std::time::Duration) {
        *self.hold.lock().unwrap() = hold;
        *self.cut_after.lock().unwrap() = Some(text.to_owned());
    }

    /// Whether the proxy still drops new connections after a cut.
    pub fn holding(&self) -> bool {
        self.held_until
            .lock()
            .unwrap()
            .is_some_and(|until| Instant::now() < until)
    }

    /// Whether the armed cut has fired.
    pub fn cut_fired(&self) -> bool {
        self.cut_after.lock().unwrap().is_none()
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

async fn forward(
    client: TcpStream,
    server: TcpStream,
    log: Arc<Mutex<Vec<Write>>>,
    cut: Arc<Mutex<Option<String>>>,
    (held, hold): (Arc<Mutex<Option<Instant>>>, Arc<Mutex<std::time::Duration>>),
    (divert, dead): (
        Arc<std::sync::atomic::AtomicBool>,
        Arc<std::sync::atomic::AtomicBool>,
    ),
) {
    let swallowed = Arc::clone(&dead);
    let replies = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let replied = Arc::clone(&replies);
    let is_dead = move || dead.load(std::sync::atomic::Ordering::SeqCst);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let (cut_tx, mut cut_rx) = tokio::sync::oneshot::channel::<()>();
    let upstream = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut pending = Vec::new();
        let mut replies_seen = u64::MAX;
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if is_dead() {
                continue; // swallowed
            }
            let at = Instant::now();
            let already = pending.len();
            pending.extend_from_slice(&buf[..n]);
            let armed = cut.lock().unwrap().clone();
            if let Some(end) = armed.and_then(|text| end_of_script(&pending, &text)) {
                *cut.lock().unwrap() = None;
                *held.lock().unwrap() = Some(Instant::now() + *hold.lock().unwrap());
                // The bytes up to the end of that command, then nothing.
                let upto = end.saturating_sub(already).min(n);
                let _ = server_write.write_all(&buf[..upto]).await;
                let _ = server_write.flush().await;
                let _ = cut_tx.send(());
                return;
            }
            if divert.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some(at) = publish_channel(&pending).filter(|&at| at >= already) {
                    buf[at - already] ^= 0x20;
                    divert.store(false, std::sync::atomic::Ordering::SeqCst);
                }
            }
            let commands = take_commands(&mut pending);
            let now = replies.load(std::sync::atomic::Ordering::SeqCst);
            let after_reply = now != replies_seen;
            replies_seen = now;
            log.lock().unwrap().push(Write {
                at,
                commands,
                after_reply,
            });
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let downstream = async move {
        let copy = async {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = server_read.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if swallowed.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                if client_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                replied.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        };
        tokio::select! {
            _ = copy => {}
            // Cut: the client's connection closes with no answer.
            _ = &mut cut_rx => {}
        }
    };
    tokio::join!(upstream, downstream);
}

/// Where, in `pending`, the first complete `EVAL` whose script contains
/// `text` ends.
fn end_of_script(pending: &[u8], text: &str) -> Option<usize> {
    let mut at = 0;
    while let Some((args, end)) = command(&pending[at..]) {
        let is_it = args
            .first()
            .is_some_and(|a| a.eq_ignore_ascii_case(b"EVAL"))
            && args
                .get(1)
                .is_some_and(|script| String::from_utf8_lossy(script).contains(text));
        at += end;
        if is_it {
            return Some(at);
        }
    }
    None
}

/// Where, in `pending`, the channel name of the first complete `PUBLISH`
/// starts.
fn publish_channel(pending: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some((args, end)) = command(&pending[at..]) {
        if args
            .first()
            .is_some_and(|a| a.eq_ignore_ascii_case(b"PUBLISH"))
        {
            let channel = args.get(1)?;
            return Some(channel.as_ptr() as usize - pending.as_ptr() as usize);
        }
        at += end;
    }
    None
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
