//! Webhooks and the in-app notification inbox.

use gongdan_domain::notifications::{NotificationTemplate, Texts, Wording};

use super::*;

type NotificationRow = (i64, i64, Option<i64>, Option<String>, String, String, i64, Option<i64>);

fn notification(r: NotificationRow) -> Result<Notification> {
    let (id, user_id, ticket_id, rule, subject, body, created, read) = r;
    Ok(Notification {
        id,
        user_id: UserId(user_id),
        ticket_id: ticket_id.map(TicketId),
        rule,
        subject,
        body,
        created_at: from_ts(created)?,
        read_at: opt_ts(read)?,
    })
}

#[async_trait]
impl NotificationStore for SqlStore {
    async fn list_webhooks(&self) -> Result<Vec<WebhookRow>> {
        type Row = (i64, String, String, String, bool, i64, i64);
        let rows: Vec<Row> =
            sqlx::query_as("SELECT id, name, url, secret, active, created_at, updated_at FROM webhooks ORDER BY id")
                .fetch_all(&self.read)
                .await?;
        rows.into_iter()
            .map(|(id, name, url, secret, active, created, updated)| {
                Ok(WebhookRow {
                    id,
                    name,
                    url,
                    secret,
                    active,
                    created_at: from_ts(created)?,
                    updated_at: from_ts(updated)?,
                })
            })
            .collect()
    }

    async fn save_webhook(&self, w: &WebhookRow) -> Result<WebhookRow> {
        let cols = ["name", "url", "secret", "active", "created_at", "updated_at"];
        let id = upsert(self, "webhooks", &cols, w.id, |q| {
            q.bind(w.name.clone())
                .bind(w.url.clone())
                .bind(w.secret.clone())
                .bind(w.active)
                .bind(ts(w.created_at))
                .bind(ts(w.updated_at))
        })
        .await?;
        Ok(WebhookRow { id, ..w.clone() })
    }

    async fn delete_webhook(&self, id: i64) -> Result<()> {
        delete_row(self, "webhooks", id).await
    }

    async fn list_notification_templates(&self) -> Result<Vec<NotificationTemplate>> {
        type Row = (i64, String, String, String, String, String, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, subject_zh, body_zh, subject_en, body_en, created_at, updated_at \
             FROM notification_templates ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, name, subject_zh, body_zh, subject_en, body_en, created, updated)| {
                Ok(NotificationTemplate {
                    id,
                    name,
                    texts: Texts {
                        zh_cn: Wording { subject: subject_zh, body: body_zh },
                        en: Wording { subject: subject_en, body: body_en },
                    },
                    created_at: from_ts(created)?,
                    updated_at: from_ts(updated)?,
                })
            })
            .collect()
    }

    async fn save_notification_template(&self, t: &NotificationTemplate) -> Result<NotificationTemplate> {
        let cols = ["name", "subject_zh", "body_zh", "subject_en", "body_en", "created_at", "updated_at"];
        let id = upsert(self, "notification_templates", &cols, t.id, |q| {
            q.bind(t.name.clone())
                .bind(t.texts.zh_cn.subject.clone())
                .bind(t.texts.zh_cn.body.clone())
                .bind(t.texts.en.subject.clone())
                .bind(t.texts.en.body.clone())
                .bind(ts(t.created_at))
                .bind(ts(t.updated_at))
        })
        .await?;
        Ok(NotificationTemplate { id, ..t.clone() })
    }

    async fn delete_notification_template(&self, id: i64) -> Result<()> {
        delete_row(self, "notification_templates", id).await
    }

    async fn list_notifications(
        &self,
        user: UserId,
        unread_only: bool,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, user_id, ticket_id, rule, subject, body, created_at, read_at FROM notifications WHERE user_id = ",
        );
        qb.push_bind(user.0);
        if unread_only {
            qb.push(" AND read_at IS NULL");
        }
        if let Some(b) = before {
            qb.push(" AND id < ").push_bind(b);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let rows: Vec<NotificationRow> = qb.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(notification).collect()
    }

    async fn notifications_to_mail(&self, limit: i64, now: Timestamp) -> Result<Vec<Notification>> {
        let rows: Vec<NotificationRow> = sqlx::query_as(
            "SELECT id, user_id, ticket_id, rule, subject, body, created_at, read_at FROM notifications \
             WHERE mail IN ('pending', 'sending') AND mail_at <= $1 ORDER BY mail_at, id LIMIT $2",
        )
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&self.write)
        .await?;
        rows.into_iter().map(notification).collect()
    }

    async fn next_notification_mail(&self, now: Timestamp) -> Result<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(mail_at) FROM notifications WHERE mail IN ('pending', 'sending') AND mail_at > $1",
        )
        .bind(ts(now))
        .fetch_one(&self.read)
        .await?;
        at.map(from_ts).transpose()
    }

    async fn claim_notification_mail(&self, id: i64, now: Timestamp, until: Timestamp) -> Result<Option<i64>> {
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE notifications SET mail = 'sending', mail_at = $1, mail_attempts = mail_attempts + 1 \
             WHERE id = $2 AND mail IN ('pending', 'sending') AND mail_at <= $3 RETURNING mail_attempts",
        )
        .bind(ts(until))
        .bind(id)
        .bind(ts(now))
        .fetch_optional(&self.write)
        .await?;
        Ok(attempts)
    }

    async fn set_notification_mail(&self, id: i64, state: &str, retry_at: Option<Timestamp>) -> Result<()> {
        let done = sqlx::query("UPDATE notifications SET mail = $1, mail_at = $2 WHERE id = $3")
            .bind(state)
            .bind(retry_at.map(ts).unwrap_or(0))
            .bind(id)
            .execute(&self.write)
            .await?;
        matched(done)
    }

    async fn count_unread(&self, user: UserId) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
            .bind(user.0)
            .fetch_one(&self.read)
            .await?)
    }

    async fn mark_read(&self, user: UserId, ids: &[i64], at: Timestamp) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE notifications SET read_at = ");
        qb.push_bind(ts(at)).push(" WHERE read_at IS NULL AND user_id = ").push_bind(user.0);
        if !ids.is_empty() {
            qb.push(" AND id IN ");
            push_list(&mut qb, ids.iter().copied());
        }
        qb.build().execute(&self.write).await?;
        Ok(())
    }
}
