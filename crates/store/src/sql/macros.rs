//! Macros.

use super::*;

#[async_trait]
impl MacroStore for SqlStore {
    async fn list_macros(&self) -> Result<Vec<MacroRow>> {
        type Row = (i64, String, Option<i64>, bool, i64, String, String, bool, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, owner_id, active, position, actions, reply_body, reply_public, created_at, updated_at \
             FROM macros ORDER BY position, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, name, owner, active, position, actions, reply_body, reply_public, created, updated)| {
                Ok(MacroRow {
                    id,
                    name,
                    owner_id: owner.map(UserId),
                    active,
                    position,
                    actions: json(&actions)?,
                    reply_body,
                    reply_public,
                    created_at: from_ts(created)?,
                    updated_at: from_ts(updated)?,
                })
            })
            .collect()
    }

    async fn save_macro(&self, m: &MacroRow) -> Result<MacroRow> {
        let actions = to_json(&m.actions)?;
        let cols = [
            "name",
            "owner_id",
            "active",
            "position",
            "actions",
            "reply_body",
            "reply_public",
            "created_at",
            "updated_at",
        ];
        let id = upsert(self, "macros", &cols, m.id, |q| {
            q.bind(m.name.clone())
                .bind(m.owner_id.map(|o| o.0))
                .bind(m.active)
                .bind(m.position)
                .bind(actions)
                .bind(m.reply_body.clone())
                .bind(m.reply_public)
                .bind(ts(m.created_at))
                .bind(ts(m.updated_at))
        })
        .await?;
        Ok(MacroRow { id, ..m.clone() })
    }

    async fn delete_macro(&self, id: i64) -> Result<()> {
        delete_row(self, "macros", id).await
    }
}
