//! Signing in and out: the server functions and the `/login` page.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::domain::User;
use crate::{
    components::{ReturnHere, typed},
    error::AppError,
};

/// Checks the email and password, starts a new session (a new id: no session fixation) and
/// goes to the start page. Every failure says "Invalid email or password".
#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    crate::error::respond(ssr::sign_in(email, password).await)
}

/// Ends the session (it is deleted from the store) and goes to `/login`.
#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    crate::error::respond(ssr::sign_out().await)
}

/// Who is signed in on this browser, if anyone.
#[server(prefix = "/rpc", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    crate::error::respond(ssr::current_user().await)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use std::net::SocketAddr;

    use axum::extract::ConnectInfo;
    use tower_sessions::Session;

    use super::User;
    use crate::{
        accounts::{domain::Password, session},
        audit::{Actor, AuditAction, Event},
        error::AppError,
        state::AppState,
    };

    /// The request's session and client address.
    pub async fn request() -> Result<(AppState, Session, Option<String>), AppError> {
        let state = AppState::from_context()?;
        let session: Session = leptos_axum::extract().await.map_err(AppError::internal)?;
        let ip = leptos_axum::extract::<ConnectInfo<SocketAddr>>()
            .await
            .ok()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok((state, session, ip))
    }

    /// The calling user (or none), checked against the database on every call.
    pub async fn caller() -> Result<Option<User>, AppError> {
        let (state, session, _) = request().await?;
        session::session_user(&session, &state.accounts).await
    }

    /// A signed-in caller, with what a server function needs to act for them.
    pub struct SignedIn {
        pub state: AppState,
        pub session: Session,
        pub user: User,
        /// The user as the audit log names them, with their IP address.
        pub actor: Actor,
    }

    /// The guard for reading: anyone signed in, else 401.
    pub async fn signed_in() -> Result<SignedIn, AppError> {
        guarded(session::require_user).await
    }

    /// The guard for changing: owners and admins, else 401 (anonymous) or 403 (members).
    pub async fn manager() -> Result<SignedIn, AppError> {
        guarded(session::require_manager).await
    }

    async fn guarded(
        guard: fn(Option<User>) -> Result<User, AppError>,
    ) -> Result<SignedIn, AppError> {
        let (state, session, ip) = request().await?;
        let user = guard(session::session_user(&session, &state.accounts).await?)?;
        let actor = Actor::new(user.email.clone(), ip);
        Ok(SignedIn { state, session, user, actor })
    }

    pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
        crate::bounds::gate(&crate::bounds::SignIn { email: &email, password: &password })?;
        let (state, session, ip) = request().await?;
        let user =
            state.accounts.sign_in(&email, Password::attempt(password), ip.as_deref()).await?;
        session.cycle_id().await.map_err(AppError::internal)?;
        session.insert(session::USER_ID, user.id).await.map_err(AppError::internal)?;
        leptos_axum::redirect("/");
        Ok(())
    }

    pub async fn sign_out() -> Result<(), AppError> {
        let (state, session, ip) = request().await?;
        if let Some(user) = session::session_user(&session, &state.accounts).await? {
            let actor = Actor::new(user.email, ip);
            state
                .audit
                .record_alone(Event::general(&actor, AuditAction::UserSignedOut, None))
                .await
                .map_err(AppError::internal)?;
        }
        session.flush().await.map_err(AppError::internal)?;
        leptos_axum::redirect("/login");
        Ok(())
    }

    pub async fn current_user() -> Result<Option<User>, AppError> {
        caller().await
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let error = move || match sign_in.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    view! {
        <Title text="Sign in" />
        <section class="page auth-card">
            <h1>"Sign in"</h1>
            <ActionForm action=sign_in attr:novalidate=true attr:class="stack">
                <ReturnHere />
                <label for="email">"Email"</label>
                <input
                    id="email"
                    type="email"
                    name="email"
                    autocomplete="username"
                    required
                    value=move || typed("email").get()
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    type="password"
                    name="password"
                    autocomplete="current-password"
                    required
                />
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
                <button type="submit" class="primary" disabled=move || sign_in.pending().get()>
                    "Sign in"
                </button>
            </ActionForm>
        </section>
    }
}

/// The signed-in user's email and "Sign out", or a "Sign in" link. Read again on every
/// navigation, so it follows sign-in and sign-out.
#[component]
pub fn AccountMenu() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let user = Resource::new(move || location.pathname.get(), |_| current_user());
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => {
                        view! {
                            <span class="account">{user.email}</span>
                            <ActionForm action=sign_out attr:class="inline-form">
                                <ReturnHere />
                                <button type="submit" class="nav-button">
                                    "Sign out"
                                </button>
                            </ActionForm>
                        }
                            .into_any()
                    }
                    _ => view! { <A href="/login">"Sign in"</A> }.into_any(),
                }
            })}
        </Suspense>
    }
}
