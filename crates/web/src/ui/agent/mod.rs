//! The agent workspace: views with live counts on the left, the ticket list with filters,
//! sorting, keyset paging and bulk actions in the centre; the ticket page and the create form
//! live in their own modules.

mod actions;
mod changes;
mod macros;
mod new;
pub mod notifications;
mod routing;
pub mod ticket;
mod views;

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::people::UserLabel;
use gongdan_core::tickets::UpdateTicket;
use gongdan_core::views::ViewRow;
use gongdan_domain::access::Principal;
use gongdan_domain::event::Via;
use gongdan_domain::ids::*;
use gongdan_domain::page::Cursor;
use gongdan_domain::tickets::TicketSort;
use gongdan_domain::tickets::{Channel, Priority, Ticket};

use super::ctx::{Ctx, Viewer};
use super::form::UiForm;
use super::view::{Opt, category_options, urlencode};
use super::{UiError, UiResult, redirect_flash, render};
use crate::session::local_path;

/// The workspace; `uploads` is the body limit of the routes that take files.
pub fn router(uploads: DefaultBodyLimit) -> Router<App> {
    Router::new()
        .route("/agent", get(|| async { Redirect::to("/agent/views/mine") }))
        .route("/agent/views/{view}", get(list_page))
        .route("/agent/bulk", post(bulk))
        .merge(ticket::router(uploads))
        .merge(new::router(uploads))
        .merge(macros::router())
        .merge(notifications::router())
        .merge(routing::router())
        .merge(views::router())
}

/// The keys of the built-in views (shared views the first migration made; their names are
/// translated). Every other view is an admin's or an agent's, named by them.
pub const BUILTIN_VIEWS: [&str; 6] = ["mine", "unassigned", "open", "pending", "on_hold", "solved"];

pub struct ViewCount {
    /// The view's key, or its id for a view without one.
    pub id: String,
    pub label: String,
    pub count: i64,
    /// The count stopped at the cap ("10000+").
    pub more: bool,
    pub current: bool,
}

/// A view's name in the viewer's language: built-in views are translated.
pub fn view_label(ctx: &Ctx, v: &ViewRow) -> String {
    match v.key.as_deref() {
        Some(k) if BUILTIN_VIEWS.contains(&k) => ctx.t(&format!("view-{k}")),
        _ => v.name.clone(),
    }
}

fn view_slug(v: &ViewRow) -> String {
    v.key.clone().unwrap_or_else(|| v.id.to_string())
}

/// Every view the viewer has, with its count, for the left-hand menu: one pass over the
/// queue counters (views with other filters count through their index, up to a cap).
pub async fn view_counts(app: &App, p: &Principal, ctx: &Ctx, current: &str) -> UiResult<Vec<ViewCount>> {
    let views = app.my_views(p).await?;
    let counts = app.view_counts(p, &views).await?;
    Ok(views
        .iter()
        .zip(counts)
        .map(|(v, count)| {
            let id = view_slug(v);
            ViewCount { label: view_label(ctx, v), count: count.count, more: count.more, current: id == current, id }
        })
        .collect())
}

/// A row of the ticket list.
pub struct Row {
    pub id: i64,
    pub subject: String,
    pub requester: String,
    pub status: String,
    pub category: &'static str,
    pub priority: String,
    pub priority_key: &'static str,
    pub group: String,
    pub assignee: String,
    pub updated: String,
    pub created: String,
    pub category_name: String,
    pub channel: String,
    pub due: String,
}

/// A column of the list, as a view chose it.
pub struct Col {
    pub key: &'static str,
    pub label: String,
}

/// The columns a view shows (its own choice, or the usual ones).
pub fn columns(ctx: &Ctx, v: &ViewRow) -> Vec<Col> {
    let chosen: Vec<&'static str> = if v.columns.is_empty() {
        gongdan_core::views::DEFAULT_COLUMNS.to_vec()
    } else {
        gongdan_core::views::COLUMNS.iter().copied().filter(|c| v.columns.iter().any(|x| x == c)).collect()
    };
    chosen.into_iter().map(|key| Col { key, label: ctx.t(&format!("column-{key}")) }).collect()
}

pub fn rows(ctx: &Ctx, tickets: &[Ticket], names: &BTreeMap<UserId, UserLabel>) -> Vec<Row> {
    let name = |id: Option<UserId>| id.and_then(|i| names.get(&i)).map(|u| u.name.clone()).unwrap_or_default();
    tickets
        .iter()
        .map(|t| Row {
            id: t.id.0,
            subject: t.subject.clone(),
            requester: name(Some(t.requester_id)),
            status: ctx.status_label(&t.status.key),
            category: t.status.category.as_str(),
            priority: ctx.priority_label(t.priority),
            priority_key: t.priority.as_str(),
            group: t.group_id.map(|g| ctx.group_name(g.0)).unwrap_or_default(),
            assignee: name(t.assignee_id),
            updated: ctx.dt(&t.updated_at),
            created: ctx.dt(&t.created_at),
            category_name: t.category_id.map(|c| ctx.category_path(c.0)).unwrap_or_default(),
            channel: ctx.t(&format!("channel-{}", t.channel.as_str())),
            due: t.due_at.as_ref().map(|d| ctx.dt(d)).unwrap_or_default(),
        })
        .collect()
}

/// The list's filters, as they came in the query string.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ListQuery {
    pub sort: Option<String>,
    pub cursor: Option<String>,
    pub priority: Option<String>,
    pub group_id: Option<String>,
    pub assignee_id: Option<String>,
    pub channel: Option<String>,
    pub tag: Option<String>,
    pub category_id: Option<String>,
}

impl ListQuery {
    /// The query string without the cursor (and with `sort` replaced when given).
    fn link(&self, sort: Option<&str>) -> String {
        let mut parts = Vec::new();
        let mut add = |k: &str, v: &Option<String>| {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        };
        add("priority", &self.priority);
        add("group_id", &self.group_id);
        add("assignee_id", &self.assignee_id);
        add("channel", &self.channel);
        add("tag", &self.tag);
        add("category_id", &self.category_id);
        match sort {
            Some(s) => parts.push(format!("sort={}", urlencode(s))),
            None => add("sort", &self.sort),
        }
        parts.join("&")
    }
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

pub struct SortLink {
    pub label: String,
    pub href: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "agent/list.html")]
struct ListPage {
    ctx: Ctx,
    view: String,
    views: Vec<ViewCount>,
    cols: Vec<Col>,
    rows: Vec<Row>,
    /// "10000+" past the count's cap.
    total: String,
    next: Option<String>,
    first: Option<String>,
    sorts: Vec<SortLink>,
    filters: Vec<super::view::FieldView>,
    bulk: Vec<super::view::FieldView>,
    back: String,
    /// The filters as a query string, for "save as view".
    query: String,
}

#[derive(Template)]
#[template(path = "agent/_list.html")]
struct ListFragment {
    ctx: Ctx,
    views: Vec<ViewCount>,
    cols: Vec<Col>,
    rows: Vec<Row>,
    /// "10000+" past the count's cap.
    total: String,
    next: Option<String>,
    first: Option<String>,
    sorts: Vec<SortLink>,
}

/// Active staff as options of an assignee picker (and `keep`, the current one, even when not).
pub fn agent_options(ctx: &Ctx, keep: Option<UserId>) -> Vec<Opt> {
    ctx.cfg
        .agents
        .iter()
        .filter(|a| a.active || Some(a.id) == keep)
        .map(|a| Opt::new(a.id.0.to_string(), a.name.clone()))
        .collect()
}

pub fn group_options(ctx: &Ctx, keep: Option<GroupId>) -> Vec<Opt> {
    ctx.cfg
        .groups
        .iter()
        .filter(|g| g.active || Some(g.id) == keep)
        .map(|g| Opt::new(g.id.0.to_string(), format!("{} · {}", g.name, ctx.t1("group-tier", "tier", g.tier))))
        .collect()
}

pub fn priority_options(ctx: &Ctx) -> Vec<Opt> {
    Priority::ALL.iter().map(|p| Opt::new(p.as_str(), ctx.priority_label(*p))).collect()
}

/// Active statuses (and `keep`, the current one, even when not).
pub fn status_options(ctx: &Ctx, keep: Option<&str>) -> Vec<Opt> {
    ctx.cfg
        .statuses
        .iter()
        .filter(|s| s.active || Some(s.key.as_str()) == keep)
        .map(|s| Opt::new(s.key.clone(), ctx.pick(&s.label_zh, &s.label_en).to_owned()))
        .collect()
}

pub fn channel_options(ctx: &Ctx) -> Vec<Opt> {
    Channel::ALL.iter().map(|c| Opt::new(c.as_str(), ctx.t(&format!("channel-{}", c.as_str())))).collect()
}

async fn list_page(
    State(app): State<App>,
    v: Viewer,
    Path(view): Path<String>,
    Query(lq): Query<ListQuery>,
    headers: HeaderMap,
) -> UiResult {
    use super::view::FieldView;
    let p = v.staff()?.principal.clone();
    let p = &p;
    let saved = app.get_view(p, &view).await.map_err(|_| UiError::NotFound)?;
    let mut q = gongdan_core::views::view_query(&v.ctx.cfg, p, &saved);

    if let Some(pr) = blank(&lq.priority) {
        q.priorities = vec![Priority::parse(pr, "priority").map_err(|_| UiError::BadRequest)?];
    }
    if let Some(g) = blank(&lq.group_id) {
        q.group_ids = vec![GroupId(g.parse().map_err(|_| UiError::BadRequest)?)];
    }
    match blank(&lq.assignee_id) {
        Some("none") => q.assignee = Some(None),
        Some(a) => q.assignee = Some(Some(UserId(a.parse().map_err(|_| UiError::BadRequest)?))),
        None => {}
    }
    if let Some(c) = blank(&lq.channel) {
        q.channels = vec![Channel::parse(c, "channel").map_err(|_| UiError::BadRequest)?];
    }
    if let Some(t) = blank(&lq.tag) {
        q.tag = Some(t.to_lowercase());
    }
    if let Some(c) = blank(&lq.category_id) {
        q.category_ids = vec![CategoryId(c.parse().map_err(|_| UiError::BadRequest)?)];
    }
    if let Some(sort) = blank(&lq.sort) {
        q.sort = TicketSort::ALL.iter().find(|(n, _)| *n == sort).map(|(_, s)| *s).ok_or(UiError::BadRequest)?;
    }
    if let Some(c) = blank(&lq.cursor) {
        // A cursor from another sort (an old link) starts again from the top.
        q.cursor = Cursor::decode(c, q.sort.name()).ok();
    }
    q.limit = 50;
    // The total as views count theirs: exact from the counters, otherwise up to a cap (a
    // filtered list's plain COUNT would read every ticket it matches on each page load).
    q.with_total = false;
    let (page, counted) = tokio::try_join!(app.list_tickets(p, q.clone()), app.count_tickets(p, vec![q.clone()]))?;
    let total = match counted.first() {
        Some(t) if t.more => format!("{}+", t.count),
        Some(t) => t.count.to_string(),
        None => "0".into(),
    };
    let people: Vec<UserId> = page.items.iter().flat_map(|t| [Some(t.requester_id), t.assignee_id]).flatten().collect();
    let names = app.user_labels(people).await?;
    let ctx = v.ctx;
    let views = view_counts(&app, p, &ctx, &view).await?;
    let base = format!("/agent/views/{view}");
    let query = lq.link(None);
    let sep = if query.is_empty() { "" } else { "&" };
    let next = page.next_cursor.map(|c| format!("{base}?{query}{sep}cursor={}", urlencode(&c.encode())));
    let first = lq.cursor.as_ref().map(|_| format!("{base}?{query}"));
    let sorts = [
        ("-updated_at", "sort-updated"),
        ("-created_at", "sort-created"),
        ("-priority", "sort-priority"),
        ("due_at", "sort-due"),
        ("updated_at", "sort-oldest"),
    ]
    .into_iter()
    .map(|(s, key)| SortLink {
        label: ctx.t(key),
        href: format!("{base}?{}", lq.link(Some(s))),
        active: q.sort.name() == s,
    })
    .collect();
    let rows = rows(&ctx, &page.items, &names);
    let cols = columns(&ctx, &saved);
    let back = ctx.here.clone();
    if headers.contains_key("x-fragment") {
        return render(&ListFragment { ctx, views, cols, rows, total, next, first, sorts });
    }
    let agents = agent_options(&ctx, None);
    let mut assignees = vec![Opt::new("none", ctx.t("assignee-none"))];
    assignees.extend(agents.iter().cloned());
    let val = |o: &Option<String>| o.clone().unwrap_or_default();
    let filters = vec![
        FieldView::new("priority", ctx.t("field-priority"), "select", val(&lq.priority))
            .options(priority_options(&ctx), true),
        FieldView::new("group_id", ctx.t("field-group"), "select", val(&lq.group_id))
            .options(group_options(&ctx, None), true),
        FieldView::new("assignee_id", ctx.t("field-assignee"), "select", val(&lq.assignee_id)).options(assignees, true),
        FieldView::new("channel", ctx.t("field-channel"), "select", val(&lq.channel))
            .options(channel_options(&ctx), true),
        FieldView::new("category_id", ctx.t("field-category"), "tree", val(&lq.category_id))
            .options(category_options(&ctx, &ctx.cfg.categories, None), true),
        FieldView::new("tag", ctx.t("field-tag"), "text", val(&lq.tag)),
    ];
    let bulk = vec![
        FieldView::new("assignee_id", ctx.t("field-assignee"), "select", "")
            .options(assignees_for_bulk(&ctx, agents), true),
        FieldView::new("status", ctx.t("field-status"), "select", "").options(status_options(&ctx, None), true),
        FieldView::new("priority", ctx.t("field-priority"), "select", "").options(priority_options(&ctx), true),
        FieldView::new("group_id", ctx.t("field-group"), "select", "").options(group_options(&ctx, None), true),
        FieldView::new("add_tags", ctx.t("field-add-tags"), "text", ""),
        FieldView::new("merge_into", ctx.t("field-merge-into"), "number", "").hint(ctx.t("bulk-merge-hint")),
    ];
    render(&ListPage { ctx, view, views, cols, rows, total, next, first, sorts, filters, bulk, back, query })
}

fn assignees_for_bulk(ctx: &Ctx, agents: Vec<Opt>) -> Vec<Opt> {
    let mut out = vec![Opt::new("none", ctx.t("assignee-unassign"))];
    out.extend(agents);
    out
}

/// Builds the change a bulk form asks for; `None` when it asks for nothing.
fn bulk_change(form: &UiForm) -> Result<Option<UpdateTicket>, UiError> {
    let mut u = UpdateTicket::default();
    let bad = |_| UiError::BadRequest;
    match form.text("assignee_id").as_deref() {
        Some("none") => u.assignee_id = Some(None),
        Some(a) => u.assignee_id = Some(Some(UserId(a.parse().map_err(bad)?))),
        None => {}
    }
    if let Some(g) = form.text("group_id") {
        u.group_id = Some(Some(GroupId(g.parse().map_err(bad)?)));
    }
    u.status = form.text("status");
    if let Some(p) = form.text("priority") {
        u.priority = Some(Priority::parse(&p, "priority").map_err(|_| UiError::BadRequest)?);
    }
    u.add_tags = form.text("add_tags").map(|t| t.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
    let empty = u.assignee_id.is_none()
        && u.group_id.is_none()
        && u.status.is_none()
        && u.priority.is_none()
        && u.add_tags.is_empty();
    Ok((!empty).then_some(u))
}

/// Bulk actions from the list: one change to every ticket ticked, or a merge of all of them
/// into one. Each ticket succeeds or fails on its own; the flash says how many of each.
async fn bulk(State(app): State<App>, v: Viewer, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let back = local_path(form.get("back"));
    // At most 100 at a time, as the API's bulk update.
    let ids: Vec<TicketId> = form.ids("ids").into_iter().take(100).map(TicketId).collect();
    if ids.is_empty() {
        return Ok(redirect_flash(&back, "flash-bulk-none"));
    }
    let (mut ok, mut failed) = (0usize, 0usize);
    if let Some(target) = form.id("merge_into").map_err(|_| UiError::BadRequest)? {
        for id in ids.iter().filter(|i| i.0 != target) {
            match app.merge(&s.principal, *id, TicketId(target), Via::Web).await {
                Ok(_) => ok += 1,
                Err(_) => failed += 1,
            }
        }
    } else if let Some(change) = bulk_change(&form)? {
        for (_, r) in app.bulk_update(&s.principal, &ids, &change, Via::Web).await? {
            if r.is_ok() { ok += 1 } else { failed += 1 }
        }
    } else {
        return Ok(redirect_flash(&back, "flash-bulk-nothing"));
    }
    let flash = if failed == 0 { format!("flash-bulk-done.{ok}") } else { format!("flash-bulk-failed.{failed}") };
    Ok(redirect_flash(&back, &flash).into_response())
}
