//! `loadgen`: a small HTTP/1.1 load generator for `bench/`. Keep-alive
//! connections (one per concurrency slot, `TCP_NODELAY`), the same POST body
//! every time, per-request latency in microseconds from just before the
//! request is written to the last byte of the response body. Prints JSON.
//!
//! It does not: speak TLS or HTTP/2, follow redirects, pace an open-loop
//! rate (the `closed` mode is closed-loop at fixed concurrency, so under
//! saturation it under-reports tail latency — coordinated omission), or
//! talk to anything but loopback (127.0.0.1, ::1, localhost): a benchmark
//! is never pointed at a real service by mistake.
//!
//! Modes:
//! - `interleave --target NAME=URL …`: one connection per target, requests
//!   sent in turn, one at a time (concurrency 1), the order rotated each
//!   round, so machine noise falls on every target alike.
//! - `closed --url URL --concurrency C --duration-ms D`: C connections,
//!   each sending back-to-back until D ms have passed after the warm-up.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

/// HTTP load generator for the benchmark harness (loopback only).
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Concurrency 1, alternating between targets request by request.
    Interleave {
        /// `NAME=URL`, repeated (URL: full `http://127.0.0.1:PORT/path`).
        #[arg(long = "target", required = true)]
        targets: Vec<String>,
        /// `NAME=VALUE`: Authorization header value for that target.
        #[arg(long = "auth")]
        auths: Vec<String>,
        /// File holding the POST body (JSON).
        #[arg(long)]
        body: PathBuf,
        /// Measured requests per target.
        #[arg(long, default_value_t = 2000)]
        n: usize,
        /// Unmeasured warm-up requests per target.
        #[arg(long, default_value_t = 200)]
        warmup: usize,
        /// Also write every measured latency (µs) per target to this file.
        #[arg(long)]
        raw_out: Option<PathBuf>,
    },
    /// Fixed concurrency, back-to-back requests for a fixed time.
    Closed {
        /// Full `http://127.0.0.1:PORT/path`.
        #[arg(long)]
        url: String,
        /// Authorization header value.
        #[arg(long)]
        auth: Option<String>,
        /// File holding the POST body (JSON).
        #[arg(long)]
        body: PathBuf,
        /// Connections, each with one request in flight.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Measured time.
        #[arg(long, default_value_t = 3000)]
        duration_ms: u64,
        /// Unmeasured time first.
        #[arg(long, default_value_t = 500)]
        warmup_ms: u64,
    },
}

/// A parsed loopback target.
#[derive(Debug, Clone)]
struct Target {
    uri: Uri,
    addr: String,
    auth: Option<String>,
    body: Bytes,
}

impl Target {
    fn new(url: &str, auth: Option<String>, body: Bytes) -> Result<Target, String> {
        let uri: Uri = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("{url}: only http:// is supported"));
        }
        let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !matches!(host, "127.0.0.1" | "::1" | "localhost") {
            return Err(format!("{url}: loopback only (127.0.0.1, ::1, localhost)"));
        }
        let port = uri.port_u16().unwrap_or(80);
        let addr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(Target {
            uri,
            addr,
            auth,
            body,
        })
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut b = Request::post(self.uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(
                http::header::HOST,
                self.uri.authority().map_or("", |a| a.as_str()),
            )
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json");
        if let Some(a) = &self.auth {
            b = b.header(http::header::AUTHORIZATION, a.as_str());
        }
        b.body(Full::new(self.body.clone()))
            .expect("a request from valid parts")
    }
}

/// One keep-alive connection; reconnects after an error.
struct Conn {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    fn new(target: Target) -> Conn {
        Conn {
            target,
            sender: None,
        }
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = TcpStream::connect(&self.target.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", self.target.addr))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// One request; `Ok(µs)` for a 200 with its whole body read.
    async fn once(&mut self) -> Result<u64, String> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected above");
        if sender.ready().await.is_err() {
            self.sender = None;
            return Err("connection closed".into());
        }
        let req = self.target.request();
        let start = Instant::now();
        let res = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                self.sender = None;
                return Err(format!("send: {e}"));
            }
        };
        let status = res.status();
        let body = match res.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                self.sender = None;
                return Err(format!("body: {e}"));
            }
        };
        let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        if status != http::StatusCode::OK {
            let snippet = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(format!("status {status}: {snippet}"));
        }
        Ok(us)
    }
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(mut lat: Vec<u64>, errors: usize, first_error: Option<String>, secs: f64) -> Value {
    lat.sort_unstable();
    let n = lat.len();
    let mean = if n == 0 {
        0.0
    } else {
        lat.iter().sum::<u64>() as f64 / n as f64
    };
    json!({
        "n": n,
        "errors": errors,
        "first_error": first_error,
        "seconds": secs,
        "rps": if secs > 0.0 { n as f64 / secs } else { 0.0 },
        "mean_us": mean.round(),
        "min_us": lat.first().copied().unwrap_or(0),
        "p50_us": pct(&lat, 50.0),
        "p90_us": pct(&lat, 90.0),
        "p99_us": pct(&lat, 99.0),
        "p999_us": pct(&lat, 99.9),
        "max_us": lat.last().copied().unwrap_or(0),
    })
}

fn split_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .ok_or_else(|| format!("`{s}`: expected NAME=VALUE"))
}

async fn interleave(
    targets: Vec<String>,
    auths: Vec<String>,
    body: Bytes,
    n: usize,
    warmup: usize,
    raw_out: Option<PathBuf>,
) -> Result<Value, String> {
    let auths: BTreeMap<String, String> = auths
        .iter()
        .map(|a| split_pair(a))
        .collect::<Result<_, _>>()?;
    let mut names = Vec::new();
    let mut conns = Vec::new();
    for t in &targets {
        let (name, url) = split_pair(t)?;
        let target = Target::new(&url, auths.get(&name).cloned(), body.clone())?;
        names.push(name);
        conns.push(Conn::new(target));
    }
    let k = conns.len();
    let mut lat: Vec<Vec<u64>> = vec![Vec::with_capacity(n); k];
    let mut errors = vec![0usize; k];
    let mut first_error: Vec<Option<String>> = vec![None; k];
    let mut busy = vec![Duration::ZERO; k];
    for round in 0..(warmup + n) {
        for j in 0..k {
            // Rotate the order each round: no target always goes first.
            let i = (round + j) % k;
            let t0 = Instant::now();
            let r = conns[i].once().await;
            if round >= warmup {
                busy[i] += t0.elapsed();
                match r {
                    Ok(us) => lat[i].push(us),
                    Err(e) => {
                        errors[i] += 1;
                        first_error[i].get_or_insert(e);
                    }
                }
            } else if let Err(e) = r {
                return Err(format!("{}: warm-up request failed: {e}", names[i]));
            }
        }
    }
    if let Some(path) = raw_out {
        let raw: serde_json::Map<String, Value> = names
            .iter()
            .zip(&lat)
            .map(|(name, l)| (name.clone(), json!(l)))
            .collect();
        std::fs::write(&path, Value::Object(raw).to_string())
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let mut out = serde_json::Map::new();
    for (i, name) in names.iter().enumerate() {
        out.insert(
            name.clone(),
            summary(
                std::mem::take(&mut lat[i]),
                errors[i],
                first_error[i].take(),
                busy[i].as_secs_f64(),
            ),
        );
    }
    Ok(json!({ "mode": "interleave", "concurrency": 1, "targets": out }))
}

async fn closed(
    target: Target,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
) -> Result<Value, String> {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let mut conn = Conn::new(target.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut first_error = None;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let r = conn.once().await;
                // Counted when sent inside the window, however late it ends:
                // a slow tail request is never dropped for finishing late.
                if sent >= measure_from {
                    match r {
                        Ok(us) => lat.push(us),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                        }
                    }
                } else if r.is_err() {
                    // Keep a failing target from spinning hot during warm-up.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let (l, e, f) = t.await.map_err(|e| format!("worker: {e}"))?;
        lat.extend(l);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    let mut s = summary(lat, errors, first_error, duration.as_secs_f64());
    s["mode"] = json!("closed");
    s["concurrency"] = json!(concurrency);
    Ok(s)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let read = |p: &PathBuf| -> Bytes {
        match std::fs::read(p) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                eprintln!("loadgen: {}: {e}", p.display());
                std::process::exit(2);
            }
        }
    };
    let result = match args.mode {
        Mode::Interleave {
            targets,
            auths,
            body,
            n,
            warmup,
            raw_out,
        } => interleave(targets, auths, read(&body), n, warmup, raw_out).await,
        Mode::Closed {
            url,
            auth,
            body,
            concurrency,
            duration_ms,
            warmup_ms,
        } => match Target::new(&url, auth, read(&body)) {
            Ok(t) => {
                closed(
                    t,
                    concurrency,
                    Duration::from_millis(duration_ms),
                    Duration::from_millis(warmup_ms),
                )
                .await
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(1);
        }
    }
}
