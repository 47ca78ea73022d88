//! Scale-out: two servers on one database behave as one. Each has its own pools, key cache,
//! session layer and audit appender, as two processes would; only the database is shared.
use app::{
    accounts::domain::Role,
    projects::{ProjectName, ProjectSlug},
    secrets::service::Actor,
    tokens::{TokenName, TokenScope},
};
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, spawn_app},
    on_both_backends,
};

on_both_backends!(two_servers_on_one_database_behave_as_one);

async fn two_servers_on_one_database_behave_as_one(backend: Backend) {
    let first = spawn_app(backend).await;
    let second = first.peer().await;
    first.add_user("admin@example.com", Role::Admin).await;

    // A session started on one server is valid on the other (cookies ignore the port).
    let browser = first.signed_in("admin@example.com").await;
    let me = browser.post(second.url("/rpc/current_user")).send().await.expect("call");
    let me: Value = me.json().await.expect("JSON");
    assert_eq!(me["email"], "admin@example.com", "{me}");

    let actor = Actor::new("test", None);
    first
        .projects
        .create_project(&actor, ProjectName::parse("Bot").expect("name"))
        .await
        .expect("p");
    let slug = ProjectSlug::parse("bot").expect("slug");
    let (_, token) = first
        .tokens
        .create(
            &actor,
            &slug,
            None,
            TokenName::parse("ci").expect("name"),
            TokenScope::ReadWrite,
            None,
        )
        .await
        .expect("token");
    let token = token.expose().to_string();

    // A secret set through one is read through the other, both ways, many times at once.
    let servers = [&first, &second];
    let mut writes = Vec::new();
    for n in 0..40 {
        let (writer, reader) = (servers[n % 2], servers[(n + 1) % 2]);
        let (write_url, read_url) = (
            writer.url(&format!("/api/v1/projects/bot/secrets/KEY_{n}")),
            reader.url(&format!("/api/v1/projects/bot/secrets/KEY_{n}")),
        );
        let (client, token) = (first.client.clone(), token.clone());
        writes.push(tokio::spawn(async move {
            let value = format!("value {n}");
            let put = client.put(write_url).bearer_auth(&token).json(&json!({ "value": value }));
            assert_eq!(put.send().await.expect("put").status(), 201);
            let read = client.get(read_url).bearer_auth(&token).send().await.expect("get");
            let read: Value = read.json().await.expect("JSON");
            assert_eq!(read["value"], value);
        }));
    }
    for write in writes {
        write.await.expect("a write and its read");
    }

    // Revoking on one server locks the token out of the other at once, though the other has
    // just read with it (and remembers it).
    let read = first.client.get(first.url("/api/v1/projects/bot/env")).bearer_auth(&token);
    assert_eq!(read.send().await.expect("get").status(), 200);
    let list = browser.post(first.url("/rpc/list_tokens")).form(&[("slug", "bot")]).send().await;
    let list: Value = list.expect("call").json().await.expect("JSON");
    let id = list["tokens"][0]["id"].to_string();
    let revoke = [("slug", "bot"), ("token_id", id.as_str())];
    let revoked = browser.post(second.url("/rpc/revoke_token")).form(&revoke).send().await;
    assert_eq!(revoked.expect("call").status(), 200);
    let refused = first
        .client
        .get(first.url("/api/v1/projects/bot/env"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(refused.status(), 401);

    // Both servers appended to one audit chain, and it holds.
    let verification = crate::helpers::verify_chain(&first).await;
    assert!(verification.broken.is_none(), "{}", verification.message());
    second.stop().await;
    first.stop().await;
}
