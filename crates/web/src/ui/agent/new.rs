//! Creating a ticket on a customer's behalf (a phone call, a walk-in): find the customer as
//! you type, or give the details of a new one; the category's form brings its fields.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use gongdan_core::App;
use gongdan_core::tickets::{CreateTicket, RequesterInput};
use gongdan_domain::event::Via;
use gongdan_domain::ids::*;
use gongdan_domain::ticket::{Channel, Priority, TicketType};

use super::ticket::{form_idempotency, refill, store_files};
use super::{agent_options, channel_options, group_options, priority_options};
use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::{FieldView, Opt, category_options, read_ticket_fields, ticket_fields, with_errors};
use crate::ui::{UiResult, redirect_flash, render};

pub fn router(uploads: axum::extract::DefaultBodyLimit) -> Router<App> {
    Router::new().route("/agent/tickets/new", get(new_page).merge(axum::routing::post(create).layer(uploads)))
}

#[derive(Template)]
#[template(path = "agent/new.html")]
struct NewPage {
    ctx: Ctx,
    requester: Vec<FieldView>,
    requester_id: String,
    requester_label: String,
    main: Vec<FieldView>,
    custom: Vec<FieldView>,
    errors: Vec<String>,
    idem: String,
}

#[derive(serde::Deserialize)]
struct NewQuery {
    requester_id: Option<i64>,
}

fn fields(ctx: &Ctx, agents: Vec<Opt>, category: Option<i64>) -> (Vec<FieldView>, Vec<FieldView>) {
    let types = TicketType::ALL.iter().map(|k| Opt::new(k.as_str(), ctx.t(&format!("type-{}", k.as_str())))).collect();
    let requester = vec![
        FieldView::new("requester.email", ctx.t("field-email"), "email", ""),
        FieldView::new("requester.name", ctx.t("field-name"), "text", ""),
        FieldView::new("requester.phone", ctx.t("field-phone"), "text", ""),
    ];
    let main = vec![
        FieldView::new("channel", ctx.t("field-channel"), "select", Channel::Phone.as_str())
            .options(channel_options(ctx), false),
        FieldView::new("subject", ctx.t("field-subject"), "text", "").required(true),
        FieldView::new("description", ctx.t("field-description"), "textarea", ""),
        FieldView::new(
            "category_id",
            ctx.t("field-category"),
            "tree",
            category.map(|c| c.to_string()).unwrap_or_default(),
        )
        .options(category_options(ctx, &ctx.cfg.categories, None), true),
        FieldView::new("priority", ctx.t("field-priority"), "select", Priority::Normal.as_str())
            .options(priority_options(ctx), false),
        FieldView::new("type", ctx.t("field-type"), "select", TicketType::Question.as_str()).options(types, false),
        FieldView::new("group_id", ctx.t("field-group"), "select", "").options(group_options(ctx, None), true),
        FieldView::new("assignee_id", ctx.t("field-assignee"), "select", "").options(agents, true),
        FieldView::new("tags", ctx.t("field-tags"), "text", "").hint(ctx.t("field-tags-hint")),
    ];
    (requester, main)
}

async fn new_page(State(app): State<App>, v: Viewer, Query(q): Query<NewQuery>) -> UiResult {
    let s = v.staff()?;
    let (requester_id, requester_label) = match q.requester_id {
        Some(id) => match app.get_user(&s.principal, UserId(id)).await {
            Ok(u) => (id.to_string(), format!("{} <{}>", u.name, u.email.unwrap_or_default())),
            Err(_) => (String::new(), String::new()),
        },
        None => (String::new(), String::new()),
    };
    let ctx = v.ctx;
    let (requester, main) = fields(&ctx, agent_options(&ctx, None), None);
    let page = NewPage {
        requester,
        requester_id,
        requester_label,
        main,
        custom: vec![],
        errors: vec![],
        idem: gongdan_core::auth::random_secret()?,
        ctx,
    };
    render(&page)
}

async fn create(State(app): State<App>, v: Viewer, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let category = form.id("category_id").ok().flatten();
    let mut errors = FormErrors::default();
    // `_refresh`: the category changed; show its form's fields with everything kept.
    if form.get("_refresh").is_none() {
        match build(&app, s, &v.ctx, &form, category).await? {
            Ok(id) => return Ok(redirect_flash(&format!("/agent/tickets/{id}"), "flash-created")),
            Err(e) => errors = e,
        }
    }
    let ctx = v.ctx;
    let (requester, main) = fields(&ctx, agent_options(&ctx, None), category);
    let custom = ticket_fields(&ctx, category, &Default::default(), false);
    let page = NewPage {
        requester: with_errors(refill(requester, &form), &ctx, &errors),
        requester_id: form.get("requester_id").unwrap_or_default().to_owned(),
        requester_label: form.get("requester_label").unwrap_or_default().to_owned(),
        main: with_errors(refill(main, &form), &ctx, &errors),
        custom: with_errors(refill(custom, &form), &ctx, &errors),
        errors: errors.general_texts(&ctx),
        idem: form.get("_idem").unwrap_or_default().to_owned(),
        ctx,
    };
    let mut res = render(&page)?;
    if !errors.is_empty() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

async fn build(
    app: &App,
    s: &crate::ui::ctx::SessionUser,
    ctx: &Ctx,
    form: &UiForm,
    category: Option<i64>,
) -> UiResult<Result<i64, FormErrors>> {
    match parse_and_create(app, s, ctx, form, category).await {
        Ok(id) => Ok(Ok(id)),
        Err(Failure::Form(e)) => Ok(Err(e)),
        Err(Failure::Core(e, names)) => {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            Ok(Err(FormErrors::from_core(e, &names)?))
        }
    }
}

/// Why a create did not happen: bad form input, or a use-case refusal to map onto fields.
enum Failure {
    Form(FormErrors),
    Core(gongdan_core::CoreError, Vec<String>),
}

impl From<FormErrors> for Failure {
    fn from(e: FormErrors) -> Self {
        Failure::Form(e)
    }
}

async fn parse_and_create(
    app: &App,
    s: &crate::ui::ctx::SessionUser,
    ctx: &Ctx,
    form: &UiForm,
    category: Option<i64>,
) -> Result<i64, Failure> {
    let bad = |name: &str| FormErrors::one(name, gongdan_domain::Code::InvalidValue.message_key());
    let requester = match form.id("requester_id")? {
        Some(id) => RequesterInput { id: Some(UserId(id)), ..Default::default() },
        None => RequesterInput {
            email: form.text("requester.email"),
            name: form.text("requester.name"),
            phone: form.text("requester.phone"),
            ..Default::default()
        },
    };
    let mut names: Vec<String> = [
        "requester.email",
        "requester.name",
        "requester.phone",
        "requester.id",
        "subject",
        "description",
        "category_id",
        "group_id",
        "assignee_id",
        "tags",
        "channel",
        "priority",
        "type",
        "files",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    names.extend(form.all("_fields").into_iter().map(str::to_owned));
    let core = |e| Failure::Core(e, names.clone());
    let attachment_ids = store_files(app, s, form).await.map_err(core)?;
    let input = CreateTicket {
        subject: form.get("subject").unwrap_or_default().to_owned(),
        description: form.get("description").unwrap_or_default().to_owned(),
        requester: Some(requester),
        channel: Some(Channel::parse(form.get("channel").unwrap_or("phone"), "channel").map_err(|_| bad("channel"))?),
        priority: form
            .text("priority")
            .map(|p| Priority::parse(&p, "priority"))
            .transpose()
            .map_err(|_| bad("priority"))?,
        kind: form.text("type").map(|k| TicketType::parse(&k, "type")).transpose().map_err(|_| bad("type"))?,
        group_id: form.id("group_id")?.map(GroupId),
        assignee_id: form.id("assignee_id")?.map(UserId),
        category_id: category.map(CategoryId),
        tags: form
            .get("tags")
            .unwrap_or_default()
            .split([' ', ',', '，'])
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        custom_fields: read_ticket_fields(ctx, category, form, None),
        attachment_ids,
        ..Default::default()
    };
    let idem = form_idempotency(form, "create");
    let created = app.create_ticket(&s.principal, input, Via::Web, idem).await.map_err(core)?;
    Ok(created.value.id.0)
}
