//! The new-ticket form that the agent's page (on a customer's behalf) and the portal's (a
//! customer's own request) are both built on: subject, description and category, the
//! category's form fields (shown again with everything kept when the category changes),
//! attachments, and a key that makes a double submit create one ticket. Each page adds its own
//! fields around it.

use askama::Template;
use axum::http::StatusCode;
use gongdan_core::tickets::CreateTicket;
use gongdan_core::tickets::Idempotency;
use gongdan_core::{App, CoreError};
use gongdan_domain::ids::CategoryId;

use super::agent::ticket::{form_idempotency, refill, store_files};
use super::ctx::{Ctx, SessionUser};
use super::form::{FormErrors, UiForm};
use super::view::{FieldView, category_options, read_ticket_fields, ticket_fields, with_errors};
use super::{UiResult, render};

/// The field names the shared part can pin an error on.
const SHARED: [&str; 4] = ["subject", "description", "category_id", "files"];

/// The category picker, which brings its form's fields.
pub fn category_field(ctx: &Ctx, category: Option<i64>) -> FieldView {
    FieldView::new("category_id", ctx.t("field-category"), "tree", category.map(|c| c.to_string()).unwrap_or_default())
        .options(category_options(ctx, &ctx.cfg.categories, None), true)
}

pub fn subject_field(ctx: &Ctx) -> FieldView {
    FieldView::new("subject", ctx.t("field-subject"), "text", "").required(true)
}

/// A customer must say what is wrong; an agent logging a call may leave it to the subject.
pub fn description_field(ctx: &Ctx, required: bool) -> FieldView {
    FieldView::new("description", ctx.t("field-description"), "textarea", "").required(required)
}

/// The category's form fields, empty.
pub fn custom_fields(ctx: &Ctx, category: Option<i64>) -> Vec<FieldView> {
    ticket_fields(ctx, category, &Default::default(), false)
}

/// A key for the page's first render, carried by the form so that resubmits count once.
pub fn fresh_key() -> Result<String, CoreError> {
    gongdan_core::auth::random_secret()
}

/// A submitted new-ticket form.
pub struct Submitted<'a> {
    pub form: &'a UiForm,
    pub category: Option<i64>,
}

impl<'a> Submitted<'a> {
    pub fn new(form: &'a UiForm) -> Self {
        Submitted { form, category: form.id("category_id").ok().flatten() }
    }

    /// The category changed and the page asked for its fields: show them, create nothing.
    pub fn refreshing(&self) -> bool {
        self.form.get("_refresh").is_some()
    }

    /// The names an error may be pinned on: the shared ones, the page's `own`, and the category
    /// form's fields that were shown.
    pub fn names(&self, own: &[&str]) -> Vec<String> {
        let shown = self.form.all("_fields");
        SHARED.iter().chain(own).chain(shown.iter()).map(|n| (*n).to_owned()).collect()
    }

    /// The shared part of the ticket (attachments are stored now, so they are the viewer's).
    pub async fn input(&self, app: &App, s: &SessionUser, ctx: &Ctx) -> Result<CreateTicket, CoreError> {
        let attachment_ids = store_files(app, s, self.form).await?;
        Ok(CreateTicket {
            subject: self.form.get("subject").unwrap_or_default().to_owned(),
            description: self.form.get("description").unwrap_or_default().to_owned(),
            category_id: self.category.map(CategoryId),
            custom_fields: read_ticket_fields(ctx, self.category, self.form, None),
            attachment_ids,
            ..Default::default()
        })
    }

    /// What makes a double submit of this page count once (`page` tells the pages apart).
    pub fn idempotency(&self, page: &str) -> Option<Idempotency> {
        form_idempotency(self.form, page)
    }

    /// The key the page carries on.
    pub fn key(&self) -> String {
        self.form.get("_idem").unwrap_or_default().to_owned()
    }

    /// Fields shown again with what was typed and each one's error.
    pub fn refill(&self, fields: Vec<FieldView>, ctx: &Ctx, errors: &FormErrors) -> Vec<FieldView> {
        with_errors(refill(fields, self.form), ctx, errors)
    }
}

/// The page again, as 422 when something stopped the ticket.
pub fn render_again(page: &impl Template, errors: &FormErrors) -> UiResult {
    let mut res = render(page)?;
    if !errors.is_empty() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}
