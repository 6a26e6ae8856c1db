//! Roles and authentication: who sees what, and what happens without valid credentials.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::TestApp;

async fn customers_see_only_their_own(t: TestApp) {
    let (s, org) =
        t.post("/api/v1/organizations", &t.admin, json!({"name": "华兴科技", "domains": ["huaxing.example"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{org}");
    let (alice, at) = t.user("customer", "alice@huaxing.example", json!({})).await;
    let (bob, bt) = t.user("customer", "bob@huaxing.example", json!({})).await;
    let (_, alice_user) = t.get(&format!("/api/v1/users/{}", alice.0), &t.admin).await;
    assert_eq!(alice_user["organization_id"], org["id"], "joined the organisation by email domain");
    let mine = t.ticket(&at, json!({"subject": "我的问题", "description": "…", "category_id": null})).await;
    assert_eq!((mine["requester_id"].as_i64(), mine["channel"].as_str()), (Some(alice.0), Some("portal")));
    let bobs = t.ticket(&t.admin, json!({"subject": "bob's", "requester_id": bob.0})).await;
    // Another customer's ticket is "not found", never forbidden (nothing leaks).
    let (s, p) = t.get(&format!("/api/v1/tickets/{}", bobs["id"]), &at).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (s, _) = t.get(&format!("/api/v1/tickets/{}/links", mine["id"]), &at).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "links name other tickets: agents only");
    for sub in ["comments", "events", "links"] {
        let (s, _) = t.get(&format!("/api/v1/tickets/{}/{sub}", bobs["id"]), &at).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{sub}");
    }
    let (s, _) = t.post(&format!("/api/v1/tickets/{}/comments", bobs["id"]), &at, json!({"body": "hi"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = t.get("/api/v1/tickets", &at).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], mine["id"]);
    // Filters on what customers are not shown would reveal it.
    for q in ["tag=vip", "group_id=1", "assignee_id=none"] {
        let (s, e) = t.get(&format!("/api/v1/tickets?{q}"), &at).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")), "{q}");
    }
    // With shared organisation tickets, Alice sees Bob's.
    t.patch(&format!("/api/v1/organizations/{}", org["id"]), &t.admin, json!({"shared_tickets": true})).await;
    let (s, _) = t.get(&format!("/api/v1/tickets/{}", bobs["id"]), &at).await;
    assert_eq!(s, StatusCode::OK);
    let (_, list) = t.get("/api/v1/tickets", &at).await;
    assert_eq!(list["total"], 2);
    // Customers cannot write notes, set internal fields or change tickets beyond solving.
    let (s, _) =
        t.post(&format!("/api/v1/tickets/{}/comments", mine["id"]), &at, json!({"body": "x", "public": false})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = t.post("/api/v1/tickets", &at, json!({"subject": "x", "assignee_id": 1})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("assignee_id")));
    let (s, _) = t.patch(&format!("/api/v1/tickets/{}", mine["id"]), &at, json!({"priority": "urgent"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.patch(&format!("/api/v1/tickets/{}", mine["id"]), &at, json!({"status": "open"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Customers see no other users and no configuration changes.
    let (s, _) = t.get("/api/v1/users", &bt).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.get(&format!("/api/v1/users/{}", alice.0), &bt).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, me) = t.get("/api/v1/me", &bt).await;
    assert_eq!((s, me["id"].as_i64()), (StatusCode::OK, Some(bob.0)));
    let (s, _) = t.post("/api/v1/statuses", &bt, json!({"key": "x", "category": "open", "label_en": "X"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A customer copied on someone else's request follows it until taken off.
    let (carol, ct) = t.user("customer", "carol@elsewhere.example", json!({})).await;
    let copied = t.ticket(&t.admin, json!({"subject": "cc", "requester_id": bob.0, "cc_ids": [carol.0]})).await;
    let (_, list) = t.get("/api/v1/tickets", &ct).await;
    assert_eq!((list["total"].as_i64(), list["items"][0]["id"].as_i64()), (Some(1), copied["id"].as_i64()), "{list}");
    t.patch(&format!("/api/v1/tickets/{}", copied["id"]), &t.admin, json!({"cc_ids": []})).await;
    let (s, _) = t.get(&format!("/api/v1/tickets/{}", copied["id"]), &ct).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = t.get("/api/v1/tickets", &ct).await;
    assert_eq!(list["total"], 0);
}

async fn restricted_agents_see_their_groups(t: TestApp) {
    let g1 = t.group("售后", 1).await;
    let g2 = t.group("商务", 1).await;
    let (agent, token) =
        t.user("agent", "r@desk.example", json!({"group_ids": [g1.0], "restricted_to_groups": true})).await;
    let (_, free) = t.user("agent", "f@desk.example", json!({})).await;
    let in_g1 =
        t.ticket(&t.admin, json!({"subject": "g1", "group_id": g1.0, "requester": {"email": "c1@example.com"}})).await;
    let in_g2 =
        t.ticket(&t.admin, json!({"subject": "g2", "group_id": g2.0, "requester": {"email": "c2@example.com"}})).await;
    let (s, _) = t.get(&format!("/api/v1/tickets/{}", in_g2["id"]), &token).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = t.get("/api/v1/tickets", &token).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], in_g1["id"]);
    let (_, list) = t.get("/api/v1/tickets", &free).await;
    assert_eq!(list["total"], 2, "unrestricted agents see all");
    // Assigned to them directly, they see it even outside their groups. (Assigning checks
    // membership, so the assignment is written as the domain would after a group change.)
    let (s, e) = t.patch(&format!("/api/v1/tickets/{}", in_g2["id"]), &t.admin, json!({"assignee_id": agent.0})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("not_in_group")));
    t.patch(&format!("/api/v1/users/{}", agent.0), &t.admin, json!({"group_ids": [g1.0, g2.0]})).await;
    let (s, _) = t.patch(&format!("/api/v1/tickets/{}", in_g2["id"]), &t.admin, json!({"assignee_id": agent.0})).await;
    assert_eq!(s, StatusCode::OK);
    t.patch(&format!("/api/v1/users/{}", agent.0), &t.admin, json!({"group_ids": [g1.0]})).await;
    let (s, seen) = t.get(&format!("/api/v1/tickets/{}", in_g2["id"]), &token).await;
    assert_eq!((s, seen["assignee_id"].as_i64()), (StatusCode::OK, Some(agent.0)), "assigned to me, outside my groups");
    let (_, list) = t.get("/api/v1/tickets", &token).await;
    assert_eq!(list["total"], 2);
    let (s, _) = t.get(&format!("/api/v1/tickets/{}/comments", in_g2["id"]), &token).await;
    assert_eq!(s, StatusCode::OK);
}

/// Agents look after customers' details but cannot take over their sign-in; customers cannot
/// claim addresses; nobody widens their own access.
async fn people_cannot_take_over_accounts(t: TestApp) {
    let g = t.group("受限组", 1).await;
    let (_, agent) = t.user("agent", "r@desk.example", json!({"group_ids": [g.0], "restricted_to_groups": true})).await;
    let (_, org) =
        t.post("/api/v1/organizations", &t.admin, json!({"name": "Shared Co", "shared_tickets": true})).await;
    let (cust, ctoken) = t.user("customer", "victim@example.com", json!({"password": "first-passphrase"})).await;
    for body in [
        json!({"password": "hijacked-password"}),
        json!({"email": "mine@example.com"}),
        json!({"organization_id": org["id"]}),
        json!({"identities": [{"kind": "email", "value": "x@example.com"}]}),
    ] {
        let (s, _) = t.patch(&format!("/api/v1/users/{}", cust.0), &agent, body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "agent PATCH {body}");
    }
    // A group-restricted agent edits only customers whose tickets it can see.
    let path = format!("/api/v1/users/{}", cust.0);
    let (s, _) = t.patch(&path, &agent, json!({"name": "王先生"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a customer outside the agent's groups");
    t.ticket(&t.admin, json!({"subject": "in scope", "requester_id": cust.0, "group_id": g.0})).await;
    let (s, ok) = t.patch(&path, &agent, json!({"name": "王先生", "language": "en"})).await;
    assert_eq!((s, ok["name"].as_str()), (StatusCode::OK, Some("王先生")), "everyday details are fine");
    // Locking a customer out or changing what they are entitled to is for supervisors.
    for body in [json!({"active": false}), json!({"vip_level": 3}), json!({"external_id": "crm-1"})] {
        let (s, _) = t.patch(&path, &agent, body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "agent PATCH {body}");
    }
    let (s, _) = t.delete(&path, &agent).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents do not deactivate customers");
    let (s, _) =
        t.post("/api/v1/users", &agent, json!({"email": "puppet@example.com", "password": "known-password"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "agents create customers without a password");
    // Customers change their own password and name, not who they are.
    let (s, _) = t
        .patch(
            &format!("/api/v1/users/{}", cust.0),
            &ctoken,
            json!({"identities": [{"kind": "email", "value": "boss@example.com"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.patch(&format!("/api/v1/users/{}", cust.0), &ctoken, json!({"email": "boss@example.com"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.patch(&format!("/api/v1/users/{}", cust.0), &ctoken, json!({"role": "admin"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t
        .patch(&format!("/api/v1/users/{}", cust.0), &ctoken, json!({"password": "a-new-password", "current_password": "first-passphrase", "name": "Vic", "keep_tokens": true}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = t
        .client
        .post(format!("{}/api/v1/auth/login", t.base))
        .json(&json!({"email": "victim@example.com", "password": "a-new-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (s, _) = t.get("/api/v1/me", &ctoken).await;
    assert_eq!(s, StatusCode::OK, "keep_tokens kept the customer's token");
}

async fn roles_and_configuration(t: TestApp) {
    let (_, agent) = t.user("agent", "a@desk.example", json!({})).await;
    let (_, sup) = t.user("supervisor", "s@desk.example", json!({})).await;
    let (s, _) = t.post("/api/v1/groups", &agent, json!({"name": "x"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.post("/api/v1/groups", &sup, json!({"name": "x"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only admins configure");
    let (s, _) = t.post("/api/v1/organizations", &sup, json!({"name": "Acme"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = t.post("/api/v1/organizations", &agent, json!({"name": "Beta"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.post("/api/v1/users", &agent, json!({"email": "walkin@example.com", "role": "customer"})).await;
    assert_eq!(s, StatusCode::CREATED, "agents add callers as customers");
    let (s, _) = t.post("/api/v1/users", &agent, json!({"email": "boss@example.com", "role": "admin"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.post("/api/v1/users", &sup, json!({"email": "boss@example.com", "role": "admin"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.post("/api/v1/users", &sup, json!({"email": "new.agent@example.com", "role": "agent"})).await;
    assert_eq!(s, StatusCode::CREATED);
    // Everyone signed in reads the configuration the portal needs.
    for path in ["/api/v1/statuses", "/api/v1/categories", "/api/v1/custom_fields", "/api/v1/forms", "/api/v1/groups"] {
        let (s, _) = t.get(path, &agent).await;
        assert_eq!(s, StatusCode::OK, "{path}");
    }
}

async fn authentication(t: TestApp) {
    let (s, p) = t.get("/api/v1/tickets", "").await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    let (s, _) = t.get("/api/v1/tickets", "gd_not-a-token").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let r = t
        .client
        .get(format!("{}/api/v1/tickets", t.base))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Tokens: issue, use, list (no secret), revoke.
    let (s, tok) =
        t.post("/api/v1/tokens", &t.admin, json!({"name": "ci", "expires_at": "2026-03-03T01:00:00Z"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let secret = tok["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("gd_"));
    let (s, _) = t.get("/api/v1/me", &secret).await;
    assert_eq!(s, StatusCode::OK);
    let (_, list) = t.get("/api/v1/tokens", &t.admin).await;
    assert!(list["items"].as_array().unwrap().iter().all(|x| x.get("token").is_none()), "secrets are shown once");
    // Expiry follows the clock.
    t.clock.advance(jiff::SignedDuration::from_hours(25));
    let (s, _) = t.get("/api/v1/me", &secret).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "expired");
    let (_, tok2) = t.post("/api/v1/tokens", &t.admin, json!({"name": "two"})).await;
    let secret2 = tok2["token"].as_str().unwrap().to_owned();
    let (s, _) = t.delete(&format!("/api/v1/tokens/{}", tok2["id"]), &t.admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t.get("/api/v1/me", &secret2).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "revoked");
    // A customer cannot issue tokens for others.
    let (_, ct) = t.user("customer", "c@example.com", json!({})).await;
    let (s, _) = t.post("/api/v1/tokens", &ct, json!({"user_id": 1})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Browser sessions: cookie login, use, logout.
    let r = t
        .client
        .post(format!("{}/api/v1/auth/login", t.base))
        .json(&json!({"email": "ADMIN@test.example", "password": "admin-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let csrf = r.headers()["x-csrf-token"].to_str().unwrap().to_owned();
    let r = t.client.get(format!("{}/api/v1/me", t.base)).header("cookie", &session).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = t.client.post(format!("{}/api/v1/auth/logout", t.base)).header("cookie", &session).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "logout needs the CSRF token");
    let r = t
        .client
        .post(format!("{}/api/v1/auth/logout", t.base))
        .header("cookie", &session)
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = t.client.get(format!("{}/api/v1/me", t.base)).header("cookie", &session).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Deactivated users lose access at once.
    let (agent, at) = t.user("agent", "leaver@desk.example", json!({})).await;
    let (s, _) = t.get("/api/v1/tickets", &at).await;
    assert_eq!(s, StatusCode::OK);
    let (s, u) = t.delete(&format!("/api/v1/users/{}", agent.0), &t.admin).await;
    assert_eq!((s, u["active"].as_bool()), (StatusCode::OK, Some(false)));
    let (s, _) = t.get("/api/v1/tickets", &at).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn login_is_rate_limited(t: TestApp) {
    let login = |pw: &str| {
        t.client
            .post(format!("{}/api/v1/auth/login", t.base))
            .json(&json!({"email": "admin@test.example", "password": pw}))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(login("wrong-password").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let r = login("admin-password").await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "this client waits after 5 failures, right or wrong");
    assert!(r.headers().contains_key("retry-after"));
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "rate_limited");
    // The owner elsewhere is not locked out (the client address comes from the trusted proxy).
    let elsewhere = t
        .client
        .post(format!("{}/api/v1/auth/login", t.base))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"email": "admin@test.example", "password": "admin-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::OK);
    // An admin lifts the back-off.
    let (_, me) = t.get("/api/v1/me", &t.admin).await;
    let r = t.req(reqwest::Method::POST, &format!("/api/v1/users/{}/unlock", me["id"]), &t.admin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(login("admin-password").await.unwrap().status(), StatusCode::OK);
    // An unknown email is refused as a wrong password is.
    let r = t
        .client
        .post(format!("{}/api/v1/auth/login", t.base))
        .json(&json!({"email": "nobody@test.example", "password": "admin-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// A password change needs the current one, refuses weak ones, and ends every other way in.
async fn password_changes_end_other_sessions(t: TestApp) {
    let (agent, token) = t.user("agent", "mei.chen@desk.example", json!({"password": "agent-password"})).await;
    let path = format!("/api/v1/users/{}", agent.0);
    let (s, e) = t.patch(&path, &token, json!({"password": "a-new-passphrase"})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("current_password")));
    let (s, e) = t.patch(&path, &token, json!({"password": "a-new-passphrase", "current_password": "wrong-one"})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("wrong_password")));
    for weak in ["password", "12345678", "        ", "mei.chen@desk.example"] {
        let (s, e) = t.patch(&path, &t.admin, json!({"password": weak})).await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")), "{weak:?}");
    }
    // A session in a browser, then the admin resets the password: the session and the token end.
    let login = t
        .client
        .post(format!("{}/api/v1/auth/login", t.base))
        .json(&json!({"email": "mei.chen@desk.example", "password": "agent-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let (s, _) = t.patch(&path, &t.admin, json!({"password": "a-new-passphrase"})).await;
    assert_eq!(s, StatusCode::OK);
    let r = t.client.get(format!("{}/api/v1/me", t.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the other session ended");
    let (s, _) = t.get("/api/v1/me", &token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the token was revoked");
    // Reactivating a deactivated user does not bring old tokens back.
    let (other, other_token) = t.user("agent", "leaves.and.returns@desk.example", json!({})).await;
    t.delete(&format!("/api/v1/users/{}", other.0), &t.admin).await;
    t.patch(&format!("/api/v1/users/{}", other.0), &t.admin, json!({"active": true})).await;
    let (s, _) = t.get("/api/v1/me", &other_token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

on_both!(
    customers_see_only_their_own,
    restricted_agents_see_their_groups,
    people_cannot_take_over_accounts,
    roles_and_configuration,
    authentication,
    login_is_rate_limited,
    password_changes_end_other_sessions
);
