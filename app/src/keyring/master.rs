//! Master-key rotation: every key an older master key wrapped is re-wrapped with the current one,
//! and the older keys are retired (`sealbox admin rotate-master-key`).
use super::{Keyring, KeyringError, project_key_aad};
use crate::{
    audit::{Actor, AuditAction, AuditLog, Event},
    crypto,
    store::{Store, WritePool, now_millis, with_pool},
};

/// What a master-key rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub current: String,
    pub rewrapped: usize,
    pub retired: Vec<String>,
}

/// `Re-wrapped N keys with master key ID; retired master keys: A, B` (or `none`): what the
/// command prints and the audit event says.
impl std::fmt::Display for RotationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let retired =
            if self.retired.is_empty() { "none".to_string() } else { self.retired.join(", ") };
        write!(
            f,
            "Re-wrapped {} keys with master key {}; retired master keys: {retired}",
            self.rewrapped, self.current
        )
    }
}

/// Re-wraps every data key (and the fingerprint key) that an older master key wrapped with
/// the current one, and retires the older master keys, in one transaction. Values and data
/// keys do not change, so servers keep serving throughout.
pub async fn rotate_master_key(
    store: &Store,
    audit: &AuditLog,
    keyring: &Keyring,
    actor: &Actor,
) -> Result<RotationReport, KeyringError> {
    let current = keyring.current_id().to_string();
    let now = now_millis();
    let report = with_pool!(store, |pool| {
        let mut tx = pool.begin_write().await?;
        let retired: Vec<String> = sqlx::query_scalar(
            "UPDATE master_keys SET retired_at = $1 WHERE id <> $2 AND retired_at IS NULL \
             RETURNING id",
        )
        .bind(now)
        .bind(&current)
        .fetch_all(&mut *tx)
        .await?;
        let projects: Vec<(i64, i64, String, Vec<u8>)> = sqlx::query_as(
            "SELECT project_id, generation, master_key_id, wrapped_key FROM project_keys \
             WHERE master_key_id <> $1",
        )
        .bind(&current)
        .fetch_all(&mut *tx)
        .await?;
        for (project_id, generation, master_key_id, wrapped) in &projects {
            let aad = project_key_aad(*project_id, *generation);
            let key = keyring.unwrap_key(master_key_id, wrapped, &aad)?;
            sqlx::query(
                "UPDATE project_keys SET master_key_id = $1, wrapped_key = $2 \
                 WHERE project_id = $3 AND generation = $4",
            )
            .bind(&current)
            .bind(keyring.wrap_key(&key, &aad))
            .bind(project_id)
            .bind(generation)
            .execute(&mut *tx)
            .await?;
        }
        let instance: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT purpose, master_key_id, wrapped_key FROM instance_keys \
             WHERE master_key_id <> $1",
        )
        .bind(&current)
        .fetch_all(&mut *tx)
        .await?;
        for (purpose, master_key_id, wrapped) in &instance {
            let aad = crypto::data_key_aad(purpose);
            let key = keyring.unwrap_key(master_key_id, wrapped, &aad)?;
            sqlx::query(
                "UPDATE instance_keys SET master_key_id = $1, wrapped_key = $2 \
                 WHERE purpose = $3",
            )
            .bind(&current)
            .bind(keyring.wrap_key(&key, &aad))
            .bind(purpose)
            .execute(&mut *tx)
            .await?;
        }
        let report = RotationReport {
            current: current.clone(),
            rewrapped: projects.len() + instance.len(),
            retired,
        };
        audit
            .record(
                &mut *tx,
                Event {
                    actor,
                    action: AuditAction::MasterKeyRotated,
                    project_id: None,
                    project_slug: None,
                    secret_key: None,
                    version: None,
                    details: Some(report.to_string()),
                },
            )
            .await?;
        tx.commit().await?;
        report
    });
    Ok(report)
}
