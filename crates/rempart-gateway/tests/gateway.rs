//! The gateway as a user sees it: a real server on `127.0.0.1:0`, real HTTP,
//! recording mock upstreams (one integration binary, modules by purpose).

mod common;

/// Issue 6: encrypted collections and private RAG (eligibility inside the
/// retriever, refusal, citations, pseudonymised sources, deletion).
#[path = "gateway/collections.rs"]
mod collections;
/// Refusals and client errors: status, OpenAI error shape, no echoed values.
#[path = "gateway/errors.rs"]
mod errors;
/// Issue 4: the audit log read back, verified, and its residency report
/// against a ground truth.
#[path = "gateway/evidence.rs"]
mod evidence;
/// Issue 2 acceptance: faults on admitted EU deployments never spill to a
/// US deployment; the client gets a clear error or a terminal error event.
#[path = "gateway/fail_closed.rs"]
mod fail_closed;
/// Response headers and graceful shutdown.
#[path = "gateway/lifecycle.rs"]
mod lifecycle;
/// Issue 3: detector failure → refusal; placeholders upstream, values back;
/// special-category data in-tenancy.
#[path = "gateway/pii.rs"]
mod pii;
/// UK/EU separation under same-cluster residency; trusted region headers.
#[path = "gateway/residency.rs"]
mod residency;
/// Hybrid routing rules of an alias.
#[path = "gateway/routing.rs"]
mod routing;
/// SSE, usage chunk, tool calls, image parts, reasoning budget.
#[path = "gateway/streaming.rs"]
mod streaming;
/// Issue 5: the data-subject registry over HTTP.
#[path = "gateway/subjects.rs"]
mod subjects;
