//! Business calendars in the console: a line of hours per weekday, holidays and make-up days
//! one per line, and a "when is it due?" check that counts with the calendar as typed,
//! before it is saved.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::sla::CalendarInput;
use gongdan_domain::sla::calendar::{BusinessCalendar, CalendarSpec, HolidaySpec, WeekHours, WorkdaySpec};

use super::{AdminRow, FormPage, FormPreview, ListQuery, allowed, apply_errors, failed, list_view, nav, paged, yes_no};
use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::FieldView;
use crate::ui::{UiError, UiResult, redirect_flash, render};

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin/calendars", get(list_calendars))
        .route("/admin/calendars/new", get(|s, v| edit(s, v, None)).post(|s, v, f| save(s, v, None, f)))
        .route("/admin/calendars/check", post(check))
        .route(
            "/admin/calendars/{id}",
            get(|s, v, Path(id): Path<i64>| edit(s, v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save(s, v, Some(id), f)),
        )
        .route("/admin/calendars/{id}/delete", post(delete))
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

async fn list_calendars(State(app): State<App>, v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    let p = allowed(&v, "calendars")?.principal.clone();
    let ctx = v.ctx;
    let rows = app
        .list_calendars(&p)
        .await?
        .into_iter()
        .map(|c| AdminRow {
            href: format!("/admin/calendars/{}", c.id),
            cells: vec![c.name, c.spec.time_zone, yes_no(&ctx, c.is_default)],
            depth: 0,
        })
        .collect();
    let columns = vec![ctx.t("field-rule-name"), ctx.t("field-time-zone"), ctx.t("field-calendar-default")];
    let (rows, next, first) = paged(rows, &q, "/admin/calendars");
    list_view(ctx, "calendars", "admin-calendars", q, columns, rows, next, first)
}

/// `09:00-12:00, 13:00-18:00`.
fn hours_text(spans: &[[String; 2]]) -> String {
    spans.iter().map(|[a, b]| format!("{a}-{b}")).collect::<Vec<_>>().join(", ")
}

/// Intervals as typed: `09:00-12:00, 13:00-18:00` (also `–`, `~`, `，`); what does not read
/// goes on as written, for the calendar's check to name.
fn parse_hours(text: &str) -> Vec<[String; 2]> {
    text.split([',', '，', ';', '；'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once(['-', '–', '~', '～']) {
            Some((a, b)) => [a.trim().to_owned(), b.trim().to_owned()],
            None => [s.to_owned(), String::new()],
        })
        .collect()
}

/// One holiday a line: `2026-10-01 2026-10-07 国庆节`, `2026-05-01 劳动节`, and `yearly` (or
/// `每年`) first for one that repeats.
fn parse_holidays(text: &str) -> Vec<HolidaySpec> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut words: Vec<&str> = line.split_whitespace().collect();
            let yearly = matches!(words.first(), Some(&"yearly") | Some(&"每年"));
            if yearly {
                words.remove(0);
            }
            let from = words.first().map(|w| (*w).to_owned()).unwrap_or_default();
            let to = words.get(1).filter(|w| w.starts_with(|c: char| c.is_ascii_digit())).map(|w| (*w).to_owned());
            let skip = 1 + usize::from(to.is_some());
            let name = words.iter().skip(skip).copied().collect::<Vec<_>>().join(" ");
            HolidaySpec { name: if name.is_empty() { from.clone() } else { name }, from, to, yearly }
        })
        .collect()
}

fn holidays_text(hs: &[HolidaySpec]) -> String {
    hs.iter()
        .map(|h| {
            let mut parts = vec![];
            if h.yearly {
                parts.push("yearly".to_owned());
            }
            parts.push(h.from.clone());
            parts.extend(h.to.clone().filter(|t| *t != h.from));
            parts.push(h.name.clone());
            parts.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One make-up day a line: `2026-10-10 09:00-12:00, 13:00-18:00 国庆调休`.
fn parse_workdays(text: &str) -> Vec<WorkdaySpec> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (date, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            // The hours run up to the first word that is no time range.
            let mut hours = Vec::new();
            let mut name = Vec::new();
            for piece in rest.split_whitespace() {
                if name.is_empty() && piece.starts_with(|c: char| c.is_ascii_digit()) {
                    hours.extend(parse_hours(piece));
                } else {
                    name.push(piece);
                }
            }
            let name = if name.is_empty() { date.to_owned() } else { name.join(" ") };
            WorkdaySpec { name, date: date.to_owned(), hours }
        })
        .collect()
}

fn workdays_text(ws: &[WorkdaySpec]) -> String {
    ws.iter().map(|w| format!("{} {} {}", w.date, hours_text(&w.hours), w.name)).collect::<Vec<_>>().join("\n")
}

fn fields(ctx: &Ctx, c: Option<&BusinessCalendar>) -> Vec<FieldView> {
    let spec = c
        .map(|c| c.spec.clone())
        .unwrap_or_else(|| CalendarSpec { time_zone: ctx.cfg.desk.default_time_zone.clone(), ..Default::default() });
    let mut out = vec![
        FieldView::new("name", ctx.t("field-rule-name"), "text", c.map(|c| c.name.clone()).unwrap_or_default())
            .required(true),
        FieldView::new("time_zone", ctx.t("field-time-zone"), "text", spec.time_zone.clone())
            .required(true)
            .hint(ctx.t("hint-calendar-time-zone")),
    ];
    let week = [
        &spec.hours.mon,
        &spec.hours.tue,
        &spec.hours.wed,
        &spec.hours.thu,
        &spec.hours.fri,
        &spec.hours.sat,
        &spec.hours.sun,
    ];
    for (day, spans) in DAYS.iter().zip(week) {
        let f = FieldView::new(&format!("hours.{day}"), ctx.t(&format!("weekday-{day}")), "text", hours_text(spans));
        out.push(if *day == "mon" { f.hint(ctx.t("hint-calendar-hours")) } else { f });
    }
    out.push(
        FieldView::new("holidays", ctx.t("field-holidays"), "textarea", holidays_text(&spec.holidays))
            .hint(ctx.t("hint-calendar-holidays")),
    );
    out.push(
        FieldView::new("workdays", ctx.t("field-workdays"), "textarea", workdays_text(&spec.workdays))
            .hint(ctx.t("hint-calendar-workdays")),
    );
    // The desk's first calendar is its default whatever the box says.
    let default = match c {
        Some(c) => c.is_default,
        None => ctx.cfg.calendars.is_empty(),
    };
    out.push(FieldView::new(
        "is_default",
        ctx.t("field-calendar-default"),
        "checkbox",
        if default { "true" } else { "" },
    ));
    out.push(
        FieldView::new("check_start", ctx.t("field-check-start"), "datetime", String::new()).hint(ctx.t("hint-check")),
    );
    out.push(FieldView::new("check_minutes", ctx.t("field-check-minutes"), "number", String::new()));
    out
}

/// Every input the core's errors can name (`hours.mon[1]` lands on `hours.mon`).
fn names() -> Vec<String> {
    let mut n: Vec<String> =
        ["name", "time_zone", "holidays", "workdays", "is_default", "hours", "check_start", "check_minutes"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
    n.extend(DAYS.iter().map(|d| format!("hours.{d}")));
    n
}

/// The calendar the form describes; an iCalendar file pasted into the holidays box is read as
/// its holidays.
fn spec_from(form: &UiForm) -> Result<CalendarSpec, gongdan_core::CoreError> {
    let day = |d: &str| parse_hours(form.get(&format!("hours.{d}")).unwrap_or_default());
    let typed = form.get("holidays").unwrap_or_default();
    let holidays = if typed.trim_start().to_ascii_uppercase().starts_with("BEGIN:VCALENDAR") {
        gongdan_domain::sla::ical::holidays(typed, "holidays")?
    } else {
        parse_holidays(typed)
    };
    Ok(CalendarSpec {
        time_zone: form.get("time_zone").unwrap_or_default().trim().to_owned(),
        hours: WeekHours {
            mon: day("mon"),
            tue: day("tue"),
            wed: day("wed"),
            thu: day("thu"),
            fri: day("fri"),
            sat: day("sat"),
            sun: day("sun"),
        },
        holidays,
        workdays: parse_workdays(form.get("workdays").unwrap_or_default()),
    })
}

fn page(
    ctx: Ctx,
    id: Option<i64>,
    fields: Vec<FieldView>,
    errors: Vec<String>,
    shown: Vec<(String, String, String)>,
) -> FormPage {
    FormPage {
        nav: nav(&ctx, "calendars"),
        title: ctx.t(if id.is_some() { "admin-edit-calendars" } else { "admin-new-calendars" }),
        action: id.map(|i| format!("/admin/calendars/{i}")).unwrap_or("/admin/calendars/new".into()),
        fields,
        errors,
        delete: id.map(|i| format!("/admin/calendars/{i}/delete")),
        back: "/admin/calendars".into(),
        secret: None,
        below: vec![],
        below_columns: vec![],
        actions: vec![],
        notices: vec![],
        preview: Some(FormPreview {
            href: format!("/admin/calendars/check?id={}", id.unwrap_or(0)),
            label: ctx.t("calendar-check-result"),
            shown,
        }),
        ctx,
    }
}

async fn edit(State(app): State<App>, v: Viewer, id: Option<i64>) -> UiResult {
    let s = allowed(&v, "calendars")?;
    let c = match id {
        Some(id) => Some(app.calendar(&s.principal, id).await?),
        None => None,
    };
    let fields = fields(&v.ctx, c.as_ref());
    render(&page(v.ctx, id, fields, vec![], vec![]))
}

/// The form again with what was typed and the errors beside their inputs.
fn refilled(v: Viewer, id: Option<i64>, form: &UiForm, e: gongdan_core::CoreError) -> Result<FormPage, UiError> {
    let names = names();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let errors = FormErrors::from_core(e, &refs)?;
    let fields = crate::ui::agent::ticket::refill(fields(&v.ctx, None), form);
    let (fields, general) = apply_errors(&v.ctx, fields, &errors);
    Ok(page(v.ctx, id, fields, general, vec![]))
}

async fn save(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "calendars")?;
    let spec = match spec_from(&form) {
        Ok(spec) => spec,
        Err(e) => return failed(refilled(v, id, &form, e)?),
    };
    let input = CalendarInput {
        name: Some(form.get("name").unwrap_or_default().to_owned()),
        spec: Some(spec),
        // Unticking the default does nothing: another calendar is made the default instead.
        is_default: form.checked("is_default").then_some(true),
    };
    let result = match id {
        Some(id) => app.update_calendar(&s.principal, id, input).await,
        None => app.create_calendar(&s.principal, input).await,
    };
    match result {
        Ok(_) => Ok(redirect_flash("/admin/calendars", "flash-saved")),
        Err(e) => failed(refilled(v, id, &form, e)?),
    }
}

#[derive(serde::Deserialize)]
struct CheckQuery {
    id: Option<i64>,
}

/// "If it arrives then, when is it due?", counted with the calendar as typed (unsaved).
async fn check(State(app): State<App>, v: Viewer, Query(q): Query<CheckQuery>, form: UiForm) -> UiResult {
    let s = allowed(&v, "calendars")?;
    let id = q.id.filter(|i| *i > 0);
    let spec = match spec_from(&form) {
        Ok(spec) => spec,
        Err(e) => return failed(refilled(v, id, &form, e)?),
    };
    let tz = jiff::tz::TimeZone::get(&spec.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let bad = |field: &str| {
        gongdan_core::CoreError::from(gongdan_domain::DomainError::invalid(
            field,
            gongdan_domain::Code::InvalidValue,
            "needed for the check",
        ))
    };
    let start = form
        .get("check_start")
        .and_then(|t| t.parse::<jiff::civil::DateTime>().ok())
        .and_then(|dt| tz.to_ambiguous_timestamp(dt).compatible().ok());
    let minutes = form.get("check_minutes").and_then(|m| m.trim().parse::<i64>().ok());
    let result = match (start, minutes) {
        (None, _) => Err(bad("check_start")),
        (_, None) => Err(bad("check_minutes")),
        (Some(start), Some(minutes)) => {
            app.draft_due(&s.principal, &spec, start, minutes).map(|due| (start, minutes, due))
        }
    };
    match result {
        Ok((start, minutes, due)) => {
            let ctx = v.ctx;
            // The weekday in the reader's words: a due time's day is half of what it says.
            let local = |t: jiff::Timestamp| {
                let z = t.to_zoned(tz.clone());
                let day = DAYS[z.weekday().to_monday_zero_offset() as usize];
                format!("{} {}", z.strftime("%Y-%m-%d %H:%M"), ctx.t(&format!("weekday-{day}")))
            };
            let heading = ctx.t("calendar-check-result");
            let line = crate::ui::i18n::t_args(
                ctx.lang,
                "calendar-check-line",
                &[
                    ("start", local(start)),
                    ("minutes", minutes.to_string()),
                    ("due", local(due)),
                    ("zone", spec.time_zone.clone()),
                ],
            );
            let fields = crate::ui::agent::ticket::refill(fields(&ctx, None), &form);
            render(&page(ctx, id, fields, vec![], vec![(heading, line, String::new())]))
        }
        Err(e) => failed(refilled(v, id, &form, e)?),
    }
}

async fn delete(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "calendars")?;
    match app.delete_calendar(&s.principal, id).await {
        Ok(()) => Ok(redirect_flash("/admin/calendars", "flash-deleted")),
        Err(gongdan_core::CoreError::InUse(_)) => {
            Ok(redirect_flash(&format!("/admin/calendars/{id}"), "flash-calendar-default"))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_the_calendar_they_describe() {
        assert_eq!(parse_hours("09:00-12:00， 13:00–18:00"), [["09:00", "12:00"], ["13:00", "18:00"]]);
        assert_eq!(parse_hours("nine"), [["nine", ""]], "kept for the check to name");
        let hs = parse_holidays("2026-10-01 2026-10-07 国庆节\nyearly 2026-05-01 劳动节\n2026-06-19");
        assert_eq!(hs[0].to.as_deref(), Some("2026-10-07"));
        assert_eq!((hs[1].yearly, hs[1].name.as_str(), hs[1].to.as_deref()), (true, "劳动节", None));
        assert_eq!(hs[2].name, "2026-06-19");
        assert_eq!(holidays_text(&hs), "2026-10-01 2026-10-07 国庆节\nyearly 2026-05-01 劳动节\n2026-06-19 2026-06-19");
        let ws = parse_workdays("2026-10-10 09:00-12:00,13:00-18:00 国庆 调休");
        assert_eq!((ws[0].date.as_str(), ws[0].hours.len(), ws[0].name.as_str()), ("2026-10-10", 2, "国庆 调休"));
        assert_eq!(workdays_text(&ws), "2026-10-10 09:00-12:00, 13:00-18:00 国庆 调休");
    }
}
