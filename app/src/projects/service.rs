//! Projects as people manage them: creating one (with its data key) and deleting it, the list,
//! settings (name, required secrets, maximum secret age) and plain environment variables.
use std::{collections::BTreeSet, sync::Arc};

use serde::{Deserialize, Serialize};

use super::{ProjectListItem, ProjectName, ProjectSettings, ProjectSlug, Variable, VariableValue};
use crate::{
    audit::{Actor, AuditAction, AuditLog, Event},
    crypto::DataKey,
    error::AppError,
    keyring::{Keyring, project_key_aad},
    not_found::NotFound,
    secrets::domain::SecretKey,
    store::{Store, WritePool, now_millis, with_pool},
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
}

impl From<ProjectError> for AppError {
    fn from(error: ProjectError) -> Self {
        match error {
            ProjectError::Invalid(field) => field.into(),
            ProjectError::NotFound(missing) => missing.into(),
            ProjectError::NoChanges => Self::Validation(ProjectError::NoChanges.to_string()),
            ProjectError::Database(error) => Self::internal(error),
        }
    }
}

type Result<T, E = ProjectError> = std::result::Result<T, E>;

#[derive(sqlx::FromRow)]
struct ListRow {
    name: String,
    slug: String,
    updated_at: i64,
    secrets: i64,
    secret_change: Option<i64>,
    variable_change: Option<i64>,
}

/// A project row as the other methods need it.
struct ProjectRow {
    id: i64,
    slug: String,
}

#[derive(Clone)]
pub struct Projects {
    store: Store,
    audit: AuditLog,
    keyring: Arc<Keyring>,
}

/// A project just created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSummary {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub created_at: i64,
}

impl Projects {
    pub fn new(store: Store, audit: AuditLog, keyring: Arc<Keyring>) -> Self {
        Self { store, audit, keyring }
    }

    /// Creates a project and its first data key, wrapped by the current master key.
    pub async fn create_project(&self, actor: &Actor, name: ProjectName) -> Result<ProjectSummary> {
        let slug = ProjectSlug::from_name(&name)?;
        let now = now_millis();
        let data_key = DataKey::generate();
        let inserted: std::result::Result<i64, sqlx::Error> = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = match sqlx::query_scalar(
                "INSERT INTO projects (kind, name, slug, created_at, updated_at) \
                 VALUES ('project', $1, $2, $3, $3) RETURNING id",
            )
            .bind(name.as_str())
            .bind(slug.as_str())
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            {
                Ok(id) => id,
                Err(error) if is_unique_violation(&error) => return Err(slug_taken(&slug)),
                Err(error) => return Err(ProjectError::Database(error)),
            };
            let wrapped = self.keyring.wrap_key(&data_key, &project_key_aad(id, 1));
            sqlx::query(
                "INSERT INTO project_keys \
                 (project_id, generation, master_key_id, wrapped_key, created_at) \
                 VALUES ($1, 1, $2, $3, $4)",
            )
            .bind(id)
            .bind(self.keyring.current_id())
            .bind(wrapped)
            .bind(now)
            .execute(&mut *tx)
            .await?;
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
        let id: Option<i64> = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: Option<i64> = sqlx::query_scalar(
                "DELETE FROM projects WHERE slug = $1 AND kind = 'project' RETURNING id",
            )
            .bind(slug.as_str())
            .fetch_optional(&mut *tx)
            .await?;
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
        let rows: Vec<ListRow> = with_pool!(self.store, |pool| {
            sqlx::query_as(
                "SELECT p.name, p.slug, p.updated_at, \
                 (SELECT count(*) FROM secrets s WHERE s.project_id = p.id) AS secrets, \
                 (SELECT max(s.updated_at) FROM secrets s WHERE s.project_id = p.id) \
                 AS secret_change, \
                 (SELECT max(v.updated_at) FROM variables v WHERE v.project_id = p.id) \
                 AS variable_change \
                 FROM projects p WHERE p.kind = 'project' ORDER BY lower(p.name), p.slug",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|row| ProjectListItem {
                last_change: row
                    .updated_at
                    .max(row.secret_change.unwrap_or(0))
                    .max(row.variable_change.unwrap_or(0)),
                name: row.name,
                slug: row.slug,
                secrets: row.secrets,
            })
            .collect())
    }

    /// A project's name and settings.
    pub async fn settings(&self, slug: &ProjectSlug) -> Result<ProjectSettings> {
        let (row, name, max_age) = self.find(slug).await?;
        let required: Vec<String> = with_pool!(self.store, |pool| {
            sqlx::query_scalar(
                "SELECT key FROM required_secrets WHERE project_id = $1 ORDER BY key",
            )
            .bind(row.id)
            .fetch_all(pool)
            .await?
        });
        Ok(ProjectSettings { name, slug: row.slug, required, max_secret_age_days: max_age })
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
        let now = now_millis();
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: Option<i64> = sqlx::query_scalar(
                "UPDATE projects SET name = $1, max_secret_age_days = $2, updated_at = $3 \
                 WHERE slug = $4 AND kind = 'project' RETURNING id",
            )
            .bind(name.as_str())
            .bind(max_secret_age_days)
            .bind(now)
            .bind(slug.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let id = id.ok_or_else(|| NotFound::project(slug))?;
            sqlx::query("DELETE FROM required_secrets WHERE project_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for key in &required {
                sqlx::query("INSERT INTO required_secrets (project_id, key) VALUES ($1, $2)")
                    .bind(id)
                    .bind(key.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            let details = format!(
                "name: {}; required: {}; maximum age: {}",
                name.as_str(),
                if required.is_empty() {
                    "none".to_string()
                } else {
                    required.iter().map(SecretKey::as_str).collect::<Vec<_>>().join(", ")
                },
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

    /// The project's variables by key; values included (they are not secret).
    pub async fn variables(&self, slug: &ProjectSlug) -> Result<Vec<Variable>> {
        let (row, _, _) = self.find(slug).await?;
        let rows: Vec<(String, String, bool, i64, i64)> = with_pool!(self.store, |pool| {
            sqlx::query_as(
                "SELECT key, value, include_in_export, created_at, updated_at FROM variables \
                 WHERE project_id = $1 ORDER BY key",
            )
            .bind(row.id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(key, value, include_in_export, created_at, updated_at)| Variable {
                key,
                value,
                include_in_export,
                created_at,
                updated_at,
            })
            .collect())
    }

    pub async fn create_variable(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        key: &SecretKey,
        value: VariableValue,
        include_in_export: bool,
    ) -> Result<()> {
        let (row, _, _) = self.find(slug).await?;
        let now = now_millis();
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO variables (project_id, key, value, include_in_export, created_at, \
                 created_by, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $5, $6)",
            )
            .bind(row.id)
            .bind(key.as_str())
            .bind(value.as_str())
            .bind(include_in_export)
            .bind(now)
            .bind(&actor.name)
            .execute(&mut *tx)
            .await
            .map_err(|error| match error.as_database_error() {
                Some(db) if db.is_unique_violation() => ProjectError::Invalid(FieldError::new(
                    "key",
                    format!("A variable named {key} already exists in this project"),
                )),
                _ => ProjectError::Database(error),
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
        key: &SecretKey,
        value: VariableValue,
        include_in_export: bool,
    ) -> Result<()> {
        let (row, _, _) = self.find(slug).await?;
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE variables SET value = $1, include_in_export = $2, updated_at = $3, \
                 updated_by = $4 WHERE project_id = $5 AND key = $6 \
                 AND (value <> $1 OR include_in_export <> $2)",
            )
            .bind(value.as_str())
            .bind(include_in_export)
            .bind(now_millis())
            .bind(&actor.name)
            .bind(row.id)
            .bind(key.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                let exists: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM variables WHERE project_id = $1 AND key = $2",
                )
                .bind(row.id)
                .bind(key.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                return Err(match exists {
                    Some(_) => ProjectError::NoChanges,
                    None => NotFound::variable(key).into(),
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
        key: &SecretKey,
    ) -> Result<()> {
        let (row, _, _) = self.find(slug).await?;
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let deleted = sqlx::query("DELETE FROM variables WHERE project_id = $1 AND key = $2")
                .bind(row.id)
                .bind(key.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                return Err(NotFound::variable(key).into());
            }
            self.audit
                .record(&mut *tx, variable_event(actor, AuditAction::VariableDeleted, &row, key))
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The variables marked "Include in export", as a `.env` file. Never secrets.
    pub async fn export_env(&self, slug: &ProjectSlug) -> Result<String> {
        let variables = self.variables(slug).await?;
        Ok(variables
            .iter()
            .filter(|variable| variable.include_in_export)
            .map(|variable| super::dotenv::line(&variable.key, &variable.value))
            .collect())
    }

    async fn find(&self, slug: &ProjectSlug) -> Result<(ProjectRow, String, Option<i64>)> {
        let row: Option<(i64, String, String, Option<i64>)> = with_pool!(self.store, |pool| {
            sqlx::query_as(
                "SELECT id, slug, name, max_secret_age_days FROM projects \
                 WHERE slug = $1 AND kind = 'project'",
            )
            .bind(slug.as_str())
            .fetch_optional(pool)
            .await?
        });
        let (id, slug_text, name, max_age) = row.ok_or_else(|| NotFound::project(slug))?;
        Ok((ProjectRow { id, slug: slug_text }, name, max_age))
    }
}

fn slug_taken(slug: &ProjectSlug) -> ProjectError {
    ProjectError::Invalid(FieldError::new(
        "name",
        format!("A project with the URL /projects/{slug} already exists; choose another name"),
    ))
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error.as_database_error().is_some_and(|db| db.is_unique_violation())
}

fn variable_event<'a>(
    actor: &'a Actor,
    action: AuditAction,
    project: &'a ProjectRow,
    key: &'a SecretKey,
) -> Event<'a> {
    Event {
        actor,
        action,
        project_id: Some(project.id),
        project_slug: Some(&project.slug),
        secret_key: Some(key.as_str()),
        version: None,
        details: None,
    }
}
