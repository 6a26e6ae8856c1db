//! Notification templates over real HTTP: the stock ones, a rule sending one, each person
//! reading it in their own language, a change taking effect at once, a template a rule sends
//! refused deletion, the preview, and the console's form.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{TestApp, Web, text_of};

fn texts(zh: (&str, &str), en: (&str, &str)) -> Value {
    json!({"zh-CN": {"subject": zh.0, "body": zh.1}, "en": {"subject": en.0, "body": en.1}})
}

async fn inbox(t: &TestApp, token: &str) -> Vec<Value> {
    let (s, n) = t.get("/api/v1/notifications", token).await;
    assert_eq!(s, StatusCode::OK, "{n}");
    n["items"].as_array().cloned().unwrap_or_default()
}

async fn templates_send_each_reader_their_language(t: TestApp) {
    // The stock templates, and the stock automations and (switched off) triggers sending them.
    let (_, stock) = t.get("/api/v1/notification_templates", &t.admin).await;
    let stock = stock["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(stock.len(), 5, "{stock:?}");
    assert!(stock[0]["texts"]["en"]["subject"].as_str().unwrap_or_default().contains("{{ticket.number}}"));
    let (_, autos) = t.get("/api/v1/automations", &t.admin).await;
    let reminder = autos["items"].as_array().unwrap().iter().find(|a| a["position"] == 20).cloned().unwrap();
    assert_eq!(reminder["actions"][0]["value"], json!({"to": "requester", "template_id": 2}), "{reminder}");
    let (_, triggers) = t.get("/api/v1/triggers", &t.admin).await;
    let stock_triggers = triggers["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(stock_triggers.len(), 3);
    assert!(stock_triggers.iter().all(|r| r["active"] == false), "off until an admin says so");

    // Bad templates are refused field by field, and nothing is saved.
    let (s, p) = t
        .post(
            "/api/v1/notification_templates",
            &t.admin,
            json!({"name": "x", "texts": {"zh-CN": {"subject": "已收到", "body": "您好"}}}),
        )
        .await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("texts.en")), "{p}");
    let bad = texts(("已收到", "您好"), ("Received", "Hi {{ticket.secret}}"));
    let (s, p) = t.post("/api/v1/notification_templates", &t.admin, json!({"name": "x", "texts": bad})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("texts.en.body")), "{p}");
    let (s, p) = t
        .post(
            "/api/v1/notification_templates",
            &t.admin,
            json!({"name": "x", "texts": texts(("第一行\n第二行", "b"), ("s", "b"))}),
        )
        .await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("texts.zh-CN.subject")), "{p}");
    assert_eq!(t.get("/api/v1/notification_templates", &t.admin).await.1["items"].as_array().unwrap().len(), 5);

    let (s, tpl) = t
        .post(
            "/api/v1/notification_templates",
            &t.admin,
            json!({"name": "受理 · Received", "texts": texts(
                ("工单 #{{ticket.number}} 已受理", "{{requester.name}}，您好：状态 {{ticket.status}}。"),
                ("Ticket #{{ticket.number}} received", "Hello {{requester.name}}, status {{ticket.status}}."))}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tpl}");
    let tid = tpl["id"].as_i64().unwrap();
    let (s, rule) = t
        .post(
            "/api/v1/triggers",
            &t.admin,
            json!({"name": "ack", "conditions": {"all": [{"field": "update", "operator": "is", "value": "created"}]},
                   "actions": [{"field": "notify", "value": {"to": "requester", "template_id": tid}}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rule}");
    // A template that does not exist, or one named together with a text of its own.
    for value in [
        json!({"to": "requester", "template_id": 999}),
        json!({"to": "requester", "template_id": tid, "subject": "s", "body": "b"}),
    ] {
        let (s, p) = t
            .post(
                "/api/v1/triggers",
                &t.admin,
                json!({"name": "bad", "conditions": {}, "actions": [{"field": "notify", "value": value}]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    }

    let (_, zh) = t.user("customer", "li@example.com", json!({"name": "李雷", "language": "zh-CN"})).await;
    let (_, en) = t.user("customer", "ann@example.com", json!({"name": "Ann", "language": "en"})).await;
    let a = t.ticket(&zh, json!({"subject": "打印机坏了", "description": "无法打印"})).await;
    let b = t.ticket(&en, json!({"subject": "Printer broken", "description": "It jams"})).await;
    let (na, nb) = (inbox(&t, &zh).await, inbox(&t, &en).await);
    assert_eq!(na[0]["subject"], format!("工单 #{} 已受理", a["id"]), "{na:?}");
    assert_eq!(na[0]["body"], "李雷，您好：状态 新建。", "{na:?}");
    assert_eq!(nb[0]["subject"], format!("Ticket #{} received", b["id"]), "{nb:?}");
    assert_eq!(nb[0]["body"], "Hello Ann, status New.", "{nb:?}");

    // A change reaches the rule at once.
    let (s, changed) = t
        .patch(
            &format!("/api/v1/notification_templates/{tid}"),
            &t.admin,
            json!({"texts": {"en": {"subject": "Got it: #{{ticket.number}}", "body": "Thanks, {{requester.name}}."}}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(changed["texts"]["zh-CN"]["subject"], "工单 #{{ticket.number}} 已受理", "the other language stays");
    let c = t.ticket(&en, json!({"subject": "Scanner too", "description": "Same"})).await;
    assert_eq!(inbox(&t, &en).await[0]["subject"], format!("Got it: #{}", c["id"]));

    // The preview fills in a ticket (or a sample) without saving.
    let body = json!({"texts": texts(("#{{ticket.number}} {{ticket.subject}}", "{{requester.name}}"),
                                    ("#{{ticket.number}} {{ticket.subject}}", "{{requester.email}}")),
                      "ticket_id": a["id"]});
    let (s, p) = t.post("/api/v1/notification_templates/preview", &t.admin, body).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["texts"]["zh-CN"]["subject"], format!("#{} 打印机坏了", a["id"]));
    assert_eq!(p["texts"]["en"]["body"], "li@example.com");
    let body = json!({"texts": texts(("{{ticket.number}}", "x"), ("{{ticket.number}}", "y"))});
    let (s, p) = t.post("/api/v1/notification_templates/preview", &t.admin, body).await;
    assert_eq!(
        (s, p["ticket_id"].is_null(), p["texts"]["en"]["subject"].as_str()),
        (StatusCode::OK, true, Some("10001"))
    );
    let (s, _) =
        t.post("/api/v1/notification_templates/preview", &zh, json!({"texts": texts(("a", "b"), ("c", "d"))})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Not deleted while a rule sends it, even one switched off.
    let rid = rule["id"].as_i64().unwrap();
    let (s, _) = t.patch(&format!("/api/v1/triggers/{rid}"), &t.admin, json!({"active": false})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, p) = t.delete(&format!("/api/v1/notification_templates/{tid}"), &t.admin).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("in_use")), "{p}");
    assert_eq!(t.delete(&format!("/api/v1/triggers/{rid}"), &t.admin).await.0, StatusCode::NO_CONTENT);
    assert_eq!(t.delete(&format!("/api/v1/notification_templates/{tid}"), &t.admin).await.0, StatusCode::NO_CONTENT);
    assert_eq!(t.get(&format!("/api/v1/notification_templates/{tid}"), &t.admin).await.0, StatusCode::NOT_FOUND);
}

async fn the_console_edits_and_previews_a_template(t: TestApp) {
    let web = Web::new(&t);
    web.login("admin@test.example", "admin-password").await;
    let list = web.get("/admin/templates").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(text_of(&list.html).contains("已解决 · Solved"), "the stock templates are listed");
    web.get("/admin/templates/new").await;
    let typed = [
        ("name", "欢迎 · Welcome"),
        ("texts.zh-CN.subject", "欢迎 {{requester.name}}"),
        ("texts.zh-CN.body", "第一行\n第二行 #{{ticket.number}}"),
        ("texts.en.subject", "Welcome {{requester.name}}"),
        ("texts.en.body", "Line one\nticket #{{ticket.number}}"),
        ("ticket_id", ""),
    ];
    // The preview shows both languages filled in, keeps what was typed and saves nothing.
    let p = web.post("/admin/templates/preview?id=0", &typed).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    let shown = text_of(&p.html);
    assert!(shown.contains("第二行 #10001"), "{shown}");
    assert!(shown.contains("ticket #10001"), "{shown}");
    assert!(p.html.contains("Welcome {{requester.name}}"), "the form keeps the typed text");
    assert_eq!(t.get("/api/v1/notification_templates", &t.admin).await.1["items"].as_array().unwrap().len(), 5);
    // A bad placeholder is shown beside its input, what was typed kept.
    let mut bad = typed;
    bad[4] = ("texts.en.body", "{{ticket.secret}}");
    let p = web.post("/admin/templates/new", &bad).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("Welcome {{requester.name}}") && p.html.contains("aria-invalid"), "{}", p.html);
    let saved = web.post("/admin/templates/new", &typed).await;
    assert_eq!(saved.location.as_deref(), Some("/admin/templates"));
    let (_, all) = t.get("/api/v1/notification_templates", &t.admin).await;
    let made = all["items"].as_array().unwrap().iter().find(|x| x["name"] == "欢迎 · Welcome").cloned().unwrap();
    assert_eq!(made["texts"]["zh-CN"]["body"], "第一行\n第二行 #{{ticket.number}}");
    // The rule form offers it by name.
    let rule = web.get("/admin/triggers/new").await;
    assert!(rule.html.contains(&format!("<option value=\"{}\">欢迎 · Welcome</option>", made["id"])), "{}", rule.html);
}

on_both!(templates_send_each_reader_their_language, the_console_edits_and_previews_a_template);
