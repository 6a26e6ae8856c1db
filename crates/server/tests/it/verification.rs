//! Addresses proven by mail, through the browser's forms and a real SMTP server: a sign-in link,
//! claiming an account the desk made for an address, and confirming a new portal account —
//! each link opened once, by a button (never by fetching it), and useless to anyone who only
//! typed the address.

use gongdan_testkit::mailservers::SmtpSink;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::mail_servers::smtp_mailbox;
use crate::on_both;
use crate::support::{TestApp, Web, text_of};

/// The path of the one link in a mail, and who it went to.
fn link_in(raw: &[u8]) -> (String, String) {
    let m = mail_parser::MessageParser::default().parse(raw).expect("a mail");
    let text = m.body_text(0).expect("a text part").into_owned();
    let at = text.find("/verify/").expect("a link");
    let path: String = text[at..].chars().take_while(|c| !c.is_whitespace()).collect();
    let to = m.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_owned();
    (path, to)
}

/// A customer the desk made for an address (their request came by API, without a password).
async fn known_customer(t: &TestApp, email: &str) -> Value {
    let tk = t
        .ticket(
            &t.admin,
            json!({"subject": "发票", "description": "请开发票", "requester": {"email": email, "name": "韩梅梅"}}),
        )
        .await;
    let (_, u) = t.get(&format!("/api/v1/users/{}", tk["requester_id"]), &t.admin).await;
    u
}

async fn a_customer_signs_in_by_a_mailed_link(t: TestApp) {
    let Some(smtp) = SmtpSink::start().await else { return };
    smtp_mailbox(&t, smtp.port).await;
    known_customer(&t, "han@kehu.test").await;
    t.user("agent", "agent@acme.test", json!({})).await;
    let web = Web::new(&t);
    let login = web.get("/login").await;
    assert!(login.html.contains("id=\"link-login-form\""), "the sign-in page offers a link");
    // Unknown addresses and staff get the same answer and no mail.
    for email in ["nobody@kehu.test", "agent@acme.test", "han@kehu.test"] {
        let p = web.post("/login/link", &[("email", email)]).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.html);
        assert!(text_of(&p.html).contains(email), "{}", p.html);
    }
    let got = smtp.expect(1);
    let (path, to) = link_in(&got[0]);
    assert_eq!(to, "han@kehu.test");
    // Fetching the link (a mail scanner would) opens nothing; the button does.
    let page = web.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers.get("referrer-policy").and_then(|v| v.to_str().ok()), Some("same-origin"));
    assert!(web.cookie("gongdan_session").is_none());
    let opened = web.post(&path, &[]).await;
    assert_eq!(opened.location.as_deref(), Some("/portal"), "{}", opened.html);
    assert!(web.cookie("gongdan_session").is_some());
    let portal = web.get("/portal").await;
    assert_eq!(portal.status, StatusCode::OK);
    assert!(!portal.html.contains("id=\"verify-banner\""), "opening the link proved the address");
    // Once only.
    let anon = Web::new(&t);
    anon.get("/login").await;
    let again = anon.post(&path, &[]).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(anon.cookie("gongdan_session").is_none());
    assert_eq!(anon.get("/verify/not-a-link").await.status, StatusCode::GONE);
    // And never more than a few an hour to one address.
    for _ in 0..8 {
        anon.post("/login/link", &[("email", "han@kehu.test")]).await;
    }
    assert!(smtp.received().len() <= 1 + 5, "{} mails", smtp.received().len());
}

async fn a_known_address_is_claimed_by_its_mailbox(t: TestApp) {
    let Some(smtp) = SmtpSink::start().await else { return };
    smtp_mailbox(&t, smtp.port).await;
    let known = known_customer(&t, "han@kehu.test").await;
    // Someone signs up with the address: no account changes, no session, a link to the mailbox.
    let web = Web::new(&t);
    web.get("/portal/signup").await;
    let typed = [("name", "冒名者"), ("email", "han@kehu.test"), ("password", "attacker-pass-1")];
    let p = web.post("/portal/signup", &typed).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(text_of(&p.html).contains("han@kehu.test"));
    assert!(web.cookie("gongdan_session").is_none());
    let got = smtp.expect(1);
    let (path, to) = link_in(&got[0]);
    assert_eq!(to, "han@kehu.test");
    // The password typed at sign-up was not set.
    let tryit = Web::new(&t);
    tryit.get("/login").await;
    let p = tryit.post("/login", &[("email", "han@kehu.test"), ("password", "attacker-pass-1"), ("next", "/")]).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    // The mailbox's holder sets one on the link's page.
    let owner = Web::new(&t);
    let page = owner.get(&path).await;
    assert!(page.html.contains("type=\"password\""), "{}", page.html);
    let weak = owner.post(&path, &[("password", "short")]).await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.html.contains("aria-invalid"), "{}", weak.html);
    let set = owner.post(&path, &[("password", "han-owns-this-1")]).await;
    assert_eq!(set.location.as_deref(), Some("/portal"), "{}", set.html);
    let portal = owner.get("/portal").await;
    assert!(text_of(&portal.html).contains("发票"), "their request is there: {}", portal.html);
    Web::new(&t).login("han@kehu.test", "han-owns-this-1").await;
    let (_, u) = t.get(&format!("/api/v1/users/{}", known["id"]), &t.admin).await;
    assert_eq!(u["name"], "韩梅梅", "the account is the desk's, unchanged but for its password");
    // An account with a password of its own is not claimable.
    let p = Web::new(&t);
    p.get("/portal/signup").await;
    let again = p.post("/portal/signup", &typed).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(smtp.received().len(), 1);
}

async fn a_new_account_confirms_its_address_in_its_own_session(t: TestApp) {
    let Some(smtp) = SmtpSink::start().await else { return };
    smtp_mailbox(&t, smtp.port).await;
    let (s, org) = t
        .post(
            "/api/v1/organizations",
            &t.admin,
            json!({"name": "客户公司", "domains": ["kehu.test"], "shared_tickets": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{org}");
    let web = Web::new(&t);
    web.get("/portal/signup").await;
    let p =
        web.post("/portal/signup", &[("name", "李雷"), ("email", "li@kehu.test"), ("password", "li-lei-pass-1")]).await;
    assert_eq!(p.location.as_deref(), Some("/portal"), "{}", p.html);
    let portal = web.get("/portal").await;
    assert!(portal.html.contains("id=\"verify-banner\""), "not confirmed yet");
    assert!(!portal.html.contains("id=\"portal-org\""), "no organisation before the address is proven");
    let got = smtp.expect(1);
    let (path, to) = link_in(&got[0]);
    assert_eq!(to, "li@kehu.test");
    // Someone else clicking it (signed out, or as another account) confirms nothing.
    let stranger = Web::new(&t);
    stranger.get("/login").await;
    let p = stranger.get(&path).await;
    assert_eq!(p.location.as_deref(), Some(format!("/login?next={path}").as_str()));
    assert_eq!(stranger.post(&path, &[]).await.status, StatusCode::GONE);
    // In the account's own session it does, and the organisation's requests open.
    let page = web.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let done = web.post(&path, &[]).await;
    assert_eq!(done.location.as_deref(), Some("/portal"), "{}", done.html);
    let portal = web.get("/portal").await;
    assert!(!portal.html.contains("id=\"verify-banner\""));
    assert!(portal.html.contains("id=\"portal-org\""), "{}", portal.html);
    let (_, users) = t.get("/api/v1/users?q=li@kehu.test", &t.admin).await;
    assert_eq!(users["items"][0]["organization_id"], org["id"], "{users}");
    assert!(users["items"][0]["email_verified_at"].is_string(), "{users}");
    // Asking again after it is confirmed mails nothing.
    web.post("/portal/verify", &[]).await;
    assert_eq!(smtp.received().len(), 1);
}

on_both!(
    a_customer_signs_in_by_a_mailed_link,
    a_known_address_is_claimed_by_its_mailbox,
    a_new_account_confirms_its_address_in_its_own_session
);
