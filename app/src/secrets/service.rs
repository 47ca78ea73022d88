//! The one service every caller (pages, JSON API, CLI) goes through to read and change secrets.
//! Each mutation and each value read writes its audit event in the same transaction: no audit
//! row, no change.
//!
//! Writes start with their write statement, so a transaction holds the write lock before it
//! reads: on SQLite a second writer waits (busy timeout) instead of failing on a stale snapshot,
//! and on PostgreSQL the conditional `UPDATE … WHERE current_version = $n` serializes concurrent
//! updates of one secret so that exactly one of them wins.
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use super::SecretMeta;
use super::{
    VersionChange,
    domain::{Description, SecretKey, SecretType, SecretValue},
    repo::{MetaRow, NewSecretRow, SealedAt, SecretRows, VersionRow},
};
pub use crate::audit::Actor;
use crate::{
    audit::{AuditAction, AuditLog, Event},
    crypto::{self, Binding, SecretAddress},
    environments::{
        EnvironmentName, TEAM_ENVIRONMENT,
        place::{place, place_on, team_place},
        repo::EnvironmentRows,
    },
    error::AppError,
    ids::Version,
    keyring::{Keyring, KeyringError},
    not_found::NotFound,
    projects::ProjectSlug,
    store::{RepoError, Store, WritePool, with_pool},
    time::Millis,
    validation::FieldError,
};

/// Where a secret lives: the team scope shared by every project, or one environment of a
/// project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The team scope's secrets for every environment of every project.
    Team,
    /// The team scope's secrets for the environments of one name (in every project that has
    /// one): they take the place of [`Scope::Team`]'s for the same key.
    TeamEnvironment(EnvironmentName),
    Project(ProjectSlug, EnvironmentName),
}

impl Scope {
    /// The environment `environment` of the project `slug`.
    pub fn environment(slug: ProjectSlug, environment: EnvironmentName) -> Self {
        Self::Project(slug, environment)
    }

    /// The `development` environment of the project `slug`: the first of a new project's
    /// environments.
    pub fn development(slug: ProjectSlug) -> Self {
        let first = crate::environments::DEFAULT_ENVIRONMENTS[0];
        Self::Project(slug, EnvironmentName::from_url(first).unwrap_or_else(|_| unreachable!()))
    }

    /// The environment's name as events and pages show it (`*` for the team scope).
    pub fn environment_name(&self) -> &str {
        match self {
            Self::Team => TEAM_ENVIRONMENT,
            Self::TeamEnvironment(environment) | Self::Project(_, environment) => {
                environment.as_str()
            }
        }
    }
}

pub struct NewSecret {
    pub key: SecretKey,
    pub value: SecretValue,
    pub description: Description,
    /// `None` takes the type suggested by the value's shape.
    pub secret_type: Option<SecretType>,
}

pub struct SecretUpdate {
    /// The version the caller saw; a newer one in the database is a conflict.
    pub expected_version: Version,
    /// `None` keeps the current value.
    pub value: Option<SecretValue>,
    pub description: Description,
}

/// A value on its way to a program at run time.
#[derive(Debug)]
pub struct Revealed {
    pub value: SecretValue,
    pub version: Version,
    pub updated_at: Millis,
}

/// A secret version holding a searched-for value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueMatch {
    pub project_slug: Option<String>,
    pub environment: String,
    pub key: String,
    pub version: Version,
    pub is_current: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{0}")]
    Invalid(#[from] FieldError),
    /// What was looked for is not there; the message names it.
    #[error("{0}")]
    NotFound(#[from] NotFound),
    #[error("This secret was changed by someone else; reload and try again")]
    Conflict,
    #[error("No changes to save")]
    NoChanges,
    #[error("keyring: {0}")]
    Keyring(#[from] KeyringError),
    #[error("a stored value does not decrypt: {0}")]
    Crypto(#[from] crypto::CryptoError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A repository statement failed: the error names it.
    #[error(transparent)]
    Repo(#[from] crate::store::RepoError),
    /// A rotation deleted the data key that sealed what was read, in the moment between the read
    /// and the key's lookup: read again (the new row is sealed with the new key).
    #[error("a data key was retired while this was read; read it again")]
    KeyRetired,
    /// What the request read has changed since (the run-time generation is now this): read again.
    #[error("the data read has changed; read it again")]
    Stale(i64),
}

impl From<VaultError> for AppError {
    fn from(error: VaultError) -> Self {
        match error {
            VaultError::Invalid(field) => field.into(),
            VaultError::NotFound(missing) => missing.into(),
            VaultError::Conflict => Self::Conflict(VaultError::Conflict.to_string()),
            VaultError::NoChanges => Self::Validation(VaultError::NoChanges.to_string()),
            other => Self::internal(other),
        }
    }
}

pub(super) type Result<T, E = VaultError> = std::result::Result<T, E>;

/// How often a read is tried when a rotation retires a data key in the middle of it.
pub(super) const KEY_RETIRED_ATTEMPTS: u32 = 4;

/// Where a secret is stored: the project (or team scope) and its environment.
pub(crate) use crate::environments::place::Place as ProjectRef;

impl ProjectRef {
    /// The address of `key` at `version` here, sealed now.
    pub(crate) fn address<'a>(&self, key: &'a str, version: Version) -> SecretAddress<'a> {
        SecretAddress::new(self.project_id, self.environment_id, key, version)
    }
}

#[derive(Clone)]
pub struct Vault {
    pub(super) store: Store,
    pub(super) audit: AuditLog,
    pub(super) keyring: Arc<Keyring>,
}

impl Vault {
    pub fn new(store: Store, audit: AuditLog, keyring: Arc<Keyring>) -> Self {
        Self { store, audit, keyring }
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn create_secret(
        &self,
        actor: &Actor,
        scope: &Scope,
        secret: NewSecret,
    ) -> Result<SecretMeta> {
        // A team environment is made by its first secret, in the transaction that writes it.
        let known = match scope {
            Scope::TeamEnvironment(_) => None,
            _ => Some(self.project(scope).await?),
        };
        let secret_type =
            secret.secret_type.unwrap_or_else(|| SecretType::suggest(secret.value.expose()));
        let key = secret.key.as_str();
        let fingerprint =
            self.keyring.fingerprint_key().fingerprint(secret.value.expose().as_bytes());
        let now = Millis::now();
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let project = match (known, scope) {
                (Some(project), _) => project,
                (None, scope) => {
                    let name = scope.environment_name();
                    tx.ensure_team_environment(name, now).await?;
                    place_on::<_, VaultError>(&mut *tx, None, name).await?
                }
            };
            let row = NewSecretRow {
                project_id: project.project_id,
                environment_id: project.environment_id,
                key,
                description: secret.description.as_deref(),
                secret_type: secret_type.as_str(),
                at: now,
                by: &actor.name,
            };
            let secret_id = tx
                .insert_secret(&row)
                .await
                .map_err(|error| unique_or(error, || secret_exists(scope, key)))?;
            let (generation, data_key) =
                self.current_data_key(&mut *tx, project.project_id).await?;
            let at = project.address(key, Version::FIRST);
            let sealed = data_key.seal_secret(&at, secret.value.expose().as_bytes()).to_bytes();
            tx.insert_version(&VersionRow {
                secret_id,
                version: Version::FIRST,
                key_generation: generation,
                sealed: &sealed,
                fingerprint: &fingerprint.0,
                at: now,
                by: &actor.name,
                description: secret.description.as_deref(),
                change: VersionChange::Created,
                restored_from: None,
            })
            .await?;
            self.audit
                .record(
                    &mut *tx,
                    event(actor, AuditAction::SecretCreated, &project, key, Version::FIRST),
                )
                .await?;
            tx.commit().await?;
        });
        Ok(SecretMeta {
            key: key.to_string(),
            description: secret.description.as_deref().map(str::to_string),
            secret_type,
            version: Version::FIRST,
            created_at: now,
            created_by: actor.name.clone(),
            updated_at: now,
            updated_by: actor.name.clone(),
        })
    }

    /// Replaces the value and/or the description. Every change makes a new version (an
    /// unchanged value is sealed again under the new version).
    pub async fn update_secret(
        &self,
        actor: &Actor,
        scope: &Scope,
        key: &SecretKey,
        update: SecretUpdate,
    ) -> Result<SecretMeta> {
        let project = self.project(scope).await?;
        let fingerprints = self.keyring.fingerprint_key();
        let now = Millis::now();
        let expected = update.expected_version;
        let new_version = expected.next();
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let claimed =
                tx.claim(project.environment_id, key.as_str(), expected, now, &actor.name).await?;
            let Some((secret_id, old_description)) = claimed else {
                return Err(missing_or_conflict(&mut *tx, &project, key).await);
            };
            let old = tx.version(secret_id, expected).await?.ok_or(sqlx::Error::RowNotFound)?;
            let new_fingerprint =
                update.value.as_ref().map(|v| fingerprints.fingerprint(v.expose().as_bytes()));
            let value_changed =
                new_fingerprint.as_ref().is_some_and(|f| f.0[..] != old.fingerprint[..]);
            let description_changed = old_description.as_deref() != update.description.as_deref();
            if !value_changed && !description_changed {
                return Err(VaultError::NoChanges);
            }
            let new_at = project.address(key.as_str(), new_version);
            let current = self.current_data_key(&mut *tx, project.project_id).await?;
            let sealed = match &update.value {
                Some(value) if value_changed => {
                    current.1.seal_secret(&new_at, value.expose().as_bytes())
                }
                // The value stays: opened from its version and sealed again for the new one.
                _ => {
                    let stored = SealedAt {
                        version: expected,
                        key_generation: old.key_generation,
                        binding: old.binding,
                        sealed: &old.sealed,
                    };
                    let plain = self
                        .open_version(&mut *tx, &current, &project, key.as_str(), stored)
                        .await?;
                    current.1.seal_secret(&new_at, &plain)
                }
            };
            let (generation, _) = current;
            let fingerprint = match new_fingerprint {
                Some(fingerprint) if value_changed => fingerprint.0.to_vec(),
                _ => old.fingerprint,
            };
            tx.insert_version(&VersionRow {
                secret_id,
                version: new_version,
                key_generation: generation,
                sealed: &sealed.to_bytes(),
                fingerprint: &fingerprint,
                at: now,
                by: &actor.name,
                description: update.description.as_deref(),
                change: match (value_changed, description_changed) {
                    (true, true) => VersionChange::ValueAndDescription,
                    (true, false) => VersionChange::Value,
                    _ => VersionChange::Description,
                },
                restored_from: None,
            })
            .await?;
            if description_changed {
                tx.set_description(secret_id, update.description.as_deref()).await?;
            }
            let mut audit =
                event(actor, AuditAction::SecretUpdated, &project, key.as_str(), new_version);
            audit.details = Some(
                match (value_changed, description_changed) {
                    (true, true) => "value and description",
                    (true, false) => "value",
                    _ => "description",
                }
                .to_string(),
            );
            self.audit.record(&mut *tx, audit).await?;
            tx.commit().await?;
        });
        self.meta(&project, key).await
    }

    /// Deletes a secret with its whole history. With `expected_version`, only if nobody changed
    /// it since.
    pub async fn delete_secret(
        &self,
        actor: &Actor,
        scope: &Scope,
        key: &SecretKey,
        expected_version: Option<Version>,
    ) -> Result<()> {
        let project = self.project(scope).await?;
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let deleted =
                tx.delete_secret(project.environment_id, key.as_str(), expected_version).await?;
            let Some(version) = deleted else {
                return Err(missing_or_conflict(&mut *tx, &project, key).await);
            };
            self.audit
                .record(
                    &mut *tx,
                    event(actor, AuditAction::SecretDeleted, &project, key.as_str(), version),
                )
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub(super) async fn meta(&self, project: &ProjectRef, key: &SecretKey) -> Result<SecretMeta> {
        let row = with_pool!(self.store, |pool| {
            pool.acquire().await?.meta(project.environment_id, key.as_str()).await?
        });
        into_meta(row.ok_or_else(|| NotFound::secret(key))?)
    }

    /// Where `scope` is stored; a missing project and a missing environment are told apart.
    pub(crate) async fn project(&self, scope: &Scope) -> Result<ProjectRef> {
        match scope {
            Scope::Team => team_place(&self.store).await,
            Scope::TeamEnvironment(environment) => {
                place(&self.store, None, environment.as_str()).await
            }
            Scope::Project(slug, environment) => {
                place(&self.store, Some(slug), environment.as_str()).await
            }
        }
    }
}

/// The address a stored version was sealed for, under the binding its row names.
pub(crate) fn stored_address<'a>(
    project: &ProjectRef,
    key: &'a str,
    version: Version,
    binding: i64,
) -> Result<SecretAddress<'a>> {
    let binding = Binding::readable(binding)?;
    Ok(project.address(key, version).with_binding(binding))
}

pub(super) fn into_meta(row: MetaRow) -> Result<SecretMeta> {
    Ok(SecretMeta {
        secret_type: SecretType::parse(&row.secret_type)?,
        key: row.key,
        description: row.description,
        version: row.current_version,
        created_at: row.created_at,
        created_by: row.created_by,
        updated_at: row.updated_at,
        updated_by: row.updated_by,
    })
}

pub(super) fn event<'a>(
    actor: &'a Actor,
    action: AuditAction,
    project: &'a ProjectRef,
    key: &'a str,
    version: Version,
) -> Event<'a> {
    Event {
        actor,
        action,
        project_id: Some(project.project_id),
        project_slug: project.slug.as_deref(),
        environment: Some(&project.environment),
        secret_key: Some(key),
        version: Some(version),
        details: None,
    }
}

/// Why a conditional write on a secret matched no row: the secret is gone, or someone changed it
/// first.
pub(super) async fn missing_or_conflict<C: SecretRows + Send>(
    tx: &mut C,
    project: &ProjectRef,
    key: &SecretKey,
) -> VaultError {
    match tx.secret_id(project.environment_id, key.as_str()).await {
        Ok(Some(_)) => VaultError::Conflict,
        Ok(None) => VaultError::from(NotFound::secret(key)),
        Err(error) => VaultError::Repo(error),
    }
}

pub(super) fn unique_or(error: RepoError, conflict: impl FnOnce() -> VaultError) -> VaultError {
    match error.is_unique_violation() {
        true => conflict(),
        false => VaultError::Repo(error),
    }
}

pub(super) fn secret_exists(scope: &Scope, key: &str) -> VaultError {
    let message = match scope {
        Scope::Team => format!("A team secret named {key} already exists"),
        Scope::TeamEnvironment(environment) => {
            format!("A team secret named {key} already exists for {environment}")
        }
        Scope::Project(_, environment) => {
            format!("A secret named {key} already exists in {environment}")
        }
    };
    VaultError::Invalid(FieldError::new("key", message))
}
