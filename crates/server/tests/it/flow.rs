//! The flow engine over real HTTP: triggers, automations on a moving clock, assignment
//! strategies (also under concurrent creates), escalation, macros, views, webhooks with a real
//! receiver, notifications, and the job runner surviving a crash.

use std::sync::{Arc, Mutex};

use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::TestApp;

fn id(v: &Value) -> i64 {
    v["id"].as_i64().expect("id")
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

async fn events(t: &TestApp, ticket: i64) -> Vec<Value> {
    let (_, e) = t.get(&format!("/api/v1/tickets/{ticket}/events?limit=200"), &t.admin).await;
    e["items"].as_array().cloned().unwrap_or_default()
}

async fn trigger(t: &TestApp, body: Value) -> Value {
    let (s, r) = t.post("/api/v1/triggers", &t.admin, body).await;
    assert_eq!(s, StatusCode::CREATED, "[{}] trigger: {r}", t.backend);
    r
}

async fn get_ticket(t: &TestApp, id: i64) -> Value {
    t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await.1
}

/// Removes the shipped automations, for tests that count exactly what their own do.
async fn without_default_automations(t: &TestApp) {
    let (_, list) = t.get("/api/v1/automations", &t.admin).await;
    for a in list["items"].as_array().unwrap() {
        t.delete(&format!("/api/v1/automations/{}", a["id"]), &t.admin).await;
    }
}

async fn triggers_route_tickets_and_the_timeline_says_why(t: TestApp) {
    let billing = t.group("财务组", 1).await;
    let refund = trigger(
        &t,
        json!({"name": "退款转财务", "active": true, "position": 1,
               "conditions": {"all": [{"field": "subject", "operator": "contains", "value": "退款"}], "any": []},
               "actions": [{"field": "group_id", "value": billing.0}, {"field": "tags_add", "value": ["refund"]}]}),
    )
    .await;
    assert_eq!(refund["position"], 1);
    // Listed before the first, this one depends on what the first does: the cycle restarts.
    trigger(
        &t,
        json!({"name": "退款加急", "position": 0,
               "conditions": {"all": [{"field": "tags", "operator": "contains", "value": "refund"}]},
               "actions": [{"field": "priority", "value": "high"},
                           {"field": "internal_note", "value": "已转财务：{{ticket.subject}} #{{ticket.number}}"}]}),
    )
    .await;
    let (_, customer) = t.user("customer", "li@example.com", json!({"name": "李雷"})).await;
    let created = t.ticket(&customer, json!({"subject": "申请退款", "description": "订单 A-1001 重复扣款"})).await;
    let tid = id(&created);
    let tk = get_ticket(&t, tid).await;
    assert_eq!(tk["group_id"], billing.0);
    assert_eq!(tk["priority"], "high");
    assert_eq!(tk["tags"], json!(["refund"]));
    assert_eq!(tk["version"], 1, "one create, one version, however many rules changed it");

    let ev = events(&t, tid).await;
    let by_rule: Vec<(&str, &str, &str)> = ev
        .iter()
        .filter(|e| e["via"] == "rule")
        .map(|e| {
            (e["rule"].as_str().unwrap_or(""), e["kind"].as_str().unwrap_or(""), e["field"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(by_rule.contains(&("退款转财务", "field_changed", "group_id")), "{by_rule:?}");
    assert!(by_rule.contains(&("退款转财务", "field_changed", "tags")));
    assert!(by_rule.contains(&("退款加急", "field_changed", "priority")));
    assert!(by_rule.contains(&("退款加急", "comment_added", "")));
    let (_, comments) = t.get(&format!("/api/v1/tickets/{tid}/comments"), &t.admin).await;
    let note = comments["items"].as_array().unwrap().iter().find(|c| c["public"] == false).expect("rule note");
    assert_eq!(note["body"], format!("已转财务：申请退款 #{tid}"), "the number is filled in once the ticket has one");
    assert_eq!(note["via"], "rule");
    let (_, mine) = t.get(&format!("/api/v1/tickets/{tid}/comments"), &customer).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "the customer never sees the rule's note");

    // Other tickets are left alone; an update can fire too ("changed_to").
    let other = t.ticket(&customer, json!({"subject": "打印机无法连接网络"})).await;
    let tk = get_ticket(&t, id(&other)).await;
    assert_eq!((tk["group_id"].clone(), tk["priority"].clone()), (Value::Null, json!("normal")));
    trigger(
        &t,
        json!({"name": "解决时打标", "conditions": {"all": [{"field": "status", "operator": "changed_to", "value": "solved"}]},
               "actions": [{"field": "tags_add", "value": "solved_once"}]}),
    )
    .await;
    let (s, up) = t.patch(&format!("/api/v1/tickets/{}", id(&other)), &t.admin, json!({"status": "solved"})).await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(up["tags"], json!(["solved_once"]));
    // Switched off, a trigger does nothing.
    t.patch(&format!("/api/v1/triggers/{}", id(&refund)), &t.admin, json!({"active": false})).await;
    let again = t.ticket(&customer, json!({"subject": "再次退款"})).await;
    assert_eq!(get_ticket(&t, id(&again)).await["group_id"], Value::Null);
}

async fn bad_rules_are_refused_naming_the_row(t: TestApp) {
    let cases = [
        (
            json!({"name": "x", "conditions": {"all": [{"field": "colour", "operator": "is", "value": "red"}]},
                "actions": [{"field": "priority", "value": "high"}]}),
            "conditions.all[0].field",
            "unknown_field",
        ),
        (
            json!({"name": "x", "conditions": {"any": [{"field": "priority", "operator": "is", "value": 7}]},
                "actions": [{"field": "priority", "value": "high"}]}),
            "conditions.any[0].value",
            "invalid_value",
        ),
        (
            json!({"name": "x", "actions": [{"field": "priority", "value": "high"}, {"field": "created_at", "value": 1}]}),
            "actions[1].field",
            "read_only_field",
        ),
        (json!({"name": "x", "actions": [{"field": "group_id", "value": 999}]}), "actions[0].value", "not_found"),
        (
            json!({"name": "x", "conditions": {"all": [{"field": "hours_since_created", "operator": "greater_than", "value": 1}]},
                "actions": [{"field": "priority", "value": "high"}]}),
            "conditions.all[0].field",
            "invalid_field",
        ),
        (json!({"name": "x", "actions": []}), "actions", "required"),
        (json!({"name": "x", "actions": [{"field": "priority"}], "colour": 1}), "colour", "unknown_field"),
    ];
    for (body, field, code) in cases {
        let (s, p) = t.post("/api/v1/triggers", &t.admin, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {body}: {p}", t.backend);
        assert_eq!((p["field"].as_str(), p["code"].as_str()), (Some(field), Some(code)), "{body}: {p}");
    }
    // Two triggers that would flip a field back and forth: the second is refused.
    trigger(
        &t,
        json!({"name": "up", "conditions": {"all": [{"field": "priority", "operator": "is", "value": "low"}]},
                       "actions": [{"field": "priority", "value": "high"}]}),
    )
    .await;
    let (s, p) = t
        .post(
            "/api/v1/triggers",
            &t.admin,
            json!({"name": "down",
            "conditions": {"all": [{"field": "priority", "operator": "is", "value": "high"}]},
            "actions": [{"field": "priority", "value": "low"}]}),
        )
        .await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("rule_loop")), "{p}");
    // An automation that would fire again at once.
    let (s, p) = t
        .post(
            "/api/v1/automations",
            &t.admin,
            json!({"name": "nag",
            "conditions": {"all": [{"field": "status", "operator": "is", "value": "pending"},
                                   {"field": "hours_since_pending", "operator": "greater_than", "value": 1}]},
            "actions": [{"field": "notify", "value": {"to": "requester", "subject": "hi", "body": "hi"}}]}),
        )
        .await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("automation_loop")), "{p}");
    // Nothing half-saved: the one made, besides the stock ones (switched off).
    let (_, list) = t.get("/api/v1/triggers", &t.admin).await;
    assert_eq!(list["items"].as_array().unwrap().iter().filter(|r| r["active"] == true).count(), 1, "{list}");
    // Agents and customers cannot see or write rules.
    let (_, agent) = t.user("agent", "a@desk.example", json!({})).await;
    let (s, _) = t.get("/api/v1/triggers", &agent).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn round_robin_least_loaded_and_skills(t: TestApp) {
    let (_, g) =
        t.post("/api/v1/groups", &t.admin, json!({"name": "L1", "tier": 1, "assignment": "round_robin"})).await;
    let g = id(&g);
    let mut agents = Vec::new();
    for i in 0..3 {
        let (a, _) = t.user("agent", &format!("rr{i}@desk.example"), json!({"group_ids": [g], "capacity": 10})).await;
        agents.push(a.0);
    }
    let mut got = Vec::new();
    let mut first = 0;
    for i in 0..6 {
        let tk = t
            .ticket(
                &t.admin,
                json!({"subject": format!("rr {i}"), "group_id": g, "requester": {"email": "c@example.com"}}),
            )
            .await;
        got.push(tk["assignee_id"].as_i64().expect("assigned"));
        if i == 0 {
            first = id(&tk);
        }
    }
    assert_eq!(got, [agents.clone(), agents.clone()].concat(), "[{}] turns in order", t.backend);
    let ev = events(&t, first).await;
    assert!(ev.iter().any(|e| e["rule"] == "assignment" && e["field"] == "assignee_id"), "{ev:?}");

    // Least loaded: the one with the most room relative to their capacity.
    let (_, ll) =
        t.post("/api/v1/groups", &t.admin, json!({"name": "L2", "tier": 2, "assignment": "least_loaded"})).await;
    let ll = id(&ll);
    let (busy, _) = t.user("agent", "busy@desk.example", json!({"group_ids": [ll], "capacity": 4})).await;
    let (free, _) = t.user("agent", "free@desk.example", json!({"group_ids": [ll], "capacity": 4})).await;
    for i in 0..2 {
        t.ticket(&t.admin, json!({"subject": format!("held {i}"), "assignee_id": busy.0, "status": "open", "requester": {"email": "c@example.com"}})).await;
    }
    let tk =
        t.ticket(&t.admin, json!({"subject": "ll", "group_id": ll, "requester": {"email": "c@example.com"}})).await;
    assert_eq!(tk["assignee_id"], free.0);

    // Skills: the Chinese-speaking billing agent gets the Chinese billing ticket.
    let (_, sk) =
        t.post("/api/v1/groups", &t.admin, json!({"name": "Skills", "tier": 1, "assignment": "skills"})).await;
    let sk = id(&sk);
    let (en, _) = t
        .user("agent", "en@desk.example", json!({"group_ids": [sk], "languages": ["en"], "skills": ["billing"]}))
        .await;
    let (zh, _) = t
        .user("agent", "zh@desk.example", json!({"group_ids": [sk], "languages": ["zh-CN"], "skills": ["billing"]}))
        .await;
    let (zh_c, _) = t.user("customer", "wang@example.com", json!({"language": "zh-CN"})).await;
    let (en_c, _) = t.user("customer", "john@example.com", json!({"language": "en"})).await;
    trigger(&t, json!({"name": "to skills", "conditions": {"all": [{"field": "tags", "operator": "contains", "value": "billing"}]},
                       "actions": [{"field": "group_id", "value": sk}]})).await;
    let a = t.ticket(&t.admin, json!({"subject": "发票", "tags": ["billing"], "requester_id": zh_c.0})).await;
    let b = t.ticket(&t.admin, json!({"subject": "invoice", "tags": ["billing"], "requester_id": en_c.0})).await;
    assert_eq!((a["assignee_id"].as_i64(), b["assignee_id"].as_i64()), (Some(zh.0), Some(en.0)));

    // Online only: away and offline agents get nothing new; the agent sets it themself.
    let (_, on) = t
        .post(
            "/api/v1/groups",
            &t.admin,
            json!({"name": "Online", "tier": 1, "assignment": "round_robin", "online_only": true}),
        )
        .await;
    let on = id(&on);
    let (away, away_token) = t.user("agent", "away@desk.example", json!({"group_ids": [on]})).await;
    let tk = t
        .ticket(&t.admin, json!({"subject": "nobody online", "group_id": on, "requester": {"email": "c@example.com"}}))
        .await;
    assert_eq!(tk["assignee_id"], Value::Null, "offline agents get nothing");
    let (s, me) = t.patch(&format!("/api/v1/users/{}", away.0), &away_token, json!({"availability": "online"})).await;
    assert_eq!((s, me["availability"].as_str()), (StatusCode::OK, Some("online")));
    let tk = t
        .ticket(&t.admin, json!({"subject": "now online", "group_id": on, "requester": {"email": "c@example.com"}}))
        .await;
    assert_eq!(tk["assignee_id"], away.0);
    let (s, _) = t.patch(&format!("/api/v1/users/{}", away.0), &away_token, json!({"capacity": 99})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "an agent does not set their own capacity");

    // A VIP's account manager gets their tickets first.
    let (vip, _) =
        t.user("customer", "vip@example.com", json!({"vip_level": 3, "account_manager_id": agents[2]})).await;
    let tk = t.ticket(&t.admin, json!({"subject": "vip", "group_id": g, "requester_id": vip.0})).await;
    assert_eq!(tk["assignee_id"], agents[2]);
}

async fn concurrent_creates_never_exceed_capacity(t: TestApp) {
    let (_, g) =
        t.post("/api/v1/groups", &t.admin, json!({"name": "Busy", "tier": 1, "assignment": "round_robin"})).await;
    let g = id(&g);
    let mut agents = Vec::new();
    for i in 0..3 {
        let (a, _) = t.user("agent", &format!("cap{i}@desk.example"), json!({"group_ids": [g], "capacity": 5})).await;
        agents.push(a.0);
    }
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = t.client.clone();
        let url = format!("{}/api/v1/tickets", t.base);
        let token = t.admin.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"subject": format!("rush {i}"), "group_id": g, "requester": {"email": format!("r{i}@example.com")}}))
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<Value>().await.expect("json")
        }));
    }
    let mut per: std::collections::BTreeMap<i64, usize> = Default::default();
    let mut unassigned = 0;
    for task in tasks {
        match task.await.expect("task")["assignee_id"].as_i64() {
            Some(a) => *per.entry(a).or_default() += 1,
            None => unassigned += 1,
        }
    }
    assert_eq!(per.values().copied().collect::<Vec<_>>(), vec![5, 5, 5], "[{}] {per:?}", t.backend);
    assert_eq!(unassigned, 9);
    // And the queue counters agree with what was written.
    for a in agents {
        let (_, l) = t.get(&format!("/api/v1/tickets?assignee_id={a}&limit=1"), &t.admin).await;
        assert_eq!(l["total"], 5);
    }
}

/// Two nodes on one database (as behind a load balancer): round-robin stays fair and nobody
/// goes over capacity, whichever node a create reaches.
async fn two_nodes_share_fair_turns_and_capacity(t: TestApp) {
    let (_, fair) =
        t.post("/api/v1/groups", &t.admin, json!({"name": "Fair", "tier": 1, "assignment": "round_robin"})).await;
    let (_, capped) =
        t.post("/api/v1/groups", &t.admin, json!({"name": "Capped", "tier": 1, "assignment": "least_loaded"})).await;
    let (fair, capped) = (id(&fair), id(&capped));
    for i in 0..4 {
        t.user("agent", &format!("f{i}@desk.example"), json!({"group_ids": [fair]})).await;
        t.user("agent", &format!("c{i}@desk.example"), json!({"group_ids": [capped], "capacity": 3})).await;
    }
    // The second node: an app of its own (caches, writer, job runner) and a server of its own.
    let store = gongdan_store::connect(&t.url, gongdan_store::ConnectOptions::default()).await.unwrap();
    let node2 = gongdan_core::App::new(store, t.clock.clone(), gongdan_core::Settings::new(crate::support::temp_dir()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = format!("http://{}", listener.local_addr().unwrap());
    let router = gongdan_web::router(node2);
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.ok()
    });
    for (group, n) in [(fair, 40), (capped, 20)] {
        let mut tasks = Vec::new();
        for i in 0..n {
            let base = if i % 2 == 0 { t.base.clone() } else { second.clone() };
            let (client, token) = (t.client.clone(), t.admin.clone());
            tasks.push(tokio::spawn(async move {
                let r = client
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(token)
                    .json(&json!({"subject": format!("n{i}"), "group_id": group, "requester": {"email": format!("n{i}@example.com")}}))
                    .send()
                    .await
                    .expect("send");
                assert_eq!(r.status(), StatusCode::CREATED);
                r.json::<Value>().await.expect("json")["assignee_id"].as_i64()
            }));
        }
        let mut per: std::collections::BTreeMap<i64, usize> = Default::default();
        for task in tasks {
            if let Some(a) = task.await.expect("task") {
                *per.entry(a).or_default() += 1;
            }
        }
        let counts: Vec<usize> = per.values().copied().collect();
        if group == fair {
            assert_eq!(counts, vec![10, 10, 10, 10], "[{}] fair turns across nodes: {per:?}", t.backend);
        } else {
            assert_eq!(counts, vec![3, 3, 3, 3], "[{}] capacity across nodes: {per:?}", t.backend);
        }
    }
}

async fn automations_close_remind_and_solve_on_the_clock(t: TestApp) {
    let (cid, customer) = t.user("customer", "li@example.com", json!({"name": "李雷"})).await;
    let solved = t.ticket(&customer, json!({"subject": "已解决的"})).await;
    t.patch(&format!("/api/v1/tickets/{}", id(&solved)), &t.admin, json!({"status": "solved"})).await;
    let waiting = t.ticket(&customer, json!({"subject": "等待回复的"})).await;
    t.patch(&format!("/api/v1/tickets/{}", id(&waiting)), &t.admin, json!({"status": "pending"})).await;
    t.app.ensure_schedules().await.unwrap();
    assert_eq!(t.app.run_due_jobs().await.unwrap(), 1, "the automation pass is a job");
    assert_eq!(get_ticket(&t, id(&solved)).await["status"], "solved", "not yet");

    // 49 hours: the pending ticket's requester is reminded, once.
    t.clock.advance(hours(49));
    t.app.run_due_jobs().await.unwrap();
    let (_, n) = t.get("/api/v1/notifications", &customer).await;
    assert_eq!(n["unread"], 1, "[{}] {n}", t.backend);
    assert_eq!(n["items"][0]["ticket_id"], id(&waiting));
    assert!(n["items"][0]["subject"].as_str().unwrap().contains(&id(&waiting).to_string()));
    assert_eq!(n["items"][0]["rule"], Value::Null, "customers see the message, not the desk's rule");
    for _ in 0..3 {
        t.clock.advance(SignedDuration::from_mins(1));
        t.app.run_due_jobs().await.unwrap();
    }
    let (_, n) = t.get("/api/v1/notifications", &customer).await;
    assert_eq!(n["items"].as_array().unwrap().len(), 1, "once per pending spell, not once a minute");
    assert_eq!(get_ticket(&t, id(&waiting)).await["version"], 2, "a notification alone changes no ticket");

    // 97 hours after solving: closed, by the rule, as the timeline says.
    t.clock.advance(hours(48));
    t.app.run_due_jobs().await.unwrap();
    let tk = get_ticket(&t, id(&solved)).await;
    assert_eq!(tk["status"], "closed");
    let closing = events(&t, id(&solved)).await.into_iter().find(|e| e["new_value"] == "closed").expect("event");
    assert_eq!((closing["via"].as_str(), closing["actor_id"].clone()), (Some("rule"), Value::Null));
    assert!(closing["rule"].as_str().unwrap().contains("96"));
    // 7 days pending: solved.
    t.clock.advance(hours(80));
    t.app.run_due_jobs().await.unwrap();
    assert_eq!(get_ticket(&t, id(&waiting)).await["status"], "solved");
    let _ = cid;

    // The pass runs every minute: the job is back in the queue for a minute later.
    let next = t.app.next_automation_run().await.unwrap().expect("scheduled");
    assert_eq!(next, t.app.now().checked_add(SignedDuration::from_mins(1)).unwrap());
}

async fn automation_dry_run_and_unassigned_alert(t: TestApp) {
    let g = t.group("一线", 1).await;
    let (_, member) = t.user("agent", "m@desk.example", json!({"group_ids": [g.0]})).await;
    let fresh = t
        .ticket(&t.admin, json!({"subject": "无人处理", "group_id": g.0, "requester": {"email": "c@example.com"}}))
        .await;
    t.clock.advance(SignedDuration::from_mins(31));
    let (s, dry) = t
        .post(
            "/api/v1/automations/dry_run",
            &t.admin,
            json!({"once": true,
            "conditions": {"all": [{"field": "status", "operator": "is", "value": "new"},
                                   {"field": "minutes_since_created", "operator": "greater_than", "value": 30}]},
            "actions": [{"field": "priority", "value": "high"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    assert_eq!((dry["matched"].clone(), dry["tickets"][0]["id"].clone()), (json!(1), json!(id(&fresh))));
    assert_eq!(get_ticket(&t, id(&fresh)).await["priority"], "normal", "a dry run changes nothing");
    t.app.ensure_schedules().await.unwrap();
    t.app.run_due_jobs().await.unwrap();
    let (_, n) = t.get("/api/v1/notifications", &member).await;
    assert_eq!(n["unread"], 1, "[{}] the group hears about its unassigned ticket: {n}", t.backend);
    assert!(n["items"][0]["rule"].as_str().is_some(), "staff see which rule spoke");
    let first = n["items"][0]["id"].as_i64().unwrap();
    let (s, _) = t.post("/api/v1/notifications/read", &member, json!({"ids": [first]})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(t.get("/api/v1/notifications?unread=true", &member).await.1["unread"], 0);
}

async fn the_job_runner_survives_a_crash_without_doubling(t: TestApp) {
    without_default_automations(&t).await;
    let (s, a) = t
        .post(
            "/api/v1/automations",
            &t.admin,
            json!({"name": "close old solved",
            "conditions": {"all": [{"field": "status", "operator": "is", "value": "solved"},
                                   {"field": "hours_since_solved", "operator": "greater_than", "value": 1}]},
            "actions": [{"field": "status", "value": "closed"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let mut ids = Vec::new();
    for i in 0..6 {
        let tk = t
            .ticket(
                &t.admin,
                json!({"subject": format!("s{i}"), "status": "solved", "requester": {"email": "c@example.com"}}),
            )
            .await;
        ids.push(id(&tk));
    }
    t.app.ensure_schedules().await.unwrap();
    t.clock.advance(hours(2));
    // A worker claims the pass, closes half the tickets, and dies before finishing it.
    let now = t.app.now();
    let claimed = t
        .app
        .store
        .claim("crashed-node:1", now, now.checked_add(SignedDuration::from_mins(2)).unwrap(), &[], 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    for tid in &ids[..3] {
        t.patch(&format!("/api/v1/tickets/{tid}"), &t.admin, json!({"status": "closed"})).await;
    }
    // While its lease holds, nobody else takes the job.
    assert_eq!(t.app.run_due_jobs().await.unwrap(), 0);
    // A restarted node (a new App over the same database) takes it once the lease runs out.
    t.clock.advance(SignedDuration::from_mins(3));
    let store = gongdan_store::connect(&t.url, gongdan_store::ConnectOptions::default()).await.unwrap();
    let restarted =
        gongdan_core::App::new(store, t.clock.clone(), gongdan_core::Settings::new(crate::support::temp_dir()));
    assert_eq!(restarted.run_due_jobs().await.unwrap(), 1);
    for tid in &ids {
        assert_eq!(get_ticket(&t, *tid).await["status"], "closed", "[{}] nothing lost", t.backend);
        let closings = events(&t, *tid).await.into_iter().filter(|e| e["new_value"] == "closed").count();
        assert_eq!(closings, 1, "nothing doubled");
    }
    // The dead worker's lease is void: it cannot finish or reschedule what it no longer holds.
    let stale = claimed[0].lease();
    assert!(!t.app.store.reschedule(&stale, t.app.now(), t.app.now()).await.unwrap());
    assert!(!t.app.store.complete(&stale).await.unwrap());
    let jobs = t.app.store.list_jobs(Some("automations")).await.unwrap();
    assert_eq!(jobs.len(), 1, "still exactly one recurring job");
    assert!(jobs[0].run_at > t.app.now());
    // The ledger also keeps a second pass over the same window from firing again.
    let again = restarted.run_automations().await.unwrap();
    assert_eq!(again.fired, 0);
}

/// What the receiver saw: each delivery's headers and body.
type Deliveries = Arc<Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>;

/// A webhook receiver: records each delivery, fails the first one.
async fn receiver() -> (String, Deliveries) {
    let seen: Deliveries = Arc::default();
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let seen = s2.clone();
            async move {
                let mut list = seen.lock().unwrap();
                list.push((headers, body.to_vec()));
                if list.len() == 1 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{addr}/hook"), seen)
}

async fn webhooks_are_signed_and_retried(t: TestApp) {
    let (url, seen) = receiver().await;
    let (s, hook) = t
        .post("/api/v1/webhooks", &t.admin, json!({"name": "CRM", "url": url, "secret": "a-secret-of-sixteen+"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let (s, p) = t.post("/api/v1/webhooks", &t.admin, json!({"name": "bad", "url": "ftp://x"})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("url")));
    // Inward addresses in any spelling are refused unless allowed (here only 127.0.0.1 is).
    for bad in [
        "http://127.0.0.2/",
        "http://2130706434/",
        "http://0x7f.2/",
        "http://[::1]/",
        "http://0.0.0.0:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::ffff:10.0.0.1]/",
        "https://crm.example.com@127.0.0.1/",
    ] {
        let (s, p) = t.post("/api/v1/webhooks", &t.admin, json!({"name": "in", "url": bad})).await;
        assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("url")), "{bad}: {p}");
    }
    trigger(
        &t,
        json!({"name": "tell CRM", "conditions": {"all": [{"field": "priority", "operator": "is", "value": "urgent"}]},
                       "actions": [{"field": "webhook", "value": {"webhook_id": id(&hook)}}]}),
    )
    .await;
    let tk = t
        .ticket(&t.admin, json!({"subject": "宕机", "priority": "urgent", "requester": {"email": "c@example.com"}}))
        .await;
    assert!(events(&t, id(&tk)).await.iter().any(|e| e["kind"] == "webhook_queued" && e["rule"] == "tell CRM"));
    // First delivery: the endpoint fails; the job stays, due again after a backoff.
    assert_eq!(t.app.run_due_jobs().await.unwrap(), 1);
    assert_eq!(seen.lock().unwrap().len(), 1);
    let (_, jobs) = t.get("/api/v1/jobs?kind=webhook", &t.admin).await;
    assert_eq!(jobs["items"][0]["attempts"], 1);
    assert!(jobs["items"][0]["last_error"].as_str().unwrap().contains("500"));
    assert_eq!(t.app.run_due_jobs().await.unwrap(), 0, "not before the backoff");
    t.clock.advance(SignedDuration::from_secs(31));
    assert_eq!(t.app.run_due_jobs().await.unwrap(), 1);
    let list = seen.lock().unwrap().clone();
    assert_eq!(list.len(), 2);
    let (_, jobs) = t.get("/api/v1/jobs?kind=webhook", &t.admin).await;
    assert_eq!(jobs["items"].as_array().unwrap().len(), 0, "delivered, done");
    // The delivery is signed: HMAC-SHA256 over "<timestamp>.<body>" with the webhook's secret.
    let (headers, body) = &list[1];
    let stamp: i64 = headers["x-gongdan-timestamp"].to_str().unwrap().parse().unwrap();
    let expected = gongdan_core::notifications::delivery::webhook_signature("a-secret-of-sixteen+", stamp, body);
    assert_eq!(headers["x-gongdan-signature"].to_str().unwrap(), expected);
    assert_eq!(headers["x-gongdan-delivery"], list[0].0["x-gongdan-delivery"], "a retry is the same delivery");
    let payload: Value = serde_json::from_slice(body).unwrap();
    assert_eq!((payload["event"].as_str(), payload["ticket"]["id"].clone()), (Some("ticket.created"), json!(id(&tk))));
    assert_eq!(payload["attempt"], 2);
    // A webhook a rule calls cannot be deleted from under it.
    let (s, _) = t.delete(&format!("/api/v1/webhooks/{}", id(&hook)), &t.admin).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // A node whose configuration does not allow the address refuses at call time, and its
    // error says only that (not what answers there).
    let (url, seen) = receiver().await;
    let (s, local) = t
        .post("/api/v1/webhooks", &t.admin, json!({"name": "local", "url": url.replace("127.0.0.1", "localhost")}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{local}");
    trigger(
        &t,
        json!({"name": "tell local", "conditions": {"all": [{"field": "priority", "operator": "is", "value": "high"}]},
               "actions": [{"field": "webhook", "value": {"webhook_id": id(&local)}}]}),
    )
    .await;
    t.ticket(&t.admin, json!({"subject": "慢", "priority": "high", "requester": {"email": "c@example.com"}})).await;
    let strict = gongdan_core::App::new(
        t.app.store.clone(),
        t.clock.clone(),
        gongdan_core::Settings::new(crate::support::temp_dir()),
    );
    assert_eq!(strict.run_due_jobs().await.unwrap(), 1);
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the inward address");
    let (_, jobs) = t.get("/api/v1/jobs?kind=webhook", &t.admin).await;
    assert_eq!(jobs["items"][0]["last_error"], gongdan_core::egress::NOT_ALLOWED, "{jobs}");
}

async fn escalation_and_transfer_keep_their_reason(t: TestApp) {
    let l1 = t.group("一线", 1).await;
    let (_, l2) =
        t.post("/api/v1/groups", &t.admin, json!({"name": "二线", "tier": 2, "assignment": "round_robin"})).await;
    let l3 = t.group("三线", 3).await;
    let (agent, agent_token) = t.user("agent", "a1@desk.example", json!({"group_ids": [l1.0]})).await;
    let (expert, _) = t.user("agent", "e@desk.example", json!({"group_ids": [id(&l2)]})).await;
    let tk = t.ticket(&t.admin, json!({"subject": "疑难", "group_id": l1.0, "assignee_id": agent.0, "requester": {"email": "c@example.com"}})).await;
    let path = format!("/api/v1/tickets/{}/escalate", id(&tk));
    let (s, p) = t.post(&path, &agent_token, json!({"reason": " "})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));
    let (s, up) = t.post(&path, &agent_token, json!({"reason": "需要二线专家"})).await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(up["group_id"], id(&l2));
    assert_eq!(up["assignee_id"], expert.0, "the L2 group's round-robin hands it on");
    let ev = events(&t, id(&tk)).await;
    let esc = ev.iter().find(|e| e["kind"] == "escalated").expect("escalated");
    assert_eq!((esc["new_value"].as_str(), esc["actor_id"].clone()), (Some("需要二线专家"), json!(agent.0)));
    // Not sideways or down, neither by hand nor as a group's configured target.
    let (s, _) = t.post(&path, &t.admin, json!({"reason": "x", "group_id": l1.0})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, p) = t.patch(&format!("/api/v1/groups/{}", id(&l2)), &t.admin, json!({"escalation_group_id": l1.0})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("escalation_group_id")), "{p}");
    let (s, up) = t
        .post(
            &format!("/api/v1/tickets/{}/transfer", id(&tk)),
            &t.admin,
            json!({"reason": "交给研发", "group_id": l3.0}),
        )
        .await;
    assert_eq!((s, up["group_id"].clone(), up["assignee_id"].clone()), (StatusCode::OK, json!(l3.0), Value::Null));
    assert!(events(&t, id(&tk)).await.iter().any(|e| e["kind"] == "transferred" && e["new_value"] == "交给研发"));
    // Triggers can escalate too.
    trigger(&t, json!({"name": "urgent up", "conditions": {"all": [{"field": "priority", "operator": "changed_to", "value": "urgent"}]},
                       "actions": [{"field": "escalate", "value": "紧急：自动升级"}]})).await;
    let t2 = t
        .ticket(&t.admin, json!({"subject": "慢慢来", "group_id": l1.0, "requester": {"email": "c@example.com"}}))
        .await;
    let (_, up) = t.patch(&format!("/api/v1/tickets/{}", id(&t2)), &t.admin, json!({"priority": "urgent"})).await;
    assert_eq!(up["group_id"], id(&l2));
}

async fn macros_preview_then_apply(t: TestApp) {
    let (agent, agent_token) = t.user("agent", "a@desk.example", json!({"name": "王芳"})).await;
    let tk = t
        .ticket(&t.admin, json!({"subject": "密码重置", "requester": {"email": "li@example.com", "name": "李雷"}}))
        .await;
    let (s, m) = t
        .post(
            "/api/v1/macros",
            &agent_token,
            json!({"name": "已回复待确认",
            "actions": [{"field": "status", "value": "pending"}, {"field": "assignee_id", "value": "me"}],
            "reply_body": "{{requester.name}}您好，工单 #{{ticket.number}} 已处理，请确认。— {{current_user.name}}"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["shared"], false);
    let (s, p) = t.post("/api/v1/macros", &agent_token, json!({"name": "x", "shared": true, "reply_body": "hi"})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("shared")), "agents share no macros");
    let (s, p) = t.post("/api/v1/macros", &agent_token, json!({"name": "x", "reply_body": "{{ticket.secret}}"})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_placeholder")));
    let path = format!("/api/v1/tickets/{}/macros/{}", id(&tk), id(&m));
    let (s, pv) = t.get(&format!("{path}/preview"), &agent_token).await;
    assert_eq!(s, StatusCode::OK, "{pv}");
    assert_eq!(pv["reply"], format!("李雷您好，工单 #{} 已处理，请确认。— 王芳", id(&tk)));
    let fields: Vec<&str> = pv["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["status", "assignee_id"]);
    assert_eq!(get_ticket(&t, id(&tk)).await["version"], 1, "a preview changes nothing");
    let (s, p) = t.post(&format!("{path}/apply"), &agent_token, json!({"version": 99})).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("version_conflict")));
    let (s, up) = t.post(&format!("{path}/apply"), &agent_token, Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(
        (up["status"].as_str(), up["assignee_id"].clone(), up["version"].clone()),
        (Some("pending"), json!(agent.0), json!(2))
    );
    let (_, c) = t.get(&format!("/api/v1/tickets/{}/comments", id(&tk)), &t.admin).await;
    let last = c["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["public"].clone(), last["author_id"].clone()), (json!(true), json!(agent.0)));
    // Someone else's personal macro is not theirs to use.
    let (_, other) = t.user("agent", "b@desk.example", json!({})).await;
    let (s, _) = t.get(&format!("{path}/preview"), &other).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A supervisor finds and may change it, but does not apply it.
    let (_, sup) = t.user("supervisor", "s@desk.example", json!({})).await;
    let (s, e) = t.patch(&format!("/api/v1/macros/{}", id(&m)), &sup, json!({"name": "已处理（改）"})).await;
    assert_eq!((s, e["name"].as_str()), (StatusCode::OK, Some("已处理（改）")), "{e}");
    let (_, listed) = t.get("/api/v1/macros", &sup).await;
    assert!(listed["items"].as_array().unwrap().iter().any(|x| x["id"] == m["id"]), "{listed}");
    let (s, _) = t.get(&format!("{path}/preview"), &sup).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "someone's personal macro is not in a supervisor's menu");
}

async fn views_are_saved_lists_with_cheap_counts(t: TestApp) {
    let g = t.group("一线", 1).await;
    let (agent, agent_token) = t.user("agent", "a@desk.example", json!({"group_ids": [g.0]})).await;
    let (_, views) = t.get("/api/v1/views", &agent_token).await;
    let keys: Vec<&str> = views["items"].as_array().unwrap().iter().filter_map(|v| v["key"].as_str()).collect();
    assert_eq!(keys, vec!["mine", "unassigned", "open", "pending", "on_hold", "solved"], "the built-in views");
    for i in 0..3 {
        t.ticket(&t.admin, json!({"subject": format!("u{i}"), "group_id": g.0, "priority": "high", "tags": ["vip"], "requester": {"email": "c@example.com"}})).await;
    }
    t.ticket(
        &t.admin,
        json!({"subject": "mine", "assignee_id": agent.0, "status": "open", "requester": {"email": "c@example.com"}}),
    )
    .await;
    let (s, v) = t
        .post(
            "/api/v1/views",
            &agent_token,
            json!({"name": "我的 VIP", "filters": {"tag": "VIP", "group_id": "mine", "status": ["new", "open"]},
            "columns": ["subject", "priority", "updated"], "sort": "-priority"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["scope"], "personal");
    let (_, got) = t.get(&format!("/api/v1/views/{}", id(&v)), &agent_token).await;
    assert_eq!(got["count"], 3, "the tag is kept as tickets keep theirs: {got}");
    assert_eq!(got["filters"]["tag"], "vip");
    assert_eq!(
        (got["columns"].clone(), got["sort"].clone()),
        (json!(["subject", "priority", "updated"]), json!("-priority"))
    );
    let (_, mine) = t.get("/api/v1/views/mine", &agent_token).await;
    assert_eq!(mine["count"], 1);
    let (_, unassigned) = t.get("/api/v1/views/unassigned", &agent_token).await;
    assert_eq!(unassigned["count"], 3);
    // Bad filters are named; shared views are for supervisors; others' personal views are private.
    let (s, p) = t.post("/api/v1/views", &agent_token, json!({"name": "x", "filters": {"status": ["nope"]}})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("filters.status[0]")));
    let (s, p) = t.post("/api/v1/views", &agent_token, json!({"name": "x", "scope": "shared"})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("scope")));
    let (_, other) = t.user("agent", "b@desk.example", json!({})).await;
    let (s, _) = t.get(&format!("/api/v1/views/{}", id(&v)), &other).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A supervisor may change anyone's view, and a PATCH is checked as a POST is.
    let (_, sup) = t.user("supervisor", "s@desk.example", json!({})).await;
    let (s, e) = t.patch(&format!("/api/v1/views/{}", id(&v)), &sup, json!({"name": "VIP（改）"})).await;
    assert_eq!((s, e["name"].as_str()), (StatusCode::OK, Some("VIP（改）")), "{e}");
    for body in [json!({"scope": "group", "group_id": 999_999}), json!({"group_id": 999_999})] {
        let (s, e) = t.patch(&format!("/api/v1/views/{}", id(&v)), &sup, body.clone()).await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("group_id")), "{body}: {e}");
        let mut create = body.clone();
        create["name"] = json!("g");
        let (s, e) = t.post("/api/v1/views", &sup, create).await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("group_id")), "POST {body}: {e}");
    }
    // A group view moves to another group; a view made personal keeps no group, whatever the
    // form's group field still says.
    let g2 = t.group("二线", 2).await;
    let path = format!("/api/v1/views/{}", id(&v));
    let (s, e) = t.patch(&path, &sup, json!({"scope": "group", "group_id": g.0})).await;
    assert_eq!((s, e["group_id"].as_i64()), (StatusCode::OK, Some(g.0)), "{e}");
    let (_, e) = t.patch(&path, &sup, json!({"group_id": g2.0})).await;
    assert_eq!((e["scope"].as_str(), e["group_id"].as_i64()), (Some("group"), Some(g2.0)), "{e}");
    let (s, e) = t.patch(&path, &sup, json!({"scope": "personal", "group_id": g2.0})).await;
    assert_eq!((s, e["scope"].as_str(), e["group_id"].clone()), (StatusCode::OK, Some("personal"), Value::Null), "{e}");
    let (s, _) = t.delete("/api/v1/views/1", &t.admin).await;
    assert_eq!(s, StatusCode::CONFLICT, "built-in views are switched off, not deleted");
}

on_both!(
    triggers_route_tickets_and_the_timeline_says_why,
    bad_rules_are_refused_naming_the_row,
    round_robin_least_loaded_and_skills,
    concurrent_creates_never_exceed_capacity,
    two_nodes_share_fair_turns_and_capacity,
    automations_close_remind_and_solve_on_the_clock,
    automation_dry_run_and_unassigned_alert,
    the_job_runner_survives_a_crash_without_doubling,
    webhooks_are_signed_and_retried,
    escalation_and_transfer_keep_their_reason,
    macros_preview_then_apply,
    views_are_saved_lists_with_cheap_counts,
);
