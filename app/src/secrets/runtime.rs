//! Run time: what a program holding a token runs with (`/env`, `sealbox run`). Each server keeps
//! the stored (sealed) environments in memory, tagged with the run-time generation they were read
//! at (see [`crate::store::snapshot`]); a delivery opens the values and is one `environment.read`
//! event, committed before anything is returned.
use std::{collections::BTreeMap, sync::Arc};

use zeroize::Zeroizing;

use super::{
    domain::SecretValue,
    repo::{RunTimeRow, SecretRows},
    service::{KEY_RETIRED_ATTEMPTS, Result, Scope, Vault, VaultError},
};
use crate::{
    audit::{Actor, AuditAction, Event, group::AppendError},
    crypto::{DataKey, Sealed, SecretAddress},
    ids::{ProjectId, Version},
    projects::ProjectSlug,
    store::{
        snapshot::{Lookup, SnapshotCache},
        with_pool,
    },
};

/// What a project's programs run with, as stored: variables in the clear, secrets sealed; in key
/// order, one entry per key after the overrides.
struct StoredEnvironment {
    entries: Vec<(String, StoredValue)>,
    /// The audit event's details: each secret delivered and its version.
    delivered: String,
}

enum StoredValue {
    Plain(String),
    Sealed { owner: ProjectId, version: Version, generation: i64, sealed: Vec<u8> },
}

/// Run-time delivery over the [`Vault`], with this server's memory of the stored environments.
/// Cheap to clone; the clones share the memory.
#[derive(Clone)]
pub struct RunTime {
    vault: Vault,
    /// Projects' run-time environments as stored (sealed), by project id, read at a run-time
    /// generation (see [`crate::store::snapshot`]).
    environments: Arc<SnapshotCache<ProjectId, Arc<StoredEnvironment>>>,
}

impl RunTime {
    pub fn new(vault: Vault) -> Self {
        Self { vault, environments: Arc::default() }
    }

    /// [`RunTime::run_time_environment`] for a project named by its slug.
    pub async fn reveal_environment(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
    ) -> Result<BTreeMap<String, Zeroizing<String>>> {
        let project = self.vault.project(&Scope::Project(slug.clone())).await?;
        self.run_time_environment(actor, project.id, slug.as_str(), None).await
    }

    /// What a program holding a token for the project `project_id` runs with: the project's
    /// variables, then the team secrets, then the project's own secrets, each overriding the one
    /// before for the same key. The delivery is one `environment.read` event, group committed
    /// before anything is returned.
    ///
    /// With `generation` (the run-time generation the caller's token was read at), the stored
    /// environment may come from memory, and the event is appended only if nothing changed since
    /// that generation; otherwise this fails with [`VaultError::Stale`] and delivers nothing.
    /// Any other failure of a read from memory is also reported as stale when the generation has
    /// moved since: what was remembered may name a project deleted meanwhile, and the caller's
    /// token must then be checked again rather than the read fail.
    pub async fn run_time_environment(
        &self,
        actor: &Actor,
        project_id: ProjectId,
        slug: &str,
        generation: Option<i64>,
    ) -> Result<BTreeMap<String, Zeroizing<String>>> {
        // A rotation retired a key between the read and its lookup: read again (with a
        // generation, the check below reports this as stale instead). The project's and the
        // team's keys may be retired at different moments, hence more than one retry.
        let mut attempts = 0;
        let read = loop {
            attempts += 1;
            match self.deliver_environment(actor, project_id, slug, generation).await {
                Err(VaultError::KeyRetired)
                    if generation.is_none() && attempts < KEY_RETIRED_ATTEMPTS => {}
                read => break read,
            }
        };
        match (read, generation) {
            (Err(error), Some(generation)) if !matches!(error, VaultError::Stale(_)) => {
                match self.vault.store.run_time_generation().await {
                    Ok(current) if current != generation => {
                        self.environments.saw(current);
                        Err(VaultError::Stale(current))
                    }
                    _ => Err(error),
                }
            }
            (read, _) => read,
        }
    }

    async fn deliver_environment(
        &self,
        actor: &Actor,
        project_id: ProjectId,
        slug: &str,
        generation: Option<i64>,
    ) -> Result<BTreeMap<String, Zeroizing<String>>> {
        let stored = match generation {
            None => Arc::new(self.stored_environment(project_id).await?),
            Some(generation) => match self.environments.get(&project_id) {
                Lookup::Hit(at, stored) if at == generation => stored,
                _ => {
                    if let Some(seen) =
                        self.environments.generation().filter(|&seen| seen > generation)
                    {
                        return Err(VaultError::Stale(seen));
                    }
                    // Read after `generation` was: at least that new.
                    let stored = Arc::new(self.stored_environment(project_id).await?);
                    self.environments.insert(generation, project_id, stored.clone());
                    stored
                }
            },
        };
        let mut environment = BTreeMap::new();
        // At most two owners, the project and the team, each with one generation (two while a
        // rotation runs).
        let mut keys: Vec<(ProjectId, i64, Arc<DataKey>)> = Vec::with_capacity(2);
        for (key, value) in &stored.entries {
            let value = match value {
                StoredValue::Plain(text) => Zeroizing::new(text.clone()),
                StoredValue::Sealed { owner, version, generation, sealed } => {
                    let held = keys.iter().find(|(id, held, _)| id == owner && held == generation);
                    let data_key = match held {
                        Some((_, _, data_key)) => data_key.clone(),
                        None => {
                            let data_key = self.vault.data_key_at(*owner, *generation).await?;
                            keys.push((*owner, *generation, data_key.clone()));
                            data_key
                        }
                    };
                    let at = SecretAddress::new(*owner, key, *version);
                    let plain = data_key.open_secret(&at, &Sealed::from_bytes(sealed)?)?;
                    let value = SecretValue::from_bytes(plain.to_vec())?;
                    Zeroizing::new(value.expose().to_string())
                }
            };
            environment.insert(key.clone(), value);
        }
        let mut audit =
            Event::general(actor, AuditAction::EnvironmentRead, Some(stored.delivered.clone()));
        audit.project_id = Some(project_id);
        audit.project_slug = Some(slug);
        match generation {
            None => self.vault.audit.record_alone(audit).await?,
            Some(generation) => match self.vault.audit.record_alone_at(audit, generation).await {
                Ok(()) => {}
                Err(AppendError::Stale { current }) => {
                    self.environments.saw(current);
                    return Err(VaultError::Stale(current));
                }
                Err(error) => return Err(sqlx::Error::from(error).into()),
            },
        }
        Ok(environment)
    }

    /// A project's run-time environment as stored. One query.
    async fn stored_environment(&self, project_id: ProjectId) -> Result<StoredEnvironment> {
        let rows = with_pool!(self.vault.store, |pool| {
            pool.acquire().await?.run_time_rows(project_id).await?
        });
        let mut chosen: BTreeMap<String, RunTimeRow> = BTreeMap::new();
        for row in rows {
            if chosen.get(&row.key).is_none_or(|held| held.rank < row.rank) {
                chosen.insert(row.key.clone(), row);
            }
        }
        let mut entries = Vec::with_capacity(chosen.len());
        let mut delivered = Vec::new();
        for (key, row) in chosen {
            let RunTimeRow { rank, version, owner, text, generation, sealed, .. } = row;
            let value = match (text, sealed) {
                (Some(text), _) => StoredValue::Plain(text),
                (None, Some(sealed)) => {
                    let team_mark = if rank == RunTimeRow::TEAM { " (team)" } else { "" };
                    delivered.push(format!("{key} v{version}{team_mark}"));
                    StoredValue::Sealed { owner, version, generation, sealed }
                }
                (None, None) => continue,
            };
            entries.push((key, value));
        }
        Ok(StoredEnvironment { entries, delivered: delivered.join(", ") })
    }
}
