//! Tickets through the HTTP API: create, read, list, update, reply, merge, link, bulk,
//! idempotency and optimistic concurrency.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::TestApp;

fn id(v: &Value) -> i64 {
    v["id"].as_i64().expect("id")
}

async fn create_and_read(t: TestApp) {
    let body = json!({"subject": "打印机无法连接网络", "description": "办公室的打印机连不上 Wi-Fi",
        "requester": {"email": "li@example.com", "name": "李雷"}, "priority": "high", "tags": ["printer", "Printer"],
        "custom_fields": {}});
    let created = t.ticket(&t.admin, body).await;
    assert_eq!(created["status"], "new");
    assert_eq!(created["version"], 1);
    assert_eq!(created["priority"], "high");
    assert_eq!(created["tags"], json!(["printer"]));
    assert_eq!(created["number"], created["id"]);
    assert!(created["number"].as_i64().unwrap() > 10_000, "numbers start above 10000");
    let (s, got) = t.get(&format!("/api/v1/tickets/{}", id(&created)), &t.admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, created, "a read returns exactly what the create returned");

    // The requester was created as a customer with that email.
    let (_, requester) = t.get(&format!("/api/v1/users/{}", created["requester_id"]), &t.admin).await;
    assert_eq!(
        (requester["role"].as_str(), requester["name"].as_str(), requester["email"].as_str()),
        (Some("customer"), Some("李雷"), Some("li@example.com"))
    );
    // A second ticket from the same address reuses the customer.
    let again = t.ticket(&t.admin, json!({"subject": "again", "requester": {"email": "LI@example.com"}})).await;
    assert_eq!(again["requester_id"], created["requester_id"]);

    let (_, comments) = t.get(&format!("/api/v1/tickets/{}/comments", id(&created)), &t.admin).await;
    assert_eq!(comments["items"].as_array().unwrap().len(), 1, "the description opens the conversation");
    assert_eq!(comments["items"][0]["body"], "办公室的打印机连不上 Wi-Fi");
    let (_, events) = t.get(&format!("/api/v1/tickets/{}/events", id(&created)), &t.admin).await;
    assert_eq!(events["items"][0]["kind"], "created");
    assert_eq!(events["items"][0]["via"], "api");
}

async fn list_filter_and_page(t: TestApp) {
    let g = t.group("一线", 1).await;
    let (agent, _) = t.user("agent", "a1@desk.example", json!({"group_ids": [g.0]})).await;
    t.post("/api/v1/custom_fields", &t.admin, json!({"key": "order_no", "kind": "text", "label_en": "Order"})).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        t.clock.advance(jiff::SignedDuration::from_secs(1));
        let mut body = json!({"subject": format!("t{i}"), "requester": {"email": format!("c{i}@example.com")},
            "priority": if i % 2 == 0 { "high" } else { "low" }, "tags": if i < 3 { json!(["vip"]) } else { json!([]) },
            "custom_fields": {"order_no": format!("A-{i}")}});
        if i >= 4 {
            body["assignee_id"] = json!(agent.0);
            body["status"] = json!("open");
        }
        ids.push(id(&t.ticket(&t.admin, body).await));
    }
    // Paging by 3 walks every ticket once, newest first.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tickets?limit=3&cursor={c}"),
            None => "/api/v1/tickets?limit=3".into(),
        };
        let (s, page) = t.get(&path, &t.admin).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 7);
        seen.extend(page["items"].as_array().unwrap().iter().map(id));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    let count = |v: &Value| v["items"].as_array().unwrap().len();
    let (_, open) = t.get("/api/v1/tickets?status=open", &t.admin).await;
    assert_eq!((count(&open), open["total"].as_i64()), (3, Some(3)));
    assert!(
        open["items"].as_array().unwrap().iter().all(|x| x["group_id"] == json!(g.0)),
        "an assignee brings their group"
    );
    let (_, vip) = t.get("/api/v1/tickets?tag=vip", &t.admin).await;
    assert_eq!(count(&vip), 3);
    let (_, high) = t.get("/api/v1/tickets?priority=high&status=new", &t.admin).await;
    assert_eq!(count(&high), 2);
    let (_, unassigned) = t.get("/api/v1/tickets?assignee_id=none", &t.admin).await;
    assert_eq!(count(&unassigned), 4);
    let (_, mine) = t.get(&format!("/api/v1/tickets?assignee_id={}&group_id={}", agent.0, g.0), &t.admin).await;
    assert_eq!(count(&mine), 3);
    let (_, by_cf) = t.get("/api/v1/tickets?cf.order_no=A-5", &t.admin).await;
    assert_eq!(by_cf["items"][0]["id"], json!(ids[5]));
    assert_eq!(count(&by_cf), 1);
    let (_, oldest) = t.get("/api/v1/tickets?sort=created_at&limit=1", &t.admin).await;
    assert_eq!(oldest["items"][0]["id"], json!(ids[0]));
    let (_, by_prio) = t.get("/api/v1/tickets?sort=-priority&limit=4&total=false", &t.admin).await;
    assert!(by_prio["items"].as_array().unwrap().iter().all(|x| x["priority"] == "high"));
    assert!(by_prio.get("total").is_none());
    let after = "2026-03-02T01:00:04Z";
    let (_, recent) = t.get(&format!("/api/v1/tickets?created_after={after}"), &t.admin).await;
    assert_eq!(count(&recent), 4);
}

async fn update_versions_and_conflicts(t: TestApp) {
    let tk = t.ticket(&t.admin, json!({"subject": "s", "requester": {"email": "c@example.com"}})).await;
    let path = format!("/api/v1/tickets/{}", id(&tk));
    let (s, v2) = t.patch(&path, &t.admin, json!({"status": "open", "priority": "urgent", "version": 1})).await;
    assert_eq!(s, StatusCode::OK, "{v2}");
    assert_eq!((v2["status"].as_str(), v2["version"].as_i64()), (Some("open"), Some(2)));
    // A stale version changes nothing.
    let (s, err) = t.patch(&path, &t.admin, json!({"priority": "low", "version": 1})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(err["code"], "version_conflict");
    let (_, now) = t.get(&path, &t.admin).await;
    assert_eq!((now["priority"].as_str(), now["version"].as_i64()), (Some("urgent"), Some(2)));
    // If-Match too, but a stale one is a failed precondition, as HTTP says; a malformed one a 400.
    let r = t
        .req(reqwest::Method::PATCH, &path, &t.admin)
        .header("if-match", "\"1\"")
        .json(&json!({"priority": "low"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    let p: Value = r.json().await.unwrap();
    assert_eq!((p["code"].as_str(), p["field"].as_str()), (Some("precondition_failed"), Some("If-Match")));
    for bad in ["abc", "\"2", "\"-1\"", "\"1\", \"2\""] {
        let r = t
            .req(reqwest::Method::PATCH, &path, &t.admin)
            .header("if-match", bad)
            .json(&json!({"priority": "low"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "If-Match: {bad}");
    }
    let r = t
        .req(reqwest::Method::PATCH, &path, &t.admin)
        .header("if-match", "\"2\"")
        .json(&json!({"priority": "low"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers().get("etag").unwrap(), "\"3\"");
    // Nothing returns to new.
    let (s, err) = t.patch(&path, &t.admin, json!({"status": "new"})).await;
    assert_eq!(
        (s, err["code"].as_str(), err["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_status_transition"), Some("status"))
    );
    // Every change is in the timeline.
    let (_, events) = t.get(&format!("{path}/events"), &t.admin).await;
    let fields: Vec<&str> = events["items"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, vec!["status", "priority", "priority"]);
    assert_eq!(events["items"][1]["old_value"], "new");
    assert_eq!(events["items"][1]["new_value"], "open");
    // Closed is final.
    t.patch(&path, &t.admin, json!({"status": "closed"})).await;
    let (s, err) = t.patch(&path, &t.admin, json!({"priority": "high"})).await;
    assert_eq!((s, err["code"].as_str()), (StatusCode::CONFLICT, Some("ticket_closed")));
}

async fn concurrent_updates_one_wins(t: TestApp) {
    let tk = t.ticket(&t.admin, json!({"subject": "race", "requester": {"email": "c@example.com"}})).await;
    let path = format!("/api/v1/tickets/{}", id(&tk));
    let reqs = (0..10).map(|i| {
        let prio = ["low", "high"][i % 2];
        t.req(reqwest::Method::PATCH, &path, &t.admin)
            .json(&json!({"priority": prio, "subject": format!("race {i}"), "version": 1}))
            .send()
    });
    let results = futures::future::join_all(reqs).await;
    let statuses: Vec<StatusCode> = results.into_iter().map(|r| r.unwrap().status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 9, "{statuses:?}");
    let (_, now) = t.get(&path, &t.admin).await;
    assert_eq!(now["version"], 2);
}

/// Writes that state no version apply on top of whatever is current: none fails for being
/// concurrent, and every one of them is there afterwards.
async fn concurrent_unversioned_writes_all_succeed(t: TestApp) {
    let tk = t.ticket(&t.admin, json!({"subject": "busy", "requester": {"email": "c@example.com"}})).await;
    let path = format!("/api/v1/tickets/{}", id(&tk));
    let replies = (0..32).map(|i| {
        t.req(reqwest::Method::POST, &format!("{path}/comments"), &t.admin)
            .json(&json!({"body": format!("reply {i}"), "public": i % 2 == 0}))
            .send()
    });
    let tags = (0..32)
        .map(|i| t.req(reqwest::Method::PATCH, &path, &t.admin).json(&json!({"add_tags": [format!("tag{i}")]})).send());
    let (replies, tags) =
        futures::future::join(futures::future::join_all(replies), futures::future::join_all(tags)).await;
    for r in replies {
        let r = r.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "[{}] {}", t.backend, r.text().await.unwrap());
    }
    for r in tags {
        let r = r.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "[{}] {}", t.backend, r.text().await.unwrap());
    }
    let (_, now) = t.get(&path, &t.admin).await;
    let mut got: Vec<String> = now["tags"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    got.sort();
    let mut want: Vec<String> = (0..32).map(|i| format!("tag{i}")).collect();
    want.sort();
    assert_eq!(got, want, "every tag is there");
    let (_, conv) = t.get(&format!("{path}/comments?limit=100"), &t.admin).await;
    let mut bodies: Vec<&str> = conv["items"].as_array().unwrap().iter().filter_map(|c| c["body"].as_str()).collect();
    bodies.retain(|b| b.starts_with("reply "));
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 32, "every reply is there once");
}

async fn idempotent_creates(t: TestApp) {
    let body = json!({"subject": "retry me", "requester": {"email": "c@example.com"}});
    let send = |key: &str, body: &Value| {
        t.req(reqwest::Method::POST, "/api/v1/tickets", &t.admin).header("idempotency-key", key).json(body).send()
    };
    let first = send("k-1", &body).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send("k-1", &body).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    let other = send("k-1", &json!({"subject": "different", "requester": {"email": "c@example.com"}})).await.unwrap();
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Ten concurrent retries of a new key make one ticket.
    let results = futures::future::join_all((0..10).map(|_| send("k-2", &body))).await;
    let mut ids = Vec::new();
    for r in results {
        let r = r.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        ids.push(r.json::<Value>().await.unwrap()["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let (_, list) = t.get("/api/v1/tickets", &t.admin).await;
    assert_eq!(list["total"], 2);
    // Comments take keys too.
    let path = format!("/api/v1/tickets/{}/comments", first["id"]);
    let c = json!({"body": "hello"});
    let a: Value = t
        .req(reqwest::Method::POST, &path, &t.admin)
        .header("idempotency-key", "c-1")
        .json(&c)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b: Value = t
        .req(reqwest::Method::POST, &path, &t.admin)
        .header("idempotency-key", "c-1")
        .json(&c)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["id"], b["id"]);
    let (_, all) = t.get(&path, &t.admin).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    let results = futures::future::join_all((0..8).map(|_| {
        t.req(reqwest::Method::POST, &path, &t.admin)
            .header("idempotency-key", "c-2")
            .json(&json!({"body": "once"}))
            .send()
    }))
    .await;
    for r in results {
        assert_eq!(r.unwrap().status(), StatusCode::CREATED);
    }
    let (_, all) = t.get(&path, &t.admin).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "eight concurrent retries made one comment");
}

async fn replies_notes_and_reopen(t: TestApp) {
    let (cust, ctoken) = t.user("customer", "cust@example.com", json!({})).await;
    let (_, agent) = t.user("agent", "agent@desk.example", json!({})).await;
    let tk = t.ticket(&t.admin, json!({"subject": "help", "description": "it broke", "requester_id": cust.0})).await;
    let tid = id(&tk);
    let path = format!("/api/v1/tickets/{tid}/comments");
    let (s, note) = t.post(&path, &agent, json!({"body": "内部：联系供应商", "public": false})).await;
    assert_eq!(s, StatusCode::CREATED, "{note}");
    assert_eq!(note["ticket"]["first_replied_at"], Value::Null, "a note is not a first reply");
    let (_, reply) = t.post(&path, &agent, json!({"body": "We are on it", "html_body": "<p onclick=\"x()\">We are <b>on</b> it<script>alert(1)</script></p>"})).await;
    assert!(reply["ticket"]["first_replied_at"].is_string());
    let html = reply["html_body"].as_str().unwrap();
    assert!(html.contains("<b>on</b>") && !html.contains("script") && !html.contains("onclick"), "{html}");
    // The customer sees public replies only.
    let (_, seen) = t.get(&path, &ctoken).await;
    let bodies: Vec<&str> = seen["items"].as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, vec!["it broke", "We are on it"]);
    let (_, staff_view) = t.get(&path, &agent).await;
    assert_eq!(staff_view["items"].as_array().unwrap().len(), 3);
    let (_, ev) = t.get(&format!("/api/v1/tickets/{tid}/events"), &ctoken).await;
    assert!(
        ev["items"].as_array().unwrap().iter().all(|e| e["new_value"] != "internal"),
        "customers do not see note events: {ev}"
    );
    // A customer reply reopens a pending ticket.
    t.patch(&format!("/api/v1/tickets/{tid}"), &agent, json!({"status": "pending"})).await;
    let (s, r) = t.post(&path, &ctoken, json!({"body": "still broken"})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(r["ticket"]["status"], "open");
    // On-hold shows as open to the customer.
    t.patch(&format!("/api/v1/tickets/{tid}"), &agent, json!({"status": "on_hold"})).await;
    let (_, as_customer) = t.get(&format!("/api/v1/tickets/{tid}"), &ctoken).await;
    assert_eq!((as_customer["status"].as_str(), as_customer["status_category"].as_str()), (Some("open"), Some("open")));
    let (_, as_agent) = t.get(&format!("/api/v1/tickets/{tid}"), &agent).await;
    assert_eq!(as_agent["status"], "on_hold");
    let (_, timeline) = t.get(&format!("/api/v1/tickets/{tid}/events"), &ctoken).await;
    let text = timeline.to_string();
    assert!(!text.contains("on_hold") && !text.contains("group_id"), "the customer's timeline hides internals: {text}");
    let (_, open_list) = t.get("/api/v1/tickets?status=open", &ctoken).await;
    assert_eq!(open_list["total"], 1, "on-hold is open to the customer, in lists too");
    // The customer may mark it solved, and a reply reopens it.
    let (s, solved) = t.patch(&format!("/api/v1/tickets/{tid}"), &ctoken, json!({"status": "solved"})).await;
    assert_eq!((s, solved["status"].as_str()), (StatusCode::OK, Some("solved")));
    let (_, r) = t.post(&path, &ctoken, json!({"body": "sorry, again"})).await;
    assert_eq!(r["ticket"]["status"], "open");
}

async fn closed_reply_makes_follow_up(t: TestApp) {
    let (cust, ctoken) = t.user("customer", "cust@example.com", json!({})).await;
    let tk = t.ticket(&t.admin, json!({"subject": "old issue", "requester_id": cust.0, "tags": ["printer"]})).await;
    let tid = id(&tk);
    t.patch(&format!("/api/v1/tickets/{tid}"), &t.admin, json!({"status": "closed"})).await;
    let (s, r) = t.post(&format!("/api/v1/tickets/{tid}/comments"), &ctoken, json!({"body": "it is back"})).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let follow = r["follow_up_ticket_id"].as_i64().expect("a follow-up");
    assert_ne!(follow, tid);
    assert_eq!(r["ticket"]["subject"], "old issue");
    assert_eq!(r["ticket"]["status"], "new");
    let (_, links) = t.get(&format!("/api/v1/tickets/{follow}/links"), &t.admin).await;
    assert_eq!(links["items"][0]["kind"], "follow_up");
    assert_eq!(links["items"][0]["target_id"], json!(tid));
    let (_, closed) = t.get(&format!("/api/v1/tickets/{tid}"), &t.admin).await;
    assert_eq!(closed["status"], "closed", "the closed ticket stays closed");
    // An internal note never becomes a follow-up the customer could read.
    let (s, e) = t
        .post(&format!("/api/v1/tickets/{tid}/comments"), &t.admin, json!({"body": "内部备注", "public": false}))
        .await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("ticket_closed")));
    let (_, mine) = t.get("/api/v1/tickets", &ctoken).await;
    assert_eq!(mine["total"], 2);
    assert!(mine["items"].as_array().unwrap().iter().all(|x| x["description"] != "内部备注"));
}

async fn merge_and_links(t: TestApp) {
    let (_, a_token) = t.user("customer", "a@example.com", json!({})).await;
    let a = t
        .ticket(&t.admin, json!({"subject": "dup", "description": "from A", "requester": {"email": "a@example.com"}}))
        .await;
    let b = t
        .ticket(&t.admin, json!({"subject": "main", "description": "from B", "requester": {"email": "b@example.com"}}))
        .await;
    let (s, survivor) =
        t.post(&format!("/api/v1/tickets/{}/merge", id(&a)), &t.admin, json!({"target_id": id(&b)})).await;
    assert_eq!(s, StatusCode::OK, "{survivor}");
    assert_eq!(survivor["id"], b["id"]);
    assert!(survivor["cc_ids"].as_array().unwrap().contains(&a["requester_id"]), "A's requester follows B");
    // ... and, copied on B now, sees it in their list and can open it.
    let (s, seen) = t.get(&format!("/api/v1/tickets/{}", id(&b)), &a_token).await;
    assert_eq!((s, seen["subject"].as_str()), (StatusCode::OK, Some("main")), "{seen}");
    let (_, mine) = t.get("/api/v1/tickets", &a_token).await;
    let ids: Vec<i64> = mine["items"].as_array().unwrap().iter().filter_map(|x| x["id"].as_i64()).collect();
    assert!(ids.contains(&id(&b)), "the CC'd request is in the customer's list: {mine}");
    let (_, merged) = t.get(&format!("/api/v1/tickets/{}", id(&a)), &t.admin).await;
    assert_eq!((merged["status"].as_str(), merged["merged_into_id"].as_i64()), (Some("closed"), Some(id(&b))));
    let (_, conv) = t.get(&format!("/api/v1/tickets/{}/comments", id(&b)), &t.admin).await;
    let bodies: Vec<&str> = conv["items"].as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, vec!["from A", "from B"], "the merged conversation stays visible");
    let (s, _) = t.post(&format!("/api/v1/tickets/{}/merge", id(&a)), &t.admin, json!({"target_id": id(&b)})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a merged ticket cannot merge again");
    // A reply to the merged ticket lands on the survivor.
    let (_, r) = t.post(&format!("/api/v1/tickets/{}/comments", id(&a)), &t.admin, json!({"body": "late"})).await;
    assert_eq!(r["ticket_id"], b["id"]);

    // Parent and child: a parent cannot be solved while a child is open.
    let parent = t.ticket(&t.admin, json!({"subject": "outage", "requester": {"email": "p@example.com"}})).await;
    let child = t.ticket(&t.admin, json!({"subject": "site A down", "requester": {"email": "c@example.com"}})).await;
    let (s, link) = t
        .post(
            &format!("/api/v1/tickets/{}/links", id(&parent)),
            &t.admin,
            json!({"target_id": id(&child), "kind": "parent"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{link}");
    let (s, e) = t
        .post(
            &format!("/api/v1/tickets/{}/links", id(&child)),
            &t.admin,
            json!({"target_id": id(&parent), "kind": "parent"}),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_link")), "no cycles");
    let (s, e) = t
        .post(
            &format!("/api/v1/tickets/{}/links", id(&parent)),
            &t.admin,
            json!({"target_id": id(&parent), "kind": "related"}),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_link")));
    let (s, e) = t
        .post(
            &format!("/api/v1/tickets/{}/links", id(&parent)),
            &t.admin,
            json!({"target_id": id(&child), "kind": "parent"}),
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_link")),
        "one parent per ticket: {e}"
    );
    let (s, e) = t
        .post(
            &format!("/api/v1/tickets/{}/links", id(&parent)),
            &t.admin,
            json!({"target_id": id(&child), "kind": "related"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let (s, e) = t
        .post(
            &format!("/api/v1/tickets/{}/links", id(&parent)),
            &t.admin,
            json!({"target_id": id(&child), "kind": "related"}),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::CONFLICT, Some("target_id")), "the same link twice: {e}");
    for status in ["solved", "closed"] {
        let (s, e) = t.patch(&format!("/api/v1/tickets/{}", id(&parent)), &t.admin, json!({"status": status})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("open_child_tickets")), "{status}");
    }
    let other = t.ticket(&t.admin, json!({"subject": "other", "requester": {"email": "o@example.com"}})).await;
    let (s, e) =
        t.post(&format!("/api/v1/tickets/{}/merge", id(&parent)), &t.admin, json!({"target_id": id(&other)})).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("open_child_tickets")),
        "merging closes the parent"
    );
    t.patch(&format!("/api/v1/tickets/{}", id(&child)), &t.admin, json!({"status": "solved"})).await;
    let (s, _) = t.patch(&format!("/api/v1/tickets/{}", id(&parent)), &t.admin, json!({"status": "solved"})).await;
    assert_eq!(s, StatusCode::OK);
    let (_, links) = t.get(&format!("/api/v1/tickets/{}/links", id(&child)), &t.admin).await;
    assert_eq!(links["items"].as_array().unwrap().len(), 2);
    let (s, _) = t.delete(&format!("/api/v1/tickets/{}/links/{}", id(&child), id(&link)), &t.admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, links) = t.get(&format!("/api/v1/tickets/{}/links", id(&parent)), &t.admin).await;
    assert_eq!(links["items"].as_array().unwrap().len(), 1);
    assert_eq!(links["items"][0]["kind"], "related");
}

async fn bulk_update(t: TestApp) {
    let g = t.group("二线", 2).await;
    let a = t.ticket(&t.admin, json!({"subject": "1", "requester": {"email": "a@example.com"}})).await;
    let b = t.ticket(&t.admin, json!({"subject": "2", "requester": {"email": "b@example.com"}})).await;
    let c = t.ticket(&t.admin, json!({"subject": "3", "requester": {"email": "c@example.com"}})).await;
    t.patch(&format!("/api/v1/tickets/{}", id(&c)), &t.admin, json!({"status": "closed"})).await;
    let (s, r) = t.post("/api/v1/tickets/bulk", &t.admin, json!({"ids": [id(&a), id(&b), id(&c), 999_999], "changes": {"group_id": g.0, "add_tags": ["batch"], "status": "open"}})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let res = r["results"].as_array().unwrap();
    let oks: Vec<bool> = res.iter().map(|x| x["ok"].as_bool().unwrap()).collect();
    assert_eq!(oks, vec![true, true, false, false]);
    assert_eq!(res[2]["error"]["code"], "ticket_closed");
    assert_eq!(res[3]["error"]["code"], "not_found");
    // A change that is wrong whatever the ticket is one error for the request.
    let bad = json!({"ids": [999_998], "changes": {"add_tags": ["ok", ""]}});
    let (s, e) = t.post("/api/v1/tickets/bulk", &t.admin, bad).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("changes.add_tags[1]")), "{e}");
    let (_, tagged) = t.get("/api/v1/tickets?tag=batch", &t.admin).await;
    assert_eq!(tagged["total"], 2);
    assert!(tagged["items"].as_array().unwrap().iter().all(|x| x["group_id"] == json!(g.0) && x["status"] == "open"));
}

async fn attachments(t: TestApp) {
    let (cust, ctoken) = t.user("customer", "cust@example.com", json!({})).await;
    let (_, other) = t.user("customer", "other@example.com", json!({})).await;
    let tk = t.ticket(&t.admin, json!({"subject": "photo", "requester_id": cust.0})).await;
    let up = |token: &str, name: &str, bytes: Vec<u8>| {
        t.req(reqwest::Method::POST, &format!("/api/v1/uploads?filename={name}"), token)
            .header("content-type", "image/png")
            .body(bytes)
            .send()
    };
    let r = up(&ctoken, "屏幕截图.png", vec![7u8; 1000]).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    assert_eq!((a["filename"].as_str(), a["size"].as_i64()), (Some("屏幕截图.png"), Some(1000)));
    let (s, c) = t
        .post(
            &format!("/api/v1/tickets/{}/comments", id(&tk)),
            &ctoken,
            json!({"body": "see photo", "attachment_ids": [id(&a)]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["attachments"][0]["id"], a["id"]);
    // The agent and the customer can download it; another customer cannot.
    let dl = t.req(reqwest::Method::GET, &format!("/api/v1/attachments/{}", id(&a)), &t.admin).send().await.unwrap();
    assert_eq!(dl.status(), StatusCode::OK);
    assert!(dl.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    assert_eq!(dl.bytes().await.unwrap().len(), 1000);
    let dl = t.req(reqwest::Method::GET, &format!("/api/v1/attachments/{}", id(&a)), &other).send().await.unwrap();
    assert_eq!(dl.status(), StatusCode::NOT_FOUND);
    // An upload can be attached once, by its uploader.
    let (s, e) = t
        .post(
            &format!("/api/v1/tickets/{}/comments", id(&tk)),
            &t.admin,
            json!({"body": "reuse", "attachment_ids": [id(&a)]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (_, conv) = t.get(&format!("/api/v1/tickets/{}/comments", id(&tk)), &t.admin).await;
    assert_eq!(conv["items"].as_array().unwrap().len(), 1, "the failed reply wrote nothing");
    // Internal-note attachments stay internal.
    let r = up(&t.admin, "internal.txt", b"secret".to_vec()).await.unwrap();
    let secret: Value = r.json().await.unwrap();
    t.post(
        &format!("/api/v1/tickets/{}/comments", id(&tk)),
        &t.admin,
        json!({"body": "note", "public": false, "attachment_ids": [id(&secret)]}),
    )
    .await;
    let dl =
        t.req(reqwest::Method::GET, &format!("/api/v1/attachments/{}", id(&secret)), &ctoken).send().await.unwrap();
    assert_eq!(dl.status(), StatusCode::NOT_FOUND);
    // Over the limit (64 KiB in tests): 413, nothing stored.
    // Agents attach files when they open a ticket for a caller.
    let file: Value = up(&t.admin, "call-notes.txt", b"notes".to_vec()).await.unwrap().json().await.unwrap();
    let opened = t.ticket(&t.admin, json!({"subject": "phone call", "description": "caller says…", "requester_id": cust.0, "attachment_ids": [id(&file)]})).await;
    let (_, conv) = t.get(&format!("/api/v1/tickets/{}/comments", id(&opened)), &ctoken).await;
    assert_eq!(conv["items"][0]["attachments"][0]["id"], file["id"]);
    let r = up(&ctoken, "big.bin", vec![0u8; 70 * 1024]).await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "payload_too_large");
    // Unattached uploads are limited per user: five file limits' worth here (5 × 64 KiB).
    let (_, hoarder) = t.user("customer", "hoarder@example.com", json!({})).await;
    for i in 0..5 {
        let r = up(&hoarder, &format!("f{i}.bin"), vec![i; 64 * 1024]).await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "upload {i}");
    }
    let blobs = || {
        fn count(d: &std::path::Path) -> usize {
            std::fs::read_dir(d)
                .map_or(0, |r| r.flatten().map(|e| if e.path().is_dir() { count(&e.path()) } else { 1 }).sum())
        }
        count(&t.app.settings.data_dir.join("attachments"))
    };
    let before = blobs();
    let r = up(&hoarder, "one-more.bin", vec![9u8; 10]).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(blobs(), before, "a refused upload writes nothing to disk");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "quota_exceeded");
    let r = up(&ctoken, "others-unaffected.png", vec![1u8; 10]).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "the quota is the uploader's");
    // A day later the old ones no longer count.
    t.clock.advance(jiff::SignedDuration::from_hours(25));
    let r = up(&hoarder, "tomorrow.bin", vec![9u8; 10]).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// A requester named by email is found by that email as it is now: a changed address moves
/// with its user at once, even though requesters by email are cached.
async fn requester_by_email_follows_changes(t: TestApp) {
    let first = t.ticket(&t.admin, json!({"subject": "one", "requester": {"email": "wang@example.com"}})).await;
    let wang = first["requester_id"].as_i64().unwrap();
    let again = t.ticket(&t.admin, json!({"subject": "two", "requester": {"email": "Wang@Example.com "}})).await;
    assert_eq!(again["requester_id"].as_i64(), Some(wang), "found again, however the address is written");
    // A new address alone keeps the old one as a second identity; replacing the identities
    // gives the old one up.
    let new_only = json!({"identities": [{"kind": "email", "value": "wang.fang@example.com"}]});
    let (s, u) = t.patch(&format!("/api/v1/users/{wang}"), &t.admin, new_only).await;
    assert_eq!((s, u["email"].as_str()), (StatusCode::OK, Some("wang.fang@example.com")), "{u}");
    let moved = t.ticket(&t.admin, json!({"subject": "three", "requester": {"email": "wang.fang@example.com"}})).await;
    assert_eq!(moved["requester_id"].as_i64(), Some(wang), "the new address is the same person");
    let old = t.ticket(&t.admin, json!({"subject": "four", "requester": {"email": "wang@example.com"}})).await;
    assert_ne!(old["requester_id"].as_i64(), Some(wang), "the old address is free: a new customer");
    // An organisation's domain, added later, is part of who a new requester is.
    let (s, org) =
        t.post("/api/v1/organizations", &t.admin, json!({"name": "示例公司", "domains": ["corp.example"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{org}");
    let staff = t.ticket(&t.admin, json!({"subject": "five", "requester": {"email": "zhao@corp.example"}})).await;
    assert_eq!(staff["organization_id"], org["id"]);
    // So is a known requester's organisation, changed after their last ticket.
    let (s, _) = t.patch(&format!("/api/v1/users/{wang}"), &t.admin, json!({"organization_id": org["id"]})).await;
    assert_eq!(s, StatusCode::OK);
    let six = t.ticket(&t.admin, json!({"subject": "six", "requester": {"email": "wang.fang@example.com"}})).await;
    assert_eq!((six["requester_id"].as_i64(), &six["organization_id"]), (Some(wang), &org["id"]));
}

/// The tag, CC and field index rows follow the ticket through updates and replies that change
/// them and through those that leave them alone.
async fn index_rows_follow_writes(t: TestApp) {
    t.post("/api/v1/custom_fields", &t.admin, json!({"key": "order_no", "kind": "text", "label_en": "Order"})).await;
    let tk = t
        .ticket(
            &t.admin,
            json!({"subject": "s", "requester": {"email": "c@example.com"}, "tags": ["vip"],
            "custom_fields": {"order_no": "A-1"}}),
        )
        .await;
    let tid = id(&tk);
    let found = |q: &'static str| {
        let t = &t;
        async move {
            let (s, list) = t.get(&format!("/api/v1/tickets?{q}"), &t.admin).await;
            assert_eq!(s, StatusCode::OK, "{list}");
            list["items"].as_array().unwrap().iter().map(id).collect::<Vec<_>>()
        }
    };
    for round in 0..2 {
        // A reply and a priority change touch no index row.
        let (s, _) = t.post(&format!("/api/v1/tickets/{tid}/comments"), &t.admin, json!({"body": "看一下"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = t.patch(&format!("/api/v1/tickets/{tid}"), &t.admin, json!({"priority": "high"})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(found("tag=vip").await, vec![tid], "round {round}");
        assert_eq!(found("cf.order_no=A-1").await, vec![tid], "round {round}");
    }
    let (s, _) = t
        .patch(
            &format!("/api/v1/tickets/{tid}"),
            &t.admin,
            json!({"tags": ["urgent"], "custom_fields": {"order_no": "B-2"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(found("tag=vip").await.is_empty());
    assert_eq!(found("tag=urgent").await, vec![tid]);
    assert!(found("cf.order_no=A-1").await.is_empty());
    assert_eq!(found("cf.order_no=B-2").await, vec![tid]);
}

on_both!(
    create_and_read,
    requester_by_email_follows_changes,
    index_rows_follow_writes,
    list_filter_and_page,
    update_versions_and_conflicts,
    concurrent_updates_one_wins,
    concurrent_unversioned_writes_all_succeed,
    idempotent_creates,
    replies_notes_and_reopen,
    closed_reply_makes_follow_up,
    merge_and_links,
    bulk_update,
    attachments,
);
