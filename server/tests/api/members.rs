//! Who may call what: the authorization matrix over every server function and page, the
//! members page's server functions, plain-form (no JavaScript) posts, and session expiry.
use std::collections::BTreeSet;

use app::{
    accounts::domain::Role,
    ids::{TokenId, UserId},
    projects::{ProjectName, ProjectSlug, VariableValue},
    secrets::service::{Actor, Scope},
    tokens::{TokenName, TokenScope},
};
use serde_json::Value;

use crate::{
    helpers::{Backend, TestApp, dev, environment, key, new_secret, spawn_app},
    on_both_backends,
};

on_both_backends!(
    every_server_function_answers_each_role_as_the_matrix_says,
    every_page_answers_each_role_as_the_matrix_says,
    an_admin_adds_a_member_with_a_generated_password_shown_once_who_can_sign_in,
    an_admin_cannot_add_or_touch_an_owner_over_http,
    a_failed_plain_form_post_returns_to_its_page_which_shows_the_error,
    a_failed_plain_form_post_keeps_what_was_typed_but_never_a_value,
    a_successful_plain_form_post_returns_to_its_page_which_shows_the_password_once,
    a_plain_form_post_cannot_be_sent_back_to_another_site,
);

/// Columns of the matrix: who calls.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Anonymous,
    Member,
    Admin,
    Owner,
}

/// A signed-in client per role, and people for the calls to act on.
struct Fixture {
    clients: Vec<(Caller, reqwest::Client)>,
    /// A member whose role the matrix sets (to what it already is).
    role_target: UserId,
    /// A member the matrix reactivates (who is already active).
    active_target: UserId,
    /// A token of the matrix project for each caller to revoke, by [`Caller`].
    token_ids: [TokenId; 4],
    /// The digests of the variable promotions from development to staging and to production
    /// (the owner's: the admin's promotion to staging changes that one's difference).
    promotion_seen: [String; 2],
}

/// The environment the matrix's promotions start from.
const PROMOTE_FROM: &str = "promote-from";

/// Where a caller promotes the matrix project's `PROMOTE_FROM` variables to.
fn promotion_target(caller: Caller) -> (&'static str, usize) {
    match caller {
        Caller::Owner => ("production", 1),
        _ => ("staging", 0),
    }
}

async fn fixture(app: &TestApp) -> Fixture {
    app.add_user("owner@example.com", Role::Owner).await;
    app.add_user("admin@example.com", Role::Admin).await;
    app.add_user("member@example.com", Role::Member).await;
    let role_target = app.add_user("role-target@example.com", Role::Member).await.id;
    let active_target = app.add_user("active-target@example.com", Role::Member).await.id;
    // A project with secrets and variables for every caller to act on.
    let actor = Actor::new("test", None);
    let vault = &app.vault;
    let projects = &app.projects;
    projects
        .create_project(&actor, ProjectName::parse("Matrix").expect("name"))
        .await
        .expect("project");
    let matrix = Scope::development(ProjectSlug::parse("matrix").expect("slug"));
    let slug = ProjectSlug::parse("matrix").expect("slug");
    app.projects
        .create_variable(&actor, &slug, &dev(), &key("SHARED_VARIABLE"), variable("v"), true)
        .await
        .expect("variable");
    // Promotions start from an environment of their own, which no other row changes (their
    // digests are taken below, before any row runs).
    let source = environment(PROMOTE_FROM);
    app.environments.create(&actor, &slug, &source).await.expect("environment");
    app.projects
        .create_variable(&actor, &slug, &source, &key("PROMOTED"), variable("p"), true)
        .await
        .expect("variable");
    vault.create_secret(&actor, &Scope::Team, new_secret("TEAM_HISTORY", "t")).await.expect("t");
    let mut token_ids = Vec::new();
    for caller in ["Anonymous", "Member", "Admin", "Owner"] {
        let name = caller.to_uppercase();
        for prefix in ["UPDATE", "DELETE", "COPY", "ROLLBACK"] {
            vault
                .create_secret(
                    &actor,
                    &matrix,
                    new_secret(&format!("{prefix}_{name}"), "matrix value"),
                )
                .await
                .expect("secret");
        }
        // Version 2, for a rollback to version 1.
        let update = app::secrets::service::SecretUpdate {
            expected_version: app::ids::Version(1),
            value: Some(app::secrets::domain::SecretValue::new("second".into()).expect("v")),
            description: app::secrets::domain::Description::parse(None).expect("d"),
        };
        vault
            .update_secret(&actor, &matrix, &key(&format!("ROLLBACK_{name}")), update)
            .await
            .expect("version 2");
        app.projects
            .create_variable(
                &actor,
                &slug,
                &dev(),
                &key(&format!("DELETE_{name}")),
                variable("v"),
                false,
            )
            .await
            .expect("variable");
        let token_name = TokenName::parse(&format!("revoke-{caller}")).expect("name");
        let (token, _) = app
            .tokens
            .create(&actor, &slug, None, token_name, TokenScope::Read, None)
            .await
            .expect("token");
        token_ids.push(token.id);
        app.projects
            .create_project(&actor, ProjectName::parse(&format!("Doomed {caller}")).expect("name"))
            .await
            .expect("project");
        for prefix in ["rename", "delete"] {
            let name = environment(&format!("{prefix}-{}", caller.to_lowercase()));
            app.environments.create(&actor, &slug, &name).await.expect("environment");
        }
    }
    let clients = vec![
        (Caller::Anonymous, app.client.clone()),
        (Caller::Member, app.signed_in("member@example.com").await),
        (Caller::Admin, app.signed_in("admin@example.com").await),
        (Caller::Owner, app.signed_in("owner@example.com").await),
    ];
    let token_ids = token_ids.try_into().expect("a token per caller");
    let mut promotion_seen = Vec::new();
    for target in ["staging", "production"] {
        let (_, seen) = app
            .projects
            .promotion(&slug, &environment(PROMOTE_FROM), &environment(target))
            .await
            .expect("promotion");
        promotion_seen.push(seen);
    }
    let promotion_seen = promotion_seen.try_into().expect("two digests");
    Fixture { clients, role_target, active_target, token_ids, promotion_seen }
}

fn variable(text: &str) -> VariableValue {
    VariableValue::parse(text.to_string()).expect("a valid value")
}

fn upper(caller: Caller) -> String {
    format!("{caller:?}").to_uppercase()
}

fn lower(caller: Caller) -> String {
    format!("{caller:?}").to_lowercase()
}

/// One row: a server function, the form it is called with, and the status each caller gets
/// (anonymous, member, admin, owner).
struct Row {
    path: &'static str,
    form: fn(&Fixture, Caller) -> Vec<(&'static str, String)>,
    expect: [u16; 4],
}

const EVERYONE: [u16; 4] = [200, 200, 200, 200];
const SIGNED_IN: [u16; 4] = [401, 200, 200, 200];
const MANAGERS: [u16; 4] = [401, 403, 200, 200];

fn matrix_project(_: &Fixture, _: Caller) -> Vec<(&'static str, String)> {
    vec![("slug", "matrix".into())]
}

fn no_arguments(_: &Fixture, _: Caller) -> Vec<(&'static str, String)> {
    Vec::new()
}

/// Every server function. `sign_out` comes last: it ends the callers' sessions.
fn matrix() -> Vec<Row> {
    vec![
        Row { path: "/rpc/check_server", form: no_arguments, expect: EVERYONE },
        Row { path: "/rpc/current_user", form: no_arguments, expect: EVERYONE },
        Row { path: "/rpc/setup_open", form: no_arguments, expect: EVERYONE },
        Row {
            path: "/rpc/create_first_owner",
            form: |_, _| {
                vec![
                    ("token", "not-a-token".into()),
                    ("email", "late@example.com".into()),
                    ("name", String::new()),
                    ("password", "a long enough password".into()),
                ]
            },
            // Someone exists: the set-up is closed for everyone.
            expect: [422; 4],
        },
        Row {
            path: "/rpc/sign_in",
            form: |_, caller| {
                vec![
                    ("email", format!("nobody-{caller:?}@example.com")),
                    ("password", "wrong password!".into()),
                ]
            },
            expect: [422; 4],
        },
        Row { path: "/rpc/members", form: no_arguments, expect: MANAGERS },
        Row {
            path: "/rpc/add_member",
            form: |_, caller| {
                vec![
                    ("email", format!("new-{caller:?}@example.com")),
                    ("name", String::new()),
                    ("role", "member".into()),
                    ("password", String::new()),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/change_member_role",
            form: |f, _| vec![("user_id", f.role_target.to_string()), ("role", "member".into())],
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/set_member_active",
            form: |f, _| vec![("user_id", f.active_target.to_string()), ("active", "true".into())],
            expect: MANAGERS,
        },
        Row { path: "/rpc/list_projects", form: no_arguments, expect: SIGNED_IN },
        Row {
            path: "/rpc/create_project",
            form: |_, caller| vec![("name", format!("New {caller:?}"))],
            expect: MANAGERS,
        },
        Row { path: "/rpc/project", form: matrix_project, expect: SIGNED_IN },
        Row {
            path: "/rpc/update_project_settings",
            form: |_, caller| {
                vec![
                    ("slug", "matrix".into()),
                    ("name", "Matrix".into()),
                    ("required", format!("REQUIRED_{}", upper(caller))),
                    ("max_secret_age_days", "30".into()),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/delete_project",
            form: |_, caller| {
                vec![
                    ("slug", format!("doomed-{}", upper(caller).to_lowercase())),
                    ("confirm", format!("Doomed {caller:?}")),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/list_secrets",
            form: |_, _| vec![("scope", "matrix".into())],
            expect: SIGNED_IN,
        },
        Row {
            path: "/rpc/create_secret",
            form: |_, caller| {
                vec![
                    ("scope", "matrix".into()),
                    ("key", format!("CREATE_{}", upper(caller))),
                    ("value", "a new value".into()),
                    ("description", String::new()),
                    ("secret_type", String::new()),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/update_secret",
            form: |_, caller| {
                vec![
                    ("scope", "matrix".into()),
                    ("key", format!("UPDATE_{}", upper(caller))),
                    ("version", "1".into()),
                    ("value", "an updated value".into()),
                    ("description", String::new()),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/delete_secret",
            form: |_, caller| {
                vec![
                    ("scope", "matrix".into()),
                    ("key", format!("DELETE_{}", upper(caller))),
                    ("version", "1".into()),
                ]
            },
            expect: MANAGERS,
        },
        Row { path: "/rpc/compare_environments", form: matrix_project, expect: SIGNED_IN },
        Row {
            path: "/rpc/copy_secret",
            form: |_, caller| {
                vec![
                    ("scope", "matrix".into()),
                    ("environment", "development".into()),
                    ("key", format!("COPY_{}", upper(caller))),
                    ("to", "staging".into()),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/secret_versions",
            form: |_, _| {
                vec![
                    ("scope", "matrix".into()),
                    ("environment", "development".into()),
                    ("key", "UPDATE_OWNER".into()),
                ]
            },
            expect: SIGNED_IN,
        },
        Row {
            path: "/rpc/secret_versions",
            form: |_, _| vec![("scope", "_team".into()), ("key", "TEAM_HISTORY".into())],
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/rollback_secret",
            form: |_, caller| {
                vec![
                    ("scope", "matrix".into()),
                    ("environment", "development".into()),
                    ("key", format!("ROLLBACK_{}", upper(caller))),
                    ("version", "2".into()),
                    ("to", "1".into()),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/check_leak",
            form: |_, _| vec![("value", "a value no secret holds".into())],
            expect: MANAGERS,
        },
        Row { path: "/rpc/leak_check_result", form: no_arguments, expect: MANAGERS },
        Row {
            path: "/rpc/person_exposure",
            form: |fixture, _| vec![("user_id", fixture.role_target.to_string())],
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/revoke_person_tokens",
            form: |fixture, _| vec![("user_id", fixture.role_target.to_string())],
            expect: MANAGERS,
        },
        Row { path: "/rpc/variable_promotion", form: matrix_project, expect: SIGNED_IN },
        Row {
            path: "/rpc/promote_variables",
            form: |fixture, caller| {
                let (to, seen) = promotion_target(caller);
                vec![
                    ("slug", "matrix".into()),
                    ("from", PROMOTE_FROM.into()),
                    ("to", to.into()),
                    ("seen", fixture.promotion_seen[seen].clone()),
                    ("apply[PROMOTED]", "yes".into()),
                ]
            },
            expect: MANAGERS,
        },
        Row { path: "/rpc/list_variables", form: matrix_project, expect: SIGNED_IN },
        Row {
            path: "/rpc/create_variable",
            form: |_, caller| {
                vec![
                    ("slug", "matrix".into()),
                    ("key", format!("CREATE_{}", upper(caller))),
                    ("value", "v".into()),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/update_variable",
            form: |_, caller| {
                vec![
                    ("slug", "matrix".into()),
                    ("key", "SHARED_VARIABLE".into()),
                    ("value", format!("set by {caller:?}")),
                    ("include_in_export", "true".into()),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/delete_variable",
            form: |_, caller| {
                vec![("slug", "matrix".into()), ("key", format!("DELETE_{}", upper(caller)))]
            },
            expect: MANAGERS,
        },
        Row { path: "/rpc/list_environments", form: matrix_project, expect: SIGNED_IN },
        Row {
            path: "/rpc/create_environment",
            form: |_, caller| {
                vec![("slug", "matrix".into()), ("name", format!("made-by-{}", lower(caller)))]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/rename_environment",
            form: |_, caller| {
                vec![
                    ("slug", "matrix".into()),
                    ("name", format!("rename-{}", lower(caller))),
                    ("new_name", format!("renamed-{}", lower(caller))),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/move_environment",
            form: |_, _| {
                vec![
                    ("slug", "matrix".into()),
                    ("name", "production".into()),
                    ("direction", "earlier".into()),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/delete_environment",
            form: |_, caller| {
                vec![
                    ("slug", "matrix".into()),
                    ("name", format!("delete-{}", lower(caller))),
                    ("confirm", format!("delete-{}", lower(caller))),
                ]
            },
            expect: MANAGERS,
        },
        Row { path: "/rpc/audit_events", form: no_arguments, expect: MANAGERS },
        Row { path: "/rpc/list_tokens", form: matrix_project, expect: MANAGERS },
        Row {
            path: "/rpc/create_token",
            form: |_, caller| {
                vec![
                    ("slug", "matrix".into()),
                    ("name", format!("made-by-{caller:?}")),
                    ("scope", "read".into()),
                ]
            },
            expect: MANAGERS,
        },
        Row {
            path: "/rpc/revoke_token",
            form: |fixture, caller| {
                vec![
                    ("slug", "matrix".into()),
                    ("token_id", fixture.token_ids[caller as usize].to_string()),
                ]
            },
            expect: MANAGERS,
        },
        Row { path: "/rpc/sign_out", form: no_arguments, expect: EVERYONE },
    ]
}

async fn every_server_function_answers_each_role_as_the_matrix_says(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let fixture = fixture(&app).await;
    let matrix = matrix();

    // Every registered server function has a row, and every row a server function.
    let registered: BTreeSet<String> =
        leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path.to_string()).collect();
    let covered: BTreeSet<String> = matrix.iter().map(|row| row.path.to_string()).collect();
    assert_eq!(
        registered, covered,
        "each server function needs a row in the authorization matrix (and no row may be stale)"
    );

    // Act and assert, cell by cell
    let mut wrong = Vec::new();
    for row in &matrix {
        for (index, (caller, client)) in fixture.clients.iter().enumerate() {
            let response = client
                .post(app.url(row.path))
                .form(&(row.form)(&fixture, *caller))
                .send()
                .await
                .expect("the request reaches the server");
            let status = response.status().as_u16();
            if status != row.expect[index] {
                let body = response.text().await.unwrap_or_default();
                wrong.push(format!(
                    "{} as {caller:?}: {status}, expected {} ({body})",
                    row.path, row.expect[index]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "cells that differ from the matrix:\n{}", wrong.join("\n"));
}

async fn every_page_answers_each_role_as_the_matrix_says(backend: Backend) {
    let app = spawn_app(backend).await;
    let fixture = fixture(&app).await;
    // (path, [anonymous, member, admin, owner]); 302 goes to /login.
    let pages: [(&str, [u16; 4]); 29] = [
        ("/settings/audit", [302, 403, 200, 200]),
        ("/settings/audit.csv", [401, 403, 200, 200]),
        ("/", EVERYONE),
        ("/login", EVERYONE),
        ("/setup", [404; 4]),
        ("/settings", [302, 200, 200, 200]),
        ("/settings/members", [302, 403, 200, 200]),
        ("/settings/team-secrets", [302, 403, 200, 200]),
        ("/settings/team-secrets/production", [302, 403, 200, 200]),
        ("/settings/leak-check", [302, 403, 200, 200]),
        ("/settings/members/1/exposure", [302, 403, 200, 200]),
        ("/settings/members/1/exposure.csv", [401, 403, 200, 200]),
        ("/projects", [302, 200, 200, 200]),
        ("/projects/matrix", [302, 200, 200, 200]),
        ("/projects/matrix/variables", [302, 200, 200, 200]),
        ("/projects/matrix/staging", [302, 200, 200, 200]),
        ("/projects/matrix/staging/variables", [302, 200, 200, 200]),
        ("/projects/matrix/no-such-environment", [302, 404, 404, 404]),
        ("/projects/matrix/tokens", [302, 403, 200, 200]),
        ("/projects/matrix/compare", [302, 200, 200, 200]),
        ("/projects/matrix/promote?from=development&to=staging", [302, 200, 200, 200]),
        ("/projects/matrix/settings", [302, 200, 200, 200]),
        ("/projects/matrix/development/history/UPDATE_OWNER", [302, 200, 200, 200]),
        ("/projects/matrix/development/history/NO_SUCH_KEY", [302, 404, 404, 404]),
        ("/settings/team-secrets/history/TEAM_HISTORY", [302, 403, 200, 200]),
        ("/settings/team-secrets/production/history/TEAM_HISTORY", [302, 403, 404, 404]),
        ("/projects/no-such-project", [302, 404, 404, 404]),
        // A download, not a page: anonymous callers get 401 like the server functions.
        ("/projects/matrix/variables.env", [401, 200, 200, 200]),
        ("/projects/matrix/staging/variables.env", [401, 200, 200, 200]),
    ];
    let mut wrong = Vec::new();
    for (path, expect) in pages {
        for (index, (caller, client)) in fixture.clients.iter().enumerate() {
            let response = client
                .get(app.url(path))
                .header("accept", "text/html")
                .send()
                .await
                .expect("the page request");
            let status = response.status().as_u16();
            let location = response.headers().get("location").map(|v| v.to_str().unwrap_or(""));
            if status != expect[index] || (status == 302 && location != Some("/login")) {
                wrong.push(format!("{path} as {caller:?}: {status} {location:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "pages that differ from the matrix:\n{}", wrong.join("\n"));
}

async fn members(client: &reqwest::Client, app: &TestApp) -> Value {
    let response = client.post(app.url("/rpc/members")).send().await.expect("members");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

async fn an_admin_adds_a_member_with_a_generated_password_shown_once_who_can_sign_in(
    backend: Backend,
) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;

    // Act
    let response = admin
        .post(app.url("/rpc/add_member"))
        .form(&[
            ("email", "New@Example.com"),
            ("name", "New Person"),
            ("role", "member"),
            ("password", ""),
        ])
        .send()
        .await
        .expect("add_member");

    // Assert
    assert_eq!(response.status(), 200);
    let added: Value = response.json().await.expect("JSON");
    assert_eq!(added["email"], "new@example.com");
    let password = added["generated_password"].as_str().expect("a generated password").to_string();
    assert_eq!(password.chars().count(), 20);
    let listed = members(&admin, &app).await;
    let new = listed["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["email"] == "new@example.com"))
        .expect("listed");
    assert_eq!(new["role"], "member");
    assert_eq!(new["display_name"], "New Person");
    assert!(!listed.to_string().contains(&password), "the password is shown only once");
    let signed_in = app
        .client
        .post(app.url("/rpc/sign_in"))
        .form(&[("email", "new@example.com"), ("password", password.as_str())])
        .send()
        .await
        .expect("sign-in");
    assert_eq!(signed_in.status(), 200, "the new member signs in with the generated password");

    // A typed password is used as given and not echoed back.
    let typed = admin
        .post(app.url("/rpc/add_member"))
        .form(&[
            ("email", "typed@example.com"),
            ("name", ""),
            ("role", "admin"),
            ("password", "typed password 123"),
        ])
        .send()
        .await
        .expect("add_member");
    assert_eq!(typed.status(), 200);
    let typed: Value = typed.json().await.expect("JSON");
    assert_eq!(typed["generated_password"], Value::Null);

    // Bad input gets the domain's message, and nothing is added.
    for (form, message) in [
        (
            [("email", "not-an-email"), ("role", "member"), ("password", "")],
            "Enter an email address like name@example.com",
        ),
        (
            [("email", "short@example.com"), ("role", "member"), ("password", "short")],
            "Passwords must be at least 12 characters",
        ),
        (
            [("email", "root@example.com"), ("role", "root"), ("password", "")],
            "Role must be owner, admin or member",
        ),
        ([("email", "NEW@example.com"), ("role", "member"), ("password", "")], "already"),
    ] {
        let mut form = form.to_vec();
        form.push(("name", ""));
        let response = app.post_rpc(&admin, "add_member", &form).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status == 422 || status == 409, "{form:?}: {status}");
        assert!(body.contains(message), "{form:?}: {body}");
    }
    let count = members(&admin, &app).await["users"].as_array().map(Vec::len);
    assert_eq!(count, Some(3), "the admin and the two added, nobody else");
}

async fn an_admin_cannot_add_or_touch_an_owner_over_http(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.add_user("owner@example.com", Role::Owner).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;

    let add_owner = admin
        .post(app.url("/rpc/add_member"))
        .form(&[("email", "o2@example.com"), ("name", ""), ("role", "owner"), ("password", "")])
        .send()
        .await
        .expect("add_member");
    let demote = admin
        .post(app.url("/rpc/change_member_role"))
        .form(&[("user_id", owner.id.to_string()), ("role", "member".to_string())])
        .send()
        .await
        .expect("change_member_role");
    let deactivate = admin
        .post(app.url("/rpc/set_member_active"))
        .form(&[("user_id", owner.id.to_string()), ("active", "false".to_string())])
        .send()
        .await
        .expect("set_member_active");

    for response in [add_owner, demote, deactivate] {
        assert_eq!(response.status(), 403);
        let body = response.text().await.unwrap_or_default();
        assert!(body.contains("Only owners can add, change or deactivate owners."), "{body}");
    }
    let owner_now = app.accounts.find_active(owner.id).await.expect("query").expect("active");
    assert_eq!(owner_now.role, Role::Owner);
}

/// Posts a form the way a browser without JavaScript does: form-encoded, accepting HTML,
/// with `Origin: null` and no `Referer` (the pages' referrer policy).
pub(crate) async fn plain_form_post(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path))
        .header("accept", "text/html,application/xhtml+xml")
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(form)
        .send()
        .await
        .expect("the form post")
}

async fn a_failed_plain_form_post_returns_to_its_page_which_shows_the_error(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;

    // Act
    let response = plain_form_post(
        &admin,
        &app,
        "/rpc/add_member",
        &[
            ("__return", "/settings/members"),
            ("email", "not-an-email"),
            ("name", ""),
            ("role", "member"),
            ("password", ""),
        ],
    )
    .await;

    // Assert: back to the page, which renders the error beside the form.
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().expect("ASCII").to_string();
    assert!(location.starts_with("/settings/members?"), "{location}");
    let page =
        admin.get(app.url(&location)).header("accept", "text/html").send().await.expect("the page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("HTML");
    assert!(html.contains("Enter an email address like name@example.com"), "the error is shown");
    assert!(html.contains(r#"value="not-an-email""#), "what was typed is still there");

    // The sign-in page shows its one message the same way.
    let response = plain_form_post(
        &app.client,
        &app,
        "/rpc/sign_in",
        &[("__return", "/login"), ("email", "admin@example.com"), ("password", "wrong password")],
    )
    .await;
    let location = response.headers()["location"].to_str().expect("ASCII").to_string();
    let html = app.get(&location).await.text().await.expect("HTML");
    assert!(html.contains("Invalid email or password"), "{location}");
    assert!(html.contains(r#"value="admin@example.com""#), "the email is kept");
    assert!(!location.contains("wrong") && !html.contains("wrong password"), "never the password");
}

async fn a_failed_plain_form_post_keeps_what_was_typed_but_never_a_value(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    let actor = app::secrets::service::Actor::new("test", None);
    let name = app::projects::ProjectName::parse("Bot").expect("name");
    app.projects.create_project(&actor, name).await.expect("project");
    let canary = "typed-canary-0c41e9";

    // A bad key: the browser comes back to the open dialog with the key, description and type.
    let response = plain_form_post(
        &admin,
        &app,
        "/rpc/create_secret",
        &[
            ("__return", "/projects/bot?dialog=add"),
            ("scope", "bot"),
            ("key", "bad key"),
            ("value", canary),
            ("description", "for the <bot>"),
            ("secret_type", "token"),
        ],
    )
    .await;
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().expect("ASCII").to_string();
    assert!(location.contains("dialog=add") && location.contains("typed.key="), "{location}");
    assert!(!location.contains(canary), "the value is not carried: {location}");
    let html = admin.get(app.url(&location)).send().await.expect("page").text().await.expect("H");
    assert!(html.contains(r#"value="bad key""#), "the key is back");
    assert!(html.contains(r#"value="for the &lt;bot&gt;""#), "the description is back, escaped");
    assert!(html.contains(r#"<option value="token" selected"#), "the type is back");
    assert!(!html.contains(canary), "the value must be typed again, never rendered");

    // A second failure replaces what the first one kept; a success drops it.
    let retry = [
        ("__return", location.as_str()),
        ("scope", "bot"),
        ("key", "STILL BAD"),
        ("value", canary),
        ("description", ""),
        ("secret_type", ""),
    ];
    let response = plain_form_post(&admin, &app, "/rpc/create_secret", &retry).await;
    let again = response.headers()["location"].to_str().expect("ASCII").to_string();
    assert_eq!(again.matches("typed.key=").count(), 1, "{again}");
    assert!(!again.contains("bad+key") && !again.contains("typed.description"), "{again}");
    let good = [("key", "GOOD_KEY"), ("description", "")];
    let good: Vec<(&str, &str)> = retry
        .iter()
        .copied()
        .filter(|(n, _)| !["key", "description"].contains(n))
        .chain(good)
        .collect();
    let response = plain_form_post(&admin, &app, "/rpc/create_secret", &good).await;
    let done = response.headers()["location"].to_str().expect("ASCII").to_string();
    assert_eq!(done, "/projects/bot", "the dialog closes and nothing typed is carried");
}

async fn a_successful_plain_form_post_returns_to_its_page_which_shows_the_password_once(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;

    let response = plain_form_post(
        &admin,
        &app,
        "/rpc/add_member",
        &[
            ("__return", "/settings/members"),
            ("email", "plain@example.com"),
            ("name", ""),
            ("role", "member"),
            ("password", ""),
        ],
    )
    .await;

    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/settings/members");
    let first = admin.get(app.url("/settings/members")).send().await.expect("page");
    let first = first.text().await.expect("HTML");
    assert!(first.contains("Added plain@example.com."), "the page says who was added");
    assert!(first.contains("shown only this once"));
    let second = admin.get(app.url("/settings/members")).send().await.expect("page");
    let second = second.text().await.expect("HTML");
    assert!(second.contains("plain@example.com"), "listed");
    assert!(!second.contains("shown only this once"), "the password is not shown again");
}

async fn a_plain_form_post_cannot_be_sent_back_to_another_site(backend: Backend) {
    let app = spawn_app(backend).await;
    for target in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
        let response = plain_form_post(
            &app.client,
            &app,
            "/rpc/sign_in",
            &[("__return", target), ("email", "a@example.com"), ("password", "x")],
        )
        .await;
        let location = response.headers().get("location").and_then(|v| v.to_str().ok());
        assert!(
            location.is_none_or(|l| l.starts_with('/') && !l.starts_with("//")),
            "{target} → {location:?}"
        );
    }
    // A form posted from another site is refused before anything runs.
    let refused = app
        .client
        .post(app.url("/rpc/sign_in"))
        .header("accept", "text/html")
        .header("origin", "null")
        .header("sec-fetch-site", "cross-site")
        .form(&[("email", "a@example.com"), ("password", "x")])
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 403);
}
