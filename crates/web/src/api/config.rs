//! Admin configuration: groups, categories, statuses, custom fields and forms. Everyone signed
//! in may read them (the portal needs categories and forms); only admins change them. DELETE
//! deactivates, because tickets keep referring to what they had; forms are deleted outright.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use gongdan_core::{App, CoreError};
use gongdan_domain::Code;
use gongdan_domain::DomainError;
use gongdan_domain::category::Category;
use gongdan_domain::fields::{CustomFieldDef, FieldKind, FieldOption, FieldScope, Form, FormField};
use gongdan_domain::ids::*;
use gongdan_domain::people::Group;
use gongdan_domain::routing::Assignment;
use gongdan_domain::tickets::{Status, StatusCategory};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::{Items, nullable};
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_group, list_groups))
        .routes(routes!(get_group, update_group, delete_group))
        .routes(routes!(create_category, list_categories))
        .routes(routes!(get_category, update_category, delete_category))
        .routes(routes!(create_status, list_statuses))
        .routes(routes!(get_status, update_status, delete_status))
        .routes(routes!(create_field, list_fields))
        .routes(routes!(get_field, update_field, delete_field))
        .routes(routes!(create_form, list_forms))
        .routes(routes!(get_form, update_form, delete_form))
        .routes(routes!(get_settings, update_settings))
}

fn find<T: Clone>(items: &[T], pred: impl Fn(&T) -> bool, what: &'static str) -> Result<T, CoreError> {
    items.iter().find(|x| pred(x)).cloned().ok_or(CoreError::NotFound(what))
}

// ---- groups ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct GroupIn {
    #[schema(max_length = 200)]
    name: Option<String>,
    /// 1 = desk, 2 = experts, 3 = HQ or vendor.
    tier: Option<i64>,
    description: Option<String>,
    active: Option<bool>,
    /// How tickets landing here unassigned get an agent.
    assignment: Option<Assignment>,
    /// Only online agents get tickets automatically.
    online_only: Option<bool>,
    /// Where escalation from here goes (`null`: the next tier's first group).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    escalation_group_id: Option<Option<GroupId>>,
}

fn apply_group(g: &mut Group, i: GroupIn) {
    if let Some(v) = i.name {
        g.name = v;
    }
    if let Some(v) = i.tier {
        g.tier = v;
    }
    if let Some(v) = i.description {
        g.description = v;
    }
    if let Some(v) = i.active {
        g.active = v;
    }
    if let Some(v) = i.assignment {
        g.assignment = v;
    }
    if let Some(v) = i.online_only {
        g.online_only = v;
    }
    if let Some(v) = i.escalation_group_id {
        g.escalation_group_id = v;
    }
}

#[utoipa::path(post, path = "/api/v1/groups", tag = "config", request_body = GroupIn, responses((status = 201, body = Group), (status = 403, body = Problem)))]
async fn create_group(State(app): State<App>, Auth(p): Auth, body: ApiJson<GroupIn>) -> ApiResult<impl IntoResponse> {
    let mut g = Group::blank();
    apply_group(&mut g, body.value);
    Ok((StatusCode::CREATED, Json(app.save_group(&p, g).await?)))
}

/// All groups, deactivated ones included (`active: false`).
#[utoipa::path(get, path = "/api/v1/groups", tag = "config", responses((status = 200, body = Items<Group>)))]
async fn list_groups(State(app): State<App>, Auth(_p): Auth) -> ApiResult<Json<Items<Group>>> {
    Ok(Json(Items { items: app.config().await?.groups.clone() }))
}

#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "config", params(("id" = i64, Path)), responses((status = 200, body = Group), (status = 404, body = Problem)))]
async fn get_group(State(app): State<App>, Auth(_p): Auth, Path(id): Path<i64>) -> ApiResult<Json<Group>> {
    Ok(Json(find(&app.config().await?.groups, |g| g.id.0 == id, "group")?))
}

#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "config", params(("id" = i64, Path)), request_body = GroupIn, responses((status = 200, body = Group)))]
async fn update_group(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<GroupIn>,
) -> ApiResult<Json<Group>> {
    let mut g = find(&app.config().await?.groups, |g| g.id.0 == id, "group")?;
    apply_group(&mut g, body.value);
    Ok(Json(app.save_group(&p, g).await?))
}

/// Deactivates the group: tickets that refer to it keep it, so it is not removed. It is
/// answered with `active: false`, and `GET` and the list go on returning it so marked;
/// `PATCH` with `active: true` brings it back.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "config", params(("id" = i64, Path)), responses((status = 200, body = Group)))]
async fn delete_group(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<Group>> {
    let mut g = find(&app.config().await?.groups, |g| g.id.0 == id, "group")?;
    g.active = false;
    Ok(Json(app.save_group(&p, g).await?))
}

// ---- categories ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CategoryIn {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    parent_id: Option<Option<CategoryId>>,
    name_zh: Option<String>,
    name_en: Option<String>,
    position: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    form_id: Option<Option<FormId>>,
    active: Option<bool>,
}

fn apply_category(c: &mut Category, i: CategoryIn) {
    if let Some(v) = i.parent_id {
        c.parent_id = v;
    }
    if let Some(v) = i.name_zh {
        c.name_zh = v;
    }
    if let Some(v) = i.name_en {
        c.name_en = v;
    }
    if let Some(v) = i.position {
        c.position = v;
    }
    if let Some(v) = i.form_id {
        c.form_id = v;
    }
    if let Some(v) = i.active {
        c.active = v;
    }
}

#[utoipa::path(post, path = "/api/v1/categories", tag = "config", request_body = CategoryIn, responses((status = 201, body = Category), (status = 422, body = Problem)))]
async fn create_category(
    State(app): State<App>,
    Auth(p): Auth,
    body: ApiJson<CategoryIn>,
) -> ApiResult<impl IntoResponse> {
    let mut c = Category {
        id: CategoryId(0),
        parent_id: None,
        name_zh: String::new(),
        name_en: String::new(),
        position: 0,
        form_id: None,
        active: true,
    };
    apply_category(&mut c, body.value);
    Ok((StatusCode::CREATED, Json(app.save_category(&p, c).await?)))
}

/// All categories as a flat list, deactivated ones included (`active: false`); `parent_id`
/// makes the tree.
#[utoipa::path(get, path = "/api/v1/categories", tag = "config", responses((status = 200, body = Items<Category>)))]
async fn list_categories(State(app): State<App>, Auth(_p): Auth) -> ApiResult<Json<Items<Category>>> {
    Ok(Json(Items { items: app.config().await?.categories.clone() }))
}

#[utoipa::path(get, path = "/api/v1/categories/{id}", tag = "config", params(("id" = i64, Path)), responses((status = 200, body = Category), (status = 404, body = Problem)))]
async fn get_category(State(app): State<App>, Auth(_p): Auth, Path(id): Path<i64>) -> ApiResult<Json<Category>> {
    Ok(Json(find(&app.config().await?.categories, |c| c.id.0 == id, "category")?))
}

#[utoipa::path(patch, path = "/api/v1/categories/{id}", tag = "config", params(("id" = i64, Path)), request_body = CategoryIn, responses((status = 200, body = Category)))]
async fn update_category(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<CategoryIn>,
) -> ApiResult<Json<Category>> {
    let mut c = find(&app.config().await?.categories, |c| c.id.0 == id, "category")?;
    apply_category(&mut c, body.value);
    Ok(Json(app.save_category(&p, c).await?))
}

/// Deactivates the category: tickets that refer to it keep it, so it is not removed. It is
/// answered with `active: false`, and `GET` and the list go on returning it so marked;
/// `PATCH` with `active: true` brings it back.
#[utoipa::path(delete, path = "/api/v1/categories/{id}", tag = "config", params(("id" = i64, Path)), responses((status = 200, body = Category)))]
async fn delete_category(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<Category>> {
    let mut c = find(&app.config().await?.categories, |c| c.id.0 == id, "category")?;
    c.active = false;
    Ok(Json(app.save_category(&p, c).await?))
}

// ---- statuses ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StatusIn {
    /// Set on create only.
    key: Option<String>,
    /// Set on create only.
    category: Option<StatusCategory>,
    label_zh: Option<String>,
    label_en: Option<String>,
    is_default: Option<bool>,
    position: Option<i64>,
    active: Option<bool>,
}

fn apply_status(s: &mut Status, i: StatusIn) {
    if let Some(v) = i.label_zh {
        s.label_zh = v;
    }
    if let Some(v) = i.label_en {
        s.label_en = v;
    }
    if let Some(v) = i.is_default {
        s.is_default = v;
    }
    if let Some(v) = i.position {
        s.position = v;
    }
    if let Some(v) = i.active {
        s.active = v;
    }
}

#[utoipa::path(post, path = "/api/v1/statuses", tag = "config", request_body = StatusIn, responses((status = 201, body = Status), (status = 422, body = Problem)))]
async fn create_status(State(app): State<App>, Auth(p): Auth, body: ApiJson<StatusIn>) -> ApiResult<impl IntoResponse> {
    let i = body.value;
    let key = i.key.clone().ok_or_else(|| DomainError::required("key"))?;
    let category = i.category.ok_or_else(|| DomainError::required("category"))?;
    let mut s = Status {
        id: StatusId(0),
        key,
        category,
        label_zh: String::new(),
        label_en: String::new(),
        is_default: false,
        position: 100,
        active: true,
    };
    apply_status(&mut s, i);
    Ok((StatusCode::CREATED, Json(app.save_status(&p, s).await?)))
}

#[utoipa::path(get, path = "/api/v1/statuses", tag = "config", responses((status = 200, body = Items<Status>)))]
async fn list_statuses(State(app): State<App>, Auth(_p): Auth) -> ApiResult<Json<Items<Status>>> {
    Ok(Json(Items { items: app.config().await?.statuses.clone() }))
}

#[utoipa::path(get, path = "/api/v1/statuses/{id}", tag = "config", params(("id" = i64, Path)), responses((status = 200, body = Status), (status = 404, body = Problem)))]
async fn get_status(State(app): State<App>, Auth(_p): Auth, Path(id): Path<i64>) -> ApiResult<Json<Status>> {
    Ok(Json(find(&app.config().await?.statuses, |s| s.id.0 == id, "status")?))
}

#[utoipa::path(patch, path = "/api/v1/statuses/{id}", tag = "config", params(("id" = i64, Path)), request_body = StatusIn, responses((status = 200, body = Status)))]
async fn update_status(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<StatusIn>,
) -> ApiResult<Json<Status>> {
    let mut s = find(&app.config().await?.statuses, |s| s.id.0 == id, "status")?;
    if body.value.key.is_some() || body.value.category.is_some() {
        return Err(DomainError::invalid(
            "key",
            Code::Immutable,
            "a status keeps its key and category; create a new one instead",
        )
        .into());
    }
    apply_status(&mut s, body.value);
    Ok(Json(app.save_status(&p, s).await?))
}

/// Deactivates the status: tickets that refer to it keep it, so it is not removed. It is
/// answered with `active: false`, and `GET` and the list go on returning it so marked;
/// `PATCH` with `active: true` brings it back.
#[utoipa::path(delete, path = "/api/v1/statuses/{id}", tag = "config", params(("id" = i64, Path)), responses((status = 200, body = Status), (status = 409, body = Problem)))]
async fn delete_status(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<Status>> {
    let mut s = find(&app.config().await?.statuses, |s| s.id.0 == id, "status")?;
    s.active = false;
    Ok(Json(app.save_status(&p, s).await?))
}

// ---- custom fields ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FieldIn {
    /// Set on create only.
    scope: Option<FieldScope>,
    /// Set on create only.
    key: Option<String>,
    /// Set on create only.
    kind: Option<FieldKind>,
    label_zh: Option<String>,
    label_en: Option<String>,
    options: Option<Vec<FieldOption>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pattern: Option<Option<String>>,
    active: Option<bool>,
    position: Option<i64>,
}

fn apply_field(f: &mut CustomFieldDef, i: FieldIn) {
    if let Some(v) = i.label_zh {
        f.label_zh = v;
    }
    if let Some(v) = i.label_en {
        f.label_en = v;
    }
    if let Some(v) = i.options {
        f.options = v;
    }
    if let Some(v) = i.pattern {
        f.pattern = v;
    }
    if let Some(v) = i.active {
        f.active = v;
    }
    if let Some(v) = i.position {
        f.position = v;
    }
}

#[utoipa::path(post, path = "/api/v1/custom_fields", tag = "config", request_body = FieldIn, responses((status = 201, body = CustomFieldDef), (status = 422, body = Problem)))]
async fn create_field(State(app): State<App>, Auth(p): Auth, body: ApiJson<FieldIn>) -> ApiResult<impl IntoResponse> {
    let i = body.value;
    let mut f = CustomFieldDef {
        id: FieldId(0),
        scope: i.scope.unwrap_or(FieldScope::Ticket),
        key: i.key.clone().ok_or_else(|| DomainError::required("key"))?,
        kind: i.kind.ok_or_else(|| DomainError::required("kind"))?,
        label_zh: String::new(),
        label_en: String::new(),
        options: vec![],
        pattern: None,
        active: true,
        position: 0,
    };
    apply_field(&mut f, i);
    Ok((StatusCode::CREATED, Json(app.save_field(&p, f).await?)))
}

#[utoipa::path(get, path = "/api/v1/custom_fields", tag = "config", responses((status = 200, body = Items<CustomFieldDef>)))]
async fn list_fields(State(app): State<App>, Auth(_p): Auth) -> ApiResult<Json<Items<CustomFieldDef>>> {
    Ok(Json(Items { items: app.config().await?.fields.clone() }))
}

#[utoipa::path(get, path = "/api/v1/custom_fields/{id}", tag = "config", params(("id" = i64, Path)), responses((status = 200, body = CustomFieldDef), (status = 404, body = Problem)))]
async fn get_field(State(app): State<App>, Auth(_p): Auth, Path(id): Path<i64>) -> ApiResult<Json<CustomFieldDef>> {
    Ok(Json(find(&app.config().await?.fields, |f| f.id.0 == id, "custom field")?))
}

#[utoipa::path(patch, path = "/api/v1/custom_fields/{id}", tag = "config", params(("id" = i64, Path)), request_body = FieldIn, responses((status = 200, body = CustomFieldDef)))]
async fn update_field(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<FieldIn>,
) -> ApiResult<Json<CustomFieldDef>> {
    let mut f = find(&app.config().await?.fields, |f| f.id.0 == id, "custom field")?;
    if body.value.key.is_some() || body.value.kind.is_some() || body.value.scope.is_some() {
        return Err(DomainError::invalid("key", Code::Immutable, "a field keeps its key, kind and scope").into());
    }
    apply_field(&mut f, body.value);
    Ok(Json(app.save_field(&p, f).await?))
}

/// Deactivates the custom field: tickets that refer to it keep it, so it is not removed. It is
/// answered with `active: false`, and `GET` and the list go on returning it so marked;
/// `PATCH` with `active: true` brings it back.
#[utoipa::path(delete, path = "/api/v1/custom_fields/{id}", tag = "config", params(("id" = i64, Path)), responses((status = 200, body = CustomFieldDef)))]
async fn delete_field(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<CustomFieldDef>> {
    let mut f = find(&app.config().await?.fields, |f| f.id.0 == id, "custom field")?;
    f.active = false;
    Ok(Json(app.save_field(&p, f).await?))
}

// ---- forms ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FormIn {
    #[schema(max_length = 200)]
    name: Option<String>,
    /// The fields in display order.
    fields: Option<Vec<FormField>>,
}

#[utoipa::path(post, path = "/api/v1/forms", tag = "config", request_body = FormIn, responses((status = 201, body = Form), (status = 422, body = Problem)))]
async fn create_form(State(app): State<App>, Auth(p): Auth, body: ApiJson<FormIn>) -> ApiResult<impl IntoResponse> {
    let f = Form {
        id: FormId(0),
        name: body.value.name.unwrap_or_default(),
        fields: body.value.fields.unwrap_or_default(),
    };
    Ok((StatusCode::CREATED, Json(app.save_form(&p, f).await?)))
}

#[utoipa::path(get, path = "/api/v1/forms", tag = "config", responses((status = 200, body = Items<Form>)))]
async fn list_forms(State(app): State<App>, Auth(_p): Auth) -> ApiResult<Json<Items<Form>>> {
    Ok(Json(Items { items: app.config().await?.forms.clone() }))
}

#[utoipa::path(get, path = "/api/v1/forms/{id}", tag = "config", params(("id" = i64, Path)), responses((status = 200, body = Form), (status = 404, body = Problem)))]
async fn get_form(State(app): State<App>, Auth(_p): Auth, Path(id): Path<i64>) -> ApiResult<Json<Form>> {
    Ok(Json(find(&app.config().await?.forms, |f| f.id.0 == id, "form")?))
}

#[utoipa::path(patch, path = "/api/v1/forms/{id}", tag = "config", params(("id" = i64, Path)), request_body = FormIn, responses((status = 200, body = Form)))]
async fn update_form(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<FormIn>,
) -> ApiResult<Json<Form>> {
    let mut f = find(&app.config().await?.forms, |f| f.id.0 == id, "form")?;
    if let Some(n) = body.value.name {
        f.name = n;
    }
    if let Some(fields) = body.value.fields {
        f.fields = fields;
    }
    Ok(Json(app.save_form(&p, f).await?))
}

/// Deletes a form; categories that used it fall back to their parent's form.
#[utoipa::path(delete, path = "/api/v1/forms/{id}", tag = "config", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = Problem)))]
async fn delete_form(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_form(&p, FormId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- desk settings ----

/// The desk's general settings.
#[derive(Debug, serde::Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SettingsDoc {
    #[schema(max_length = 200)]
    company_name: Option<String>,
    /// `zh-CN` or `en`: for new users and signed-out pages.
    default_language: Option<gongdan_domain::people::Language>,
    /// An IANA time zone, e.g. `Asia/Shanghai`.
    default_time_zone: Option<String>,
    /// Largest attachment in MB (at most the server's own limit).
    max_attachment_mb: Option<u64>,
    /// Customers may open their own portal account.
    portal_signup: Option<bool>,
}

impl From<gongdan_core::config::DeskSettings> for SettingsDoc {
    fn from(d: gongdan_core::config::DeskSettings) -> Self {
        SettingsDoc {
            company_name: Some(d.company_name),
            default_language: Some(d.default_language),
            default_time_zone: Some(d.default_time_zone),
            max_attachment_mb: Some(d.max_attachment_mb),
            portal_signup: Some(d.portal_signup),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/settings", tag = "config", responses((status = 200, body = SettingsDoc)))]
async fn get_settings(State(app): State<App>, Auth(_p): Auth) -> ApiResult<Json<SettingsDoc>> {
    Ok(Json(app.config().await?.desk.clone().into()))
}

/// Changes some settings (admins).
#[utoipa::path(patch, path = "/api/v1/settings", tag = "config", request_body = SettingsDoc,
    responses((status = 200, body = SettingsDoc), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn update_settings(
    State(app): State<App>,
    Auth(p): Auth,
    body: ApiJson<SettingsDoc>,
) -> ApiResult<Json<SettingsDoc>> {
    let mut d = app.config().await?.desk.clone();
    let b = body.value;
    if let Some(v) = b.company_name {
        d.company_name = v;
    }
    if let Some(v) = b.default_language {
        d.default_language = v;
    }
    if let Some(v) = b.default_time_zone {
        d.default_time_zone = v;
    }
    if let Some(v) = b.max_attachment_mb {
        d.max_attachment_mb = v;
    }
    if let Some(v) = b.portal_signup {
        d.portal_signup = v;
    }
    Ok(Json(app.save_desk_settings(&p, d).await?.into()))
}
