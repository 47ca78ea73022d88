//! Builds a person's exposure report from what the database knows, and revokes their tokens.
use std::collections::BTreeMap;

use super::{
    CreatedToken, ExposedSecret, Exposure, ExposureReport,
    repo::{CurrentSecret, ExposureRows, ReadableVersion},
};
use crate::{
    accounts::domain::User,
    audit::{Actor, AuditAction, AuditLog, Event},
    error::AppError,
    ids::Version,
    leaks::service::delivered,
    store::{Store, with_pool},
    time::Millis,
    tokens::service::Tokens,
};

/// Where a secret is, as the report groups it: (team?, slug, environment, key).
type Place = (bool, String, String, String);

fn place(secret: &CurrentSecret) -> Place {
    (secret.kind == "team", secret.slug.clone(), secret.environment.clone(), secret.key.clone())
}

/// What `person` could know, at the current versions; audited as seen by `actor`.
pub async fn report(
    store: &Store,
    audit: &AuditLog,
    actor: &Actor,
    person: &User,
) -> Result<ExposureReport, AppError> {
    let now = Millis::now();
    // Read on a connection of its own; the audit event after, in a short transaction.
    let (typed, tokens, read) = with_pool!(store, |pool| {
        let mut conn = pool.acquire().await.map_err(AppError::internal)?;
        let typed = conn.typed_by(&person.email).await.map_err(AppError::internal)?;
        let tokens = conn.tokens_by(&person.email).await.map_err(AppError::internal)?;
        // The secrets whose current value a token read: the version it read holds the value the
        // secret holds now (by fingerprint; a newer version with another value rotated it).
        let mut read: BTreeMap<Place, (CurrentSecret, Vec<String>)> = BTreeMap::new();
        for token in &tokens {
            let actor_name = format!("token:{}", token.name);
            let until = token.revoked_at.unwrap_or(now);
            let reads = conn
                .reads_of(&actor_name, token.project_id, token.created_at, until)
                .await
                .map_err(AppError::internal)?;
            if reads.is_empty() {
                continue;
            }
            let mut seen: Vec<(String, Version, Option<String>)> = Vec::new();
            for row in reads {
                match (row.action.as_str(), row.key, row.version) {
                    ("secret.read", Some(key), Some(version)) => seen.push((key, version, None)),
                    _ => seen.extend(
                        delivered(row.details.as_deref().unwrap_or_default())
                            .map(|entry| (entry.key, entry.version, entry.team)),
                    ),
                }
            }
            let versions =
                conn.versions_for(token.environment_id).await.map_err(AppError::internal)?;
            let current: Vec<CurrentSecret> =
                versions.iter().filter_map(ReadableVersion::current).collect();
            let label = format!("{}/{}", token.slug, token.name);
            for secret in current {
                let team = (secret.kind == "team").then(|| secret.environment.clone());
                let same_place = |kind: &str, environment: &str, key: &str| {
                    kind == secret.kind && key == secret.key && environment == secret.environment
                };
                let was_read = seen.iter().any(|(key, version, from)| {
                    *key == secret.key
                        && *from == team
                        && versions.iter().any(|held| {
                            same_place(&held.kind, &held.environment, &held.key)
                                && held.version == *version
                                && held.fingerprint == secret.fingerprint
                        })
                });
                if !was_read {
                    continue;
                }
                let entry = read.entry(place(&secret)).or_insert_with(|| (secret, Vec::new()));
                if !entry.1.contains(&label) {
                    entry.1.push(label.clone());
                }
            }
        }
        (typed, tokens, read)
    });
    let typed_places: Vec<Place> = typed.iter().map(place).collect();
    let read_only = read.keys().filter(|at| !typed_places.contains(at)).count();
    let details = format!(
        "{}: {} secrets they typed, {read_only} more read by their tokens, {} tokens",
        person.email,
        typed.len(),
        tokens.len()
    );
    let event = Event::general(actor, AuditAction::UserExposureReported, Some(details));
    audit.record_alone(event).await.map_err(AppError::internal)?;
    let exposed = |secret: CurrentSecret, exposure: Exposure, tokens: Vec<String>| ExposedSecret {
        exposure,
        project: (secret.kind != "team").then_some(secret.slug),
        environment: secret.environment,
        key: secret.key,
        version: secret.version,
        set_at: secret.created_at,
        tokens,
    };
    // A secret they typed is listed once, as typed.
    let mut secrets: Vec<ExposedSecret> =
        typed.into_iter().map(|secret| exposed(secret, Exposure::Typed, Vec::new())).collect();
    secrets.extend(
        read.into_iter()
            .filter(|(at, _)| !typed_places.contains(at))
            .map(|(_, (secret, tokens))| exposed(secret, Exposure::ReadByToken, tokens)),
    );
    let tokens = tokens
        .into_iter()
        .map(|token| CreatedToken {
            id: token.id,
            project: token.slug,
            name: token.name,
            environment: token.environment,
            scope: token.scope,
            created_at: token.created_at,
            last_used_at: token.last_used_at,
            revoked: token.revoked_at.is_some(),
        })
        .collect();
    Ok(ExposureReport {
        user_id: person.id,
        email: person.email.clone(),
        active: person.active,
        now,
        secrets,
        tokens,
    })
}

/// Revokes every live token `person` created (each audited as `token.revoked`): how many.
pub async fn revoke_all(
    store: &Store,
    tokens: &Tokens,
    actor: &Actor,
    person: &User,
) -> Result<usize, AppError> {
    let rows = with_pool!(store, |pool| {
        pool.acquire()
            .await
            .map_err(AppError::internal)?
            .tokens_by(&person.email)
            .await
            .map_err(AppError::internal)?
    });
    let mut revoked = 0;
    for token in rows.into_iter().filter(|token| token.revoked_at.is_none()) {
        let slug = crate::projects::ProjectSlug::parse(&token.slug).map_err(AppError::internal)?;
        match tokens.revoke(actor, &slug, token.id).await {
            Ok(_) => revoked += 1,
            // Revoked by someone else meanwhile.
            Err(crate::projects::service::ProjectError::NotFound(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(revoked)
}
