//! Ticket listings as SQL: the scope and filters, the counter filters, the sort and the
//! merged slices that let the queue indexes serve a listing over several categories or groups.

use super::*;

/// The counter-table version of the filters `TicketQuery::total_from_counters` allows.
pub(super) fn push_count_filters(qb: &mut QueryBuilder<Db>, q: &TicketQuery) {
    if let TicketScope::Groups { groups, assignee } = &q.scope {
        push_group_scope(qb, "c.assignee_key", "c.group_key", groups, *assignee);
    }
    if !q.status_categories.is_empty() {
        // A hashed lookup of a handful of status ids; cheaper per counter row than a join.
        qb.push(" AND c.status_id IN (SELECT id FROM statuses WHERE category IN ");
        push_list(qb, q.status_categories.iter().map(|c| c.as_str()));
        qb.push(")");
    }
    push_in(qb, "c.status_id", q.status_ids.iter().map(|s| s.0));
    push_in(qb, "c.group_key", q.group_ids.iter().map(|g| g.0));
    if let Some(a) = q.assignee {
        qb.push(" AND c.assignee_key = ").push_bind(a.map_or(0, |a| a.0));
    }
}

/// A value the filters bind.
pub(super) trait Bindable: for<'q> sqlx::Encode<'q, Db> + sqlx::Type<Db> + Send + 'static {}
impl<T: for<'q> sqlx::Encode<'q, Db> + sqlx::Type<Db> + Send + 'static> Bindable for T {}

/// `(a, b, …)` with each item bound.
pub(super) fn push_list<T: Bindable>(qb: &mut QueryBuilder<Db>, items: impl IntoIterator<Item = T>) {
    qb.push("(");
    let mut sep = qb.separated(", ");
    for item in items {
        sep.push_bind(item);
    }
    qb.push(")");
}

/// ` AND {col} IN (…)` over `items`; nothing for no items (an empty filter means "any").
pub(super) fn push_in<T: Bindable>(qb: &mut QueryBuilder<Db>, col: &str, items: impl IntoIterator<Item = T>) {
    let mut items = items.into_iter().peekable();
    if items.peek().is_some() {
        qb.push(format!(" AND {col} IN "));
        push_list(qb, items);
    }
}

/// A group-restricted agent's scope: assigned to them, or in one of their groups.
pub(super) fn push_group_scope(
    qb: &mut QueryBuilder<Db>,
    assignee_col: &str,
    group_col: &str,
    groups: &[GroupId],
    assignee: UserId,
) {
    qb.push(format!(" AND ({assignee_col} = ")).push_bind(assignee.0);
    if !groups.is_empty() {
        qb.push(format!(" OR {group_col} IN "));
        push_list(qb, groups.iter().map(|g| g.0));
    }
    qb.push(")");
}

impl SqlStore {
    pub(super) fn push_ticket_filters(qb: &mut QueryBuilder<Db>, q: &TicketQuery) {
        match &q.scope {
            TicketScope::All => {}
            TicketScope::Groups { groups, assignee } => {
                push_group_scope(qb, "t.assignee_id", "t.group_id", groups, *assignee)
            }
            TicketScope::Requester { user, organization } => {
                qb.push(" AND (t.requester_id = ").push_bind(user.0);
                if let Some(org) = organization {
                    qb.push(" OR t.organization_id = ").push_bind(org.0);
                }
                qb.push(" OR t.id IN (SELECT c.ticket_id FROM ticket_ccs c WHERE c.user_id = ")
                    .push_bind(user.0)
                    .push("))");
            }
        }
        push_in(qb, "t.status_category", q.status_categories.iter().map(|c| c.as_str()));
        push_in(qb, "t.status_id", q.status_ids.iter().map(|s| s.0));
        push_in(qb, "t.group_id", q.group_ids.iter().map(|g| g.0));
        push_in(qb, "t.category_id", q.category_ids.iter().map(|c| c.0));
        push_in(qb, "t.priority", q.priorities.iter().map(|p| p.rank()));
        push_in(qb, "t.channel", q.channels.iter().map(|c| c.as_str()));
        match q.assignee {
            Some(Some(a)) => {
                qb.push(" AND t.assignee_id = ").push_bind(a.0);
            }
            Some(None) => {
                qb.push(" AND t.assignee_id IS NULL");
            }
            None => {}
        }
        if let Some(r) = q.requester_id {
            qb.push(" AND t.requester_id = ").push_bind(r.0);
        }
        if let Some(o) = q.organization_id {
            qb.push(" AND t.organization_id = ").push_bind(o.0);
        }
        if let Some(tag) = &q.tag {
            qb.push(" AND EXISTS (SELECT 1 FROM ticket_tags g WHERE g.ticket_id = t.id AND g.tag = ")
                .push_bind(tag.clone())
                .push(")");
        }
        if let Some((key, value)) = &q.custom_field {
            qb.push(" AND EXISTS (SELECT 1 FROM ticket_field_values v WHERE v.ticket_id = t.id AND v.field_key = ")
                .push_bind(key.clone())
                .push(" AND v.value = ")
                .push_bind(value.clone())
                .push(")");
        }
        for (col, op, v) in [
            ("t.created_at", ">=", q.created_after),
            ("t.created_at", "<", q.created_before),
            ("t.updated_at", ">=", q.updated_after),
            ("t.updated_at", "<", q.updated_before),
        ] {
            if let Some(v) = v {
                qb.push(format!(" AND {col} {op} ")).push_bind(ts(v));
            }
        }
        if !q.include_merged {
            qb.push(" AND t.merged_into_id IS NULL");
        }
    }
}

/// Slices of a listing sorted by update time that spans several status categories or groups.
/// The queue indexes (`status_category, group_id, updated_at`, `assignee_id, status_category,
/// updated_at`, `status_category, updated_at`) order one slice, not a union of them: over an
/// `IN` list the database would read every matching row and sort them. One slice per
/// (category, group) pair is read in index order, a page at most each, and merged.
pub(super) fn merge_slices(q: &TicketQuery) -> Option<Vec<TicketQuery>> {
    const MAX_SLICES: usize = 24;
    if !matches!(q.sort, TicketSort::UpdatedDesc | TicketSort::UpdatedAsc) || !q.status_ids.is_empty() {
        return None;
    }
    // A value named twice must not make two slices (every row would come twice).
    let mut cats = q.status_categories.clone();
    cats.sort();
    cats.dedup();
    let mut groups = q.group_ids.clone();
    groups.sort();
    groups.dedup();
    if (cats.len() <= 1 && groups.len() <= 1) || cats.len().max(1) * groups.len().max(1) > MAX_SLICES {
        return None;
    }
    let cats: Vec<Vec<StatusCategory>> =
        if cats.is_empty() { vec![vec![]] } else { cats.iter().map(|c| vec![*c]).collect() };
    let groups: Vec<Vec<GroupId>> =
        if groups.is_empty() { vec![vec![]] } else { groups.iter().map(|g| vec![*g]).collect() };
    let mut out = Vec::with_capacity(cats.len() * groups.len());
    for c in &cats {
        for g in &groups {
            let mut slice = q.clone();
            slice.status_categories = c.clone();
            slice.group_ids = g.clone();
            slice.cursor = None;
            out.push(slice);
        }
    }
    Some(out)
}

/// The sort expression, its direction and how a row's key is read back for the cursor.
pub(super) fn sort_spec(sort: TicketSort) -> (&'static str, bool) {
    match sort {
        TicketSort::UpdatedDesc => ("t.updated_at", true),
        TicketSort::UpdatedAsc => ("t.updated_at", false),
        TicketSort::CreatedDesc => ("t.created_at", true),
        TicketSort::CreatedAsc => ("t.created_at", false),
        TicketSort::PriorityDesc => ("t.priority", true),
        TicketSort::DueAsc => ("COALESCE(t.due_at, 9223372036854775807)", false),
    }
}

pub(super) fn sort_key(t: &Ticket, sort: TicketSort) -> i64 {
    match sort {
        TicketSort::UpdatedDesc | TicketSort::UpdatedAsc => ts(t.updated_at),
        TicketSort::CreatedDesc | TicketSort::CreatedAsc => ts(t.created_at),
        TicketSort::PriorityDesc => t.priority.rank(),
        TicketSort::DueAsc => t.due_at.map(ts).unwrap_or(i64::MAX),
    }
}
