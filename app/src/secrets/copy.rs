//! Copy to environment: a secret's current value goes into another environment of the same
//! project without leaving the server — opened under its own address, sealed again under the
//! target's, as a new version there — in one transaction with an event on each side.
use super::{
    VersionChange,
    domain::SecretKey,
    repo::{CopySource, MetaRow, NewSecretRow, SealedAt, SecretRows, VersionRow},
    service::{ProjectRef, Result, Scope, Vault, VaultError, event, secret_exists, unique_or},
};
use crate::{
    audit::{Actor, AuditAction},
    environments::EnvironmentName,
    ids::Version,
    not_found::NotFound,
    projects::ProjectSlug,
    store::{WritePool, with_pool},
    time::Millis,
    validation::FieldError,
};

/// What a copy did in the target environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub key: String,
    /// The version it made there (1 when the key was new there).
    pub version: Version,
    /// The key existed there and got a new version.
    pub replaced: bool,
}

impl Vault {
    /// Copies `key`'s current value from the environment `from` of the project `slug` to its
    /// environment `to`. A key that exists there is replaced (a new version) only with
    /// `replace`; the same value already there is [`VaultError::NoChanges`]. A new key takes
    /// the description and type of the one it was copied from.
    pub async fn copy_secret(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        from: &EnvironmentName,
        key: &SecretKey,
        to: &EnvironmentName,
        replace: bool,
    ) -> Result<Copied> {
        if from == to {
            return Err(FieldError::new("to", "Choose another environment to copy to").into());
        }
        let source = self.project(&Scope::Project(slug.clone(), from.clone())).await?;
        let target_scope = Scope::Project(slug.clone(), to.clone());
        let target = self.project(&target_scope).await?;
        let now = Millis::now();
        let copied = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let found = tx.copy_source(source.environment_id, key.as_str()).await?;
            let original = found.ok_or_else(|| NotFound::secret(key))?;
            let existing = tx.meta(target.environment_id, key.as_str()).await?;
            let current = self.current_data_key(&mut *tx, source.project_id).await?;
            let stored = SealedAt {
                version: original.version,
                key_generation: original.key_generation,
                binding: original.binding,
                sealed: &original.sealed,
            };
            let plain =
                self.open_version(&mut *tx, &current, &source, key.as_str(), stored).await?;
            let (generation, data_key) = current;
            // A replaced secret keeps its description.
            let description = match &existing {
                Some(meta) => meta.description.clone(),
                None => original.description.clone(),
            };
            let (secret_id, version) = match existing {
                None => {
                    let row = NewSecretRow {
                        project_id: target.project_id,
                        environment_id: target.environment_id,
                        key: key.as_str(),
                        description: original.description.as_deref(),
                        secret_type: &original.secret_type,
                        at: now,
                        by: &actor.name,
                    };
                    let secret_id = tx.insert_secret(&row).await.map_err(|error| {
                        unique_or(error, || secret_exists(&target_scope, key.as_str()))
                    })?;
                    (secret_id, Version::FIRST)
                }
                Some(meta) => {
                    let secret_id = self
                        .claim_for_copy(
                            &mut *tx,
                            &target,
                            key,
                            &meta,
                            &original,
                            replace,
                            (now, actor),
                        )
                        .await?;
                    (secret_id, meta.current_version.next())
                }
            };
            let sealed = data_key.seal_secret(&target.address(key.as_str(), version), &plain);
            tx.insert_version(&VersionRow {
                secret_id,
                version,
                key_generation: generation,
                sealed: &sealed.to_bytes(),
                fingerprint: &original.fingerprint,
                at: now,
                by: &actor.name,
                description: description.as_deref(),
                change: VersionChange::Copied,
                restored_from: None,
            })
            .await?;
            let mut out =
                event(actor, AuditAction::SecretCopied, &source, key.as_str(), original.version);
            out.details = Some(format!("to {to} version {version}"));
            self.audit.record(&mut *tx, out).await?;
            let mut into = event(actor, AuditAction::SecretCopied, &target, key.as_str(), version);
            into.details = Some(format!("from {from} version {}", original.version));
            self.audit.record(&mut *tx, into).await?;
            tx.commit().await?;
            Copied { key: key.to_string(), version, replaced: version != Version::FIRST }
        });
        Ok(copied)
    }

    /// Takes the target's row for a new version, refusing what a copy must not do: replace
    /// without being asked, copy the value it already holds, or win a race with another change.
    #[allow(clippy::too_many_arguments)]
    async fn claim_for_copy<C: SecretRows + Send>(
        &self,
        tx: &mut C,
        target: &ProjectRef,
        key: &SecretKey,
        existing: &MetaRow,
        original: &CopySource,
        replace: bool,
        (now, actor): (Millis, &Actor),
    ) -> Result<i64> {
        let environment = &target.environment;
        if !replace {
            return Err(FieldError::new(
                "replace",
                format!(
                    "{environment} already has {key} (version {}); tick Replace to give it this value as a new version",
                    existing.current_version
                ),
            )
            .into());
        }
        let current = tx.copy_source(target.environment_id, key.as_str()).await?;
        if current.is_some_and(|current| current.fingerprint == original.fingerprint) {
            return Err(FieldError::new(
                "to",
                format!("{environment} already holds the same value for {key}"),
            )
            .into());
        }
        let expected = existing.current_version;
        let claimed =
            tx.claim(target.environment_id, key.as_str(), expected, now, &actor.name).await?;
        claimed.map(|(secret_id, _)| secret_id).ok_or(VaultError::Conflict)
    }
}
