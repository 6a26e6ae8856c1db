use super::*;

pub(crate) fn status(id: i64, key: &str, category: StatusCategory) -> StatusRef {
    StatusRef { id: StatusId(id), key: key.into(), category }
}

pub(crate) fn sample_ticket() -> Ticket {
    let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap_or_default();
    Ticket {
        id: TicketId(1),
        channel: Channel::Web,
        ..Ticket::new(
            "打印机无法连接网络",
            "办公室的打印机连不上",
            UserId(100),
            status(1, "new", StatusCategory::New),
            t0,
        )
    }
}

fn now() -> Timestamp {
    "2026-01-02T00:00:00Z".parse().unwrap_or_default()
}

fn to(category: StatusCategory, key: &str) -> TicketPatch {
    TicketPatch { status: Some(status(9, key, category)), ..Default::default() }
}

#[test]
fn nothing_returns_to_new_and_closed_is_final() {
    use StatusCategory::*;
    for from in StatusCategory::ALL {
        for to in StatusCategory::ALL {
            let r = check_transition(*from, *to);
            let expect_ok = *from != Closed && (*to != New || *from == New);
            assert_eq!(r.is_ok(), expect_ok, "{from} -> {to}");
        }
    }
    assert_eq!(check_transition(Closed, Open), Err(DomainError::TicketClosed));
}

#[test]
fn apply_records_changes_and_bumps_version_once() {
    let mut t = sample_ticket();
    let patch = TicketPatch {
        priority: Some(Priority::High),
        add_tags: vec!["Printer".into(), "vip".into()],
        assignee_id: Some(Some(UserId(5))),
        ..to(StatusCategory::Open, "open")
    };
    let changes = t.apply(&patch, PatchContext::default(), now()).unwrap_or_default();
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, vec!["status", "priority", "assignee_id", "tags"]);
    assert_eq!(t.version, 2);
    assert_eq!(t.tags, vec!["printer", "vip"]);
    assert_eq!(t.updated_at, now());

    // The same patch again changes nothing and keeps the version.
    let again = t.apply(&patch, PatchContext::default(), now()).unwrap_or_default();
    assert!(again.is_empty());
    assert_eq!(t.version, 2);
}

#[test]
fn a_rejected_patch_leaves_the_ticket_untouched() {
    let mut t = sample_ticket();
    t.status = status(2, "open", StatusCategory::Open);
    let before = t.clone();
    let patch = TicketPatch { priority: Some(Priority::Urgent), ..to(StatusCategory::New, "new") };
    let err = t.apply(&patch, PatchContext::default(), now());
    assert_eq!(err.map_err(|e| e.code()), Err("invalid_status_transition"));
    assert_eq!(t, before);
}

#[test]
fn solved_and_closed_stamp_times_and_closed_rejects_updates() {
    let mut t = sample_ticket();
    t.apply(&to(StatusCategory::Solved, "solved"), PatchContext::default(), now()).ok();
    assert_eq!(t.solved_at, Some(now()));
    t.apply(&to(StatusCategory::Open, "open"), PatchContext::default(), now()).ok();
    assert_eq!(t.solved_at, None, "reopening clears the solved time");
    t.apply(&to(StatusCategory::Closed, "closed"), PatchContext::default(), now()).ok();
    assert_eq!(t.closed_at, Some(now()));
    let err =
        t.apply(&TicketPatch { priority: Some(Priority::Low), ..Default::default() }, PatchContext::default(), now());
    assert_eq!(err, Err(DomainError::TicketClosed));
}

#[test]
fn a_parent_with_open_children_cannot_be_solved() {
    let mut t = sample_ticket();
    let ctx = PatchContext { open_children: 1 };
    assert_eq!(t.apply(&to(StatusCategory::Solved, "solved"), ctx, now()), Err(DomainError::OpenChildren));
    assert_eq!(t.apply(&to(StatusCategory::Closed, "closed"), ctx, now()), Err(DomainError::OpenChildren));
    assert!(t.apply(&to(StatusCategory::Pending, "pending"), ctx, now()).is_ok());
    assert!(t.apply(&to(StatusCategory::Closed, "closed"), PatchContext::default(), now()).is_ok());
}

#[test]
fn merged_tickets_reject_updates() {
    let mut t = sample_ticket();
    t.merged_into_id = Some(TicketId(9));
    assert_eq!(t.apply(&TicketPatch::default(), PatchContext::default(), now()), Err(DomainError::Merged(9)));
}

#[test]
fn customer_reply_reopens_pending_and_solved_only() {
    let open = status(2, "open", StatusCategory::Open);
    for (cat, reopens) in [
        (StatusCategory::New, false),
        (StatusCategory::Open, false),
        (StatusCategory::Pending, true),
        (StatusCategory::OnHold, false),
        (StatusCategory::Solved, true),
    ] {
        let mut t = sample_ticket();
        t.status = status(3, cat.as_str(), cat);
        let changes = t.on_reply(true, true, &open, now());
        assert_eq!(t.status.category == StatusCategory::Open, reopens || cat == StatusCategory::Open, "{cat}");
        assert_eq!(changes.len(), usize::from(reopens));
        assert_eq!(t.first_replied_at, None, "a customer reply is not a first response");
    }
    let mut t = sample_ticket();
    t.on_reply(false, false, &open, now());
    assert_eq!(t.first_replied_at, None, "an internal note is not a first response");
    t.on_reply(false, true, &open, now());
    assert_eq!(t.first_replied_at, Some(now()));
}

#[test]
fn tags_are_normalised_and_bounded() {
    assert_eq!(normalize_tags(&["B", "a", "b"], "tags"), Ok(vec!["a".to_owned(), "b".to_owned()]));
    assert_eq!(normalize_tags(&["v\u{200b}ip", "vip\u{2066}"], "tags"), Ok(vec!["vip".to_owned()]));
    assert_eq!(
        normalize_tags(&["a b"], "tags").map_err(|e| e.field().map(str::to_owned)),
        Err(Some("tags[0]".to_owned()))
    );
    let many: Vec<String> = (0..=TAGS_MAX).map(|i| format!("t{i}")).collect();
    assert!(normalize_tags(&many, "tags").is_err());
    // The limits are on what was sent: 51 copies of one tag, or a tag padded past 64.
    assert!(normalize_tags(&vec!["vip"; TAGS_MAX + 1], "tags").is_err());
    assert!(normalize_tags(&[format!("{}vip", " ".repeat(TAG_MAX))], "tags").is_err());
    assert_eq!(normalize_tags(&vec!["vip"; TAGS_MAX], "tags"), Ok(vec!["vip".to_owned()]));
}

#[test]
fn status_resolution_by_key_or_category() {
    let mk = |id, key: &str, category, is_default| Status {
        id: StatusId(id),
        key: key.into(),
        category,
        label_zh: String::new(),
        label_en: String::new(),
        is_default,
        position: id,
        active: true,
    };
    let all = vec![
        mk(1, "open", StatusCategory::Open, true),
        mk(2, "in_progress", StatusCategory::Open, false),
        mk(3, "waiting_vendor", StatusCategory::OnHold, false),
    ];
    assert_eq!(resolve_status(&all, "in_progress").map(|s| s.id), Ok(StatusId(2)));
    assert_eq!(resolve_status(&all, "open").map(|s| s.id), Ok(StatusId(1)), "a category name means its default");
    assert_eq!(resolve_status(&all, "on_hold").map(|s| s.id), Ok(StatusId(3)), "falls back to any active status");
    assert_eq!(resolve_status(&all, "bogus").map_err(|e| e.code()), Err("unknown_status"));
    assert!(resolve_status(&all, "solved").is_err());
}

#[test]
fn subject_is_required_and_bounded() {
    assert_eq!(validate_subject("  hi "), Ok("hi".into()));
    assert_eq!(validate_subject("  ").map_err(|e| e.code()), Err("required"));
    assert!(validate_subject(&"长".repeat(SUBJECT_MAX + 1)).is_err());
    assert!(validate_subject(&"长".repeat(SUBJECT_MAX)).is_ok());
}
