//! What the [`Vault`] reads: a scope's metadata (never values), a value revealed for run-time
//! delivery (audited before it is opened), and the search by value (by keyed fingerprint, without
//! decrypting anything).
use super::{
    SecretMeta,
    domain::SecretKey,
    domain::SecretValue,
    repo::{CurrentSealed, FingerprintMatch, SecretRows},
    service::{
        Actor, KEY_RETIRED_ATTEMPTS, ProjectRef, Result, Revealed, Scope, ValueMatch, Vault,
        VaultError, event, into_meta, stored_address,
    },
};
use crate::{
    audit::{AuditAction, Event},
    crypto::Sealed,
    not_found::NotFound,
    store::{WritePool, with_pool},
};

impl Vault {
    /// Every secret of a scope, by key: metadata only, never values.
    pub async fn list_secrets(&self, scope: &Scope) -> Result<Vec<SecretMeta>> {
        let project = self.project(scope).await?;
        let rows = with_pool!(self.store, |pool| {
            pool.acquire().await?.metas(project.environment_id).await?
        });
        rows.into_iter().map(into_meta).collect()
    }

    /// Decrypts the current value for run-time delivery, and records that it was read.
    pub async fn reveal(&self, actor: &Actor, scope: &Scope, key: &SecretKey) -> Result<Revealed> {
        let project = self.project(scope).await?;
        // A rotation that retires the key between the read and the key's lookup has resealed
        // the row first: another read finds it under the new key.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.reveal_in(actor, &project, key).await {
                Err(VaultError::KeyRetired) if attempts < KEY_RETIRED_ATTEMPTS => {}
                revealed => return revealed,
            }
        }
    }

    async fn reveal_in(
        &self,
        actor: &Actor,
        project: &ProjectRef,
        key: &SecretKey,
    ) -> Result<Revealed> {
        let current = with_pool!(self.store, |pool| {
            pool.acquire().await?.current_sealed(project.environment_id, key.as_str()).await?
        });
        let CurrentSealed { version, updated_at, key_generation: generation, binding, sealed } =
            current.ok_or_else(|| NotFound::secret(key))?;
        // No audit row, no value. Recorded in a transaction that starts with its write, so that
        // SQLite never has to upgrade a read lock (which fails at once instead of waiting).
        let data_key = self.data_key_at(project.project_id, generation).await?;
        let read = event(actor, AuditAction::SecretRead, project, key.as_str(), version);
        self.audit.record_alone(read).await?;
        let at = stored_address(project, key.as_str(), version, binding)?;
        let plain = data_key.open_secret(&at, &Sealed::from_bytes(&sealed)?)?;
        let value = SecretValue::from_bytes(plain.to_vec())?;
        Ok(Revealed { value, version, updated_at })
    }

    /// Which secrets hold (or held) this value, found by keyed fingerprint without decrypting
    /// anything. The search is audited; the value is not.
    pub async fn find_by_value(
        &self,
        actor: &Actor,
        value: &SecretValue,
    ) -> Result<Vec<ValueMatch>> {
        let fingerprint = self.keyring.fingerprint_key().fingerprint(value.expose().as_bytes());
        let rows: Vec<FingerprintMatch> = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            // The write first: SQLite cannot upgrade a read lock while another writer waits.
            self.audit
                .record(&mut *tx, Event::general(actor, AuditAction::SecretSearchedByValue, None))
                .await?;
            let rows = tx.by_fingerprint(&fingerprint.0[..]).await?;
            tx.commit().await?;
            rows
        });
        Ok(rows
            .into_iter()
            .map(|row| ValueMatch {
                project_slug: (row.kind == "project").then_some(row.slug),
                environment: row.environment,
                key: row.key,
                version: row.version,
                is_current: row.version == row.current_version,
            })
            .collect())
    }
}
