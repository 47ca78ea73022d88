//! Making, listing, revoking and checking service tokens. A token is `sbx_` and 256 random bits
//! (base64url); the database keeps its SHA-256 only, so a copy of the database holds no usable
//! token. Creation and revocation are audited in their own transaction.
use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{
    TOKEN_PREFIX, TokenInfo, TokenName, TokenScope,
    repo::{NewTokenRow, TokenRow, TokenRows},
};
use crate::{
    audit::{Actor, AuditAction, AuditLog, Event},
    environments::{EnvironmentName, repo::EnvironmentRows},
    ids::{EnvironmentId, ProjectId, TokenId},
    not_found::NotFound,
    projects::{ProjectSlug, repo::ProjectRows, service::ProjectError},
    store::{
        Store, WritePool,
        snapshot::{Lookup, SnapshotCache},
        with_pool,
    },
    time::{DAY_MS, MINUTE_MS, Millis},
    validation::FieldError,
};

/// `last_used_at` is written at most this often per token, so that a busy program does not turn
/// every read into a write.
const LAST_USED_RESOLUTION_MS: i64 = MINUTE_MS;

/// A token in the clear: exists only between its creation and the response that shows it.
/// No `Debug`, no `Serialize`, no `Clone`; zeroized when dropped.
pub struct NewToken(Zeroizing<String>);

impl NewToken {
    fn generate() -> Self {
        let mut bytes = Zeroizing::new([0_u8; 32]);
        rand::rng().fill_bytes(&mut bytes[..]);
        Self(Zeroizing::new(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes[..]))))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Why a bearer token was not accepted. Each is a 401; the message says which, without saying
/// anything about tokens the caller does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("Send a service token as 'Authorization: Bearer sbx_…'")]
    Missing,
    #[error("This token is not valid")]
    Invalid,
    #[error("This token has expired; create a new one on the project's Tokens tab")]
    Expired,
    #[error("This token was revoked")]
    Revoked,
}

/// The program a valid token stands for.
#[derive(Debug, Clone)]
pub struct TokenHolder {
    pub token_id: TokenId,
    pub name: String,
    pub scope: TokenScope,
    pub project_id: ProjectId,
    pub project_slug: String,
    /// The one environment it reads and writes.
    pub environment_id: EnvironmentId,
    pub environment: String,
}

impl TokenHolder {
    /// How the audit log names this program.
    pub fn actor(&self, ip: Option<String>) -> Actor {
        Actor::new(format!("token:{}", self.name), ip)
    }
}

fn token_info(row: TokenRow) -> TokenInfo {
    TokenInfo {
        id: row.id,
        name: row.name,
        scope: TokenScope::parse(&row.scope).unwrap_or(TokenScope::Read),
        environment: row.environment,
        created_at: row.created_at,
        created_by: row.created_by,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
    }
}

#[derive(Clone)]
pub struct Tokens {
    store: Store,
    audit: AuditLog,
    /// Valid tokens as read at a run-time generation, by hash (see [`crate::store::snapshot`]).
    known: Arc<SnapshotCache<[u8; 32], Arc<Known>>>,
}

/// A valid token as the database described it.
struct Known {
    holder: TokenHolder,
    expires_at: Option<Millis>,
    /// When its use was last noted (`i64::MIN`: never), shared by the requests that use it.
    last_used_at: AtomicI64,
}

type Result<T, E = ProjectError> = std::result::Result<T, E>;

impl Tokens {
    pub fn new(store: Store, audit: AuditLog) -> Self {
        Self { store, audit, known: Arc::default() }
    }

    async fn project_id(&self, slug: &ProjectSlug) -> Result<ProjectId> {
        let id =
            with_pool!(self.store, |pool| pool.acquire().await?.project_id(slug.as_str()).await?);
        Ok(id.ok_or_else(|| NotFound::project(slug))?)
    }

    /// The project's live (not revoked) tokens, newest first.
    pub async fn list(&self, slug: &ProjectSlug) -> Result<Vec<TokenInfo>> {
        let project_id = self.project_id(slug).await?;
        let rows =
            with_pool!(self.store, |pool| pool.acquire().await?.live_tokens(project_id).await?);
        Ok(rows.into_iter().map(token_info).collect())
    }

    /// The project's id and its environment `environment` (the first one when `None`): its id
    /// and name.
    async fn environment(
        &self,
        slug: &ProjectSlug,
        environment: Option<&EnvironmentName>,
    ) -> Result<(ProjectId, EnvironmentId, String)> {
        let found = with_pool!(self.store, |pool| {
            let mut connection = pool.acquire().await?;
            match environment {
                Some(name) => {
                    connection.place(Some(slug.as_str()), name.as_str()).await?.map(|row| {
                        (row.project_id, row.environment_id.map(|id| (id, name.to_string())))
                    })
                }
                None => match connection.project_id(slug.as_str()).await? {
                    Some(project_id) => {
                        let first = connection.environments(project_id).await?.into_iter().next();
                        Some((project_id, first.map(|first| (first.id, first.name))))
                    }
                    None => None,
                },
            }
        });
        let (project_id, environment_row) = found.ok_or_else(|| NotFound::project(slug))?;
        let (environment_id, name) = environment_row.ok_or_else(|| {
            NotFound::environment(slug, environment.map_or("(none)", EnvironmentName::as_str))
        })?;
        Ok((project_id, environment_id, name))
    }

    /// Makes a token for one environment of the project (its first environment when
    /// `environment` is `None`). The returned [`NewToken`] is the only copy there will ever be.
    pub async fn create(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        environment: Option<&EnvironmentName>,
        name: TokenName,
        scope: TokenScope,
        expires_in_days: Option<i64>,
    ) -> Result<(TokenInfo, NewToken)> {
        let (project_id, environment_id, environment) = self.environment(slug, environment).await?;
        let token = NewToken::generate();
        let now = Millis::now();
        let expires_at = expires_in_days.map(|days| now + days * DAY_MS);
        let taken = || {
            ProjectError::Invalid(FieldError::new(
                "name",
                format!("This project already has a token named {}", name.as_str()),
            ))
        };
        let hash = token_hash(token.expose());
        let row = NewTokenRow {
            project_id,
            environment_id,
            name: name.as_str(),
            scope: scope.as_str(),
            hash: &hash,
            at: now,
            by: &actor.name,
            expires_at,
        };
        let id: TokenId = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            if tx.live_name_taken(project_id, name.as_str()).await? {
                return Err(taken());
            }
            let id = match tx.insert_token(&row).await {
                Ok(id) => id,
                // Two people creating the same name at once: the unique index decides.
                Err(error) if error.is_unique_violation() => {
                    return Err(taken());
                }
                Err(error) => return Err(error.into()),
            };
            self.audit
                .record(
                    &mut *tx,
                    Event::project(
                        actor,
                        AuditAction::TokenCreated,
                        project_id,
                        slug.as_str(),
                        format!(
                            "{} ({}, {})",
                            name.as_str(),
                            scope.as_str(),
                            expires_in_days.map_or("never expires".to_string(), |d| format!(
                                "expires in {d} days"
                            ))
                        ),
                    )
                    .in_environment(&environment),
                )
                .await?;
            tx.commit().await?;
            id
        });
        let info = TokenInfo {
            id,
            name: name.as_str().to_string(),
            scope,
            environment: environment.clone(),
            created_at: now,
            created_by: actor.name.clone(),
            expires_at,
            last_used_at: None,
        };
        Ok((info, token))
    }

    /// Revokes one of the project's live tokens; the next request with it gets a 401. Returns
    /// its name.
    pub async fn revoke(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        token_id: TokenId,
    ) -> Result<String> {
        let project_id = self.project_id(slug).await?;
        let name: String = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let revoked = tx.revoke_token(project_id, token_id, Millis::now()).await?;
            let (name, environment) = revoked.ok_or_else(NotFound::token)?;
            self.audit
                .record(
                    &mut *tx,
                    Event::project(
                        actor,
                        AuditAction::TokenRevoked,
                        project_id,
                        slug.as_str(),
                        name.clone(),
                    )
                    .in_environment(&environment),
                )
                .await?;
            tx.commit().await?;
            name
        });
        Ok(name)
    }

    /// The program `token` stands for, asking the database; refuses a missing, unknown, revoked
    /// or expired token.
    pub async fn authenticate(
        &self,
        token: Option<&str>,
    ) -> Result<TokenHolder, AuthenticationError> {
        let hash = bearer_hash(token)?;
        Ok(self.look_up(&hash).await?.holder)
    }

    /// As [`Tokens::authenticate`], for a read whose audit event is appended only while the
    /// run-time generation is unchanged ([`crate::audit::AuditLog::record_alone_at`]): the holder and the
    /// generation it was read at. A token read at the newest generation this server has seen is
    /// not asked for again unless `fresh`; expiry is checked against the clock every time.
    pub async fn authenticate_at(
        &self,
        token: Option<&str>,
        fresh: bool,
    ) -> Result<(TokenHolder, i64), AuthenticationError> {
        let hash = bearer_hash(token)?;
        if !fresh && let Lookup::Hit(generation, known) = self.known.get(&hash) {
            let now = Millis::now();
            if known.expires_at.is_some_and(|at| at <= now) {
                return Err(TokenRejection::Expired.into());
            }
            self.note_use(&known, now).await;
            return Ok((known.holder.clone(), generation));
        }
        // The counter first: the token read after it is at least this new.
        let generation = self.store.run_time_generation().await?;
        let known = Arc::new(self.look_up(&hash).await?);
        self.known.insert(generation, hash, known.clone());
        Ok((known.holder.clone(), generation))
    }

    /// Notes that a request read at a generation older than `current` must read again.
    pub fn saw_generation(&self, current: i64) {
        self.known.saw(current);
    }

    async fn look_up(&self, hash: &[u8; 32]) -> Result<Known, AuthenticationError> {
        let row = with_pool!(self.store, |pool| pool.acquire().await?.token_by_hash(hash).await?);
        let row = row.ok_or(TokenRejection::Invalid)?;
        let now = Millis::now();
        if row.revoked_at.is_some() {
            return Err(TokenRejection::Revoked.into());
        }
        if row.expires_at.is_some_and(|at| at <= now) {
            return Err(TokenRejection::Expired.into());
        }
        let known = Known {
            holder: TokenHolder {
                token_id: row.id,
                scope: TokenScope::parse(&row.scope).map_err(|_| TokenRejection::Invalid)?,
                name: row.name,
                project_id: row.project_id,
                project_slug: row.slug,
                environment_id: row.environment_id,
                environment: row.environment,
            },
            expires_at: row.expires_at,
            last_used_at: AtomicI64::new(row.last_used_at.map_or(i64::MIN, i64::from)),
        };
        self.note_use(&known, now).await;
        Ok(known)
    }

    /// Writes `last_used_at` when the last note is older than the resolution: one request per
    /// token and minute in this process claims it, and the update is conditional so that several
    /// servers note one use between them. A failure to note it does not refuse the request.
    async fn note_use(&self, known: &Known, now: Millis) {
        let noted = known.last_used_at.load(Ordering::Relaxed);
        if noted > (now - LAST_USED_RESOLUTION_MS).0
            || known
                .last_used_at
                .compare_exchange(noted, now.0, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let written: anyhow::Result<()> = async {
            let (id, before) = (known.holder.token_id, now - LAST_USED_RESOLUTION_MS);
            with_pool!(self.store, |pool| {
                pool.acquire().await?.note_token_use(id, now, before).await?;
            });
            Ok(())
        }
        .await;
        if let Err(error) = written {
            tracing::warn!(error = format!("{error:#}"), "could not note a token's last use");
        }
    }
}

/// The hash of a bearer token that looks like one of ours.
fn bearer_hash(token: Option<&str>) -> Result<[u8; 32], TokenRejection> {
    let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or(TokenRejection::Missing)?;
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Err(TokenRejection::Invalid);
    }
    Ok(token_hash(token))
}

/// A token that was refused, or a database that could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticationError {
    #[error(transparent)]
    Rejected(#[from] TokenRejection),
    #[error("cannot check the token: {0}")]
    Database(#[from] sqlx::Error),
    /// A repository statement failed: the error names it.
    #[error(transparent)]
    Repo(#[from] crate::store::RepoError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_the_prefix_and_256_random_bits() {
        let (a, b) = (NewToken::generate(), NewToken::generate());
        assert!(a.expose().starts_with("sbx_"));
        assert_eq!(a.expose().len(), 4 + 43, "32 bytes in unpadded base64url");
        assert_ne!(a.expose(), b.expose());
        assert_eq!(token_hash(a.expose()).len(), 32);
    }
}
