//! Fresh databases: a SQLite file in a directory of its own, or a schema of its own on the
//! PostgreSQL server the tests are pointed at.

use std::path::PathBuf;

/// The admin URL PostgreSQL tests use; set `GONGDAN_TEST_PG_URL` to point elsewhere.
pub fn pg_url() -> String {
    std::env::var("GONGDAN_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A name no other test (in this process or another) uses.
pub fn unique(prefix: &str) -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).expect("random bytes");
    format!("{prefix}_{}_{}", std::process::id(), b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

/// A fresh PostgreSQL schema's URL, or `None` (with a note) when no server answers and none is
/// required (`GONGDAN_TEST_REQUIRE_PG=1` makes it a failure).
pub async fn pg_schema_url() -> Option<String> {
    use sqlx::Connection;
    let url = pg_url();
    match sqlx::PgConnection::connect(&url).await {
        Ok(mut conn) => {
            let schema = unique("it").to_lowercase().replace('-', "_");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut conn)
                .await
                .expect("create schema");
            let sep = if url.contains('?') { '&' } else { '?' };
            Some(format!("{url}{sep}options=-c%20search_path%3D{schema}"))
        }
        Err(e) => {
            if std::env::var("GONGDAN_TEST_REQUIRE_PG").is_ok_and(|v| v == "1") {
                panic!("PostgreSQL is required (GONGDAN_TEST_REQUIRE_PG=1) but {url} is unreachable: {e}");
            }
            eprintln!("note: PostgreSQL at {url} is unreachable ({e}); skipping the PostgreSQL run of this test");
            None
        }
    }
}

/// A fresh directory under the system's temp dir.
pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("gongdan-it"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A fresh SQLite database's URL, in a fresh directory (which it returns too).
pub fn sqlite_url() -> (String, PathBuf) {
    let dir = temp_dir();
    (format!("sqlite://{}", dir.join("t.db").display()), dir)
}

/// Runs SQL statements on the database behind `url`, past the store (to set up what only an
/// old version or a crash leaves behind).
pub async fn execute(url: &str, statements: &[&str]) {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(*s)).execute(&mut conn).await.expect("execute");
        }
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(*s)).execute(&mut conn).await.expect("execute");
        }
    }
}
