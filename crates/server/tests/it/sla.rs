//! Business calendars through the API: kept by admins, asked by staff when something is due.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{TestApp, Web, text_of};

fn shanghai() -> Value {
    let day = json!([["09:00", "12:00"], ["13:00", "18:00"]]);
    json!({"name": "上海办公时间", "time_zone": "Asia/Shanghai",
           "hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": [], "sun": []},
           "holidays": [{"name": "国庆节", "from": "2026-10-01", "to": "2026-10-07"}],
           "workdays": [{"name": "国庆调休", "date": "2026-10-10", "hours": day}]})
}

async fn calendars_answer_when_something_is_due(t: TestApp) {
    let (s, cal) = t.post("/api/v1/business_calendars", &t.admin, shanghai()).await;
    assert_eq!(s, StatusCode::CREATED, "{cal}");
    assert_eq!(cal["is_default"], true, "the desk's first calendar is its default");
    let id = cal["id"].as_i64().unwrap();
    // Wednesday 30 September 17:00, four hours: one that day, the holiday week, three on the 8th.
    let (s, due) = t
        .get(&format!("/api/v1/business_calendars/{id}/due?start=2026-09-30T17:00:00%2B08:00&minutes=240"), &t.admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{due}");
    assert_eq!(due["due_at"], "2026-10-08T04:00:00Z", "12:00 in Shanghai");
    let (s, b) = t
        .get(&format!("/api/v1/business_calendars/{id}/between?from=2026-10-09T17:00:00%2B08:00&to=2026-10-10T10:00:00%2B08:00"), &t.admin)
        .await;
    assert_eq!((s, &b["minutes"]), (StatusCode::OK, &json!(120)), "an hour on Friday, one on the worked Saturday");

    // A change names only what changes; the calendar is checked whole.
    let (s, renamed) = t.patch(&format!("/api/v1/business_calendars/{id}"), &t.admin, json!({"name": "总部"})).await;
    assert_eq!((s, &renamed["name"], &renamed["hours"]), (StatusCode::OK, &json!("总部"), &cal["hours"]));
    let bad = [
        (json!({"time_zone": "Mars/Olympus"}), "time_zone", "unknown_time_zone"),
        (json!({"hours": {"mon": [["13:00", "18:00"], ["09:00", "13:30"]]}}), "hours.mon[1]", "overlapping_hours"),
        (json!({"hours": {"mon": [["09:00", "25:00"]]}}), "hours.mon[0]", "invalid_value"),
        (json!({"hours": {}}), "hours", "no_working_time"),
        (
            json!({"holidays": [{"name": "x", "from": "2026-10-07", "to": "2026-10-01"}]}),
            "holidays[0].to",
            "invalid_value",
        ),
    ];
    for (body, field, code) in bad {
        let (s, e) = t.patch(&format!("/api/v1/business_calendars/{id}"), &t.admin, body.clone()).await;
        assert_eq!(
            (s, e["field"].as_str(), e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field), Some(code)),
            "{body} → {e}"
        );
    }
    let (_, after) = t.get(&format!("/api/v1/business_calendars/{id}"), &t.admin).await;
    assert_eq!(after["hours"], cal["hours"], "nothing half-saved");

    // A second calendar made the default takes it over; the default cannot be deleted while others exist.
    let all = json!({"name": "7×24", "time_zone": "UTC", "hours": {"mon": [["00:00", "24:00"]], "tue": [["00:00", "24:00"]],
        "wed": [["00:00", "24:00"]], "thu": [["00:00", "24:00"]], "fri": [["00:00", "24:00"]], "sat": [["00:00", "24:00"]], "sun": [["00:00", "24:00"]]}});
    let (s, round) = t.post("/api/v1/business_calendars", &t.admin, all).await;
    assert_eq!((s, &round["is_default"]), (StatusCode::CREATED, &json!(false)), "{round}");
    let rid = round["id"].as_i64().unwrap();
    let (s, _) = t.delete(&format!("/api/v1/business_calendars/{id}"), &t.admin).await;
    assert_eq!(s, StatusCode::CONFLICT);
    t.patch(&format!("/api/v1/business_calendars/{rid}"), &t.admin, json!({"is_default": true})).await;
    let (_, list) = t.get("/api/v1/business_calendars", &t.admin).await;
    let defaults: Vec<_> = list["items"].as_array().unwrap().iter().map(|c| c["is_default"].clone()).collect();
    assert_eq!(defaults, [json!(false), json!(true)]);
    let (s, _) = t.delete(&format!("/api/v1/business_calendars/{id}"), &t.admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // Holidays from a public-holiday feed (iCalendar), added once however often it is imported.
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20270102\r\n\
               SUMMARY:New Year\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nRRULE:FREQ=YEARLY\r\n\
               SUMMARY:Christmas\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let import = |body: &'static str, ct: &'static str| {
        t.req(reqwest::Method::POST, &format!("/api/v1/business_calendars/{rid}/holidays/import"), &t.admin)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    for _ in 0..2 {
        let r = import(ics, "text/calendar").await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let (_, with) = t.get(&format!("/api/v1/business_calendars/{rid}"), &t.admin).await;
    assert_eq!(with["holidays"].as_array().map(Vec::len), Some(2), "{with}");
    assert_eq!(with["holidays"][1], json!({"name": "Christmas", "from": "2026-12-25", "yearly": true}));
    let (s, b) = t
        .get(
            &format!("/api/v1/business_calendars/{rid}/between?from=2027-12-25T00:00:00Z&to=2027-12-26T00:00:00Z"),
            &t.admin,
        )
        .await;
    assert_eq!((s, &b["minutes"]), (StatusCode::OK, &json!(0)), "Christmas again a year on");
    assert_eq!(
        import("2027-01-01 New Year", "text/calendar").await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(import(ics, "text/plain").await.unwrap().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Questions need their parameters; customers ask nothing; agents may ask, not change.
    let (s, e) = t.get(&format!("/api/v1/business_calendars/{rid}/due?minutes=60"), &t.admin).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("start")), "{e}");
    let (s, e) =
        t.get(&format!("/api/v1/business_calendars/{rid}/due?start=2026-01-01T00:00:00Z&minutes=-5"), &t.admin).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("minutes")), "{e}");
    let (_, agent) = t.user("agent", "agent.sla@desk.example", json!({})).await;
    let (s, _) =
        t.get(&format!("/api/v1/business_calendars/{rid}/due?start=2026-01-01T00:00:00Z&minutes=90"), &agent).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t.patch(&format!("/api/v1/business_calendars/{rid}"), &agent, json!({"name": "x"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, customer) = t.user("customer", "c.sla@kehu.test", json!({})).await;
    let (s, _) = t.get("/api/v1/business_calendars", &customer).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// The console: an admin types a week, holidays and a make-up day, asks when something is due
/// before saving, sees a bad line named beside its input (what was typed kept), and saves.
async fn the_console_keeps_calendars_and_checks_them_before_saving(t: TestApp) {
    let web = Web::new(&t);
    web.login("admin@test.example", "admin-password").await;
    let page = web.get("/admin/calendars/new").await;
    assert_eq!(page.status, StatusCode::OK);
    let day = "09:00-12:00, 13:00-18:00";
    let mut form = vec![
        ("name", "上海办公时间"),
        ("time_zone", "Asia/Shanghai"),
        ("hours.mon", day),
        ("hours.tue", day),
        ("hours.wed", day),
        ("hours.thu", day),
        ("hours.fri", day),
        ("hours.sat", ""),
        ("hours.sun", ""),
        ("holidays", "2026-10-01 2026-10-07 国庆节"),
        ("workdays", "2026-10-10 09:00-12:00, 13:00-18:00 国庆调休"),
        ("check_start", "2026-09-30T17:00"),
        ("check_minutes", "240"),
    ];
    let checked = web.post("/admin/calendars/check?id=0", &form).await;
    assert_eq!(checked.status, StatusCode::OK);
    let text = text_of(&checked.html);
    assert!(text.contains("2026-10-08 12:00"), "the due time, counted unsaved: {text}");
    assert!(checked.html.contains("国庆调休"), "what was typed stays in the form");
    let (_, none) = t.get("/api/v1/business_calendars", &t.admin).await;
    assert_eq!(none["items"], json!([]), "nothing saved by a check");

    form[3] = ("hours.tue", "13:00-18:00, 09:00-13:30");
    let bad = web.post("/admin/calendars/new", &form).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains("13:00-18:00, 09:00-13:30"), "kept as typed");
    assert!(text_of(&bad.html).contains("这段工作时间与同一天的其他时段重叠"), "named beside the input");
    form[3] = ("hours.tue", day);
    let saved = web.post("/admin/calendars/new", &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let (_, list) = t.get("/api/v1/business_calendars", &t.admin).await;
    let cal = &list["items"][0];
    assert_eq!((cal["name"].as_str(), cal["is_default"].as_bool()), (Some("上海办公时间"), Some(true)));
    assert_eq!(cal["workdays"][0]["hours"], json!([["09:00", "12:00"], ["13:00", "18:00"]]));
    let edit = web.get(&format!("/admin/calendars/{}", cal["id"])).await;
    assert!(edit.html.contains("2026-10-01 2026-10-07 国庆节"), "the lines read back as they were typed");
    let listed = web.get("/admin/calendars").await;
    assert!(text_of(&listed.html).contains("Asia/Shanghai"));
}

on_both!(calendars_answer_when_something_is_due, the_console_keeps_calendars_and_checks_them_before_saving);
