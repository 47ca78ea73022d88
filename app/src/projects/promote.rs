//! `/projects/{slug}/promote?from=…&to=…`: Promote variables. The difference between two
//! environments' variables (added, changed with old → new, removed); what is ticked is applied
//! to the target in one transaction, and only if neither side changed since it was shown.
use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::{components::Form, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use super::Variable;
use crate::{
    components::{ReturnHere, announce_successes, count_successes, form_error, page_error},
    error::AppError,
};

/// One key whose variable differs between the source and the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    pub key: String,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// Only the source has it: promoting adds it to the target.
    Added { value: String, include_in_export: bool },
    /// Both have it, with another value or export flag: promoting gives the target the source's.
    Changed { old: String, new: String, include_in_export: bool },
    /// Only the target has it: promoting removes it there.
    Removed { old: String },
}

/// What the page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub can_manage: bool,
    pub environments: Vec<String>,
    pub from: String,
    pub to: String,
    pub differences: Vec<Difference>,
    /// A digest of both sides as shown: the apply is refused when either changed since.
    pub seen: String,
}

/// The difference that promoting `source` onto `target` makes, by key.
pub fn difference(source: &[Variable], target: &[Variable]) -> Vec<Difference> {
    let theirs: BTreeMap<&str, &Variable> = target.iter().map(|v| (v.key.as_str(), v)).collect();
    let ours: BTreeMap<&str, &Variable> = source.iter().map(|v| (v.key.as_str(), v)).collect();
    let mut differences = Vec::new();
    for (key, variable) in &ours {
        let change = match theirs.get(key) {
            None => Change::Added {
                value: variable.value.clone(),
                include_in_export: variable.include_in_export,
            },
            Some(old)
                if old.value != variable.value
                    || old.include_in_export != variable.include_in_export =>
            {
                Change::Changed {
                    old: old.value.clone(),
                    new: variable.value.clone(),
                    include_in_export: variable.include_in_export,
                }
            }
            Some(_) => continue,
        };
        differences.push(Difference { key: key.to_string(), change });
    }
    for (key, old) in &theirs {
        if !ours.contains_key(key) {
            let change = Change::Removed { old: old.value.clone() };
            differences.push(Difference { key: key.to_string(), change });
        }
    }
    differences.sort_by(|a, b| a.key.cmp(&b.key));
    differences
}

/// The difference between two environments of a project; anyone signed in (variables are not
/// secret). `from` defaults to the first environment, `to` to the one after `from` (the one
/// before it when `from` is the last).
#[server(prefix = "/rpc", endpoint = "variable_promotion")]
pub async fn variable_promotion(
    slug: String,
    from: Option<String>,
    to: Option<String>,
) -> Result<Promotion, AppError> {
    crate::error::respond(ssr::promotion(slug, from, to).await)
}

/// Owners and admins: applies the ticked keys (`apply[KEY]`) of the difference from `from` to
/// `to`, in one transaction, if both sides are still as `seen`.
#[server(prefix = "/rpc", endpoint = "promote_variables")]
pub async fn promote_variables(
    slug: String,
    from: String,
    to: String,
    seen: String,
    apply: Option<BTreeMap<String, String>>,
) -> Result<String, AppError> {
    crate::error::respond(ssr::promote(slug, from, to, seen, apply.unwrap_or_default()).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use std::collections::{BTreeMap, BTreeSet};

    use super::Promotion;
    use crate::{
        accounts::auth::ssr::{manager, signed_in},
        bounds::{BetweenEnvironments, gate},
        error::AppError,
        projects::slug_in_url,
        validation::FieldError,
    };

    /// The most keys one promotion applies.
    const MAX_KEYS: usize = 1000;

    fn input<'a>(
        slug: &'a str,
        from: &'a str,
        to: &'a str,
        seen: &'a str,
    ) -> BetweenEnvironments<'a> {
        BetweenEnvironments { slug, from, to, key: "", choice: "", seen }
    }

    pub async fn promotion(
        slug_text: String,
        from: Option<String>,
        to: Option<String>,
    ) -> Result<Promotion, AppError> {
        let (from, to) = (from.unwrap_or_default(), to.unwrap_or_default());
        gate(&input(&slug_text, &from, &to, ""))?;
        let caller = signed_in().await?;
        let slug = slug_in_url(&slug_text)?;
        let environments: Vec<String> =
            caller.state.environments.list(&slug).await?.into_iter().map(|e| e.name).collect();
        let from = match from.trim() {
            "" => environments.first().cloned().unwrap_or_default(),
            name => name.to_string(),
        };
        let to = match to.trim() {
            "" => {
                let at = environments.iter().position(|name| *name == from).unwrap_or(0);
                let next = environments.get(at + 1);
                next.or(at.checked_sub(1).and_then(|before| environments.get(before)))
                    .cloned()
                    .unwrap_or_else(|| from.clone())
            }
            name => name.to_string(),
        };
        let environments_service = &caller.state.environments;
        let from_name = environments_service.named_or_first(&slug, Some(&from)).await?;
        let to_name = environments_service.named_or_first(&slug, Some(&to)).await?;
        let (differences, seen) =
            caller.state.projects.promotion(&slug, &from_name, &to_name).await?;
        Ok(Promotion {
            can_manage: caller.user.role.can_manage(),
            environments,
            from,
            to,
            differences,
            seen,
        })
    }

    pub async fn promote(
        slug_text: String,
        from: String,
        to: String,
        seen: String,
        apply: BTreeMap<String, String>,
    ) -> Result<String, AppError> {
        gate(&input(&slug_text, &from, &to, &seen))?;
        if apply.len() > MAX_KEYS {
            return Err(FieldError::new("apply", "Promote at most 1000 variables at a time").into());
        }
        let caller = manager().await?;
        let slug = slug_in_url(&slug_text)?;
        let environments = &caller.state.environments;
        let from = environments.named_or_first(&slug, Some(&from)).await?;
        let to = environments.named_or_first(&slug, Some(&to)).await?;
        let chosen: BTreeSet<String> = apply
            .into_iter()
            .filter(|(_, ticked)| !ticked.is_empty())
            .map(|(key, _)| key)
            .collect();
        let applied =
            caller.state.projects.promote(&caller.actor, &slug, &from, &to, &chosen, &seen).await?;
        Ok(format!("{applied} variable change(s) promoted from {from} to {to}"))
    }
}

#[component]
pub fn PromoteTab() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let slug = Signal::derive(move || params.read().get("slug").unwrap_or_default());
    let query = use_query_map();
    let promote = ServerAction::<PromoteVariables>::new();
    let changes = RwSignal::new(0_u32);
    count_successes(promote.value(), changes);
    let data = Resource::new(
        move || (slug.get(), query.read().get("from"), query.read().get("to"), changes.get()),
        |(slug, from, to, _)| variable_promotion(slug, from, to),
    );
    let status = announce_successes([promote.value()]);
    let error = move || promote.value().get().and_then(Result::err);
    view! {
        <h2>"Promote variables"</h2>
        <p class="muted">
            "Try a change in one environment, then bring it to the next: choose where from and where to, tick what to apply, and it is applied in one step."
        </p>
        {status}
        {form_error(error)}
        <Transition fallback=|| {
            view! { <p class="muted">"Loading…"</p> }
        }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(promotion) => view! { <PromotionForm promotion slug promote /> }.into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

#[component]
fn PromotionForm(
    promotion: Promotion,
    slug: Signal<String>,
    promote: ServerAction<PromoteVariables>,
) -> impl IntoView {
    let Promotion { can_manage, environments, from, to, differences, seen } = promotion;
    let options = |selected: &str| {
        let selected = selected.to_string();
        environments
            .clone()
            .into_iter()
            .map(|name| {
                view! {
                    <option value=name.clone() selected=name == selected>
                        {name.clone()}
                    </option>
                }
            })
            .collect_view()
    };
    let (from_options, to_options) = (options(&from), options(&to));
    let picker = view! {
        <Form method="GET" action="" attr:class="toolbar promote-picker">
            <label for="promote-from">"From"</label>
            <select id="promote-from" name="from">
                {from_options}
            </select>
            <label for="promote-to">"To"</label>
            <select id="promote-to" name="to">
                {to_options}
            </select>
            <button type="submit" class="secondary">
                "Show difference"
            </button>
        </Form>
    };
    let body = if from == to {
        view! { <p class="notice">"Choose two different environments."</p> }.into_any()
    } else if differences.is_empty() {
        view! { <p class="notice">{format!("The variables of {to} are the same as those of {from}.")}</p> }
            .into_any()
    } else {
        let rows = differences
            .into_iter()
            .map(|difference| {
                let Difference { key, change } = difference;
                let (label, old, new, ticked) = match change {
                    Change::Added { value, .. } => ("Added", None, Some(value), true),
                    Change::Changed { old, new, .. } => ("Changed", Some(old), Some(new), true),
                    Change::Removed { old } => ("Removed", Some(old), None, false),
                };
                let id = format!("apply-{key}");
                view! {
                    <tr>
                        <td>
                            {can_manage
                                .then(|| {
                                    view! {
                                        <input
                                            type="checkbox"
                                            id=id.clone()
                                            name=format!("apply[{key}]")
                                            value="yes"
                                            checked=ticked
                                            aria-label=format!("Apply {label} {key}")
                                        />
                                    }
                                })}
                        </td>
                        <td>
                            <code>{key.clone()}</code>
                        </td>
                        <td>{label}</td>
                        <td class="variable-value">
                            {old
                                .map(|old| {
                                    view! {
                                        <del>
                                            <code>{old}</code>
                                        </del>
                                    }
                                })} {(label == "Changed").then_some(" → ")}
                            {new
                                .map(|new| {
                                    view! {
                                        <ins>
                                            <code>{new}</code>
                                        </ins>
                                    }
                                })}
                        </td>
                    </tr>
                }
            })
            .collect_view();
        let table = view! {
            <table class="data-table promote-table">
                <thead>
                    <tr>
                        <th scope="col">
                            <span class="visually-hidden">"Apply"</span>
                        </th>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Change"</th>
                        <th scope="col">{format!("{to} → after promotion")}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        };
        match can_manage {
            true => view! {
                <ActionForm action=promote attr:class="stack">
                    <ReturnHere />
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <input type="hidden" name="from" value=from.clone() />
                    <input type="hidden" name="to" value=to.clone() />
                    <input type="hidden" name="seen" value=seen />
                    {table}
                    <div>
                        <button
                            type="submit"
                            class="primary"
                            disabled=move || promote.pending().get()
                        >
                            {format!("Apply the ticked changes to {to}")}
                        </button>
                    </div>
                </ActionForm>
            }
            .into_any(),
            false => table.into_any(),
        }
    };
    view! {
        {picker}
        {body}
    }
}
