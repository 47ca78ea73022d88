//! The one-time reseal that follows the environments migration: values written before
//! environments existed are bound to their project, key and version
//! ([`Binding::Project`]); each is opened and sealed again bound to its environment too
//! ([`Binding::CURRENT`]). It needs the master key, which a SQL migration does not have, so
//! start-up runs it after the migrations. Batches commit one by one, so an interrupted run
//! resumes where it stopped; several servers starting at once reseal each version once between
//! them (the update is conditional on the old binding). The first to finish records it
//! (`instance.values_resealed_at`); from then on no start opens a [`Binding::Project`] value
//! again, so an old ciphertext put back into a row (from a backup taken before the upgrade, into
//! another environment of its project) is never opened and resealed into that environment.
use super::{
    repo::{SecretRows, UnboundVersion},
    service::{Result, Vault, VaultError},
};
use crate::{
    crypto::{Binding, Sealed, SecretAddress},
    ids::Version,
    store::{WritePool, with_pool},
    time::Millis,
};

/// Versions read and resealed per transaction.
const BATCH: i64 = 500;

impl Vault {
    /// Reseals every version still bound to its project only, unless a start finished that
    /// before: how many this call resealed. A version that does not open is left as it is (it
    /// never opens again) and logged; the rest go on.
    pub async fn rebind_values(&self) -> Result<u64> {
        let mut after = (0, Version(0));
        let mut resealed = 0;
        loop {
            let Some((done, last)) = self.rebind_after(after, BATCH).await? else {
                with_pool!(self.store, |pool| {
                    pool.acquire().await?.finish_reseal(Millis::now()).await?
                });
                return Ok(resealed);
            };
            resealed += done;
            after = last;
        }
    }

    /// Reseals the first `limit` versions still bound to their project only, as one batch of
    /// [`Vault::rebind_values`] does: how many. (An interrupted start is this, once.)
    pub async fn rebind_batch(&self, limit: i64) -> Result<u64> {
        Ok(self.rebind_after((0, Version(0)), limit).await?.map_or(0, |(done, _)| done))
    }

    /// One batch after the version `after`: how many it resealed and the last version it read,
    /// or `None` when none is left or a start (this one or another server's) finished the
    /// reseal — checked before anything is opened and again in the batch's write transaction.
    async fn rebind_after(
        &self,
        after: (i64, Version),
        limit: i64,
    ) -> Result<Option<(u64, (i64, Version))>> {
        let rows: Option<Vec<UnboundVersion>> = with_pool!(self.store, |pool| {
            let mut conn = pool.acquire().await?;
            match conn.reseal_finished().await? {
                Some(_) => None,
                None => Some(conn.versions_bound_to_project(after, limit).await?),
            }
        });
        let Some(rows) = rows else {
            return Ok(None);
        };
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        let last = (last.secret_id, last.version);
        let mut sealed = Vec::with_capacity(rows.len());
        for row in &rows {
            let data_key = match self.data_key_at(row.project_id, row.key_generation).await {
                Ok(data_key) => data_key,
                // A rotation deleted the key meanwhile: it resealed this version itself.
                Err(VaultError::KeyRetired) => continue,
                Err(error) => return Err(error),
            };
            let at = SecretAddress::new(row.project_id, row.environment_id, &row.key, row.version);
            let opened = Sealed::from_bytes(&row.sealed_value)
                .and_then(|old| data_key.open_secret(&at.with_binding(Binding::Project), &old));
            match opened {
                Ok(plain) => sealed.push((row, data_key.seal_secret(&at, &plain).to_bytes())),
                Err(error) => tracing::warn!(
                    secret_id = row.secret_id,
                    version = %row.version,
                    error = %error,
                    "a stored value does not open; left sealed as it was"
                ),
            }
        }
        let done: Result<Option<u64>> = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut done = 0;
            if tx.reseal_finished().await?.is_some() {
                return Ok(None);
            }
            for (row, value) in &sealed {
                done += u64::from(tx.rebind_version(row, value).await?);
            }
            tx.commit().await?;
            Ok(Some(done))
        });
        Ok(done?.map(|done| (done, last)))
    }
}
