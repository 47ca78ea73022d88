//! The Add, Edit and Delete dialogs of the secrets table. A value goes in and never comes out:
//! Edit leaves the value empty (kept unless a new one is typed).
use leptos::prelude::*;

use super::{
    domain::SecretType,
    rpc::{CreateSecret, DeleteSecret, SecretRow, TEAM, UpdateSecret},
};
use crate::components::{
    ConfirmDialog, ReturnHere, UrlDialog, dialog_error, field_error, form_error, open_dialog, typed,
};

/// `add` or `add:KEY` (a required secret's key filled in).
pub(super) fn add_dialog_key(dialog: Option<String>) -> Option<String> {
    match dialog.as_deref() {
        Some("add") => Some(String::new()),
        Some(other) => other.strip_prefix("add:").map(str::to_string),
        None => None,
    }
}

#[component]
pub(super) fn AddSecretDialog(
    scope: Signal<String>,
    environment: Signal<String>,
    create: ServerAction<CreateSecret>,
) -> impl IntoView {
    let dialog = open_dialog();
    let prefilled = Memo::new(move |_| add_dialog_key(dialog.get()));
    let open = Signal::from(Memo::new(move |_| prefilled.get().is_some()));
    let error = dialog_error(open, create.value());
    let shown = RwSignal::new(false);
    let value = RwSignal::new(String::new());
    let suggested = Memo::new(move |_| {
        let value = value.get();
        (!value.is_empty()).then(|| SecretType::suggest(&value))
    });
    // Forget what was typed once it is saved.
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            value.set(String::new());
            shown.set(false);
        }
    });
    let title = if scope.get_untracked() == TEAM { "Add team secret" } else { "Add Secret" };
    let (typed_key, typed_description, typed_type) =
        (typed("key"), typed("description"), typed("secret_type"));
    let chosen_type = Memo::new(move |_| {
        typed_type.get().and_then(|kind| SecretType::parse(&kind).ok()).or_else(|| suggested.get())
    });
    view! {
        <UrlDialog open title=title.to_string() id="add-secret">
            <ActionForm action=create attr:novalidate=true attr:class="stack">
                <ReturnHere />
                <input type="hidden" name="scope" value=move || scope.get() />
                <input type="hidden" name="environment" value=move || environment.get() />
                <label for="add-key">"Secret Key"</label>
                <input
                    id="add-key"
                    name="key"
                    class="mono"
                    required
                    autocomplete="off"
                    spellcheck="false"
                    placeholder="DISCORD_BOT_TOKEN"
                    value=move || typed_key.get().or_else(|| prefilled.get()).unwrap_or_default()
                    aria-describedby="add-key-error"
                />
                {field_error(error, "key", "add-key-error")}
                <label for="add-value">"Secret Value"</label>
                <div class="with-buttons">
                    <input
                        id="add-value"
                        name="value"
                        type=move || if shown.get() { "text" } else { "password" }
                        required
                        autocomplete="off"
                        spellcheck="false"
                        prop:value=move || value.get()
                        on:input=move |event| value.set(event_target_value(&event))
                        aria-describedby="add-value-error"
                    />
                    <button
                        type="button"
                        class="secondary"
                        aria-pressed=move || shown.get().to_string()
                        on:click=move |_| shown.update(|shown| *shown = !*shown)
                    >
                        {move || if shown.get() { "Hide" } else { "Show" }}
                    </button>
                    <button
                        type="button"
                        class="secondary"
                        on:click=move |_| {
                            if let Some(generated) = generate_value() {
                                value.set(generated);
                                shown.set(true);
                            }
                        }
                    >
                        "Generate"
                    </button>
                </div>
                {field_error(error, "value", "add-value-error")}
                <label for="add-description">"Description"</label>
                <input
                    id="add-description"
                    name="description"
                    autocomplete="off"
                    value=move || typed_description.get().unwrap_or_default()
                    aria-describedby="add-description-error"
                />
                {field_error(error, "description", "add-description-error")}
                <label for="add-type">"Type"</label>
                <select id="add-type" name="secret_type">
                    <option value="" selected=move || chosen_type.get().is_none()>
                        "Detect from the value"
                    </option>
                    {SecretType::ALL
                        .into_iter()
                        .map(|kind| {
                            view! {
                                <option
                                    value=kind.as_str()
                                    selected=move || chosen_type.get() == Some(kind)
                                >
                                    {kind.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                {field_error(error, "type", "add-type-error")}
                {form_error(error)}
                <div class="dialog-buttons">
                    <button type="submit" class="primary" disabled=move || create.pending().get()>
                        "Create Secret"
                    </button>
                </div>
            </ActionForm>
        </UrlDialog>
    }
}

/// The key of the row an `edit:KEY` or `delete:KEY` dialog is about, if it exists.
fn row_for(
    dialog: Option<String>,
    prefix: &str,
    rows: StoredValue<Vec<SecretRow>>,
) -> Option<SecretRow> {
    let key = dialog?.strip_prefix(prefix)?.to_string();
    rows.with_value(|rows| {
        rows.iter().find(|row| row.meta.key == key && row.team.is_none()).cloned()
    })
}

#[component]
pub(super) fn EditSecretDialog(
    scope: Signal<String>,
    environment: Signal<String>,
    update: ServerAction<UpdateSecret>,
    rows: StoredValue<Vec<SecretRow>>,
) -> impl IntoView {
    let dialog = open_dialog();
    let row = Memo::new(move |_| row_for(dialog.get(), "edit:", rows));
    let open = Signal::from(Memo::new(move |_| row.get().is_some()));
    let error = dialog_error(open, update.value());
    let title = Signal::derive(move || {
        row.get().map(|row| format!("Edit {}", row.meta.key)).unwrap_or_default()
    });
    view! {
        <UrlDialog open title id="edit-secret">
            {move || {
                row.get()
                    .map(|row| {
                        view! {
                            <ActionForm action=update attr:novalidate=true attr:class="stack">
                                <ReturnHere />
                                <input type="hidden" name="scope" value=move || scope.get() />
                                <input
                                    type="hidden"
                                    name="environment"
                                    value=move || environment.get()
                                />
                                <input
                                    type="hidden"
                                    name="version"
                                    value=row.meta.version.to_string()
                                />
                                <label for="edit-key">"Secret Key"</label>
                                <input
                                    id="edit-key"
                                    name="key"
                                    class="mono"
                                    readonly
                                    value=row.meta.key.clone()
                                />
                                <label for="edit-value">"New Value"</label>
                                <input
                                    id="edit-value"
                                    name="value"
                                    type="password"
                                    autocomplete="off"
                                    aria-describedby="edit-value-help edit-value-error"
                                />
                                <p class="muted" id="edit-value-help">
                                    "Leave empty to keep the current value."
                                </p>
                                {field_error(error, "value", "edit-value-error")}
                                <label for="edit-description">"Description"</label>
                                <input
                                    id="edit-description"
                                    name="description"
                                    autocomplete="off"
                                    value=typed("description")
                                        .get_untracked()
                                        .or(row.meta.description.clone())
                                        .unwrap_or_default()
                                    aria-describedby="edit-description-error"
                                />
                                {field_error(error, "description", "edit-description-error")}
                                {form_error(error)}
                                <div class="dialog-buttons">
                                    <button
                                        type="submit"
                                        class="primary"
                                        disabled=move || update.pending().get()
                                    >
                                        "Update Secret"
                                    </button>
                                </div>
                            </ActionForm>
                        }
                    })
            }}
        </UrlDialog>
    }
}

#[component]
pub(super) fn DeleteSecretDialog(
    scope: Signal<String>,
    environment: Signal<String>,
    delete: ServerAction<DeleteSecret>,
    rows: StoredValue<Vec<SecretRow>>,
) -> impl IntoView {
    let dialog = open_dialog();
    let row = Memo::new(move |_| row_for(dialog.get(), "delete:", rows));
    view! {
        <ConfirmDialog
            item=row
            title=|row: &SecretRow| format!("Delete {}?", row.meta.key)
            id="delete-secret"
            action=delete
            confirm="Delete"
            message=move |row: &SecretRow| {
                view! {
                    "This permanently deletes "
                    <code>{row.meta.key.clone()}</code>
                    {move || in_environment(&environment.get())}
                    {history_of(row.meta.version.0)}
                    " Programs that read it will no longer get it. This cannot be undone."
                }
            }
            fields=move |row: &SecretRow| {
                view! {
                    <input type="hidden" name="scope" value=move || scope.get() />
                    <input type="hidden" name="environment" value=move || environment.get() />
                    <input type="hidden" name="key" value=row.meta.key.clone() />
                    <input type="hidden" name="version" value=row.meta.version.to_string() />
                }
            }
        />
    }
}

/// A strong random value: 32 characters from 62 (about 190 bits), made in the browser. `None`
/// when the browser offers no cryptographic random numbers.
fn generate_value() -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut value = String::with_capacity(32);
    let mut bytes = [0u8; 64];
    // 248 = 4 × 62: bytes at or above it are skipped so every character is equally likely.
    while value.len() < 32 {
        if !random_bytes(&mut bytes) {
            return None;
        }
        for byte in bytes.iter().filter(|b| **b < 248) {
            if value.len() < 32 {
                value.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
            }
        }
    }
    Some(value)
}

#[cfg(feature = "hydrate")]
fn random_bytes(bytes: &mut [u8]) -> bool {
    web_sys::window()
        .and_then(|window| window.crypto().ok())
        .is_some_and(|crypto| crypto.get_random_values_with_u8_array(bytes).is_ok())
}

/// Values are generated in the browser only (the button does nothing before hydration).
#[cfg(not(feature = "hydrate"))]
fn random_bytes(_bytes: &mut [u8]) -> bool {
    false
}

/// " with its history (3 versions)." in the Delete dialog.
fn history_of(versions: i64) -> String {
    match versions {
        1 => " with its history (1 version).".to_string(),
        n => format!(" with its whole history ({n} versions), which no rollback can bring back."),
    }
}

/// " from production" in a message about a project's secret; nothing for a team secret.
fn in_environment(environment: &str) -> String {
    if environment.is_empty() || environment == crate::environments::TEAM_ENVIRONMENT {
        String::new()
    } else {
        format!(" from {environment}")
    }
}
