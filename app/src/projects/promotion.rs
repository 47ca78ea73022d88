//! Promote variables, the service: the difference between two environments and its apply, in
//! one transaction that first checks that both sides are as the person saw them.
use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::{
    VariableValue,
    promote::{Change, Difference, difference},
    repo::ProjectRows,
    service::{ProjectError, Projects, variable_row},
};
use crate::{
    audit::{Actor, AuditAction, Event},
    environments::EnvironmentName,
    projects::ProjectSlug,
    secrets::domain::SecretKey,
    store::{WritePool, with_pool},
};

type Result<T, E = ProjectError> = std::result::Result<T, E>;

/// A digest of a difference: what the page sends back so that the apply can tell whether it
/// still is the difference shown.
fn digest(differences: &[Difference]) -> String {
    let mut hasher = Sha256::new();
    for Difference { key, change } in differences {
        let (kind, old, new, export) = match change {
            Change::Added { value, include_in_export } => {
                ("a", "", value.as_str(), *include_in_export)
            }
            Change::Changed { old, new, include_in_export } => {
                ("c", old.as_str(), new.as_str(), *include_in_export)
            }
            Change::Removed { old } => ("r", old.as_str(), "", false),
        };
        for part in [key.as_str(), kind, old, new, if export { "1" } else { "0" }] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Projects {
    /// What promoting `from` onto `to` changes, and the digest the apply checks.
    pub async fn promotion(
        &self,
        slug: &ProjectSlug,
        from: &EnvironmentName,
        to: &EnvironmentName,
    ) -> Result<(Vec<Difference>, String)> {
        let differences =
            difference(&self.variables(slug, from).await?, &self.variables(slug, to).await?);
        let seen = digest(&differences);
        Ok((differences, seen))
    }

    /// Applies the `chosen` keys of the difference from `from` to `to`: all of them or none, and
    /// only if the difference is still the one whose digest is `seen`. One
    /// `variable.promoted` event in the target environment names what changed.
    pub async fn promote(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        from: &EnvironmentName,
        to: &EnvironmentName,
        chosen: &BTreeSet<String>,
        seen: &str,
    ) -> Result<usize> {
        if from == to {
            return Err(crate::validation::FieldError::new(
                "to",
                "Choose two different environments",
            )
            .into());
        }
        if chosen.is_empty() {
            return Err(crate::validation::FieldError::new(
                "apply",
                "Tick at least one change to apply",
            )
            .into());
        }
        let source = self.place(slug, from).await?;
        let target = self.place(slug, to).await?;
        let changed_meanwhile = || {
            ProjectError::Conflict(format!(
                "The variables of {from} or {to} changed since the difference was shown; nothing was applied. Review the new difference and apply again."
            ))
        };
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let differences = difference(
                &tx.variables(source.environment_id).await?,
                &tx.variables(target.environment_id).await?,
            );
            if digest(&differences) != seen {
                return Err(changed_meanwhile());
            }
            if let Some(key) = chosen.iter().find(|key| differences.iter().all(|d| &d.key != *key))
            {
                return Err(crate::validation::FieldError::new(
                    "apply",
                    format!("{key} is the same in {from} and {to}: there is nothing to apply"),
                )
                .into());
            }
            // Each write holds only while the target is as the difference saw it: on PostgreSQL
            // another transaction may commit between the check above and these writes.
            let (mut added, mut changed, mut removed) = (Vec::new(), Vec::new(), Vec::new());
            for Difference { key: text, change } in
                differences.iter().filter(|d| chosen.contains(&d.key))
            {
                let key = SecretKey::existing(text)?;
                let applied = match change {
                    Change::Added { value, include_in_export } => {
                        let value = VariableValue::parse(value.clone())?;
                        let row = variable_row(actor, &target, &key, &value, *include_in_export);
                        match tx.insert_variable(&row).await {
                            Err(error) if error.is_unique_violation() => false,
                            inserted => {
                                inserted?;
                                added.push(text.as_str());
                                true
                            }
                        }
                    }
                    Change::Changed { old, new, include_in_export } => {
                        let value = VariableValue::parse(new.clone())?;
                        let row = variable_row(actor, &target, &key, &value, *include_in_export);
                        changed.push(text.as_str());
                        tx.update_variable(&row, Some(old)).await?
                    }
                    Change::Removed { old } => {
                        removed.push(text.as_str());
                        tx.delete_variable(target.environment_id, text, Some(old)).await?
                    }
                };
                if !applied {
                    return Err(changed_meanwhile());
                }
            }
            let parts: Vec<String> =
                [("added", &added), ("changed", &changed), ("removed", &removed)]
                    .into_iter()
                    .filter(|(_, keys)| !keys.is_empty())
                    .map(|(what, keys)| format!("{what} {}", keys.join(", ")))
                    .collect();
            let details = format!("from {from}: {}", parts.join("; "));
            let event = Event::project(
                actor,
                AuditAction::VariablesPromoted,
                target.project_id,
                slug.as_str(),
                details,
            )
            .in_environment(to.as_str());
            self.audit.record(&mut *tx, event).await?;
            tx.commit().await?;
            Ok(added.len() + changed.len() + removed.len())
        })
    }
}
