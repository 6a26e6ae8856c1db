//! Admin configuration: small tables, read whole.

use async_trait::async_trait;
use gongdan_domain::category::Category;
use gongdan_domain::fields::{CustomFieldDef, Form};
use gongdan_domain::ids::FormId;
use gongdan_domain::tickets::Status;

use super::Result;

#[async_trait]
pub trait ConfigStore: Send + Sync {
    async fn list_statuses(&self) -> Result<Vec<Status>>;
    /// Inserts (id 0) or updates a status; keeps one default per category.
    async fn save_status(&self, status: &Status) -> Result<Status>;
    async fn list_categories(&self) -> Result<Vec<Category>>;
    async fn save_category(&self, category: &Category) -> Result<Category>;
    async fn list_fields(&self) -> Result<Vec<CustomFieldDef>>;
    async fn save_field(&self, field: &CustomFieldDef) -> Result<CustomFieldDef>;
    async fn list_forms(&self) -> Result<Vec<Form>>;
    async fn save_form(&self, form: &Form) -> Result<Form>;
    /// Deletes a form; categories using it fall back to their parent's.
    async fn delete_form(&self, id: FormId) -> Result<()>;
    /// Desk settings as (key, JSON value).
    async fn list_settings(&self) -> Result<Vec<(String, String)>>;
    /// Writes these settings in one transaction (others are kept).
    async fn save_settings(&self, values: &[(String, String)]) -> Result<()>;
}
