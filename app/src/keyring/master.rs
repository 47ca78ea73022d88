//! Master-key rotation: every key an older master key wrapped is re-wrapped with the current one,
//! and the older keys are retired (`sealbox admin rotate-master-key`).
use super::{Keyring, KeyringError, project_key_aad, repo::KeyRows};
use crate::{
    audit::{Actor, AuditAction, AuditLog, Event},
    crypto,
    store::{Store, WritePool, with_pool},
    time::Millis,
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
    let now = Millis::now();
    let report = with_pool!(store, |pool| {
        let mut tx = pool.begin_write().await?;
        let retired = tx.retire_master_keys_but(&current, now).await?;
        let projects = tx.data_keys_not_wrapped_by(&current).await?;
        for stale in &projects {
            let aad = project_key_aad(stale.project_id, stale.generation);
            let key = keyring.unwrap_key(&stale.master_key_id, &stale.wrapped_key, &aad)?;
            let wrapped = keyring.wrap_key(&key, &aad);
            tx.rewrap_data_key(stale.project_id, stale.generation, &current, &wrapped).await?;
        }
        let instance = tx.instance_keys_not_wrapped_by(&current).await?;
        for stale in &instance {
            let aad = crypto::data_key_aad(&stale.purpose);
            let key = keyring.unwrap_key(&stale.master_key_id, &stale.wrapped_key, &aad)?;
            let wrapped = keyring.wrap_key(&key, &aad);
            tx.rewrap_instance_key(&stale.purpose, &current, &wrapped).await?;
        }
        let report = RotationReport {
            current: current.clone(),
            rewrapped: projects.len() + instance.len(),
            retired,
        };
        audit
            .record(
                &mut *tx,
                Event::general(actor, AuditAction::MasterKeyRotated, Some(report.to_string())),
            )
            .await?;
        tx.commit().await?;
        report
    });
    Ok(report)
}
