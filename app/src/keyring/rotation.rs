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
//! An interrupted rotation (a crash, Ctrl-C) leaves two generations; running the command again
//! resumes it. Fingerprints are keyed by the instance's fingerprint key, not by data keys, so
//! they do not change.
use crate::{
    audit::{Actor, Event, record},
    crypto::{self, CryptoError, DataKey, Sealed},
    keyring::{Keyring, KeyringError, project_key_aad},
    store::{Store, now_millis, with_pool},
};

/// Versions re-encrypted per transaction unless the caller says otherwise.
pub const DEFAULT_BATCH: usize = 500;
/// The largest batch accepted: a transaction holds the write lock while it writes its batch.
pub const MAX_BATCH: usize = 10_000;

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
    #[error("keyring: {0}")]
    Keyring(#[from] KeyringError),
    #[error("the stored value of {key} v{version} does not decrypt: {source}")]
    Open { key: String, version: i64, source: CryptoError },
    #[error("the data key of generation {0} is missing, but stored versions name it")]
    MissingKey(i64),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The scopes to rotate: one project, or every project and the team scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    All,
    Project(String),
}

/// Rotates the data key of each scope named by `which`, one scope after the other.
pub async fn rotate_data_keys(
    store: &Store,
    keyring: &Keyring,
    actor: &Actor,
    which: &Which,
    batch: usize,
) -> Result<Vec<ScopeRotation>, RotationError> {
    if !(1..=MAX_BATCH).contains(&batch) {
        return Err(RotationError::BatchSize(batch));
    }
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
        })
        .map(|(id, kind, slug)| (id, (kind == "project").then_some(slug)))
        .collect();
    if let (Which::Project(wanted), true) = (which, scopes.is_empty()) {
        return Err(RotationError::UnknownProject(wanted.clone()));
    }
    let mut done = Vec::with_capacity(scopes.len());
    for (project_id, slug) in scopes {
        let rotation = Rotation { store, keyring, actor, project_id, slug: slug.as_deref() };
        if let Some(report) = rotation.run(batch).await? {
            done.push(report);
        }
    }
    if let crate::store::Db::Sqlite(pool) = store.db() {
        // Deleted pages are zeroed (secure_delete); empty the WAL too, so the old wrapped keys
        // and ciphertexts do not linger in its frames. Best effort: a reader keeps it busy.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await?;
    }
    Ok(done)
}

struct Rotation<'a> {
    store: &'a Store,
    keyring: &'a Keyring,
    actor: &'a Actor,
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
            }
            if let Some(retired) = self.finish(generation, resealed).await? {
                self.keyring.evict(self.project_id);
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
        loop {
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
                self.keyring.wrap(&DataKey::generate(), &project_key_aad(self.project_id, next));
            let started: Result<bool, sqlx::Error> = with_pool!(self.store, |pool| {
                let mut tx = pool.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO project_keys \
                     (project_id, generation, master_key_id, wrapped_key, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (project_id, generation) DO NOTHING",
                )
                .bind(self.project_id)
                .bind(next)
                .bind(self.keyring.current_id())
                .bind(wrapped)
                .bind(now_millis())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 1 {
                    let details = format!("data key generation {newest} → {next}");
                    record!(self.store, &mut *tx, self.event("data_key.rotation_started", details));
                    tx.commit().await?;
                }
                Ok(inserted == 1)
            });
            if started? {
                return Ok(Some((next, false)));
            }
            // Another rotation inserted it first: the next look resumes that one.
        }
    }

    /// Reseals up to `batch` versions of older generations under `generation`: how many moved,
    /// or `None` when there were none left to move.
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
                 WHERE s.project_id = $1 AND v.key_generation <> $2 \
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
        let new_key = self.key(generation).await?;
        let mut old_keys: Vec<(i64, DataKey)> = Vec::new();
        let mut resealed = Vec::with_capacity(old.len());
        for (secret_id, version, old_generation, key, sealed) in &old {
            if !old_keys.iter().any(|(held, _)| held == old_generation) {
                old_keys.push((*old_generation, self.key(*old_generation).await?));
            }
            let old_key = old_keys
                .iter()
                .find(|(held, _)| held == old_generation)
                .map(|(_, old_key)| old_key)
                .ok_or(RotationError::MissingKey(*old_generation))?;
            let aad = crypto::secret_aad(self.project_id, key, *version);
            let opened = Sealed::from_bytes(sealed)
                .and_then(|sealed| crypto::open(old_key.expose(), &sealed, &aad))
                .map_err(|source| RotationError::Open {
                    key: key.clone(),
                    version: *version,
                    source,
                })?;
            let sealed = crypto::seal(new_key.expose(), &opened, &aad).to_bytes();
            resealed.push((*secret_id, *version, *old_generation, sealed));
        }
        let moved: Result<u64, sqlx::Error> = with_pool!(self.store, |pool| {
            let mut tx = pool.begin().await?;
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
            let mut tx = pool.begin().await?;
            let retired: Vec<i64> = sqlx::query_scalar(
                "DELETE FROM project_keys WHERE project_id = $1 AND generation <> $2 \
                 RETURNING generation",
            )
            .bind(self.project_id)
            .bind(generation)
            .fetch_all(&mut *tx)
            .await?;
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
                 WHERE s.project_id = $1 AND v.key_generation <> $2",
            )
            .bind(self.project_id)
            .bind(generation)
            .fetch_one(&mut *tx)
            .await?;
            if left > 0 {
                tx.rollback().await?;
                Ok(None)
            } else {
                let mut retired = retired;
                retired.sort_unstable();
                let details = format!(
                    "data key generation {generation}; re-encrypted {resealed} versions; deleted \
                     generation {}",
                    retired.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
                );
                record!(self.store, &mut *tx, self.event("data_key.rotated", details));
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
        let (master_key_id, wrapped) = row.ok_or(RotationError::MissingKey(generation))?;
        let aad = project_key_aad(self.project_id, generation);
        Ok(self.keyring.unwrap(&master_key_id, &wrapped, &aad)?)
    }

    fn event(&self, action: &'static str, details: String) -> Event<'_> {
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
