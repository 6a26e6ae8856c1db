//! Users, organisations and groups.

use async_trait::async_trait;
use gongdan_domain::ids::{OrganizationId, UserId};
use gongdan_domain::people::{Group, IdentityKind, Organization, User, UserQuery};

use super::Result;
use crate::batch::IdempotencyClaim;

/// What a page shows of a person it names (an assignee, an author, a requester).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLabel {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    pub role: gongdan_domain::access::Role,
}

/// The few facts about a user that writing a ticket needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserBrief {
    pub id: UserId,
    pub role: gongdan_domain::access::Role,
    pub organization_id: Option<OrganizationId>,
    pub active: bool,
}

impl From<&User> for UserBrief {
    fn from(u: &User) -> Self {
        UserBrief { id: u.id, role: u.role, organization_id: u.organization_id, active: u.active }
    }
}

#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// Inserts a user with its identities and group memberships; `id` is ignored.
    /// With a claim, the idempotency key is recorded in the same transaction.
    async fn insert_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<User>;
    /// Replaces a user's fields, identities and groups.
    async fn update_user(&self, user: &User) -> Result<User>;
    async fn get_user(&self, id: UserId) -> Result<Option<User>>;
    /// One row, no identities or groups: for hot paths that only need to know who.
    async fn user_brief(&self, id: UserId) -> Result<Option<UserBrief>>;
    /// Names and emails of these users, in one query (unknown ids are left out).
    async fn user_labels(&self, ids: &[UserId]) -> Result<Vec<UserLabel>>;
    async fn find_user_by_identity(&self, kind: IdentityKind, value: &str) -> Result<Option<User>>;
    /// The brief of the user with this identity, in one query: how a create finds its requester.
    async fn user_brief_by_identity(&self, kind: IdentityKind, value: &str) -> Result<Option<UserBrief>>;
    async fn list_users(&self, q: &UserQuery) -> Result<Vec<User>>;
    async fn count_users(&self) -> Result<i64>;
    async fn password_hash(&self, id: UserId) -> Result<Option<String>>;
    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()>;

    async fn insert_organization(&self, org: &Organization) -> Result<Organization>;
    async fn update_organization(&self, org: &Organization) -> Result<Organization>;
    async fn get_organization(&self, id: OrganizationId) -> Result<Option<Organization>>;
    /// Fails with `InUse` while users or tickets refer to it.
    async fn delete_organization(&self, id: OrganizationId) -> Result<()>;
    /// Organisations by id; `q` matches the name.
    async fn list_organizations(
        &self,
        q: Option<&str>,
        after: Option<OrganizationId>,
        limit: i64,
    ) -> Result<Vec<Organization>>;
    /// The organisation that claims an email domain, if any.
    async fn organization_for_domain(&self, domain: &str) -> Result<Option<Organization>>;

    async fn insert_group(&self, group: &Group) -> Result<Group>;
    async fn update_group(&self, group: &Group) -> Result<Group>;
    async fn list_groups(&self) -> Result<Vec<Group>>;
}
