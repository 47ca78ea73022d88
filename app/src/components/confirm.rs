//! [`ConfirmDialog`]: the one shape of "are you sure?" — deleting a secret, a variable or a
//! project, revoking a token.
use leptos::{
    prelude::*,
    server_fn::{Http, ServerFn, client::Client, codec::PostUrl, request::ClientReq},
};
use serde::de::DeserializeOwned;
use web_sys::FormData;

use super::{ReturnHere, UrlDialog, dialog_error};
use crate::error::AppError;

/// The name of the field in which the person types the confirmation word, when one is asked for.
pub const CONFIRM_FIELD: &str = "confirm";

/// A dialog that asks before something that cannot be undone. It is open while `item` holds
/// something; `message` says plainly what will happen to it, `fields` are the hidden inputs
/// that name it to `action`, and the red button on the right of Cancel says `confirm`. With
/// `type_to_confirm`, the person types that word (a project's name) into the
/// [`CONFIRM_FIELD`] first. An error the server answers with is shown in the dialog, and
/// forgotten when it opens again.
#[component]
pub fn ConfirmDialog<S, P, T, M, MV, F, FV>(
    /// What is to be confirmed.
    #[prop(into)]
    item: Signal<Option<T>>,
    /// The dialog's title for it ("Delete API_KEY?").
    title: fn(&T) -> String,
    id: &'static str,
    action: ServerAction<S>,
    /// The button's word: "Delete", "Revoke".
    confirm: &'static str,
    message: M,
    fields: F,
    /// The word to type first, if any.
    #[prop(optional)]
    type_to_confirm: Option<fn(&T) -> String>,
) -> impl IntoView
where
    T: Clone + PartialEq + Send + Sync + 'static,
    M: Fn(&T) -> MV + Send + Sync + 'static,
    MV: IntoView + 'static,
    F: Fn(&T) -> FV + Send + Sync + 'static,
    FV: IntoView + 'static,
    S: DeserializeOwned
        + ServerFn<Protocol = Http<PostUrl, P>, Error = AppError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Client: Client<AppError>,
    <<S::Client as Client<AppError>>::Request as ClientReq<AppError>>::FormData: From<FormData>,
    S::Output: Clone + Send + Sync + 'static,
    P: 'static,
{
    let open = Signal::from(Memo::new(move |_| item.with(Option::is_some)));
    let error = dialog_error(open, action.value());
    let title =
        Signal::derive(move || item.with(|item| item.as_ref().map(title).unwrap_or_default()));
    let typed_error = move || error().and_then(|error| error.field_message(CONFIRM_FIELD));
    // Any other refusal (a hidden field's included) is the form's.
    let form_message = move || match error()? {
        AppError::Invalid { field, .. } if field == CONFIRM_FIELD => None,
        AppError::Invalid { message, .. } => Some(message),
        other => other.form_message(),
    };
    // Copyable handles: the dialog's content is built afresh each time it opens.
    let (message, fields) = (StoredValue::new(message), StoredValue::new(fields));
    let (input_id, error_id) = (format!("{id}-confirm"), format!("{id}-confirm-error"));
    let (input_id, error_id) = (StoredValue::new(input_id), StoredValue::new(error_id));
    view! {
        <UrlDialog open title id>
            {move || {
                item.get()
                    .map(|item| {
                        let typed = type_to_confirm
                            .map(|word| {
                                view! {
                                    <label for=input_id
                                        .get_value()>
                                        {format!("Type {} to confirm", word(&item))}
                                    </label>
                                    <input
                                        id=input_id.get_value()
                                        name=CONFIRM_FIELD
                                        autocomplete="off"
                                        required
                                        aria-describedby=error_id.get_value()
                                    />
                                    {move || {
                                        typed_error()
                                            .map(|m| {
                                                view! {
                                                    <p class="field-error" id=error_id.get_value()>
                                                        {m}
                                                    </p>
                                                }
                                            })
                                    }}
                                }
                            });
                        view! {
                            <p>{message.with_value(|message| message(&item))}</p>
                            <ActionForm action attr:novalidate=true attr:class="inline-form">
                                <ReturnHere />
                                {fields.with_value(|fields| fields(&item))}
                                {typed}
                                {move || {
                                    form_message()
                                        .map(|m| {
                                            view! {
                                                <p class="form-error" role="alert">
                                                    {m}
                                                </p>
                                            }
                                        })
                                }}
                                <button
                                    type="submit"
                                    class="primary danger"
                                    disabled=move || action.pending().get()
                                >
                                    {confirm}
                                </button>
                            </ActionForm>
                        }
                    })
            }}
        </UrlDialog>
    }
}
