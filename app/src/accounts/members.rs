//! Settings → Members: owners and admins list people, add them, change their role, deactivate
//! and reactivate them. Every rule is enforced by [`super::service::Accounts`]; the page only
//! offers what the viewer may do.
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::domain::{Role, User};
use crate::{
    components::{ReturnHere, Timestamp, count_successes, page_error, typed},
    error::AppError,
    ids::UserId,
    time::Millis,
};

/// Everything the members page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembersView {
    pub me: User,
    pub users: Vec<User>,
    /// The server's clock, so relative times read the same on the server and in the browser.
    pub now: Millis,
    /// A member just added by a plain form post (no JavaScript), shown once.
    pub added: Option<AddedMember>,
}

/// Who was just added, and the initial password when Sealbox generated it (shown once, never
/// stored in plaintext).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddedMember {
    pub email: String,
    pub generated_password: Option<String>,
}

/// The members page's data. Owners and admins only.
#[server(prefix = "/rpc", endpoint = "members")]
pub async fn members() -> Result<MembersView, AppError> {
    crate::error::respond(ssr::members().await)
}

/// Adds someone. A blank password means "generate one"; it is returned once.
#[server(prefix = "/rpc", endpoint = "add_member")]
pub async fn add_member(
    email: String,
    name: String,
    role: String,
    password: String,
) -> Result<AddedMember, AppError> {
    crate::error::respond(ssr::add_member(email, name, role, password).await)
}

/// Gives someone another role.
#[server(prefix = "/rpc", endpoint = "change_member_role")]
pub async fn change_member_role(user_id: UserId, role: String) -> Result<(), AppError> {
    crate::error::respond(ssr::change_member_role(user_id, role).await)
}

/// Deactivates (`active = false`, signed out at their next request; the browser goes on to what
/// they could know, their exposure report) or reactivates someone.
#[server(prefix = "/rpc", endpoint = "set_member_active")]
pub async fn set_member_active(user_id: UserId, active: bool) -> Result<(), AppError> {
    crate::error::respond(ssr::set_member_active(user_id, active).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::{AddedMember, MembersView};
    use crate::{
        accounts::{
            auth::ssr::manager,
            domain::{DisplayName, Email, Password, Role},
            session::{put_shown_once, take_shown_once},
        },
        error::{AppError, is_form_post},
        ids::UserId,
        time::Millis,
    };

    /// Where a member added by a plain form post waits to be shown once.
    const ADDED_MEMBER: &str = "added_member";

    pub async fn members() -> Result<MembersView, AppError> {
        let caller = manager().await?;
        let users = caller.state.accounts.list_users().await?;
        let key = caller.state.vault.keyring().shown_once_key();
        let added = take_shown_once(&caller.session, key, ADDED_MEMBER).await?;
        Ok(MembersView { me: caller.user, users, now: Millis::now(), added })
    }

    pub async fn add_member(
        email: String,
        name: String,
        role: String,
        password: String,
    ) -> Result<AddedMember, AppError> {
        crate::bounds::gate(&crate::bounds::NewPerson {
            token: "",
            email: &email,
            name: &name,
            role: &role,
            password: &password,
        })?;
        let caller = manager().await?;
        let email = Email::parse(&email)?;
        let name = DisplayName::parse(Some(&name), &email)?;
        let role = Role::parse(&role)?;
        let (password, generated) = if password.is_empty() {
            (Password::generate(), true)
        } else {
            (Password::new(password)?, false)
        };
        let generated_password = generated.then(|| password.expose().to_string());
        let user = caller
            .state
            .accounts
            .add_member(&caller.user, &caller.actor, email, name, role, password)
            .await?;
        let added = AddedMember { email: user.email, generated_password };
        if is_form_post() {
            let key = caller.state.vault.keyring().shown_once_key();
            put_shown_once(&caller.session, key, ADDED_MEMBER, &added).await?;
        }
        Ok(added)
    }

    pub async fn change_member_role(user_id: UserId, role: String) -> Result<(), AppError> {
        let caller = manager().await?;
        let role = Role::parse(&role)?;
        caller.state.accounts.change_role(&caller.user, &caller.actor, user_id, role).await?;
        Ok(())
    }

    pub async fn set_member_active(user_id: UserId, active: bool) -> Result<(), AppError> {
        let caller = manager().await?;
        caller.state.accounts.set_active(&caller.user, &caller.actor, user_id, active).await?;
        // Someone who leaves: show at once what they could know.
        if !active {
            leptos_axum::redirect(&format!("/settings/members/{user_id}/exposure"));
        }
        Ok(())
    }
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let add = ServerAction::<AddMember>::new();
    let change_role = ServerAction::<ChangeMemberRole>::new();
    let set_active = ServerAction::<SetMemberActive>::new();
    let changes = RwSignal::new(0_u32);
    count_successes(add.value(), changes);
    count_successes(change_role.value(), changes);
    count_successes(set_active.value(), changes);
    let data = Resource::new(move || changes.get(), |_| members());
    // The outcome of the last row action, announced in the status region.
    let row_error = move || {
        [
            change_role.value().get().and_then(Result::err),
            set_active.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|error| error.to_string())
    };
    view! {
        <Title text="Members" />
        <Transition fallback=|| {
            view! { <p class="muted">"Loading members…"</p> }
        }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(page) => {
                        view! {
                            <section class="page">
                                <p class="breadcrumb">
                                    <a href="/settings">"Settings"</a>
                                    " / Members"
                                </p>
                                <h1>"Members"</h1>
                                {move || {
                                    row_error()
                                        .map(|message| {
                                            view! {
                                                <p class="form-error" role="alert">
                                                    {message}
                                                </p>
                                            }
                                        })
                                }}
                                <MembersTable page=page.clone() change_role set_active />
                                <AddMemberForm add me=page.me.clone() flash=page.added.clone() />
                            </section>
                        }
                            .into_any()
                    }
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

#[component]
fn MembersTable(
    page: MembersView,
    change_role: ServerAction<ChangeMemberRole>,
    set_active: ServerAction<SetMemberActive>,
) -> impl IntoView {
    let MembersView { me, users, now, .. } = page;
    let rows = users
        .into_iter()
        .map(|user| {
            // Admins do not touch owners; the server says the same.
            let may_touch = me.role == Role::Owner || user.role != Role::Owner;
            let assignable: Vec<Role> = Role::ALL
                .into_iter()
                .filter(|role| me.role == Role::Owner || *role != Role::Owner)
                .collect();
            let select_id = format!("role-{}", user.id);
            let role_label = format!("Role of {}", user.email);
            let change_label = format!("Change role of {}", user.email);
            let toggle_label = if user.active {
                format!("Deactivate {}", user.email)
            } else {
                format!("Reactivate {}", user.email)
            };
            view! {
                <tr>
                    <td class="mono">{user.email.clone()}</td>
                    <td>{user.display_name.clone()}</td>
                    <td>{user.role.label()}</td>
                    <td>
                        {if user.active {
                            view! { <span class="badge ok">"Active"</span> }.into_any()
                        } else {
                            view! { <span class="badge warn">"Deactivated"</span> }.into_any()
                        }}
                    </td>
                    <td>
                        {match user.last_sign_in_at {
                            Some(at) => view! { <Timestamp at now /> }.into_any(),
                            None => view! { <span class="muted">"Never"</span> }.into_any(),
                        }}
                    </td>
                    <td class="actions">
                        <a
                            class=if user.active {
                                "button small secondary"
                            } else {
                                "button small warn"
                            }
                            href=format!("/settings/members/{}/exposure", user.id)
                            aria-label=format!("What {} could know", user.email)
                        >
                            "What they could know"
                        </a>
                        {may_touch
                            .then(|| {
                                view! {
                                    <ActionForm action=change_role attr:class="inline-form">
                                        <ReturnHere />
                                        <input
                                            type="hidden"
                                            name="user_id"
                                            value=user.id.to_string()
                                        />
                                        <label class="visually-hidden" for=select_id.clone()>
                                            {role_label}
                                        </label>
                                        <select id=select_id name="role">
                                            {assignable
                                                .iter()
                                                .map(|role| {
                                                    view! {
                                                        <option value=role.as_str() selected=*role == user.role>
                                                            {role.label()}
                                                        </option>
                                                    }
                                                })
                                                .collect_view()}
                                        </select>
                                        <button
                                            type="submit"
                                            class="secondary"
                                            aria-label=change_label
                                        >
                                            "Change role"
                                        </button>
                                    </ActionForm>
                                    <ActionForm action=set_active attr:class="inline-form">
                                        <ReturnHere />
                                        <input
                                            type="hidden"
                                            name="user_id"
                                            value=user.id.to_string()
                                        />
                                        <input
                                            type="hidden"
                                            name="active"
                                            value=(!user.active).to_string()
                                        />
                                        {if user.active {
                                            view! {
                                                <button
                                                    type="submit"
                                                    class="secondary danger"
                                                    aria-label=toggle_label.clone()
                                                >
                                                    "Deactivate"
                                                </button>
                                            }
                                                .into_any()
                                        } else {
                                            view! {
                                                <button
                                                    type="submit"
                                                    class="secondary"
                                                    aria-label=toggle_label
                                                >
                                                    "Reactivate"
                                                </button>
                                            }
                                                .into_any()
                                        }}
                                    </ActionForm>
                                }
                            })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data-table">
            <thead>
                <tr>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Last sign-in"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
fn AddMemberForm(
    add: ServerAction<AddMember>,
    me: User,
    flash: Option<AddedMember>,
) -> impl IntoView {
    let error = move || add.value().get().and_then(Result::err).map(|error| error.to_string());
    let added = move || add.value().get().and_then(Result::ok).or_else(|| flash.clone());
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|role| me.role == Role::Owner || *role != Role::Owner)
        .collect();
    view! {
        <h2>"Add member"</h2>
        <div role="status" class="notice-region">
            {move || {
                added()
                    .map(|added| {
                        view! {
                            <div class="notice ok">
                                <p>{format!("Added {}.", added.email)}</p>
                                {added
                                    .generated_password
                                    .map(|password| {
                                        view! {
                                            <p>
                                                "Their initial password, shown only this once: "
                                                <code class="generated-password">{password}</code>
                                            </p>
                                            <p class="muted">
                                                "Give it to them in person or through a password manager."
                                            </p>
                                        }
                                    })}
                            </div>
                        }
                    })
            }}
        </div>
        <ActionForm action=add attr:novalidate=true attr:class="stack narrow">
            <ReturnHere />
            <label for="member-email">"Email"</label>
            <input
                id="member-email"
                type="email"
                name="email"
                autocomplete="off"
                required
                value=move || typed("email").get()
            />
            <label for="member-name">"Name"</label>
            <input
                id="member-name"
                type="text"
                name="name"
                autocomplete="off"
                value=move || typed("name").get()
            />
            <label for="member-role">"Role"</label>
            <select id="member-role" name="role">
                {roles
                    .into_iter()
                    .map(|role| {
                        view! {
                            <option
                                value=role.as_str()
                                selected=move || {
                                    typed("role")
                                        .get()
                                        .map_or(
                                            role == Role::Member,
                                            |typed| typed == role.as_str(),
                                        )
                                }
                            >
                                {role.label()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <label for="member-password">"Initial password"</label>
            <input
                id="member-password"
                type="password"
                name="password"
                autocomplete="new-password"
                aria-describedby="member-password-help"
            />
            <p id="member-password-help" class="muted">
                "12 to 256 characters. Leave it empty and Sealbox generates one and shows it once."
            </p>
            {move || {
                error()
                    .map(|message| {
                        view! {
                            <p class="form-error" role="alert">
                                {message}
                            </p>
                        }
                    })
            }}
            <button type="submit" class="primary" disabled=move || add.pending().get()>
                "Add member"
            </button>
        </ActionForm>
    }
}
