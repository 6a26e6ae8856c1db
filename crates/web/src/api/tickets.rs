//! `/api/v1/tickets`: create, list, read, update, bulk, merge, links, comments, events.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_core::tickets::{AddComment, CreateTicket, Idempotency, RequesterInput};
use gongdan_domain::Code;
use gongdan_domain::conversation::{Comment, Event, Link};
use gongdan_domain::event::Via;
use gongdan_domain::ids::*;
use gongdan_domain::page::Cursor;
use gongdan_domain::tickets::{Channel, Priority, StatusCategory};
use gongdan_domain::tickets::{TicketQuery, TicketSort};
use jiff::Timestamp;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::*;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth, IdempotencyKey, IfMatch, QueryPairs, if_match_failed};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_ticket, list_tickets))
        .routes(routes!(get_ticket, update_ticket))
        .routes(routes!(bulk_update))
        .routes(routes!(merge_ticket))
        .routes(routes!(add_comment, list_comments))
        .routes(routes!(list_events))
        .routes(routes!(add_link, list_links))
        .routes(routes!(delete_link))
}

pub(crate) fn idempotency(key: IdempotencyKey, method_path: &str, body_hash: &str) -> Option<Idempotency> {
    key.0.map(|key| Idempotency {
        key,
        request_hash: gongdan_core::auth::sha256_hex(format!("{method_path}\n{body_hash}").as_bytes()),
    })
}

pub(crate) fn created<T: serde::Serialize>(replayed: bool, body: T) -> axum::response::Response {
    let mut res = (StatusCode::CREATED, Json(body)).into_response();
    if replayed {
        res.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    res
}

fn etag(version: i64) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        h.insert(axum::http::header::ETAG, v);
    }
    h
}

/// Creates a ticket. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = TicketCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key return the first result")),
    responses((status = 201, body = TicketOut), (status = 422, body = Problem), (status = 401, body = Problem)))]
async fn create_ticket(
    State(app): State<App>,
    Auth(p): Auth,
    key: IdempotencyKey,
    body: ApiJson<TicketCreate>,
) -> ApiResult<axum::response::Response> {
    let idem = idempotency(key, "POST /api/v1/tickets", &body.hash);
    let b = body.value;
    let requester = match (b.requester, b.requester_id) {
        (Some(r), None) => Some(RequesterInput { id: r.id, email: r.email, name: r.name, phone: r.phone }),
        (None, Some(id)) => Some(RequesterInput { id: Some(id), ..Default::default() }),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(ApiError::at(Code::InvalidValue, "requester_id", "send requester or requester_id, not both"));
        }
    };
    let input = CreateTicket {
        subject: b.subject,
        description: b.description,
        html_description: b.html_description,
        requester,
        organization_id: b.organization_id,
        cc_ids: b.cc_ids,
        assignee_id: b.assignee_id,
        group_id: b.group_id,
        status: b.status,
        channel: b.channel,
        kind: b.kind,
        priority: b.priority,
        tags: b.tags,
        due_at: b.due_at,
        category_id: b.category_id,
        custom_fields: b.custom_fields,
        attachment_ids: b.attachment_ids,
        mail: None,
    };
    let c = app.create_ticket(&p, input, Via::Api, idem).await?;
    Ok(created(c.replayed, TicketOut::view(c.value, &p)))
}

fn parse_time(q: &QueryPairs, name: &str) -> ApiResult<Option<Timestamp>> {
    q.parse::<Timestamp>(name)
}

fn parse_list<T>(
    q: &QueryPairs,
    name: &str,
    parse: impl Fn(&str, &str) -> Result<T, gongdan_domain::DomainError>,
) -> ApiResult<Vec<T>> {
    q.list(name)
        .into_iter()
        .map(|v| parse(v, name).map_err(|e| ApiError::at(Code::InvalidQuery, name, e.to_string())))
        .collect()
}

fn parse_ids(q: &QueryPairs, name: &str) -> ApiResult<Vec<i64>> {
    q.list(name)
        .into_iter()
        .map(|v| v.parse().map_err(|_| ApiError::at(Code::InvalidQuery, name, format!("`{v}` is not an id"))))
        .collect()
}

/// Lists tickets the caller may see, newest activity first by default, with keyset paging.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets",
    params(
        ("status" = Option<String>, Query, description = "status keys or categories, comma-separated"),
        ("assignee_id" = Option<String>, Query, description = "an agent id, or `none` for unassigned; staff only"),
        ("group_id" = Option<String>, Query, description = "staff only"), ("requester_id" = Option<i64>, Query), ("organization_id" = Option<i64>, Query),
        ("tag" = Option<String>, Query, description = "staff only"), ("category_id" = Option<String>, Query, description = "includes subcategories"),
        ("priority" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("cf.KEY" = Option<String>, Query, description = "custom field value, e.g. cf.order_no=A-1001"),
        ("created_after" = Option<String>, Query), ("created_before" = Option<String>, Query),
        ("updated_after" = Option<String>, Query), ("updated_before" = Option<String>, Query),
        ("sort" = Option<String>, Query, description = "-updated_at (default), updated_at, -created_at, created_at, -priority, due_at"),
        ("cursor" = Option<String>, Query), ("limit" = Option<i64>, Query, description = "1–100, default 50"),
        ("total" = Option<bool>, Query, description = "count matching tickets (default true)")),
    responses((status = 200, body = TicketList), (status = 400, body = Problem)))]
async fn list_tickets(State(app): State<App>, Auth(p): Auth, q: QueryPairs) -> ApiResult<Json<TicketList>> {
    q.only(&[
        "status",
        "assignee_id",
        "group_id",
        "requester_id",
        "organization_id",
        "tag",
        "category_id",
        "priority",
        "channel",
        "cf.",
        "created_after",
        "created_before",
        "updated_after",
        "updated_before",
        "sort",
        "cursor",
        "limit",
        "total",
    ])?;
    if !p.is_staff() {
        // A filter on what customers are not shown would reveal it by what it returns.
        if let Some(k) = ["tag", "group_id", "assignee_id"].into_iter().find(|k| q.get(k).is_some()) {
            return Err(ApiError::at(Code::InvalidQuery, k, format!("customers cannot filter by `{k}`")));
        }
    }
    let mut tq = TicketQuery::new(p.scope());
    let cfg = app.config().await?;
    for s in q.list("status") {
        if let Ok(c) = StatusCategory::parse(s, "status") {
            tq.status_categories.push(c);
        } else if let Some(st) = cfg.statuses.iter().find(|x| x.key == s) {
            tq.status_ids.push(st.id);
        } else {
            return Err(ApiError::at(Code::InvalidQuery, "status", format!("no status `{s}`")));
        }
    }
    if !tq.status_categories.is_empty() && !tq.status_ids.is_empty() {
        // Keys and categories together mean "any of these": expand the categories to ids.
        for c in std::mem::take(&mut tq.status_categories) {
            tq.status_ids.extend(cfg.statuses.iter().filter(|s| s.category == c).map(|s| s.id));
        }
    }
    tq.assignee = match q.get("assignee_id") {
        None => None,
        Some("none") => Some(None),
        Some(_) => q.parse::<i64>("assignee_id")?.map(|a| Some(UserId(a))),
    };
    tq.group_ids = parse_ids(&q, "group_id")?.into_iter().map(GroupId).collect();
    tq.requester_id = q.parse::<i64>("requester_id")?.map(UserId);
    tq.organization_id = q.parse::<i64>("organization_id")?.map(OrganizationId);
    tq.tag = q.get("tag").map(|t| t.trim().to_lowercase());
    tq.category_ids = parse_ids(&q, "category_id")?.into_iter().map(CategoryId).collect();
    tq.priorities = parse_list(&q, "priority", Priority::parse)?;
    tq.channels = parse_list(&q, "channel", Channel::parse)?;
    let cfs: Vec<&(String, String)> = q.0.iter().filter(|(k, _)| k.starts_with("cf.")).collect();
    if cfs.len() > 1 {
        return Err(ApiError::at(Code::InvalidQuery, &cfs[1].0, "filter on one custom field at a time"));
    }
    tq.custom_field = cfs.first().map(|(k, v)| (k.trim_start_matches("cf.").to_owned(), v.clone()));
    tq.created_after = parse_time(&q, "created_after")?;
    tq.created_before = parse_time(&q, "created_before")?;
    tq.updated_after = parse_time(&q, "updated_after")?;
    tq.updated_before = parse_time(&q, "updated_before")?;
    if let Some(s) = q.get("sort") {
        tq.sort = TicketSort::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, s)| *s)
            .ok_or_else(|| ApiError::at(Code::InvalidQuery, "sort", format!("unknown sort `{s}`")))?;
    }
    tq.cursor = q.get("cursor").map(|c| Cursor::decode(c, tq.sort.name())).transpose()?;
    tq.limit = q.limit(50, 100)?;
    tq.with_total = q.parse::<bool>("total")?.unwrap_or(true);
    let page = app.list_tickets(&p, tq).await?;
    Ok(Json(TicketList {
        items: page.items.into_iter().map(|t| TicketOut::view(t, &p)).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
        total: page.total,
    }))
}

#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 200, body = TicketOut, headers(("ETag" = String))), (status = 404, body = Problem)))]
async fn get_ticket(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<impl IntoResponse> {
    let t = app.get_ticket(&p, TicketId(id)).await?;
    Ok((etag(t.version), Json(TicketOut::view(t, &p))))
}

/// Changes some fields. Without a `version` the change applies on top of whatever is current
/// and never fails for being concurrent. With the `version` you read, a stale update gets 409
/// and changes nothing; with `If-Match`, 412.
#[utoipa::path(patch, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = i64, Path), ("If-Match" = Option<String>, Header, description = "the ETag a read returned")),
    request_body = TicketUpdate,
    responses((status = 200, body = TicketOut, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_ticket(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    IfMatch(if_match): IfMatch,
    body: ApiJson<TicketUpdate>,
) -> ApiResult<impl IntoResponse> {
    let version = match (body.value.version, if_match) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::at(Code::InvalidValue, "version", "the body's version and If-Match disagree"));
        }
        (a, b) => a.or(b),
    };
    let t = app
        .update_ticket(&p, TicketId(id), body.value.into(), version, Via::Api)
        .await
        .map_err(if_match_failed(if_match.is_some()))?;
    Ok((etag(t.version), Json(TicketOut::view(t, &p))))
}

/// Applies one change to up to 100 tickets; each succeeds or fails on its own.
#[utoipa::path(post, path = "/api/v1/tickets/bulk", tag = "tickets", request_body = BulkUpdate, responses((status = 200, body = BulkResult)))]
async fn bulk_update(State(app): State<App>, Auth(p): Auth, body: ApiJson<BulkUpdate>) -> ApiResult<Json<BulkResult>> {
    if body.value.changes.version.is_some() {
        return Err(ApiError::at(
            Code::InvalidValue,
            "changes.version",
            "bulk updates apply to the current version of each ticket",
        ));
    }
    let results = app.bulk_update(&p, &body.value.ids, &body.value.changes.into(), Via::Api).await?;
    let results = results
        .into_iter()
        .map(|(id, r)| match r {
            Ok(t) => BulkItem { id, ok: true, ticket: Some(TicketOut::view(t, &p)), error: None },
            Err(e) => BulkItem { id, ok: false, ticket: None, error: Some(ApiError::from(e).problem()) },
        })
        .collect();
    Ok(Json(BulkResult { results }))
}

/// Merges this ticket into `target_id`: this one closes, its conversation stays visible on the
/// target.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/merge", tag = "tickets", params(("id" = i64, Path)), request_body = MergeIn,
    responses((status = 200, body = TicketOut, description = "the surviving ticket"), (status = 422, body = Problem)))]
async fn merge_ticket(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<MergeIn>,
) -> ApiResult<Json<TicketOut>> {
    let t = app.merge(&p, TicketId(id), body.value.target_id, Via::Api).await?;
    Ok(Json(TicketOut::view(t, &p)))
}

/// Adds a public reply or an internal note (`"public": false`).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/comments", tag = "tickets", params(("id" = i64, Path)), request_body = CommentIn,
    responses((status = 201, body = CommentCreated), (status = 404, body = Problem)))]
async fn add_comment(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    key: IdempotencyKey,
    body: ApiJson<CommentIn>,
) -> ApiResult<axum::response::Response> {
    let idem = idempotency(key, &format!("POST /api/v1/tickets/{id}/comments"), &body.hash);
    let b = body.value;
    let input = AddComment {
        body: b.body,
        html_body: b.html_body,
        public: b.public,
        attachment_ids: b.attachment_ids,
        mail: None,
    };
    let c = app.add_comment(&p, TicketId(id), input, Via::Api, idem).await?;
    let out = c.value;
    Ok(created(
        c.replayed,
        CommentCreated {
            comment: out.comment,
            follow_up_ticket_id: out.follow_up_of.map(|_| out.ticket.id),
            ticket: TicketOut::view(out.ticket, &p),
        },
    ))
}

/// The conversation, oldest first; includes tickets merged into this one. Customers see public
/// replies only.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/comments", tag = "tickets",
    params(("id" = i64, Path), ("after" = Option<i64>, Query, description = "comment id to continue after"), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = Items<Comment>)))]
async fn list_comments(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    q: QueryPairs,
) -> ApiResult<Json<Items<Comment>>> {
    q.only(&["after", "limit"])?;
    let items =
        app.list_comments(&p, TicketId(id), q.parse::<i64>("after")?.map(CommentId), q.limit(100, 500)?).await?;
    Ok(Json(Items { items }))
}

/// The ticket's timeline of changes.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/events", tag = "tickets",
    params(("id" = i64, Path), ("after" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = Items<Event>)))]
async fn list_events(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    q: QueryPairs,
) -> ApiResult<Json<Items<Event>>> {
    q.only(&["after", "limit"])?;
    let items = app.list_events(&p, TicketId(id), q.parse::<i64>("after")?.map(EventId), q.limit(200, 1000)?).await?;
    Ok(Json(Items { items }))
}

#[utoipa::path(post, path = "/api/v1/tickets/{id}/links", tag = "tickets", params(("id" = i64, Path)), request_body = LinkIn,
    responses((status = 201, body = Link), (status = 422, body = Problem)))]
async fn add_link(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<LinkIn>,
) -> ApiResult<impl IntoResponse> {
    let l = app.link(&p, TicketId(id), body.value.target_id, body.value.kind, Via::Api).await?;
    Ok((StatusCode::CREATED, Json(l)))
}

#[utoipa::path(get, path = "/api/v1/tickets/{id}/links", tag = "tickets", params(("id" = i64, Path)), responses((status = 200, body = Items<Link>)))]
async fn list_links(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<Items<Link>>> {
    Ok(Json(Items { items: app.list_links(&p, TicketId(id)).await? }))
}

#[utoipa::path(delete, path = "/api/v1/tickets/{id}/links/{link_id}", tag = "tickets",
    params(("id" = i64, Path), ("link_id" = i64, Path)), responses((status = 204), (status = 404, body = Problem)))]
async fn delete_link(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, link_id)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    app.unlink(&p, TicketId(id), LinkId(link_id), Via::Api).await?;
    Ok(StatusCode::NO_CONTENT)
}
