//! Signing in. Sign-in is throttled per account and per IP address, across every server sharing
//! the database: failures are counted in `sign_in_failures` within a window, and one
//! `user.sign_in_throttled` event is written per window with the count.
use super::{
    domain::{Email, Password, User},
    password,
    service::{
        AccountError, Accounts, MAX_FAILURES, Result, THROTTLE_WINDOW_MS, USER_COLUMNS, UserRow,
    },
};
use crate::{
    audit::{Actor, AuditAction, Event},
    store::{Backend, WritePool, now_millis, with_pool},
};

/// Serializes sign-in reservations on PostgreSQL (an arbitrary constant for "sign-in").
const RESERVATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7301190816)";

impl Accounts {
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
}
