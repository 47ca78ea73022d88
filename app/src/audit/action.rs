//! Every kind of audit event: its stored name and what its `details` column holds. Written by
//! the services, suggested by the Audit page's filter. Never a value.

/// Defines [`AuditAction`], its list and its names from one table, so that an action added to
/// the enum cannot be missing from [`AuditAction::ALL`] (a macro because it generates items).
macro_rules! audit_actions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// What an audit event records. The name ([`AuditAction::as_str`]) is what the database,
        /// the Audit page, the CSV export and the chain's MAC hold; it never changes once
        /// released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($(#[$doc])* $variant,)*
        }

        impl AuditAction {
            /// Every action, in the order the Audit page suggests them.
            pub const ALL: &'static [AuditAction] = &[$(Self::$variant,)*];

            /// The stored name, `noun.verb`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

audit_actions! {
    /// A project was created. Details: none.
    ProjectCreated => "project.created",
    /// A project and everything in it was deleted. Details: none.
    ProjectDeleted => "project.deleted",
    /// A project's settings were saved. Details: all of them, `name: …; required: …; maximum age: …`.
    ProjectSettingsChanged => "project.settings_changed",
    /// A secret was created (version 1). Details: none.
    SecretCreated => "secret.created",
    /// A secret got a new version. Details: what changed (`value`, `description`).
    SecretUpdated => "secret.updated",
    /// A secret and its history were deleted. Details: none.
    SecretDeleted => "secret.deleted",
    /// One secret's value was read (reveal, API, CLI). Details: none.
    SecretRead => "secret.read",
    /// The value and description of an earlier version became current as a new version (the
    /// event names it). Details: `from version N to version M` (N: the version it replaced, M:
    /// the one restored; written as `to version M` before 2026-12-08).
    SecretRolledBack => "secret.rolled_back",
    /// A secret's value was copied into another environment of its project, on the server (no
    /// one saw it). Two events: one in the environment it came from (details: `to ENV version
    /// N`), one in the environment it went to, naming the version it made there (details: `from
    /// ENV version N`).
    SecretCopied => "secret.copied",
    /// Someone asked which secrets hold a value (the value itself is not recorded).
    /// Details: none.
    SecretSearchedByValue => "secret.searched_by_value",
    /// A leak check refused: its person ran more than 30 in the last hour. Details: `more than
    /// 30 in an hour`.
    SecretSearchRefused => "secret.search_refused",
    /// A token listed a project's secret names (no values). Details: none.
    SecretListed => "secret.listed",
    /// A token listed one secret's versions (no values). Details: none.
    SecretVersionsListed => "secret.versions_listed",
    /// A whole environment was delivered (`/env`, `sealbox run`). Details: each secret's key and
    /// version, team secrets marked ` (team)` (for every environment) or ` (team, NAME)` (for
    /// the environments of its name); plain variables are not listed.
    EnvironmentRead => "environment.read",
    /// A token listed its project's environment names. Details: none.
    EnvironmentsListed => "environment.listed",
    /// An environment was added to a project. Details: none.
    EnvironmentCreated => "environment.created",
    /// An environment was renamed. Details: `old → new` (the event names the new one).
    EnvironmentRenamed => "environment.renamed",
    /// A project's environments were put in a new order. Details: the names in their new order.
    EnvironmentsReordered => "environment.reordered",
    /// An environment and its secrets, versions, variables and tokens were deleted.
    /// Details: none.
    EnvironmentDeleted => "environment.deleted",
    /// A plain variable was created. Details: none.
    VariableCreated => "variable.created",
    /// A plain variable changed. Details: none.
    VariableUpdated => "variable.updated",
    /// A plain variable was deleted. Details: none.
    VariableDeleted => "variable.deleted",
    /// Variables were promoted from one environment to another in one transaction; the event
    /// names the target environment. Details: `from ENV: added A, B; changed C; removed D`.
    VariablesPromoted => "variable.promoted",
    /// A service token was created. Details: its name, scope and expiry.
    TokenCreated => "token.created",
    /// A service token was revoked. Details: its name.
    TokenRevoked => "token.revoked",
    /// Someone looked at (or exported) what a person could know (the offboarding exposure
    /// report). Details: `EMAIL: N secrets they typed, M more read by their tokens, K tokens`.
    UserExposureReported => "user.exposure_reported",
    /// A person was added. Details: `email as role`.
    UserCreated => "user.created",
    /// A person's role changed. Details: `email: old → new`.
    UserRoleChanged => "user.role_changed",
    /// A person was deactivated. Details: their email.
    UserDeactivated => "user.deactivated",
    /// A person was reactivated. Details: their email.
    UserReactivated => "user.reactivated",
    /// A person signed in. Details: none.
    UserSignedIn => "user.signed_in",
    /// A person signed out. Details: none.
    UserSignedOut => "user.signed_out",
    /// A sign-in failed (wrong email or password). Details: none.
    UserSignInFailed => "user.sign_in_failed",
    /// Sign-ins for an account or address were refused in a throttling window. Details: how
    /// many, the window's length and its start.
    UserSignInThrottled => "user.sign_in_throttled",
    /// Every data key was re-wrapped under a new master key. Details: the key ids and counts.
    MasterKeyRotated => "master_key.rotated",
    /// A data-key rotation began. Details: `data key generation A → B`.
    DataKeyRotationStarted => "data_key.rotation_started",
    /// A data-key rotation finished. Details: the generations and the number of versions.
    DataKeyRotated => "data_key.rotated",
    /// The audit chain got its key (the first event of a keyed chain). Details: how many events
    /// came before it with plain links, and the head it continues from.
    ChainKeyed => "audit.chain_keyed",
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AuditAction;

    #[test]
    fn every_action_has_its_own_noun_dot_verb_name() {
        let mut names: Vec<&str> = AuditAction::ALL.iter().map(|action| action.as_str()).collect();
        for name in &names {
            let (noun, verb) = name.split_once('.').expect("noun.verb");
            for part in [noun, verb] {
                assert!(
                    !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                );
            }
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len(), "no two actions share a name");
    }
}
