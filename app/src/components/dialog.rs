//! Dialogs addressed by the URL: `?dialog=edit:API_KEY` opens the edit dialog for `API_KEY`.
//!
//! Without JavaScript the server renders the dialog open (a link opened it, a plain form post
//! came back to it with its error). With JavaScript it is a native modal `<dialog>`: the rest of
//! the page is inert, focus stays inside, Escape closes it, and closing it takes the parameter
//! off the URL again.
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};

/// The query parameter that names the open dialog.
pub const DIALOG_PARAM: &str = "dialog";

/// The open dialog's name, from the URL.
pub fn open_dialog() -> Memo<Option<String>> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get(DIALOG_PARAM).filter(|d| !d.is_empty()))
}

/// The current URL with the dialog parameter set to `dialog`, or removed for `None`.
pub fn dialog_href(dialog: Option<&str>) -> String {
    let location = use_location();
    let query = location.query.get_untracked();
    let mut pairs: Vec<(String, String)> = query
        .into_iter()
        .filter(|(name, _)| name != DIALOG_PARAM)
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    if let Some(dialog) = dialog {
        pairs.push((DIALOG_PARAM.to_string(), dialog.to_string()));
    }
    href(&location.pathname.get_untracked(), pairs)
}

/// `path?query` from name/value pairs, without the `__path`/`__err` pair a failed plain form
/// post leaves behind.
pub fn href(path: &str, pairs: impl IntoIterator<Item = (String, String)>) -> String {
    let search: Vec<String> = pairs
        .into_iter()
        .filter(|(name, _)| !name.starts_with("__"))
        .map(|(name, value)| format!("{}={}", encode(&name), encode(&value)))
        .collect();
    if search.is_empty() { path.to_string() } else { format!("{path}?{}", search.join("&")) }
}

fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~:".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Closes whichever dialog is open by navigating to the URL without it.
pub fn close_dialog() {
    let navigate = use_navigate();
    navigate(&dialog_href(None), Default::default());
}

/// A native `<dialog>` shown while `open` is true. `title` labels it.
#[component]
pub fn UrlDialog(
    #[prop(into)] open: Signal<bool>,
    #[prop(into)] title: Signal<String>,
    id: &'static str,
    children: ChildrenFn,
) -> impl IntoView {
    let node = NodeRef::<leptos::html::Dialog>::new();
    let title_id = format!("{id}-title");
    let labelled_by = title_id.clone();
    // In the browser: make the server-rendered (non-modal) dialog modal, and follow the URL.
    Effect::new(move |_| {
        let should_open = open.get();
        if let Some(dialog) = node.get() {
            let modal = dialog.matches(":modal").unwrap_or(false);
            if should_open && !modal {
                if dialog.open() {
                    dialog.close();
                }
                let _ = dialog.show_modal();
            } else if !should_open && dialog.open() {
                dialog.close();
            }
        }
    });
    let navigate = use_navigate();
    // Closed by the person (Escape, Cancel): take the dialog off the URL. The close event that
    // turning the server-rendered dialog into a modal one causes arrives when the dialog is
    // already open again, and is ignored.
    let on_close = move |_| {
        let still_open = node.get_untracked().is_some_and(|dialog| dialog.open());
        if open.get_untracked() && !still_open {
            navigate(&dialog_href(None), Default::default());
        }
    };
    view! {
        <dialog
            node_ref=node
            id=id
            class="dialog"
            aria-labelledby=labelled_by
            // Rendered open by the server (and so without JavaScript); in the browser the effect
            // above opens and closes it, as a modal.
            open=open.get_untracked()
            on:close=on_close
        >
            <h2 id=title_id>{move || title.get()}</h2>
            // Built afresh each time it opens: no leftovers from the last time. Cancel closes it
            // without JavaScript too (a `method="dialog"` form), on the row of the action's button.
            {move || {
                open.get()
                    .then(|| {
                        view! {
                            {children()}
                            <form method="dialog" class="dialog-cancel">
                                <button type="submit" class="secondary">
                                    "Cancel"
                                </button>
                            </form>
                        }
                    })
            }}
        </dialog>
    }
}

/// The error of the last call of the action whose outcome is `outcome`, for the form in a dialog:
/// forgotten when the dialog opens again ([`clear_on_open`]), so that an old error is not shown
/// in a fresh form.
pub fn dialog_error<T, E, S>(open: Signal<bool>, outcome: S) -> impl Fn() -> Option<E> + Copy
where
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, E>>> + Set<Value = Option<Result<T, E>>>,
    S: Copy + Send + Sync + 'static,
{
    clear_on_open(open, outcome);
    move || outcome.get().and_then(Result::err)
}

/// Forgets an action's last outcome when its dialog opens again, so that an old error is not
/// shown in a fresh form.
pub fn clear_on_open<T, S>(open: Signal<bool>, outcome: S)
where
    T: Send + Sync + 'static,
    S: Set<Value = Option<T>> + Send + Sync + 'static,
{
    Effect::new(move |was_open: Option<bool>| {
        let is_open = open.get();
        if was_open == Some(false) && is_open {
            outcome.set(None);
        }
        is_open
    });
}
