use super::*;

fn hours(spans: &[(&str, &str)]) -> Vec<[String; 2]> {
    spans.iter().map(|(a, b)| [(*a).to_owned(), (*b).to_owned()]).collect()
}

/// Shanghai office hours: 09:00–12:00 and 13:00–18:00 on weekdays; 国庆 1–7 October 2026 off,
/// Saturday 10 October worked (调休).
fn shanghai() -> Calendar {
    let day = hours(&[("09:00", "12:00"), ("13:00", "18:00")]);
    CalendarSpec {
        time_zone: "Asia/Shanghai".into(),
        hours: WeekHours {
            mon: day.clone(),
            tue: day.clone(),
            wed: day.clone(),
            thu: day.clone(),
            fri: day.clone(),
            ..Default::default()
        },
        holidays: vec![HolidaySpec {
            name: "国庆节".into(),
            from: "2026-10-01".into(),
            to: Some("2026-10-07".into()),
            yearly: false,
        }],
        workdays: vec![WorkdaySpec { name: "国庆调休".into(), date: "2026-10-10".into(), hours: day }],
    }
    .compile()
    .unwrap()
}

fn round_the_clock(tz: &str) -> Calendar {
    let all = hours(&[("00:00", "24:00")]);
    CalendarSpec {
        time_zone: tz.into(),
        hours: WeekHours {
            mon: all.clone(),
            tue: all.clone(),
            wed: all.clone(),
            thu: all.clone(),
            fri: all.clone(),
            sat: all.clone(),
            sun: all,
        },
        ..Default::default()
    }
    .compile()
    .unwrap()
}

/// A local time in the calendar's zone.
fn at(c: &Calendar, s: &str) -> Timestamp {
    let dt: DateTime = s.parse().unwrap();
    c.time_zone().to_ambiguous_timestamp(dt).compatible().unwrap()
}

fn local(c: &Calendar, t: Timestamp) -> String {
    t.to_zoned(c.time_zone().clone()).strftime("%Y-%m-%d %H:%M %a").to_string()
}

#[test]
fn friday_evening_is_due_on_monday() {
    let c = shanghai();
    // 2026-09-25 is a Friday: 30 minutes that day, 30 on Monday.
    let due = c.add(at(&c, "2026-09-25T17:30"), 60).unwrap();
    assert_eq!(local(&c, due), "2026-09-28 09:30 Mon");
    assert_eq!(c.between(at(&c, "2026-09-25T17:30"), due), 60);
}

#[test]
fn before_opening_inside_the_lunch_break_and_after_closing() {
    let c = shanghai();
    assert_eq!(local(&c, c.add(at(&c, "2026-09-28T07:00"), 60).unwrap()), "2026-09-28 10:00 Mon");
    // osTicket #6847: the lunch break is not working time.
    assert_eq!(local(&c, c.add(at(&c, "2026-09-28T12:30"), 30).unwrap()), "2026-09-28 13:30 Mon");
    assert_eq!(local(&c, c.add(at(&c, "2026-09-28T11:30"), 60).unwrap()), "2026-09-28 13:30 Mon");
    assert_eq!(local(&c, c.add(at(&c, "2026-09-28T19:00"), 60).unwrap()), "2026-09-29 10:00 Tue");
}

#[test]
fn filling_an_interval_exactly_ends_at_its_end() {
    let c = shanghai();
    assert_eq!(local(&c, c.add(at(&c, "2026-09-28T09:00"), 180).unwrap()), "2026-09-28 12:00 Mon");
    assert_eq!(local(&c, c.add(at(&c, "2026-09-28T12:00"), 1).unwrap()), "2026-09-28 13:01 Mon");
    assert!(!c.is_working(at(&c, "2026-09-28T12:00")) && c.is_working(at(&c, "2026-09-28T11:59")));
}

#[test]
fn golden_week_and_its_make_up_saturday() {
    let c = shanghai();
    // Wednesday 30 September, 17:00: one hour that day, then 1–7 October off, three on Thursday 8.
    let due = c.add(at(&c, "2026-09-30T17:00"), 240).unwrap();
    assert_eq!(local(&c, due), "2026-10-08 12:00 Thu");
    // Friday 9 October, 17:00: an hour, then the worked Saturday.
    assert_eq!(local(&c, c.add(at(&c, "2026-10-09T17:00"), 120).unwrap()), "2026-10-10 10:00 Sat");
    assert_eq!(c.between(at(&c, "2026-10-01T00:00"), at(&c, "2026-10-08T00:00")), 0, "the holiday week");
    assert_eq!(c.between(at(&c, "2026-10-10T00:00"), at(&c, "2026-10-11T00:00")), 8 * 60, "调休");
}

#[test]
fn a_weekend_is_not_counted() {
    // GLPI #10594: Friday 17:00 to Monday 10:00 is two working hours.
    let c = shanghai();
    assert_eq!(c.between(at(&c, "2026-09-25T17:00"), at(&c, "2026-09-28T10:00")), 120);
    assert_eq!(c.between(at(&c, "2026-09-28T10:00"), at(&c, "2026-09-25T17:00")), -120);
}

#[test]
fn a_week_without_monday_still_works() {
    // osTicket #6739: a schedule with no Monday.
    let day = hours(&[("09:00", "17:00")]);
    let c = CalendarSpec {
        time_zone: "Europe/Berlin".into(),
        hours: WeekHours { tue: day.clone(), wed: day.clone(), fri: day, ..Default::default() },
        ..Default::default()
    }
    .compile()
    .unwrap();
    // Sunday 27 September 2026 → Tuesday; Wednesday 17:00 → Friday.
    assert_eq!(local(&c, c.add(at(&c, "2026-09-27T10:00"), 30).unwrap()), "2026-09-29 09:30 Tue");
    assert_eq!(local(&c, c.add(at(&c, "2026-09-30T16:00"), 120).unwrap()), "2026-10-02 10:00 Fri");
}

#[test]
fn daylight_saving_days_count_the_time_that_passes() {
    // New York springs forward on 8 March 2026 (02:00 → 03:00): that day has 23 hours.
    let ny = round_the_clock("America/New_York");
    assert_eq!(ny.between(at(&ny, "2026-03-08T00:00"), at(&ny, "2026-03-09T00:00")), 23 * 60);
    assert_eq!(local(&ny, ny.add(at(&ny, "2026-03-07T12:00"), 24 * 60).unwrap()), "2026-03-08 13:00 Sun");
    // Berlin falls back on 25 October 2026 (03:00 → 02:00): 25 hours.
    let berlin = round_the_clock("Europe/Berlin");
    assert_eq!(berlin.between(at(&berlin, "2026-10-25T00:00"), at(&berlin, "2026-10-26T00:00")), 25 * 60);
    // An interval that lies in the gap is no working time at all.
    let gap = CalendarSpec {
        time_zone: "America/New_York".into(),
        hours: WeekHours { sun: hours(&[("02:00", "03:00"), ("09:00", "10:00")]), ..Default::default() },
        ..Default::default()
    }
    .compile()
    .unwrap();
    assert_eq!(gap.between(at(&gap, "2026-03-08T00:00"), at(&gap, "2026-03-09T00:00")), 60);
    assert_eq!(gap.between(at(&gap, "2026-03-15T00:00"), at(&gap, "2026-03-16T00:00")), 120);
}

#[test]
fn yearly_holidays_and_ranges_over_new_year() {
    let day = hours(&[("09:00", "17:00")]);
    let c = CalendarSpec {
        time_zone: "UTC".into(),
        hours: WeekHours {
            mon: day.clone(),
            tue: day.clone(),
            wed: day.clone(),
            thu: day.clone(),
            fri: day,
            ..Default::default()
        },
        holidays: vec![HolidaySpec {
            name: "Winter break".into(),
            from: "2026-12-31".into(),
            to: Some("2027-01-01".into()),
            yearly: true,
        }],
        ..Default::default()
    }
    .compile()
    .unwrap();
    // Thursday 31 December 2026 and Friday 1 January 2027 off; again a year on.
    assert_eq!(local(&c, c.add(at(&c, "2026-12-30T16:00"), 120).unwrap()), "2027-01-04 10:00 Mon");
    assert_eq!(c.between(at(&c, "2027-12-31T00:00"), at(&c, "2028-01-01T23:00")), 0, "Friday and Saturday");
}

#[test]
fn bad_calendars_are_refused_naming_the_field() {
    let field = |spec: CalendarSpec| match spec.compile() {
        Err(DomainError::Invalid { field, code, .. }) => (field, code),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let base = || CalendarSpec {
        time_zone: "Asia/Shanghai".into(),
        hours: WeekHours { mon: hours(&[("09:00", "18:00")]), ..Default::default() },
        ..Default::default()
    };
    assert_eq!(
        field(CalendarSpec { time_zone: "Mars/Olympus".into(), ..base() }),
        ("time_zone".into(), Code::UnknownTimeZone)
    );
    assert_eq!(field(CalendarSpec { hours: WeekHours::default(), ..base() }), ("hours".into(), Code::NoWorkingTime));
    let overlap = WeekHours { tue: hours(&[("13:00", "18:00"), ("09:00", "13:30")]), ..base().hours };
    assert_eq!(field(CalendarSpec { hours: overlap, ..base() }), ("hours.tue[1]".into(), Code::OverlappingHours));
    for bad in [("18:00", "09:00"), ("9:00", "12:00"), ("09:00", "24:30"), ("25:00", "26:00"), ("09:60", "10:00")] {
        let h = WeekHours { wed: hours(&[bad]), ..base().hours };
        assert_eq!(field(CalendarSpec { hours: h, ..base() }), ("hours.wed[0]".into(), Code::InvalidValue), "{bad:?}");
    }
    let h = |from: &str, to: Option<&str>| HolidaySpec {
        name: "x".into(),
        from: from.into(),
        to: to.map(str::to_owned),
        yearly: false,
    };
    assert_eq!(
        field(CalendarSpec { holidays: vec![h("2026-10-07", Some("2026-10-01"))], ..base() }),
        ("holidays[0].to".into(), Code::InvalidValue)
    );
    assert_eq!(field(CalendarSpec { holidays: vec![h("1900-01-01", None)], ..base() }).0, "holidays[0].from");
    assert_eq!(field(CalendarSpec { holidays: vec![h("2026-02-30", None)], ..base() }).0, "holidays[0].from");
    // Make-up days alone run out: a week with no hours is refused; so is an empty make-up day.
    let w = |hours: Vec<[String; 2]>| WorkdaySpec { name: "调休".into(), date: "2026-10-10".into(), hours };
    let only = CalendarSpec { hours: WeekHours::default(), workdays: vec![w(hours(&[("09:00", "12:00")]))], ..base() };
    assert_eq!(field(only), ("hours".into(), Code::NoWorkingTime));
    assert_eq!(
        field(CalendarSpec { workdays: vec![w(vec![])], ..base() }),
        ("workdays[0].hours".into(), Code::Required)
    );
}

/// A calendar drawn at random: some weekdays with one to three intervals, some holidays and
/// make-up days, in one of a few zones with and without DST.
fn random_calendar(rng: &mut fastrand::Rng) -> Calendar {
    let zones = ["Asia/Shanghai", "America/New_York", "Europe/Berlin", "UTC", "Australia/Lord_Howe"];
    let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    let day = |rng: &mut fastrand::Rng| -> Vec<[String; 2]> {
        let mut cuts: Vec<u16> = (0..rng.usize(0..=3) * 2).map(|_| rng.u16(0..=1440)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts.chunks_exact(2).filter(|c| c[0] < c[1]).map(|c| [hm(c[0]), hm(c[1])]).collect()
    };
    let mut week = WeekHours {
        mon: day(rng),
        tue: day(rng),
        wed: day(rng),
        thu: day(rng),
        fri: day(rng),
        sat: day(rng),
        sun: day(rng),
    };
    if week.days().iter().all(|(_, d)| d.is_empty()) {
        week.mon = hours(&[("09:00", "17:00")]);
    }
    let date = |rng: &mut fastrand::Rng| format!("2026-{:02}-{:02}", rng.u8(1..=12), rng.u8(1..=28));
    let holidays = (0..rng.usize(0..6))
        .map(|i| {
            let from = date(rng);
            HolidaySpec { name: format!("h{i}"), to: None, from, yearly: rng.bool() }
        })
        .collect();
    let mut workdays: Vec<WorkdaySpec> = Vec::new();
    for i in 0..rng.usize(0..3) {
        let d = date(rng);
        if workdays.iter().all(|w| w.date != d) {
            workdays.push(WorkdaySpec { name: format!("w{i}"), date: d, hours: hours(&[("10:00", "15:00")]) });
        }
    }
    CalendarSpec { time_zone: zones[rng.usize(0..zones.len())].into(), hours: week, holidays, workdays }
        .compile()
        .unwrap()
}

#[test]
fn add_and_between_are_inverse_monotone_and_end_in_working_time() {
    let mut rng = fastrand::Rng::with_seed(0x0005_ea1a);
    let year = Timestamp::from_second(1_767_225_600).unwrap(); // 2026-01-01T00:00Z
    for case in 0..400 {
        let c = random_calendar(&mut rng);
        for _ in 0..10 {
            let start = year.checked_add(SignedDuration::from_secs(rng.i64(0..365 * 86_400))).unwrap();
            let m = rng.i64(0..20_000);
            let due = c.add(start, m).unwrap();
            assert_eq!(c.between(start, due), m, "case {case}: between(start, add(start, {m}))");
            assert!(due >= start);
            if m > 0 {
                let before = due.checked_sub(SignedDuration::from_secs(1)).unwrap();
                assert!(c.is_working(before), "case {case}: the last second before the due time is worked");
                let more = c.add(start, m + rng.i64(1..500)).unwrap();
                assert!(more > due, "case {case}: more minutes are due later");
            }
            // And the other way: adding what lies between two instants stays within them.
            let later = start.checked_add(SignedDuration::from_secs(rng.i64(0..30 * 86_400))).unwrap();
            let b = c.between(start, later);
            assert!(c.add(start, b).unwrap() <= later, "case {case}");
        }
    }
}
