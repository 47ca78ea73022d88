//! Environments as owners and admins manage them: list, add, rename, reorder and delete (a
//! project keeps at least one). Each change is audited in its own transaction.
use super::{Environment, EnvironmentName, repo::EnvironmentRows};
use crate::{
    audit::{Actor, AuditAction, AuditLog, Event},
    not_found::NotFound,
    projects::{ProjectSlug, repo::ProjectRows, service::ProjectError},
    store::{Store, WritePool, with_pool},
    time::Millis,
    validation::FieldError,
};

/// Which way an environment moves in the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Earlier,
    Later,
}

type Result<T, E = ProjectError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct Environments {
    store: Store,
    audit: AuditLog,
}

impl Environments {
    pub fn new(store: Store, audit: AuditLog) -> Self {
        Self { store, audit }
    }

    /// The project's environments in their order; anyone who may see the project.
    pub async fn list(&self, slug: &ProjectSlug) -> Result<Vec<Environment>> {
        let found = with_pool!(self.store, |pool| {
            let mut connection = pool.acquire().await?;
            match connection.project_id(slug.as_str()).await? {
                Some(id) => Some(connection.environments(id).await?),
                None => None,
            }
        });
        Ok(found.ok_or_else(|| NotFound::project(slug))?)
    }

    /// Every environment name a project or the team scope uses (the team's `*` aside), the
    /// names projects put first coming first: the environments team secrets may be set for.
    pub async fn names_in_use(&self) -> Result<Vec<String>> {
        Ok(with_pool!(self.store, |pool| pool.acquire().await?.environment_names().await?))
    }

    /// The project's first environment: where its page opens, and what a token made without
    /// naming one reads.
    pub async fn first(&self, slug: &ProjectSlug) -> Result<Environment> {
        let first = self.list(slug).await?.into_iter().next();
        // A project always keeps one: none means the database was changed by hand.
        Ok(first.ok_or_else(|| NotFound::environment(slug, "(any)"))?)
    }

    /// The environment a request names (by its name in a URL or a form field), or the project's
    /// first when it names none. A name that breaks the rules names no environment: not found.
    pub async fn named_or_first(
        &self,
        slug: &ProjectSlug,
        name: Option<&str>,
    ) -> Result<EnvironmentName> {
        match name.map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) => EnvironmentName::from_url(name)
                .map_err(|_| NotFound::environment(slug, name).into()),
            None => Ok(EnvironmentName::from_url(&self.first(slug).await?.name)?),
        }
    }

    /// Adds an environment after the project's last one.
    pub async fn create(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        name: &EnvironmentName,
    ) -> Result<Environment> {
        let now = Millis::now();
        let created = with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let project_id =
                tx.lock_project(slug.as_str()).await?.ok_or_else(|| NotFound::project(slug))?;
            let id = match tx.insert_environment(project_id, name.as_str(), now).await {
                Ok(id) => id,
                Err(error) if error.is_unique_violation() => return Err(name_taken(name)),
                Err(error) => return Err(error.into()),
            };
            let event = Event::about_project(
                actor,
                AuditAction::EnvironmentCreated,
                project_id,
                slug.as_str(),
            )
            .in_environment(name.as_str());
            self.audit.record(&mut *tx, event).await?;
            let created = tx.environments(project_id).await?.into_iter().find(|e| e.id == id);
            tx.commit().await?;
            created
        });
        Ok(created.ok_or_else(|| NotFound::environment(slug, name))?)
    }

    /// Renames an environment; its secrets, variables and tokens stay with it.
    pub async fn rename(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        from: &EnvironmentName,
        to: &EnvironmentName,
    ) -> Result<()> {
        if from == to {
            return Err(ProjectError::NoChanges);
        }
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let project_id =
                tx.lock_project(slug.as_str()).await?.ok_or_else(|| NotFound::project(slug))?;
            match tx.rename_environment(project_id, from.as_str(), to.as_str()).await {
                Ok(Some(_)) => {}
                Ok(None) => return Err(NotFound::environment(slug, from).into()),
                Err(error) if error.is_unique_violation() => return Err(name_taken(to)),
                Err(error) => return Err(error.into()),
            }
            let event = Event::project(
                actor,
                AuditAction::EnvironmentRenamed,
                project_id,
                slug.as_str(),
                format!("{from} → {to}"),
            )
            .in_environment(to.as_str());
            self.audit.record(&mut *tx, event).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Moves an environment one place earlier or later; at either end it stays (no change).
    pub async fn reorder(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        name: &EnvironmentName,
        direction: Direction,
    ) -> Result<Vec<Environment>> {
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let project_id =
                tx.lock_project(slug.as_str()).await?.ok_or_else(|| NotFound::project(slug))?;
            let mut order = tx.environments(project_id).await?;
            let at = order
                .iter()
                .position(|e| e.name == name.as_str())
                .ok_or_else(|| NotFound::environment(slug, name))?;
            let to = match direction {
                Direction::Earlier => at.checked_sub(1),
                Direction::Later => Some(at + 1).filter(|&to| to < order.len()),
            };
            let Some(to) = to else {
                return Err(ProjectError::NoChanges);
            };
            order.swap(at, to);
            // Positions 1..n in the new order: also repairs gaps left by deletions.
            for (index, environment) in order.iter_mut().enumerate() {
                let position = index as i64 + 1;
                if environment.position != position {
                    tx.set_position(environment.id, position).await?;
                    environment.position = position;
                }
            }
            let names: Vec<&str> = order.iter().map(|e| e.name.as_str()).collect();
            let event = Event::project(
                actor,
                AuditAction::EnvironmentsReordered,
                project_id,
                slug.as_str(),
                names.join(", "),
            )
            .in_environment(name.as_str());
            self.audit.record(&mut *tx, event).await?;
            tx.commit().await?;
            Ok(order)
        })
    }

    /// Deletes an environment with its secrets, versions, variables and tokens, once the person
    /// has typed its name. The project's last environment stays.
    pub async fn delete(
        &self,
        actor: &Actor,
        slug: &ProjectSlug,
        name: &EnvironmentName,
        typed: &str,
    ) -> Result<()> {
        if typed.trim() != name.as_str() {
            return Err(FieldError::new(
                "confirm",
                format!("Type {name} to confirm that it and everything in it is deleted"),
            )
            .into());
        }
        with_pool!(self.store, |pool| {
            let mut tx = pool.begin_write().await?;
            let project_id =
                tx.lock_project(slug.as_str()).await?.ok_or_else(|| NotFound::project(slug))?;
            let count = tx.environments(project_id).await?.len();
            let deleted = tx.delete_environment(project_id, name.as_str()).await?;
            if deleted.is_none() {
                return Err(NotFound::environment(slug, name).into());
            }
            if count <= 1 {
                return Err(FieldError::new(
                    "confirm",
                    "A project keeps at least one environment; add another before deleting this one",
                )
                .into());
            }
            let event = Event::about_project(
                actor,
                AuditAction::EnvironmentDeleted,
                project_id,
                slug.as_str(),
            )
            .in_environment(name.as_str());
            self.audit.record(&mut *tx, event).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

fn name_taken(name: &EnvironmentName) -> ProjectError {
    ProjectError::Invalid(FieldError::new(
        "name",
        format!("This project already has an environment named {name}"),
    ))
}
