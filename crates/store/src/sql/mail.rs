//! Mailboxes, stored Message-IDs and quarantined mail.

use gongdan_domain::mail::Mailbox;
use gongdan_domain::mail::reason::Reason;
use gongdan_domain::mail::servers::{Imap, Smtp};

use super::*;

type MessageRow =
    (String, i64, Option<i64>, Option<i64>, String, String, String, String, i64, Option<i64>, i64, String, String);

fn message(r: MessageRow) -> Result<MailMessage> {
    let (
        message_id,
        ticket,
        comment,
        mailbox,
        direction,
        reasons,
        status,
        detail,
        attempts,
        sent,
        created,
        to,
        bounced,
    ) = r;
    Ok(MailMessage {
        message_id,
        ticket_id: TicketId(ticket),
        comment_id: comment.map(CommentId),
        mailbox_id: mailbox.map(MailboxId),
        direction,
        reasons: read_reasons(&reasons),
        status,
        detail,
        attempts,
        sent_at: sent.map(from_ts).transpose()?,
        created_at: from_ts(created)?,
        recipients: json(&to)?,
        bounced: json(&bounced)?,
    })
}

/// A stored explain log, each reason read on its own: one this binary does not know (written
/// by a newer node) reads as its JSON text rather than failing the whole row.
fn read_reasons(text: &str) -> Vec<Reason> {
    let items: Vec<serde_json::Value> = serde_json::from_str(text).unwrap_or_default();
    items
        .into_iter()
        .map(|v| serde_json::from_value::<Reason>(v.clone()).unwrap_or_else(|_| Reason::Text(v.to_string())))
        .collect()
}

const MESSAGE_COLS: &str = "message_id, ticket_id, comment_id, mailbox_id, direction, reasons, status, detail, attempts, \
     sent_at, created_at, recipients, bounced";

/// A server's settings as stored: the JSON without the password, the password (sealed) apart.
fn settings<T: serde::de::DeserializeOwned>(
    json_text: Option<String>,
    secret: String,
    fill: impl FnOnce(&mut T, String),
) -> Result<Option<T>> {
    let Some(text) = json_text else { return Ok(None) };
    let mut v: T = json(&text)?;
    fill(&mut v, secret);
    Ok(Some(v))
}

type QuarantineRow = (i64, Option<i64>, String, String, String, String, i64, i64);

fn quarantined(r: QuarantineRow) -> Result<Quarantined> {
    let (id, mailbox, message_id, sender, subject, reason, size, received) = r;
    Ok(Quarantined {
        id,
        mailbox_id: mailbox.map(MailboxId),
        message_id,
        sender,
        subject,
        // Stored as the reason's JSON; a row from before reasons were data holds the sentence.
        reason: serde_json::from_str(&reason).unwrap_or(Reason::Text(reason)),
        size,
        received_at: from_ts(received)?,
    })
}

const QUARANTINE_COLS: &str =
    "id, mailbox_id, message_id, sender, subject, reason, CAST(LENGTH(raw) AS BIGINT), received_at";

impl SqlStore {
    /// Stores the Message-ID of the batch's mail with the first write's ticket and comment.
    pub(super) async fn insert_mail(
        tx: &mut Conn,
        m: &MailRecord,
        ticket: TicketId,
        comment: Option<CommentId>,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO mail_messages (message_id, ticket_id, comment_id, mailbox_id, direction, reasons, status, created_at, sender) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&m.message_id)
        .bind(ticket.0)
        .bind(comment.map(|c| c.0))
        .bind(m.mailbox_id.map(|b| b.0))
        .bind(m.direction)
        .bind(to_json(&m.reasons)?)
        .bind(m.status)
        .bind(ts(at))
        .bind(&m.sender)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl MailStore for SqlStore {
    async fn list_mailboxes(&self) -> Result<Vec<Mailbox>> {
        type Row = (
            i64,
            String,
            String,
            Option<i64>,
            Option<i64>,
            Option<String>,
            bool,
            Option<String>,
            String,
            Option<String>,
            String,
            Option<i64>,
            Option<String>,
            i64,
            i64,
            bool,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, address, name, group_id, category_id, priority, active, imap, imap_secret, smtp, smtp_secret, \
             last_fetch_at, last_error, created_at, updated_at, use_reply_to FROM mailboxes ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|row| {
                let (id, address, name, group, category, priority, active) =
                    (row.0, row.1, row.2, row.3, row.4, row.5, row.6);
                let (imap, imap_secret, smtp, smtp_secret, fetched, error, created, updated) =
                    (row.7, row.8, row.9, row.10, row.11, row.12, row.13, row.14);
                Ok(Mailbox {
                    id: MailboxId(id),
                    address,
                    name,
                    group_id: group.map(GroupId),
                    category_id: category.map(CategoryId),
                    priority: priority.map(|p| Priority::parse(&p, "priority")).transpose().map_err(corrupt)?,
                    active,
                    use_reply_to: row.15,
                    imap: settings(imap, imap_secret, |i: &mut Imap, s| {
                        i.password_set = !s.is_empty();
                        i.password = s;
                    })?,
                    smtp: settings(smtp, smtp_secret, |i: &mut Smtp, s| {
                        i.password_set = !s.is_empty();
                        i.password = s;
                    })?,
                    last_fetch_at: fetched.map(from_ts).transpose()?,
                    last_error: error,
                    created_at: from_ts(created)?,
                    updated_at: from_ts(updated)?,
                })
            })
            .collect()
    }

    async fn save_mailbox(&self, m: &Mailbox) -> Result<Mailbox> {
        let cols = [
            "address",
            "name",
            "group_id",
            "category_id",
            "priority",
            "active",
            "imap",
            "imap_secret",
            "smtp",
            "smtp_secret",
            "created_at",
            "updated_at",
            "use_reply_to",
        ];
        // The sealed passwords have columns of their own, not a place in the settings' JSON.
        let imap = m.imap.as_ref().map(|i| to_json(&Imap { password: String::new(), ..i.clone() })).transpose()?;
        let smtp = m.smtp.as_ref().map(|s| to_json(&Smtp { password: String::new(), ..s.clone() })).transpose()?;
        let id = upsert(self, "mailboxes", &cols, m.id.0, |q| {
            q.bind(m.address.clone())
                .bind(m.name.clone())
                .bind(m.group_id.map(|g| g.0))
                .bind(m.category_id.map(|c| c.0))
                .bind(m.priority.map(|p| p.as_str()))
                .bind(m.active)
                .bind(imap.clone())
                .bind(m.imap.as_ref().map(|i| i.password.clone()).unwrap_or_default())
                .bind(smtp.clone())
                .bind(m.smtp.as_ref().map(|i| i.password.clone()).unwrap_or_default())
                .bind(ts(m.created_at))
                .bind(ts(m.updated_at))
                .bind(m.use_reply_to)
        })
        .await?;
        Ok(Mailbox { id: MailboxId(id), ..m.clone() })
    }

    async fn delete_mailbox(&self, id: MailboxId) -> Result<()> {
        // The messages it received keep their tickets; they just no longer name it.
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE mail_messages SET mailbox_id = NULL WHERE mailbox_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM mailboxes WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        matched(done)?;
        tx.commit().await?;
        Ok(())
    }

    async fn mail_messages(&self, ids: &[&str]) -> Result<Vec<MailMessage>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let sql =
            format!("SELECT {MESSAGE_COLS} FROM mail_messages WHERE message_id IN ({})", placeholders(1, ids.len()));
        let mut q = sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(&self.read).await?.into_iter().map(message).collect()
    }

    async fn comments_mail(&self, comments: &[CommentId]) -> Result<Vec<MailMessage>> {
        if comments.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM mail_messages WHERE comment_id IN ({}) ORDER BY created_at",
            placeholders(1, comments.len())
        );
        let mut q = sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql));
        for c in comments {
            q = q.bind(c.0);
        }
        q.fetch_all(&self.read).await?.into_iter().map(message).collect()
    }

    async fn ticket_mail(&self, ticket: TicketId) -> Result<Vec<MailMessage>> {
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM mail_messages WHERE ticket_id = $1 ORDER BY created_at, COALESCE(comment_id, 0), direction"
        );
        let rows: Vec<MessageRow> = sqlx::query_as(AssertSqlSafe(sql)).bind(ticket.0).fetch_all(&self.read).await?;
        rows.into_iter().map(message).collect()
    }

    async fn set_delivery(
        &self,
        message_id: &str,
        status: &str,
        detail: &str,
        sent_at: Option<Timestamp>,
        recipients: &[String],
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE mail_messages SET status = $1, detail = $2, attempts = attempts + 1, sent_at = $3, \
             recipients = CASE WHEN $5 = '[]' THEN recipients ELSE $5 END WHERE message_id = $4",
        )
        .bind(status)
        .bind(detail)
        .bind(sent_at.map(ts))
        .bind(message_id)
        .bind(to_json(&recipients)?)
        .execute(&self.write)
        .await?;
        matched(done)
    }

    async fn mark_bounced(
        &self,
        message_id: &str,
        expected: &[String],
        bounced: &[String],
        status: &str,
        detail: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE mail_messages SET bounced = $1, status = $2, detail = $3 WHERE message_id = $4 AND bounced = $5",
        )
        .bind(to_json(&bounced)?)
        .bind(status)
        .bind(detail)
        .bind(message_id)
        .bind(to_json(&expected)?)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn count_mail_from(&self, sender: &str, since: Timestamp) -> Result<i64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM mail_messages \
             WHERE sender = $1 AND sender <> '' AND created_at > $2 AND direction = 'in'",
        )
        .bind(sender)
        .bind(ts(since))
        .fetch_one(&self.read)
        .await?;
        Ok(n)
    }

    async fn record_sent_mail(
        &self,
        message_id: &str,
        ticket: TicketId,
        mailbox: MailboxId,
        reason: &Reason,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO mail_messages (message_id, ticket_id, mailbox_id, direction, reasons, status, attempts, sent_at, created_at) \
             VALUES ($1, $2, $3, 'out', $4, 'sent', 1, $5, $5)",
        )
        .bind(message_id)
        .bind(ticket.0)
        .bind(mailbox.0)
        .bind(to_json(&[reason])?)
        .bind(ts(at))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn fetch_position(&self, mailbox: MailboxId) -> Result<FetchPosition> {
        let row: Option<(i64, i64)> = sqlx::query_as("SELECT uid_validity, last_uid FROM mailboxes WHERE id = $1")
            .bind(mailbox.0)
            .fetch_optional(&self.read)
            .await?;
        let (uid_validity, last_uid) = row.ok_or(StoreError::NotFound)?;
        Ok(FetchPosition { uid_validity, last_uid })
    }

    async fn set_fetch_position(&self, mailbox: MailboxId, at: FetchPosition) -> Result<()> {
        let done = sqlx::query("UPDATE mailboxes SET uid_validity = $1, last_uid = $2 WHERE id = $3")
            .bind(at.uid_validity)
            .bind(at.last_uid)
            .bind(mailbox.0)
            .execute(&self.write)
            .await?;
        matched(done)
    }

    async fn set_mailbox_status(
        &self,
        mailbox: MailboxId,
        fetched_at: Option<Timestamp>,
        error: Option<&str>,
    ) -> Result<()> {
        // A send's error leaves the last fetch time as it was.
        sqlx::query("UPDATE mailboxes SET last_fetch_at = COALESCE($1, last_fetch_at), last_error = $2 WHERE id = $3")
            .bind(fetched_at.map(ts))
            .bind(error)
            .bind(mailbox.0)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn quarantine(&self, q: &Quarantined, raw: &[u8]) -> Result<Quarantined> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO mail_quarantine (mailbox_id, message_id, sender, subject, reason, raw, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(q.mailbox_id.map(|m| m.0))
        .bind(&q.message_id)
        .bind(&q.sender)
        .bind(&q.subject)
        .bind(to_json(&q.reason)?)
        .bind(raw)
        .bind(ts(q.received_at))
        .fetch_one(&self.write)
        .await?;
        Ok(Quarantined { id, size: raw.len() as i64, ..q.clone() })
    }

    async fn list_quarantine(&self, limit: i64) -> Result<Vec<Quarantined>> {
        let sql = format!("SELECT {QUARANTINE_COLS} FROM mail_quarantine ORDER BY received_at DESC, id DESC LIMIT $1");
        let rows: Vec<QuarantineRow> = sqlx::query_as(AssertSqlSafe(sql)).bind(limit).fetch_all(&self.read).await?;
        rows.into_iter().map(quarantined).collect()
    }

    async fn quarantined_raw(&self, id: i64) -> Result<Option<(Quarantined, Vec<u8>)>> {
        let sql = format!("SELECT {QUARANTINE_COLS}, raw FROM mail_quarantine WHERE id = $1");
        let row: Option<(i64, Option<i64>, String, String, String, String, i64, i64, Vec<u8>)> =
            sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(&self.read).await?;
        match row {
            Some((id, mailbox, message_id, sender, subject, reason, size, received, raw)) => {
                Ok(Some((quarantined((id, mailbox, message_id, sender, subject, reason, size, received))?, raw)))
            }
            None => Ok(None),
        }
    }

    async fn delete_quarantined(&self, id: i64) -> Result<()> {
        delete_row(self, "mail_quarantine", id).await
    }
}
