//! Service levels in the core: business calendars kept by admins (checked whole before they
//! are saved), and the two questions any staff member may ask one — when is something due,
//! and how much working time lies between two instants.

use gongdan_domain::DomainError;
use gongdan_domain::access::Principal;
use gongdan_domain::people;
use gongdan_domain::sla::calendar::{BusinessCalendar, Calendar, CalendarSpec};
use jiff::Timestamp;

use crate::access;
use crate::{App, CoreError, Result};

/// A calendar to create, or the parts of one to change.
#[derive(Debug, Clone, Default)]
pub struct CalendarInput {
    pub name: Option<String>,
    pub spec: Option<CalendarSpec>,
    pub is_default: Option<bool>,
}

/// Business minutes a due-time question may ask for: a year of round-the-clock time.
pub const MINUTES_MAX: i64 = 366 * 24 * 60;
/// The span a between question may ask about: five years.
pub const BETWEEN_MAX: jiff::SignedDuration = jiff::SignedDuration::from_hours(5 * 366 * 24);

impl App {
    pub async fn list_calendars(&self, actor: &Principal) -> Result<Vec<BusinessCalendar>> {
        access::require_staff(actor, "business calendars are for staff")?;
        Ok(self.config().await?.calendars.clone())
    }

    pub async fn calendar(&self, actor: &Principal, id: i64) -> Result<BusinessCalendar> {
        self.list_calendars(actor)
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or(CoreError::NotFound("business calendar"))
    }

    fn fill_calendar(c: &mut BusinessCalendar, input: CalendarInput) -> Result<()> {
        if let Some(n) = &input.name {
            c.name = people::validate_name(n, "name")?;
        }
        if let Some(spec) = input.spec {
            spec.compile()?;
            c.spec = CalendarSpec { time_zone: spec.time_zone.trim().to_owned(), ..spec };
        }
        if let Some(d) = input.is_default {
            c.is_default = d;
        }
        Ok(())
    }

    /// Makes a calendar; the desk's first is its default.
    pub async fn create_calendar(&self, actor: &Principal, input: CalendarInput) -> Result<BusinessCalendar> {
        access::require_admin(actor)?;
        for (given, field) in [(input.name.is_some(), "name"), (input.spec.is_some(), "time_zone")] {
            if !given {
                return Err(DomainError::required(field).into());
            }
        }
        let now = self.now();
        let first = self.config().await?.calendars.is_empty();
        let mut c = BusinessCalendar {
            id: 0,
            name: String::new(),
            spec: CalendarSpec::default(),
            is_default: first,
            created_at: now,
            updated_at: now,
        };
        Self::fill_calendar(&mut c, input)?;
        let saved = self.store.save_calendar(&c).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn update_calendar(&self, actor: &Principal, id: i64, input: CalendarInput) -> Result<BusinessCalendar> {
        access::require_admin(actor)?;
        let mut c = self.calendar(actor, id).await?;
        if input.is_default == Some(false) && c.is_default {
            // The desk always has one: another is made the default instead.
            return Err(DomainError::invalid(
                "is_default",
                gongdan_domain::Code::InvalidValue,
                "make another calendar the default instead",
            )
            .into());
        }
        Self::fill_calendar(&mut c, input)?;
        c.updated_at = self.now();
        let saved = self.store.save_calendar(&c).await?;
        self.config_changed();
        Ok(saved)
    }

    /// Deletes a calendar other than the default.
    pub async fn delete_calendar(&self, actor: &Principal, id: i64) -> Result<()> {
        access::require_admin(actor)?;
        let c = self.calendar(actor, id).await?;
        if c.is_default && self.config().await?.calendars.len() > 1 {
            return Err(CoreError::InUse("the desk's default calendar; make another the default first".into()));
        }
        self.store.delete_calendar(id).await.map_err(|e| match e {
            gongdan_store::StoreError::NotFound => CoreError::NotFound("business calendar"),
            e => e.into(),
        })?;
        self.config_changed();
        Ok(())
    }

    /// Adds the holidays an iCalendar file lists (a public-holiday feed) to a calendar; those
    /// it has already (same days, same name) are not added twice.
    pub async fn import_holidays(&self, actor: &Principal, id: i64, ics: &str) -> Result<BusinessCalendar> {
        access::require_admin(actor)?;
        let c = self.calendar(actor, id).await?;
        let mut spec = c.spec.clone();
        for h in gongdan_domain::sla::ical::holidays(ics, "body")? {
            if !spec.holidays.contains(&h) {
                spec.holidays.push(h);
            }
        }
        self.update_calendar(actor, id, CalendarInput { spec: Some(spec), ..Default::default() }).await
    }

    async fn compiled(&self, actor: &Principal, id: i64) -> Result<Calendar> {
        let c = self.calendar(actor, id).await?;
        // Checked when saved; a stored one that no longer compiles (a time zone gone from
        // the system's database) says so.
        Ok(c.spec.compile()?)
    }

    /// When `minutes` of the calendar's working time after `start` end.
    pub async fn calendar_due(&self, actor: &Principal, id: i64, start: Timestamp, minutes: i64) -> Result<Timestamp> {
        due(&self.compiled(actor, id).await?, start, minutes)
    }

    /// When `minutes` of working time after `start` end on a calendar not saved yet (the
    /// console's check while an admin edits one); the spec is checked as a save would.
    pub fn draft_due(
        &self,
        actor: &Principal,
        spec: &CalendarSpec,
        start: Timestamp,
        minutes: i64,
    ) -> Result<Timestamp> {
        access::require_admin(actor)?;
        due(&spec.compile()?, start, minutes)
    }

    /// The calendar's working minutes from `from` to `to` (negative when `to` comes first).
    pub async fn calendar_between(&self, actor: &Principal, id: i64, from: Timestamp, to: Timestamp) -> Result<i64> {
        if to.duration_since(from).abs() > BETWEEN_MAX {
            return Err(DomainError::invalid(
                "to",
                gongdan_domain::Code::InvalidValue,
                "at most five years from `from`",
            )
            .into());
        }
        Ok(self.compiled(actor, id).await?.between(from, to))
    }
}

/// The due time on a calendar, for a target the API may ask about.
fn due(cal: &Calendar, start: Timestamp, minutes: i64) -> Result<Timestamp> {
    if !(0..=MINUTES_MAX).contains(&minutes) {
        return Err(DomainError::invalid(
            "minutes",
            gongdan_domain::Code::InvalidValue,
            format!("0 to {MINUTES_MAX} minutes"),
        )
        .into());
    }
    cal.add(start, minutes).ok_or_else(|| {
        DomainError::invalid("minutes", gongdan_domain::Code::NoWorkingTime, "no working time for years ahead").into()
    })
}
