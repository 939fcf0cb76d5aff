//! A Postgres schema of its own for each test (`DATABASE_URL`, default the local server),
//! dropped when the test ends, and a backend in it.

/// The test database.
pub fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema no other test run shares, dropped with this value.
pub struct Schema(pub String);

impl Schema {
    pub fn new() -> Self {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        Schema(format!("tjs_test_{:016x}", u64::from_le_bytes(bytes)))
    }
}

impl Default for Schema {
    fn default() -> Self {
        Schema::new()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let name = self.0.clone();
        // A runtime of its own: the test's may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&url(), tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// The Postgres backend at `url`, its tables in `schema` (created here).
#[cfg(feature = "postgres")]
pub async fn backend_at(url: &str, schema: &Schema) -> tower_jwt_sessions::PostgresBackend {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("Postgres answers (start it, or set DATABASE_URL)");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", schema.0))
        .await
        .unwrap();
    tower_jwt_sessions::PostgresBackend::builder(url)
        .schema(&schema.0)
        .connect()
        .await
        .expect("Postgres answers (start it, or set DATABASE_URL)")
}
