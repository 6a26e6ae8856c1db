//! Webhooks and in-app notifications.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_core::notifications::WebhookInput;
use gongdan_core::notifications::templates::TemplateInput;
use gongdan_core::notifications::{Notification, WebhookRow};
use gongdan_domain::ids::*;
use gongdan_domain::notifications::{NotificationTemplate, Texts, Wording};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::Items;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth, QueryPairs};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(update_webhook, delete_webhook))
        .routes(routes!(create_template, list_templates))
        .routes(routes!(get_template, update_template, delete_template))
        .routes(routes!(preview_template))
        .routes(routes!(list_notifications))
        .routes(routes!(read_notifications))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// `http://` or `https://`.
    pub url: Option<String>,
    /// The HMAC-SHA256 key for `X-Gongdan-Signature` (16–200 characters; generated if left out).
    pub secret: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOut {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub secret: String,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<WebhookRow> for WebhookOut {
    fn from(w: WebhookRow) -> Self {
        WebhookOut {
            id: w.id,
            name: w.name,
            url: w.url,
            secret: w.secret,
            active: w.active,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

impl From<WebhookIn> for WebhookInput {
    fn from(w: WebhookIn) -> Self {
        WebhookInput { name: w.name, url: w.url, secret: w.secret, active: w.active }
    }
}

/// An endpoint rules may call. Deliveries are POSTs of `{"event", "rule", "delivery_id",
/// "attempt", "sent_at", "ticket"}` with `X-Gongdan-Signature: sha256=HMAC(secret,
/// "<X-Gongdan-Timestamp>.<body>")`, retried with backoff on failure.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "rules", request_body = WebhookIn,
    responses((status = 201, body = WebhookOut), (status = 422, body = Problem)))]
async fn create_webhook(
    State(app): State<App>,
    Auth(p): Auth,
    body: ApiJson<WebhookIn>,
) -> ApiResult<impl IntoResponse> {
    let w = app.create_webhook(&p, body.value.into()).await?;
    Ok((StatusCode::CREATED, Json(WebhookOut::from(w))))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "rules", responses((status = 200, body = Items<WebhookOut>)))]
async fn list_webhooks(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<WebhookOut>>> {
    Ok(Json(Items { items: app.list_webhooks(&p).await?.into_iter().map(WebhookOut::from).collect() }))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "rules", params(("id" = i64, Path)), request_body = WebhookIn,
    responses((status = 200, body = WebhookOut), (status = 404, body = Problem)))]
async fn update_webhook(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<WebhookIn>,
) -> ApiResult<Json<WebhookOut>> {
    Ok(Json(app.update_webhook(&p, id, body.value.into()).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 204), (status = 409, body = Problem)))]
async fn delete_webhook(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_webhook(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- notification templates ----

/// One language's text of a notification; placeholders as in macros (`{{ticket.number}}`,
/// `{{requester.name}}` …).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WordingIo {
    /// One line.
    #[schema(min_length = 1, max_length = 200)]
    pub subject: String,
    #[schema(min_length = 1, max_length = 10000)]
    pub body: String,
}

impl From<WordingIo> for Wording {
    fn from(w: WordingIo) -> Self {
        Wording { subject: w.subject, body: w.body }
    }
}

impl From<Wording> for WordingIo {
    fn from(w: Wording) -> Self {
        WordingIo { subject: w.subject, body: w.body }
    }
}

/// A template's text in each language the desk speaks.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextsIo {
    #[serde(rename = "zh-CN")]
    pub zh_cn: WordingIo,
    pub en: WordingIo,
}

impl From<Texts> for TextsIo {
    fn from(t: Texts) -> Self {
        TextsIo { zh_cn: t.zh_cn.into(), en: t.en.into() }
    }
}

/// The languages a change names; a language left out keeps its text.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextsChange {
    #[serde(rename = "zh-CN")]
    pub zh_cn: Option<WordingIo>,
    pub en: Option<WordingIo>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateIn {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub texts: Option<TextsChange>,
}

impl From<TemplateIn> for TemplateInput {
    fn from(t: TemplateIn) -> Self {
        let texts = t.texts.unwrap_or_default();
        TemplateInput { name: t.name, zh_cn: texts.zh_cn.map(Into::into), en: texts.en.map(Into::into) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOut {
    pub id: i64,
    pub name: String,
    pub texts: TextsIo,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<NotificationTemplate> for TemplateOut {
    fn from(t: NotificationTemplate) -> Self {
        TemplateOut {
            id: t.id,
            name: t.name,
            texts: t.texts.into(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A notification template: what a rule's notify action (`{"to": …, "template_id": id}`)
/// sends, each person reading the text in their own language. A create gives the name and
/// both languages' texts.
#[utoipa::path(post, path = "/api/v1/notification_templates", tag = "rules", request_body = TemplateIn,
    responses((status = 201, body = TemplateOut)))]
async fn create_template(
    State(app): State<App>,
    Auth(p): Auth,
    body: ApiJson<TemplateIn>,
) -> ApiResult<impl IntoResponse> {
    let t = app.create_notification_template(&p, body.value.into()).await?;
    Ok((StatusCode::CREATED, Json(TemplateOut::from(t))))
}

#[utoipa::path(get, path = "/api/v1/notification_templates", tag = "rules",
    responses((status = 200, body = Items<TemplateOut>)))]
async fn list_templates(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<TemplateOut>>> {
    Ok(Json(Items { items: app.list_notification_templates(&p).await?.into_iter().map(TemplateOut::from).collect() }))
}

#[utoipa::path(get, path = "/api/v1/notification_templates/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 200, body = TemplateOut)))]
async fn get_template(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<TemplateOut>> {
    Ok(Json(app.notification_template(&p, id).await?.into()))
}

/// Changes a template; the rules that send it send the new text from now on.
#[utoipa::path(patch, path = "/api/v1/notification_templates/{id}", tag = "rules", params(("id" = i64, Path)),
    request_body = TemplateIn, responses((status = 200, body = TemplateOut)))]
async fn update_template(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<TemplateIn>,
) -> ApiResult<Json<TemplateOut>> {
    Ok(Json(app.update_notification_template(&p, id, body.value.into()).await?.into()))
}

/// Deletes a template; 409 while a rule (on or off) sends it.
#[utoipa::path(delete, path = "/api/v1/notification_templates/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 204)))]
async fn delete_template(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_notification_template(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    pub texts: TextsIo,
    /// The ticket to fill the placeholders from; a sample ticket when left out.
    pub ticket_id: Option<TicketId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    /// The ticket filled in from; null for the sample.
    pub ticket_id: Option<TicketId>,
    pub texts: TextsIo,
}

/// Texts filled in as each language's reader would get them, without saving anything.
#[utoipa::path(post, path = "/api/v1/notification_templates/preview", tag = "rules", request_body = PreviewIn,
    responses((status = 200, body = PreviewOut)))]
async fn preview_template(
    State(app): State<App>,
    Auth(p): Auth,
    body: ApiJson<PreviewIn>,
) -> ApiResult<Json<PreviewOut>> {
    let PreviewIn { texts, ticket_id } = body.value;
    let texts = Texts { zh_cn: texts.zh_cn.into(), en: texts.en.into() };
    let out = app.preview_notification(&p, &texts, ticket_id).await?;
    Ok(Json(PreviewOut { ticket_id: out.ticket_id, texts: out.texts.into() }))
}

// ---- notifications ----

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationOut {
    pub id: i64,
    pub ticket_id: Option<TicketId>,
    /// The rule that sent it.
    pub rule: Option<String>,
    pub subject: String,
    pub body: String,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

impl From<Notification> for NotificationOut {
    fn from(n: Notification) -> Self {
        NotificationOut {
            id: n.id,
            ticket_id: n.ticket_id,
            rule: n.rule,
            subject: n.subject,
            body: n.body,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    pub items: Vec<NotificationOut>,
    pub unread: i64,
    /// Pass as `before` for the next page.
    pub next_before: Option<i64>,
}

/// Your notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "people",
    params(("unread" = Option<bool>, Query), ("before" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = NotificationList)))]
async fn list_notifications(State(app): State<App>, Auth(p): Auth, q: QueryPairs) -> ApiResult<Json<NotificationList>> {
    q.only(&["unread", "before", "limit"])?;
    let limit = q.limit(50, 200)?;
    let items =
        app.notifications(&p, q.parse::<bool>("unread")?.unwrap_or(false), q.parse::<i64>("before")?, limit).await?;
    let next_before = (items.len() as i64 == limit).then(|| items.last().map(|n| n.id)).flatten();
    Ok(Json(NotificationList {
        unread: app.unread_notifications(&p).await?,
        items: items.into_iter().map(NotificationOut::from).collect(),
        next_before,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadIn {
    /// Leave out to mark all read.
    #[serde(default)]
    pub ids: Vec<i64>,
}

#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "people", request_body = ReadIn,
    responses((status = 204)))]
async fn read_notifications(State(app): State<App>, Auth(p): Auth, body: ApiJson<ReadIn>) -> ApiResult<StatusCode> {
    app.mark_notifications_read(&p, &body.value.ids).await?;
    Ok(StatusCode::NO_CONTENT)
}
