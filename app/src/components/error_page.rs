use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Redirect};

use crate::error::AppError;

/// A full-page error with its HTTP status set on the server-rendered response.
#[component]
pub fn ErrorPage(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
    let title = error.title();
    view! {
        <Title text=title />
        <section class="page error-page" role="alert">
            <p class="error-code">{error.status()}</p>
            <h1>{title}</h1>
            <p>{error.to_string()}</p>
            <p>
                <A href="/">"Back to the start page"</A>
            </p>
        </section>
    }
}

/// What a page shows when loading its data failed: anonymous visitors are sent to `/login`
/// (a 302 on the server-rendered response), everyone else sees the error with its status.
pub fn page_error(error: AppError) -> AnyView {
    match error {
        AppError::Unauthorized => view! { <Redirect path="/login" /> }.into_any(),
        error => view! { <ErrorPage error /> }.into_any(),
    }
}

/// The page for any path that matches no route.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <ErrorPage error=AppError::NotFound(
            "There is nothing at this address. It may have moved, or the link may be mistyped."
                .into(),
        ) />
    }
}

/// Fallback for an `ErrorBoundary`: shows the first error as an [`ErrorPage`]. Errors that are not
/// an [`AppError`] are shown as an opaque internal error.
#[component]
pub fn ErrorTemplate(errors: ArcRwSignal<Errors>) -> impl IntoView {
    move || {
        let error = errors
            .read()
            .iter()
            .next()
            .map(|(_, error)| {
                error
                    .downcast_ref::<AppError>()
                    .cloned()
                    .unwrap_or_else(|| AppError::Internal("unexpected".into()))
            })
            .unwrap_or_else(|| AppError::Internal("unknown".into()));
        view! { <ErrorPage error /> }
    }
}
