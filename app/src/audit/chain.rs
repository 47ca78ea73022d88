//! The audit log's chain: each event's `hash` is `HMAC-SHA256(chain key, previous hash ‖
//! canonical encoding of the event)`. Editing, deleting, inserting or reordering a row breaks
//! every link after it, which [`verify`] reports; without the chain key nobody can write a link
//! that verifies, so someone who can write to the database but does not hold the master key can
//! neither append nor rewrite events.
//!
//! Events written before the chain was keyed (by earlier releases) keep their plain links,
//! `SHA-256(previous ‖ encoding)`. One event, [`KEYED_START`], starts the keyed part: it is keyed
//! itself, names the plain head it follows, and so seals the plain part too. After it, a plain
//! link is a break.
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{
    ids::{ProjectId, Version},
    store::{Store, WritePool, with_pool},
    time::Millis,
};

/// The action of the event that starts the keyed chain.
pub const KEYED_START: &str = super::AuditAction::ChainKeyed.as_str();
/// The `instance_keys` purpose of the chain key's root.
pub const CHAIN_PURPOSE: &str = "audit-chain";
const CHAIN_KEY_LABEL: &[u8] = b"sealbox/audit-chain/v1";

/// The key of the audit chain's links, derived (HKDF-SHA256, a label of its own) from an
/// instance key that only the master key unwraps; zeroized when the last clone is dropped.
#[derive(Clone)]
pub struct ChainKey(std::sync::Arc<Zeroizing<[u8; 32]>>);

impl ChainKey {
    pub fn derive(root: &crate::crypto::DataKey) -> Self {
        let key = root.derive(CHAIN_KEY_LABEL);
        Self(std::sync::Arc::new(Zeroizing::new(*key.expose())))
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(***)")
    }
}

/// An event as it is hashed. Every field is encoded with a presence tag and a length, so no two
/// different events encode alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical<'a> {
    pub id: i64,
    pub at: Millis,
    pub actor: &'a str,
    pub action: &'a str,
    pub project_id: Option<ProjectId>,
    pub project_slug: Option<&'a str>,
    pub secret_key: Option<&'a str>,
    pub version: Option<Version>,
    pub ip: Option<&'a str>,
    pub details: Option<&'a str>,
    /// Encoded only when present, so that the links of events written before environments
    /// existed (which have none) verify as they were made.
    pub environment: Option<&'a str>,
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
        for number in [Some(self.id), Some(self.at.0)] {
            field(&mut out, number.map(i64::to_be_bytes).as_ref().map(|b| &b[..]));
        }
        field(&mut out, Some(self.actor.as_bytes()));
        field(&mut out, Some(self.action.as_bytes()));
        field(&mut out, self.project_id.map(|id| id.0.to_be_bytes()).as_ref().map(|b| &b[..]));
        field(&mut out, self.project_slug.map(str::as_bytes));
        field(&mut out, self.secret_key.map(str::as_bytes));
        field(
            &mut out,
            self.version.map(|version| version.0.to_be_bytes()).as_ref().map(|b| &b[..]),
        );
        field(&mut out, self.ip.map(str::as_bytes));
        field(&mut out, self.details.map(str::as_bytes));
        if let Some(environment) = self.environment {
            // After the ten fields, with a tag of its own: no event without it encodes alike.
            out.push(2);
            field(&mut out, Some(environment.as_bytes()));
        }
        out
    }
}

/// The link of `event` following the event whose hash is `previous` (none for the first):
/// keyed with `key`, or a plain hash for the events from before the keyed chain.
pub fn link(key: Option<&ChainKey>, previous: Option<&[u8]>, event: &Canonical<'_>) -> [u8; 32] {
    match key {
        Some(key) => {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0[..])
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
            mac.update(previous.unwrap_or(&[]));
            mac.update(&event.encode());
            mac.finalize().into_bytes().into()
        }
        None => {
            let mut hasher = Sha256::new();
            hasher.update(previous.unwrap_or(&[]));
            hasher.update(event.encode());
            hasher.finalize().into()
        }
    }
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
    at: Millis,
    actor: String,
    action: String,
    project_id: Option<ProjectId>,
    project_slug: Option<String>,
    secret_key: Option<String>,
    version: Option<Version>,
    ip: Option<String>,
    details: Option<String>,
    environment: Option<String>,
    hash: Option<Vec<u8>>,
}

const PAGE: i64 = 5_000;

pub(super) const ROW_COLUMNS: &str = "id, at, actor, action, project_id, project_slug, secret_key, version, ip, details, \
     environment, hash";

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
            environment: self.environment.as_deref(),
        }
    }
}

/// Whether the keyed part of the chain has begun (its [`KEYED_START`] event exists).
/// Whether the chain is keyed: its key or its [`KEYED_START`] event exists.
async fn keyed_started(store: &Store) -> Result<bool, sqlx::Error> {
    Ok(with_pool!(store, |pool| {
        sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT count(*) FROM audit_events WHERE action = $1) \
             + (SELECT count(*) FROM instance_keys WHERE purpose = $2)",
        )
        .bind(KEYED_START)
        .bind(CHAIN_PURPOSE)
        .fetch_one(pool)
        .await?
    }) > 0)
}

/// Gives a plain hash to the events written before the chain existed (a database created by an
/// earlier release), in id order. Runs at start-up, only while the chain is not keyed yet:
/// after that an event without a hash is a break that [`verify`] reports, not something to seal.
pub async fn chain_unhashed(store: &Store) -> Result<(), sqlx::Error> {
    if keyed_started(store).await? {
        return Ok(());
    }
    with_pool!(store, |pool| {
        let mut tx = pool.begin_write().await?;
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
            let hash = link(None, previous.flatten().as_deref(), &row.canonical());
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How many events the chain has and its last link: what `sealbox audit head` prints and the
/// server logs, to be kept elsewhere and given to `sealbox audit verify --expect` later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub events: i64,
    pub link: Vec<u8>,
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.events, hex(&self.link))
    }
}

impl std::str::FromStr for Head {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wrong = || format!("expected COUNT:MAC as `sealbox audit head` prints it, not {text}");
        let (count, mac) = text.trim().split_once(':').ok_or_else(wrong)?;
        let events = count.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(wrong)?;
        if mac.len() != 64 || !mac.is_ascii() {
            return Err(wrong());
        }
        let link = (0..mac.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&mac[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| wrong())?;
        Ok(Self { events, link })
    }
}

/// The chain's head as stored now (not verified: [`verify`] checks it).
pub async fn head(store: &Store) -> Result<Option<Head>, sqlx::Error> {
    let row: (i64, Option<Vec<u8>>) = with_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM audit_events), \
             (SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1)",
        )
        .fetch_one(pool)
        .await?
    });
    Ok(match row {
        (events, Some(link)) if events > 0 => Some(Head { events, link }),
        _ => None,
    })
}

/// Walks the whole chain in id order, a page at a time, checking every link with `key` (the
/// plain part before [`KEYED_START`] with the plain hash). Reads only. With `expect` (a [`Head`]
/// noted earlier), also fails when the chain is shorter than it was then or its event at that
/// position has another link: events removed from the end leave no break in what remains.
pub async fn verify(
    store: &Store,
    key: &ChainKey,
    expect: Option<&Head>,
) -> Result<Verification, sqlx::Error> {
    let mut previous: Option<Vec<u8>> = None;
    let mut after = i64::MIN;
    let mut events = 0_i64;
    let mut keyed = false;
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
            if row.action == KEYED_START {
                if keyed {
                    broken = Some((row.id, "the keyed chain starts a second time".to_string()));
                    break 'pages;
                }
                keyed = true;
            }
            let expected = link(keyed.then_some(key), previous.as_deref(), &row.canonical());
            match &row.hash {
                Some(hash) if hash[..] == expected[..] => previous = Some(hash.clone()),
                Some(_) => {
                    broken = Some((
                        row.id,
                        "its link does not follow from the event before it (the event was \
                         changed, one before it was changed, removed or inserted, or it was \
                         written without the chain key)"
                            .to_string(),
                    ));
                    break 'pages;
                }
                None => {
                    broken = Some((row.id, "it has no link".to_string()));
                    break 'pages;
                }
            }
            if let Some(expect) = expect
                && events == expect.events
                && row.hash.as_deref() != Some(&expect.link[..])
            {
                broken = Some((
                    row.id,
                    format!("it is not event {} of the chain noted as {expect}", expect.events),
                ));
                break 'pages;
            }
        }
    }
    if broken.is_none() && !keyed {
        broken = Some((
            after.max(0),
            "the chain has no keyed part: it was not started by this release (start the server \
             once) or was replaced by someone without the chain key"
                .to_string(),
        ));
    }
    if broken.is_none()
        && let Some(expect) = expect
        && events < expect.events
    {
        broken = Some((
            after.max(0),
            format!(
                "the chain has {events} events, fewer than the {} noted as {expect}: events \
                 were removed from its end",
                expect.events
            ),
        ));
    }
    Ok(Verification { events, broken })
}

/// Records a verification's result, which the Audit page shows.
pub async fn record_verification(
    store: &Store,
    verification: &Verification,
) -> Result<(), sqlx::Error> {
    with_pool!(store, |pool| {
        sqlx::query(
            "INSERT INTO audit_verifications (at, events, intact, first_broken, message) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Millis::now())
        .bind(verification.events)
        .bind(verification.broken.is_none())
        .bind(verification.broken.as_ref().map(|(id, _)| *id))
        .bind(verification.message())
        .execute(pool)
        .await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, details: Option<&str>) -> Canonical<'_> {
        Canonical {
            id,
            at: Millis(1_700_000_000_000),
            actor: "alice@example.com",
            action: "secret.updated",
            project_id: Some(ProjectId(2)),
            project_slug: Some("bot"),
            secret_key: Some("API_KEY"),
            version: Some(Version(3)),
            ip: None,
            details,
            environment: None,
        }
    }

    #[test]
    fn a_head_reads_back_as_written_and_bad_ones_are_refused() {
        let head = Head { events: 42, link: vec![0xab; 32] };
        assert_eq!(head.to_string().parse::<Head>(), Ok(head));
        let wide = format!("42:{}", "é".repeat(32));
        for bad in ["42", "0:ab", "x:abab", "42:zz", &format!("42:{}", "ab".repeat(31)), &wide] {
            assert!(bad.parse::<Head>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_link() {
        let key = ChainKey::derive(&crate::crypto::DataKey::generate());
        let base = link(Some(&key), None, &event(1, None));
        assert_ne!(base, link(Some(&key), Some(&[0; 32]), &event(1, None)));
        assert_ne!(base, link(Some(&key), None, &event(2, None)));
        assert_ne!(base, link(Some(&key), None, &event(1, Some(""))), "empty and absent differ");
        let mut in_production = event(1, None);
        in_production.environment = Some("production");
        assert_ne!(base, link(Some(&key), None, &in_production), "the environment counts");
        let mut in_staging = in_production.clone();
        in_staging.environment = Some("staging");
        assert_ne!(link(Some(&key), None, &in_production), link(Some(&key), None, &in_staging));
        assert_ne!(base, link(None, None, &event(1, None)), "keyed and plain differ");
        let other = ChainKey::derive(&crate::crypto::DataKey::generate());
        assert_ne!(base, link(Some(&other), None, &event(1, None)), "another key, another link");
        let mut moved = event(1, None);
        moved.project_slug = None;
        moved.secret_key = Some("bot");
        let mut original = event(1, None);
        original.secret_key = None;
        assert_ne!(
            link(Some(&key), None, &moved),
            link(Some(&key), None, &original),
            "a value cannot move between fields"
        );
    }
}
