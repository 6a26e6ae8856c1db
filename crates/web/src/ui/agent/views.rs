//! Saving the list an agent filtered as a personal view.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use gongdan_core::App;
use gongdan_core::views::ViewInput;
use serde_json::{Map, Value};

use super::ListQuery;
use crate::ui::ctx::Viewer;
use crate::ui::form::UiForm;
use crate::ui::{UiError, UiResult, redirect_flash};

pub fn router() -> Router<App> {
    Router::new().route("/agent/views", post(save_view))
}

/// Saves the list's current filters as a personal view and opens it.
async fn save_view(State(app): State<App>, v: Viewer, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let base = form.text("view").ok_or(UiError::BadRequest)?;
    let from = app.get_view(&s.principal, &base).await.map_err(|_| UiError::NotFound)?;
    let lq: ListQuery = serde_urlencoded::from_str(form.get("query").unwrap_or_default()).unwrap_or_default();
    let mut filters: Map<String, Value> = from.filters.as_object().cloned().unwrap_or_default();
    let set = |f: &mut Map<String, Value>, k: &str, v: Option<Value>| {
        if let Some(v) = v {
            f.insert(k.to_owned(), v);
        }
    };
    let text = |o: &Option<String>| o.as_deref().map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned);
    set(&mut filters, "priority", text(&lq.priority).map(|p| Value::from(vec![p])));
    set(&mut filters, "channel", text(&lq.channel).map(|c| Value::from(vec![c])));
    set(&mut filters, "tag", text(&lq.tag).map(Value::from));
    set(&mut filters, "group_id", text(&lq.group_id).and_then(|g| g.parse::<i64>().ok()).map(Value::from));
    set(&mut filters, "category_id", text(&lq.category_id).and_then(|c| c.parse::<i64>().ok()).map(Value::from));
    set(
        &mut filters,
        "assignee_id",
        text(&lq.assignee_id).map(|a| a.parse::<i64>().map(Value::from).unwrap_or(Value::from(a))),
    );
    let input = ViewInput {
        name: form.text("name"),
        scope: Some("personal".into()),
        filters: Some(Value::Object(filters)),
        columns: Some(from.columns.clone()),
        sort: text(&lq.sort).or(Some(from.sort.clone())),
        ..Default::default()
    };
    match app.create_view(&s.principal, input).await {
        Ok(view) => Ok(redirect_flash(&format!("/agent/views/{}", view.id), "flash-view-saved")),
        Err(_) => Ok(redirect_flash(&format!("/agent/views/{base}"), "flash-view-not-saved")),
    }
}
