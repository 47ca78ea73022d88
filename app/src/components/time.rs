//! Times as people read them: "2 hours ago", with the exact UTC time as a tooltip.
use leptos::prelude::*;

use crate::time::{Millis, iso, relative, utc};

/// A moment (milliseconds since the Unix epoch) relative to `now`, which the server sends with
/// the data so that the server's render and the browser's hydration agree.
#[component]
pub fn Timestamp(at: Millis, now: Millis) -> impl IntoView {
    let exact = utc(at);
    view! {
        <time datetime=iso(at) title=exact>
            {relative(at, now)}
        </time>
    }
}
