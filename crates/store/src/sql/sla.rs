//! Business calendars.

use gongdan_domain::sla::calendar::BusinessCalendar;

use super::*;

#[async_trait]
impl SlaStore for SqlStore {
    async fn list_calendars(&self) -> Result<Vec<BusinessCalendar>> {
        type Row = (i64, String, String, bool, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, spec, is_default, created_at, updated_at FROM business_calendars ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, name, spec, is_default, created, updated)| {
                Ok(BusinessCalendar {
                    id,
                    name,
                    spec: json(&spec)?,
                    is_default,
                    created_at: from_ts(created)?,
                    updated_at: from_ts(updated)?,
                })
            })
            .collect()
    }

    async fn save_calendar(&self, c: &BusinessCalendar) -> Result<BusinessCalendar> {
        let cols = ["name", "spec", "is_default", "created_at", "updated_at"];
        let spec = to_json(&c.spec)?;
        let id = upsert(self, "business_calendars", &cols, c.id, |q| {
            q.bind(c.name.clone()).bind(spec).bind(c.is_default).bind(ts(c.created_at)).bind(ts(c.updated_at))
        })
        .await?;
        if c.is_default {
            sqlx::query("UPDATE business_calendars SET is_default = FALSE WHERE id <> $1 AND is_default")
                .bind(id)
                .execute(&self.write)
                .await?;
        }
        Ok(BusinessCalendar { id, ..c.clone() })
    }

    async fn delete_calendar(&self, id: i64) -> Result<()> {
        delete_row(self, "business_calendars", id).await
    }
}
