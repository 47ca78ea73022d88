//! The project's Tokens tab (owners and admins): the live tokens with their scope, creation,
//! last use and expiry; "Create token" shows the new token exactly once; "Revoke" asks first.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{TokenInfo, TokenScope};
use crate::{
    components::{
        ConfirmDialog, ReturnHere, Timestamp, UrlDialog, announce_successes, close_dialog,
        count_successes, dialog_error, dialog_href, field_error, form_error, open_dialog,
        page_error, typed,
    },
    error::AppError,
    ids::TokenId,
    projects::project::use_slug,
    time::{self, Millis},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensView {
    pub tokens: Vec<TokenInfo>,
    /// The project's environments in their order: the create dialog's choices, the first one
    /// preselected.
    pub environments: Vec<String>,
    pub now: Millis,
    /// A token created by a plain form post, shown on this one page load.
    pub created: Option<CreatedToken>,
}

/// A token just made: the only time it is ever sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub name: String,
    pub token: String,
}

/// Owners and admins: the project's live tokens.
#[server(prefix = "/rpc", endpoint = "list_tokens")]
pub async fn list_tokens(slug: String) -> Result<TokensView, AppError> {
    crate::error::respond(ssr::list_tokens(slug).await)
}

/// Owners and admins: makes a token for one environment (none named: the project's first;
/// `scope` is `read` or `read-write`; `expires_in_days` empty for never) and returns it, once.
#[server(prefix = "/rpc", endpoint = "create_token")]
pub async fn create_token(
    slug: String,
    #[server(default)] environment: String,
    name: String,
    scope: String,
    #[server(default)] expires_in_days: String,
) -> Result<CreatedToken, AppError> {
    crate::error::respond(ssr::create_token(slug, environment, name, scope, expires_in_days).await)
}

/// Owners and admins: revokes a token; programs using it get 401 from their next request.
#[server(prefix = "/rpc", endpoint = "revoke_token")]
pub async fn revoke_token(slug: String, token_id: TokenId) -> Result<String, AppError> {
    crate::error::respond(ssr::revoke_token(slug, token_id).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::{CreatedToken, TokensView};
    use crate::{
        accounts::{
            auth::ssr::manager,
            session::{put_shown_once, take_shown_once},
        },
        error::{AppError, is_form_post},
        ids::TokenId,
        projects::project::ssr::slug,
        time::Millis,
        tokens::{TokenName, TokenScope, parse_expiry_days},
    };

    /// Where a token created by a plain form post waits to be shown once.
    const CREATED_TOKEN: &str = "created_token";

    pub async fn list_tokens(slug_text: String) -> Result<TokensView, AppError> {
        let caller = manager().await?;
        let slug = slug(&slug_text)?;
        let tokens = caller.state.tokens.list(&slug).await?;
        let environments = caller.state.environments.list(&slug).await?;
        let key = caller.state.vault.keyring().shown_once_key();
        let created = take_shown_once(&caller.session, key, CREATED_TOKEN).await?;
        Ok(TokensView {
            tokens,
            environments: environments.into_iter().map(|e| e.name).collect(),
            now: Millis::now(),
            created,
        })
    }

    pub async fn create_token(
        slug_text: String,
        environment: String,
        name: String,
        scope: String,
        expires_in_days: String,
    ) -> Result<CreatedToken, AppError> {
        crate::bounds::gate(&crate::bounds::TokenInput {
            slug: &slug_text,
            environment: &environment,
            name: &name,
            scope: &scope,
            expires_in_days: &expires_in_days,
        })?;
        let caller = manager().await?;
        let slug = slug(&slug_text)?;
        let name = TokenName::parse(&name)?;
        let scope = TokenScope::parse(&scope)?;
        let days = parse_expiry_days(&expires_in_days)?;
        let environment =
            caller.state.environments.named_or_first(&slug, Some(environment.as_str())).await?;
        let tokens = &caller.state.tokens;
        let (info, token) =
            tokens.create(&caller.actor, &slug, Some(&environment), name, scope, days).await?;
        let created = CreatedToken { name: info.name, token: token.expose().to_string() };
        if is_form_post() {
            let key = caller.state.vault.keyring().shown_once_key();
            put_shown_once(&caller.session, key, CREATED_TOKEN, &created).await?;
        }
        Ok(created)
    }

    pub async fn revoke_token(slug_text: String, token_id: TokenId) -> Result<String, AppError> {
        let caller = manager().await?;
        let name = caller.state.tokens.revoke(&caller.actor, &slug(&slug_text)?, token_id).await?;
        Ok(format!("Token {name} revoked"))
    }
}

#[component]
pub fn TokensTab() -> impl IntoView {
    let slug = use_slug();
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let changes = RwSignal::new(0_u32);
    count_successes(create.value(), changes);
    count_successes(revoke.value(), changes);
    let data = Resource::new(move || (slug.get(), changes.get()), |(slug, _)| list_tokens(slug));
    let status = announce_successes([revoke.value()]);
    view! {
        {status}
        <Transition fallback=|| {
            view! { <p class="muted">"Loading tokens…"</p> }
        }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <TokensTable view slug create revoke /> }.into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

#[component]
fn TokensTable(
    view: TokensView,
    slug: Signal<String>,
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
) -> impl IntoView {
    let TokensView { tokens, environments, now, created } = view;
    let tokens = StoredValue::new(tokens);
    let rows = tokens
        .get_value()
        .into_iter()
        .map(|token| {
            let revoke_href = dialog_href(Some(&format!("revoke-token:{}", token.id)));
            view! {
                <tr>
                    <td>{token.name.clone()}</td>
                    <td>
                        <code>{token.environment.clone()}</code>
                    </td>
                    <td>
                        <span class="badge">{token.scope.as_str()}</span>
                    </td>
                    <td>
                        <Timestamp at=token.created_at now />
                        " by "
                        {token.created_by.clone()}
                    </td>
                    <td>
                        {match token.last_used_at {
                            Some(at) => view! { <Timestamp at now /> }.into_any(),
                            None => view! { <span class="muted">"Never"</span> }.into_any(),
                        }}
                    </td>
                    <td>
                        {match token.expires_at {
                            Some(at) if at <= now => {
                                view! { <span class="badge warn">"Expired"</span> }.into_any()
                            }
                            Some(at) => {
                                // A moment ahead: the date, not "just now".
                                view! { <time datetime=time::iso(at)>{time::utc(at)}</time> }
                                    .into_any()
                            }
                            None => view! { <span class="muted">"Never"</span> }.into_any(),
                        }}
                    </td>
                    <td class="actions">
                        <a
                            class="button small secondary danger"
                            href=revoke_href
                            aria-label=format!("Revoke {}", token.name)
                        >
                            "Revoke"
                        </a>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let empty = tokens.with_value(Vec::is_empty);
    // The token from this page's own action, else one made by a plain form post.
    let shown = move || create.value().get().and_then(Result::ok).or_else(|| created.clone());
    view! {
        <div class="toolbar">
            <p class="muted">
                "Programs read this project's secrets with a token: the JSON API under "
                <code>"/api/v1"</code>" or "<code>"sealbox run"</code>"."
            </p>
            <a class="button" href=dialog_href(Some("create-token"))>
                "Create token"
            </a>
        </div>
        <div role="status" class="notice-region">
            {move || shown().map(|created| view! { <NewTokenNotice created /> })}
        </div>
        <p class="empty-state" hidden=!empty>
            "No tokens yet."
        </p>
        <table class="data-table" hidden=empty>
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Environment"</th>
                    <th scope="col">"Scope"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Last used"</th>
                    <th scope="col">"Expires"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <TokenDialogs slug environments tokens create revoke />
    }
}

/// The new token, once, with a copy button.
#[component]
fn NewTokenNotice(created: CreatedToken) -> impl IntoView {
    let copied = RwSignal::new(false);
    let token = created.token.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&token);
                copied.set(true);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &token;
    };
    view! {
        <div class="notice ok">
            <p>
                {format!(
                    "Token {} created. Copy it now: it is shown only this once.",
                    created.name,
                )}
            </p>
            <p>
                <code class="new-token" data-testid="new-token">
                    {created.token.clone()}
                </code>
                " "
                <button type="button" class="secondary small" on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </p>
        </div>
    }
}

#[component]
fn TokenDialogs(
    slug: Signal<String>,
    environments: Vec<String>,
    tokens: StoredValue<Vec<TokenInfo>>,
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
) -> impl IntoView {
    let dialog = open_dialog();
    let creating =
        Signal::from(Memo::new(move |_| dialog.get().as_deref() == Some("create-token")));
    let revoking = Memo::new(move |_| {
        let id: TokenId = dialog.get()?.strip_prefix("revoke-token:")?.parse().ok()?;
        tokens.with_value(|all| all.iter().find(|t| t.id == id).cloned())
    });
    let create_error = dialog_error(creating, create.value());
    // The first environment is chosen unless a plain form post came back with another.
    let environments = StoredValue::new(environments);
    let environment_options = move || {
        let first = environments.with_value(|all| all.first().cloned()).unwrap_or_default();
        let chosen = typed("environment").get().unwrap_or(first);
        environments
            .get_value()
            .into_iter()
            .map(|name| {
                let (selected, label) = (name == chosen, name.clone());
                view! {
                    <option value=name selected=selected>
                        {label}
                    </option>
                }
            })
            .collect_view()
    };
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            close_dialog();
        }
    });
    view! {
        <UrlDialog open=creating title="Create token".to_string() id="create-token">
            <ActionForm action=create attr:novalidate=true attr:class="stack">
                <ReturnHere />
                <input type="hidden" name="slug" value=move || slug.get() />
                <label for="token-name">"Name"</label>
                <input
                    id="token-name"
                    name="name"
                    required
                    autocomplete="off"
                    placeholder="deploy-bot"
                    value=move || typed("name").get()
                    aria-describedby="token-name-error"
                />
                {field_error(create_error, "name", "token-name-error")}
                <label for="token-environment">"Environment"</label>
                <select
                    id="token-environment"
                    name="environment"
                    aria-describedby="token-environment-help token-environment-error"
                >
                    {environment_options}
                </select>
                <p class="muted" id="token-environment-help">
                    "The token reads and writes this environment only."
                </p>
                {field_error(create_error, "environment", "token-environment-error")}
                <label for="token-scope">"Scope"</label>
                <select id="token-scope" name="scope">
                    <option
                        value=TokenScope::Read.as_str()
                        selected=move || {
                            typed("scope").get().as_deref() != Some(TokenScope::ReadWrite.as_str())
                        }
                    >
                        "read: values and environment"
                    </option>
                    <option
                        value=TokenScope::ReadWrite.as_str()
                        selected=move || {
                            typed("scope").get().as_deref() == Some(TokenScope::ReadWrite.as_str())
                        }
                    >
                        "read-write: also set and delete secrets"
                    </option>
                </select>
                {field_error(create_error, "scope", "token-scope-error")}
                <label for="token-expiry">"Expires in (days)"</label>
                <input
                    id="token-expiry"
                    name="expires_in_days"
                    type="text"
                    inputmode="numeric"
                    placeholder="never"
                    value=move || typed("expires_in_days").get()
                    aria-describedby="token-expiry-error"
                />
                {field_error(create_error, "expires_in_days", "token-expiry-error")}
                {form_error(create_error)}
                <div class="dialog-buttons">
                    <button type="submit" class="primary">
                        "Create token"
                    </button>
                </div>
            </ActionForm>
        </UrlDialog>
        <ConfirmDialog
            item=revoking
            title=|token: &TokenInfo| format!("Revoke {}?", token.name)
            id="revoke-token"
            action=revoke
            confirm="Revoke"
            message=|token: &TokenInfo| {
                view! {
                    "Programs using the token "
                    <strong>{token.name.clone()}</strong>
                    {format!(" ({})", token.environment)}
                    " lose access at their next request."
                }
            }
            fields=move |token: &TokenInfo| {
                view! {
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <input type="hidden" name="token_id" value=token.id.to_string() />
                }
            }
        />
    }
}
