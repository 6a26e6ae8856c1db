//! The email channel against real mail servers: replies mailed through aiosmtpd, threaded
//! and recorded; mailboxes fetched from Dovecot over IMAP, marked, and never taken in twice.

use gongdan_testkit::mailservers::{Dovecot, SmtpSink};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::TestApp;

fn mail(from: &str, subject: &str, id: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: Acme <support@acme.test>\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n{extra}\
         Date: Tue, 01 Dec 2026 10:00:00 +0800\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn inbound(t: &TestApp, raw: Vec<u8>) -> Value {
    let res = t
        .req(reqwest::Method::POST, "/api/v1/mail/inbound", &t.admin)
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

/// A header's value in a raw message (unfolded).
fn header(raw: &[u8], name: &str) -> Option<String> {
    let m = mail_parser::MessageParser::default().parse(raw)?;
    m.header_raw(name).map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

async fn ticket_mail(t: &TestApp, ticket: &Value) -> Vec<Value> {
    let (s, v) = t.get(&format!("/api/v1/tickets/{ticket}/mail"), &t.admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().unwrap().clone()
}

/// The desk's mailbox, sending through the SMTP server on `port`.
/// A mailbox sending through the test SMTP server.
pub(crate) async fn smtp_mailbox(t: &TestApp, port: u16) -> Value {
    let (s, mb) = t
        .post(
            "/api/v1/mailboxes",
            &t.admin,
            json!({"address": "support@acme.test", "name": "Acme 客服",
                   "smtp": {"host": "127.0.0.1", "port": port, "tls": "none"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{mb}");
    mb
}

/// A mailbox fetched from the test IMAP server, with what to do after import (`after`).
async fn imap_mailbox(t: &TestApp, imap: &Dovecot, after: Value) -> Value {
    let mut server = json!({"host": "127.0.0.1", "port": imap.port, "tls": "none", "username": "support",
                            "password": imap.password});
    if let (Some(s), Some(a)) = (server.as_object_mut(), after.as_object()) {
        s.extend(a.clone());
    }
    let (s, mb) = t.post("/api/v1/mailboxes", &t.admin, json!({"address": "support@acme.test", "imap": server})).await;
    assert_eq!(s, StatusCode::CREATED, "{mb}");
    mb
}

async fn replies_are_mailed_threaded_and_their_delivery_recorded(t: TestApp) {
    let Some(smtp) = SmtpSink::start().await else { return };
    let mb = smtp_mailbox(&t, smtp.port).await;
    assert_eq!(mb["smtp"]["password_set"], false);
    let first = inbound(&t, mail("李雷 <li.lei@kehu.test>", "发票没收到", "c1@kehu.test", "", "请补开发票。")).await;
    let id = first["ticket_id"].clone();

    // An internal note is never mailed; a public reply is, once.
    let (s, _) =
        t.post(&format!("/api/v1/tickets/{id}/comments"), &t.admin, json!({"body": "先查订单", "public": false})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, reply) = t
        .post(
            &format!("/api/v1/tickets/{id}/comments"),
            &t.admin,
            json!({"body": "已为您补开，请查收。", "public": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{reply}");
    let queued = ticket_mail(&t, &id).await;
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert_eq!((queued[1]["direction"].as_str(), queued[1]["status"].as_str()), (Some("out"), Some("queued")));
    assert_eq!(queued[1]["comment_id"], reply["id"]);
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    let got = smtp.expect(1);
    assert_eq!(got.len(), 1);
    let sent = &got[0];
    let ours = queued[1]["message_id"].as_str().unwrap().to_owned();
    assert_eq!(header(sent, "Message-ID").as_deref(), Some(format!("<{ours}>").as_str()));
    assert_eq!(header(sent, "In-Reply-To").as_deref(), Some("<c1@kehu.test>"));
    assert_eq!(header(sent, "References").as_deref(), Some("<c1@kehu.test>"));
    let parsed = mail_parser::MessageParser::default().parse(sent).unwrap();
    assert_eq!(parsed.subject(), Some(format!("Re: 发票没收到 [#{id}]").as_str()));
    assert_eq!(parsed.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("li.lei@kehu.test"));
    let from = parsed.from().and_then(|a| a.first()).unwrap();
    assert_eq!((from.address(), from.name()), (Some("support@acme.test"), Some("Admin (Acme 客服)")));
    assert!(parsed.body_text(0).unwrap().contains("已为您补开"), "{:?}", parsed.body_text(0));
    assert!(parsed.body_html(0).unwrap().contains("已为您补开"));
    let after = ticket_mail(&t, &id).await;
    assert_eq!(after[1]["status"], "sent", "{after:?}");
    assert!(after[1]["detail"].as_str().unwrap().starts_with("250"), "{after:?}");
    assert_eq!(after[1]["attempts"], 1);

    // The customer answers the mailed reply: its In-Reply-To finds the ticket.
    let answer = mail(
        "李雷 <li.lei@kehu.test>",
        "Re: 收到了",
        "c2@kehu.test",
        &format!("In-Reply-To: <{ours}>\r\n"),
        "谢谢\r\n\r\n在 2026年12月1日 10:00，Acme 客服 写道：\r\n> 已为您补开，请查收。",
    );
    let back = inbound(&t, answer).await;
    assert_eq!((back["outcome"].as_str(), &back["ticket_id"]), (Some("appended"), &id), "{back}");
    // Its quoted history is folded on the timeline and kept in the text.
    let (_, cs) = t.get(&format!("/api/v1/tickets/{id}/comments"), &t.admin).await;
    let last = cs["items"].as_array().unwrap().last().unwrap().clone();
    assert!(last["body"].as_str().unwrap().contains("> 已为您补开"), "{last}");
    let html = last["html_body"].as_str().unwrap();
    assert!(html.starts_with("<p>谢谢</p>") && html.contains("<details><summary>•••</summary>"), "{html}");

    // The server away: the reply waits, says why, and goes out once it is back.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = down.local_addr().unwrap().port();
    drop(down);
    let mbid = mb["id"].as_i64().unwrap();
    let (s, _) = t
        .patch(
            &format!("/api/v1/mailboxes/{mbid}"),
            &t.admin,
            json!({"smtp": {"host": "127.0.0.1", "port": port, "tls": "none"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t
        .post(&format!("/api/v1/tickets/{id}/comments"), &t.admin, json!({"body": "还有别的问题吗？", "public": true}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    t.app.run_due_jobs().await.unwrap();
    let waiting = ticket_mail(&t, &id).await;
    let last = waiting.last().unwrap();
    assert_eq!(last["status"], "retrying", "{waiting:?}");
    assert!(last["detail"].as_str().unwrap().contains(&format!("127.0.0.1:{port}")), "{last}");
    let (s, _) = t
        .patch(
            &format!("/api/v1/mailboxes/{mbid}"),
            &t.admin,
            json!({"smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    t.clock.advance(jiff::SignedDuration::from_secs(31));
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    let got = smtp.expect(2);
    assert_eq!(got.len(), 2, "sent once, after the retry");
    let done = ticket_mail(&t, &id).await;
    assert_eq!(
        (done.last().unwrap()["status"].as_str(), done.last().unwrap()["attempts"].as_i64()),
        (Some("sent"), Some(2))
    );
    // Its references run through the whole thread.
    let refs = header(&got[1], "References").unwrap();
    assert_eq!(refs, format!("<c1@kehu.test> <{ours}> <c2@kehu.test>"));
    assert_eq!(header(&got[1], "In-Reply-To").as_deref(), Some("<c2@kehu.test>"));

    // A bounce of the first reply marks it failed, with the report's why.
    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.kehu.test>\r\nTo: support@acme.test\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-9@mx.kehu.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n\
         --R\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
         --R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.kehu.test\r\n\r\n\
         Final-Recipient: rfc822; li.lei@kehu.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\
         --R\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@acme.test\r\nMessage-ID: <{ours}>\r\n\
         --R--\r\n"
    );
    let out = inbound(&t, dsn.into_bytes()).await;
    assert_eq!(out["outcome"], "ignored", "{out}");
    assert!(out["reason"].as_str().unwrap().contains("its delivery is marked"), "{out}");
    let after = ticket_mail(&t, &id).await;
    let first = after.iter().find(|m| m["message_id"] == ours.as_str()).unwrap();
    assert_eq!(first["status"], "failed", "{first}");
    assert_eq!(first["detail"], "bounced: 5.1.1 smtp; 550 5.1.1 user unknown");

    // Staff only.
    let (_, cust) = t.user("customer", "li.lei2@kehu.test", json!({})).await;
    let (s, _) = t.get(&format!("/api/v1/tickets/{id}/mail"), &cust).await;
    assert!(s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND, "{s}");
}

async fn mailboxes_are_fetched_over_imap_once(t: TestApp) {
    let Some(imap) = Dovecot::start("support", "imap-pw-1").await else { return };
    let mb = imap_mailbox(&t, &imap, json!({"after_import": "move", "move_to": "Done"})).await;
    let id = mb["id"].as_i64().unwrap();
    // The password is in the document, write-only, so generated clients can set it.
    let (_, doc) = t.get("/api/v1/openapi.json", &t.admin).await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Imap"]["properties"]["password"]["writeOnly"], true, "{}", schemas["Imap"]);
    assert_eq!(schemas["Smtp"]["properties"]["password"]["writeOnly"], true, "{}", schemas["Smtp"]);
    // The password is kept sealed and never shown.
    assert_eq!((mb["imap"]["password_set"].as_bool(), mb["imap"].get("password")), (Some(true), None));
    let stored: Vec<_> = t.app.store.list_mailboxes().await.unwrap();
    let sealed = &stored[0].imap.as_ref().unwrap().password;
    assert!(sealed.starts_with("v1:") && !sealed.contains("imap-pw-1"), "{sealed}");
    let (s, checks) = t.post(&format!("/api/v1/mailboxes/{id}/test"), &t.admin, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (checks["items"][0]["server"].as_str(), checks["items"][0]["ok"].as_bool()),
        (Some("imap"), Some(true)),
        "{checks}"
    );

    imap.deliver(&mail("王芳 <wang@kehu.test>", "无法登录", "f1@kehu.test", "", "登录时提示密码错误。"));
    imap.deliver(&mail("赵六 <zhao@kehu.test>", "退款", "f2@kehu.test", "", "申请退款。"));
    let (s, f) = t.post(&format!("/api/v1/mailboxes/{id}/fetch"), &t.admin, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((f["taken"].as_i64(), &f["error"]), (Some(2), &Value::Null), "{f}");
    assert_eq!(imap.folder("INBOX").len(), 0, "moved out of the inbox");
    assert_eq!(imap.folder("Done").len(), 2);
    let (_, list) = t.get("/api/v1/tickets", &t.admin).await;
    let subjects: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|x| x["subject"].as_str().unwrap()).collect();
    assert!(subjects.contains(&"无法登录") && subjects.contains(&"退款"), "{subjects:?}");
    let (_, boxes) = t.get("/api/v1/mailboxes", &t.admin).await;
    assert!(boxes["items"][0]["last_fetch_at"].is_string() && boxes["items"][0]["last_error"].is_null(), "{boxes}");

    // A crash before the move (simulated: the folder's position forgotten, the message back
    // in the inbox) fetches a message again: it is one comment still.
    let (s, mb2) = t
        .patch(
            &format!("/api/v1/mailboxes/{id}"),
            &t.admin,
            json!({"imap": {"host": "127.0.0.1", "port": imap.port, "tls": "none", "username": "support", "after_import": "seen"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "a change without the password keeps it: {mb2}");
    imap.deliver(&mail("王芳 <wang@kehu.test>", "无法登录", "f1@kehu.test", "", "登录时提示密码错误。"));
    let (_, f) = t.post(&format!("/api/v1/mailboxes/{id}/fetch"), &t.admin, json!({})).await;
    assert_eq!((f["taken"].as_i64(), &f["error"]), (Some(0), &Value::Null), "{f}");
    let (_, again) = t.get("/api/v1/tickets", &t.admin).await;
    assert_eq!(again["items"].as_array().unwrap().len(), 2, "no second ticket");
    // Marked seen, left in place, and not fetched again.
    let inbox = imap.folder("INBOX");
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].0.contains('S'), "flags {:?}", inbox[0].0);
    let (_, f) = t.post(&format!("/api/v1/mailboxes/{id}/fetch"), &t.admin, json!({})).await;
    assert_eq!(f["taken"], 0);

    // The job fetches too: a reply by reference lands on its ticket.
    imap.deliver(&mail(
        "王芳 <wang@kehu.test>",
        "Re: 无法登录",
        "f3@kehu.test",
        "In-Reply-To: <f1@kehu.test>\r\n",
        "好了",
    ));
    t.clock.advance(jiff::SignedDuration::from_secs(31));
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    let (_, all) = t.get("/api/v1/tickets", &t.admin).await;
    let tid = all["items"].as_array().unwrap().iter().find(|x| x["subject"] == "无法登录").unwrap()["id"].clone();
    let (_, c) = t.get(&format!("/api/v1/tickets/{tid}/comments"), &t.admin).await;
    assert_eq!(c["items"].as_array().unwrap().len(), 2, "{c}");

    // A wrong password is on the status line and in the answer, and fetching goes on later.
    let (s, _) = t
        .patch(
            &format!("/api/v1/mailboxes/{id}"),
            &t.admin,
            json!({"imap": {"host": "127.0.0.1", "port": imap.port, "tls": "none", "username": "support", "password": "wrong"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, f) = t.post(&format!("/api/v1/mailboxes/{id}/fetch"), &t.admin, json!({})).await;
    assert!(f["error"].as_str().unwrap().contains("refused the login"), "{f}");
    let (_, boxes) = t.get("/api/v1/mailboxes", &t.admin).await;
    assert!(boxes["items"][0]["last_error"].as_str().unwrap().contains("refused the login"), "{boxes}");
    // Settings are checked field by field.
    let (s, e) = t
        .patch(
            &format!("/api/v1/mailboxes/{id}"),
            &t.admin,
            json!({"imap": {"host": "a b", "port": 0, "tls": "none", "username": "x"}}),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("imap.host")), "{e}");
    let (s, e) = t
        .patch(
            &format!("/api/v1/mailboxes/{id}"),
            &t.admin,
            json!({"imap": {"host": "h.test", "port": 993, "tls": "ssl", "username": "x"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
}

/// What the rules notify goes out by mail too, marked automatic and threaded into the ticket.
async fn notifications_go_out_by_mail_too(t: TestApp) {
    let Some(smtp) = SmtpSink::start().await else { return };
    smtp_mailbox(&t, smtp.port).await;
    let (s, r) = t
        .post(
            "/api/v1/triggers",
            &t.admin,
            json!({"name": "已收到", "conditions": {"all": [{"field": "update", "operator": "is", "value": "created"}]},
                   "actions": [{"field": "notify", "value": {"to": "requester", "subject": "我们已收到您的请求",
                                                            "body": "您好，我们已收到您的请求，会尽快处理。"}}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let first = inbound(&t, mail("韩梅梅 <han@kehu.test>", "账号被锁", "n1@kehu.test", "", "无法登录。")).await;
    let id = first["ticket_id"].clone();
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    let got = smtp.expect(1);
    assert_eq!(got.len(), 1);
    let sent = mail_parser::MessageParser::default().parse(&got[0]).unwrap();
    assert_eq!(sent.subject(), Some(format!("我们已收到您的请求 [#{id}]").as_str()));
    assert_eq!(sent.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("han@kehu.test"));
    assert_eq!(header(&got[0], "Auto-Submitted").as_deref(), Some("auto-generated"));
    assert_eq!(header(&got[0], "In-Reply-To").as_deref(), Some("<n1@kehu.test>"));
    assert!(sent.body_text(0).unwrap().contains("会尽快处理"));
    // Answering the notification mail lands on the ticket.
    let ours = sent.message_id().unwrap().to_owned();
    let answer = mail(
        "韩梅梅 <han@kehu.test>",
        "Re: 我们已收到您的请求",
        "n2@kehu.test",
        &format!("In-Reply-To: <{ours}>\r\n"),
        "好的",
    );
    let back = inbound(&t, answer).await;
    assert_eq!((back["outcome"].as_str(), &back["ticket_id"]), (Some("appended"), &id), "{back}");
    // Nothing is mailed twice.
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    assert_eq!(smtp.received().len(), 1);
}

/// With IDLE the fetch runs when mail arrives: the watcher wakes the fetch job at once.
async fn mail_is_fetched_when_it_arrives(t: TestApp) {
    use gongdan_core::Clock as _;
    let Some(imap) = Dovecot::start("support", "imap-pw-1").await else { return };
    let mb = imap_mailbox(&t, &imap, json!({"after_import": "seen"})).await;
    // A first round finds nothing and leaves the next for 30 seconds on (the clock stands still).
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    assert_eq!(t.app.run_due_jobs().await.unwrap(), 0, "nothing due");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let woken = t.app.mail_woken.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    let watcher = t.app.spawn_mail_watch(stopped);
    // Once on connecting (for what came while nobody watched) …
    tokio::time::timeout(std::time::Duration::from_secs(30), woken).await.expect("the watcher connects");
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    let arrived = t.app.mail_woken.notified();
    tokio::pin!(arrived);
    arrived.as_mut().enable();
    imap.deliver(&mail("王芳 <wang@kehu.test>", "打印机卡纸", "idle1@kehu.test", "", "又卡纸了。"));
    // … and when the server says a message is there.
    tokio::time::timeout(std::time::Duration::from_secs(60), arrived).await.expect("IDLE reports the message");
    assert!(t.app.run_due_jobs().await.unwrap() > 0, "the fetch is due at once");
    let (_, list) = t.get("/api/v1/tickets", &t.admin).await;
    assert_eq!(list["items"][0]["subject"], "打印机卡纸", "{list}");
    // One node watches the mailbox at a time: its lease is held, and let go when it stops.
    let lease = format!("mail.watch:{}", mb["id"]);
    let (now, soon) = (t.clock.now(), t.clock.now().checked_add(jiff::SignedDuration::from_secs(1)).unwrap());
    assert!(!t.app.store.take_lease(&lease, "another-node", soon, now).await.unwrap(), "held by the watcher");
    let _ = stop.send(true);
    watcher.await.unwrap();
    assert!(t.app.store.take_lease(&lease, "another-node", soon, now).await.unwrap(), "let go on stopping");
}

/// A notification whose mail cannot go waits its back-off behind the rest; one a worker took
/// and never finished (it died) goes out once the claim runs out.
async fn notifications_wait_for_a_server_that_is_down_and_survive_a_dead_worker(t: TestApp) {
    let Some(smtp) = SmtpSink::start().await else { return };
    // A port nothing listens on: the server is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mb = smtp_mailbox(&t, closed).await;
    let (s, r) = t
        .post(
            "/api/v1/triggers",
            &t.admin,
            json!({"name": "ack", "conditions": {"all": [{"field": "update", "operator": "is", "value": "created"}]},
                   "actions": [{"field": "notify", "value": {"to": "requester", "template_id": 1}}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let requester = json!({"email": "wait@kehu.test", "name": "等待"});
    t.ticket(&t.admin, json!({"subject": "一", "description": "x", "requester": requester})).await;
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    assert_eq!(t.app.run_due_jobs().await.unwrap(), 0, "the retry is not due yet");
    // The server is back; a minute on, the mail goes.
    let (s, _) = t
        .patch(
            &format!("/api/v1/mailboxes/{}", mb["id"]),
            &t.admin,
            json!({"smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    t.clock.advance(jiff::SignedDuration::from_mins(2));
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    let got = smtp.expect(1);
    let sent = mail_parser::MessageParser::default().parse(&got[0]).unwrap();
    assert!(sent.subject().unwrap_or_default().starts_with("我们已收到您的请求"), "{:?}", sent.subject());

    // A worker takes the next one and dies before sending it.
    t.ticket(&t.admin, json!({"subject": "二", "description": "x", "requester": requester})).await;
    let now = t.app.now();
    let waiting = t.app.store.notifications_to_mail(10, now).await.unwrap();
    assert_eq!(waiting.len(), 1);
    let held = t.app.store.claim_notification_mail(waiting[0].id, now, now + jiff::SignedDuration::from_mins(10)).await;
    assert_eq!(held.unwrap(), Some(1));
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    assert_eq!(smtp.received().len(), 1, "held by the dead worker's claim");
    t.clock.advance(jiff::SignedDuration::from_mins(11));
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    assert_eq!(smtp.received().len(), 2, "sent once the claim ran out");
    t.clock.advance(jiff::SignedDuration::from_mins(60));
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    assert_eq!(smtp.received().len(), 2, "and only once");
}

/// A reply carries what fits (files past `mail.max_send_mb` in all — 100 KiB here — are
/// named, with the link to the request), and a bounce for one of its recipients marks it partly failed, not failed.
async fn a_reply_names_the_files_it_cannot_carry_and_a_bounce_counts_per_recipient(t: TestApp) {
    let Some(smtp) = SmtpSink::start().await else { return };
    smtp_mailbox(&t, smtp.port).await;
    let first = inbound(
        &t,
        mail("李雷 <li.lei@kehu.test>", "日志", "p1@kehu.test", "Cc: 赵敏 <zhao@kehu.test>\r\n", "日志在附件里。"),
    )
    .await;
    let id = first["ticket_id"].clone();
    let mut files = Vec::new();
    for (name, size) in [("dump-1.bin", 60 << 10), ("dump-2.bin", 60 << 10), ("notes.txt", 2000)] {
        let r = t
            .req(reqwest::Method::POST, &format!("/api/v1/uploads?filename={name}"), &t.admin)
            .header("content-type", "application/octet-stream")
            .body(vec![b'x'; size])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        files.push(r.json::<Value>().await.unwrap()["id"].clone());
    }
    let (s, reply) = t
        .post(
            &format!("/api/v1/tickets/{id}/comments"),
            &t.admin,
            json!({"body": "请看附件。", "public": true, "attachment_ids": files}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{reply}");
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    let got = smtp.expect(1);
    let sent = mail_parser::MessageParser::default().parse(&got[0]).unwrap();
    use mail_parser::MimeHeaders as _;
    let names: Vec<_> = sent.attachments().filter_map(|a| a.attachment_name()).collect();
    assert_eq!(names, ["dump-1.bin", "notes.txt"], "what fits goes, the smaller file after the one left out too");
    let text = sent.body_text(0).unwrap();
    assert!(text.contains("以下附件太大") && text.contains("dump-2.bin (60 KB)"), "{text}");
    assert!(text.contains(&format!("{}/portal/requests/{id}", t.base)), "{text}");
    let out = ticket_mail(&t, &id).await.pop().unwrap();
    assert_eq!(out["recipients"], json!(["li.lei@kehu.test", "zhao@kehu.test"]), "{out}");
    let ours = out["message_id"].as_str().unwrap().to_owned();

    let dsn = |n: u32, to: &str| {
        format!(
            "From: MAILER-DAEMON@mx.kehu.test\r\nTo: support@acme.test\r\nSubject: Undelivered\r\n\
             Message-ID: <dsn-{n}@mx.kehu.test>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n\
             --R\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n\
             --R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.kehu.test\r\n\r\n\
             Final-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: 5.2.2\r\n\
             Diagnostic-Code: smtp; 552 mailbox full\r\n\
             --R\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{ours}>\r\n--R--\r\n"
        )
        .into_bytes()
    };
    inbound(&t, dsn(1, "zhao@kehu.test")).await;
    let out = ticket_mail(&t, &id).await.pop().unwrap();
    assert_eq!((out["status"].as_str(), &out["bounced"]), (Some("partly_failed"), &json!(["zhao@kehu.test"])));
    assert_eq!(out["detail"], "zhao@kehu.test: 5.2.2 smtp; 552 mailbox full");
    assert_eq!(out["attempts"], 1, "a bounce is no attempt");
    // The same report fetched again says nothing new.
    inbound(&t, dsn(3, "zhao@kehu.test")).await;
    assert_eq!(ticket_mail(&t, &id).await.pop().unwrap()["detail"], out["detail"]);
    // The timeline says so in words.
    let web = crate::support::Web::new(&t);
    web.login("admin@test.example", "admin-password").await;
    let page = web.get(&format!("/agent/tickets/{id}")).await;
    assert!(page.html.contains("部分收件人未收到"), "the reply's mail line");
    // Returned for the other one too: nobody got it.
    inbound(&t, dsn(2, "li.lei@kehu.test")).await;
    let out = ticket_mail(&t, &id).await.pop().unwrap();
    assert_eq!((out["status"].as_str(), out["bounced"].as_array().map(Vec::len)), (Some("failed"), Some(2)));
}

/// A server that refuses one recipient (a CC it does not know) refuses the whole envelope: the
/// reply still goes to the others, one at a time, and is partly failed for the one refused.
async fn a_recipient_the_server_refuses_does_not_stop_the_reply(t: TestApp) {
    let Some(smtp) = SmtpSink::start().await else { return };
    smtp_mailbox(&t, smtp.port).await;
    let first = inbound(
        &t,
        mail("李雷 <li.lei@kehu.test>", "发票", "r1@kehu.test", "Cc: refused.cc@kehu.test\r\n", "请开发票。"),
    )
    .await;
    let id = first["ticket_id"].clone();
    let (s, _) =
        t.post(&format!("/api/v1/tickets/{id}/comments"), &t.admin, json!({"body": "已开具。", "public": true})).await;
    assert_eq!(s, StatusCode::CREATED);
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    assert_eq!(smtp.expect(1).len(), 1, "the requester got it");
    let out = ticket_mail(&t, &id).await.pop().unwrap();
    assert_eq!(out["status"], "partly_failed", "{out}");
    assert_eq!(out["bounced"], json!(["refused.cc@kehu.test"]));
    assert!(out["detail"].as_str().unwrap().starts_with("refused.cc@kehu.test: 550"), "{out}");
    assert_eq!(out["recipients"].as_array().map(Vec::len), Some(2));
    // Not sent again.
    t.clock.advance(jiff::SignedDuration::from_mins(10));
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    assert_eq!(smtp.received().len(), 1);
}

on_both!(
    a_recipient_the_server_refuses_does_not_stop_the_reply,
    a_reply_names_the_files_it_cannot_carry_and_a_bounce_counts_per_recipient,
    mail_is_fetched_when_it_arrives,
    notifications_wait_for_a_server_that_is_down_and_survive_a_dead_worker,
    notifications_go_out_by_mail_too,
    replies_are_mailed_threaded_and_their_delivery_recorded,
    mailboxes_are_fetched_over_imap_once
);
