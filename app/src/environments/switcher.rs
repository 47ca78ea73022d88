//! The row of links above the Secrets and Variables tables that picks the environment: plain
//! links, so it works without JavaScript, and the URL names the environment.
use leptos::prelude::*;

/// `base` is the project's URL (`/projects/{slug}`), `suffix` what follows the environment
/// (`""` for Secrets, `"/variables"` for Variables). With `every` (the team's secrets), the first
/// link, "All environments", is `base` itself, current when `current` is
/// [`super::TEAM_ENVIRONMENT`].
#[component]
pub fn EnvironmentSwitcher(
    base: String,
    environments: Vec<String>,
    current: String,
    suffix: &'static str,
    #[prop(optional)] every: bool,
) -> impl IntoView {
    let all =
        every.then(|| (base.clone(), "All environments".to_string(), super::TEAM_ENVIRONMENT));
    let named = environments
        .iter()
        .map(|name| (format!("{base}/{name}{suffix}"), name.clone(), name.as_str()));
    let links = all
        .into_iter()
        .chain(named)
        .map(|(href, label, name)| {
            let here = name == current;
            view! {
                <li>
                    <a href=href aria-current=here.then_some("page") class:current=here>
                        {label}
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
