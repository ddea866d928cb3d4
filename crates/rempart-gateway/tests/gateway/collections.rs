//! `/v1/collections` and `rempart.collections` in chat: documents labelled
//! with groups are retrieved only by keys of those groups (search, chat
//! prompt, citations), the audit record counts what was denied, only
//! ineligible evidence is a refusal that contacts no upstream, personal
//! data in a source is pseudonymised for an `eu_sovereign` upstream, and
//! deletion (of a document, or of a data subject it is about) leaves
//! nothing behind.

use rempart_audit::Outcome;
use rempart_test::MockUpstream;
use serde_json::{Value, json};

use crate::common::*;

async fn sovereign() -> (Gateway, MockUpstream) {
    sovereign_on(MockUpstream::builder().echo().start().await).await
}

async fn sovereign_on(mock: MockUpstream) -> (Gateway, MockUpstream) {
    let toml = Toml::new()
        .deployment("mistral-paris", Dep::eu_sovereign(&mock))
        .alias("assistant", &["mistral-paris"])
        .default_tenant()
        .build();
    (Gateway::start(&toml).await, mock)
}

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    )
}

async fn ingest(gw: &Gateway, collection: &str, body: Value) -> (u16, Value) {
    json_of(
        gw.post(&format!("/v1/collections/{collection}/documents"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn search_as(gw: &Gateway, key: &str, collection: &str, query: &str) -> Value {
    let (status, v) = json_of(
        gw.post_as(key, &format!("/v1/collections/{collection}/search"))
            .json(&json!({"query": query, "k": 10}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v
}

fn rag_body(question: &str, collections: &[&str]) -> Value {
    let mut body = chat_body("assistant", question);
    body["rempart"] = json!({"collections": collections});
    body
}

async fn chat_as(gw: &Gateway, key: &str, body: &Value) -> reqwest::Response {
    gw.post_as(key, "/v1/chat/completions")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// None of `values` is in any file under `dir`, as text or as hex.
fn assert_in_no_file(dir: &std::path::Path, values: &[&str]) {
    for f in walk(dir) {
        let bytes = std::fs::read(&f).unwrap();
        for v in values {
            let hex: String = v.bytes().map(|b| format!("{b:02x}")).collect();
            for n in [v.as_bytes(), hex.as_bytes()] {
                assert!(
                    !bytes.windows(n.len()).any(|w| w == n),
                    "{v} in {}",
                    f.display()
                );
            }
        }
    }
}

/// A lexical retriever over the gateway's own store and keyring: what
/// another replica, or `rempart ingest` without a model, writes with.
async fn replica_of(gw: &Gateway) -> rempart_gateway::collections::Retriever {
    let keys = rempart_crypto::KeyProvider::from_config(
        &rempart_crypto::KeysConfig::default(),
        &gw.data_dir(),
        &|_| None,
    )
    .await
    .expect("the gateway's keyring");
    assert!(keys.created.is_none(), "the same keyring, not a new one");
    rempart_gateway::collections::Retriever::new(std::sync::Arc::new(
        rempart_store::registry::Registry::new(
            gw.store().clone(),
            std::sync::Arc::new(keys.provider),
            rempart_store::registry::Settings::default(),
        ),
    ))
}

/// What the mock received in its last chat request, as text.
fn last_prompt(mock: &MockUpstream) -> String {
    let r = mock.chat_requests().pop().expect("a chat request");
    String::from_utf8_lossy(&r.body).into_owned()
}

const HR_DOC: &str = "# Salary bands\n\nEngineers in the Quokka band earn 4471 euros a month.";
const SALES_DOC: &str = "# Commission\n\nThe Quokka bonus for sales staff is twelve percent.";

#[tokio::test]
async fn eligibility_holds_in_search_chat_citations_and_audit() {
    let (gw, mock) = sovereign().await;
    let hr = gw.key_with_groups(TENANT, &["hr"]).await;
    let sales = gw.key_with_groups(TENANT, &["sales"]).await;
    let (status, a) = ingest(
        &gw,
        "policies",
        json!({"name": "HR salaries.md", "markdown": HR_DOC, "labels": {"groups": ["hr"]}}),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    let hr_doc = a["receipt"]["document_id"].as_str().unwrap().to_owned();
    let (status, b) = ingest(
        &gw,
        "policies",
        json!({"name": "Sales handbook", "markdown": SALES_DOC, "labels": {"groups": ["sales"]}}),
    )
    .await;
    assert_eq!(status, 201, "{b}");
    let sales_doc = b["receipt"]["document_id"].as_str().unwrap().to_owned();
    // The same content again: the same document, 200, nothing new.
    let (status, again) = ingest(
        &gw,
        "policies",
        json!({"name": "HR salaries.md", "markdown": HR_DOC, "labels": {"groups": ["hr"]}}),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["receipt"]["created"], json!(false));
    assert_eq!(again["receipt"]["document_id"], json!(hr_doc));
    let (_, listed) = json_of(
        gw.get("/v1/collections/policies/documents")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["HR salaries.md", "Sales handbook"]);

    // Search: each group sees its own document only; the other is denied.
    let s = search_as(&gw, &sales, "policies", "Quokka").await;
    let docs: Vec<&str> = s["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["document"].as_str().unwrap())
        .collect();
    assert_eq!(docs, [sales_doc.as_str()], "{s}");
    assert!(
        s["data"][0]["text"]
            .as_str()
            .unwrap()
            .contains("twelve percent")
    );
    assert_eq!(s["denied"], json!(1), "{s}");
    let h = search_as(&gw, &hr, "policies", "Quokka").await;
    assert_eq!(h["data"][0]["document"], json!(hr_doc), "{h}");
    assert_eq!(h["data"].as_array().unwrap().len(), 1);
    // A key with no group sees neither (both documents name groups).
    let none = search_as(&gw, &gw.key, "policies", "Quokka").await;
    assert_eq!(
        (
            none["data"].as_array().unwrap().len(),
            &none["denied"],
            &none["refused"]
        ),
        (0, &json!(2), &json!(true))
    );

    // Chat as sales: the prompt holds the sales source, never the HR one.
    let resp = chat_as(
        &gw,
        &sales,
        &rag_body("What is the Quokka bonus?", &["policies"]),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let audit_ok = header(&resp, "x-rempart-audit-id").to_owned();
    let answer: Value = resp.json().await.unwrap();
    let prompt = last_prompt(&mock);
    assert!(
        prompt.contains("twelve percent") && prompt.contains("[1]"),
        "{prompt}"
    );
    assert!(
        !prompt.contains("4471") && !prompt.contains("Engineers"),
        "HR text reached the upstream: {prompt}"
    );
    let cites = answer["rempart"]["citations"]
        .as_array()
        .expect("citations")
        .clone();
    assert_eq!(cites.len(), 1, "{answer}");
    assert_eq!(cites[0]["source"], json!(1));
    assert_eq!(cites[0]["document"], json!(sales_doc));
    assert_eq!(cites[0]["name"], json!("Sales handbook"));
    assert_eq!(cites[0]["chunk"], json!(format!("{sales_doc}/0")));
    assert_eq!(
        (
            cites[0]["page_start"].as_u64(),
            cites[0]["page_end"].as_u64()
        ),
        (Some(1), Some(1))
    );

    // Streamed: the citations come in a last chunk with no choices.
    let mut body = rag_body("What is the Quokka bonus?", &["policies"]);
    body["stream"] = json!(true);
    let resp = chat_as(&gw, &sales, &body).await;
    assert_eq!(resp.status(), 200);
    let events = sse_json(&resp.text().await.unwrap());
    let last = events.last().unwrap();
    assert_eq!(
        last["rempart"]["citations"][0]["document"],
        json!(sales_doc),
        "{last}"
    );

    // Only ineligible evidence: a refusal, and no upstream is contacted.
    let before = chats(&mock);
    let resp = chat_as(&gw, &sales, &rag_body("salary of engineers", &["policies"])).await;
    let err = expect_error(resp, 422, "no_admissible_evidence").await;
    assert_eq!(err["param"], json!("rempart.collections"));
    assert!(!err["message"].as_str().unwrap().contains("4471"));
    // An unknown collection: nothing to retrieve, refused the same way.
    let resp = chat_as(&gw, &hr, &rag_body("Quokka", &["nothing-here"])).await;
    expect_error(resp, 422, "no_admissible_evidence").await;
    assert_eq!(chats(&mock), before, "a refusal contacted the upstream");

    // The audit records: retrieved chunk ids, denied count, the refusal.
    let dir = gw.stop_keeping_data().await;
    let records = audit_records(dir.path());
    let ok = records
        .iter()
        .find(|r| r.id == audit_ok)
        .expect("served record");
    assert_eq!(ok.retrieved_chunks, vec![format!("{sales_doc}/0")]);
    assert_eq!(ok.denied_chunks, 1);
    // Searches are audited too (endpoint `search`): ids and denials.
    let searches: Vec<_> = records.iter().filter(|r| r.endpoint == "search").collect();
    assert_eq!(searches.len(), 3, "three searches");
    assert_eq!(searches[0].retrieved_chunks, vec![format!("{sales_doc}/0")]);
    assert_eq!(searches[0].denied_chunks, 1);
    assert_eq!(
        (searches[2].outcome, searches[2].denied_chunks),
        (Outcome::RefusedNoEvidence, 2)
    );
    let refused: Vec<_> = records
        .iter()
        .filter(|r| r.endpoint == "chat" && r.outcome == Outcome::RefusedNoEvidence)
        .collect();
    assert_eq!(refused.len(), 2, "two refusals recorded");
    assert_eq!(
        refused.iter().map(|r| r.denied_chunks).collect::<Vec<_>>(),
        [1, 0],
        "the sales key's refusal counts the HR chunk it could not see"
    );
    for r in refused {
        assert!(r.retrieved_chunks.is_empty());
        assert_eq!(r.error_code.as_deref(), Some("no_admissible_evidence"));
        assert!(r.deployment.is_none() && r.decision.attempted.is_empty());
    }
}

const IBAN: &str = "FR76 3000 6000 0112 3456 7890 189";

#[tokio::test]
async fn personal_data_in_a_source_is_pseudonymised_upstream_and_restored() {
    // Not an echo: the reply is set once the placeholder is known.
    let (gw, mock) = sovereign_on(MockUpstream::start().await).await;
    let text =
        format!("Deposits for the Okapi project go to the account {IBAN} at the Paris branch.");
    let (status, r) = ingest(
        &gw,
        "finance",
        json!({"name": "Okapi deposits", "text": text}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    let body = rag_body("Which account takes the Okapi deposits?", &["finance"]);
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    let prompt = last_prompt(&mock);
    assert!(
        prompt.contains("Okapi project"),
        "the source was sent: {prompt}"
    );
    for v in [IBAN, "30006000011234567890189", "FR76"] {
        assert!(
            !prompt.contains(v),
            "{v} reached the eu_sovereign upstream: {prompt}"
        );
    }
    let start = prompt.find("[[").expect("a placeholder in the prompt");
    let end = start + prompt[start..].find("]]").unwrap() + 2;
    let placeholder = &prompt[start..end];
    // The model answers with the placeholder; the caller gets the value.
    mock.set_reply(format!("Use {placeholder}."));
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    let content = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.contains(IBAN), "re-identified: {content}");
    assert!(!last_prompt(&mock).contains(IBAN));
}

#[tokio::test]
async fn deletion_and_erasure_leave_nothing_behind() {
    let (gw, mock) = sovereign().await;
    let planted = "Zanzibar-Quokka-4471 is the vault code";
    let (_, r) = ingest(&gw, "vault", json!({"name": "Vault memo", "text": planted})).await;
    let doc = r["receipt"]["document_id"].as_str().unwrap().to_owned();
    let found = search_as(&gw, &gw.key, "vault", "vault code").await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1, "{found}");

    // Another tenant cannot delete it (not there for them).
    let resp = gw
        .delete_as(&gw.key, &format!("/v1/collections/other/documents/{doc}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let (status, receipt) = json_of(
        gw.delete_as(&gw.key, &format!("/v1/collections/vault/documents/{doc}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(
        receipt["removed"],
        json!({"documents": 1, "chunks": 1, "data_keys": 1})
    );
    assert_eq!(
        receipt["remaining"],
        json!({"documents": 0, "chunks": 0, "data_keys": 0})
    );
    let after = search_as(&gw, &gw.key, "vault", "vault code").await;
    assert_eq!(after["data"], json!([]), "{after}");
    let resp = gw
        .chat(&rag_body("What is the vault code?", &["vault"]))
        .await;
    expect_error(resp, 422, "no_admissible_evidence").await;

    // A document about a registered data subject goes with the subject.
    let subject = gw
        .register_subject(&json!({"name": "Okapi Person", "emails": ["okapi@example.fr"]}))
        .await;
    let dossier = "Okapi-Dossier-9917 holds the file of the complaint";
    let (status, r) = ingest(
        &gw,
        "cases",
        json!({"name": "Complaint file", "text": dossier, "subjects": [subject]}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    let resp = gw
        .chat(&rag_body("Which dossier holds the complaint?", &["cases"]))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(last_prompt(&mock).contains("Okapi-Dossier-9917"));
    let erased = gw.erase_subject(&subject).await;
    assert_eq!(erased["removed"]["documents"], json!(1), "{erased}");
    assert_eq!(erased["removed"]["chunks"], json!(1), "{erased}");
    let (_, listed) = json_of(
        gw.get("/v1/collections/cases/documents")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["data"], json!([]));
    let after = search_as(&gw, &gw.key, "cases", "dossier complaint").await;
    assert_eq!(after["data"], json!([]), "{after}");

    // Nothing planted is in any file of the data directory.
    let dir = gw.stop_keeping_data().await;
    assert_in_no_file(
        dir.path(),
        &[
            "Zanzibar-Quokka-4471",
            "Okapi-Dossier-9917",
            "Vault memo",
            "Complaint file",
        ],
    );
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let (gw, _mock) = sovereign().await;
    let (status, e) = ingest(&gw, "c", json!({"name": "n", "text": "a", "markdown": "b"})).await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = ingest(
        &gw,
        "c",
        json!({"name": "n", "text": "a", "subjects": ["00000000-0000-7000-8000-000000000001"]}),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("subjects"),
        "{e}"
    );
    let (status, e) = ingest(&gw, "bad%20name", json!({"name": "n", "text": "a"})).await;
    assert_eq!(status, 400, "{e}");
    let resp = gw.chat(&rag_body("q", &["no spaces allowed"])).await;
    expect_error(resp, 400, "invalid_request").await;
    let resp = gw.chat(&rag_body("q", &[])).await;
    expect_error(resp, 400, "invalid_request").await;
}

/// Another replica (same store and keyring, its own memory) ingests and
/// deletes: this gateway's next search sees both, through the collection's
/// version, without a restart.
#[tokio::test]
async fn changes_by_another_replica_are_seen() {
    let (gw, _mock) = sovereign().await;
    let (_, r) = ingest(
        &gw,
        "shared",
        json!({"name": "one", "text": "Alpaca grazing rules"}),
    )
    .await;
    let first: uuid::Uuid = r["receipt"]["document_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let hits = |v: &Value| v["data"].as_array().unwrap().len();
    assert_eq!(hits(&search_as(&gw, &gw.key, "shared", "alpaca").await), 1);

    let other = replica_of(&gw).await;
    let text = "Bison migration schedule";
    other
        .ingest(
            TENANT,
            "shared",
            &rempart_gateway::collections::SourceFile::text("two", text, false),
            &rempart_store::collections::DocumentLabels::default(),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(hits(&search_as(&gw, &gw.key, "shared", "bison").await), 1);
    other
        .delete(TENANT, "shared", first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hits(&search_as(&gw, &gw.key, "shared", "alpaca").await), 0);
    assert_eq!(hits(&search_as(&gw, &gw.key, "shared", "bison").await), 1);
}

/// Purpose limitation: a document restricted to a purpose is retrieved only
/// by requests declaring it; legal hold blocks deletion.
#[tokio::test]
async fn purposes_and_legal_hold() {
    let (gw, mock) = sovereign().await;
    let (status, r) = ingest(
        &gw,
        "payroll",
        json!({"name": "Payroll rules", "text": "Overtime is paid at 125 percent.",
               "labels": {"purpose": "payroll", "legal_hold": true}}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    let doc = r["receipt"]["document_id"].as_str().unwrap().to_owned();
    let mut body = rag_body("How is overtime paid?", &["payroll"]);
    let resp = gw.chat(&body).await;
    expect_error(resp, 422, "no_admissible_evidence").await;
    body["rempart"]["purpose"] = json!("marketing");
    expect_error(gw.chat(&body).await, 422, "no_admissible_evidence").await;
    body["rempart"]["purpose"] = json!("payroll");
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    assert!(last_prompt(&mock).contains("125 percent"));
    let (status, e) = json_of(
        gw.delete_as(&gw.key, &format!("/v1/collections/payroll/documents/{doc}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("legal hold"),
        "{e}"
    );
    let (_, listed) = json_of(
        gw.get("/v1/collections/payroll/documents")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["data"][0]["labels"]["legal_hold"], json!(true));
    assert_eq!(listed["data"][0]["labels"]["purposes"], json!(["payroll"]));
}

/// A file sent as `content_base64` is extracted by its format (here an
/// e-mail with an HTML body and a text attachment): the mail and its
/// attachment become documents of their own, each searchable and cited;
/// bytes that are not what their name says are refused, naming the field.
#[tokio::test]
async fn files_are_extracted_by_format_and_attachments_are_documents() {
    use base64::Engine as _;
    let (gw, _mock) = sovereign().await;
    let eml = "From: Alice <alice@example.org>\r\n\
               To: hr@example.org\r\n\
               Subject: Remote work\r\n\
               MIME-Version: 1.0\r\n\
               Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
               \r\n\
               --b1\r\n\
               Content-Type: text/html; charset=utf-8\r\n\
               \r\n\
               <p>Teleworking is allowed two days per week.</p>\r\n\
               --b1\r\n\
               Content-Type: text/plain; charset=utf-8\r\n\
               Content-Disposition: attachment; filename=\"charter.txt\"\r\n\
               \r\n\
               The telework charter grants a monthly allowance of forty euros.\r\n\
               --b1--\r\n";
    let b64 = base64::engine::general_purpose::STANDARD.encode(eml);
    let (status, v) = ingest(
        &gw,
        "hr",
        json!({"name": "remote.eml", "content_base64": b64}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["format"], "eml", "{v}");
    assert_eq!(v["attachments"][0]["format"], "text", "{v}");
    assert_eq!(
        v["attachments"][0]["name"], "remote.eml / charter.txt",
        "{v}"
    );
    let body_hits = search_as(&gw, &gw.key, "hr", "teleworking days per week").await;
    assert_eq!(body_hits["data"][0]["name"], "remote.eml", "{body_hits}");
    let att_hits = search_as(&gw, &gw.key, "hr", "monthly allowance euros").await;
    assert_eq!(
        att_hits["data"][0]["name"], "remote.eml / charter.txt",
        "{att_hits}"
    );
    // Idempotent: the same bytes again write nothing.
    let (status, again) = ingest(
        &gw,
        "hr",
        json!({"name": "remote.eml", "content_base64": b64}),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["receipt"]["created"], false, "{again}");

    for (body, what) in [
        (
            json!({"name": "scan.pdf", "content_base64": base64::engine::general_purpose::STANDARD.encode("not a pdf")}),
            "not a PDF",
        ),
        (
            json!({"name": "x.txt", "content_base64": "%%%"}),
            "not base64",
        ),
    ] {
        let (status, err) = ingest(&gw, "hr", body).await;
        assert_eq!(status, 400, "{what}: {err}");
        assert_eq!(err["error"]["param"], "content_base64", "{what}: {err}");
    }
}

/// The local embedding model (`REMPART_E5_MODEL`, set by scripts/test.sh):
/// `None` skips a test with a message, except under CI=true.
fn e5_model() -> Option<String> {
    match std::env::var("REMPART_E5_MODEL") {
        Ok(p) if std::path::Path::new(&p).is_file() => Some(p),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("REMPART_E5_MODEL is not set and CI=true: run scripts/fetch-e5.sh")
        }
        _ => {
            eprintln!("skipped: REMPART_E5_MODEL is not set (scripts/fetch-e5.sh)");
            None
        }
    }
}

/// Hybrid retrieval: with the local embedding model, a question that shares
/// no word with its answer (English question, French and German documents)
/// is answered from the right document, where BM25 alone refuses; the dense
/// side keeps eligibility inside its search (a key of another group gets
/// nothing, and the audit record counts the denial); deletion removes the
/// document from the dense index too.
#[tokio::test]
async fn hybrid_retrieval_across_languages_keeps_eligibility() {
    let Some(model) = e5_model() else { return };
    let mock = MockUpstream::builder().echo().start().await;
    let base = Toml::new()
        .deployment("mistral-paris", Dep::eu_sovereign(&mock))
        .alias("assistant", &["mistral-paris"])
        .default_tenant();
    let lexical = Gateway::start(&base.clone().build()).await;
    let gw = Gateway::start(
        &base
            .table(&format!(
                "[retrieval]\nembedding_model = \"{model}\"\nembedding_threads = 2\n"
            ))
            .build(),
    )
    .await;
    let hr = gw.key_with_groups(TENANT, &["hr"]).await;
    let sales = gw.key_with_groups(TENANT, &["sales"]).await;
    let docs = [
        (
            "Congés",
            "Chaque salarié a droit à cinq semaines de congés payés par année de travail.",
        ),
        (
            "Kantine",
            "Die Kantine im Erdgeschoss öffnet um zwölf Uhr und schließt um vierzehn Uhr.",
        ),
        (
            "Parking",
            "Les places de stationnement du sous-sol sont attribuées par ancienneté.",
        ),
    ];
    let mut ids = Vec::new();
    for (name, text) in docs {
        let body = json!({"name": name, "text": text, "labels": {"groups": ["hr"]}});
        let (status, r) = ingest(&gw, "handbook", body.clone()).await;
        assert_eq!(status, 201, "{r}");
        ids.push(r["receipt"]["document_id"].as_str().unwrap().to_owned());
        assert_eq!(ingest(&lexical, "handbook", body).await.0, 201);
    }
    let question = "How many weeks of paid holiday does an employee get?";
    // BM25 alone: no shared term, so no admissible evidence.
    let r = search_as(&lexical, &lexical.key, "handbook", question).await;
    assert_eq!(r["refused"], json!(true), "{r}");
    // Hybrid: the French document first.
    let r = search_as(&gw, &hr, "handbook", question).await;
    assert_eq!(r["data"][0]["document"], json!(ids[0]), "{r}");
    let r = search_as(
        &gw,
        &hr,
        "handbook",
        "When does the canteen open for lunch?",
    )
    .await;
    assert_eq!(r["data"][0]["document"], json!(ids[1]), "{r}");
    // Unrelated questions clear neither BM25 nor the cosine threshold: refused.
    for q in [
        "What is the boiling point of mercury at sea level?",
        "Quelle est la capitale du Pérou ?",
    ] {
        let r = search_as(&gw, &hr, "handbook", q).await;
        assert_eq!(r["refused"], json!(true), "{q}: {r}");
    }
    // Another group: nothing, however near the vectors are; denials counted.
    let r = search_as(&gw, &sales, "handbook", question).await;
    assert_eq!(
        (r["data"].clone(), r["refused"].clone()),
        (json!([]), json!(true)),
        "{r}"
    );
    assert!(r["denied"].as_u64().unwrap() >= 1, "{r}");
    // Chat: the source reaches the prompt, cited.
    let resp = chat_as(&gw, &hr, &rag_body(question, &["handbook"])).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(last_prompt(&mock).contains("cinq semaines"), "{v}");
    assert_eq!(
        v["rempart"]["citations"][0]["document"],
        json!(ids[0]),
        "{v}"
    );
    let resp = chat_as(&gw, &sales, &rag_body(question, &["handbook"])).await;
    assert_eq!(resp.status(), 422, "ineligible evidence only: a refusal");
    // A document stored without a vector (here by a lexical replica over
    // the same store, as `rempart ingest` without a model does) is embedded
    // when the hybrid gateway next loads the collection, and the vector is
    // stored, sealed, for the next load.
    let replica = replica_of(&gw).await;
    let late = "Le télétravail est possible deux jours par semaine avec l'accord du manager.";
    let receipt = replica
        .ingest(
            TENANT,
            "handbook",
            &rempart_gateway::collections::SourceFile::text("Télétravail", late, false),
            &rempart_store::collections::DocumentLabels::default(),
            &[],
        )
        .await
        .unwrap();
    let stored = |chunks: &[rempart_store::collections::LoadedChunk]| {
        chunks
            .iter()
            .find(|c| c.document_id == receipt.document_id)
            .map(|c| c.embedding.as_ref().map(|e| e.model.clone()))
    };
    let before = replica
        .collections()
        .load(TENANT, "handbook")
        .await
        .unwrap()
        .1;
    assert_eq!(stored(&before), Some(None), "stored without a vector");
    let r = search_as(&gw, &hr, "handbook", "Can I work from home?").await;
    assert_eq!(
        r["data"][0]["document"],
        json!(receipt.document_id.to_string()),
        "{r}"
    );
    let after = replica
        .collections()
        .load(TENANT, "handbook")
        .await
        .unwrap()
        .1;
    let tag = stored(&after).flatten().expect("the vector was stored");
    assert!(tag.starts_with("multilingual-e5-small-q4@"), "{tag}");

    // Deleted: gone from the dense side too.
    let resp = gw
        .delete_as(
            &gw.key,
            &format!("/v1/collections/handbook/documents/{}", ids[0]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let r = search_as(&gw, &hr, "handbook", question).await;
    assert!(
        r["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["document"] != json!(ids[0])),
        "{r}"
    );
}

/// A valid French NIR (INSEE number, mod-97 key), as a document writes it.
const NIR: &str = "2 84 12 75 115 023 81";

/// The registered subjects a document mentions (by e-mail or national
/// id, however spelled) are linked without being named: erasing the
/// subject takes the document with it, from the store, the index and the
/// data directory. An unregistered address links nothing; a subject
/// registered after the first ingestion is linked when the same content
/// comes again.
#[tokio::test]
async fn subjects_found_by_the_scan_are_linked_and_erased_with_the_document() {
    let (gw, _mock) = sovereign().await;
    let subject = gw
        .register_subject(&json!({"name": "Camille Martin",
                                  "emails": ["camille.martin@example.fr"],
                                  "national_ids": ["284127511502381"]}))
        .await;
    let planted = "Wombat-Ledger-5521";
    let text = format!(
        "{planted}: the claim filed by CAMILLE.MARTIN@EXAMPLE.FR, social security number {NIR}, is accepted."
    );
    let (status, r) = ingest(&gw, "claims", json!({"name": "Claim 5521", "text": text})).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["receipt"]["linked_subjects"], 1, "{r}");
    assert_eq!(r["receipt"]["subjects_found"], 1, "{r}");
    assert!(
        !r.to_string().contains("camille"),
        "no value in the receipt: {r}"
    );
    let doc = r["receipt"]["document_id"].as_str().unwrap().to_owned();

    // An address nobody registered links nothing.
    let other = "Numbat-Memo-3307: forward questions to nobody.registered@example.org.";
    let (status, n) = ingest(&gw, "claims", json!({"name": "Memo", "text": other})).await;
    assert_eq!(status, 201, "{n}");
    assert_eq!(n["receipt"]["linked_subjects"], 0, "{n}");
    let memo = n["receipt"]["document_id"].as_str().unwrap().to_owned();
    // Opting out links only the subjects named.
    let (_, o) = ingest(
        &gw,
        "claims",
        json!({"name": "Opted out", "text": format!("Copy for camille.martin@example.fr"), "link_subjects": false}),
    )
    .await;
    assert_eq!(o["receipt"]["linked_subjects"], 0, "{o}");

    // Registered after its first ingestion: linked when it comes again.
    let late_text = "Quoll-Note-7781: call +33 6 12 34 56 78 about the refund.";
    let (_, first) = ingest(&gw, "claims", json!({"name": "Note", "text": late_text})).await;
    assert_eq!(first["receipt"]["linked_subjects"], 0, "{first}");
    let late = gw
        .register_subject(&json!({"phones": ["06 12 34 56 78"]}))
        .await;
    let (status, again) = ingest(&gw, "claims", json!({"name": "Note", "text": late_text})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["receipt"]["created"], false, "{again}");
    assert_eq!(again["receipt"]["linked_subjects"], 1, "{again}");

    let found = search_as(&gw, &gw.key, "claims", "claim accepted").await;
    assert_eq!(found["data"][0]["document"], json!(doc), "{found}");

    let erased = gw.erase_subject(&subject).await;
    assert_eq!(erased["removed"]["documents"], json!(1), "{erased}");
    let erased = gw.erase_subject(&late).await;
    assert_eq!(erased["removed"]["documents"], json!(1), "{erased}");
    let after = search_as(&gw, &gw.key, "claims", "claim accepted Wombat").await;
    assert!(
        after["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["document"] != json!(doc)),
        "{after}"
    );
    let (_, listed) = json_of(
        gw.get("/v1/collections/claims/documents")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "the memo and the opted-out copy stay: {listed}"
    );
    assert!(ids.contains(&memo.as_str()) && !ids.contains(&doc.as_str()));

    let dir = gw.stop_keeping_data().await;
    // The ingest records count what the scan found, never the values.
    let records = audit_records(dir.path());
    let ingests: Vec<_> = records.iter().filter(|r| r.endpoint == "ingest").collect();
    assert_eq!(ingests.len(), 5, "one record per ingestion");
    assert_eq!(ingests[0].linked_subjects, 1);
    assert_eq!(ingests[0].pii_counts.get("EMAIL"), Some(&1));
    assert_eq!(ingests[0].pii_counts.get("NATIONAL_ID"), Some(&1));
    assert_eq!(ingests[0].sensitivity, "personal");
    assert_eq!(ingests[1].linked_subjects, 0);
    assert_eq!(ingests[4].documents, ingests[3].documents);
    assert_eq!(
        (ingests[3].linked_subjects, ingests[4].linked_subjects),
        (0, 1)
    );
    assert_in_no_file(
        dir.path(),
        &[
            planted,
            "Claim 5521",
            "Quoll-Note-7781",
            "camille.martin",
            "CAMILLE.MARTIN",
            "284127511502381",
        ],
    );
}

/// Ingestion and deletion each leave one record in the verified audit log
/// (endpoint, outcome, document ids, chunk counts, the key), and the log
/// holds neither the document's name nor a word of its text.
#[tokio::test]
async fn ingestion_and_deletion_are_audited_without_names_or_text() {
    let (gw, _mock) = sovereign().await;
    let text = "# Kakapo plan\n\nThe Kakapo-Orchard-8842 budget doubles.\n\n## Later\n\nMore.";
    let resp = gw
        .post("/v1/collections/plans/documents")
        .json(&json!({"name": "Secret-Plan-Name.md", "markdown": text}))
        .send()
        .await
        .unwrap();
    let ingest_audit = header(&resp, "x-rempart-audit-id").to_owned();
    let (status, r) = json_of(resp).await;
    assert_eq!(status, 201, "{r}");
    let doc = r["receipt"]["document_id"].as_str().unwrap().to_owned();
    let chunks = r["receipt"]["chunks"].as_u64().unwrap();
    let resp = gw
        .delete_as(&gw.key, &format!("/v1/collections/plans/documents/{doc}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let delete_audit = header(&resp, "x-rempart-audit-id").to_owned();
    // Deleting it again: not found, and recorded as such.
    let resp = gw
        .delete_as(&gw.key, &format!("/v1/collections/plans/documents/{doc}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // A refused ingestion is recorded too.
    let (status, _) = ingest(
        &gw,
        "plans",
        json!({"name": "n", "text": "a", "markdown": "b"}),
    )
    .await;
    assert_eq!(status, 400);

    let dir = gw.stop_keeping_data().await;
    let records = audit_records(dir.path());
    let of = |e: &str| {
        records
            .iter()
            .filter(|r| r.endpoint == e)
            .collect::<Vec<_>>()
    };
    let ingests = of("ingest");
    assert_eq!(ingests.len(), 2, "{ingests:?}");
    let i = ingests[0];
    assert_eq!(i.id, ingest_audit);
    assert_eq!((i.tenant.as_str(), i.outcome), (TENANT, Outcome::Served));
    assert!(!i.key_id.is_empty());
    assert_eq!(i.documents, vec![doc.clone()]);
    assert_eq!(i.document_chunks, chunks);
    assert!(
        i.document_chunks >= 2,
        "two sections: {}",
        i.document_chunks
    );
    assert_eq!(
        (ingests[1].outcome, ingests[1].error_code.as_deref()),
        (Outcome::BadRequest, Some("invalid_request"))
    );
    assert!(ingests[1].documents.is_empty());
    let deletes = of("delete_document");
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    assert_eq!(deletes[0].id, delete_audit);
    assert_eq!(deletes[0].outcome, Outcome::Served);
    assert_eq!(deletes[0].documents, vec![doc.clone()]);
    assert_eq!(deletes[0].document_chunks, chunks);
    assert_eq!(deletes[1].outcome, Outcome::BadRequest);
    assert_eq!(deletes[1].error_code.as_deref(), Some("not_found"));
    assert_eq!(deletes[1].documents, vec![doc.clone()]);
    for f in walk(&rempart_gateway::audit::audit_dir(dir.path())) {
        let bytes = std::fs::read(&f).unwrap();
        for v in ["Secret-Plan-Name", "Kakapo", "budget doubles"] {
            assert!(
                !bytes.windows(v.len()).any(|w| w == v.as_bytes()),
                "{v} in {}",
                f.display()
            );
        }
    }
}

/// On PostgreSQL with pgvector the dense side runs in the store: the
/// vectors go into `chunk_vectors` in the ingestion's transaction, a
/// cross-lingual question is answered through them with eligibility in the
/// SQL, and deletion removes them. (Retriever over a bootstrapped database
/// of the test server, `REMPART_TEST_PG_URL`.)
#[tokio::test]
async fn hybrid_retrieval_on_postgres_uses_pgvector() {
    let Some(model) = e5_model() else { return };
    let admin = match std::env::var("REMPART_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("REMPART_TEST_PG_URL is not set and CI=true")
        }
        _ => {
            eprintln!("skipped: REMPART_TEST_PG_URL is not set (scripts/pg.sh start)");
            return;
        }
    };
    use secrecy::SecretString;
    use std::sync::Arc;
    let role = format!(
        "rempart_gw_{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    rempart_store::postgres::bootstrap(
        &SecretString::from(admin.clone()),
        &rempart_store::postgres::AppRole {
            name: role.clone(),
            password: None,
        },
    )
    .await
    .expect("bootstrap");
    let app_url = {
        let (scheme_user, host) = admin.split_once('@').expect("user@host in the URL");
        let scheme = scheme_user.split("//").next().unwrap();
        format!("{scheme}//{role}@{host}")
    };
    let store = rempart_store::Store::connect(&SecretString::from(app_url))
        .await
        .expect("connect as the application role");
    assert!(
        store.has_vector_index(),
        "PostgreSQL with pgvector (scripts/pg.sh)"
    );
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = rempart_crypto::KeyProvider::from_config(
        &rempart_crypto::KeysConfig::default(),
        keys_dir.path(),
        &|_| None,
    )
    .await
    .unwrap();
    let registry = Arc::new(rempart_store::registry::Registry::new(
        store.clone(),
        Arc::new(keys.provider),
        rempart_store::registry::Settings::default(),
    ));
    let embedder =
        rempart_gateway::embedder::Embedder::load(std::path::Path::new(&model), 2).expect("model");
    let retriever = rempart_gateway::collections::Retriever::new(registry)
        .with_embedder(Arc::new(embedder), 0.8);
    assert_eq!(retriever.dense_index(), Some("pgvector"));
    let tenant = format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
    let hr = rempart_store::collections::DocumentLabels {
        groups: ["hr".to_string()].into(),
        ..Default::default()
    };
    let mut ids = Vec::new();
    for (name, text) in [
        (
            "Congés",
            "Chaque salarié a droit à cinq semaines de congés payés par année de travail.",
        ),
        (
            "Kantine",
            "Die Kantine im Erdgeschoss öffnet um zwölf Uhr und schließt um vierzehn Uhr.",
        ),
    ] {
        let r = retriever
            .ingest(
                &tenant,
                "handbook",
                &rempart_gateway::collections::SourceFile::text(name, text, false),
                &hr,
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            store.count_vectors(&tenant, r.document_id).await.unwrap(),
            r.chunks
        );
        ids.push(r.document_id);
    }
    let member = rempart_rag::Principal::new(tenant.as_str()).with_group("hr");
    let outsider = rempart_rag::Principal::new(tenant.as_str()).with_group("sales");
    let question = "How many weeks of paid holiday does an employee get?";
    let c = ["handbook".to_string()];
    let r = retriever.search(&member, &c, question, 4).await.unwrap();
    assert_eq!(
        r.hits.first().map(|h| h.document),
        Some(ids[0]),
        "{:?}",
        r.hits
    );
    let r = retriever.search(&outsider, &c, question, 4).await.unwrap();
    assert!(r.hits.is_empty(), "{:?}", r.hits);
    assert!(r.denied >= 1);
    let r = retriever
        .search(&member, &c, "What is the boiling point of mercury?", 4)
        .await
        .unwrap();
    assert!(r.hits.is_empty(), "unrelated: refused, {:?}", r.hits);
    let receipt = retriever
        .delete(&tenant, "handbook", ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipt.removed.vectors, 1);
    assert_eq!(store.count_vectors(&tenant, ids[0]).await.unwrap(), 0);
    let r = retriever.search(&member, &c, question, 4).await.unwrap();
    assert!(r.hits.iter().all(|h| h.document != ids[0]), "{:?}", r.hits);
}
