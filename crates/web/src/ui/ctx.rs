//! Who is asking and how to speak to them: the session behind the cookie, the language and time
//! zone pages render in, the CSRF token forms carry, and a one-shot flash message.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use gongdan_core::App;
use gongdan_core::config::Config;
use gongdan_domain::access::{Principal, Role};
use gongdan_domain::people::{Language, User};
use gongdan_domain::tickets::{Priority, StatusCategory};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::sync::Arc;

use super::UiError;
use super::i18n;
use crate::session::{FLASH_COOKIE, LANG_COOKIE, SESSION_COOKIE, anonymous_csrf, cookie, session_csrf};

/// Everything a page needs to render for this viewer.
pub struct Ctx {
    pub lang: Language,
    pub tz: TimeZone,
    pub csrf: String,
    pub user_id: i64,
    pub user_name: String,
    pub role: Option<Role>,
    pub company: String,
    /// A message from the previous request (`flash-…` key and an optional number).
    pub flash: Option<String>,
    /// This page's path and query, for "back here" links (language switch, sign in).
    pub here: String,
    pub cfg: Arc<Config>,
    /// Staff: whether they take new tickets (`online`, `away`, `offline`).
    pub availability: &'static str,
    /// Unread notifications, counted for full pages only (not fragments or posts).
    pub unread: i64,
}

impl Ctx {
    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }

    /// One named argument.
    pub fn t1(&self, key: &str, name: &'static str, value: impl std::fmt::Display) -> String {
        i18n::t_args(self.lang, key, &[(name, value.to_string())])
    }

    pub fn t2(
        &self,
        key: &str,
        a: &'static str,
        av: impl std::fmt::Display,
        b: &'static str,
        bv: impl std::fmt::Display,
    ) -> String {
        i18n::t_args(self.lang, key, &[(a, av.to_string()), (b, bv.to_string())])
    }

    /// A moment in the viewer's time zone.
    pub fn dt(&self, t: &Timestamp) -> String {
        t.to_zoned(self.tz.clone()).strftime("%Y-%m-%d %H:%M").to_string()
    }

    pub fn opt_dt(&self, t: &Option<Timestamp>) -> String {
        t.as_ref().map(|t| self.dt(t)).unwrap_or_default()
    }

    pub fn zh(&self) -> bool {
        self.lang == Language::ZhCn
    }

    /// Picks the label in the viewer's language, falling back to the other one.
    pub fn pick<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        match (self.lang, zh.is_empty(), en.is_empty()) {
            (Language::ZhCn, false, _) | (Language::En, _, true) => zh,
            _ => en,
        }
    }

    /// A status key's label; for customers a status shows as its category's customer view.
    pub fn status_label(&self, key: &str) -> String {
        match self.cfg.statuses.iter().find(|s| s.key == key) {
            Some(s) if self.role == Some(Role::Customer) && s.category.customer_view() != s.category => {
                self.category_label(s.category.customer_view())
            }
            Some(s) => self.pick(&s.label_zh, &s.label_en).to_owned(),
            None => key.to_owned(),
        }
    }

    pub fn category_label(&self, c: StatusCategory) -> String {
        self.t(&format!("status-{}", c.as_str()))
    }

    pub fn priority_label(&self, p: Priority) -> String {
        self.t(&format!("priority-{}", p.as_str()))
    }

    /// A group's name by id.
    pub fn group_name(&self, id: i64) -> String {
        self.cfg.groups.iter().find(|g| g.id.0 == id).map(|g| g.name.clone()).unwrap_or_else(|| format!("#{id}"))
    }

    /// A member of staff's name by id.
    pub fn agent_name(&self, id: gongdan_domain::ids::UserId) -> String {
        self.cfg.agents.iter().find(|a| a.id == id).map(|a| a.name.clone()).unwrap_or_else(|| format!("#{}", id.0))
    }

    /// Who sees a macro or view: shared, a group's, or someone's own ("个人 · 李娜").
    pub fn visibility(&self, key: &str, owner: Option<gongdan_domain::ids::UserId>) -> String {
        match owner {
            Some(o) => format!("{} · {}", self.t(key), self.agent_name(o)),
            None => self.t(key),
        }
    }

    /// A category's path from the root ("硬件 › 打印机 › 激光").
    pub fn category_path(&self, id: i64) -> String {
        gongdan_domain::category::path(&self.cfg.categories, gongdan_domain::ids::CategoryId(id))
            .iter()
            .map(|c| self.pick(&c.name_zh, &c.name_en).to_owned())
            .collect::<Vec<_>>()
            .join(" › ")
    }

    pub fn is_admin(&self) -> bool {
        self.role == Some(Role::Admin)
    }

    /// Admins and supervisors reach the admin console.
    pub fn can_admin(&self) -> bool {
        matches!(self.role, Some(Role::Admin | Role::Supervisor))
    }

    pub fn is_staff(&self) -> bool {
        self.role.is_some_and(Role::is_staff)
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.as_str()
    }
}

/// The signed-in user behind the session cookie, if any.
pub struct SessionUser {
    pub principal: Principal,
    pub user: std::sync::Arc<User>,
    pub secret: String,
}

/// The request's viewer and page context. Never fails: a stale or missing session is simply
/// no user (handlers that need one use [`Viewer::require`]).
pub struct Viewer {
    pub session: Option<SessionUser>,
    pub ctx: Ctx,
}

impl Viewer {
    /// The signed-in user, or a redirect to sign in that comes back here.
    pub fn require(&self) -> Result<&SessionUser, UiError> {
        self.session.as_ref().ok_or_else(|| UiError::SignIn(self.ctx.here.clone()))
    }

    /// A signed-in agent, supervisor or admin. Customers get "not found": they never learn
    /// what the agent pages are.
    pub fn staff(&self) -> Result<&SessionUser, UiError> {
        let s = self.require()?;
        if s.principal.is_staff() { Ok(s) } else { Err(UiError::NotFound) }
    }

    pub fn customer(&self) -> Result<&SessionUser, UiError> {
        let s = self.require()?;
        if s.principal.is_staff() { Err(UiError::Redirect("/agent".into())) } else { Ok(s) }
    }
}

impl FromRequestParts<App> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let cfg = app.config().await?;
        let mut session = None;
        if let Some(secret) = cookie(parts, SESSION_COOKIE)
            && let Ok((principal, user)) = app.session_user(&secret).await
        {
            session = Some(SessionUser { principal, user, secret });
        }
        let lang = match &session {
            Some(s) => s.user.language,
            None => cookie(parts, LANG_COOKIE)
                .and_then(|l| Language::parse(&l, "lang").ok())
                .or_else(|| {
                    parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(i18n::negotiate)
                })
                .unwrap_or(cfg.desk.default_language),
        };
        let tz_name = session.as_ref().map(|s| s.user.time_zone.clone()).unwrap_or(cfg.desk.default_time_zone.clone());
        let tz = TimeZone::get(&tz_name).unwrap_or(TimeZone::UTC);
        let csrf = match &session {
            Some(s) => session_csrf(&s.secret),
            None => anonymous_csrf(parts),
        };
        let flash = cookie(parts, FLASH_COOKIE).filter(|f| {
            f.starts_with("flash-") && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        });
        // A page rendered after a failed post is "here" as the page the form was on, not the
        // address it posted to (which has no GET).
        let here = if parts.method == axum::http::Method::GET {
            parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into())
        } else {
            parts
                .headers
                .get(header::REFERER)
                .and_then(|r| r.to_str().ok())
                .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
                .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
                .map(|p| crate::session::local_path(Some(&p)))
                .unwrap_or_else(|| "/".into())
        };
        let full_page = parts.method == axum::http::Method::GET && !parts.headers.contains_key("x-fragment");
        let unread = match &session {
            Some(s) if full_page => app.unread_notifications(&s.principal).await.unwrap_or(0),
            _ => 0,
        };
        let availability =
            session.as_ref().filter(|s| s.principal.is_staff()).map_or("", |s| s.user.availability.as_str());
        let ctx = Ctx {
            availability,
            unread,
            lang,
            tz,
            csrf,
            user_id: session.as_ref().map_or(0, |s| s.user.id.0),
            user_name: session.as_ref().map(|s| s.user.name.clone()).unwrap_or_default(),
            role: session.as_ref().map(|s| s.user.role),
            company: cfg.desk.company_name.clone(),
            flash,
            here,
            cfg,
        };
        Ok(Viewer { session, ctx })
    }
}

impl Ctx {
    /// Whether the flash tells of something that did not happen (shown as a warning, not as
    /// a success).
    pub fn flash_warns(&self) -> bool {
        let key = self.flash.as_deref().map(|f| f.split_once('.').map_or(f, |(k, _)| k)).unwrap_or_default();
        WARNING_FLASHES.contains(&key)
    }

    /// The flash message's text: `flash-key` or `flash-key.N` (with a count).
    pub fn flash_text(&self) -> Option<String> {
        let f = self.flash.as_deref()?;
        let (key, n) = match f.split_once('.') {
            Some((k, n)) => (k, n.parse::<i64>().ok()),
            None => (f, None),
        };
        match n {
            Some(n) => Some(i18n::t_args(self.lang, key, &[("count", n.to_string())])),
            None => i18n::try_t(self.lang, key),
        }
    }
}

/// Flashes that say something was refused or did not work.
const WARNING_FLASHES: [&str; 10] = [
    "flash-calendar-default",
    "flash-still-quarantined",
    "flash-view-builtin",
    "flash-view-not-saved",
    "flash-webhook-in-use",
    "flash-template-in-use",
    "flash-in-use",
    "flash-bulk-none",
    "flash-bulk-nothing",
    "flash-bulk-failed",
];
