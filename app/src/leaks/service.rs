//! One leak check: audited and counted against the person's hourly allowance first, in the
//! transaction that then finds the versions by fingerprint and what read them.
use std::collections::BTreeMap;

use super::{
    CHECKS_PER_HOUR, LeakMatch, LeakReport,
    repo::{EnvironmentRead, LeakRows},
};
use crate::{
    audit::{Actor, AuditAction, Event},
    environments::TEAM_ENVIRONMENT,
    error::AppError,
    ids::Version,
    secrets::{domain::SecretValue, service::Vault},
    store::{WritePool, with_pool},
    time::{HOUR_MS, Millis},
};

/// Which secrets hold (or held) `value`. Refused with 429 after [`CHECKS_PER_HOUR`] checks by
/// the same person within an hour.
pub async fn check(
    vault: &Vault,
    actor: &Actor,
    value: &SecretValue,
) -> Result<LeakReport, AppError> {
    let fingerprint = vault.keyring().fingerprint_key().fingerprint(value.expose().as_bytes());
    let now = Millis::now();
    let action = AuditAction::SecretSearchedByValue;
    let audit = vault.audit();
    // Counted and recorded in a transaction of its own, short: it holds the audit chain's lock.
    // The count includes this check; a refused one rolls back with its event, and is recorded
    // as refused (which the count leaves out) so that attempts stay visible.
    let refused = with_pool!(vault.store(), |pool| {
        let mut tx = pool.begin_write().await.map_err(AppError::internal)?;
        audit
            .record(&mut *tx, Event::general(actor, action, None))
            .await
            .map_err(AppError::internal)?;
        let checks = tx
            .checks_since(&actor.name, action.as_str(), now - HOUR_MS)
            .await
            .map_err(AppError::internal)?;
        match checks > CHECKS_PER_HOUR {
            true => true,
            false => {
                tx.commit().await.map_err(AppError::internal)?;
                false
            }
        }
    });
    if refused {
        let details = format!("more than {CHECKS_PER_HOUR} in an hour");
        let event = Event::general(actor, AuditAction::SecretSearchRefused, Some(details));
        audit.record_alone(event).await.map_err(AppError::internal)?;
        return Err(AppError::TooManyRequests(format!(
            "At most {CHECKS_PER_HOUR} leak checks an hour: try again later"
        )));
    }
    // The search reads only, on a connection of its own.
    let matches = with_pool!(vault.store(), |pool| {
        let mut conn = pool.acquire().await.map_err(AppError::internal)?;
        let held = conn.held_by(&fingerprint.0[..]).await.map_err(AppError::internal)?;
        // The whole-environment reads that may name a key, once per key, since its oldest
        // matching version was written.
        let mut since: BTreeMap<String, Millis> = BTreeMap::new();
        for row in &held {
            let oldest = since.entry(row.key.clone()).or_insert(row.created_at);
            *oldest = (*oldest).min(row.created_at);
        }
        let mut deliveries: BTreeMap<String, Vec<EnvironmentRead>> = BTreeMap::new();
        for (key, at) in since {
            let reads = conn.environment_reads(&key, at).await.map_err(AppError::internal)?;
            deliveries.insert(key, reads);
        }
        let mut matches = Vec::with_capacity(held.len());
        for row in held {
            let team = row.kind == "team";
            let mut readers: BTreeMap<String, (i64, usize)> = BTreeMap::new();
            let mut note = |actor: &str, count: i64| {
                let order = readers.len();
                readers.entry(actor.to_string()).or_insert((0, order)).0 += count;
            };
            if !team {
                let reads = conn
                    .secret_reads(
                        row.project_id,
                        &row.environment,
                        &row.key,
                        row.version,
                        row.created_at,
                    )
                    .await
                    .map_err(AppError::internal)?;
                for (actor, count) in reads {
                    note(&actor, count);
                }
            }
            for read in deliveries.get(&row.key).into_iter().flatten() {
                let place_matches = team
                    || (read.project_id == Some(row.project_id)
                        && read.environment.as_deref() == Some(row.environment.as_str()));
                let holds = read.at >= row.created_at
                    && read.details.as_deref().is_some_and(|details| {
                        delivered(details).any(|entry| {
                            entry.key == row.key
                                && entry.version == row.version
                                && entry.team.as_deref() == team.then_some(row.environment.as_str())
                        })
                    });
                if place_matches && holds {
                    note(&read.actor, 1);
                }
            }
            let mut readers: Vec<(String, (i64, usize))> = readers.into_iter().collect();
            readers.sort_by_key(|(_, (_, order))| *order);
            matches.push(LeakMatch {
                project: (!team).then_some(row.slug),
                environment: row.environment,
                current: row.version == row.current_version,
                key: row.key,
                version: row.version,
                set_at: row.created_at,
                set_by: row.created_by,
                reads: readers.iter().map(|(_, (count, _))| count).sum(),
                readers: readers.into_iter().map(|(actor, _)| actor).collect(),
            });
        }
        matches
    });
    Ok(LeakReport { checked_at: now, matches })
}

/// One entry of an `environment.read` event's details: `KEY v3`, `KEY v3 (team)` (a team
/// secret for every environment: `*`) or `KEY v3 (team, production)`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Delivered {
    pub(crate) key: String,
    pub(crate) version: Version,
    pub(crate) team: Option<String>,
}

/// The entries of an `environment.read` event's details, as `secrets::runtime` writes them
/// (joined by `, `; a team entry's parenthesis may hold one too).
pub(crate) fn delivered(details: &str) -> impl Iterator<Item = Delivered> + '_ {
    let mut rest = details;
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_start_matches([',', ' ']);
            if rest.is_empty() {
                return None;
            }
            let (entry, after) = split_entry(rest);
            rest = after;
            if let Some(entry) = parse_entry(entry) {
                return Some(entry);
            }
        }
    })
}

/// The first entry and what follows it: up to the first `, ` outside parentheses.
fn split_entry(text: &str) -> (&str, &str) {
    let mut depth = 0_i32;
    for (index, character) in text.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => return (&text[..index], &text[index..]),
            _ => {}
        }
    }
    (text, "")
}

fn parse_entry(entry: &str) -> Option<Delivered> {
    let (head, team) = match entry.split_once(" (team") {
        Some((head, tail)) => {
            let name = tail.strip_suffix(')')?;
            let name = match name.strip_prefix(", ") {
                Some(name) => name.to_string(),
                None if name.is_empty() => TEAM_ENVIRONMENT.to_string(),
                None => return None,
            };
            (head, Some(name))
        }
        None => (entry, None),
    };
    let (key, version) = head.trim().rsplit_once(" v")?;
    Some(Delivered { key: key.to_string(), version: Version(version.parse().ok()?), team })
}

#[cfg(test)]
mod tests {
    use super::{Delivered, delivered};
    use crate::ids::Version;

    fn entry(key: &str, version: i64, team: Option<&str>) -> Delivered {
        Delivered { key: key.into(), version: Version(version), team: team.map(str::to_string) }
    }

    #[test]
    fn the_details_of_an_environment_read_name_each_key_version_and_team_scope() {
        let details = "API_KEY v3, SENTRY_DSN v1 (team), DB_URL v12 (team, production), X v2";
        assert_eq!(
            delivered(details).collect::<Vec<_>>(),
            [
                entry("API_KEY", 3, None),
                entry("SENTRY_DSN", 1, Some("*")),
                entry("DB_URL", 12, Some("production")),
                entry("X", 2, None),
            ]
        );
        assert_eq!(delivered("").count(), 0);
        assert_eq!(delivered("garbage, KEY vx, OK v1").collect::<Vec<_>>(), [entry("OK", 1, None)]);
    }
}
