//! Row-Level Security on PostgreSQL, checked with hand-written SQL as the
//! application role: the database itself, not the store's `WHERE tenant =`,
//! keeps tenants apart. Needs `REMPART_TEST_PG_URL` (see `scripts/pg.sh`).

mod common;

use common::PgDb;
use rempart_store::postgres::TENANT_TABLES;
use rempart_store::{
    ChunkRow, Conversation, Error, NewDocument, NewSubject, PseudonymMap, Store, Turn,
};
use secrecy::SecretString;
use sqlx::{Connection, PgConnection};
use time::OffsetDateTime;
use uuid::Uuid;

const A: &str = "tenant-a";
const B: &str = "tenant-b";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// A subject with `tokens` name tokens, and a conversation `conv` about it
/// with one turn and a pseudonym map (linked to the subject directly when
/// `map_linked`).
async fn seed_subject(
    store: &Store,
    tenant: &str,
    subject: Uuid,
    conv: Uuid,
    tokens: &[u8],
    map_linked: bool,
) {
    store
        .insert_subject(
            tenant,
            &NewSubject {
                id: subject,
                wrapped_key: "wrapped".into(),
                profile: vec![1; 8],
                index: vec![("email".into(), vec![2; 32])],
                tokens: tokens.iter().map(|&t| vec![t; 16]).collect(),
                created: now(),
            },
        )
        .await
        .unwrap();
    store
        .put_conversation(
            tenant,
            &Conversation {
                id: conv,
                subject_id: Some(subject),
                created: now(),
                expires_at: now(),
            },
        )
        .await
        .unwrap();
    store
        .append_turn(
            tenant,
            &Turn {
                conversation_id: conv,
                seq: 0,
                role: "user".into(),
                content: vec![5; 8],
                created: now(),
            },
        )
        .await
        .unwrap();
    store
        .put_pseudonym_map(
            tenant,
            &PseudonymMap {
                conversation_id: conv,
                subject_id: map_linked.then_some(subject),
                mapping: vec![6; 8],
                updated: now(),
            },
        )
        .await
        .unwrap();
}

/// Seed the same shape of data for a tenant through the store.
async fn seed(store: &Store, tenant: &str, n: u128) -> String {
    let subject = Uuid::from_u128(n);
    let conv = Uuid::from_u128(n + 100);
    seed_subject(store, tenant, subject, conv, &[3, 4], true).await;
    store
        .put_tenant_key(tenant, "bidx", "wrapped-root", now())
        .await
        .unwrap();
    store
        .erase_subject(tenant, subject, now(), "{}")
        .await
        .unwrap();
    // Erasure emptied the rows above; seed them again so every table holds
    // a row of this tenant.
    seed_subject(store, tenant, Uuid::from_u128(n + 1), conv, &[3], false).await;
    // A collection document about the live subject, with a chunk.
    store
        .insert_document(
            tenant,
            &NewDocument {
                id: Uuid::from_u128(n + 200),
                collection: "legal".into(),
                content_key: vec![7; 32],
                name: vec![8; 8],
                format: "text".into(),
                pages: 1,
                labels: r#"{"groups":["hr"]}"#.into(),
                wrapped_key: "wrapped".into(),
                created: now(),
                subjects: vec![Uuid::from_u128(n + 1)],
                chunks: vec![ChunkRow {
                    seq: 0,
                    text: vec![9; 8],
                    heading: vec![10; 8],
                    page_start: 1,
                    page_end: 1,
                    start: 0,
                    end: 8,
                    embedding: Some(vec![11; 8]),
                }],
            },
        )
        .await
        .unwrap();
    store
        .create_key(tenant, None)
        .await
        .unwrap()
        .id()
        .to_string()
}

async fn count(c: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(c).await.unwrap()
}

/// Run `sql` in its own transaction with tenant A set; the SQLSTATE of the
/// error it must raise.
async fn fails_as_a(c: &mut PgConnection, sql: &str) -> String {
    let mut tx = c.begin().await.unwrap();
    sqlx::query("SELECT set_config('rempart.tenant', $1, true)")
        .bind(A)
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::raw_sql(sql).execute(&mut *tx).await.expect_err(sql);
    tx.rollback().await.unwrap();
    match err {
        sqlx::Error::Database(e) => e.code().map(|c| c.to_string()).unwrap_or_default(),
        other => panic!("{sql}: unexpected {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rls_with_hand_written_sql() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let store = db.app_store().await;
    let key_a = seed(&store, A, 1).await;
    seed(&store, B, 1).await;
    store.close().await;

    let mut admin = db.admin().await;
    // Every tenant table has RLS enabled and forced, and rows of both tenants.
    for t in TENANT_TABLES {
        let (enabled, forced): (bool, bool) = sqlx::query_as(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class
             WHERE oid = to_regclass($1)",
        )
        .bind(t)
        .fetch_one(&mut admin)
        .await
        .unwrap();
        assert!(
            enabled && forced,
            "{t}: RLS enabled {enabled}, forced {forced}"
        );
    }
    // The superuser sees all (it bypasses RLS): the baseline for B's rows.
    let b_rows = |t: &str| format!("SELECT count(*) FROM {t} WHERE tenant = '{B}'");
    let mut b_before = Vec::new();
    for t in TENANT_TABLES {
        let n = count(&mut admin, &b_rows(t)).await;
        assert!(n > 0, "{t} has no row of tenant B");
        b_before.push(n);
    }

    let mut app = db.app().await;

    // Tenant A set: B's rows are invisible, A's are there.
    {
        let mut tx = app.begin().await.unwrap();
        sqlx::query("SELECT set_config('rempart.tenant', $1, true)")
            .bind(A)
            .execute(&mut *tx)
            .await
            .unwrap();
        for t in TENANT_TABLES {
            assert_eq!(count(&mut tx, &b_rows(t)).await, 0, "{t}: B visible to A");
            let other = format!("SELECT count(*) FROM {t} WHERE tenant <> '{A}'");
            assert_eq!(count(&mut tx, &other).await, 0, "{t}");
            let mine = format!("SELECT count(*) FROM {t}");
            assert!(
                count(&mut tx, &mine).await > 0,
                "{t}: A sees nothing of its own"
            );
        }
        // DELETE of B's rows affects nothing (api_keys: no DELETE grant at all).
        for t in TENANT_TABLES.iter().filter(|t| **t != "api_keys") {
            let r = sqlx::raw_sql(&format!("DELETE FROM {t} WHERE tenant = '{B}'"))
                .execute(&mut *tx)
                .await
                .unwrap();
            assert_eq!(r.rows_affected(), 0, "DELETE {t}");
        }
        tx.commit().await.unwrap();
    }
    {
        let mut tx = app.begin().await.unwrap();
        sqlx::query("SELECT set_config('rempart.tenant', $1, true)")
            .bind(A)
            .execute(&mut *tx)
            .await
            .unwrap();
        for (t, set) in [
            ("subjects", "profile = NULL"),
            ("tenant_keys", "wrapped = 'x'"),
            ("conversations", "expires_at = now()"),
            ("turns", "content = '\\x00'"),
            ("pseudonym_maps", "mapping = '\\x00'"),
            ("erasures", "receipt = '{}'"),
            ("subject_index", "value = '\\x00'"),
            ("api_keys", "revoked = true"),
            ("documents", "wrapped_key = NULL"),
            ("chunks", "text = '\\x00'"),
            ("document_subjects", "subject_id = document_id"),
            ("collections", "version = 0"),
        ] {
            let r = sqlx::raw_sql(&format!("UPDATE {t} SET {set} WHERE tenant = '{B}'"))
                .execute(&mut *tx)
                .await
                .unwrap();
            assert_eq!(r.rows_affected(), 0, "UPDATE {t}");
        }
        tx.commit().await.unwrap();
    }

    // INSERT with tenant B fails (WITH CHECK), for every table.
    let s = "'00000000-0000-0000-0000-0000000000aa'";
    for sql in [
        format!("INSERT INTO subjects (tenant, id, created) VALUES ('{B}', {s}, now())"),
        format!("INSERT INTO tenant_keys VALUES ('{B}', 'k2', 'w', now())"),
        format!("INSERT INTO conversations VALUES ('{B}', {s}, NULL, now(), now())"),
        format!("INSERT INTO erasures VALUES ('{B}', {s}, now(), '{{}}')"),
        format!(
            "INSERT INTO documents (tenant, collection, id, content_key, name, format, pages, labels, created)
             VALUES ('{B}', 'c', {s}, '\\x01', '\\x01', 'text', 1, '{{}}', now())"
        ),
        format!(
            "INSERT INTO chunks VALUES ('{B}', '00000000-0000-0000-0000-0000000000c9', 5, '\\x00', '\\x00', 1, 1, 0, 1)"
        ),
        format!(
            "INSERT INTO api_keys (id, tenant, hash, created_at) VALUES ('kx', '{B}', 'h', 'now')"
        ),
    ] {
        assert_eq!(fails_as_a(&mut app, &sql).await, "42501", "{sql}");
    }
    assert_eq!(
        fails_as_a(
            &mut app,
            &format!("DELETE FROM api_keys WHERE tenant = '{B}'")
        )
        .await,
        "42501"
    );
    // Moving one of A's rows to B fails too.
    assert_eq!(
        fails_as_a(&mut app, &format!("UPDATE subjects SET tenant = '{B}'")).await,
        "42501"
    );

    // No tenant set: nothing visible — on a fresh connection (NULL setting)
    // and on one that ran a tenant transaction before ('' setting).
    let mut fresh = db.app().await;
    for c in [&mut fresh, &mut app] {
        for t in TENANT_TABLES {
            assert_eq!(
                count(c, &format!("SELECT count(*) FROM {t}")).await,
                0,
                "{t}"
            );
        }
    }
    // Outside a transaction-local setting, `SET` by hand is the only way in;
    // the store never does that. With key_id set, exactly that key shows.
    {
        let mut tx = app.begin().await.unwrap();
        sqlx::query("SELECT set_config('rempart.key_id', $1, true)")
            .bind(&key_a)
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(count(&mut tx, "SELECT count(*) FROM api_keys").await, 1);
        assert_eq!(count(&mut tx, "SELECT count(*) FROM subjects").await, 0);
        // The key row may be revoked, not moved to another tenant.
        let e = sqlx::raw_sql(&format!("UPDATE api_keys SET tenant = '{B}'"))
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(
            matches!(e, sqlx::Error::Database(ref d) if d.code().as_deref() == Some("42501")),
            "{e}"
        );
        tx.rollback().await.unwrap();
    }

    // The app role cannot lift the protection.
    let owner: String =
        sqlx::query_scalar("SELECT tableowner::text FROM pg_tables WHERE tablename = 'subjects'")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    for sql in [
        "ALTER TABLE subjects DISABLE ROW LEVEL SECURITY".to_string(),
        "ALTER TABLE subjects NO FORCE ROW LEVEL SECURITY".to_string(),
        "DROP POLICY tenant_isolation ON subjects".to_string(),
        "CREATE POLICY open ON subjects USING (true)".to_string(),
        "TRUNCATE subjects CASCADE".to_string(),
        format!("SET ROLE \"{owner}\""),
        "SET SESSION AUTHORIZATION postgres".to_string(),
        "CREATE TABLE sneaky (x int)".to_string(),
    ] {
        let code = fails_as_a(&mut app, &sql).await;
        assert!(code == "42501" || code == "42000", "{sql}: {code}");
    }
    let (sup, bypass, owns): (bool, bool, i64) = sqlx::query_as(
        "SELECT rolsuper, rolbypassrls,
                (SELECT count(*) FROM pg_tables WHERE tableowner = current_user)
         FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut app)
    .await
    .unwrap();
    assert!(
        !sup && !bypass,
        "app role: superuser {sup}, bypassrls {bypass}"
    );
    assert_eq!(owns, 0, "the app role owns tables");
    assert_ne!(owner, db.role);

    // B's rows are all still there.
    for (t, n) in TENANT_TABLES.iter().zip(b_before) {
        assert_eq!(
            count(&mut admin, &b_rows(t)).await,
            n,
            "{t}: B's rows changed"
        );
    }
    app.close().await.ok();
    fresh.close().await.ok();
    admin.close().await.ok();
    db.drop().await;
}

/// The store refuses a role that would bypass RLS.
#[tokio::test]
async fn connect_refuses_superuser() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let err = Store::connect(&SecretString::from(db.admin_url.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsafeRole(_)), "{err}");
    db.drop().await;
}

/// Token search is an index scan **for the application role, under RLS**.
/// (PostgreSQL lets a query's own predicate drive an index scan on an RLS
/// table only when its operator is leakproof; `bytea[] @> …` is not, and an
/// earlier GIN design scanned every row for the app role while an EXPLAIN as
/// the superuser showed the index. Equality on bytea is leakproof.) 40,000
/// token rows over two tenants, planner defaults, EXPLAIN as the app role of
/// the exact query the store runs.
#[tokio::test]
async fn token_search_is_an_index_scan_under_rls() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let mut admin = db.admin().await;
    sqlx::raw_sql(
        "INSERT INTO subjects (tenant, id, created)
         SELECT t, ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, now()
         FROM generate_series(1, 10000) AS i, unnest(ARRAY['tenant-a', 'tenant-b']) AS t;
         INSERT INTO subject_tokens (tenant, subject_id, token)
         SELECT tenant, id, decode(md5(tenant || id::text || k::text), 'hex')
         FROM subjects, generate_series(1, 2) AS k;
         ANALYZE subjects; ANALYZE subject_tokens;",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    let token: Vec<u8> = sqlx::query_scalar(
        "SELECT token FROM subject_tokens WHERE tenant = 'tenant-a' ORDER BY token LIMIT 1",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    admin.close().await.ok();
    let mut app = db.app().await;
    let mut tx = sqlx::Connection::begin(&mut app).await.unwrap();
    sqlx::query("SELECT set_config('rempart.tenant', $1, true)")
        .bind(A)
        .execute(&mut *tx)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT subject_id FROM subject_tokens
         WHERE tenant = $1 AND token = ANY($2)
         GROUP BY subject_id HAVING COUNT(DISTINCT token) = cardinality($2)",
    )
    .bind(A)
    .bind(vec![token.clone()])
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("subject_tokens_pkey"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    // And the store finds exactly that subject, for tenant A only.
    let store = db.app_store().await;
    assert_eq!(
        store
            .find_by_tokens(A, std::slice::from_ref(&token))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.find_by_tokens(B, &[token]).await.unwrap().is_empty());
    store.close().await;
    db.drop().await;
}

/// Bootstrap is idempotent (a second run updates the role, keeps the data).
#[tokio::test]
async fn bootstrap_twice() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let store = db.app_store().await;
    store.put_tenant_key(A, "k", "w", now()).await.unwrap();
    store.close().await;
    rempart_store::postgres::bootstrap(
        &SecretString::from(db.admin_url.clone()),
        &rempart_store::postgres::AppRole {
            name: db.role.clone(),
            password: None,
        },
    )
    .await
    .unwrap();
    let store = db.app_store().await;
    assert!(store.get_tenant_key(A, "k").await.unwrap().is_some());
    store.close().await;
    assert!(matches!(
        rempart_store::postgres::bootstrap(
            &SecretString::from(db.admin_url.clone()),
            &rempart_store::postgres::AppRole {
                name: "Robert'); DROP TABLE subjects;--".into(),
                password: None,
            },
        )
        .await,
        Err(Error::Invalid { .. })
    ));
    db.drop().await;
}
