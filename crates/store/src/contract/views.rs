//! Views as stored.

use async_trait::async_trait;
use gongdan_domain::ids::{GroupId, UserId};
use jiff::Timestamp;
use serde_json::Value;

use super::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct ViewRow {
    pub id: i64,
    /// Built-in views have a key (their name is translated).
    pub key: Option<String>,
    pub name: String,
    /// Personal views have an owner; group views a group; shared views neither.
    pub owner_id: Option<UserId>,
    pub group_id: Option<GroupId>,
    pub active: bool,
    pub position: i64,
    /// Filters as the list API takes them (`status`, `assignee_id`, `group_id` …).
    pub filters: Value,
    pub columns: Vec<String>,
    pub sort: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait ViewStore: Send + Sync {
    async fn list_views(&self) -> Result<Vec<ViewRow>>;
    async fn save_view(&self, v: &ViewRow) -> Result<ViewRow>;
    async fn delete_view(&self, id: i64) -> Result<()>;
}
