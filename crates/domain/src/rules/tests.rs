use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::*;
use crate::event::EventKind;
use crate::fields::FieldKind;
use crate::ids::*;
use crate::routing::{Availability, Member, Roster};
use crate::tickets::Ticket;
use crate::tickets::tests::{sample_ticket, status};

fn statuses() -> Vec<Status> {
    [
        ("new", StatusCategory::New),
        ("open", StatusCategory::Open),
        ("pending", StatusCategory::Pending),
        ("on_hold", StatusCategory::OnHold),
        ("solved", StatusCategory::Solved),
        ("closed", StatusCategory::Closed),
    ]
    .iter()
    .enumerate()
    .map(|(i, (k, c))| Status {
        id: StatusId(i as i64 + 1),
        key: (*k).into(),
        category: *c,
        label_zh: format!("zh-{k}"),
        label_en: format!("en-{k}"),
        is_default: true,
        position: i as i64,
        active: true,
    })
    .collect()
}

fn group(id: i64, tier: i64, assignment: crate::routing::Assignment) -> Group {
    Group { id: GroupId(id), name: format!("g{id}"), tier, assignment, ..Group::blank() }
}

fn category(id: i64, parent: Option<i64>) -> Category {
    Category {
        id: CategoryId(id),
        parent_id: parent.map(CategoryId),
        name_zh: format!("c{id}"),
        name_en: format!("c{id}"),
        position: 0,
        form_id: None,
        active: true,
    }
}

struct Desk {
    statuses: Vec<Status>,
    categories: Vec<Category>,
    fields: Vec<CustomFieldDef>,
    groups: Vec<Group>,
    agents: Vec<(UserId, Vec<GroupId>)>,
    webhooks: Vec<i64>,
    templates: Vec<NotificationTemplate>,
}

fn desk() -> Desk {
    use crate::routing::Assignment::*;
    Desk {
        statuses: statuses(),
        categories: vec![category(1, None), category(2, Some(1)), category(3, Some(2)), category(4, None)],
        fields: vec![
            CustomFieldDef {
                id: FieldId(1),
                scope: FieldScope::Ticket,
                key: "order_no".into(),
                kind: FieldKind::Text,
                label_zh: "订单号".into(),
                label_en: "Order".into(),
                options: vec![],
                pattern: None,
                active: true,
                position: 0,
            },
            CustomFieldDef {
                id: FieldId(2),
                scope: FieldScope::Ticket,
                key: "amount".into(),
                kind: FieldKind::Integer,
                label_zh: "金额".into(),
                label_en: "Amount".into(),
                options: vec![],
                pattern: None,
                active: true,
                position: 1,
            },
        ],
        groups: vec![group(7, 1, Manual), group(8, 1, RoundRobin), group(9, 2, Manual)],
        agents: vec![(UserId(50), vec![GroupId(7)]), (UserId(51), vec![GroupId(8)]), (UserId(52), vec![GroupId(8)])],
        webhooks: vec![3],
        templates: vec![NotificationTemplate {
            id: 4,
            name: "solved".into(),
            texts: Texts {
                zh_cn: Wording {
                    subject: "#{{ticket.number}} {{ticket.status}}".into(),
                    body: "您好 {{requester.name}}".into(),
                },
                en: Wording {
                    subject: "#{{ticket.number}} is {{ticket.status}}".into(),
                    body: "Hello {{requester.name}}".into(),
                },
            },
            created_at: at(0),
            updated_at: at(0),
        }],
    }
}

impl Desk {
    fn catalog(&self) -> Catalog<'_> {
        Catalog {
            statuses: &self.statuses,
            categories: &self.categories,
            fields: &self.fields,
            groups: &self.groups,
            agents: &self.agents,
            webhooks: &self.webhooks,
            templates: &self.templates,
        }
    }

    fn trigger(&self, id: i64, spec: serde_json::Value) -> Trigger {
        let spec: RuleSpec = serde_json::from_value(spec).expect("spec");
        compile_trigger(&self.catalog(), id, &format!("t{id}"), &spec).expect("compiles")
    }

    fn rules(&self, triggers: Vec<Trigger>) -> RuleSet {
        RuleSet {
            triggers,
            groups: self.groups.clone(),
            categories: self.categories.clone(),
            statuses: self.statuses.clone(),
            agent_names: self.agents.iter().map(|(id, _)| (*id, format!("agent{id}"))).collect(),
            agent_groups: self.agents.iter().cloned().collect(),
        }
    }
}

fn at(h: i64) -> Timestamp {
    let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap_or_default();
    t0.checked_add(SignedDuration::from_hours(h)).unwrap_or(t0)
}

fn created(t: &Ticket) -> FlowInput {
    FlowInput {
        before: None,
        update: UpdateFacts { created: true, via: "web", comment: Some((true, true, t.description.clone())) },
        requester: Requester {
            id: t.requester_id,
            name: "李雷".into(),
            language: "zh-CN".into(),
            ..Default::default()
        },
        actor: None,
        open_children: 0,
        now: at(0),
    }
}

fn no_rosters() -> BTreeMap<GroupId, Roster> {
    BTreeMap::new()
}

fn err_field(e: DomainError) -> (String, &'static str) {
    (e.field().unwrap_or_default().to_owned(), e.code())
}

#[test]
fn chinese_text_conditions_route_a_refund_ticket() {
    let d = desk();
    let t = d.trigger(
        1,
        json!({"conditions": {"all": [{"field": "subject", "operator": "contains", "value": "退款"}], "any": []},
               "actions": [{"field": "group_id", "value": 7}, {"field": "tags_add", "value": ["refund"]}]}),
    );
    let rules = d.rules(vec![t]);
    let mut ticket = sample_ticket();
    ticket.subject = "申请退款：订单 A-1001".into();
    let out = rules.run(ticket.clone(), &created(&ticket), &mut no_rosters()).expect("runs");
    assert_eq!(out.ticket.group_id, Some(GroupId(7)));
    assert_eq!(out.ticket.tags, vec!["refund"]);
    assert_eq!(out.fired, vec!["t1"]);
    assert!(out.events.iter().all(|e| e.rule.as_deref() == Some("t1")), "every change names its rule");
    assert_eq!(out.ticket.version, ticket.version, "the write bumps the version, not each rule");

    let mut other = sample_ticket();
    other.subject = "打印机无法连接网络".into();
    let out = rules.run(other.clone(), &created(&other), &mut no_rosters()).expect("runs");
    assert!(out.fired.is_empty());
    assert_eq!(out.ticket, other);
}

#[test]
fn all_and_any_combine() {
    let d = desk();
    let t = d.trigger(
        1,
        json!({"conditions": {
            "all": [{"field": "priority", "operator": "greater_than", "value": "normal"}],
            "any": [{"field": "tags", "operator": "contains", "value": "vip"},
                    {"field": "requester.vip_level", "operator": "greater_than", "value": 0}]},
               "actions": [{"field": "type", "value": "incident"}]}),
    );
    let rules = d.rules(vec![t]);
    let mut tk = sample_ticket();
    tk.priority = Priority::High;
    let mut input = created(&tk);
    assert!(rules.run(tk.clone(), &input, &mut no_rosters()).expect("runs").fired.is_empty(), "no `any` holds");
    input.requester.vip_level = 2;
    assert_eq!(rules.run(tk.clone(), &input, &mut no_rosters()).expect("runs").ticket.kind, TicketType::Incident);
    tk.priority = Priority::Normal;
    assert!(rules.run(tk.clone(), &input, &mut no_rosters()).expect("runs").fired.is_empty(), "`all` fails");
}

#[test]
fn categories_custom_fields_and_update_kinds() {
    let d = desk();
    let under = d.trigger(
        1,
        json!({"conditions": {"all": [{"field": "category_id", "operator": "is_under", "value": 1},
                                      {"field": "custom_fields.amount", "operator": "greater_than", "value": 100},
                                      {"field": "update", "operator": "is", "value": "customer_replied"}]},
               "actions": [{"field": "priority", "value": "high"}]}),
    );
    let rules = d.rules(vec![under]);
    let mut tk = sample_ticket();
    tk.category_id = Some(CategoryId(3));
    tk.custom_fields.insert("amount".into(), json!(500));
    let before = tk.clone();
    let mut input = created(&tk);
    input.update.created = false;
    input.before = Some(before.clone());
    assert_eq!(rules.run(tk.clone(), &input, &mut no_rosters()).expect("runs").ticket.priority, Priority::High);
    input.update.comment = Some((false, false, "内部备注".into()));
    assert!(rules.run(tk.clone(), &input, &mut no_rosters()).expect("runs").fired.is_empty(), "a note is no reply");
    input.update.comment = Some((true, true, "谢谢".into()));
    tk.category_id = Some(CategoryId(4));
    assert!(rules.run(tk.clone(), &input, &mut no_rosters()).expect("runs").fired.is_empty(), "outside the tree");
}

#[test]
fn changed_to_and_from_compare_with_the_ticket_before_the_update() {
    let d = desk();
    let t = d.trigger(
        1,
        json!({"conditions": {"all": [{"field": "status", "operator": "changed_to", "value": "solved"},
                                      {"field": "status", "operator": "changed_from", "value": "pending"}]},
               "actions": [{"field": "tags_add", "value": "solved_after_wait"}]}),
    );
    let rules = d.rules(vec![t]);
    let mut before = sample_ticket();
    before.status = status(3, "pending", StatusCategory::Pending);
    let mut after = before.clone();
    after.set_status(status(5, "solved", StatusCategory::Solved), at(1));
    let mut input = created(&after);
    input.update.created = false;
    input.update.comment = None;
    input.before = Some(before.clone());
    assert_eq!(rules.run(after.clone(), &input, &mut no_rosters()).expect("runs").fired, vec!["t1"]);
    before.status = status(2, "open", StatusCategory::Open);
    input.before = Some(before);
    assert!(rules.run(after, &input, &mut no_rosters()).expect("runs").fired.is_empty());
}

#[test]
fn a_firing_trigger_restarts_the_cycle_and_each_fires_once() {
    let d = desk();
    // t1 needs what t2 does; t2 fires first time round, then the cycle restarts and t1 fires.
    let t1 = d.trigger(
        1,
        json!({"conditions": {"all": [{"field": "tags", "operator": "contains", "value": "refund"}]},
               "actions": [{"field": "priority", "value": "urgent"}]}),
    );
    let t2 = d.trigger(
        2,
        json!({"conditions": {"all": [{"field": "subject", "operator": "contains", "value": "退款"}]},
               "actions": [{"field": "tags_add", "value": "refund"}]}),
    );
    // t3 matches every time round; it must still fire only once.
    let t3 = d.trigger(
        3,
        json!({"conditions": {"all": [{"field": "priority", "operator": "is_not", "value": "low"}]},
               "actions": [{"field": "internal_note", "value": "已检查 {{ticket.subject}}"}]}),
    );
    let rules = d.rules(vec![t1, t2, t3]);
    let mut tk = sample_ticket();
    tk.subject = "退款".into();
    let out = rules.run(tk.clone(), &created(&tk), &mut no_rosters()).expect("runs");
    assert_eq!(out.fired, vec!["t2", "t1", "t3"]);
    assert_eq!(out.ticket.priority, Priority::Urgent);
    assert_eq!(out.notes.len(), 1);
    assert_eq!(out.notes[0].body, "已检查 退款");
}

#[test]
fn a_runaway_chain_is_cut_off() {
    let d = desk();
    // Each trigger adds the tag the next one looks for: a chain longer than the cap.
    let n = FIRING_CAP as i64 + 5;
    let triggers: Vec<Trigger> = (0..n)
        .map(|i| {
            let when = if i == 0 {
                json!({"field": "subject", "operator": "contains", "value": "x"})
            } else {
                json!({"field": "tags", "operator": "contains", "value": format!("s{}", i - 1)})
            };
            d.trigger(
                i + 1,
                json!({"conditions": {"all": [when]}, "actions": [{"field": "tags", "value": format!("s{i}")}]}),
            )
        })
        .collect();
    let rules = d.rules(triggers);
    let mut tk = sample_ticket();
    tk.subject = "x".into();
    let out = rules.run(tk.clone(), &created(&tk), &mut no_rosters()).expect("runs");
    assert!(out.capped);
    assert_eq!(out.fired.len(), FIRING_CAP);
    assert!(out.events.iter().any(|e| e.kind == EventKind::RuleError));
}

#[test]
fn a_ticket_closed_by_a_rule_changes_no_further() {
    let d = desk();
    let close = d.trigger(
        1,
        json!({"conditions": {"all": [{"field": "tags", "operator": "contains", "value": "spam"}]},
                                   "actions": [{"field": "status", "value": "closed"}]}),
    );
    let tag = d.trigger(2, json!({"conditions": {"all": []}, "actions": [{"field": "tags_add", "value": "seen"}]}));
    let rules = d.rules(vec![close, tag]);
    let mut tk = sample_ticket();
    tk.tags = vec!["spam".into()];
    let out = rules.run(tk.clone(), &created(&tk), &mut no_rosters()).expect("runs");
    assert_eq!(out.ticket.status.category, StatusCategory::Closed);
    assert_eq!(out.ticket.tags, vec!["spam"], "the later trigger's tag is not added");
    assert!(out.events.iter().all(|e| e.kind != EventKind::RuleError));
}

fn member(id: i64, load: i64, capacity: Option<i64>) -> Member {
    Member { id: UserId(id), availability: Availability::Online, capacity, load, skills: vec![], last_assigned: 0 }
}

#[test]
fn landing_in_a_round_robin_group_asks_for_its_roster_then_assigns() {
    let d = desk();
    let route = d.trigger(
        1,
        json!({"conditions": {"all": [{"field": "subject", "operator": "contains", "value": "账单"}]},
                                   "actions": [{"field": "group_id", "value": 8}]}),
    );
    // A later trigger sees the assignment made by the group's strategy.
    let welcome = d.trigger(2, json!({"conditions": {"all": [{"field": "update", "operator": "is", "value": "assigned"}]},
                                     "actions": [{"field": "notify", "value": {"to": "assignee", "subject": "新工单", "body": "{{ticket.subject}}"}}]}));
    let rules = d.rules(vec![route, welcome]);
    let mut tk = sample_ticket();
    tk.subject = "账单有误".into();
    let input = created(&tk);
    let mut rosters = no_rosters();
    assert_eq!(rules.run(tk.clone(), &input, &mut rosters), Err(NeedRoster(GroupId(8))));
    rosters.insert(
        GroupId(8),
        Roster {
            group: GroupId(8),
            strategy: crate::routing::Assignment::RoundRobin,
            online_only: false,
            members: vec![member(51, 3, Some(3)), member(52, 0, Some(3))],
        },
    );
    let out = rules.run(tk, &input, &mut rosters).expect("runs");
    assert_eq!(out.ticket.assignee_id, Some(UserId(52)), "51 is at capacity");
    assert_eq!(out.assigned, Some((GroupId(8), UserId(52))));
    assert_eq!(out.fired, vec!["t1", "t2"]);
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].to, Recipient::User(UserId(52)));
    let assign = out.events.iter().find(|e| e.field.as_deref() == Some("assignee_id")).expect("event");
    assert_eq!(assign.rule.as_deref(), Some("assignment"));
}

#[test]
fn escalation_moves_up_a_tier_with_its_reason_and_lets_go_of_the_assignee() {
    let d = desk();
    let esc = d.trigger(
        1,
        json!({"conditions": {"all": [{"field": "priority", "operator": "is", "value": "urgent"}]},
                                 "actions": [{"field": "escalate", "value": "紧急工单转二线"}]}),
    );
    let rules = d.rules(vec![esc]);
    let mut tk = sample_ticket();
    tk.priority = Priority::Urgent;
    tk.group_id = Some(GroupId(7));
    tk.assignee_id = Some(UserId(50));
    let out = rules.run(tk.clone(), &created(&tk), &mut no_rosters()).expect("runs");
    assert_eq!(out.ticket.group_id, Some(GroupId(9)));
    assert_eq!(out.ticket.assignee_id, None);
    let e = out.events.iter().find(|e| e.kind == EventKind::Escalated).expect("escalated");
    assert_eq!(e.new.as_deref(), Some("紧急工单转二线"));
}

#[test]
fn bad_rules_are_refused_naming_the_row() {
    let d = desk();
    let cat = d.catalog();
    let compile = |spec: serde_json::Value| {
        let spec: RuleSpec = serde_json::from_value(spec).expect("spec");
        compile_trigger(&cat, 1, "x", &spec).map(|_| ()).map_err(err_field)
    };
    let ok_action = json!([{"field": "priority", "value": "high"}]);
    assert_eq!(
        compile(
            json!({"conditions": {"all": [{"field": "colour", "operator": "is", "value": 1}]}, "actions": ok_action})
        ),
        Err(("conditions.all[0].field".into(), "unknown_field"))
    );
    assert_eq!(
        compile(
            json!({"conditions": {"all": [], "any": [{"field": "priority", "operator": "is", "value": 3}]}, "actions": ok_action})
        ),
        Err(("conditions.any[0].value".into(), "invalid_value"))
    );
    assert_eq!(
        compile(
            json!({"conditions": {"all": [{"field": "tags", "operator": "greater_than", "value": "x"}]}, "actions": ok_action})
        ),
        Err(("conditions.all[0].operator".into(), "invalid_operator"))
    );
    assert_eq!(
        compile(
            json!({"conditions": {"all": [{"field": "hours_since_created", "operator": "greater_than", "value": 2}]}, "actions": ok_action})
        ),
        Err(("conditions.all[0].field".into(), "invalid_field"))
    );
    assert_eq!(
        compile(
            json!({"conditions": {}, "actions": [{"field": "priority", "value": "high"}, {"field": "created_at", "value": 1}]})
        ),
        Err(("actions[1].field".into(), "read_only_field"))
    );
    assert_eq!(
        compile(json!({"conditions": {}, "actions": [{"field": "group_id", "value": 99}]})),
        Err(("actions[0].value".into(), "not_found"))
    );
    assert_eq!(
        compile(json!({"conditions": {}, "actions": [{"field": "custom_fields.amount", "value": "lots"}]})),
        Err(("actions[0].value".into(), "invalid_value"))
    );
    assert_eq!(
        compile(
            json!({"conditions": {}, "actions": [{"field": "tags_add", "value": "a"}, {"field": "tags_remove", "value": ["a"]}]})
        ),
        Err(("actions[1].value".into(), "conflicting_actions"))
    );
    assert_eq!(
        compile(
            json!({"conditions": {}, "actions": [{"field": "priority", "value": "low"}, {"field": "priority", "value": "high"}]})
        ),
        Err(("actions[1].field".into(), "conflicting_actions"))
    );
    assert_eq!(
        compile(
            json!({"conditions": {}, "actions": [{"field": "notify", "value": {"to": "requester", "subject": "hi", "body": "{{ticket.secret}}"}}]})
        ),
        Err(("actions[0].value.body".into(), "unknown_placeholder"))
    );
    assert_eq!(compile(json!({"conditions": {}, "actions": []})), Err(("actions".into(), "required")));
    assert_eq!(
        compile(json!({"conditions": {}, "actions": [{"field": "webhook", "value": {"webhook_id": 3}}]})),
        Ok(())
    );
}

#[test]
fn triggers_that_flip_a_field_back_and_forth_are_refused() {
    let d = desk();
    let up = d.trigger(
        1,
        json!({"conditions": {"all": [{"field": "priority", "operator": "is", "value": "low"}]},
                                "actions": [{"field": "priority", "value": "high"}]}),
    );
    let down = d.trigger(
        2,
        json!({"conditions": {"all": [{"field": "priority", "operator": "is", "value": "high"}]},
                                  "actions": [{"field": "priority", "value": "low"}]}),
    );
    let other = d.trigger(
        3,
        json!({"conditions": {"all": [{"field": "priority", "operator": "is", "value": "high"}]},
                                   "actions": [{"field": "priority", "value": "urgent"}]}),
    );
    assert_eq!(check_trigger_loops(&down, std::slice::from_ref(&up)).map_err(|e| e.code()), Err("rule_loop"));
    assert!(check_trigger_loops(&other, std::slice::from_ref(&up)).is_ok());
    let tag_on = d.trigger(
        4,
        json!({"conditions": {"all": [{"field": "tags", "operator": "not_contains", "value": "x"}]},
                                    "actions": [{"field": "tags_add", "value": "x"}]}),
    );
    let tag_off = d.trigger(
        5,
        json!({"conditions": {"all": [{"field": "tags", "operator": "contains", "value": "x"}]},
                                     "actions": [{"field": "tags_remove", "value": "x"}]}),
    );
    assert!(check_trigger_loops(&tag_on, std::slice::from_ref(&tag_off)).is_err());
}

fn automation(d: &Desk, spec: serde_json::Value, once: bool) -> Result<Automation, DomainError> {
    let spec: RuleSpec = serde_json::from_value(spec).expect("spec");
    let a = compile_automation(&d.catalog(), 1, "a", &spec, once)?;
    check_automation(&a)?;
    Ok(a)
}

#[test]
fn automations_must_undo_a_condition_or_fire_once() {
    let d = desk();
    // The shipped defaults pass.
    let close = json!({"conditions": {"all": [{"field": "status", "operator": "is", "value": "solved"},
                                              {"field": "hours_since_solved", "operator": "greater_than", "value": 96}]},
                       "actions": [{"field": "status", "value": "closed"}]});
    assert!(automation(&d, close, false).is_ok());
    let remind = json!({"conditions": {"all": [{"field": "status", "operator": "is", "value": "pending"},
                                               {"field": "hours_since_pending", "operator": "greater_than", "value": 48}]},
                        "actions": [{"field": "notify", "value": {"to": "requester", "subject": "提醒", "body": "请回复"}}]});
    assert_eq!(automation(&d, remind.clone(), false).map(|_| ()).map_err(|e| e.code()), Err("automation_loop"));
    assert!(automation(&d, remind, true).is_ok(), "fires once per pending spell");
    let tag = json!({"conditions": {"all": [{"field": "hours_since_updated", "operator": "greater_than", "value": 24},
                                            {"field": "tags", "operator": "not_contains", "value": "stale"}]},
                     "actions": [{"field": "tags_add", "value": "stale"}]});
    assert!(automation(&d, tag, false).is_ok());
    let bad = json!({"conditions": {"all": [{"field": "update", "operator": "is", "value": "created"}]},
                     "actions": [{"field": "priority", "value": "high"}]});
    assert_eq!(
        automation(&d, bad, false).map(|_| ()).map_err(err_field),
        Err(("conditions.all[0].field".into(), "invalid_field"))
    );
}

#[test]
fn automation_windows_follow_the_clock_and_the_anchor() {
    let d = desk();
    let remind = automation(
        &d,
        json!({"conditions": {"all": [{"field": "status", "operator": "is", "value": "pending"},
                                      {"field": "hours_since_pending", "operator": "greater_than", "value": 48}]},
               "actions": [{"field": "notify", "value": {"to": "requester", "subject": "提醒", "body": "请回复"}}]}),
        true,
    )
    .expect("valid");
    assert_eq!(remind.status_scope(), Some(vec![StatusCategory::Pending]));
    let mut t = sample_ticket();
    t.set_status(status(3, "pending", StatusCategory::Pending), at(10));
    let r = Requester::default();
    assert_eq!(remind.window(&t, &r, &d.categories, at(58)), None, "exactly 48 hours is not more than 48");
    let w = remind.window(&t, &r, &d.categories, at(59)).expect("due");
    assert_eq!(remind.window(&t, &r, &d.categories, at(70)), Some(w.clone()), "the same spell, the same window");
    // Pending again later: a new window.
    t.set_status(status(2, "open", StatusCategory::Open), at(80));
    assert_eq!(remind.window(&t, &r, &d.categories, at(200)), None);
    t.set_status(status(3, "pending", StatusCategory::Pending), at(90));
    let w2 = remind.window(&t, &r, &d.categories, at(200)).expect("due again");
    assert_ne!(w, w2);

    let due = automation(
        &d,
        json!({"conditions": {"all": [{"field": "hours_until_due", "operator": "less_than", "value": 4}]},
               "actions": [{"field": "priority", "value": "urgent"}],
               "any": []}),
        true,
    );
    let due = due.expect("valid");
    t.due_at = Some(at(210));
    assert!(due.window(&t, &r, &d.categories, at(200)).is_none(), "10 hours left");
    assert!(due.window(&t, &r, &d.categories, at(207)).is_some(), "3 hours left");
}

#[test]
fn automations_run_their_actions_then_the_triggers() {
    let d = desk();
    let close = automation(
        &d,
        json!({"conditions": {"all": [{"field": "status", "operator": "is", "value": "solved"},
                                      {"field": "hours_since_solved", "operator": "greater_than", "value": 96}]},
               "actions": [{"field": "status", "value": "closed"}]}),
        false,
    )
    .expect("valid");
    let on_close = d.trigger(1, json!({"conditions": {"all": [{"field": "status", "operator": "changed_to", "value": "closed"}]},
                                      "actions": [{"field": "notify", "value": {"to": "requester", "subject": "已关闭", "body": "#{{ticket.number}}"}}]}));
    let rules = d.rules(vec![on_close]);
    let mut t = sample_ticket();
    t.set_status(status(5, "solved", StatusCategory::Solved), at(1));
    let input = FlowInput {
        before: Some(t.clone()),
        update: UpdateFacts { created: false, via: "rule", comment: None },
        requester: Requester::default(),
        actor: None,
        open_children: 0,
        now: at(100),
    };
    let out = rules.run_automation(&close, t, &input, &mut no_rosters()).expect("runs");
    assert_eq!(out.ticket.status.category, StatusCategory::Closed);
    assert_eq!(out.fired, vec!["a", "t1"]);
    assert_eq!(out.notices[0].texts.zh_cn.body, "#1");
    assert!(out.events.iter().any(|e| e.field.as_deref() == Some("status") && e.rule.as_deref() == Some("a")));
}

#[test]
fn macros_apply_as_the_agent() {
    let d = desk();
    let spec = vec![
        ActionSpec { field: "status".into(), value: json!("pending") },
        ActionSpec { field: "assignee_id".into(), value: json!("me") },
    ];
    let actions = compile_actions(&d.catalog(), RuleKind::Macro, &spec).expect("compiles");
    let bad = vec![ActionSpec { field: "webhook".into(), value: json!(3) }];
    assert_eq!(
        compile_actions(&d.catalog(), RuleKind::Macro, &bad).map(|_| ()).map_err(err_field),
        Err(("actions[0].field".into(), "unknown_field"))
    );
    let rules = d.rules(vec![]);
    let t = sample_ticket();
    let mut input = created(&t);
    input.actor = Some((UserId(50), "王芳".into()));
    let out = rules.apply_macro(&actions, t, &input);
    assert_eq!(out.ticket.status.key, "pending");
    assert_eq!(out.ticket.assignee_id, Some(UserId(50)));
    assert_eq!(out.ticket.group_id, Some(GroupId(7)), "the assignee brings their group");
    assert!(out.events.iter().all(|e| e.rule.is_none()));
}

/// Whether a ticket lies within a prefilter's bounds, as the database would judge it.
fn within(p: &Prefilter, t: &Ticket) -> bool {
    p.categories.contains(&t.status.category)
        && p.bounds.iter().all(|b| {
            let Some(at) = super::eval::anchor_time(b.anchor, t) else { return false };
            match b.cmp {
                Cmp::Lt => at < b.at,
                Cmp::Le => at <= b.at,
                Cmp::Gt => at > b.at,
                Cmp::Ge => at >= b.at,
            }
        })
}

#[test]
fn the_prefilter_never_drops_a_ticket_the_automation_would_fire_on() {
    let d = desk();
    let specs = [
        json!({"all": [{"field": "status", "operator": "is", "value": "pending"},
                       {"field": "hours_since_pending", "operator": "greater_than", "value": 48}]}),
        json!({"all": [{"field": "status", "operator": "is", "value": "solved"},
                       {"field": "hours_since_solved", "operator": "is", "value": 3}]}),
        json!({"all": [{"field": "minutes_since_updated", "operator": "less_than", "value": 90}]}),
        json!({"all": [{"field": "hours_until_due", "operator": "is", "value": 2}]}),
        json!({"all": [{"field": "hours_until_due", "operator": "greater_than", "value": 5},
                       {"field": "hours_since_created", "operator": "greater_than", "value": 1}]}),
    ];
    let statuses = [
        status(2, "open", StatusCategory::Open),
        status(3, "pending", StatusCategory::Pending),
        status(5, "solved", StatusCategory::Solved),
    ];
    for spec in specs {
        let a = automation(&d, json!({"conditions": spec, "actions": [{"field": "priority", "value": "high"}]}), true)
            .expect("valid");
        let now = at(500);
        let p = a.prefilter(now);
        // Tickets whose anchors sit around every boundary, a minute apart.
        for minutes in (0..600 * 60).step_by(7) {
            for s in &statuses {
                let mut t = sample_ticket();
                let moment = now.checked_sub(SignedDuration::from_mins(minutes)).unwrap_or(now);
                t.set_status(s.clone(), moment);
                t.updated_at = moment;
                t.created_at = moment;
                t.due_at = now.checked_add(SignedDuration::from_mins(minutes - 300 * 60)).ok();
                let fires = a.window(&t, &Requester::default(), &d.categories, now).is_some();
                assert!(!fires || within(&p, &t), "{spec} fires at {minutes} min but is filtered out");
            }
        }
    }
}

#[test]
fn a_pick_that_does_not_stand_leaves_the_rosters_as_they_were() {
    let d = desk();
    // The group's strategy assigns on landing; then a trigger moves the ticket to a manual
    // group the assignee is not in, so the assignment does not stand.
    let route = d.trigger(
        1,
        json!({"conditions": {"all": [{"field": "subject", "operator": "contains", "value": "账单"}]},
                                   "actions": [{"field": "group_id", "value": 8}]}),
    );
    let away = d.trigger(
        2,
        json!({"conditions": {"all": [{"field": "update", "operator": "is", "value": "assigned"}]},
                                  "actions": [{"field": "group_id", "value": 7}]}),
    );
    let rules = d.rules(vec![route, away]);
    let mut tk = sample_ticket();
    tk.subject = "账单".into();
    let roster = Roster {
        group: GroupId(8),
        strategy: crate::routing::Assignment::RoundRobin,
        online_only: false,
        members: vec![member(51, 0, None), member(52, 0, None)],
    };
    let mut rosters = BTreeMap::from([(GroupId(8), roster.clone())]);
    let out = rules.run(tk.clone(), &created(&tk), &mut rosters).expect("runs");
    assert_eq!((out.ticket.group_id, out.ticket.assignee_id), (Some(GroupId(7)), None));
    assert_eq!(out.assigned, None);
    assert_eq!(rosters[&GroupId(8)], roster, "nobody's load or turn moved");

    // A pick that stands moves the rosters the caller keeps, in every group the agent is in.
    let rules = d.rules(vec![]);
    let mut other = roster.clone();
    other.group = GroupId(9);
    let mut rosters = BTreeMap::from([(GroupId(8), roster.clone()), (GroupId(9), other)]);
    let mut tk = sample_ticket();
    tk.group_id = Some(GroupId(8));
    let out = rules.run(tk.clone(), &created(&tk), &mut rosters).expect("runs");
    assert_eq!(out.assigned, Some((GroupId(8), UserId(51))));
    assert_eq!(rosters[&GroupId(8)].members[0].load, 1);
    assert_eq!(rosters[&GroupId(9)].members[0].load, 1, "their load counts in their other groups too");
    assert_eq!(rosters[&GroupId(9)].members[0].last_assigned, 0, "but their turn there stays");
    let again = rules.run(tk.clone(), &created(&tk), &mut rosters).expect("runs");
    assert_eq!(again.assigned, Some((GroupId(8), UserId(52))), "the next ticket goes to the next agent");
}

#[test]
fn a_template_notice_reads_in_each_language_with_its_own_labels() {
    let d = desk();
    let t = d.trigger(
        1,
        json!({"conditions": {"all": [{"field": "update", "operator": "is", "value": "created"}]},
               "actions": [{"field": "notify", "value": {"to": "requester", "template_id": 4}}]}),
    );
    let rules = d.rules(vec![t]);
    let mut tk = sample_ticket();
    tk.id = crate::ids::TicketId(10001);
    let mut input = created(&tk);
    input.requester.name = "李雷".into();
    let out = rules.run(tk, &input, &mut no_rosters()).expect("runs");
    let texts = &out.notices[0].texts;
    assert_eq!(texts.zh_cn.body, "您好 李雷");
    assert_eq!(texts.en.body, "Hello 李雷");
    let new = d.statuses.iter().find(|s| s.category == StatusCategory::New).expect("a new status");
    assert_eq!(texts.zh_cn.subject, format!("#10001 {}", new.label_zh));
    assert_eq!(texts.en.subject, format!("#10001 is {}", new.label_en));
}

#[test]
fn a_notify_action_names_a_known_template_or_writes_its_own_text() {
    let d = desk();
    let compile = |value: serde_json::Value| {
        let spec: RuleSpec =
            serde_json::from_value(json!({"conditions": {}, "actions": [{"field": "notify", "value": value}]}))
                .expect("spec");
        compile_trigger(&d.catalog(), 1, "t", &spec)
            .map_err(|e| (e.field().map(str::to_owned), e.error_code().as_str()))
    };
    assert!(compile(json!({"to": "requester", "template_id": 4})).is_ok());
    assert_eq!(
        compile(json!({"to": "requester", "template_id": 5})).err(),
        Some((Some("actions[0].value.template_id".into()), "not_found"))
    );
    assert_eq!(
        compile(json!({"to": "requester", "template_id": 4, "subject": "x", "body": "y"})).err().map(|e| e.1),
        Some("invalid_value")
    );
    assert!(compile(json!({"to": "requester", "subject": "x", "body": "y"})).is_ok());
}

#[test]
fn a_notice_is_filled_in_from_the_ticket_as_the_rules_leave_it() {
    let d = desk();
    let tell = d.trigger(
        1,
        json!({"conditions": {"all": [{"field": "update", "operator": "is", "value": "created"}]},
               "actions": [{"field": "notify", "value": {"to": "requester", "subject": "s", "body": "组：{{ticket.group}}"}}]}),
    );
    let route = d.trigger(2, json!({"conditions": {}, "actions": [{"field": "group_id", "value": 7}]}));
    let rules = d.rules(vec![tell, route]);
    let tk = sample_ticket();
    let out = rules.run(tk.clone(), &created(&tk), &mut no_rosters()).expect("runs");
    assert_eq!(out.notices[0].texts.zh_cn.body, "组：g7", "the later trigger's group");
}
