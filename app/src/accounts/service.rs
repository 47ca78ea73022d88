//! Creating people and signing them in. Sign-in is throttled per account and per IP address,
//! across every server sharing the database.
pub use super::domain::User;
use super::{
    domain::{DisplayName, Email, Password, Role},
    password::{self, HashError},
};
use crate::{
    audit::{Actor, AuditAction, AuditLog, Event},
    error::AppError,
    store::{Backend, Store, WritePool, now_millis, with_pool},
    validation::FieldError,
};

/// Failed sign-ins allowed per account, and per IP, within [`THROTTLE_WINDOW_MS`].
pub const MAX_FAILURES: i64 = 5;
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
pub const INVALID_CREDENTIALS: &str = "Invalid email or password";
/// Serializes sign-in reservations on PostgreSQL (an arbitrary constant for "sign-in").
const RESERVATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7301190816)";
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

type Result<T, E = AccountError> = std::result::Result<T, E>;

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    display_name: String,
    role: String,
    active: bool,
    created_at: i64,
    last_sign_in_at: Option<i64>,
}

impl UserRow {
    fn into_user(self) -> Result<User> {
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

const USER_COLUMNS: &str = "id, email, display_name, role, active, created_at, last_sign_in_at";

#[derive(Clone)]
pub struct Accounts {
    store: Store,
    audit: AuditLog,
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

    /// Checks an email and password. Every failure gives the same answer and costs the same
    /// time; after [`MAX_FAILURES`] failures for the account or the IP within the window, even
    /// the right password is refused until the window has passed.
    ///
    /// The attempt is reserved (written as a failure) before the password is verified, in one
    /// statement that counts and inserts under a lock, so that concurrent guesses cannot all
    /// slip under the limit; a right password removes its reservation again.
    pub async fn sign_in(&self, email: &str, password: Password, ip: Option<&str>) -> Result<User> {
        let email = Email::parse(email)?;
        let email_key = email.as_str();
        let now = now_millis();
        let actor = Actor::new(email_key, ip.map(str::to_string));
        let Some(attempt) = self.reserve_attempt(email_key, ip, now).await? else {
            return Err(self.refuse_throttled(email_key, ip, now).await?);
        };
        let row: Option<(String, bool)> = with_pool!(self.store, |pool| {
            sqlx::query_as("SELECT password_hash, active FROM users WHERE email = $1")
                .bind(email_key)
                .fetch_optional(pool)
                .await?
        });
        let active = row.as_ref().is_some_and(|(_, active)| *active);
        let verified = match password::verify(password, row.map(|(hash, _)| hash)).await {
            Ok(verified) => verified,
            Err(error) => {
                // Not verified, so not a guess: give the attempt back.
                self.release_attempt(attempt).await?;
                return Err(error.into());
            }
        };
        if !(verified && active) {
            self.audit
                .record_alone(Event::general(&actor, AuditAction::UserSignInFailed, None))
                .await?;
            return Err(AccountError::InvalidCredentials);
        }
        let user: UserRow = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM sign_in_failures WHERE id = $1")
                .bind(attempt)
                .execute(&mut *tx)
                .await?;
            let user: UserRow = sqlx::query_as(&format!(
                "UPDATE users SET last_sign_in_at = $1 WHERE email = $2 RETURNING {USER_COLUMNS}"
            ))
            .bind(now)
            .bind(email_key)
            .fetch_one(&mut *tx)
            .await?;
            self.audit
                .record(&mut *tx, Event::general(&actor, AuditAction::UserSignedIn, None))
                .await?;
            tx.commit().await?;
            user
        });
        user.into_user()
    }

    /// Writes this attempt as a failure if the account and the IP are both under the limit, and
    /// returns its id; `None` when either is throttled. Atomic on both backends: SQLite's insert
    /// takes the write lock before it counts, and PostgreSQL serializes reservations with a
    /// transaction-scoped advisory lock.
    async fn reserve_attempt(
        &self,
        email: &str,
        ip: Option<&str>,
        now: i64,
    ) -> Result<Option<i64>> {
        const RESERVE: &str = "INSERT INTO sign_in_failures (email, ip, at) SELECT $1, $2, $3 \
             WHERE (SELECT count(*) FROM sign_in_failures WHERE email = $1 AND at > $4) < $5 \
             AND (SELECT count(*) FROM sign_in_failures WHERE ip = $2 AND at > $4) < $5 \
             RETURNING id";
        let since = now - THROTTLE_WINDOW_MS;
        let lock = (self.store.backend() == Backend::Postgres).then_some(RESERVATION_LOCK);
        Ok(with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            if let Some(lock) = lock {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            let id: Option<i64> = sqlx::query_scalar(RESERVE)
                .bind(email)
                .bind(ip)
                .bind(now)
                .bind(since)
                .bind(MAX_FAILURES)
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            id
        }))
    }

    async fn release_attempt(&self, attempt: i64) -> Result<()> {
        with_pool!(self.store, |pool| {
            sqlx::query("DELETE FROM sign_in_failures WHERE id = $1")
                .bind(attempt)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The answer to a throttled attempt, counted against the account (or, when only the IP is
    /// over the limit, the IP) for the window's one `user.sign_in_throttled` event.
    async fn refuse_throttled(
        &self,
        email: &str,
        ip: Option<&str>,
        now: i64,
    ) -> Result<AccountError> {
        let since = now - THROTTLE_WINDOW_MS;
        let (by_email, oldest): (i64, Option<i64>) = with_pool!(self.store, |pool| {
            sqlx::query_as(
                "SELECT (SELECT count(*) FROM sign_in_failures WHERE email = $1 AND at > $3), \
                 (SELECT min(at) FROM sign_in_failures WHERE (email = $1 OR ip = $2) AND at > $3)",
            )
            .bind(email)
            .bind(ip)
            .bind(since)
            .fetch_one(pool)
            .await?
        });
        let subject = match ip {
            Some(ip) if by_email < MAX_FAILURES => format!("ip:{ip}"),
            _ => format!("account:{email}"),
        };
        // One write per refusal. A window that ended before the clean-up closed it is closed
        // here first (its event written), so that no window outlasts its 15 minutes.
        for attempt in 0..2 {
            let counted = with_pool!(self.store, |pool| {
                sqlx::query(
                    "INSERT INTO sign_in_throttles (subject, first_at, refused) \
                     VALUES ($1, $2, 1) ON CONFLICT (subject) DO UPDATE \
                     SET refused = sign_in_throttles.refused + 1 \
                     WHERE sign_in_throttles.first_at > $3",
                )
                .bind(&subject)
                .bind(now)
                .bind(since)
                .execute(pool)
                .await?
                .rows_affected()
            });
            if counted > 0 || attempt > 0 {
                break;
            }
            self.close_throttle_windows(now).await?;
        }
        let wait_ms = oldest.map_or(THROTTLE_WINDOW_MS, |at| at + THROTTLE_WINDOW_MS - now);
        let minutes = (wait_ms + 59_999) / 60_000;
        Ok(AccountError::Throttled { minutes: minutes.max(1) })
    }

    /// Closes every throttling window that began a whole window before `now`: one
    /// `user.sign_in_throttled` event each, naming the account or address and how many attempts
    /// were refused. Several servers may run this at once: each window is claimed by one.
    pub async fn close_throttle_windows(&self, now: i64) -> Result<usize> {
        let closed = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let closed: Vec<(String, i64, i64)> = sqlx::query_as(
                "DELETE FROM sign_in_throttles WHERE first_at <= $1 \
                 RETURNING subject, first_at, refused",
            )
            .bind(now - THROTTLE_WINDOW_MS)
            .fetch_all(&mut *tx)
            .await?;
            for (subject, first_at, refused) in &closed {
                let (name, ip) = match subject.split_once(':') {
                    Some(("ip", ip)) => (ip.to_string(), Some(ip.to_string())),
                    Some((_, email)) => (email.to_string(), None),
                    None => (subject.clone(), None),
                };
                let actor = Actor::new(name, ip);
                let details = format!(
                    "{refused} sign-in attempt(s) refused in the {} minutes from {}",
                    THROTTLE_WINDOW_MS / 60_000,
                    crate::time::iso(*first_at)
                );
                self.audit
                    .record(
                        &mut *tx,
                        Event::general(&actor, AuditAction::UserSignInThrottled, Some(details)),
                    )
                    .await?;
            }
            tx.commit().await?;
            closed.len()
        });
        Ok(closed)
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
