//! Test backends: a SQLite file in a temp dir, and a fresh PostgreSQL
//! database per test (created from `REMPART_TEST_PG_URL`, an admin URL, see
//! `scripts/pg.sh`) with the application role bootstrapped.

#![allow(dead_code)]

use std::str::FromStr;

use rempart_store::Store;
use rempart_store::postgres::{AppRole, bootstrap};
use secrecy::SecretString;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// The admin URL, or `None` (with a message) when unset. Under `CI=true`
/// an unset URL is a failure: CI must run the PostgreSQL tests.
pub fn pg_admin_url() -> Option<String> {
    match std::env::var("REMPART_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "REMPART_TEST_PG_URL is unset but CI=true: start PostgreSQL with `eval \"$(scripts/pg.sh start)\"`"
                );
            }
            eprintln!(
                "SKIPPED: PostgreSQL test (set REMPART_TEST_PG_URL, e.g. `eval \"$(scripts/pg.sh start)\"`)"
            );
            None
        }
    }
}

/// The `pg_dump` matching the test server: from `REMPART_TEST_PG_BIN` (set
/// by `scripts/pg.sh start`), else Debian's newest. A `pg_dump` older than
/// the server refuses to dump it.
pub fn pg_dump() -> std::path::PathBuf {
    if let Some(bin) = std::env::var_os("REMPART_TEST_PG_BIN").filter(|b| !b.is_empty()) {
        return std::path::Path::new(&bin).join("pg_dump");
    }
    std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL client binaries (set REMPART_TEST_PG_BIN)")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/pg_dump"))
        .filter(|p| p.exists())
        .max()
        .expect("pg_dump")
}

/// One test database with its own application role.
pub struct PgDb {
    /// Admin (superuser/owner) URL of the test database.
    pub admin_url: String,
    /// Application-role URL of the test database.
    pub app_url: String,
    /// Database name.
    pub db: String,
    /// Application role name.
    pub role: String,
    server_admin_url: String,
}

impl PgDb {
    pub async fn create() -> Option<PgDb> {
        let server_admin_url = pg_admin_url()?;
        let opts = PgConnectOptions::from_str(&server_admin_url).expect("REMPART_TEST_PG_URL");
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let db = format!("rempart_t_{}", &suffix[..16]);
        let role = format!("rempart_app_{}", &suffix[..16]);
        let mut c = PgConnection::connect(&server_admin_url)
            .await
            .expect("connect admin");
        sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
            .execute(&mut c)
            .await
            .expect("create database");
        c.close().await.ok();
        let host = opts.get_host().to_string();
        let port = opts.get_port();
        let admin_user = opts.get_username().to_string();
        let admin_url = format!("postgres://{admin_user}@{host}:{port}/{db}");
        let app_url = format!("postgres://{role}@{host}:{port}/{db}");
        bootstrap(
            &SecretString::from(admin_url.clone()),
            &AppRole {
                name: role.clone(),
                password: Some(SecretString::from("not-used-under-trust-auth".to_string())),
            },
        )
        .await
        .expect("bootstrap");
        Some(PgDb {
            admin_url,
            app_url,
            db,
            role,
            server_admin_url,
        })
    }

    pub async fn app_store(&self) -> Store {
        Store::connect(&SecretString::from(self.app_url.clone()))
            .await
            .expect("connect as the application role")
    }

    pub async fn admin(&self) -> PgConnection {
        PgConnection::connect(&self.admin_url).await.expect("admin")
    }

    pub async fn app(&self) -> PgConnection {
        PgConnection::connect(&self.app_url).await.expect("app")
    }

    /// Drop the database and the role.
    pub async fn drop(self) {
        let mut c = PgConnection::connect(&self.server_admin_url)
            .await
            .expect("admin");
        for stmt in [
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db),
            format!("DROP ROLE IF EXISTS {}", self.role),
        ] {
            sqlx::raw_sql(&stmt)
                .execute(&mut c)
                .await
                .expect("drop test database");
        }
        c.close().await.ok();
    }
}

/// A store under test and what keeps it alive.
pub struct Backend {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgDb>,
}

impl Backend {
    pub async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        Backend {
            store,
            _dir: Some(dir),
            pg: None,
        }
    }

    pub async fn postgres() -> Option<Backend> {
        let pg = PgDb::create().await?;
        let store = pg.app_store().await;
        Some(Backend {
            store,
            _dir: None,
            pg: Some(pg),
        })
    }

    /// Every byte the backend holds: the SQLite files (database, WAL, SHM)
    /// after a checkpoint, or a `pg_dump` of the PostgreSQL database.
    pub async fn dump(&self) -> Vec<u8> {
        if let Some(pg) = &self.pg {
            let out = std::process::Command::new(pg_dump())
                .arg("--dbname")
                .arg(&pg.admin_url)
                .output()
                .expect("run pg_dump");
            assert!(
                out.status.success(),
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.stdout.len() > 1000, "a real dump");
            return out.stdout;
        }
        let dir = self._dir.as_ref().expect("sqlite dir");
        let mut all = Vec::new();
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                all.extend(std::fs::read(&p).unwrap());
            }
        }
        assert!(all.len() > 1000, "a real database file");
        all
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some(pg) = self.pg {
            pg.drop().await;
        }
    }
}

/// Run each named `async fn(&Store)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let b = $crate::common::Backend::sqlite().await;
                    super::$name(&b.store).await;
                    b.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(b) = $crate::common::Backend::postgres().await else { return };
                    super::$name(&b.store).await;
                    b.finish().await;
                }
            )*
        }
    };
}

/// Like [`on_both_backends`], for bodies that take the whole [`Backend`]
/// (to dump it).
#[macro_export]
macro_rules! on_both_backends_full {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let b = $crate::common::Backend::sqlite().await;
                    super::$name(&b).await;
                    b.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(b) = $crate::common::Backend::postgres().await else { return };
                    super::$name(&b).await;
                    b.finish().await;
                }
            )*
        }
    };
}
