//! Credentials: API tokens, sessions, and the idempotency keys requests claim.

use async_trait::async_trait;
use gongdan_domain::ids::{TokenId, UserId};
use jiff::Timestamp;

use super::Result;

/// The first request that used an idempotency key, so a retry returns its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub user_id: UserId,
    pub key: String,
    pub request_hash: String,
    /// `ticket`, `comment`, `user` …
    pub resource_kind: String,
    pub resource_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait AuthStore: Send + Sync {
    async fn insert_token(
        &self,
        user_id: UserId,
        name: &str,
        token_hash: &str,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<ApiToken>;
    async fn list_tokens(&self, user_id: UserId) -> Result<Vec<ApiToken>>;
    async fn revoke_token(&self, id: TokenId, now: Timestamp) -> Result<()>;
    /// A token by hash, revoked or not; the caller checks revocation and expiry.
    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>>;
    async fn get_token(&self, id: TokenId) -> Result<Option<ApiToken>>;
    async fn insert_session(
        &self,
        token_hash: &str,
        user_id: UserId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<()>;
    /// The user and expiry of a session.
    async fn find_session(&self, token_hash: &str) -> Result<Option<(UserId, Timestamp)>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Ends every session of a user but the one hashed as `keep`; returns how many ended.
    async fn delete_user_sessions(&self, user_id: UserId, keep: Option<&str>) -> Result<u64>;
    /// Revokes every live token of a user; returns how many.
    async fn revoke_user_tokens(&self, user_id: UserId, now: Timestamp) -> Result<u64>;
    async fn find_idempotency(&self, user_id: UserId, key: &str) -> Result<Option<IdempotencyRecord>>;
}
