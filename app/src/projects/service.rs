//! Projects as people manage them: creating one (with its data key) and deleting it, the list,
//! settings (name, required secrets, maximum secret age) and plain environment variables.
use std::{collections::BTreeSet, sync::Arc};

use serde::{Deserialize, Serialize};

use super::{
    ProjectListItem, ProjectName, ProjectSettings, ProjectSlug, Variable, VariableValue,
    repo::{ProjectRow, ProjectRows, SettingsRow, VariableRow},
};
use crate::{
    audit::{Actor, AuditAction, AuditLog, Event},
    crypto::DataKey,
    environments::{
        DEFAULT_ENVIRONMENTS, EnvironmentName,
        place::{Place, place},
        repo::EnvironmentRows,
    },
    error::AppError,
    ids::ProjectId,
    keyring::{Keyring, project_key_aad, repo::KeyRows},
    not_found::NotFound,
    secrets::domain::SecretKey,
    store::{Store, WritePool, with_pool},
    time::Millis,
    validation::FieldError,
};

/// Why a project, its settings, a variable or a token was not changed (or not read).
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("{0}")]
    NotFound(#[from] NotFound),
    #[error("No changes to save")]
    NoChanges,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A repository statement failed: the error names it.
    #[error(transparent)]
    Repo(#[from] crate::store::RepoError),
    /// What the change was based on changed first; the message says what to do.
    #[error("{0}")]
    Conflict(String),
}

impl From<ProjectError> for AppError {
    fn from(error: ProjectError) -> Self {
        match error {
            ProjectError::Invalid(field) => field.into(),
            ProjectError::NotFound(missing) => missing.into(),
            ProjectError::NoChanges => Self::Validation(ProjectError::NoChanges.to_string()),
            ProjectError::Database(error) => Self::internal(error),
            ProjectError::Repo(error) => Self::internal(error),
            ProjectError::Conflict(message) => Self::Conflict(message),
        }
    }
}

type Result<T, E = ProjectError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct Projects {
    pub(super) store: Store,
    pub(super) audit: AuditLog,
    keyring: Arc<Keyring>,
}

/// A project just created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSummary {
    pub id: ProjectId,
    pub name: String,
    pub slug: String,
    pub created_at: Millis,
}

impl Projects {
    pub fn new(store: Store, audit: AuditLog, keyring: Arc<Keyring>) -> Self {
        Self { store, audit, keyring }
    }

    /// Creates a project with its environments (development, staging, production) and its first
    /// data key, wrapped by the current master key.
    pub async fn create_project(&self, actor: &Actor, name: ProjectName) -> Result<ProjectSummary> {
        let slug = ProjectSlug::from_name(&name)?;
        let now = Millis::now();
        let data_key = DataKey::generate();
        let inserted: Result<ProjectId> = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let id = match tx.insert_project(name.as_str(), slug.as_str(), now).await {
                Ok(id) => id,
                Err(error) if error.is_unique_violation() => return Err(slug_taken(&slug)),
                Err(error) => return Err(ProjectError::Repo(error)),
            };
            for environment in DEFAULT_ENVIRONMENTS {
                tx.insert_environment(id, environment, now).await?;
            }
            let wrapped = self.keyring.wrap_key(&data_key, &project_key_aad(id, 1));
            tx.insert_first_data_key(id, self.keyring.current_id(), &wrapped, now).await?;
            self.audit
                .record(
                    &mut *tx,
                    Event::about_project(actor, AuditAction::ProjectCreated, id, slug.as_str()),
                )
                .await?;
            tx.commit().await?;
            Ok(id)
        });
        let id = inserted?;
        self.keyring.remember_data_key(id, 1, data_key);
        Ok(ProjectSummary {
            id,
            name: name.as_str().to_string(),
            slug: slug.as_str().to_string(),
            created_at: now,
        })
    }

    /// Deletes a project with its secrets, versions, variables and data key.
    pub async fn delete_project(&self, actor: &Actor, slug: &ProjectSlug) -> Result<()> {
        let id: Option<ProjectId> = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let id = tx.delete_project(slug.as_str()).await?;
            if let Some(id) = id {
                self.audit
                    .record(
                        &mut *tx,
                        Event::about_project(actor, AuditAction::ProjectDeleted, id, slug.as_str()),
                    )
                    .await?;
                tx.commit().await?;
            }
            id
        });
        let id = id.ok_or_else(|| NotFound::project(slug))?;
        self.keyring.evict(id);
        Ok(())
    }

    /// Every project by name, with its number of secrets and when anything in it last changed.
    pub async fn list(&self) -> Result<Vec<ProjectListItem>> {
        let rows = with_pool!(self.store, |pool| pool.acquire().await?.list_projects().await?);
        Ok(rows
            .into_iter()
            .map(|row| ProjectListItem {
                last_change: row
                    .updated_at
                    .max(row.secret_change.unwrap_or(Millis(0)))
                    .max(row.variable_change.unwrap_or(Millis(0))),
                name: row.name,
                slug: row.slug,
                secrets: row.secrets,
                environments_missing_required: row.missing_required,
            })
            .collect())
    }

    /// A project's name and settings.
    pub async fn settings(&self, slug: &ProjectSlug) -> Result<ProjectSettings> {
        let row = self.find(slug).await?;
        let required =
            with_pool!(self.store, |pool| pool.acquire().await?.required_secrets(row.id).await?);
        Ok(ProjectSettings {
            name: row.name,
            slug: row.slug,
            required,
            max_secret_age_days: row.max_secret_age_days,
        })
    }

    /// Renames a project (its URL stays) and replaces its required secrets and maximum age.
    pub async fn update_settings(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        name: ProjectName,
        required: BTreeSet<SecretKey>,
        max_secret_age_days: Option<i64>,
    ) -> Result<ProjectSettings> {
        let row = SettingsRow {
            slug: slug.as_str(),
            name: name.as_str(),
            max_secret_age_days,
            at: Millis::now(),
        };
        let keys: Vec<&str> = required.iter().map(SecretKey::as_str).collect();
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let id = tx.update_settings(&row).await?.ok_or_else(|| NotFound::project(slug))?;
            tx.replace_required_secrets(id, &keys).await?;
            let details = format!(
                "name: {}; required: {}; maximum age: {}",
                name.as_str(),
                if keys.is_empty() { "none".to_string() } else { keys.join(", ") },
                max_secret_age_days.map_or("none".to_string(), |days| format!("{days} days")),
            );
            self.audit
                .record(
                    &mut *tx,
                    Event::project(
                        actor,
                        AuditAction::ProjectSettingsChanged,
                        id,
                        slug.as_str(),
                        details,
                    ),
                )
                .await?;
            tx.commit().await?;
        });
        self.settings(slug).await
    }

    /// An environment's variables by key; values included (they are not secret).
    pub async fn variables(
        &self,
        slug: &ProjectSlug,
        environment: &EnvironmentName,
    ) -> Result<Vec<Variable>> {
        let at = self.place(slug, environment).await?;
        Ok(with_pool!(self.store, |pool| {
            pool.acquire().await?.variables(at.environment_id).await?
        }))
    }

    pub async fn create_variable(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        environment: &EnvironmentName,
        key: &SecretKey,
        value: VariableValue,
        include_in_export: bool,
    ) -> Result<()> {
        let row = self.place(slug, environment).await?;
        let variable = variable_row(actor, &row, key, &value, include_in_export);
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            tx.insert_variable(&variable).await.map_err(|error| {
                if error.is_unique_violation() {
                    ProjectError::Invalid(FieldError::new(
                        "key",
                        format!("A variable named {key} already exists in {environment}"),
                    ))
                } else {
                    ProjectError::Repo(error)
                }
            })?;
            self.audit
                .record(&mut *tx, variable_event(actor, AuditAction::VariableCreated, &row, key))
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn update_variable(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        environment: &EnvironmentName,
        key: &SecretKey,
        value: VariableValue,
        include_in_export: bool,
    ) -> Result<()> {
        let row = self.place(slug, environment).await?;
        let variable = variable_row(actor, &row, key, &value, include_in_export);
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            if !tx.update_variable(&variable, None).await? {
                return Err(if tx.variable_exists(row.environment_id, key.as_str()).await? {
                    ProjectError::NoChanges
                } else {
                    NotFound::variable(key).into()
                });
            }
            self.audit
                .record(&mut *tx, variable_event(actor, AuditAction::VariableUpdated, &row, key))
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn delete_variable(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        environment: &EnvironmentName,
        key: &SecretKey,
    ) -> Result<()> {
        let row = self.place(slug, environment).await?;
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            if !tx.delete_variable(row.environment_id, key.as_str(), None).await? {
                return Err(NotFound::variable(key).into());
            }
            self.audit
                .record(&mut *tx, variable_event(actor, AuditAction::VariableDeleted, &row, key))
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// An environment's variables marked "Include in export", as a `.env` file. Never secrets.
    pub async fn export_env(
        &self,
        slug: &ProjectSlug,
        environment: &EnvironmentName,
    ) -> Result<String> {
        let variables = self.variables(slug, environment).await?;
        Ok(variables
            .iter()
            .filter(|variable| variable.include_in_export)
            .map(|variable| super::dotenv::line(&variable.key, &variable.value))
            .collect())
    }

    pub(super) async fn place(
        &self,
        slug: &ProjectSlug,
        environment: &EnvironmentName,
    ) -> Result<Place> {
        place(&self.store, Some(slug), environment.as_str()).await
    }

    async fn find(&self, slug: &ProjectSlug) -> Result<ProjectRow> {
        let row =
            with_pool!(self.store, |pool| pool.acquire().await?.project(slug.as_str()).await?);
        Ok(row.ok_or_else(|| NotFound::project(slug))?)
    }
}

fn slug_taken(slug: &ProjectSlug) -> ProjectError {
    ProjectError::Invalid(FieldError::new(
        "name",
        format!("A project with the URL /projects/{slug} already exists; choose another name"),
    ))
}

pub(super) fn variable_row<'a>(
    actor: &'a Actor,
    project: &Place,
    key: &'a SecretKey,
    value: &'a VariableValue,
    include_in_export: bool,
) -> VariableRow<'a> {
    VariableRow {
        project_id: project.project_id,
        environment_id: project.environment_id,
        key: key.as_str(),
        value: value.as_str(),
        include_in_export,
        at: Millis::now(),
        by: &actor.name,
    }
}

fn variable_event<'a>(
    actor: &'a Actor,
    action: AuditAction,
    project: &'a Place,
    key: &'a SecretKey,
) -> Event<'a> {
    Event {
        actor,
        action,
        project_id: Some(project.project_id),
        project_slug: project.slug.as_deref(),
        environment: Some(&project.environment),
        secret_key: Some(key.as_str()),
        version: None,
        details: None,
    }
}
