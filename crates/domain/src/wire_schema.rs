//! OpenAPI schemas for the JSON values whose shape depends on what they belong to: a rule
//! row's `value` (per field) and custom-field values (per field kind). Stated as the union of
//! the shapes the server takes, so a generated client can send each of them and read them back.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};

fn of(t: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(t)
}

/// A scalar or a list of scalars: what custom fields and most rule rows hold.
fn scalar_or_list() -> OneOfBuilder {
    let scalar = || OneOfBuilder::new().item(of(Type::String)).item(of(Type::Number)).item(of(Type::Boolean));
    OneOfBuilder::new()
        .item(of(Type::String))
        .item(of(Type::Number))
        .item(of(Type::Boolean))
        .item(of(Type::Null))
        .item(ArrayBuilder::new().items(scalar()))
}

/// Who a notify action tells.
fn notify_to() -> ObjectBuilder {
    ObjectBuilder::new()
        .property(
            "to",
            of(Type::String)
                .enum_values(Some(["requester", "assignee", "group", "user"]))
                .description(Some("who is told")),
        )
        .property("user_id", of(Type::Integer).description(Some("with `to: user`")))
        .required("to")
}

/// A condition's or action's `value`.
pub fn rule_value() -> Schema {
    scalar_or_list()
        .item(
            ObjectBuilder::new()
                .property("webhook_id", of(Type::Integer))
                .required("webhook_id")
                .description(Some("the `webhook` action: which webhook to call")),
        )
        .item(
            notify_to()
                .property("subject", of(Type::String).max_length(Some(200)))
                .property("body", of(Type::String).max_length(Some(10_000)))
                .required("subject")
                .required("body")
                .description(Some("the `notify` action with its own text, the same for everyone")),
        )
        .item(
            notify_to()
                .property("template_id", of(Type::Integer))
                .required("template_id")
                .description(Some(
                    "the `notify` action with a notification template: each person reads it in their language",
                )),
        )
        .description(Some(
            "Depends on the row's field: a status key or category, priority, channel, type or text for those \
             fields; an id (or null) for assignee_id, group_id, category_id, requester or organization; a number \
             of hours for hours_since_* conditions; a list of tags for tags_add/tags_remove and the `includes` \
             operators; `{\"webhook_id\": id}` for the webhook action and `{\"to\", \"template_id\"}` or `{\"to\", \"subject\", \"body\"}` \
             for notify.",
        ))
        .into()
}

/// A map of custom-field keys to values (`null` clears one where the map is a change).
pub fn field_values() -> Schema {
    ObjectBuilder::new()
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::RefOr(
            Schema::from(scalar_or_list()).into(),
        )))
        .description(Some("custom field key → value: text, number, yes/no, a choice's value, or a list of choices"))
        .into()
}
