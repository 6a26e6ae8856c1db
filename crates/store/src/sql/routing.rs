//! Rosters for automatic assignment: read (and on PostgreSQL locked) inside the write that
//! assigns, and the turn each assignment takes.

use super::*;

/// Statuses whose tickets count toward an agent's load: work the agent still holds (pending
/// waits for the customer, solved is done).
pub(super) const LOAD_CATEGORIES: &str = "'new', 'open', 'on_hold'";

impl SqlStore {
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
    pub(super) async fn load_roster(tx: &mut Conn, group: GroupId) -> Result<Roster> {
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
}

/// What one writer decided so far in a group commit: the rosters it read (kept up to date by
/// each decision) and how many tickets it gave each agent (for rosters it reads later, whose
/// loads do not show them yet).
#[derive(Default)]
pub(super) struct Decisions {
    pub(super) rosters: BTreeMap<GroupId, Roster>,
    pub(super) taken: BTreeMap<UserId, i64>,
}
