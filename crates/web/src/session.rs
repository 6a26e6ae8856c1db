//! Browser sessions for the API and the pages alike: the cookies Gongdan sets and reads, and
//! the CSRF tokens that cookie-authenticated changes must carry.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use gongdan_core::auth::sha256_hex;

pub const SESSION_COOKIE: &str = "gongdan_session";
pub const LANG_COOKIE: &str = "gongdan_lang";
pub const CSRF_COOKIE: &str = "gongdan_csrf";
pub const FLASH_COOKIE: &str = "gongdan_flash";

/// A cookie's value from the request.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    cookie_in(&parts.headers, name)
}

/// A cookie's value from a request's headers.
pub fn cookie_in(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_owned())
    })
}

/// The CSRF token of a signed-in browser: derived from the session secret, which only the
/// `HttpOnly` cookie carries, so another site can neither read nor compute it.
pub fn session_csrf(secret: &str) -> String {
    sha256_hex(format!("csrf|{secret}").as_bytes())[..32].to_owned()
}

/// The token signed-out forms (sign in, sign up) carry: the pre-session cookie's value, set by
/// the UI middleware on the first visit.
pub fn anonymous_csrf(parts: &Parts) -> String {
    parts.extensions.get::<AnonCsrf>().map(|a| a.0.clone()).or_else(|| cookie(parts, CSRF_COOKIE)).unwrap_or_default()
}

/// The pre-session CSRF value a request carries or was just given.
#[derive(Clone)]
pub struct AnonCsrf(pub String);

/// Whether the request came over TLS (through a proxy that says so).
pub(crate) fn secure_request(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// Cookie attributes: `HttpOnly`, `SameSite=Lax`, and `Secure` when the request came over TLS
/// (through a proxy that says so).
pub fn cookie_attrs(parts_secure: bool) -> &'static str {
    if parts_secure { "; Path=/; HttpOnly; SameSite=Lax; Secure" } else { "; Path=/; HttpOnly; SameSite=Lax" }
}

/// Whether this request arrived over TLS.
pub struct Secure(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Secure {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Secure(secure_request(&parts.headers)))
    }
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session cookie's secret, if the request carries one.
pub fn session_secret(headers: &HeaderMap) -> Option<String> {
    cookie_in(headers, SESSION_COOKIE)
}

/// A local path to return to after signing in; anything else (another site) becomes `/`.
pub fn local_path(next: Option<&str>) -> String {
    // Browsers drop tabs and newlines from URLs (`/\t/evil` is `//evil`) and a control
    // character cannot be a header: neither is a local path.
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/agent/tickets/10001")), "/agent/tickets/10001");
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "evil", "/\t/evil.example", "/a\nb"] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
    }
}
