//! The pgvector benchmark: N synthetic 384-dimensional vectors in the
//! store's vector index (`chunk_vectors`, HNSW, cosine), ACL groups at
//! 100 / 50 / 10 / 1 % selectivity, recall@k of `Store::search_vectors`
//! against the exact filtered answer and its latency, with the iterative
//! scan on and off.
//!
//! Run through `bench/store/vectors.sh` (it starts a throw-away PostgreSQL
//! 18 with pgvector and sets `REMPART_TEST_PG_URL`, a superuser URL):
//!
//! ```sh
//! cargo run --release -p rempart-store --example vector_bench -- --n 100000
//! ```
//!
//! Options: `--n N` vectors (default 100,000, a multiple of 1,000),
//! `--queries Q` (default 200), `--k K` (default 10).
//!
//! Data: the generator of `rempart-rag/examples/ann_bench.rs`, so the two
//! benchmarks see the same vectors: 1,000 random centres in [-0.5, 0.5]^384,
//! point i = centre (i mod 1000) + 0.25 · uniform noise, L2-normalised;
//! group of point i = g(i mod 100); queries = 200 fresh points of centre
//! (7 q mod 1000). Groups are correlated with clusters (every point of a
//! cluster has the same group), the hard case for a filter: at 1 % the
//! eligible points sit in 10 of the 1,000 clusters, so the nearest eligible
//! neighbours of most queries are far from the query. Stored as 1,000
//! documents of 100 chunks (document d = centre d; its label is the group),
//! through `Store::insert_document_with_vectors` as the application role
//! (RLS), with the HNSW index built after the load (as the admin; same
//! definition as migration 0005). These are not text embeddings: the
//! numbers say how the index and the filter behave, not retrieval quality.
//!
//! Ground truth: PostgreSQL's exact filtered search, `WHERE groups && … ORDER
//! BY embedding <=> q LIMIT k` with index scans disabled (a sequential scan
//! and a sort), checked against a brute-force top-k in Rust for the first
//! two queries. Options: `--load-only` stops after the load (database
//! `rempart_vbench` and its `bench_queries` table left for psql).

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Instant;

use rempart_store::postgres::{AppRole, bootstrap};
use rempart_store::{
    ChunkRow, IterativeScan, NewDocument, Store, VECTOR_DIM, VectorQuery, VectorTuning,
};
use secrecy::SecretString;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use time::OffsetDateTime;
use uuid::Uuid;

const TENANT: &str = "bench-tenant";
const ROLE: &str = "rempart_vbench_app";
const DB: &str = "rempart_vbench";
const COLLECTION: &str = "bench";
const CENTRES: usize = 1000;
const GROUPS: usize = 100;

struct Args {
    n: usize,
    queries: usize,
    k: usize,
    load_only: bool,
}

fn args() -> Args {
    let mut a = Args {
        n: 100_000,
        queries: 200,
        k: 10,
        load_only: false,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = || -> usize {
            v.get(i + 1)
                .and_then(|x| x.parse().ok())
                .unwrap_or_else(|| panic!("{} needs a number", v[i]))
        };
        if v[i] == "--load-only" {
            a.load_only = true;
            i += 1;
            continue;
        }
        match v[i].as_str() {
            "--n" => a.n = val(),
            "--queries" => a.queries = val(),
            "--k" => a.k = val(),
            o => panic!("unknown option {o} (--n, --queries, --k, --load-only)"),
        }
        i += 2;
    }
    assert!(
        a.n.is_multiple_of(CENTRES),
        "--n must be a multiple of 1000"
    );
    a
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn normalise(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

struct Mode {
    name: &'static str,
    tuning: VectorTuning,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let server = std::env::var("REMPART_TEST_PG_URL")
        .expect("REMPART_TEST_PG_URL (start a server with scripts/pg.sh start)");
    let opts = PgConnectOptions::from_str(&server).expect("URL");
    let (host, port, admin_user) = (
        opts.get_host().to_string(),
        opts.get_port(),
        opts.get_username().to_string(),
    );
    let admin_url = format!("postgres://{admin_user}@{host}:{port}/{DB}");
    let app_url = format!("postgres://{ROLE}@{host}:{port}/{DB}");
    println!(
        "<!-- load average at start: {} ({} cores) -->",
        loadavg(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut c = PgConnection::connect(&server).await.expect("connect");
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {DB}"))
        .execute(&mut c)
        .await
        .expect("drop db");
    sqlx::raw_sql(&format!("CREATE DATABASE {DB}"))
        .execute(&mut c)
        .await
        .expect("create db");
    let version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&mut c)
        .await
        .expect("version");
    c.close().await.ok();
    bootstrap(
        &SecretString::from(admin_url.clone()),
        &AppRole {
            name: ROLE.into(),
            password: Some(SecretString::from("unused-under-trust-auth".to_string())),
        },
    )
    .await
    .expect("bootstrap");
    let mut admin = PgConnection::connect(&admin_url).await.expect("admin");
    let pgvector: String =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            .fetch_one(&mut admin)
            .await
            .expect("pgvector");
    let store = Store::connect(&SecretString::from(app_url.clone()))
        .await
        .expect("connect as the app role");
    assert!(store.has_vector_index());

    // --- data (ann_bench's generator) ---
    let mut s = 42u64;
    let mut r = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let centres: Vec<Vec<f32>> = (0..CENTRES)
        .map(|_| (0..VECTOR_DIM).map(|_| r()).collect())
        .collect();
    let mut point =
        |c: usize| -> Vec<f32> { normalise(centres[c].iter().map(|x| x + 0.25 * r()).collect()) };
    let vs: Vec<Vec<f32>> = (0..a.n).map(|i| point(i % CENTRES)).collect();
    let queries: Vec<Vec<f32>> = (0..a.queries).map(|i| point((i * 7) % CENTRES)).collect();

    // --- load: document d holds the points i ≡ d (mod 1000), seq = i / 1000 ---
    // Built after the load, with migration 0005's definition.
    let indexdef: String = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'chunk_vectors_hnsw'",
    )
    .fetch_one(&mut admin)
    .await
    .expect("index definition");
    sqlx::raw_sql("DROP INDEX chunk_vectors_hnsw")
        .execute(&mut admin)
        .await
        .expect("drop index for the load");
    let per_doc = a.n / CENTRES;
    let now = OffsetDateTime::now_utc();
    let mut doc_ids = Vec::with_capacity(CENTRES);
    let t = Instant::now();
    for d in 0..CENTRES {
        let id = Uuid::now_v7();
        doc_ids.push(id);
        let labels = format!(r#"{{"groups":["g{}"]}}"#, d % GROUPS);
        let doc = NewDocument {
            id,
            collection: COLLECTION.into(),
            content_key: (d as u64).to_le_bytes().to_vec(),
            name: vec![0; 8],
            format: "text".into(),
            pages: 1,
            labels,
            wrapped_key: "wrapped".into(),
            created: now,
            subjects: vec![],
            chunks: (0..per_doc as i64)
                .map(|seq| ChunkRow {
                    seq,
                    text: vec![0; 32],
                    heading: vec![0; 4],
                    page_start: 1,
                    page_end: 1,
                    start: 0,
                    end: 1,
                    embedding: None,
                })
                .collect(),
        };
        let vectors: Vec<Vec<f32>> = (0..per_doc)
            .map(|seq| vs[seq * CENTRES + d].clone())
            .collect();
        store
            .insert_document_with_vectors(TENANT, &doc, &vectors)
            .await
            .expect("insert");
    }
    let load = t.elapsed().as_secs_f64();
    let t = Instant::now();
    sqlx::raw_sql(&format!("SET maintenance_work_mem = '1GB'; {indexdef}"))
        .execute(&mut admin)
        .await
        .expect("build index");
    sqlx::raw_sql("VACUUM ANALYZE chunk_vectors")
        .execute(&mut admin)
        .await
        .expect("build index");
    let build = t.elapsed().as_secs_f64();
    // Ingestion with the index live: 10 more documents of 100 chunks, then
    // deleted again (the measured data stays the same).
    let t = Instant::now();
    let mut extra = Vec::new();
    for d in 0..10usize {
        let id = Uuid::now_v7();
        extra.push(id);
        let doc = NewDocument {
            id,
            collection: COLLECTION.into(),
            content_key: (1_000_000 + d as u64).to_le_bytes().to_vec(),
            name: vec![0; 8],
            format: "text".into(),
            pages: 1,
            labels: r#"{"groups":["extra"]}"#.into(),
            wrapped_key: "wrapped".into(),
            created: now,
            subjects: vec![],
            chunks: (0..per_doc as i64)
                .map(|seq| ChunkRow {
                    seq,
                    text: vec![0; 32],
                    heading: vec![0; 4],
                    page_start: 1,
                    page_end: 1,
                    start: 0,
                    end: 1,
                    embedding: None,
                })
                .collect(),
        };
        let vectors: Vec<Vec<f32>> = (0..per_doc)
            .map(|seq| vs[(seq * 7 + d) % a.n].clone())
            .collect();
        store
            .insert_document_with_vectors(TENANT, &doc, &vectors)
            .await
            .expect("insert with the index live");
    }
    let live = t.elapsed().as_secs_f64();
    for id in extra {
        store
            .delete_document(TENANT, COLLECTION, id)
            .await
            .expect("delete");
    }
    sqlx::raw_sql("VACUUM ANALYZE chunk_vectors")
        .execute(&mut admin)
        .await
        .expect("vacuum after the deletions");
    let index_size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_relation_size('chunk_vectors_hnsw'))")
            .fetch_one(&mut admin)
            .await
            .expect("size");
    println!(
        "# pgvector benchmark: {} vectors × {VECTOR_DIM} dims, k = {}\n",
        a.n, a.k
    );
    println!("{version}; pgvector {pgvector}.\n");
    println!(
        "Load: {} documents × {per_doc} chunks through `insert_document_with_vectors` as the app role in {load:.1} s \
         ({:.0} vectors/s, no index); HNSW build (maintenance_work_mem 1GB) {build:.1} s, index {index_size}: \
         `{indexdef}`. With the index live: {:.0} vectors/s (10 documents × {per_doc}).\n",
        CENTRES,
        a.n as f64 / load,
        (10 * per_doc) as f64 / live
    );

    // The queries, for the exact answers and for experiments in psql.
    sqlx::raw_sql(&format!(
        "CREATE TABLE bench_queries (q int PRIMARY KEY, embedding vector({VECTOR_DIM}))"
    ))
    .execute(&mut admin)
    .await
    .expect("queries table");
    for (qi, q) in queries.iter().enumerate() {
        sqlx::query(&format!(
            "INSERT INTO bench_queries VALUES ($1, $2::real[]::vector({VECTOR_DIM}))"
        ))
        .bind(qi as i32)
        .bind(q)
        .execute(&mut admin)
        .await
        .expect("query row");
    }
    if a.load_only {
        eprintln!("--load-only: database {DB} left in place");
        return;
    }

    // --- ground truth: PostgreSQL's exact filtered search, no index ---
    let id_of = |i: usize| -> (Uuid, u32) { (doc_ids[i % CENTRES], (i / CENTRES) as u32) };
    let t = Instant::now();
    sqlx::raw_sql("SET enable_indexscan = off; SET enable_bitmapscan = off")
        .execute(&mut admin)
        .await
        .expect("no index");
    let mut truth_by_sel = Vec::new();
    for sel in [100usize, 50, 10, 1] {
        let groups: Vec<String> = (0..sel).map(|g| format!("g{g}")).collect();
        let mut truth: Vec<Vec<(Uuid, u32)>> = Vec::with_capacity(queries.len());
        for qi in 0..queries.len() {
            let rows: Vec<(Uuid, i32)> = sqlx::query_as(
                "SELECT document_id, seq FROM chunk_vectors
                 WHERE tenant = $1 AND groups && $2
                 ORDER BY embedding <=> (SELECT embedding FROM bench_queries WHERE q = $3),
                          document_id, seq
                 LIMIT $4",
            )
            .bind(TENANT)
            .bind(&groups)
            .bind(qi as i32)
            .bind(a.k as i64)
            .fetch_all(&mut admin)
            .await
            .expect("exact");
            truth.push(rows.into_iter().map(|(d, s)| (d, s as u32)).collect());
        }
        truth_by_sel.push((sel, truth));
    }
    eprintln!("exact answers in {:.1} s", t.elapsed().as_secs_f64());
    // Checked against Rust's exact answer for the first queries.
    for qi in 0..2.min(queries.len()) {
        let mut sims: Vec<(f32, usize)> = vs
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    v.iter().zip(&queries[qi]).map(|(x, y)| x * y).sum::<f32>(),
                    i,
                )
            })
            .collect();
        sims.sort_by(|x, y| y.0.total_cmp(&x.0));
        for (sel, truth) in &truth_by_sel {
            let rust: HashSet<(Uuid, u32)> = sims
                .iter()
                .filter(|(_, i)| i % GROUPS < *sel)
                .take(a.k)
                .map(|(_, i)| id_of(*i))
                .collect();
            let sql: HashSet<(Uuid, u32)> = truth[qi].iter().copied().collect();
            // f32 in Rust vs pgvector's own arithmetic: a near tie at the
            // k-th place may swap; more than one difference is a bug.
            assert!(
                rust.difference(&sql).count() <= 1,
                "exact SQL and exact Rust disagree on query {qi} at {sel} %"
            );
        }
    }

    let mut modes = Vec::new();
    for ef in [100u32, 400] {
        let base = VectorTuning {
            ef_search: ef,
            ..VectorTuning::default()
        };
        let walk = VectorTuning {
            exact_when_cheaper: false,
            exact_fallback: false,
            count_denied: false,
            ..base
        };
        let tag = |s: &str| -> &'static str {
            Box::leak(format!("ef_search {ef}: {s}").into_boxed_str())
        };
        modes.push(Mode {
            name: tag("**default** (exact scan when cheaper, else relaxed_order iterative HNSW; fallback; denied count)"),
            tuning: base,
        });
        modes.push(Mode {
            name: tag("default without the denied count"),
            tuning: VectorTuning {
                count_denied: false,
                ..base
            },
        });
        modes.push(Mode {
            name: tag("HNSW only, relaxed_order iterative scan"),
            tuning: walk,
        });
        modes.push(Mode {
            name: tag("HNSW only, strict_order iterative scan"),
            tuning: VectorTuning {
                iterative: IterativeScan::Strict,
                ..walk
            },
        });
        modes.push(Mode {
            name: tag("HNSW only, iterative scan **off** (post-filter of the ef_search nearest)"),
            tuning: VectorTuning {
                iterative: IterativeScan::Off,
                ..walk
            },
        });
    }
    println!(
        "| eligible | ef_search: mode | recall@{k} vs exact filtered | mean hits returned | queries with < {k} hits | answered by the exact scan | p50 ms | p95 ms | ineligible returned |",
        k = a.k
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (sel, truth) in &truth_by_sel {
        let sel = *sel;
        let groups: Vec<String> = (0..sel).map(|g| format!("g{g}")).collect();
        let truth: Vec<HashSet<(Uuid, u32)>> =
            truth.iter().map(|t| t.iter().copied().collect()).collect();
        for m in &modes {
            let (mut found, mut total, mut returned, mut short, mut fallbacks, mut leaked) =
                (0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
            let mut lat = Vec::with_capacity(queries.len());
            for (qi, q) in queries.iter().enumerate() {
                let query = VectorQuery {
                    collections: &[COLLECTION],
                    vector: q,
                    groups: &groups,
                    purpose: None,
                    k: a.k,
                    tuning: m.tuning,
                };
                let t = Instant::now();
                let res = store.search_vectors(TENANT, &query).await.expect("search");
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                returned += res.hits.len();
                short += usize::from(res.hits.len() < a.k);
                fallbacks += usize::from(res.exact);
                total += truth[qi].len();
                for h in &res.hits {
                    let key = (h.document_id, h.seq);
                    found += usize::from(truth[qi].contains(&key));
                    let d = doc_ids.iter().position(|x| *x == h.document_id).unwrap();
                    leaked += usize::from(d % GROUPS >= sel);
                }
            }
            println!(
                "| {sel} % | {} | {:.3} | {:.1} | {short} | {fallbacks} | {:.1} | {:.1} | {leaked} |",
                m.name,
                found as f64 / total as f64,
                returned as f64 / queries.len() as f64,
                pct(&mut lat, 0.5),
                pct(&mut lat, 0.95),
            );
        }
    }
    println!("\n<!-- load average at end: {} -->", loadavg());
    store.close().await;
    admin.close().await.ok();
}
