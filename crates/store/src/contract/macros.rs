//! Macros as stored.

use async_trait::async_trait;
use gongdan_domain::ids::UserId;
use gongdan_domain::rules::ActionSpec;
use jiff::Timestamp;

use super::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct MacroRow {
    pub id: i64,
    pub name: String,
    /// `None`: shared with every agent.
    pub owner_id: Option<UserId>,
    pub active: bool,
    pub position: i64,
    pub actions: Vec<ActionSpec>,
    pub reply_body: String,
    pub reply_public: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait MacroStore: Send + Sync {
    async fn list_macros(&self) -> Result<Vec<MacroRow>>;
    async fn save_macro(&self, m: &MacroRow) -> Result<MacroRow>;
    async fn delete_macro(&self, id: i64) -> Result<()>;
}
