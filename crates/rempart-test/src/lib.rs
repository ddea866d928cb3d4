//! Test helpers: a recording mock upstream speaking the OpenAI API.
//!
//! [`MockUpstream`] is a real axum server on `127.0.0.1:0` that answers like
//! an OpenAI-compatible provider — chat completions (JSON and SSE), tool
//! calls, embeddings, model lists and health probes — under any path prefix
//! (`/v1/…`, Azure's `/openai/deployments/{dep}/…?api-version=…`, Scaleway's
//! `/{project}/v1/…`). It records every request, so a test can assert that
//! an upstream was never contacted, or that no plaintext PII reached it.
//!
//! It does not: check authentication, validate request schemas beyond "is
//! it JSON", speak TLS or HTTP/2, or log anything. It is scripted, not
//! smart: the answer depends on the script, except for `.echo()`.
//!
//! Scripted behaviour (`.status`, `.status_sequence`, `.delay`) applies to
//! the inference routes (`…/chat/completions`, `…/embeddings`); the probe
//! routes (`…/models`, `/health`, `/healthz`, `/api/tags`) answer 200 unless
//! `.status(..)` / [`MockUpstream::set_status`] makes the whole upstream fail.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use rempart_test::MockUpstream;
//!
//! let mock = MockUpstream::builder().reply("Bonjour").start().await;
//! let base = mock.url(); // http://127.0.0.1:PORT — point a client at it.
//! assert!(base.starts_with("http://127.0.0.1:"));
//! assert_eq!(mock.request_count(), 0); // never contacted
//! # }
//! ```
//!
//! The same server runs as a process, `mock-upstream --port 0 --reply …`,
//! for benchmarks and tests in other languages; it prints
//! `listening on http://127.0.0.1:PORT` once ready.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod record;
mod script;
mod server;
mod wire;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use server::{Shared, lock};

/// Install rustls' ring provider for this process. The workspace builds
/// reqwest with `rustls-no-provider` (one TLS provider everywhere), so a test
/// that builds a `reqwest::Client` calls this first. Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

// The public interface is:
pub use record::RecordedRequest;
pub use script::{DEFAULT_EMBEDDING_DIMS, DEFAULT_REPLY, MockUpstreamBuilder, ToolCall};

/// A running mock upstream; stops serving when dropped.
#[derive(Debug)]
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockUpstream {
    /// A builder with the defaults: 200, [`DEFAULT_REPLY`], no delay, recording on.
    pub fn builder() -> MockUpstreamBuilder {
        MockUpstreamBuilder::default()
    }

    /// Shorthand for `MockUpstream::builder().start().await`.
    pub async fn start() -> MockUpstream {
        Self::builder().start().await
    }

    pub(crate) async fn spawn(b: MockUpstreamBuilder) -> std::io::Result<MockUpstream> {
        let listener = tokio::net::TcpListener::bind(b.addr).await?;
        let addr = listener.local_addr()?;
        // Small SSE writes must not wait on Nagle: benchmarks time them.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let shared = Arc::new(Shared::new(
            b.script,
            b.status_sequence,
            b.record,
            b.count_route,
        ));
        let app = Router::new()
            .fallback(server::handle)
            .with_state(Arc::clone(&shared));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // Graceful: on shutdown the listener closes at once and idle
            // keep-alive connections are closed, so pooled clients see a
            // dead upstream; in-flight responses finish.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(MockUpstream {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received since start or [`MockUpstream::reset`], in
    /// order (empty if recording is off).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The recorded chat completion requests only (no probes).
    pub fn chat_requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.is_chat())
            .cloned()
            .collect()
    }

    /// The last recorded request.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.shared.requests).last().cloned()
    }

    /// How many requests arrived (any route; counted even when recording is off).
    pub fn request_count(&self) -> usize {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// Whether any recorded request body contains `needle` (raw or
    /// JSON-unescaped) — for "no plaintext PII arrived" assertions.
    pub fn received(&self, needle: &str) -> bool {
        lock(&self.shared.requests)
            .iter()
            .any(|r| r.contains(needle))
    }

    /// Wait until at least `n` requests have arrived, polling every 5 ms;
    /// `false` on timeout. For work the gateway does in the background.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.request_count() >= n {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Forget recorded requests and zero the count; the script stays.
    pub fn reset(&self) {
        lock(&self.shared.requests).clear();
        self.shared.count.store(0, Ordering::SeqCst);
    }

    fn update(&self, f: impl FnOnce(&mut script::Script)) {
        let mut guard = lock(&self.shared.script);
        let mut s = (**guard).clone();
        f(&mut s);
        *guard = Arc::new(s);
    }

    /// Make every request fail with `status` (`Some`), or heal (`None`).
    pub fn set_status(&self, status: Option<u16>) {
        self.update(|s| s.status = status);
    }

    /// Replace the remaining per-request status sequence.
    pub fn set_status_sequence(&self, statuses: impl IntoIterator<Item = u16>) {
        *lock(&self.shared.sequence) = statuses.into_iter().collect::<VecDeque<_>>();
    }

    /// Change the delay before headers.
    pub fn set_delay(&self, delay: Duration) {
        self.update(|s| s.delay = delay);
    }

    /// Change the reply content.
    pub fn set_reply(&self, text: impl Into<String>) {
        let text = text.into();
        self.update(|s| s.reply = Some(text));
    }

    /// Turn request recording on or off.
    pub fn set_record(&self, on: bool) {
        self.shared.record.store(on, Ordering::Relaxed);
    }

    /// Stop accepting, close idle connections, and wait (up to 5 s) for
    /// in-flight responses to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
