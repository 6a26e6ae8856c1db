//! API tokens, sessions and idempotency records.

use super::*;

#[async_trait]
impl AuthStore for SqlStore {
    async fn insert_token(
        &self,
        user_id: UserId,
        name: &str,
        token_hash: &str,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<ApiToken> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id.0)
        .bind(name)
        .bind(token_hash)
        .bind(expires_at.map(ts))
        .bind(ts(now))
        .fetch_one(&self.write)
        .await?;
        Ok(ApiToken { id: TokenId(id), user_id, name: name.to_owned(), expires_at, revoked_at: None, created_at: now })
    }

    async fn list_tokens(&self, user_id: UserId) -> Result<Vec<ApiToken>> {
        let rows: Vec<TokenRow> =
            sqlx::query_as("SELECT id, user_id, name, expires_at, revoked_at, created_at FROM api_tokens WHERE user_id = $1 ORDER BY id")
                .bind(user_id.0)
                .fetch_all(&self.read)
                .await?;
        rows.into_iter().map(ApiToken::try_from).collect()
    }

    async fn revoke_token(&self, id: TokenId, now: Timestamp) -> Result<()> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(ts(now))
            .bind(id.0)
            .execute(&self.write)
            .await?;
        matched(done)?;
        Ok(())
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT id, user_id, name, expires_at, revoked_at, created_at FROM api_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.map(ApiToken::try_from).transpose()
    }

    async fn get_token(&self, id: TokenId) -> Result<Option<ApiToken>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT id, user_id, name, expires_at, revoked_at, created_at FROM api_tokens WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?;
        row.map(ApiToken::try_from).transpose()
    }

    async fn insert_session(
        &self,
        token_hash: &str,
        user_id: UserId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id.0)
            .bind(ts(expires_at))
            .bind(ts(now))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn find_session(&self, token_hash: &str) -> Result<Option<(UserId, Timestamp)>> {
        let row: Option<(i64, i64)> = sqlx::query_as("SELECT user_id, expires_at FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await?;
        row.map(|(u, e)| Ok((UserId(u), from_ts(e)?))).transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.write).await?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: UserId, keep: Option<&str>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id.0)
            .bind(keep.unwrap_or(""))
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    async fn revoke_user_tokens(&self, user_id: UserId, now: Timestamp) -> Result<u64> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(ts(now))
            .bind(user_id.0)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    async fn find_idempotency(&self, user_id: UserId, key: &str) -> Result<Option<IdempotencyRecord>> {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT request_hash, resource_kind, resource_id FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user_id.0)
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|(request_hash, resource_kind, resource_id)| IdempotencyRecord {
            user_id,
            key: key.to_owned(),
            request_hash,
            resource_kind,
            resource_id,
        }))
    }
}
