//! Links mailed to prove an address, kept by their secret's hash and taken once.

use async_trait::async_trait;
use gongdan_domain::ids::UserId;
use gongdan_domain::verification::{Link, Purpose};
use jiff::Timestamp;

use super::Result;

#[async_trait]
pub trait VerificationStore: Send + Sync {
    async fn insert_link(&self, link: &Link, token_hash: &str) -> Result<Link>;
    async fn find_link(&self, token_hash: &str) -> Result<Option<Link>>;
    /// Takes the link: false when it was taken already (the other opening won).
    async fn use_link(&self, id: i64, at: Timestamp) -> Result<bool>;
    /// Links of one purpose made for a user since a time (the mailing limit).
    async fn count_links(&self, user: UserId, purpose: Purpose, since: Timestamp) -> Result<i64>;
    async fn set_email_verified(&self, user: UserId, at: Timestamp) -> Result<()>;
}
