//! The admin console: people (agents and roles, customers, organisations, API tokens) and
//! configuration (groups and tiers, the category tree, statuses, custom fields, forms, desk
//! settings). Every section is a searchable, paged list and an edit form, rendered by two
//! shared templates; saving goes through the same use cases as the API, so the same rules and
//! errors apply, shown beside the field.

pub(crate) mod builder;
mod config;
mod macros;
mod mail;
mod notifications;
mod people;
mod rules;
mod sla;
mod views;

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use gongdan_core::App;
use gongdan_domain::access::Role;

use super::ctx::{Ctx, SessionUser, Viewer};
use super::form::FormErrors;
use super::view::{FieldView, urlencode};
use super::{UiError, UiResult, render};

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin", get(home))
        .merge(people::router())
        .merge(config::router())
        .merge(rules::router())
        .merge(macros::router())
        .merge(views::router())
        .merge(notifications::router())
        .merge(mail::router())
        .merge(sla::router())
}

/// The console's first page: agents for those who may manage people.
async fn home(v: Viewer) -> UiResult {
    allowed(&v, "agents")?;
    Ok(Redirect::to("/admin/agents").into_response())
}

/// The sections, in menu order: (path, label key, admins only).
const SECTIONS: [(&str, &str, bool); 19] = [
    ("agents", "admin-agents", false),
    ("groups", "admin-groups", true),
    ("triggers", "admin-triggers", true),
    ("automations", "admin-automations", true),
    ("macros", "admin-macros", false),
    ("views", "admin-views", false),
    ("webhooks", "admin-webhooks", true),
    ("templates", "admin-templates", true),
    ("mailboxes", "admin-mailboxes", true),
    ("quarantine", "admin-quarantine", true),
    ("calendars", "admin-calendars", true),
    ("customers", "admin-customers", false),
    ("organizations", "admin-organizations", false),
    ("categories", "admin-categories", true),
    ("statuses", "admin-statuses", true),
    ("fields", "admin-fields", true),
    ("forms", "admin-forms", true),
    ("tokens", "admin-tokens", true),
    ("settings", "admin-settings", true),
];

pub struct NavItem {
    pub href: String,
    pub label: String,
    pub current: bool,
}

fn nav(ctx: &Ctx, current: &str) -> Vec<NavItem> {
    SECTIONS
        .iter()
        .filter(|(_, _, admin_only)| ctx.is_admin() || !admin_only)
        .map(|(path, key, _)| NavItem { href: format!("/admin/{path}"), label: ctx.t(key), current: *path == current })
        .collect()
}

/// Admins everywhere; supervisors in the people sections (the use cases decide the rest).
fn allowed<'a>(v: &'a Viewer, section: &str) -> Result<&'a SessionUser, UiError> {
    let s = v.staff()?;
    let admin_only = SECTIONS.iter().find(|(p, _, _)| *p == section).is_none_or(|(_, _, a)| *a);
    match s.principal.role {
        Role::Admin => Ok(s),
        Role::Supervisor if !admin_only => Ok(s),
        _ => Err(UiError::Forbidden),
    }
}

pub struct AdminRow {
    pub href: String,
    pub cells: Vec<String>,
    /// Indentation of the first cell (the category tree).
    pub depth: usize,
}

#[derive(Template)]
#[template(path = "admin/list.html")]
pub struct ListPage {
    pub ctx: Ctx,
    pub nav: Vec<NavItem>,
    pub title: String,
    pub q: String,
    pub new_href: String,
    pub columns: Vec<String>,
    pub rows: Vec<AdminRow>,
    pub next: Option<String>,
    pub first: Option<String>,
}

/// An edit form, and optionally a secret shown once (a new API token) or a delete action.
#[derive(Template)]
#[template(path = "admin/form.html")]
pub struct FormPage {
    pub ctx: Ctx,
    pub nav: Vec<NavItem>,
    pub title: String,
    pub action: String,
    pub fields: Vec<FieldView>,
    pub errors: Vec<String>,
    pub delete: Option<String>,
    pub back: String,
    pub secret: Option<String>,
    pub below: Vec<AdminRow>,
    pub below_columns: Vec<String>,
    /// Buttons that post to a URL of their own beside the form (test a connection, fetch now).
    pub actions: Vec<FormAction>,
    /// What such an action came to, shown above the form.
    pub notices: Vec<String>,
    /// A button that posts the form, unsaved, to be shown filled in (a template's preview).
    pub preview: Option<FormPreview>,
}

pub struct FormPreview {
    pub href: String,
    /// The button's words ("Preview", "When is it due?").
    pub label: String,
    /// What the last preview showed: (heading, subject, body).
    pub shown: Vec<(String, String, String)>,
}

/// A button beside a form that posts on its own.
pub struct FormAction {
    pub id: String,
    pub label: String,
    pub href: String,
}

#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub page: Option<usize>,
}

const PAGE: usize = 50;

/// Filters and pages a list held in memory (configuration tables are small).
fn paged(rows: Vec<AdminRow>, q: &ListQuery, base: &str) -> (Vec<AdminRow>, Option<String>, Option<String>) {
    let needle = q.q.as_deref().map(str::trim).unwrap_or_default().to_lowercase();
    let matching: Vec<AdminRow> = rows
        .into_iter()
        .filter(|r| needle.is_empty() || r.cells.iter().any(|c| c.to_lowercase().contains(&needle)))
        .collect();
    let page = q.page.unwrap_or(0).min(matching.len() / PAGE + 1);
    let more = matching.len() > (page + 1) * PAGE;
    let qs = format!("q={}", urlencode(&needle));
    let next = more.then(|| format!("{base}?{qs}&page={}", page + 1));
    let first = (page > 0).then(|| format!("{base}?{qs}"));
    (matching.into_iter().skip(page * PAGE).take(PAGE).collect(), next, first)
}

/// A section's list page.
#[allow(clippy::too_many_arguments)] // the page's parts, each different
fn list_view(
    ctx: Ctx,
    section: &str,
    title: &str,
    q: ListQuery,
    columns: Vec<String>,
    rows: Vec<AdminRow>,
    next: Option<String>,
    first: Option<String>,
) -> UiResult {
    let page = ListPage {
        nav: nav(&ctx, section),
        title: ctx.t(title),
        q: q.q.unwrap_or_default(),
        new_href: format!("/admin/{section}/new"),
        columns,
        rows,
        next,
        first,
        ctx,
    };
    render(&page)
}

/// Renders a form again after a failed save, with the errors and a 422.
fn failed(page: FormPage) -> UiResult {
    let mut res = render(&page)?;
    *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(res)
}

/// Field errors on their inputs, the rest above the form.
fn apply_errors(ctx: &Ctx, fields: Vec<FieldView>, errors: &FormErrors) -> (Vec<FieldView>, Vec<String>) {
    (super::view::with_errors(fields, ctx, errors), errors.general_texts(ctx))
}

fn yes_no(ctx: &Ctx, b: bool) -> String {
    ctx.t(if b { "value-yes" } else { "value-no" })
}
