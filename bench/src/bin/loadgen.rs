//! The cost curves' load generator (`bench/curves.sh`): a closed-loop
//! HTTP/1.1 client that replays one deterministic trace of keys and
//! reports latency per class of request, the hit rate, and the hit rate an
//! ideal LRU of a given byte capacity gets on the same trace.
//!
//! ```text
//! loadgen --addr 127.0.0.1:8080 --connections 32 --duration 10 --warmup 5
//!         --keys 1000000 --dist zipf --path /items/{}
//!         [--large 0.1 --large-path /large/{}] [--header 'Accept-Encoding: gzip']
//!         [--lru-bytes 67108864 --stats-path /__stats] [--prefill yes]
//! ```
//!
//! wrk cannot do two things the curves need: tell the latency of one class
//! of request from another's (the small hits while 10 % of requests are
//! large misses), and replay a trace whose order an LRU simulation can
//! follow. Request `i` of the run (one shared counter, in issue order) asks
//! for key `trace(i)`, a function of the seed and `i` only, so every server
//! gets the same sequence and the simulation replays it exactly.
//!
//! Prints one line of JSON: requests per second, p50 and p99 per class,
//! the hit rate (`x-cache: HIT`, which nginx's and Varnish's
//! configurations in `curves.sh` send too), bytes per response, and with
//! `--lru-bytes`, the ideal LRU's hit rate over the measured requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The run's settings, from `--name value` arguments.
struct Args {
    addr: String,
    connections: usize,
    duration: Duration,
    warmup: Duration,
    keys: u64,
    zipf: bool,
    seed: u64,
    path: String,
    large: f64,
    large_path: String,
    headers: String,
    lru_bytes: Option<u64>,
    stats_path: String,
    /// Ask for every key once before the run (not measured).
    prefill: bool,
    /// The server whose CPU time (its own and its descendants') is read
    /// at the start and end of the measured run, and clock ticks per
    /// second.
    cpu_pid: Option<u32>,
    clk_tck: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut map = HashMap::new();
    let mut headers = String::new();
    let mut it = std::env::args().skip(1);
    while let Some(name) = it.next() {
        let value = it.next().ok_or(format!("{name} needs a value"))?;
        match name.as_str() {
            "--header" => {
                headers.push_str(&value);
                headers.push_str("\r\n");
            }
            _ => {
                map.insert(name.trim_start_matches("--").to_owned(), value);
            }
        }
    }
    let get = |name: &str, default: &str| map.get(name).cloned().unwrap_or(default.to_owned());
    let num = |name: &str, default: &str| -> Result<f64, String> {
        get(name, default)
            .parse::<f64>()
            .map_err(|e| format!("--{name}: {e}"))
    };
    let dist = get("dist", "uniform");
    if dist != "uniform" && dist != "zipf" {
        return Err(format!("--dist {dist}: uniform or zipf"));
    }
    Ok(Args {
        addr: get("addr", "127.0.0.1:8080"),
        connections: num("connections", "32")? as usize,
        duration: Duration::from_secs_f64(num("duration", "10")?),
        warmup: Duration::from_secs_f64(num("warmup", "0")?),
        keys: num("keys", "100")?.max(1.0) as u64,
        zipf: dist == "zipf",
        seed: num("seed", "1")? as u64,
        path: get("path", "/items/{}"),
        large: num("large", "0")?,
        large_path: get("large-path", "/large/{}"),
        headers,
        lru_bytes: map.get("lru-bytes").map(|v| v.parse().unwrap_or(0)),
        stats_path: get("stats-path", "/__stats"),
        prefill: get("prefill", "no") == "yes",
        cpu_pid: map.get("cpu-pid").and_then(|v| v.parse().ok()),
        clk_tck: num("clk-tck", "100")?,
    })
}

/// A 64-bit mix of the seed and a request's index (splitmix64).
fn mix(seed: u64, i: u64, salt: u64) -> u64 {
    let mut z = seed
        .wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) for request `i`.
fn unit(seed: u64, i: u64, salt: u64) -> f64 {
    (mix(seed, i, salt) >> 11) as f64 / (1u64 << 53) as f64
}

/// Which key request `i` asks for, and whether it is a large (cold) one.
struct Trace {
    seed: u64,
    keys: u64,
    /// Zipf(1.0)'s cumulative distribution over ranks, when zipf.
    cdf: Option<Vec<f64>>,
    large: f64,
}

impl Trace {
    fn new(args: &Args) -> Self {
        let cdf = args.zipf.then(|| {
            let mut acc = 0.0;
            let mut cdf: Vec<f64> = (1..=args.keys)
                .map(|k| {
                    acc += 1.0 / k as f64;
                    acc
                })
                .collect();
            for c in &mut cdf {
                *c /= acc;
            }
            cdf
        });
        Trace {
            seed: args.seed,
            keys: args.keys,
            cdf,
            large: args.large,
        }
    }

    /// `None` for a large request (its key is unique: `i`).
    fn key(&self, i: u64) -> Option<u64> {
        if self.large > 0.0 && unit(self.seed, i, 1) < self.large {
            return None;
        }
        let u = unit(self.seed, i, 2);
        Some(match &self.cdf {
            // Rank r (0 the most popular) is key r.
            Some(cdf) => cdf.partition_point(|&c| c < u).min(cdf.len() - 1) as u64,
            None => (u * self.keys as f64) as u64 % self.keys,
        })
    }
}

/// What one connection saw while measuring.
#[derive(Default)]
struct Tally {
    small: Vec<u32>,
    large: Vec<u32>,
    hits: u64,
    answered: u64,
    /// Answers during the warm-up too.
    answered_all: u64,
    bytes: u64,
    non_2xx: u64,
    errors: u64,
}

/// One response's status, whether it was a hit, and its size.
struct Answer {
    status: u16,
    hit: bool,
    bytes: u64,
}

async fn read_answer(
    stream: &mut BufReader<TcpStream>,
    line: &mut String,
    body: &mut Vec<u8>,
) -> std::io::Result<Answer> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    line.clear();
    if stream.read_line(line).await? == 0 {
        return Err(bad("closed"));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("status line"))?;
    let mut length = None;
    let mut chunked = false;
    let mut hit = false;
    let mut header_bytes = line.len() as u64;
    loop {
        line.clear();
        if stream.read_line(line).await? == 0 {
            return Err(bad("closed in headers"));
        }
        header_bytes += line.len() as u64;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("x-cache") {
            hit = value.len() >= 3 && value[..3].eq_ignore_ascii_case("hit");
        }
    }
    let mut body_bytes = 0;
    if chunked {
        loop {
            line.clear();
            stream.read_line(line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("chunk size"))?;
            body.resize(size + 2, 0);
            stream.read_exact(body).await?;
            body_bytes += size;
            if size == 0 {
                break;
            }
        }
    } else {
        let size = length.ok_or_else(|| bad("no length"))?;
        body.resize(size, 0);
        stream.read_exact(body).await?;
        body_bytes = size;
    }
    Ok(Answer {
        status,
        hit,
        bytes: header_bytes + body_bytes as u64,
    })
}

/// `GET path` with `headers` (each line ending in CRLF) into `request`,
/// replacing what it held.
fn get_request(request: &mut Vec<u8>, path: &str, headers: &str) {
    request.clear();
    request.extend_from_slice(b"GET ");
    request.extend_from_slice(path.as_bytes());
    request.extend_from_slice(b" HTTP/1.1\r\nHost: bench\r\n");
    request.extend_from_slice(headers.as_bytes());
    request.extend_from_slice(b"\r\n");
}

/// Where the run is: requests issued, and from which index on they count.
struct Run {
    next: AtomicU64,
    measuring: AtomicBool,
    stop: AtomicBool,
}

async fn connection(args: Arc<Args>, trace: Arc<Trace>, run: Arc<Run>) -> Tally {
    let mut tally = Tally::default();
    let mut line = String::new();
    let mut body = Vec::new();
    let mut request = Vec::with_capacity(256);
    'reconnect: while !run.stop.load(Ordering::Relaxed) {
        let Ok(stream) = TcpStream::connect(&args.addr).await else {
            tally.errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut stream = BufReader::with_capacity(64 << 10, stream);
        while !run.stop.load(Ordering::Relaxed) {
            let i = run.next.fetch_add(1, Ordering::Relaxed);
            let measuring = run.measuring.load(Ordering::Relaxed);
            let key = trace.key(i);
            let path = match key {
                Some(k) => args.path.replace("{}", &k.to_string()),
                None => args.large_path.replace("{}", &i.to_string()),
            };
            get_request(&mut request, &path, &args.headers);
            let start = Instant::now();
            if stream.get_mut().write_all(&request).await.is_err() {
                tally.errors += 1;
                continue 'reconnect;
            }
            match read_answer(&mut stream, &mut line, &mut body).await {
                Ok(answer) if measuring => {
                    let micros = start.elapsed().as_micros().min(u32::MAX as u128) as u32;
                    match key {
                        Some(_) => tally.small.push(micros),
                        None => tally.large.push(micros),
                    }
                    tally.answered += 1;
                    tally.answered_all += 1;
                    tally.hits += u64::from(answer.hit);
                    tally.bytes += answer.bytes;
                    tally.non_2xx += u64::from(!(200..300).contains(&answer.status));
                }
                Ok(_) => tally.answered_all += 1,
                Err(_) => {
                    tally.errors += 1;
                    continue 'reconnect;
                }
            }
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The hit rate of an ideal LRU holding `capacity` entries, over requests
/// `from..to` of the trace (requests before `from` only fill it).
fn lru_hit_rate(trace: &Trace, capacity: u64, from: u64, to: u64) -> f64 {
    let mut stamp_of: HashMap<u64, u64> = HashMap::new();
    let mut by_stamp: BTreeMap<u64, u64> = BTreeMap::new();
    let (mut hits, mut counted) = (0u64, 0u64);
    for i in 0..to {
        let key = match trace.key(i) {
            Some(k) => k,
            None => u64::MAX - i,
        };
        let hit = match stamp_of.insert(key, i) {
            Some(old) => {
                by_stamp.remove(&old);
                true
            }
            None => false,
        };
        by_stamp.insert(i, key);
        if by_stamp.len() as u64 > capacity {
            if let Some((_, evicted)) = by_stamp.pop_first() {
                stamp_of.remove(&evicted);
            }
        }
        if i >= from {
            counted += 1;
            hits += u64::from(hit);
        }
    }
    hits as f64 / counted.max(1) as f64
}

/// Asks for every key once, over up to 8 connections (the run's headers
/// too): a run of hits starts with every entry stored.
async fn prefill(args: Arc<Args>) {
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..args.connections.clamp(1, 8))
        .map(|_| {
            let (args, next) = (args.clone(), next.clone());
            tokio::spawn(async move {
                let Ok(stream) = TcpStream::connect(&args.addr).await else {
                    return;
                };
                let mut stream = BufReader::new(stream);
                let (mut line, mut body, mut request) = (String::new(), Vec::new(), Vec::new());
                loop {
                    let key = next.fetch_add(1, Ordering::Relaxed);
                    if key >= args.keys {
                        return;
                    }
                    let path = args.path.replace("{}", &key.to_string());
                    get_request(&mut request, &path, &args.headers);
                    if stream.get_mut().write_all(&request).await.is_err()
                        || read_answer(&mut stream, &mut line, &mut body)
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// User and system clock ticks of `pid` and its descendants (nginx's and
/// Varnish's workers are child processes), from `/proc`.
fn cpu_ticks(pid: u32) -> u64 {
    let mut parent_of = Vec::new();
    let mut ticks_of = HashMap::new();
    for dir in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(id) = dir.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(dir.path().join("stat")) else {
            continue;
        };
        // Fields after the command, which is in parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // state ppid ... utime (14th field overall: 11 here) stime (12).
        parent_of.push((id, field(1) as u32));
        ticks_of.insert(id, field(11) + field(12));
    }
    let mut total = 0;
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        total += ticks_of.get(&p).copied().unwrap_or(0);
        frontier.extend(
            parent_of
                .iter()
                .filter(|(_, parent)| *parent == p)
                .map(|(id, _)| *id),
        );
    }
    total
}

/// `GET stats_path` once: the server's `entries bytes` line.
async fn server_stats(args: &Args) -> Option<(u64, u64)> {
    let stream = TcpStream::connect(&args.addr).await.ok()?;
    let mut stream = BufReader::new(stream);
    let mut request = Vec::new();
    get_request(&mut request, &args.stats_path, "");
    stream.get_mut().write_all(&request).await.ok()?;
    let (mut line, mut body) = (String::new(), Vec::new());
    read_answer(&mut stream, &mut line, &mut body).await.ok()?;
    let text = String::from_utf8(body).ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    Some((fields.next()??, fields.next()??))
}

fn main() {
    let args = match parse_args() {
        Ok(args) => Arc::new(args),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        if args.prefill {
            prefill(args.clone()).await;
        }
        let trace = Arc::new(Trace::new(&args));
        let run = Arc::new(Run {
            next: AtomicU64::new(0),
            measuring: AtomicBool::new(args.warmup.is_zero()),
            stop: AtomicBool::new(false),
        });
        let tasks: Vec<_> = (0..args.connections)
            .map(|_| tokio::spawn(connection(args.clone(), trace.clone(), run.clone())))
            .collect();
        tokio::time::sleep(args.warmup).await;
        let from = run.next.load(Ordering::Relaxed);
        run.measuring.store(true, Ordering::Relaxed);
        let cpu_before = args.cpu_pid.map(cpu_ticks);
        let started = Instant::now();
        tokio::time::sleep(args.duration).await;
        run.stop.store(true, Ordering::Relaxed);
        let cpu_after = args.cpu_pid.map(cpu_ticks);
        let elapsed = started.elapsed().as_secs_f64();
        let to = run.next.load(Ordering::Relaxed);
        let mut all = Tally::default();
        for task in tasks {
            if let Ok(t) = task.await {
                all.small.extend(t.small);
                all.large.extend(t.large);
                all.hits += t.hits;
                all.answered += t.answered;
                all.answered_all += t.answered_all;
                all.bytes += t.bytes;
                all.non_2xx += t.non_2xx;
                all.errors += t.errors;
            }
        }
        all.small.sort_unstable();
        all.large.sort_unstable();
        let answered = all.answered.max(1) as f64;
        let mut out = format!(
            "{{\"rps\":{:.0},\"requests\":{},\"requests_all\":{},\"hit_rate\":{:.4},\"bytes_per_response\":{:.0},\"non_2xx\":{},\"errors\":{},\"p50_us\":{},\"p99_us\":{},\"large\":{},\"large_p50_us\":{},\"large_p99_us\":{}",
            all.answered as f64 / elapsed,
            all.answered,
            all.answered_all,
            all.hits as f64 / answered,
            all.bytes as f64 / answered,
            all.non_2xx,
            all.errors,
            percentile(&all.small, 50.0),
            percentile(&all.small, 99.0),
            all.large.len(),
            percentile(&all.large, 50.0),
            percentile(&all.large, 99.0),
        );
        if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
            let seconds = after.saturating_sub(before) as f64 / args.clk_tck;
            out.push_str(&format!(",\"cpu_us\":{:.2}", seconds * 1e6 / answered));
        }
        if let Some(capacity) = args.lru_bytes {
            // The entries' mean weight as the store counts it, so that the
            // simulated LRU holds as many as the same bytes would.
            match server_stats(&args).await {
                Some((entries, bytes)) if entries > 0 => {
                    let weight = bytes / entries;
                    let slots = capacity / weight.max(1);
                    let rate = lru_hit_rate(&trace, slots, from, to);
                    out.push_str(&format!(
                        ",\"entry_weight\":{weight},\"lru_entries\":{slots},\"lru_hit_rate\":{rate:.4}"
                    ));
                }
                _ => eprintln!("loadgen: no entry count from {}", args.stats_path),
            }
        }
        out.push('}');
        println!("{out}");
    });
}
