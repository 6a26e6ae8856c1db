//! Mailed links that prove an address.

use gongdan_domain::verification::{Link, Purpose};

use super::*;

type LinkRow = (i64, String, i64, String, i64, Option<i64>, i64);

fn link((id, purpose, user_id, email, expires, used, created): LinkRow) -> Result<Link> {
    Ok(Link {
        id,
        purpose: Purpose::parse(&purpose, "purpose").map_err(corrupt)?,
        user_id: UserId(user_id),
        email,
        expires_at: from_ts(expires)?,
        used_at: opt_ts(used)?,
        created_at: from_ts(created)?,
    })
}

#[async_trait]
impl VerificationStore for SqlStore {
    async fn insert_link(&self, l: &Link, token_hash: &str) -> Result<Link> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO verification_links (token_hash, purpose, user_id, email, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(token_hash)
        .bind(l.purpose.as_str())
        .bind(l.user_id.0)
        .bind(&l.email)
        .bind(ts(l.expires_at))
        .bind(ts(l.created_at))
        .fetch_one(&self.write)
        .await?;
        Ok(Link { id, ..l.clone() })
    }

    async fn find_link(&self, token_hash: &str) -> Result<Option<Link>> {
        let row: Option<LinkRow> = sqlx::query_as(
            "SELECT id, purpose, user_id, email, expires_at, used_at, created_at \
             FROM verification_links WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.map(link).transpose()
    }

    async fn use_link(&self, id: i64, at: Timestamp) -> Result<bool> {
        let done = sqlx::query("UPDATE verification_links SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(ts(at))
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_links(&self, user: UserId, purpose: Purpose, since: Timestamp) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM verification_links WHERE user_id = $1 AND purpose = $2 AND created_at >= $3",
        )
        .bind(user.0)
        .bind(purpose.as_str())
        .bind(ts(since))
        .fetch_one(&self.read)
        .await?)
    }

    async fn set_email_verified(&self, user: UserId, at: Timestamp) -> Result<()> {
        let done = sqlx::query("UPDATE users SET email_verified_at = $1 WHERE id = $2")
            .bind(ts(at))
            .bind(user.0)
            .execute(&self.write)
            .await?;
        matched(done)
    }
}
