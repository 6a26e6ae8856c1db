//! Links mailed to prove an address, in the browser: asking for a sign-in link from the sign-in
//! page, the page a link opens (a button to press, so that a mail scanner fetching the link
//! opens nothing; a password to set for a claim), and a new confirmation link from the portal.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::post;
use gongdan_core::verification::LinkError;
use gongdan_core::{App, CoreError};
use gongdan_domain::verification::{Purpose, Refused};

use super::ctx::{Ctx, Viewer};
use super::form::{FormErrors, UiForm};
use super::view::{FieldView, with_errors};
use super::{UiError, UiResult, redirect_flash, render};
use crate::extract::ClientAddr;
use crate::session::Secure;

pub fn router() -> Router<App> {
    Router::new()
        .route("/login/link", post(request_link))
        .route("/verify/{secret}", axum::routing::get(link_page).post(open))
        .route("/portal/verify", post(resend))
}

#[derive(Template)]
#[template(path = "verification.html")]
pub(super) struct LinkPage {
    ctx: Ctx,
    title: String,
    message: String,
    errors: Vec<String>,
    action: Option<String>,
    fields: Vec<FieldView>,
    button: String,
    back: String,
    back_label: String,
}

impl LinkPage {
    /// A page that only says something.
    fn message(ctx: Ctx, title: &str, message: String) -> LinkPage {
        LinkPage {
            title: ctx.t(title),
            message,
            errors: vec![],
            action: None,
            fields: vec![],
            button: String::new(),
            back: "/login?next=/portal".into(),
            back_label: ctx.t("link-back-login"),
            ctx,
        }
    }
}

/// "A link is on its way" (after a sign-up that claims a known address).
pub(super) fn sent_page(ctx: Ctx, message: String) -> LinkPage {
    LinkPage::message(ctx, "link-title-sent", message)
}

/// A page with a status of its own. (Its address may hold a secret: the desk-wide
/// `Referrer-Policy: same-origin` keeps it from other sites.)
fn private(page: &LinkPage, status: StatusCode) -> UiResult {
    let mut res = render(page)?;
    *res.status_mut() = status;
    Ok(res)
}

/// What went wrong mailing a link, said to the person asking.
fn mail_failed(ctx: Ctx, e: CoreError) -> UiResult {
    let (key, status) = match &e {
        CoreError::RateLimited { .. } => {
            (gongdan_domain::Code::RateLimited.message_key(), StatusCode::TOO_MANY_REQUESTS)
        }
        CoreError::Unavailable(_) => ("link-mail-failed", StatusCode::SERVICE_UNAVAILABLE),
        CoreError::Domain(_) => ("error-invalid_email", StatusCode::UNPROCESSABLE_ENTITY),
        CoreError::Forbidden(_) => return Err(UiError::NotFound),
        _ => return Err(e.into()),
    };
    let message = ctx.t(key);
    private(&LinkPage::message(ctx, "link-title-sent", message), status)
}

/// A sign-in link to the address, if a customer has it; the page says the same either way.
async fn request_link(State(app): State<App>, v: Viewer, ClientAddr(client): ClientAddr, form: UiForm) -> UiResult {
    let email = form.text("email").unwrap_or_default();
    match app.request_sign_in_link(&email, &client).await {
        Ok(()) => {
            let message = v.ctx.t1("link-sent-sign-in", "email", email.trim());
            private(&LinkPage::message(v.ctx, "link-title-sent", message), StatusCode::OK)
        }
        Err(e) => mail_failed(v.ctx, e),
    }
}

/// Why a link does not open, in words.
fn refused(ctx: Ctx, e: LinkError) -> UiResult {
    let key = match e {
        LinkError::Unknown => "link-unknown",
        LinkError::Refused(Refused::Used) => "link-used",
        LinkError::Refused(Refused::Expired) => "link-expired",
        LinkError::Refused(Refused::Stale) => "link-stale",
        LinkError::Refused(Refused::SignInFirst) => "link-sign-in-first",
        LinkError::Core(e) => return Err(e.into()),
    };
    let message = ctx.t(key);
    private(&LinkPage::message(ctx, "link-title-closed", message), StatusCode::GONE)
}

fn password_field(ctx: &Ctx) -> FieldView {
    FieldView::new("password", ctx.t("field-new-password"), "new-password", "")
        .required(true)
        .hint(ctx.t("field-password-hint"))
}

/// The page a link opens: what pressing its button will do.
fn open_page(ctx: Ctx, secret: &str, purpose: Purpose, email: &str, fields: Vec<FieldView>) -> LinkPage {
    let (title, message, button) = match purpose {
        Purpose::SignIn => ("link-title-sign-in", "link-sign-in", "link-sign-in-submit"),
        Purpose::Claim => ("link-title-claim", "link-claim", "link-claim-submit"),
        Purpose::Verify => ("link-title-verify", "link-verify", "link-verify-submit"),
    };
    LinkPage {
        title: ctx.t(title),
        message: ctx.t1(message, "email", email),
        errors: vec![],
        action: Some(format!("/verify/{secret}")),
        fields,
        button: ctx.t(button),
        back: "/portal".into(),
        back_label: ctx.t("link-back-portal"),
        ctx,
    }
}

async fn link_page(State(app): State<App>, v: Viewer, Path(secret): Path<String>) -> UiResult {
    let opener = v.session.as_ref().map(|s| s.principal.user_id);
    match app.peek_link(&secret, opener).await {
        Ok(link) => {
            let fields = if link.purpose == Purpose::Claim { vec![password_field(&v.ctx)] } else { vec![] };
            private(&open_page(v.ctx, &secret, link.purpose, &link.email, fields), StatusCode::OK)
        }
        // A confirmation needs its own account's session: sign in and come back.
        Err(LinkError::Refused(Refused::SignInFirst)) if opener.is_none() => {
            Ok(Redirect::to(&format!("/login?next=/verify/{secret}")).into_response())
        }
        Err(e) => refused(v.ctx, e),
    }
}

async fn open(
    State(app): State<App>,
    v: Viewer,
    Secure(secure): Secure,
    Path(secret): Path<String>,
    form: UiForm,
) -> UiResult {
    let opener = v.session.as_ref().map(|s| s.principal.user_id);
    let password = form.get("password").map(str::to_owned);
    match app.open_link(&secret, opener, password.as_deref()).await {
        Ok(opened) => {
            let flash = match opened.purpose {
                Purpose::SignIn => "flash-signed-in-by-link",
                Purpose::Claim => "flash-password-set",
                Purpose::Verify => "flash-address-confirmed",
            };
            let mut res = redirect_flash("/portal", flash);
            if let Some(session) = &opened.session {
                let cookie = super::auth::session_cookie(session, app.settings.session_days * 86_400, secure);
                res.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(res)
        }
        // A password that will not do: the page again, the error beside the field.
        Err(LinkError::Core(e @ CoreError::Domain(_))) => {
            let link = match app.peek_link(&secret, opener).await {
                Ok(l) => l,
                Err(e) => return refused(v.ctx, e),
            };
            let errors = FormErrors::from_core(e, &["password"])?;
            let fields = with_errors(vec![password_field(&v.ctx)], &v.ctx, &errors);
            let mut page = open_page(v.ctx, &secret, link.purpose, &link.email, fields);
            page.errors = errors.general_texts(&page.ctx);
            private(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => refused(v.ctx, e),
    }
}

/// A new confirmation link for the signed-in customer.
async fn resend(State(app): State<App>, v: Viewer, _form: UiForm) -> UiResult {
    let s = v.customer()?;
    match app.resend_verification(&s.principal).await {
        Ok(()) => Ok(redirect_flash("/portal", "flash-verify-sent")),
        Err(e) => mail_failed(v.ctx, e),
    }
}
