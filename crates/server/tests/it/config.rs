//! Admin configuration through the API: groups, the category tree, statuses, custom fields,
//! forms, users and organisations.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::TestApp;

fn id(v: &Value) -> i64 {
    v["id"].as_i64().expect("id")
}

async fn fields_forms_and_categories(t: TestApp) {
    let a = &t.admin;
    let (s, order) = t.post("/api/v1/custom_fields", a, json!({"key": "order_no", "kind": "regex", "pattern": "[A-Z]-\\d{4}", "label_zh": "订单号", "label_en": "Order no."})).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let (_, product) = t
        .post(
            "/api/v1/custom_fields",
            a,
            json!({"key": "product", "kind": "dropdown", "label_en": "Product",
        "options": [{"value": "printer", "label_zh": "打印机"}, {"value": "router"}]}),
        )
        .await;
    let (_, device) = t
        .post(
            "/api/v1/custom_fields",
            a,
            json!({"key": "device", "kind": "cascade", "label_en": "Device",
        "options": [{"value": "office", "children": [{"value": "printer", "children": [{"value": "laser"}]}]}]}),
        )
        .await;
    for bad in [
        json!({"key": "Bad Key", "kind": "text", "label_en": "x"}),
        json!({"key": "dd", "kind": "dropdown", "label_en": "x"}),
        json!({"key": "rx", "kind": "regex", "pattern": "(", "label_en": "x"}),
        json!({"key": "order_no", "kind": "text", "label_en": "dup"}),
    ] {
        let (s, e) = t.post("/api/v1/custom_fields", a, bad.clone()).await;
        assert!(s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::CONFLICT, "{bad} → {s} {e}");
        assert!(e["field"].is_string(), "{e}");
    }
    let (s, e) = t.patch(&format!("/api/v1/custom_fields/{}", id(&order)), a, json!({"kind": "text"})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("immutable")));

    let (s, e) = t.post("/api/v1/forms", a, json!({"name": "bad", "fields": [{"field_id": 99999}]})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("fields[0].field_id")));
    let (s, form) = t.post("/api/v1/forms", a, json!({"name": "售后", "fields": [{"field_id": id(&order), "required": true}, {"field_id": id(&product)}, {"field_id": id(&device)}]})).await;
    assert_eq!(s, StatusCode::CREATED, "{form}");
    let (_, after_sales) = t
        .post("/api/v1/categories", a, json!({"name_zh": "售后服务", "name_en": "After-sales", "form_id": id(&form)}))
        .await;
    let (_, repair) = t.post("/api/v1/categories", a, json!({"name_zh": "维修", "parent_id": id(&after_sales)})).await;
    let (s, onsite) = t.post("/api/v1/categories", a, json!({"name_zh": "上门维修", "parent_id": id(&repair)})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, e) =
        t.patch(&format!("/api/v1/categories/{}", id(&after_sales)), a, json!({"parent_id": id(&onsite)})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("cycle")));

    // The third-level category inherits the form: its required field is enforced.
    let base = json!({"subject": "坏了", "requester": {"email": "c@example.com"}, "category_id": id(&onsite)});
    let (s, e) = t.post("/api/v1/tickets", a, base.clone()).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("custom_fields.order_no")));
    let mut bad = base.clone();
    bad["custom_fields"] = json!({"order_no": "12345"});
    let (s, e) = t.post("/api/v1/tickets", a, bad).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("pattern_mismatch")));
    let mut bad = base.clone();
    bad["custom_fields"] = json!({"order_no": "A-1234", "product": "toaster"});
    let (s, e) = t.post("/api/v1/tickets", a, bad).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("custom_fields.product")));
    let mut bad = base.clone();
    bad["custom_fields"] = json!({"order_no": "A-1234", "nope": 1});
    let (s, e) = t.post("/api/v1/tickets", a, bad).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_field")));
    let (_, before) = t.get("/api/v1/tickets", a).await;
    assert_eq!(before["total"], 0, "rejected creates wrote nothing");
    let mut good = base.clone();
    good["custom_fields"] =
        json!({"order_no": "A-1234", "product": "printer", "device": ["office", "printer", "laser"]});
    let tk = t.ticket(a, good).await;
    assert_eq!(tk["custom_fields"]["device"], json!(["office", "printer", "laser"]));
    // Clearing a required value is refused; the category filter includes subcategories.
    let (s, _) =
        t.patch(&format!("/api/v1/tickets/{}", id(&tk)), a, json!({"custom_fields": {"order_no": null}})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, under) = t.get(&format!("/api/v1/tickets?category_id={}", id(&after_sales)), a).await;
    assert_eq!(under["total"], 1);
    // Deleting the form lifts the requirement.
    let (s, _) = t.delete(&format!("/api/v1/forms/{}", id(&form)), a).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t.post("/api/v1/tickets", a, base).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, cat) = t.get(&format!("/api/v1/categories/{}", id(&after_sales)), a).await;
    assert_eq!(cat["form_id"], Value::Null);
}

async fn custom_statuses(t: TestApp) {
    let a = &t.admin;
    let (s, st) = t.post("/api/v1/statuses", a, json!({"key": "waiting_vendor", "category": "on_hold", "label_zh": "等待厂商", "label_en": "Waiting for vendor"})).await;
    assert_eq!(s, StatusCode::CREATED, "{st}");
    let (s, _) =
        t.post("/api/v1/statuses", a, json!({"key": "waiting_vendor", "category": "open", "label_en": "dup"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let tk = t.ticket(a, json!({"subject": "x", "requester": {"email": "c@example.com"}})).await;
    let (_, moved) = t.patch(&format!("/api/v1/tickets/{}", id(&tk)), a, json!({"status": "waiting_vendor"})).await;
    assert_eq!(
        (moved["status"].as_str(), moved["status_category"].as_str()),
        (Some("waiting_vendor"), Some("on_hold"))
    );
    let (_, listed) = t.get("/api/v1/tickets?status=waiting_vendor", a).await;
    assert_eq!(listed["total"], 1);
    let (_, listed) = t.get("/api/v1/tickets?status=on_hold", a).await;
    assert_eq!(listed["total"], 1, "a category name finds its custom statuses");
    // Make it the category default: `on_hold` by name now resolves to it.
    t.patch(&format!("/api/v1/statuses/{}", id(&st)), a, json!({"is_default": true})).await;
    let (_, all) = t.get("/api/v1/statuses", a).await;
    let defaults: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["category"] == "on_hold" && s["is_default"] == true)
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(defaults, vec!["waiting_vendor"]);
    let tk2 = t.ticket(a, json!({"subject": "y", "requester": {"email": "c@example.com"}})).await;
    let (_, moved) = t.patch(&format!("/api/v1/tickets/{}", id(&tk2)), a, json!({"status": "on_hold"})).await;
    assert_eq!(moved["status"], "waiting_vendor");
    // The last active status of a category cannot go.
    let (_, all) = t.get("/api/v1/statuses", a).await;
    let pending = all["items"].as_array().unwrap().iter().find(|s| s["key"] == "pending").unwrap().clone();
    let (s, e) = t.delete(&format!("/api/v1/statuses/{}", id(&pending)), a).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("in_use")));
    let (s, e) = t.patch(&format!("/api/v1/statuses/{}", id(&pending)), a, json!({"category": "open"})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("immutable")));
}

async fn people_and_groups(t: TestApp) {
    let a = &t.admin;
    let l1 = t.group("一线 Desk", 1).await;
    let (s, e) = t.post("/api/v1/groups", a, json!({"name": "bad", "tier": 4})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("tier")));
    let (s, e) = t.post("/api/v1/groups", a, json!({"name": "一线 Desk"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, agent) = t
        .post(
            "/api/v1/users",
            a,
            json!({"role": "agent", "name": "王芳", "email": "Wang@Desk.example", "group_ids": [l1.0],
        "skills": ["printer"], "languages": ["zh-CN", "en"], "time_zone": "Asia/Shanghai", "language": "zh-CN",
        "identities": [{"kind": "phone", "value": "+86 138 0013 8000"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{agent}");
    assert_eq!(agent["email"], "wang@desk.example");
    assert_eq!(agent["identities"].as_array().unwrap().len(), 2);
    assert_eq!(agent["group_ids"], json!([l1.0]));
    let (s, e) = t.post("/api/v1/users", a, json!({"role": "customer", "email": "wang@desk.example"})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::CONFLICT, Some("email")));
    for (bad, field) in [
        (json!({"email": "not-an-email"}), "email"),
        (json!({"email": "x@example.com", "time_zone": "Mars/Base"}), "time_zone"),
        (json!({"email": "x@example.com", "vip_level": 12}), "vip_level"),
        (json!({"email": "x@example.com", "group_ids": [424242]}), "group_ids[0]"),
        (json!({"email": "x@example.com", "password": "short"}), "password"),
        (json!({"email": "x@example.com", "language": "fr"}), "language"),
    ] {
        let (s, e) = t.post("/api/v1/users", a, bad.clone()).await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{bad}: {e}");
    }
    // A retried create with the same Idempotency-Key returns the first user.
    let send = |body: Value| {
        t.req(reqwest::Method::POST, "/api/v1/users", a).header("idempotency-key", "u-1").json(&body).send()
    };
    let first = send(json!({"email": "retry@example.com"})).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send(json!({"email": "retry@example.com"})).await.unwrap();
    assert_eq!((again.status(), again.headers().get("idempotent-replayed").is_some()), (StatusCode::CREATED, true));
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    let other = send(json!({"email": "other@example.com"})).await.unwrap();
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (s, updated) =
        t.patch(&format!("/api/v1/users/{}", agent["id"]), a, json!({"vip_level": 0, "name": "王芳 (L1)"})).await;
    assert_eq!((s, updated["name"].as_str()), (StatusCode::OK, Some("王芳 (L1)")));
    let (_, by_group) = t.get(&format!("/api/v1/users?group_id={}", l1.0), a).await;
    assert_eq!(by_group["items"].as_array().unwrap().len(), 1);
    let (_, found) = t.get("/api/v1/users?q=138001", a).await;
    assert_eq!(found["items"][0]["id"], agent["id"], "search covers phone identities");
    let (_, staff) = t.get("/api/v1/users?staff=true", a).await;
    assert_eq!(staff["items"].as_array().unwrap().len(), 2);
    // Organisations: delete only when nothing refers to them.
    let (_, org) = t.post("/api/v1/organizations", a, json!({"name": "Acme", "domains": ["@ACME.example"]})).await;
    assert_eq!(org["domains"], json!(["acme.example"]));
    let (_, cust) = t.post("/api/v1/users", a, json!({"email": "x@acme.example"})).await;
    assert_eq!(cust["organization_id"], org["id"]);
    let (s, e) = t.delete(&format!("/api/v1/organizations/{}", org["id"]), a).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("in_use")));
    t.patch(&format!("/api/v1/users/{}", cust["id"]), a, json!({"organization_id": null})).await;
    let (s, _) = t.delete(&format!("/api/v1/organizations/{}", org["id"]), a).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

async fn desk_settings(t: TestApp) {
    let (s, d) = t.get("/api/v1/settings", &t.admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((d["default_language"].as_str(), d["portal_signup"].as_bool()), (Some("zh-CN"), Some(true)));
    assert_eq!(d["max_attachment_mb"], 1, "the test server's 64 KiB ceiling, rounded up");
    let (_, agent) = t.user("agent", "a@desk.example", json!({})).await;
    let (s, _) = t.patch("/api/v1/settings", &agent, json!({"company_name": "x"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (bad, field) in [
        (json!({"default_time_zone": "Mars/Base"}), "default_time_zone"),
        (json!({"max_attachment_mb": 2}), "max_attachment_mb"),
        (json!({"company_name": " "}), "company_name"),
    ] {
        let (s, e) = t.patch("/api/v1/settings", &t.admin, bad).await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{e}");
    }
    let (s, d) = t
        .patch(
            "/api/v1/settings",
            &t.admin,
            json!({"company_name": "蓝海客服", "default_language": "en", "default_time_zone": "Europe/Berlin", "portal_signup": false}),
        )
        .await;
    assert_eq!((s, d["company_name"].as_str()), (StatusCode::OK, Some("蓝海客服")));
    // New users take the new defaults; a stored change survives the cache.
    let (_, u) = t.post("/api/v1/users", &t.admin, json!({"email": "new@example.com"})).await;
    assert_eq!((u["language"].as_str(), u["time_zone"].as_str()), (Some("en"), Some("Europe/Berlin")));
    let fresh = gongdan_core::App::new(
        t.app.store.clone(),
        t.clock.clone(),
        gongdan_core::Settings::new(t.app.settings.data_dir.clone()),
    );
    assert_eq!(fresh.config().await.unwrap().desk.company_name, "蓝海客服");
    // Sign-up is off: the portal's sign-up page is gone.
    let r = reqwest::get(format!("{}/portal/signup", t.base)).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

on_both!(fields_forms_and_categories, custom_statuses, people_and_groups, desk_settings);
