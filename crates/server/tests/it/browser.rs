//! End-to-end tests in headless Chromium (Debian's `chromium` and `chromium-driver`) against a
//! real server: agents and customers click through the pages as people do, and what one does
//! shows up live on the other's open page. Without chromedriver these print a note and skip;
//! `GONGDAN_TEST_REQUIRE_BROWSER=1` (set by `.ci/run`) makes that a failure.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use thirtyfour::prelude::*;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::on_both;
use crate::support::TestApp;
use crate::ui::desk;

/// Chromium under chromedriver. A test quits the session with `close`; one that fails half-way
/// quits it when the driver drops (thirtyfour ends the session synchronously), and chromedriver
/// is killed when its reader task ends with the test's runtime.
struct Chrome {
    driver: Option<WebDriver>,
    _profile: PathBuf,
    base: String,
}

fn chromedriver() -> Option<String> {
    let path = std::env::var("GONGDAN_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if std::path::Path::new(&path).exists() && std::path::Path::new("/usr/bin/chromium").exists() {
        return Some(path);
    }
    if std::env::var("GONGDAN_TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("a browser is required (GONGDAN_TEST_REQUIRE_BROWSER=1) but {path} or /usr/bin/chromium is missing");
    }
    eprintln!("note: chromedriver or chromium is not installed; skipping the browser test");
    None
}

impl Chrome {
    /// A desktop-sized browser, or a phone-sized one (360 px wide, touch) when `phone`.
    async fn open(t: &TestApp, phone: bool) -> Option<Chrome> {
        let driver_path = chromedriver()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let mut child = tokio::process::Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        // Ready when it says so (no polling).
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("started successfully") {
                    return;
                }
            }
        })
        .await
        .expect("chromedriver starts");
        // Keep reading its output so it never blocks on a full pipe; the child is owned by the
        // reader task, so it is killed (kill_on_drop) when the test runtime drops the task.
        tokio::spawn(async move {
            while let Ok(Some(_)) = lines.next_line().await {}
            drop(child);
        });
        let profile = crate::support::temp_dir();
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary("/usr/bin/chromium").expect("binary");
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--lang=zh-CN",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.display()),
        ] {
            caps.add_arg(arg).expect("arg");
        }
        // A Chinese-speaking browser (Accept-Language), as most of the desk's users.
        caps.add_experimental_option("prefs", json!({"intl": {"accept_languages": "zh-CN,zh"}})).expect("prefs");
        if phone {
            caps.add_experimental_option(
                "mobileEmulation",
                json!({"deviceMetrics": {"width": 360, "height": 740, "pixelRatio": 1.0, "touch": true}}),
            )
            .expect("phone");
        }
        let driver = WebDriver::new(format!("http://127.0.0.1:{port}"), caps).await.expect("browser session");
        Some(Chrome { driver: Some(driver), _profile: profile, base: t.base.clone() })
    }

    fn d(&self) -> &WebDriver {
        self.driver.as_ref().expect("open browser")
    }

    async fn go(&self, path: &str) {
        self.d().goto(format!("{}{path}", self.base)).await.expect("navigate");
    }

    async fn el(&self, css: &str) -> WebElement {
        self.d().query(By::Css(css)).first().await.unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    async fn click(&self, css: &str) {
        self.el(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    async fn typ(&self, css: &str, text: &str) {
        let e = self.el(css).await;
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("type");
    }

    /// Chooses an option of a select by its value.
    async fn choose(&self, select_css: &str, value: &str) {
        self.click(&format!("{select_css} option[value='{value}']")).await;
    }

    /// Waits until an element's text contains `text`. The element may be replaced meanwhile
    /// (a live swap, or the next page loading): a stale one is looked up again.
    async fn wait_text(&self, css: &str, text: &str) {
        let needle = text.to_owned();
        let found = self
            .d()
            .query(By::Css(css))
            .ignore_errors(true)
            .with_text(move |s: &str| s.contains(&needle))
            .first()
            .await;
        if let Err(e) = found {
            let url = self.d().current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let body = self.js("return document.body.innerText").await;
            panic!("{css} never said {text:?} ({e}); at {url}: {body}")
        }
    }

    async fn text(&self, css: &str) -> String {
        self.el(css).await.text().await.unwrap_or_default()
    }

    async fn js(&self, script: &str) -> serde_json::Value {
        self.d().execute(script, vec![]).await.expect("script").json().clone()
    }

    async fn sign_in(&self, email: &str, password: &str) {
        self.go("/login").await;
        self.typ("#f-email", email).await;
        self.typ("#f-password", password).await;
        self.click("#login-submit").await;
        self.el("#logout").await;
    }

    async fn close(mut self) {
        if let Some(d) = self.driver.take() {
            let _ = d.quit().await;
        }
    }
}

/// The agent works a ticket in one browser while the customer follows it in another.
async fn agent_and_customer_work_a_ticket(t: TestApp) {
    let d = desk(&t).await;
    let ticket = t
        .ticket(
            &t.admin,
            json!({"subject": "打印机无法连接网络", "description": "办公室的打印机连不上 Wi-Fi。",
                "requester": {"id": d.customer.0}, "group_id": d.group}),
        )
        .await;
    let id = ticket["id"].as_i64().unwrap();
    let Some(agent) = Chrome::open(&t, false).await else { return };
    let Some(customer) = Chrome::open(&t, false).await else { return };

    agent.sign_in("agent@desk.example", "agent-password").await;
    agent.click("#view-unassigned").await;
    agent.wait_text("#list", "打印机无法连接网络").await;
    agent.click(&format!("tr[data-ticket='{id}'] .subject a")).await;
    agent.wait_text("h1", "打印机无法连接网络").await;

    // A public reply, then an internal note.
    agent.typ("#reply-body", "您好，请重启打印机后再试。").await;
    agent.click("#reply-submit").await;
    agent.wait_text("#flash", "已发送").await;
    agent.click("#reply-internal").await;
    agent.typ("#reply-body", "内部：可能是固件问题").await;
    agent.click("#reply-submit").await;
    agent.wait_text("#timeline", "内部：可能是固件问题").await;
    assert_eq!(agent.js("return document.querySelectorAll('#timeline .comment.internal').length").await, json!(1));

    // Status and category, the category through its cascading pickers.
    agent.choose("#f-status", "pending").await;
    let level0 = format!("select[data-level='0'] option[value='{}']", d.category);
    agent.click(&format!("#panel-form {level0}")).await;
    agent.click(&format!("#panel-form select[data-level='1'] option[value='{}']", d.sub_category)).await;
    agent.typ("#f-custom-fields-order-no", "A-1001").await;
    agent.click("#panel-save").await;
    agent.wait_text("#flash", "已保存").await;
    let (_, now) = t.get(&format!("/api/v1/tickets/{id}"), &t.admin).await;
    assert_eq!((now["status"].as_str(), now["category_id"].as_i64()), (Some("pending"), Some(d.sub_category)));
    agent.wait_text("#timeline", "等待回复").await;

    // The customer sees the public reply but not the note, and replies.
    customer.sign_in("li@example.com", "customer-password").await;
    customer.wait_text("#requests", "打印机无法连接网络").await;
    customer.click("#requests a").await;
    customer.wait_text("#conversation", "请重启打印机").await;
    let page = customer.d().source().await.unwrap();
    assert!(!page.contains("可能是固件问题"), "internal notes never reach the portal");
    assert_eq!(customer.text("#request-status").await, "等待回复");
    customer.wait_text("#progress", "等待您回复").await;

    // The agent's page is open; mark it so a reload would show.
    agent.js("window.__stayed = true").await;
    customer.typ("#portal-reply-body", "重启后可以了，谢谢！").await;
    customer.click("#portal-reply-submit").await;
    customer.wait_text("#conversation", "重启后可以了").await;
    agent.wait_text("#timeline", "重启后可以了，谢谢！").await;
    agent.wait_text("#ticket-status", "受理中").await;
    assert_eq!(agent.js("return window.__stayed === true").await, json!(true), "updated in place, no reload");

    agent.close().await;
    customer.close().await;
}

/// A request submitted in the portal with its category's fields appears in the billing
/// agent's open queue, live.
async fn portal_request_lands_in_the_queue(t: TestApp) {
    let d = desk(&t).await;
    let Some(agent) = Chrome::open(&t, false).await else { return };
    let Some(customer) = Chrome::open(&t, false).await else { return };
    agent.sign_in("agent@desk.example", "agent-password").await;
    agent.click("#view-open").await;
    agent.el("#list").await;
    agent.js("window.__stayed = true").await;

    customer.sign_in("li@example.com", "customer-password").await;
    customer.click("#portal-new").await;
    // Choosing the category brings its form's fields (the page reloads with them).
    customer.click(&format!("#request-form select[data-level='0'] option[value='{}']", d.category)).await;
    customer.el("#f-custom-fields-order-no").await;
    customer.typ("#f-subject", "申请退款：订单重复扣款").await;
    customer.typ("#f-description", "同一订单扣了两次。").await;
    customer.typ("#f-custom-fields-order-no", "oops").await;
    customer.click("#request-submit").await;
    // A wrong value is shown beside its field, everything typed kept.
    customer.wait_text(".field.has-error", "格式不符合要求").await;
    assert_eq!(customer.el("#f-subject").await.value().await.unwrap().as_deref(), Some("申请退款：订单重复扣款"));
    customer.typ("#f-custom-fields-order-no", "B-2024").await;
    customer.click("#request-submit").await;
    customer.wait_text("#flash", "我们已收到您的请求").await;
    customer.wait_text("#progress", "已受理").await;

    agent.wait_text("#list", "申请退款：订单重复扣款").await;
    assert_eq!(agent.js("return window.__stayed === true").await, json!(true));
    let (_, list) = t.get("/api/v1/tickets?cf.order_no=B-2024", &t.admin).await;
    assert_eq!(list["total"], 1);
    agent.close().await;
    customer.close().await;
}

/// Two agents on one ticket see each other, and who is replying.
async fn agents_see_each_other_on_a_ticket(t: TestApp) {
    let d = desk(&t).await;
    t.user("agent", "zhao@desk.example", json!({"name": "赵磊", "group_ids": [d.group], "password": "agent-password"}))
        .await;
    let ticket = t.ticket(&t.admin, json!({"subject": "两人同看", "requester": {"id": d.customer.0}})).await;
    let id = ticket["id"].as_i64().unwrap();
    let Some(a) = Chrome::open(&t, false).await else { return };
    let Some(b) = Chrome::open(&t, false).await else { return };
    a.sign_in("agent@desk.example", "agent-password").await;
    b.sign_in("zhao@desk.example", "agent-password").await;
    a.go(&format!("/agent/tickets/{id}")).await;
    b.go(&format!("/agent/tickets/{id}")).await;
    a.wait_text("#presence", "赵磊 正在查看此工单").await;
    b.wait_text("#presence", "王芳 正在查看此工单").await;
    b.typ("#reply-body", "我来回复").await;
    a.wait_text("#presence", "赵磊 正在回复").await;
    b.go("/agent/views/open").await;
    a.query_gone("#presence span").await;
    a.close().await;
    b.close().await;
}

impl Chrome {
    async fn query_gone(&self, css: &str) {
        self.d().query(By::Css(css)).wait_until_gone().await.unwrap_or_else(|e| panic!("{css} stays: {e}"));
    }
}

/// The language switch, and the keyboard.
async fn language_switch_and_shortcuts(t: TestApp) {
    let d = desk(&t).await;
    t.ticket(&t.admin, json!({"subject": "快捷键工单", "requester": {"id": d.customer.0}})).await;
    let Some(b) = Chrome::open(&t, false).await else { return };
    b.go("/login").await;
    assert_eq!(b.text("h1").await, "登录");
    b.click("#lang-en").await;
    b.wait_text("h1", "Sign in").await;
    b.sign_in("agent@desk.example", "agent-password").await;
    b.wait_text("#nav-views", "Views").await;
    b.click("#view-open").await;
    b.wait_text("#views", "All open").await;
    assert!(b.text("#list").await.contains("Subject"));
    // `?` shows the help, Esc closes it; j then o opens the first ticket.
    b.el("body").await.send_keys("?").await.unwrap();
    b.wait_text("#help", "Keyboard shortcuts").await;
    b.el("body").await.send_keys(Key::Escape).await.unwrap();
    assert_eq!(b.js("return document.getElementById('help').hidden").await, json!(true));
    b.el("body").await.send_keys("j").await.unwrap();
    b.el("body").await.send_keys("o").await.unwrap();
    b.wait_text("h1", "快捷键工单").await;
    // r focuses the reply box; Ctrl+Enter sends.
    b.el("body").await.send_keys("r").await.unwrap();
    assert_eq!(b.js("return document.activeElement.id").await, json!("reply-body"));
    b.el("#reply-body").await.send_keys("Sent from the keyboard").await.unwrap();
    b.el("#reply-body").await.send_keys(Key::Control + Key::Enter).await.unwrap();
    b.wait_text("#flash", "Sent.").await;
    b.wait_text("#timeline", "Sent from the keyboard").await;
    // Back to Chinese.
    b.click("#lang-zh").await;
    b.wait_text("#nav-views", "视图").await;
    b.close().await;
}

/// The PNG's width, from its header.
fn png_width(png: &[u8]) -> u32 {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    u32::from_be_bytes([png[16], png[17], png[18], png[19]])
}

/// Every main page at 360 px: a screenshot, and no horizontal overflow.
async fn pages_fit_a_phone(t: TestApp) {
    let d = desk(&t).await;
    let ticket = t
        .ticket(
            &t.admin,
            json!({"subject": "一个很长很长的工单标题，用来检查窄屏幕上的换行是否正常工作 with a long English tail",
                "description": "描述", "requester": {"id": d.customer.0}, "group_id": d.group, "category_id": d.category,
                "custom_fields": {"order_no": "A-1234"}}),
        )
        .await;
    let id = ticket["id"].as_i64().unwrap();
    t.post(
        &format!("/api/v1/tickets/{id}/comments"),
        &t.admin,
        json!({"body": "https://example.com/a/very/long/link/that/should/wrap/instead/of/overflowing/the/page"}),
    )
    .await;
    let dir = std::env::var("GONGDAN_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("gongdan-screenshots"))
        .join(t.backend);
    std::fs::create_dir_all(&dir).unwrap();
    let Some(phone) = Chrome::open(&t, true).await else { return };
    let check = |name: &'static str| {
        let dir = dir.clone();
        let phone = &phone;
        async move {
            let (scroll, inner): (i64, i64) = {
                let v = phone.js("return [document.documentElement.scrollWidth, window.innerWidth]").await;
                (v[0].as_i64().unwrap(), v[1].as_i64().unwrap())
            };
            let png = phone.d().screenshot_as_png().await.unwrap();
            std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
            assert_eq!(inner, 360, "{name}: a phone-sized viewport");
            assert_eq!(png_width(&png), 360, "{name}");
            assert!(scroll <= inner, "{name}: {scroll}px wide content in a {inner}px screen");
        }
    };
    phone.go("/login").await;
    check("login").await;
    phone.sign_in("li@example.com", "customer-password").await;
    phone.go("/portal").await;
    check("portal-requests").await;
    phone.go(&format!("/portal/new?category_id={}", d.category)).await;
    check("portal-new").await;
    phone.go(&format!("/portal/requests/{id}")).await;
    check("portal-request").await;
    phone.click("#logout").await;
    // Signed out, the portal sends the customer to sign in: wait for that page, or the next
    // navigation could overtake the sign-out and find the customer still signed in.
    phone.el("#f-email").await;
    phone.sign_in("admin@test.example", "admin-password").await;
    for (name, path) in [
        ("agent-views", "/agent/views/open".to_owned()),
        ("agent-ticket", format!("/agent/tickets/{id}")),
        ("agent-new", "/agent/tickets/new".to_owned()),
        ("admin-agents", "/admin/agents".to_owned()),
        ("admin-categories", "/admin/categories".to_owned()),
        ("admin-settings", "/admin/settings".to_owned()),
        ("admin-trigger", "/admin/triggers/new".to_owned()),
        ("agent-notifications", "/agent/notifications".to_owned()),
    ] {
        phone.go(&path).await;
        phone.el("#main").await;
        check(name).await;
    }
    eprintln!("screenshots in {}", dir.display());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 12);
    phone.close().await;
}

/// An admin builds a trigger in the console that routes 退款 requests to billing; a customer
/// asks for a refund in the portal; it lands, by round-robin, in a billing agent's own queue.
async fn a_trigger_built_in_the_console_routes_a_portal_request(t: TestApp) {
    let d = desk(&t).await;
    let (_, billing) = t
        .post("/api/v1/groups", &t.admin, json!({"name": "商务 Billing", "tier": 1, "assignment": "round_robin"}))
        .await;
    let billing = billing["id"].as_i64().unwrap();
    t.user(
        "agent",
        "cash@desk.example",
        json!({"name": "钱多多", "group_ids": [billing], "password": "agent-password"}),
    )
    .await;
    let Some(admin) = Chrome::open(&t, false).await else { return };
    admin.sign_in("admin@test.example", "admin-password").await;
    admin.go("/admin/triggers").await;
    admin.click("#admin-new").await;
    admin.typ("#f-name", "退款转财务").await;
    admin.choose("select[name='conditions.all.0.field']", "subject").await;
    admin.choose("select[name='conditions.all.0.operator']", "contains").await;
    admin.typ("input[name='conditions.all.0.value']", "退款").await;
    // The value picker follows the field: a group's picker for a group action.
    admin.choose("select[name='actions.0.field']", "group_id").await;
    assert_eq!(
        admin.js("return document.querySelector(\"input[name='actions.0.value']\").getAttribute('list')").await,
        json!("dl-group")
    );
    admin.typ("input[name='actions.0.value']", "99999").await;
    admin.click("#admin-save").await;
    // A bad value is refused beside its row; what was typed stays.
    admin.wait_text(".rule-row.has-error", "未找到").await;
    assert_eq!(admin.el("#f-name").await.value().await.unwrap().as_deref(), Some("退款转财务"));
    admin.typ("input[name='actions.0.value']", &billing.to_string()).await;
    admin.click("#add-action").await;
    admin.choose("select[name='actions.1.field']", "tags_add").await;
    admin.typ("input[name='actions.1.value']", "refund").await;
    admin.click("#admin-save").await;
    admin.wait_text("#flash", "已保存").await;
    // (The console's table was squeezed to nothing on desktops once: its text would be empty.)
    admin.wait_text(".admin-table", "退款转财务").await;

    let Some(customer) = Chrome::open(&t, false).await else { return };
    customer.sign_in("li@example.com", "customer-password").await;
    customer.click("#portal-new").await;
    customer.typ("#f-subject", "申请退款：重复扣款").await;
    customer.typ("#f-description", "同一笔订单扣了两次。").await;
    customer.click("#request-submit").await;
    customer.wait_text("#flash", "我们已收到您的请求").await;

    let Some(agent) = Chrome::open(&t, false).await else { return };
    agent.sign_in("cash@desk.example", "agent-password").await;
    agent.click("#view-mine").await;
    agent.wait_text("#list", "申请退款：重复扣款").await;
    agent.click("#list .subject a").await;
    agent.wait_text("#timeline", "退款转财务").await;
    let (_, list) = t.get(&format!("/api/v1/tickets?group_id={billing}&tag=refund"), &t.admin).await;
    assert_eq!(list["total"], 1);
    let _ = d;
    admin.close().await;
    customer.close().await;
    agent.close().await;
}

/// Email end to end: a customer mails the Dovecot mailbox, the ticket appears, the agent replies
/// in the browser, the reply reaches the SMTP server threaded, and the customer's answer (to
/// the IMAP mailbox, `In-Reply-To` the reply) lands on the same ticket, live.
async fn a_mailed_request_is_answered_in_the_browser_and_by_mail(t: TestApp) {
    use gongdan_testkit::mailservers::{Dovecot, SmtpSink};
    let d = desk(&t).await;
    let Some(imap) = Dovecot::start("support", "imap-pw-2").await else { return };
    let Some(smtp) = SmtpSink::start().await else { return };
    let (s, mb) = t
        .post(
            "/api/v1/mailboxes",
            &t.admin,
            json!({"address": "support@acme.test", "name": "Acme 客服", "group_id": d.group,
                   "imap": {"host": "127.0.0.1", "port": imap.port, "tls": "none", "username": "support", "password": imap.password},
                   "smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none"}}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{mb}");
    imap.deliver(
        "From: 赵敏 <zhao.min@kehu.test>\r\nTo: support@acme.test\r\nSubject: 发票抬头写错了\r\n\
         Message-ID: <e2e-1@kehu.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n抬头应为“华星科技”。\r\n"
            .as_bytes(),
    );
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    let (_, list) = t.get("/api/v1/tickets", &t.admin).await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    assert_eq!(list["items"][0]["subject"], "发票抬头写错了");

    let Some(agent) = Chrome::open(&t, false).await else { return };
    agent.sign_in("agent@desk.example", "agent-password").await;
    agent.go(&format!("/agent/tickets/{id}")).await;
    agent.wait_text("#timeline", "华星科技").await;
    agent.wait_text("#timeline .mail-line", "通过邮件收到").await;
    agent.typ("#reply-body", "已为您更正抬头，新发票稍后寄出。").await;
    agent.click("#reply-submit").await;
    agent.wait_text("#flash", "已发送").await;
    agent.wait_text("#timeline", "正在发送邮件给客户").await;

    while t.app.run_due_jobs().await.unwrap() > 0 {}
    let got = smtp.expect(1);
    let sent = mail_parser::MessageParser::default().parse(&got[0]).unwrap();
    assert_eq!(sent.subject(), Some(format!("Re: 发票抬头写错了 [#{id}]").as_str()));
    assert_eq!(sent.in_reply_to().as_text(), Some("e2e-1@kehu.test"));
    assert_eq!(sent.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("zhao.min@kehu.test"));
    assert!(sent.body_text(0).unwrap().contains("已为您更正抬头"));
    let ours = sent.message_id().unwrap().to_owned();
    agent.go(&format!("/agent/tickets/{id}")).await;
    agent.wait_text("#timeline", "发邮件给客户").await;

    // The customer answers from their mail program.
    agent.js("window.__stayed = true").await;
    imap.deliver(
        format!(
            "From: 赵敏 <zhao.min@kehu.test>\r\nTo: support@acme.test\r\nSubject: Re: 发票抬头写错了 [#{id}]\r\n\
             Message-ID: <e2e-2@kehu.test>\r\nIn-Reply-To: <{ours}>\r\nReferences: <e2e-1@kehu.test> <{ours}>\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n收到，谢谢！\r\n"
        )
        .as_bytes(),
    );
    t.clock.advance(jiff::SignedDuration::from_secs(31));
    while t.app.run_due_jobs().await.unwrap() > 0 {}
    agent.wait_text("#timeline", "收到，谢谢！").await;
    assert_eq!(agent.js("return window.__stayed === true").await, json!(true), "it arrived live");
    let (_, c) = t.get(&format!("/api/v1/tickets/{id}/comments"), &t.admin).await;
    assert_eq!(c["items"].as_array().unwrap().len(), 3, "{c}");
    let (_, all) = t.get("/api/v1/tickets", &t.admin).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "no second ticket");
    agent.close().await;
}

on_both!(
    a_mailed_request_is_answered_in_the_browser_and_by_mail,
    a_trigger_built_in_the_console_routes_a_portal_request,
    agent_and_customer_work_a_ticket,
    portal_request_lands_in_the_queue,
    agents_see_each_other_on_a_ticket,
    language_switch_and_shortcuts,
    pages_fit_a_phone
);
