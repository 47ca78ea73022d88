//! Accounts: creating people, signing in, and throttling — on both databases.
use std::process::Stdio;

use app::{
    accounts::{
        domain::{DisplayName, Email, Password, Role},
        service::{AccountError, User},
    },
    secrets::service::Actor,
};
use sqlx::Row;
use tokio::io::AsyncWriteExt;

use crate::{
    helpers::{Backend, PASSWORD, TestApp, spawn_app},
    on_both_backends,
};

on_both_backends!(
    a_created_user_signs_in_and_the_sign_in_is_audited,
    a_wrong_password_and_an_unknown_email_get_the_same_answer,
    five_failures_for_an_account_throttle_even_the_right_password,
    five_failures_from_one_ip_throttle_other_accounts_from_it,
    emails_are_unique_case_insensitively,
    the_admin_command_creates_a_user_from_a_password_on_stdin,
    only_owners_give_or_change_the_owner_role,
    the_last_active_owner_cannot_be_demoted_or_deactivated,
    members_cannot_manage_anyone,
    role_changes_and_deactivation_are_audited,
);

fn actor() -> Actor {
    Actor::new("manager@example.com", None)
}

async fn only_owners_give_or_change_the_owner_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.add_user("owner@example.com", Role::Owner).await;
    let admin = app.add_user("admin@example.com", Role::Admin).await;
    let member = app.add_user("member@example.com", Role::Member).await;

    let promote = app.accounts.change_role(&admin, &actor(), member.id, Role::Owner).await;
    let demote_owner = app.accounts.change_role(&admin, &actor(), owner.id, Role::Member).await;
    let deactivate_owner = app.accounts.set_active(&admin, &actor(), owner.id, false).await;
    let by_owner = app.accounts.change_role(&owner, &actor(), member.id, Role::Owner).await;
    let admin_promotes_member =
        app.accounts.change_role(&admin, &actor(), admin.id, Role::Admin).await;

    let message = "Only owners can add, change or deactivate owners.";
    assert_eq!(promote.expect_err("refused").to_string(), message);
    assert_eq!(demote_owner.expect_err("refused").to_string(), message);
    assert_eq!(deactivate_owner.expect_err("refused").to_string(), message);
    assert_eq!(by_owner.expect("owners may").role, Role::Owner);
    assert!(admin_promotes_member.is_ok());
    app.stop().await;
}

async fn the_last_active_owner_cannot_be_demoted_or_deactivated(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.add_user("owner@example.com", Role::Owner).await;

    let demote = app.accounts.change_role(&owner, &actor(), owner.id, Role::Admin).await;
    let deactivate = app.accounts.set_active(&owner, &actor(), owner.id, false).await;

    let message =
        "The last active owner cannot be demoted or deactivated; make someone else an owner first";
    assert_eq!(demote.expect_err("refused").to_string(), message);
    assert_eq!(deactivate.expect_err("refused").to_string(), message);
    let second = app.add_user("second@example.com", Role::Owner).await;
    app.accounts.change_role(&owner, &actor(), owner.id, Role::Admin).await.expect("now allowed");
    let last = app.accounts.set_active(&second, &actor(), second.id, false).await;
    assert!(matches!(last, Err(AccountError::LastOwner)));
    app.stop().await;
}

async fn members_cannot_manage_anyone(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("owner@example.com", Role::Owner).await;
    let member = app.add_user("member@example.com", Role::Member).await;
    let other = app.add_user("other@example.com", Role::Member).await;

    let change = app.accounts.change_role(&member, &actor(), other.id, Role::Admin).await;
    let email = Email::parse("new@example.com").expect("email");
    let name = DisplayName::parse(None, &email).expect("name");
    let password = Password::new(PASSWORD.into()).expect("password");
    let add_member =
        app.accounts.add_member(&member, &actor(), email, name, Role::Member, password).await;

    assert_eq!(
        change.expect_err("refused").to_string(),
        "Only owners and admins can manage members."
    );
    assert!(matches!(add_member, Err(AccountError::Forbidden(_))));
    assert_eq!(app.accounts.count_users().await.expect("count"), 3);
    app.stop().await;
}

async fn role_changes_and_deactivation_are_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.add_user("owner@example.com", Role::Owner).await;
    let member = app.add_user("member@example.com", Role::Member).await;

    app.accounts.change_role(&owner, &actor(), member.id, Role::Admin).await.expect("promoted");
    app.accounts.set_active(&owner, &actor(), member.id, false).await.expect("deactivated");
    app.accounts.set_active(&owner, &actor(), member.id, true).await.expect("reactivated");

    let events: Vec<String> = actions(&app).await.into_iter().map(|(action, ..)| action).collect();
    assert_eq!(
        events[events.len() - 3..],
        ["user.role_changed", "user.deactivated", "user.reactivated"]
    );
    let users = app.accounts.list_users().await.expect("list");
    assert_eq!(
        users.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(),
        ["owner@example.com", "member@example.com"]
    );
    app.stop().await;
}

async fn sign_in(
    app: &TestApp,
    email: &str,
    password: &str,
    ip: &str,
) -> Result<User, AccountError> {
    app.accounts.sign_in(email, Password::attempt(password.into()), Some(ip)).await
}

async fn actions(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    let mut sql = app.sql().await;
    sqlx::query("SELECT action, actor, ip FROM audit_events ORDER BY id")
        .fetch_all(&mut sql)
        .await
        .expect("audit")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn a_created_user_signs_in_and_the_sign_in_is_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("Owner@Example.com", Role::Owner).await;

    let user = sign_in(&app, "owner@EXAMPLE.com", PASSWORD, "192.0.2.1").await.expect("signed in");

    assert_eq!((user.email.as_str(), user.role), ("owner@example.com", Role::Owner));
    assert_eq!(user.display_name, "owner");
    assert!(user.last_sign_in_at.is_some());
    let events = actions(&app).await;
    assert_eq!(
        events.last(),
        Some(&(
            "user.signed_in".to_string(),
            "owner@example.com".to_string(),
            Some("192.0.2.1".to_string())
        ))
    );
    let text = format!("{events:?}");
    assert!(!text.contains(PASSWORD), "the password never reaches the audit log");
    app.stop().await;
}

async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("admin@example.com", Role::Admin).await;

    let wrong = sign_in(&app, "admin@example.com", "not the password", "192.0.2.2").await;
    let unknown = sign_in(&app, "nobody@example.com", PASSWORD, "192.0.2.2").await;

    let wrong = wrong.expect_err("refused").to_string();
    assert_eq!(wrong, "Invalid email or password");
    assert_eq!(unknown.expect_err("refused").to_string(), wrong);
    let failed = actions(&app).await.iter().filter(|(a, ..)| a == "user.sign_in_failed").count();
    assert_eq!(failed, 2);
    app.stop().await;
}

async fn five_failures_for_an_account_throttle_even_the_right_password(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("member@example.com", Role::Member).await;
    for attempt in 0..5 {
        let ip = format!("198.51.100.{attempt}");
        assert!(matches!(
            sign_in(&app, "member@example.com", "guess", &ip).await,
            Err(AccountError::InvalidCredentials)
        ));
    }

    let sixth = sign_in(&app, "member@example.com", PASSWORD, "198.51.100.99").await;

    let message = sixth.expect_err("throttled").to_string();
    assert_eq!(message, "Too many sign-in attempts; try again in 15 minutes");
    app.stop().await;
}

async fn five_failures_from_one_ip_throttle_other_accounts_from_it(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("victim@example.com", Role::Member).await;
    for attempt in 0..5 {
        let _ = sign_in(&app, &format!("guess{attempt}@example.com"), "x", "203.0.113.9").await;
    }

    let from_same_ip = sign_in(&app, "victim@example.com", PASSWORD, "203.0.113.9").await;
    let from_elsewhere = sign_in(&app, "victim@example.com", PASSWORD, "203.0.113.10").await;

    assert!(matches!(from_same_ip, Err(AccountError::Throttled { minutes: 15 })));
    assert!(from_elsewhere.is_ok());
    app.stop().await;
}

async fn emails_are_unique_case_insensitively(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("dup@example.com", Role::Member).await;
    let email = Email::parse("DUP@example.com").expect("email");
    let name = DisplayName::parse(Some("Second"), &email).expect("name");

    let second = app
        .accounts
        .create_user(
            &Actor::new("test", None),
            email,
            name,
            Role::Admin,
            Password::new(PASSWORD.into()).expect("password"),
        )
        .await;

    assert_eq!(second.expect_err("duplicate").to_string(), "A user with this email already exists");
    assert_eq!(app.accounts.count_users().await.expect("count"), 1);
    app.stop().await;
}

async fn the_admin_command_creates_a_user_from_a_password_on_stdin(backend: Backend) {
    let database = crate::helpers::TestDatabase::create(backend).await;
    let key = app::crypto::MasterKey::generate().to_base64().to_string();
    let run = |args: &[&str], stdin: &'static str| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealbox"));
        command
            .args(["admin", "create-user", "--email", "ops@example.com", "--password-stdin"])
            .args(args)
            .env_clear()
            .env("DATABASE_URL", &database.url)
            .env("SEALBOX_MASTER_KEY", &key)
            .env("SEALBOX_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        async move {
            let mut child = command.spawn().expect("sealbox runs");
            let mut input = child.stdin.take().expect("stdin");
            input.write_all(stdin.as_bytes()).await.expect("write the password");
            drop(input);
            child.wait_with_output().await.expect("sealbox exits")
        }
    };
    let stderr =
        |output: &std::process::Output| String::from_utf8_lossy(&output.stderr).to_string();

    let bad_role = run(&["--role", "root"], "correct horse battery staple\n").await;
    assert!(!bad_role.status.success());
    assert!(stderr(&bad_role).contains("Role must be owner, admin or member"), "{bad_role:?}");
    let short = run(&["--role", "owner"], "short\n").await;
    assert!(!short.status.success());
    assert!(stderr(&short).contains("Passwords must be at least 12 characters"), "{short:?}");
    assert!(!stderr(&short).contains("short\n"));

    let created = run(&["--role", "owner"], "correct horse battery staple\n").await;

    assert!(created.status.success(), "{created:?}");
    assert_eq!(String::from_utf8_lossy(&created.stdout).trim(), "✔ Created owner ops@example.com");
    let store = app::store::Store::connect(&database.url).await.expect("connect");
    let master = app::crypto::MasterKey::from_base64(&key).expect("the master key");
    let chain_key = app::keyring::Keyring::read_chain_key(&store, &[master])
        .await
        .expect("keyed by the command");
    let audit = app::audit::AuditLog::keyed(&store, chain_key.clone());
    let accounts = app::accounts::service::Accounts::new(store.clone(), audit.clone());
    let user = accounts
        .sign_in("ops@example.com", Password::attempt(PASSWORD.into()), None)
        .await
        .expect("the new owner signs in");
    assert_eq!(user.role, Role::Owner);
    audit.flush().await;
    let verification =
        app::audit::chain::verify(&store, &chain_key, None).await.expect("the chain can be walked");
    assert!(verification.broken.is_none(), "{}", verification.message());
    store.close().await;
}
