//! First run: while nobody exists, `/setup?token=…` (logged by the server) creates the owner.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    components::{NotFound, ReturnHere, typed},
    error::AppError,
};

/// Whether the first-run set-up is still open (no users exist yet).
#[server(prefix = "/rpc", endpoint = "setup_open")]
pub async fn setup_open() -> Result<bool, AppError> {
    crate::error::respond(ssr::setup_open().await)
}

/// Creates the first owner with the set-up token, signs them in and goes to the start page.
#[server(prefix = "/rpc", endpoint = "create_first_owner")]
pub async fn create_first_owner(
    token: String,
    email: String,
    name: String,
    password: String,
) -> Result<(), AppError> {
    crate::error::respond(ssr::create_first_owner(token, email, name, password).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::{
        accounts::{
            auth::ssr::request,
            domain::{DisplayName, Email, Password},
            session,
        },
        error::AppError,
        state::AppState,
    };

    pub async fn setup_open() -> Result<bool, AppError> {
        let state = AppState::from_context()?;
        Ok(state.accounts.count_users().await? == 0)
    }

    pub async fn create_first_owner(
        token: String,
        email: String,
        name: String,
        password: String,
    ) -> Result<(), AppError> {
        crate::bounds::gate(&crate::bounds::NewPerson {
            token: &token,
            email: &email,
            name: &name,
            role: "owner",
            password: &password,
        })?;
        let (state, session, ip) = request().await?;
        let email = Email::parse(&email)?;
        let name = DisplayName::parse(Some(&name), &email)?;
        let password = Password::new(password)?;
        let user = state.accounts.create_first_owner(&token, email, name, password, ip).await?;
        session.cycle_id().await.map_err(AppError::internal)?;
        session.insert(session::USER_ID, user.id).await.map_err(AppError::internal)?;
        leptos_axum::redirect("/");
        Ok(())
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let open = Resource::new(|| (), |_| setup_open());
    let create = ServerAction::<CreateFirstOwner>::new();
    let token = move || use_query_map().read().get("token").unwrap_or_default();
    let error = move || match create.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match open.await {
                    Ok(true) => {
                        view! {
                            <Title text="Set up Sealbox" />
                            <section class="page auth-card">
                                <h1>"Set up Sealbox"</h1>
                                <p class="muted">
                                    "Create the owner account. You can add more people later."
                                </p>
                                <ActionForm action=create attr:novalidate=true attr:class="stack">
                                    <ReturnHere />
                                    <input type="hidden" name="token" value=token />
                                    <label for="email">"Email"</label>
                                    <input
                                        id="email"
                                        type="email"
                                        name="email"
                                        autocomplete="username"
                                        required
                                        value=move || typed("email").get()
                                    />
                                    <label for="name">"Name"</label>
                                    <input
                                        id="name"
                                        type="text"
                                        name="name"
                                        autocomplete="name"
                                        value=move || typed("name").get()
                                    />
                                    <label for="password">"Password"</label>
                                    <input
                                        id="password"
                                        type="password"
                                        name="password"
                                        autocomplete="new-password"
                                        minlength="12"
                                        required
                                    />
                                    {move || {
                                        error()
                                            .map(|m| {
                                                view! {
                                                    <p class="form-error" role="alert">
                                                        {m}
                                                    </p>
                                                }
                                            })
                                    }}
                                    <button type="submit" class="primary">
                                        "Create owner"
                                    </button>
                                </ActionForm>
                            </section>
                        }
                            .into_any()
                    }
                    _ => view! { <NotFound /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
