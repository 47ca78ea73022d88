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
    crypto::{Binding, DataKey, Sealed, SecretAddress},
    environments::TEAM_ENVIRONMENT,
    ids::{EnvironmentId, ProjectId, Version},
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
    Sealed {
        owner: ProjectId,
        environment: EnvironmentId,
        version: Version,
        generation: i64,
        binding: Binding,
        sealed: Vec<u8>,
    },
}

/// Whose environment a delivery reads: a project's environment, by id, with the names its
/// audit event records.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub project_id: ProjectId,
    pub slug: &'a str,
    pub environment_id: EnvironmentId,
    pub environment: &'a str,
}

/// Run-time delivery over the [`Vault`], with this server's memory of the stored environments.
/// Cheap to clone; the clones share the memory.
#[derive(Clone)]
pub struct RunTime {
    vault: Vault,
    /// Projects' run-time environments as stored (sealed), by environment id, read at a
    /// run-time generation (see [`crate::store::snapshot`]).
    environments: Arc<SnapshotCache<EnvironmentId, Arc<StoredEnvironment>>>,
}

impl RunTime {
    pub fn new(vault: Vault) -> Self {
        Self { vault, environments: Arc::default() }
    }

    /// [`RunTime::run_time_environment`] for an environment named by its project's slug and its
    /// name (the team scope has no run-time environment of its own).
    pub async fn reveal_environment(
        &self,
        actor: &Actor,
        scope: &Scope,
    ) -> Result<BTreeMap<String, Zeroizing<String>>> {
        let project = self.vault.project(scope).await?;
        let slug = project.slug.as_deref().unwrap_or_default();
        let target = Target {
            project_id: project.project_id,
            slug,
            environment_id: project.environment_id,
            environment: &project.environment,
        };
        self.run_time_environment(actor, target, None).await
    }

    /// What a program holding a token for the environment `target` runs with: the
    /// environment's variables, then the team secrets for every environment, then the team
    /// secrets for environments of its name, then the environment's own secrets, each
    /// overriding the one before for the same key. The delivery is one `environment.read` event, group committed
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
        target: Target<'_>,
        generation: Option<i64>,
    ) -> Result<BTreeMap<String, Zeroizing<String>>> {
        // A rotation retired a key between the read and its lookup: read again (with a
        // generation, the check below reports this as stale instead). The project's and the
        // team's keys may be retired at different moments, hence more than one retry.
        let mut attempts = 0;
        let read = loop {
            attempts += 1;
            match self.deliver_environment(actor, target, generation).await {
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
        target: Target<'_>,
        generation: Option<i64>,
    ) -> Result<BTreeMap<String, Zeroizing<String>>> {
        let id = target.environment_id;
        let stored = match generation {
            None => Arc::new(self.stored_environment(id).await?),
            Some(generation) => match self.environments.get(&id) {
                Lookup::Hit(at, stored) if at == generation => stored,
                _ => {
                    if let Some(seen) =
                        self.environments.generation().filter(|&seen| seen > generation)
                    {
                        return Err(VaultError::Stale(seen));
                    }
                    // Read after `generation` was: at least that new.
                    let stored = Arc::new(self.stored_environment(id).await?);
                    self.environments.insert(generation, id, stored.clone());
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
                StoredValue::Sealed {
                    owner,
                    environment,
                    version,
                    generation,
                    binding,
                    sealed,
                } => {
                    let held = keys.iter().find(|(id, held, _)| id == owner && held == generation);
                    let data_key = match held {
                        Some((_, _, data_key)) => data_key.clone(),
                        None => {
                            let data_key = self.vault.data_key_at(*owner, *generation).await?;
                            keys.push((*owner, *generation, data_key.clone()));
                            data_key
                        }
                    };
                    let at = SecretAddress::new(*owner, *environment, key, *version)
                        .with_binding(*binding);
                    let plain = data_key.open_secret(&at, &Sealed::from_bytes(sealed)?)?;
                    let value = SecretValue::from_bytes(plain.to_vec())?;
                    Zeroizing::new(value.expose().to_string())
                }
            };
            environment.insert(key.clone(), value);
        }
        let mut audit =
            Event::general(actor, AuditAction::EnvironmentRead, Some(stored.delivered.clone()));
        audit.project_id = Some(target.project_id);
        audit.project_slug = Some(target.slug);
        audit.environment = Some(target.environment);
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

    /// An environment's run-time values as stored. One query.
    async fn stored_environment(&self, environment_id: EnvironmentId) -> Result<StoredEnvironment> {
        let rows = with_pool!(self.vault.store, |pool| {
            pool.acquire().await?.run_time_rows(environment_id).await?
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
            let RunTimeRow {
                version,
                owner,
                owner_environment,
                text,
                generation,
                binding,
                sealed,
                team_environment,
                ..
            } = row;
            let value = match (text, sealed) {
                (Some(text), _) => StoredValue::Plain(text),
                (None, Some(sealed)) => {
                    delivered.push(match team_environment.as_deref() {
                        None => format!("{key} v{version}"),
                        Some(TEAM_ENVIRONMENT) => format!("{key} v{version} (team)"),
                        Some(name) => format!("{key} v{version} (team, {name})"),
                    });
                    let binding = Binding::readable(binding)?;
                    StoredValue::Sealed {
                        owner,
                        environment: owner_environment,
                        version,
                        generation,
                        binding,
                        sealed,
                    }
                }
                (None, None) => continue,
            };
            entries.push((key, value));
        }
        Ok(StoredEnvironment { entries, delivered: delivered.join(", ") })
    }
}
