//! The customer portal: my requests (and my organisation's, where it shares them), a new
//! request with the category's form, and each request's progress like a parcel's — with
//! public replies only, never internal notes — where the customer replies or marks it solved.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::tickets::{AddComment, UpdateTicket};
use gongdan_domain::access::TicketScope;
use gongdan_domain::event::Via;
use gongdan_domain::ids::*;
use gongdan_domain::page::Cursor;
use gongdan_domain::progress::StepKind;
use gongdan_domain::tickets::TicketQuery;
use gongdan_domain::tickets::{StatusCategory, Ticket};

use super::agent::ticket::{comment_entry, form_idempotency, store_files};
use super::ctx::{Ctx, Viewer};
use super::form::{FormErrors, UiForm};
use super::new_ticket::{self, Submitted};
use super::view::{FieldView, ticket_fields, urlencode};
use super::{UiResult, redirect_flash, render};

/// The portal; `uploads` is the body limit of the routes that take files.
pub fn router(uploads: axum::extract::DefaultBodyLimit) -> Router<App> {
    Router::new()
        .route("/portal", get(home))
        .route("/portal/new", get(new_page).merge(post(create).layer(uploads)))
        .route("/portal/requests/{id}", get(show))
        .route("/portal/requests/{id}/reply", post(reply).layer(uploads))
        .route("/portal/requests/{id}/solve", post(solve))
        .route("/portal/notifications", get(notifications))
        .route("/portal/notifications/read", post(read_notifications))
}

pub struct RequestRow {
    pub id: i64,
    pub subject: String,
    pub status: String,
    pub category: &'static str,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    ctx: Ctx,
    title: String,
    rows: Vec<RequestRow>,
    org: bool,
    org_allowed: bool,
    next: Option<String>,
    status: String,
    /// The address is not proven yet and the desk can mail a link to prove it.
    unverified: bool,
}

#[derive(serde::Deserialize)]
struct HomeQuery {
    scope: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
}

async fn home(State(app): State<App>, v: Viewer, Query(q): Query<HomeQuery>) -> UiResult {
    let s = v.customer()?;
    let p = &s.principal;
    let org_allowed = p.org_access && p.organization_id.is_some();
    let org = org_allowed && q.scope.as_deref() == Some("org");
    // "Mine" is what they asked for and what they are copied on (a merge copies them).
    let mut tq = if org {
        TicketQuery::new(p.scope())
    } else {
        TicketQuery::new(TicketScope::Requester { user: p.user_id, organization: None })
    };
    let status = q.status.clone().unwrap_or_default();
    tq.status_categories = match status.as_str() {
        "open" => vec![StatusCategory::New, StatusCategory::Open, StatusCategory::Pending],
        "solved" => vec![StatusCategory::Solved, StatusCategory::Closed],
        _ => vec![],
    };
    tq.limit = 25;
    tq.with_total = false;
    tq.cursor = q.cursor.as_deref().and_then(|c| Cursor::decode(c, tq.sort.name()).ok());
    let page = app.list_tickets(p, tq).await?;
    let unverified = s.user.email.is_some() && s.user.email_verified_at.is_none() && app.mails_links().await?;
    let ctx = v.ctx;
    let rows = page
        .items
        .iter()
        .map(|t| RequestRow {
            id: t.id.0,
            subject: t.subject.clone(),
            status: ctx.status_label(&t.status.key),
            category: t.status.category.customer_view().as_str(),
            updated: ctx.dt(&t.updated_at),
        })
        .collect();
    let next = page.next_cursor.map(|c| {
        format!(
            "/portal?scope={}&status={}&cursor={}",
            if org { "org" } else { "mine" },
            urlencode(&status),
            urlencode(&c.encode())
        )
    });
    let title = ctx.t(if org { "portal-org-requests" } else { "portal-my-requests" });
    render(&HomePage { ctx, title, rows, org, org_allowed, next, status, unverified })
}

#[derive(Template)]
#[template(path = "portal/new.html")]
struct NewPage {
    ctx: Ctx,
    category: Vec<FieldView>,
    fields: Vec<FieldView>,
    custom: Vec<FieldView>,
    errors: Vec<String>,
    idem: String,
}

#[derive(serde::Deserialize)]
struct NewQuery {
    category_id: Option<i64>,
}

fn request_fields(ctx: &Ctx) -> Vec<FieldView> {
    vec![new_ticket::subject_field(ctx), new_ticket::description_field(ctx, true)]
}

async fn new_page(v: Viewer, Query(q): Query<NewQuery>) -> UiResult {
    v.customer()?;
    let ctx = v.ctx;
    let page = NewPage {
        category: vec![new_ticket::category_field(&ctx, q.category_id)],
        fields: request_fields(&ctx),
        custom: new_ticket::custom_fields(&ctx, q.category_id),
        errors: vec![],
        idem: new_ticket::fresh_key()?,
        ctx,
    };
    render(&page)
}

async fn create(State(app): State<App>, v: Viewer, form: UiForm) -> UiResult {
    let s = v.customer()?;
    let sub = Submitted::new(&form);
    let mut errors = FormErrors::default();
    if !sub.refreshing() {
        let names = sub.names(&[]);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let result = async {
            if form.get("description").unwrap_or_default().trim().is_empty() {
                return Err(gongdan_domain::DomainError::required("description").into());
            }
            let input = sub.input(&app, s, &v.ctx).await?;
            app.create_ticket(&s.principal, input, Via::Web, sub.idempotency("portal create")).await
        }
        .await;
        match result {
            Ok(c) => return Ok(redirect_flash(&format!("/portal/requests/{}", c.value.id), "flash-request-created")),
            Err(e) => errors = FormErrors::from_core(e, &names)?,
        }
    }
    let ctx = v.ctx;
    let page = NewPage {
        category: sub.refill(vec![new_ticket::category_field(&ctx, sub.category)], &ctx, &errors),
        fields: sub.refill(request_fields(&ctx), &ctx, &errors),
        custom: sub.refill(new_ticket::custom_fields(&ctx, sub.category), &ctx, &errors),
        errors: errors.general_texts(&ctx),
        idem: sub.key(),
        ctx,
    };
    new_ticket::render_again(&page, &errors)
}

/// A step of the request's progress, in words.
pub struct StepView {
    pub text: String,
    pub at: String,
    pub kind: &'static str,
}

#[derive(Template)]
#[template(path = "portal/request.html")]
struct RequestPage {
    ctx: Ctx,
    id: i64,
    subject: String,
    status: String,
    category: &'static str,
    steps: Vec<StepView>,
    entries: Vec<super::agent::ticket::Entry>,
    fields: Vec<(String, String)>,
    solvable: bool,
    closed: bool,
    body: String,
    body_error: Option<String>,
    errors: Vec<String>,
    idem: String,
    merged_into: Option<i64>,
}

#[derive(Template)]
#[template(path = "portal/_conversation.html")]
struct ConversationFragment {
    ctx: Ctx,
    status: String,
    category: &'static str,
    steps: Vec<StepView>,
    entries: Vec<super::agent::ticket::Entry>,
}

fn step_view(ctx: &Ctx, kind: StepKind, at: &jiff::Timestamp) -> StepView {
    let (text, k) = match kind {
        StepKind::Received => (ctx.t("step-received"), "received"),
        StepKind::Taken(g) => (ctx.t1("step-taken", "group", ctx.group_name(g.0)), "taken"),
        StepKind::Handling => (ctx.t("step-handling"), "handling"),
        StepKind::WaitingForYou => (ctx.t("step-waiting"), "waiting"),
        StepKind::Solved => (ctx.t("step-solved"), "solved"),
        StepKind::Closed => (ctx.t("step-closed"), "closed"),
        StepKind::Merged(t) => (ctx.t1("step-merged", "ticket", t.0), "merged"),
    };
    StepView { text, at: ctx.dt(at), kind: k }
}

/// The custom fields a customer filled in on their request, labelled.
fn shown_fields(ctx: &Ctx, t: &Ticket) -> Vec<(String, String)> {
    ticket_fields(ctx, t.category_id.map(|c| c.0), &t.custom_fields, false)
        .into_iter()
        .filter(|f| !f.value.is_empty() || !f.values.is_empty())
        .map(|f| {
            let value = match f.kind {
                "multi" => f.values.join(", "),
                "checkbox" => ctx.t(if f.is_checked() { "value-yes" } else { "value-no" }),
                "select" | "tree" => {
                    f.options.iter().find(|o| o.value == f.value).map(|o| o.label.clone()).unwrap_or(f.value.clone())
                }
                _ => f.value.clone(),
            };
            (f.label, value)
        })
        .collect()
}

struct Loaded {
    t: Ticket,
    steps: Vec<StepView>,
    entries: Vec<super::agent::ticket::Entry>,
}

async fn load(app: &App, v: &Viewer, id: i64) -> UiResult<Loaded> {
    let s = v.customer()?;
    let p = &s.principal;
    let t = app.get_ticket(p, TicketId(id)).await?;
    let comments = app.list_comments(p, t.id, None, 500).await?;
    let steps = app.progress(p, t.id).await?;
    let authors: Vec<UserId> = comments.iter().map(|c| c.author_id).collect();
    let names = app.user_labels(authors).await?;
    let ctx = &v.ctx;
    Ok(Loaded {
        steps: steps.iter().map(|st| step_view(ctx, st.kind, &st.at)).collect(),
        entries: comments.iter().map(|c| comment_entry(ctx, c, t.id, &names)).collect(),
        t,
    })
}

async fn page(app: &App, v: Viewer, id: i64, body: String, errors: FormErrors) -> UiResult {
    let l = load(app, &v, id).await?;
    let ctx = v.ctx;
    let t = l.t;
    let page = RequestPage {
        id: t.id.0,
        subject: t.subject.clone(),
        status: ctx.status_label(&t.status.key),
        category: t.status.category.customer_view().as_str(),
        steps: l.steps,
        entries: l.entries,
        fields: shown_fields(&ctx, &t),
        solvable: t.status.category.is_active() && t.merged_into_id.is_none(),
        closed: t.status.category == StatusCategory::Closed,
        body,
        body_error: errors.for_field(&ctx, "body"),
        errors: errors.general_texts(&ctx),
        idem: gongdan_core::auth::random_secret()?,
        merged_into: t.merged_into_id.map(|m| m.0),
        ctx,
    };
    let mut res = render(&page)?;
    if !errors.is_empty() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

async fn show(State(app): State<App>, v: Viewer, Path(id): Path<i64>, headers: HeaderMap) -> UiResult {
    if headers.contains_key("x-fragment") {
        let l = load(&app, &v, id).await?;
        let ctx = v.ctx;
        let status = ctx.status_label(&l.t.status.key);
        let category = l.t.status.category.customer_view().as_str();
        return render(&ConversationFragment { ctx, status, category, steps: l.steps, entries: l.entries });
    }
    page(&app, v, id, String::new(), FormErrors::default()).await
}

async fn reply(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.customer()?;
    let body = form.get("body").unwrap_or_default().to_owned();
    let result = async {
        let attachment_ids = store_files(&app, s, &form).await?;
        let input = AddComment { body: body.clone(), html_body: None, public: true, attachment_ids, mail: None };
        app.add_comment(
            &s.principal,
            TicketId(id),
            input,
            Via::Web,
            form_idempotency(&form, &format!("portal reply {id}")),
        )
        .await
    }
    .await;
    match result {
        Ok(o) => {
            let landed = o.value.ticket.id;
            let flash = if o.value.follow_up_of.is_some() { "flash-follow-up" } else { "flash-replied" };
            Ok(redirect_flash(&format!("/portal/requests/{landed}"), flash))
        }
        Err(e) => {
            let errors = FormErrors::from_core(e, &["body", "files"])?;
            page(&app, v, id, body, errors).await
        }
    }
}

async fn solve(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = v.customer()?;
    let change = UpdateTicket { status: Some("solved".into()), ..Default::default() };
    match app.update_ticket(&s.principal, TicketId(id), change, None, Via::Web).await {
        Ok(_) => Ok(redirect_flash(&format!("/portal/requests/{id}"), "flash-marked-solved")),
        Err(e) => {
            let errors = FormErrors::from_core(e, &[])?;
            page(&app, v, id, String::new(), errors).await
        }
    }
}

/// What the desk's rules told the customer (reminders, updates), newest first.
async fn notifications(
    State(app): State<App>,
    v: Viewer,
    axum::extract::Query(q): axum::extract::Query<super::agent::notifications::NotesQuery>,
) -> UiResult {
    v.customer()?;
    super::agent::notifications::notifications_page(&app, v, "portal", q.before).await
}

async fn read_notifications(State(app): State<App>, v: Viewer, form: UiForm) -> UiResult {
    v.customer()?;
    super::agent::notifications::mark_read(&app, &v, &form, "portal").await
}
