//! Form posts from the browser: URL-encoded or multipart (with files), always carrying the
//! CSRF token, which this extractor checks before a handler sees a single field. Also the
//! problem-to-field mapping that shows an error beside the input that caused it.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::{Method, header};
use gongdan_core::{App, CoreError};

use super::UiError;
use super::ctx::Ctx;
use super::i18n;
use crate::session::{SESSION_COOKIE, anonymous_csrf, cookie, same, session_csrf};

/// A file that came with a form.
pub struct Upload {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A posted form, CSRF-checked.
pub struct UiForm {
    pub pairs: Vec<(String, String)>,
    pub files: Vec<Upload>,
}

/// The token a request must carry, and whether it comes from a live session: the session's,
/// or for a signed-out browser (a stale session cookie counts as signed out) the pre-session
/// cookie's. Requests that say they come from another site are refused outright.
pub async fn expected_csrf(app: &App, parts: &axum::http::request::Parts) -> Result<(String, bool), UiError> {
    let headers = &parts.headers;
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|v| v == "cross-site") {
        return Err(UiError::Csrf);
    }
    // Behind a proxy the browser's host arrives as X-Forwarded-Host.
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.split(',').next())
        .map(str::trim);
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()), host) {
        let origin_host = origin.split("://").nth(1).unwrap_or(origin);
        if origin != "null" && origin_host != host {
            return Err(UiError::Csrf);
        }
    }
    let token = match cookie(parts, SESSION_COOKIE) {
        Some(secret) if app.authenticate_session(&secret).await.is_ok() => (session_csrf(&secret), true),
        _ => (anonymous_csrf(parts), false),
    };
    if token.0.is_empty() { Err(UiError::Csrf) } else { Ok(token) }
}

impl FromRequest<App> for UiForm {
    type Rejection = UiError;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let (expected, signed_in) = expected_csrf(app, &parts).await?;
        let ctype =
            parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let mut form = UiForm { pairs: vec![], files: vec![] };
        if ctype.starts_with("multipart/form-data") {
            // Files come only from signed-in pages, and only after the form's token (its
            // first part): nobody makes the server read a large body on a guess.
            if !signed_in {
                return Err(UiError::Csrf);
            }
            let req = Request::from_parts(parts, body);
            let mut mp = Multipart::from_request(req, app).await.map_err(|_| UiError::BadRequest)?;
            loop {
                let field = match mp.next_field().await {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(UiError::TooLarge);
                    }
                    Err(_) => return Err(UiError::BadRequest),
                };
                let name = field.name().unwrap_or_default().to_owned();
                if form.pairs.is_empty() && form.files.is_empty() && name != "_csrf" {
                    return Err(UiError::Csrf);
                }
                match field.file_name().map(str::to_owned) {
                    Some(filename) => {
                        let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
                        let bytes = field.bytes().await.map_err(|_| UiError::TooLarge)?;
                        // An empty file input still sends a part with no name and no bytes.
                        if !filename.is_empty() && !bytes.is_empty() {
                            form.files.push(Upload { filename, content_type, bytes: bytes.to_vec() });
                        }
                    }
                    None => {
                        let text = field.text().await.map_err(|_| UiError::BadRequest)?;
                        if name == "_csrf" && form.pairs.is_empty() && !same(&text, &expected) {
                            return Err(UiError::Csrf);
                        }
                        form.pairs.push((name, text));
                    }
                }
            }
        } else {
            let bytes = axum::body::to_bytes(body, super::FORM_LIMIT).await.map_err(|_| UiError::TooLarge)?;
            form.pairs = serde_urlencoded::from_bytes(&bytes).map_err(|_| UiError::BadRequest)?;
        }
        // NUL cannot be stored (PostgreSQL refuses it) and has no business in a form.
        for (_, v) in form.pairs.iter_mut() {
            if v.contains('\0') {
                *v = v.replace('\0', "");
            }
        }
        if !same(form.get("_csrf").unwrap_or_default(), &expected) {
            return Err(UiError::Csrf);
        }
        Ok(form)
    }
}

impl UiForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The trimmed value, `None` when absent or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
    }

    /// An id field: blank is `None`; junk is an error naming the field.
    pub fn id(&self, name: &str) -> Result<Option<i64>, FormErrors> {
        match self.text(name) {
            None => Ok(None),
            Some(v) => {
                v.parse().map(Some).map_err(|_| FormErrors::one(name, gongdan_domain::Code::InvalidValue.message_key()))
            }
        }
    }

    pub fn ids(&self, name: &str) -> Vec<i64> {
        self.all(name).iter().filter_map(|v| v.trim().parse().ok()).collect()
    }
}

/// A CSRF check for `fetch` calls from our JavaScript: the token comes in `X-CSRF-Token`.
pub struct CsrfHeader;

impl FromRequestParts<App> for CsrfHeader {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, app: &App) -> Result<Self, Self::Rejection> {
        if parts.method == Method::GET {
            return Ok(CsrfHeader);
        }
        let (expected, _) = expected_csrf(app, parts).await?;
        let got = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if same(got, &expected) { Ok(CsrfHeader) } else { Err(UiError::Csrf) }
    }
}

/// Errors to show beside fields (input name → message key or text), plus general ones.
#[derive(Debug, Default, Clone)]
pub struct FormErrors {
    /// Field name → translation key (`error-…`), or literal text for details.
    pub fields: BTreeMap<String, String>,
    pub general: Vec<String>,
}

impl FormErrors {
    pub fn one(field: &str, key: &str) -> Self {
        let mut e = FormErrors::default();
        e.fields.insert(field.to_owned(), key.to_owned());
        e
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }

    /// The message for a field, translated.
    pub fn for_field(&self, ctx: &Ctx, name: &str) -> Option<String> {
        self.fields.get(name).map(|k| i18n::try_t(ctx.lang, k).unwrap_or_else(|| k.clone()))
    }

    /// General messages; an entry `field\u{1f}key` names the input it is about.
    pub fn general_texts(&self, ctx: &Ctx) -> Vec<String> {
        self.general
            .iter()
            .map(|entry| match entry.split_once('\u{1f}') {
                Some((field, k)) => {
                    // The field by its name in the viewer's language (`group_id` → 技能组), as
                    // the timeline names it.
                    let label = i18n::try_t(ctx.lang, &format!("event-field-{}", field.replace('_', "-")));
                    format!(
                        "{}: {}",
                        label.as_deref().unwrap_or(field),
                        i18n::try_t(ctx.lang, k).unwrap_or_else(|| k.to_owned())
                    )
                }
                None => i18n::try_t(ctx.lang, entry).unwrap_or_else(|| entry.clone()),
            })
            .collect()
    }

    /// Maps a use-case failure onto the form: a field error when the problem names an input
    /// this form has (`names`), a general message otherwise. Server faults stay errors.
    pub fn from_core(e: CoreError, names: &[&str]) -> Result<FormErrors, UiError> {
        let field = match &e {
            CoreError::Domain(d) => d.field().map(str::to_owned),
            CoreError::Duplicate { field } => Some(field.clone()),
            CoreError::TooLarge { .. } | CoreError::QuotaExceeded(_) => Some("files".into()),
            CoreError::IdempotencyMismatch | CoreError::Store(_) | CoreError::Internal(_) => return Err(e.into()),
            _ => None,
        };
        let key = e.code().message_key().to_owned();
        let mut out = FormErrors::default();
        // `tags[2]` → `tags`, `requester.email` stays as it is.
        let name = field.as_deref().map(|f| f.split('[').next().unwrap_or(f).to_owned());
        match name {
            Some(n) if names.contains(&n.as_str()) => {
                out.fields.insert(n, key);
            }
            Some(n) => out.general.push(format!("{n}\u{1f}{key}")),
            None => out.general.push(key),
        }
        Ok(out)
    }
}
