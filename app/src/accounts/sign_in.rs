//! Signing in. Sign-in is throttled per account and per IP address, across every server sharing
//! the database: failures are counted in `sign_in_failures` within a window, and one
//! `user.sign_in_throttled` event is written per window with the count.
use super::{
    domain::{Email, Password, User},
    password,
    repo::{AttemptRow, UserRows},
    service::{AccountError, Accounts, MAX_FAILURES, Result, THROTTLE_WINDOW_MS, into_user},
};
use crate::{
    audit::{Actor, AuditAction, Event},
    store::{WritePool, with_pool},
    time::{MINUTE_MS, Millis},
};

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
        let now = Millis::now();
        let actor = Actor::new(email_key, ip.map(str::to_string));
        let Some(attempt) = self.reserve_attempt(email_key, ip, now).await? else {
            return Err(self.refuse_throttled(email_key, ip, now).await?);
        };
        let row =
            with_pool!(self.store, |pool| pool.acquire().await?.password_of(email_key).await?);
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
        let user = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            tx.delete_failure(attempt).await?;
            let user = tx.mark_signed_in(email_key, now).await?;
            self.audit
                .record(&mut *tx, Event::general(&actor, AuditAction::UserSignedIn, None))
                .await?;
            tx.commit().await?;
            user
        });
        into_user(user)
    }

    /// Writes this attempt as a failure if the account and the IP are both under the limit, and
    /// returns its id; `None` when either is throttled. Atomic on both backends (see
    /// [`super::repo::ReservationLock`]).
    async fn reserve_attempt(
        &self,
        email: &str,
        ip: Option<&str>,
        now: Millis,
    ) -> Result<Option<i64>> {
        let attempt = AttemptRow {
            email,
            ip,
            at: now,
            since: now - THROTTLE_WINDOW_MS,
            max_failures: MAX_FAILURES,
        };
        Ok(with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let id = tx.reserve_attempt(&attempt).await?;
            tx.commit().await?;
            id
        }))
    }

    async fn release_attempt(&self, attempt: i64) -> Result<()> {
        with_pool!(self.store, |pool| pool.acquire().await?.delete_failure(attempt).await?);
        Ok(())
    }

    /// The answer to a throttled attempt, counted against the account (or, when only the IP is
    /// over the limit, the IP) for the window's one `user.sign_in_throttled` event.
    async fn refuse_throttled(
        &self,
        email: &str,
        ip: Option<&str>,
        now: Millis,
    ) -> Result<AccountError> {
        let since = now - THROTTLE_WINDOW_MS;
        let (by_email, oldest) = with_pool!(self.store, |pool| {
            pool.acquire().await?.failures_since(email, ip, since).await?
        });
        let subject = match ip {
            Some(ip) if by_email < MAX_FAILURES => format!("ip:{ip}"),
            _ => format!("account:{email}"),
        };
        // One write per refusal. A window that ended before the clean-up closed it is closed
        // here first (its event written), so that no window outlasts its 15 minutes.
        for attempt in 0..2 {
            let counted = with_pool!(self.store, |pool| {
                pool.acquire().await?.count_refusal(&subject, now, since).await?
            });
            if counted || attempt > 0 {
                break;
            }
            self.close_throttle_windows(now).await?;
        }
        let wait_ms = oldest.map_or(THROTTLE_WINDOW_MS, |at| at + THROTTLE_WINDOW_MS - now);
        let minutes = (wait_ms + MINUTE_MS - 1) / MINUTE_MS;
        Ok(AccountError::Throttled { minutes: minutes.max(1) })
    }

    /// Closes every throttling window that began a whole window before `now`: one
    /// `user.sign_in_throttled` event each, naming the account or address and how many attempts
    /// were refused. Several servers may run this at once: each window is claimed by one.
    pub async fn close_throttle_windows(&self, now: Millis) -> Result<usize> {
        let closed = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let closed = tx.close_windows(now - THROTTLE_WINDOW_MS).await?;
            for (subject, first_at, refused) in &closed {
                let (name, ip) = match subject.split_once(':') {
                    Some(("ip", ip)) => (ip.to_string(), Some(ip.to_string())),
                    Some((_, email)) => (email.to_string(), None),
                    None => (subject.clone(), None),
                };
                let actor = Actor::new(name, ip);
                let details = format!(
                    "{refused} sign-in attempt(s) refused in the {} minutes from {}",
                    THROTTLE_WINDOW_MS / MINUTE_MS,
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
