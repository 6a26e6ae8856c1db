//! The OpenAPI document's error responses, filled in from what every operation's shape says
//! it can meet: the handlers declare their successes and particular errors; the problems that
//! come from the shared extractors and use cases (bad query or JSON, no or wrong credentials,
//! missing resources, conflicts, limits) are added here, so no operation leaves one out.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Schema};

/// Operations anyone may call: signing in.
const PUBLIC: &[&str] = &["/api/v1/auth/login"];
/// Operations with their own rate limit.
const LIMITED: &[&str] = &["/api/v1/auth/login", "/api/v1/uploads"];

const PROBLEM: &str = "application/problem+json";

/// Fields a create needs that its (create-and-change) body schema leaves optional, because a
/// PATCH may leave them out. Fields the server takes one of (`name_zh` or `name_en`) are not
/// listed: the schema would refuse what the server accepts. `contract.rs` checks each entry
/// against the server.
pub const CREATE_REQUIRED: &[(&str, &[&str])] = &[
    ("/api/v1/automations", &["name", "actions"]),
    ("/api/v1/business_calendars", &["name", "time_zone", "hours"]),
    ("/api/v1/triggers", &["name", "actions"]),
    ("/api/v1/custom_fields", &["key", "kind"]),
    ("/api/v1/forms", &["name"]),
    ("/api/v1/groups", &["name"]),
    ("/api/v1/macros", &["name"]),
    ("/api/v1/mailboxes", &["address"]),
    ("/api/v1/notification_templates", &["name", "texts"]),
    ("/api/v1/organizations", &["name"]),
    ("/api/v1/statuses", &["key", "category"]),
    ("/api/v1/views", &["name"]),
    ("/api/v1/webhooks", &["name", "url"]),
];

fn describe(status: u16) -> &'static str {
    match status {
        400 => "Malformed request: an unknown or invalid query parameter, header or JSON body",
        401 => "Not signed in: no valid token or session",
        403 => "Signed in, but this role may not do this",
        404 => "No such resource, or not one the caller may see",
        409 => "Conflict: a stale version, a duplicate, or something still in use",
        412 => "If-Match does not name the current version",
        413 => "The body is larger than the limit",
        415 => "The body is not JSON (or not the media type this operation takes)",
        422 => "The request is well-formed but a field is invalid; `field` names it",
        429 => "Too many attempts or uploads; `Retry-After` says when to try again",
        200 => "OK",
        201 => "Created",
        204 => "Done; nothing to return",
        _ => "Error",
    }
}

/// Which problems an operation can answer with, from its method, path and inputs.
fn statuses(path: &str, method: &str, op: &Operation) -> Vec<u16> {
    let has_path_params = path.contains('{');
    let has_body = op.request_body.is_some();
    let writes = method != "get";
    let if_match = op
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Header && p.name.eq_ignore_ascii_case("if-match")));
    let mut out = vec![400];
    if !PUBLIC.contains(&path) {
        out.extend([401, 403]);
    }
    // A path's id, or one the body or query names (`user_id`, `target_id` …), may not exist.
    if has_path_params || has_body || !op.parameters.as_ref().is_none_or(Vec::is_empty) {
        out.push(404);
    }
    // Previews run the use case's checks without writing.
    if writes || path.ends_with("/preview") {
        out.extend([409, 422]);
    }
    if if_match {
        out.push(412);
    }
    if has_body {
        out.extend([413, 415]);
    }
    if LIMITED.contains(&path) {
        out.push(429);
    }
    out
}

/// Points each create in [`CREATE_REQUIRED`] at a copy of its body schema (`GroupInCreate`)
/// that marks what a create needs.
fn create_schemas(doc: &mut OpenApi) {
    let Some(components) = doc.components.as_mut() else { return };
    for (path, required) in CREATE_REQUIRED {
        let Some(op) = doc.paths.paths.get_mut(*path).and_then(|i| i.post.as_mut()) else { continue };
        let Some(RefOr::T(body)) = op.request_body.as_mut() else { continue };
        for content in body.content.values_mut() {
            let RefOr::T(content) = content else { continue };
            let Some(RefOr::Ref(r)) = &content.schema else { continue };
            let name = r.ref_location.rsplit('/').next().unwrap_or_default().to_owned();
            let Some(RefOr::T(Schema::Object(base))) = components.schemas.get(&name).cloned() else { continue };
            let mut create = base;
            for field in *required {
                if !create.required.iter().any(|f| f == field) {
                    create.required.push((*field).to_owned());
                }
            }
            let create_name = format!("{name}Create");
            components.schemas.insert(create_name.clone(), RefOr::T(Schema::Object(create)));
            content.schema = Some(RefOr::Ref(Ref::from_schema_name(create_name)));
        }
    }
}

/// Adds the problem responses each operation can give and marks the public ones as such.
pub fn complete(doc: &mut OpenApi) {
    create_schemas(doc);
    let problem = || ContentBuilder::new().schema(Some(RefOr::Ref(Ref::from_schema_name("Problem")))).build();
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            ("get", item.get.as_mut()),
            ("post", item.post.as_mut()),
            ("patch", item.patch.as_mut()),
            ("put", item.put.as_mut()),
            ("delete", item.delete.as_mut()),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            for status in statuses(path, method, op) {
                op.responses.responses.entry(status.to_string()).or_insert_with(|| {
                    RefOr::T(ResponseBuilder::new().description(describe(status)).content(PROBLEM, problem()).build())
                });
            }
            for (status, response) in op.responses.responses.iter_mut() {
                let RefOr::T(r) = response else { continue };
                // OpenAPI requires a description; generators refuse a document without one.
                if r.description.is_empty() {
                    r.description = status.parse().map_or("Success", describe).to_owned();
                }
                // Errors the handlers declared are problem documents too, whatever their annotation said.
                if (status.starts_with('4') || status.starts_with('5'))
                    && let Some(json) = r.content.shift_remove("application/json")
                {
                    r.content.insert(PROBLEM.to_owned(), json);
                }
            }
            if PUBLIC.contains(&path.as_str()) {
                op.security = Some(vec![SecurityRequirement::default()]);
            }
        }
    }
}
