//! Tickets, their comments, events and links.

use super::*;

impl SqlStore {
    pub(super) async fn attachments_for(&self, comment_ids: &[i64]) -> Result<BTreeMap<i64, Vec<Attachment>>> {
        let mut out: BTreeMap<i64, Vec<Attachment>> = BTreeMap::new();
        if comment_ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT {ATTACHMENT_COLS} FROM attachments WHERE comment_id IN ({}) ORDER BY id",
            placeholders(1, comment_ids.len())
        );
        let mut q = sqlx::query_as::<_, AttachmentRow>(AssertSqlSafe(sql.as_str()));
        for id in comment_ids {
            q = q.bind(id);
        }
        for row in q.fetch_all(&self.read).await? {
            let (a, _) = row.into_domain()?;
            if let Some(c) = a.comment_id {
                out.entry(c.0).or_default().push(a);
            }
        }
        Ok(out)
    }

    pub(super) async fn comments_from_rows(&self, rows: Vec<CommentRow>) -> Result<Vec<Comment>> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut files = self.attachments_for(&ids).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Comment {
                    id: CommentId(r.id),
                    ticket_id: TicketId(r.ticket_id),
                    author_id: UserId(r.author_id),
                    public: r.public,
                    body: r.body,
                    html_body: r.html_body,
                    via: Via::parse(&r.via, "via").map_err(corrupt)?,
                    attachments: files.remove(&r.id).unwrap_or_default(),
                    created_at: from_ts(r.created_at)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl TicketStore for SqlStore {
    async fn write(&self, batch: WriteBatch) -> Result<WriteResult> {
        self.write_batch(batch).await
    }

    async fn get_ticket(&self, id: TicketId) -> Result<Option<Ticket>> {
        let row: Option<TicketRow> =
            sqlx::query_as(AssertSqlSafe(format!("SELECT {TICKET_COLS} FROM {TICKET_FROM} WHERE t.id = $1")))
                .bind(id.0)
                .fetch_optional(&self.read)
                .await?;
        row.map(Ticket::try_from).transpose()
    }

    async fn list_tickets(&self, q: &TicketQuery) -> Result<Page<Ticket>> {
        let (key, desc) = sort_spec(q.sort);
        let dir = if desc { "DESC" } else { "ASC" };
        let cursor = |qb: &mut QueryBuilder<Db>| {
            if let Some(c) = &q.cursor {
                qb.push(format!(" AND ({key}, t.id) {} (", if desc { "<" } else { ">" }))
                    .push_bind(c.key)
                    .push(", ")
                    .push_bind(c.id)
                    .push(")");
            }
        };
        let rows: Vec<TicketRow> = if q.limit <= 0 {
            // Only the total is wanted (a view's count).
            vec![]
        } else if let Some(slices) = merge_slices(q) {
            // Each slice is read in index order up to a page, then the slices are merged.
            let mut qb = QueryBuilder::<Db>::new("");
            for (i, slice) in slices.iter().enumerate() {
                if i > 0 {
                    qb.push(" UNION ALL ");
                }
                qb.push(format!("SELECT * FROM (SELECT {TICKET_COLS} FROM {TICKET_FROM} WHERE 1 = 1"));
                Self::push_ticket_filters(&mut qb, slice);
                cursor(&mut qb);
                qb.push(format!(" ORDER BY {key} {dir}, t.id {dir} LIMIT ")).push_bind(q.limit + 1);
                qb.push(format!(") s{i}"));
            }
            qb.push(format!(" ORDER BY updated_at {dir}, id {dir} LIMIT ")).push_bind(q.limit + 1);
            qb.build_query_as().fetch_all(&self.read).await?
        } else {
            let mut qb = QueryBuilder::<Db>::new(format!("SELECT {TICKET_COLS} FROM {TICKET_FROM} WHERE 1 = 1"));
            Self::push_ticket_filters(&mut qb, q);
            cursor(&mut qb);
            qb.push(format!(" ORDER BY {key} {dir}, t.id {dir} LIMIT ")).push_bind(q.limit + 1);
            qb.build_query_as().fetch_all(&self.read).await?
        };
        let mut items = rows.into_iter().map(Ticket::try_from).collect::<Result<Vec<_>>>()?;
        let next_cursor = if items.len() as i64 > q.limit {
            items.truncate(q.limit.max(0) as usize);
            items.last().map(|t| Cursor { sort: q.sort.name().to_owned(), key: sort_key(t, q.sort), id: t.id.0 })
        } else {
            None
        };
        let total = if q.with_total && q.total_from_counters() {
            // Queue totals come from the counters: a handful of rows, however long the queue.
            let mut cq = QueryBuilder::<Db>::new(
                "SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM ticket_counts c WHERE 1 = 1",
            );
            push_count_filters(&mut cq, q);
            Some(cq.build_query_scalar::<i64>().fetch_one(&self.read).await?)
        } else if q.with_total {
            let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM tickets t WHERE 1 = 1");
            Self::push_ticket_filters(&mut cq, q);
            Some(cq.build_query_scalar::<i64>().fetch_one(&self.read).await?)
        } else {
            None
        };
        Ok(Page { items, next_cursor, total })
    }

    async fn count_tickets(&self, queries: &[TicketQuery]) -> Result<Vec<i64>> {
        let counted: Vec<usize> = (0..queries.len()).filter(|i| queries[*i].total_from_counters()).collect();
        let mut out = vec![0; queries.len()];
        if !counted.is_empty() {
            // One scan of the counters (a few rows per status, group and agent), one conditional
            // sum per query: cheaper than a lookup per query (measured on both engines).
            let mut qb = QueryBuilder::<Db>::new("SELECT ");
            for (n, i) in counted.iter().enumerate() {
                if n > 0 {
                    qb.push(", ");
                }
                qb.push("CAST(COALESCE(SUM(CASE WHEN 1 = 1");
                push_count_filters(&mut qb, &queries[*i]);
                qb.push(" THEN c.n ELSE 0 END), 0) AS BIGINT)");
            }
            qb.push(" FROM ticket_counts c");
            let row = qb.build().fetch_one(&self.read).await?;
            for (n, i) in counted.iter().enumerate() {
                out[*i] = sqlx::Row::try_get::<i64, _>(&row, n)?;
            }
        }
        // Other filters count the rows they match, through their index, up to a cap: a view
        // total must never cost a scan of the desk.
        for (i, q) in queries.iter().enumerate().filter(|(i, _)| !counted.contains(i)) {
            let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM (SELECT 1 FROM tickets t WHERE 1 = 1");
            Self::push_ticket_filters(&mut cq, q);
            cq.push(" LIMIT ").push_bind(VIEW_COUNT_CAP + 1).push(") x");
            out[i] = cq.build_query_scalar::<i64>().fetch_one(&self.read).await?;
        }
        Ok(out)
    }

    async fn open_children(&self, id: TicketId) -> Result<usize> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM ticket_links l JOIN tickets c ON c.id = l.target_id \
             WHERE l.source_id = $1 AND l.kind = 'parent' AND c.status_category NOT IN ('solved', 'closed')",
        )
        .bind(id.0)
        .fetch_one(&self.read)
        .await?;
        Ok(n.max(0) as usize)
    }

    async fn parent_chain(&self, id: TicketId) -> Result<Vec<TicketId>> {
        let mut out = Vec::new();
        let mut cur = id;
        // Bounded: links are checked for cycles on insert, this guards corrupt data.
        for _ in 0..64 {
            let parent: Option<i64> = sqlx::query_scalar(
                "SELECT source_id FROM ticket_links WHERE target_id = $1 AND kind = 'parent' ORDER BY id LIMIT 1",
            )
            .bind(cur.0)
            .fetch_optional(&self.read)
            .await?;
            match parent {
                Some(p) if !out.contains(&TicketId(p)) => {
                    out.push(TicketId(p));
                    cur = TicketId(p);
                }
                _ => break,
            }
        }
        Ok(out)
    }

    async fn merged_into(&self, id: TicketId) -> Result<Vec<TicketId>> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM tickets WHERE merged_into_id = $1 ORDER BY id")
            .bind(id.0)
            .fetch_all(&self.read)
            .await?;
        Ok(ids.into_iter().map(TicketId).collect())
    }

    async fn list_comments(
        &self,
        tickets: &[TicketId],
        include_internal: bool,
        after: Option<CommentId>,
        limit: i64,
    ) -> Result<Vec<Comment>> {
        if tickets.is_empty() {
            return Ok(vec![]);
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, ticket_id, author_id, public, body, html_body, via, created_at FROM comments WHERE ticket_id IN (",
        );
        let mut sep = qb.separated(", ");
        for t in tickets {
            sep.push_bind(t.0);
        }
        qb.push(")");
        if !include_internal {
            qb.push(" AND public = ").push_bind(true);
        }
        if let Some(a) = after {
            qb.push(" AND id > ").push_bind(a.0);
        }
        qb.push(" ORDER BY id LIMIT ").push_bind(limit);
        let rows: Vec<CommentRow> = qb.build_query_as().fetch_all(&self.read).await?;
        self.comments_from_rows(rows).await
    }

    async fn get_comment(&self, id: CommentId) -> Result<Option<Comment>> {
        let rows: Vec<CommentRow> = sqlx::query_as(
            "SELECT id, ticket_id, author_id, public, body, html_body, via, created_at FROM comments WHERE id = $1",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        Ok(self.comments_from_rows(rows).await?.pop())
    }

    async fn list_events(&self, ticket: TicketId, after: Option<EventId>, limit: i64) -> Result<Vec<Event>> {
        type Row = (
            i64,
            i64,
            Option<i64>,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, ticket_id, actor_id, via, kind, field, old_value, new_value, created_at, rule FROM ticket_events \
             WHERE ticket_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(ticket.0)
        .bind(after.map(|a| a.0).unwrap_or(0))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, ticket_id, actor, via, kind, field, old_value, new_value, at, rule)| {
                Ok(Event {
                    id: EventId(id),
                    ticket_id: TicketId(ticket_id),
                    actor_id: actor.map(UserId),
                    via: Via::parse(&via, "via").map_err(corrupt)?,
                    kind: EventKind::parse(&kind, "kind").map_err(corrupt)?,
                    field,
                    old_value,
                    new_value,
                    rule,
                    created_at: from_ts(at)?,
                })
            })
            .collect()
    }

    async fn list_links(&self, ticket: TicketId) -> Result<Vec<Link>> {
        let rows: Vec<LinkRow> = sqlx::query_as(
            "SELECT id, source_id, target_id, kind, created_at FROM ticket_links WHERE source_id = $1 OR target_id = $1 ORDER BY id",
        )
        .bind(ticket.0)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(Link::try_from).collect()
    }

    async fn get_link(&self, id: LinkId) -> Result<Option<Link>> {
        let row: Option<LinkRow> =
            sqlx::query_as("SELECT id, source_id, target_id, kind, created_at FROM ticket_links WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&self.read)
                .await?;
        row.map(Link::try_from).transpose()
    }

    async fn bulk_import(&self, tickets: &[Ticket], comments: &[Vec<NewComment>], via: Via) -> Result<()> {
        const TICKETS_PER_STATEMENT: usize = 400;
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        if let Some(lock) = LOCK_TICKETS {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        let next: i64 = sqlx::query_scalar(NEXT_TICKET_ID).fetch_one(&mut *tx).await?;
        let mut id = next;
        for (chunk_no, chunk) in tickets.chunks(TICKETS_PER_STATEMENT).enumerate() {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO tickets (id, subject, description, requester_id, organization_id, cc_ids, assignee_id, group_id, \
                 status_id, status_category, channel, kind, priority, tags, due_at, category_id, custom_fields, merged_into_id, \
                 version, created_at, updated_at, first_replied_at, solved_at, closed_at, status_changed_at, assigned_at, \
                 last_customer_reply_at, last_agent_reply_at) ",
            );
            let first_id = id;
            let cells = chunk
                .iter()
                .map(|t| Ok((t, to_json(&t.cc_ids)?, to_json(&t.custom_fields)?)))
                .collect::<Result<Vec<_>>>()?;
            qb.push_values(cells.iter().enumerate(), |mut b, (i, (t, cc, cf))| {
                bind_ticket!(b.push_bind(first_id + i as i64), t, push_bind, cc.clone(), cf.clone());
            });
            qb.build().execute(&mut *tx).await?;

            let ids: Vec<(i64, &Ticket)> = chunk.iter().enumerate().map(|(i, t)| (first_id + i as i64, t)).collect();
            let counted: Vec<Ticket> = ids.iter().map(|(id, t)| Ticket { id: TicketId(*id), ..(*t).clone() }).collect();
            Self::count_inserted(&mut tx, counted.iter()).await?;
            Self::insert_ccs(&mut tx, ids.iter().map(|(id, t)| (*id, *t))).await?;
            let tags: Vec<(i64, &String)> =
                ids.iter().flat_map(|(id, t)| t.tags.iter().map(move |g| (*id, g))).collect();
            for part in tags.chunks(5000) {
                let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_tags (tag, ticket_id) ");
                qb.push_values(part, |mut b, (id, tag)| {
                    b.push_bind((*tag).clone()).push_bind(*id);
                });
                qb.build().execute(&mut *tx).await?;
            }
            let values: Vec<(i64, &String, String)> = ids
                .iter()
                .flat_map(|(id, t)| {
                    t.custom_fields
                        .iter()
                        .flat_map(move |(k, v)| field_value_texts(v).into_iter().map(move |x| (*id, k, x)))
                })
                .collect();
            for part in values.chunks(5000) {
                let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_field_values (ticket_id, field_key, value) ");
                qb.push_values(part, |mut b, (id, k, v)| {
                    b.push_bind(*id).push_bind((*k).clone()).push_bind(v.clone());
                });
                qb.build().execute(&mut *tx).await?;
            }
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO ticket_events (ticket_id, actor_id, via, kind, field, old_value, new_value, created_at) ",
            );
            qb.push_values(&ids, |mut b, (id, t)| {
                b.push_bind(*id)
                    .push_bind(t.requester_id.0)
                    .push_bind(via.as_str())
                    .push_bind(EventKind::Created.as_str())
                    .push_bind(None::<String>)
                    .push_bind(None::<String>)
                    .push_bind(Some(t.status.key.clone()))
                    .push_bind(ts(t.created_at));
            });
            qb.build().execute(&mut *tx).await?;

            let base = chunk_no * TICKETS_PER_STATEMENT;
            let rows: Vec<(i64, &NewComment, i64)> = ids
                .iter()
                .enumerate()
                .flat_map(|(i, (id, t))| {
                    let at = ts(t.created_at);
                    comments
                        .get(base + i)
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(move |(n, c)| (*id, c, at + n as i64 * 60_000_000))
                })
                .collect();
            for part in rows.chunks(2000) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO comments (ticket_id, author_id, public, body, html_body, via, created_at) ",
                );
                qb.push_values(part, |mut b, (id, c, at)| {
                    b.push_bind(*id)
                        .push_bind(c.author_id.0)
                        .push_bind(c.public)
                        .push_bind(c.body.clone())
                        .push_bind(c.html_body.clone())
                        .push_bind(via.as_str())
                        .push_bind(*at);
                });
                qb.build().execute(&mut *tx).await?;
            }
            id += chunk.len() as i64;
        }
        if let Some(sql) = RESEED_TICKETS {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
