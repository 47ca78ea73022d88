//! `/settings/members/{id}/exposure`: what a person could know, with Revoke all for the tokens
//! they created and an Export CSV (`…/exposure.csv`). Owners and admins.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::{CreatedToken, ExposedSecret, Exposure, ExposureReport};
use crate::{
    components::{
        ConfirmDialog, Timestamp, announce_successes, count_successes, dialog_href, form_error,
        open_dialog, page_error,
    },
    environments::TEAM_ENVIRONMENT,
    error::AppError,
    ids::UserId,
    secrets::page::team_secrets_href,
    time::Millis,
};

/// Owners and admins: what the person `user_id` could know. Audited.
#[server(prefix = "/rpc", endpoint = "person_exposure")]
pub async fn person_exposure(user_id: UserId) -> Result<ExposureReport, AppError> {
    crate::error::respond(ssr::exposure_report(user_id).await)
}

/// Owners and admins: revokes every live token the person `user_id` created.
#[server(prefix = "/rpc", endpoint = "revoke_person_tokens")]
pub async fn revoke_person_tokens(user_id: UserId) -> Result<String, AppError> {
    crate::error::respond(ssr::revoke_person_tokens(user_id).await)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use super::ExposureReport;
    use crate::{
        accounts::{auth::ssr::manager, domain::User},
        error::AppError,
        exposure::service,
        ids::UserId,
        state::AppState,
    };

    /// The person `user_id`, or 404.
    pub async fn person(state: &AppState, user_id: UserId) -> Result<User, AppError> {
        state
            .accounts
            .list_users()
            .await?
            .into_iter()
            .find(|user| user.id == user_id)
            .ok_or_else(|| AppError::NotFound(format!("There is no person with the id {user_id}")))
    }

    pub async fn exposure_report(user_id: UserId) -> Result<ExposureReport, AppError> {
        let caller = manager().await?;
        let person = person(&caller.state, user_id).await?;
        service::report(&caller.state.store, caller.state.vault.audit(), &caller.actor, &person)
            .await
    }

    pub async fn revoke_person_tokens(user_id: UserId) -> Result<String, AppError> {
        let caller = manager().await?;
        let person = person(&caller.state, user_id).await?;
        let state = &caller.state;
        let revoked =
            service::revoke_all(&state.store, &state.tokens, &caller.actor, &person).await?;
        Ok(match revoked {
            0 => format!("{} has no live tokens", person.email),
            1 => format!("Revoked 1 token created by {}", person.email),
            n => format!("Revoked {n} tokens created by {}", person.email),
        })
    }
}

/// Where a secret's Edit dialog opens.
fn edit_href(secret: &ExposedSecret) -> String {
    let base = match &secret.project {
        Some(slug) => format!("/projects/{slug}/{}", secret.environment),
        None => team_secrets_href(&secret.environment),
    };
    format!("{base}?dialog=edit:{}", secret.key)
}

fn place(secret: &ExposedSecret) -> String {
    match (&secret.project, secret.environment.as_str()) {
        (Some(slug), name) => format!("{slug} · {name}"),
        (None, TEAM_ENVIRONMENT) => "Team secrets · all environments".to_string(),
        (None, name) => format!("Team secrets · {name}"),
    }
}

#[component]
pub fn ExposurePage() -> impl IntoView {
    let params = use_params_map();
    let user_id = Signal::derive(move || {
        params.read().get("id").and_then(|id| id.parse::<i64>().ok()).map(UserId)
    });
    let revoke = ServerAction::<RevokePersonTokens>::new();
    let changes = RwSignal::new(0_u32);
    count_successes(revoke.value(), changes);
    let data = Resource::new(
        move || (user_id.get(), changes.get()),
        |(user_id, _)| async move {
            match user_id {
                Some(id) => person_exposure(id).await,
                None => Err(AppError::NotFound("There is no such person".into())),
            }
        },
    );
    let status = announce_successes([revoke.value()]);
    let error = move || revoke.value().get().and_then(Result::err);
    view! {
        <Title text="What they could know" />
        <section class="page">
            <p class="breadcrumb">
                <a href="/settings">"Settings"</a>
                " / "
                <a href="/settings/members">"Members"</a>
                " /"
            </p>
            {status}
            {form_error(error)}
            <Transition fallback=|| {
                view! { <p class="muted">"Loading…"</p> }
            }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(report) => view! { <Report report revoke /> }.into_any(),
                        Err(error) => page_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Report(report: ExposureReport, revoke: ServerAction<RevokePersonTokens>) -> impl IntoView {
    let team = report.team_secrets();
    let ExposureReport { user_id, email, active, now, secrets, tokens } = report;
    let live = tokens.iter().filter(|token| !token.revoked).count();
    let dialog = open_dialog();
    let who = StoredValue::new(email.clone());
    let summary = format!(
        "{} {} ({team} of them team {}); {} {} they created ({live} live).",
        secrets.len(),
        if secrets.len() == 1 { "secret they could know" } else { "secrets they could know" },
        if team == 1 { "secret" } else { "secrets" },
        tokens.len(),
        if tokens.len() == 1 { "token" } else { "tokens" },
    );
    let secret_rows = match secrets.is_empty() {
        true => view! { <Nothing columns=5 /> }.into_any(),
        false => secrets
            .into_iter()
            .map(|secret| view! { <SecretLine secret now /> })
            .collect_view()
            .into_any(),
    };
    let token_rows = match tokens.is_empty() {
        true => view! { <Nothing columns=7 /> }.into_any(),
        false => tokens
            .into_iter()
            .map(|token| view! { <TokenLine token now /> })
            .collect_view()
            .into_any(),
    };
    view! {
        <h1>{format!("What {email} could know")}</h1>
        <p class="muted">
            {if active {
                "An active member. "
            } else {
                "Deactivated: they can no longer sign in. "
            }}
            "Every secret whose current value they typed, or which a token they created has read. Rotate each one (a line goes once the secret has a newer version) and revoke their tokens."
        </p>
        <p role="status" class="notice">
            {summary}
        </p>
        <p>
            <a class="button secondary" href=format!("/settings/members/{user_id}/exposure.csv")>
                "Export CSV"
            </a>
        </p>
        <h2>"Secrets"</h2>
        <div class="table-scroll">
            <table class="data-table exposure-table">
                <thead>
                    <tr>
                        <th scope="col">"Where"</th>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Version"</th>
                        <th scope="col">"How they could know it"</th>
                        <th scope="col">"Set"</th>
                    </tr>
                </thead>
                <tbody>{secret_rows}</tbody>
            </table>
        </div>
        <h2>"Tokens they created"</h2>
        {(live > 0)
            .then(|| {
                view! {
                    <p>
                        <a class="button danger" href=dialog_href(Some("revoke-all"))>
                            "Revoke all"
                        </a>
                    </p>
                }
            })}
        <ConfirmDialog
            item=Signal::derive(move || {
                (live > 0 && dialog.get().as_deref() == Some("revoke-all"))
                    .then(|| (user_id, who.get_value(), live))
            })
            title=|_: &(UserId, String, usize)| "Revoke all their tokens?".to_string()
            id="revoke-all"
            action=revoke
            confirm="Revoke all"
            message=|(_, email, live): &(UserId, String, usize)| {
                format!(
                    "This revokes the {live} live token(s) {email} created. Programs that use them get 401 from their next request. This cannot be undone.",
                )
            }
            fields=|(user_id, _, _): &(UserId, String, usize)| {
                view! { <input type="hidden" name="user_id" value=user_id.to_string() /> }
            }
        />
        <div class="table-scroll">
            <table class="data-table exposure-tokens">
                <thead>
                    <tr>
                        <th scope="col">"Project"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Environment"</th>
                        <th scope="col">"Scope"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>{token_rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn SecretLine(secret: ExposedSecret, now: Millis) -> impl IntoView {
    let how = match secret.exposure {
        Exposure::Typed => "They set its value".to_string(),
        Exposure::ReadByToken => format!("Read by their token {}", secret.tokens.join(", ")),
    };
    let team = secret.project.is_none();
    let label = format!("Edit {} in {}", secret.key, place(&secret));
    view! {
        <tr>
            <td>
                {place(&secret)} {team.then(|| view! { <span class="badge info">"Team"</span> })}
            </td>
            <td>
                <a href=edit_href(&secret) aria-label=label>
                    <code class="secret-key">{secret.key.clone()}</code>
                </a>
            </td>
            <td>{format!("v{}", secret.version)}</td>
            <td>{how}</td>
            <td>
                <Timestamp at=secret.set_at now />
            </td>
        </tr>
    }
}

#[component]
fn TokenLine(token: CreatedToken, now: Millis) -> impl IntoView {
    view! {
        <tr>
            <td>{token.project}</td>
            <td class="mono">{token.name}</td>
            <td>{token.environment}</td>
            <td>{token.scope}</td>
            <td>
                <Timestamp at=token.created_at now />
            </td>
            <td>
                {match token.last_used_at {
                    Some(at) => view! { <Timestamp at now /> }.into_any(),
                    None => view! { <span class="muted">"Never"</span> }.into_any(),
                }}
            </td>
            <td>
                {if token.revoked {
                    view! { <span class="badge subtle">"Revoked"</span> }.into_any()
                } else {
                    view! { <span class="badge warn">"Live"</span> }.into_any()
                }}
            </td>
        </tr>
    }
}

/// The one row of an empty table.
#[component]
fn Nothing(columns: u8) -> impl IntoView {
    view! {
        <tr>
            <td colspan=columns.to_string() class="muted">
                "None"
            </td>
        </tr>
    }
}
