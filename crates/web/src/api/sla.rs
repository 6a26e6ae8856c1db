//! Business calendars: kept by admins, asked by anyone on the staff when something is due.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_core::sla::CalendarInput;
use gongdan_domain::Code;
use gongdan_domain::sla::calendar::{BusinessCalendar, CalendarSpec, HolidaySpec, WeekHours, WorkdaySpec};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::Items;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth, QueryPairs};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_calendar, list_calendars))
        .routes(routes!(get_calendar, update_calendar, delete_calendar))
        .routes(routes!(calendar_due))
        .routes(routes!(calendar_between))
        .routes(routes!(import_holidays))
}

/// A calendar to make, or the parts of one to change (a part left out stays as it is).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarIn {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// IANA time zone: `Asia/Shanghai`.
    #[schema(example = "Asia/Shanghai")]
    pub time_zone: Option<String>,
    /// Working intervals per weekday, `[["09:00", "12:00"], ["13:00", "18:00"]]`; `"24:00"`
    /// ends a day; a day left out is not worked.
    pub hours: Option<WeekHours>,
    pub holidays: Option<Vec<HolidaySpec>>,
    /// Make-up working days (调休) with their own hours.
    pub workdays: Option<Vec<WorkdaySpec>>,
    /// The desk's calendar where nothing names another; making one the default makes the
    /// others not.
    pub is_default: Option<bool>,
}

impl CalendarIn {
    /// The input with its calendar parts laid over `current` (a create starts from nothing).
    fn input(self, current: Option<&CalendarSpec>) -> CalendarInput {
        let touched =
            self.time_zone.is_some() || self.hours.is_some() || self.holidays.is_some() || self.workdays.is_some();
        let spec = touched.then(|| {
            let base = current.cloned().unwrap_or_default();
            CalendarSpec {
                time_zone: self.time_zone.unwrap_or(base.time_zone),
                hours: self.hours.unwrap_or(base.hours),
                holidays: self.holidays.unwrap_or(base.holidays),
                workdays: self.workdays.unwrap_or(base.workdays),
            }
        });
        CalendarInput { name: self.name, spec, is_default: self.is_default }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarOut {
    pub id: i64,
    pub name: String,
    pub time_zone: String,
    pub hours: WeekHours,
    pub holidays: Vec<HolidaySpec>,
    pub workdays: Vec<WorkdaySpec>,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<BusinessCalendar> for CalendarOut {
    fn from(c: BusinessCalendar) -> Self {
        CalendarOut {
            id: c.id,
            name: c.name,
            time_zone: c.spec.time_zone,
            hours: c.spec.hours,
            holidays: c.spec.holidays,
            workdays: c.spec.workdays,
            is_default: c.is_default,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A business calendar: when the desk works, for SLA targets in business hours. A create
/// gives the name, the time zone and the week's hours; the desk's first calendar is its
/// default. 422 names the field of a bad part (an unknown time zone, overlapping or
/// malformed hours, a holiday that ends before it starts, no working time at all).
#[utoipa::path(post, path = "/api/v1/business_calendars", tag = "sla", request_body = CalendarIn,
    responses((status = 201, body = CalendarOut)))]
async fn create_calendar(
    State(app): State<App>,
    Auth(p): Auth,
    body: ApiJson<CalendarIn>,
) -> ApiResult<impl IntoResponse> {
    let c = app.create_calendar(&p, body.value.input(None)).await?;
    Ok((StatusCode::CREATED, Json(CalendarOut::from(c))))
}

#[utoipa::path(get, path = "/api/v1/business_calendars", tag = "sla",
    responses((status = 200, body = Items<CalendarOut>)))]
async fn list_calendars(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<CalendarOut>>> {
    Ok(Json(Items { items: app.list_calendars(&p).await?.into_iter().map(CalendarOut::from).collect() }))
}

#[utoipa::path(get, path = "/api/v1/business_calendars/{id}", tag = "sla", params(("id" = i64, Path)),
    responses((status = 200, body = CalendarOut)))]
async fn get_calendar(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<CalendarOut>> {
    Ok(Json(app.calendar(&p, id).await?.into()))
}

/// Changes a calendar; what it is checked against is the whole calendar after the change.
#[utoipa::path(patch, path = "/api/v1/business_calendars/{id}", tag = "sla", params(("id" = i64, Path)),
    request_body = CalendarIn, responses((status = 200, body = CalendarOut)))]
async fn update_calendar(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<CalendarIn>,
) -> ApiResult<Json<CalendarOut>> {
    let current = app.calendar(&p, id).await?;
    Ok(Json(app.update_calendar(&p, id, body.value.input(Some(&current.spec))).await?.into()))
}

/// Deletes a calendar; 409 for the desk's default while others exist.
#[utoipa::path(delete, path = "/api/v1/business_calendars/{id}", tag = "sla", params(("id" = i64, Path)),
    responses((status = 204)))]
async fn delete_calendar(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_calendar(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An iCalendar file's text (RFC 5545).
#[derive(ToSchema)]
#[schema(value_type = String)]
#[allow(dead_code)] // a schema only: the handler reads the body as text
pub struct IcsText(String);

/// Adds the holidays an iCalendar file lists (`Content-Type: text/calendar`, a public-holiday
/// feed): each all-day event a holiday (its last day the one before `DTEND`), `SUMMARY` its
/// name, `RRULE:FREQ=YEARLY` a yearly one. Holidays the calendar has already are not added
/// twice. 422 when the text is no calendar or an event's date does not read.
#[utoipa::path(post, path = "/api/v1/business_calendars/{id}/holidays/import", tag = "sla", params(("id" = i64, Path)),
    request_body(content = IcsText, content_type = "text/calendar"),
    responses((status = 200, body = CalendarOut), (status = 413, body = Problem), (status = 415, body = Problem),
              (status = 422, body = Problem)))]
async fn import_holidays(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<CalendarOut>> {
    let ct = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !ct.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("text/calendar") {
        return Err(ApiError::new(Code::UnsupportedMediaType, "send the iCalendar file as text/calendar"));
    }
    let body = crate::extract::raw_body(body, || "the file is larger than the desk takes".into())?;
    let text = String::from_utf8_lossy(&body);
    Ok(Json(app.import_holidays(&p, id, &text).await?.into()))
}

/// A timestamp query parameter the operation needs.
fn instant(q: &QueryPairs, name: &str) -> Result<Timestamp, ApiError> {
    q.parse::<Timestamp>(name)?
        .ok_or_else(|| ApiError::at(Code::InvalidQuery, name, format!("`{name}` is required (RFC 3339)")))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DueOut {
    pub due_at: Timestamp,
}

/// When `minutes` of the calendar's working time after `start` end: "if it arrives Friday
/// 17:30, when is a 4-hour target due?" Filling an interval exactly ends at its end.
#[utoipa::path(get, path = "/api/v1/business_calendars/{id}/due", tag = "sla",
    params(("id" = i64, Path),
           ("start" = String, Query, format = DateTime, description = "RFC 3339, e.g. 2026-09-30T17:00:00+08:00"),
           ("minutes" = i64, Query, minimum = 0, maximum = 527040)),
    responses((status = 200, body = DueOut), (status = 422, body = Problem)))]
async fn calendar_due(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    q: QueryPairs,
) -> ApiResult<Json<DueOut>> {
    q.only(&["start", "minutes"])?;
    let start = instant(&q, "start")?;
    let minutes =
        q.parse::<i64>("minutes")?.filter(|m| (0..=gongdan_core::sla::MINUTES_MAX).contains(m)).ok_or_else(|| {
            let max = gongdan_core::sla::MINUTES_MAX;
            ApiError::at(Code::InvalidQuery, "minutes", format!("`minutes` is required, 0 to {max}"))
        })?;
    Ok(Json(DueOut { due_at: app.calendar_due(&p, id, start, minutes).await? }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BetweenOut {
    /// Whole minutes, rounded down; negative when `to` comes before `from`.
    pub minutes: i64,
}

/// The calendar's working minutes between two instants.
#[utoipa::path(get, path = "/api/v1/business_calendars/{id}/between", tag = "sla",
    params(("id" = i64, Path),
           ("from" = String, Query, format = DateTime, description = "RFC 3339"),
           ("to" = String, Query, format = DateTime, description = "RFC 3339, at most five years from `from`")),
    responses((status = 200, body = BetweenOut), (status = 422, body = Problem)))]
async fn calendar_between(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    q: QueryPairs,
) -> ApiResult<Json<BetweenOut>> {
    q.only(&["from", "to"])?;
    let (from, to) = (instant(&q, "from")?, instant(&q, "to")?);
    if to.duration_since(from).abs() > gongdan_core::sla::BETWEEN_MAX {
        return Err(ApiError::at(Code::InvalidQuery, "to", "at most five years from `from`"));
    }
    Ok(Json(BetweenOut { minutes: app.calendar_between(&p, id, from, to).await? }))
}
