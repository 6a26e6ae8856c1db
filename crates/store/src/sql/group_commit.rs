//! The group-commit writer: concurrent writes share one transaction and one commit.

use super::*;

impl SqlStore {
    /// Starts the group-commit writer and gives its queue. With `own_thread` (SQLite) it runs
    /// on a thread and runtime of its own: each of its statements is a hop to SQLite's thread
    /// and back, and on a busy node, waiting behind the request handlers for a worker at every
    /// hop made the writer, not the database, the limit on writes.
    pub(super) fn spawn_writer(pool: Pool<Db>, own_thread: bool) -> mpsc::Sender<QueuedWrite> {
        if own_thread && let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            let (tx, rx) = mpsc::channel(1024);
            let writer = pool.clone();
            let thread = std::thread::Builder::new().name("gongdan-writer".into());
            if thread.spawn(move || runtime.block_on(Self::group_commit(writer, rx))).is_ok() {
                return tx;
            }
        }
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(Self::group_commit(pool, rx));
        tx
    }

    /// The writer's loop: takes every batch waiting and commits them together (a batch that
    /// fails rolls back alone), so concurrent requests share one commit instead of each
    /// rewriting the same index pages.
    async fn group_commit(pool: Pool<Db>, mut queue: mpsc::Receiver<QueuedWrite>) {
        while let Some(first) = queue.recv().await {
            let mut jobs = vec![first];
            while jobs.len() < GROUP_MAX {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            // Alone and a plain create: the backend's one-statement create, if it has one.
            if jobs.len() == 1
                && is_plain_create(&jobs[0].0)
                && let Some(r) = plain_create(&pool, &jobs[0].0).await
            {
                if let Some((_, done)) = jobs.pop() {
                    let _ = done.send(r);
                }
                continue;
            }
            let mut outcome = Self::commit_group(&pool, &jobs).await;
            if matches!(outcome, Err(StoreError::VersionConflict)) {
                // A deadlock with another node's writer (their rosters locked in another
                // order): the group rolled back whole, and once more is nearly always enough.
                outcome = Self::commit_group(&pool, &jobs).await;
            }
            match outcome {
                Ok(results) => {
                    for ((_, done), r) in jobs.into_iter().zip(results) {
                        let _ = done.send(r);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, batches = jobs.len(), "group commit failed");
                    for (_, done) in jobs {
                        let _ = done.send(Err(StoreError::Commit(e.to_string())));
                    }
                }
            }
        }
    }

    pub(super) async fn commit_group(pool: &Pool<Db>, jobs: &[QueuedWrite]) -> Result<Vec<Result<WriteResult>>> {
        use sqlx::Connection;
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let mut results: Vec<Option<Result<WriteResult>>> = (0..jobs.len()).map(|_| None).collect();
        // Rules that assign decide first, one batch after another over one read of each
        // roster (this writer is the only one, so the rosters stay true while it holds them);
        // the batches they leave are ordinary writes, most of them plain creates.
        let mut decisions = Decisions::default();
        // The groups the creates land in, locked in id order before any decision, so two
        // nodes' writers never wait for each other's rosters in opposite orders (a rule that
        // routes elsewhere may still lock another one later).
        let mut landing: Vec<GroupId> = jobs
            .iter()
            .filter(|(b, _)| b.flow.is_some())
            .filter_map(|(b, _)| b.writes.first().and_then(|w| w.ticket.group_id))
            .collect();
        landing.sort();
        landing.dedup();
        for g in landing {
            Self::preload_roster(&mut tx, g, &mut decisions).await?;
        }
        let mut decided: Vec<Option<WriteBatch>> = (0..jobs.len()).map(|_| None).collect();
        for (i, (batch, _)) in jobs.iter().enumerate() {
            if let Some(run) = &batch.flow {
                match Self::run_flow_with(&mut tx, batch, run, &mut decisions).await {
                    Ok(b) => decided[i] = Some(b),
                    // A failed statement (a deadlock over a roster above all) aborts the whole
                    // transaction on PostgreSQL: the group goes back whole, to be retried.
                    Err(e @ (StoreError::Db(_) | StoreError::VersionConflict)) => return Err(e),
                    Err(e) => results[i] = Some(Err(e)),
                }
            }
        }
        let batch_of = |i: usize| decided[i].as_ref().unwrap_or(&jobs[i].0);
        // Plain creates go in together: a handful of multi-row statements for the whole group
        // instead of several round trips each. If that fails, each is retried on its own below.
        let plain: Vec<usize> =
            (0..jobs.len()).filter(|i| results[*i].is_none() && is_plain_create(batch_of(*i))).collect();
        if plain.len() > 1 {
            let batches: Vec<&WriteBatch> = plain.iter().map(|i| batch_of(*i)).collect();
            let mut savepoint = Connection::begin(&mut *tx).await?;
            match Self::insert_many(&mut savepoint, &batches).await {
                Ok(written) => {
                    savepoint.commit().await?;
                    for (i, r) in plain.iter().zip(written) {
                        results[*i] = Some(Ok(r));
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "grouped insert failed; writing one by one");
                    savepoint.rollback().await?;
                }
            }
        }
        // The rest under one savepoint: a savepoint each is two more round trips per batch on
        // the one writer, and batches seldom fail. If one does, all go back and each is written
        // under its own savepoint below, so the failure stays its own.
        let rest: Vec<usize> = (0..jobs.len()).filter(|i| results[*i].is_none()).collect();
        if rest.len() > 1 {
            let mut savepoint = Connection::begin(&mut *tx).await?;
            let mut written = Vec::with_capacity(rest.len());
            for i in &rest {
                match Self::apply_batch(&mut savepoint, batch_of(*i)).await {
                    Ok(r) => written.push(r),
                    Err(_) => break,
                }
            }
            if written.len() == rest.len() {
                savepoint.commit().await?;
                for (i, r) in rest.iter().zip(written) {
                    results[*i] = Some(Ok(r));
                }
            } else {
                savepoint.rollback().await?;
            }
        }
        for (i, slot) in results.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            let mut savepoint = Connection::begin(&mut *tx).await?;
            match Self::apply_batch(&mut savepoint, batch_of(i)).await {
                Ok(r) => {
                    savepoint.commit().await?;
                    *slot = Some(Ok(r));
                }
                Err(e) => {
                    savepoint.rollback().await?;
                    *slot = Some(Err(e));
                }
            }
        }
        tx.commit().await?;
        Ok(results.into_iter().map(|r| r.unwrap_or_else(|| Err(StoreError::Commit("batch skipped".into())))).collect())
    }

    /// Inserts several plain creates (see [`is_plain_create`]) with multi-row statements and
    /// explicit ids, which the backend hands out (`next_ids`). Only the group-commit writer calls
    /// this.
    pub(super) async fn insert_many(tx: &mut Conn, batches: &[&WriteBatch]) -> Result<Vec<WriteResult>> {
        let ticket_ids = next_ids(&mut *tx, "tickets", batches.len()).await?;
        let with_comment = batches.iter().filter(|b| b.writes[0].comment.is_some()).count();
        let mut comment_ids = next_ids(&mut *tx, "comments", with_comment).await?.into_iter();
        let mut tickets = Vec::with_capacity(batches.len());
        for (b, id) in batches.iter().zip(&ticket_ids) {
            let mut t = b.writes[0].ticket.clone();
            t.id = TicketId(*id);
            tickets.push(t);
        }
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO tickets (id, subject, description, requester_id, organization_id, cc_ids, assignee_id, group_id, \
             status_id, status_category, channel, kind, priority, tags, due_at, category_id, custom_fields, merged_into_id, \
             version, created_at, updated_at, first_replied_at, solved_at, closed_at, status_changed_at, assigned_at, \
             last_customer_reply_at, last_agent_reply_at) ",
        );
        let cells = tickets
            .iter()
            .map(|t| Ok((t, to_json(&t.cc_ids)?, to_json(&t.custom_fields)?)))
            .collect::<Result<Vec<_>>>()?;
        qb.push_values(&cells, |mut b, (t, cc, cf)| {
            bind_ticket!(b.push_bind(t.id.0), t, push_bind, cc.clone(), cf.clone());
        });
        qb.build().execute(&mut *tx).await?;
        Self::count_inserted(tx, tickets.iter()).await?;

        Self::insert_ccs(tx, tickets.iter().map(|t| (t.id.0, t))).await?;
        let tags: Vec<(i64, &String)> = tickets.iter().flat_map(|t| t.tags.iter().map(move |g| (t.id.0, g))).collect();
        if !tags.is_empty() {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_tags (tag, ticket_id) ");
            qb.push_values(&tags, |mut b, (id, tag)| {
                b.push_bind((*tag).clone()).push_bind(*id);
            });
            qb.build().execute(&mut *tx).await?;
        }
        let values: Vec<(i64, &String, String)> = tickets
            .iter()
            .flat_map(|t| {
                t.custom_fields
                    .iter()
                    .flat_map(move |(k, v)| field_value_texts(v).into_iter().map(move |x| (t.id.0, k, x)))
            })
            .collect();
        if !values.is_empty() {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_field_values (ticket_id, field_key, value) ");
            qb.push_values(&values, |mut b, (id, k, v)| {
                b.push_bind(*id).push_bind((*k).clone()).push_bind(v.clone());
            });
            qb.build().execute(&mut *tx).await?;
        }
        let events: Vec<(i64, &WriteBatch, &NewEvent)> = batches
            .iter()
            .zip(&tickets)
            .flat_map(|(b, t)| b.writes[0].events.iter().map(move |e| (t.id.0, *b, e)))
            .collect();
        if !events.is_empty() {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO ticket_events (ticket_id, actor_id, via, kind, field, old_value, new_value, created_at, rule) ",
            );
            qb.push_values(&events, |mut b, (id, batch, e)| {
                b.push_bind(*id)
                    .push_bind(batch.actor.map(|a| a.0))
                    .push_bind(e.via(batch.via).as_str())
                    .push_bind(e.kind.as_str())
                    .push_bind(e.field.clone())
                    .push_bind(e.old.clone())
                    .push_bind(e.new.clone())
                    .push_bind(ts(batch.at))
                    .push_bind(e.rule.clone());
            });
            qb.build().execute(&mut *tx).await?;
        }
        let mut comments: Vec<Option<Comment>> = Vec::with_capacity(batches.len());
        for (b, t) in batches.iter().zip(&tickets) {
            let comment = match &b.writes[0].comment {
                Some(c) => {
                    let id = comment_ids.next().ok_or_else(|| StoreError::Invalid("no comment id".into()))?;
                    Some(c.written(CommentId(id), t.id, b.via, b.at))
                }
                None => None,
            };
            comments.push(comment);
        }
        let rows: Vec<&Comment> = comments.iter().flatten().collect();
        if !rows.is_empty() {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO comments (id, ticket_id, author_id, public, body, html_body, via, created_at) ",
            );
            qb.push_values(&rows, |mut b, c| {
                b.push_bind(c.id.0)
                    .push_bind(c.ticket_id.0)
                    .push_bind(c.author_id.0)
                    .push_bind(c.public)
                    .push_bind(c.body.clone())
                    .push_bind(c.html_body.clone())
                    .push_bind(c.via.as_str())
                    .push_bind(ts(c.created_at));
            });
            qb.build().execute(&mut *tx).await?;
        }
        for b in batches {
            if let Some((group, agent)) = b.assigned {
                Self::take_turn(tx, group, agent).await?;
            }
        }
        Ok(tickets
            .into_iter()
            .zip(comments)
            .map(|(t, c)| WriteResult { tickets: vec![t], comments: vec![c], links: vec![] })
            .collect())
    }
}
