//! People: the first owner, members, roles, deactivation, and the periodic clean-up. Signing
//! in (and its throttling) is in `sign_in.rs`.
pub use super::domain::User;
use super::{
    domain::{DisplayName, Email, Password, Role},
    password::{self, HashError},
};
use crate::{
    audit::{Actor, AuditAction, AuditLog, Event},
    error::AppError,
    store::{Store, WritePool, now_millis, with_pool},
    validation::FieldError,
};

/// Failed sign-ins allowed per account, and per IP, within [`THROTTLE_WINDOW_MS`].
pub const MAX_FAILURES: i64 = 5;
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
pub const INVALID_CREDENTIALS: &str = "Invalid email or password";
/// How long a first-run set-up link works; a server started later logs a new one.
pub const SETUP_TOKEN_LIFETIME_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(#[from] FieldError),
    /// Wrong email or password, unknown or deactivated account: one message for all.
    #[error("Invalid email or password")]
    InvalidCredentials,
    #[error("Too many sign-in attempts; try again in {minutes} minutes")]
    Throttled { minutes: i64 },
    #[error("{0}")]
    Forbidden(String),
    #[error("There is no such user")]
    NotFound,
    #[error(
        "The last active owner cannot be demoted or deactivated; make someone else an owner first"
    )]
    LastOwner,
    /// Every core is hashing passwords: a burst of sign-ins is refused rather than queued.
    #[error("Sign-in is busy; try again in a moment")]
    Busy,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<AccountError> for AppError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Invalid(field) => field.into(),
            AccountError::InvalidCredentials => Self::Validation(INVALID_CREDENTIALS.to_string()),
            AccountError::Throttled { .. } => Self::TooManyRequests(error.to_string()),
            AccountError::Forbidden(message) => Self::Forbidden(message),
            AccountError::NotFound => Self::NotFound(error.to_string()),
            AccountError::LastOwner => Self::Conflict(error.to_string()),
            AccountError::Busy => Self::Unavailable(error.to_string()),
            other => Self::internal(other),
        }
    }
}

impl From<HashError> for AccountError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => Self::Busy,
            HashError::Failed(cause) => Self::Internal(anyhow::anyhow!(cause)),
        }
    }
}

pub(super) type Result<T, E = AccountError> = std::result::Result<T, E>;

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: i64,
    email: String,
    display_name: String,
    role: String,
    active: bool,
    created_at: i64,
    last_sign_in_at: Option<i64>,
}

impl UserRow {
    pub(super) fn into_user(self) -> Result<User> {
        Ok(User {
            role: Role::parse(&self.role)?,
            id: self.id,
            email: self.email,
            display_name: self.display_name,
            active: self.active,
            created_at: self.created_at,
            last_sign_in_at: self.last_sign_in_at,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Membership {
    Role(Role),
    Active(bool),
}

/// Owners and admins manage members; only owners give or change the owner role.
fn require_may_assign(manager: &User, current: Option<Role>, new: Role) -> Result<()> {
    if !manager.active || !manager.role.can_manage() {
        return Err(AccountError::Forbidden("Only owners and admins can manage members.".into()));
    }
    let touches_owner = new == Role::Owner || current == Some(Role::Owner);
    if touches_owner && manager.role != Role::Owner {
        return Err(AccountError::Forbidden(
            "Only owners can add, change or deactivate owners.".into(),
        ));
    }
    Ok(())
}

fn token_hash(token: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).to_vec()
}

pub(super) const USER_COLUMNS: &str =
    "id, email, display_name, role, active, created_at, last_sign_in_at";

#[derive(Clone)]
pub struct Accounts {
    pub(super) store: Store,
    pub(super) audit: AuditLog,
}

impl Accounts {
    pub fn new(store: Store, audit: AuditLog) -> Self {
        Self { store, audit }
    }

    /// The user with this id if they exist and are active.
    pub async fn find_active(&self, id: i64) -> Result<Option<User>> {
        let row: Option<UserRow> = with_pool!(self.store, |pool| {
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND active"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(UserRow::into_user).transpose()
    }

    /// With no users yet, registers a fresh one-time set-up token and returns it (to be logged
    /// as a URL); `None` once anyone exists.
    pub async fn issue_setup_token(&self) -> Result<Option<String>> {
        if self.count_users().await? > 0 {
            return Ok(None);
        }
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        with_pool!(self.store, |pool| {
            sqlx::query("INSERT INTO setup_tokens (token_hash, created_at) VALUES ($1, $2)")
                .bind(token_hash(&token))
                .bind(now_millis())
                .execute(pool)
                .await?;
        });
        Ok(Some(token))
    }

    /// Creates the first owner with a valid set-up token, then deletes every token. Refused once
    /// any user exists.
    pub async fn create_first_owner(
        &self,
        token: &str,
        email: Email,
        name: DisplayName,
        password: Password,
        ip: Option<String>,
    ) -> Result<User> {
        let actor = Actor::new(email.as_str(), ip);
        self.insert_user(&actor, email, name, Role::Owner, password, Some(token)).await
    }

    /// Everyone, owners first, then by email.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = with_pool!(self.store, |pool| {
            sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY \
                 CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, email"
            ))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(UserRow::into_user).collect()
    }

    /// An owner or admin adds someone; only owners add owners.
    pub async fn add_member(
        &self,
        manager: &User,
        actor: &Actor,
        email: Email,
        name: DisplayName,
        role: Role,
        password: Password,
    ) -> Result<User> {
        require_may_assign(manager, None, role)?;
        self.create_user(actor, email, name, role, password).await
    }

    /// Changes someone's role. Only owners touch owners; the last active owner stays an owner.
    pub async fn change_role(
        &self,
        manager: &User,
        actor: &Actor,
        user_id: i64,
        role: Role,
    ) -> Result<User> {
        self.change_membership(manager, actor, user_id, Membership::Role(role)).await
    }

    /// Deactivates (signed out on their next request) or reactivates someone.
    pub async fn set_active(
        &self,
        manager: &User,
        actor: &Actor,
        user_id: i64,
        active: bool,
    ) -> Result<User> {
        self.change_membership(manager, actor, user_id, Membership::Active(active)).await
    }

    async fn change_membership(
        &self,
        manager: &User,
        actor: &Actor,
        user_id: i64,
        change: Membership,
    ) -> Result<User> {
        let now = now_millis();
        let row: UserRow = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            // Serializes membership changes on both backends (a row lock on PostgreSQL, the
            // write lock on SQLite), so two concurrent demotions cannot remove the last owner.
            sqlx::query("UPDATE instance SET id = id WHERE id = 1").execute(&mut *tx).await?;
            let target: Option<UserRow> =
                sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let target = target.ok_or(AccountError::NotFound)?.into_user()?;
            let (role, active) = match change {
                Membership::Role(role) => (role, target.active),
                Membership::Active(active) => (target.role, active),
            };
            require_may_assign(manager, Some(target.role), role)?;
            let loses_owner =
                target.role == Role::Owner && target.active && (role != Role::Owner || !active);
            if loses_owner {
                let owners: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM users WHERE role = 'owner' AND active",
                )
                .fetch_one(&mut *tx)
                .await?;
                if owners <= 1 {
                    return Err(AccountError::LastOwner);
                }
            }
            let row: UserRow = sqlx::query_as(&format!(
                "UPDATE users SET role = $1, active = $2, updated_at = $3 WHERE id = $4 \
                 RETURNING {USER_COLUMNS}"
            ))
            .bind(role.as_str())
            .bind(active)
            .bind(now)
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
            // A new role or a deactivation signs them out at once on every server: their next
            // request has no session.
            if role != target.role || (target.active && !active) {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let (action, details) = match change {
                Membership::Role(role) => (
                    AuditAction::UserRoleChanged,
                    format!("{}: {} → {}", target.email, target.role.as_str(), role.as_str()),
                ),
                Membership::Active(true) => (AuditAction::UserReactivated, target.email.clone()),
                Membership::Active(false) => (AuditAction::UserDeactivated, target.email.clone()),
            };
            self.audit.record(&mut *tx, Event::general(actor, action, Some(details))).await?;
            tx.commit().await?;
            row
        });
        row.into_user()
    }

    pub async fn count_users(&self) -> Result<i64> {
        Ok(with_pool!(self.store, |pool| {
            sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await?
        }))
    }

    pub async fn create_user(
        &self,
        actor: &Actor,
        email: Email,
        name: DisplayName,
        role: Role,
        password: Password,
    ) -> Result<User> {
        self.insert_user(actor, email, name, role, password, None).await
    }

    /// Hashes the password, then in one transaction claims the set-up (when `setup_token` is
    /// given), inserts the user and records the event: a failure at any step, a busy hash
    /// included, leaves the set-up link usable.
    async fn insert_user(
        &self,
        actor: &Actor,
        email: Email,
        name: DisplayName,
        role: Role,
        password: Password,
        setup_token: Option<&str>,
    ) -> Result<User> {
        let hash = password::hash(password).await?;
        let now = now_millis();
        let id: i64 = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            if let Some(token) = setup_token {
                // One statement claims the set-up: it deletes every token only if this one is
                // valid and nobody exists yet, so of two concurrent attempts exactly one gets rows.
                let claimed: Vec<Vec<u8>> = sqlx::query_scalar(
                    "DELETE FROM setup_tokens WHERE NOT EXISTS (SELECT 1 FROM users) \
                     AND EXISTS (SELECT 1 FROM setup_tokens WHERE token_hash = $1 \
                     AND created_at > $2) RETURNING token_hash",
                )
                .bind(token_hash(token))
                .bind(now - SETUP_TOKEN_LIFETIME_MS)
                .fetch_all(&mut *tx)
                .await?;
                if claimed.is_empty() {
                    return Err(AccountError::Invalid(FieldError::new(
                        "token",
                        "This set-up link is not valid or has expired (a link lasts one hour). \
                         Use the newest one in the server log (restart the server for a new \
                         one), or sign in if an owner already exists.",
                    )));
                }
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (email, display_name, password_hash, role, active, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, TRUE, $5, $5) RETURNING id",
            )
            .bind(email.as_str())
            .bind(name.as_str())
            .bind(&hash)
            .bind(role.as_str())
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|error| match error.as_database_error() {
                Some(db) if db.is_unique_violation() => AccountError::Invalid(FieldError::new(
                    "email",
                    "A user with this email already exists",
                )),
                _ => AccountError::Database(error),
            })?;
            self.audit
                .record(
                    &mut *tx,
                    Event::general(
                        actor,
                        AuditAction::UserCreated,
                        Some(format!("{} as {}", email.as_str(), role.as_str())),
                    ),
                )
                .await?;
            tx.commit().await?;
            id
        });
        Ok(User {
            id,
            email: email.as_str().to_string(),
            display_name: name.as_str().to_string(),
            role,
            active: true,
            created_at: now,
            last_sign_in_at: None,
        })
    }

    /// The periodic clean-up: closes throttling windows, forgets failures older than the
    /// window, and removes set-up links that have expired.
    pub async fn clean_up(&self, now: i64) -> Result<()> {
        self.close_throttle_windows(now).await?;
        with_pool!(self.store, |pool| {
            sqlx::query("DELETE FROM sign_in_failures WHERE at <= $1")
                .bind(now - THROTTLE_WINDOW_MS)
                .execute(pool)
                .await?;
            sqlx::query("DELETE FROM setup_tokens WHERE created_at <= $1")
                .bind(now - SETUP_TOKEN_LIFETIME_MS)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
