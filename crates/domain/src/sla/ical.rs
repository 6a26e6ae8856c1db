//! Holidays from an iCalendar file (RFC 5545), as public-holiday feeds publish them: each
//! `VEVENT` an all-day date or range (`DTSTART;VALUE=DATE:20261001`, `DTEND` the day after the
//! last), its `SUMMARY` the name, `RRULE:FREQ=YEARLY` for the same days every year. Timed
//! events take the dates they start and end on.

use jiff::civil::Date;

use super::calendar::HolidaySpec;
use crate::error::{Code, DomainError};

/// Events a file may hold.
const EVENTS_MAX: usize = 1000;

/// The holidays an iCalendar text lists, in its order; `field` names the input in errors.
pub fn holidays(text: &str, field: &str) -> Result<Vec<HolidaySpec>, DomainError> {
    let bad = |why: String| DomainError::invalid(field, Code::InvalidValue, why);
    if !text.trim_start().to_ascii_uppercase().starts_with("BEGIN:VCALENDAR") {
        return Err(bad("not an iCalendar file (it starts with BEGIN:VCALENDAR)".into()));
    }
    let mut out = Vec::new();
    let mut event: Option<Event> = None;
    for line in unfold(text) {
        let (head, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
        let name = head.split(';').next().unwrap_or(head).trim().to_ascii_uppercase();
        match (name.as_str(), &mut event) {
            ("BEGIN", None) if value.trim().eq_ignore_ascii_case("VEVENT") => event = Some(Event::default()),
            ("END", Some(_)) if value.trim().eq_ignore_ascii_case("VEVENT") => {
                let Some(e) = event.take() else { continue };
                let n = out.len() + 1;
                let from = e.start.ok_or_else(|| bad(format!("event {n} has no DTSTART")))?;
                // DTEND is exclusive for dates: an event of 1–7 October ends on the 8th.
                let to = match e.end {
                    Some(end) if end > from && e.all_day => end.yesterday().unwrap_or(end),
                    Some(end) if end > from => end,
                    _ => from,
                };
                let name = if e.summary.trim().is_empty() { from.to_string() } else { e.summary.trim().to_owned() };
                out.push(HolidaySpec {
                    name: name.chars().take(100).collect(),
                    from: from.to_string(),
                    to: (to != from).then(|| to.to_string()),
                    yearly: e.yearly,
                });
                if out.len() > EVENTS_MAX {
                    return Err(DomainError::invalid(field, Code::TooMany, format!("at most {EVENTS_MAX} events")));
                }
            }
            ("DTSTART", Some(e)) => {
                e.start = Some(date(value).ok_or_else(|| bad(format!("`{}` is not a date", value.trim())))?);
                e.all_day = value.trim().len() == 8;
            }
            ("DTEND", Some(e)) => {
                e.end = Some(date(value).ok_or_else(|| bad(format!("`{}` is not a date", value.trim())))?)
            }
            ("SUMMARY", Some(e)) => e.summary = unescape(value),
            ("RRULE", Some(e)) => e.yearly = value.to_ascii_uppercase().contains("FREQ=YEARLY"),
            _ => {}
        }
    }
    Ok(out)
}

#[derive(Default)]
struct Event {
    start: Option<Date>,
    end: Option<Date>,
    all_day: bool,
    summary: String,
    yearly: bool,
}

/// `20261001` or `20261001T090000Z`: the date part.
fn date(value: &str) -> Option<Date> {
    let v = value.trim();
    let d = v.get(..8)?;
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m, day) = (d[..4].parse().ok()?, d[4..6].parse().ok()?, d[6..].parse().ok()?);
    Date::new(y, m, day).ok()
}

/// Content lines with their folded continuations (a line starting with a space or tab).
fn unfold(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        match (line.strip_prefix([' ', '\t']), out.last_mut()) {
            (Some(rest), Some(last)) => last.push_str(rest),
            _ => out.push(line.trim_end_matches('\r').to_owned()),
        }
    }
    out
}

fn unescape(value: &str) -> String {
    value.replace("\\n", " ").replace("\\N", " ").replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_day_events_become_holidays_with_their_last_day() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//ZH\r\n\
                   BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261001\r\nDTEND;VALUE=DATE:20261008\r\nSUMMARY:国庆\r\n 节\r\nEND:VEVENT\r\n\
                   BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260501\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:Labour Day\\, holiday\r\nEND:VEVENT\r\n\
                   BEGIN:VEVENT\r\nDTSTART:20261224T090000Z\r\nDTEND:20261226T170000Z\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\n\
                   END:VCALENDAR\r\n";
        let h = holidays(ics, "ics").unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(
            (h[0].name.as_str(), h[0].from.as_str(), h[0].to.as_deref()),
            ("国庆节", "2026-10-01", Some("2026-10-07"))
        );
        assert_eq!((h[1].name.as_str(), h[1].to.as_deref(), h[1].yearly), ("Labour Day, holiday", None, true));
        assert_eq!(
            (h[2].from.as_str(), h[2].to.as_deref()),
            ("2026-12-24", Some("2026-12-26")),
            "timed: the days it spans"
        );
    }

    #[test]
    fn what_is_no_calendar_is_refused() {
        assert!(holidays("2026-10-01 国庆节", "ics").is_err());
        let broken = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:2026x001\nEND:VEVENT\nEND:VCALENDAR\n";
        assert!(matches!(holidays(broken, "ics"), Err(DomainError::Invalid { code: Code::InvalidValue, .. })));
        let no_start = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\nEND:VCALENDAR\n";
        assert!(holidays(no_start, "ics").is_err());
    }
}
