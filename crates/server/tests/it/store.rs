//! The storage conformance suite: the contract's promises, checked directly on each backend.

use std::collections::BTreeMap;

use gongdan_domain::access::TicketScope;
use gongdan_domain::event::{EventKind, NewEvent, Via};
use gongdan_domain::ids::*;
use gongdan_domain::ticket::{Channel, Priority, StatusCategory, StatusRef, Ticket, TicketType};
use gongdan_store::{NewComment, StoreError, TicketQuery, TicketRef, TicketSort, TicketWrite, WriteBatch};
use jiff::Timestamp;
use serde_json::json;

use crate::on_both;
use crate::support::TestApp;

fn ticket(requester: UserId, status: StatusRef, at: Timestamp) -> Ticket {
    Ticket {
        id: TicketId(0),
        subject: "存储".into(),
        description: "d".into(),
        requester_id: requester,
        organization_id: None,
        cc_ids: vec![],
        assignee_id: None,
        group_id: None,
        status,
        channel: Channel::Api,
        kind: TicketType::Task,
        priority: Priority::Normal,
        tags: vec!["a".into(), "b".into()],
        due_at: None,
        category_id: None,
        custom_fields: BTreeMap::from([("k".to_owned(), json!(["x", "y"]))]),
        merged_into_id: None,
        version: 1,
        created_at: at,
        updated_at: at,
        first_replied_at: None,
        solved_at: None,
        closed_at: None,
    }
}

fn batch(at: Timestamp, writes: Vec<TicketWrite>) -> WriteBatch {
    WriteBatch { actor: None, via: Via::System, at, writes, links: vec![], unlinks: vec![], idempotency: None }
}

async fn setup(t: &TestApp) -> (UserId, StatusRef, Timestamp) {
    let (user, _) = t.user("customer", "store@example.com", json!({})).await;
    let cfg = t.app.config().await.unwrap();
    let new = StatusRef::from(cfg.statuses.iter().find(|s| s.key == "new").unwrap());
    (user, new, t.app.now())
}

async fn writes_are_atomic(t: TestApp) {
    let (user, new, at) = setup(&t).await;
    let store = &t.app.store;
    let first = store
        .write(batch(
            at,
            vec![TicketWrite {
                ticket: ticket(user, new.clone(), at),
                expected_version: None,
                comment: None,
                events: vec![],
            }],
        ))
        .await
        .unwrap();
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
            ..batch(
                at,
                vec![TicketWrite {
                    ticket: ticket(user, new, at),
                    expected_version: None,
                    comment: None,
                    events: vec![],
                }],
            )
        })
        .await
        .unwrap();
    assert_eq!(r.links[0].source_id, r.tickets[0].id);
    assert_eq!(store.list_links(stored.id).await.unwrap().len(), 1);
}

async fn keyset_paging_with_equal_keys(t: TestApp) {
    let (user, new, at) = setup(&t).await;
    let store = &t.app.store;
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

async fn ids_continue_after_bulk_import(t: TestApp) {
    let (user, new, at) = setup(&t).await;
    let store = &t.app.store;
    let tickets: Vec<Ticket> = (0..3).map(|_| ticket(user, new.clone(), at)).collect();
    store.bulk_import(&tickets, &[vec![], vec![], vec![]], Via::Api).await.unwrap();
    let r = store
        .write(batch(
            at,
            vec![TicketWrite { ticket: ticket(user, new, at), expected_version: None, comment: None, events: vec![] }],
        ))
        .await
        .unwrap();
    assert_eq!(r.tickets[0].id, TicketId(10_004), "numbers start at 10001 and continue after a bulk load");
    // Migrations are idempotent: running them again changes nothing.
    store.migrate().await.unwrap();
    assert!(store.get_ticket(TicketId(10_001)).await.unwrap().is_some());
}

/// Concurrent batches (committed together on SQLite) still succeed or fail one by one.
async fn concurrent_batches_stay_isolated(t: TestApp) {
    let (user, new, at) = setup(&t).await;
    let store = t.app.store.clone();
    let base = store
        .write(batch(
            at,
            vec![TicketWrite {
                ticket: ticket(user, new.clone(), at),
                expected_version: None,
                comment: None,
                events: vec![],
            }],
        ))
        .await
        .unwrap()
        .tickets[0]
        .clone();
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
                1 => TicketWrite {
                    ticket: ticket(UserId(987_654), new, at),
                    expected_version: None,
                    comment: None,
                    events: vec![],
                },
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
    let results: Vec<_> = futures::future::join_all(writes).await.into_iter().map(|r| r.unwrap()).collect();
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

on_both!(
    concurrent_batches_stay_isolated,
    writes_are_atomic,
    keyset_paging_with_equal_keys,
    ids_continue_after_bulk_import
);
