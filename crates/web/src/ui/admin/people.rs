//! Admin sections for people: agents and their roles and groups, customers, organisations,
//! and API tokens.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::people::UserInput;
use gongdan_domain::access::Role;
use gongdan_domain::ids::*;
use gongdan_domain::page::Cursor;
use gongdan_domain::people::UserQuery;
use gongdan_domain::people::{Identity, IdentityKind, Language, Organization, User};

use super::{AdminRow, FormPage, ListQuery, allowed, apply_errors, failed, list_view, nav, yes_no};
use crate::ui::ctx::{Ctx, SessionUser, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::{FieldView, Opt, urlencode};
use crate::ui::{UiError, UiResult, redirect_flash, render};

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin/agents", get(|s, v, q| list_users(s, v, q, true)))
        .route("/admin/customers", get(|s, v, q| list_users(s, v, q, false)))
        .route("/admin/agents/new", get(|s, v| new_user(s, v, true)).post(|s, v, f| save_user(s, v, None, f, true)))
        .route(
            "/admin/customers/new",
            get(|s, v| new_user(s, v, false)).post(|s, v, f| save_user(s, v, None, f, false)),
        )
        .route(
            "/admin/agents/{id}",
            get(|s, v, p| edit_user(s, v, p, true))
                .post(|s, v, Path(id): Path<i64>, f| save_user(s, v, Some(id), f, true)),
        )
        .route(
            "/admin/customers/{id}",
            get(|s, v, p| edit_user(s, v, p, false))
                .post(|s, v, Path(id): Path<i64>, f| save_user(s, v, Some(id), f, false)),
        )
        .route("/admin/organizations", get(list_orgs))
        .route("/admin/organizations/new", get(new_org).post(|s, v, f| save_org(s, v, None, f)))
        .route(
            "/admin/organizations/{id}",
            get(edit_org).post(|s, v, Path(id): Path<i64>, f| save_org(s, v, Some(id), f)),
        )
        .route("/admin/organizations/{id}/delete", post(delete_org))
        .route("/admin/tokens", get(tokens).post(create_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
}

fn section(agents: bool) -> &'static str {
    if agents { "agents" } else { "customers" }
}

async fn list_users(State(app): State<App>, v: Viewer, Query(q): Query<ListQuery>, agents: bool) -> UiResult {
    let s = allowed(&v, section(agents))?;
    let after = q.cursor.as_deref().and_then(|c| Cursor::decode(c, "id").ok()).map(|c| UserId(c.id));
    let uq = UserQuery {
        role: (!agents).then_some(Role::Customer),
        staff: agents,
        q: q.q.clone().filter(|x| !x.trim().is_empty()),
        after,
        limit: 50,
        ..Default::default()
    };
    let users = app.list_users(&s.principal, uq).await?;
    let ctx = v.ctx;
    let base = format!("/admin/{}", section(agents));
    let qs = urlencode(q.q.as_deref().unwrap_or_default());
    let next = (users.len() == 50)
        .then(|| users.last().map(|u| Cursor { sort: "id".into(), key: 0, id: u.id.0 }.encode()))
        .flatten()
        .map(|c| format!("{base}?q={qs}&cursor={c}"));
    let first = q.cursor.as_ref().map(|_| format!("{base}?q={qs}"));
    let rows = users
        .iter()
        .map(|u| {
            let mut cells = vec![u.name.clone(), u.email.clone().unwrap_or_default()];
            if agents {
                cells.push(ctx.t(&format!("role-{}", u.role.as_str())));
                cells.push(u.group_ids.iter().map(|g| ctx.group_name(g.0)).collect::<Vec<_>>().join(", "));
            } else {
                cells.push(u.vip_level.to_string());
            }
            cells.push(yes_no(&ctx, u.active));
            AdminRow { href: format!("{base}/{}", u.id), cells, depth: 0 }
        })
        .collect();
    let columns = if agents {
        vec![
            ctx.t("field-name"),
            ctx.t("field-email"),
            ctx.t("field-role"),
            ctx.t("field-groups"),
            ctx.t("field-active"),
        ]
    } else {
        vec![ctx.t("field-name"), ctx.t("field-email"), ctx.t("field-vip"), ctx.t("field-active")]
    };
    let title = if agents { "admin-agents" } else { "admin-customers" };
    list_view(ctx, section(agents), title, q, columns, rows, next, first)
}

fn languages(ctx: &Ctx) -> Vec<Opt> {
    Language::ALL.iter().map(|l| Opt::new(l.as_str(), ctx.t(&format!("lang-{}", l.as_str())))).collect()
}

/// The form of a user (an empty one for a new user).
async fn user_fields(
    app: &App,
    s: &SessionUser,
    ctx: &Ctx,
    u: Option<&User>,
    agents: bool,
) -> UiResult<Vec<FieldView>> {
    let text = |f: fn(&User) -> String| u.map(f).unwrap_or_default();
    let mut fields = vec![
        FieldView::new("name", ctx.t("field-name"), "text", text(|u| u.name.clone())).required(true),
        FieldView::new("email", ctx.t("field-email"), "email", text(|u| u.email.clone().unwrap_or_default()))
            .required(agents),
    ];
    if agents {
        let roles = [Role::Agent, Role::Supervisor, Role::Admin]
            .iter()
            .map(|r| Opt::new(r.as_str(), ctx.t(&format!("role-{}", r.as_str()))))
            .collect();
        let groups = ctx
            .cfg
            .groups
            .iter()
            .map(|g| Opt::new(g.id.0.to_string(), format!("{} · {}", g.name, ctx.t1("group-tier", "tier", g.tier))))
            .collect();
        fields.push(
            FieldView::new("role", ctx.t("field-role"), "select", u.map(|u| u.role.as_str()).unwrap_or("agent"))
                .options(roles, false),
        );
        fields.push(
            FieldView::new("group_ids", ctx.t("field-groups"), "multi", "")
                .options(groups, false)
                .values(u.map(|u| u.group_ids.iter().map(|g| g.0.to_string()).collect()).unwrap_or_default()),
        );
        fields.push(
            FieldView::new(
                "restricted_to_groups",
                ctx.t("field-restricted"),
                "checkbox",
                u.map(|u| u.restricted_to_groups.to_string()).unwrap_or_default(),
            )
            .hint(ctx.t("field-restricted-hint")),
        );
        fields.push(FieldView::new("languages", ctx.t("field-languages"), "text", text(|u| u.languages.join(" "))));
        fields.push(FieldView::new("skills", ctx.t("field-skills"), "text", text(|u| u.skills.join(" "))));
        fields.push(
            FieldView::new(
                "capacity",
                ctx.t("field-capacity"),
                "number",
                text(|u| u.capacity.map(|c| c.to_string()).unwrap_or_default()),
            )
            .hint(ctx.t("field-capacity-hint")),
        );
        fields.push(
            FieldView::new(
                "availability",
                ctx.t("field-availability"),
                "select",
                u.map(|u| u.availability.as_str()).unwrap_or("offline"),
            )
            .options(
                gongdan_domain::routing::Availability::ALL
                    .iter()
                    .map(|a| Opt::new(a.as_str(), ctx.t(&format!("availability-{}", a.as_str()))))
                    .collect(),
                false,
            ),
        );
    } else {
        let ident = |kind: IdentityKind, skip: Option<&str>| {
            u.map(|u| {
                u.identities
                    .iter()
                    .filter(|i| i.kind == kind && Some(i.value.as_str()) != skip)
                    .map(|i| i.value.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
        };
        let primary = u.and_then(|u| u.email.clone());
        fields.push(
            FieldView::new(
                "other_emails",
                ctx.t("field-other-emails"),
                "textarea",
                ident(IdentityKind::Email, primary.as_deref()),
            )
            .hint(ctx.t("field-one-per-line")),
        );
        fields.push(
            FieldView::new("phones", ctx.t("field-phones"), "textarea", ident(IdentityKind::Phone, None))
                .hint(ctx.t("field-one-per-line")),
        );
        fields.push(FieldView::new(
            "external_id",
            ctx.t("field-external-id"),
            "text",
            text(|u| u.external_id.clone().unwrap_or_default()),
        ));
        let mut orgs = app.list_organizations(&s.principal, None, None, 500).await?;
        // The customer's own organisation is always a choice, however many there are.
        if let Some(current) = u.and_then(|u| u.organization_id)
            && !orgs.iter().any(|o| o.id == current)
            && let Some(o) = app.get_organization(&s.principal, current).await.ok()
        {
            orgs.push(o);
        }
        fields.push(
            FieldView::new(
                "organization_id",
                ctx.t("field-organization"),
                "select",
                u.and_then(|u| u.organization_id).map(|o| o.0.to_string()).unwrap_or_default(),
            )
            .options(orgs.into_iter().map(|o| Opt::new(o.id.0.to_string(), o.name)).collect(), true),
        );
        fields.push(FieldView::new(
            "vip_level",
            ctx.t("field-vip"),
            "number",
            u.map(|u| u.vip_level.to_string()).unwrap_or("0".into()),
        ));
        fields.push(
            FieldView::new(
                "account_manager_id",
                ctx.t("field-account-manager"),
                "select",
                u.and_then(|u| u.account_manager_id).map(|a| a.0.to_string()).unwrap_or_default(),
            )
            .options(crate::ui::agent::agent_options(ctx, u.and_then(|u| u.account_manager_id)), true)
            .hint(ctx.t("field-account-manager-hint")),
        );
        for d in ctx.cfg.fields.iter().filter(|d| d.active && d.scope == gongdan_domain::fields::FieldScope::User) {
            fields.push(crate::ui::view::custom_field(ctx, d, u.and_then(|u| u.custom_fields.get(&d.key)), false));
        }
    }
    fields.push(
        FieldView::new(
            "language",
            ctx.t("field-language"),
            "select",
            u.map(|u| u.language.as_str()).unwrap_or(ctx.cfg.desk.default_language.as_str()),
        )
        .options(languages(ctx), false),
    );
    fields.push(FieldView::new(
        "time_zone",
        ctx.t("field-time-zone"),
        "text",
        u.map(|u| u.time_zone.clone()).unwrap_or(ctx.cfg.desk.default_time_zone.clone()),
    ));
    fields.push(FieldView::new(
        "active",
        ctx.t("field-active"),
        "checkbox",
        u.map(|u| u.active.to_string()).unwrap_or("true".into()),
    ));
    fields.push(FieldView::new("password", ctx.t("field-password"), "password", "").hint(ctx.t(if u.is_some() {
        "field-password-keep"
    } else {
        "field-password-hint"
    })));
    if u.is_some_and(|u| u.id.0 == ctx.user_id) {
        fields.push(
            FieldView::new("current_password", ctx.t("field-current-password"), "password", "")
                .hint(ctx.t("field-current-password-hint")),
        );
    }
    Ok(fields)
}

fn user_page(ctx: Ctx, agents: bool, id: Option<i64>, fields: Vec<FieldView>, errors: Vec<String>) -> FormPage {
    let base = format!("/admin/{}", section(agents));
    FormPage {
        nav: super::nav(&ctx, section(agents)),
        title: ctx.t(match (agents, id) {
            (true, None) => "admin-new-agent",
            (true, Some(_)) => "admin-edit-agent",
            (false, None) => "admin-new-customer",
            (false, Some(_)) => "admin-edit-customer",
        }),
        action: id.map(|i| format!("{base}/{i}")).unwrap_or(format!("{base}/new")),
        fields,
        errors,
        delete: None,
        back: base,
        secret: None,
        below: vec![],
        below_columns: vec![],
        actions: vec![],
        notices: vec![],
        preview: None,
        ctx,
    }
}

async fn new_user(State(app): State<App>, v: Viewer, agents: bool) -> UiResult {
    let s = allowed(&v, section(agents))?;
    let fields = user_fields(&app, s, &v.ctx, None, agents).await?;
    render(&user_page(v.ctx, agents, None, fields, vec![]))
}

async fn edit_user(State(app): State<App>, v: Viewer, Path(id): Path<i64>, agents: bool) -> UiResult {
    let s = allowed(&v, section(agents))?;
    let u = app.get_user(&s.principal, UserId(id)).await?;
    if u.role.is_staff() != agents {
        return Err(UiError::NotFound);
    }
    let fields = user_fields(&app, s, &v.ctx, Some(&u), agents).await?;
    render(&user_page(v.ctx, agents, Some(id), fields, vec![]))
}

/// Reads a user form into the use case's input.
fn user_input(ctx: &Ctx, form: &UiForm, agents: bool, existing: Option<&User>) -> Result<UserInput, FormErrors> {
    let list = |name: &str| -> Vec<String> {
        form.get(name)
            .unwrap_or_default()
            .split([' ', ',', '，', '\n'])
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut input = UserInput {
        name: form.text("name"),
        email: form.text("email"),
        language: form.text("language").and_then(|l| Language::parse(&l, "language").ok()),
        time_zone: form.text("time_zone"),
        active: Some(form.checked("active")),
        password: form.text("password"),
        current_password: form.text("current_password"),
        ..Default::default()
    };
    if agents {
        input.role = Some(
            Role::parse(form.get("role").unwrap_or("agent"), "role")
                .ok()
                .filter(|r| r.is_staff())
                .ok_or_else(|| FormErrors::one("role", gongdan_domain::Code::InvalidValue.message_key()))?,
        );
        input.group_ids = Some(form.ids("group_ids").into_iter().map(GroupId).collect());
        input.restricted_to_groups = Some(form.checked("restricted_to_groups"));
        input.languages = Some(list("languages"));
        input.skills = Some(list("skills"));
        input.capacity = Some(
            form.text("capacity")
                .map(|c| c.parse::<i64>())
                .transpose()
                .map_err(|_| FormErrors::one("capacity", gongdan_domain::Code::InvalidValue.message_key()))?,
        );
        input.availability = form
            .text("availability")
            .and_then(|a| gongdan_domain::routing::Availability::parse(&a, "availability").ok());
    } else {
        input.role = existing.is_none().then_some(Role::Customer);
        let mut identities = Vec::new();
        if let Some(e) = form.text("email") {
            identities.push(Identity { kind: IdentityKind::Email, value: e });
        }
        for e in list("other_emails") {
            identities.push(Identity { kind: IdentityKind::Email, value: e });
        }
        for p in form.get("phones").unwrap_or_default().lines().map(str::trim).filter(|p| !p.is_empty()) {
            identities.push(Identity { kind: IdentityKind::Phone, value: p.to_owned() });
        }
        input.identities = Some(identities);
        input.external_id = Some(form.text("external_id"));
        input.organization_id = Some(form.id("organization_id")?.map(OrganizationId));
        input.account_manager_id = Some(form.id("account_manager_id")?.map(UserId));
        input.vip_level = Some(
            form.text("vip_level")
                .unwrap_or("0".into())
                .parse()
                .map_err(|_| FormErrors::one("vip_level", gongdan_domain::Code::InvalidValue.message_key()))?,
        );
        for d in ctx.cfg.fields.iter().filter(|d| d.active && d.scope == gongdan_domain::fields::FieldScope::User) {
            input.custom_fields.insert(d.key.clone(), crate::ui::view::custom_value(d, form));
        }
    }
    Ok(input)
}

async fn save_user(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm, agents: bool) -> UiResult {
    let s = allowed(&v, section(agents))?;
    let existing = match id {
        Some(id) => Some(app.get_user(&s.principal, UserId(id)).await?),
        None => None,
    };
    let result = match user_input(&v.ctx, &form, agents, existing.as_ref()) {
        Err(e) => Err(e),
        Ok(mut input) => {
            // Changing one's own password here keeps this session; the others end.
            input.keep_session = Some(s.secret.clone());
            let r = match &existing {
                Some(u) => app.update_user(&s.principal, u.id, input).await,
                None => app.create_user(Some(&s.principal), input).await,
            };
            match r {
                Ok(u) => Ok(u),
                Err(e) => {
                    let names: Vec<String> = user_fields(&app, s, &v.ctx, existing.as_ref(), agents)
                        .await?
                        .into_iter()
                        .map(|f| f.name)
                        .collect();
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    let mut errors = FormErrors::from_core(e, &names)?;
                    // Identities are edited as lists; point their errors at the lists.
                    if let Some(k) = errors.general.iter().position(|g| g.starts_with("identities")) {
                        let key = errors.general.remove(k);
                        let code = key
                            .split('\u{1f}')
                            .nth(1)
                            .unwrap_or(gongdan_domain::Code::InvalidValue.message_key())
                            .to_owned();
                        errors.fields.insert("phones".into(), code);
                    }
                    Err(errors)
                }
            }
        }
    };
    match result {
        Ok(u) => Ok(redirect_flash(&format!("/admin/{}/{}", section(agents), u.id), "flash-saved")),
        Err(errors) => {
            let fields =
                crate::ui::agent::ticket::refill(user_fields(&app, s, &v.ctx, existing.as_ref(), agents).await?, &form);
            let (fields, general) = apply_errors(&v.ctx, fields, &errors);
            failed(user_page(v.ctx, agents, id, fields, general))
        }
    }
}

// ---- organisations ----

async fn list_orgs(State(app): State<App>, v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    let s = allowed(&v, "organizations")?;
    let after = q.cursor.as_deref().and_then(|c| Cursor::decode(c, "id").ok()).map(|c| OrganizationId(c.id));
    let orgs = app.list_organizations(&s.principal, q.q.as_deref(), after, 50).await?;
    let ctx = v.ctx;
    let qs = urlencode(q.q.as_deref().unwrap_or_default());
    let next = (orgs.len() == 50)
        .then(|| orgs.last().map(|o| Cursor { sort: "id".into(), key: 0, id: o.id.0 }.encode()))
        .flatten()
        .map(|c| format!("/admin/organizations?q={qs}&cursor={c}"));
    let first = q.cursor.as_ref().map(|_| format!("/admin/organizations?q={qs}"));
    let rows = orgs
        .iter()
        .map(|o| AdminRow {
            href: format!("/admin/organizations/{}", o.id),
            cells: vec![o.name.clone(), o.domains.join(", "), yes_no(&ctx, o.shared_tickets)],
            depth: 0,
        })
        .collect();
    let columns = vec![ctx.t("field-title"), ctx.t("field-domains"), ctx.t("field-shared-tickets")];
    list_view(ctx, "organizations", "admin-organizations", q, columns, rows, next, first)
}

fn org_fields(ctx: &Ctx, o: Option<&Organization>) -> Vec<FieldView> {
    let mut fields = vec![
        FieldView::new("name", ctx.t("field-title"), "text", o.map(|o| o.name.clone()).unwrap_or_default())
            .required(true),
        FieldView::new("domains", ctx.t("field-domains"), "text", o.map(|o| o.domains.join(" ")).unwrap_or_default())
            .hint(ctx.t("field-domains-hint")),
        FieldView::new(
            "shared_tickets",
            ctx.t("field-shared-tickets"),
            "checkbox",
            o.map(|o| o.shared_tickets.to_string()).unwrap_or_default(),
        )
        .hint(ctx.t("field-shared-tickets-hint")),
    ];
    for d in ctx.cfg.fields.iter().filter(|d| d.active && d.scope == gongdan_domain::fields::FieldScope::Organization) {
        fields.push(crate::ui::view::custom_field(ctx, d, o.and_then(|o| o.custom_fields.get(&d.key)), false));
    }
    fields
}

fn org_page(ctx: Ctx, id: Option<i64>, fields: Vec<FieldView>, errors: Vec<String>) -> FormPage {
    FormPage {
        nav: nav(&ctx, "organizations"),
        title: ctx.t(if id.is_some() { "admin-edit-organization" } else { "admin-new-organization" }),
        action: id.map(|i| format!("/admin/organizations/{i}")).unwrap_or("/admin/organizations/new".into()),
        fields,
        errors,
        delete: id.map(|i| format!("/admin/organizations/{i}/delete")),
        back: "/admin/organizations".into(),
        secret: None,
        below: vec![],
        below_columns: vec![],
        actions: vec![],
        notices: vec![],
        preview: None,
        ctx,
    }
}

async fn new_org(v: Viewer) -> UiResult {
    allowed(&v, "organizations")?;
    let fields = org_fields(&v.ctx, None);
    render(&org_page(v.ctx, None, fields, vec![]))
}

async fn edit_org(State(app): State<App>, v: Viewer, Path(id): Path<i64>) -> UiResult {
    let s = allowed(&v, "organizations")?;
    let o = app.get_organization(&s.principal, OrganizationId(id)).await?;
    let fields = org_fields(&v.ctx, Some(&o));
    render(&org_page(v.ctx, Some(id), fields, vec![]))
}

async fn save_org(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "organizations")?;
    let now = app.now();
    let mut o = match id {
        Some(id) => app.get_organization(&s.principal, OrganizationId(id)).await?,
        None => Organization::blank(now),
    };
    o.name = form.get("name").unwrap_or_default().to_owned();
    o.domains = form
        .get("domains")
        .unwrap_or_default()
        .split([' ', ',', '\n'])
        .filter(|d| !d.trim().is_empty())
        .map(str::to_owned)
        .collect();
    o.shared_tickets = form.checked("shared_tickets");
    for d in v.ctx.cfg.fields.iter().filter(|d| d.active && d.scope == gongdan_domain::fields::FieldScope::Organization)
    {
        o.custom_fields.insert(d.key.clone(), crate::ui::view::custom_value(d, &form));
    }
    match app.save_organization(&s.principal, o).await {
        Ok(o) => Ok(redirect_flash(&format!("/admin/organizations/{}", o.id), "flash-saved")),
        Err(e) => {
            let fields = org_fields(&v.ctx, None);
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let errors = FormErrors::from_core(e, &names)?;
            let (fields, general) = apply_errors(&v.ctx, crate::ui::agent::ticket::refill(fields, &form), &errors);
            failed(org_page(v.ctx, id, fields, general))
        }
    }
}

async fn delete_org(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "organizations")?;
    match app.delete_organization(&s.principal, OrganizationId(id)).await {
        Ok(()) => Ok(redirect_flash("/admin/organizations", "flash-deleted")),
        Err(gongdan_core::CoreError::InUse(_)) => {
            Ok(redirect_flash(&format!("/admin/organizations/{id}"), "flash-in-use"))
        }
        Err(e) => Err(e.into()),
    }
}

// ---- API tokens ----

#[derive(serde::Deserialize)]
struct TokenQuery {
    user_id: Option<i64>,
}

async fn token_page(
    app: &App,
    v: Viewer,
    user_id: Option<i64>,
    secret: Option<String>,
    errors: FormErrors,
    typed: Option<&UiForm>,
) -> UiResult {
    let s = allowed(&v, "tokens")?;
    let user_id = user_id.unwrap_or(s.user.id.0);
    let user = app.get_user(&s.principal, UserId(user_id)).await?;
    let tokens = app.list_tokens(&s.principal, user.id).await?;
    let ctx = v.ctx;
    let fields = vec![
        // The person by their address, not a number to look up.
        FieldView::new("email", ctx.t("field-token-user"), "email", user.email.clone().unwrap_or_default())
            .required(true)
            .hint(ctx.t1("tokens-for", "name", &user.name)),
        FieldView::new("name", ctx.t("field-token-name"), "text", "").required(true),
        FieldView::new("expires_days", ctx.t("field-expires-days"), "number", "")
            .hint(ctx.t("field-expires-days-hint")),
    ];
    // After an error, what was typed stays.
    let fields = match typed {
        Some(form) => crate::ui::agent::ticket::refill(fields, form),
        None => fields,
    };
    let (fields, general) = apply_errors(&ctx, fields, &errors);
    let below = tokens
        .iter()
        .map(|t| AdminRow {
            href: if t.revoked_at.is_none() {
                format!("/admin/tokens/{}/revoke?user_id={}", t.id, user.id)
            } else {
                String::new()
            },
            cells: vec![
                t.name.clone(),
                ctx.dt(&t.created_at),
                ctx.opt_dt(&t.expires_at),
                t.revoked_at.as_ref().map(|r| ctx.dt(r)).unwrap_or_else(|| ctx.t("token-active")),
            ],
            depth: 0,
        })
        .collect();
    let page = FormPage {
        nav: nav(&ctx, "tokens"),
        title: ctx.t("admin-tokens"),
        action: "/admin/tokens".into(),
        fields,
        errors: general,
        delete: None,
        back: "/admin/agents".into(),
        secret,
        below,
        below_columns: vec![
            ctx.t("field-token-name"),
            ctx.t("field-created"),
            ctx.t("field-expires"),
            ctx.t("field-revoked"),
        ],
        actions: vec![],
        notices: vec![],
        preview: None,
        ctx,
    };
    if errors.is_empty() { render(&page) } else { failed(page) }
}

async fn tokens(State(app): State<App>, v: Viewer, Query(q): Query<TokenQuery>) -> UiResult {
    token_page(&app, v, q.user_id, None, FormErrors::default(), None).await
}

async fn create_token(State(app): State<App>, v: Viewer, form: UiForm) -> UiResult {
    let s = allowed(&v, "tokens")?;
    let mut user_id = form.id("user_id").ok().flatten().unwrap_or(s.user.id.0);
    if let Some(email) = form.text("email") {
        let email = email.trim().to_lowercase();
        let q = gongdan_domain::people::UserQuery { q: Some(email.clone()), limit: 20, ..Default::default() };
        let found = app.list_users(&s.principal, q).await?.into_iter().find(|u| u.email.as_deref() == Some(&email));
        match found {
            Some(u) => user_id = u.id.0,
            None => {
                let errors = FormErrors::one("email", gongdan_domain::Code::MissingReference.message_key());
                return token_page(&app, v, None, None, errors, Some(&form)).await;
            }
        }
    }
    let days = match form.text("expires_days").map(|d| d.parse::<i64>()) {
        None => None,
        Some(Ok(d)) if (1..=36_500).contains(&d) => Some(d),
        Some(_) => {
            return token_page(
                &app,
                v,
                Some(user_id),
                None,
                FormErrors::one("expires_days", gongdan_domain::Code::InvalidValue.message_key()),
                Some(&form),
            )
            .await;
        }
    };
    let now = app.now();
    let expires = days.and_then(|d| now.checked_add(jiff::SignedDuration::from_secs(86_400 * d)).ok());
    let name = form.get("name").unwrap_or_default().to_owned();
    match app.create_token(Some(&s.principal), UserId(user_id), &name, expires).await {
        Ok((secret, _)) => token_page(&app, v, Some(user_id), Some(secret), FormErrors::default(), None).await,
        Err(e) => {
            let errors = FormErrors::from_core(e, &["name", "email", "expires_days"])?;
            token_page(&app, v, Some(user_id), None, errors, Some(&form)).await
        }
    }
}

async fn revoke_token(
    State(app): State<App>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<TokenQuery>,
    _form: UiForm,
) -> UiResult {
    let s = allowed(&v, "tokens")?;
    app.revoke_token(&s.principal, TokenId(id)).await?;
    let back = q.user_id.map(|u| format!("/admin/tokens?user_id={u}")).unwrap_or("/admin/tokens".into());
    Ok(redirect_flash(&back, "flash-revoked").into_response())
}
