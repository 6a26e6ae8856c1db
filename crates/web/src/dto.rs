//! The JSON shapes of the API. Inputs reject unknown fields; `null` clears a nullable field
//! in an update, an absent field leaves it alone.

use std::collections::BTreeMap;

use gongdan_domain::access::{Principal, Role};
use gongdan_domain::conversation::Comment;
use gongdan_domain::ids::*;
use gongdan_domain::people::{Identity, Language, Organization, User};
use gongdan_domain::routing::Availability;
use gongdan_domain::tickets::{Channel, Priority, StatusCategory, Ticket, TicketType};
use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketOut {
    pub id: TicketId,
    /// The number people quote (#10001).
    pub number: i64,
    pub subject: String,
    pub description: String,
    pub requester_id: UserId,
    pub organization_id: Option<OrganizationId>,
    pub cc_ids: Vec<UserId>,
    pub assignee_id: Option<UserId>,
    pub group_id: Option<GroupId>,
    /// The status key (`new`, `open`, or an admin-defined key).
    pub status: String,
    pub status_category: StatusCategory,
    pub channel: Channel,
    #[serde(rename = "type")]
    pub kind: TicketType,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub due_at: Option<Timestamp>,
    pub category_id: Option<CategoryId>,
    #[schema(schema_with = gongdan_domain::wire_schema::field_values)]
    pub custom_fields: BTreeMap<String, Value>,
    pub merged_into_id: Option<TicketId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub first_replied_at: Option<Timestamp>,
    pub solved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
}

impl TicketOut {
    /// The ticket as this viewer may see it: customers see on-hold as open and no internals.
    pub fn view(t: Ticket, viewer: &Principal) -> Self {
        let staff = viewer.is_staff();
        let (status, status_category) = if staff || t.status.category.customer_view() == t.status.category {
            (t.status.key, t.status.category)
        } else {
            (t.status.category.customer_view().as_str().to_owned(), t.status.category.customer_view())
        };
        TicketOut {
            id: t.id,
            number: t.id.0,
            subject: t.subject,
            description: t.description,
            requester_id: t.requester_id,
            organization_id: t.organization_id,
            cc_ids: t.cc_ids,
            assignee_id: if staff { t.assignee_id } else { None },
            group_id: if staff { t.group_id } else { None },
            status,
            status_category,
            channel: t.channel,
            kind: t.kind,
            priority: t.priority,
            tags: if staff { t.tags } else { vec![] },
            due_at: t.due_at,
            category_id: t.category_id,
            custom_fields: t.custom_fields,
            merged_into_id: t.merged_into_id,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
            first_replied_at: t.first_replied_at,
            solved_at: t.solved_at,
            closed_at: t.closed_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequesterIn {
    pub id: Option<UserId>,
    pub email: Option<String>,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketCreate {
    #[schema(min_length = 1, max_length = 255)]
    pub subject: String,
    #[serde(default)]
    #[schema(max_length = 65536)]
    pub description: String,
    /// HTML version of the description; sanitised before it is stored.
    pub html_description: Option<String>,
    /// Who the ticket is for (agents only); customers create for themselves.
    pub requester: Option<RequesterIn>,
    pub requester_id: Option<UserId>,
    pub organization_id: Option<OrganizationId>,
    #[serde(default)]
    pub cc_ids: Vec<UserId>,
    pub assignee_id: Option<UserId>,
    pub group_id: Option<GroupId>,
    /// A status key or category name; `new` by default.
    pub status: Option<String>,
    pub channel: Option<Channel>,
    #[serde(rename = "type")]
    pub kind: Option<TicketType>,
    pub priority: Option<Priority>,
    #[serde(default)]
    #[schema(value_type = Vec<Tag>, max_items = 50)]
    pub tags: Vec<String>,
    pub due_at: Option<Timestamp>,
    pub category_id: Option<CategoryId>,
    #[serde(default)]
    #[schema(schema_with = gongdan_domain::wire_schema::field_values)]
    pub custom_fields: BTreeMap<String, Value>,
    #[serde(default)]
    pub attachment_ids: Vec<AttachmentId>,
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketUpdate {
    /// The version the change is based on (or send `If-Match`); a stale one gets 409.
    pub version: Option<i64>,
    #[schema(min_length = 1, max_length = 255)]
    pub subject: Option<String>,
    pub status: Option<String>,
    pub priority: Option<Priority>,
    #[serde(rename = "type")]
    pub kind: Option<TicketType>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub assignee_id: Option<Option<UserId>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub group_id: Option<Option<GroupId>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub category_id: Option<Option<CategoryId>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub organization_id: Option<Option<OrganizationId>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Option<Timestamp>>,
    /// Replaces all tags.
    #[schema(value_type = Option<Vec<Tag>>, max_items = 50)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Vec<Tag>, max_items = 50)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Vec<Tag>, max_items = 50)]
    pub remove_tags: Vec<String>,
    /// Replaces the CCs; `add_cc_ids` / `remove_cc_ids` change them on top of whatever they
    /// are when the update lands.
    pub cc_ids: Option<Vec<UserId>>,
    #[serde(default)]
    pub add_cc_ids: Vec<UserId>,
    #[serde(default)]
    pub remove_cc_ids: Vec<UserId>,
    /// Values to set; `null` removes a value.
    #[serde(default)]
    #[schema(schema_with = gongdan_domain::wire_schema::field_values)]
    pub custom_fields: BTreeMap<String, Value>,
}

impl From<TicketUpdate> for gongdan_core::tickets::UpdateTicket {
    fn from(u: TicketUpdate) -> Self {
        gongdan_core::tickets::UpdateTicket {
            subject: u.subject,
            status: u.status,
            priority: u.priority,
            kind: u.kind,
            assignee_id: u.assignee_id,
            group_id: u.group_id,
            category_id: u.category_id,
            organization_id: u.organization_id,
            due_at: u.due_at,
            tags: u.tags,
            add_tags: u.add_tags,
            remove_tags: u.remove_tags,
            cc_ids: u.cc_ids,
            add_cc_ids: u.add_cc_ids,
            remove_cc_ids: u.remove_cc_ids,
            custom_fields: u.custom_fields,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkUpdate {
    pub ids: Vec<TicketId>,
    pub changes: TicketUpdate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItem {
    pub id: TicketId,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<TicketOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::Problem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub results: Vec<BulkItem>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeIn {
    /// The ticket that survives; this one closes into it.
    pub target_id: TicketId,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIn {
    pub target_id: TicketId,
    /// `related`, `duplicate` or `parent` (this ticket becomes the parent of the target).
    pub kind: gongdan_domain::conversation::LinkKind,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentIn {
    #[schema(max_length = 65536)]
    pub body: String,
    /// HTML version of the body; sanitised before it is stored.
    pub html_body: Option<String>,
    /// `false` makes an internal note, never shown to customers.
    #[serde(default = "yes")]
    pub public: bool,
    #[serde(default)]
    pub attachment_ids: Vec<AttachmentId>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentCreated {
    #[serde(flatten)]
    pub comment: Comment,
    /// Set when the ticket was closed and the reply opened this follow-up ticket.
    pub follow_up_ticket_id: Option<TicketId>,
    pub ticket: TicketOut,
}

/// A page of a cursor-paged list, one named type per item type: the document gives each its
/// own stable schema name (`TicketList`) instead of a generic's.
macro_rules! list_of {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` for the next page; `null` on the last.
            pub next_cursor: Option<String>,
            /// All matches, when asked for (`total=true`).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub total: Option<i64>,
        }
    };
}

list_of!(
    /// A page of tickets.
    TicketList,
    TicketOut
);
list_of!(
    /// A page of users.
    UserList,
    UserOut
);
list_of!(
    /// A page of organisations.
    OrganizationList,
    Organization
);

/// A tag as sent: trimmed and lower-cased on the way in, without spaces or commas.
#[derive(ToSchema)]
#[schema(min_length = 1, max_length = 64)]
#[allow(dead_code)] // The document's type for tags; the wire value is a plain string.
pub struct Tag(String);

#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: UserId,
    pub role: Role,
    pub name: String,
    pub email: Option<String>,
    pub identities: Vec<Identity>,
    pub external_id: Option<String>,
    pub organization_id: Option<OrganizationId>,
    pub language: Language,
    pub time_zone: String,
    pub vip_level: i64,
    pub group_ids: Vec<GroupId>,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub restricted_to_groups: bool,
    /// Staff: online, away or offline.
    pub availability: Availability,
    /// Staff: open tickets automatic assignment gives them at most (`null`: no limit).
    pub capacity: Option<i64>,
    /// Customers: the agent who gets their tickets first.
    pub account_manager_id: Option<UserId>,
    #[schema(schema_with = gongdan_domain::wire_schema::field_values)]
    pub custom_fields: BTreeMap<String, Value>,
    pub active: bool,
    /// When the person last proved their address by opening a link mailed to it; null: never.
    pub email_verified_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        UserOut {
            id: u.id,
            role: u.role,
            name: u.name,
            email: u.email,
            identities: u.identities,
            external_id: u.external_id,
            organization_id: u.organization_id,
            language: u.language,
            time_zone: u.time_zone,
            vip_level: u.vip_level,
            group_ids: u.group_ids,
            skills: u.skills,
            languages: u.languages,
            restricted_to_groups: u.restricted_to_groups,
            availability: u.availability,
            capacity: u.capacity,
            account_manager_id: u.account_manager_id,
            custom_fields: u.custom_fields,
            active: u.active,
            email_verified_at: u.email_verified_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    pub role: Option<Role>,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub identities: Option<Vec<Identity>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub organization_id: Option<Option<OrganizationId>>,
    pub language: Option<Language>,
    pub time_zone: Option<String>,
    pub vip_level: Option<i64>,
    pub group_ids: Option<Vec<GroupId>>,
    pub skills: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub restricted_to_groups: Option<bool>,
    /// Staff set their own: `online`, `away` or `offline`.
    pub availability: Option<Availability>,
    /// `null` for no limit.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub capacity: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub account_manager_id: Option<Option<UserId>>,
    #[serde(default)]
    #[schema(schema_with = gongdan_domain::wire_schema::field_values)]
    pub custom_fields: BTreeMap<String, Value>,
    pub active: Option<bool>,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    /// Required with `password` when changing one's own.
    pub current_password: Option<String>,
    /// A password change revokes the user's API tokens unless this is `true`; other sessions
    /// always end.
    pub keep_tokens: Option<bool>,
}

impl From<UserIn> for gongdan_core::people::UserInput {
    fn from(u: UserIn) -> Self {
        gongdan_core::people::UserInput {
            role: u.role,
            name: u.name,
            email: u.email,
            identities: u.identities,
            phone: u.phone,
            external_id: u.external_id,
            organization_id: u.organization_id,
            language: u.language,
            time_zone: u.time_zone,
            vip_level: u.vip_level,
            group_ids: u.group_ids,
            skills: u.skills,
            languages: u.languages,
            restricted_to_groups: u.restricted_to_groups,
            availability: u.availability,
            capacity: u.capacity,
            account_manager_id: u.account_manager_id,
            custom_fields: u.custom_fields,
            active: u.active,
            password: u.password,
            current_password: u.current_password,
            keep_tokens: u.keep_tokens,
            keep_session: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    #[serde(default)]
    #[schema(max_length = 200)]
    pub name: String,
    /// Admins may issue a token for another user.
    pub user_id: Option<UserId>,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// Only in the response that creates the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl TokenOut {
    pub fn new(t: gongdan_core::auth::ApiToken, secret: Option<String>) -> Self {
        TokenOut {
            id: t.id,
            user_id: t.user_id,
            name: t.name,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            created_at: t.created_at,
            token: secret,
        }
    }
}
