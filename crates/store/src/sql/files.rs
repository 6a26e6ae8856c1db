//! Attachments: uploads within a quota, and reading them back.

use super::*;

#[async_trait]
impl FileStore for SqlStore {
    async fn insert_attachment(&self, a: &Attachment, quota: &UploadQuota) -> Result<Option<Attachment>> {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO attachments (sha256, filename, content_type, size, uploader_id, created_at) \
             SELECT $1, $2, $3, $4, $5, $6 FROM (SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS total \
               FROM attachments WHERE uploader_id = $5 AND comment_id IS NULL AND created_at >= $7) AS used \
             WHERE used.n < $8 AND used.total + $4 <= $9 RETURNING id",
        )
        .bind(&a.sha256)
        .bind(&a.filename)
        .bind(&a.content_type)
        .bind(a.size)
        .bind(a.uploader_id.0)
        .bind(ts(a.created_at))
        .bind(ts(quota.since))
        .bind(quota.files)
        .bind(quota.bytes)
        .fetch_optional(&self.write)
        .await?;
        Ok(id.map(|id| Attachment { id: AttachmentId(id), comment_id: None, ..a.clone() }))
    }

    async fn upload_fits(&self, user: UserId, size: i64, quota: &UploadQuota) -> Result<bool> {
        let (n, total): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM attachments \
             WHERE uploader_id = $1 AND comment_id IS NULL AND created_at >= $2",
        )
        .bind(user.0)
        .bind(ts(quota.since))
        .fetch_one(&self.read)
        .await?;
        Ok(n < quota.files && total + size <= quota.bytes)
    }

    async fn get_attachment(&self, id: AttachmentId) -> Result<Option<(Attachment, Option<TicketId>)>> {
        let row: Option<AttachmentRow> =
            sqlx::query_as(AssertSqlSafe(format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE id = $1")))
                .bind(id.0)
                .fetch_optional(&self.read)
                .await?;
        row.map(AttachmentRow::into_domain).transpose()
    }
}
