//! Who gets a ticket when a group hands it out by itself: round-robin, least-loaded and
//! skills-based, each optionally limited to agents who are online, never past an agent's
//! capacity, with a VIP customer's account manager first. Pure: the caller brings the roster
//! (read under a lock, so two decisions never see the same free slot).

use crate::Code;
use crate::error::DomainError;
use crate::ids::{GroupId, UserId};
use crate::str_enum;

str_enum!(
    /// How a group hands out the tickets that land in it unassigned.
    Assignment { Manual = "manual", RoundRobin = "round_robin", LeastLoaded = "least_loaded", Skills = "skills" }
);
str_enum!(
    /// An agent's presence: away and offline agents get nothing new from groups that ask
    /// for online agents.
    Availability { Online = "online", Away = "away", Offline = "offline" }
);

/// Largest capacity an agent may be given (open tickets at once).
pub const CAPACITY_MAX: i64 = 10_000;

pub fn validate_capacity(capacity: Option<i64>) -> Result<Option<i64>, DomainError> {
    match capacity {
        Some(c) if !(0..=CAPACITY_MAX).contains(&c) => {
            Err(DomainError::invalid("capacity", Code::InvalidValue, format!("capacity is 0–{CAPACITY_MAX}, or null")))
        }
        other => Ok(other),
    }
}

/// An agent as the assignment sees them at the moment of the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: UserId,
    pub availability: Availability,
    /// Open tickets this agent takes at most; `None` is unlimited.
    pub capacity: Option<i64>,
    /// Tickets assigned to them now, in statuses that count toward load.
    pub load: i64,
    /// Skills and languages, lower-cased.
    pub skills: Vec<String>,
    /// The group's round-robin counter when they last got a ticket from it (0: never).
    pub last_assigned: i64,
}

impl Member {
    fn has_room(&self) -> bool {
        self.capacity.is_none_or(|c| self.load < c)
    }
}

/// A group's assignment settings with its active agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    pub group: GroupId,
    pub strategy: Assignment,
    pub online_only: bool,
    pub members: Vec<Member>,
}

/// What the ticket asks of its agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Skills the ticket calls for (the requester's language, `vip`, products named by its
    /// tags or fields), lower-cased.
    pub skills: Vec<String>,
    /// The requester's dedicated account manager, who gets the ticket first when they can.
    pub account_manager: Option<UserId>,
}

impl Roster {
    fn eligible(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.has_room() && (!self.online_only || m.availability == Availability::Online))
    }

    /// The agent this group's strategy picks, or `None` (manual, or nobody has room).
    pub fn pick(&self, needs: &Needs) -> Option<UserId> {
        if self.strategy == Assignment::Manual {
            return None;
        }
        if let Some(manager) = needs.account_manager
            && let Some(m) = self.eligible().find(|m| m.id == manager)
        {
            return Some(m.id);
        }
        // Longest since their last ticket from this group first; ids break ties, so the
        // order is the same on every node.
        let rr = |m: &Member| (m.last_assigned, m.id);
        let chosen = match self.strategy {
            Assignment::Manual => None,
            Assignment::RoundRobin => self.eligible().min_by_key(|m| rr(m)),
            Assignment::LeastLoaded => self.eligible().min_by(|a, b| load_order(a, b).then(rr(a).cmp(&rr(b)))),
            Assignment::Skills => {
                let score = |m: &Member| needs.skills.iter().filter(|s| m.skills.contains(s)).count();
                let best = self.eligible().map(score).max()?;
                self.eligible().filter(|m| score(m) == best).min_by(|a, b| load_order(a, b).then(rr(a).cmp(&rr(b))))
            }
        };
        chosen.map(|m| m.id)
    }
}

/// Fuller agents last: load as a share of capacity (compared without division), an
/// unlimited agent counting as having room for everything.
fn load_order(a: &Member, b: &Member) -> std::cmp::Ordering {
    let cap = |m: &Member| i128::from(m.capacity.unwrap_or(CAPACITY_MAX * 100).max(1));
    (i128::from(a.load) * cap(b)).cmp(&(i128::from(b.load) * cap(a)))
}

/// The language skill a requester's language asks for (`zh-CN` → `zh`).
pub fn language_skill(language: &str) -> String {
    language.split(['-', '_']).next().unwrap_or(language).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: i64, load: i64, capacity: Option<i64>, last: i64) -> Member {
        Member {
            id: UserId(id),
            availability: Availability::Online,
            capacity,
            load,
            skills: vec![],
            last_assigned: last,
        }
    }

    fn roster(strategy: Assignment, members: Vec<Member>) -> Roster {
        Roster { group: GroupId(1), strategy, online_only: false, members }
    }

    #[test]
    fn manual_groups_pick_nobody() {
        let r = roster(Assignment::Manual, vec![member(1, 0, None, 0)]);
        assert_eq!(r.pick(&Needs::default()), None);
    }

    #[test]
    fn round_robin_takes_turns_and_skips_full_agents() {
        let mut r = roster(
            Assignment::RoundRobin,
            vec![member(1, 0, Some(2), 5), member(2, 0, Some(2), 3), member(3, 2, Some(2), 1)],
        );
        // 3 is full; 2 waited longest among the rest.
        assert_eq!(r.pick(&Needs::default()), Some(UserId(2)));
        r.members[1].last_assigned = 6;
        assert_eq!(r.pick(&Needs::default()), Some(UserId(1)));
        for m in &mut r.members {
            m.load = 2;
        }
        assert_eq!(r.pick(&Needs::default()), None, "everyone at capacity");
    }

    #[test]
    fn least_loaded_weighs_load_against_capacity() {
        let r = roster(Assignment::LeastLoaded, vec![member(1, 4, Some(10), 0), member(2, 1, Some(2), 0)]);
        // 40% vs 50%: agent 1 has more room relative to what they take.
        assert_eq!(r.pick(&Needs::default()), Some(UserId(1)));
        let r = roster(Assignment::LeastLoaded, vec![member(1, 3, Some(10), 2), member(2, 3, Some(10), 1)]);
        assert_eq!(r.pick(&Needs::default()), Some(UserId(2)), "ties go round-robin");
    }

    #[test]
    fn skills_prefer_the_best_match_then_the_least_loaded() {
        let mut a = member(1, 0, None, 0);
        a.skills = vec!["en".into()];
        let mut b = member(2, 5, None, 0);
        b.skills = vec!["zh".into(), "billing".into()];
        let mut c = member(3, 1, None, 0);
        c.skills = vec!["zh".into(), "billing".into()];
        let r = roster(Assignment::Skills, vec![a, b, c]);
        let needs = Needs { skills: vec!["zh".into(), "billing".into()], account_manager: None };
        assert_eq!(r.pick(&needs), Some(UserId(3)));
        let needs = Needs { skills: vec!["en".into()], account_manager: None };
        assert_eq!(r.pick(&needs), Some(UserId(1)));
        // Nobody matches: the least loaded of everyone.
        let needs = Needs { skills: vec!["fr".into()], account_manager: None };
        assert_eq!(r.pick(&needs), Some(UserId(1)));
    }

    #[test]
    fn online_only_groups_skip_away_and_offline_agents() {
        let mut away = member(1, 0, None, 0);
        away.availability = Availability::Away;
        let mut off = member(2, 0, None, 0);
        off.availability = Availability::Offline;
        let mut r = roster(Assignment::RoundRobin, vec![away, off, member(3, 9, None, 9)]);
        r.online_only = true;
        assert_eq!(r.pick(&Needs::default()), Some(UserId(3)));
        r.members.pop();
        assert_eq!(r.pick(&Needs::default()), None);
        r.online_only = false;
        assert_eq!(r.pick(&Needs::default()), Some(UserId(1)));
    }

    #[test]
    fn the_account_manager_comes_first_when_they_have_room() {
        let mut r = roster(Assignment::RoundRobin, vec![member(1, 0, Some(3), 0), member(2, 1, Some(3), 9)]);
        let needs = Needs { skills: vec![], account_manager: Some(UserId(2)) };
        assert_eq!(r.pick(&needs), Some(UserId(2)));
        r.members[1].load = 3;
        assert_eq!(r.pick(&needs), Some(UserId(1)), "a full manager falls back to the strategy");
        let needs = Needs { skills: vec![], account_manager: Some(UserId(7)) };
        assert_eq!(r.pick(&needs), Some(UserId(1)), "a manager outside the group is not asked");
    }

    #[test]
    fn capacities_are_bounded() {
        assert!(validate_capacity(Some(-1)).is_err());
        assert!(validate_capacity(Some(CAPACITY_MAX + 1)).is_err());
        assert_eq!(validate_capacity(None), Ok(None));
        assert_eq!(language_skill("zh-CN"), "zh");
    }
}
