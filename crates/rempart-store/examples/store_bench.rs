//! The secure-store benchmark (issue 5): N data subjects in PostgreSQL
//! through `Registry::add`, then blind-index lookups against a plaintext
//! indexed baseline in the same database, interleaved query by query.
//!
//! Run through `bench/store/run.sh` (it starts a throw-away PostgreSQL and
//! sets `REMPART_TEST_PG_URL`, a superuser URL to the server):
//!
//! ```sh
//! cargo run --release -p rempart-store --example store_bench -- --n 1000000
//! ```
//!
//! Options: `--n N` subjects (default 1,000,000), `--queries Q` exact
//! lookups measured (default 2,000), `--name-queries Q` two-word name
//! searches (default 300), `--wide-queries Q` single-prefix name searches
//! (default 5), `--concurrency C` insert tasks (default 8), `--seed S`.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rempart_crypto::blind::{BlindIndex, FieldKind, NameTokens};
use rempart_crypto::kms::KeysConfig;
use rempart_crypto::{KeyProvider, WrappedKey};
use rempart_store::Store;
use rempart_store::postgres::{AppRole, bootstrap};
use rempart_store::registry::{Lookup, Profile, Registry, Settings};
use secrecy::SecretString;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Row};
use uuid::Uuid;

const TENANT: &str = "bench-tenant";
const ROLE: &str = "rempart_bench_app";
const DB: &str = "rempart_bench";

const FIRST: &[&str] = &[
    "Jean",
    "Marie",
    "Pierre",
    "Michel",
    "André",
    "Philippe",
    "Nathalie",
    "Isabelle",
    "Sylvie",
    "Catherine",
    "Françoise",
    "Hélène",
    "Zoë",
    "Chloé",
    "Léa",
    "Manon",
    "Camille",
    "Inès",
    "Théo",
    "Lucas",
    "Hugo",
    "Louis",
    "Gabriel",
    "Raphaël",
    "Jules",
    "Noé",
    "Maël",
    "Anaïs",
    "Aurélie",
    "Céline",
    "Émilie",
    "Jérôme",
    "Sébastien",
    "Stéphane",
    "François",
    "Frédéric",
    "Grégoire",
    "Thérèse",
    "Agnès",
    "Bénédicte",
    "Clément",
    "Loïc",
    "Gaëlle",
    "Joël",
    "Noémie",
    "Océane",
    "Mathéo",
    "Élodie",
    "Valérie",
    "Véronique",
    "Jean-Pierre",
    "Marie-Hélène",
    "Jean-Luc",
    "Anne-Sophie",
    "Laurent",
    "Nicolas",
    "Olivier",
    "Thomas",
    "Antoine",
    "Julien",
    "Sophie",
    "Sandrine",
    "Christine",
    "Monique",
    "Jacques",
    "Bernard",
    "Alain",
    "Patrick",
    "Daniel",
    "Christophe",
    "Lukas",
    "Jürgen",
    "Jörg",
    "Björn",
    "Søren",
    "Åsa",
    "José",
    "María",
    "Lucía",
    "Sofía",
    "Álvaro",
    "Javier",
    "Núria",
    "João",
    "Gonçalo",
    "Íñigo",
    "Giulia",
    "Niccolò",
    "Matteo",
    "Francesca",
    "Małgorzata",
    "Łukasz",
    "Zoltán",
    "Dóra",
    "Ioana",
    "Ștefan",
    "Tomáš",
    "Jiří",
    "Siobhán",
    "Seán",
];

const LAST: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefebvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clément",
    "Gauthier",
    "Dumont",
    "Lopez",
    "Fontaine",
    "Chevalier",
    "Robin",
    "Masson",
    "Sanchez",
    "Gérard",
    "Nguyen",
    "Boyer",
    "Denis",
    "Lemaire",
    "Duval",
    "Joly",
    "Gautier",
    "Roger",
    "Roche",
    "Roy",
    "Noël",
    "Meyer",
    "Lucas",
    "Meunier",
    "Jean",
    "Perez",
    "Marchand",
    "Dufour",
    "Blanchard",
    "Marie",
    "Barbier",
    "Brun",
    "Dumas",
    "Brunet",
    "Schmitt",
    "Leroux",
    "Colin",
    "Fernandez",
    "Pierre",
    "Renard",
    "Arnaud",
    "Rolland",
    "Caron",
    "Aubert",
    "Giraud",
    "Leclerc",
    "Vidal",
    "Bourgeois",
    "Renaud",
    "Lemoine",
    "Picard",
    "Gaillard",
    "Philippe",
    "Leclercq",
    "Lacroix",
    "Fabre",
    "Dupuis",
    "Olivier",
    "Rodriguez",
    "Da Silva",
    "Hubert",
    "Louis",
    "Charles",
    "Guillot",
    "Rivière",
    "Le Gall",
    "Guillaume",
    "Adam",
    "Rey",
    "Moulin",
    "Gonzalez",
    "Berger",
    "Lecomte",
    "Ménard",
    "Fleury",
    "Deschamps",
    "Carpentier",
    "Julien",
    "Benoît",
    "Paris",
    "Maillard",
    "Marchal",
    "Aubry",
    "Vasseur",
    "Le Roux",
    "Renault",
    "Jacquet",
    "Collet",
    "Prévost",
    "Poirier",
    "Charpentier",
    "Royer",
    "Huet",
    "Baron",
    "Dupuy",
    "Pons",
    "Paul",
    "Laine",
    "Carré",
    "Breton",
    "Rémy",
    "Schneider",
    "Perrot",
    "Guyot",
    "Barré",
    "Marty",
    "Cousin",
    "Müller",
    "Schröder",
    "Jiménez",
    "Núñez",
    "Gonçalves",
    "Kowalczyk",
    "Wójcik",
    "Dvořák",
    "Nováková",
    "Østergaard",
    "Ó Briain",
];

const DOMAINS: &[&str] = &[
    "example.fr",
    "example.com",
    "mail.example.de",
    "example.es",
    "example.eu",
];

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A cheap deterministic generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        mix(self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }
}

/// ASCII folding for e-mail local parts.
fn fold(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let r = match c {
            'à' | 'á' | 'â' | 'ä' | 'å' | 'ã' | 'Å' | 'Á' => "a",
            'ç' => "c",
            'é' | 'è' | 'ê' | 'ë' | 'É' => "e",
            'í' | 'ì' | 'î' | 'ï' | 'Í' => "i",
            'ñ' => "n",
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'Ø' | 'Ó' => "o",
            'ú' | 'ù' | 'û' | 'ü' => "u",
            'ý' => "y",
            'ł' | 'Ł' => "l",
            'ș' | 'Ș' => "s",
            'ř' => "r",
            'š' => "s",
            'ž' => "z",
            'ě' => "e",
            'ą' => "a",
            'ő' => "o",
            ' ' | '-' | '\'' => "",
            c if c.is_ascii_alphanumeric() => {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            _ => "x",
        };
        out.push_str(r);
    }
    out
}

/// mod 97 of a digit string.
fn mod97(digits: &str) -> u32 {
    digits
        .bytes()
        .fold(0u32, |r, d| (r * 10 + u32::from(d - b'0')) % 97)
}

/// A French IBAN with valid check digits, printed in groups of four.
fn iban(rng: &mut Rng) -> String {
    let bban = rng.digits(23);
    // FR = 15 27, check digits 00 while computing.
    let check = 98 - mod97(&format!("{bban}152700"));
    let raw = format!("FR{check:02}{bban}");
    raw.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A NIR-shaped national id (13 digits + key 97 - n mod 97).
fn national_id(rng: &mut Rng) -> String {
    let body = format!(
        "{}{:02}{:02}{:02}{}",
        1 + rng.below(2),
        rng.below(100),
        1 + rng.below(12),
        1 + rng.below(95),
        rng.digits(6)
    );
    let key = 97 - mod97(&body);
    format!(
        "{} {} {} {} {} {} {key:02}",
        &body[0..1],
        &body[1..3],
        &body[3..5],
        &body[5..7],
        &body[7..10],
        &body[10..13]
    )
}

/// Subject `i` (deterministic from the seed and `i`).
fn person(seed: u64, i: usize) -> (String, String, Profile) {
    let mut rng = Rng(mix(seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)));
    let first = FIRST[rng.below(FIRST.len())];
    let last = LAST[rng.below(LAST.len())];
    let email = format!(
        "{}.{}{}@{}",
        fold(first),
        fold(last),
        i,
        DOMAINS[rng.below(DOMAINS.len())]
    );
    let phone = format!("+3361{}", rng.digits(7));
    let profile = Profile {
        name: Some(format!("{first} {last}")),
        emails: vec![email],
        phones: vec![phone],
        ibans: vec![iban(&mut rng)],
        national_ids: vec![national_id(&mut rng)],
        external_ref: Some(format!("CUST-{i:08}")),
    };
    (first.to_owned(), last.to_owned(), profile)
}

/// The first `n` letters of the first word of `s` that has at least 3
/// (a query word must be a whole word or a prefix of 3 letters or more).
fn prefix(s: &str, n: usize) -> String {
    let word = s
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| w.chars().count() >= 3)
        .unwrap_or(s);
    word.chars().take(n).collect()
}

struct Args {
    n: usize,
    queries: usize,
    name_queries: usize,
    wide_queries: usize,
    concurrency: usize,
    seed: u64,
}

fn args() -> Args {
    let mut a = Args {
        n: 1_000_000,
        queries: 2_000,
        name_queries: 300,
        wide_queries: 5,
        concurrency: 8,
        seed: 42,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = || -> usize {
            v.get(i + 1)
                .and_then(|s| s.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{} needs a number", v[i]))
        };
        match v[i].as_str() {
            "--n" => a.n = val(),
            "--queries" => a.queries = val(),
            "--name-queries" => a.name_queries = val(),
            "--wide-queries" => a.wide_queries = val(),
            "--concurrency" => a.concurrency = val(),
            "--seed" => a.seed = val() as u64,
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    a
}

/// Latencies in microseconds.
#[derive(Default)]
struct Lat(Vec<f64>);
impl Lat {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1e6);
    }
    fn pct(&self, q: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return f64::NAN;
        }
        v[((v.len() - 1) as f64 * q).round() as usize]
    }
    fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len() as f64
    }
}

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1000.0)
}

async fn explain(pool: &PgPool, sql: &str, binds: &[Bind<'_>]) -> Vec<String> {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT set_config('rempart.tenant', $1, true)")
        .bind(TENANT)
        .execute(&mut *tx)
        .await
        .expect("set tenant");
    let q = format!("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}");
    let mut query = sqlx::query(&q);
    for b in binds {
        query = match b {
            Bind::Text(s) => query.bind(*s),
            Bind::Bytes(v) => query.bind(*v),
            Bind::Arr(v) => query.bind(*v),
        };
    }
    let rows = query.fetch_all(&mut *tx).await.expect("explain");
    tx.commit().await.expect("commit");
    rows.iter().map(|r| r.get::<String, _>(0)).collect()
}

enum Bind<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
    Arr(&'a [Vec<u8>]),
}

/// The lookup path of the registry before `find_subjects_by_index`:
/// candidate ids, then one `get_subject` transaction per candidate, unwrap,
/// decrypt, parse, compare. Reproduced here to compare both in one run.
async fn old_find_email(
    store: &Store,
    kms: &KeyProvider,
    index: &BlindIndex,
    email: &str,
) -> Vec<Uuid> {
    let value = index.compute(&[email]).expect("hmac");
    let mut out = Vec::new();
    for id in store
        .find_by_index(TENANT, "email", &value)
        .await
        .expect("find_by_index")
    {
        let s = store
            .get_subject(TENANT, id)
            .await
            .expect("get_subject")
            .expect("exists");
        let row = id.to_string();
        let mut ctx = b"rempart/registry/v1".to_vec();
        for part in [TENANT, "subject", row.as_str()] {
            ctx.push(0);
            ctx.extend_from_slice(part.as_bytes());
        }
        let dek = kms
            .unwrap(
                &WrappedKey::parse(s.wrapped_key.as_deref().expect("live")).expect("wrapped"),
                &ctx,
            )
            .await
            .expect("unwrap");
        let plain = rempart_crypto::open(
            &dek,
            &rempart_crypto::Aad {
                tenant: TENANT,
                table: "subjects",
                column: "profile",
                row: &row,
            },
            s.profile.as_deref().expect("profile"),
        )
        .expect("open");
        let p: Profile = serde_json::from_slice(&plain).expect("profile json");
        if p.emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
            out.push(id);
        }
    }
    out
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

    // --- database, app role, baseline table ---
    let mut c = PgConnection::connect(&server).await.expect("connect");
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {DB}"))
        .execute(&mut c)
        .await
        .expect("drop db");
    sqlx::raw_sql(&format!("CREATE DATABASE {DB}"))
        .execute(&mut c)
        .await
        .expect("create db");
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
    let admin = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(
            PgConnectOptions::from_str(&admin_url)
                .expect("url")
                .disable_statement_logging(),
        )
        .await
        .expect("admin pool");
    sqlx::raw_sql(&format!(
        "CREATE EXTENSION IF NOT EXISTS pg_trgm;
         CREATE TABLE plain_subjects (
            tenant text NOT NULL, id uuid NOT NULL, email text NOT NULL, name text NOT NULL,
            phone text NOT NULL, iban text NOT NULL, national_id text NOT NULL,
            external_ref text NOT NULL, created timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant, id));
         ALTER TABLE plain_subjects ENABLE ROW LEVEL SECURITY;
         ALTER TABLE plain_subjects FORCE ROW LEVEL SECURITY;
         CREATE POLICY tenant_isolation ON plain_subjects
            USING (tenant = current_setting('rempart.tenant', true))
            WITH CHECK (tenant = current_setting('rempart.tenant', true));
         GRANT SELECT ON plain_subjects TO {ROLE};"
    ))
    .execute(&admin)
    .await
    .expect("baseline table");

    // --- the registry, as the application role (RLS on) ---
    let store = Store::connect(&SecretString::from(app_url.clone()))
        .await
        .expect("store as app role");
    let keydir = tempfile::tempdir().expect("tempdir");
    let kms = Arc::new(
        KeyProvider::from_config(&KeysConfig::default(), keydir.path(), &|_| None)
            .await
            .expect("local keyring")
            .provider,
    );
    let settings = Settings::default();
    let registry = Arc::new(Registry::new(store.clone(), kms.clone(), settings.clone()));
    // The plaintext baseline goes through a pool of the same kind: same
    // role, same size (8), statement logging off, RLS with the tenant set
    // per transaction.
    let plain = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(
            PgConnectOptions::from_str(&app_url)
                .expect("url")
                .disable_statement_logging(),
        )
        .await
        .expect("app pool");

    println!(
        "# store_bench: N = {}, concurrency = {}, seed = {}",
        a.n, a.concurrency, a.seed
    );
    let load0 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load0.trim());

    // --- load through Registry::add ---
    let ids = Arc::new(std::sync::Mutex::new(vec![Uuid::nil(); a.n]));
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (registry, ids, next) = (registry.clone(), ids.clone(), next.clone());
        let (n, seed) = (a.n, a.seed);
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (_, _, p) = person(seed, i);
                let id = registry.add(TENANT, &p).await.expect("add");
                ids.lock().expect("ids")[i] = id;
                if (i + 1) % 50_000 == 0 {
                    eprintln!(
                        "  loaded {} in {:.1}s ({:.0}/s)",
                        i + 1,
                        t0.elapsed().as_secs_f64(),
                        (i + 1) as f64 / t0.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let load_secs = t0.elapsed().as_secs_f64();
    let insert_rate = a.n as f64 / load_secs;
    eprintln!("registry load: {} in {load_secs:.1}s", a.n);
    let ids = ids.lock().expect("ids").clone();

    // --- the plaintext baseline: same rows, bulk insert, then indexes ---
    let t1 = Instant::now();
    for chunk in (0..a.n).collect::<Vec<_>>().chunks(5_000) {
        let mut cols: [Vec<String>; 7] = Default::default();
        let mut uu = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let (_, _, p) = person(a.seed, i);
            uu.push(ids[i]);
            cols[0].push(p.emails[0].to_lowercase());
            cols[1].push(p.name.clone().unwrap_or_default());
            cols[2].push(p.phones[0].clone());
            cols[3].push(p.ibans[0].replace(' ', ""));
            cols[4].push(p.national_ids[0].replace(' ', ""));
            cols[5].push(p.external_ref.clone().unwrap_or_default());
            cols[6].push(TENANT.to_owned());
        }
        sqlx::query(
            "INSERT INTO plain_subjects (tenant, id, email, name, phone, iban, national_id, external_ref)
             SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::text[])",
        )
        .bind(&cols[6])
        .bind(&uu)
        .bind(&cols[0])
        .bind(&cols[1])
        .bind(&cols[2])
        .bind(&cols[3])
        .bind(&cols[4])
        .bind(&cols[5])
        .execute(&admin)
        .await
        .expect("baseline insert");
    }
    sqlx::raw_sql(
        "CREATE INDEX plain_email ON plain_subjects (tenant, email);
         CREATE INDEX plain_name_trgm ON plain_subjects USING gin (tenant, name gin_trgm_ops);
         ANALYZE plain_subjects; ANALYZE subjects; ANALYZE subject_index;",
    )
    .execute(&admin)
    .await
    .expect("baseline indexes");
    eprintln!(
        "baseline load + indexes: {:.1}s",
        t1.elapsed().as_secs_f64()
    );
    let sizes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT relname::text, pg_total_relation_size(oid) FROM pg_class
         WHERE relname IN ('subjects', 'subject_index', 'plain_subjects') ORDER BY relname",
    )
    .fetch_all(&admin)
    .await
    .expect("sizes");

    // The tenant's blind-index root, to time find_by_index alone (the same
    // derivation as the registry: wrapped in tenant_keys under this context).
    let root = {
        let stored = store
            .get_tenant_key(TENANT, "blind-index-root")
            .await
            .expect("tenant key")
            .expect("root exists");
        let mut ctx = b"rempart/registry/v1".to_vec();
        for part in [TENANT, "tenant-key", "blind-index-root"] {
            ctx.push(0);
            ctx.extend_from_slice(part.as_bytes());
        }
        kms.unwrap(&WrappedKey::parse(&stored.wrapped).expect("wrapped"), &ctx)
            .await
            .expect("unwrap root")
    };
    let email_index = BlindIndex::new(
        &root,
        TENANT,
        "email",
        vec![FieldKind::Email],
        settings.index_bits,
    )
    .expect("index");
    let name_tokens =
        NameTokens::new(&root, TENANT, "name-tokens", settings.token_bits).expect("tokens");

    let plain_exact = "SELECT id, email, name, phone, iban, national_id, external_ref, created
                       FROM plain_subjects WHERE tenant = $1 AND email = $2";
    let plain_name = "SELECT id, name FROM plain_subjects
                      WHERE tenant = $1 AND name ILIKE $2 AND name ILIKE $3";
    let plain_wide = "SELECT id, name FROM plain_subjects WHERE tenant = $1 AND name ILIKE $2";

    // --- exact lookups, interleaved ---
    let mut rng = Rng(mix(a.seed ^ 0xBE4C));
    let (mut la, mut lb, mut lc, mut ld) = (
        Lat::default(),
        Lat::default(),
        Lat::default(),
        Lat::default(),
    );
    let mut cand_total = 0usize;
    let mut cand_max = 0usize;
    let warmup = 200;
    for q in 0..(warmup + a.queries) {
        let i = rng.below(a.n);
        let (_, _, p) = person(a.seed, i);
        let email = p.emails[0].clone();
        for k in 0..4 {
            match (q + k) % 4 {
                3 => {
                    let t = Instant::now();
                    let found = old_find_email(&store, &kms, &email_index, &email).await;
                    let d = t.elapsed();
                    assert_eq!(found, vec![ids[i]]);
                    if q >= warmup {
                        ld.push(d);
                    }
                }
                0 => {
                    let t = Instant::now();
                    let found = registry
                        .find(TENANT, &Lookup::Email(email.clone()))
                        .await
                        .expect("find");
                    let d = t.elapsed();
                    assert_eq!(found.len(), 1, "exactly one subject per e-mail");
                    assert_eq!(found[0].id, ids[i]);
                    if q >= warmup {
                        la.push(d);
                    }
                }
                1 => {
                    let t = Instant::now();
                    let mut tx = plain.begin().await.expect("begin");
                    sqlx::query("SELECT set_config('rempart.tenant', $1, true)")
                        .bind(TENANT)
                        .execute(&mut *tx)
                        .await
                        .expect("set tenant");
                    let rows = sqlx::query(plain_exact)
                        .bind(TENANT)
                        .bind(email.to_lowercase())
                        .fetch_all(&mut *tx)
                        .await
                        .expect("plain");
                    tx.commit().await.expect("commit");
                    let d = t.elapsed();
                    assert_eq!(rows.len(), 1);
                    if q >= warmup {
                        lb.push(d);
                    }
                }
                _ => {
                    let t = Instant::now();
                    let value = email_index.compute(&[&email]).expect("hmac");
                    let cands = store
                        .find_by_index(TENANT, "email", &value)
                        .await
                        .expect("find_by_index");
                    let d = t.elapsed();
                    if q >= warmup {
                        lc.push(d);
                        cand_total += cands.len();
                        cand_max = cand_max.max(cands.len());
                    }
                }
            }
        }
    }

    // --- partial-name search: "firs last" (two word prefixes), interleaved ---
    let (mut na, mut nb, mut nc) = (Lat::default(), Lat::default(), Lat::default());
    let (mut n_found, mut n_plain, mut n_cand) = (0usize, 0usize, 0usize);
    let nwarm = 20;
    for q in 0..(nwarm + a.name_queries) {
        let i = rng.below(a.n);
        let (first, last, _) = person(a.seed, i);
        let (fp, lp) = (prefix(&first, 4), prefix(&last, 4));
        let query = format!("{fp} {lp}");
        for k in 0..3 {
            match (q + k) % 3 {
                0 => {
                    let t = Instant::now();
                    let found = registry
                        .find(TENANT, &Lookup::Name(query.clone()))
                        .await
                        .expect("find name");
                    let d = t.elapsed();
                    assert!(found.iter().any(|f| f.id == ids[i]));
                    if q >= nwarm {
                        na.push(d);
                        n_found += found.len();
                    }
                }
                1 => {
                    let t = Instant::now();
                    let mut tx = plain.begin().await.expect("begin");
                    sqlx::query("SELECT set_config('rempart.tenant', $1, true)")
                        .bind(TENANT)
                        .execute(&mut *tx)
                        .await
                        .expect("set tenant");
                    let rows = sqlx::query(plain_name)
                        .bind(TENANT)
                        .bind(format!("%{fp}%"))
                        .bind(format!("%{lp}%"))
                        .fetch_all(&mut *tx)
                        .await
                        .expect("plain name");
                    tx.commit().await.expect("commit");
                    let d = t.elapsed();
                    if q >= nwarm {
                        nb.push(d);
                        n_plain += rows.len();
                    }
                }
                _ => {
                    let t = Instant::now();
                    let tokens = name_tokens.query(&query).expect("tokens");
                    let cands = store
                        .find_by_tokens(TENANT, &tokens)
                        .await
                        .expect("find_by_tokens");
                    let d = t.elapsed();
                    if q >= nwarm {
                        nc.push(d);
                        n_cand += cands.len();
                    }
                }
            }
        }
    }

    // --- wide single-prefix search ("dup"-style), few queries ---
    let (mut wa, mut wb, mut wc) = (Lat::default(), Lat::default(), Lat::default());
    let (mut w_found, mut w_plain, mut w_cand) = (0usize, 0usize, 0usize);
    let mut wide_q = Vec::new();
    for _ in 0..a.wide_queries {
        let i = rng.below(a.n);
        let (_, last, _) = person(a.seed, i);
        let lp = prefix(&last, 3);
        wide_q.push(lp.clone());
        let t = Instant::now();
        let found = registry
            .find(TENANT, &Lookup::Name(lp.clone()))
            .await
            .expect("find wide");
        wa.push(t.elapsed());
        w_found += found.len();
        let t = Instant::now();
        let mut tx = plain.begin().await.expect("begin");
        sqlx::query("SELECT set_config('rempart.tenant', $1, true)")
            .bind(TENANT)
            .execute(&mut *tx)
            .await
            .expect("set tenant");
        let rows = sqlx::query(plain_wide)
            .bind(TENANT)
            .bind(format!("%{lp}%"))
            .fetch_all(&mut *tx)
            .await
            .expect("plain wide");
        tx.commit().await.expect("commit");
        wb.push(t.elapsed());
        w_plain += rows.len();
        let t = Instant::now();
        let tokens = name_tokens.query(&lp).expect("tokens");
        let cands = store.find_by_tokens(TENANT, &tokens).await.expect("tokens");
        wc.push(t.elapsed());
        w_cand += cands.len();
    }

    // --- plans ---
    let (_, _, p0) = person(a.seed, a.n / 2);
    let (f0, l0, _) = person(a.seed, a.n / 2);
    let v0 = email_index.compute(&[&p0.emails[0]]).expect("hmac");
    let q0 = format!("{} {}", prefix(&f0, 4), prefix(&l0, 4));
    let t0s = name_tokens.query(&q0).expect("tokens");
    let plans = [
        (
            "blind-index exact lookup (Store::find_by_index)",
            explain(
                &plain,
                "SELECT DISTINCT subject_id FROM subject_index
                 WHERE tenant = $1 AND name = $2 AND value = $3 ORDER BY subject_id",
                &[Bind::Text(TENANT), Bind::Text("email"), Bind::Bytes(&v0)],
            )
            .await,
        ),
        (
            "blind-index exact lookup with the rows (Store::find_subjects_by_index, used by Registry::find)",
            explain(
                &plain,
                "SELECT id, wrapped_key, profile, created, erased_at FROM subjects
                 WHERE tenant = $1 AND id IN (SELECT subject_id FROM subject_index
                                              WHERE tenant = $1 AND name = $2 AND value = $3)
                 ORDER BY id",
                &[Bind::Text(TENANT), Bind::Text("email"), Bind::Bytes(&v0)],
            )
            .await,
        ),
        (
            "name-token search (Store::find_by_tokens), two words",
            explain(
                &plain,
                "SELECT subject_id FROM subject_tokens
                 WHERE tenant = $1 AND token = ANY($2)
                 GROUP BY subject_id HAVING COUNT(DISTINCT token) = cardinality($2)
                 ORDER BY subject_id",
                &[Bind::Text(TENANT), Bind::Arr(&t0s)],
            )
            .await,
        ),
        (
            "plaintext exact lookup",
            explain(
                &plain,
                plain_exact,
                &[Bind::Text(TENANT), Bind::Text(&p0.emails[0].to_lowercase())],
            )
            .await,
        ),
        (
            "plaintext ILIKE, two words",
            explain(
                &plain,
                plain_name,
                &[
                    Bind::Text(TENANT),
                    Bind::Text(&format!("%{}%", prefix(&f0, 4))),
                    Bind::Text(&format!("%{}%", prefix(&l0, 4))),
                ],
            )
            .await,
        ),
    ];

    let load1 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    // --- report (markdown) ---
    println!("load average at end: {}", load1.trim());
    println!();
    println!(
        "Insert: {} subjects through `Registry::add` ({} tasks, pool of 8) in {load_secs:.1} s = **{insert_rate:.0} subjects/s**",
        a.n, a.concurrency
    );
    println!();
    for (name, bytes) in &sizes {
        println!("- `{name}`: {:.1} MiB", *bytes as f64 / 1048576.0);
    }
    println!();
    println!(
        "Exact lookup by e-mail, {} random existing subjects (after {warmup} warm-up), interleaved, ms:",
        a.queries
    );
    println!();
    println!("| path | p50 | p95 | p99 | mean |");
    println!("|---|---|---|---|---|");
    for (name, l) in [
        ("(a) `Registry::find(Lookup::Email)` end to end", &la),
        ("(b) plaintext `WHERE tenant=$1 AND email=$2` (btree)", &lb),
        ("(c) HMAC + `Store::find_by_index` only", &lc),
        (
            "(d) previous registry path: (c) + `get_subject` per candidate + unwrap + decrypt",
            &ld,
        ),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} |",
            ms(l.pct(0.5)),
            ms(l.pct(0.95)),
            ms(l.pct(0.99)),
            ms(l.mean())
        );
    }
    for (name, l) in [("(a)/(b)", &la), ("(c)/(b)", &lc), ("(d)/(b)", &ld)] {
        println!(
            "| ratio {name} | {:.2} | {:.2} | {:.2} | {:.2} |",
            l.pct(0.5) / lb.pct(0.5),
            l.pct(0.95) / lb.pct(0.95),
            l.pct(0.99) / lb.pct(0.99),
            l.mean() / lb.mean()
        );
    }
    println!();
    println!(
        "Blind-index candidates per e-mail lookup ({}-bit index): mean {:.4}, max {cand_max} (a mean above 1.0 = truncation false positives)",
        settings.index_bits,
        cand_total as f64 / a.queries as f64
    );
    println!();
    println!(
        "Partial-name search, {} queries \"<4 letters of first name> <4 letters of last name>\" (after {nwarm} warm-up), interleaved, ms:",
        a.name_queries
    );
    println!();
    println!("| path | p50 | p95 | p99 | mean | rows per query |");
    println!("|---|---|---|---|---|---|");
    let nq = a.name_queries.max(1) as f64;
    for (name, l, rows) in [
        (
            "(a) `Registry::find(Lookup::Name)` (tokens + decrypt + check)",
            &na,
            n_found,
        ),
        (
            "(b) plaintext `name ILIKE '%firs%' AND name ILIKE '%last%'` (trigram GIN)",
            &nb,
            n_plain,
        ),
        (
            "(c) HMAC tokens + `Store::find_by_tokens` only (candidates)",
            &nc,
            n_cand,
        ),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} | {:.1} |",
            ms(l.pct(0.5)),
            ms(l.pct(0.95)),
            ms(l.pct(0.99)),
            ms(l.mean()),
            rows as f64 / nq
        );
    }
    println!();
    println!(
        "Wide single-prefix name search, {} queries ({:?}), not interleaved beyond a/b/c per query, ms:",
        a.wide_queries, wide_q
    );
    println!();
    println!("| path | p50 | max | mean | rows per query |");
    println!("|---|---|---|---|---|");
    let wq = a.wide_queries.max(1) as f64;
    for (name, l, rows) in [
        ("(a) `Registry::find(Lookup::Name(\"dup\"))`", &wa, w_found),
        ("(b) plaintext `name ILIKE '%dup%'`", &wb, w_plain),
        ("(c) `Store::find_by_tokens` only", &wc, w_cand),
    ] {
        println!(
            "| {name} | {} | {} | {} | {:.0} |",
            ms(l.pct(0.5)),
            ms(l.pct(1.0)),
            ms(l.mean()),
            rows as f64 / wq
        );
    }
    println!();
    for (title, lines) in &plans {
        println!("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) — {title}:");
        println!();
        println!("```");
        for l in lines {
            println!("{l}");
        }
        println!("```");
        println!();
    }
    store.close().await;
    plain.close().await;
    admin.close().await;
}
