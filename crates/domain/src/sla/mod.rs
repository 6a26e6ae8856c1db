//! Service levels: when the desk works (business calendars) and, built on them, the clocks
//! that hold tickets to their targets.

pub mod calendar;
pub mod ical;
