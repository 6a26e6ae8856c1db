//! The email channel: mailboxes, mail handed in by an MTA or a mail service (the raw message
//! as the body), and the quarantine of mail that could not be taken in.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_core::mail::Ingested;
use gongdan_core::mail::Quarantined;
use gongdan_core::mail::fetch::Reached;
use gongdan_domain::Code;
use gongdan_domain::ids::*;
use gongdan_domain::mail::Mailbox;
use gongdan_domain::mail::servers::{Imap, Smtp};
use gongdan_domain::tickets::Priority;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::{Items, nullable};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth, QueryPairs, raw_body};

/// `max_bytes`: the largest message taken in; the body limit of the inbound route is a little
/// more, so a message just over it is quarantined (with its reason) rather than refused.
pub fn router(max_bytes: u64, json_limit: usize) -> OpenApiRouter<App> {
    let inbound = usize::try_from(max_bytes).unwrap_or(usize::MAX).saturating_mul(2);
    OpenApiRouter::new().routes(routes!(inbound_mail)).layer(DefaultBodyLimit::max(inbound)).merge(
        OpenApiRouter::new()
            .routes(routes!(create_mailbox, list_mailboxes))
            .routes(routes!(update_mailbox, delete_mailbox))
            .routes(routes!(fetch_mailbox))
            .routes(routes!(test_mailbox))
            .routes(routes!(ticket_mail))
            .routes(routes!(list_quarantine))
            .routes(routes!(quarantined_source, discard_quarantined))
            .routes(routes!(reprocess_quarantined))
            .layer(DefaultBodyLimit::max(json_limit)),
    )
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxIn {
    /// The address customers write to (`support@acme.test`).
    #[schema(max_length = 254)]
    pub address: Option<String>,
    /// The name replies go out under; the address's local part when empty.
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// The group new tickets from this mailbox go to.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub group_id: Option<Option<GroupId>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub category_id: Option<Option<CategoryId>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Priority>)]
    pub priority: Option<Option<Priority>>,
    pub active: Option<bool>,
    /// Take the requester from `Reply-To` (web forms, mail services) rather than `From`.
    pub use_reply_to: Option<bool>,
    /// Fetch this mailbox over IMAP; `null` stops fetching. A change without `password` keeps
    /// the stored one.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Imap>)]
    pub imap: Option<Option<Imap>>,
    /// Send this mailbox's replies through its own SMTP server; `null`: the desk's.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Smtp>)]
    pub smtp: Option<Option<Smtp>>,
}

impl MailboxIn {
    fn apply(self, mut m: Mailbox) -> Mailbox {
        if let Some(a) = self.address {
            m.address = a;
        }
        if let Some(n) = self.name {
            m.name = n;
        }
        if let Some(g) = self.group_id {
            m.group_id = g;
        }
        if let Some(c) = self.category_id {
            m.category_id = c;
        }
        if let Some(p) = self.priority {
            m.priority = p;
        }
        if let Some(a) = self.active {
            m.active = a;
        }
        if let Some(r) = self.use_reply_to {
            m.use_reply_to = r;
        }
        if let Some(i) = self.imap {
            m.imap = i;
        }
        if let Some(x) = self.smtp {
            m.smtp = x;
        }
        m
    }
}

#[utoipa::path(post, path = "/api/v1/mailboxes", tag = "mail", request_body = MailboxIn,
    responses((status = 201, body = Mailbox), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_mailbox(
    State(app): State<App>,
    Auth(p): Auth,
    body: ApiJson<MailboxIn>,
) -> ApiResult<impl IntoResponse> {
    if body.value.address.is_none() {
        return Err(ApiError::at(Code::Required, "address", "a mailbox needs its address"));
    }
    let m = body.value.apply(Mailbox::blank(app.now()));
    Ok((StatusCode::CREATED, Json(app.save_mailbox(&p, m).await?)))
}

#[utoipa::path(get, path = "/api/v1/mailboxes", tag = "mail", responses((status = 200, body = Items<Mailbox>)))]
async fn list_mailboxes(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<Mailbox>>> {
    Ok(Json(Items { items: app.list_mailboxes(&p).await? }))
}

#[utoipa::path(patch, path = "/api/v1/mailboxes/{id}", tag = "mail", params(("id" = i64, Path)), request_body = MailboxIn,
    responses((status = 200, body = Mailbox), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_mailbox(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<MailboxIn>,
) -> ApiResult<Json<Mailbox>> {
    let current = app.get_mailbox(&p, MailboxId(id)).await?;
    Ok(Json(app.save_mailbox(&p, body.value.apply(current)).await?))
}

/// Deletes a mailbox; the tickets and comments its mail became stay.
#[utoipa::path(delete, path = "/api/v1/mailboxes/{id}", tag = "mail", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_mailbox(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_mailbox(&p, MailboxId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FetchOut {
    /// Messages taken in (new tickets, comments, quarantined); ignored ones not counted.
    pub taken: usize,
    /// More wait than one round takes: the next round follows at once.
    pub more: bool,
    /// What the mail server answered when the fetch failed.
    pub error: Option<String>,
}

/// Fetches the mailbox over IMAP now, as the job does every 30 seconds.
#[utoipa::path(post, path = "/api/v1/mailboxes/{id}/fetch", tag = "mail", params(("id" = i64, Path)),
    responses((status = 200, body = FetchOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn fetch_mailbox(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<FetchOut>> {
    Ok(Json(match app.fetch_now(&p, MailboxId(id)).await? {
        Ok(f) => FetchOut { taken: f.taken, more: f.more, error: None },
        Err(e) => FetchOut { taken: 0, more: false, error: Some(e) },
    }))
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailServer {
    Imap,
    Smtp,
}

/// One server's answer to a connection test.
#[derive(Debug, Serialize, ToSchema)]
pub struct Check {
    pub server: MailServer,
    pub ok: bool,
    pub detail: String,
}

/// Logs in to the mailbox's IMAP server (when it has one) and connects to the SMTP server its
/// replies go through, saying what each answered.
#[utoipa::path(post, path = "/api/v1/mailboxes/{id}/test", tag = "mail", params(("id" = i64, Path)),
    responses((status = 200, body = Items<Check>), (status = 404, body = Problem)))]
async fn test_mailbox(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<Items<Check>>> {
    let items = app.test_mailbox(&p, MailboxId(id)).await?;
    Ok(Json(Items {
        items: items
            .into_iter()
            .map(|(name, r)| {
                let server = if name == "imap" { MailServer::Imap } else { MailServer::Smtp };
                match r {
                    Ok(Reached::Imap { folder, messages }) => {
                        Check { server, ok: true, detail: format!("signed in; {messages} messages in {folder}") }
                    }
                    Ok(Reached::Smtp { server: at }) => {
                        Check { server, ok: true, detail: format!("{at} accepts mail") }
                    }
                    Err(detail) => Check { server, ok: false, detail },
                }
            })
            .collect(),
    }))
}

/// A message of a ticket's mail thread.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketMailOut {
    /// Without angle brackets.
    pub message_id: String,
    pub comment_id: Option<CommentId>,
    pub mailbox_id: Option<MailboxId>,
    pub direction: MailDirection,
    /// The desk's own mail: where its delivery stands.
    pub status: Option<DeliveryStatus>,
    /// The mail server's last answer (`250 …`, `550 …`, why it could not be sent).
    pub detail: String,
    pub attempts: i64,
    pub sent_at: Option<Timestamp>,
    /// Why received mail went where it went.
    pub reasons: Vec<String>,
    pub created_at: Timestamp,
    /// The desk's own mail: the addresses the server took it for.
    pub recipients: Vec<String>,
    /// Those of them a delivery report returned (`partly_failed` while some are left).
    pub bounced: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailDirection {
    In,
    Out,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Queued,
    Retrying,
    Sent,
    Failed,
    /// Sent, and returned by a delivery report for some of its recipients (`bounced`).
    PartlyFailed,
}

/// The ticket's mail, oldest first: each received message with why it landed here, each reply
/// the desk mailed with its delivery. Staff only.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/mail", tag = "mail", params(("id" = i64, Path)),
    responses((status = 200, body = Items<TicketMailOut>), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn ticket_mail(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Items<TicketMailOut>>> {
    let items = app.ticket_mail(&p, TicketId(id)).await?;
    Ok(Json(Items {
        items: items
            .into_iter()
            .map(|m| TicketMailOut {
                status: match m.status.as_str() {
                    "queued" => Some(DeliveryStatus::Queued),
                    "retrying" => Some(DeliveryStatus::Retrying),
                    "sent" => Some(DeliveryStatus::Sent),
                    "failed" => Some(DeliveryStatus::Failed),
                    "partly_failed" => Some(DeliveryStatus::PartlyFailed),
                    _ => None,
                },
                direction: if m.direction == "out" { MailDirection::Out } else { MailDirection::In },
                message_id: m.message_id,
                comment_id: m.comment_id,
                mailbox_id: m.mailbox_id,
                detail: m.detail,
                attempts: m.attempts,
                sent_at: m.sent_at,
                reasons: m.reasons.iter().map(ToString::to_string).collect(),
                created_at: m.created_at,
                recipients: m.recipients,
                bounced: m.bounced,
            })
            .collect(),
    }))
}

/// A raw message as a mail server hands it over (RFC 5322): any bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // a schema only: the handler reads the body as bytes
pub struct RawMessage(Vec<u8>);

/// What became of a message.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailOutcome {
    Created,
    Appended,
    Ignored,
    Quarantined,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboundOut {
    pub outcome: MailOutcome,
    pub ticket_id: Option<TicketId>,
    pub comment_id: Option<CommentId>,
    /// The quarantined message, when it is one.
    pub quarantine_id: Option<i64>,
    /// The decisions' reasons, joined.
    pub reason: String,
    /// Each decision's reason, in order: which mailbox, whether it is automatic mail, which
    /// ticket it answers and why.
    pub reasons: Vec<String>,
}

impl From<Ingested> for InboundOut {
    fn from(i: Ingested) -> Self {
        use gongdan_core::mail::Outcome;
        InboundOut {
            outcome: match i.outcome {
                Outcome::Created => MailOutcome::Created,
                Outcome::Appended => MailOutcome::Appended,
                Outcome::Ignored => MailOutcome::Ignored,
                Outcome::Quarantined => MailOutcome::Quarantined,
            },
            ticket_id: i.ticket_id,
            comment_id: i.comment_id,
            quarantine_id: i.quarantine_id,
            reason: i.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            reasons: i.reasons.iter().map(ToString::to_string).collect(),
        }
    }
}

/// Takes a raw message in (`Content-Type: message/rfc822`), as an MTA or a mail service hands
/// it over: a new ticket, a comment on the ticket it answers, ignored (a loop, a delivery
/// report, a message taken in before) or quarantined (with why). `201` whatever became of it:
/// the message is the desk's now. Admins' tokens only.
#[utoipa::path(post, path = "/api/v1/mail/inbound", tag = "mail",
    params(("mailbox" = Option<i64>, Query, description = "the mailbox it was received at (else the one it is addressed to)")),
    request_body(content = RawMessage, content_type = "message/rfc822"),
    responses((status = 201, body = InboundOut), (status = 413, body = Problem), (status = 415, body = Problem)))]
async fn inbound_mail(
    State(app): State<App>,
    Auth(p): Auth,
    q: QueryPairs,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<impl IntoResponse> {
    q.only(&["mailbox"])?;
    let mailbox = q.parse::<i64>("mailbox")?.map(MailboxId);
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if media != "message/rfc822" {
        return Err(ApiError::new(Code::UnsupportedMediaType, "send the raw message as message/rfc822"));
    }
    let body = raw_body(body, || "the message is larger than the desk takes".into())?;
    let done = app.ingest_mail(&p, &body, mailbox).await?;
    Ok((StatusCode::CREATED, Json(InboundOut::from(done))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantinedOut {
    pub id: i64,
    pub mailbox_id: Option<MailboxId>,
    pub message_id: String,
    pub sender: String,
    pub subject: String,
    pub reason: String,
    pub size: i64,
    pub received_at: Timestamp,
}

impl From<Quarantined> for QuarantinedOut {
    fn from(q: Quarantined) -> Self {
        QuarantinedOut {
            id: q.id,
            mailbox_id: q.mailbox_id,
            message_id: q.message_id,
            sender: q.sender,
            subject: q.subject,
            reason: q.reason.to_string(),
            size: q.size,
            received_at: q.received_at,
        }
    }
}

/// Mail that could not be taken in, newest first.
#[utoipa::path(get, path = "/api/v1/mail/quarantine", tag = "mail", params(("limit" = Option<i64>, Query)),
    responses((status = 200, body = Items<QuarantinedOut>)))]
async fn list_quarantine(
    State(app): State<App>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Json<Items<QuarantinedOut>>> {
    q.only(&["limit"])?;
    let limit = q.parse::<i64>("limit")?.unwrap_or(100);
    Ok(Json(Items { items: app.list_quarantine(&p, limit).await?.into_iter().map(Into::into).collect() }))
}

/// A quarantined message's raw source, as a download.
#[utoipa::path(get, path = "/api/v1/mail/quarantine/{id}", tag = "mail", params(("id" = i64, Path)),
    responses((status = 200, content_type = "message/rfc822"), (status = 404, body = Problem)))]
async fn quarantined_source(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let (_, raw) = app.quarantined(&p, id).await?;
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("message/rfc822"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"quarantined-{id}.eml\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok((h, raw))
}

/// Takes a quarantined message in again; it leaves the quarantine (failing again puts it back
/// with the new reason).
#[utoipa::path(post, path = "/api/v1/mail/quarantine/{id}/reprocess", tag = "mail", params(("id" = i64, Path)),
    responses((status = 200, body = InboundOut), (status = 404, body = Problem)))]
async fn reprocess_quarantined(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<InboundOut>> {
    Ok(Json(app.reprocess_quarantined(&p, id).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/mail/quarantine/{id}", tag = "mail", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn discard_quarantined(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.discard_quarantined(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
