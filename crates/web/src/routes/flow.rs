//! The flow engine's API: triggers, automations (with a dry run), macros (preview and apply),
//! views, webhooks, notifications, escalation and transfer, and the job queue.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_core::macros::MacroInput;
use gongdan_core::outbox::WebhookInput;
use gongdan_core::rules::{RuleInput, RuleView};
use gongdan_core::views::{ViewInput, ViewTotal};
use gongdan_domain::event::Via;
use gongdan_domain::ids::*;
use gongdan_domain::rules::{ActionSpec, ConditionsSpec, RuleKind};
use gongdan_store::{Job, MacroRow, Notification, ViewRow, WebhookRow};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::{Items, TicketOut};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth, IfMatch, QueryPairs, if_match_failed};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_trigger, list_triggers))
        .routes(routes!(get_trigger, update_trigger, delete_trigger))
        .routes(routes!(create_automation, list_automations))
        .routes(routes!(get_automation, update_automation, delete_automation))
        .routes(routes!(dry_run_new))
        .routes(routes!(dry_run_saved))
        .routes(routes!(create_macro, list_macros))
        .routes(routes!(update_macro, delete_macro))
        .routes(routes!(preview_macro))
        .routes(routes!(apply_macro))
        .routes(routes!(create_view, list_views))
        .routes(routes!(get_view, update_view, delete_view))
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(update_webhook, delete_webhook))
        .routes(routes!(list_notifications))
        .routes(routes!(read_notifications))
        .routes(routes!(escalate))
        .routes(routes!(transfer))
        .routes(routes!(list_jobs))
}

// ---- triggers and automations ----

/// A trigger or automation. On update every field is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleIn {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// Groups rules in the console.
    pub category: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
    /// Order: lower runs first; new rules go last.
    pub position: Option<i64>,
    /// Automations: fire once per ticket and window although no action undoes a condition.
    pub once: Option<bool>,
    pub conditions: Option<ConditionsSpec>,
    pub actions: Option<Vec<ActionSpec>>,
}

impl From<RuleIn> for RuleInput {
    fn from(r: RuleIn) -> Self {
        RuleInput {
            name: r.name,
            category: r.category,
            description: r.description,
            active: r.active,
            position: r.position,
            once: r.once,
            conditions: r.conditions,
            actions: r.actions,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub description: String,
    pub active: bool,
    pub position: i64,
    pub once: bool,
    pub conditions: ConditionsSpec,
    pub actions: Vec<ActionSpec>,
    /// Set when the rule no longer fits the configuration (it is skipped until fixed).
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<RuleView> for RuleOut {
    fn from(v: RuleView) -> Self {
        let r = v.rule;
        RuleOut {
            id: r.id,
            name: r.name,
            category: r.category,
            description: r.description,
            active: r.active,
            position: r.position,
            once: r.once,
            conditions: r.conditions,
            actions: r.actions,
            error: v.error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn saved(rule: gongdan_store::RuleRow) -> RuleOut {
    RuleOut::from(RuleView { rule, error: None })
}

#[utoipa::path(post, path = "/api/v1/triggers", tag = "rules", request_body = RuleIn,
    responses((status = 201, body = RuleOut), (status = 422, body = Problem), (status = 403, body = Problem)))]
async fn create_trigger(State(app): State<App>, Auth(p): Auth, body: ApiJson<RuleIn>) -> ApiResult<impl IntoResponse> {
    let r = app.create_rule(&p, RuleKind::Trigger, body.value.into()).await?;
    Ok((StatusCode::CREATED, Json(saved(r))))
}

#[utoipa::path(get, path = "/api/v1/triggers", tag = "rules", responses((status = 200, body = Items<RuleOut>)))]
async fn list_triggers(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<RuleOut>>> {
    let items = app.list_rules(&p, RuleKind::Trigger).await?.into_iter().map(RuleOut::from).collect();
    Ok(Json(Items { items }))
}

#[utoipa::path(get, path = "/api/v1/triggers/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 200, body = RuleOut), (status = 404, body = Problem)))]
async fn get_trigger(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<RuleOut>> {
    Ok(Json(app.get_rule(&p, RuleKind::Trigger, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/triggers/{id}", tag = "rules", params(("id" = i64, Path)), request_body = RuleIn,
    responses((status = 200, body = RuleOut), (status = 422, body = Problem)))]
async fn update_trigger(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<RuleIn>,
) -> ApiResult<Json<RuleOut>> {
    Ok(Json(saved(app.update_rule(&p, RuleKind::Trigger, id, body.value.into()).await?)))
}

#[utoipa::path(delete, path = "/api/v1/triggers/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_trigger(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_rule(&p, RuleKind::Trigger, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/automations", tag = "rules", request_body = RuleIn,
    responses((status = 201, body = RuleOut), (status = 422, body = Problem)))]
async fn create_automation(
    State(app): State<App>,
    Auth(p): Auth,
    body: ApiJson<RuleIn>,
) -> ApiResult<impl IntoResponse> {
    let r = app.create_rule(&p, RuleKind::Automation, body.value.into()).await?;
    Ok((StatusCode::CREATED, Json(saved(r))))
}

#[utoipa::path(get, path = "/api/v1/automations", tag = "rules", responses((status = 200, body = Items<RuleOut>)))]
async fn list_automations(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<RuleOut>>> {
    let items = app.list_rules(&p, RuleKind::Automation).await?.into_iter().map(RuleOut::from).collect();
    Ok(Json(Items { items }))
}

#[utoipa::path(get, path = "/api/v1/automations/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 200, body = RuleOut), (status = 404, body = Problem)))]
async fn get_automation(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<RuleOut>> {
    Ok(Json(app.get_rule(&p, RuleKind::Automation, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/automations/{id}", tag = "rules", params(("id" = i64, Path)), request_body = RuleIn,
    responses((status = 200, body = RuleOut), (status = 422, body = Problem)))]
async fn update_automation(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<RuleIn>,
) -> ApiResult<Json<RuleOut>> {
    Ok(Json(saved(app.update_rule(&p, RuleKind::Automation, id, body.value.into()).await?)))
}

#[utoipa::path(delete, path = "/api/v1/automations/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_automation(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_rule(&p, RuleKind::Automation, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunOut {
    /// Tickets looked at (those in the status categories the automation can match).
    pub scanned: usize,
    /// Tickets it would change now.
    pub matched: usize,
    /// The first 200 of them.
    pub tickets: Vec<DryRunTicket>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunTicket {
    pub id: TicketId,
    pub subject: String,
}

fn dry_run_out(d: gongdan_core::automation::DryRun) -> DryRunOut {
    DryRunOut {
        scanned: d.scanned,
        matched: d.matched,
        tickets: d.tickets.into_iter().map(|(id, subject)| DryRunTicket { id, subject }).collect(),
    }
}

/// Which tickets an unsaved automation would change now.
#[utoipa::path(post, path = "/api/v1/automations/dry_run", tag = "rules", request_body = RuleIn,
    responses((status = 200, body = DryRunOut), (status = 422, body = Problem)))]
async fn dry_run_new(State(app): State<App>, Auth(p): Auth, body: ApiJson<RuleIn>) -> ApiResult<Json<DryRunOut>> {
    Ok(Json(dry_run_out(app.dry_run(&p, body.value.into(), None).await?)))
}

/// Which tickets a saved automation (with the changes in the body, if any) would change now.
#[utoipa::path(post, path = "/api/v1/automations/{id}/dry_run", tag = "rules", params(("id" = i64, Path)),
    request_body = RuleIn, responses((status = 200, body = DryRunOut), (status = 404, body = Problem)))]
async fn dry_run_saved(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<RuleIn>,
) -> ApiResult<Json<DryRunOut>> {
    Ok(Json(dry_run_out(app.dry_run(&p, body.value.into(), Some(id)).await?)))
}

// ---- macros ----

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MacroIn {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// Shared with every agent (supervisors and admins), else yours alone.
    pub shared: Option<bool>,
    pub active: Option<bool>,
    pub position: Option<i64>,
    /// As trigger actions; `{"field": "assignee_id", "value": "me"}` assigns the agent applying it.
    pub actions: Option<Vec<ActionSpec>>,
    /// With placeholders such as `{{requester.name}}` and `{{ticket.number}}`.
    pub reply_body: Option<String>,
    pub reply_public: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MacroOut {
    pub id: i64,
    pub name: String,
    pub shared: bool,
    pub owner_id: Option<UserId>,
    pub active: bool,
    pub position: i64,
    pub actions: Vec<ActionSpec>,
    pub reply_body: String,
    pub reply_public: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<MacroRow> for MacroOut {
    fn from(m: MacroRow) -> Self {
        MacroOut {
            id: m.id,
            name: m.name,
            shared: m.owner_id.is_none(),
            owner_id: m.owner_id,
            active: m.active,
            position: m.position,
            actions: m.actions,
            reply_body: m.reply_body,
            reply_public: m.reply_public,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl From<MacroIn> for MacroInput {
    fn from(m: MacroIn) -> Self {
        MacroInput {
            name: m.name,
            shared: m.shared,
            active: m.active,
            position: m.position,
            actions: m.actions,
            reply_body: m.reply_body,
            reply_public: m.reply_public,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/macros", tag = "rules", request_body = MacroIn,
    responses((status = 201, body = MacroOut), (status = 422, body = Problem)))]
async fn create_macro(State(app): State<App>, Auth(p): Auth, body: ApiJson<MacroIn>) -> ApiResult<impl IntoResponse> {
    let m = app.create_macro(&p, body.value.into()).await?;
    Ok((StatusCode::CREATED, Json(MacroOut::from(m))))
}

/// The shared macros and your own.
#[utoipa::path(get, path = "/api/v1/macros", tag = "rules", responses((status = 200, body = Items<MacroOut>)))]
async fn list_macros(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<MacroOut>>> {
    Ok(Json(Items { items: app.list_macros(&p).await?.into_iter().map(MacroOut::from).collect() }))
}

#[utoipa::path(patch, path = "/api/v1/macros/{id}", tag = "rules", params(("id" = i64, Path)), request_body = MacroIn,
    responses((status = 200, body = MacroOut), (status = 404, body = Problem)))]
async fn update_macro(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<MacroIn>,
) -> ApiResult<Json<MacroOut>> {
    Ok(Json(app.update_macro(&p, id, body.value.into()).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/macros/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_macro(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_macro(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldChangeOut {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MacroPreviewOut {
    pub changes: Vec<FieldChangeOut>,
    /// The reply with its placeholders filled in.
    pub reply: Option<String>,
    pub reply_public: bool,
}

/// What a macro would do to this ticket, without doing it.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/macros/{macro_id}/preview", tag = "tickets",
    params(("id" = i64, Path), ("macro_id" = i64, Path)),
    responses((status = 200, body = MacroPreviewOut), (status = 404, body = Problem)))]
async fn preview_macro(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, macro_id)): Path<(i64, i64)>,
) -> ApiResult<Json<MacroPreviewOut>> {
    let pv = app.preview_macro(&p, TicketId(id), macro_id).await?;
    Ok(Json(MacroPreviewOut {
        changes: pv.changes.into_iter().map(|c| FieldChangeOut { field: c.field, old: c.old, new: c.new }).collect(),
        reply_public: pv.reply.as_ref().is_some_and(|(_, public)| *public),
        reply: pv.reply.map(|(body, _)| body),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionIn {
    /// The version you read; a stale one gets 409.
    pub version: Option<i64>,
}

/// Applies a macro: its changes and its reply as your own update.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/macros/{macro_id}/apply", tag = "tickets",
    params(("id" = i64, Path), ("macro_id" = i64, Path)), request_body = VersionIn,
    responses((status = 200, body = TicketOut), (status = 409, body = Problem), (status = 404, body = Problem)))]
async fn apply_macro(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, macro_id)): Path<(i64, i64)>,
    IfMatch(if_match): IfMatch,
    body: axum::body::Bytes,
) -> ApiResult<Json<TicketOut>> {
    // The body is optional: nothing, or `{"version": n}`.
    let version = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        crate::extract::parse_json::<VersionIn>(&body)?.version
    };
    let from_header = version.is_none() && if_match.is_some();
    let t = app
        .apply_macro(&p, TicketId(id), macro_id, version.or(if_match), Via::Api)
        .await
        .map_err(if_match_failed(from_header))?;
    Ok(Json(TicketOut::view(t, &p)))
}

// ---- views ----

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewIn {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// `personal` (default), `group` (with `group_id`) or `shared`; the last two for
    /// supervisors and admins.
    pub scope: Option<String>,
    pub group_id: Option<GroupId>,
    pub active: Option<bool>,
    pub position: Option<i64>,
    /// `{"status": ["new", "open"], "assignee_id": "me" | "none" | id, "group_id": "mine" | id | [ids],
    /// "priority": [...], "channel": [...], "tag": "...", "category_id": id}`
    #[schema(schema_with = view_filters)]
    pub filters: Option<Value>,
    pub columns: Option<Vec<String>>,
    pub sort: Option<String>,
}

/// A view's filters, as `gongdan_core::views::ViewFilters` reads them.
fn view_filters() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    let of = |t| ObjectBuilder::new().schema_type(t);
    let list = |t| ArrayBuilder::new().items(of(t));
    ObjectBuilder::new()
        .property("status", list(Type::String).description(Some("status keys or categories")))
        .property(
            "assignee_id",
            OneOfBuilder::new()
                .item(of(Type::String))
                .item(of(Type::Integer))
                .description(Some("`me`, `none` or an agent id")),
        )
        .property(
            "group_id",
            OneOfBuilder::new()
                .item(of(Type::String))
                .item(of(Type::Integer))
                .item(list(Type::Integer))
                .description(Some("`mine`, a group id or a list of them")),
        )
        .property("priority", ArrayBuilder::new().items(utoipa::openapi::Ref::from_schema_name("Priority")))
        .property("channel", ArrayBuilder::new().items(utoipa::openapi::Ref::from_schema_name("Channel")))
        .property("tag", of(Type::String))
        .property("category_id", of(Type::Integer).description(Some("includes its subcategories")))
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
        .into()
}

impl From<ViewIn> for ViewInput {
    fn from(v: ViewIn) -> Self {
        ViewInput {
            name: v.name,
            scope: v.scope,
            group_id: v.group_id,
            active: v.active,
            position: v.position,
            filters: v.filters,
            columns: v.columns,
            sort: v.sort,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ViewOut {
    pub id: i64,
    /// Built-in views have a key (`mine`, `unassigned` …).
    pub key: Option<String>,
    pub name: String,
    pub scope: String,
    pub owner_id: Option<UserId>,
    pub group_id: Option<GroupId>,
    pub active: bool,
    pub position: i64,
    #[schema(schema_with = view_filters)]
    pub filters: Value,
    pub columns: Vec<String>,
    pub sort: String,
    /// Tickets in it for you now (views with other filters than status, group and assignee
    /// count up to 10,000 and say 10001 above that).
    pub count: Option<i64>,
}

fn view_out(v: ViewRow, total: Option<ViewTotal>) -> ViewOut {
    let scope = gongdan_core::views::scope(&v);
    // Above the cap the API says one more than it (documented on `count`).
    let count = total.map(|t| t.count + i64::from(t.more));
    ViewOut {
        id: v.id,
        key: v.key,
        name: v.name,
        scope: scope.into(),
        owner_id: v.owner_id,
        group_id: v.group_id,
        active: v.active,
        position: v.position,
        filters: v.filters,
        columns: v.columns,
        sort: v.sort,
        count,
    }
}

#[utoipa::path(post, path = "/api/v1/views", tag = "rules", request_body = ViewIn,
    responses((status = 201, body = ViewOut), (status = 422, body = Problem)))]
async fn create_view(State(app): State<App>, Auth(p): Auth, body: ApiJson<ViewIn>) -> ApiResult<impl IntoResponse> {
    let v = app.create_view(&p, body.value.into()).await?;
    Ok((StatusCode::CREATED, Json(view_out(v, None))))
}

/// Your views with their counts (`?counts=false` skips them).
#[utoipa::path(get, path = "/api/v1/views", tag = "rules", params(("counts" = Option<bool>, Query)),
    responses((status = 200, body = Items<ViewOut>)))]
async fn list_views(State(app): State<App>, Auth(p): Auth, q: QueryPairs) -> ApiResult<Json<Items<ViewOut>>> {
    q.only(&["counts"])?;
    let views = app.list_views(&p).await?;
    let counts = match q.parse::<bool>("counts")?.unwrap_or(true) {
        true => app.view_counts(&p, &views).await?.into_iter().map(Some).collect(),
        false => vec![None; views.len()],
    };
    Ok(Json(Items { items: views.into_iter().zip(counts).map(|(v, c)| view_out(v, c)).collect() }))
}

#[utoipa::path(get, path = "/api/v1/views/{id}", tag = "rules", params(("id" = String, Path, description = "an id or a built-in key")),
    responses((status = 200, body = ViewOut), (status = 404, body = Problem)))]
async fn get_view(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Json<ViewOut>> {
    let v = app.get_view(&p, &id).await?;
    let count = app.view_counts(&p, std::slice::from_ref(&v)).await?.pop();
    Ok(Json(view_out(v, count)))
}

#[utoipa::path(patch, path = "/api/v1/views/{id}", tag = "rules", params(("id" = i64, Path)), request_body = ViewIn,
    responses((status = 200, body = ViewOut), (status = 422, body = Problem)))]
async fn update_view(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<ViewIn>,
) -> ApiResult<Json<ViewOut>> {
    Ok(Json(view_out(app.update_view(&p, id, body.value.into()).await?, None)))
}

#[utoipa::path(delete, path = "/api/v1/views/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 204), (status = 409, body = Problem)))]
async fn delete_view(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_view(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- webhooks ----

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

// ---- escalation and transfer ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveIn {
    /// Why: kept on the timeline. Required.
    #[serde(default)]
    pub reason: String,
    /// Escalation: where to (default: the group's escalation target or the next tier).
    /// Transfer: required.
    pub group_id: Option<GroupId>,
    pub version: Option<i64>,
}

/// Escalates up a tier, with a reason.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/escalate", tag = "tickets", params(("id" = i64, Path)), request_body = MoveIn,
    responses((status = 200, body = TicketOut), (status = 422, body = Problem), (status = 409, body = Problem)))]
async fn escalate(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    IfMatch(if_match): IfMatch,
    body: ApiJson<MoveIn>,
) -> ApiResult<Json<TicketOut>> {
    let b = body.value;
    let from_header = b.version.is_none() && if_match.is_some();
    let t = app
        .escalate(&p, TicketId(id), b.group_id, &b.reason, b.version.or(if_match), Via::Api)
        .await
        .map_err(if_match_failed(from_header))?;
    Ok(Json(TicketOut::view(t, &p)))
}

/// Transfers to another group, with a reason.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/transfer", tag = "tickets", params(("id" = i64, Path)), request_body = MoveIn,
    responses((status = 200, body = TicketOut), (status = 422, body = Problem), (status = 409, body = Problem)))]
async fn transfer(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    IfMatch(if_match): IfMatch,
    body: ApiJson<MoveIn>,
) -> ApiResult<Json<TicketOut>> {
    let b = body.value;
    let group = b.group_id.ok_or_else(|| ApiError::unprocessable("required", "group_id", "where to"))?;
    let from_header = b.version.is_none() && if_match.is_some();
    let t = app
        .transfer(&p, TicketId(id), group, &b.reason, b.version.or(if_match), Via::Api)
        .await
        .map_err(if_match_failed(from_header))?;
    Ok(Json(TicketOut::view(t, &p)))
}

// ---- jobs ----

#[derive(Debug, Serialize, ToSchema)]
pub struct JobOut {
    pub id: i64,
    pub kind: String,
    /// `pending` (waiting or running) or `failed` (gave up).
    pub state: String,
    pub run_at: Timestamp,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    pub locked_until: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl From<Job> for JobOut {
    fn from(j: Job) -> Self {
        JobOut {
            id: j.id,
            kind: j.kind,
            state: j.state.as_str().into(),
            run_at: j.run_at,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error,
            locked_until: j.locked_until,
            created_at: j.created_at,
        }
    }
}

/// The job queue (admins): what is due, running, or failed for good.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "config", params(("kind" = Option<String>, Query)),
    responses((status = 200, body = Items<JobOut>), (status = 403, body = Problem)))]
async fn list_jobs(State(app): State<App>, Auth(p): Auth, q: QueryPairs) -> ApiResult<Json<Items<JobOut>>> {
    q.only(&["kind"])?;
    let jobs = app.list_jobs(&p, q.get("kind")).await?;
    Ok(Json(Items { items: jobs.into_iter().map(JobOut::from).collect() }))
}
