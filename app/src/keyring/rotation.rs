//! Data-key rotation (`sealbox admin rotate-data-keys`): each project, and the team scope, gets a
//! fresh data key, every stored version is re-encrypted under it in batches while servers keep
//! serving, and the old data key is deleted once no version needs it.
//!
//! How it stays correct with servers writing and reading throughout:
//! 1. **Start**: the new key is inserted as the next generation. From then on every write seals
//!    with it, because a write reads the newest generation inside its transaction (see
//!    `Vault::current_data_key`).
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
    crypto::{Binding, CryptoError, DataKey, Sealed, SecretAddress},
    ids::{ProjectId, Version},
    keyring::{
        Keyring, KeyringError, project_key_aad,
        repo::{KeyRows, LeaseRow, OldVersion, WrappedKey},
    },
    store::{Store, WritePool, with_pool},
    time::Millis,
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
    Open { scope: String, key: String, version: Version, source: CryptoError },
    #[error("{scope}: versions are sealed with data key generation {generation}, which is missing")]
    MissingKey { scope: String, generation: i64 },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A repository statement failed: the error names it.
    #[error(transparent)]
    Repo(#[from] crate::store::RepoError),
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
    let scopes = with_pool!(store, |pool| pool.acquire().await?.scopes().await?);
    let scopes: Vec<(ProjectId, Option<String>)> = scopes
        .into_iter()
        .filter(|scope| match which {
            Which::All => true,
            Which::Project(wanted) => scope.kind == "project" && &scope.slug == wanted,
            Which::Team => scope.kind == "team",
        })
        .map(|scope| (scope.id, (scope.kind == "project").then_some(scope.slug)))
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
        let now = Millis::now();
        let row = lease.row(now);
        let taken = with_pool!(store, |pool| pool.acquire().await?.take_lease(&row, now).await?);
        if taken { Ok(lease) } else { Err(RotationError::Busy) }
    }

    /// Extends the lease; fails if another run took it over meanwhile.
    async fn renew(&self) -> Result<(), RotationError> {
        let row = self.row(Millis::now());
        let renewed =
            with_pool!(self.store, |pool| pool.acquire().await?.renew_lease(&row).await?);
        if renewed { Ok(()) } else { Err(RotationError::LeaseLost) }
    }

    async fn release(self) -> Result<(), RotationError> {
        with_pool!(self.store, |pool| {
            pool.acquire().await?.release_lease(LEASE_NAME, &self.holder).await?;
        });
        Ok(())
    }

    /// The lease's row, running out [`LEASE`] after `now`.
    fn row(&self, now: Millis) -> LeaseRow<'_> {
        LeaseRow { name: LEASE_NAME, holder: &self.holder, expires_at: now + lease_millis() }
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
    project_id: ProjectId,
    slug: Option<&'a str>,
}

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
        let generations = with_pool!(self.store, |pool| {
            pool.acquire().await?.data_key_generations(self.project_id).await?
        });
        let newest = match generations.as_slice() {
            [] => return Ok(None),
            [newest, _, ..] => return Ok(Some((*newest, true))),
            [newest] => *newest,
        };
        let next = newest + 1;
        let key = WrappedKey {
            generation: next,
            master_key_id: self.keyring.current_id().to_string(),
            wrapped: self
                .keyring
                .wrap_key(&DataKey::generate(), &project_key_aad(self.project_id, next)),
        };
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            tx.insert_data_key(self.project_id, &key, Millis::now()).await?;
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
        Ok(with_pool!(self.store, |pool| {
            pool.acquire().await?.scope_exists(self.project_id).await?
        }))
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
            pool.acquire().await?.versions_sealed_before(self.project_id, generation, limit).await?
        });
        if old.is_empty() {
            return Ok(None);
        }
        let mut bytes = 0;
        let fit = old
            .iter()
            .take_while(|version| {
                bytes += version.sealed_value.len();
                bytes <= MAX_BATCH_BYTES
            })
            .count()
            .max(1);
        let new_key = self.key(generation).await?;
        let mut old_keys: Vec<(i64, DataKey)> = Vec::new();
        let mut resealed = Vec::with_capacity(fit);
        for old in &old[..fit] {
            let old_generation = old.key_generation;
            if !old_keys.iter().any(|(held, _)| *held == old_generation) {
                old_keys.push((old_generation, self.key(old_generation).await?));
            }
            let old_key = old_keys
                .iter()
                .find(|(held, _)| *held == old_generation)
                .map(|(_, old_key)| old_key)
                .ok_or_else(|| self.missing(old_generation))?;
            // Opened under the current binding (a value of before environments that the start-up
            // reseal left does not open), sealed again under the new key.
            let at = SecretAddress::new(self.project_id, old.environment_id, &old.key, old.version);
            let binding = Binding::readable(old.binding);
            let opened = binding
                .and_then(|binding| Sealed::from_bytes(&old.sealed_value).map(|s| (binding, s)))
                .and_then(|(binding, sealed)| {
                    old_key.open_secret(&at.with_binding(binding), &sealed)
                })
                .map_err(|source| RotationError::Open {
                    scope: self.scope(),
                    key: old.key.clone(),
                    version: old.version,
                    source,
                })?;
            resealed.push((old, new_key.seal_secret(&at, &opened).to_bytes()));
        }
        let moved: Result<u64, RotationError> = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut moved = 0;
            for (old, sealed) in &resealed {
                moved += u64::from(tx.reseal_version(old, generation, sealed).await?);
            }
            tx.commit().await?;
            Ok(moved)
        });
        // Fewer than read when some were deleted meanwhile; the next read will not find those.
        moved.map(Some)
    }

    /// Deletes the older keys if no version needs them any more, and records the rotation;
    /// `None` (nothing changed) when a version sealed with an old key is still there.
    async fn finish(
        &self,
        generation: i64,
        resealed: u64,
    ) -> Result<Option<Vec<i64>>, RotationError> {
        let finished: Result<Option<Vec<i64>>, RotationError> = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut retired = tx.delete_data_keys_before(self.project_id, generation).await?;
            // A write that began before the new key existed and committed after the last batch
            // left a version sealed with a key just deleted: undo, and reseal it first.
            let left = tx.count_sealed_before(self.project_id, generation).await?;
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
        finished
    }

    async fn key(&self, generation: i64) -> Result<DataKey, RotationError> {
        let row = with_pool!(self.store, |pool| {
            pool.acquire().await?.data_key(self.project_id, generation).await?
        });
        let row = row.ok_or_else(|| self.missing(generation))?;
        let aad = project_key_aad(self.project_id, generation);
        Ok(self.keyring.unwrap_key(&row.master_key_id, &row.wrapped, &aad)?)
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
            environment: None,
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
