//! Pieces every form uses.
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

use crate::error::AppError;

/// The name of the hidden field that tells the server which page a form was posted from.
pub const RETURN_FIELD: &str = "__return";

/// Lets a form work without JavaScript. Pages send no `Referer` (the policy is `no-referrer`), so
/// a plain form post names its page in this field; the server sends the browser back there, with
/// the error for the page to show if the call failed. Server functions ignore the field.
#[component]
pub fn ReturnHere() -> impl IntoView {
    let location = use_location();
    let here = move || {
        let query = location.query.get();
        let pairs = query.into_iter().map(|(name, value)| (name.to_string(), value.to_string()));
        super::dialog::href(&location.pathname.get(), pairs)
    };
    view! { <input type="hidden" name=RETURN_FIELD value=here /> }
}

/// After a failed plain form post (no JavaScript), the server sends the browser back with what was
/// typed into these fields as `typed.FIELD` query parameters, so that the form shows it again.
/// Never a secret or variable value, a password or a token: the URL is kept in the history.
pub const KEPT_FIELDS: &[&str] = &[
    "key",
    "description",
    "secret_type",
    "name",
    "email",
    "role",
    "scope",
    "expires_in_days",
    "environment",
];

/// The prefix of the query parameters that carry [`KEPT_FIELDS`].
pub const TYPED_PREFIX: &str = "typed.";

/// What was typed into `field` (one of [`KEPT_FIELDS`]) before a failed plain form post.
pub fn typed(field: &'static str) -> Signal<Option<String>> {
    let query = use_query_map();
    Signal::derive(move || query.read().get(&format!("{TYPED_PREFIX}{field}")))
}

/// The error shown beside one field, tied to it with `aria-describedby`.
pub fn field_error(
    error: impl Fn() -> Option<AppError> + Send + Sync + 'static,
    field: &'static str,
    id: &'static str,
) -> impl IntoView {
    move || {
        error().and_then(|error| error.field_message(field)).map(|message| {
            view! {
                <p class="field-error" id=id>
                    {message}
                </p>
            }
        })
    }
}

/// The error for the form as a whole (conflicts, "No changes to save", permissions).
pub fn form_error(error: impl Fn() -> Option<AppError> + Send + Sync + 'static) -> impl IntoView {
    move || {
        error().and_then(|error| error.form_message()).map(|message| {
            view! {
                <p class="form-error" role="alert">
                    {message}
                </p>
            }
        })
    }
}

/// Counts an action's successes into `changes`. Data keyed on `changes` reloads after a change
/// but not after a refused attempt: reloading then would rebuild the form and lose what the
/// person typed while reading the error.
pub fn count_successes<O, T, E>(outcome: O, changes: RwSignal<u32>)
where
    O: Get<Value = Option<Result<T, E>>> + Send + Sync + 'static,
    T: 'static,
    E: 'static,
{
    Effect::new(move |_| {
        if matches!(outcome.get(), Some(Ok(_))) {
            changes.update(|count| *count += 1);
        }
    });
}

/// The status region that announces what the last of `outcomes` did (for screen readers); a
/// success also closes the dialog that held its form. Each action reports a success as a message.
pub fn announce_successes<O, E>(outcomes: impl IntoIterator<Item = O>) -> impl IntoView
where
    O: Get<Value = Option<Result<String, E>>> + Send + Sync + 'static,
    E: 'static,
{
    let announcement = RwSignal::new(None::<String>);
    for outcome in outcomes {
        Effect::new(move |_| {
            if let Some(Ok(message)) = outcome.get() {
                announcement.set(Some(message));
                super::dialog::close_dialog();
            }
        });
    }
    view! {
        <p class="sr-status" role="status" aria-live="polite">
            {move || announcement.get()}
        </p>
    }
}
