//! A Redis key prefix of its own for each test (`REDIS_URL`, default the local server),
//! its keys deleted when the test ends.

/// The test Redis.
pub fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A prefix no other test run shares, so tests never see each other's keys; its keys are
/// deleted when the test ends (the revocation log has no TTL of its own).
pub struct Prefix(String);

impl std::ops::Deref for Prefix {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let (url, pattern) = (url(), format!("{{{}}}:*", self.0));
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(url.as_str()) else {
                return;
            };
            let Ok(mut conn) = client.get_connection() else {
                return;
            };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut conn)
                .unwrap_or_default();
            for chunk in keys.chunks(500) {
                let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(chunk).query(&mut conn);
            }
        })
        .join();
    }
}

/// A fresh prefix for this test.
pub fn prefix() -> Prefix {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    Prefix(format!("tjs-test-{}", u64::from_le_bytes(bytes)))
}
