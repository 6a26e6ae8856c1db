//! The business-hours calculator in process: what an SLA clock costs per due time.

use std::time::{Duration, Instant};

use gongdan_domain::sla::calendar::{Calendar, CalendarSpec, HolidaySpec, WeekHours, WorkdaySpec};
use jiff::{SignedDuration, Timestamp};

/// Due times computed (and as many `between` calls).
pub const CASES: usize = 100_000;

/// Quantiles in microseconds.
pub struct CalendarTimes {
    pub add: (f64, f64),
    pub between: (f64, f64),
    /// Holiday days and make-up days in the calendar.
    pub holidays: i64,
    pub workdays: usize,
}

/// Shanghai office hours with a lunch break, and 2026's public holidays with their make-up
/// days (as the State Council publishes them: ranges, and Saturdays or Sundays worked).
fn calendar() -> anyhow::Result<(Calendar, i64, usize)> {
    let day = vec![["09:00".to_owned(), "12:00".to_owned()], ["13:30".to_owned(), "18:00".to_owned()]];
    let holidays = [
        ("元旦", "2026-01-01", "2026-01-03"),
        ("春节", "2026-02-15", "2026-02-23"),
        ("清明节", "2026-04-04", "2026-04-06"),
        ("劳动节", "2026-05-01", "2026-05-05"),
        ("端午节", "2026-06-19", "2026-06-21"),
        ("中秋节", "2026-09-25", "2026-09-27"),
        ("国庆节", "2026-10-01", "2026-10-07"),
    ];
    let workdays = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"];
    let spec = CalendarSpec {
        time_zone: "Asia/Shanghai".into(),
        hours: WeekHours {
            mon: day.clone(),
            tue: day.clone(),
            wed: day.clone(),
            thu: day.clone(),
            fri: day.clone(),
            ..Default::default()
        },
        holidays: holidays
            .iter()
            .map(|(name, from, to)| HolidaySpec {
                name: (*name).into(),
                from: (*from).into(),
                to: Some((*to).into()),
                yearly: false,
            })
            .collect(),
        workdays: workdays
            .iter()
            .map(|d| WorkdaySpec { name: "调休".into(), date: (*d).into(), hours: day.clone() })
            .collect(),
    };
    let mut days = 0;
    for (_, from, to) in holidays {
        let (from, to): (jiff::civil::Date, jiff::civil::Date) = (from.parse()?, to.parse()?);
        days += from.until(to)?.get_days() as i64 + 1;
    }
    Ok((spec.compile()?, days, workdays.len()))
}

/// `add` for targets of up to a month of working time (a month is ~22 days of 7.5 hours), from
/// starts spread over 2026, then `between` over the same spans.
pub fn calendar_times() -> anyhow::Result<CalendarTimes> {
    let (cal, holidays, workdays) = calendar()?;
    let year = Timestamp::from_second(1_767_196_800)?; // 2026-01-01T00:00+08:00
    // A fixed sequence, so runs compare (an LCG is plenty for spreading starts).
    let mut seed: u64 = 0x2026_1206;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let mut cases = Vec::with_capacity(CASES);
    for _ in 0..CASES {
        let start = year.checked_add(SignedDuration::from_secs(next(365 * 86_400) as i64))?;
        cases.push((start, 1 + next(22 * 450) as i64));
    }
    let mut adds = Vec::with_capacity(CASES);
    let mut dues = Vec::with_capacity(CASES);
    for (start, minutes) in &cases {
        let t0 = Instant::now();
        let due = cal.add(*start, *minutes);
        adds.push(t0.elapsed());
        dues.push(std::hint::black_box(due).unwrap_or(*start));
    }
    let mut betweens = Vec::with_capacity(CASES);
    for ((start, _), due) in cases.iter().zip(&dues) {
        let t0 = Instant::now();
        std::hint::black_box(cal.between(*start, *due));
        betweens.push(t0.elapsed());
    }
    Ok(CalendarTimes { add: quantiles(&mut adds), between: quantiles(&mut betweens), holidays, workdays })
}

fn quantiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let us = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e6;
    (us(0.5), us(0.99))
}
