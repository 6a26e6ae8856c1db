//! `TestApp`: a real Gongdan server on a random port over a fresh database (a temp SQLite
//! file, or a fresh PostgreSQL schema), with typed helpers.

use std::net::SocketAddr;
use std::sync::Arc;

use gongdan_core::people::UserInput;
use gongdan_core::{App, ManualClock, Settings};
use gongdan_domain::access::Role;
use gongdan_domain::ids::{GroupId, UserId};
use gongdan_store::ConnectOptions;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub admin: String,
    pub backend: &'static str,
    /// The database URL, for tests that reach past the store.
    pub url: String,
}

pub use gongdan_testkit::db::{pg_schema_url, temp_dir};

impl gongdan_testkit::Harness for TestApp {
    async fn sqlite() -> TestApp {
        let (url, dir) = gongdan_testkit::db::sqlite_url();
        Self::spawn(url, dir, "sqlite").await
    }

    async fn postgres() -> Option<TestApp> {
        let url = pg_schema_url().await?;
        Some(Self::spawn(url, temp_dir(), "postgres").await)
    }
}

impl TestApp {
    async fn spawn(url: String, dir: std::path::PathBuf, backend: &'static str) -> TestApp {
        // The data directory holds this test's attachments.
        let store = gongdan_store::connect(&url, ConnectOptions::default()).await.expect("connect");
        let clock = Arc::new(ManualClock::new(gongdan_testkit::build::start()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut settings = Settings::new(dir.clone());
        // Links in mail point at this server.
        settings.public_url = format!("http://{addr}");
        settings.max_attachment_bytes = 64 * 1024;
        // Two of the largest files do not fit in one mailed reply.
        settings.max_send_bytes = 100 * 1024;
        // As behind a proxy on this machine: tests name other clients with X-Forwarded-For.
        settings.trusted_proxies = gongdan_core::IpNet::parse("127.0.0.0/8").into_iter().collect();
        // The webhook receivers the tests start listen here; every other inward address stays refused.
        settings.webhook_allow = gongdan_core::IpNet::parse("127.0.0.1").into_iter().collect();
        let app = App::new(store, clock.clone(), settings);
        let admin = app
            .create_user(
                None,
                UserInput {
                    role: Some(Role::Admin),
                    name: Some("Admin".into()),
                    email: Some("admin@test.example".into()),
                    password: Some("admin-password".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("admin");
        let (admin_token, _) = app.create_token(None, admin.id, "test", None).await.expect("token");
        let router = gongdan_web::router(app.clone());
        tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.ok();
        });
        TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            app,
            clock,
            admin: admin_token,
            backend,
            url,
        }
    }

    pub fn req(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        let r = self.client.request(method, format!("{}{path}", self.base));
        if token.is_empty() { r } else { r.bearer_auth(token) }
    }

    /// Sends JSON (or nothing for `Value::Null`) and returns the status and the JSON answer.
    pub async fn call(&self, method: Method, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let mut r = self.req(method, path, token);
        if !body.is_null() {
            r = r.json(&body);
        }
        let res = r.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "[{}] {path} answered 500: {text}", self.backend);
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, Value::Null).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, token, body).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, token, Value::Null).await
    }

    /// Creates a user through the API and returns its id and an API token for it.
    pub async fn user(&self, role: &str, email: &str, extra: Value) -> (UserId, String) {
        let mut body = json!({"role": role, "email": email, "name": email.split('@').next().unwrap_or("x")});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let (s, u) = self.post("/api/v1/users", &self.admin, body).await;
        assert_eq!(s, StatusCode::CREATED, "[{}] create user: {u}", self.backend);
        let id = UserId(u["id"].as_i64().expect("id"));
        let (secret, _) = self.app.create_token(None, id, "test", None).await.expect("token");
        (id, secret)
    }

    pub async fn group(&self, name: &str, tier: i64) -> GroupId {
        let (s, g) = self.post("/api/v1/groups", &self.admin, json!({"name": name, "tier": tier})).await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        GroupId(g["id"].as_i64().expect("id"))
    }

    /// Creates a ticket as `token` and returns its JSON.
    pub async fn ticket(&self, token: &str, body: Value) -> Value {
        let (s, t) = self.post("/api/v1/tickets", token, body).await;
        assert_eq!(s, StatusCode::CREATED, "[{}] create ticket: {t}", self.backend);
        t
    }
}

/// Generates a SQLite and a PostgreSQL test for each scenario `async fn name(t: TestApp)`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        gongdan_testkit::on_both!($crate::support::TestApp => $($name),*);
    };
}

/// A browser without a browser: follows the UI's forms over real HTTP with a cookie jar, and
/// carries the CSRF token of the last page it read.
pub struct Web {
    pub base: String,
    client: reqwest::Client,
    cookies: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
    csrf: std::sync::Mutex<String>,
}

/// A page as the server sent it.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Web {
    pub fn new(t: &TestApp) -> Web {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Web { base: t.base.clone(), client, cookies: Default::default(), csrf: Default::default() }
    }

    fn cookie_header(&self) -> String {
        let jar = self.cookies.lock().expect("jar");
        jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().expect("jar").get(name).cloned()
    }

    pub fn csrf(&self) -> String {
        self.csrf.lock().expect("csrf").clone()
    }

    async fn read(&self, res: reqwest::Response) -> Page {
        let status = res.status();
        let headers = res.headers().clone();
        let set_cookies: Vec<String> =
            headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        {
            let mut jar = self.cookies.lock().expect("jar");
            for c in &set_cookies {
                if let Some((k, v)) = c.split(';').next().and_then(|kv| kv.split_once('=')) {
                    if v.is_empty() || c.contains("Max-Age=0") {
                        jar.remove(k);
                    } else {
                        jar.insert(k.to_owned(), v.to_owned());
                    }
                }
            }
        }
        let location = headers.get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let html = res.text().await.expect("body");
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "page answered 500: {html}");
        if let Some(i) = html.find("name=\"csrf-token\" content=\"") {
            let rest = &html[i + 27..];
            if let Some(end) = rest.find('"') {
                *self.csrf.lock().expect("csrf") = rest[..end].to_owned();
            }
        }
        Page { status, location, set_cookies, headers, html }
    }

    pub async fn get(&self, path: &str) -> Page {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("get");
        self.read(res).await
    }

    /// Posts a form with the current CSRF token (unless the pairs bring their own `_csrf`).
    pub async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Page {
        let mut body: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        if !pairs.iter().any(|(k, _)| *k == "_csrf") {
            body.push(("_csrf".into(), self.csrf()));
        }
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(&body)
            .send()
            .await
            .expect("post");
        self.read(res).await
    }

    /// Posts a multipart form with files: (field, filename, bytes).
    pub async fn post_files(&self, path: &str, pairs: &[(&str, &str)], files: &[(&str, &str, Vec<u8>)]) -> Page {
        let mut form = reqwest::multipart::Form::new().text("_csrf", self.csrf());
        for (k, v) in pairs {
            form = form.text((*k).to_owned(), (*v).to_owned());
        }
        for (field, name, bytes) in files {
            form = form.part(
                (*field).to_owned(),
                reqwest::multipart::Part::bytes(bytes.clone()).file_name((*name).to_owned()),
            );
        }
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .multipart(form)
            .send()
            .await
            .expect("post");
        self.read(res).await
    }

    /// Signs in through the login form; the next page decides where it lands.
    pub async fn login(&self, email: &str, password: &str) -> Page {
        self.get("/login").await;
        let page = self.post("/login", &[("email", email), ("password", password), ("next", "/")]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "sign in as {email}: {}", page.html);
        // Land where the browser would, so the next form carries the session's token.
        if let Some(to) = &page.location {
            self.get(to).await;
        }
        page
    }
}

/// The text of an HTML page without its tags, for "does the page say …" checks.
pub fn text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    // askama writes numeric entities; ammonia named ones.
    [("&#60;", "<"), ("&#62;", ">"), ("&#34;", "\""), ("&#39;", "'"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\"")]
        .iter()
        .fold(out, |acc, (from, to)| acc.replace(from, to))
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}
