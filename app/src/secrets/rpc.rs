//! The secrets table's server functions and what they send: the rows (metadata only, never a
//! value) and the outcome of a create, update or delete.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::SecretMeta;
use crate::{error::AppError, ids::Version, time::Millis};

/// The scope name of the team secrets (projects' slugs never start with `_`).
pub const TEAM: &str = "_team";

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRow {
    pub meta: SecretMeta,
    /// A team secret shown outside its own page (in a project, or for one environment name while
    /// it applies to all): the team environment it is set for, `*` for every one.
    pub team: Option<String>,
    /// A secret that takes the place of a team secret with the same key: the team environment
    /// that one is set for (`*` for every one).
    pub overrides_team: Option<String>,
    /// Older than the project's maximum secret age.
    pub overdue: bool,
}

/// Everything the secrets table shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsView {
    pub can_manage: bool,
    pub now: Millis,
    /// The environment shown (`*` for the team's secrets for every environment).
    pub environment: String,
    /// The project's environments in their order, for the switcher; for the team scope, every
    /// environment name in use.
    pub environments: Vec<String>,
    pub rows: Vec<SecretRow>,
    /// Required keys set neither in the project nor for the team.
    pub missing_required: Vec<String>,
}

/// The table's data; anyone signed in. `scope` is a project's slug or [`TEAM`]; `environment`
/// names one of the project's environments (none: its first) or, for the team, the environment
/// name its secrets are for (none or `*`: every environment).
#[server(prefix = "/rpc", endpoint = "list_secrets")]
pub async fn list_secrets(
    scope: String,
    environment: Option<String>,
) -> Result<SecretsView, AppError> {
    crate::error::respond(ssr::list_secrets(scope, environment).await)
}

/// Owners and admins: adds a secret. An empty type takes the one the value suggests.
#[server(prefix = "/rpc", endpoint = "create_secret")]
pub async fn create_secret(
    scope: String,
    environment: Option<String>,
    key: String,
    value: String,
    description: String,
    secret_type: String,
) -> Result<String, AppError> {
    let input = ssr::Input { scope, environment, key };
    crate::error::respond(ssr::create_secret(input, value, description, secret_type).await)
}

/// Owners and admins: a new value (empty keeps the current one) and/or description.
#[server(prefix = "/rpc", endpoint = "update_secret")]
pub async fn update_secret(
    scope: String,
    environment: Option<String>,
    key: String,
    version: Version,
    value: String,
    description: String,
) -> Result<String, AppError> {
    let input = ssr::Input { scope, environment, key };
    crate::error::respond(ssr::update_secret(input, version, value, description).await)
}

/// Owners and admins: deletes a secret and its history, if nobody changed it since `version`.
#[server(prefix = "/rpc", endpoint = "delete_secret")]
pub async fn delete_secret(
    scope: String,
    environment: Option<String>,
    key: String,
    version: Version,
) -> Result<String, AppError> {
    let input = ssr::Input { scope, environment, key };
    crate::error::respond(ssr::delete_secret(input, version).await)
}

/// Owners and admins: copies the current value of `key` in the environment `environment` of the
/// project `scope` into its environment `to`, on the server. A key already there is replaced
/// (as a new version) only with `replace`.
#[server(prefix = "/rpc", endpoint = "copy_secret")]
pub async fn copy_secret(
    scope: String,
    environment: String,
    key: String,
    to: String,
    replace: Option<String>,
) -> Result<String, AppError> {
    crate::error::respond(ssr::copy_secret(scope, environment, key, to, replace).await)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use super::{SecretRow, SecretsView, TEAM};
    use crate::{
        accounts::auth::ssr::{manager, signed_in},
        environments::{EnvironmentName, TEAM_ENVIRONMENT},
        error::AppError,
        ids::Version,
        not_found::{Missing, NotFound},
        projects::ProjectSlug,
        secrets::{
            domain::{Description, SecretKey, SecretType, SecretValue},
            service::{NewSecret, Scope, SecretUpdate, VaultError},
        },
        state::AppState,
        time::{DAY_MS, Millis},
        validation::FieldError,
    };

    /// Which secret a call names: its scope (a slug or [`TEAM`]), environment and key.
    pub struct Input {
        pub scope: String,
        pub environment: Option<String>,
        pub key: String,
    }

    impl Input {
        fn bounds(&self) -> crate::bounds::SecretInput<'_> {
            crate::bounds::SecretInput::named(&self.scope, &self.key)
                .in_environment(self.environment.as_deref().unwrap_or_default())
        }
    }

    /// The scope a call names: the team's, or a project's environment (its first when the call
    /// names none).
    pub async fn scope(
        state: &AppState,
        text: &str,
        environment: Option<&str>,
    ) -> Result<Scope, AppError> {
        if text == TEAM {
            return Ok(match environment.map(str::trim).filter(|name| !name.is_empty()) {
                None | Some(TEAM_ENVIRONMENT) => Scope::Team,
                Some(name) => Scope::TeamEnvironment(
                    EnvironmentName::from_url(name)
                        .map_err(|_| NotFound::team_environment(name))?,
                ),
            });
        }
        let slug = ProjectSlug::parse(text)
            .map_err(|_| AppError::NotFound(format!("There is no project at /projects/{text}")))?;
        let environment = state.environments.named_or_first(&slug, environment).await?;
        Ok(Scope::Project(slug, environment))
    }

    /// The secrets of `scope`; none for a team environment nothing was set for yet.
    async fn listed(
        vault: &crate::secrets::service::Vault,
        scope: &Scope,
    ) -> Result<Vec<crate::secrets::SecretMeta>, AppError> {
        match (scope, vault.list_secrets(scope).await) {
            (Scope::TeamEnvironment(_), Err(VaultError::NotFound(missing)))
                if missing.what == Missing::Environment =>
            {
                Ok(Vec::new())
            }
            (_, listed) => Ok(listed?),
        }
    }

    pub async fn list_secrets(
        scope_text: String,
        environment: Option<String>,
    ) -> Result<SecretsView, AppError> {
        crate::bounds::gate(
            &crate::bounds::SecretInput::named(&scope_text, "")
                .in_environment(environment.as_deref().unwrap_or_default()),
        )?;
        let caller = signed_in().await?;
        let scope = scope(&caller.state, &scope_text, environment.as_deref()).await?;
        let vault = &caller.state.vault;
        let now = Millis::now();
        let own = listed(vault, &scope).await?;
        // The team scopes this one's secrets take the place of, the nearest first.
        let broader = match &scope {
            Scope::Team => Vec::new(),
            Scope::TeamEnvironment(_) => vec![Scope::Team],
            Scope::Project(_, environment) => {
                vec![Scope::TeamEnvironment(environment.clone()), Scope::Team]
            }
        };
        let mut inherited = Vec::with_capacity(broader.len());
        for team in &broader {
            inherited.push((team.environment_name().to_string(), listed(vault, team).await?));
        }
        let (settings, environments) = match &scope {
            Scope::Team | Scope::TeamEnvironment(_) => {
                (None, caller.state.environments.names_in_use().await?)
            }
            Scope::Project(slug, _) => (
                Some(caller.state.projects.settings(slug).await?),
                caller.state.environments.list(slug).await?.into_iter().map(|e| e.name).collect(),
            ),
        };
        let max_age_ms = settings.as_ref().and_then(|s| s.max_secret_age_days).map(|d| d * DAY_MS);
        let overdue = |meta: &crate::secrets::SecretMeta| {
            max_age_ms.is_some_and(|max| now - meta.updated_at > max)
        };
        let holder = |key: &str, levels: &[(String, Vec<crate::secrets::SecretMeta>)]| {
            levels
                .iter()
                .find(|(_, metas)| metas.iter().any(|meta| meta.key == key))
                .map(|(name, _)| name.clone())
        };
        let mut rows: Vec<SecretRow> = own
            .into_iter()
            .map(|meta| SecretRow {
                team: None,
                overrides_team: holder(&meta.key, &inherited),
                overdue: overdue(&meta),
                meta,
            })
            .collect();
        for (index, (name, metas)) in inherited.iter().enumerate() {
            for meta in metas {
                if rows.iter().any(|row| row.meta.key == meta.key) {
                    continue;
                }
                rows.push(SecretRow {
                    team: Some(name.clone()),
                    overrides_team: holder(&meta.key, &inherited[index + 1..]),
                    overdue: overdue(meta),
                    meta: meta.clone(),
                });
            }
        }
        rows.sort_by(|a, b| a.meta.key.cmp(&b.meta.key));
        let missing_required = settings
            .map(|settings| {
                settings
                    .required
                    .into_iter()
                    .filter(|key| !rows.iter().any(|row| &row.meta.key == key))
                    .collect()
            })
            .unwrap_or_default();
        Ok(SecretsView {
            can_manage: caller.user.role.can_manage(),
            now,
            environment: scope.environment_name().to_string(),
            environments,
            rows,
            missing_required,
        })
    }

    pub async fn create_secret(
        input: Input,
        value: String,
        description: String,
        secret_type: String,
    ) -> Result<String, AppError> {
        crate::bounds::gate(&crate::bounds::SecretInput {
            value: &value,
            description: &description,
            secret_type: &secret_type,
            ..input.bounds()
        })?;
        let caller = manager().await?;
        let scope = scope(&caller.state, &input.scope, input.environment.as_deref()).await?;
        let secret = NewSecret {
            key: SecretKey::parse(&input.key)?,
            value: SecretValue::new(value)?,
            description: Description::parse(Some(&description))?,
            secret_type: match secret_type.trim() {
                "" => None,
                text => Some(SecretType::parse(text)?),
            },
        };
        let meta = caller.state.vault.create_secret(&caller.actor, &scope, secret).await?;
        Ok(format!("Secret {} created", meta.key))
    }

    pub async fn update_secret(
        input: Input,
        version: Version,
        value: String,
        description: String,
    ) -> Result<String, AppError> {
        crate::bounds::gate(&crate::bounds::SecretInput {
            value: &value,
            description: &description,
            ..input.bounds()
        })?;
        let caller = manager().await?;
        let scope = scope(&caller.state, &input.scope, input.environment.as_deref()).await?;
        let key = SecretKey::parse(&input.key)?;
        let update = SecretUpdate {
            expected_version: version,
            value: if value.is_empty() { None } else { Some(SecretValue::new(value)?) },
            description: Description::parse(Some(&description))?,
        };
        let meta = caller.state.vault.update_secret(&caller.actor, &scope, &key, update).await?;
        Ok(format!("Secret {} updated", meta.key))
    }

    pub async fn delete_secret(input: Input, version: Version) -> Result<String, AppError> {
        crate::bounds::gate(&input.bounds())?;
        let caller = manager().await?;
        let scope = scope(&caller.state, &input.scope, input.environment.as_deref()).await?;
        let key = SecretKey::existing(&input.key)?;
        caller.state.vault.delete_secret(&caller.actor, &scope, &key, Some(version)).await?;
        Ok(format!("Secret {key} deleted"))
    }

    pub async fn copy_secret(
        slug_text: String,
        from: String,
        key: String,
        to: String,
        replace: Option<String>,
    ) -> Result<String, AppError> {
        crate::bounds::gate(&crate::bounds::BetweenEnvironments {
            slug: &slug_text,
            from: &from,
            to: &to,
            key: &key,
            choice: replace.as_deref().unwrap_or_default(),
            seen: "",
        })?;
        let caller = manager().await?;
        let slug = crate::projects::slug_in_url(&slug_text)?;
        let environments = &caller.state.environments;
        let from = environments.named_or_first(&slug, Some(&from)).await?;
        let to = match to.trim() {
            "" => return Err(FieldError::new("to", "Choose the environment to copy to").into()),
            name => environments.named_or_first(&slug, Some(name)).await?,
        };
        let key = SecretKey::existing(&key)?;
        let replace = replace.is_some_and(|text| !text.is_empty());
        let copied =
            caller.state.vault.copy_secret(&caller.actor, &slug, &from, &key, &to, replace).await?;
        Ok(match copied.replaced {
            true => format!("{key} copied to {to} as version {}", copied.version),
            false => format!("{key} copied to {to}"),
        })
    }
}
