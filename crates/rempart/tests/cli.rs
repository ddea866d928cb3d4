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
        Some(1),
        "a file that is not what its name says fails (the command line was fine)"
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("scan.pdf"), "named: {stderr}");
    // A directory: every file in it; one that fails does not stop the others.
    let folder = dir.path().join("folder");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::write(folder.join("a.txt"), "Okapi rota: Mondays.").unwrap();
    std::fs::write(folder.join("sub/b.md"), "# Ibex\n\nIbex rota: Tuesdays.").unwrap();
    std::fs::write(folder.join("sub/c.pdf"), "not a pdf").unwrap();
    std::fs::write(folder.join(".hidden.txt"), "skipped").unwrap();
    let mut dir_args = args;
    dir_args[9] = folder.to_str().unwrap();
    let o = rempart(&dir_args);
    assert_eq!(o.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0]["receipt"]["created"], true, "{stdout}");
    assert_eq!(lines[1]["receipt"]["created"], true, "{stdout}");
    assert!(
        lines[2]["error"].as_str().unwrap().contains("signature"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("3 files: 2 documents created, 0 already present, 1 failed"),
        "{stderr}"
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
    let status = resp.status();
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{answer}");
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

/// An S3 API server (`moto_server`, PyPI `moto[server]`, in the tests'
/// venv: `$VENV` or the workspace's `.venv`) on a free loopback port.
/// `None` with a message when it is not installed; a failure under CI.
struct Moto {
    child: Child,
    url: String,
    /// Its request log.
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    async fn start() -> Option<Moto> {
        rempart_test::install_tls_provider();
        let venv = std::env::var_os("VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
        let bin = venv.join("bin/moto_server");
        if !bin.exists() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{} is missing but CI=true: scripts/test.sh installs moto[server] from tests/python/requirements.txt",
                bin.display()
            );
            eprintln!(
                "SKIPPED: S3 ingestion test ({} missing; run scripts/test.sh or pip install 'moto[server]' into the venv)",
                bin.display()
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("moto.log");
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn moto_server");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while http.get(&moto.url).send().await.is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Some(moto)
    }

    /// Create a bucket in `region` (moto takes unsigned requests).
    async fn bucket(&self, name: &str, region: &str) {
        let body = format!(
            "<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
        );
        let resp = reqwest::Client::new()
            .put(format!("{}/{name}", self.url))
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{:?}", resp.text().await);
    }

    async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        let resp = reqwest::Client::new()
            .put(format!("{}/{bucket}/{key}", self.url))
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{key}: {:?}", resp.text().await);
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A one-page PDF with a text layer (Helvetica), offsets computed.
fn tiny_pdf(line: &str) -> Vec<u8> {
    let content = format!("BT /F1 12 Tf 72 770 Td ({line}) Tj ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

const S3_SECRET: &str = "s3-secret-canary-5f2e";

/// `rempart` with S3 credentials in its environment (and no other AWS
/// setting from the caller's).
fn rempart_s3(args: &[&str]) -> std::process::Output {
    let mut c = Command::new(BIN);
    for v in [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        c.env_remove(v);
    }
    c.env("AWS_ACCESS_KEY_ID", "rempart-test")
        .env("AWS_SECRET_ACCESS_KEY", S3_SECRET)
        .args(args)
        .output()
        .expect("run rempart")
}

fn text_of(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `rempart ingest s3://bucket/prefix` against an S3 API server: every
/// object under the prefix is ingested through the same path as local
/// files (formats, attachments, content-hash idempotence, subjects found
/// by the scan); one bad object is reported by name and the others go in;
/// a second run writes nothing; bad endpoints, buckets and regions are
/// clear errors; the listing goes through every page; the credentials are
/// never printed; every file is one audit record, and the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_from_s3_is_idempotent_linked_audited_and_fails_clearly() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let eu = MockUpstream::start().await;
    let us = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &eu.url(), &us.url());
    let c = cfg.to_str().unwrap();
    let bucket = "rempart-docs";
    moto.bucket(bucket, "eu-west-3").await;
    moto.put(
        bucket,
        "docs/leave.md",
        b"# Leave\n\nStaff get 27 days of Capybara leave a year.\n".to_vec(),
    )
    .await;
    moto.put(
        bucket,
        "docs/notes.txt",
        b"The Axolotl canteen opens at noon.".to_vec(),
    )
    .await;
    moto.put(
        bucket,
        "docs/reports/q3.pdf",
        tiny_pdf("Third quarter Pangolin revenue grew by nine percent."),
    )
    .await;
    let eml = "From: Camille Martin <camille.martin@example.fr>\r\n\
               To: hr@example.org\r\n\
               Subject: Tapir complaint\r\n\
               MIME-Version: 1.0\r\n\
               Content-Type: text/plain; charset=utf-8\r\n\
               \r\n\
               My Tapir-Claim-6630 about the parking fee is still open.\r\n";
    moto.put(bucket, "docs/mail/complaint.eml", eml.as_bytes().to_vec())
        .await;
    moto.put(bucket, "bad/broken.pdf", b"no PDF signature here".to_vec())
        .await;
    moto.put(
        bucket,
        "elsewhere/skip.txt",
        b"Not under the prefix.".to_vec(),
    )
    .await;

    let subject: serde_json::Value = serde_json::from_str(&out(rempart(&[
        "subjects",
        "add",
        "--config",
        c,
        "--tenant",
        "acme",
        "--email",
        "camille.martin@example.fr",
    ])))
    .unwrap();
    let subject = subject["id"].as_str().unwrap().to_owned();

    let url = format!("s3://{bucket}/docs");
    let ingest = |extra: &[&str]| {
        let mut a = vec![
            "ingest",
            "--config",
            c,
            "--tenant",
            "acme",
            "--collection",
            "s3docs",
            "--s3-endpoint",
            &moto.url,
            "--s3-region",
            "eu-west-3",
            "--s3-path-style",
        ];
        a.extend_from_slice(extra);
        rempart_s3(&a)
    };
    let started = Instant::now();
    let bad_url = format!("s3://{bucket}/bad");
    let first = ingest(&[&url, &bad_url]);
    let took = started.elapsed();
    let (stdout, stderr) = text_of(&first);
    assert_eq!(first.status.code(), Some(1), "one bad file: {stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        5,
        "one line per object under the prefix: {stdout}"
    );
    let by_path = |p: &str| {
        lines
            .iter()
            .find(|l| l["path"] == format!("s3://{bucket}/{p}"))
            .unwrap_or_else(|| panic!("{p}: {stdout}"))
    };
    assert_eq!(by_path("docs/leave.md")["format"], "markdown");
    assert_eq!(by_path("docs/notes.txt")["format"], "text");
    assert_eq!(by_path("docs/reports/q3.pdf")["format"], "pdf");
    let mail = by_path("docs/mail/complaint.eml");
    assert_eq!(mail["format"], "eml");
    assert_eq!(mail["receipt"]["linked_subjects"], 1, "{mail}");
    for p in ["docs/leave.md", "docs/notes.txt", "docs/reports/q3.pdf"] {
        assert_eq!(by_path(p)["receipt"]["created"], true, "{p}: {stdout}");
        assert_eq!(by_path(p)["receipt"]["linked_subjects"], 0, "{p}");
    }
    let broken = by_path("bad/broken.pdf");
    assert!(broken["error"].is_string(), "{broken}");
    assert!(
        stderr.contains(&format!("s3://{bucket}/bad/broken.pdf")),
        "the failure is named: {stderr}"
    );
    assert!(
        stderr.contains("5 files: 4 documents created, 0 already present, 1 failed"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("\r") && !stderr.contains("=>"),
        "no bar off a terminal: {stderr}"
    );
    eprintln!("S3 ingestion of 5 objects (4 ingested) took {took:?}");

    // Without the bad object, a second run writes nothing and succeeds.
    let again = ingest(&[&url, "--quiet"]);
    let (stdout2, stderr2) = text_of(&again);
    assert_eq!(again.status.code(), Some(0), "{stderr2}");
    assert!(stderr2.is_empty(), "--quiet: {stderr2}");
    let created: Vec<bool> = stdout2
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["receipt"]["created"] == true
        })
        .collect();
    assert_eq!(created, [false; 4], "idempotent: {stdout2}");

    // Clear errors: an endpoint nobody listens on, a bucket that is not
    // there, a region outside the EU or unknown, no credentials.
    let dead = rempart_s3(&[
        "ingest",
        "--config",
        c,
        "--tenant",
        "acme",
        "--collection",
        "s3docs",
        "--s3-endpoint",
        "http://127.0.0.1:9",
        "--s3-region",
        "eu-west-3",
        "--s3-path-style",
        &url,
    ]);
    let (_, e) = text_of(&dead);
    assert_eq!(dead.status.code(), Some(1), "{e}");
    assert!(e.contains(&format!("cannot list {url}")), "{e}");
    let missing = ingest(&["s3://no-such-bucket/docs"]);
    let (_, e2) = text_of(&missing);
    assert_eq!(missing.status.code(), Some(1), "{e2}");
    assert!(e2.contains("cannot list s3://no-such-bucket/docs"), "{e2}");
    for (region, says) in [
        ("us-east-1", "outside the EU"),
        ("atlantis-1", "unknown S3 region `atlantis-1`"),
    ] {
        let o = rempart_s3(&[
            "ingest",
            "--config",
            c,
            "--tenant",
            "acme",
            "--collection",
            "s3docs",
            "--s3-endpoint",
            &moto.url,
            "--s3-region",
            region,
            "--s3-path-style",
            &url,
        ]);
        let (_, e) = text_of(&o);
        assert_eq!(o.status.code(), Some(2), "{region}: {e}");
        assert!(e.contains(says) && e.contains("--allow-region"), "{e}");
    }
    let no_creds = Command::new(BIN)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args([
            "ingest",
            "--config",
            c,
            "--tenant",
            "acme",
            "--collection",
            "s3docs",
            "--s3-region",
            "eu-west-3",
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(no_creds.status.code(), Some(2));
    assert!(text_of(&no_creds).1.contains("AWS_ACCESS_KEY_ID"));
    for o in [&first, &again, &dead, &missing] {
        let (so, se) = text_of(o);
        assert!(
            !so.contains(S3_SECRET) && !se.contains(S3_SECRET),
            "a secret was printed"
        );
    }

    // The listing goes through every page: 7 keys, 3 a page.
    for i in 0..7 {
        moto.put(bucket, &format!("many/{i:04}.txt"), b"x".to_vec())
            .await;
    }
    let listed = ingest(&[
        &format!("s3://{bucket}/many"),
        "--dry-run",
        "--s3-page-size",
        "3",
    ]);
    let (so, se) = text_of(&listed);
    assert_eq!(listed.status.code(), Some(0), "{se}");
    let keys: Vec<String> = so
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["path"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let expected: Vec<String> = (0..7)
        .map(|i| format!("s3://{bucket}/many/{i:04}.txt"))
        .collect();
    assert_eq!(keys, expected);
    let pages = std::fs::read_to_string(&moto.log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("GET /rempart-docs?") && l.contains("prefix=many"))
        .count();
    assert_eq!(pages, 3, "three listing requests");

    // The documents are searchable, once each; erasing the subject found
    // in the mail deletes the mail.
    let key = create_key(&cfg);
    let server = Server::start(&cfg);
    // With the gateway holding the audit log, the CLI does not ingest
    // unaudited unless told to.
    let held = ingest(&[&url]);
    assert_eq!(held.status.code(), Some(1));
    assert!(
        text_of(&held).1.contains("--unaudited"),
        "{}",
        text_of(&held).1
    );
    let unaudited = ingest(&[&url, "--unaudited", "--quiet"]);
    assert_eq!(
        unaudited.status.code(),
        Some(0),
        "{}",
        text_of(&unaudited).1
    );
    rempart_test::install_tls_provider();
    let http = reqwest::Client::new();
    let search = async |q: &str| -> serde_json::Value {
        http.post(format!("{}/v1/collections/s3docs/search", server.url))
            .bearer_auth(&key)
            .json(&serde_json::json!({"query": q}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    let hit = search("Pangolin revenue").await;
    assert_eq!(hit["data"][0]["name"], "docs/reports/q3.pdf", "{hit}");
    let hit = search("Tapir claim parking").await;
    assert_eq!(hit["data"][0]["name"], "docs/mail/complaint.eml", "{hit}");
    let listed: serde_json::Value = http
        .get(format!("{}/v1/collections/s3docs/documents", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        4,
        "no duplicates: {listed}"
    );
    let resp = http
        .delete(format!("{}/v1/subjects/{subject}", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let erased: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(erased["removed"]["documents"], 1, "{erased}");
    let hit = search("Tapir claim parking").await;
    assert_eq!(hit["data"], serde_json::json!([]), "{hit}");
    server.stop();

    // One audit record per file ingested (key id `cli`), and the log
    // verifies; it names no file.
    out(rempart(&["audit", "verify", "--config", c]));
    let exported = out(rempart(&["audit", "export", "--config", c]));
    let ingests: Vec<serde_json::Value> = exported
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["endpoint"] == "ingest")
        .collect();
    assert_eq!(ingests.len(), 9, "5 then 4 files: {exported}");
    assert!(ingests.iter().all(|r| r["key_id"] == "cli"));
    assert_eq!(
        ingests
            .iter()
            .filter(|r| r["outcome"] == "bad_request")
            .count(),
        1,
        "the broken file"
    );
    for f in walk(&dir.path().join("data/audit")) {
        let bytes = std::fs::read(&f).unwrap();
        for v in ["leave.md", "complaint", "Capybara", "camille"] {
            assert!(
                find(&bytes, v.as_bytes()).is_none(),
                "{v} in {}",
                f.display()
            );
        }
    }
}

/// `rempart serve` with `threads = 3`: three serving threads share the port
/// (SO_REUSEPORT), each with its own event loop and upstream pool. Many
/// concurrent connections are all answered by the EU deployment (the US one
/// gets nothing), a request still upstream when SIGTERM arrives is answered,
/// and every answer has its record in a log that verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_threads_share_the_port_and_drain_on_sigterm() {
    let eu = MockUpstream::start().await;
    let us = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &eu.url(), &us.url());
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("[server]\n", "[server]\nthreads = 3\n");
    std::fs::write(&cfg, text).unwrap();
    let key = create_key(&cfg);
    let server = Server::start(&cfg);
    rempart_test::install_tls_provider();
    // 24 connections (no pooling across them), 5 requests each.
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let (url, key) = (server.url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            for _ in 0..5 {
                let resp = http
                    .post(format!("{url}/v1/chat/completions"))
                    .bearer_auth(&key)
                    .json(&body())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(eu.chat_requests().len(), 120);
    assert_eq!(us.request_count(), 0);

    // A slow answer in flight when SIGTERM arrives still completes.
    eu.set_delay(Duration::from_millis(800));
    let (url, key2) = (server.url.clone(), key.clone());
    let slow = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(&key2)
            .json(&body())
            .send()
            .await
            .unwrap()
            .status()
    });
    let t = Instant::now();
    while eu.chat_requests().len() < 121 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "slow request not sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = server.child.id().to_string();
    let stopped = tokio::task::spawn_blocking(move || server.stop());
    assert_eq!(slow.await.unwrap(), 200);
    stopped.await.unwrap();
    let c = cfg.to_str().unwrap();
    let verified = out(rempart(&["audit", "verify", "--config", c]));
    assert!(verified.contains("121"), "pid {pid}: {verified}");
}
