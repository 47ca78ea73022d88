//! Data-key rotation (`sealbox admin rotate-data-keys`): each project, and the team scope, gets a
//! fresh data key, every stored version is re-encrypted under it in batches while servers keep
//! serving, and the old data key is deleted once no version needs it.
//!
//! How it stays correct with servers writing and reading throughout:
//! 1. **Start**: the new key is inserted as the next generation. From then on every write seals
//!    with it, because a write reads the newest generation inside its transaction (see
//!    `data_key_in!` in the secrets service).
//! 2. **Batches**: versions of an older generation are read without a lock, opened, sealed again
//!    under the new key with the same associated data (project, key, version), and written back
//!    only where they still name the old generation. Versions never change otherwise, so a
//!    version deleted or resealed meanwhile is simply skipped.
//! 3. **Finish**: one transaction deletes the older keys first (which takes SQLite's write lock,
//!    or on PostgreSQL the audit chain's lock that every write holds) and then counts versions
//!    that still need them. A write that sealed with an old key before the new one existed has
//!    committed by then and is counted: the transaction rolls back and another batch runs.
//!
//! One run at a time: a run holds the `rotate-data-keys` lease (renewed after every batch; a
//! crashed run's lease runs out after [`LEASE`]), so two runs never retire each other's keys. An
//! interrupted rotation (a crash, Ctrl-C) leaves two generations; running the command again
//! resumes it. Fingerprints are keyed by the instance's fingerprint key, not by data keys, so
//! they do not change.
use crate::{
    audit::{Actor, AuditAction, AuditLog, Event},
    crypto::{CryptoError, DataKey, Sealed, SecretAddress},
    keyring::{Keyring, KeyringError, project_key_aad},
    store::{Store, WritePool, now_millis, with_pool},
};

/// Versions re-encrypted per transaction unless the caller says otherwise.
pub const DEFAULT_BATCH: usize = 500;
/// The largest batch accepted: a transaction holds the write lock while it writes its batch.
pub const MAX_BATCH: usize = 10_000;
/// A batch also stops at this many bytes of sealed values (a value may be 64 KiB), so that no
/// transaction holds the write lock anywhere near other writers' 5 s busy timeout.
const MAX_BATCH_BYTES: usize = 4 << 20;
/// How long a run's lease lasts unless renewed (after every batch).
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(60);
const LEASE_NAME: &str = "rotate-data-keys";

/// What was rotated: one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRotation {
    /// The project's slug, or `None` for the team scope.
    pub slug: Option<String>,
    /// The generation of the data key that now seals everything, and the ones deleted.
    pub generation: i64,
    pub retired: Vec<i64>,
    /// Versions sealed again under the new key.
    pub resealed: u64,
    /// Whether this finished a rotation that an earlier run had started.
    pub resumed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("there is no project at /projects/{0}")]
    UnknownProject(String),
    #[error("the batch size must be between 1 and {MAX_BATCH} (it is {0})")]
    BatchSize(usize),
    #[error(
        "another rotate-data-keys is running (its lease ends at most {} s after its last batch); \
         wait for it to finish",
        LEASE.as_secs()
    )]
    Busy,
    #[error(
        "another run took over this run's lease (was this one paused for over {} s?); run it again",
        LEASE.as_secs()
    )]
    LeaseLost,
    #[error("keyring: {0}")]
    Keyring(#[from] KeyringError),
    #[error("{scope}: the stored value of {key} v{version} does not decrypt: {source}")]
    Open { scope: String, key: String, version: i64, source: CryptoError },
    #[error("{scope}: versions are sealed with data key generation {generation}, which is missing")]
    MissingKey { scope: String, generation: i64 },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The scopes to rotate: every project and the team scope, one project, or the team scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    All,
    Project(String),
    Team,
}

/// Rotates the data key of each scope named by `which`, one scope after the other, holding the
/// one-run-at-a-time lease throughout.
pub async fn rotate_data_keys(
    store: &Store,
    audit: &AuditLog,
    keyring: &Keyring,
    actor: &Actor,
    which: &Which,
    batch: usize,
) -> Result<Vec<ScopeRotation>, RotationError> {
    if !(1..=MAX_BATCH).contains(&batch) {
        return Err(RotationError::BatchSize(batch));
    }
    let lease = Lease::take(store).await?;
    let rotated = rotate_scopes(store, audit, keyring, actor, which, batch, &lease).await;
    let released = lease.release().await;
    let rotated = rotated?;
    released?;
    Ok(rotated)
}

async fn rotate_scopes(
    store: &Store,
    audit: &AuditLog,
    keyring: &Keyring,
    actor: &Actor,
    which: &Which,
    batch: usize,
    lease: &Lease<'_>,
) -> Result<Vec<ScopeRotation>, RotationError> {
    let scopes: Vec<(i64, String, String)> = with_pool!(store, |pool| {
        sqlx::query_as("SELECT id, kind, slug FROM projects ORDER BY kind DESC, slug")
            .fetch_all(pool)
            .await?
    });
    let scopes: Vec<(i64, Option<String>)> = scopes
        .into_iter()
        .filter(|(_, kind, slug)| match which {
            Which::All => true,
            Which::Project(wanted) => kind == "project" && slug == wanted,
            Which::Team => kind == "team",
        })
        .map(|(id, kind, slug)| (id, (kind == "project").then_some(slug)))
        .collect();
    if let (Which::Project(wanted), true) = (which, scopes.is_empty()) {
        return Err(RotationError::UnknownProject(wanted.clone()));
    }
    let mut done = Vec::with_capacity(scopes.len());
    for (project_id, slug) in scopes {
        let rotation =
            Rotation { store, audit, keyring, actor, lease, project_id, slug: slug.as_deref() };
        match rotation.run(batch).await {
            Ok(Some(report)) => done.push(report),
            Ok(None) => {}
            // Deleted while this ran: nothing of it is left to rotate.
            Err(_) if !rotation.exists().await? => {}
            Err(error) => return Err(error),
        }
    }
    Ok(done)
}

/// The one-run-at-a-time lease, held under a random holder id.
struct Lease<'a> {
    store: &'a Store,
    holder: String,
}

impl<'a> Lease<'a> {
    async fn take(store: &'a Store) -> Result<Self, RotationError> {
        let mut id = [0u8; 16];
        rand::fill(&mut id);
        let lease = Self { store, holder: id.iter().map(|b| format!("{b:02x}")).collect() };
        let now = now_millis();
        let taken = with_pool!(store, |pool| {
            sqlx::query(
                "INSERT INTO maintenance_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at WHERE maintenance_leases.expires_at < $4",
            )
            .bind(LEASE_NAME)
            .bind(&lease.holder)
            .bind(now + lease_millis())
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if taken == 1 { Ok(lease) } else { Err(RotationError::Busy) }
    }

    /// Extends the lease; fails if another run took it over meanwhile.
    async fn renew(&self) -> Result<(), RotationError> {
        let renewed = with_pool!(self.store, |pool| {
            sqlx::query(
                "UPDATE maintenance_leases SET expires_at = $1 WHERE name = $2 AND holder = $3",
            )
            .bind(now_millis() + lease_millis())
            .bind(LEASE_NAME)
            .bind(&self.holder)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if renewed == 1 { Ok(()) } else { Err(RotationError::LeaseLost) }
    }

    async fn release(self) -> Result<(), RotationError> {
        with_pool!(self.store, |pool| {
            sqlx::query("DELETE FROM maintenance_leases WHERE name = $1 AND holder = $2")
                .bind(LEASE_NAME)
                .bind(&self.holder)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

fn lease_millis() -> i64 {
    i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX)
}

struct Rotation<'a> {
    store: &'a Store,
    audit: &'a AuditLog,
    keyring: &'a Keyring,
    actor: &'a Actor,
    lease: &'a Lease<'a>,
    project_id: i64,
    slug: Option<&'a str>,
}

/// A version sealed under an older key: (secret id, version, key generation, secret key, sealed).
type OldVersion = (i64, i64, i64, String, Vec<u8>);

impl Rotation<'_> {
    /// `None` when the scope has no data key yet (a team scope that was never used).
    async fn run(&self, batch: usize) -> Result<Option<ScopeRotation>, RotationError> {
        let Some((generation, resumed)) = self.start().await? else {
            return Ok(None);
        };
        let mut resealed = 0;
        loop {
            while let Some(moved) = self.reseal_batch(generation, batch).await? {
                resealed += moved;
                self.lease.renew().await?;
            }
            if let Some(retired) = self.finish(generation, resealed).await? {
                return Ok(Some(ScopeRotation {
                    slug: self.slug.map(str::to_string),
                    generation,
                    retired,
                    resealed,
                    resumed,
                }));
            }
        }
    }

    /// The generation being rotated to: a new one, or the newest of an interrupted rotation
    /// (more than one generation stored), with `true` for resumed.
    async fn start(&self) -> Result<Option<(i64, bool)>, RotationError> {
        let generations: Vec<i64> = with_pool!(self.store, |pool| {
            sqlx::query_scalar(
                "SELECT generation FROM project_keys WHERE project_id = $1 \
                 ORDER BY generation DESC",
            )
            .bind(self.project_id)
            .fetch_all(pool)
            .await?
        });
        let newest = match generations.as_slice() {
            [] => return Ok(None),
            [newest, _, ..] => return Ok(Some((*newest, true))),
            [newest] => *newest,
        };
        let next = newest + 1;
        let wrapped =
            self.keyring.wrap_key(&DataKey::generate(), &project_key_aad(self.project_id, next));
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO project_keys \
                 (project_id, generation, master_key_id, wrapped_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(self.project_id)
            .bind(next)
            .bind(self.keyring.current_id())
            .bind(wrapped)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
            let details = format!("data key generation {newest} → {next}");
            self.audit
                .record(&mut *tx, self.event(AuditAction::DataKeyRotationStarted, details))
                .await?;
            tx.commit().await?;
        });
        Ok(Some((next, false)))
    }

    /// Whether the scope still exists (a project may be deleted while this runs).
    async fn exists(&self) -> Result<bool, RotationError> {
        let found: Option<i64> = with_pool!(self.store, |pool| {
            sqlx::query_scalar("SELECT id FROM projects WHERE id = $1")
                .bind(self.project_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }

    /// Reseals versions of older generations under `generation`, at most `batch` of them and
    /// [`MAX_BATCH_BYTES`]: how many moved, or `None` when there were none left to move.
    async fn reseal_batch(
        &self,
        generation: i64,
        batch: usize,
    ) -> Result<Option<u64>, RotationError> {
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        let old: Vec<OldVersion> = with_pool!(self.store, |pool| {
            sqlx::query_as(
                "SELECT v.secret_id, v.version, v.key_generation, s.key, v.sealed_value \
                 FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
                 WHERE s.project_id = $1 AND v.key_generation < $2 \
                 ORDER BY v.secret_id, v.version LIMIT $3",
            )
            .bind(self.project_id)
            .bind(generation)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        if old.is_empty() {
            return Ok(None);
        }
        let mut bytes = 0;
        let fit = old
            .iter()
            .take_while(|version| {
                bytes += version.4.len();
                bytes <= MAX_BATCH_BYTES
            })
            .count()
            .max(1);
        let new_key = self.key(generation).await?;
        let mut old_keys: Vec<(i64, DataKey)> = Vec::new();
        let mut resealed = Vec::with_capacity(fit);
        for (secret_id, version, old_generation, key, sealed) in &old[..fit] {
            if !old_keys.iter().any(|(held, _)| held == old_generation) {
                old_keys.push((*old_generation, self.key(*old_generation).await?));
            }
            let old_key = old_keys
                .iter()
                .find(|(held, _)| held == old_generation)
                .map(|(_, old_key)| old_key)
                .ok_or_else(|| self.missing(*old_generation))?;
            let at = SecretAddress::new(self.project_id, key, *version);
            let opened = Sealed::from_bytes(sealed)
                .and_then(|sealed| old_key.open_secret(&at, &sealed))
                .map_err(|source| RotationError::Open {
                    scope: self.scope(),
                    key: key.clone(),
                    version: *version,
                    source,
                })?;
            let sealed = new_key.seal_secret(&at, &opened).to_bytes();
            resealed.push((*secret_id, *version, *old_generation, sealed));
        }
        let moved: Result<u64, sqlx::Error> = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut moved = 0;
            for (secret_id, version, old_generation, sealed) in &resealed {
                moved += sqlx::query(
                    "UPDATE secret_versions SET sealed_value = $1, key_generation = $2 \
                     WHERE secret_id = $3 AND version = $4 AND key_generation = $5",
                )
                .bind(sealed)
                .bind(generation)
                .bind(secret_id)
                .bind(version)
                .bind(old_generation)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            Ok(moved)
        });
        // Fewer than read when some were deleted meanwhile; the next read will not find those.
        Ok(Some(moved?))
    }

    /// Deletes the older keys if no version needs them any more, and records the rotation;
    /// `None` (nothing changed) when a version sealed with an old key is still there.
    async fn finish(
        &self,
        generation: i64,
        resealed: u64,
    ) -> Result<Option<Vec<i64>>, RotationError> {
        let finished: Result<Option<Vec<i64>>, sqlx::Error> = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut retired: Vec<i64> = sqlx::query_scalar(
                "DELETE FROM project_keys WHERE project_id = $1 AND generation < $2 \
                 RETURNING generation",
            )
            .bind(self.project_id)
            .bind(generation)
            .fetch_all(&mut *tx)
            .await?;
            // A write that began before the new key existed and committed after the last batch
            // left a version sealed with a key just deleted: undo, and reseal it first.
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
                 WHERE s.project_id = $1 AND v.key_generation < $2",
            )
            .bind(self.project_id)
            .bind(generation)
            .fetch_one(&mut *tx)
            .await?;
            if left > 0 {
                tx.rollback().await?;
                tracing::info!(
                    scope = %self.scope(),
                    left,
                    "versions sealed with the old data key were written meanwhile; re-encrypting \
                     them before the old key goes"
                );
                Ok(None)
            } else {
                retired.sort_unstable();
                let details = format!(
                    "data key generation {generation}; re-encrypted {resealed} versions; deleted \
                     generation {}",
                    generations(&retired)
                );
                self.audit
                    .record(&mut *tx, self.event(AuditAction::DataKeyRotated, details))
                    .await?;
                tx.commit().await?;
                Ok(Some(retired))
            }
        });
        Ok(finished?)
    }

    async fn key(&self, generation: i64) -> Result<DataKey, RotationError> {
        let row: Option<(String, Vec<u8>)> = with_pool!(self.store, |pool| {
            sqlx::query_as(
                "SELECT master_key_id, wrapped_key FROM project_keys \
                 WHERE project_id = $1 AND generation = $2",
            )
            .bind(self.project_id)
            .bind(generation)
            .fetch_optional(pool)
            .await?
        });
        let (master_key_id, wrapped) = row.ok_or_else(|| self.missing(generation))?;
        let aad = project_key_aad(self.project_id, generation);
        Ok(self.keyring.unwrap_key(&master_key_id, &wrapped, &aad)?)
    }

    /// What errors name the scope by.
    fn scope(&self) -> String {
        self.slug.map_or_else(|| "team secrets".to_string(), |slug| format!("project {slug}"))
    }

    fn missing(&self, generation: i64) -> RotationError {
        RotationError::MissingKey { scope: self.scope(), generation }
    }

    fn event(&self, action: AuditAction, details: String) -> Event<'_> {
        Event {
            actor: self.actor,
            action,
            project_id: Some(self.project_id),
            project_slug: self.slug,
            secret_key: None,
            version: None,
            details: Some(details),
        }
    }
}

/// "1" or "1, 2", or "none" (when another run deleted them first).
pub fn generations(retired: &[i64]) -> String {
    if retired.is_empty() {
        "none".to_string()
    } else {
        retired.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
    }
}
