//! Service levels as stored: business calendars.

use async_trait::async_trait;
use gongdan_domain::sla::calendar::BusinessCalendar;

use super::Result;

#[async_trait]
pub trait SlaStore: Send + Sync {
    /// In the order they were made.
    async fn list_calendars(&self) -> Result<Vec<BusinessCalendar>>;
    /// Inserts when `id` is 0; a calendar saved as the default makes every other one not.
    async fn save_calendar(&self, c: &BusinessCalendar) -> Result<BusinessCalendar>;
    async fn delete_calendar(&self, id: i64) -> Result<()>;
}
