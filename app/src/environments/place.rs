//! The one lookup of where a project's environment is stored, shared by the secrets, variables
//! and tokens services.
use super::{TEAM_ENVIRONMENT, repo::EnvironmentRows};
use crate::{
    ids::{EnvironmentId, ProjectId},
    not_found::NotFound,
    projects::ProjectSlug,
    store::{RepoError, Store, with_pool},
};

/// Where a project's environment (or one of the team scope's: `*` for every environment, or
/// the name of the environments it applies to) is stored.
#[derive(Debug, Clone)]
pub struct Place {
    pub project_id: ProjectId,
    /// The project's slug; `None` for the team scope.
    pub slug: Option<String>,
    pub environment_id: EnvironmentId,
    pub environment: String,
}

/// Looks up the environment `name` of the project `slug` (or of the team scope, for `None`):
/// a missing project and a missing environment are different [`NotFound`]s.
pub async fn place<E>(store: &Store, slug: Option<&ProjectSlug>, name: &str) -> Result<Place, E>
where
    E: From<NotFound> + From<RepoError> + From<sqlx::Error>,
{
    with_pool!(store, |pool| place_on(&mut *pool.acquire().await?, slug, name).await)
}

/// [`place`] on a connection or transaction of the caller's.
pub(crate) async fn place_on<C, E>(
    conn: &mut C,
    slug: Option<&ProjectSlug>,
    name: &str,
) -> Result<Place, E>
where
    C: EnvironmentRows + Send,
    E: From<NotFound> + From<RepoError>,
{
    let slug_text = slug.map(ProjectSlug::as_str);
    let row = conn.place(slug_text, name).await?;
    let missing = || match slug {
        Some(slug) => NotFound::project(slug),
        None => NotFound::team_scope(),
    };
    let row = row.ok_or_else(missing)?;
    let environment_id = row.environment_id.ok_or_else(|| match slug {
        Some(slug) => NotFound::environment(slug, name),
        None if name == TEAM_ENVIRONMENT => NotFound::team_scope(),
        // The team scope's environments of one name are made by its first secret there.
        None => NotFound::team_environment(name),
    })?;
    Ok(Place {
        project_id: row.project_id,
        slug: slug.map(|_| row.slug),
        environment_id,
        environment: name.to_string(),
    })
}

/// The team scope's one environment.
pub async fn team_place<E>(store: &Store) -> Result<Place, E>
where
    E: From<NotFound> + From<RepoError> + From<sqlx::Error>,
{
    place(store, None, TEAM_ENVIRONMENT).await
}
