//! A secret's history and rollback: the versions it went through (when, by whom, what changed;
//! never a value), and an earlier version's value and description made current again as a new
//! version — the history itself is never rewritten.
use super::{
    SecretHistory, SecretMeta, VersionChange, VersionInfo,
    domain::SecretKey,
    repo::{HistoryRow, SealedAt, SecretRows, VersionRow},
    service::{Actor, Result, Scope, Vault, event, missing_or_conflict},
};
use crate::{
    audit::AuditAction,
    ids::Version,
    not_found::NotFound,
    store::{WritePool, with_pool},
    time::Millis,
    validation::FieldError,
};

impl Vault {
    /// Every version of a secret, the newest first: metadata only.
    pub async fn history(&self, scope: &Scope, key: &SecretKey) -> Result<SecretHistory> {
        let project = self.project(scope).await?;
        let rows = with_pool!(self.store, |pool| {
            pool.acquire().await?.history(project.environment_id, key.as_str()).await?
        });
        let current =
            rows.first().map(|row| row.current_version).ok_or_else(|| NotFound::secret(key))?;
        Ok(SecretHistory { key: key.to_string(), current, versions: described(&rows) })
    }

    /// The secret's metadata at its current version (one row, never a value).
    pub async fn current(&self, scope: &Scope, key: &SecretKey) -> Result<SecretMeta> {
        let project = self.project(scope).await?;
        self.meta(&project, key).await
    }

    /// Makes the value and description of the earlier version `to_version` current again, as a
    /// new version, if the secret is still at `expected_version`. A version from before
    /// histories keeps the current description (its own is not known).
    pub async fn rollback(
        &self,
        actor: &Actor,
        scope: &Scope,
        key: &SecretKey,
        to_version: Version,
        expected_version: Version,
    ) -> Result<SecretMeta> {
        let project = self.project(scope).await?;
        let now = Millis::now();
        let new_version = expected_version.next();
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let claimed = tx
                .claim(project.environment_id, key.as_str(), expected_version, now, &actor.name)
                .await?;
            let Some((secret_id, description)) = claimed else {
                return Err(missing_or_conflict(&mut *tx, &project, key).await);
            };
            let old = match to_version < new_version {
                true => tx.version(secret_id, to_version).await?,
                false => None,
            };
            let Some(old) = old else {
                return Err(NotFound::version(key, to_version).into());
            };
            let restored = match old.change {
                Some(_) => old.description.clone(),
                None => description.clone(),
            };
            let current =
                tx.version(secret_id, expected_version).await?.ok_or(sqlx::Error::RowNotFound)?;
            if current.fingerprint == old.fingerprint && restored == description {
                return Err(FieldError::new(
                    "to",
                    format!(
                        "Version {to_version} of {key} holds the current value and description: \
                         there is nothing to roll back"
                    ),
                )
                .into());
            }
            let data_key = self.current_data_key(&mut *tx, project.project_id).await?;
            let stored = SealedAt {
                version: to_version,
                key_generation: old.key_generation,
                binding: old.binding,
                sealed: &old.sealed,
            };
            let plain =
                self.open_version(&mut *tx, &data_key, &project, key.as_str(), stored).await?;
            let (generation, data_key) = data_key;
            let sealed = data_key.seal_secret(&project.address(key.as_str(), new_version), &plain);
            tx.insert_version(&VersionRow {
                secret_id,
                version: new_version,
                key_generation: generation,
                sealed: &sealed.to_bytes(),
                fingerprint: &old.fingerprint,
                at: now,
                by: &actor.name,
                description: restored.as_deref(),
                change: VersionChange::RolledBack,
                restored_from: Some(to_version),
            })
            .await?;
            if restored != description {
                tx.set_description(secret_id, restored.as_deref()).await?;
            }
            let mut audit =
                event(actor, AuditAction::SecretRolledBack, &project, key.as_str(), new_version);
            audit.details =
                Some(format!("from version {expected_version} to version {to_version}"));
            self.audit.record(&mut *tx, audit).await?;
            tx.commit().await?;
        });
        self.meta(&project, key).await
    }
}

/// The rows as the history shows them. A version written before histories has no recorded
/// change: the first one created the secret, and a later one changed the value when its
/// fingerprint differs from the version before's, the description otherwise.
fn described(rows: &[HistoryRow]) -> Vec<VersionInfo> {
    rows.iter()
        .enumerate()
        .map(|(index, row)| {
            let before = rows.get(index + 1);
            let change = row.change.as_deref().and_then(VersionChange::parse).unwrap_or_else(
                || match before {
                    None => VersionChange::Created,
                    Some(before) if before.fingerprint != row.fingerprint => VersionChange::Value,
                    Some(_) => VersionChange::Description,
                },
            );
            VersionInfo {
                version: row.version,
                at: row.created_at,
                by: row.created_by.clone(),
                change,
                restored_from: row.restored_from,
            }
        })
        .collect()
}
