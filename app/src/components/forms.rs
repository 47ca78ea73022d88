//! Pieces every form uses.
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// The name of the hidden field that tells the server which page a form was posted from.
pub const RETURN_FIELD: &str = "__return";

/// Lets a form work without JavaScript. Pages send no `Referer` (the policy is `no-referrer`), so
/// a plain form post names its page in this field; the server sends the browser back there, with
/// the error for the page to show if the call failed. Server functions ignore the field.
#[component]
pub fn ReturnHere() -> impl IntoView {
    let location = use_location();
    let here = move || {
        let search = location.search.get();
        let path = location.pathname.get();
        if search.is_empty() { path } else { format!("{path}?{search}") }
    };
    view! { <input type="hidden" name=RETURN_FIELD value=here/> }
}
