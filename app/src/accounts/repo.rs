//! The SQL of people, set-up links, sign-in throttling and sessions: one method per statement,
//! run on the caller's connection or transaction; portable SQL, written once for both backends
//! by [`crate::store::for_both_backends!`]. Password hashes and session ids are bound as hashes
//! only.

use crate::{
    ids::UserId,
    store::{RepoResult, for_both_backends},
    time::Millis,
};

/// A person as stored.
#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub active: bool,
    pub created_at: Millis,
    pub last_sign_in_at: Option<Millis>,
}

/// A person as created.
pub struct NewUserRow<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub at: Millis,
}

/// A sign-in attempt as reserved: counted against its account and its address.
pub struct AttemptRow<'a> {
    pub email: &'a str,
    pub ip: Option<&'a str>,
    pub at: Millis,
    /// Failures at or before this no longer count.
    pub since: Millis,
    pub max_failures: i64,
}

/// A session row: its data and expiry, found by the hash of its id.
pub struct SessionRow<'a> {
    pub id_hash: &'a [u8],
    pub user_id: Option<UserId>,
    pub data: &'a [u8],
    pub expires_at: Millis,
}

const USER_COLUMNS: &str = "id, email, display_name, role, active, created_at, last_sign_in_at";

/// How a backend serializes sign-in reservations: SQLite's insert takes the write lock before
/// it counts; PostgreSQL takes a transaction-scoped advisory lock (an arbitrary constant for
/// "sign-in").
pub trait ReservationLock {
    const LOCK: Option<&'static str>;
}

impl ReservationLock for sqlx::SqliteConnection {
    const LOCK: Option<&'static str> = None;
}

impl ReservationLock for sqlx::PgConnection {
    const LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock(7301190816)");
}

pub(crate) trait UserRows: ReservationLock {
    /// The person with this id if they exist and are active.
    fn active_user(
        &mut self,
        id: UserId,
    ) -> impl Future<Output = RepoResult<Option<UserRow>>> + Send;

    fn user(&mut self, id: UserId) -> impl Future<Output = RepoResult<Option<UserRow>>> + Send;

    /// Everyone, owners first, then admins, then members, each by email.
    fn users(&mut self) -> impl Future<Output = RepoResult<Vec<UserRow>>> + Send;

    fn count_users(&mut self) -> impl Future<Output = RepoResult<i64>> + Send;

    fn count_active_owners(&mut self) -> impl Future<Output = RepoResult<i64>> + Send;

    /// Serializes membership changes on both backends (a row lock on PostgreSQL, the write lock
    /// on SQLite) for the rest of the transaction.
    fn lock_membership(&mut self) -> impl Future<Output = RepoResult<()>> + Send;

    fn set_membership(
        &mut self,
        id: UserId,
        role: &str,
        active: bool,
        at: Millis,
    ) -> impl Future<Output = RepoResult<UserRow>> + Send;

    /// Inserts a person; a unique violation means the email is taken.
    fn insert_user(
        &mut self,
        row: &NewUserRow<'_>,
    ) -> impl Future<Output = RepoResult<UserId>> + Send;

    /// The password hash and active flag of the person with this email.
    fn password_of(
        &mut self,
        email: &str,
    ) -> impl Future<Output = RepoResult<Option<(String, bool)>>> + Send;

    /// Notes a sign-in: the person as they are now.
    fn mark_signed_in(
        &mut self,
        email: &str,
        at: Millis,
    ) -> impl Future<Output = RepoResult<UserRow>> + Send;

    fn insert_setup_token(
        &mut self,
        hash: &[u8],
        at: Millis,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Deletes every set-up token if `hash` is one made after `valid_after` and nobody exists
    /// yet: whether it did (of two concurrent claims, exactly one does).
    fn claim_setup(
        &mut self,
        hash: &[u8],
        valid_after: Millis,
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    fn delete_setup_tokens_before(
        &mut self,
        at: Millis,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Writes the attempt as a failure (under the backend's [`ReservationLock`]) if its account
    /// and its address are both under the limit: its id, or `None` when either is throttled.
    fn reserve_attempt(
        &mut self,
        attempt: &AttemptRow<'_>,
    ) -> impl Future<Output = RepoResult<Option<i64>>> + Send;

    fn delete_failure(&mut self, id: i64) -> impl Future<Output = RepoResult<()>> + Send;

    fn delete_failures_before(&mut self, at: Millis)
    -> impl Future<Output = RepoResult<()>> + Send;

    /// The account's failures since `since`, and the oldest failure of the account or the
    /// address since then.
    fn failures_since(
        &mut self,
        email: &str,
        ip: Option<&str>,
        since: Millis,
    ) -> impl Future<Output = RepoResult<(i64, Option<Millis>)>> + Send;

    /// Counts a refusal in the subject's throttling window, opening one at `at` if there is
    /// none: whether it was counted (not when the open window began at or before `since`).
    fn count_refusal(
        &mut self,
        subject: &str,
        at: Millis,
        since: Millis,
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    /// Deletes the windows that began at or before `before`: (subject, first_at, refused).
    fn close_windows(
        &mut self,
        before: Millis,
    ) -> impl Future<Output = RepoResult<Vec<(String, Millis, i64)>>> + Send;

    /// Ends every session of the person.
    fn delete_sessions_of(
        &mut self,
        user_id: UserId,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Inserts a session unless its id hash exists: whether it did.
    fn insert_session(
        &mut self,
        row: &SessionRow<'_>,
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    /// Updates a session's row if it still exists.
    fn update_session(
        &mut self,
        row: &SessionRow<'_>,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// A session's data unless it expired by `now`.
    fn session_data(
        &mut self,
        id_hash: &[u8],
        now: Millis,
    ) -> impl Future<Output = RepoResult<Option<Vec<u8>>>> + Send;

    fn delete_session(&mut self, id_hash: &[u8]) -> impl Future<Output = RepoResult<()>> + Send;

    fn delete_sessions_expired_by(
        &mut self,
        now: Millis,
    ) -> impl Future<Output = RepoResult<()>> + Send;
}

for_both_backends! {
    impl UserRows {
        async fn active_user(&mut self, id: UserId) -> sqlx::Result<Option<UserRow>> {
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND active"))
                .bind(id)
                .fetch_optional(&mut *self)
                .await
        }

        async fn user(&mut self, id: UserId) -> sqlx::Result<Option<UserRow>> {
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *self)
                .await
        }

        async fn users(&mut self) -> sqlx::Result<Vec<UserRow>> {
            sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY \
                 CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, email"
            ))
            .fetch_all(&mut *self)
            .await
        }

        async fn count_users(&mut self) -> sqlx::Result<i64> {
            sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&mut *self).await
        }

        async fn count_active_owners(&mut self) -> sqlx::Result<i64> {
            sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'owner' AND active")
                .fetch_one(&mut *self)
                .await
        }

        async fn lock_membership(&mut self) -> sqlx::Result<()> {
            sqlx::query("UPDATE instance SET id = id WHERE id = 1")
                .execute(&mut *self)
                .await
                .map(|_| ())
        }

        async fn set_membership(
            &mut self,
            id: UserId,
            role: &str,
            active: bool,
            at: Millis,
        ) -> sqlx::Result<UserRow> {
            sqlx::query_as(&format!(
                "UPDATE users SET role = $1, active = $2, updated_at = $3 WHERE id = $4 \
                 RETURNING {USER_COLUMNS}"
            ))
            .bind(role)
            .bind(active)
            .bind(at)
            .bind(id)
            .fetch_one(&mut *self)
            .await
        }

        async fn insert_user(&mut self, row: &NewUserRow<'_>) -> sqlx::Result<UserId> {
            sqlx::query_scalar(
                "INSERT INTO users (email, display_name, password_hash, role, active, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, TRUE, $5, $5) RETURNING id",
            )
            .bind(row.email)
            .bind(row.display_name)
            .bind(row.password_hash)
            .bind(row.role)
            .bind(row.at)
            .fetch_one(&mut *self)
            .await
        }

        async fn password_of(&mut self, email: &str) -> sqlx::Result<Option<(String, bool)>> {
            sqlx::query_as("SELECT password_hash, active FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(&mut *self)
                .await
        }

        async fn mark_signed_in(&mut self, email: &str, at: Millis) -> sqlx::Result<UserRow> {
            sqlx::query_as(&format!(
                "UPDATE users SET last_sign_in_at = $1 WHERE email = $2 RETURNING {USER_COLUMNS}"
            ))
            .bind(at)
            .bind(email)
            .fetch_one(&mut *self)
            .await
        }

        async fn insert_setup_token(&mut self, hash: &[u8], at: Millis) -> sqlx::Result<()> {
            sqlx::query("INSERT INTO setup_tokens (token_hash, created_at) VALUES ($1, $2)")
                .bind(hash)
                .bind(at)
                .execute(&mut *self)
                .await
                .map(|_| ())
        }

        async fn claim_setup(&mut self, hash: &[u8], valid_after: Millis) -> sqlx::Result<bool> {
            let claimed: Vec<Vec<u8>> = sqlx::query_scalar(
                "DELETE FROM setup_tokens WHERE NOT EXISTS (SELECT 1 FROM users) \
                 AND EXISTS (SELECT 1 FROM setup_tokens WHERE token_hash = $1 \
                 AND created_at > $2) RETURNING token_hash",
            )
            .bind(hash)
            .bind(valid_after)
            .fetch_all(&mut *self)
            .await?;
            Ok(!claimed.is_empty())
        }

        async fn delete_setup_tokens_before(&mut self, at: Millis) -> sqlx::Result<()> {
            sqlx::query("DELETE FROM setup_tokens WHERE created_at <= $1")
                .bind(at)
                .execute(&mut *self)
                .await
                .map(|_| ())
        }

        async fn reserve_attempt(&mut self, attempt: &AttemptRow<'_>) -> sqlx::Result<Option<i64>> {
            if let Some(lock) = <Self as ReservationLock>::LOCK {
                sqlx::query(lock).execute(&mut *self).await?;
            }
            sqlx::query_scalar(
                "INSERT INTO sign_in_failures (email, ip, at) SELECT $1, $2, $3 \
                 WHERE (SELECT count(*) FROM sign_in_failures WHERE email = $1 AND at > $4) < $5 \
                 AND (SELECT count(*) FROM sign_in_failures WHERE ip = $2 AND at > $4) < $5 \
                 RETURNING id",
            )
            .bind(attempt.email)
            .bind(attempt.ip)
            .bind(attempt.at)
            .bind(attempt.since)
            .bind(attempt.max_failures)
            .fetch_optional(&mut *self)
            .await
        }

        async fn delete_failure(&mut self, id: i64) -> sqlx::Result<()> {
            sqlx::query("DELETE FROM sign_in_failures WHERE id = $1")
                .bind(id)
                .execute(&mut *self)
                .await
                .map(|_| ())
        }

        async fn delete_failures_before(&mut self, at: Millis) -> sqlx::Result<()> {
            sqlx::query("DELETE FROM sign_in_failures WHERE at <= $1")
                .bind(at)
                .execute(&mut *self)
                .await
                .map(|_| ())
        }

        async fn failures_since(
            &mut self,
            email: &str,
            ip: Option<&str>,
            since: Millis,
        ) -> sqlx::Result<(i64, Option<Millis>)> {
            sqlx::query_as(
                "SELECT (SELECT count(*) FROM sign_in_failures WHERE email = $1 AND at > $3), \
                 (SELECT min(at) FROM sign_in_failures WHERE (email = $1 OR ip = $2) AND at > $3)",
            )
            .bind(email)
            .bind(ip)
            .bind(since)
            .fetch_one(&mut *self)
            .await
        }

        async fn count_refusal(&mut self, subject: &str, at: Millis, since: Millis) -> sqlx::Result<bool> {
            let counted = sqlx::query(
                "INSERT INTO sign_in_throttles (subject, first_at, refused) \
                 VALUES ($1, $2, 1) ON CONFLICT (subject) DO UPDATE \
                 SET refused = sign_in_throttles.refused + 1 \
                 WHERE sign_in_throttles.first_at > $3",
            )
            .bind(subject)
            .bind(at)
            .bind(since)
            .execute(&mut *self)
            .await?;
            Ok(counted.rows_affected() > 0)
        }

        async fn close_windows(&mut self, before: Millis) -> sqlx::Result<Vec<(String, Millis, i64)>> {
            sqlx::query_as(
                "DELETE FROM sign_in_throttles WHERE first_at <= $1 \
                 RETURNING subject, first_at, refused",
            )
            .bind(before)
            .fetch_all(&mut *self)
            .await
        }

        async fn delete_sessions_of(&mut self, user_id: UserId) -> sqlx::Result<()> {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *self)
                .await
                .map(|_| ())
        }

        async fn insert_session(&mut self, row: &SessionRow<'_>) -> sqlx::Result<bool> {
            let inserted = sqlx::query(
                "INSERT INTO sessions (id_hash, user_id, data, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (id_hash) DO NOTHING",
            )
            .bind(row.id_hash)
            .bind(row.user_id)
            .bind(row.data)
            .bind(row.expires_at)
            .execute(&mut *self)
            .await?;
            Ok(inserted.rows_affected() == 1)
        }

        async fn update_session(&mut self, row: &SessionRow<'_>) -> sqlx::Result<()> {
            sqlx::query(
                "UPDATE sessions SET user_id = $2, data = $3, expires_at = $4 WHERE id_hash = $1",
            )
            .bind(row.id_hash)
            .bind(row.user_id)
            .bind(row.data)
            .bind(row.expires_at)
            .execute(&mut *self)
            .await
            .map(|_| ())
        }

        async fn session_data(&mut self, id_hash: &[u8], now: Millis) -> sqlx::Result<Option<Vec<u8>>> {
            sqlx::query_scalar("SELECT data FROM sessions WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash)
                .bind(now)
                .fetch_optional(&mut *self)
                .await
        }

        async fn delete_session(&mut self, id_hash: &[u8]) -> sqlx::Result<()> {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(&mut *self)
                .await
                .map(|_| ())
        }

        async fn delete_sessions_expired_by(&mut self, now: Millis) -> sqlx::Result<()> {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *self)
                .await
                .map(|_| ())
        }
    }
}
