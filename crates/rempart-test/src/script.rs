//! What the mock answers: the script, and the builder that writes it.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::MockUpstream;

/// Content of the reply when nothing else is scripted.
pub const DEFAULT_REPLY: &str = "Hello from the mock upstream.";
/// Dimension of embedding vectors when nothing else is scripted.
pub const DEFAULT_EMBEDDING_DIMS: usize = 8;

/// One tool call the mock answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// Function name.
    pub name: String,
    /// Arguments, as the JSON text OpenAI sends (a string, not an object).
    pub arguments: String,
}

/// The scripted behaviour; shared by all requests, swapped whole by `set_*`.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    pub reply: Option<String>,
    pub chunks: Option<Vec<String>>,
    pub split_chars: Option<usize>,
    pub tool_calls: Vec<ToolCall>,
    pub status: Option<u16>,
    pub delay: Duration,
    pub chunk_delay: Duration,
    pub stream_break_after: Option<usize>,
    pub model: Option<String>,
    pub usage: Option<(u64, u64)>,
    pub echo: bool,
    pub embedding_dims: usize,
    pub raw_json: Option<String>,
    pub raw_sse: Option<String>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            reply: None,
            chunks: None,
            split_chars: None,
            tool_calls: Vec::new(),
            status: None,
            delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            stream_break_after: None,
            model: None,
            usage: None,
            echo: false,
            embedding_dims: DEFAULT_EMBEDDING_DIMS,
            raw_json: None,
            raw_sse: None,
        }
    }
}

/// Builds a [`MockUpstream`]; every setting has a default, so
/// `MockUpstream::builder().start().await` is a working OpenAI upstream.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `.start().await`"]
pub struct MockUpstreamBuilder {
    pub(crate) script: Script,
    pub(crate) status_sequence: Vec<u16>,
    pub(crate) record: bool,
    pub(crate) addr: SocketAddr,
    pub(crate) count_route: bool,
}

impl Default for MockUpstreamBuilder {
    fn default() -> Self {
        MockUpstreamBuilder {
            script: Script::default(),
            status_sequence: Vec::new(),
            record: true,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            count_route: false,
        }
    }
}

impl MockUpstreamBuilder {
    /// Reply content of chat completions (default [`DEFAULT_REPLY`]).
    pub fn reply(mut self, text: impl Into<String>) -> Self {
        self.script.reply = Some(text.into());
        self
    }

    /// Content deltas of streamed replies, sent one per SSE event. Without
    /// `.reply(..)`, non-streamed replies carry their concatenation.
    pub fn stream<S: Into<String>>(mut self, chunks: impl IntoIterator<Item = S>) -> Self {
        self.script.chunks = Some(chunks.into_iter().map(Into::into).collect());
        self
    }

    /// When the mock splits content into deltas itself (a `.reply(..)` or
    /// `.echo()` streamed without `.stream(..)`), cut it every `n` characters
    /// instead of after each word: placeholders then straddle events.
    pub fn split_chars(mut self, n: usize) -> Self {
        self.script.split_chars = Some(n.max(1));
        self
    }

    /// Answer with a tool call (may be called several times for parallel
    /// calls); streamed, its arguments arrive as several deltas. Tool calls
    /// take precedence: the reply then has `content: null`.
    pub fn tool_call(mut self, name: impl Into<String>, arguments_json: impl Into<String>) -> Self {
        self.script.tool_calls.push(ToolCall {
            name: name.into(),
            arguments: arguments_json.into(),
        });
        self
    }

    /// Every request fails with this status and an OpenAI-shaped error body,
    /// the probe routes (`/health`, `…/models`, …) included.
    pub fn status(mut self, status: u16) -> Self {
        self.script.status = Some(status);
        self
    }

    /// Statuses of the next inference requests (chat, embeddings), one each,
    /// in order; `200` means "answer normally". Once used up, `.status(..)`
    /// or success applies. Probe routes do not consume it.
    pub fn status_sequence(mut self, statuses: impl IntoIterator<Item = u16>) -> Self {
        self.status_sequence = statuses.into_iter().collect();
        self
    }

    /// Wait this long before sending response headers (inference routes).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.script.delay = delay;
        self
    }

    /// Send `n` SSE events (the role delta counts), then drop the connection
    /// without `data: [DONE]` (the response body ends in an error, as when an
    /// upstream dies mid-stream). Non-streamed replies are not affected.
    pub fn stream_break_after(mut self, n: usize) -> Self {
        self.script.stream_break_after = Some(n);
        self
    }

    /// Wait this long before each SSE event after the first.
    pub fn chunk_delay(mut self, delay: Duration) -> Self {
        self.script.chunk_delay = delay;
        self
    }

    /// Model named in responses (default: the request's `model`, else `mock-model`).
    pub fn model(mut self, name: impl Into<String>) -> Self {
        self.script.model = Some(name.into());
        self
    }

    /// Token counts reported in `usage` (default: word counts).
    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        self.script.usage = Some((prompt_tokens, completion_tokens));
        self
    }

    /// Reply with the text of the last user message, so a test sees what the
    /// upstream received and can round-trip placeholders.
    pub fn echo(mut self) -> Self {
        self.script.echo = true;
        self
    }

    /// Answer non-streamed chat completions with this body, verbatim
    /// (`application/json`), instead of a generated one: replays a
    /// provider's recorded response, quirks included.
    pub fn raw_json(mut self, body: impl Into<String>) -> Self {
        self.script.raw_json = Some(body.into());
        self
    }

    /// Answer streamed chat completions with this SSE transcript, verbatim
    /// (`text/event-stream`), instead of generated events. It is sent one
    /// event (blank-line separated block) at a time, so `.chunk_delay(..)`
    /// and `.stream_break_after(..)` apply; nothing is added, not even
    /// `data: [DONE]`.
    pub fn raw_sse(mut self, transcript: impl Into<String>) -> Self {
        self.script.raw_sse = Some(transcript.into());
        self
    }

    /// Dimension of embedding vectors (default [`DEFAULT_EMBEDDING_DIMS`]).
    pub fn embedding_dims(mut self, n: usize) -> Self {
        self.script.embedding_dims = n;
        self
    }

    /// Keep (default) or skip the copy of each request; counting goes on
    /// either way. Benchmarks turn it off to keep memory flat.
    pub fn record(mut self, on: bool) -> Self {
        self.record = on;
        self
    }

    /// Also answer `GET /__requests/count` with `{"count": N}`, N as
    /// [`MockUpstream::request_count`] (that route is not itself counted):
    /// tests in other languages, which drive the `mock-upstream` process,
    /// assert "never contacted" through it. Off by default.
    pub fn count_route(mut self, on: bool) -> Self {
        self.count_route = on;
        self
    }

    /// Listen here instead of `127.0.0.1:0`.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Bind and serve in a background task of the current tokio runtime.
    ///
    /// # Panics
    /// If the address cannot be bound (tests want a panic, not a `Result`);
    /// use [`MockUpstreamBuilder::try_start`] to handle it.
    pub async fn start(self) -> MockUpstream {
        let addr = self.addr;
        match self.try_start().await {
            Ok(mock) => mock,
            Err(e) => panic!("mock upstream: cannot bind {addr}: {e}"),
        }
    }

    /// Like [`MockUpstreamBuilder::start`], returning the bind error.
    pub async fn try_start(self) -> std::io::Result<MockUpstream> {
        MockUpstream::spawn(self).await
    }
}
