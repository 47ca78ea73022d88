//! Builds the comparison grid from four reads on one connection: the environments, the
//! required keys, every current version's fingerprint, and the team secrets' keys.
use std::collections::{BTreeMap, BTreeSet};

use super::{Cell, ComparedKey, Comparison};
use crate::{
    environments::{TEAM_ENVIRONMENT, repo::EnvironmentRows},
    ids::EnvironmentId,
    not_found::NotFound,
    projects::{ProjectSlug, repo::ProjectRows, service::ProjectError},
    secrets::repo::{CurrentCell, SecretRows},
    store::{Store, with_pool},
    time::Millis,
};

/// The grid of the project `slug`. `managers`: the caller is an owner or admin, who sees which
/// environments share a value.
pub async fn compare(
    store: &Store,
    slug: &ProjectSlug,
    managers: bool,
) -> Result<Comparison, ProjectError> {
    let (environments, required, cells, team) = with_pool!(store, |pool| {
        let mut connection = pool.acquire().await?;
        let project_id =
            connection.project_id(slug.as_str()).await?.ok_or_else(|| NotFound::project(slug))?;
        (
            connection.environments(project_id).await?,
            connection.required_secrets(project_id).await?,
            connection.current_cells(project_id).await?,
            connection.team_keys().await?,
        )
    });
    let column: BTreeMap<EnvironmentId, usize> =
        environments.iter().enumerate().map(|(index, e)| (e.id, index)).collect();
    let required: BTreeSet<String> = required.into_iter().collect();
    // Key → the current version in each column.
    let mut held: BTreeMap<String, Vec<Option<CurrentCell>>> = BTreeMap::new();
    for key in &required {
        held.entry(key.clone()).or_insert_with(|| empty(environments.len()));
    }
    for cell in cells {
        let Some(&index) = column.get(&cell.environment_id) else { continue };
        let row = held.entry(cell.key.clone()).or_insert_with(|| empty(environments.len()));
        row[index] = Some(cell);
    }
    let team: BTreeSet<(String, String)> = team.into_iter().collect();
    let names: Vec<String> = environments.into_iter().map(|e| e.name).collect();
    let rows = held
        .into_iter()
        .map(|(key, row)| {
            let is_required = required.contains(&key);
            let copy_from = row.iter().zip(&names).find(|(cell, _)| cell.is_some());
            let copy_from = copy_from.map(|(_, name)| name.clone());
            let cells = row
                .iter()
                .zip(&names)
                .enumerate()
                .map(|(index, (cell, name))| match cell {
                    Some(cell) => Cell::Set {
                        version: cell.version,
                        updated_at: cell.updated_at,
                        same_as: managers.then(|| same_as(&row, index, &names)).flatten(),
                    },
                    None => {
                        let for_name = (key.clone(), name.clone());
                        let for_all = (key.clone(), TEAM_ENVIRONMENT.to_string());
                        if team.contains(&for_name) {
                            Cell::Team { from: name.clone() }
                        } else if team.contains(&for_all) {
                            Cell::Team { from: TEAM_ENVIRONMENT.to_string() }
                        } else {
                            Cell::Missing { required: is_required, copy_from: copy_from.clone() }
                        }
                    }
                })
                .collect();
            ComparedKey { key, required: is_required, cells }
        })
        .collect();
    Ok(Comparison {
        slug: slug.to_string(),
        can_manage: managers,
        now: Millis::now(),
        environments: names,
        rows,
    })
}

fn empty(columns: usize) -> Vec<Option<CurrentCell>> {
    (0..columns).map(|_| None).collect()
}

/// The first other column whose current value has the same fingerprint as column `index`'s.
fn same_as(row: &[Option<CurrentCell>], index: usize, names: &[String]) -> Option<String> {
    let mine = row.get(index)?.as_ref()?;
    row.iter()
        .zip(names)
        .enumerate()
        .filter(|(other, _)| *other != index)
        .find(|(_, (cell, _))| cell.as_ref().is_some_and(|c| c.fingerprint == mine.fingerprint))
        .map(|(_, (_, name))| name.clone())
}
