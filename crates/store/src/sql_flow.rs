//! The flow engine's SQL, shared by both backends like `sql.rs` (of which this is a child
//! module): rules, macros, views and webhooks; notifications; jobs; and the part of a ticket
//! write that rules add — running them inside the transaction when they assign, and writing
//! their notes, notifications, webhook jobs, firings and job completion with the ticket.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gongdan_domain::event::Via;
use gongdan_domain::ids::{GroupId, SYSTEM_USER, TicketId, UserId};
use gongdan_domain::people::Language;
use gongdan_domain::routing::{Assignment, Availability, Member, Roster, language_skill};
use gongdan_domain::rules::{Anchor, Cmp, NeedRoster, Prefilter, Recipient, Requester, RuleKind};
use gongdan_domain::template;
use gongdan_domain::ticket::{StatusCategory, Ticket};
use jiff::Timestamp;
use serde_json::Value;
use sqlx::{AssertSqlSafe, QueryBuilder};

use super::{
    Conn, Db, LOCK_ROWS, SKIP_LOCKED, SqlStore, TICKET_COLS, TICKET_FROM, TicketRow, corrupt, from_ts, json, opt_ts,
    push_list, to_json, ts,
};
use crate::StoreError;
use crate::contract::*;
use crate::flow::*;

/// Statuses whose tickets count toward an agent's load: work the agent still holds (pending
/// waits for the customer, solved is done).
const LOAD_CATEGORIES: &str = "'new', 'open', 'on_hold'";

impl SqlStore {
    /// Runs a batch's rules inside its transaction: each roster they ask for is read here,
    /// under lock, and the rules run again with it. Returns the batch with the outcome folded in.
    pub(super) async fn run_flow(tx: &mut Conn, batch: &WriteBatch, run: &FlowRun) -> Result<WriteBatch> {
        Self::run_flow_with(tx, batch, run, &mut Decisions::default()).await
    }

    /// As `run_flow`, over decisions the caller keeps: the SQLite group writer decides a whole
    /// group of batches over one read of each roster (it is the only writer, so nothing else
    /// changes them meanwhile, and each decision updates the rosters the next one sees).
    pub(super) async fn run_flow_with(
        tx: &mut Conn,
        batch: &WriteBatch,
        run: &FlowRun,
        decided: &mut Decisions,
    ) -> Result<WriteBatch> {
        let mut out = batch.clone();
        out.flow = None;
        let ticket =
            out.writes.first().map(|w| w.ticket.clone()).ok_or_else(|| StoreError::Invalid("empty batch".into()))?;
        // Each pass either finishes or names a group not yet loaded, so this ends.
        for _ in 0..64 {
            match run.execute(ticket.clone(), &mut decided.rosters) {
                Ok(outcome) => {
                    if let Some((_, agent)) = outcome.assigned {
                        *decided.taken.entry(agent).or_default() += 1;
                    }
                    out.absorb(outcome);
                    return Ok(out);
                }
                Err(NeedRoster(g)) => {
                    let mut roster = Self::load_roster(tx, g).await?;
                    // Tickets this writer gave its members earlier are not written yet.
                    for m in &mut roster.members {
                        m.load += decided.taken.get(&m.id).copied().unwrap_or(0);
                    }
                    decided.rosters.insert(g, roster);
                }
            }
        }
        Err(StoreError::Invalid("the rules asked for too many groups".into()))
    }

    /// Reads (and on PostgreSQL locks) a group's roster ahead of the decisions that may need it.
    pub(super) async fn preload_roster(tx: &mut Conn, group: GroupId, decided: &mut Decisions) -> Result<()> {
        if let std::collections::btree_map::Entry::Vacant(slot) = decided.rosters.entry(group) {
            slot.insert(Self::load_roster(tx, group).await?);
        }
        Ok(())
    }

    /// The turn an automatic assignment took: the agent goes to the back of the group's
    /// round-robin order.
    pub(super) async fn take_turn(conn: &mut Conn, group: GroupId, agent: UserId) -> Result<()> {
        sqlx::query(
            "UPDATE group_members SET last_assigned = \
             (SELECT COALESCE(MAX(last_assigned), 0) + 1 FROM group_members WHERE group_id = $1) \
             WHERE group_id = $1 AND user_id = $2",
        )
        .bind(group.0)
        .bind(agent.0)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// A group's roster as it stands, with the group and its members locked until commit so a
    /// concurrent decision (on any node, through any of their groups) waits and then sees this
    /// one's result.
    async fn load_roster(tx: &mut Conn, group: GroupId) -> Result<Roster> {
        let settings: Option<(String, bool)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT assignment, online_only FROM groups WHERE id = $1{LOCK_ROWS}"
        )))
        .bind(group.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((strategy, online_only)) = settings else {
            return Ok(Roster { group, strategy: Assignment::Manual, online_only: false, members: vec![] });
        };
        // Each member's load (their queue counters over the statuses that count), their rows
        // locked in id order on PostgreSQL (so two decisions never lock in opposite orders):
        // their load may also change through their other groups.
        let lock = if LOCK_ROWS.is_empty() { String::new() } else { format!("{LOCK_ROWS} OF u") };
        type Row = (i64, String, Option<i64>, String, String, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT u.id, u.availability, u.capacity, u.skills, u.languages, m.last_assigned, \
             (SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM ticket_counts c JOIN statuses s ON s.id = c.status_id \
              WHERE c.assignee_key = u.id AND s.category IN ({LOAD_CATEGORIES})) \
             FROM group_members m JOIN users u ON u.id = m.user_id \
             WHERE m.group_id = $1 AND u.active AND u.role <> 'customer' ORDER BY u.id{lock}"
        )))
        .bind(group.0)
        .fetch_all(&mut *tx)
        .await?;
        let members = rows
            .into_iter()
            .map(|(id, availability, capacity, skills, languages, last_assigned, load)| {
                let mut all: Vec<String> = json::<Vec<String>>(&skills)?.iter().map(|s| s.to_lowercase()).collect();
                all.extend(json::<Vec<String>>(&languages)?.iter().map(|l| language_skill(l)));
                Ok(Member {
                    id: UserId(id),
                    availability: Availability::parse(&availability, "availability").map_err(corrupt)?,
                    capacity,
                    load,
                    skills: all,
                    last_assigned,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Roster {
            group,
            strategy: Assignment::parse(&strategy, "assignment").map_err(corrupt)?,
            online_only,
            members,
        })
    }

    /// Writes what the rules added to a batch, once its tickets have their ids.
    pub(super) async fn write_extras(tx: &mut Conn, batch: &WriteBatch, tickets: &[Ticket]) -> Result<()> {
        let first = tickets.first().map(|t| t.id);
        let resolve = |r: &Option<TicketRef>| -> Option<TicketId> {
            match r {
                Some(TicketRef::Id(id)) => Some(*id),
                Some(TicketRef::Batch(i)) => tickets.get(*i).map(|t| t.id),
                None => None,
            }
        };
        // Texts that name the ticket's number, which a new ticket only now has.
        let number = |text: &str, id: Option<TicketId>| {
            template::render(text, |k| (k == "ticket.number").then(|| id.map(|i| i.to_string())).flatten())
        };
        if let Some(id) = first {
            for n in &batch.notes {
                let c =
                    NewComment { body: number(&n.body, first), html_body: number(&n.html_body, first), ..n.clone() };
                Self::insert_comment(tx, id, &c, SYSTEM_USER, Via::Rule, batch.at).await?;
            }
        }
        for n in &batch.notices {
            let ticket = resolve(&n.ticket);
            let (subject, body) = (number(&n.subject, ticket), number(&n.body, ticket));
            let (from, key) = match n.to {
                Recipient::User(u) => ("(SELECT $1 AS user_id) r", u.0),
                Recipient::Group(g) => (
                    "(SELECT m.user_id FROM group_members m JOIN users u ON u.id = m.user_id \
                     WHERE m.group_id = $1 AND u.active) r",
                    g.0,
                ),
            };
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO notifications (user_id, ticket_id, rule, subject, body, created_at) \
                 SELECT r.user_id, $2, $3, $4, $5, $6 FROM {from}"
            )))
            .bind(key)
            .bind(ticket.map(|t| t.0))
            .bind(n.rule.as_deref())
            .bind(subject)
            .bind(body)
            .bind(ts(batch.at))
            .execute(&mut *tx)
            .await?;
        }
        for j in &batch.jobs {
            let mut job = j.clone();
            if let (Some(id), Value::Object(map)) = (resolve(&j.ticket), &mut job.payload) {
                map.insert("ticket_id".into(), Value::from(id.0));
            }
            Self::insert_job(tx, &job, batch.at).await?;
        }
        if let Some(id) = first {
            for f in &batch.firings {
                sqlx::query(
                    "INSERT INTO automation_firings (automation_id, ticket_id, window_key, fired_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(f.automation_id)
                .bind(id.0)
                .bind(&f.window)
                .bind(ts(batch.at))
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some((group, agent)) = batch.assigned {
            Self::take_turn(tx, group, agent).await?;
        }
        Ok(())
    }

    async fn insert_job(conn: &mut Conn, j: &NewJob, now: Timestamp) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "INSERT INTO jobs (kind, unique_key, payload, state, run_at, attempts, max_attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, 'pending', $4, 0, $5, $6, $6) ON CONFLICT (unique_key) DO NOTHING RETURNING id",
        )
        .bind(&j.kind)
        .bind(j.unique_key.as_deref())
        .bind(to_json(&j.payload)?)
        .bind(ts(j.run_at))
        .bind(j.max_attempts.max(1))
        .bind(ts(now))
        .fetch_optional(&mut *conn)
        .await?)
    }

    /// Deletes a finished job; false when its lease was lost.
    async fn finish_job(conn: &mut Conn, lease: &JobLease) -> Result<bool> {
        let done = sqlx::query("DELETE FROM jobs WHERE id = $1 AND locked_by = $2")
            .bind(lease.id)
            .bind(&lease.token)
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// What one writer decided so far in a group commit: the rosters it read (kept up to date by
/// each decision) and how many tickets it gave each agent (for rosters it reads later, whose
/// loads do not show them yet).
#[derive(Default)]
pub(super) struct Decisions {
    rosters: BTreeMap<GroupId, Roster>,
    taken: BTreeMap<UserId, i64>,
}

// ---- rows ----------------------------------------------------------------------------------

type RuleRowTuple = (i64, String, String, String, String, bool, i64, bool, String, String, i64, i64);
const RULE_COLS: &str =
    "id, kind, name, category, description, active, position, once, conditions, actions, created_at, updated_at";

fn rule_row(r: RuleRowTuple) -> Result<RuleRow> {
    let (id, kind, name, category, description, active, position, once, conditions, actions, created, updated) = r;
    Ok(RuleRow {
        id,
        kind: RuleKind::parse(&kind, "kind").map_err(corrupt)?,
        name,
        category,
        description,
        active,
        position,
        once,
        conditions: json(&conditions)?,
        actions: json(&actions)?,
        created_at: from_ts(created)?,
        updated_at: from_ts(updated)?,
    })
}

type JobTuple =
    (i64, String, Option<String>, String, String, i64, Option<i64>, Option<String>, i64, i64, Option<String>, i64);
const JOB_COLS: &str = "id, kind, unique_key, payload, state, run_at, locked_until, locked_by, attempts, max_attempts, last_error, created_at";

fn job_row(r: JobTuple) -> Result<Job> {
    let (id, kind, unique_key, payload, state, run_at, locked_until, locked_by, attempts, max_attempts, last_error, at) =
        r;
    Ok(Job {
        id,
        kind,
        unique_key,
        payload: json(&payload)?,
        state: JobState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("job state {state}")))?,
        run_at: from_ts(run_at)?,
        locked_until: opt_ts(locked_until)?,
        locked_by,
        attempts,
        max_attempts,
        last_error,
        created_at: from_ts(at)?,
    })
}

/// Saves a row of a small admin table: inserts when `id` is 0 (returning the new id), else
/// updates and fails with `NotFound` when nothing matched.
async fn upsert(
    store: &SqlStore,
    table: &str,
    cols: &[&str],
    id: i64,
    bind: impl FnOnce(
        sqlx::query::Query<'_, Db, <Db as sqlx::Database>::Arguments>,
    ) -> sqlx::query::Query<'_, Db, <Db as sqlx::Database>::Arguments>,
) -> Result<i64> {
    if id == 0 {
        let list = cols.join(", ");
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let sql = format!("INSERT INTO {table} ({list}) VALUES ({}) RETURNING id", marks.join(", "));
        let row: (i64,) = {
            use sqlx::Row;
            let r = bind(sqlx::query(AssertSqlSafe(sql))).fetch_one(&store.write).await?;
            (r.try_get(0)?,)
        };
        Ok(row.0)
    } else {
        let sets: Vec<String> = cols.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
        let sql = format!("UPDATE {table} SET {} WHERE id = ${}", sets.join(", "), cols.len() + 1);
        let done = bind(sqlx::query(AssertSqlSafe(sql))).bind(id).execute(&store.write).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(id)
    }
}

async fn delete_row(store: &SqlStore, table: &str, id: i64) -> Result<()> {
    let done =
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE id = $1"))).bind(id).execute(&store.write).await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

#[async_trait]
impl RuleStore for SqlStore {
    async fn list_rules(&self, kind: RuleKind) -> Result<Vec<RuleRow>> {
        let rows: Vec<RuleRowTuple> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {RULE_COLS} FROM rules WHERE kind = $1 ORDER BY position, id"
        )))
        .bind(kind.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(rule_row).collect()
    }

    async fn get_rule(&self, id: i64) -> Result<Option<RuleRow>> {
        let row: Option<RuleRowTuple> =
            sqlx::query_as(AssertSqlSafe(format!("SELECT {RULE_COLS} FROM rules WHERE id = $1")))
                .bind(id)
                .fetch_optional(&self.read)
                .await?;
        row.map(rule_row).transpose()
    }

    async fn save_rule(&self, r: &RuleRow) -> Result<RuleRow> {
        let (conditions, actions) = (to_json(&r.conditions)?, to_json(&r.actions)?);
        let cols = [
            "kind",
            "name",
            "category",
            "description",
            "active",
            "position",
            "once",
            "conditions",
            "actions",
            "created_at",
            "updated_at",
        ];
        let id = upsert(self, "rules", &cols, r.id, |q| {
            q.bind(r.kind.as_str())
                .bind(r.name.clone())
                .bind(r.category.clone())
                .bind(r.description.clone())
                .bind(r.active)
                .bind(r.position)
                .bind(r.once)
                .bind(conditions)
                .bind(actions)
                .bind(ts(r.created_at))
                .bind(ts(r.updated_at))
        })
        .await?;
        Ok(RuleRow { id, ..r.clone() })
    }

    async fn delete_rule(&self, id: i64) -> Result<()> {
        delete_row(self, "rules", id).await
    }

    async fn fired(&self, automation_id: i64, candidates: &[(TicketId, String)]) -> Result<Vec<bool>> {
        if candidates.is_empty() {
            return Ok(vec![]);
        }
        let mut qb =
            QueryBuilder::<Db>::new("SELECT ticket_id, window_key FROM automation_firings WHERE automation_id = ");
        qb.push_bind(automation_id).push(" AND ticket_id IN ");
        push_list(&mut qb, candidates.iter().map(|(t, _)| t.0));
        let rows: Vec<(i64, String)> = qb.build_query_as().fetch_all(&self.read).await?;
        let seen: std::collections::BTreeSet<(i64, String)> = rows.into_iter().collect();
        Ok(candidates.iter().map(|(t, w)| seen.contains(&(t.0, w.clone()))).collect())
    }

    async fn scan_tickets(&self, filter: &Prefilter, after: TicketId, limit: i64) -> Result<Vec<Ticket>> {
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {TICKET_COLS} FROM {TICKET_FROM} WHERE t.id > "));
        qb.push_bind(after.0);
        let categories: Vec<&str> =
            filter.categories.iter().filter(|c| **c != StatusCategory::Closed).map(|c| c.as_str()).collect();
        qb.push(" AND t.status_category IN ");
        push_list(&mut qb, if categories.is_empty() { vec!["-"] } else { categories });
        for b in &filter.bounds {
            let column = match b.anchor {
                Anchor::Created => "t.created_at",
                Anchor::Updated => "t.updated_at",
                Anchor::StatusChanged | Anchor::Pending | Anchor::OnHold => "t.status_changed_at",
                Anchor::Solved => "t.solved_at",
                Anchor::Assigned => "t.assigned_at",
                Anchor::CustomerReply => "t.last_customer_reply_at",
                Anchor::AgentReply => "t.last_agent_reply_at",
                Anchor::Due | Anchor::UntilDue => "t.due_at",
            };
            let op = match b.cmp {
                Cmp::Lt => " < ",
                Cmp::Le => " <= ",
                Cmp::Gt => " > ",
                Cmp::Ge => " >= ",
            };
            qb.push(" AND ").push(column).push(op).push_bind(ts(b.at));
        }
        qb.push(" ORDER BY t.id LIMIT ").push_bind(limit);
        let rows: Vec<TicketRow> = qb.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(Ticket::try_from).collect()
    }

    async fn requesters(&self, ids: &[UserId]) -> Result<Vec<Requester>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        type Row = (i64, String, Option<String>, Option<i64>, i64, String, Option<i64>);
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, name, email, organization_id, vip_level, language, account_manager_id FROM users WHERE id IN ",
        );
        push_list(&mut qb, ids.iter().map(|u| u.0));
        let rows: Vec<Row> = qb.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter()
            .map(|(id, name, email, org, vip, language, manager)| {
                Ok(Requester {
                    id: UserId(id),
                    name,
                    email,
                    organization_id: org.map(gongdan_domain::ids::OrganizationId),
                    vip_level: vip,
                    language: Language::parse(&language, "language").map_err(corrupt)?.as_str().to_owned(),
                    account_manager_id: manager.map(UserId),
                })
            })
            .collect()
    }

    async fn list_macros(&self) -> Result<Vec<MacroRow>> {
        type Row = (i64, String, Option<i64>, bool, i64, String, String, bool, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, owner_id, active, position, actions, reply_body, reply_public, created_at, updated_at \
             FROM macros ORDER BY position, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, name, owner, active, position, actions, reply_body, reply_public, created, updated)| {
                Ok(MacroRow {
                    id,
                    name,
                    owner_id: owner.map(UserId),
                    active,
                    position,
                    actions: json(&actions)?,
                    reply_body,
                    reply_public,
                    created_at: from_ts(created)?,
                    updated_at: from_ts(updated)?,
                })
            })
            .collect()
    }

    async fn save_macro(&self, m: &MacroRow) -> Result<MacroRow> {
        let actions = to_json(&m.actions)?;
        let cols = [
            "name",
            "owner_id",
            "active",
            "position",
            "actions",
            "reply_body",
            "reply_public",
            "created_at",
            "updated_at",
        ];
        let id = upsert(self, "macros", &cols, m.id, |q| {
            q.bind(m.name.clone())
                .bind(m.owner_id.map(|o| o.0))
                .bind(m.active)
                .bind(m.position)
                .bind(actions)
                .bind(m.reply_body.clone())
                .bind(m.reply_public)
                .bind(ts(m.created_at))
                .bind(ts(m.updated_at))
        })
        .await?;
        Ok(MacroRow { id, ..m.clone() })
    }

    async fn delete_macro(&self, id: i64) -> Result<()> {
        delete_row(self, "macros", id).await
    }

    async fn list_views(&self) -> Result<Vec<ViewRow>> {
        type Row = (i64, Option<String>, String, Option<i64>, Option<i64>, bool, i64, String, String, String, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, key, name, owner_id, group_id, active, position, filters, columns, sort, created_at, updated_at \
             FROM views ORDER BY position, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, key, name, owner, group, active, position, filters, columns, sort, created, updated)| {
                Ok(ViewRow {
                    id,
                    key,
                    name,
                    owner_id: owner.map(UserId),
                    group_id: group.map(GroupId),
                    active,
                    position,
                    filters: json(&filters)?,
                    columns: json(&columns)?,
                    sort,
                    created_at: from_ts(created)?,
                    updated_at: from_ts(updated)?,
                })
            })
            .collect()
    }

    async fn save_view(&self, v: &ViewRow) -> Result<ViewRow> {
        let (filters, columns) = (to_json(&v.filters)?, to_json(&v.columns)?);
        let cols = [
            "key",
            "name",
            "owner_id",
            "group_id",
            "active",
            "position",
            "filters",
            "columns",
            "sort",
            "created_at",
            "updated_at",
        ];
        let id = upsert(self, "views", &cols, v.id, |q| {
            q.bind(v.key.clone())
                .bind(v.name.clone())
                .bind(v.owner_id.map(|o| o.0))
                .bind(v.group_id.map(|g| g.0))
                .bind(v.active)
                .bind(v.position)
                .bind(filters)
                .bind(columns)
                .bind(v.sort.clone())
                .bind(ts(v.created_at))
                .bind(ts(v.updated_at))
        })
        .await?;
        Ok(ViewRow { id, ..v.clone() })
    }

    async fn delete_view(&self, id: i64) -> Result<()> {
        delete_row(self, "views", id).await
    }

    async fn list_webhooks(&self) -> Result<Vec<WebhookRow>> {
        type Row = (i64, String, String, String, bool, i64, i64);
        let rows: Vec<Row> =
            sqlx::query_as("SELECT id, name, url, secret, active, created_at, updated_at FROM webhooks ORDER BY id")
                .fetch_all(&self.read)
                .await?;
        rows.into_iter()
            .map(|(id, name, url, secret, active, created, updated)| {
                Ok(WebhookRow {
                    id,
                    name,
                    url,
                    secret,
                    active,
                    created_at: from_ts(created)?,
                    updated_at: from_ts(updated)?,
                })
            })
            .collect()
    }

    async fn save_webhook(&self, w: &WebhookRow) -> Result<WebhookRow> {
        let cols = ["name", "url", "secret", "active", "created_at", "updated_at"];
        let id = upsert(self, "webhooks", &cols, w.id, |q| {
            q.bind(w.name.clone())
                .bind(w.url.clone())
                .bind(w.secret.clone())
                .bind(w.active)
                .bind(ts(w.created_at))
                .bind(ts(w.updated_at))
        })
        .await?;
        Ok(WebhookRow { id, ..w.clone() })
    }

    async fn delete_webhook(&self, id: i64) -> Result<()> {
        delete_row(self, "webhooks", id).await
    }
}

#[async_trait]
impl NotificationStore for SqlStore {
    async fn list_notifications(
        &self,
        user: UserId,
        unread_only: bool,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, user_id, ticket_id, rule, subject, body, created_at, read_at FROM notifications WHERE user_id = ",
        );
        qb.push_bind(user.0);
        if unread_only {
            qb.push(" AND read_at IS NULL");
        }
        if let Some(b) = before {
            qb.push(" AND id < ").push_bind(b);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        type Row = (i64, i64, Option<i64>, Option<String>, String, String, i64, Option<i64>);
        let rows: Vec<Row> = qb.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter()
            .map(|(id, user_id, ticket_id, rule, subject, body, created, read)| {
                Ok(Notification {
                    id,
                    user_id: UserId(user_id),
                    ticket_id: ticket_id.map(TicketId),
                    rule,
                    subject,
                    body,
                    created_at: from_ts(created)?,
                    read_at: opt_ts(read)?,
                })
            })
            .collect()
    }

    async fn count_unread(&self, user: UserId) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
            .bind(user.0)
            .fetch_one(&self.read)
            .await?)
    }

    async fn mark_read(&self, user: UserId, ids: &[i64], at: Timestamp) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE notifications SET read_at = ");
        qb.push_bind(ts(at)).push(" WHERE read_at IS NULL AND user_id = ").push_bind(user.0);
        if !ids.is_empty() {
            qb.push(" AND id IN ");
            push_list(&mut qb, ids.iter().copied());
        }
        qb.build().execute(&self.write).await?;
        Ok(())
    }
}

#[async_trait]
impl JobStore for SqlStore {
    async fn enqueue(&self, job: &NewJob, now: Timestamp) -> Result<Option<i64>> {
        let mut conn = self.write.acquire().await?;
        Self::insert_job(&mut conn, job, now).await
    }

    async fn claim(
        &self,
        token: &str,
        now: Timestamp,
        until: Timestamp,
        kinds: &[&str],
        limit: i64,
    ) -> Result<Vec<Job>> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE jobs SET locked_until = ");
        qb.push_bind(ts(until))
            .push(", locked_by = ")
            .push_bind(token.to_owned())
            .push(", attempts = attempts + 1, updated_at = ")
            .push_bind(ts(now))
            .push(" WHERE id IN (SELECT id FROM jobs WHERE state = 'pending' AND run_at <= ")
            .push_bind(ts(now))
            .push(" AND (locked_until IS NULL OR locked_until <= ")
            .push_bind(ts(now))
            .push(")");
        if !kinds.is_empty() {
            qb.push(" AND kind IN ");
            push_list(&mut qb, kinds.iter().map(|k| (*k).to_owned()));
        }
        qb.push(" ORDER BY run_at, id LIMIT ").push_bind(limit).push(SKIP_LOCKED).push(") RETURNING ").push(JOB_COLS);
        let rows: Vec<JobTuple> = qb.build_query_as().fetch_all(&self.write).await?;
        let mut jobs = rows.into_iter().map(job_row).collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    async fn complete(&self, lease: &JobLease) -> Result<bool> {
        let mut conn = self.write.acquire().await?;
        Self::finish_job(&mut conn, lease).await
    }

    async fn retry(&self, lease: &JobLease, run_at: Timestamp, error: &str, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END, run_at = $1, \
             locked_until = NULL, locked_by = NULL, last_error = $2, updated_at = $3 WHERE id = $4 AND locked_by = $5",
        )
        .bind(ts(run_at))
        .bind(error.chars().take(2000).collect::<String>())
        .bind(ts(now))
        .bind(lease.id)
        .bind(&lease.token)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn reschedule(&self, lease: &JobLease, run_at: Timestamp, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET run_at = $1, locked_until = NULL, locked_by = NULL, attempts = 0, last_error = NULL, \
             updated_at = $2 WHERE id = $3 AND locked_by = $4",
        )
        .bind(ts(run_at))
        .bind(ts(now))
        .bind(lease.id)
        .bind(&lease.token)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_jobs(&self, kind: Option<&str>) -> Result<Vec<Job>> {
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {JOB_COLS} FROM jobs WHERE 1 = 1"));
        if let Some(k) = kind {
            qb.push(" AND kind = ").push_bind(k.to_owned());
        }
        qb.push(" ORDER BY id");
        let rows: Vec<JobTuple> = qb.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(job_row).collect()
    }
}
