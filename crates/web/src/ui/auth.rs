//! Signing in and out, the portal's sign-up, and the language switch.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gongdan_core::people::{SignedUp, SignupInput, UserInput};
use gongdan_core::{App, CoreError};
use gongdan_domain::people::Language;
use serde::Deserialize;

use super::ctx::{Ctx, Viewer};
use super::form::{FormErrors, UiForm};
use super::view::{FieldView, with_errors};
use super::{UiError, UiResult, render};
use crate::extract::ClientAddr;
use crate::session::local_path;
use crate::session::{LANG_COOKIE, SESSION_COOKIE, Secure, cookie_attrs};

pub fn router() -> Router<App> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/portal/signup", get(signup_page).post(signup))
        .route("/lang", post(switch_lang))
}

/// `/`: the workspace for staff, the portal for customers, otherwise sign in.
pub async fn home(v: Viewer) -> Response {
    match &v.session {
        Some(s) if s.principal.is_staff() => Redirect::to("/agent").into_response(),
        Some(_) => Redirect::to("/portal").into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    next: String,
    fields: Vec<FieldView>,
    errors: Vec<String>,
    signup: bool,
    /// Customers may ask for a sign-in link by mail (the desk sends mail).
    link_login: bool,
}

fn login_fields(ctx: &Ctx, email: &str) -> Vec<FieldView> {
    vec![
        FieldView::new("email", ctx.t("field-email"), "email", email).required(true),
        FieldView::new("password", ctx.t("field-password"), "password", "").required(true),
    ]
}

async fn login_page(State(app): State<App>, v: Viewer, Query(q): Query<NextQuery>) -> UiResult {
    let next = local_path(q.next.as_deref());
    if let Some(s) = &v.session {
        return Ok(Redirect::to(&after_login(s.principal.is_staff(), &next)).into_response());
    }
    let fields = login_fields(&v.ctx, "");
    let signup = v.ctx.cfg.desk.portal_signup;
    let link_login = app.mails_links().await?;
    render(&LoginPage { ctx: v.ctx, next, fields, errors: vec![], signup, link_login })
}

/// Where a user lands: where they were going if their role may go there.
fn after_login(staff: bool, next: &str) -> String {
    let for_staff = next.starts_with("/agent") || next.starts_with("/admin");
    match (staff, next) {
        (true, n) if for_staff => n.to_owned(),
        (true, _) => "/agent".to_owned(),
        // A confirmation link asks its account to sign in first, then opens.
        (false, n) if n.starts_with("/portal") || n.starts_with("/verify/") => n.to_owned(),
        (false, _) => "/portal".to_owned(),
    }
}

pub(super) fn session_cookie(secret: &str, max_age: i64, secure: bool) -> HeaderValue {
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={secret}; Max-Age={max_age}{}", cookie_attrs(secure)))
        .unwrap_or(HeaderValue::from_static("gongdan_session=; Max-Age=0; Path=/"))
}

async fn login(
    State(app): State<App>,
    v: Viewer,
    Secure(secure): Secure,
    ClientAddr(client): ClientAddr,
    LangCookie(chosen_lang): LangCookie,
    form: UiForm,
) -> UiResult {
    let next = local_path(form.get("next"));
    let email = form.text("email").unwrap_or_default();
    let password = form.get("password").unwrap_or_default().to_owned();
    match app.login(&email, &password, &client).await {
        Ok((secret, user)) => {
            // A language chosen on the sign-in page is the user's latest explicit choice.
            if let Some(lang) = chosen_lang.filter(|l| *l != user.language)
                && let Ok(p) = app.authenticate_session(&secret).await
            {
                app.update_user(&p, user.id, UserInput { language: Some(lang), ..Default::default() }).await?;
            }
            let mut res = Redirect::to(&after_login(user.role.is_staff(), &next)).into_response();
            res.headers_mut()
                .append(header::SET_COOKIE, session_cookie(&secret, app.settings.session_days * 86_400, secure));
            Ok(res)
        }
        Err(e @ (CoreError::Unauthenticated | CoreError::RateLimited { .. })) => {
            let key = if matches!(e, CoreError::RateLimited { .. }) {
                gongdan_domain::Code::RateLimited.message_key()
            } else {
                "login-failed"
            };
            let errors = vec![v.ctx.t(key)];
            let fields = login_fields(&v.ctx, &email);
            let signup = v.ctx.cfg.desk.portal_signup;
            let link_login = app.mails_links().await?;
            let mut res = render(&LoginPage { ctx: v.ctx, next, fields, errors, signup, link_login })?;
            *res.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(State(app): State<App>, v: Viewer, Secure(secure): Secure, _form: UiForm) -> UiResult {
    if let Some(s) = &v.session {
        app.logout(&s.secret).await?;
    }
    let to = if v.session.as_ref().is_some_and(|s| !s.principal.is_staff()) { "/portal" } else { "/login" };
    let mut res = Redirect::to(to).into_response();
    res.headers_mut().append(header::SET_COOKIE, session_cookie("", 0, secure));
    Ok(res)
}

#[derive(Template)]
#[template(path = "portal/signup.html")]
struct SignupPage {
    ctx: Ctx,
    fields: Vec<FieldView>,
    errors: Vec<String>,
}

fn signup_fields(ctx: &Ctx, name: &str, email: &str) -> Vec<FieldView> {
    vec![
        FieldView::new("name", ctx.t("field-name"), "text", name).required(true),
        FieldView::new("email", ctx.t("field-email"), "email", email).required(true),
        // A password being chosen: browsers offer to make one, not to fill in a stored one.
        FieldView::new("password", ctx.t("field-password"), "new-password", "")
            .required(true)
            .hint(ctx.t("field-password-hint")),
    ]
}

async fn signup_page(v: Viewer) -> UiResult {
    if v.session.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    if !v.ctx.cfg.desk.portal_signup {
        return Err(UiError::NotFound);
    }
    let fields = signup_fields(&v.ctx, "", "");
    render(&SignupPage { ctx: v.ctx, fields, errors: vec![] })
}

async fn signup(
    State(app): State<App>,
    v: Viewer,
    Secure(secure): Secure,
    ClientAddr(client): ClientAddr,
    form: UiForm,
) -> UiResult {
    let name = form.text("name").unwrap_or_default();
    let email = form.text("email").unwrap_or_default();
    let input = SignupInput {
        name: name.clone(),
        email: email.clone(),
        password: form.get("password").unwrap_or_default().to_owned(),
        // The language the page was read in, and the desk's time zone until they change it.
        language: Some(v.ctx.lang),
        time_zone: None,
    };
    match app.signup(input, &client).await {
        Ok(SignedUp::Confirm { email }) => {
            let message = v.ctx.t1("link-sent-claim", "email", email);
            let page = super::verification::sent_page(v.ctx, message);
            render(&page)
        }
        Ok(SignedUp::In { session: secret, .. }) => {
            let flash = if app.mails_links().await? { "flash-welcome-confirm" } else { "flash-welcome" };
            let mut res = super::redirect_flash("/portal", flash);
            res.headers_mut()
                .append(header::SET_COOKIE, session_cookie(&secret, app.settings.session_days * 86_400, secure));
            Ok(res)
        }
        Err(CoreError::Forbidden(_)) => Err(UiError::NotFound),
        Err(e) => {
            let mut errors = FormErrors::from_core(e, &["name", "email", "password"])?;
            if errors.fields.get("email").is_some_and(|k| k == gongdan_domain::Code::Duplicate.message_key()) {
                errors.fields.insert("email".into(), "signup-email-taken".into());
            }
            let fields = with_errors(signup_fields(&v.ctx, &name, &email), &v.ctx, &errors);
            let general = errors.general_texts(&v.ctx);
            let mut res = render(&SignupPage { ctx: v.ctx, fields, errors: general })?;
            *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
    }
}

/// The language a browser chose with the switch, if any.
struct LangCookie(Option<Language>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for LangCookie {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(LangCookie(crate::session::cookie(parts, LANG_COOKIE).and_then(|l| Language::parse(&l, "lang").ok())))
    }
}

/// Switches the UI language: remembered in a cookie and, when signed in, in the profile (so
/// later mail speaks it too).
async fn switch_lang(State(app): State<App>, v: Viewer, Secure(secure): Secure, form: UiForm) -> UiResult {
    let lang = Language::parse(form.get("lang").unwrap_or_default(), "lang").map_err(|_| UiError::BadRequest)?;
    if let Some(s) = &v.session {
        let input = UserInput { language: Some(lang), ..Default::default() };
        app.update_user(&s.principal, s.user.id, input).await?;
    }
    let mut res = Redirect::to(&local_path(form.get("next"))).into_response();
    if let Ok(c) =
        HeaderValue::from_str(&format!("{LANG_COOKIE}={}; Max-Age=31536000{}", lang.as_str(), cookie_attrs(secure)))
    {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}
