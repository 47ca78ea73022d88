//! The audit log's hash chain: `hash = SHA-256(previous hash ‖ canonical encoding of the event)`.
//! Editing, deleting, inserting or reordering a row breaks every link after it, which
//! [`verify`] reports.
use sha2::{Digest, Sha256};

use crate::store::{Store, now_millis, with_pool};

/// An event as it is hashed. Every field is encoded with a presence tag and a length, so no two
/// different events encode alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical<'a> {
    pub id: i64,
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub project_id: Option<i64>,
    pub project_slug: Option<&'a str>,
    pub secret_key: Option<&'a str>,
    pub version: Option<i64>,
    pub ip: Option<&'a str>,
    pub details: Option<&'a str>,
}

/// Domain separation: a hash made for anything else never matches.
const LABEL: &[u8] = b"sealbox audit event v1";

impl Canonical<'_> {
    fn encode(&self) -> Vec<u8> {
        fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
            match value {
                None => out.push(0),
                Some(bytes) => {
                    out.push(1);
                    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
                    out.extend_from_slice(bytes);
                }
            }
        }
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(LABEL);
        for number in [Some(self.id), Some(self.at)] {
            field(&mut out, number.map(i64::to_be_bytes).as_ref().map(|b| &b[..]));
        }
        field(&mut out, Some(self.actor.as_bytes()));
        field(&mut out, Some(self.action.as_bytes()));
        field(&mut out, self.project_id.map(i64::to_be_bytes).as_ref().map(|b| &b[..]));
        field(&mut out, self.project_slug.map(str::as_bytes));
        field(&mut out, self.secret_key.map(str::as_bytes));
        field(&mut out, self.version.map(i64::to_be_bytes).as_ref().map(|b| &b[..]));
        field(&mut out, self.ip.map(str::as_bytes));
        field(&mut out, self.details.map(str::as_bytes));
        out
    }
}

/// The hash of `event` following the event whose hash is `previous` (none for the first).
pub fn link(previous: Option<&[u8]>, event: &Canonical<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous.unwrap_or(&[]));
    hasher.update(event.encode());
    hasher.finalize().into()
}

/// The statement that serializes appends on this connection's database, if it needs one.
pub fn lock_statement<C: ChainLock + ?Sized>(_connection: &C) -> Option<&'static str> {
    C::LOCK
}

/// How a backend serializes appends to the chain.
pub trait ChainLock {
    const LOCK: Option<&'static str>;
}

impl ChainLock for sqlx::SqliteConnection {
    // SQLite has one writer: the insert's write lock serializes appends.
    const LOCK: Option<&'static str> = None;
}

impl ChainLock for sqlx::PgConnection {
    // Held until the transaction ends; the key is an arbitrary constant for "audit chain".
    const LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock(7301190815)");
}

/// What walking the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub events: i64,
    /// The id of the first event whose hash does not follow from the one before, and why.
    pub broken: Option<(i64, String)>,
}

impl Verification {
    pub fn message(&self) -> String {
        match &self.broken {
            None => format!("Audit chain intact: {} events", self.events),
            Some((id, why)) => format!(
                "Audit chain broken at event {id}: {why}. Events from there on cannot be trusted."
            ),
        }
    }
}

/// An event as the database stored it, with its hash if it has one yet.
#[derive(sqlx::FromRow)]
pub(super) struct StoredEvent {
    pub(super) id: i64,
    at: i64,
    actor: String,
    action: String,
    project_id: Option<i64>,
    project_slug: Option<String>,
    secret_key: Option<String>,
    version: Option<i64>,
    ip: Option<String>,
    details: Option<String>,
    hash: Option<Vec<u8>>,
}

const PAGE: i64 = 5_000;

pub(super) const ROW_COLUMNS: &str =
    "id, at, actor, action, project_id, project_slug, secret_key, version, ip, details, hash";

impl StoredEvent {
    /// What its hash covers.
    pub(super) fn canonical(&self) -> Canonical<'_> {
        Canonical {
            id: self.id,
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            project_id: self.project_id,
            project_slug: self.project_slug.as_deref(),
            secret_key: self.secret_key.as_deref(),
            version: self.version,
            ip: self.ip.as_deref(),
            details: self.details.as_deref(),
        }
    }
}

/// Gives a hash to the events written before the chain existed (a database created by an earlier
/// release), in id order. Runs at start-up; with nothing to do it is one query.
pub async fn chain_unhashed(store: &Store) -> Result<(), sqlx::Error> {
    with_pool!(store, |pool| {
        let mut tx = pool.begin().await?;
        if let Some(lock) = lock_statement(&*tx) {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        let rows: Vec<StoredEvent> = sqlx::query_as(&format!(
            "SELECT {ROW_COLUMNS} FROM audit_events WHERE hash IS NULL ORDER BY id"
        ))
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let previous: Option<Option<Vec<u8>>> = sqlx::query_scalar(
                "SELECT hash FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(row.id)
            .fetch_optional(&mut *tx)
            .await?;
            let hash = link(previous.flatten().as_deref(), &row.canonical());
            sqlx::query("UPDATE audit_events SET hash = $1 WHERE id = $2")
                .bind(&hash[..])
                .bind(row.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Walks the whole chain in id order, a page at a time, and records the result.
pub async fn verify(store: &Store) -> Result<Verification, sqlx::Error> {
    let mut previous: Option<Vec<u8>> = None;
    let mut after = i64::MIN;
    let mut events = 0_i64;
    let mut broken = None;
    'pages: loop {
        let rows: Vec<StoredEvent> = with_pool!(store, |pool| {
            sqlx::query_as(&format!(
                "SELECT {ROW_COLUMNS} FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .bind(after)
            .bind(PAGE)
            .fetch_all(pool)
            .await?
        });
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in &rows {
            events += 1;
            let expected = link(previous.as_deref(), &row.canonical());
            match &row.hash {
                Some(hash) if hash[..] == expected[..] => previous = Some(hash.clone()),
                Some(_) => {
                    broken = Some((
                        row.id,
                        "its hash does not follow from the event before it (the event was \
                         changed, or one before it was changed, removed or inserted)"
                            .to_string(),
                    ));
                    break 'pages;
                }
                None => {
                    broken = Some((row.id, "it has no hash".to_string()));
                    break 'pages;
                }
            }
        }
    }
    let verification = Verification { events, broken };
    with_pool!(store, |pool| {
        sqlx::query(
            "INSERT INTO audit_verifications (at, events, intact, first_broken, message) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(now_millis())
        .bind(verification.events)
        .bind(verification.broken.is_none())
        .bind(verification.broken.as_ref().map(|(id, _)| *id))
        .bind(verification.message())
        .execute(pool)
        .await?;
    });
    Ok(verification)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, details: Option<&str>) -> Canonical<'_> {
        Canonical {
            id,
            at: 1_700_000_000_000,
            actor: "alice@example.com",
            action: "secret.updated",
            project_id: Some(2),
            project_slug: Some("bot"),
            secret_key: Some("API_KEY"),
            version: Some(3),
            ip: None,
            details,
        }
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_link() {
        let base = link(None, &event(1, None));
        assert_ne!(base, link(Some(&[0; 32]), &event(1, None)));
        assert_ne!(base, link(None, &event(2, None)));
        assert_ne!(base, link(None, &event(1, Some(""))), "empty and absent differ");
        let mut moved = event(1, None);
        moved.project_slug = None;
        moved.secret_key = Some("bot");
        let mut original = event(1, None);
        original.secret_key = None;
        assert_ne!(link(None, &moved), link(None, &original), "a value cannot move between fields");
    }
}
