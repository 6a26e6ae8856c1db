//! Request extractors that never panic and always answer bad input with a problem naming the
//! field: JSON bodies, query strings, the caller's identity, idempotency keys and `If-Match`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use gongdan_core::App;
use gongdan_core::auth::sha256_hex;
use gongdan_domain::Code;
use gongdan_domain::access::Principal;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::session;

/// A JSON body, deserialised strictly (unknown fields are errors), with a hash of its bytes for
/// idempotency checks.
pub struct ApiJson<T> {
    pub value: T,
    pub hash: String,
}

/// Names the field serde complained about: the path it reached, or the unknown field's name.
fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let msg = inner.to_string();
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        // The reported path already ends at the unknown key.
        let field = if path == "." || path.is_empty() { name.to_owned() } else { path };
        return ApiError::at(Code::UnknownField, &field, format!("unknown field `{name}`"));
    }
    if let Some(rest) = msg.strip_prefix("missing field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        let field = if path == "." || path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
        return ApiError::at(Code::Required, &field, "this field is required");
    }
    let field = if path == "." || path.is_empty() { "body".to_owned() } else { path };
    let detail = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
    ApiError::at(Code::InvalidValue, &field, detail)
}

/// A raw body (an upload, a mail message), or the problem of one too large (`limit`
/// explains the limit) or cut off.
pub fn raw_body(
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    limit: impl FnOnce() -> String,
) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(Code::PayloadTooLarge, limit()).field("body")
        } else {
            ApiError::at(Code::UnreadableBody, "body", e.body_text())
        }
    })
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, then shape: serde_json reports some type mismatches (a number where an
    // enum belongs) as syntax errors when deserialising straight from bytes.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::at(Code::MalformedJson, "body", format!("the body is not valid JSON: {e}")))?;
    // Every body of the API is an object; serde would also take a struct from an array.
    if !value.is_object() {
        return Err(ApiError::at(Code::InvalidValue, "body", "the body must be a JSON object"));
    }
    if let Some(path) = find_nul(&value, String::new()) {
        // Text columns cannot hold NUL (PostgreSQL refuses it); say so up front.
        let field = if path.is_empty() { "body".to_owned() } else { path };
        return Err(ApiError::at(Code::InvalidValue, &field, "text may not contain NUL characters"));
    }
    serde_path_to_error::deserialize(value).map_err(json_error)
}

/// The path of the first string (or key) containing a NUL character.
fn find_nul(v: &serde_json::Value, path: String) -> Option<String> {
    match v {
        serde_json::Value::String(s) => s.contains('\0').then_some(path),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, x)| find_nul(x, format!("{path}[{i}]")))
        }
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
            let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if k.contains('\0') { Some(here) } else { find_nul(x, here) }
        }),
        _ => None,
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !json {
            return Err(
                ApiError::new(Code::UnsupportedMediaType, "send the body as application/json").field("Content-Type")
            );
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(Code::PayloadTooLarge, "the body is too large").field("body")
            } else {
                ApiError::at(Code::UnreadableBody, "body", e.body_text())
            }
        })?;
        let value = parse_json(&bytes)?;
        Ok(ApiJson { value, hash: sha256_hex(&bytes) })
    }
}

/// The query string as ordered pairs; handlers check names and values themselves so that an
/// unknown or malformed parameter is named in the error.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or_default();
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map_err(|e| ApiError::at(Code::InvalidQuery, "query", format!("the query string cannot be read: {e}")))?;
        if let Some((k, _)) = pairs.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(ApiError::at(Code::InvalidQuery, k, "parameters may not contain NUL characters"));
        }
        Ok(QueryPairs(pairs))
    }
}

impl QueryPairs {
    /// Rejects parameters outside `known` (prefix match when a name ends with `.`).
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        for (k, _) in &self.0 {
            let ok =
                known.iter().any(|n| if n.ends_with('.') { k.starts_with(n) && k.len() > n.len() } else { k == n });
            if !ok {
                return Err(ApiError::at(Code::UnknownParameter, k, format!("unknown query parameter `{k}`")));
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn parse<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::at(Code::InvalidQuery, name, format!("`{v}` is not a valid {name}"))),
        }
    }

    /// Comma-separated values of a parameter, over all its occurrences.
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }

    pub fn limit(&self, default: i64, max: i64) -> Result<i64, ApiError> {
        let n = self.parse::<i64>("limit")?.unwrap_or(default);
        if (1..=max).contains(&n) {
            Ok(n)
        } else {
            Err(ApiError::at(Code::InvalidQuery, "limit", format!("limit is 1–{max}")))
        }
    }
}

/// The caller: a bearer token or a session cookie. Absent or invalid → 401.
pub struct Auth(pub Principal);

fn session_cookie(parts: &Parts) -> Option<String> {
    session::session_secret(&parts.headers)
}

/// A cookie-authenticated change must carry the session's CSRF token in `X-CSRF-Token`.
pub fn check_session_csrf(headers: &axum::http::HeaderMap, secret: &str) -> Result<(), ApiError> {
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if session::same(token, &session::session_csrf(secret)) {
        return Ok(());
    }
    Err(ApiError::new(Code::Csrf, "send the page's CSRF token in X-CSRF-Token with cookie-authenticated changes")
        .field("X-CSRF-Token"))
}

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if let Some(h) = parts.headers.get(header::AUTHORIZATION) {
            let token = h
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::new(Code::Unauthenticated, "use `Authorization: Bearer <token>`").field("Authorization")
                })?;
            return Ok(Auth(app.authenticate_token(token).await?));
        }
        if let Some(secret) = session_cookie(parts) {
            // A browser session changes things only with the page's CSRF token: another site
            // can make the browser send the cookie, but cannot read or compute the token.
            if !matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD) {
                check_session_csrf(&parts.headers, &secret)?;
            }
            return Ok(Auth(app.authenticate_session(&secret).await?));
        }
        Err(gongdan_core::CoreError::Unauthenticated.into())
    }
}

/// `Idempotency-Key`, if sent.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get("idempotency-key") else { return Ok(IdempotencyKey(None)) };
        let key = v.to_str().map(str::trim).unwrap_or_default();
        if key.is_empty() || key.len() > 255 {
            return Err(ApiError::at(Code::InvalidHeader, "Idempotency-Key", "1–255 visible ASCII characters"));
        }
        Ok(IdempotencyKey(Some(key.to_owned())))
    }
}

/// `If-Match: "3"` (the ETag a read returned, or a bare number). `*` matches any current
/// version, as if absent; anything else is a 400. A stale one answers 412 (`if_match_failed`).
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else { return Ok(IfMatch(None)) };
        let bad = || ApiError::at(Code::InvalidHeader, "If-Match", "expected the ticket's ETag, e.g. \"3\"");
        let text = v.to_str().map_err(|_| bad())?.trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        let tag = text.strip_prefix("W/").unwrap_or(text);
        let inner = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(tag);
        match inner.parse::<i64>() {
            Ok(n) if n > 0 && !inner.starts_with('+') => Ok(IfMatch(Some(n))),
            _ => Err(bad()),
        }
    }
}

/// A write's error when its version came from `If-Match`: a stale version is a failed
/// precondition (412), not a conflict in the body (409).
pub fn if_match_failed(from_header: bool) -> impl Fn(gongdan_core::CoreError) -> ApiError {
    move |e| match e {
        gongdan_core::CoreError::VersionConflict if from_header => {
            ApiError::new(Code::PreconditionFailed, "the ticket changed since that ETag; read it again")
                .field("If-Match")
        }
        e => e.into(),
    }
}

/// The client address for rate limiting: the socket peer, or, when the peer is one of the
/// configured trusted proxies, the right-most `X-Forwarded-For` entry that is not one of them
/// (entries further left were written by the client and prove nothing).
pub struct ClientAddr(pub String);

pub fn client_addr(parts: &Parts, trusted: &[gongdan_core::IpNet]) -> String {
    let Some(peer) = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())
    else {
        return "unknown".into();
    };
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer.to_string();
    }
    let forwarded: Vec<std::net::IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded.into_iter().rev().find(|ip| !is_trusted(*ip)).unwrap_or(peer).to_string()
}

impl FromRequestParts<App> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts, &app.settings.trusted_proxies)))
    }
}

/// A path parameter; a malformed one is a 400 problem, not a plain-text rejection.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| ApiError::at(Code::InvalidPath, "path", e.body_text()))
    }
}
