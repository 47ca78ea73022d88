//! The row of links above the Secrets and Variables tables that picks the environment: plain
//! links, so it works without JavaScript, and the URL names the environment.
use leptos::prelude::*;

/// `base` is the project's URL (`/projects/{slug}`), `suffix` what follows the environment
/// (`""` for Secrets, `"/variables"` for Variables).
#[component]
pub fn EnvironmentSwitcher(
    base: String,
    environments: Vec<String>,
    current: String,
    suffix: &'static str,
) -> impl IntoView {
    let links = environments
        .into_iter()
        .map(|name| {
            let href = format!("{base}/{name}{suffix}");
            let here = name == current;
            view! {
                <li>
                    <a href=href aria-current=here.then_some("page") class:current=here>
                        {name}
                    </a>
                </li>
            }
        })
        .collect_view();
    view! {
        <nav class="environments" aria-label="Environment">
            <ul>{links}</ul>
        </nav>
    }
}
