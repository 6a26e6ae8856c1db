//! Field changes in words: a field's name and a value as the viewer reads them (the timeline,
//! macro previews).

use gongdan_core::people::UserLabel;
use gongdan_domain::ids::UserId;
use gongdan_domain::tickets::Priority;
use jiff::Timestamp;
use std::collections::BTreeMap;

use crate::ui::ctx::Ctx;

/// A value of a changed field, in words.
pub(crate) fn field_value(ctx: &Ctx, field: &str, v: Option<&str>, names: &BTreeMap<UserId, UserLabel>) -> String {
    let Some(v) = v.filter(|v| !v.is_empty()) else { return ctx.t("value-none") };
    let id = || v.parse::<i64>().ok();
    match field {
        "status" => ctx.status_label(v),
        "priority" => Priority::parse(v, "priority").map(|p| ctx.priority_label(p)).unwrap_or_else(|_| v.to_owned()),
        "type" => ctx.t(&format!("type-{v}")),
        "assignee_id" => {
            id().and_then(|i| names.get(&UserId(i))).map(|u| u.name.clone()).unwrap_or_else(|| v.to_owned())
        }
        "group_id" => id().map(|g| ctx.group_name(g)).unwrap_or_else(|| v.to_owned()),
        "category_id" => id().map(|c| ctx.category_path(c)).unwrap_or_else(|| v.to_owned()),
        "due_at" => v.parse::<Timestamp>().map(|t| ctx.dt(&t)).unwrap_or_else(|_| v.to_owned()),
        _ => v.to_owned(),
    }
}

pub(crate) fn field_name(ctx: &Ctx, field: &str) -> String {
    if let Some(key) = field.strip_prefix("custom_fields.") {
        return ctx
            .cfg
            .fields
            .iter()
            .find(|d| d.key == key)
            .map(|d| ctx.pick(&d.label_zh, &d.label_en).to_owned())
            .unwrap_or_else(|| key.to_owned());
    }
    ctx.t(&format!("event-field-{}", field.replace('_', "-")))
}
