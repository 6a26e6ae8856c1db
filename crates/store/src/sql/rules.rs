//! Triggers and automations: their rows, the ledger of firings, the candidates of a pass,
//! and running rules inside a write's transaction.

use super::*;

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
}

pub(super) type RuleRowTuple = (i64, String, String, String, String, bool, i64, bool, String, String, i64, i64);
pub(super) const RULE_COLS: &str =
    "id, kind, name, category, description, active, position, once, conditions, actions, created_at, updated_at";

pub(super) fn rule_row(r: RuleRowTuple) -> Result<RuleRow> {
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
}
