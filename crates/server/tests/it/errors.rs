//! Bad input gets a clear 4xx problem naming the field, and changes nothing; the OpenAPI
//! document describes the routes that really exist.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both;
use crate::support::TestApp;

async fn bad_input_is_a_clear_4xx(t: TestApp) {
    let tk = t.ticket(&t.admin, json!({"subject": "s", "requester": {"email": "c@example.com"}})).await;
    let path = format!("/api/v1/tickets/{}", tk["id"]);
    let raw = |m: Method, p: &str, ct: &str, body: Vec<u8>| {
        t.req(m, p, &t.admin).header("content-type", ct).body(body).send()
    };
    // (method, path, content type, body, status, code, field)
    type Case<'a> = (Method, String, &'a str, Vec<u8>, StatusCode, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            b"{\"subject\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            Some("body"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            b"[]".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("body"),
        ),
        (
            // Serde would read a struct from an array of its fields; a body is an object.
            Method::PATCH,
            "/api/v1/forms/1".into(),
            "application/json",
            b"[null, null]".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("body"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            br#"{"subject": "x"} {}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            Some("body"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "text/plain",
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            Some("Content-Type"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            br#"{"description": "no subject"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            Some("subject"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            br#"{"subject": "  "}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            Some("subject"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            br#"{"subject": "x", "priority": 3}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("priority"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            br#"{"subject": "x", "requester": {"email": "x@y.cn", "age": 3}}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
            Some("requester.age"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            br#"{"subject": "x", "requester": {"email": "nope"}}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
            Some("requester.email"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            br#"{"subject": "x", "tags": ["a b"]}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_tag",
            Some("tags[0]"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            br#"{"subject": "x", "group_id": 4242}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_found",
            Some("group_id"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            br#"{"subject": "x", "due_at": "tomorrow"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("due_at"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            br#"{"subject": "x", "status": "closed"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("status"),
        ),
        (
            Method::POST,
            "/api/v1/tickets".into(),
            "application/json",
            br#"{"subject": "x", "status": "bogus"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_status",
            Some("status"),
        ),
        (
            Method::PATCH,
            path.clone(),
            "application/json",
            br#"{"version": "one"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("version"),
        ),
        (
            Method::PATCH,
            path.clone(),
            "application/json",
            br#"{"assignee_id": 999}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_found",
            Some("assignee_id"),
        ),
        (
            Method::PATCH,
            path.clone(),
            "application/json",
            br#"{"subject": 12}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("subject"),
        ),
        (
            Method::POST,
            format!("{path}/comments"),
            "application/json",
            br#"{"body": ""}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            Some("body"),
        ),
        (
            Method::POST,
            format!("{path}/merge"),
            "application/json",
            br#"{"target_id": 77777}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_found",
            Some("target_id"),
        ),
        (
            Method::POST,
            format!("{path}/links"),
            "application/json",
            br#"{"target_id": 1, "kind": "sibling"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("kind"),
        ),
    ];
    for (m, p, ct, body, status, code, field) in cases {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let r = raw(m.clone(), &p, ct, body).await.unwrap();
        assert_eq!(r.status(), status, "[{}] {m} {p} {shown}", t.backend);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["code"], code, "{shown}: {problem}");
        assert_eq!(problem["field"].as_str(), field, "{shown}: {problem}");
        assert_eq!(problem["status"], status.as_u16());
        assert!(problem["type"].as_str().unwrap().starts_with("urn:gongdan:problem:"));
    }
    // NUL characters cannot be stored (PostgreSQL refuses them): a 4xx naming the field.
    let (s, e) = t.post("/api/v1/tickets", &t.admin, json!({"subject": "a\u{0}b"})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("subject")));
    let (s, e) = t.post(&format!("{path}/comments"), &t.admin, json!({"body": "x", "html_body": "\u{0}"})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("html_body")));
    let (s, _) = t.get("/api/v1/tickets?tag=%00", &t.admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A long text value is kept (if not filterable) on both engines.
    t.post("/api/v1/custom_fields", &t.admin, json!({"key": "notes", "kind": "textarea", "label_en": "Notes"})).await;
    let long = "长".repeat(20_000);
    let (s, e) = t.patch(&path, &t.admin, json!({"custom_fields": {"notes": long}})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["custom_fields"]["notes"].as_str().map(|v| v.chars().count()), Some(20_000));
    let tk = e;
    // Oversized bodies: 413.
    let huge = format!("{{\"subject\": \"x\", \"description\": \"{}\"}}", "长".repeat(400_000));
    let r = raw(Method::POST, "/api/v1/tickets", "application/json", huge.into_bytes()).await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Query strings and paths.
    for (p, status, code, field) in [
        ("/api/v1/tickets?cursor=bogus", StatusCode::BAD_REQUEST, "invalid_cursor", "cursor"),
        ("/api/v1/tickets?limit=0", StatusCode::BAD_REQUEST, "invalid_query", "limit"),
        ("/api/v1/tickets?limit=many", StatusCode::BAD_REQUEST, "invalid_query", "limit"),
        ("/api/v1/tickets?colour=red", StatusCode::BAD_REQUEST, "unknown_parameter", "colour"),
        ("/api/v1/tickets?sort=sideways", StatusCode::BAD_REQUEST, "invalid_query", "sort"),
        ("/api/v1/tickets?priority=meh", StatusCode::BAD_REQUEST, "invalid_query", "priority"),
        ("/api/v1/tickets?created_after=yesterday", StatusCode::BAD_REQUEST, "invalid_query", "created_after"),
        ("/api/v1/tickets?status=nope", StatusCode::BAD_REQUEST, "invalid_query", "status"),
        ("/api/v1/tickets/abc", StatusCode::BAD_REQUEST, "invalid_path", "path"),
        ("/api/v1/tickets/99999999", StatusCode::NOT_FOUND, "not_found", ""),
    ] {
        let (s, e) = t.get(p, &t.admin).await;
        assert_eq!((s, e["code"].as_str()), (status, Some(code)), "{p}: {e}");
        if !field.is_empty() {
            assert_eq!(e["field"], field, "{p}");
        }
    }
    // A cursor from one sort is refused by another.
    t.ticket(&t.admin, json!({"subject": "second", "requester": {"email": "c@example.com"}})).await;
    let (_, page) = t.get("/api/v1/tickets?limit=1&sort=created_at", &t.admin).await;
    let cursor = page["next_cursor"].as_str().expect("two tickets, one per page").to_owned();
    let (s, _) = t.get(&format!("/api/v1/tickets?sort=-updated_at&cursor={cursor}"), &t.admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, e) = t.get("/api/v1/nowhere", &t.admin).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (s, e) = t.call(Method::PUT, "/api/v1/tickets", &t.admin, json!({})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
    // None of that changed the ticket.
    let (_, after) = t.get(&path, &t.admin).await;
    assert_eq!(after, tk);
    // What cannot be seen is refused in an address and dropped from names and tags.
    let (s, e) = t.post("/api/v1/users", &t.admin, json!({"email": "li\u{200b}lei@example.com", "name": "x"})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("email")), "{e}");
    let (s, u) =
        t.post("/api/v1/users", &t.admin, json!({"email": "lilei@example.com", "name": "李\u{202e}雷\u{200d}"})).await;
    assert_eq!((s, u["name"].as_str()), (StatusCode::CREATED, Some("李雷")), "{u}");
    let tagged = t
        .ticket(
            &t.admin,
            json!({"subject": "t", "tags": ["v\u{200b}ip", "\u{feff}vip"], "requester": {"email": "c@example.com"}}),
        )
        .await;
    assert_eq!(tagged["tags"], json!(["vip"]));
}

/// Every path and method in the OpenAPI document is a real route (never the router's 404 or
/// 405), and the routes a client needs are all documented.
async fn openapi_matches_the_routes(t: TestApp) {
    let (s, doc) = t.get("/api/v1/openapi.json", "").await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    // Enums list the values on the wire, not the Rust names.
    let schemas = &doc["components"]["schemas"];
    for (name, wire) in [("Priority", "high"), ("Language", "zh-CN"), ("FieldKind", "multi_select"), ("Role", "admin")]
    {
        let values: Vec<&str> = schemas[name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is not an enum"))
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(values.contains(&wire), "{name}: {values:?}");
        assert!(values.iter().all(|v| v.chars().next().is_some_and(|c| c.is_lowercase())), "{name}: {values:?}");
    }
    let paths = doc["paths"].as_object().unwrap();
    for required in [
        "/api/v1/tickets",
        "/api/v1/tickets/{id}",
        "/api/v1/tickets/{id}/comments",
        "/api/v1/tickets/{id}/events",
        "/api/v1/tickets/bulk",
        "/api/v1/tickets/{id}/merge",
        "/api/v1/tickets/{id}/links",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/organizations",
        "/api/v1/groups",
        "/api/v1/categories",
        "/api/v1/statuses",
        "/api/v1/custom_fields",
        "/api/v1/forms",
        "/api/v1/tokens",
        "/api/v1/auth/login",
        "/api/v1/uploads",
        "/api/v1/attachments/{id}",
    ] {
        assert!(paths.contains_key(required), "{required} is not documented");
    }
    let (_, me) = t.get("/api/v1/me", &t.admin).await;
    let admin = gongdan_domain::ids::UserId(me["id"].as_i64().unwrap());
    let mut checked = 0;
    for (path, item) in paths {
        for method in ["get", "post", "patch", "delete", "put"] {
            if item.get(method).is_none() {
                continue;
            }
            let concrete = path.replace("{id}", "1").replace("{link_id}", "1");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // A token per call: some calls (DELETE /tokens/1) may revoke the one they use.
            let (token, _) = t.app.create_token(None, admin, "probe", None).await.unwrap();
            let r =
                t.req(m, &concrete, &token).header("content-type", "application/json").body("{}").send().await.unwrap();
            let status = r.status();
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            let body: Value = r.json().await.unwrap_or(Value::Null);
            assert_ne!(body["detail"], "no such endpoint", "{method} {path} is documented but not routed");
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {path}: {body}");
            checked += 1;
        }
    }
    assert!(checked >= 45, "only {checked} operations documented");
    let problem = &doc["components"]["schemas"]["Problem"];
    assert!(problem["properties"]["code"].is_object());
    // Limits the server enforces are in the document, as the domain states them.
    let create = &schemas["TicketCreate"]["properties"];
    assert_eq!(create["subject"]["maxLength"], gongdan_domain::tickets::SUBJECT_MAX);
    assert_eq!(create["description"]["maxLength"], gongdan_domain::tickets::DESCRIPTION_MAX);
    assert_eq!(schemas["CommentIn"]["properties"]["body"]["maxLength"], gongdan_domain::conversation::COMMENT_MAX);
    assert_eq!(create["tags"]["maxItems"], gongdan_domain::tickets::TAGS_MAX);
    assert_eq!(create["tags"]["items"]["$ref"], "#/components/schemas/Tag");
    assert_eq!(schemas["Tag"]["maxLength"], gongdan_domain::tickets::TAG_MAX);
    for input in ["UserIn", "GroupIn", "OrgIn", "ViewIn", "MacroIn", "RuleIn", "WebhookIn", "FormIn", "TokenIn"] {
        assert_eq!(schemas[input]["properties"]["name"]["maxLength"], 200, "{input}");
    }
    // Pages of lists have names of their own, not a generic's.
    for (path, list) in [
        ("/api/v1/tickets", "TicketList"),
        ("/api/v1/users", "UserList"),
        ("/api/v1/organizations", "OrganizationList"),
    ] {
        let body = &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(body.as_str(), Some(format!("#/components/schemas/{list}").as_str()), "{path}");
    }
    assert!(schemas.as_object().unwrap().keys().all(|k| !k.starts_with("ListOf")));
    // A create documents the fields it needs, and an empty create is refused for one of them.
    // (A fresh token: the calls above may have revoked the test's own.)
    let (token, _) = t.app.create_token(None, admin, "creates", None).await.unwrap();
    for (path, fields) in gongdan_web::apidoc::CREATE_REQUIRED {
        let body = &doc["paths"][*path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        let name = body.as_str().and_then(|r| r.rsplit('/').next()).unwrap_or_default();
        let required: Vec<&str> = schemas[name]["required"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert!(fields.iter().all(|f| required.contains(f)), "{path}: {name} requires {required:?}");
        let (s, e) = t.post(path, &token, json!({})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("required")), "{path}: {e}");
        assert!(fields.contains(&e["field"].as_str().unwrap_or_default()), "{path} needs {}: {e}", e["field"]);
    }
}

on_both!(bad_input_is_a_clear_4xx, openapi_matches_the_routes);
