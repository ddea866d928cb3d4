//! Rempart's HTTP server: an OpenAI-compatible API that routes every request
//! only to deployments its tenant's jurisdiction policy admits.
//!
//! - [`router`] assembles the layers and routes; the request path itself
//!   reads top to bottom in [`chat::chat`].
//! - [`config`] parses and validates `rempart.toml` purely;
//!   [`AppState::build`] does the I/O (secrets, store, engine, GeoIP).
//! - [`error::ApiError`] is the one mapping from failures to status codes and
//!   the OpenAI error shape.

pub mod audit;
pub mod chat;
pub mod collections;
pub mod config;
pub mod conversation;
mod embedded;
pub mod embedder;
pub mod error;
pub mod headers;
pub mod inspect;
pub mod linking;
pub mod metrics;
mod reidentify;
pub mod request;
mod state;
mod stream;
pub mod subjects;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderMap, HeaderValue, StatusCode};
use rempart_crypto::PresentedKey;
use rempart_policy::{RequestFacts, decide};
use rempart_upstream::wire::{ChatRequest, EmbeddingsRequest};
use serde_json::json;
use sha2::{Digest, Sha256};

pub use state::{AppState, Backend, BuildError, open_key_provider, open_store, run_health_checks};

use crate::chat::{ChatOutcome, ResponseMeta};
use crate::error::{ApiError, json_error};
use crate::headers::*;
use crate::request::{Principal, RegionSource, RequestCtx, locate};
use crate::telemetry::Trace;

/// The whole HTTP surface. Layers, outermost first:
/// 1. request id — every response carries `X-Rempart-Request-Id`;
/// 2. auth — on by default; only `/healthz`, `/readyz` and `/metrics` are open;
/// 3. body limit — larger bodies get 413 in the OpenAI error shape.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.server.max_body_bytes;
    let api = Router::new()
        .route("/v1/chat/completions", post(chat_handler))
        .route("/v1/embeddings", post(embeddings_handler))
        .route("/v1/models", get(models_handler))
        .route("/v1/subjects", post(subjects::add))
        .route("/v1/subjects/search", post(subjects::search))
        .route(
            "/v1/subjects/{id}",
            get(subjects::get).delete(subjects::erase),
        )
        .route("/v1/subjects/{id}/export", get(subjects::export))
        .route(
            "/v1/collections/{collection}/documents",
            post(collections::ingest).get(collections::list),
        )
        .route(
            "/v1/collections/{collection}/documents/{id}",
            axum::routing::delete(collections::delete),
        )
        .route(
            "/v1/collections/{collection}/search",
            post(collections::search),
        )
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .merge(api)
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// The request id, made once per request.
#[derive(Debug, Clone)]
struct RequestId(String, Instant);

async fn request_id(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::now_v7().to_string();
    req.extensions_mut()
        .insert(RequestId(id.clone(), Instant::now()));
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(X_REMPART_REQUEST_ID, v);
    }
    resp
}

/// Step 1 of the path: the bearer key → principal (tenant, key id).
async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned);
    let Some(token) = token else {
        return ApiError::Unauthorized.into_response();
    };
    match principal(&state, &token).await {
        Ok(Some(p)) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Ok(None) => ApiError::Unauthorized.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Look a key up, with a 30-second cache of successful lookups.
async fn principal(state: &AppState, token: &str) -> Result<Option<Principal>, ApiError> {
    const TTL: std::time::Duration = std::time::Duration::from_secs(30);
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    {
        let cache = state.key_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((rec, at)) = cache.get(&digest)
            && at.elapsed() < TTL
        {
            return Ok(Some(Principal {
                tenant: rec.tenant.clone(),
                key_id: rec.id.clone(),
                groups: rec.groups.clone(),
            }));
        }
    }
    let Some(presented) = PresentedKey::parse(token) else {
        return Ok(None);
    };
    let rec = state
        .store
        .authenticate(&presented)
        .await
        .map_err(|_| ApiError::Internal {
            what: "key store unavailable".into(),
        })?;
    let Some(rec) = rec else { return Ok(None) };
    if !state.config.tenants.contains_key(&rec.tenant) {
        return Ok(None);
    }
    let p = Principal {
        tenant: rec.tenant.clone(),
        key_id: rec.id.clone(),
        groups: rec.groups.clone(),
    };
    state
        .key_cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(digest, (rec, Instant::now()));
    Ok(Some(p))
}

pub(crate) fn context(state: &AppState, req_parts: &RequestParts) -> RequestCtx {
    let tenant = state.config.tenants.get(&req_parts.principal.tenant);
    let (region, region_source) = locate(
        &state.config,
        tenant,
        &req_parts.headers,
        req_parts.peer,
        state.geoip.as_ref(),
    );
    RequestCtx {
        request_id: req_parts.id.0.clone(),
        started: req_parts.id.1,
        ts: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        principal: req_parts.principal.clone(),
        region,
        region_source,
    }
}

/// What every API handler extracts.
pub(crate) struct RequestParts {
    id: RequestId,
    pub(crate) principal: Principal,
    headers: HeaderMap,
    peer: Option<std::net::IpAddr>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestParts {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let id = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(uuid::Uuid::now_v7().to_string(), Instant::now()));
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthorized)?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(RequestParts {
            id,
            principal,
            headers: parts.headers.clone(),
            peer,
        })
    }
}

/// Parse a JSON body, naming the offending field without quoting values.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<T, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::BadRequest {
                message: "could not read the request body".into(),
                param: None,
            }
        }
    })?;
    // The common case parses at full speed; only a body that fails is
    // parsed again, tracking the path, to name the offending field.
    if let Ok(v) = serde_json::from_slice(&body) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        json_error(&path, e.inner())
    })
}

async fn chat_handler(
    State(state): State<Arc<AppState>>,
    parts: RequestParts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let ctx = context(&state, &parts);
    let region = region_header(&ctx);
    let req: ChatRequest = match parse_body(body, state.config.server.max_body_bytes) {
        Ok(r) => r,
        Err(e) => return with_region(e.into_response(), &region),
    };
    let resp = match chat::chat(&state, ctx, req).await {
        Ok(ChatOutcome::Json(body, meta)) => {
            let mut resp = Response::new(Body::from(body));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            with_meta(resp, &meta)
        }
        Ok(ChatOutcome::Stream(rx, meta)) => {
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
            });
            let mut resp = Response::new(Body::from_stream(stream));
            let h = resp.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            h.insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            );
            with_meta(resp, &meta)
        }
        Err(e) => e.into_response(),
    };
    with_region(resp, &region)
}

fn region_header(ctx: &RequestCtx) -> String {
    match (ctx.region, ctx.region_source) {
        (Some(c), RegionSource::Pinned) => format!("{c}; source=pinned"),
        (Some(c), RegionSource::Header) => format!("{c}; source=header"),
        (Some(c), RegionSource::GeoIp) => format!("{c}; source=geoip"),
        _ => "unknown".into(),
    }
}

fn with_region(mut resp: Response, region: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(region) {
        resp.headers_mut().insert(X_REMPART_REGION, v);
    }
    resp
}

fn with_meta(mut resp: Response, meta: &ResponseMeta) -> Response {
    let h = resp.headers_mut();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    put(X_REMPART_DEPLOYMENT, &meta.deployment);
    put(X_REMPART_AUDIT_ID, &meta.audit_id);
    put(X_REMPART_PII, &meta.pii);
    put(X_REMPART_ROUTE, &meta.route);
    if !meta.warnings.is_empty() {
        put(X_REMPART_WARNING, &meta.warnings.join("; "));
    }
    resp
}

async fn embeddings_handler(
    State(state): State<Arc<AppState>>,
    parts: RequestParts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let ctx = context(&state, &parts);
    let region = region_header(&ctx);
    let resp = match embeddings(&state, ctx, body).await {
        Ok((body, meta)) => with_meta(Json(body).into_response(), &meta),
        Err(e) => e.into_response(),
    };
    with_region(resp, &region)
}

/// `POST /v1/embeddings`: the same policy path as chat, without
/// pseudonymisation (a vector of a pseudonymised text is worthless): texts
/// with personal data go only where the tenant admits personal data.
async fn embeddings(
    state: &Arc<AppState>,
    ctx: RequestCtx,
    body: Result<Bytes, BytesRejection>,
) -> Result<(serde_json::Value, ResponseMeta), ApiError> {
    let req: EmbeddingsRequest = parse_body(body, state.config.server.max_body_bytes)?;
    let mut rec = ctx.audit_draft(&state.config, "embeddings", &req.model);
    let mut trace = Trace::default();
    let result = embeddings_steps(state, &ctx, &req, &mut rec, &mut trace).await;
    rec.latency_ms = ctx.started.elapsed().as_millis() as u64;
    match &result {
        Ok(_) => rec.outcome = rempart_audit::Outcome::Served,
        Err(e) => {
            rec.outcome = chat::outcome_of(e);
            rec.error_code = Some(e.code().to_owned());
        }
    }
    chat::record(state, &ctx, rec, &trace).await?;
    result
}

async fn embeddings_steps(
    state: &Arc<AppState>,
    ctx: &RequestCtx,
    req: &EmbeddingsRequest,
    rec: &mut rempart_audit::AuditRecord,
    trace: &mut Trace,
) -> Result<(serde_json::Value, ResponseMeta), ApiError> {
    let tenant = state
        .config
        .tenants
        .get(&ctx.principal.tenant)
        .ok_or(ApiError::Unauthorized)?;
    let route = state
        .config
        .aliases
        .get(&req.model)
        .ok_or_else(|| ApiError::ModelNotFound {
            model: req.model.clone(),
        })?;
    let texts = req.texts();
    // Step 3. Vectors of pseudonymised text are worthless, so texts are not
    // pseudonymised: their sensitivity restricts where they may go instead.
    let t_inspect = Instant::now();
    let inspection =
        inspect::inspect_texts(&texts, state.inspector.as_ref(), state.config.pii_budget)?;
    trace.inspected(t_inspect);
    rec.pii_counts = inspection.counts_by_name();
    rec.sensitivity = inspection.sensitivity.as_str().into();
    // Step 5.
    let candidates = state.config.candidates(&route.candidates, |d| d.embeddings);
    if candidates.is_empty() {
        return Err(ApiError::BadRequest {
            message: format!(
                "model `{}` has no deployment serving embeddings (set `embeddings = true`)",
                req.model
            ),
            param: Some("model".into()),
        });
    }
    let facts = RequestFacts {
        region: ctx.region,
        sensitivity: inspection.sensitivity,
    };
    let decision = decide(&facts, &tenant.policy, &candidates, route.strategy, |id| {
        state.health(id)
    });
    rec.decision = chat::decision_record("default", &decision);
    chat::refusal(&decision, &req.model, &ctx.principal.tenant)?;
    let mut failures = Vec::new();
    for admitted in decision.admitted() {
        rec.decision.attempted.push(admitted.id().0.clone());
        let t0 = Instant::now();
        let result = match state.backends.get(admitted.id()) {
            Some(Backend::Http(ep)) => state
                .client
                .embeddings(admitted, ep, req)
                .await
                .map(|r| serde_json::to_value(r).unwrap_or_default()),
            Some(Backend::Embedded(engine)) => {
                let texts: Vec<String> = texts.iter().map(|s| (*s).to_owned()).collect();
                embedded::embeddings(engine.clone(), texts, &admitted.id().0).await.map(|(vecs, tokens, model)| {
                    json!({
                        "object": "list",
                        "data": vecs.iter().enumerate().map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v})).collect::<Vec<_>>(),
                        "model": model,
                        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                    })
                })
            }
            None => continue,
        };
        trace.attempt(
            &admitted.id().0,
            t0,
            result.as_ref().err().map(chat::upstream_error_code),
        );
        match result {
            Ok(body) => {
                if let Some(b) = state.breakers.get(admitted.id()) {
                    b.success(t0.elapsed());
                }
                chat::describe_deployment(state, admitted, rec);
                rec.tokens_in = body
                    .pointer("/usage/prompt_tokens")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                chat::price(state, rec);
                let meta = ResponseMeta {
                    deployment: admitted.id().0.clone(),
                    audit_id: ctx.request_id.clone(),
                    warnings: Vec::new(),
                    pii: inspection.header_value(),
                    route: "default".into(),
                };
                return Ok((body, meta));
            }
            Err(e) => {
                if e.counts_as_failure()
                    && let Some(b) = state.breakers.get(admitted.id())
                {
                    b.failure(Instant::now());
                }
                let retry = e.is_retryable();
                failures.push(e);
                if !retry {
                    break;
                }
            }
        }
    }
    Err(ApiError::Upstream { failures })
}

/// `GET /v1/models`: the aliases this tenant can call.
async fn models_handler(State(state): State<Arc<AppState>>) -> Response {
    let data: Vec<_> = state
        .config
        .aliases
        .keys()
        .map(|name| json!({"id": name, "object": "model", "created": 0, "owned_by": "rempart"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

/// `GET /metrics`: Prometheus text exposition (0.0.4), or OpenMetrics when
/// the scraper accepts it.
async fn metrics_handler(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let om = state.auditor.metrics.render(&state.breakers);
    let wants_om = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let (content_type, body) = if wants_om {
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            om,
        )
    } else {
        (
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::openmetrics_to_prometheus_text(&om),
        )
    };
    ([(http::header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `GET /readyz`: ready when at least one deployment is up.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let mut up = 0;
    let deployments: serde_json::Map<String, serde_json::Value> = state
        .breakers
        .iter()
        .map(|(id, b)| {
            let st = b.state(Instant::now());
            if st != rempart_upstream::BreakerState::Open {
                up += 1;
            }
            (id.0.clone(), json!(format!("{st:?}").to_lowercase()))
        })
        .collect();
    let status = if up > 0 {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"ready": up > 0, "deployments": deployments})),
    )
        .into_response()
}

/// Apply audit retention once an hour.
async fn run_retention(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let st = state.clone();
        let _ =
            tokio::task::spawn_blocking(move || st.auditor.prune(st.config.audit.retention)).await;
    }
}

/// Serve until `shutdown` resolves; in-flight requests finish, then the
/// tracked background work (audit records, stream pumps) completes.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let background = Background::start(&state);
    serve_connections(state.clone(), listener, shutdown).await?;
    background.finish(state).await;
    Ok(())
}

/// Thread-per-core serving: one thread per listener (bound to the same
/// address with `SO_REUSEPORT`, so the kernel spreads connections), each
/// with a single-threaded event loop and its own upstream connection pool.
/// A request is read, inspected, forwarded, recorded and answered on the
/// thread that accepted it: no hand-off between worker threads, whose
/// wake-ups dominated the gateway's added latency on small machines.
/// Background work (health probes, retention) stays on the caller's
/// runtime. Returns once `shutdown` resolved and every thread drained.
pub async fn serve_threads(
    state: Arc<AppState>,
    listeners: Vec<std::net::TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let background = Background::start(&state);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut threads = Vec::with_capacity(listeners.len());
    for (i, listener) in listeners.into_iter().enumerate() {
        let state = state.clone();
        let mut stopped = stopped.clone();
        let thread = std::thread::Builder::new()
            .name(format!("rempart-serve-{i}"))
            .spawn(move || -> std::io::Result<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    if let Err(e) = state.client.use_pool_per_thread() {
                        tracing::warn!(error = %e, "Serving thread shares the upstream pool.");
                    }
                    listener.set_nonblocking(true)?;
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    let signal = async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    };
                    serve_connections(state.clone(), listener, signal).await?;
                    // Stream pumps run on this thread's loop: keep it
                    // turning until every tracked task is done.
                    state.tracker.close();
                    state.tracker.wait().await;
                    Ok(())
                })
            })?;
        threads.push(thread);
    }
    shutdown.await;
    let _ = stop.send(true);
    let mut result = Ok(());
    for t in threads {
        let joined = tokio::task::spawn_blocking(move || t.join()).await;
        match joined {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => result = Err(e),
            _ => result = Err(std::io::Error::other("a serving thread panicked")),
        }
    }
    background.finish(state).await;
    result
}

/// Accept and serve connections on one listener until `shutdown`.
async fn serve_connections(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    // TCP_NODELAY: a response is written whole; never hold it for Nagle.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "Cannot set TCP_NODELAY.");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Health probes and retention, for the life of the server.
struct Background {
    health: tokio::task::JoinHandle<()>,
    retention: tokio::task::JoinHandle<()>,
}

impl Background {
    fn start(state: &Arc<AppState>) -> Background {
        Background {
            health: tokio::spawn(run_health_checks(state.clone())),
            retention: tokio::spawn(run_retention(state.clone())),
        }
    }

    /// After the last connection: the tracked work completes, a final
    /// checkpoint is signed, queued spans are exported, the store closes.
    async fn finish(self, state: Arc<AppState>) {
        state.tracker.close();
        state.tracker.wait().await;
        self.health.abort();
        self.retention.abort();
        let st = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            st.auditor.checkpoint();
            // Export the spans still queued.
            st.telemetry.shutdown();
        })
        .await;
        state.store.close().await;
    }
}
