//! Who may see and do what. The store turns a [`TicketScope`] into SQL so lists never load
//! rows a user may not see; [`Principal::can_view`] answers the same question for one ticket.

use crate::ids::{GroupId, OrganizationId, UserId};
use crate::str_enum;
use crate::tickets::Ticket;

str_enum!(
    Role { Admin = "admin", Supervisor = "supervisor", Agent = "agent", Customer = "customer" }
);

impl Role {
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Customer)
    }
}

/// The signed-in user, with what their permissions depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub role: Role,
    pub group_ids: Vec<GroupId>,
    /// An agent that sees only its groups' tickets (and those assigned to it).
    pub restricted_to_groups: bool,
    pub organization_id: Option<OrganizationId>,
    /// A customer that may see every ticket of its organisation.
    pub org_access: bool,
}

/// The set of tickets a principal may see, in a form storage can filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketScope {
    All,
    /// Tickets of these groups or assigned to this agent.
    Groups {
        groups: Vec<GroupId>,
        assignee: UserId,
    },
    /// Tickets requested by this customer or copied to them, or requested by anyone of the
    /// organisation when given.
    Requester {
        user: UserId,
        organization: Option<OrganizationId>,
    },
}

impl Principal {
    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    /// Statuses, fields, forms, groups, categories and agents.
    pub fn can_configure(&self) -> bool {
        self.role == Role::Admin
    }

    /// Customers and organisations.
    pub fn can_manage_people(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Supervisor)
    }

    pub fn scope(&self) -> TicketScope {
        match self.role {
            Role::Admin | Role::Supervisor => TicketScope::All,
            Role::Agent if self.restricted_to_groups => {
                TicketScope::Groups { groups: self.group_ids.clone(), assignee: self.user_id }
            }
            Role::Agent => TicketScope::All,
            Role::Customer => TicketScope::Requester {
                user: self.user_id,
                organization: if self.org_access { self.organization_id } else { None },
            },
        }
    }

    pub fn can_view(&self, t: &Ticket) -> bool {
        match self.scope() {
            TicketScope::All => true,
            TicketScope::Groups { groups, assignee } => {
                t.assignee_id == Some(assignee) || t.group_id.is_some_and(|g| groups.contains(&g))
            }
            TicketScope::Requester { user, organization } => {
                t.requester_id == user
                    || t.cc_ids.contains(&user)
                    || (organization.is_some() && t.organization_id == organization)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::tests::sample_ticket;

    fn principal(role: Role) -> Principal {
        Principal {
            user_id: UserId(7),
            role,
            group_ids: vec![GroupId(1)],
            restricted_to_groups: false,
            organization_id: Some(OrganizationId(3)),
            org_access: false,
        }
    }

    #[test]
    fn customers_see_their_own_and_optionally_their_organisations_tickets() {
        let mut t = sample_ticket();
        let mut c = principal(Role::Customer);
        assert!(!c.can_view(&t));
        t.organization_id = Some(OrganizationId(3));
        assert!(!c.can_view(&t), "organisation access is opt-in");
        c.org_access = true;
        assert!(c.can_view(&t));
        t.organization_id = None;
        c.org_access = false;
        t.cc_ids = vec![UserId(7)];
        assert!(c.can_view(&t), "a CC sees the request");
        t.cc_ids.clear();
        t.requester_id = UserId(7);
        assert!(c.can_view(&t));
    }

    #[test]
    fn restricted_agents_see_their_groups_and_their_assignments() {
        let mut t = sample_ticket();
        let mut a = principal(Role::Agent);
        assert!(a.can_view(&t));
        a.restricted_to_groups = true;
        assert!(!a.can_view(&t));
        t.group_id = Some(GroupId(1));
        assert!(a.can_view(&t));
        t.group_id = Some(GroupId(2));
        t.assignee_id = Some(UserId(7));
        assert!(a.can_view(&t));
    }

    #[test]
    fn only_admins_configure() {
        assert!(principal(Role::Admin).can_configure());
        assert!(!principal(Role::Supervisor).can_configure());
        assert!(principal(Role::Supervisor).can_manage_people());
        assert!(!principal(Role::Agent).can_manage_people());
    }
}
