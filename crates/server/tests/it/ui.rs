//! The browser UI over real HTTP, without a browser: sign-in, who may reach which page, CSRF,
//! escaping and security headers, forms that keep what was typed, the agent's reply and note
//! as the customer sees them, live events, the admin console and the language switch. The
//! browser tests (`browser.rs`) drive the same pages in Chromium.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{TestApp, Web, text_of};

/// A desk with a billing group, an agent in it, a customer with a password, a regex field
/// required by the billing category's form.
pub struct Desk {
    pub group: i64,
    pub agent: (i64, String),
    pub customer: (i64, String),
    pub category: i64,
    pub sub_category: i64,
}

pub async fn desk(t: &TestApp) -> Desk {
    let group = t.group("财务组", 1).await.0;
    let (agent, agent_token) = t
        .user(
            "agent",
            "agent@desk.example",
            json!({"name": "王芳", "group_ids": [group], "password": "agent-password"}),
        )
        .await;
    let (customer, customer_token) =
        t.user("customer", "li@example.com", json!({"name": "李雷", "password": "customer-password"})).await;
    let (s, field) = t
        .post(
            "/api/v1/custom_fields",
            &t.admin,
            json!({"key": "order_no", "kind": "regex", "pattern": "[A-Z]-\\d{4}", "label_zh": "订单号", "label_en": "Order no"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{field}");
    let (_, form) = t
        .post(
            "/api/v1/forms",
            &t.admin,
            json!({"name": "退款", "fields": [{"field_id": field["id"], "required": true}]}),
        )
        .await;
    let (_, cat) = t
        .post("/api/v1/categories", &t.admin, json!({"name_zh": "账单", "name_en": "Billing", "form_id": form["id"]}))
        .await;
    let (_, sub) = t
        .post("/api/v1/categories", &t.admin, json!({"name_zh": "退款", "name_en": "Refunds", "parent_id": cat["id"]}))
        .await;
    Desk {
        group,
        agent: (agent.0, agent_token),
        customer: (customer.0, customer_token),
        category: cat["id"].as_i64().expect("id"),
        sub_category: sub["id"].as_i64().expect("id"),
    }
}

async fn sign_in_and_who_reaches_what(t: TestApp) {
    let d = desk(&t).await;
    let anon = Web::new(&t);
    // The first visit gives a pre-session CSRF cookie; a post without its token is refused.
    let p = anon.get("/login").await;
    let csrf_cookie = p.set_cookies.iter().find(|c| c.starts_with("gongdan_csrf=")).expect("csrf cookie");
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"), "{csrf_cookie}");
    let p = anon.get("/agent/views/mine").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/login?next=/agent/views/mine"));
    let p = anon
        .post("/login", &[("_csrf", "forged"), ("email", "agent@desk.example"), ("password", "agent-password")])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(anon.cookie("gongdan_session").is_none());
    // Wrong password: the form again, with the email kept and the reason in the page's language.
    let p = anon.post("/login", &[("email", "agent@desk.example"), ("password", "nope-nope")]).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.html.contains("value=\"agent@desk.example\""));
    assert!(text_of(&p.html).contains("邮箱或密码不正确"), "zh-CN is the desk's default language");

    // Agents land in the workspace, with an HttpOnly, SameSite session cookie.
    let agent = Web::new(&t);
    let p = agent.login("agent@desk.example", "agent-password").await;
    assert_eq!(p.location.as_deref(), Some("/agent"));
    let session = p.set_cookies.iter().find(|c| c.starts_with("gongdan_session=")).expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    assert!(!session.contains("Secure"), "plain HTTP: no Secure flag");
    assert_eq!(agent.get("/agent/views/mine").await.status, StatusCode::OK);
    assert_eq!(agent.get("/admin/settings").await.status, StatusCode::FORBIDDEN, "agents do not configure");
    assert_eq!(agent.get("/admin/customers").await.status, StatusCode::FORBIDDEN);

    // Customers land in the portal and never reach an agent page.
    let customer = Web::new(&t);
    assert_eq!(customer.login("li@example.com", "customer-password").await.location.as_deref(), Some("/portal"));
    for path in ["/agent", "/agent/views/mine", "/agent/tickets/new", "/admin", "/admin/agents"] {
        let p = customer.get(path).await;
        assert!(
            p.status == StatusCode::NOT_FOUND || p.location.as_deref() == Some("/agent/views/mine"),
            "{path}: {}",
            p.status
        );
        if path != "/agent" {
            assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
        }
    }
    let theirs =
        t.ticket(&t.admin, json!({"subject": "别人的工单", "requester": {"email": "other@example.com"}})).await;
    let mine = t.ticket(&d.customer.1, json!({"subject": "我的工单", "description": "请帮忙"})).await;
    assert_eq!(customer.get(&format!("/portal/requests/{}", theirs["id"])).await.status, StatusCode::NOT_FOUND);
    assert_eq!(customer.get(&format!("/portal/requests/{}", mine["id"])).await.status, StatusCode::OK);
    let list = customer.get("/portal").await;
    assert!(list.html.contains("我的工单") && !list.html.contains("别人的工单"));
    // Copied on someone else's request (as a merge does), they find it among theirs and open it.
    let (_, me) = t.get("/api/v1/me", &d.customer.1).await;
    let copied = t
        .ticket(
            &t.admin,
            json!({"subject": "抄送给我的", "requester": {"email": "third@example.com"}, "cc_ids": [me["id"]]}),
        )
        .await;
    assert!(customer.get("/portal").await.html.contains("抄送给我的"), "a CC'd request is listed");
    assert_eq!(customer.get(&format!("/portal/requests/{}", copied["id"])).await.status, StatusCode::OK);
    // An agent opening the customer's page is sent to the workspace instead.
    assert_eq!(agent.get("/portal").await.location.as_deref(), Some("/agent"));

    // Behind TLS (a proxy says so) cookies are Secure.
    let tls = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = tls.get(format!("{}/login", t.base)).header("x-forwarded-proto", "https").send().await.unwrap();
    let page = r.text().await.unwrap();
    let token = page.split("name=\"csrf-token\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let r = tls
        .post(format!("{}/login", t.base))
        .header("x-forwarded-proto", "https")
        .header("cookie", format!("gongdan_csrf={token}"))
        .form(&[("_csrf", token.as_str()), ("email", "li@example.com"), ("password", "customer-password")])
        .send()
        .await
        .unwrap();
    let c = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert!(c.iter().any(|c| c.starts_with("gongdan_session=") && c.contains("Secure")), "{c:?}");

    // Signing out ends the session.
    let p = agent.post("/logout", &[]).await;
    assert_eq!(p.location.as_deref(), Some("/login"));
    assert_eq!(agent.get("/agent/views/mine").await.status, StatusCode::SEE_OTHER);
}

/// Every page: no inline script or style, no event-handler attributes, the CSP and friends.
fn assert_safe_page(p: &crate::support::Page, what: &str) {
    let csp = p.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}");
    assert_eq!(p.headers.get("x-frame-options").and_then(|v| v.to_str().ok()), Some("DENY"));
    assert_eq!(p.headers.get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
    let timing = p.headers.get("server-timing").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(timing.starts_with("app;dur="), "{what}: Server-Timing {timing:?}");
    for (i, _) in p.html.match_indices("<script") {
        let tag = &p.html[i..i + p.html[i..].find('>').unwrap_or(0)];
        assert!(tag.contains(" src="), "{what}: inline script {tag}");
    }
    // Inside tags only: escaped text may say anything.
    for tag in p.html.split('<').skip(1).map(|t| t.split('>').next().unwrap_or_default().to_lowercase()) {
        let handler = tag.split_whitespace().skip(1).any(|a| a.starts_with("on") && a.contains('='));
        assert!(!handler && !tag.contains(" style="), "{what}: <{tag}>");
    }
}

async fn escaping_csrf_and_security_headers(t: TestApp) {
    let d = desk(&t).await;
    let evil = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    let ticket = t
        .ticket(
            &t.admin,
            json!({"subject": evil, "description": evil, "html_description": format!("<p>hi</p>{evil}"),
                "requester": {"email": "li@example.com"}}),
        )
        .await;
    let id = ticket["id"].as_i64().unwrap();
    let agent = Web::new(&t);
    agent.login("agent@desk.example", "agent-password").await;
    for path in ["/agent/views/open".to_owned(), format!("/agent/tickets/{id}"), "/agent/tickets/new".to_owned()] {
        let p = agent.get(&path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        assert_safe_page(&p, &path);
        assert!(!p.html.contains("<script>alert"), "{path}: the subject is escaped");
        if !path.ends_with("/new") {
            assert!(p.html.contains("&#60;script&#62;alert"), "{path}");
        }
    }
    let customer = Web::new(&t);
    customer.login("li@example.com", "customer-password").await;
    let p = customer.get(&format!("/portal/requests/{id}")).await;
    assert_safe_page(&p, "portal request");
    assert!(!p.html.contains("<img src=x onerror"), "customer HTML is sanitised");
    assert!(p.html.contains("<p>hi</p>"), "safe HTML stays");

    // A form post without the page's token changes nothing.
    let before = t.get(&format!("/api/v1/tickets/{id}/comments"), &t.admin).await.1["items"].as_array().unwrap().len();
    let p =
        agent.post(&format!("/agent/tickets/{id}/reply"), &[("_csrf", "x"), ("body", "伪造"), ("public", "1")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = customer.post(&format!("/portal/requests/{id}/reply"), &[("_csrf", ""), ("body", "伪造")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let after = t.get(&format!("/api/v1/tickets/{id}/comments"), &t.admin).await.1["items"].as_array().unwrap().len();
    assert_eq!(before, after);
    // A cross-site origin is refused even with a token.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/agent/tickets/{id}/reply", t.base))
        .header("cookie", format!("gongdan_session={}", agent.cookie("gongdan_session").unwrap()))
        .header("origin", "https://evil.example")
        .form(&[("_csrf", agent.csrf().as_str()), ("body", "跨站"), ("public", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The JSON API with a session cookie needs the token in a header to change anything.
    let api = |token: Option<String>| {
        let mut r = reqwest::Client::new()
            .post(format!("{}/api/v1/tickets", t.base))
            .header("cookie", format!("gongdan_session={}", agent.cookie("gongdan_session").unwrap()))
            .json(&json!({"subject": "cookie", "requester": {"email": "li@example.com"}}));
        if let Some(tok) = token {
            r = r.header("x-csrf-token", tok);
        }
        r.send()
    };
    let r = api(None).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "csrf");
    assert_eq!(api(Some(agent.csrf())).await.unwrap().status(), StatusCode::CREATED);

    // Signed-in responses are never cached; behind TLS, HSTS; powerful features off.
    let cookie = format!("gongdan_session={}", agent.cookie("gongdan_session").unwrap());
    for path in ["/agent/views/open".to_owned(), format!("/api/v1/tickets/{id}")] {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", t.base))
            .header("cookie", &cookie)
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap();
        let h = r.headers();
        assert!(h["cache-control"].to_str().unwrap().contains("no-store"), "{path}");
        assert!(h["strict-transport-security"].to_str().unwrap().starts_with("max-age="), "{path}");
        assert!(h["permissions-policy"].to_str().unwrap().contains("camera=()"), "{path}");
    }
    let r = t.req(reqwest::Method::GET, &format!("/api/v1/tickets/{id}"), &t.admin).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store", "bearer-token responses too");
    // The API's sign-in cookie is Secure behind TLS.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", t.base))
        .header("x-forwarded-proto", "https")
        .json(&json!({"email": "agent@desk.example", "password": "agent-password"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["set-cookie"].to_str().unwrap().contains("; Secure"));
    // Another site cannot sign the browser out: logout needs the token too.
    let logout = |token: Option<String>| {
        let mut r = reqwest::Client::new().post(format!("{}/api/v1/auth/logout", t.base)).header("cookie", &cookie);
        if let Some(tok) = token {
            r = r.header("x-csrf-token", tok);
        }
        r.send()
    };
    assert_eq!(logout(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(agent.get("/agent/views/open").await.status, StatusCode::OK, "still signed in");
    assert_eq!(logout(Some(agent.csrf())).await.unwrap().status(), StatusCode::NO_CONTENT);
    let _ = d;
}

async fn agent_reply_and_note_as_the_customer_sees_them(t: TestApp) {
    let d = desk(&t).await;
    let customer = Web::new(&t);
    customer.login("li@example.com", "customer-password").await;
    // The customer submits with the category's form; the regex field is required.
    let p = customer.get(&format!("/portal/new?category_id={}", d.sub_category)).await;
    assert!(p.html.contains("custom_fields.order_no"), "the subcategory inherits the form");
    let cat = d.sub_category.to_string();
    let p = customer
        .post_files(
            "/portal/new",
            &[
                ("category_id", &cat),
                ("subject", "申请退款：订单重复扣款"),
                ("description", "同一订单被扣了两次款。"),
                ("_fields", "custom_fields.order_no"),
                ("custom_fields.order_no", "A-1001"),
            ],
            &[("files", "receipt.txt", b"paid twice".to_vec())],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    let location = p.location.unwrap();
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    let (_, ticket) = t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await;
    assert_eq!(ticket["custom_fields"]["order_no"], "A-1001");
    assert_eq!(ticket["channel"], "portal");
    assert_eq!(ticket["category_id"].as_i64(), Some(d.sub_category));
    let p = customer.get(&location).await;
    assert!(text_of(&p.html).contains("谢谢，我们已收到您的请求"), "the flash message shows once");
    assert!(p.html.contains("receipt.txt"));
    assert!(!customer.get(&location).await.html.contains("谢谢，我们已收到您的请求"));

    // The agent replies publicly, adds an internal note, moves status and group.
    let agent = Web::new(&t);
    agent.login("agent@desk.example", "agent-password").await;
    let page = agent.get(&format!("/agent/tickets/{id}")).await;
    assert!(page.html.contains("申请退款"));
    let p = agent
        .post_files(
            &format!("/agent/tickets/{id}/reply"),
            &[("body", "您好，已为您申请退款。"), ("public", "1"), ("reply_status", "pending"), ("_idem", "r1")],
            &[("files", "退款单.pdf", b"%PDF-1.4".to_vec())],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    // The same form posted twice (a double click) replies once.
    agent
        .post_files(
            &format!("/agent/tickets/{id}/reply"),
            &[("body", "您好，已为您申请退款。"), ("public", "1"), ("_idem", "r1")],
            &[],
        )
        .await;
    let p = agent.post(&format!("/agent/tickets/{id}/reply"), &[("body", "内部：财务已确认"), ("public", "0")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let version = t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await.1["version"].as_i64().unwrap().to_string();
    let group = d.group.to_string();
    let agent_id = d.agent.0.to_string();
    let p = agent
        .post(
            &format!("/agent/tickets/{id}/update"),
            &[
                ("version", &version),
                ("status", "pending"),
                ("priority", "high"),
                ("type", "incident"),
                ("group_id", &group),
                ("assignee_id", &agent_id),
                ("category_id", &cat),
                ("tags", "refund vip"),
                ("_fields", "custom_fields.order_no"),
                ("custom_fields.order_no", "A-1001"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    let (_, ticket) = t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await;
    assert_eq!(
        (ticket["status"].as_str(), ticket["priority"].as_str(), ticket["assignee_id"].as_i64()),
        (Some("pending"), Some("high"), Some(d.agent.0))
    );
    assert_eq!(ticket["tags"], json!(["refund", "vip"]));
    let (_, comments) = t.get(&format!("/api/v1/tickets/{id}/comments"), &t.admin).await;
    assert_eq!(comments["items"].as_array().unwrap().len(), 3, "description, one reply (not two), one note");

    // The agent's timeline shows both, clearly different, and the changes between them.
    let page = agent.get(&format!("/agent/tickets/{id}")).await;
    let text = text_of(&page.html);
    assert!(text.contains("您好，已为您申请退款") && text.contains("内部：财务已确认"));
    assert!(page.html.contains("class=\"comment internal\"") && page.html.contains("class=\"comment public\""));
    assert!(text.contains("修改了状态"), "status changes are on the timeline");

    // The customer sees the public reply and its file, never the note; on-hold reads as open.
    let p = customer.get(&format!("/portal/requests/{id}")).await;
    let text = text_of(&p.html);
    assert!(text.contains("您好，已为您申请退款") && p.html.contains("退款单.pdf"));
    assert!(!text.contains("内部：财务已确认") && !text.contains("内部备注"));
    assert!(text.contains("财务组 已接单") && text.contains("等待您回复"), "progress like a parcel: {text}");
    assert!(!text.contains("王芳 修改了"), "no internal events");
    // A customer reply reopens; marking solved solves; a reply to solved reopens again.
    let p = customer.post(&format!("/portal/requests/{id}/reply"), &[("body", "好的，谢谢")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await.1["status"], "open");
    let p = customer.post(&format!("/portal/requests/{id}/solve"), &[]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await.1["status"], "solved");
    customer.post(&format!("/portal/requests/{id}/reply"), &[("body", "又出问题了")]).await;
    assert_eq!(t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await.1["status"], "open");
    // On-hold shows as open (受理中) to the customer.
    t.patch(&format!("/api/v1/tickets/{id}"), &t.admin, json!({"status": "on_hold"})).await;
    let p = customer.get(&format!("/portal/requests/{id}")).await;
    assert!(p.html.contains("status-open") && !text_of(&p.html).contains("挂起"));
}

async fn forms_keep_what_was_typed(t: TestApp) {
    let d = desk(&t).await;
    let customer = Web::new(&t);
    customer.login("li@example.com", "customer-password").await;
    let cat = d.category.to_string();
    let p = customer
        .post(
            "/portal/new",
            &[
                ("category_id", &cat),
                ("subject", ""),
                ("description", "我的描述不能丢"),
                ("_fields", "custom_fields.order_no"),
                ("custom_fields.order_no", "bad"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("我的描述不能丢"), "the description is kept");
    assert!(p.html.contains("value=\"bad\""), "the wrong value is kept for correcting");
    assert!(text_of(&p.html).contains("此项必填"), "in the customer's language");
    // In English after the switch.
    customer.post("/lang", &[("lang", "en"), ("next", "/portal/new")]).await;
    let p = customer
        .post(
            "/portal/new",
            &[
                ("category_id", &cat),
                ("subject", "Refund"),
                ("description", "Charged twice"),
                ("_fields", "custom_fields.order_no"),
                ("custom_fields.order_no", "bad"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = text_of(&p.html);
    assert!(text.contains("This does not match the required format"), "{text}");
    assert!(p.html.contains("has-error"), "shown beside the field");
    assert_eq!(t.get("/api/v1/tickets", &t.admin).await.1["total"], 0, "nothing was created");

    // The agent's side panel: a stale version is a conflict that keeps the typed values.
    let ticket = t.ticket(&t.admin, json!({"subject": "冲突", "requester": {"email": "li@example.com"}})).await;
    let id = ticket["id"].as_i64().unwrap();
    let agent = Web::new(&t);
    agent.login("agent@desk.example", "agent-password").await;
    agent.get(&format!("/agent/tickets/{id}")).await;
    t.patch(&format!("/api/v1/tickets/{id}"), &t.admin, json!({"priority": "low"})).await;
    let p = agent
        .post(
            &format!("/agent/tickets/{id}/update"),
            &[("version", "1"), ("status", "open"), ("priority", "urgent"), ("tags", "我的标签")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&p.html).contains("其他人刚刚修改了该工单"));
    assert!(p.html.contains("value=\"我的标签\""), "typed tags kept");
    assert_eq!(t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await.1["priority"], "low", "nothing changed");
    // An empty reply is refused beside the box.
    let p = agent.post(&format!("/agent/tickets/{id}/reply"), &[("body", "  "), ("public", "0")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&p.html).contains("此项必填"));
    // A due date in the agent's time zone.
    let p = agent
        .post(
            &format!("/agent/tickets/{id}/update"),
            &[("version", "2"), ("status", "new"), ("priority", "low"), ("due_at", "2026-03-05T18:30")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    assert_eq!(
        t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await.1["due_at"],
        "2026-03-05T10:30:00Z",
        "18:30 in Asia/Shanghai"
    );
}

async fn live_events_reach_open_pages(t: TestApp) {
    use futures::StreamExt;
    let d = desk(&t).await;
    let ticket = t.ticket(&d.customer.1, json!({"subject": "实时", "description": "看得到吗"})).await;
    let id = ticket["id"].as_i64().unwrap();
    let agent = Web::new(&t);
    agent.login("agent@desk.example", "agent-password").await;
    let open = |w: &Web| {
        reqwest::Client::new()
            .get(format!("{}/agent/live?ticket={id}", t.base))
            .header("cookie", format!("gongdan_session={}", w.cookie("gongdan_session").unwrap()))
            .send()
    };
    let res = open(&agent).await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut stream = res.bytes_stream();
    let mut seen = String::new();
    // Read until `needle` arrives (the server sends nothing else meanwhile but keep-alives).
    async fn until<S, B>(stream: &mut S, seen: &mut String, needle: &str)
    where
        S: futures::Stream<Item = reqwest::Result<B>> + Unpin,
        B: AsRef<[u8]>,
    {
        while !seen.contains(needle) {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
                .await
                .expect("an event within 10 s")
                .expect("stream open")
                .expect("chunk");
            seen.push_str(&String::from_utf8_lossy(chunk.as_ref()));
        }
    }
    // A second agent opens the ticket: the first is told.
    t.user("agent", "zhao@desk.example", json!({"name": "赵磊", "password": "agent-password"})).await;
    let other = Web::new(&t);
    other.login("zhao@desk.example", "agent-password").await;
    let other_res = open(&other).await.unwrap();
    until(&mut stream, &mut seen, "赵磊").await;
    assert!(seen.contains("event: presence"));
    // Typing a reply is announced too.
    let r = reqwest::Client::new()
        .post(format!("{}/agent/tickets/{id}/presence", t.base))
        .header("cookie", format!("gongdan_session={}", other.cookie("gongdan_session").unwrap()))
        .header("x-csrf-token", {
            other.get(&format!("/agent/tickets/{id}")).await;
            other.csrf()
        })
        .json(&json!({"replying": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    until(&mut stream, &mut seen, "\"replying\":true").await;
    // The customer replies through the API: the agent's page hears of it.
    t.post(&format!("/api/v1/tickets/{id}/comments"), &d.customer.1, json!({"body": "补充一下"})).await;
    until(&mut stream, &mut seen, &format!("\"id\":{id}")).await;
    assert!(seen.contains("event: ticket"));
    // When the second agent leaves, the first sees nobody else.
    drop(other_res);
    seen.clear();
    until(&mut stream, &mut seen, "\"viewers\":[]").await;
    // A customer's live connection never hears of other people's tickets.
    let customer = Web::new(&t);
    customer.login("li@example.com", "customer-password").await;
    let res = reqwest::Client::new()
        .get(format!("{}/portal/live", t.base))
        .header("cookie", format!("gongdan_session={}", customer.cookie("gongdan_session").unwrap()))
        .send()
        .await
        .unwrap();
    let mut cs = res.bytes_stream();
    let foreign = t.ticket(&t.admin, json!({"subject": "别人的", "requester": {"email": "x@example.com"}})).await;
    t.post(&format!("/api/v1/tickets/{id}/comments"), &t.admin, json!({"body": "公开回复"})).await;
    let mut cseen = String::new();
    until(&mut cs, &mut cseen, &format!("\"id\":{id}")).await;
    assert!(!cseen.contains(&format!("\"id\":{}", foreign["id"])), "{cseen}");
}

async fn admin_console_edits_the_desk(t: TestApp) {
    let _d = desk(&t).await;
    let admin = Web::new(&t);
    admin.login("admin@test.example", "admin-password").await;
    for path in [
        "/admin/agents",
        "/admin/groups",
        "/admin/customers",
        "/admin/organizations",
        "/admin/categories",
        "/admin/statuses",
        "/admin/fields",
        "/admin/forms",
        "/admin/tokens",
        "/admin/settings",
        "/admin/agents/new",
        "/admin/customers/new",
        "/admin/organizations/new",
        "/admin/groups/new",
        "/admin/categories/new",
        "/admin/statuses/new",
        "/admin/fields/new",
        "/admin/forms/new",
    ] {
        let p = admin.get(path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        assert_safe_page(&p, path);
    }
    // One's own password in the console: the current one is asked for beside its field, what
    // was typed stays, and saving keeps this session.
    let (boss_id, _) = t.user("admin", "boss@test.example", json!({"password": "boss-passphrase"})).await;
    let boss = Web::new(&t);
    boss.login("boss@test.example", "boss-passphrase").await;
    let own = format!("/admin/agents/{}", boss_id.0);
    let p = boss.get(&own).await;
    assert!(p.html.contains("name=\"current_password\""), "own account asks for the current password");
    let form = |current: &'static str| {
        [
            ("name", "Boss"),
            ("email", "boss@test.example"),
            ("role", "admin"),
            ("active", "true"),
            ("password", "Lantern-river-42"),
            ("current_password", current),
        ]
    };
    let p = boss.post(&own, &form("")).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("field field-password has-error"), "the error sits beside the field");
    assert!(!text_of(&p.html).contains("current_password:"), "not as a raw name at the top");
    assert!(p.html.contains("value=\"Boss\""), "the name typed stays");
    let p = boss.post(&own, &form("boss-passphrase")).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    assert_eq!(boss.get("/admin/agents").await.status, StatusCode::OK, "still signed in");

    // A group: a blank name is refused beside the field; then saved and found by search.
    let p = admin.post("/admin/groups/new", &[("name", " "), ("tier", "2"), ("active", "true")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("has-error"));
    let p = admin.post("/admin/groups/new", &[("name", "二线专家"), ("tier", "2"), ("active", "true")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = admin.get("/admin/groups?q=专家").await;
    assert!(p.html.contains("二线专家") && !p.html.contains("财务组"), "search narrows the list");
    // A cascading field from its text form, and a status.
    let p = admin
        .post(
            "/admin/fields/new",
            &[
                ("scope", "ticket"),
                ("key", "device"),
                ("kind", "cascade"),
                ("label_zh", "设备"),
                ("label_en", "Device"),
                ("options", "hw | 硬件 | Hardware\n  printer | 打印机 | Printer\nsw | 软件 | Software"),
                ("active", "true"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    let (_, fields) = t.get("/api/v1/custom_fields", &t.admin).await;
    let device = fields["items"].as_array().unwrap().iter().find(|f| f["key"] == "device").unwrap().clone();
    assert_eq!(device["options"][0]["children"][0]["value"], "printer");
    let p = admin
        .post(
            "/admin/statuses/new",
            &[
                ("key", "waiting_vendor"),
                ("category", "on_hold"),
                ("label_zh", "等待厂商"),
                ("label_en", "Waiting for vendor"),
                ("position", "45"),
                ("active", "true"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(admin.get("/admin/statuses").await.html.contains("等待厂商"));
    // A subcategory under 账单, and an organisation.
    let (_, cats) = t.get("/api/v1/categories", &t.admin).await;
    let billing = cats["items"].as_array().unwrap().iter().find(|c| c["name_zh"] == "账单").unwrap()["id"].to_string();
    let p = admin
        .post(
            "/admin/categories/new",
            &[
                ("name_zh", "发票"),
                ("name_en", "Invoices"),
                ("parent_id", &billing),
                ("position", "2"),
                ("active", "true"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let tree = admin.get("/admin/categories").await;
    assert!(tree.html.contains("depth-1") && tree.html.contains("发票"), "the tree shows the level");
    let p = admin
        .post(
            "/admin/organizations/new",
            &[("name", "蓝海零售"), ("domains", "lanhai.example.cn"), ("shared_tickets", "true")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    // Settings: the company name shows in every page title.
    let p = admin
        .post(
            "/admin/settings",
            &[
                ("company_name", "蓝海客服中心"),
                ("default_language", "zh-CN"),
                ("default_time_zone", "Asia/Shanghai"),
                ("max_attachment_mb", "1"),
                ("portal_signup", "true"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(admin.get("/agent/views/open").await.html.contains("· 蓝海客服中心</title>"));
    let p = admin
        .post(
            "/admin/settings",
            &[
                ("company_name", "x"),
                ("default_language", "zh-CN"),
                ("default_time_zone", "Mars/Base"),
                ("max_attachment_mb", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown time zone is refused");
    // An API token is shown once and works.
    // The person is named by their address; an address nobody has is refused beside the field.
    let p = admin.post("/admin/tokens", &[("email", "nobody@nowhere.example"), ("name", "集成")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("aria-invalid=\"true\""), "the error is on the address");
    assert!(p.html.contains("value=\"nobody@nowhere.example\"") && p.html.contains("value=\"集成\""), "kept as typed");
    let p = admin.post("/admin/tokens", &[("email", "Admin@Test.example"), ("name", "集成")]).await;
    assert_eq!(p.status, StatusCode::OK);
    let secret = p.html.split("id=\"token-secret\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("gd_"));
    assert_eq!(t.get("/api/v1/me", &secret).await.0, StatusCode::OK);
    assert!(!admin.get("/admin/tokens").await.html.contains(&secret), "never shown again");
    // An agent with a role and groups.
    let group = t.get("/api/v1/groups", &t.admin).await.1["items"][0]["id"].to_string();
    let p = admin
        .post(
            "/admin/agents/new",
            &[
                ("name", "陈静"),
                ("email", "chen@desk.example"),
                ("role", "supervisor"),
                ("group_ids", &group),
                ("language", "en"),
                ("time_zone", "Europe/Berlin"),
                ("active", "true"),
                ("password", "chen-password"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    let chen = Web::new(&t);
    chen.login("chen@desk.example", "chen-password").await;
    let p = chen.get("/admin/customers").await;
    assert_eq!(p.status, StatusCode::OK, "supervisors manage customers");
    assert!(text_of(&p.html).contains("Customers"), "in her language");
}

async fn workspace_views_bulk_and_create_on_behalf(t: TestApp) {
    let d = desk(&t).await;
    let agent = Web::new(&t);
    agent.login("agent@desk.example", "agent-password").await;
    // A phone call: the agent creates a ticket for a new caller.
    let new = agent.get("/agent/tickets/new").await;
    assert!(new.html.contains("data-customer-search"));
    let p = agent
        .post(
            "/agent/tickets/new",
            &[
                ("requester.email", "caller@example.com"),
                ("requester.name", "来电客户"),
                ("requester.phone", "+86 138 0013 8000"),
                ("channel", "phone"),
                ("subject", "电话：发票丢失"),
                ("description", "客户来电说发票丢失"),
                ("priority", "high"),
                ("type", "question"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    let (_, list) = t.get("/api/v1/tickets?channel=phone", &t.admin).await;
    assert_eq!(list["total"], 1);
    let (_, caller) = t.get(&format!("/api/v1/users/{}", list["items"][0]["requester_id"]), &t.admin).await;
    assert_eq!(caller["name"], "来电客户");
    // Missing subject: 422 with the typed requester kept.
    let p = agent.post("/agent/tickets/new", &[("requester.email", "caller@example.com"), ("subject", "")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("value=\"caller@example.com\""));

    for i in 0..3 {
        t.ticket(
            &t.admin,
            json!({"subject": format!("批量{i}"), "requester": {"email": "li@example.com"}, "group_id": d.group}),
        )
        .await;
    }
    let p = agent.get("/agent/views/unassigned").await;
    let text = text_of(&p.html);
    assert!(text.contains("批量0") && text.contains("共 3 个工单"), "{text}");
    assert!(p.html.contains("data-count=\"unassigned\">3<"), "the view's live count");
    let ids: Vec<String> = t.get("/api/v1/tickets", &t.admin).await.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["subject"].as_str().unwrap().starts_with("批量"))
        .map(|x| x["id"].to_string())
        .collect();
    let agent_id = d.agent.0.to_string();
    let mut pairs: Vec<(&str, &str)> = ids.iter().map(|i| ("ids", i.as_str())).collect();
    pairs.extend([
        ("assignee_id", agent_id.as_str()),
        ("priority", "urgent"),
        ("add_tags", "bulk"),
        ("back", "/agent/views/unassigned"),
    ]);
    let p = agent.post("/agent/bulk", &pairs).await;
    assert_eq!(p.location.as_deref(), Some("/agent/views/unassigned"));
    let after = agent.get("/agent/views/mine").await;
    assert!(text_of(&after.html).contains("已更新 3 个工单"), "the flash says how many");
    let (_, urgent) = t.get("/api/v1/tickets?priority=urgent&tag=bulk", &t.admin).await;
    assert_eq!(urgent["total"], 3);
    assert!(after.html.contains("data-count=\"mine\">3<") && after.html.contains("data-count=\"unassigned\">0<"));
    // Filters and sorting keep working from the page.
    let p = agent.get("/agent/views/open?priority=urgent&sort=-created_at").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(agent.get("/agent/views/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(agent.get("/agent/views/open?sort=bogus").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(agent.get("/agent/views/open?cursor=garbage").await.status, StatusCode::OK, "a stale cursor restarts");
}

async fn languages_signup_and_page_weight(t: TestApp) {
    let anon = Web::new(&t);
    let r = reqwest::Client::new()
        .get(format!("{}/login", t.base))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert!(text_of(&r.text().await.unwrap()).contains("Sign in"), "the browser's language by default");
    assert!(text_of(&anon.get("/login").await.html).contains("登录"), "else the desk's");
    anon.post("/lang", &[("lang", "en"), ("next", "/login")]).await;
    assert!(text_of(&anon.get("/login").await.html).contains("Sign in"), "the switch sticks");
    // Signing up makes a customer who speaks the page's language.
    anon.get("/portal/signup").await;
    let p = anon.post("/portal/signup", &[("name", "Ann"), ("email", "ann@example.com"), ("password", "short")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("value=\"ann@example.com\"") && text_of(&p.html).contains("This is too short"));
    let p = anon
        .post("/portal/signup", &[("name", "Ann"), ("email", "ann@example.com"), ("password", "long-enough")])
        .await;
    assert_eq!(p.location.as_deref(), Some("/portal"));
    let home = anon.get("/portal").await;
    assert!(text_of(&home.html).contains("My requests") && text_of(&home.html).contains("Welcome"));
    let (_, users) = t.get("/api/v1/users?q=ann@example.com", &t.admin).await;
    assert_eq!(
        (users["items"][0]["role"].as_str(), users["items"][0]["language"].as_str()),
        (Some("customer"), Some("en"))
    );
    // An address the desk knows cannot be claimed.
    let other = Web::new(&t);
    other.get("/portal/signup").await;
    let p = other
        .post("/portal/signup", &[("name", "x"), ("email", "admin@test.example"), ("password", "long-enough")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&p.html).contains("该邮箱已注册"));
    // Switching while signed in changes the profile too.
    anon.post("/lang", &[("lang", "zh-CN"), ("next", "/portal")]).await;
    assert!(text_of(&anon.get("/portal").await.html).contains("我的请求"));

    // Pages stay light: page, stylesheet and script together under 150 KB.
    let admin = Web::new(&t);
    admin.login("admin@test.example", "admin-password").await;
    for i in 0..30 {
        t.ticket(&t.admin, json!({"subject": format!("工单{i}"), "description": "描述".repeat(20), "requester": {"email": "li@example.com"}})).await;
    }
    let css = reqwest::get(format!("{}/static/app.css", t.base)).await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let assets = css.bytes().await.unwrap().len()
        + reqwest::get(format!("{}/static/app.js", t.base)).await.unwrap().bytes().await.unwrap().len();
    for path in ["/agent/views/open", "/agent/tickets/10001", "/agent/tickets/new", "/admin/agents"] {
        let p = admin.get(path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        assert!(p.html.len() + assets < 150 * 1024, "{path}: {} + {assets} bytes", p.html.len());
    }
}

/// What a careless or hostile browser can do: stale cookies, unverified sign-ups, big bodies,
/// odd parameters; and edits that must not lose values the pickers no longer offer.
async fn hardening(t: TestApp) {
    let d = desk(&t).await;
    // A session cookie that signs nobody in does not lock the browser out of signing in.
    let w = Web::new(&t);
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/login", t.base))
        .header("cookie", "gongdan_session=gone-for-good")
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(cookies.iter().any(|c| c.starts_with("gongdan_session=;") && c.contains("Max-Age=0")), "{cookies:?}");
    assert!(cookies.iter().any(|c| c.starts_with("gongdan_csrf=")), "a fresh pre-session token");
    let html = r.text().await.unwrap();
    let token = html.split("name=\"csrf-token\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let csrf = cookies.iter().find(|c| c.starts_with("gongdan_csrf=")).unwrap().split(';').next().unwrap().to_owned();
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/login", t.base))
        .header("cookie", format!("gongdan_session=gone-for-good; {csrf}"))
        .form(&[("_csrf", token.as_str()), ("email", "agent@desk.example"), ("password", "agent-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "signed in despite the stale cookie");

    // A self-made account does not join the organisation its domain belongs to.
    let (_, org) = t
        .post(
            "/api/v1/organizations",
            &t.admin,
            json!({"name": "Acme", "domains": ["acme.example"], "shared_tickets": true}),
        )
        .await;
    t.post("/api/v1/users", &t.admin, json!({"email": "boss@acme.example", "name": "Boss"})).await;
    let boss_ticket =
        t.ticket(&t.admin, json!({"subject": "Acme 机密", "requester": {"email": "boss@acme.example"}})).await;
    w.get("/portal/signup").await;
    let p = w
        .post("/portal/signup", &[("name", "Mallory"), ("email", "mallory@acme.example"), ("password", "long-enough")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (_, users) = t.get("/api/v1/users?q=mallory", &t.admin).await;
    assert!(users["items"][0]["organization_id"].is_null(), "{users}");
    assert!(!w.get("/portal?scope=org").await.html.contains("Acme 机密"));
    assert_eq!(w.get(&format!("/portal/requests/{}", boss_ticket["id"])).await.status, StatusCode::NOT_FOUND);
    let _ = org;
    // Sign-ups are limited per client address.
    let mut last = StatusCode::OK;
    for i in 0..12 {
        let x = Web::new(&t);
        x.get("/portal/signup").await;
        let email = format!("spam{i}@example.com");
        last = x.post("/portal/signup", &[("name", "x"), ("email", &email), ("password", "long-enough")]).await.status;
    }
    assert_eq!(last, StatusCode::UNPROCESSABLE_ENTITY, "the eleventh sign-up from one address waits");

    // Big or multipart bodies are not read for signed-out forms: refused (or the connection is
    // closed while the client still sends).
    let anon = Web::new(&t);
    anon.get("/login").await;
    let jar = format!("gongdan_csrf={}", anon.cookie("gongdan_csrf").unwrap());
    let big_multipart = reqwest::multipart::Form::new()
        .text("_csrf", anon.csrf())
        .part("files", reqwest::multipart::Part::bytes(vec![0u8; 2 * 1024 * 1024]).file_name("big.bin"));
    let r = reqwest::Client::new()
        .post(format!("{}/login", t.base))
        .header("cookie", &jar)
        .multipart(big_multipart)
        .send()
        .await;
    assert!(r.as_ref().map_or(true, |r| r.status() == StatusCode::FORBIDDEN), "{:?}", r.map(|r| r.status()));
    let r = reqwest::Client::new()
        .post(format!("{}/login", t.base))
        .header("cookie", &jar)
        .form(&[("_csrf", anon.csrf()), ("email", "x".repeat(2 * 1024 * 1024))])
        .send()
        .await;
    let status = r.as_ref().map(|r| r.status());
    assert!(status.as_ref().map_or(true, |s| *s == StatusCode::PAYLOAD_TOO_LARGE), "{status:?}");

    // A ticket whose assignee, group and status are no longer offered keeps them when only the
    // priority changes.
    let agent = Web::new(&t);
    agent.login("agent@desk.example", "agent-password").await;
    let (retired, _) = t.user("agent", "retired@desk.example", json!({"group_ids": [d.group]})).await;
    let (_, waiting) = t
        .post(
            "/api/v1/statuses",
            &t.admin,
            json!({"key": "waiting_vendor", "category": "on_hold", "label_en": "Waiting for vendor"}),
        )
        .await;
    let ticket = t
        .ticket(
            &t.admin,
            json!({"subject": "留着", "requester": {"id": d.customer.0}, "group_id": d.group, "assignee_id": retired.0, "status": "waiting_vendor"}),
        )
        .await;
    let id = ticket["id"].as_i64().unwrap();
    t.delete(&format!("/api/v1/users/{}", retired.0), &t.admin).await;
    t.patch(&format!("/api/v1/statuses/{}", waiting["id"]), &t.admin, json!({"active": false})).await;
    t.patch(&format!("/api/v1/groups/{}", d.group), &t.admin, json!({"active": false})).await;
    let page = agent.get(&format!("/agent/tickets/{id}")).await;
    let selected = |name: &str| {
        let select =
            page.html.split(&format!("name=\"{name}\"")).nth(1).unwrap().split("</select>").next().unwrap().to_owned();
        select
            .split("<option")
            .find(|o| o.contains(" selected"))
            .map(|o| o.split('"').nth(1).unwrap_or_default().to_owned())
    };
    assert_eq!(selected("assignee_id").as_deref(), Some(retired.0.to_string().as_str()));
    assert_eq!(selected("status").as_deref(), Some("waiting_vendor"));
    assert_eq!(selected("group_id").as_deref(), Some(d.group.to_string().as_str()));
    let group = d.group.to_string();
    let assignee = retired.0.to_string();
    let p = agent
        .post(
            &format!("/agent/tickets/{id}/update"),
            &[
                ("version", "1"),
                ("status", "waiting_vendor"),
                ("priority", "urgent"),
                ("type", "question"),
                ("group_id", &group),
                ("assignee_id", &assignee),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    let (_, now) = t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await;
    assert_eq!(
        (now["priority"].as_str(), now["assignee_id"].as_i64(), now["status"].as_str(), now["group_id"].as_i64()),
        (Some("urgent"), Some(retired.0), Some("waiting_vendor"), Some(d.group))
    );

    // Odd parameters are a clear answer, never a duplicate row or a crash.
    let (_, list) = t.get("/api/v1/tickets?status=new,new,open&group_id=1,1", &t.admin).await;
    let ids: Vec<i64> = list["items"].as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ids.len(), unique.len());
    let admin = Web::new(&t);
    admin.login("admin@test.example", "admin-password").await;
    assert_eq!(admin.get("/admin/groups?page=18446744073709551615").await.status, StatusCode::OK);
    let p = admin.post("/admin/tokens", &[("user_id", "1"), ("name", "x"), ("expires_days", "999999999999999")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = admin.post("/lang", &[("lang", "en"), ("next", "/\t/evil.example")]).await;
    assert_eq!(p.location.as_deref(), Some("/"));
    // Revoking another user's token comes back to that user's tokens.
    let (cust, _) = (d.customer.0, ());
    let p = admin.post("/admin/tokens", &[("user_id", &cust.to_string()), ("name", "theirs")]).await;
    let revoke =
        p.html.split("action=\"/admin/tokens/").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");
    let p = admin.post(&format!("/admin/tokens/{revoke}"), &[]).await;
    assert_eq!(p.location, Some(format!("/admin/tokens?user_id={cust}")));
}

/// The flow engine's pages over HTTP: the console's rule builders (errors on their row, a dry
/// run), macros and escalation on the ticket page, saving a list as a view, notifications and
/// availability.
async fn flow_pages_in_the_console_and_the_workspace(t: TestApp) {
    let d = desk(&t).await;
    let admin = Web::new(&t);
    admin.login("admin@test.example", "admin-password").await;
    let (_, autos) = t.get("/api/v1/automations", &t.admin).await;
    let first_auto = autos["items"][0]["id"].as_i64().unwrap();
    for path in [
        "/admin/triggers".to_owned(),
        "/admin/triggers/new".to_owned(),
        "/admin/automations".to_owned(),
        "/admin/automations/new".to_owned(),
        format!("/admin/automations/{first_auto}"),
        "/admin/macros".to_owned(),
        "/admin/macros/new".to_owned(),
        "/admin/views".to_owned(),
        "/admin/views/new".to_owned(),
        "/admin/webhooks".to_owned(),
        "/admin/webhooks/new".to_owned(),
    ] {
        let p = admin.get(&path).await;
        assert_eq!(p.status, StatusCode::OK, "[{}] {path}", t.backend);
        assert_safe_page(&p, &path);
    }
    // An agent's own macro is listed for the admin with whose it is.
    let (s, _) = t.post("/api/v1/macros", &d.agent.1, json!({"name": "我的快捷回复", "reply_body": "马上处理"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, me) = t.get("/api/v1/me", &d.agent.1).await;
    let list = text_of(&admin.get("/admin/macros").await.html);
    assert!(list.contains(&format!("个人 · {}", me["name"].as_str().unwrap())), "{list}");
    let shipped = admin.get(&format!("/admin/automations/{first_auto}")).await;
    assert!(shipped.html.contains("hours_since_solved"), "a stored rule's rows are shown");

    // A bad row: the error sits on it, and everything typed stays.
    let p = admin
        .post(
            "/admin/triggers/new",
            &[
                ("name", "缺值"),
                ("active", "true"),
                ("conditions.all.0.field", "subject"),
                ("conditions.all.0.operator", "contains"),
                ("conditions.all.0.value", ""),
                ("actions.0.field", "priority"),
                ("actions.0.value", "high"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("value=\"缺值\""));
    let row = p.html.split("name=\"conditions.all.0.value\"").nth(1).unwrap_or_default();
    assert!(row.split("data-row").next().unwrap_or_default().contains("class=\"error\""), "the error is on its row");
    // Saved when right.
    let p = admin
        .post(
            "/admin/triggers/new",
            &[
                ("name", "VIP 加急"),
                ("active", "true"),
                ("conditions.all.0.field", "tags"),
                ("conditions.all.0.operator", "contains"),
                ("conditions.all.0.value", "vip"),
                ("actions.0.field", "priority"),
                ("actions.0.value", "urgent"),
                ("actions.1.field", "notify"),
                ("actions.1.to", "group"),
                ("actions.1.subject", "VIP #{{ticket.number}}"),
                ("actions.1.body", "{{ticket.subject}}"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    let (_, triggers) = t.get("/api/v1/triggers", &t.admin).await;
    let made = triggers["items"].as_array().unwrap().iter().find(|r| r["name"] == "VIP 加急").cloned().unwrap();
    assert_eq!(made["actions"][1]["value"]["to"], "group");
    // Deleting takes the form's token like every other change.
    let trigger = made["id"].as_i64().unwrap();
    let count = triggers["items"].as_array().unwrap().len();
    let p = admin.post(&format!("/admin/triggers/{trigger}/delete"), &[("_csrf", "forged")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(t.get("/api/v1/triggers", &t.admin).await.1["items"].as_array().unwrap().len(), count, "still there");
    // A dry run shows what an automation on the form would change, and saves nothing.
    let id = t.ticket(&t.admin, json!({"subject": "新来的", "requester": {"id": d.customer.0}})).await["id"]
        .as_i64()
        .unwrap();
    let p = admin
        .post(
            "/admin/automations/dry_run",
            &[
                ("name", "试"),
                ("once", "true"),
                ("conditions.all.0.field", "status"),
                ("conditions.all.0.operator", "is"),
                ("conditions.all.0.value", "new"),
                ("actions.0.field", "priority"),
                ("actions.0.value", "high"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains(&format!("/agent/tickets/{id}")), "the dry run lists the ticket");
    assert_eq!(t.get("/api/v1/automations", &t.admin).await.1["items"].as_array().unwrap().len(), 4);

    // After an error, a box the admin unticked stays unticked: the form names the boxes it
    // showed, ticked or not, and the browser posts those names.
    let blank = admin.get("/admin/macros/new").await;
    assert!(blank.html.contains("name=\"_fields\" value=\"shared\""), "the form names its checkbox");
    let p = admin
        .post(
            "/admin/macros/new",
            &[("name", " "), ("_fields", "shared"), ("_fields", "active"), ("active", "true"), ("reply_body", "x")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let input = |name: &str| {
        p.html
            .split(&format!("name=\"{name}\""))
            .nth(1)
            .unwrap_or_default()
            .split('>')
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(!input("shared").contains("checked"), "shared stays off: {}", input("shared"));
    assert!(input("active").contains("checked"));

    // A shared macro, previewed and applied on the ticket page.
    let p = admin
        .post(
            "/admin/macros/new",
            &[
                ("name", "请补充信息"),
                ("shared", "true"),
                ("active", "true"),
                ("reply_public", "true"),
                ("reply_body", "{{requester.name}}您好，请补充订单号。"),
                ("actions.0.field", "status"),
                ("actions.0.value", "pending"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    let (_, macros) = t.get("/api/v1/macros", &t.admin).await;
    let m =
        macros["items"].as_array().unwrap().iter().find(|x| x["name"] == "请补充信息").unwrap()["id"].as_i64().unwrap();
    let agent = Web::new(&t);
    agent.login("agent@desk.example", "agent-password").await;
    let page = agent.get(&format!("/agent/tickets/{id}")).await;
    assert!(page.html.contains("请补充信息"), "the macro is offered");
    let pv = agent.get(&format!("/agent/tickets/{id}?macro={m}")).await;
    assert!(text_of(&pv.html).contains("李雷您好，请补充订单号。"), "previewed with its placeholders filled in");
    assert_eq!(t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await.1["status"], "new", "a preview changes nothing");
    let p = agent.post(&format!("/agent/tickets/{id}/macro"), &[("macro_id", &m.to_string()), ("version", "1")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await.1["status"], "pending");

    // Escalation needs a reason.
    let l2 = t.group("二线", 2).await.0;
    agent.get(&format!("/agent/tickets/{id}")).await;
    let p = agent.post(&format!("/agent/tickets/{id}/escalate"), &[("reason", " "), ("group_id", "")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = agent.post(&format!("/agent/tickets/{id}/escalate"), &[("reason", "需要专家"), ("group_id", "")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let after = t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await.1;
    assert_eq!(after["group_id"], json!(d.group), "from no group, escalation goes to the first tier");

    // The list's filters saved as a personal view, which then sits in the menu.
    agent.get("/agent/views/open?priority=high").await;
    let p = agent.post("/agent/views", &[("view", "open"), ("query", "priority=high"), ("name", "我的加急")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let shown = agent.get(p.location.as_deref().unwrap()).await;
    assert!(text_of(&shown.html).contains("我的加急"));
    let (_, views) = t.get("/api/v1/views", &d.agent.1).await;
    let saved = views["items"].as_array().unwrap().iter().find(|v| v["name"] == "我的加急").cloned().unwrap();
    assert_eq!((saved["scope"].as_str(), saved["filters"]["priority"].clone()), (Some("personal"), json!(["high"])));

    // A view of several groups keeps them when the console edits it.
    let (_, two) = t
        .post(
            "/api/v1/views",
            &t.admin,
            json!({"name": "两组", "scope": "shared", "filters": {"group_id": [d.group, l2]}}),
        )
        .await;
    let form = admin.get(&format!("/admin/views/{}", two["id"])).await;
    let picked: Vec<&str> = form
        .html
        .split("name=\"f_group\"")
        .skip(1)
        .filter_map(|part| part.split('>').next())
        .filter(|attrs| attrs.contains("checked"))
        .collect();
    assert_eq!(picked.len(), 2, "both groups are picked in the form");
    let p = admin
        .post(
            &format!("/admin/views/{}", two["id"]),
            &[
                ("name", "两个组"),
                ("scope", "shared"),
                ("f_group", &d.group.to_string()),
                ("f_group", &l2.to_string()),
                ("sort", "-updated_at"),
                ("active", "true"),
                ("_fields", "active"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", text_of(&p.html));
    let (_, two) = t.get(&format!("/api/v1/views/{}", two["id"]), &t.admin).await;
    assert_eq!((two["name"].as_str(), two["filters"]["group_id"].clone()), (Some("两个组"), json!([d.group, l2])));

    // Availability, and notifications for agents and customers alike (never each other's).
    agent.get("/agent/views/open").await;
    let p = agent.post("/agent/availability", &[("availability", "online"), ("next", "/agent")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (_, me) = t.get("/api/v1/me", &d.agent.1).await;
    assert_eq!(me["availability"], "online");
    // The VIP trigger tells the group; its agent reads it, the customer never does.
    let vip = t
        .ticket(
            &t.admin,
            json!({"subject": "VIP 来电", "group_id": d.group, "tags": ["vip"], "requester": {"id": d.customer.0}}),
        )
        .await;
    let notes = agent.get("/agent/notifications").await;
    assert_eq!(notes.status, StatusCode::OK);
    assert!(text_of(&notes.html).contains(&format!("VIP #{}", vip["id"])), "{}", text_of(&notes.html));
    let customer = Web::new(&t);
    customer.login("li@example.com", "customer-password").await;
    let theirs = customer.get("/portal/notifications").await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(!text_of(&theirs.html).contains("VIP #"), "not the agents' notifications");
    assert_eq!(customer.get("/agent/notifications").await.status, StatusCode::NOT_FOUND);
    assert_eq!(agent.get("/admin/triggers").await.status, StatusCode::FORBIDDEN, "rules are the admins'");
}

/// The ticket page shows who is copied and lets the agent copy someone by address (a new
/// customer when unknown) or take them off; a bad address is refused beside the form, kept.
async fn ccs_are_seen_added_and_removed_on_the_ticket_page(t: TestApp) {
    let tk = t.ticket(&t.admin, json!({"subject": "合同", "requester": {"email": "li@kehu.test"}})).await;
    let id = tk["id"].as_i64().unwrap();
    let web = Web::new(&t);
    web.login("admin@test.example", "admin-password").await;
    let page = web.get(&format!("/agent/tickets/{id}")).await;
    assert!(text_of(&page.html).contains("这张工单没有抄送人"), "the empty state");
    let added = web.post(&format!("/agent/tickets/{id}/cc"), &[("email", "Boss.Li@Kehu.test")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.html);
    let (_, after) = t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await;
    let cc = after["cc_ids"][0].clone();
    let page = web.get(&format!("/agent/tickets/{id}")).await;
    assert!(text_of(&page.html).contains("boss.li@kehu.test"), "the CC is shown by address");
    // Twice is once; the requester is no CC.
    web.post(&format!("/agent/tickets/{id}/cc"), &[("email", "boss.li@kehu.test")]).await;
    web.post(&format!("/agent/tickets/{id}/cc"), &[("email", "li@kehu.test")]).await;
    let (_, after) = t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await;
    assert_eq!(after["cc_ids"], json!([cc]));
    let bad = web.post(&format!("/agent/tickets/{id}/cc"), &[("email", "not an address")]).await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(bad.html.contains("value=\"not an address\""), "what was typed is kept");
    assert!(bad.html.contains("role=\"alert\""), "and the error shown beside it");
    let removed = web.post(&format!("/agent/tickets/{id}/cc/{cc}/remove"), &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let (_, after) = t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await;
    assert_eq!(after["cc_ids"], json!([]));
}

on_both!(
    ccs_are_seen_added_and_removed_on_the_ticket_page,
    flow_pages_in_the_console_and_the_workspace,
    hardening,
    sign_in_and_who_reaches_what,
    escaping_csrf_and_security_headers,
    agent_reply_and_note_as_the_customer_sees_them,
    forms_keep_what_was_typed,
    live_events_reach_open_pages,
    admin_console_edits_the_desk,
    workspace_views_bulk_and_create_on_behalf,
    languages_signup_and_page_weight
);
