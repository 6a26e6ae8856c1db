//! Creating a ticket on a customer's behalf (a phone call, a walk-in): find the customer as
//! you type, or give the details of a new one; the category's form brings its fields.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use gongdan_core::App;
use gongdan_core::tickets::{CreateTicket, RequesterInput};
use gongdan_domain::event::Via;
use gongdan_domain::ids::*;
use gongdan_domain::tickets::{Channel, Priority, TicketType};

use super::{agent_options, channel_options, group_options, priority_options};
use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::new_ticket::{self, Submitted};
use crate::ui::view::{FieldView, Opt};
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
        new_ticket::subject_field(ctx),
        new_ticket::description_field(ctx, false),
        new_ticket::category_field(ctx, category),
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
        idem: new_ticket::fresh_key()?,
        ctx,
    };
    render(&page)
}

async fn create(State(app): State<App>, v: Viewer, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let sub = Submitted::new(&form);
    let mut errors = FormErrors::default();
    if !sub.refreshing() {
        match build(&app, s, &v.ctx, &sub).await? {
            Ok(id) => return Ok(redirect_flash(&format!("/agent/tickets/{id}"), "flash-created")),
            Err(e) => errors = e,
        }
    }
    let ctx = v.ctx;
    let (requester, main) = fields(&ctx, agent_options(&ctx, None), sub.category);
    let custom = new_ticket::custom_fields(&ctx, sub.category);
    let page = NewPage {
        requester: sub.refill(requester, &ctx, &errors),
        requester_id: form.get("requester_id").unwrap_or_default().to_owned(),
        requester_label: form.get("requester_label").unwrap_or_default().to_owned(),
        main: sub.refill(main, &ctx, &errors),
        custom: sub.refill(custom, &ctx, &errors),
        errors: errors.general_texts(&ctx),
        idem: sub.key(),
        ctx,
    };
    new_ticket::render_again(&page, &errors)
}

async fn build(
    app: &App,
    s: &crate::ui::ctx::SessionUser,
    ctx: &Ctx,
    sub: &Submitted<'_>,
) -> UiResult<Result<i64, FormErrors>> {
    match parse_and_create(app, s, ctx, sub).await {
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

/// The page's own fields besides the shared ones.
const OWN: [&str; 10] = [
    "requester.email",
    "requester.name",
    "requester.phone",
    "requester.id",
    "group_id",
    "assignee_id",
    "tags",
    "channel",
    "priority",
    "type",
];

async fn parse_and_create(
    app: &App,
    s: &crate::ui::ctx::SessionUser,
    ctx: &Ctx,
    sub: &Submitted<'_>,
) -> Result<i64, Failure> {
    let form = sub.form;
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
    let names = sub.names(&OWN);
    let core = |e| Failure::Core(e, names.clone());
    let input = CreateTicket {
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
        tags: form
            .get("tags")
            .unwrap_or_default()
            .split([' ', ',', '，'])
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        ..sub.input(app, s, ctx).await.map_err(core)?
    };
    let created = app.create_ticket(&s.principal, input, Via::Web, sub.idempotency("create")).await.map_err(core)?;
    Ok(created.value.id.0)
}
