//! The HTTP client the run-time commands use: the JSON API under `/api/v1`, with a project service
//! token. Values pass through here and are never logged; the token is zeroized when dropped.
use std::{collections::BTreeMap, path::Path, time::Duration};

use anyhow::{Context, anyhow, bail};
use app::api::{SecretInfo, VersionEntry};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::config::RemoteArgs;

/// A project on a Sealbox server, and the token that opens it.
pub struct Remote {
    http: reqwest::Client,
    /// `…/api/v1/projects/{slug}`, or `…/environments/{environment}` under it when one is
    /// named.
    project_url: String,
    token: Zeroizing<String>,
}

/// A secret's value as the API returns it.
#[derive(Deserialize)]
pub struct Revealed {
    pub value: Zeroizing<String>,
}

/// Whether a `set` made a new secret or a new version of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Updated,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
}

impl Remote {
    /// The configured server, or `None` when neither a URL nor a token is configured (so that
    /// `run` can fall back to a local `.env`). A half-made configuration is an error that says
    /// what is missing.
    pub fn configured(args: &RemoteArgs) -> anyhow::Result<Option<Self>> {
        let token = match (&args.token_file, &args.token) {
            (Some(file), _) => Some(read_token_file(file)?),
            (None, Some(token)) => Some(Zeroizing::new(token.trim().to_string())),
            (None, None) => None,
        };
        let url = args.url.as_deref().map(str::trim).filter(|url| !url.is_empty());
        let (url, token) = match (url, token) {
            (None, None) => return Ok(None),
            (Some(url), Some(token)) => (url, token),
            (None, Some(_)) => bail!("set SEALBOX_URL (or --url) to the Sealbox server's address"),
            (Some(_), None) => bail!(
                "set SEALBOX_TOKEN (or --token-file) to a service token from the project's \
                 Tokens tab"
            ),
        };
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|parsed| matches!(parsed.scheme(), "http" | "https") && parsed.has_host())
            .ok_or_else(|| {
                anyhow!("SEALBOX_URL must be an http:// or https:// address, not {url}")
            })?;
        let project =
            args.project.as_deref().map(str::trim).filter(|p| !p.is_empty()).ok_or_else(|| {
                anyhow!("set SEALBOX_PROJECT (or --project) to the project's slug, e.g. my-bot")
            })?;
        app::projects::ProjectSlug::parse(project)
            .map_err(|error| anyhow!("SEALBOX_PROJECT: {}", error.message))?;
        let environment = match args.environment.as_deref().map(str::trim) {
            None | Some("") => String::new(),
            Some(name) => {
                let name = app::environments::EnvironmentName::from_url(name)
                    .map_err(|error| anyhow!("SEALBOX_ENVIRONMENT: {}", error.message))?;
                format!("/environments/{name}")
            }
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("sealbox-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        let base = parsed.as_str().trim_end_matches('/');
        let project_url = format!("{base}/api/v1/projects/{project}{environment}");
        Ok(Some(Self { http, project_url, token }))
    }

    /// The configured server; an error naming what to set when there is none.
    pub fn required(args: &RemoteArgs) -> anyhow::Result<Self> {
        Self::configured(args)?.ok_or_else(|| {
            anyhow!(
                "no Sealbox server configured: set SEALBOX_URL, SEALBOX_TOKEN and \
                 SEALBOX_PROJECT (or --url, --token-file and --project)"
            )
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.project_url))
            .bearer_auth(self.token.as_str())
    }

    /// Sends a request; a non-success answer becomes an error with the server's message.
    async fn send(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        let response = request.send().await.map_err(|error| {
            let error = error.without_url();
            anyhow!("cannot reach Sealbox: {error}")
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(api_error(response).await.into())
    }

    /// The secrets' metadata, and the environment they are in (the server names it).
    pub async fn list(&self) -> anyhow::Result<(Vec<SecretInfo>, Option<String>)> {
        let response = self.send(self.request(Method::GET, "/secrets")).await?;
        let environment = response
            .headers()
            .get(app::api::ENVIRONMENT_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let secrets =
            response.json().await.context("the server's answer is not a list of secrets")?;
        Ok((secrets, environment))
    }

    /// The value of `key`, or `None` when the project has no such secret.
    pub async fn get(&self, key: &str) -> anyhow::Result<Option<Revealed>> {
        let response = self
            .request(Method::GET, &format!("/secrets/{key}"))
            .send()
            .await
            .map_err(|error| anyhow!("cannot reach Sealbox: {}", error.without_url()))?;
        match response.status() {
            status if status.is_success() => {
                Ok(Some(response.json().await.context("the server's answer is not a secret")?))
            }
            _ => match api_error(response).await {
                ApiFailure { code: Some(code), .. } if code == "secret_not_found" => Ok(None),
                failure => Err(failure.into()),
            },
        }
    }

    pub async fn set(&self, key: &str, value: &str) -> anyhow::Result<Written> {
        let body = json!({ "value": value });
        let response =
            self.send(self.request(Method::PUT, &format!("/secrets/{key}")).json(&body)).await?;
        Ok(if response.status() == StatusCode::CREATED {
            Written::Created
        } else {
            Written::Updated
        })
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.send(self.request(Method::DELETE, &format!("/secrets/{key}"))).await?;
        Ok(())
    }

    /// The versions of `key`, the newest first: metadata only.
    pub async fn history(&self, key: &str) -> anyhow::Result<Vec<VersionEntry>> {
        #[derive(Deserialize)]
        struct History {
            versions: Vec<VersionEntry>,
        }
        let response =
            self.send(self.request(Method::GET, &format!("/secrets/{key}/versions"))).await?;
        let history: History =
            response.json().await.context("the server's answer is not a secret's history")?;
        Ok(history.versions)
    }

    /// Rolls `key` back to `version`: the secret at its new version.
    pub async fn rollback(&self, key: &str, version: i64) -> anyhow::Result<SecretInfo> {
        let body = json!({ "version": version });
        let request = self.request(Method::POST, &format!("/secrets/{key}/rollback")).json(&body);
        let response = self.send(request).await?;
        response.json().await.context("the server's answer is not a secret")
    }

    /// The project's run-time environment: variables, team secrets, project secrets.
    pub async fn environment(&self) -> anyhow::Result<BTreeMap<String, Zeroizing<String>>> {
        let response = self.send(self.request(Method::GET, "/env")).await?;
        response.json().await.context("the server's answer is not an environment")
    }
}

/// A request the server refused: its message for people and stable code, or just the status
/// when the body is not the API's error shape (a proxy's page, say).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct ApiFailure {
    code: Option<String>,
    message: String,
}

async fn api_error(response: Response) -> ApiFailure {
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) => ApiFailure { message: body.message, code: Some(body.error) },
        Err(_) => ApiFailure { code: None, message: format!("the server answered {status}") },
    }
}

fn read_token_file(file: &Path) -> anyhow::Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the token file {}", file.display()))?,
    );
    let token = text.trim();
    if token.is_empty() {
        bail!("the token file {} is empty", file.display());
    }
    Ok(Zeroizing::new(token.to_string()))
}
