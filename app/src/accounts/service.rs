//! Creating people and signing them in. Sign-in is throttled per account and per IP address,
//! across every server sharing the database.
pub use super::domain::User;
use super::{
    domain::{DisplayName, Email, Password, Role},
    password,
};
use crate::{
    audit::{Actor, Event, record, record_alone},
    error::AppError,
    store::{Store, now_millis, with_pool},
    validation::FieldError,
};

/// Failed sign-ins allowed per account, and per IP, within [`THROTTLE_WINDOW_MS`].
pub const MAX_FAILURES: i64 = 5;
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
pub const INVALID_CREDENTIALS: &str = "Invalid email or password";

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
            other => Self::internal(other),
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
}

impl Accounts {
    pub fn new(store: Store) -> Self {
        Self { store }
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
        // One statement claims the set-up: it deletes every token only if this one is valid and
        // nobody exists yet, so of two concurrent attempts exactly one gets rows back.
        let claimed: Vec<Vec<u8>> = with_pool!(self.store, |pool| {
            sqlx::query_scalar(
                "DELETE FROM setup_tokens WHERE NOT EXISTS (SELECT 1 FROM users) \
                 AND EXISTS (SELECT 1 FROM setup_tokens WHERE token_hash = $1) \
                 RETURNING token_hash",
            )
            .bind(token_hash(token))
            .fetch_all(pool)
            .await?
        });
        if claimed.is_empty() {
            return Err(AccountError::Invalid(FieldError::new(
                "token",
                "This set-up link is not valid. Use the one in the server log, or sign in if \
                 an owner already exists.",
            )));
        }
        let actor = Actor::new(email.as_str(), ip);
        self.create_user(&actor, email, name, Role::Owner, password).await
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
            let mut tx = pool.begin().await?;
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
            let (action, details) = match change {
                Membership::Role(role) => (
                    "user.role_changed",
                    format!("{}: {} → {}", target.email, target.role.as_str(), role.as_str()),
                ),
                Membership::Active(true) => ("user.reactivated", target.email.clone()),
                Membership::Active(false) => ("user.deactivated", target.email.clone()),
            };
            record!(&mut *tx, Event::general(actor, action, Some(details)));
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
        let hash = password::hash(password).await?;
        let now = now_millis();
        let id: i64 = with_pool!(self.store, |pool| {
            let mut tx = pool.begin().await?;
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
            record!(
                &mut *tx,
                Event::general(
                    actor,
                    "user.created",
                    Some(format!("{} as {}", email.as_str(), role.as_str())),
                )
            );
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
    pub async fn sign_in(&self, email: &str, password: Password, ip: Option<&str>) -> Result<User> {
        let email_key = email.trim().to_lowercase();
        let now = now_millis();
        let since = now - THROTTLE_WINDOW_MS;
        let (by_email, by_ip, oldest): (i64, i64, Option<i64>) = with_pool!(self.store, |pool| {
            sqlx::query_as(
                "SELECT \
                   (SELECT count(*) FROM sign_in_failures WHERE email = $1 AND at > $3), \
                   (SELECT count(*) FROM sign_in_failures WHERE ip = $2 AND at > $3), \
                   (SELECT min(at) FROM sign_in_failures WHERE (email = $1 OR ip = $2) AND at > $3)",
            )
            .bind(&email_key)
            .bind(ip)
            .bind(since)
            .fetch_one(pool)
            .await?
        });
        let actor = Actor::new(email_key.clone(), ip.map(str::to_string));
        if by_email >= MAX_FAILURES || by_ip >= MAX_FAILURES {
            let wait_ms = oldest.map_or(THROTTLE_WINDOW_MS, |at| at + THROTTLE_WINDOW_MS - now);
            let minutes = (wait_ms + 59_999) / 60_000;
            record_alone(&self.store, Event::general(&actor, "user.sign_in_throttled", None))
                .await?;
            return Err(AccountError::Throttled { minutes: minutes.max(1) });
        }
        let row: Option<(String, bool)> = with_pool!(self.store, |pool| {
            sqlx::query_as("SELECT password_hash, active FROM users WHERE email = $1")
                .bind(&email_key)
                .fetch_optional(pool)
                .await?
        });
        let active = row.as_ref().is_some_and(|(_, active)| *active);
        let verified = password::verify(password, row.map(|(hash, _)| hash)).await;
        if !(verified && active) {
            with_pool!(self.store, |pool| {
                let mut tx = pool.begin().await?;
                sqlx::query("INSERT INTO sign_in_failures (email, ip, at) VALUES ($1, $2, $3)")
                    .bind(&email_key)
                    .bind(ip)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                record!(&mut *tx, Event::general(&actor, "user.sign_in_failed", None));
                tx.commit().await?;
            });
            return Err(AccountError::InvalidCredentials);
        }
        let user: UserRow = with_pool!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let user: UserRow = sqlx::query_as(&format!(
                "UPDATE users SET last_sign_in_at = $1 WHERE email = $2 RETURNING {USER_COLUMNS}"
            ))
            .bind(now)
            .bind(&email_key)
            .fetch_one(&mut *tx)
            .await?;
            record!(&mut *tx, Event::general(&actor, "user.signed_in", None));
            tx.commit().await?;
            user
        });
        user.into_user()
    }
}
