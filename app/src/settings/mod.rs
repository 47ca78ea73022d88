//! `/settings`: the index of what the signed-in person may configure.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::{auth::current_user, domain::Role},
    components::page_error,
    error::AppError,
};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <Title text="Settings"/>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match user.await.and_then(|user| user.ok_or(AppError::Unauthorized)) {
                    Ok(user) => view! {
                        <section class="page">
                            <h1>"Settings"</h1>
                            <p class="muted">
                                {format!("You are signed in as {} ({}).", user.email, user.role.label())}
                            </p>
                            {if user.role >= Role::Admin {
                                view! {
                                    <ul class="settings-links">
                                        <li>
                                            <a href="/settings/members">"Members"</a>
                                            <span class="muted">" — who can sign in, and their roles"</span>
                                        </li>
                                    </ul>
                                }
                                .into_any()
                            } else {
                                view! {
                                    <p>"Owners and admins manage members and settings. Ask one of them if you need a change."</p>
                                }
                                .into_any()
                            }}
                        </section>
                    }
                    .into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Suspense>
    }
}
