//! The harness of the gateway's behaviour tests: a real gateway on
//! `127.0.0.1:0`, built in-process from a TOML text whose deployments point
//! at [`rempart_test::MockUpstream`]s, driven over HTTP with reqwest.
//!
//! - [`Toml`] writes a `rempart.toml` (deployments with declared facts,
//!   aliases, tenants) so each test states only what it is about;
//! - [`Gateway`] starts the server with one API key per tenant and stops it
//!   through the same graceful-shutdown path `rempart serve` uses;
//! - a few readers of what a client sees: OpenAI error bodies, SSE events.

#![allow(dead_code)] // each test module uses a different part of the harness

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rempart_gateway::config::{Config, Overrides};
use rempart_gateway::inspect::{Inspector, PiiInspector};
use rempart_gateway::{AppState, serve};
use rempart_test::MockUpstream;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The tenant every [`Gateway::start`] key acts for, unless told otherwise.
pub const TENANT: &str = "acme";

// === Toml ===

/// One `[deployments.<id>]` table: kind, URL, model, declared facts.
#[derive(Debug, Clone)]
pub struct Dep {
    kind: String,
    base_url: String,
    model: String,
    operator: String,
    operator_country: String,
    parent: String,
    dc_country: String,
    hosting: String,
    extra: Vec<String>,
}

impl Dep {
    /// A self-hosted (`in_tenancy`) OpenAI-compatible server in `dc_country`,
    /// run by the organisation itself, answering at `mock`.
    pub fn in_tenancy(mock: &MockUpstream, dc_country: &str) -> Dep {
        Dep {
            kind: "openai_compat".into(),
            base_url: format!("{}/v1", mock.url()),
            model: "served-model".into(),
            operator: "ACME IT".into(),
            operator_country: dc_country.into(),
            parent: dc_country.into(),
            dc_country: dc_country.into(),
            hosting: "in_tenancy".into(),
            extra: Vec::new(),
        }
    }

    /// A self-hosted deployment in Paris.
    pub fn eu(mock: &MockUpstream) -> Dep {
        Dep::in_tenancy(mock, "FR")
    }

    /// A managed API of a US operator in a US data centre: CLOUD-Act
    /// exposed, outside every European cluster — the deployment a European
    /// tenant's request must never reach.
    pub fn us(mock: &MockUpstream) -> Dep {
        Dep {
            kind: "openai_compat".into(),
            base_url: format!("{}/v1", mock.url()),
            model: "us-model".into(),
            operator: "Hyperscale Inc.".into(),
            operator_country: "US".into(),
            parent: "US".into(),
            dc_country: "US".into(),
            hosting: "managed".into(),
            extra: Vec::new(),
        }
    }

    /// A managed EU API (kind `mistral`): EU operator with an EU parent, EU
    /// data centre, no retention, DPA signed — tier `eu_sovereign`, which
    /// sees direct identifiers only as placeholders.
    pub fn eu_sovereign(mock: &MockUpstream) -> Dep {
        Dep {
            kind: "mistral".into(),
            base_url: format!("{}/v1", mock.url()),
            model: "mistral-small-latest".into(),
            operator: "Mistral AI".into(),
            operator_country: "FR".into(),
            parent: "FR".into(),
            dc_country: "FR".into(),
            hosting: "managed".into(),
            extra: vec!["api_key = \"env:MISTRAL_API_KEY\"".into()],
        }
    }

    /// The operator's name (its country stays).
    pub fn operator(mut self, name: &str) -> Dep {
        self.operator = name.into();
        self
    }

    /// Upstream kind (`vllm`, `tgi`, `mistral`, ...).
    pub fn kind(mut self, kind: &str) -> Dep {
        self.kind = kind.into();
        self
    }

    /// Time to response headers.
    pub fn timeout_ms(self, ms: u64) -> Dep {
        self.set(&format!("timeout_ms = {ms}"))
    }

    /// Any other `key = value` line of the deployment table.
    pub fn set(mut self, line: &str) -> Dep {
        self.extra.push(line.into());
        self
    }

    fn write(&self, id: &str, out: &mut String) {
        let Dep {
            kind,
            base_url,
            model,
            operator,
            operator_country,
            parent,
            dc_country,
            hosting,
            extra,
        } = self;
        out.push_str(&format!(
            "[deployments.{id}]\nkind = \"{kind}\"\nbase_url = \"{base_url}\"\nmodel = \"{model}\"\n"
        ));
        for line in extra {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&format!(
            "[deployments.{id}.facts]\noperator = \"{operator}\"\noperator_country = \"{operator_country}\"\n\
             parent_jurisdiction = \"{parent}\"\ndc_country = \"{dc_country}\"\nhosting = \"{hosting}\"\n\
             retention_days = 0\ndpa_signed = true\ntrained_by = \"Mistral AI\"\nlicence = \"Apache-2.0\"\n\n"
        ));
    }
}

/// A `rempart.toml`, written table by table.
#[derive(Debug, Clone, Default)]
pub struct Toml {
    server: Vec<String>,
    deployments: Vec<(String, Dep)>,
    aliases: Vec<String>,
    tenants: Vec<String>,
    tables: Vec<String>,
}

impl Toml {
    /// An empty configuration (add deployments, aliases, tenants).
    pub fn new() -> Toml {
        Toml::default()
    }

    /// A `[server]` line, e.g. `max_body_bytes = 2048`.
    pub fn server(mut self, line: &str) -> Toml {
        self.server.push(line.into());
        self
    }

    /// A deployment.
    pub fn deployment(mut self, id: &str, dep: Dep) -> Toml {
        self.deployments.push((id.into(), dep));
        self
    }

    /// An alias with its candidates in priority order.
    pub fn alias(self, name: &str, candidates: &[&str]) -> Toml {
        let list = quoted(candidates);
        self.alias_raw(&format!("[aliases.{name}]\ncandidates = [{list}]\n"))
    }

    /// An alias written by hand (for routing rules).
    pub fn alias_raw(mut self, text: &str) -> Toml {
        self.aliases.push(text.into());
        self
    }

    /// A tenant: `body` is the TOML under `[tenants.<id>]` (may hold a
    /// `[tenants.<id>.policy]` table).
    pub fn tenant(mut self, id: &str, body: &str) -> Toml {
        self.tenants.push(format!("[tenants.{id}]\n{body}\n"));
        self
    }

    /// Any other table, written as is (e.g. `[retrieval]`).
    pub fn table(mut self, text: &str) -> Toml {
        self.tables.push(text.into());
        self
    }

    /// The default tenant [`TENANT`]: pinned to France, strict European
    /// default policy (EU-GDPR only, no CLOUD Act, sovereign tiers).
    pub fn default_tenant(self) -> Toml {
        self.tenant(TENANT, "region = \"FR\"")
    }

    /// The text.
    pub fn build(&self) -> String {
        let mut out = String::from("[server]\n");
        for line in &self.server {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        for (id, dep) in &self.deployments {
            dep.write(id, &mut out);
        }
        for a in &self.aliases {
            out.push_str(a);
            out.push('\n');
        }
        for t in self.tenants.iter().chain(&self.tables) {
            out.push_str(t);
            out.push('\n');
        }
        out
    }
}

/// `"a", "b"` for a TOML array.
pub fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

// === Gateway ===

/// A running gateway.
pub struct Gateway {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// An API key of [`TENANT`] (or of the first tenant asked for).
    pub key: String,
    keys: BTreeMap<String, String>,
    /// The gateway's store (to create keys with groups).
    store: rempart_store::Store,
    /// The HTTP client tests drive it with.
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    data_dir: Option<tempfile::TempDir>,
}

impl Gateway {
    /// Start on `toml` with a key for [`TENANT`].
    pub async fn start(toml: &str) -> Gateway {
        Gateway::start_with_keys(toml, &[TENANT]).await
    }

    /// Start on `toml` with one key per listed tenant; [`Gateway::key`] is
    /// the first one's.
    pub async fn start_with_keys(toml: &str, tenants: &[&str]) -> Gateway {
        Gateway::start_with_inspector(toml, tenants, Arc::new(PiiInspector::new())).await
    }

    /// Start with a given personal-data inspector (fault injection).
    pub async fn start_with_inspector(
        toml: &str,
        tenants: &[&str],
        inspector: Arc<dyn Inspector>,
    ) -> Gateway {
        let dir = tempfile::tempdir().expect("temp data dir");
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().display().to_string()),
        };
        let config = match Config::from_toml(toml, &overrides) {
            Ok(c) => c,
            Err(errors) => {
                let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
                panic!("test config is invalid:\n{}\n---\n{toml}", all.join("\n"));
            }
        };
        // Secrets are references; in tests every one resolves to a dummy.
        let env = |_: &str| Some("test-secret".to_owned());
        let state = AppState::build(config, &env, inspector)
            .await
            .unwrap_or_else(|e| panic!("cannot build the gateway: {e}"));
        let mut keys = BTreeMap::new();
        for t in tenants {
            let key = state
                .store
                .create_key(t, Some("test"))
                .await
                .expect("create key");
            keys.insert((*t).to_owned(), key.reveal());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let store = state.store.clone();
        let task = tokio::spawn(serve(Arc::new(state), listener, async {
            let _ = rx.await;
        }));
        Gateway {
            url,
            key: keys[tenants[0]].clone(),
            keys,
            store,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            shutdown: Some(tx),
            task: Some(task),
            data_dir: Some(dir),
        }
    }

    /// A new API key of `tenant` whose callers belong to `groups`.
    pub async fn key_with_groups(&self, tenant: &str, groups: &[&str]) -> String {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        self.store
            .create_key_with_groups(tenant, Some("test"), &groups)
            .await
            .expect("create key")
            .reveal()
    }

    /// The gateway's store (another process on the same database).
    pub fn store(&self) -> &rempart_store::Store {
        &self.store
    }

    /// Register a data subject (`POST /v1/subjects`, must answer 201);
    /// returns its id.
    pub async fn register_subject(&self, profile: &Value) -> String {
        let resp = self
            .post("/v1/subjects")
            .json(profile)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let created: Value = resp.json().await.expect("JSON body");
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().expect("an id").to_owned()
    }

    /// Erase a data subject (`DELETE /v1/subjects/{id}`): asserts 200 and a
    /// receipt with nothing remaining; returns the receipt.
    pub async fn erase_subject(&self, id: &str) -> Value {
        let resp = self
            .delete_as(&self.key, &format!("/v1/subjects/{id}"))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let receipt: Value = resp.json().await.expect("JSON body");
        assert_eq!(status, 200, "{receipt}");
        assert!(
            receipt["remaining"]
                .as_object()
                .expect("remaining counts")
                .values()
                .all(|v| v == 0),
            "{receipt}"
        );
        receipt
    }

    /// `DELETE path` with `key`.
    pub fn delete_as(&self, key: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .delete(format!("{}{path}", self.url))
            .bearer_auth(key)
    }

    /// `GET path` with `key`.
    pub fn get_as(&self, key: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(key)
    }

    /// The API key of `tenant` (started with [`Gateway::start_with_keys`]).
    pub fn key_of(&self, tenant: &str) -> &str {
        &self.keys[tenant]
    }

    /// `POST path` with the default key.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.post_as(&self.key, path)
    }

    /// `POST path` with `key` (any text: tests send bad ones too).
    pub fn post_as(&self, key: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(key)
    }

    /// `GET path` with the default key.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
    }

    /// A chat completion request with `body`, not yet sent (add headers).
    pub fn chat_request(&self, body: &Value) -> reqwest::RequestBuilder {
        self.post("/v1/chat/completions").json(body)
    }

    /// Send a chat completion with the default key.
    pub async fn chat(&self, body: &Value) -> reqwest::Response {
        self.chat_request(body)
            .send()
            .await
            .expect("gateway reachable")
    }

    /// Ask the server to stop (as SIGTERM does); in-flight requests finish.
    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Stop and wait for `serve` to return.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.trigger_shutdown();
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve task not panicked")
    }
}

impl Gateway {
    /// The data directory (audit log in `audit/`, master key in `keys/`).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data_dir
            .as_ref()
            .expect("data directory kept until the gateway is dropped")
            .path()
            .to_owned()
    }

    /// Stop (as [`Gateway::stop`]) and keep the data directory, so the
    /// audit log can be read back once every record is durable.
    pub async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        let dir = self.data_dir.take().expect("data directory");
        self.stop().await.expect("serve returns cleanly");
        dir
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.trigger_shutdown();
    }
}

// === What a client sees ===

/// A chat body: `model`, one user message.
pub fn chat_body(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// The same, streamed.
pub fn stream_body(model: &str, text: &str) -> Value {
    json!({"model": model, "stream": true, "messages": [{"role": "user", "content": text}]})
}

/// A response header as text (panics with the header list if absent).
pub fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no `{name}` header; got {:?}", resp.headers()))
}

/// Assert an OpenAI-shaped error with this status and `code`; returns the
/// `error` object.
pub async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    let got = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "status; body: {text}");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {text}"));
    let err = body
        .get("error")
        .unwrap_or_else(|| panic!("no `error` object: {text}"))
        .clone();
    assert_eq!(err["code"], code, "code; body: {text}");
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a message: {text}"
    );
    assert!(err["type"].is_string(), "a type: {text}");
    assert!(
        err.get("param").is_some(),
        "`param` present (may be null): {text}"
    );
    err
}

/// The `data:` payloads of an SSE body, in order (`[DONE]` included).
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter(|ev| !ev.trim().is_empty())
        .map(|ev| {
            ev.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// The JSON events of an SSE body (everything but `[DONE]`).
pub fn sse_json(body: &str) -> Vec<Value> {
    sse_data(body)
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("event not JSON ({e}): {d}")))
        .collect()
}

/// The concatenated `delta.content` of streamed chunks.
pub fn streamed_text(events: &[Value]) -> String {
    events
        .iter()
        .filter_map(|e| e.pointer("/choices/0/delta/content")?.as_str())
        .collect()
}

/// The audit records of a stopped gateway's data directory (verified).
pub fn audit_records(data_dir: &std::path::Path) -> Vec<rempart_audit::AuditRecord> {
    let key = rempart_gateway::audit::signing_key(data_dir).expect("signing key");
    let dir = rempart_gateway::audit::audit_dir(data_dir);
    rempart_audit::read_entries(&dir, &key.verifying_key())
        .expect("the log verifies")
        .into_iter()
        .filter_map(|(_, e)| match e {
            rempart_audit::EntryBody::Record(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Chat completions a mock received (probes excluded).
pub fn chats(mock: &MockUpstream) -> usize {
    mock.chat_requests().len()
}
