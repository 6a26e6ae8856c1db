//! The storage conformance suite: the contract's promises, checked directly on each engine,
//! with no server in front (it builds without the web layer).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gongdan_domain::access::{Role, TicketScope};
use gongdan_domain::event::{EventKind, NewEvent, Via};
use gongdan_domain::ids::*;
use gongdan_domain::mail::reason::Reason;
use gongdan_domain::tickets::{StatusCategory, StatusRef, Ticket};
use gongdan_store::{NewComment, StoreError, TicketQuery, TicketRef, TicketSort, TicketWrite, WriteBatch};
use gongdan_testkit::build::{batch, fresh, ticket};
use gongdan_testkit::{TestStore, on_both};
use jiff::Timestamp;

/// Inserts a bare ticket and returns it as stored.
async fn insert(store: &std::sync::Arc<dyn gongdan_store::Store>, ticket: Ticket, at: Timestamp) -> Ticket {
    store.write(batch(at, vec![fresh(ticket)])).await.unwrap().tickets[0].clone()
}

async fn setup(t: &TestStore) -> (UserId, StatusRef, Timestamp) {
    let user = t.user(Role::Customer, "store@example.com", &[]).await;
    (user, t.status("new").await, t.at)
}

async fn writes_are_atomic(t: TestStore) {
    let (user, new, at) = setup(&t).await;
    let store = &t.store;
    let first = store.write(batch(at, vec![fresh(ticket(user, new.clone(), at))])).await.unwrap();
    let stored = first.tickets[0].clone();
    assert_eq!(store.get_ticket(stored.id).await.unwrap().as_ref(), Some(&stored), "what is written is what is read");
    // A batch that inserts a ticket and then updates a stale one writes nothing at all.
    let mut stale = stored.clone();
    stale.subject = "changed".into();
    let result = store
        .write(batch(
            at,
            vec![
                TicketWrite {
                    ticket: ticket(user, new.clone(), at),
                    expected_version: None,
                    comment: Some(NewComment {
                        author_id: user,
                        public: true,
                        body: "b".into(),
                        html_body: "b".into(),
                        attachment_ids: vec![],
                    }),
                    events: vec![NewEvent::plain(EventKind::Created, None)],
                },
                TicketWrite { ticket: stale, expected_version: Some(7), comment: None, events: vec![] },
            ],
        ))
        .await;
    assert!(matches!(result, Err(StoreError::VersionConflict)), "{result:?}");
    let all = store.list_tickets(&TicketQuery::new(TicketScope::All)).await.unwrap();
    assert_eq!(all.total, Some(1), "the inserted ticket was rolled back");
    assert_eq!(store.get_ticket(stored.id).await.unwrap().unwrap().subject, "存储");
    // A link to a ticket inserted in the same batch resolves to its new id.
    let r = store
        .write(WriteBatch {
            links: vec![gongdan_store::NewLink {
                source: TicketRef::Batch(0),
                target: TicketRef::Id(stored.id),
                kind: gongdan_domain::conversation::LinkKind::Related,
            }],
            ..batch(at, vec![fresh(ticket(user, new, at))])
        })
        .await
        .unwrap();
    assert_eq!(r.links[0].source_id, r.tickets[0].id);
    assert_eq!(store.list_links(stored.id).await.unwrap().len(), 1);
}

async fn keyset_paging_with_equal_keys(t: TestStore) {
    let (user, new, at) = setup(&t).await;
    let store = &t.store;
    let tickets: Vec<Ticket> = (0..25).map(|_| ticket(user, new.clone(), at)).collect();
    store.bulk_import(&tickets, &vec![vec![]; 25], Via::Api).await.unwrap();
    for sort in [TicketSort::UpdatedDesc, TicketSort::CreatedAsc, TicketSort::PriorityDesc, TicketSort::DueAsc] {
        let mut q = TicketQuery::new(TicketScope::All);
        q.limit = 10;
        q.sort = sort;
        let mut seen = Vec::new();
        loop {
            let page = store.list_tickets(&q).await.unwrap();
            assert_eq!(page.total, Some(25));
            seen.extend(page.items.iter().map(|t| t.id));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (25, 25), "{sort:?}: every row once even when all keys tie");
    }
    // Filters on tags and custom-field list values.
    let mut q = TicketQuery::new(TicketScope::All);
    q.tag = Some("b".into());
    q.custom_field = Some(("k".into(), "y".into()));
    q.status_categories = vec![StatusCategory::New];
    assert_eq!(store.list_tickets(&q).await.unwrap().total, Some(25));
    q.custom_field = Some(("k".into(), "z".into()));
    assert_eq!(store.list_tickets(&q).await.unwrap().total, Some(0));
    q.custom_field = None;
    q.scope = TicketScope::Requester { user: UserId(424_242), organization: None };
    assert_eq!(store.list_tickets(&q).await.unwrap().total, Some(0), "the scope always applies");
}

async fn ids_continue_after_bulk_import(t: TestStore) {
    let (user, new, at) = setup(&t).await;
    let store = &t.store;
    let tickets: Vec<Ticket> = (0..3).map(|_| ticket(user, new.clone(), at)).collect();
    store.bulk_import(&tickets, &[vec![], vec![], vec![]], Via::Api).await.unwrap();
    let r = store.write(batch(at, vec![fresh(ticket(user, new, at))])).await.unwrap();
    assert_eq!(r.tickets[0].id, TicketId(10_004), "numbers start at 10001 and continue after a bulk load");
    // Migrations are idempotent: running them again changes nothing.
    store.migrate().await.unwrap();
    assert!(store.get_ticket(TicketId(10_001)).await.unwrap().is_some());
}

/// Concurrent batches (committed together on SQLite) still succeed or fail one by one.
async fn concurrent_batches_stay_isolated(t: TestStore) {
    let (user, new, at) = setup(&t).await;
    let store = t.store.clone();
    let base = insert(&store, ticket(user, new.clone(), at), at).await;
    // Stale updates, creates with a requester that does not exist, and good creates, all at
    // once: on SQLite they share commits (plain creates even share statements).
    let writes = (0..60).map(|i| {
        let store = store.clone();
        let (new, base) = (new.clone(), base.clone());
        tokio::spawn(async move {
            let comment = NewComment {
                author_id: user,
                public: true,
                body: format!("c{i}"),
                html_body: String::new(),
                attachment_ids: vec![],
            };
            let w = match i % 6 {
                0 => {
                    let mut stale = base.clone();
                    stale.subject = format!("stale {i}");
                    TicketWrite { ticket: stale, expected_version: Some(99), comment: None, events: vec![] }
                }
                1 => fresh(ticket(UserId(987_654), new, at)),
                _ => TicketWrite {
                    ticket: ticket(user, new, at),
                    expected_version: None,
                    comment: Some(comment),
                    events: vec![NewEvent::plain(EventKind::Created, None)],
                },
            };
            store.write(batch(at, vec![w])).await
        })
    });
    let results: Vec<_> = futures_util::future::join_all(writes).await.into_iter().map(|r| r.unwrap()).collect();
    let ok: Vec<&gongdan_store::WriteResult> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let conflicts = results.iter().filter(|r| matches!(r, Err(StoreError::VersionConflict))).count();
    assert_eq!((ok.len(), conflicts), (40, 10), "{results:?}");
    let all = store.list_tickets(&TicketQuery::new(TicketScope::All)).await.unwrap();
    assert_eq!(all.total, Some(41), "only the good creates landed");
    assert_eq!(store.get_ticket(base.id).await.unwrap().unwrap().subject, "存储", "no stale write landed");
    // What each create returned is what was stored: ids, comment and events.
    for r in ok {
        let t = &r.tickets[0];
        assert_eq!(store.get_ticket(t.id).await.unwrap().as_ref(), Some(t));
        let c = r.comments[0].as_ref().unwrap();
        assert_eq!(store.get_comment(c.id).await.unwrap().as_ref(), Some(c));
        assert_eq!(store.list_events(t.id, None, 10).await.unwrap().len(), 1);
        assert_eq!(store.list_comments(&[t.id], true, None, 10).await.unwrap().len(), 1);
    }
}

/// Queue totals come from counters kept in the same transactions as the tickets; they must
/// equal a real count whatever happened to the tickets.
async fn queue_totals_match_a_real_count(t: TestStore) {
    let (user, _, at) = setup(&t).await;
    let g1 = t.group("g1", 1).await;
    let g2 = t.group("g2", 2).await;
    let a1 = t.user(Role::Agent, "a1@desk.example", &[g1]).await;
    let a2 = t.user(Role::Agent, "a2@desk.example", &[g2]).await;
    let cfg = t.store.list_statuses().await.unwrap();
    let status = |k: &str| StatusRef::from(cfg.iter().find(|s| s.key == k).unwrap());
    let keys = ["new", "open", "pending", "open", "on_hold"];
    let shape = |i: usize, mut x: Ticket| {
        x.status = status(keys[i % keys.len()]);
        x.group_id = [None, Some(g1), Some(g2)][i % 3];
        x.assignee_id = [None, Some(a1), Some(a2), None][i % 4];
        x
    };
    let store = t.store.clone();
    // One by one, concurrently (grouped on SQLite), and in bulk.
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(insert(&store, shape(i, ticket(user, status("new"), at)), at).await);
    }
    let concurrent = (12..40).map(|i| {
        let (store, x) = (store.clone(), shape(i, ticket(user, status("new"), at)));
        tokio::spawn(async move { store.write(batch(at, vec![fresh(x)])).await })
    });
    for r in futures_util::future::join_all(concurrent).await {
        ids.push(r.unwrap().unwrap().tickets[0].clone());
    }
    let bulk: Vec<Ticket> = (40..70).map(|i| shape(i, ticket(user, status("new"), at))).collect();
    store.bulk_import(&bulk, &vec![vec![]; bulk.len()], Via::Api).await.unwrap();
    // Move some between statuses, groups and assignees.
    for (n, x) in ids.iter().take(20).enumerate() {
        let mut moved = shape(n + 7, x.clone());
        moved.version += 1;
        store
            .write(batch(
                at,
                vec![TicketWrite { ticket: moved, expected_version: Some(x.version), comment: None, events: vec![] }],
            ))
            .await
            .unwrap();
    }
    let open = status("open").id;
    type Narrow = Box<dyn Fn(&mut TicketQuery)>;
    let queries: Vec<(&str, Narrow)> = vec![
        ("all", Box::new(|_| {})),
        ("open", Box::new(|q| q.status_categories = vec![StatusCategory::Open])),
        ("new+pending", Box::new(|q| q.status_categories = vec![StatusCategory::New, StatusCategory::Pending])),
        ("status id", Box::new(move |q| q.status_ids = vec![open])),
        ("group", Box::new(move |q| q.group_ids = vec![g1])),
        (
            "open in group",
            Box::new(move |q| {
                q.status_categories = vec![StatusCategory::Open];
                q.group_ids = vec![g2];
            }),
        ),
        ("assignee", Box::new(move |q| q.assignee = Some(Some(a1)))),
        (
            "unassigned open",
            Box::new(|q| {
                q.assignee = Some(None);
                q.status_categories = vec![StatusCategory::Open];
            }),
        ),
        ("restricted agent", Box::new(move |q| q.scope = TicketScope::Groups { groups: vec![g1], assignee: a2 })),
        ("assignee 0", Box::new(|q| q.assignee = Some(Some(UserId(0))))),
        ("group 0", Box::new(|q| q.group_ids = vec![GroupId(0)])),
    ];
    for (name, shape_query) in queries {
        let mut fast = TicketQuery::new(TicketScope::All);
        shape_query(&mut fast);
        let mut slow = fast.clone();
        slow.include_merged = false; // not countable: forces COUNT(*) (nothing here is merged)
        let (a, b) = (store.list_tickets(&fast).await.unwrap().total, store.list_tickets(&slow).await.unwrap().total);
        assert_eq!(a, b, "[{}] {name}", t.backend);
        assert!(b.unwrap() > 0 || name.ends_with(" 0"), "[{}] {name} counts something", t.backend);
    }
    // Counters that went wrong (here: wiped) are rebuilt by `optimize`.
    gongdan_testkit::db::execute(&t.url, &["DELETE FROM ticket_counts"]).await;
    let mut q = TicketQuery::new(TicketScope::All);
    q.status_categories = vec![StatusCategory::Open];
    assert_eq!(store.list_tickets(&q).await.unwrap().total, Some(0), "wiped");
    store.optimize().await.unwrap();
    let fast = store.list_tickets(&q).await.unwrap().total;
    q.include_merged = false;
    assert_eq!(fast, store.list_tickets(&q).await.unwrap().total, "rebuilt");
}

/// Tickets in one counter shard moved in opposite directions at once: counter rows are locked
/// in one order, so nothing deadlocks into an error; every write lands or is a clean conflict.
async fn opposite_moves_do_not_deadlock(t: TestStore) {
    let (user, _, at) = setup(&t).await;
    let cfg = t.store.list_statuses().await.unwrap();
    let status = |k: &str| StatusRef::from(cfg.iter().find(|s| s.key == k).unwrap());
    let store = t.store.clone();
    let mut same_shard = Vec::new();
    while same_shard.len() < 4 {
        let made = insert(&store, ticket(user, status("open"), at), at).await;
        if made.id.0 % 8 == 0 {
            same_shard.push(made);
        }
    }
    for round in 0..10 {
        let mut current = Vec::new();
        for x in &same_shard {
            current.push(store.get_ticket(x.id).await.unwrap().unwrap());
        }
        let moves = current.into_iter().enumerate().map(|(i, current)| {
            let store = store.clone();
            let to = if (i + round) % 2 == 0 { status("pending") } else { status("open") };
            tokio::spawn(async move {
                let mut moved = current.clone();
                moved.status = to;
                moved.version += 1;
                store
                    .write(batch(
                        at,
                        vec![TicketWrite {
                            ticket: moved,
                            expected_version: Some(current.version),
                            comment: None,
                            events: vec![],
                        }],
                    ))
                    .await
            })
        });
        for r in futures_util::future::join_all(moves).await {
            match r.unwrap() {
                Ok(_) | Err(StoreError::VersionConflict) => {}
                Err(e) => panic!("[{}] a concurrent move failed: {e}", t.backend),
            }
        }
    }
    let mut q = TicketQuery::new(TicketScope::All);
    q.status_categories = vec![StatusCategory::Pending];
    let fast = store.list_tickets(&q).await.unwrap().total;
    q.include_merged = false;
    assert_eq!(fast, store.list_tickets(&q).await.unwrap().total);
}

/// A listing over several categories and groups is merged from per-slice index reads; it must
/// page exactly like one sorted list, ties and cursors included, with the same total.
async fn merged_slices_page_like_one_list(t: TestStore) {
    let (user, _, at) = setup(&t).await;
    let store = &t.store;
    let cfg = t.store.list_statuses().await.unwrap();
    let status = |k: &str| StatusRef::from(cfg.iter().find(|s| s.key == k).unwrap());
    let (g1, g2, g3) = (t.group("g1", 1).await, t.group("g2", 1).await, t.group("g3", 1).await);
    let mut tickets = Vec::new();
    for i in 0..60i64 {
        let mut tk = ticket(user, status(["new", "open", "pending", "solved"][(i % 4) as usize]), at);
        tk.group_id = [Some(g1), Some(g2), Some(g3), None][(i % 3) as usize];
        // Many equal update times, so the id decides.
        tk.updated_at = Timestamp::from_second(1_800_000_000 + i / 7).unwrap();
        tickets.push(tk);
    }
    store.bulk_import(&tickets, &vec![vec![]; tickets.len()], Via::Api).await.unwrap();
    let all = {
        let mut q = TicketQuery::new(TicketScope::All);
        q.limit = 100;
        store.list_tickets(&q).await.unwrap().items
    };
    for (cats, groups, sort) in [
        (vec![StatusCategory::New, StatusCategory::Open], vec![], TicketSort::UpdatedDesc),
        (
            vec![StatusCategory::New, StatusCategory::Open, StatusCategory::Pending],
            vec![g1, g2],
            TicketSort::UpdatedDesc,
        ),
        (vec![StatusCategory::Open], vec![g1, g3], TicketSort::UpdatedAsc),
    ] {
        let mut expected: Vec<&Ticket> = all
            .iter()
            .filter(|t| {
                cats.contains(&t.status.category)
                    && (groups.is_empty() || t.group_id.is_some_and(|g| groups.contains(&g)))
            })
            .collect();
        expected.sort_by_key(|t| (t.updated_at, t.id));
        if sort == TicketSort::UpdatedDesc {
            expected.reverse();
        }
        let mut q = TicketQuery::new(TicketScope::All);
        q.status_categories = cats.clone();
        q.group_ids = groups.clone();
        q.sort = sort;
        q.limit = 4;
        let mut seen = Vec::new();
        loop {
            let page = store.list_tickets(&q).await.unwrap();
            assert_eq!(page.total, Some(expected.len() as i64));
            seen.extend(page.items.iter().map(|t| t.id));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        let want: Vec<TicketId> = expected.iter().map(|t| t.id).collect();
        assert_eq!(seen, want, "{cats:?} {groups:?} {sort:?}");
    }
    // A count alone reads no rows.
    let mut q = TicketQuery::new(TicketScope::All);
    q.status_categories = vec![StatusCategory::New, StatusCategory::Open];
    q.limit = 0;
    let page = store.list_tickets(&q).await.unwrap();
    assert!(page.items.is_empty() && page.next_cursor.is_none());
    assert_eq!(page.total, Some(30));
    // Several totals at once equal each listing's own, counters or not.
    let mut queries = vec![q.clone()];
    for (cats, groups, tag) in [
        (vec![StatusCategory::Open], vec![g1], None),
        (vec![StatusCategory::New, StatusCategory::Pending], vec![g2, g3], None),
        (vec![], vec![], Some("a")),
        (vec![StatusCategory::Solved], vec![], Some("none")),
    ] {
        let mut x = TicketQuery::new(TicketScope::Groups { groups: vec![g1], assignee: user });
        x.status_categories = cats;
        x.group_ids = groups;
        x.tag = tag.map(str::to_owned);
        queries.push(x);
    }
    let totals = store.count_tickets(&queries).await.unwrap();
    for (q, total) in queries.iter().zip(&totals) {
        assert_eq!(store.list_tickets(q).await.unwrap().total, Some(*total), "{q:?}");
    }
    assert_eq!(totals[0], 30);
    assert!(totals[1] > 0 && totals[2] == 0, "the scope applies to counter totals: {totals:?}");
}

on_both!(
    TestStore =>
    a_lease_has_one_holder_at_a_time,
    a_message_id_is_stored_once,
    merged_slices_page_like_one_list,
    opposite_moves_do_not_deadlock,
    queue_totals_match_a_real_count,
    concurrent_batches_stay_isolated,
    writes_are_atomic,
    keyset_paging_with_equal_keys,
    ids_continue_after_bulk_import
);

/// An upgrade keeps the data: a database made by migration 0001 alone, holding tickets, gets
/// 0002's queue counters and 0005's time columns filled from its tickets, events and comments
/// when the current store opens it.
async fn upgrade_keeps_data(url: String, backend: &str) {
    use sqlx::Connection;
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/migrations").join(backend);
    let only_first = gongdan_testkit::db::temp_dir().join("migrations");
    std::fs::create_dir_all(&only_first).unwrap();
    std::fs::copy(src.join("0001_core.sql"), only_first.join("0001_core.sql")).unwrap();
    let old = sqlx::migrate::Migrator::new(only_first.as_path()).await.unwrap();
    let seed = [
        "INSERT INTO users (id, role, name, language, time_zone, created_at, updated_at) VALUES (1, 'customer', 'c', 'en', 'UTC', 0, 0), \
         (2, 'customer', 'd', 'en', 'UTC', 0, 0)",
        "INSERT INTO groups (id, name) VALUES (5, 'g')",
        "INSERT INTO tickets (id, subject, description, requester_id, group_id, status_id, status_category, channel, kind, priority, version, created_at, updated_at) \
         VALUES (20001, 'a', '', 1, 5, 2, 'open', 'web', 'question', 2, 1, 0, 0), (20002, 'b', '', 1, 5, 2, 'open', 'web', 'question', 2, 1, 0, 0), \
         (20003, 'c', '', 1, NULL, 1, 'new', 'web', 'question', 2, 1, 0, 0)",
        // A status change and a customer's reply, which 0005's time columns are filled from.
        "INSERT INTO ticket_events (ticket_id, via, kind, field, old_value, new_value, created_at) \
         VALUES (20001, 'web', 'field_changed', 'status', 'new', 'open', 500)",
        "INSERT INTO comments (ticket_id, author_id, public, body, html_body, via, created_at) \
         VALUES (20001, 1, TRUE, 'hi', '<p>hi</p>', 'web', 700)",
        // A CC, which 0006 indexes.
        "UPDATE tickets SET cc_ids = '[2]' WHERE id = 20003",
    ];
    if backend == "sqlite" {
        let mut conn = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc")).await.unwrap();
        old.run(&mut conn).await.unwrap();
        for s in seed {
            sqlx::query(s).execute(&mut conn).await.unwrap();
        }
    } else {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        old.run(&mut conn).await.unwrap();
        for s in seed {
            sqlx::query(s).execute(&mut conn).await.unwrap();
        }
    }
    let store = gongdan_store::connect(&url, gongdan_store::ConnectOptions::default()).await.unwrap();
    let mut q = TicketQuery::new(TicketScope::All);
    assert_eq!(store.list_tickets(&q).await.unwrap().total, Some(3), "[{backend}] all tickets kept");
    q.status_categories = vec![StatusCategory::Open];
    q.group_ids = vec![GroupId(5)];
    assert_eq!(store.list_tickets(&q).await.unwrap().total, Some(2), "[{backend}] counters backfilled");
    let t = store.get_ticket(TicketId(20_001)).await.unwrap().unwrap();
    assert_eq!(t.subject, "a");
    assert_eq!(t.status_changed_at.as_microsecond(), 500, "[{backend}] status time from the events");
    assert_eq!(t.last_customer_reply_at.map(|x| x.as_microsecond()), Some(700), "[{backend}] from the comments");
    assert_eq!(t.last_agent_reply_at, None);
    let t2 = store.get_ticket(TicketId(20_002)).await.unwrap().unwrap();
    assert_eq!(t2.status_changed_at, t2.created_at, "no status event: the creation");
    let g = store.list_groups().await.unwrap();
    assert_eq!(g[0].assignment, gongdan_domain::routing::Assignment::Manual, "groups keep assigning by hand");
    // The shipped automations and views are there; user 0 (the rules' author) is nobody's to see.
    assert_eq!(store.list_rules(gongdan_domain::rules::RuleKind::Automation).await.unwrap().len(), 4);
    assert_eq!(store.list_views().await.unwrap().len(), 6);
    assert_eq!(store.count_users().await.unwrap(), 2);
    let copied = TicketQuery::new(TicketScope::Requester { user: gongdan_domain::ids::UserId(2), organization: None });
    let seen: Vec<i64> = store.list_tickets(&copied).await.unwrap().items.iter().map(|t| t.id.0).collect();
    assert_eq!(seen, vec![20_003], "[{backend}] CCs indexed from the tickets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_keeps_data_sqlite() {
    let dir = gongdan_testkit::db::temp_dir();
    upgrade_keeps_data(format!("sqlite://{}", dir.join("old.db").display()), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_keeps_data_postgres() {
    if let Some(url) = gongdan_testkit::db::pg_schema_url().await {
        upgrade_keeps_data(url, "postgres").await;
    }
}

/// A lease is one holder's until it runs out or is let go; its holder renews it.
async fn a_lease_has_one_holder_at_a_time(t: TestStore) {
    let store = &t.store;
    let at = |s: i64| Timestamp::from_second(1_800_000_000 + s).unwrap();
    assert!(store.take_lease("w:1", "a", at(90), at(0)).await.unwrap(), "[{}] free", t.backend);
    assert!(!store.take_lease("w:1", "b", at(100), at(10)).await.unwrap(), "[{}] a holds it", t.backend);
    assert!(store.take_lease("w:2", "b", at(100), at(10)).await.unwrap(), "another lease is another's");
    assert!(store.take_lease("w:1", "a", at(150), at(60)).await.unwrap(), "[{}] a renews it", t.backend);
    assert!(!store.take_lease("w:1", "b", at(200), at(149)).await.unwrap(), "renewed: still a's");
    assert!(store.take_lease("w:1", "b", at(240), at(150)).await.unwrap(), "[{}] run out: b's", t.backend);
    assert!(!store.take_lease("w:1", "a", at(250), at(160)).await.unwrap(), "and not a's any more");
    store.release_lease("w:1", "a").await.unwrap();
    assert!(!store.take_lease("w:1", "c", at(250), at(160)).await.unwrap(), "[{}] only b lets it go", t.backend);
    store.release_lease("w:1", "b").await.unwrap();
    assert!(store.take_lease("w:1", "c", at(250), at(160)).await.unwrap(), "[{}] let go: free", t.backend);
}

/// A Message-ID is stored with its comment in one transaction: the same one again fails the
/// whole second write, which leaves nothing behind.
async fn a_message_id_is_stored_once(t: TestStore) {
    let (user, new, at) = setup(&t).await;
    let store = &t.store;
    let mail = |id: &str| gongdan_store::MailRecord {
        message_id: id.into(),
        mailbox_id: None,
        direction: "in",
        reasons: vec![Reason::NothingTies, Reason::ReceivedAt { address: "support@acme.test".into() }],
        status: "",
        sender: "li@kehu.test".into(),
    };
    let with_comment = |tk: Ticket| TicketWrite {
        comment: Some(NewComment {
            author_id: user,
            public: true,
            body: "hi".into(),
            html_body: "<p>hi</p>".into(),
            attachment_ids: vec![],
        }),
        ..fresh(tk)
    };
    let first = WriteBatch { mail: vec![mail("m1@x")], ..batch(at, vec![with_comment(ticket(user, new.clone(), at))]) };
    let written = store.write(first).await.unwrap();
    let stored = store.mail_messages(&["m1@x", "other@x"]).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].ticket_id, written.tickets[0].id);
    assert_eq!(stored[0].comment_id, written.comments[0].as_ref().map(|c| c.id));
    assert_eq!(stored[0].reasons, [Reason::NothingTies, Reason::ReceivedAt { address: "support@acme.test".into() }]);
    // The per-sender limit counts what each sender sent after a time, on every node alike.
    let before = at.checked_sub(jiff::SignedDuration::from_secs(1)).unwrap();
    assert_eq!(store.count_mail_from("li@kehu.test", before).await.unwrap(), 1, "[{}]", t.backend);
    assert_eq!(store.count_mail_from("li@kehu.test", at).await.unwrap(), 0, "[{}] only later ones", t.backend);
    assert_eq!(store.count_mail_from("other@kehu.test", before).await.unwrap(), 0);
    // A delivery keeps whom the mail went to; a bounce names whom of them, and only on the
    // bounced list it was read with (another report in between makes it read again).
    let to = ["li@kehu.test".to_owned(), "zhao@kehu.test".to_owned()];
    store.set_delivery("m1@x", "sent", "250 ok", Some(at), &to).await.unwrap();
    store.set_delivery("m1@x", "sent", "250 ok", Some(at), &[]).await.unwrap();
    let gone = ["zhao@kehu.test".to_owned()];
    assert!(store.mark_bounced("m1@x", &[], &gone, "partly_failed", "not delivered to zhao").await.unwrap());
    assert!(!store.mark_bounced("m1@x", &[], &to, "failed", "bounced").await.unwrap(), "[{}] stale", t.backend);
    let m = store.mail_messages(&["m1@x"]).await.unwrap().remove(0);
    assert_eq!(
        (m.recipients, m.bounced, m.status.as_str(), m.attempts),
        (to.to_vec(), gone.to_vec(), "partly_failed", 2)
    );
    let again = WriteBatch { mail: vec![mail("m1@x")], ..batch(at, vec![with_comment(ticket(user, new, at))]) };
    match store.write(again).await {
        Err(StoreError::Duplicate { what }) => assert_eq!(what, "message_id"),
        other => panic!("[{}] expected a duplicate, got {other:?}", t.backend),
    }
    let all = store.list_tickets(&TicketQuery::new(TicketScope::All)).await.unwrap();
    assert_eq!(all.total, Some(1), "[{}] the second ticket was not written", t.backend);
    let q = gongdan_store::Quarantined {
        id: 0,
        mailbox_id: None,
        message_id: String::new(),
        sender: String::new(),
        subject: "x".into(),
        reason: Reason::NotMail,
        size: 0,
        received_at: at,
    };
    let held = store.quarantine(&q, b"\x00raw\xff").await.unwrap();
    let (back, raw) = store.quarantined_raw(held.id).await.unwrap().unwrap();
    assert_eq!((back.size, raw.as_slice()), (5, b"\x00raw\xff".as_slice()));
    assert_eq!(back.reason, Reason::NotMail, "[{}] the reason reads back as it was kept", t.backend);
}
