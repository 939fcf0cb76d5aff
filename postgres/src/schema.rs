//! The tables, their versioned migrations, and every statement the backend runs.

use tokio_postgres::Client;
use tower_jwt_sessions_core::BackendError;

/// Rows deleted per batch of expired sessions.
pub(crate) const CLEAN_BATCH: u64 = 1000;

/// The migrations, in order; a version once released never changes. `{s}` is the sessions
/// table, `{l}` the revocation log, `{p}` the prefix for index and trigger names, `{m}` the
/// log's meta row, `{f}` the prefix of function names, `{c}` the notification channel, `{r}`
/// the DPoP proofs.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE IF NOT EXISTS {s} (
        id text PRIMARY KEY,
        user_id text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        last_accessed bigint NOT NULL,
        generation bigint NOT NULL,
        rotated_at bigint NOT NULL,
        ip text,
        user_agent text
    );
    CREATE INDEX IF NOT EXISTS {p}sessions_user ON {s} (user_id, created_at);
    CREATE INDEX IF NOT EXISTS {p}sessions_expiry ON {s} (expires_at);
    CREATE TABLE IF NOT EXISTS {l} (
        id bigserial PRIMARY KEY,
        session_id text NOT NULL,
        at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS {p}revocations_at ON {l} (at);",
    ),
    // Since when the log is complete (Unix seconds): 0 at creation, as the log exists since
    // the schema. A DELETE moves it to the newest entry it removed (the age trim's are
    // older than every live access token, so they never matter), a TRUNCATE to the moment
    // it ran, and also tells every listener at once.
    (
        2,
        "CREATE TABLE IF NOT EXISTS {m} (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        since bigint NOT NULL
    );
    INSERT INTO {m} (since) VALUES (0) ON CONFLICT DO NOTHING;
    CREATE OR REPLACE FUNCTION {f}revocations_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Written only when it moves: the age trim of an empty log writes nothing.
        UPDATE {m} SET since = newest.at
            FROM (SELECT ceil(extract(epoch FROM max(at)))::bigint AS at FROM gone) AS newest
            WHERE newest.at > since;
        RETURN NULL;
    END $$;
    CREATE TRIGGER {p}revocations_deleted AFTER DELETE ON {l}
        REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
        EXECUTE FUNCTION {f}revocations_deleted();
    CREATE OR REPLACE FUNCTION {f}revocations_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE {m} SET since = GREATEST(since, ceil(extract(epoch FROM clock_timestamp()))::bigint);
        PERFORM pg_notify('{c}', 'reset');
        RETURN NULL;
    END $$;
    CREATE TRIGGER {p}revocations_truncated AFTER TRUNCATE ON {l}
        FOR EACH STATEMENT EXECUTE FUNCTION {f}revocations_truncated();",
    ),
    // DPoP proofs recorded once (RFC 9449 §11.1), kept until they expire.
    (
        3,
        "CREATE TABLE IF NOT EXISTS {r} (
        id text PRIMARY KEY,
        expires_at bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS {p}proofs_expiry ON {r} (expires_at);
    ALTER TABLE {s} ADD COLUMN IF NOT EXISTS dpop_jkt text;",
    ),
];

/// The notification a TRUNCATE of the log sends: every listener checks the log at once.
pub(crate) const RESET: &str = "reset";

const COLUMNS: &str = "id, user_id, created_at, expires_at, last_accessed, generation, \
     rotated_at, ip, user_agent, dpop_jkt";

pub(crate) struct Statements {
    migrations_table: String,
    expand: Box<dyn Fn(&str) -> String + Send + Sync>,
    lock_key: i64,
    pub(crate) create: String,
    pub(crate) load: String,
    pub(crate) revoke: String,
    pub(crate) revoke_others: String,
    pub(crate) list: String,
    pub(crate) touch: String,
    pub(crate) rotate: String,
    pub(crate) delete_expired: String,
    /// Records a DPoP proof id unless it is recorded and not expired: one row affected the
    /// first time.
    pub(crate) record_proof: String,
    pub(crate) delete_expired_proofs: String,
    pub(crate) trim_log: String,
    pub(crate) replay: String,
    /// Since when the log is complete, the last log id issued (its sequence: ids never go
    /// back unless the log was reset), and the session logged at id `$1`.
    pub(crate) log_state: String,
    /// Records a loss found by a listener, now, so that instances starting later know too.
    pub(crate) record_loss: String,
    pub(crate) listen: String,
    /// The feed connection's `application_name`, to find it in `pg_stat_activity`.
    pub(crate) feed_name: String,
    /// The pooled connections' `application_name`, unless the URL names them.
    pub(crate) store_name: String,
}

/// Identifiers are spliced into SQL, so only plain lower-case names are accepted.
fn identifier(name: &str) -> Result<&str, BackendError> {
    let plain = !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        Ok(name)
    } else {
        Err(BackendError::new(
            "schema and table prefix must be lower-case letters, digits and '_' (at most 40)",
        ))
    }
}

impl Statements {
    pub(crate) fn new(schema: &str, prefix: &str) -> Result<Self, BackendError> {
        let schema = identifier(schema)?;
        let prefix = if prefix.is_empty() {
            prefix
        } else {
            identifier(prefix)?
        };
        let s = format!("\"{schema}\".\"{prefix}sessions\"");
        let l = format!("\"{schema}\".\"{prefix}revocations\"");
        let m = format!("\"{schema}\".\"{prefix}revocations_meta\"");
        let r = format!("\"{schema}\".\"{prefix}dpop_proofs\"");
        let channel = format!("{schema}_{prefix}revoked");
        let notify = |from: &str| {
            format!(
                "{from}, logged AS (INSERT INTO {l} (session_id) SELECT id FROM gone \
                 RETURNING id, session_id) \
                 SELECT session_id, pg_notify('{channel}', id::text || ':' || session_id)::text \
                 FROM logged"
            )
        };
        let (s2, l2, p2, m2, c2, r2) = (
            s.clone(),
            l.clone(),
            prefix.to_owned(),
            m.clone(),
            channel.clone(),
            r.clone(),
        );
        let f2 = format!("\"{schema}\".{prefix}");
        Ok(Statements {
            migrations_table: format!("\"{schema}\".\"{prefix}migrations\""),
            expand: Box::new(move |sql| {
                sql.replace("{s}", &s2)
                    .replace("{l}", &l2)
                    .replace("{p}", &p2)
                    .replace("{m}", &m2)
                    .replace("{f}", &f2)
                    .replace("{c}", &c2)
                    .replace("{r}", &r2)
            }),
            lock_key: fnv(&format!("tower-jwt-sessions:{schema}.{prefix}")),
            create: format!(
                "INSERT INTO {s} ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, \
                 created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, \
                 last_accessed = EXCLUDED.last_accessed, generation = EXCLUDED.generation, \
                 rotated_at = EXCLUDED.rotated_at, ip = EXCLUDED.ip, \
                 user_agent = EXCLUDED.user_agent, dpop_jkt = EXCLUDED.dpop_jkt"
            ),
            load: format!("SELECT {COLUMNS} FROM {s} WHERE id = $1"),
            revoke: notify(&format!(
                "WITH gone AS (DELETE FROM {s} WHERE id = $1 RETURNING id)"
            )),
            revoke_others: notify(&format!(
                "WITH gone AS (DELETE FROM {s} WHERE user_id = $1 AND id <> $2 RETURNING id)"
            )),
            list: format!(
                "SELECT {COLUMNS} FROM {s} WHERE user_id = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            ),
            touch: format!(
                "UPDATE {s} SET last_accessed = GREATEST(last_accessed, $2) WHERE id = $1"
            ),
            rotate: format!(
                "UPDATE {s} SET generation = $3, rotated_at = $4 \
                 WHERE id = $1 AND generation = $2"
            ),
            delete_expired: format!(
                "DELETE FROM {s} WHERE id IN (SELECT id FROM {s} WHERE expires_at <= $1 \
                 LIMIT {CLEAN_BATCH} FOR UPDATE SKIP LOCKED)"
            ),
            record_proof: format!(
                "INSERT INTO {r} (id, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at \
                 WHERE {r}.expires_at <= $3"
            ),
            delete_expired_proofs: format!("DELETE FROM {r} WHERE expires_at <= $1"),
            trim_log: format!(
                "DELETE FROM {l} WHERE at < now() - $1::bigint * interval '1 second'"
            ),
            replay: format!("SELECT id, session_id FROM {l} WHERE id > $1 ORDER BY id"),
            log_state: format!(
                "SELECT (SELECT since FROM {m}), \
                 (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END \
                  FROM \"{schema}\".\"{prefix}revocations_id_seq\"), \
                 (SELECT session_id FROM {l} WHERE id = $1)"
            ),
            record_loss: format!(
                "INSERT INTO {m} (since) VALUES (ceil(extract(epoch FROM clock_timestamp()))) \
                 ON CONFLICT (one) DO UPDATE SET since = GREATEST({m}.since, EXCLUDED.since) \
                 RETURNING since"
            ),
            listen: format!("LISTEN \"{channel}\""),
            feed_name: format!("{schema}_{prefix}feed"),
            store_name: format!("{schema}_{prefix}store"),
        })
    }
}

/// Applies the migrations not applied yet, in one transaction under an advisory lock, so
/// that instances starting at once apply each exactly once.
pub(crate) async fn migrate(client: &mut Client, sql: &Statements) -> Result<(), BackendError> {
    let tx = client.transaction().await.map_err(BackendError::new)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&sql.lock_key])
        .await
        .map_err(BackendError::new)?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, \
         applied_at timestamptz NOT NULL DEFAULT now())",
        sql.migrations_table
    ))
    .await
    .map_err(BackendError::new)?;
    let applied: i32 = tx
        .query_one(
            &format!(
                "SELECT COALESCE(MAX(version), 0) FROM {}",
                sql.migrations_table
            ),
            &[],
        )
        .await
        .map_err(BackendError::new)?
        .get(0);
    for (version, migration) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
        tx.batch_execute(&(sql.expand)(migration))
            .await
            .map_err(BackendError::new)?;
        tx.execute(
            &format!("INSERT INTO {} (version) VALUES ($1)", sql.migrations_table),
            &[version],
        )
        .await
        .map_err(BackendError::new)?;
    }
    tx.commit().await.map_err(BackendError::new)
}

/// FNV-1a, for a stable advisory-lock key per schema and prefix.
fn fnv(text: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_reach_the_sql() {
        assert!(Statements::new("public", "tjs_").is_ok());
        assert!(Statements::new("public", "").is_ok());
        for bad in ["Public", "a\"; DROP TABLE x; --", "", "a b"] {
            assert!(Statements::new(bad, "tjs_").is_err(), "{bad}");
        }
        assert!(Statements::new("public", "x\"").is_err());
    }
}
