//! Writing a batch in one transaction: the ticket rows and their index rows, events,
//! comments, counters, idempotency claims and what rules added (notes, notifications, jobs,
//! firings), outside or inside the group writer.

use super::*;

/// A ticket's columns that its index rows (tags, CCs, custom-field values) mirror, as stored.
pub(super) struct IndexedColumns {
    pub(super) tags: String,
    pub(super) cc_ids: String,
    pub(super) custom_fields: String,
}

impl SqlStore {
    pub(super) async fn insert_ticket(conn: &mut Conn, t: &Ticket, explicit_id: bool) -> Result<TicketId> {
        let sql = format!(
            "INSERT INTO tickets ({}subject, description, requester_id, organization_id, cc_ids, assignee_id, group_id, \
             status_id, status_category, channel, kind, priority, tags, due_at, category_id, custom_fields, merged_into_id, \
             version, created_at, updated_at, first_replied_at, solved_at, closed_at, status_changed_at, assigned_at, \
             last_customer_reply_at, last_agent_reply_at) \
             VALUES ({}{}) RETURNING id",
            if explicit_id { "id, " } else { "" },
            if explicit_id { "$28, " } else { "" },
            placeholders(1, 27)
        );
        let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.as_str()));
        q = bind_ticket!(q, t, bind, to_json(&t.cc_ids)?, to_json(&t.custom_fields)?);
        if explicit_id {
            q = q.bind(t.id.0);
        }
        Ok(TicketId(q.fetch_one(&mut *conn).await?))
    }

    pub(super) async fn update_ticket(conn: &mut Conn, t: &Ticket, expected: i64) -> Result<()> {
        let sql = "UPDATE tickets SET subject = $1, description = $2, requester_id = $3, organization_id = $4, cc_ids = $5, \
             assignee_id = $6, group_id = $7, status_id = $8, status_category = $9, channel = $10, kind = $11, priority = $12, \
             tags = $13, due_at = $14, category_id = $15, custom_fields = $16, merged_into_id = $17, version = $18, \
             created_at = $19, updated_at = $20, first_replied_at = $21, solved_at = $22, closed_at = $23, \
             status_changed_at = $24, assigned_at = $25, last_customer_reply_at = $26, last_agent_reply_at = $27 \
             WHERE id = $28 AND version = $29";
        let mut q = sqlx::query(sql);
        q = bind_ticket!(q, t, bind, to_json(&t.cc_ids)?, to_json(&t.custom_fields)?);
        let done = q.bind(t.id.0).bind(expected).execute(&mut *conn).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::VersionConflict);
        }
        Ok(())
    }

    /// Writes the tag, CC and custom-field index rows of a ticket: all of them for a new one;
    /// for an update only those whose column changed (most replies and updates change none,
    /// and each part saved is a delete and an insert on the one writer).
    pub(super) async fn index_ticket(conn: &mut Conn, t: &Ticket, before: Option<&IndexedColumns>) -> Result<()> {
        let cc = before.is_none_or(|b| b.cc_ids != to_json(&t.cc_ids).unwrap_or_default());
        let tags = before.is_none_or(|b| b.tags != t.tags.join(" "));
        let fields = before.is_none_or(|b| b.custom_fields != to_json(&t.custom_fields).unwrap_or_default());
        if before.is_some() {
            for (changed, table) in [(cc, "ticket_ccs"), (tags, "ticket_tags"), (fields, "ticket_field_values")] {
                if changed {
                    sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE ticket_id = $1")))
                        .bind(t.id.0)
                        .execute(&mut *conn)
                        .await?;
                }
            }
        }
        if cc {
            Self::insert_ccs(conn, std::iter::once((t.id.0, t))).await?;
        }
        if tags && !t.tags.is_empty() {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_tags (tag, ticket_id) ");
            qb.push_values(&t.tags, |mut b, tag| {
                b.push_bind(tag.clone()).push_bind(t.id.0);
            });
            qb.build().execute(&mut *conn).await?;
        }
        let values: Vec<(&String, String)> = if fields {
            t.custom_fields
                .iter()
                .flat_map(|(k, v)| field_value_texts(v).into_iter().map(move |text| (k, text)))
                .collect()
        } else {
            vec![]
        };
        if !values.is_empty() {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_field_values (ticket_id, field_key, value) ");
            qb.push_values(values, |mut b, (key, text)| {
                b.push_bind(t.id.0).push_bind(key.clone()).push_bind(text);
            });
            qb.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// The CC index rows of new tickets, given with their ids.
    pub(super) async fn insert_ccs(conn: &mut Conn, tickets: impl Iterator<Item = (i64, &Ticket)>) -> Result<()> {
        let pairs: Vec<(i64, i64)> = tickets.flat_map(|(id, t)| t.cc_ids.iter().map(move |u| (u.0, id))).collect();
        for part in pairs.chunks(5000) {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_ccs (user_id, ticket_id) ");
            qb.push_values(part, |mut b, (user, ticket)| {
                b.push_bind(*user).push_bind(*ticket);
            });
            qb.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    pub(super) async fn insert_events(
        conn: &mut Conn,
        ticket: TicketId,
        actor: Option<UserId>,
        via: Via,
        at: Timestamp,
        events: &[NewEvent],
    ) -> Result<()> {
        for e in events {
            sqlx::query(
                "INSERT INTO ticket_events (ticket_id, actor_id, via, kind, field, old_value, new_value, created_at, rule) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(ticket.0)
            .bind(actor.map(|a| a.0))
            .bind(e.via(via).as_str())
            .bind(e.kind.as_str())
            .bind(e.field.as_deref())
            .bind(e.old.as_deref())
            .bind(e.new.as_deref())
            .bind(ts(at))
            .bind(e.rule.as_deref())
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Adds a comment; its attachments must be unattached uploads of `uploader` (the acting
    /// user, who may write on the requester's behalf).
    pub(super) async fn insert_comment(
        conn: &mut Conn,
        ticket: TicketId,
        c: &NewComment,
        uploader: UserId,
        via: Via,
        at: Timestamp,
    ) -> Result<Comment> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO comments (ticket_id, author_id, public, body, html_body, via, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(ticket.0)
        .bind(c.author_id.0)
        .bind(c.public)
        .bind(&c.body)
        .bind(&c.html_body)
        .bind(via.as_str())
        .bind(ts(at))
        .fetch_one(&mut *conn)
        .await?;
        let mut attachments = Vec::new();
        for a in &c.attachment_ids {
            let done = sqlx::query(
                "UPDATE attachments SET comment_id = $1, ticket_id = $2 WHERE id = $3 AND uploader_id = $4 AND comment_id IS NULL",
            )
            .bind(id)
            .bind(ticket.0)
            .bind(a.0)
            .bind(uploader.0)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Invalid(format!("attachment {a} is not an unattached upload of yours")));
            }
            let row: AttachmentRow =
                sqlx::query_as(AssertSqlSafe(format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE id = $1")))
                    .bind(a.0)
                    .fetch_one(&mut *conn)
                    .await?;
            attachments.push(row.into_domain()?.0);
        }
        Ok(Comment {
            id: CommentId(id),
            ticket_id: ticket,
            author_id: c.author_id,
            public: c.public,
            body: c.body.clone(),
            html_body: c.html_body.clone(),
            via,
            attachments,
            created_at: at,
        })
    }

    /// Writes a batch: through the group-commit writer when it takes this kind of batch, else
    /// in a transaction of its own.
    pub(super) async fn write_batch(&self, batch: WriteBatch) -> Result<WriteResult> {
        if let Some((queue, grouped)) = &self.group_commit
            && (*grouped == Grouped::All || is_plain_create(&batch) || is_assigning_create(&batch))
        {
            let (done, result) = oneshot::channel();
            queue.send((batch, done)).await.map_err(|_| StoreError::Commit("the writer has stopped".into()))?;
            return result.await.map_err(|_| StoreError::Commit("the writer has stopped".into()))?;
        }
        if is_plain_create(&batch)
            && let Some(done) = plain_create(&self.write, &batch).await
        {
            return done;
        }
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        let r = Self::apply_batch(&mut tx, &batch).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Adds counter changes: one multi-row upsert in key order (keys are unique, as PostgreSQL
    /// refuses the same key twice in one upsert; zero changes are dropped).
    pub(super) async fn apply_counts(conn: &mut Conn, deltas: BTreeMap<CountKey, i64>) -> Result<()> {
        let rows: Vec<(CountKey, i64)> = deltas.into_iter().filter(|(_, n)| *n != 0).collect();
        for part in rows.chunks(1000) {
            let mut qb =
                QueryBuilder::<Db>::new("INSERT INTO ticket_counts (status_id, group_key, assignee_key, shard, n) ");
            qb.push_values(part, |mut b, (k, n)| {
                b.push_bind(k.0).push_bind(k.1).push_bind(k.2).push_bind(k.3).push_bind(*n);
            });
            qb.push(" ON CONFLICT (status_id, group_key, assignee_key, shard) DO UPDATE SET n = ticket_counts.n + excluded.n");
            qb.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Adds one to the counter of each newly inserted ticket.
    pub(super) async fn count_inserted<'a>(conn: &mut Conn, tickets: impl Iterator<Item = &'a Ticket>) -> Result<()> {
        let mut deltas: BTreeMap<CountKey, i64> = BTreeMap::new();
        for t in tickets {
            *deltas.entry(count_key(t)).or_default() += 1;
        }
        Self::apply_counts(conn, deltas).await
    }

    /// Rebuilds the queue counters from the tickets, with writers held off meanwhile: after an
    /// upgrade by several nodes, or whenever in doubt.
    pub(super) async fn recount(&self) -> Result<()> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        if let Some(lock) = LOCK_TICKETS {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM ticket_counts").execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO ticket_counts (status_id, group_key, assignee_key, shard, n) \
             SELECT status_id, COALESCE(group_id, 0), COALESCE(assignee_id, 0), id % $1, COUNT(*) FROM tickets \
             GROUP BY status_id, COALESCE(group_id, 0), COALESCE(assignee_id, 0), id % $1",
        )
        .bind(COUNT_SHARDS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records an idempotency key for the resource a transaction creates; a key used before
    /// fails with a unique violation (`IdempotencyReplay`), rolling the transaction back.
    pub(super) async fn insert_claim(
        conn: &mut Conn,
        claim: &IdempotencyClaim,
        kind: &str,
        id: i64,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, resource_kind, resource_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(claim.user_id.0)
        .bind(&claim.key)
        .bind(&claim.request_hash)
        .bind(kind)
        .bind(id)
        .bind(ts(at))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Applies one batch on a connection inside an open transaction.
    pub(super) async fn apply_batch(tx: &mut Conn, batch: &WriteBatch) -> Result<WriteResult> {
        // Rules that must read inside the transaction run first and fold into the batch.
        let ran;
        let batch = match &batch.flow {
            Some(run) => {
                ran = Self::run_flow(tx, batch, run).await?;
                &ran
            }
            None => batch,
        };
        let mut tickets: Vec<Ticket> = Vec::with_capacity(batch.writes.len());
        let mut comments = Vec::with_capacity(batch.writes.len());
        let mut counts: BTreeMap<CountKey, i64> = BTreeMap::new();
        for w in &batch.writes {
            let mut t = w.ticket.clone();
            match w.expected_version {
                None => {
                    t.id = Self::insert_ticket(tx, &t, false).await?;
                    *counts.entry(count_key(&t)).or_default() += 1;
                }
                Some(v) => {
                    // Read before the versioned update: if the update succeeds, no one changed
                    // the row in between, so these are the values the counters and the index
                    // rows hold.
                    type Old = (i64, Option<i64>, Option<i64>, String, String, String);
                    let old: Option<Old> = sqlx::query_as(AssertSqlSafe(format!(
                        "SELECT status_id, group_id, assignee_id, tags, cc_ids, custom_fields FROM tickets \
                         WHERE id = $1{FOR_UPDATE}"
                    )))
                    .bind(t.id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                    Self::update_ticket(tx, &t, v).await?;
                    let Some((status, group, assignee, tags, cc_ids, custom_fields)) = old else {
                        return Err(StoreError::VersionConflict);
                    };
                    let before = (status, group.unwrap_or(0), assignee.unwrap_or(0), t.id.0 % COUNT_SHARDS);
                    let after = count_key(&t);
                    if before != after {
                        *counts.entry(before).or_default() -= 1;
                        *counts.entry(after).or_default() += 1;
                    }
                    Self::index_ticket(tx, &t, Some(&IndexedColumns { tags, cc_ids, custom_fields })).await?;
                }
            }
            if w.expected_version.is_none() {
                Self::index_ticket(tx, &t, None).await?;
            }
            Self::insert_events(tx, t.id, batch.actor, batch.via, batch.at, &w.events).await?;
            let comment = match &w.comment {
                Some(c) => Some(
                    Self::insert_comment(tx, t.id, c, batch.actor.unwrap_or(c.author_id), batch.via, batch.at).await?,
                ),
                None => None,
            };
            comments.push(comment);
            tickets.push(t);
        }
        // Counter rows last and in key order, so concurrent batches lock them in one order.
        Self::apply_counts(tx, counts).await?;
        let resolve = |r: TicketRef| -> Result<TicketId> {
            match r {
                TicketRef::Id(id) => Ok(id),
                TicketRef::Batch(i) => tickets
                    .get(i)
                    .map(|t| t.id)
                    .ok_or_else(|| StoreError::Invalid(format!("no ticket #{i} in the batch"))),
            }
        };
        let mut links = Vec::new();
        for l in &batch.links {
            let (source, target) = (resolve(l.source)?, resolve(l.target)?);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO ticket_links (source_id, target_id, kind, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(source.0)
            .bind(target.0)
            .bind(l.kind.as_str())
            .bind(ts(batch.at))
            .fetch_one(&mut *tx)
            .await?;
            links.push(Link {
                id: LinkId(id),
                source_id: source,
                target_id: target,
                kind: l.kind,
                created_at: batch.at,
            });
        }
        for id in &batch.unlinks {
            sqlx::query("DELETE FROM ticket_links WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        }
        if let Some(claim) = &batch.idempotency {
            let (kind, id) = match claim.resource {
                ClaimedResource::Ticket(i) => ("ticket", tickets.get(i).map(|t| t.id.0)),
                ClaimedResource::Comment(i) => ("comment", comments.get(i).and_then(|c| c.as_ref()).map(|c| c.id.0)),
                ClaimedResource::User => ("user", None),
            };
            let id = id.ok_or_else(|| StoreError::Invalid("idempotency claim names nothing in the batch".into()))?;
            Self::insert_claim(tx, claim, kind, id, batch.at).await?;
        }
        if let Some(t) = tickets.first() {
            let comment = comments.first().and_then(|c| c.as_ref()).map(|c| c.id);
            for m in &batch.mail {
                Self::insert_mail(tx, m, t.id, comment, batch.at).await?;
            }
        }
        Self::write_extras(tx, batch, &tickets).await?;
        Ok(WriteResult { tickets, comments, links })
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
            let texts = n.texts.map(|text, _| number(text, ticket));
            let (from, key) = match n.to {
                Recipient::User(u) => ("(SELECT u.id AS user_id, u.language FROM users u WHERE u.id = $1) r", u.0),
                Recipient::Group(g) => (
                    "(SELECT m.user_id, u.language FROM group_members m JOIN users u ON u.id = m.user_id \
                     WHERE m.group_id = $1 AND u.active) r",
                    g.0,
                ),
            };
            // Each person reads the text in their language (Chinese for any but English).
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO notifications (user_id, ticket_id, rule, subject, body, created_at, mail) \
                 SELECT r.user_id, $2, $3, CASE WHEN r.language = 'en' THEN $4 ELSE $5 END, \
                 CASE WHEN r.language = 'en' THEN $6 ELSE $7 END, $8, $9 FROM {from}"
            )))
            .bind(key)
            .bind(ticket.map(|t| t.0))
            .bind(n.rule.as_deref())
            .bind(&texts.en.subject)
            .bind(&texts.zh_cn.subject)
            .bind(&texts.en.body)
            .bind(&texts.zh_cn.body)
            .bind(ts(batch.at))
            .bind(if n.mail { "pending" } else { "" })
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
}

/// A batch that only creates one ticket (with events, an opening comment without attachments,
/// tags and field values): the common case the group writer inserts many at a time.
pub(super) fn is_plain_create(b: &WriteBatch) -> bool {
    !b.has_extras() && creates_one(b)
}

/// A batch that creates one ticket and nothing beside it (no links, claims or attachments).
pub(super) fn creates_one(b: &WriteBatch) -> bool {
    b.writes.len() == 1
        && b.writes[0].expected_version.is_none()
        && b.writes[0].comment.as_ref().is_none_or(|c| c.attachment_ids.is_empty())
        && b.links.is_empty()
        && b.unlinks.is_empty()
        && b.idempotency.is_none()
}

/// A create whose rules assign it: the group writer decides a whole group of them over one
/// read of each roster (held locked until the group commits), where a transaction each would
/// take the rosters' locks one create at a time.
pub(super) fn is_assigning_create(b: &WriteBatch) -> bool {
    b.flow.is_some() && creates_one(b)
}
