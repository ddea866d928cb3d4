//! One suite, two backends: every test body below runs on SQLite and on
//! PostgreSQL (as the least-privilege application role, under Row-Level
//! Security). PostgreSQL runs when `REMPART_TEST_PG_URL` is set.

mod common;

use rempart_crypto::PresentedKey;
use rempart_store::{
    Conversation, ErasureCounts, Error, NewSubject, PseudonymMap, Purged, Store, Turn,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const A: &str = "tenant-a";
const B: &str = "tenant-b";

on_both_backends!(
    api_keys,
    tenant_keys,
    subjects_crud,
    exact_lookup,
    token_search,
    lookups_with_rows,
    conversations_turns_maps,
    ttl_purge,
    erasure,
    tenant_isolation,
);

fn t0() -> OffsetDateTime {
    // Whole microseconds: both backends keep that precision.
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn tok(s: &str) -> Vec<u8> {
    // Stands in for a blind token (HMAC output) — opaque bytes.
    let mut v = s.as_bytes().to_vec();
    v.resize(16, 0);
    v
}

fn subject(n: u128, email: &[u8], tokens: &[&str]) -> NewSubject {
    NewSubject {
        id: id(n),
        wrapped_key: format!("wrapped-{n}"),
        profile: vec![n as u8; 24],
        index: vec![
            ("email".into(), email.to_vec()),
            ("name+dob".into(), b"same-name-dob".to_vec()),
        ],
        tokens: tokens.iter().map(|t| tok(t)).collect(),
        created: t0() + Duration::seconds(n as i64),
    }
}

fn conv(n: u128, subject: Option<u128>, expires_in: i64) -> Conversation {
    Conversation {
        id: id(n),
        subject_id: subject.map(id),
        created: t0(),
        expires_at: t0() + Duration::seconds(expires_in),
    }
}

fn turn(c: u128, seq: i64) -> Turn {
    Turn {
        conversation_id: id(c),
        seq,
        role: if seq % 2 == 0 { "user" } else { "assistant" }.into(),
        content: vec![seq as u8; 8],
        created: t0() + Duration::seconds(seq),
    }
}

fn map(c: u128, subject: Option<u128>) -> PseudonymMap {
    PseudonymMap {
        conversation_id: id(c),
        subject_id: subject.map(id),
        mapping: vec![0xee; 12],
        updated: t0(),
    }
}

async fn api_keys(store: &Store) {
    let key = store.create_key(A, Some("ci")).await.unwrap();
    let other = store.create_key(B, None).await.unwrap();
    let full = key.reveal();
    let rec = store
        .authenticate(&PresentedKey::parse(&full).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.tenant, A);
    assert_eq!(rec.label.as_deref(), Some("ci"));
    // Right id, wrong secret.
    let last = full.chars().last().unwrap();
    let bad = format!(
        "{}{}",
        &full[..full.len() - 1],
        if last == 'a' { 'b' } else { 'a' }
    );
    assert!(
        store
            .authenticate(&PresentedKey::parse(&bad).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let listed = store.list_keys(Some(A)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, key.id());
    assert!(store.revoke_key(key.id()).await.unwrap());
    assert!(!store.revoke_key("no-such-key").await.unwrap());
    assert!(
        store
            .authenticate(&PresentedKey::parse(&full).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    // The other tenant's key still works.
    let rec = store
        .authenticate(&PresentedKey::parse(&other.reveal()).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.tenant, B);
}

async fn tenant_keys(store: &Store) {
    assert!(store.get_tenant_key(A, "bidx").await.unwrap().is_none());
    assert!(
        store
            .put_tenant_key(A, "bidx", "wrapped-1", t0())
            .await
            .unwrap()
    );
    // A second writer loses and keeps the first key.
    assert!(
        !store
            .put_tenant_key(A, "bidx", "wrapped-2", t0())
            .await
            .unwrap()
    );
    let k = store.get_tenant_key(A, "bidx").await.unwrap().unwrap();
    assert_eq!(
        (k.name.as_str(), k.wrapped.as_str(), k.created),
        ("bidx", "wrapped-1", t0())
    );
    assert!(!format!("{k:?}").contains("wrapped-1"));
    assert!(store.get_tenant_key(B, "bidx").await.unwrap().is_none());
    assert!(
        store
            .put_tenant_key(B, "bidx", "wrapped-b", t0())
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_tenant_key(A, "bidx")
            .await
            .unwrap()
            .unwrap()
            .wrapped,
        "wrapped-1"
    );
    assert!(matches!(
        store.get_tenant_key("", "bidx").await,
        Err(Error::Invalid { what: "tenant", .. })
    ));
}

async fn subjects_crud(store: &Store) {
    let s1 = subject(1, b"e1", &["jean", "dupont"]);
    let s2 = subject(2, b"e2", &["marie"]);
    store.insert_subject(A, &s2).await.unwrap();
    store.insert_subject(A, &s1).await.unwrap();
    let got = store.get_subject(A, id(1)).await.unwrap().unwrap();
    assert_eq!(got.id, id(1));
    assert_eq!(got.wrapped_key.as_deref(), Some("wrapped-1"));
    assert_eq!(got.profile.as_deref(), Some(&[1u8; 24][..]));
    assert_eq!(got.created, s1.created);
    assert_eq!(got.erased_at, None);
    // Oldest first.
    let all: Vec<Uuid> = store
        .list_subjects(A)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(all, vec![id(1), id(2)]);
    // Same id twice in a tenant: refused, and nothing half-written.
    assert!(
        store
            .insert_subject(A, &subject(1, b"other", &["x"]))
            .await
            .is_err()
    );
    assert!(
        store
            .find_by_index(A, "email", b"other")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .find_by_tokens(A, &[tok("x")])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.get_subject(A, id(99)).await.unwrap().is_none());
    // Another tenant sees none of it, and may use the same id.
    assert!(store.get_subject(B, id(1)).await.unwrap().is_none());
    assert!(store.list_subjects(B).await.unwrap().is_empty());
    store
        .insert_subject(B, &subject(1, b"e1", &["jean"]))
        .await
        .unwrap();
    assert_eq!(store.list_subjects(B).await.unwrap().len(), 1);
    assert_eq!(store.list_subjects(A).await.unwrap().len(), 2);
    // Debug output carries no ciphertext nor wrapped key.
    let dbg = format!("{got:?} {s1:?}");
    assert!(!dbg.contains("wrapped-1"), "{dbg}");
}

async fn exact_lookup(store: &Store) {
    store
        .insert_subject(A, &subject(1, b"e1", &[]))
        .await
        .unwrap();
    store
        .insert_subject(A, &subject(2, b"e2", &[]))
        .await
        .unwrap();
    store
        .insert_subject(B, &subject(3, b"e1", &[]))
        .await
        .unwrap();
    assert_eq!(
        store.find_by_index(A, "email", b"e1").await.unwrap(),
        vec![id(1)]
    );
    assert_eq!(
        store.find_by_index(A, "email", b"e2").await.unwrap(),
        vec![id(2)]
    );
    assert_eq!(
        store.find_by_index(B, "email", b"e1").await.unwrap(),
        vec![id(3)]
    );
    // Compound index, shared by two subjects.
    assert_eq!(
        store
            .find_by_index(A, "name+dob", b"same-name-dob")
            .await
            .unwrap(),
        vec![id(1), id(2)]
    );
    // The value under another index name does not match.
    assert!(
        store
            .find_by_index(A, "phone", b"e1")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .find_by_index(A, "email", b"e3")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn token_search(store: &Store) {
    store
        .insert_subject(A, &subject(1, b"e1", &["jean", "pierre", "dupont"]))
        .await
        .unwrap();
    store
        .insert_subject(A, &subject(2, b"e2", &["pierre", "dupont", "martin"]))
        .await
        .unwrap();
    store
        .insert_subject(B, &subject(3, b"e3", &["jean", "pierre", "dupont"]))
        .await
        .unwrap();
    let find = |t: &[&str]| {
        let t: Vec<Vec<u8>> = t.iter().map(|s| tok(s)).collect();
        async move { store.find_by_tokens(A, &t).await.unwrap() }
    };
    assert_eq!(find(&["pierre", "dupont"]).await, vec![id(1), id(2)]);
    // All tokens must match; B's subject with the same tokens never shows.
    assert_eq!(find(&["jean", "dupont"]).await, vec![id(1)]);
    assert_eq!(find(&["jean", "martin"]).await, Vec::<Uuid>::new());
    assert_eq!(find(&["dupont", "dupont"]).await, vec![id(1), id(2)]);
    assert_eq!(find(&["nobody"]).await, Vec::<Uuid>::new());
    assert_eq!(
        find(&["jean", "pierre", "dupont", "martin"]).await,
        Vec::<Uuid>::new()
    );
    assert_eq!(
        store.find_by_tokens(B, &[tok("pierre")]).await.unwrap(),
        vec![id(3)]
    );
    assert!(matches!(
        store.find_by_tokens(A, &[]).await,
        Err(Error::Invalid {
            what: "name tokens",
            ..
        })
    ));
}

/// `find_subjects_by_*` return, in one query, exactly the rows that
/// `find_by_*` + `get_subject` would: same ids, same order, same tenant
/// isolation, erased subjects included (with their key gone).
async fn lookups_with_rows(store: &Store) {
    store
        .insert_subject(A, &subject(1, b"e1", &["jean", "dupont"]))
        .await
        .unwrap();
    store
        .insert_subject(A, &subject(2, b"e2", &["pierre", "dupont"]))
        .await
        .unwrap();
    store
        .insert_subject(B, &subject(3, b"e1", &["jean", "dupont"]))
        .await
        .unwrap();
    let rows_of = |ids: Vec<Uuid>, tenant: &'static str| async move {
        let mut out = Vec::new();
        for i in ids {
            out.push(store.get_subject(tenant, i).await.unwrap().unwrap());
        }
        out
    };
    for (tenant, name, value) in [
        (A, "email", &b"e1"[..]),
        (A, "email", b"e2"),
        (B, "email", b"e1"),
        (A, "name+dob", b"same-name-dob"),
        (A, "phone", b"e1"),
        (A, "email", b"e3"),
    ] {
        let ids = store.find_by_index(tenant, name, value).await.unwrap();
        let rows = store
            .find_subjects_by_index(tenant, name, value)
            .await
            .unwrap();
        assert!(rows == rows_of(ids, tenant).await, "{tenant} {name}");
    }
    let both = store
        .find_subjects_by_index(A, "name+dob", b"same-name-dob")
        .await
        .unwrap();
    assert_eq!(
        both.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![id(1), id(2)]
    );
    assert_eq!(both[0].wrapped_key.as_deref(), Some("wrapped-1"));
    for (tenant, t) in [
        (A, vec![tok("dupont")]),
        (A, vec![tok("jean"), tok("dupont")]),
        (B, vec![tok("jean"), tok("dupont")]),
        (A, vec![tok("dupont"), tok("dupont")]),
        (A, vec![tok("nobody")]),
    ] {
        let ids = store.find_by_tokens(tenant, &t).await.unwrap();
        let rows = store.find_subjects_by_tokens(tenant, &t).await.unwrap();
        assert!(rows == rows_of(ids, tenant).await, "{tenant} tokens");
    }
    assert!(matches!(
        store.find_subjects_by_tokens(A, &[]).await,
        Err(Error::Invalid {
            what: "name tokens",
            ..
        })
    ));
    // Erased: the row stays (tombstone) without key or profile, and the
    // index rows and tokens are gone, so no lookup returns it.
    store
        .erase_subject(A, id(1), t0(), r#"{"erased":1}"#)
        .await
        .unwrap();
    assert!(
        store
            .find_subjects_by_index(A, "email", b"e1")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .find_subjects_by_tokens(A, &[tok("dupont")])
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        vec![id(2)]
    );
}

async fn conversations_turns_maps(store: &Store) {
    store
        .insert_subject(A, &subject(1, b"e1", &[]))
        .await
        .unwrap();
    store
        .put_conversation(A, &conv(10, Some(1), 3600))
        .await
        .unwrap();
    store
        .put_conversation(A, &conv(11, None, 3600))
        .await
        .unwrap();
    for seq in [2, 0, 1] {
        store.append_turn(A, &turn(10, seq)).await.unwrap();
    }
    let turns = store.list_turns(A, id(10)).await.unwrap();
    assert_eq!(
        turns.iter().map(|t| t.seq).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(turns[1], turn(10, 1));
    // A seq is written once; a turn needs its conversation.
    assert!(store.append_turn(A, &turn(10, 1)).await.is_err());
    assert!(store.append_turn(A, &turn(12, 0)).await.is_err());
    assert_eq!(
        store.get_conversation(A, id(10)).await.unwrap().unwrap(),
        conv(10, Some(1), 3600)
    );
    assert_eq!(
        store.list_conversations(A, id(1)).await.unwrap(),
        vec![conv(10, Some(1), 3600)]
    );
    // Upsert: link the second conversation, extend it.
    store
        .put_conversation(A, &conv(11, Some(1), 7200))
        .await
        .unwrap();
    assert_eq!(store.list_conversations(A, id(1)).await.unwrap().len(), 2);
    assert_eq!(
        store
            .get_conversation(A, id(11))
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        t0() + Duration::seconds(7200)
    );
    store.put_pseudonym_map(A, &map(10, None)).await.unwrap();
    let mut m = map(10, Some(1));
    m.mapping = vec![0xaa; 5];
    m.updated = t0() + Duration::seconds(5);
    store.put_pseudonym_map(A, &m).await.unwrap();
    assert_eq!(
        store.get_pseudonym_map(A, id(10)).await.unwrap().unwrap(),
        m
    );
    assert!(store.get_pseudonym_map(A, id(11)).await.unwrap().is_none());
    assert_eq!(
        store.list_pseudonym_maps(A, id(1)).await.unwrap(),
        vec![m.clone()]
    );
    assert!(store.put_pseudonym_map(A, &map(99, None)).await.is_err());
    // Tenant B sees none of it.
    assert!(store.get_conversation(B, id(10)).await.unwrap().is_none());
    assert!(store.list_turns(B, id(10)).await.unwrap().is_empty());
    assert!(store.get_pseudonym_map(B, id(10)).await.unwrap().is_none());
    assert!(store.list_conversations(B, id(1)).await.unwrap().is_empty());
    assert!(
        store
            .list_pseudonym_maps(B, id(1))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn ttl_purge(store: &Store) {
    store
        .put_conversation(A, &conv(10, None, 60))
        .await
        .unwrap();
    store
        .put_conversation(A, &conv(11, None, 3600))
        .await
        .unwrap();
    store
        .put_conversation(B, &conv(12, None, 60))
        .await
        .unwrap();
    for c in [10, 11, 12] {
        let tenant = if c == 12 { B } else { A };
        store.append_turn(tenant, &turn(c, 0)).await.unwrap();
        store.append_turn(tenant, &turn(c, 1)).await.unwrap();
        store
            .put_pseudonym_map(tenant, &map(c, None))
            .await
            .unwrap();
    }
    // Not yet expired.
    assert_eq!(
        store
            .purge_expired(A, t0() + Duration::seconds(59))
            .await
            .unwrap(),
        Purged::default()
    );
    let now = t0() + Duration::seconds(60);
    assert_eq!(
        store.purge_expired(A, now).await.unwrap(),
        Purged {
            conversations: 1,
            turns: 2,
            pseudonym_maps: 1
        }
    );
    assert!(store.get_conversation(A, id(10)).await.unwrap().is_none());
    assert!(store.list_turns(A, id(10)).await.unwrap().is_empty());
    assert!(store.get_pseudonym_map(A, id(10)).await.unwrap().is_none());
    assert_eq!(store.list_turns(A, id(11)).await.unwrap().len(), 2);
    // B's expired conversation is B's business.
    assert_eq!(store.list_turns(B, id(12)).await.unwrap().len(), 2);
    assert_eq!(
        store.purge_expired(A, now).await.unwrap(),
        Purged::default()
    );
    assert_eq!(
        store.purge_expired(B, now).await.unwrap(),
        Purged {
            conversations: 1,
            turns: 2,
            pseudonym_maps: 1
        }
    );
}

async fn erasure(store: &Store) {
    // Subject 1 in A: index rows (2), tokens (3), two linked conversations
    // (3 + 1 turns, one map each), a map linked directly in an unlinked
    // conversation. Subject 2 in A and a subject with the same id in B must
    // not be touched.
    store
        .insert_subject(A, &subject(1, b"e1", &["jean", "pierre", "dupont"]))
        .await
        .unwrap();
    store
        .insert_subject(A, &subject(2, b"e2", &["pierre", "dupont"]))
        .await
        .unwrap();
    store
        .insert_subject(B, &subject(1, b"e1", &["jean", "pierre", "dupont"]))
        .await
        .unwrap();
    store
        .put_conversation(A, &conv(10, Some(1), 3600))
        .await
        .unwrap();
    store
        .put_conversation(A, &conv(11, Some(1), 3600))
        .await
        .unwrap();
    store
        .put_conversation(A, &conv(12, None, 3600))
        .await
        .unwrap();
    store
        .put_conversation(A, &conv(13, Some(2), 3600))
        .await
        .unwrap();
    store
        .put_conversation(B, &conv(10, Some(1), 3600))
        .await
        .unwrap();
    for seq in 0..3 {
        store.append_turn(A, &turn(10, seq)).await.unwrap();
    }
    store.append_turn(A, &turn(11, 0)).await.unwrap();
    store.append_turn(A, &turn(12, 0)).await.unwrap();
    store.append_turn(A, &turn(13, 0)).await.unwrap();
    store.append_turn(B, &turn(10, 0)).await.unwrap();
    store.put_pseudonym_map(A, &map(10, Some(1))).await.unwrap();
    store.put_pseudonym_map(A, &map(11, None)).await.unwrap();
    store.put_pseudonym_map(A, &map(12, Some(1))).await.unwrap();
    store.put_pseudonym_map(A, &map(13, Some(2))).await.unwrap();
    store.put_pseudonym_map(B, &map(10, Some(1))).await.unwrap();

    let full = ErasureCounts {
        wrapped_keys: 1,
        profiles: 1,
        index_rows: 2,
        tokens: 3,
        conversations: 2,
        turns: 4,
        pseudonym_maps: 3,
        ..ErasureCounts::default()
    };
    assert_eq!(store.remaining(A, id(1)).await.unwrap(), full);
    let b_before = store.remaining(B, id(1)).await.unwrap();
    let s2_before = store.remaining(A, id(2)).await.unwrap();
    assert!(matches!(
        store.erase_subject(A, id(1), t0(), "{not json").await,
        Err(Error::Invalid {
            what: "erasure receipt",
            ..
        })
    ));
    assert_eq!(store.remaining(A, id(1)).await.unwrap(), full);

    let erased_at = t0() + Duration::hours(1);
    let receipt = r#"{"request": "r-1", "tables": 7}"#;
    assert_eq!(
        store
            .erase_subject(A, id(1), erased_at, receipt)
            .await
            .unwrap(),
        full
    );
    assert_eq!(
        store.remaining(A, id(1)).await.unwrap(),
        ErasureCounts::default()
    );
    assert_eq!(store.remaining(A, id(1)).await.unwrap().total(), 0);

    let s = store.get_subject(A, id(1)).await.unwrap().unwrap();
    assert_eq!(
        (s.wrapped_key, s.profile, s.erased_at),
        (None, None, Some(erased_at))
    );
    assert!(
        store
            .find_by_index(A, "email", b"e1")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.find_by_tokens(A, &[tok("pierre")]).await.unwrap(),
        vec![id(2)]
    );
    assert!(store.get_conversation(A, id(10)).await.unwrap().is_none());
    assert!(store.list_turns(A, id(10)).await.unwrap().is_empty());
    assert!(store.get_pseudonym_map(A, id(12)).await.unwrap().is_none());
    // The unlinked conversation stays, without the subject's map.
    assert_eq!(store.list_turns(A, id(12)).await.unwrap().len(), 1);
    let tomb = store.list_erasures(A, id(1)).await.unwrap();
    assert_eq!(tomb.len(), 1);
    assert_eq!(tomb[0].erased_at, erased_at);
    let v: serde_json::Value = serde_json::from_str(&tomb[0].receipt).unwrap();
    assert_eq!(v["request"], "r-1");

    // Others untouched: subject 2, and B's subject with the same id.
    assert_eq!(store.remaining(A, id(2)).await.unwrap(), s2_before);
    assert_eq!(store.remaining(B, id(1)).await.unwrap(), b_before);
    assert_eq!(b_before.total(), 10, "{b_before:?}");
    assert!(store.list_erasures(B, id(1)).await.unwrap().is_empty());

    // Again: nothing left to remove, one more tombstone.
    let later = erased_at + Duration::seconds(1);
    assert_eq!(
        store.erase_subject(A, id(1), later, "{}").await.unwrap(),
        ErasureCounts::default()
    );
    assert_eq!(store.list_erasures(A, id(1)).await.unwrap().len(), 2);
    assert!(matches!(
        store.erase_subject(A, id(404), later, "{}").await,
        Err(Error::NotFound("subject"))
    ));
}

async fn tenant_isolation(store: &Store) {
    store
        .insert_subject(A, &subject(1, b"e1", &["jean"]))
        .await
        .unwrap();
    store
        .put_conversation(A, &conv(10, Some(1), 60))
        .await
        .unwrap();
    store.append_turn(A, &turn(10, 0)).await.unwrap();
    store.put_pseudonym_map(A, &map(10, Some(1))).await.unwrap();
    // B cannot erase, purge, append to or read A's rows.
    assert!(matches!(
        store.erase_subject(B, id(1), t0(), "{}").await,
        Err(Error::NotFound("subject"))
    ));
    assert_eq!(
        store.remaining(B, id(1)).await.unwrap(),
        ErasureCounts::default()
    );
    assert_eq!(
        store
            .purge_expired(B, t0() + Duration::days(1))
            .await
            .unwrap(),
        Purged::default()
    );
    assert!(store.append_turn(B, &turn(10, 1)).await.is_err());
    assert!(store.put_pseudonym_map(B, &map(10, None)).await.is_err());
    // B writing the same conversation id creates B's own row.
    store
        .put_conversation(B, &conv(10, None, 999))
        .await
        .unwrap();
    assert_eq!(
        store.get_conversation(A, id(10)).await.unwrap().unwrap(),
        conv(10, Some(1), 60)
    );
    assert!(
        store
            .find_by_index(B, "email", b"e1")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .find_by_tokens(B, &[tok("jean")])
            .await
            .unwrap()
            .is_empty()
    );
    // A's data is whole.
    let r = store.remaining(A, id(1)).await.unwrap();
    assert_eq!(
        r,
        ErasureCounts {
            wrapped_keys: 1,
            profiles: 1,
            index_rows: 2,
            tokens: 1,
            conversations: 1,
            turns: 1,
            pseudonym_maps: 1,
            ..ErasureCounts::default()
        }
    );
}

#[tokio::test]
async fn bad_urls_are_refused_without_echo() {
    for url in [
        "mysql://u:s3cr3t@host/db",
        "postgres://u:s3cr3t@[not-a-host/db",
        "sqlite:",
    ] {
        let err = Store::connect(&secrecy::SecretString::from(url.to_string()))
            .await
            .unwrap_err();
        let msg = format!("{err} {err:?}");
        assert!(!msg.contains("s3cr3t"), "{msg}");
        assert!(msg.contains("URL"), "{msg}");
    }
}

#[tokio::test]
async fn sqlite_url_opens_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("x.db");
    let url = format!("sqlite:{}", path.display());
    let store = Store::connect(&secrecy::SecretString::from(url))
        .await
        .unwrap();
    assert_eq!(store.backend(), rempart_store::BackendKind::Sqlite);
    store
        .insert_subject(A, &subject(1, b"e", &[]))
        .await
        .unwrap();
    store.close().await;
    assert!(path.exists());
}
