//! The email channel through `POST /api/v1/mail/inbound`, over the corpus of hard messages in
//! `tests/mail/` (charsets, inline images, attached mails, TNEF, broken headers, HTML with
//! script, an auto-reply, a bounce, a double delivery, a changed subject, a CC's reply, a
//! stranger naming a ticket, an agent's note, a reply after closing, a loop): each one's
//! ticket, requester, text and files.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both;
use crate::support::TestApp;

fn corpus(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn inbound(t: &TestApp, raw: Vec<u8>) -> Value {
    let res = t
        .req(Method::POST, "/api/v1/mail/inbound", &t.admin)
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "[{}] {body}", t.backend);
    body
}

async fn take(t: &TestApp, name: &str, outcome: &str) -> Value {
    let out = inbound(t, corpus(name)).await;
    assert_eq!(out["outcome"], outcome, "[{}] {name}: {out}", t.backend);
    out
}

async fn take_raw(t: &TestApp, raw: Vec<u8>, outcome: &str) -> Value {
    let out = inbound(t, raw).await;
    assert_eq!(out["outcome"], outcome, "[{}] {out}", t.backend);
    out
}

async fn comments(t: &TestApp, ticket: &Value) -> Vec<Value> {
    let (s, c) = t.get(&format!("/api/v1/tickets/{ticket}/comments"), &t.admin).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    c["items"].as_array().unwrap().clone()
}

async fn ticket(t: &TestApp, id: &Value) -> Value {
    let (s, v) = t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn email_of(t: &TestApp, user: &Value) -> (String, String) {
    let (_, u) = t.get(&format!("/api/v1/users/{user}"), &t.admin).await;
    (u["email"].as_str().unwrap_or_default().to_owned(), u["name"].as_str().unwrap_or_default().to_owned())
}

async fn the_corpus_lands_where_it_belongs(t: TestApp) {
    let group = t.group("售后", 1).await;
    let (s, mb) =
        t.post("/api/v1/mailboxes", &t.admin, json!({"address": "Support@Acme.test", "group_id": group.0})).await;
    assert_eq!(s, StatusCode::CREATED, "{mb}");
    assert_eq!((mb["address"].as_str(), mb["name"].as_str()), (Some("support@acme.test"), Some("support")));
    let (agent, _) = t.user("agent", "wang.fang@desk.example.com", json!({"group_ids": [group.0]})).await;

    // 01: GBK, a new ticket for the group, the sender its requester, the other recipient a CC.
    let first = take(&t, "01-gbk-new.eml", "created").await;
    let id = first["ticket_id"].clone();
    let tk = ticket(&t, &id).await;
    assert_eq!(tk["subject"], "打印机无法连接网络");
    assert_eq!((tk["channel"].as_str(), tk["group_id"].as_i64()), (Some("email"), Some(group.0)));
    assert_eq!(email_of(&t, &tk["requester_id"]).await, ("zhang.san@kehu.example.cn".into(), "张三".into()));
    let ccs = tk["cc_ids"].as_array().unwrap();
    assert_eq!(ccs.len(), 1);
    assert_eq!(email_of(&t, &ccs[0]).await.0, "li.si@kehu.example.cn");
    let c = comments(&t, &id).await;
    assert!(c[0]["body"].as_str().unwrap().contains("订单号 A-2026001"), "{}", c[0]);
    assert_eq!(c[0]["via"], "email");
    assert!(first["reason"].as_str().unwrap().contains("received at support@acme.test"), "{first}");

    // Each charset reads right.
    for (name, subject, text) in [
        ("02-big5.eml", "發票問題", "請問發票何時寄出"),
        ("03-iso-2022-jp.eml", "注文について", "注文の件でお問い合わせです"),
        ("04-cyrillic.eml", "Заказ", "Здравствуйте, заказ не пришёл"),
        ("05-html-only.eml", "Refund please", "Café order #77 arrived broken"),
    ] {
        let out = take(&t, name, "created").await;
        let tk = ticket(&t, &out["ticket_id"]).await;
        assert_eq!(tk["subject"], subject, "[{}] {name}", t.backend);
        let c = comments(&t, &out["ticket_id"]).await;
        assert!(c[0]["body"].as_str().unwrap().contains(text), "[{}] {name}: {}", t.backend, c[0]);
    }
    // HTML is kept without script, handlers or remote loads.
    let html_only = inbound(&t, corpus("05-html-only.eml")).await;
    assert_eq!(html_only["outcome"], "ignored", "a second delivery is one ticket");
    let c = comments(&t, &html_only["ticket_id"]).await;
    let html = c[0]["html_body"].as_str().unwrap();
    assert!(html.contains("<b>#77</b>") && !html.contains("script") && !html.contains("onclick"), "{html}");
    // The remote image is held back: its address kept, nothing loading it until an agent asks.
    assert!(html.contains(r#"data-remote-src="https://tracker.example/p.gif""#), "{html}");
    assert!(!html.contains(r#" src="https://tracker"#), "remote images are not loaded: {html}");
    let web = crate::support::Web::new(&t);
    web.login("admin@test.example", "admin-password").await;
    let page = web.get(&format!("/agent/tickets/{}", html_only["ticket_id"])).await;
    assert!(page.html.contains("data-load-remote"), "the timeline offers to show them");
    let csp = page.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(csp.contains("img-src 'self' data: https: http:"), "{csp}");

    // 06: an inline image (shown in place) and an RFC 2231 Chinese file name.
    let files = take(&t, "06-inline-and-files.eml", "created").await;
    let c = comments(&t, &files["ticket_id"]).await;
    let names: Vec<&str> =
        c[0]["attachments"].as_array().unwrap().iter().map(|a| a["filename"].as_str().unwrap()).collect();
    assert_eq!(names, ["shot.png", "发票.pdf"]);
    let shot = c[0]["attachments"][0]["id"].as_i64().unwrap();
    assert!(c[0]["html_body"].as_str().unwrap().contains(&format!("/api/v1/attachments/{shot}")), "{}", c[0]);
    assert_eq!(c[0]["body"].as_str().unwrap().trim(), "见截图。");

    // 07: an attached mail and a winmail.dat are kept as files.
    let fwd = take(&t, "07-forward-and-tnef.eml", "created").await;
    let c = comments(&t, &fwd["ticket_id"]).await;
    let kinds: Vec<(String, String)> = c[0]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["filename"].as_str().unwrap().to_owned(), a["content_type"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.iter().any(|(_, ct)| ct == "message/rfc822"), "{kinds:?}");
    assert!(kinds.iter().any(|(n, _)| n == "winmail.dat"), "{kinds:?}");

    // 08: no sender: quarantined whole, listed, downloadable as it came.
    let held = take(&t, "08-no-sender.eml", "quarantined").await;
    let qid = held["quarantine_id"].as_i64().unwrap();
    let (_, list) = t.get("/api/v1/mail/quarantine", &t.admin).await;
    assert_eq!(list["items"][0]["id"], qid);
    assert!(list["items"][0]["reason"].as_str().unwrap().contains("no sender"), "{list}");
    let raw = t.req(Method::GET, &format!("/api/v1/mail/quarantine/{qid}"), &t.admin).send().await.unwrap();
    assert_eq!(raw.bytes().await.unwrap().to_vec(), corpus("08-no-sender.eml"));

    // 09: the requester's out-of-office joins the ticket it answers, marked automatic.
    let ooo = take(&t, "09-auto-reply.eml", "appended").await;
    assert_eq!(ooo["ticket_id"], id);
    assert!(ooo["reason"].as_str().unwrap().contains("automatic mail"), "{ooo}");
    // 10: a bounce makes nothing.
    let dsn = take(&t, "10-bounce.eml", "ignored").await;
    assert!(dsn["ticket_id"].is_null() && dsn["reason"].as_str().unwrap().contains("delivery status"), "{dsn}");
    // 11: a new subject, but References tie it to the ticket.
    assert_eq!(take(&t, "11-reply-changed-subject.eml", "appended").await["ticket_id"], id);
    // 12: the CC's reply is the CC's comment.
    let cc = take(&t, "12-cc-reply.eml", "appended").await;
    assert_eq!(cc["ticket_id"], id);
    let c = comments(&t, &id).await;
    let last = c.last().unwrap();
    assert_eq!(email_of(&t, &last["author_id"]).await.0, "li.si@kehu.example.cn");

    // 13: a stranger naming the ticket gets a ticket of their own, linked to it.
    let token = |name: &str| String::from_utf8(corpus(name)).unwrap().replace("[#TICKET]", &format!("[#{id}]"));
    let nosy = inbound(&t, token("13-stranger-token.eml").into_bytes()).await;
    assert_eq!(nosy["outcome"], "created", "{nosy}");
    assert_ne!(nosy["ticket_id"], id);
    let (_, links) = t.get(&format!("/api/v1/tickets/{}/links", nosy["ticket_id"]), &t.admin).await;
    assert!(
        links["items"].as_array().unwrap().iter().any(|l| l["kind"] == "related" && l["target_id"] == id),
        "{links}"
    );
    assert_eq!(comments(&t, &id).await.len(), c.len(), "nothing landed on the ticket");

    // 14: an agent's mail starting with the note marker is an internal note by that agent.
    let note = inbound(&t, token("14-agent-note.eml").into_bytes()).await;
    assert_eq!((note["outcome"].as_str(), &note["ticket_id"]), (Some("appended"), &id), "{note}");
    let c = comments(&t, &id).await;
    let last = c.last().unwrap();
    assert_eq!((last["public"].as_bool(), last["author_id"].as_i64()), (Some(false), Some(agent.0)));
    assert_eq!(last["body"], "Checked the logs: firmware 2.1 is affected.");

    // 15: after the ticket is closed, a reply opens a linked follow-up.
    t.patch(&format!("/api/v1/tickets/{id}"), &t.admin, json!({"status": "solved"})).await;
    let (s, closed) = t.patch(&format!("/api/v1/tickets/{id}"), &t.admin, json!({"status": "closed"})).await;
    assert_eq!((s, closed["status"].as_str()), (StatusCode::OK, Some("closed")), "{closed}");
    let again = take(&t, "15-after-close.eml", "created").await;
    assert_ne!(again["ticket_id"], id);
    assert!(again["reason"].as_str().unwrap().contains("follow-up"), "{again}");
    let (_, links) = t.get(&format!("/api/v1/tickets/{}/links", again["ticket_id"]), &t.admin).await;
    assert!(links["items"].as_array().unwrap().iter().any(|l| l["kind"] == "follow_up" && l["target_id"] == id));

    // 16: mail from the desk's own address is a loop.
    assert!(take(&t, "16-loop.eml", "ignored").await["reason"].as_str().unwrap().contains("loop"));
    // 01 again (a re-fetch): the same ticket, no second comment.
    let twice = take(&t, "01-gbk-new.eml", "ignored").await;
    assert_eq!(twice["ticket_id"], id);
}

/// The same new message handed in four times at once is one ticket with one comment.
async fn a_message_taken_in_at_once_four_times_is_one_ticket(t: TestApp) {
    let t = std::sync::Arc::new(t);
    let raw = corpus("02-big5.eml");
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let (t, raw) = (t.clone(), raw.clone());
            tokio::spawn(async move { inbound(&t, raw).await })
        })
        .collect();
    let mut outs = Vec::new();
    for r in runs {
        outs.push(r.await.unwrap());
    }
    let created: Vec<&Value> = outs.iter().filter(|o| o["outcome"] == "created").collect();
    assert_eq!(created.len(), 1, "[{}] {outs:?}", t.backend);
    assert!(outs.iter().all(|o| o["ticket_id"] == created[0]["ticket_id"]), "{outs:?}");
    let (_, list) = t.get("/api/v1/tickets?limit=10", &t.admin).await;
    assert_eq!(list["total"], 1);
    assert_eq!(comments(&t, &created[0]["ticket_id"]).await.len(), 1);
}

/// Mailboxes: an address once, a clear problem for a bad one; agents may not hand mail in.
async fn mailboxes_and_who_may_hand_mail_in(t: TestApp) {
    let (s, _) = t.post("/api/v1/mailboxes", &t.admin, json!({"address": "help@acme.test", "name": "Acme 客服"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, dup) = t.post("/api/v1/mailboxes", &t.admin, json!({"address": "HELP@acme.test"})).await;
    assert_eq!((s, dup["field"].as_str()), (StatusCode::CONFLICT, Some("address")), "{dup}");
    let (s, bad) = t.post("/api/v1/mailboxes", &t.admin, json!({"address": "not an address"})).await;
    assert_eq!((s, bad["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("address")), "{bad}");
    let (s, none) = t.post("/api/v1/mailboxes", &t.admin, json!({"name": "x"})).await;
    assert_eq!((s, none["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("address")), "{none}");
    let (s, g) = t.post("/api/v1/mailboxes", &t.admin, json!({"address": "a@acme.test", "group_id": 999})).await;
    assert_eq!((s, g["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("group_id")), "{g}");
    let (_, agent) = t.user("agent", "ag@desk.example", json!({})).await;
    let res = t
        .req(Method::POST, "/api/v1/mail/inbound", &agent)
        .header("content-type", "message/rfc822")
        .body(corpus("02-big5.eml"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = t
        .req(Method::POST, "/api/v1/mail/inbound", &t.admin)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Not a message at all: quarantined, and reprocessing it keeps it there under a new entry.
    let junk = inbound(&t, b"\x00\x01 not mail".to_vec()).await;
    assert_eq!(junk["outcome"], "quarantined", "{junk}");
    let (s, again) =
        t.post(&format!("/api/v1/mail/quarantine/{}/reprocess", junk["quarantine_id"]), &t.admin, Value::Null).await;
    assert_eq!((s, again["outcome"].as_str()), (StatusCode::OK, Some("quarantined")), "{again}");
    let (s, _) = t.delete(&format!("/api/v1/mail/quarantine/{}", again["quarantine_id"]), &t.admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = t.get("/api/v1/mail/quarantine", &t.admin).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

/// Hundreds of malformed messages through the endpoint: each one is a ticket, a comment,
/// ignored or quarantined — never a 5xx, never lost.
async fn malformed_mail_is_taken_in_or_quarantined(t: TestApp) {
    use gongdan_testkit::mail::{Rng, corpus, mutate};
    t.post("/api/v1/mailboxes", &t.admin, json!({"address": "support@acme.test"})).await;
    let corpus = corpus();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for case in 0..300 {
        let m = mutate(&corpus[case % corpus.len()], &mut rng);
        let out = inbound(&t, m).await;
        let outcome = out["outcome"].as_str().unwrap_or_default().to_owned();
        assert!(["created", "appended", "ignored", "quarantined"].contains(&outcome.as_str()), "case {case}: {out}");
        *seen.entry(outcome).or_default() += 1;
    }
    let (_, held) = t.get("/api/v1/mail/quarantine?limit=500", &t.admin).await;
    assert_eq!(held["items"].as_array().unwrap().len(), seen.get("quarantined").copied().unwrap_or(0), "{seen:?}");
    assert!(seen.get("created").copied().unwrap_or(0) > 50, "most malformed mail is still read: {seen:?}");
}

/// The console: a mailbox made through its form (a bad address kept with its error), and the
/// quarantine listing a held message that can be taken in again or discarded.
async fn the_console_sets_up_mailboxes_and_clears_the_quarantine(t: TestApp) {
    use crate::support::{Web, text_of};
    let web = Web::new(&t);
    web.login("admin@test.example", "admin-password").await;
    let page = web.get("/admin/mailboxes/new").await;
    assert_eq!(page.status, StatusCode::OK);
    let bad = web.post("/admin/mailboxes/new", &[("address", "nope"), ("name", ""), ("active", "true")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains("value=\"nope\""), "what was typed is kept");
    let ok = web
        .post("/admin/mailboxes/new", &[("address", "Help@Acme.test"), ("name", "Acme 客服"), ("active", "true")])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
    let list = text_of(&web.get("/admin/mailboxes").await.html);
    assert!(list.contains("help@acme.test") && list.contains("Acme 客服"), "{list}");
    // IMAP settings through the form: a bad one names its field, and the typed password never
    // comes back in the page; a good one is kept sealed, and saving the form again keeps it.
    let (_, boxes) = t.get("/api/v1/mailboxes", &t.admin).await;
    let mid = boxes["items"][0]["id"].as_i64().unwrap();
    let path = format!("/admin/mailboxes/{mid}");
    let form = |host: &'static str, password: &'static str| {
        vec![
            ("address", "help@acme.test"),
            ("name", "Acme 客服"),
            ("active", "true"),
            ("imap.host", host),
            ("imap.port", "143"),
            ("imap.tls", "none"),
            ("imap.username", "help"),
            ("imap.password", password),
            ("imap.folder", "INBOX"),
            ("imap.after_import", "seen"),
        ]
    };
    web.get(&path).await;
    let bad = web.post(&path, &form("a b", "typed-secret-9")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!bad.html.contains("typed-secret-9"), "a typed password is not sent back");
    assert!(bad.html.contains("aria-invalid=\"true\"") && bad.html.contains("value=\"a b\""), "the host is marked");
    web.get(&path).await;
    let ok = web.post(&path, &form("imap.acme.test", "typed-secret-9")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
    web.get(&path).await;
    let again = web.post(&path, &form("imap.acme.test", "")).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.html);
    let (_, boxes) = t.get("/api/v1/mailboxes", &t.admin).await;
    assert_eq!(boxes["items"][0]["imap"]["password_set"], true, "{boxes}");
    assert!(!web.get(&path).await.html.contains("typed-secret-9"));
    let empty = text_of(&web.get("/admin/quarantine").await.html);
    assert!(empty.contains("没有待处理的邮件") || empty.contains("No mail is waiting"), "{empty}");
    let held = take(&t, "08-no-sender.eml", "quarantined").await;
    let q = web.get("/admin/quarantine").await;
    assert!(text_of(&q.html).contains("没有发件人（From）"), "the reason in the reader's language: {}", q.html);
    let again = web.post(&format!("/admin/quarantine/{}/reprocess", held["quarantine_id"]), &[]).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let (_, list) = t.get("/api/v1/mail/quarantine", &t.admin).await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    assert_ne!(id, held["quarantine_id"].as_i64().unwrap(), "back under a new entry");
    web.get("/admin/quarantine").await;
    let gone = web.post(&format!("/admin/quarantine/{id}/discard"), &[]).await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    let (_, list) = t.get("/api/v1/mail/quarantine", &t.admin).await;
    assert!(list["items"].as_array().unwrap().is_empty());
}

/// A sender past the hourly limit is quarantined, not lost: taken in again by hand, and let
/// through once the hour has passed.
async fn a_mail_storm_is_held_not_lost(t: TestApp) {
    t.post("/api/v1/mailboxes", &t.admin, json!({"address": "support@acme.test"})).await;
    let from = |sender: &str, i: usize| {
        format!(
            "From: {sender}\r\nTo: support@acme.test\r\nSubject: alert {i}\r\nMessage-ID: <storm-{i}@storm.test>\r\n\r\ndisk full\r\n"
        )
        .into_bytes()
    };
    let one = |i| from("robot@storm.test", i);
    for i in 0..30 {
        take_raw(&t, one(i), "created").await;
    }
    let held = take_raw(&t, one(30), "quarantined").await;
    assert!(held["reason"].as_str().unwrap().contains("mail storm"), "{held}");
    let (s, again) =
        t.post(&format!("/api/v1/mail/quarantine/{}/reprocess", held["quarantine_id"]), &t.admin, json!({})).await;
    assert_eq!((s, again["outcome"].as_str()), (StatusCode::OK, Some("created")), "{again}");
    // Another sender is not held up; an hour later the first is let through again.
    take_raw(&t, from("person@kehu.test", 31), "created").await;
    t.clock.advance(jiff::SignedDuration::from_secs(3601));
    take_raw(&t, one(32), "created").await;
}

/// A mailbox fed by a web form takes the customer from Reply-To; another keeps From.
async fn reply_to_names_the_requester_where_the_mailbox_says_so(t: TestApp) {
    let (s, form) =
        t.post("/api/v1/mailboxes", &t.admin, json!({"address": "forms@acme.test", "use_reply_to": true})).await;
    assert_eq!((s, form["use_reply_to"].as_bool()), (StatusCode::CREATED, Some(true)), "{form}");
    t.post("/api/v1/mailboxes", &t.admin, json!({"address": "support@acme.test"})).await;
    let message = |to: &str, id: &str| {
        format!(
            "From: Web form <noreply@forms.example>\r\nReply-To: 钱七 <qian@kehu.test>\r\nTo: {to}\r\n\
             Subject: 网页表单\r\nMessage-ID: <{id}@forms.example>\r\n\r\n留言：电话打不通。\r\n"
        )
        .into_bytes()
    };
    let a = take_raw(&t, message("forms@acme.test", "f1"), "created").await;
    let b = take_raw(&t, message("support@acme.test", "f2"), "created").await;
    assert_eq!(email_of(&t, &ticket(&t, &a["ticket_id"]).await["requester_id"]).await.0, "qian@kehu.test");
    assert_eq!(email_of(&t, &ticket(&t, &b["ticket_id"]).await["requester_id"]).await.0, "noreply@forms.example");
}

/// Mail cannot fill in a form: a mailbox whose category's form has required fields still makes
/// its tickets (the agent completes them), while the API still asks for them.
async fn a_mailbox_category_with_a_required_form_still_takes_mail(t: TestApp) {
    let (s, field) = t
        .post("/api/v1/custom_fields", &t.admin, json!({"key": "order_no", "kind": "text", "label_zh": "订单号"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{field}");
    let (_, form) = t
        .post(
            "/api/v1/forms",
            &t.admin,
            json!({"name": "售后", "fields": [{"field_id": field["id"], "required": true}]}),
        )
        .await;
    let (_, cat) = t.post("/api/v1/categories", &t.admin, json!({"name_zh": "售后", "form_id": form["id"]})).await;
    let (s, mb) = t
        .post("/api/v1/mailboxes", &t.admin, json!({"address": "after-sales@acme.test", "category_id": cat["id"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{mb}");
    let raw = "From: 周杰 <zhou@kehu.test>\r\nTo: after-sales@acme.test\r\nSubject: 退货\r\n\
               Message-ID: <form-1@kehu.test>\r\n\r\n想退货。\r\n";
    let out = take_raw(&t, raw.as_bytes().to_vec(), "created").await;
    assert_eq!(ticket(&t, &out["ticket_id"]).await["category_id"], cat["id"]);
    let (s, e) = t
        .post(
            "/api/v1/tickets",
            &t.admin,
            json!({"subject": "x", "category_id": cat["id"], "requester": {"email": "a@kehu.test"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
}

/// An alias that forwards to a mailbox is the desk's own address too: the servers say where
/// they delivered the message, and that address is no CC (replies would mail the desk).
async fn an_alias_the_desk_is_reached_at_is_not_copied(t: TestApp) {
    t.post("/api/v1/mailboxes", &t.admin, json!({"address": "support@acme.test"})).await;
    let raw = "Delivered-To: support@acme.test\r\nX-Original-To: help@acme.test\r\n\
               From: 周杰 <zhou@kehu.test>\r\nTo: Acme Help <help@acme.test>\r\nCc: 赵敏 <zhao@kehu.test>\r\n\
               Subject: 发票\r\nMessage-ID: <alias-1@kehu.test>\r\n\r\n发票抬头错了。\r\n";
    let out = take_raw(&t, raw.as_bytes().to_vec(), "created").await;
    assert!(out["reason"].as_str().unwrap().contains("received at support@acme.test"), "{out}");
    let tk = ticket(&t, &out["ticket_id"]).await;
    let ccs = tk["cc_ids"].as_array().unwrap();
    assert_eq!(ccs.len(), 1, "{tk}");
    assert_eq!(email_of(&t, &ccs[0]).await.0, "zhao@kehu.test");
}

/// A file past the attachment limit (64 KiB in the tests) does not cost the customer their
/// ticket: the message is taken in with the files that fit, the reasons name the one left out,
/// and the raw message waits in the quarantine with it.
async fn a_file_past_the_limit_is_kept_aside_not_the_message(t: TestApp) {
    use base64::Engine as _;
    t.post("/api/v1/mailboxes", &t.admin, json!({"address": "support@acme.test"})).await;
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![b'z'; n]);
    let raw = format!(
        "From: 孙悦 <sun@kehu.test>\r\nTo: support@acme.test\r\nSubject: 录屏\r\nMessage-ID: <big-1@kehu.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n录屏和日志见附件。\r\n\
         --B\r\nContent-Type: video/mp4; name=\"screen.mp4\"\r\nContent-Disposition: attachment; filename=\"screen.mp4\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --B\r\nContent-Type: text/plain; name=\"log.txt\"\r\nContent-Disposition: attachment; filename=\"log.txt\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--B--\r\n",
        b64(100 * 1024),
        b64(300)
    );
    let out = take_raw(&t, raw.into_bytes(), "created").await;
    assert!(out["reason"].as_str().unwrap().contains("not attached (screen.mp4)"), "{out}");
    let first = comments(&t, &out["ticket_id"]).await.remove(0);
    let files: Vec<_> = first["attachments"].as_array().unwrap().iter().map(|a| a["filename"].clone()).collect();
    assert_eq!(files, [json!("log.txt")], "{first}");
    let (_, held) = t.get("/api/v1/mail/quarantine", &t.admin).await;
    let kept = &held["items"][0];
    assert_eq!(
        kept["reason"],
        format!("taken in on ticket {}; kept here for the files it could not attach", out["ticket_id"])
    );
    let source = t
        .req(reqwest::Method::GET, &format!("/api/v1/mail/quarantine/{}", kept["id"]), &t.admin)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(source.windows(10).any(|w| w == b"screen.mp4"), "the raw source has the file");
    // Taking it in again would make nothing and lose the file: refused, the copy kept.
    let (s, e) = t.post(&format!("/api/v1/mail/quarantine/{}/reprocess", kept["id"]), &t.admin, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (_, held) = t.get("/api/v1/mail/quarantine", &t.admin).await;
    assert_eq!(held["items"][0]["id"], kept["id"]);
    // The console offers download and discard for it, not re-process.
    let web = crate::support::Web::new(&t);
    web.login("admin@test.example", "admin-password").await;
    let page = web.get("/admin/quarantine").await;
    assert!(!page.html.contains(&format!("/admin/quarantine/{}/reprocess", kept["id"])), "no re-process button");
    assert!(page.html.contains(&format!("/api/v1/mail/quarantine/{}", kept["id"])), "the download");
}

/// Someone the customer copies on their answer joins the ticket's CCs (and gets the desk's
/// next reply); those already on it are not added twice.
async fn people_copied_on_an_answer_join_the_ticket(t: TestApp) {
    t.post("/api/v1/mailboxes", &t.admin, json!({"address": "support@acme.test"})).await;
    let first = "From: 周杰 <zhou@kehu.test>\r\nTo: support@acme.test\r\nSubject: 报价\r\n\
                 Message-ID: <cc-1@kehu.test>\r\n\r\n请报价。\r\n";
    let out = take_raw(&t, first.as_bytes().to_vec(), "created").await;
    let answer = "From: 周杰 <zhou@kehu.test>\r\nTo: support@acme.test\r\nCc: 老板 <boss.li@kehu.test>, zhou@kehu.test\r\n\
                  Subject: Re: 报价\r\nIn-Reply-To: <cc-1@kehu.test>\r\nMessage-ID: <cc-2@kehu.test>\r\n\r\n抄送老板。\r\n";
    let back = take_raw(&t, answer.as_bytes().to_vec(), "appended").await;
    assert!(back["reason"].as_str().unwrap().contains("1 other recipient(s) copied"), "{back}");
    let tk = ticket(&t, &out["ticket_id"]).await;
    let ccs = tk["cc_ids"].as_array().unwrap().clone();
    assert_eq!(ccs.len(), 1, "{tk}");
    assert_eq!(email_of(&t, &ccs[0]).await, ("boss.li@kehu.test".to_owned(), "老板".to_owned()));
    // The boss answers too: a CC's mail joins as their comment and adds nobody.
    let again = "From: 老板 <boss.li@kehu.test>\r\nTo: support@acme.test\r\nCc: zhou@kehu.test\r\n\
                 Subject: Re: 报价\r\nIn-Reply-To: <cc-2@kehu.test>\r\nMessage-ID: <cc-3@kehu.test>\r\n\r\n同意。\r\n";
    take_raw(&t, again.as_bytes().to_vec(), "appended").await;
    assert_eq!(ticket(&t, &out["ticket_id"]).await["cc_ids"].as_array().map(Vec::len), Some(1));
    // An agent's mail (a note to a colleague) copies nobody onto the customer's thread.
    t.user("agent", "agent.wu@acme.test", json!({})).await;
    let note = format!(
        "From: agent.wu@acme.test\r\nTo: support@acme.test\r\nCc: vendor@partner.test\r\n\
         Subject: Re: 报价 [#{}]\r\nMessage-ID: <cc-4@acme.test>\r\n\r\n#note 问一下供应商。\r\n",
        out["ticket_id"]
    );
    take_raw(&t, note.into_bytes(), "appended").await;
    assert_eq!(ticket(&t, &out["ticket_id"]).await["cc_ids"].as_array().map(Vec::len), Some(1));
}

on_both!(
    people_copied_on_an_answer_join_the_ticket,
    a_file_past_the_limit_is_kept_aside_not_the_message,
    an_alias_the_desk_is_reached_at_is_not_copied,
    a_mailbox_category_with_a_required_form_still_takes_mail,
    reply_to_names_the_requester_where_the_mailbox_says_so,
    a_mail_storm_is_held_not_lost,
    the_console_sets_up_mailboxes_and_clears_the_quarantine,
    malformed_mail_is_taken_in_or_quarantined,
    the_corpus_lands_where_it_belongs,
    a_message_taken_in_at_once_four_times_is_one_ticket,
    mailboxes_and_who_may_hand_mail_in
);
