//! `mock-upstream`: the [`rempart_test::MockUpstream`] as a process, for
//! benchmarks and tests in other languages. Prints
//! `listening on http://127.0.0.1:PORT` on stdout once ready, then serves
//! until killed. Recording is off (memory stays flat under load), but
//! requests are counted: `GET /__requests/count` answers `{"count": N}`
//! (that route is not itself counted), so tests in other languages can
//! assert that an upstream was never contacted. With `--record`, requests
//! are also kept and `GET /__requests/bodies` answers their bodies (a JSON
//! array, arrival order) — for "no plaintext PII arrived" assertions.

#![forbid(unsafe_code)]

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use rempart_test::MockUpstream;

/// A mock OpenAI-compatible upstream.
#[derive(Debug, Parser)]
#[command(name = "mock-upstream", version)]
struct Args {
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Reply content of chat completions.
    #[arg(long)]
    reply: Option<String>,
    /// Milliseconds to wait before response headers.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Milliseconds between SSE events.
    #[arg(long, default_value_t = 0)]
    chunk_delay_ms: u64,
    /// Model named in responses (default: the request's).
    #[arg(long)]
    model: Option<String>,
    /// Reply with the last user message.
    #[arg(long)]
    echo: bool,
    /// Keep every request and serve their bodies at `GET /__requests/bodies`.
    #[arg(long)]
    record: bool,
    /// Stream replies in pieces of N characters (default: word by word).
    #[arg(long)]
    split_chars: Option<usize>,
    /// Embedding dimension.
    #[arg(long)]
    embedding_dims: Option<usize>,
    /// Fail every request with this HTTP status.
    #[arg(long)]
    status: Option<u16>,
    /// Answer chat completions with this tool call, `NAME:ARGS_JSON`
    /// (e.g. `get_weather:{"city":"Paris"}`); repeat for parallel calls.
    #[arg(long = "tool-call", value_name = "NAME:ARGS_JSON", value_parser = parse_tool_call)]
    tool_calls: Vec<(String, String)>,
}

/// `NAME:ARGS_JSON` → (name, arguments); the arguments must be JSON.
fn parse_tool_call(s: &str) -> Result<(String, String), String> {
    let (name, args) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}`: expected NAME:ARGS_JSON"))?;
    if name.is_empty() {
        return Err(format!("`{s}`: empty tool name"));
    }
    serde_json::from_str::<serde_json::Value>(args)
        .map_err(|e| format!("`{s}`: arguments are not JSON: {e}"))?;
    Ok((name.to_owned(), args.to_owned()))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut b = MockUpstream::builder()
        .addr(SocketAddr::new(args.host, args.port))
        .record(args.record)
        .count_route(true)
        .delay(Duration::from_millis(args.delay_ms))
        .chunk_delay(Duration::from_millis(args.chunk_delay_ms));
    if let Some(r) = args.reply {
        b = b.reply(r);
    }
    if let Some(m) = args.model {
        b = b.model(m);
    }
    if args.echo {
        b = b.echo();
    }
    if let Some(n) = args.split_chars {
        b = b.split_chars(n);
    }
    if let Some(d) = args.embedding_dims {
        b = b.embedding_dims(d);
    }
    for (name, arguments) in args.tool_calls {
        b = b.tool_call(name, arguments);
    }
    if let Some(s) = args.status {
        b = b.status(s);
    }
    let mock = match b.try_start().await {
        Ok(m) => m,
        Err(e) => {
            eprintln!(
                "mock-upstream: cannot listen on {}:{}: {e}",
                args.host, args.port
            );
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", mock.url());
    let _ = out.flush();
    drop(out);
    // Serve until killed.
    std::future::pending::<()>().await;
}
