//! People: the first owner, members, roles, deactivation, and the periodic clean-up. Signing
//! in (and its throttling) is in `sign_in.rs`.
pub use super::domain::User;
use super::{
    domain::{DisplayName, Email, Password, Role},
    password::{self, HashError},
    repo::{NewUserRow, UserRow, UserRows},
};
use crate::{
    audit::{Actor, AuditAction, AuditLog, Event},
    error::AppError,
    ids::UserId,
    store::{Store, WritePool, with_pool},
    time::{HOUR_MS, Millis},
    validation::FieldError,
};

/// Failed sign-ins allowed per account, and per IP, within [`THROTTLE_WINDOW_MS`].
pub const MAX_FAILURES: i64 = 5;
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
pub const INVALID_CREDENTIALS: &str = "Invalid email or password";
/// How long a first-run set-up link works; a server started later logs a new one.
pub const SETUP_TOKEN_LIFETIME_MS: i64 = HOUR_MS;

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
    /// A repository statement failed: the error names it.
    #[error(transparent)]
    Repo(#[from] crate::store::RepoError),
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

pub(super) fn into_user(row: UserRow) -> Result<User> {
    Ok(User {
        role: Role::parse(&row.role)?,
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        active: row.active,
        created_at: row.created_at,
        last_sign_in_at: row.last_sign_in_at,
    })
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

/// One statement claims the set-up (see [`UserRows::claim_setup`]): of two concurrent attempts
/// exactly one gets it.
fn token_hash(token: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).to_vec()
}

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
    pub async fn find_active(&self, id: UserId) -> Result<Option<User>> {
        let row = with_pool!(self.store, |pool| pool.acquire().await?.active_user(id).await?);
        row.map(into_user).transpose()
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
        let hash = token_hash(&token);
        with_pool!(self.store, |pool| {
            pool.acquire().await?.insert_setup_token(&hash, Millis::now()).await?;
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
        let rows = with_pool!(self.store, |pool| pool.acquire().await?.users().await?);
        rows.into_iter().map(into_user).collect()
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
        user_id: UserId,
        role: Role,
    ) -> Result<User> {
        self.change_membership(manager, actor, user_id, Membership::Role(role)).await
    }

    /// Deactivates (signed out on their next request) or reactivates someone.
    pub async fn set_active(
        &self,
        manager: &User,
        actor: &Actor,
        user_id: UserId,
        active: bool,
    ) -> Result<User> {
        self.change_membership(manager, actor, user_id, Membership::Active(active)).await
    }

    async fn change_membership(
        &self,
        manager: &User,
        actor: &Actor,
        user_id: UserId,
        change: Membership,
    ) -> Result<User> {
        let now = Millis::now();
        let row: UserRow = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            // So that two concurrent demotions cannot remove the last owner.
            tx.lock_membership().await?;
            let target = into_user(tx.user(user_id).await?.ok_or(AccountError::NotFound)?)?;
            let (role, active) = match change {
                Membership::Role(role) => (role, target.active),
                Membership::Active(active) => (target.role, active),
            };
            require_may_assign(manager, Some(target.role), role)?;
            let loses_owner =
                target.role == Role::Owner && target.active && (role != Role::Owner || !active);
            if loses_owner && tx.count_active_owners().await? <= 1 {
                return Err(AccountError::LastOwner);
            }
            let row = tx.set_membership(user_id, role.as_str(), active, now).await?;
            // A new role or a deactivation signs them out at once on every server: their next
            // request has no session.
            if role != target.role || (target.active && !active) {
                tx.delete_sessions_of(user_id).await?;
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
        into_user(row)
    }

    pub async fn count_users(&self) -> Result<i64> {
        Ok(with_pool!(self.store, |pool| pool.acquire().await?.count_users().await?))
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
        let now = Millis::now();
        let row = NewUserRow {
            email: email.as_str(),
            display_name: name.as_str(),
            password_hash: &hash,
            role: role.as_str(),
            at: now,
        };
        let id: UserId = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            if let Some(token) = setup_token
                && !tx.claim_setup(&token_hash(token), now - SETUP_TOKEN_LIFETIME_MS).await?
            {
                return Err(AccountError::Invalid(FieldError::new(
                    "token",
                    "This set-up link is not valid or has expired (a link lasts one hour). Use \
                     the newest one in the server log (restart the server for a new one), or \
                     sign in if an owner already exists.",
                )));
            }
            let id =
                tx.insert_user(&row).await.map_err(|error| match error.is_unique_violation() {
                    true => AccountError::Invalid(FieldError::new(
                        "email",
                        "A user with this email already exists",
                    )),
                    false => AccountError::Repo(error),
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
    pub async fn clean_up(&self, now: Millis) -> Result<()> {
        self.close_throttle_windows(now).await?;
        with_pool!(self.store, |pool| {
            let mut connection = pool.acquire().await?;
            connection.delete_failures_before(now - THROTTLE_WINDOW_MS).await?;
            connection.delete_setup_tokens_before(now - SETUP_TOKEN_LIFETIME_MS).await?;
        });
        Ok(())
    }
}
