//! The agent's ticket page: the conversation as one timeline (replies, internal notes and the
//! changes between them), the reply box, the side panel of fields, the requester's card, links
//! and merge. Each post redirects back on success or re-renders with errors beside the fields
//! and everything typed kept.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gongdan_core::people::UserLabel;
use gongdan_core::tickets::{AddComment, Idempotency, UpdateTicket};
use gongdan_core::{App, CoreError};
use gongdan_domain::conversation::{Comment, Event, LinkKind};
use gongdan_domain::event::{EventKind, Via};
use gongdan_domain::ids::*;
use gongdan_domain::tickets::TicketQuery;
use gongdan_domain::tickets::{Priority, StatusCategory, Ticket, TicketType};
use jiff::Timestamp;

use super::changes::{field_name, field_value};
use super::{agent_options, group_options, priority_options, rows, status_options};
use crate::ui::ctx::{Ctx, SessionUser, Viewer};
use crate::ui::form::{CsrfHeader, FormErrors, UiForm};
use crate::ui::view::{FieldView, Opt, category_options, read_ticket_fields, ticket_fields, with_errors};
use crate::ui::{UiError, UiResult, redirect_flash, render};

pub fn router(uploads: axum::extract::DefaultBodyLimit) -> Router<App> {
    Router::new()
        .route("/agent/tickets/{id}", get(show))
        .route("/agent/tickets/{id}/reply", post(reply).layer(uploads))
        .route("/agent/tickets/{id}/update", post(update))
        .route("/agent/tickets/{id}/links", post(add_link))
        .route("/agent/tickets/{id}/cc", post(add_cc))
        .route("/agent/tickets/{id}/cc/{user}/remove", post(remove_cc))
        .route("/agent/tickets/{id}/links/{link}/delete", post(delete_link))
        .route("/agent/tickets/{id}/merge", post(merge))
        .route("/agent/tickets/{id}/presence", post(presence))
}

/// One entry of the timeline.
pub struct Entry {
    /// `public`, `internal` or `event`.
    pub kind: &'static str,
    pub author: String,
    pub at: String,
    /// Sanitised HTML of a comment.
    pub html: String,
    /// What an event did, in words.
    pub text: String,
    pub attachments: Vec<(i64, String, String)>,
    /// A comment that came from a ticket merged into this one.
    pub from_ticket: Option<i64>,
    pub via: String,
    /// The mail the comment came from or went out as (the desk's timeline only).
    pub mail: Option<MailLine>,
    /// The comment holds back remote images until asked.
    pub remote_images: bool,
}

/// A comment's mail on the desk's timeline: its delivery, or why received mail landed here.
pub struct MailLine {
    /// `queued`, `retrying`, `sent`, `failed` or `in`.
    pub class: &'static str,
    pub text: String,
    pub reasons: Vec<String>,
}

fn mail_line(ctx: &Ctx, m: &gongdan_core::mail::MailMessage) -> MailLine {
    if m.direction != "out" {
        return MailLine {
            class: "in",
            text: ctx.t("mail-in"),
            reasons: m.reasons.iter().map(|r| crate::ui::i18n::mail_reason(ctx.lang, r)).collect(),
        };
    }
    let (class, text) = match m.status.as_str() {
        "sent" => ("sent", ctx.t1("mail-out-sent", "at", m.sent_at.map(|t| ctx.dt(&t)).unwrap_or_default())),
        "retrying" => ("retrying", ctx.t1("mail-out-retrying", "detail", &m.detail)),
        "failed" => ("failed", ctx.t1("mail-out-failed", "detail", &m.detail)),
        "partly_failed" => ("failed", ctx.t1("mail-out-partly-failed", "detail", &m.detail)),
        _ => ("queued", ctx.t("mail-out-queued")),
    };
    MailLine { class, text, reasons: vec![] }
}

fn size_text(n: i64) -> String {
    match n {
        n if n >= 1024 * 1024 => format!("{:.1} MB", n as f64 / 1_048_576.0),
        n if n >= 1024 => format!("{} KB", n / 1024),
        n => format!("{n} B"),
    }
}

pub fn comment_entry(ctx: &Ctx, c: &Comment, ticket: TicketId, names: &BTreeMap<UserId, UserLabel>) -> Entry {
    Entry {
        kind: if c.public { "public" } else { "internal" },
        author: names.get(&c.author_id).map(|u| u.name.clone()).unwrap_or_else(|| format!("#{}", c.author_id)),
        at: ctx.dt(&c.created_at),
        html: c.html_body.clone(),
        text: String::new(),
        attachments: c.attachments.iter().map(|a| (a.id.0, a.filename.clone(), size_text(a.size))).collect(),
        from_ticket: (c.ticket_id != ticket).then_some(c.ticket_id.0),
        via: ctx.t(&format!("via-{}", c.via.as_str())),
        mail: None,
        remote_images: gongdan_core::conversation::has_remote_images(&c.html_body),
    }
}

/// The group an escalation or transfer left (the group change beside it names where it went).
fn group_name(ctx: &Ctx, e: &Event) -> String {
    e.old_value
        .as_deref()
        .and_then(|g| g.parse().ok())
        .map(|g| ctx.group_name(g))
        .unwrap_or_else(|| ctx.t("value-none"))
}

/// Whom a rule notified (`user:7`, `group:3`).
fn recipient_name(ctx: &Ctx, whom: &str, names: &BTreeMap<UserId, UserLabel>) -> String {
    match whom.split_once(':') {
        Some(("user", id)) => {
            let id = UserId(id.parse().unwrap_or(0));
            names
                .get(&id)
                .map(|u| u.name.clone())
                .or_else(|| ctx.cfg.agents.iter().find(|a| a.id == id).map(|a| a.name.clone()))
                .unwrap_or_else(|| format!("#{id}"))
        }
        Some(("group", id)) => id.parse().map(|g| ctx.group_name(g)).unwrap_or_default(),
        _ => whom.to_owned(),
    }
}

/// An event in words, or `None` for events the comment itself shows.
pub fn event_entry(ctx: &Ctx, e: &Event, names: &BTreeMap<UserId, UserLabel>) -> Option<Entry> {
    let actor = match (e.rule.as_deref(), e.actor_id.and_then(|a| names.get(&a))) {
        // A rule's change names the rule: the timeline explains why the ticket moved.
        (Some(rule), _) => ctx.t1("event-by-rule", "rule", rule),
        (None, Some(u)) => u.name.clone(),
        (None, None) => ctx.t(&format!("via-{}", e.via.as_str())),
    };
    let field = e.field.as_deref().unwrap_or_default();
    let new = e.new_value.as_deref().unwrap_or_default();
    let text = match e.kind {
        EventKind::CommentAdded => return None,
        EventKind::Created => ctx.t1("event-created", "status", ctx.status_label(new)),
        EventKind::FieldChanged => ctx.t2(
            "event-changed",
            "field",
            field_name(ctx, field),
            "change",
            format!(
                "{} → {}",
                field_value(ctx, field, e.old_value.as_deref(), names),
                field_value(ctx, field, e.new_value.as_deref(), names)
            ),
        ),
        EventKind::Merged => ctx.t1("event-merged", "ticket", new),
        EventKind::MergedInto => ctx.t1("event-merged-into", "ticket", new),
        EventKind::Linked => ctx.t2("event-linked", "kind", ctx.t(&format!("link-{field}")), "ticket", new),
        EventKind::Unlinked => ctx.t2(
            "event-unlinked",
            "kind",
            ctx.t(&format!("link-{field}")),
            "ticket",
            e.old_value.as_deref().unwrap_or_default(),
        ),
        EventKind::FollowUp => ctx.t1("event-follow-up", "ticket", new),
        EventKind::Escalated => ctx.t2("event-escalated", "group", group_name(ctx, e), "reason", new),
        EventKind::Transferred => ctx.t2("event-transferred", "group", group_name(ctx, e), "reason", new),
        EventKind::Notified => ctx.t1("event-notified", "whom", recipient_name(ctx, new, names)),
        EventKind::WebhookQueued => ctx.t1(
            "event-webhook",
            "webhook",
            ctx.cfg.webhooks.iter().find(|w| w.id.to_string() == new).map(|w| w.name.clone()).unwrap_or_default(),
        ),
        EventKind::RuleError => ctx.t1("event-rule-error", "error", new),
    };
    Some(Entry {
        kind: "event",
        author: actor,
        at: ctx.dt(&e.created_at),
        html: String::new(),
        text,
        attachments: vec![],
        from_ticket: None,
        via: ctx.t(&format!("via-{}", e.via.as_str())),
        mail: None,
        remote_images: false,
    })
}

/// Everyone a timeline names: authors, actors, and assignees before and after a change.
fn timeline_people(comments: &[Comment], events: &[Event]) -> Vec<UserId> {
    let mut people: Vec<UserId> = comments.iter().map(|c| c.author_id).collect();
    people.extend(events.iter().filter_map(|e| e.actor_id));
    for e in events.iter().filter(|e| e.field.as_deref() == Some("assignee_id")) {
        for v in [&e.old_value, &e.new_value].into_iter().flatten() {
            if let Ok(id) = v.parse() {
                people.push(UserId(id));
            }
        }
    }
    people
}

/// Comments and events in time order.
pub fn timeline(
    ctx: &Ctx,
    ticket: TicketId,
    comments: &[Comment],
    events: &[Event],
    names: &BTreeMap<UserId, UserLabel>,
    mail: &[gongdan_core::mail::MailMessage],
) -> Vec<Entry> {
    // At the same moment: the ticket's creation, then the comment, then what changed with it.
    let mut keyed: Vec<(Timestamp, u8, i64, Entry)> = Vec::new();
    for c in comments {
        let mut entry = comment_entry(ctx, c, ticket, names);
        // The desk's own reply is the line that matters when a comment has both (an agent's
        // mailed reply, mailed on to the customer).
        let own = mail.iter().filter(|m| m.comment_id == Some(c.id)).max_by_key(|m| m.direction == "out");
        entry.mail = own.map(|m| mail_line(ctx, m));
        keyed.push((c.created_at, 1, c.id.0, entry));
    }
    for e in events {
        if let Some(entry) = event_entry(ctx, e, names) {
            keyed.push((e.created_at, if e.kind == EventKind::Created { 0 } else { 2 }, e.id.0, entry));
        }
    }
    keyed.sort_by_key(|k| (k.0, k.1, k.2));
    keyed.into_iter().map(|(_, _, _, e)| e).collect()
}

pub struct LinkView {
    pub id: i64,
    pub label: String,
    pub other: i64,
}

/// What the person typed, kept when a post fails.
#[derive(Default)]
struct Draft {
    body: String,
    public: bool,
    reply_status: String,
    reply_errors: FormErrors,
    panel: Option<UiForm>,
    panel_errors: FormErrors,
    link_errors: FormErrors,
    /// Copying someone on the ticket, with the address typed.
    cc_errors: FormErrors,
    cc_email: String,
    /// Macros, escalation and transfer.
    flow_errors: FormErrors,
    /// The macro to preview.
    preview: Option<i64>,
}

#[derive(Template)]
#[template(path = "agent/ticket.html")]
struct TicketPage {
    ctx: Ctx,
    t: TicketHead,
    entries: Vec<Entry>,
    panel: Vec<FieldView>,
    custom: Vec<FieldView>,
    requester: RequesterCard,
    /// Those copied on the ticket: (user id, name, address).
    ccs: Vec<(i64, String, String)>,
    cc_errors: Vec<String>,
    cc_email: String,
    others: Vec<super::Row>,
    links: Vec<LinkView>,
    reply_body: String,
    reply_public: bool,
    reply_status: Vec<FieldView>,
    reply_errors: Vec<String>,
    body_error: Option<String>,
    files_error: Option<String>,
    panel_errors: Vec<String>,
    link_errors: Vec<String>,
    link_kinds: Vec<Opt>,
    idem: String,
    viewers: Vec<String>,
    flow: super::actions::FlowPanel,
}

#[derive(Template)]
#[template(path = "agent/_timeline_fragment.html")]
struct TimelineFragment {
    ctx: Ctx,
    t: TicketHead,
    entries: Vec<Entry>,
}

pub struct TicketHead {
    pub id: i64,
    pub subject: String,
    pub status: String,
    pub status_category: &'static str,
    pub version: i64,
    pub closed: bool,
    pub merged_into: Option<i64>,
    pub channel: String,
    pub created: String,
}

pub struct RequesterCard {
    pub id: i64,
    pub name: String,
    pub identities: Vec<String>,
    pub organization: String,
    pub vip: i64,
    pub language: String,
    pub time_zone: String,
}

fn head(ctx: &Ctx, t: &Ticket) -> TicketHead {
    TicketHead {
        id: t.id.0,
        subject: t.subject.clone(),
        status: ctx.status_label(&t.status.key),
        status_category: t.status.category.as_str(),
        version: t.version,
        closed: t.status.category == StatusCategory::Closed,
        merged_into: t.merged_into_id.map(|m| m.0),
        channel: ctx.t(&format!("channel-{}", t.channel.as_str())),
        created: ctx.dt(&t.created_at),
    }
}

/// The side panel's inputs, from the ticket (or from what was posted, after an error).
fn panel_fields(ctx: &Ctx, t: &Ticket) -> Vec<FieldView> {
    let id = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let types = TicketType::ALL.iter().map(|k| Opt::new(k.as_str(), ctx.t(&format!("type-{}", k.as_str())))).collect();
    let due = t.due_at.map(|d| d.to_zoned(ctx.tz.clone()).strftime("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default();
    vec![
        FieldView::new("status", ctx.t("field-status"), "select", t.status.key.clone())
            .options(status_options(ctx, Some(&t.status.key)), false),
        FieldView::new("priority", ctx.t("field-priority"), "select", t.priority.as_str())
            .options(priority_options(ctx), false),
        FieldView::new("type", ctx.t("field-type"), "select", t.kind.as_str()).options(types, false),
        FieldView::new("group_id", ctx.t("field-group"), "select", id(t.group_id.map(|g| g.0)))
            .options(group_options(ctx, t.group_id), true),
        FieldView::new("assignee_id", ctx.t("field-assignee"), "select", id(t.assignee_id.map(|a| a.0)))
            .options(agent_options(ctx, t.assignee_id), true),
        FieldView::new("category_id", ctx.t("field-category"), "tree", id(t.category_id.map(|c| c.0)))
            .options(category_options(ctx, &ctx.cfg.categories, t.category_id.map(|c| c.0)), true),
        FieldView::new("tags", ctx.t("field-tags"), "text", t.tags.join(" ")).hint(ctx.t("field-tags-hint")),
        FieldView::new("due_at", ctx.t("field-due"), "datetime", due),
    ]
}

/// Puts posted values back into fields after an error, so nothing typed is lost.
pub fn refill(fields: Vec<FieldView>, form: &UiForm) -> Vec<FieldView> {
    let shown = form.all("_fields");
    fields
        .into_iter()
        .map(|mut f| {
            match f.kind {
                // A password typed into a form that failed is never sent back in the page.
                "secret" => {}
                "multi" if shown.contains(&f.name.as_str()) => {
                    f.values = form.all(&f.name).into_iter().map(str::to_owned).collect();
                }
                "checkbox" if shown.contains(&f.name.as_str()) || form.get(&f.name).is_some() => {
                    f.value = if form.checked(&f.name) { "true".into() } else { String::new() };
                }
                _ => {
                    if let Some(v) = form.get(&f.name) {
                        f.value = v.to_owned();
                    }
                }
            }
            f
        })
        .collect()
}

async fn page(app: &App, v: Viewer, id: i64, draft: Draft) -> UiResult<Response> {
    let s = v.staff()?;
    let p = &s.principal;
    let t = app.get_ticket(p, TicketId(id)).await?;
    let comments = app.list_comments(p, t.id, None, 500).await?;
    let events = app.list_events(p, t.id, None, 1000).await?;
    let mail = app.ticket_mail(p, t.id).await?;
    let links = app.list_links(p, t.id).await?;
    let requester = app.get_user(p, t.requester_id).await?;
    let mut oq = TicketQuery::new(p.scope());
    oq.requester_id = Some(t.requester_id);
    oq.limit = 6;
    oq.with_total = false;
    let others: Vec<Ticket> =
        app.list_tickets(p, oq).await?.items.into_iter().filter(|o| o.id != t.id).take(5).collect();
    let mut people = timeline_people(&comments, &events);
    for o in &others {
        people.push(o.requester_id);
        people.extend(o.assignee_id);
    }
    people.extend(t.assignee_id);
    people.extend(t.cc_ids.iter().copied());
    let names = app.user_labels(people).await?;
    let ccs = t
        .cc_ids
        .iter()
        .map(|id| match names.get(id) {
            Some(u) => (id.0, u.name.clone(), u.email.clone().unwrap_or_default()),
            None => (id.0, format!("#{id}"), String::new()),
        })
        .collect();
    let org = match requester.organization_id {
        Some(o) => app.get_organization(p, o).await.map(|o| o.name).unwrap_or_default(),
        None => String::new(),
    };
    let session_user_id = s.user.id;
    let flow = super::actions::panel(app, &v.ctx, p, t.id, draft.preview, &draft.flow_errors).await?;
    let ctx = v.ctx;
    let viewers = app.live.viewers(t.id).into_iter().filter(|x| x.user_id != session_user_id).map(|x| x.name).collect();
    let mut panel = panel_fields(&ctx, &t);
    let mut custom = ticket_fields(&ctx, t.category_id.map(|c| c.0), &t.custom_fields, true);
    if let Some(form) = &draft.panel {
        panel = refill(panel, form);
        custom = refill(custom, form);
    }
    let panel = with_errors(panel, &ctx, &draft.panel_errors);
    let custom = with_errors(custom, &ctx, &draft.panel_errors);
    let mut reply_statuses = vec![Opt::new("", ctx.t("reply-keep-status"))];
    reply_statuses.extend(status_options(&ctx, None));
    let reply_status = FieldView::new("reply_status", ctx.t("reply-submit-as"), "select", draft.reply_status.clone())
        .options(reply_statuses, false);
    let link_views = links
        .iter()
        .map(|l| {
            let outgoing = l.source_id == t.id;
            let other = if outgoing { l.target_id } else { l.source_id };
            let key = match (l.kind, outgoing) {
                (LinkKind::Parent, true) => "link-child-is".to_owned(),
                (LinkKind::Parent, false) => "link-parent-is".to_owned(),
                (LinkKind::FollowUp, true) => "link-follow-up-of".to_owned(),
                (LinkKind::FollowUp, false) => "link-followed-up-by".to_owned(),
                (k, _) => format!("link-{}", k.as_str()),
            };
            LinkView { id: l.id.0, label: ctx.t(&key), other: other.0 }
        })
        .collect();
    let link_kinds =
        ["related", "duplicate", "parent"].into_iter().map(|k| Opt::new(k, ctx.t(&format!("link-add-{k}")))).collect();
    let requester_card = RequesterCard {
        id: requester.id.0,
        name: requester.name.clone(),
        identities: requester.identities.iter().map(|i| i.value.clone()).collect(),
        organization: org,
        vip: requester.vip_level,
        language: ctx.t(&format!("lang-{}", requester.language.as_str())),
        time_zone: requester.time_zone.clone(),
    };
    let page = TicketPage {
        t: head(&ctx, &t),
        entries: timeline(&ctx, t.id, &comments, &events, &names, &mail),
        panel,
        custom,
        requester: requester_card,
        ccs,
        cc_errors: draft
            .cc_errors
            .general_texts(&ctx)
            .into_iter()
            .chain(draft.cc_errors.for_field(&ctx, "email"))
            .collect(),
        cc_email: draft.cc_email,
        others: rows(&ctx, &others, &names),
        links: link_views,
        reply_body: draft.body,
        reply_public: draft.public,
        reply_status: vec![reply_status],
        reply_errors: draft.reply_errors.general_texts(&ctx),
        body_error: draft.reply_errors.for_field(&ctx, "body"),
        files_error: draft.reply_errors.for_field(&ctx, "files"),
        panel_errors: draft.panel_errors.general_texts(&ctx),
        link_errors: draft.link_errors.general_texts(&ctx),
        link_kinds,
        idem: gongdan_core::auth::random_secret()?,
        viewers,
        flow,
        ctx,
    };
    let failed = !draft.reply_errors.is_empty()
        || !draft.panel_errors.is_empty()
        || !draft.link_errors.is_empty()
        || !draft.flow_errors.is_empty();
    let mut res = render(&page)?;
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

#[derive(serde::Deserialize, Default)]
pub struct ShowQuery {
    /// A macro to preview on the page.
    #[serde(rename = "macro")]
    preview: Option<i64>,
}

/// The ticket page again, with an error from a macro, an escalation or a transfer.
pub async fn page_with_flow_errors(app: &App, v: Viewer, id: i64, errors: FormErrors) -> UiResult {
    page(app, v, id, Draft { public: true, flow_errors: errors, ..Default::default() }).await
}

async fn show(
    State(app): State<App>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
    headers: HeaderMap,
) -> UiResult {
    if headers.get("x-fragment").and_then(|h| h.to_str().ok()) == Some("timeline") {
        let s = v.staff()?;
        let p = &s.principal;
        let t = app.get_ticket(p, TicketId(id)).await?;
        let comments = app.list_comments(p, t.id, None, 500).await?;
        let events = app.list_events(p, t.id, None, 1000).await?;
        let names = app.user_labels(timeline_people(&comments, &events)).await?;
        let mail = app.ticket_mail(p, t.id).await?;
        let ctx = v.ctx;
        let entries = timeline(&ctx, t.id, &comments, &events, &names, &mail);
        return render(&TimelineFragment { t: head(&ctx, &t), entries, ctx });
    }
    page(&app, v, id, Draft { public: true, preview: q.preview, ..Default::default() }).await
}

/// Stores the files that came with a form, as uploads of this user.
pub async fn store_files(app: &App, s: &SessionUser, form: &UiForm) -> Result<Vec<AttachmentId>, CoreError> {
    let mut ids = Vec::new();
    for f in form.files.iter().take(crate::ui::MAX_FILES) {
        ids.push(app.upload(&s.principal, &f.filename, &f.content_type, &f.bytes).await?.id);
    }
    Ok(ids)
}

/// A key that makes a double-submitted form (a second click, a retried post) count once.
pub fn form_idempotency(form: &UiForm, what: &str) -> Option<Idempotency> {
    form.text("_idem").map(|key| Idempotency {
        request_hash: gongdan_core::auth::sha256_hex(format!("ui {what}").as_bytes()),
        key: format!("ui-{key}"),
    })
}

async fn reply(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let body = form.get("body").unwrap_or_default().to_owned();
    let public = form.get("public") != Some("0");
    let status = form.text("reply_status");
    let failed = |errors: FormErrors| Draft {
        body: body.clone(),
        public,
        reply_status: status.clone().unwrap_or_default(),
        reply_errors: errors,
        ..Default::default()
    };
    let attachment_ids = match store_files(&app, s, &form).await {
        Ok(ids) => ids,
        Err(e) => {
            let errors = FormErrors::from_core(e, &["files"])?;
            return page(&app, v, id, failed(errors)).await;
        }
    };
    let input = AddComment { body: body.clone(), html_body: None, public, attachment_ids, mail: None };
    let idem = form_idempotency(&form, &format!("reply {id}"));
    let outcome = match app.add_comment(&s.principal, TicketId(id), input, Via::Web, idem).await {
        Ok(o) => o.value,
        Err(e) => {
            let errors = FormErrors::from_core(e, &["body", "files"])?;
            return page(&app, v, id, failed(errors)).await;
        }
    };
    let landed = outcome.ticket.id.0;
    if let Some(status) = status.filter(|st| *st != outcome.ticket.status.key) {
        let change = UpdateTicket { status: Some(status.clone()), ..Default::default() };
        if let Err(e) = app.update_ticket(&s.principal, outcome.ticket.id, change, None, Via::Web).await {
            // The reply is in; only the status change failed: say so on the ticket.
            let mut errors = FormErrors::from_core(e, &[])?;
            errors.general.insert(0, "reply-saved-status-failed".into());
            let draft = Draft { public, reply_errors: errors, ..Default::default() };
            return page(&app, v, landed, draft).await;
        }
    }
    let flash = if outcome.follow_up_of.is_some() { "flash-follow-up" } else { "flash-replied" };
    Ok(redirect_flash(&format!("/agent/tickets/{landed}"), flash))
}

/// Builds the update a side-panel post asks for: only what differs from the ticket now.
fn panel_change(ctx: &Ctx, t: &Ticket, form: &UiForm) -> Result<UpdateTicket, FormErrors> {
    let mut u = UpdateTicket::default();
    let opt_id = |name: &str| form.id(name);
    if let Some(st) = form.text("status").filter(|st| *st != t.status.key) {
        u.status = Some(st);
    }
    if let Some(p) = form.text("priority") {
        let p = Priority::parse(&p, "priority")
            .map_err(|_| FormErrors::one("priority", gongdan_domain::Code::InvalidValue.message_key()))?;
        if p != t.priority {
            u.priority = Some(p);
        }
    }
    if let Some(k) = form.text("type") {
        let k = TicketType::parse(&k, "type")
            .map_err(|_| FormErrors::one("type", gongdan_domain::Code::InvalidValue.message_key()))?;
        if k != t.kind {
            u.kind = Some(k);
        }
    }
    let group = opt_id("group_id")?.map(GroupId);
    if group != t.group_id {
        u.group_id = Some(group);
    }
    let assignee = opt_id("assignee_id")?.map(UserId);
    if assignee != t.assignee_id {
        u.assignee_id = Some(assignee);
    }
    let category = opt_id("category_id")?.map(CategoryId);
    if category != t.category_id {
        u.category_id = Some(category);
    }
    let tags: Vec<String> = form
        .get("tags")
        .unwrap_or_default()
        .split([' ', ',', '，'])
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect();
    let mut sorted = tags.clone();
    sorted.iter_mut().for_each(|x| *x = x.to_lowercase());
    sorted.sort();
    sorted.dedup();
    if sorted != t.tags {
        u.tags = Some(tags);
    }
    let due = match form.text("due_at") {
        None => None,
        Some(text) => Some(
            text.parse::<jiff::civil::DateTime>()
                .ok()
                .and_then(|d| d.to_zoned(ctx.tz.clone()).ok())
                .map(|z| z.timestamp())
                .ok_or_else(|| FormErrors::one("due_at", gongdan_domain::Code::InvalidValue.message_key()))?,
        ),
    };
    // The input shows minutes; only a different minute is a change.
    let minute = |t: Option<Timestamp>| t.map(|t| t.as_second() / 60);
    if minute(due) != minute(t.due_at) {
        u.due_at = Some(due);
    }
    u.custom_fields = read_ticket_fields(ctx, t.category_id.map(|c| c.0), form, Some(&t.custom_fields));
    Ok(u)
}

async fn update(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let t = app.get_ticket(&s.principal, TicketId(id)).await?;
    let version = form.id("version").ok().flatten();
    let change = match panel_change(&v.ctx, &t, &form) {
        Ok(c) => c,
        Err(errors) => {
            return page(
                &app,
                v,
                id,
                Draft { public: true, panel: Some(form), panel_errors: errors, ..Default::default() },
            )
            .await;
        }
    };
    match app.update_ticket(&s.principal, t.id, change, version, Via::Web).await {
        Ok(_) => Ok(redirect_flash(&format!("/agent/tickets/{id}"), "flash-saved")),
        Err(e) => {
            let mut names: Vec<String> =
                ["status", "priority", "type", "group_id", "assignee_id", "category_id", "tags", "due_at"]
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
            names.extend(form.all("_fields").into_iter().map(str::to_owned));
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let errors = FormErrors::from_core(e, &names)?;
            page(&app, v, id, Draft { public: true, panel: Some(form), panel_errors: errors, ..Default::default() })
                .await
        }
    }
}

fn ticket_number(form: &UiForm, name: &str) -> Result<TicketId, FormErrors> {
    let text = form.text(name).unwrap_or_default();
    text.trim_start_matches('#')
        .parse()
        .map(TicketId)
        .map_err(|_| FormErrors::one(name, gongdan_domain::Code::InvalidValue.message_key()))
}

async fn add_link(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let kind = LinkKind::parse(form.get("kind").unwrap_or_default(), "kind").map_err(|_| UiError::BadRequest)?;
    let result = match ticket_number(&form, "target_id") {
        Ok(target) => app.link(&s.principal, TicketId(id), target, kind, Via::Web).await.map(|_| ()).map_err(Some),
        Err(_) => Err(None),
    };
    match result {
        Ok(()) => Ok(redirect_flash(&format!("/agent/tickets/{id}"), "flash-linked")),
        Err(e) => {
            let errors = match e {
                Some(e) => FormErrors::from_core(e, &[])?,
                None => FormErrors { general: vec!["error-ticket-number".into()], ..Default::default() },
            };
            page(&app, v, id, Draft { public: true, link_errors: errors, ..Default::default() }).await
        }
    }
}

async fn add_cc(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let email = form.get("email").unwrap_or_default().trim().to_owned();
    match app.add_cc(&s.principal, TicketId(id), &email, Via::Web).await {
        Ok(_) => Ok(redirect_flash(&format!("/agent/tickets/{id}"), "flash-saved")),
        Err(e) => {
            let cc_errors = FormErrors::from_core(e, &["email"])?;
            page(&app, v, id, Draft { public: true, cc_errors, cc_email: email, ..Default::default() }).await
        }
    }
}

async fn remove_cc(State(app): State<App>, v: Viewer, Path((id, user)): Path<(i64, i64)>, _form: UiForm) -> UiResult {
    let s = v.staff()?;
    app.remove_cc(&s.principal, TicketId(id), UserId(user), Via::Web).await?;
    Ok(redirect_flash(&format!("/agent/tickets/{id}"), "flash-saved"))
}

async fn delete_link(State(app): State<App>, v: Viewer, Path((id, link)): Path<(i64, i64)>, _form: UiForm) -> UiResult {
    let s = v.staff()?;
    app.unlink(&s.principal, TicketId(id), LinkId(link), Via::Web).await?;
    Ok(redirect_flash(&format!("/agent/tickets/{id}"), "flash-unlinked"))
}

async fn merge(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let result = match ticket_number(&form, "target_id") {
        Ok(target) => app.merge(&s.principal, TicketId(id), target, Via::Web).await.map_err(Some),
        Err(_) => Err(None),
    };
    match result {
        Ok(survivor) => Ok(redirect_flash(&format!("/agent/tickets/{}", survivor.id), "flash-merged")),
        Err(e) => {
            let errors = match e {
                Some(e) => FormErrors::from_core(e, &[])?,
                None => FormErrors { general: vec!["error-ticket-number".into()], ..Default::default() },
            };
            page(&app, v, id, Draft { public: true, link_errors: errors, ..Default::default() }).await
        }
    }
}

#[derive(serde::Deserialize)]
struct PresenceIn {
    replying: bool,
}

/// The reply box says its user started or stopped typing (a `fetch` from the page).
async fn presence(
    State(app): State<App>,
    v: Viewer,
    _csrf: CsrfHeader,
    Path(id): Path<i64>,
    body: axum::Json<PresenceIn>,
) -> UiResult {
    let s = v.staff()?;
    let t = app.get_ticket(&s.principal, TicketId(id)).await?;
    app.live.set_replying(t.id, s.user.id, body.replying);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// After an action from the ticket page: back to the page with `flash`, or the page again
/// with the action's error.
pub(super) async fn after_action(
    app: &App,
    v: Viewer,
    id: i64,
    result: Result<(), gongdan_core::CoreError>,
    flash: &str,
) -> UiResult {
    match result {
        Ok(()) => Ok(redirect_flash(&format!("/agent/tickets/{id}"), flash)),
        Err(e) => {
            let errors = FormErrors::from_core(e, &[])?;
            page_with_flow_errors(app, v, id, errors).await
        }
    }
}
