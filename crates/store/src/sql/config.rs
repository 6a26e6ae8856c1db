//! Statuses, categories, custom fields, forms and desk settings.

use super::*;

#[async_trait]
impl ConfigStore for SqlStore {
    async fn list_statuses(&self) -> Result<Vec<Status>> {
        type Row = (i64, String, String, String, String, bool, i64, bool);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, key, category, label_zh, label_en, is_default, position, active FROM statuses ORDER BY position, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, key, category, label_zh, label_en, is_default, position, active)| {
                Ok(Status {
                    id: StatusId(id),
                    key,
                    category: StatusCategory::parse(&category, "category").map_err(corrupt)?,
                    label_zh,
                    label_en,
                    is_default,
                    position,
                    active,
                })
            })
            .collect()
    }

    async fn save_status(&self, s: &Status) -> Result<Status> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        if s.is_default {
            sqlx::query("UPDATE statuses SET is_default = FALSE WHERE category = $1 AND id <> $2")
                .bind(s.category.as_str())
                .bind(s.id.0)
                .execute(&mut *tx)
                .await?;
        }
        let id = if s.id.0 == 0 {
            sqlx::query_scalar(
                "INSERT INTO statuses (key, category, label_zh, label_en, is_default, position, active) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&s.key)
            .bind(s.category.as_str())
            .bind(&s.label_zh)
            .bind(&s.label_en)
            .bind(s.is_default)
            .bind(s.position)
            .bind(s.active)
            .fetch_one(&mut *tx)
            .await?
        } else {
            // The key and category are fixed once tickets may carry the status.
            let done = sqlx::query("UPDATE statuses SET label_zh = $1, label_en = $2, is_default = $3, position = $4, active = $5 WHERE id = $6")
                .bind(&s.label_zh)
                .bind(&s.label_en)
                .bind(s.is_default)
                .bind(s.position)
                .bind(s.active)
                .bind(s.id.0)
                .execute(&mut *tx)
                .await?;
            matched(done)?;
            s.id.0
        };
        tx.commit().await?;
        Ok(Status { id: StatusId(id), ..s.clone() })
    }

    async fn list_categories(&self) -> Result<Vec<Category>> {
        type Row = (i64, Option<i64>, String, String, i64, Option<i64>, bool);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, parent_id, name_zh, name_en, position, form_id, active FROM categories ORDER BY position, id",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, parent, name_zh, name_en, position, form, active)| Category {
                id: CategoryId(id),
                parent_id: parent.map(CategoryId),
                name_zh,
                name_en,
                position,
                form_id: form.map(FormId),
                active,
            })
            .collect())
    }

    async fn save_category(&self, c: &Category) -> Result<Category> {
        let id = if c.id.0 == 0 {
            sqlx::query_scalar(
                "INSERT INTO categories (parent_id, name_zh, name_en, position, form_id, active) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(c.parent_id.map(|p| p.0))
            .bind(&c.name_zh)
            .bind(&c.name_en)
            .bind(c.position)
            .bind(c.form_id.map(|f| f.0))
            .bind(c.active)
            .fetch_one(&self.write)
            .await?
        } else {
            let done = sqlx::query(
                "UPDATE categories SET parent_id = $1, name_zh = $2, name_en = $3, position = $4, form_id = $5, active = $6 WHERE id = $7",
            )
            .bind(c.parent_id.map(|p| p.0))
            .bind(&c.name_zh)
            .bind(&c.name_en)
            .bind(c.position)
            .bind(c.form_id.map(|f| f.0))
            .bind(c.active)
            .bind(c.id.0)
            .execute(&self.write)
            .await?;
            matched(done)?;
            c.id.0
        };
        Ok(Category { id: CategoryId(id), ..c.clone() })
    }

    async fn list_fields(&self) -> Result<Vec<CustomFieldDef>> {
        type Row = (i64, String, String, String, String, String, String, Option<String>, bool, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, scope, key, kind, label_zh, label_en, options, pattern, active, position FROM custom_fields ORDER BY position, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, scope, key, kind, label_zh, label_en, options, pattern, active, position)| {
                Ok(CustomFieldDef {
                    id: FieldId(id),
                    scope: FieldScope::parse(&scope, "scope").map_err(corrupt)?,
                    key,
                    kind: FieldKind::parse(&kind, "kind").map_err(corrupt)?,
                    label_zh,
                    label_en,
                    options: json(&options)?,
                    pattern,
                    active,
                    position,
                })
            })
            .collect()
    }

    async fn save_field(&self, f: &CustomFieldDef) -> Result<CustomFieldDef> {
        let id = if f.id.0 == 0 {
            sqlx::query_scalar(
                "INSERT INTO custom_fields (scope, key, kind, label_zh, label_en, options, pattern, active, position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(f.scope.as_str())
            .bind(&f.key)
            .bind(f.kind.as_str())
            .bind(&f.label_zh)
            .bind(&f.label_en)
            .bind(to_json(&f.options)?)
            .bind(f.pattern.as_deref())
            .bind(f.active)
            .bind(f.position)
            .fetch_one(&self.write)
            .await?
        } else {
            // Scope, key and kind stay: stored values were validated against them.
            let done = sqlx::query(
                "UPDATE custom_fields SET label_zh = $1, label_en = $2, options = $3, pattern = $4, active = $5, position = $6 WHERE id = $7",
            )
            .bind(&f.label_zh)
            .bind(&f.label_en)
            .bind(to_json(&f.options)?)
            .bind(f.pattern.as_deref())
            .bind(f.active)
            .bind(f.position)
            .bind(f.id.0)
            .execute(&self.write)
            .await?;
            matched(done)?;
            f.id.0
        };
        Ok(CustomFieldDef { id: FieldId(id), ..f.clone() })
    }

    async fn list_forms(&self) -> Result<Vec<Form>> {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, name, fields FROM forms ORDER BY id").fetch_all(&self.read).await?;
        rows.into_iter().map(|(id, name, fields)| Ok(Form { id: FormId(id), name, fields: json(&fields)? })).collect()
    }

    async fn save_form(&self, f: &Form) -> Result<Form> {
        let id = if f.id.0 == 0 {
            sqlx::query_scalar("INSERT INTO forms (name, fields) VALUES ($1, $2) RETURNING id")
                .bind(&f.name)
                .bind(to_json(&f.fields)?)
                .fetch_one(&self.write)
                .await?
        } else {
            let done = sqlx::query("UPDATE forms SET name = $1, fields = $2 WHERE id = $3")
                .bind(&f.name)
                .bind(to_json(&f.fields)?)
                .bind(f.id.0)
                .execute(&self.write)
                .await?;
            matched(done)?;
            f.id.0
        };
        Ok(Form { id: FormId(id), ..f.clone() })
    }

    async fn delete_form(&self, id: FormId) -> Result<()> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        sqlx::query("UPDATE categories SET form_id = NULL WHERE form_id = $1").bind(id.0).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM forms WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        matched(done)?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_settings(&self) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as("SELECT key, value FROM settings ORDER BY key").fetch_all(&self.read).await?)
    }

    async fn save_settings(&self, values: &[(String, String)]) -> Result<()> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        for (k, v) in values {
            sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
