//! `/v1/subjects`: register, search, export and erase data subjects over
//! HTTP, tenant-scoped; erasure leaves a tombstone in an audit log that
//! still verifies.

use serde_json::{Value, json};

use crate::common::*;

async fn gateway() -> Gateway {
    let mock = rempart_test::MockUpstream::start().await;
    let toml = Toml::new()
        .deployment("eu-paris", Dep::eu(&mock))
        .alias("assistant", &["eu-paris"])
        .tenant("acme", "region = \"FR\"")
        .tenant("globex", "region = \"FR\"")
        .build();
    let gw = Gateway::start_with_keys(&toml, &["acme", "globex"]).await;
    std::mem::forget(mock); // lives as long as the test process
    gw
}

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

#[tokio::test]
async fn register_search_export_erase() {
    let gw = gateway().await;
    let profile = json!({
        "name": "Anne-Sophie Lefèvre",
        "emails": ["as.lefevre@example.fr"],
        "phones": ["+33 6 98 76 54 32"],
        "ibans": ["FR76 3000 6000 0112 3456 7890 189"],
    });
    let id = gw.register_subject(&profile).await;

    // A chat about the subject: its audit record names the subject.
    let mut body = chat_body("assistant", "Bonjour");
    body["rempart"] = json!({"subject_ref": id, "purpose": "support"});
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    let audit_id = header(&resp, "x-rempart-audit-id").to_owned();

    // Search by each kind, formatted differently from registration.
    for q in [
        json!({"email": "AS.Lefevre@Example.FR"}),
        json!({"phone": "06 98 76 54 32"}),
        json!({"iban": "fr7630006000011234567890189"}),
        json!({"name": "lefev"}),
    ] {
        let (status, found) = json_of(
            gw.post("/v1/subjects/search")
                .json(&q)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{q} → {found}");
        assert_eq!(found["data"].as_array().unwrap().len(), 1, "{q} → {found}");
        assert_eq!(found["data"][0]["id"], json!(id));
    }
    // Another tenant sees nothing.
    let (_, other) = json_of(
        gw.post_as(gw.key_of("globex"), "/v1/subjects/search")
            .json(&json!({"email": "as.lefevre@example.fr"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(other["data"], json!([]));
    let resp = gw
        .http
        .get(format!("{}/v1/subjects/{id}", gw.url))
        .bearer_auth(gw.key_of("globex"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // Export: the profile, decrypted, and the audit reference.
    let (status, export) = json_of(
        gw.get(&format!("/v1/subjects/{id}/export"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(
        export["profile"]["emails"],
        json!(["as.lefevre@example.fr"])
    );
    assert_eq!(export["audit_records"], json!([audit_id]));

    // Erase: the receipt, with nothing remaining and a tombstone id.
    let receipt = gw.erase_subject(&id).await;
    assert_eq!(receipt["removed"]["data_keys"], json!(1));
    assert_eq!(receipt["removed"]["index_rows"], json!(3));
    assert_eq!(receipt["lookup_hits_after"], json!(0));
    let tombstone = receipt["audit_tombstone"].as_str().unwrap().to_owned();

    // Afterwards: export 404, search empty.
    let resp = gw
        .get(&format!("/v1/subjects/{id}/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let (_, found) = json_of(
        gw.post("/v1/subjects/search")
            .json(&json!({"email": "as.lefevre@example.fr"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(found["data"], json!([]));

    // The audit log verifies and holds the tombstone.
    let dir = gw.stop_keeping_data().await;
    let key = rempart_gateway::audit::signing_key(dir.path()).unwrap();
    let entries = rempart_audit::read_entries(
        &rempart_gateway::audit::audit_dir(dir.path()),
        &key.verifying_key(),
    )
    .expect("the log verifies after the erasure");
    assert!(entries.iter().any(|(_, e)| matches!(e,
        rempart_audit::EntryBody::Tombstone(t) if t.id == tombstone && t.erases == format!("subject:{id}"))));
    // No planted value in the audit log or the SQLite store files.
    for f in walk(dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        for v in ["lefevre", "Lefèvre", "698765432", "30006000011234567890189"] {
            assert!(
                !bytes.windows(v.len()).any(|w| w == v.as_bytes()),
                "{v} in {}",
                f.display()
            );
        }
    }
}

#[tokio::test]
async fn bad_requests_name_the_problem_not_the_value() {
    let gw = gateway().await;
    let (status, err) = json_of(
        gw.post("/v1/subjects")
            .json(&json!({"ibans": ["FR76 BADBAD 1234"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    let msg = err["error"]["message"].as_str().unwrap();
    assert!(msg.contains("iban") && !msg.contains("BADBAD"), "{msg}");
    let (status, err) = json_of(
        gw.post("/v1/subjects")
            .json(&json!({"emails": "x@y.z"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["param"], json!("emails"), "{err}");
    assert!(!err.to_string().contains("x@y.z"), "{err}");
    let (status, _) = json_of(
        gw.post("/v1/subjects/search")
            .json(&json!({"email": "a@b.c", "name": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let resp = gw.get("/v1/subjects/not-a-uuid").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let resp = gw
        .http
        .delete(format!("{}/v1/subjects/{}", gw.url, uuid::Uuid::now_v7()))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Unauthenticated: 401.
    let resp = gw
        .http
        .post(format!("{}/v1/subjects", gw.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

/// Conversation memory (`rempart.conversation_id`): a surname detected in
/// the first turn is pseudonymised in a later turn where the detector alone
/// misses it (in capitals, no cue), with the same placeholder, whole and
/// streamed; without the conversation the same text reaches the upstream
/// in clear. The turns are stored sealed under the subject's key: exported
/// decrypted, gone after erasure, absent from the SQLite files.
#[tokio::test]
async fn conversation_memory_keeps_pseudonyms_across_turns_and_is_erasable() {
    let mock = rempart_test::MockUpstream::builder()
        .echo()
        .split_chars(4)
        .start()
        .await;
    let toml = Toml::new()
        .deployment("mistral-paris", Dep::eu_sovereign(&mock))
        .alias("assistant", &["mistral-paris"])
        .default_tenant()
        .build();
    let gw = Gateway::start(&toml).await;
    let subject = gw
        .register_subject(&json!({"name": "Ewa Kwasniak", "emails": ["ewa.k@example.pl"]}))
        .await;
    let conversation = uuid::Uuid::now_v7().to_string();
    let ext = json!({"conversation_id": conversation, "subject_ref": subject});

    // Turn 1: the detector finds the surname after "Madame".
    let first = "Bonjour, je suis Madame Kwasniak, cliente depuis 2019.";
    let mut body = chat_body("assistant", first);
    body["rempart"] = ext.clone();
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    let (_, answer1) = json_of(resp).await;
    let answer1 = answer1["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(answer1.contains("Kwasniak"), "re-identified: {answer1}");
    let sent1 = mock.last_request().unwrap().last_user_message().unwrap();
    assert!(!sent1.contains("Kwasniak"), "upstream saw: {sent1}");
    let placeholder = sent1
        .split_whitespace()
        .find(|w| w.contains("PERSON"))
        .unwrap_or_else(|| panic!("a PERSON placeholder in {sent1}"))
        .trim_end_matches(',')
        .to_owned();

    // The detector alone misses the surname in capitals with no cue: the
    // same turn without conversation memory leaks it.
    let second = "Le dossier KWASNIAK est urgent.";
    let resp = gw.chat(&chat_body("assistant", second)).await;
    assert_eq!(resp.status(), 200);
    let sent = mock.last_request().unwrap().last_user_message().unwrap();
    assert!(
        sent.contains("KWASNIAK"),
        "control: the detector alone misses it (else this test proves nothing): {sent}"
    );

    // Turn 2, streamed, in the conversation: caught, same placeholder.
    let mut body = json!({"model": "assistant", "stream": true, "messages": [
        {"role": "user", "content": first},
        {"role": "assistant", "content": answer1},
        {"role": "user", "content": second},
    ]});
    body["rempart"] = ext.clone();
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let answer2 = streamed_text(&sse_json(&text));
    // The placeholder stands for the value as first seen: the client gets
    // its words back, in the first turn's spelling.
    assert_eq!(answer2, "Le dossier Kwasniak est urgent.");
    let req = mock.last_request().unwrap();
    assert!(
        !req.body_text().to_lowercase().contains("kwasniak"),
        "upstream saw the surname: {}",
        req.body_text()
    );
    assert_eq!(
        req.last_user_message().unwrap(),
        format!("Le dossier {placeholder} est urgent."),
        "the first turn's placeholder"
    );

    // Export: the conversation's four turns, decrypted, and its map.
    let (status, export) = json_of(
        gw.get(&format!("/v1/subjects/{subject}/export"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{export}");
    let conv = &export["conversations"][0];
    assert_eq!(conv["id"], json!(conversation), "{export}");
    let turns: Vec<(&str, &str)> = conv["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["role"].as_str().unwrap(), t["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        turns,
        [
            ("user", first),
            ("assistant", answer1.as_str()),
            ("user", second),
            ("assistant", answer2.as_str()),
        ]
    );
    assert!(
        export["pseudonym_maps"][0]["mapping"]
            .to_string()
            .contains("Kwasniak"),
        "{export}"
    );

    // Erase: the conversation goes with the subject; a later turn naming
    // the erased subject is refused, and nothing is forwarded.
    gw.erase_subject(&subject).await;
    let before = mock.request_count();
    let mut body = chat_body("assistant", "Et maintenant ?");
    body["rempart"] = ext.clone();
    let err = expect_error(gw.chat(&body).await, 400, "invalid_request").await;
    assert_eq!(err["param"], json!("rempart.subject_ref"), "{err}");
    assert_eq!(mock.request_count(), before);

    // A conversation id that is not a UUID names the field.
    let mut body = chat_body("assistant", "Bonjour");
    body["rempart"] = json!({"conversation_id": "conv-1"});
    let err = expect_error(gw.chat(&body).await, 400, "invalid_request").await;
    assert_eq!(err["param"], json!("rempart.conversation_id"), "{err}");

    let dir = gw.stop_keeping_data().await;
    for f in walk(dir.path()) {
        let bytes = std::fs::read(&f).unwrap().to_ascii_lowercase();
        assert!(
            !bytes.windows(8).any(|w| w == b"kwasniak"),
            "the surname in {}",
            f.display()
        );
    }
}
