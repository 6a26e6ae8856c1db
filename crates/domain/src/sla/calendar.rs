//! Business calendars: when a desk works. A week of working intervals per weekday (several a
//! day, for a lunch break; `00:00`–`24:00` for round the clock), holidays (dates, ranges, or the
//! same days every year) and make-up working days (调休: a Saturday that is worked, with its own
//! hours), all in one IANA time zone.
//!
//! Two functions carry the SLA clocks, inverse of each other: [`Calendar::add`] (a start and
//! some business minutes → the due time) and [`Calendar::between`] (two instants → the business
//! minutes between them). Both walk the working intervals day by day in the calendar's zone;
//! an interval is its local start and end made instants, so a day that DST shortens or lengthens
//! counts the time that really passes (an interval inside a DST gap is empty).

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{Code, DomainError};

/// Minutes after local midnight: 0 to 1440 (`24:00` ends a day).
pub type Minute = u16;

const DAY: Minute = 24 * 60;
/// How far `add` looks for working time before it gives up (a calendar that works some day
/// finds it within a year; the bound keeps a degenerate one from looping).
const HORIZON_DAYS: i32 = 3 * 366;
/// Dates a calendar may name.
const FIRST_YEAR: i16 = 2000;
const LAST_YEAR: i16 = 2100;
/// Intervals a day may have, holidays and make-up days a calendar may hold.
const INTERVALS_MAX: usize = 8;
const DATES_MAX: usize = 1000;
const NAME_MAX: usize = 100;

/// A calendar as the API and the store hold it: hours as `"09:00"`, dates as `"2026-10-01"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CalendarSpec {
    /// IANA time zone: `Asia/Shanghai`.
    pub time_zone: String,
    pub hours: WeekHours,
    #[serde(default)]
    pub holidays: Vec<HolidaySpec>,
    /// Make-up working days: a date worked with its own hours, whatever the week says.
    #[serde(default)]
    pub workdays: Vec<WorkdaySpec>,
}

/// Working intervals per weekday, each `["09:00", "12:00"]`; a day missing or empty is not
/// worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WeekHours {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>))]
    pub mon: Vec<[String; 2]>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>))]
    pub tue: Vec<[String; 2]>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>))]
    pub wed: Vec<[String; 2]>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>))]
    pub thu: Vec<[String; 2]>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>))]
    pub fri: Vec<[String; 2]>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>))]
    pub sat: Vec<[String; 2]>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>))]
    pub sun: Vec<[String; 2]>,
}

impl WeekHours {
    fn days(&self) -> [(&'static str, &Vec<[String; 2]>); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }
}

/// Days off: one date (`to` left out) or a range, both ends included; `yearly` repeats it
/// on the same month and day every year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HolidaySpec {
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(format = Date, example = "2026-10-01"))]
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = Date, example = "2026-10-07"))]
    pub to: Option<String>,
    #[serde(default)]
    pub yearly: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkdaySpec {
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(format = Date, example = "2026-10-10"))]
    pub date: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>))]
    pub hours: Vec<[String; 2]>,
}

/// A calendar as the desk keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    pub id: i64,
    pub name: String,
    pub spec: CalendarSpec,
    /// The desk's calendar where nothing names another (one at a time).
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A calendar ready to count with.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: TimeZone,
    /// Monday first.
    week: [Vec<(Minute, Minute)>; 7],
    holidays: Vec<Holiday>,
    /// Sorted by date.
    workdays: Vec<(Date, Vec<(Minute, Minute)>)>,
}

#[derive(Debug, Clone)]
struct Holiday {
    from: Date,
    to: Date,
    yearly: bool,
}

impl Holiday {
    fn covers(&self, d: Date) -> bool {
        if !self.yearly {
            return self.from <= d && d <= self.to;
        }
        // Month and day, a range that runs over New Year included.
        let md = |x: Date| (x.month(), x.day());
        let (a, b, x) = (md(self.from), md(self.to), md(d));
        if a <= b { a <= x && x <= b } else { x >= a || x <= b }
    }
}

impl CalendarSpec {
    /// Checks every part and makes the calendar; the error names the field (`hours.mon[1]`,
    /// `holidays[0].to`).
    pub fn compile(&self) -> Result<Calendar, DomainError> {
        let tz = TimeZone::get(self.time_zone.trim())
            .map_err(|_| DomainError::invalid("time_zone", Code::UnknownTimeZone, "not an IANA time zone"))?;
        let mut week: [Vec<(Minute, Minute)>; 7] = Default::default();
        for (i, (day, spans)) in self.hours.days().into_iter().enumerate() {
            week[i] = intervals(spans, &format!("hours.{day}"))?;
        }
        if self.holidays.len() > DATES_MAX || self.workdays.len() > DATES_MAX {
            let field = if self.holidays.len() > DATES_MAX { "holidays" } else { "workdays" };
            return Err(DomainError::invalid(field, Code::TooMany, format!("at most {DATES_MAX}")));
        }
        let mut holidays = Vec::with_capacity(self.holidays.len());
        for (i, h) in self.holidays.iter().enumerate() {
            name(&h.name, &format!("holidays[{i}].name"))?;
            let from = date(&h.from, &format!("holidays[{i}].from"))?;
            let to = match &h.to {
                Some(t) => date(t, &format!("holidays[{i}].to"))?,
                None => from,
            };
            if to < from {
                return Err(DomainError::invalid(
                    format!("holidays[{i}].to"),
                    Code::InvalidValue,
                    "a holiday ends on or after the day it starts",
                ));
            }
            holidays.push(Holiday { from, to, yearly: h.yearly });
        }
        let mut workdays: Vec<(Date, Vec<(Minute, Minute)>)> = Vec::with_capacity(self.workdays.len());
        for (i, w) in self.workdays.iter().enumerate() {
            name(&w.name, &format!("workdays[{i}].name"))?;
            let d = date(&w.date, &format!("workdays[{i}].date"))?;
            if workdays.iter().any(|(x, _)| *x == d) {
                return Err(DomainError::invalid(
                    format!("workdays[{i}].date"),
                    Code::DuplicateValue,
                    "this day is listed twice",
                ));
            }
            let spans = intervals(&w.hours, &format!("workdays[{i}].hours"))?;
            if spans.is_empty() {
                return Err(DomainError::required(format!("workdays[{i}].hours")));
            }
            workdays.push((d, spans));
        }
        workdays.sort_by_key(|(d, _)| *d);
        // Make-up days alone run out: the week must work somewhere.
        if week.iter().all(Vec::is_empty) {
            return Err(DomainError::invalid("hours", Code::NoWorkingTime, "the week has no working time at all"));
        }
        Ok(Calendar { tz, week, holidays, workdays })
    }
}

fn name(n: &str, field: &str) -> Result<(), DomainError> {
    match n.trim().chars().count() {
        0 => Err(DomainError::required(field)),
        c if c > NAME_MAX => Err(DomainError::invalid(field, Code::TooLong, format!("at most {NAME_MAX} characters"))),
        _ => Ok(()),
    }
}

fn date(s: &str, field: &str) -> Result<Date, DomainError> {
    let d: Date = s
        .trim()
        .parse()
        .map_err(|_| DomainError::invalid(field, Code::InvalidValue, "a date is written 2026-10-01"))?;
    if !(FIRST_YEAR..=LAST_YEAR).contains(&d.year()) {
        return Err(DomainError::invalid(
            field,
            Code::InvalidValue,
            format!("a date between {FIRST_YEAR} and {LAST_YEAR}"),
        ));
    }
    Ok(d)
}

/// `"09:00"` → 540; `"24:00"` → 1440.
fn minute(s: &str, field: &str) -> Result<Minute, DomainError> {
    let bad = || DomainError::invalid(field, Code::InvalidValue, "a time is written 09:00 (00:00 to 24:00)");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// A day's intervals, each starting before it ends, in order, none overlapping another.
fn intervals(spans: &[[String; 2]], field: &str) -> Result<Vec<(Minute, Minute)>, DomainError> {
    if spans.len() > INTERVALS_MAX {
        return Err(DomainError::invalid(field, Code::TooMany, format!("at most {INTERVALS_MAX} intervals a day")));
    }
    let mut out: Vec<(Minute, Minute)> = Vec::with_capacity(spans.len());
    for (i, [a, b]) in spans.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let (a, b) = (minute(a, &f)?, minute(b, &f)?);
        if a >= b {
            return Err(DomainError::invalid(f, Code::InvalidValue, "an interval starts before it ends"));
        }
        out.push((a, b));
    }
    out.sort_unstable();
    if let Some(w) = out.windows(2).position(|w| w[0].1 > w[1].0) {
        return Err(DomainError::invalid(
            format!("{field}[{}]", w + 1),
            Code::OverlappingHours,
            "the intervals of a day overlap",
        ));
    }
    Ok(out)
}

impl Calendar {
    /// Round the clock, every day: what calendar time (no business hours) counts with.
    pub fn always(tz: TimeZone) -> Calendar {
        Calendar { tz, week: std::array::from_fn(|_| vec![(0, DAY)]), holidays: vec![], workdays: vec![] }
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The working intervals of a local date.
    fn hours_on(&self, d: Date) -> &[(Minute, Minute)] {
        if let Ok(i) = self.workdays.binary_search_by_key(&d, |(x, _)| *x) {
            return &self.workdays[i].1;
        }
        if self.holidays.iter().any(|h| h.covers(d)) {
            return &[];
        }
        &self.week[d.weekday().to_monday_zero_offset() as usize]
    }

    /// A local date's working intervals as instants (an interval inside a DST gap is empty).
    fn spans_on(&self, d: Date) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        self.hours_on(d).iter().filter_map(move |(a, b)| {
            let (s, e) = (self.instant(d, *a)?, self.instant(d, *b)?);
            (s < e).then_some((s, e))
        })
    }

    /// Local `d` at `m` minutes after midnight; in a DST gap the later instant, in an overlap
    /// the earlier (jiff's "compatible" choice, as most calendars make it).
    fn instant(&self, d: Date, m: Minute) -> Option<Timestamp> {
        let dt: DateTime = if m >= DAY {
            d.tomorrow().ok()?.to_datetime(Time::midnight())
        } else {
            d.to_datetime(Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).ok()?)
        };
        self.tz.to_ambiguous_timestamp(dt).compatible().ok()
    }

    /// The local date an instant falls on, a day early: an interval of the day before may still
    /// run (none does past 24:00, but a DST overlap can put its end after local midnight).
    fn first_day(&self, t: Timestamp) -> Date {
        let d = t.to_zoned(self.tz.clone()).date();
        d.yesterday().unwrap_or(d)
    }

    /// The instant `minutes` business minutes after `start`: the earliest time with that much
    /// working time since `start` (the end of an interval when it fills it exactly, not the next
    /// opening). `None` when the calendar has no working time within three years.
    pub fn add(&self, start: Timestamp, minutes: i64) -> Option<Timestamp> {
        if minutes <= 0 {
            return Some(start);
        }
        let mut left = SignedDuration::from_mins(minutes);
        let mut d = self.first_day(start);
        for _ in 0..HORIZON_DAYS {
            for (s, e) in self.spans_on(d) {
                if e <= start {
                    continue;
                }
                let from = s.max(start);
                let here = e.duration_since(from);
                if left <= here {
                    return from.checked_add(left).ok();
                }
                left -= here;
            }
            d = d.tomorrow().ok()?;
        }
        None
    }

    /// Business minutes from `from` to `to` (whole minutes, rounded down); negative when `to`
    /// comes first.
    pub fn between(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to < from {
            return -self.between(to, from);
        }
        let mut total = SignedDuration::ZERO;
        let mut d = self.first_day(from);
        let last = to.to_zoned(self.tz.clone()).date();
        while d <= last {
            for (s, e) in self.spans_on(d) {
                let (a, b) = (s.max(from), e.min(to));
                if a < b {
                    total += b.duration_since(a);
                }
            }
            let Ok(next) = d.tomorrow() else { break };
            d = next;
        }
        total.as_secs() / 60
    }

    /// Whether `t` is inside working time (an interval's end is not).
    pub fn is_working(&self, t: Timestamp) -> bool {
        let d = self.first_day(t);
        [Some(d), d.tomorrow().ok()].into_iter().flatten().any(|d| self.spans_on(d).any(|(s, e)| s <= t && t < e))
    }
}

#[cfg(test)]
mod tests;
