//! Encrypted document collections on both backends: idempotent
//! re-ingestion, deletion with a receipt, erasure of a data subject that
//! reaches its documents, and no planted chunk text anywhere in the
//! database (SQLite files, `pg_dump`, as text or hex).

mod common;

use std::sync::Arc;

use common::Backend;
use rempart_crypto::KeyProvider;
use rempart_crypto::kms::KeysConfig;
use rempart_store::collections::{
    ChunkText, Collections, DocumentLabels, Embedding, NewDocumentIn,
};
use rempart_store::registry::{Lookup, Profile, Registry, RegistryError, Settings};

const A: &str = "tenant-a";
const B: &str = "tenant-b";

on_both_backends_full!(
    ingest_is_idempotent_and_sealed,
    delete_leaves_nothing,
    erasure_reaches_documents,
    key_groups_round_trip,
    found_subjects_are_linked_and_erased,
    embeddings_sealed_and_filled_later,
);

async fn key_groups_round_trip(b: &Backend) {
    let groups = vec!["sales".to_string(), "hr".to_string(), "hr".to_string()];
    let key = b
        .store
        .create_key_with_groups(A, Some("g"), &groups)
        .await
        .unwrap();
    let presented = key.reveal();
    let rec = b
        .store
        .authenticate(&rempart_crypto::PresentedKey::parse(&presented).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.groups, vec!["hr", "sales"], "sorted, deduplicated");
    let plain = b.store.create_key(A, None).await.unwrap();
    let listed = b.store.list_keys(Some(A)).await.unwrap();
    let of = |id: &str| listed.iter().find(|k| k.id == id).unwrap().groups.clone();
    assert_eq!(of(key.id()), vec!["hr", "sales"]);
    assert!(of(plain.id()).is_empty());
    let err = b
        .store
        .create_key_with_groups(A, None, &["bad\ngroup".to_string()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("groups"), "{err}");
}

/// Planted in chunk text and names: never in the database in clear.
const PLANTED: &[&str] = &[
    "Zanzibar-Quokka-4471",
    "Confidential merger memo",
    "FR7630006000011234567890189",
];

fn contains(hay: &[u8], needle: &str) -> bool {
    let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
    [needle.as_bytes(), hex.as_bytes()]
        .iter()
        .any(|n| hay.windows(n.len()).any(|w| w == *n))
}

async fn collections(dir: &std::path::Path, b: &Backend) -> (Arc<Registry>, Collections) {
    let opened = KeyProvider::from_config(&KeysConfig::default(), dir, &|_| None)
        .await
        .unwrap();
    let reg = Arc::new(Registry::new(
        b.store.clone(),
        Arc::new(opened.provider),
        Settings::default(),
    ));
    (reg.clone(), Collections::new(reg))
}

fn chunks(texts: &[&str]) -> Vec<ChunkText> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| ChunkText {
            text: (*t).to_owned(),
            heading_path: vec!["Memo".into(), format!("Part {i}")],
            page_start: i as u32 + 1,
            page_end: i as u32 + 1,
            start: i * 100,
            end: i * 100 + t.len(),
            embedding: None,
        })
        .collect()
}

fn doc<'a>(
    collection: &'a str,
    name: &'a str,
    content: &'a [u8],
    labels: &'a DocumentLabels,
    subjects: &'a [uuid::Uuid],
    texts: &[&str],
) -> NewDocumentIn<'a> {
    NewDocumentIn {
        collection,
        name,
        format: "text",
        content,
        pages: texts.len() as u32,
        labels,
        subjects,
        chunks: chunks(texts),
    }
}

const TEXTS: &[&str] = &[
    "The code word is Zanzibar-Quokka-4471 for the merger.",
    "Wire the deposit to FR7630006000011234567890189 before Friday.",
];

async fn ingest_is_idempotent_and_sealed(b: &Backend) {
    let keys = tempfile::tempdir().unwrap();
    let (_, col) = collections(keys.path(), b).await;
    let hr = DocumentLabels {
        groups: ["hr".to_string()].into(),
        ..DocumentLabels::default()
    };
    let content = TEXTS.join("\n").into_bytes();
    let d = doc(
        "legal",
        "Confidential merger memo",
        &content,
        &hr,
        &[],
        TEXTS,
    );
    let first = col.ingest(A, &d).await.unwrap();
    assert!(first.created);
    assert_eq!(first.chunks, 2);
    // The same bytes again: the same document, nothing written.
    let again = col.ingest(A, &d).await.unwrap();
    assert_eq!(
        (again.document_id, again.chunks, again.created),
        (first.document_id, 2, false)
    );
    // Into another collection, or by another tenant: a new document.
    let other = col
        .ingest(A, &doc("archive", "x", &content, &hr, &[], TEXTS))
        .await
        .unwrap();
    assert!(other.created && other.document_id != first.document_id);
    let b_doc = col
        .ingest(B, &doc("legal", "y", &content, &hr, &[], TEXTS))
        .await
        .unwrap();
    assert!(b_doc.created);

    let listed = col.list(A, "legal").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "Confidential merger memo");
    assert_eq!(listed[0].labels, hr);
    assert_eq!((listed[0].chunks, listed[0].pages), (2, 2));
    let loaded = col.load(A, "legal").await.unwrap().1;
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded[0].id, format!("{}/0", first.document_id));
    assert_eq!(loaded[0].text, TEXTS[0]);
    assert_eq!(loaded[1].heading_path, vec!["Memo", "Part 1"]);
    assert_eq!((loaded[1].page_start, loaded[1].page_end), (2, 2));
    assert_eq!(&*loaded[0].document_name, "Confidential merger memo");
    // Tenant B sees its own document only.
    let lb = col.load(B, "legal").await.unwrap().1;
    assert_eq!(lb.len(), 2);
    assert!(lb.iter().all(|c| c.document_id == b_doc.document_id));
    assert!(col.list(B, "archive").await.unwrap().is_empty());
    // Bad input is named, without values.
    let err = col
        .ingest(A, &doc("bad name!", "n", b"z", &hr, &[], TEXTS))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("collection"), "{err}");
    let err = col
        .ingest(
            A,
            &doc("legal", "n", b"z", &hr, &[uuid::Uuid::now_v7()], TEXTS),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Invalid(_)) && err.to_string().contains("subjects"),
        "{err}"
    );
    assert_eq!(
        col.list(A, "legal").await.unwrap().len(),
        1,
        "nothing half-written"
    );

    let dump = b.dump().await;
    for v in PLANTED {
        assert!(!contains(&dump, v), "planted {v:?} in the database");
    }
}

async fn delete_leaves_nothing(b: &Backend) {
    let keys = tempfile::tempdir().unwrap();
    let (_, col) = collections(keys.path(), b).await;
    let open = DocumentLabels::default();
    let content = TEXTS.join("\n").into_bytes();
    let r = col
        .ingest(
            A,
            &doc(
                "legal",
                "Confidential merger memo",
                &content,
                &open,
                &[],
                TEXTS,
            ),
        )
        .await
        .unwrap();
    let keep = col
        .ingest(
            A,
            &doc("legal", "keep", b"other", &open, &[], &["unrelated text"]),
        )
        .await
        .unwrap();
    // Every change bumps the collection's version; a no-op does not.
    let v = col.version(A, "legal").await.unwrap();
    assert_eq!((r.version, keep.version, v), (1, 2, 2));
    let dup = col
        .ingest(
            A,
            &doc("legal", "keep", b"other", &open, &[], &["unrelated text"]),
        )
        .await
        .unwrap();
    assert_eq!((dup.created, dup.version), (false, 2));
    assert_eq!(col.version(A, "never").await.unwrap(), 0);
    assert_eq!(col.version(B, "legal").await.unwrap(), 0, "per tenant");
    // Deleting in the wrong collection or tenant finds nothing.
    assert!(
        col.delete(A, "archive", r.document_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        col.delete(B, "legal", r.document_id)
            .await
            .unwrap()
            .is_none()
    );
    let receipt = col
        .delete(A, "legal", r.document_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            receipt.removed.documents,
            receipt.removed.chunks,
            receipt.removed.data_keys
        ),
        (1, 2, 1)
    );
    assert_eq!(
        (
            receipt.remaining.documents,
            receipt.remaining.chunks,
            receipt.remaining.data_keys
        ),
        (0, 0, 0)
    );
    assert!(
        col.delete(A, "legal", r.document_id)
            .await
            .unwrap()
            .is_none()
    );
    let left = col.load(A, "legal").await.unwrap().1;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].document_id, keep.document_id);
    // Re-ingesting the deleted content is a new document.
    let again = col
        .ingest(A, &doc("legal", "again", &content, &open, &[], TEXTS))
        .await
        .unwrap();
    assert!(again.created && again.document_id != r.document_id);
    // Legal hold: deletion refused, naming the hold.
    let hold = DocumentLabels {
        legal_hold: true,
        ..DocumentLabels::default()
    };
    let held = col
        .ingest(
            A,
            &doc("legal", "held", b"held", &hold, &[], &["held text"]),
        )
        .await
        .unwrap();
    let err = col.delete(A, "legal", held.document_id).await.unwrap_err();
    assert!(err.to_string().contains("legal hold"), "{err}");
    assert_eq!(col.list(A, "legal").await.unwrap().len(), 3);

    let dump = b.dump().await;
    for v in PLANTED {
        assert!(!contains(&dump, v), "planted {v:?} in the database");
    }
}

async fn erasure_reaches_documents(b: &Backend) {
    let keys = tempfile::tempdir().unwrap();
    let (reg, col) = collections(keys.path(), b).await;
    let subject = reg
        .add(
            A,
            &Profile {
                name: Some("Marie Dupont".into()),
                emails: vec!["marie@example.fr".into()],
                ..Profile::default()
            },
        )
        .await
        .unwrap();
    let open = DocumentLabels::default();
    let about = col
        .ingest(
            A,
            &doc(
                "hr",
                "file of M.D.",
                b"about",
                &open,
                &[subject, subject],
                TEXTS,
            ),
        )
        .await
        .unwrap();
    let other = col
        .ingest(
            A,
            &doc("hr", "policy", b"policy", &open, &[], &["leave policy"]),
        )
        .await
        .unwrap();
    let v_hr = col.version(A, "hr").await.unwrap();
    let before = b.store.remaining(A, subject).await.unwrap();
    assert_eq!((before.documents, before.chunks), (1, 2));
    let receipt = reg.erase(A, subject).await.unwrap();
    assert_eq!((receipt.removed.documents, receipt.removed.chunks), (1, 2));
    assert_eq!(receipt.remaining.total(), 0, "{receipt:?}");
    let json = serde_json::to_value(receipt.removed).unwrap();
    assert_eq!(json["documents"], 1);
    assert_eq!(json["data_keys"], 1, "existing names kept");
    let left = col.list(A, "hr").await.unwrap();
    assert_eq!(
        left.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![other.document_id]
    );
    assert!(col.get(A, "hr", about.document_id).await.unwrap().is_none());
    assert_eq!(
        col.version(A, "hr").await.unwrap(),
        v_hr + 1,
        "the erasure moved the collection's version"
    );
    // An erased subject cannot be linked again.
    let err = col
        .ingest(
            A,
            &doc("hr", "late", b"late", &open, &[subject], &["late text"]),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("subjects"), "{err}");
    let dump = b.dump().await;
    for v in PLANTED {
        assert!(!contains(&dump, v), "planted {v:?} in the database");
    }
}

/// What the ingestion scan does on both backends: identifiers found in a
/// document (spelled as documents spell them) are looked up together and
/// find the registered, live subjects, coincidences and names excluded; a
/// subject found when the same content comes again is linked to the
/// stored document; erasing it deletes the document and leaves no trace
/// of its text in the database.
async fn found_subjects_are_linked_and_erased(b: &Backend) {
    let keys = tempfile::tempdir().unwrap();
    let (reg, col) = collections(keys.path(), b).await;
    let camille = reg
        .add(
            A,
            &Profile {
                emails: vec!["camille.martin@example.fr".into()],
                national_ids: vec!["284127511502381".into()],
                ..Profile::default()
            },
        )
        .await
        .unwrap();
    let other_tenant = reg
        .add(
            B,
            &Profile {
                emails: vec!["camille.martin@example.fr".into()],
                ..Profile::default()
            },
        )
        .await
        .unwrap();
    let lookups = [
        Lookup::Email("CAMILLE.MARTIN@example.FR".into()),
        Lookup::NationalId("2 84 12 75 115 023 81".into()),
        Lookup::Email("nobody@example.org".into()),
        Lookup::Iban("not an iban".into()),
        Lookup::Email("camille.martin@example.fr".into()),
    ];
    let found = reg.find_many(A, &lookups).await.unwrap();
    assert_eq!(
        found,
        vec![vec![camille], vec![camille], vec![], vec![], vec![camille]],
        "each lookup finds the tenant's subject, never the other tenant's"
    );
    assert_eq!(
        reg.find_many(B, &lookups[..1]).await.unwrap(),
        vec![vec![other_tenant]]
    );
    let err = reg
        .find_many(A, &[Lookup::Name("Camille".into())])
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Invalid(_)), "{err}");
    // Many values: more than one query's worth, one of them registered.
    let mut many: Vec<Lookup> = (0..rempart_store::MAX_PAIRS_PER_QUERY + 10)
        .map(|i| Lookup::Email(format!("person{i}@example.org")))
        .collect();
    many.push(Lookup::NationalId("284127511502381".into()));
    let found = reg.find_many(A, &many).await.unwrap();
    assert_eq!(found.iter().filter(|f| !f.is_empty()).count(), 1);
    assert_eq!(found.last().unwrap(), &vec![camille]);

    // Ingested before anyone was found, then linked on the second pass.
    let open = DocumentLabels::default();
    let planted = ["Zanzibar-Quokka-4471 claim of camille.martin@example.fr"];
    let first = col
        .ingest(
            A,
            &doc(
                "claims",
                "Confidential merger memo",
                b"claim",
                &open,
                &[],
                &planted,
            ),
        )
        .await
        .unwrap();
    assert!(first.created);
    let again = col
        .ingest(
            A,
            &doc(
                "claims",
                "Confidential merger memo",
                b"claim",
                &open,
                &[camille],
                &planted,
            ),
        )
        .await
        .unwrap();
    assert!(!again.created, "the same content: nothing written");
    assert_eq!(b.store.remaining(A, camille).await.unwrap().documents, 0);
    assert_eq!(
        col.link_subjects(A, "claims", first.document_id, &[camille, camille])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        col.link_subjects(A, "claims", first.document_id, &[camille])
            .await
            .unwrap(),
        0,
        "linked once"
    );
    assert_eq!(b.store.remaining(A, camille).await.unwrap().documents, 1);
    // Another tenant's subject, or a document elsewhere: refused.
    let err = col
        .link_subjects(A, "claims", first.document_id, &[other_tenant])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("subjects"), "{err}");
    assert!(
        col.link_subjects(A, "other", first.document_id, &[camille])
            .await
            .is_err()
    );

    let receipt = reg.erase(A, camille).await.unwrap();
    assert_eq!(receipt.removed.documents, 1, "{receipt:?}");
    assert_eq!(receipt.remaining.total(), 0, "{receipt:?}");
    assert!(col.list(A, "claims").await.unwrap().is_empty());
    assert_eq!(
        reg.find_many(A, &lookups).await.unwrap()[0],
        Vec::<uuid::Uuid>::new()
    );
    let dump = b.dump().await;
    for p in PLANTED {
        assert!(!contains(&dump, p), "{p} found in the database");
    }
}

/// A chunk's embedding is sealed like its text (no plaintext vector bytes in
/// the database), comes back with its model tag, and one stored without an
/// embedding can be filled later; a deleted document's are gone.
async fn embeddings_sealed_and_filled_later(b: &Backend) {
    let keys = tempfile::tempdir().unwrap();
    let (_, col) = collections(keys.path(), b).await;
    let open = DocumentLabels::default();
    // Distinctive values: their little-endian bytes must not be in the dump.
    let v0 = vec![0.123_456_79_f32, -0.987_654_3, 0.555_555_5];
    let v1 = vec![0.314_159_27_f32, 0.271_828_18, -0.161_803_4];
    let mut d = doc("vec", "v", b"vectors", &open, &[], TEXTS);
    d.chunks[0].embedding = Some(Embedding {
        model: "test-model@1".into(),
        vector: v0.clone(),
    });
    let r = col.ingest(A, &d).await.unwrap();
    let loaded = col.load(A, "vec").await.unwrap().1;
    let e0 = loaded[0].embedding.as_ref().unwrap();
    assert_eq!((e0.model.as_str(), &e0.vector), ("test-model@1", &v0));
    assert!(loaded[1].embedding.is_none());
    let v_before = col.version(A, "vec").await.unwrap();
    let filled = col
        .store_embeddings(
            A,
            "vec",
            &[(
                r.document_id,
                1,
                Embedding {
                    model: "test-model@1".into(),
                    vector: v1.clone(),
                },
            )],
        )
        .await
        .unwrap();
    assert_eq!(filled, 1);
    assert_eq!(
        col.version(A, "vec").await.unwrap(),
        v_before,
        "derived data: no new version"
    );
    let loaded = col.load(A, "vec").await.unwrap().1;
    assert_eq!(loaded[1].embedding.as_ref().unwrap().vector, v1);
    // Another tenant cannot fill this tenant's chunks.
    let other = col
        .store_embeddings(
            B,
            "vec",
            &[(
                r.document_id,
                0,
                Embedding {
                    model: "x".into(),
                    vector: vec![1.0],
                },
            )],
        )
        .await
        .unwrap();
    assert_eq!(other, 0);
    let dump = b.dump().await;
    for v in [&v0, &v1] {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert!(
            !dump.windows(bytes.len()).any(|w| w == bytes.as_slice()),
            "a plaintext vector in the database"
        );
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            !contains(&dump, &hex),
            "a plaintext vector (hex) in the database"
        );
    }
    col.delete(A, "vec", r.document_id).await.unwrap().unwrap();
    assert!(col.load(A, "vec").await.unwrap().1.is_empty());
}
