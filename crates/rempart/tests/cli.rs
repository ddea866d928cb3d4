//! End-to-end tests of the `rempart` binary: real processes, real HTTP, a
//! recording mock upstream, temp data directories.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rempart_test::MockUpstream;

const BIN: &str = env!("CARGO_BIN_EXE_rempart");

fn config(dir: &Path, eu_url: &str, us_url: &str) -> PathBuf {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"

[audit]
checkpoint_every_records = 50
checkpoint_every_secs = 1

[deployments.eu]
kind = "vllm"
base_url = "{eu_url}/v1"
model = "mistral-7b"
[deployments.eu.facts]
operator = "ACME"
operator_country = "FR"
parent_jurisdiction = "FR"
dc_country = "FR"
hosting = "in_tenancy"
retention_days = 0
trained_by = "Mistral AI"
licence = "Apache-2.0"
[deployments.eu.price]
input_eur_per_mtok = 1.0
output_eur_per_mtok = 3.0

[deployments.us]
kind = "openai_compat"
base_url = "{us_url}/v1"
model = "gpt"
[deployments.us.facts]
operator = "US Corp"
operator_country = "US"
parent_jurisdiction = "US"
dc_country = "US"
hosting = "managed"
retention_days = 30
dpa_signed = true
trained_by = "US Corp"
licence = "proprietary"

[aliases.chat]
candidates = ["us", "eu"]

[tenants.acme]
"#,
        data = dir.join("data").display()
    );
    let path = dir.join("rempart.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn rempart(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("run rempart")
}

/// The stdout of a command that must succeed (its stderr otherwise).
fn out(o: std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(config: &Path) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--config", config.to_str().unwrap()])
            .env("REMPART_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rempart serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "rempart serve did not start");
            let line = lines.next().expect("serve exited").unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                return Server {
                    child,
                    url: url.trim().to_owned(),
                };
            }
        }
    }
}

impl Server {
    /// SIGTERM, then wait: the graceful path (in-flight requests finish, a
    /// final checkpoint is signed).
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn create_key(config: &Path) -> String {
    let out = rempart(&[
        "keys",
        "create",
        "--config",
        config.to_str().unwrap(),
        "--tenant",
        "acme",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap();
    assert_eq!(key.lines().count(), 1, "keys create prints the key alone");
    key.trim().to_owned()
}

fn body() -> serde_json::Value {
    serde_json::json!({"model": "chat", "messages": [{"role": "user", "content": "hello"}]})
}

#[test]
fn config_check_names_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[deployments.x]\nkind = \"mistral\"\nmodel = \"m\"\napi_key = \"sk-inline-secret-123\"\n[aliases.a]\ncandidates = [\"nope\"]\n",
    )
    .unwrap();
    let out = rempart(&["config", "check", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("deployments.x.api_key"), "{err}");
    assert!(err.contains("deployments.x.facts"), "{err}");
    assert!(err.contains("aliases.a.candidates[0]"), "{err}");
    assert!(
        !err.contains("sk-inline-secret-123"),
        "secret echoed: {err}"
    );
    let ok = rempart(&["config", "check"]);
    assert!(ok.status.success(), "embedded defaults validate");
    let usage = rempart(&["serve", "--bogus"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn policy_explain_calls_nothing_and_names_reasons() {
    let dir = tempfile::tempdir().unwrap();
    // Unroutable addresses: explain must not contact anything.
    let cfg = config(dir.path(), "http://127.0.0.1:9", "http://127.0.0.1:9");
    let out = rempart(&[
        "policy",
        "explain",
        "--config",
        cfg.to_str().unwrap(),
        "--tenant",
        "acme",
        "--region",
        "FR",
        "--model",
        "chat",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("chosen   eu"), "{text}");
    assert!(text.contains("rejected us"), "{text}");
    assert!(text.contains("CLOUD Act"), "{text}");
    let json = rempart(&[
        "policy",
        "explain",
        "--config",
        cfg.to_str().unwrap(),
        "--tenant",
        "acme",
        "--model",
        "chat",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        v["decision"]["rejected"][0]["reasons"][0]["code"],
        "cluster_not_admitted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_fails_after_one_byte_changes() {
    let eu = MockUpstream::start().await;
    let us = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &eu.url(), &us.url());
    let key = create_key(&cfg);
    let server = Server::start(&cfg);
    rempart_test::install_tls_provider();
    let http = reqwest::Client::new();
    for _ in 0..5 {
        let r = http
            .post(format!("{}/v1/chat/completions", server.url))
            .bearer_auth(&key)
            .json(&body())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-rempart-deployment"], "eu");
    }
    server.stop();
    assert_eq!(us.request_count(), 0, "the US deployment was contacted");
    let c = cfg.to_str().unwrap();
    let ok = rempart(&["audit", "verify", "--config", c]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // An inclusion proof, checked by a third party with the public key alone.
    let export = rempart(&["audit", "export", "--config", c]);
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&export.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let proof = rempart(&[
        "audit",
        "prove",
        "--config",
        c,
        first["id"].as_str().unwrap(),
    ]);
    assert!(
        proof.status.success(),
        "{}",
        String::from_utf8_lossy(&proof.stderr)
    );
    let proof_file = dir.path().join("proof.json");
    std::fs::write(&proof_file, &proof.stdout).unwrap();
    let pk = String::from_utf8(rempart(&["audit", "public-key", "--config", c]).stdout).unwrap();
    let hex_key = pk.lines().next().unwrap().trim().to_owned();
    let verifier = pk.lines().nth(1).unwrap().trim().to_owned();
    let p = proof_file.to_str().unwrap();
    for key in [&hex_key, &verifier] {
        let checked = rempart(&["audit", "check-proof", p, "--public-key", key]);
        assert!(
            checked.status.success(),
            "{}",
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    // Another valid Ed25519 key: the proof must not pass under it.
    let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let rejected = rempart(&["audit", "check-proof", p, "--public-key", other]);
    assert_eq!(
        rejected.status.code(),
        Some(1),
        "a proof passed under a wrong key"
    );
    // Flip one byte inside a record (a digit of the latency or a letter of
    // the tenant): verification must fail and say where.
    let seg = find_segment(&dir.path().join("data/audit"));
    let mut bytes = std::fs::read(&seg).unwrap();
    let pos = find(&bytes, b"\"acme\"").expect("tenant in segment") + 2;
    bytes[pos] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    let bad = rempart(&["audit", "verify", "--config", c]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("seq") || err.contains("entry"),
        "does not name the place: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_record() {
    let eu = MockUpstream::builder().record(false).start().await;
    let us = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &eu.url(), &us.url());
    let key = create_key(&cfg);
    let mut server = Server::start(&cfg);
    let url = server.url.clone();
    rempart_test::install_tls_provider();
    let http = reqwest::Client::new();
    // Eight concurrent clients; collect the audit id of every 200.
    let stop = Instant::now() + Duration::from_millis(1500);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, key) = (http.clone(), url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            while Instant::now() < stop + Duration::from_secs(2) {
                let r = http
                    .post(format!("{url}/v1/chat/completions"))
                    .bearer_auth(&key)
                    .json(&body())
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => {
                        let id = r.headers()["x-rempart-audit-id"]
                            .to_str()
                            .unwrap()
                            .to_owned();
                        // Acknowledged only once the body arrived.
                        if r.bytes().await.is_ok() {
                            acked.push(id);
                        }
                    }
                    _ => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(stop)).await;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert!(
        acked.len() > 20,
        "too little load to mean anything: {}",
        acked.len()
    );
    // Restart: the log's tail is verified and recovered on open.
    let server = Server::start(&cfg);
    drop(server);
    let c = cfg.to_str().unwrap();
    let verify = rempart(&["audit", "verify", "--config", c]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let export = rempart(&["audit", "export", "--config", c]);
    let ids: std::collections::HashSet<String> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let missing: Vec<_> = acked.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged requests have no record: {:?}",
        missing.len(),
        &missing[..missing.len().min(3)]
    );
    eprintln!(
        "acknowledged {} requests before SIGKILL; all recorded; chain verifies",
        acked.len()
    );
}

fn find_segment(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| {
            std::fs::read(p)
                .map(|b| find(&b, b"\"acme\"").is_some())
                .unwrap_or(false)
        })
        .collect();
    files.sort();
    files.into_iter().next().expect("a segment with records")
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subjects_add_find_export_erase_and_the_log_still_verifies() {
    let eu = MockUpstream::start().await;
    let us = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &eu.url(), &us.url());
    let c = cfg.to_str().unwrap();
    let added = out(rempart(&[
        "subjects",
        "add",
        "--config",
        c,
        "--tenant",
        "acme",
        "--name",
        "Lukas Müller",
        "--email",
        "lukas.mueller@beispiel.de",
        "--iban",
        "DE89 3704 0044 0532 0130 00",
    ]));
    let id = serde_json::from_str::<serde_json::Value>(&added).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let found = out(rempart(&[
        "subjects", "find", "--config", c, "--tenant", "acme", "--name", "mull",
    ]));
    assert!(found.contains(&id), "{found}");
    let found = out(rempart(&[
        "subjects",
        "find",
        "--config",
        c,
        "--tenant",
        "acme",
        "--iban",
        "de89370400440532013000",
    ]));
    assert!(found.contains("lukas.mueller@beispiel.de"), "{found}");
    let export = out(rempart(&[
        "subjects", "export", "--config", c, "--tenant", "acme", &id,
    ]));
    assert!(export.contains("Lukas Müller"), "{export}");

    // With the gateway running, the CLI refuses to erase (it cannot write
    // the tombstone) and says where to erase instead; nothing is erased.
    let server = Server::start(&cfg);
    let refused = rempart(&["subjects", "erase", "--config", c, "--tenant", "acme", &id]);
    assert_eq!(refused.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(msg.contains("DELETE /v1/subjects/"), "{msg}");
    server.stop();
    let still = out(rempart(&[
        "subjects", "find", "--config", c, "--tenant", "acme", "--name", "mull",
    ]));
    assert!(still.contains(&id), "nothing erased while refused");

    let receipt: serde_json::Value = serde_json::from_str(&out(rempart(&[
        "subjects", "erase", "--config", c, "--tenant", "acme", &id,
    ])))
    .unwrap();
    assert_eq!(receipt["removed"]["data_keys"], 1, "{receipt}");
    assert_eq!(receipt["lookup_hits_after"], 0);
    assert!(receipt["audit_tombstone"].is_string());
    let gone = out(rempart(&[
        "subjects", "find", "--config", c, "--tenant", "acme", "--name", "mull",
    ]));
    assert!(gone.trim().is_empty(), "{gone}");
    let export = rempart(&["subjects", "export", "--config", c, "--tenant", "acme", &id]);
    assert!(!export.status.success());
    assert!(String::from_utf8_lossy(&export.stderr).contains("erased"));
    // The audit log, with its tombstone, verifies.
    out(rempart(&["audit", "verify", "--config", c]));
    // Bad usage exits 2.
    let bad = rempart(&[
        "subjects", "export", "--config", c, "--tenant", "acme", "nope",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = rempart(&[
        "subjects", "find", "--config", c, "--tenant", "nobody", "--name", "x",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_files_and_keys_with_groups_serve_private_rag() {
    let eu = MockUpstream::start().await;
    let us = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &eu.url(), &us.url());
    let c = cfg.to_str().unwrap();
    let md = dir.path().join("leave.md");
    std::fs::write(&md, "# Leave\n\nStaff get 27 days of paid leave a year.\n").unwrap();
    let args = [
        "ingest",
        "--config",
        c,
        "--tenant",
        "acme",
        "--collection",
        "hr",
        "--group",
        "hr",
        md.to_str().unwrap(),
    ];
    let first: serde_json::Value = serde_json::from_str(&out(rempart(&args))).unwrap();
    assert_eq!(first["receipt"]["created"], true, "{first}");
    let again: serde_json::Value = serde_json::from_str(&out(rempart(&args))).unwrap();
    assert_eq!(again["receipt"]["created"], false, "idempotent: {again}");
    assert_eq!(
        again["receipt"]["document_id"],
        first["receipt"]["document_id"]
    );
    let bad = rempart(&[
        "ingest",
        "--config",
        c,
        "--tenant",
        "acme",
        "--collection",
        "a b",
        md.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    // Other formats go through rempart-ingest, detected from their bytes.
    let html = dir.path().join("benefits.html");
    std::fs::write(
        &html,
        "<html><head><style>p{}</style></head><body><h1>Benefits</h1>\
         <table><tr><th>Benefit</th><th>Value</th></tr>\
         <tr><td>Meal vouchers</td><td>9 EUR a day</td></tr></table></body></html>",
    )
    .unwrap();
    let mut html_args = args;
    html_args[9] = html.to_str().unwrap();
    let ingested: serde_json::Value = serde_json::from_str(&out(rempart(&html_args))).unwrap();
    assert_eq!(ingested["format"], "html", "{ingested}");
    assert_eq!(ingested["receipt"]["created"], true, "{ingested}");
    let not_a_pdf = dir.path().join("scan.pdf");
    std::fs::write(&not_a_pdf, "no PDF signature here").unwrap();
    let mut bad_args = args;
    bad_args[9] = not_a_pdf.to_str().unwrap();
    let bad = rempart(&bad_args);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a file that is not what its name says"
    );

    let hr_key = out(rempart(&[
        "keys", "create", "--config", c, "--tenant", "acme", "--group", "hr",
    ]))
    .trim()
    .to_owned();
    let listed = out(rempart(&[
        "keys", "list", "--config", c, "--tenant", "acme",
    ]));
    assert!(listed.contains("groups=hr"), "{listed}");
    let plain_key = create_key(&cfg);

    let server = Server::start(&cfg);
    rempart_test::install_tls_provider();
    let http = reqwest::Client::new();
    // A question to the `hr` collection, with `key`.
    let ask = async |key: &str, question: &str| {
        let mut chat = body();
        chat["messages"][0]["content"] = question.into();
        chat["rempart"] = serde_json::json!({"collections": ["hr"]});
        http.post(format!("{}/v1/chat/completions", server.url))
            .bearer_auth(key)
            .json(&chat)
            .send()
            .await
            .unwrap()
    };
    let resp = ask(&hr_key, "How many days of paid leave?").await;
    assert_eq!(resp.status(), 200);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        answer["rempart"]["citations"][0]["document"],
        first["receipt"]["document_id"]
    );
    assert!(eu.received("27 days of paid leave"));
    // The HTML table row reaches the prompt with its header.
    let resp = ask(&hr_key, "What are meal vouchers worth?").await;
    assert_eq!(resp.status(), 200);
    assert!(eu.received("Meal vouchers | 9 EUR a day"));
    // A key outside the group: refused, nothing sent upstream.
    let before = eu.chat_requests().len();
    let resp = ask(&plain_key, "How many days of paid leave?").await;
    assert_eq!(resp.status(), 422);
    assert_eq!(eu.chat_requests().len(), before);
    assert_eq!(us.chat_requests().len(), 0);
    server.stop();
}
