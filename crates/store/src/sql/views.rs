//! Views.

use super::*;

#[async_trait]
impl ViewStore for SqlStore {
    async fn list_views(&self) -> Result<Vec<ViewRow>> {
        type Row = (i64, Option<String>, String, Option<i64>, Option<i64>, bool, i64, String, String, String, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, key, name, owner_id, group_id, active, position, filters, columns, sort, created_at, updated_at \
             FROM views ORDER BY position, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, key, name, owner, group, active, position, filters, columns, sort, created, updated)| {
                Ok(ViewRow {
                    id,
                    key,
                    name,
                    owner_id: owner.map(UserId),
                    group_id: group.map(GroupId),
                    active,
                    position,
                    filters: json(&filters)?,
                    columns: json(&columns)?,
                    sort,
                    created_at: from_ts(created)?,
                    updated_at: from_ts(updated)?,
                })
            })
            .collect()
    }

    async fn save_view(&self, v: &ViewRow) -> Result<ViewRow> {
        let (filters, columns) = (to_json(&v.filters)?, to_json(&v.columns)?);
        let cols = [
            "key",
            "name",
            "owner_id",
            "group_id",
            "active",
            "position",
            "filters",
            "columns",
            "sort",
            "created_at",
            "updated_at",
        ];
        let id = upsert(self, "views", &cols, v.id, |q| {
            q.bind(v.key.clone())
                .bind(v.name.clone())
                .bind(v.owner_id.map(|o| o.0))
                .bind(v.group_id.map(|g| g.0))
                .bind(v.active)
                .bind(v.position)
                .bind(filters)
                .bind(columns)
                .bind(v.sort.clone())
                .bind(ts(v.created_at))
                .bind(ts(v.updated_at))
        })
        .await?;
        Ok(ViewRow { id, ..v.clone() })
    }

    async fn delete_view(&self, id: i64) -> Result<()> {
        delete_row(self, "views", id).await
    }
}
