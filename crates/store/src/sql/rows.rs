//! Rows as the tables hold them and their conversions to the domain's types.

use super::*;

pub(super) const TICKET_COLS: &str = "t.id, t.subject, t.description, t.requester_id, t.organization_id, t.cc_ids, \
    t.assignee_id, t.group_id, t.status_id, s.key AS status_key, t.status_category, t.channel, t.kind, \
    t.priority, t.tags, t.due_at, t.category_id, t.custom_fields, t.merged_into_id, t.version, \
    t.created_at, t.updated_at, t.first_replied_at, t.solved_at, t.closed_at, t.status_changed_at, t.assigned_at, \
    t.last_customer_reply_at, t.last_agent_reply_at";
pub(super) const TICKET_FROM: &str = "tickets t JOIN statuses s ON s.id = t.status_id";

#[derive(FromRow)]
pub(super) struct TicketRow {
    pub(super) id: i64,
    pub(super) subject: String,
    pub(super) description: String,
    pub(super) requester_id: i64,
    pub(super) organization_id: Option<i64>,
    pub(super) cc_ids: String,
    pub(super) assignee_id: Option<i64>,
    pub(super) group_id: Option<i64>,
    pub(super) status_id: i64,
    pub(super) status_key: String,
    pub(super) status_category: String,
    pub(super) channel: String,
    pub(super) kind: String,
    pub(super) priority: i64,
    pub(super) tags: String,
    pub(super) due_at: Option<i64>,
    pub(super) category_id: Option<i64>,
    pub(super) custom_fields: String,
    pub(super) merged_into_id: Option<i64>,
    pub(super) version: i64,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) first_replied_at: Option<i64>,
    pub(super) solved_at: Option<i64>,
    pub(super) closed_at: Option<i64>,
    pub(super) status_changed_at: i64,
    pub(super) assigned_at: Option<i64>,
    pub(super) last_customer_reply_at: Option<i64>,
    pub(super) last_agent_reply_at: Option<i64>,
}

impl TryFrom<TicketRow> for Ticket {
    type Error = StoreError;
    fn try_from(r: TicketRow) -> Result<Ticket> {
        Ok(Ticket {
            id: TicketId(r.id),
            subject: r.subject,
            description: r.description,
            requester_id: UserId(r.requester_id),
            organization_id: r.organization_id.map(OrganizationId),
            cc_ids: json(&r.cc_ids)?,
            assignee_id: r.assignee_id.map(UserId),
            group_id: r.group_id.map(GroupId),
            status: StatusRef {
                id: StatusId(r.status_id),
                key: r.status_key,
                category: StatusCategory::parse(&r.status_category, "status_category").map_err(corrupt)?,
            },
            channel: Channel::parse(&r.channel, "channel").map_err(corrupt)?,
            kind: TicketType::parse(&r.kind, "type").map_err(corrupt)?,
            priority: Priority::from_rank(r.priority)
                .ok_or_else(|| StoreError::Corrupt(format!("priority {}", r.priority)))?,
            tags: r.tags.split_whitespace().map(str::to_owned).collect(),
            due_at: opt_ts(r.due_at)?,
            category_id: r.category_id.map(CategoryId),
            custom_fields: json(&r.custom_fields)?,
            merged_into_id: r.merged_into_id.map(TicketId),
            version: r.version,
            created_at: from_ts(r.created_at)?,
            updated_at: from_ts(r.updated_at)?,
            first_replied_at: opt_ts(r.first_replied_at)?,
            solved_at: opt_ts(r.solved_at)?,
            closed_at: opt_ts(r.closed_at)?,
            status_changed_at: from_ts(r.status_changed_at)?,
            assigned_at: opt_ts(r.assigned_at)?,
            last_customer_reply_at: opt_ts(r.last_customer_reply_at)?,
            last_agent_reply_at: opt_ts(r.last_agent_reply_at)?,
        })
    }
}

#[derive(FromRow)]
pub(super) struct UserRow {
    pub(super) id: i64,
    pub(super) role: String,
    pub(super) name: String,
    pub(super) email: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) organization_id: Option<i64>,
    pub(super) language: String,
    pub(super) time_zone: String,
    pub(super) vip_level: i64,
    pub(super) skills: String,
    pub(super) languages: String,
    pub(super) restricted_to_groups: bool,
    pub(super) custom_fields: String,
    pub(super) active: bool,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) availability: String,
    pub(super) capacity: Option<i64>,
    pub(super) account_manager_id: Option<i64>,
    pub(super) email_verified_at: Option<i64>,
}

pub(super) const USER_COLS: &str = "id, role, name, email, external_id, organization_id, language, time_zone, vip_level, \
    skills, languages, restricted_to_groups, custom_fields, active, created_at, updated_at, availability, capacity, \
    account_manager_id, email_verified_at";

#[derive(FromRow)]
pub(super) struct OrgRow {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) domains: String,
    pub(super) shared_tickets: bool,
    pub(super) custom_fields: String,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
}

impl TryFrom<OrgRow> for Organization {
    type Error = StoreError;
    fn try_from(r: OrgRow) -> Result<Organization> {
        Ok(Organization {
            id: OrganizationId(r.id),
            name: r.name,
            domains: json(&r.domains)?,
            shared_tickets: r.shared_tickets,
            custom_fields: json(&r.custom_fields)?,
            created_at: from_ts(r.created_at)?,
            updated_at: from_ts(r.updated_at)?,
        })
    }
}

#[derive(FromRow)]
pub(super) struct CommentRow {
    pub(super) id: i64,
    pub(super) ticket_id: i64,
    pub(super) author_id: i64,
    pub(super) public: bool,
    pub(super) body: String,
    pub(super) html_body: String,
    pub(super) via: String,
    pub(super) created_at: i64,
}

#[derive(FromRow)]
pub(super) struct AttachmentRow {
    pub(super) id: i64,
    sha256: String,
    pub(super) filename: String,
    pub(super) content_type: String,
    pub(super) size: i64,
    pub(super) uploader_id: i64,
    pub(super) comment_id: Option<i64>,
    pub(super) ticket_id: Option<i64>,
    pub(super) created_at: i64,
}

impl AttachmentRow {
    pub(super) fn into_domain(self) -> Result<(Attachment, Option<TicketId>)> {
        Ok((
            Attachment {
                id: AttachmentId(self.id),
                sha256: self.sha256,
                filename: self.filename,
                content_type: self.content_type,
                size: self.size,
                uploader_id: UserId(self.uploader_id),
                comment_id: self.comment_id.map(CommentId),
                created_at: from_ts(self.created_at)?,
            },
            self.ticket_id.map(TicketId),
        ))
    }
}

pub(super) const ATTACHMENT_COLS: &str =
    "id, sha256, filename, content_type, size, uploader_id, comment_id, ticket_id, created_at";

#[derive(FromRow)]
pub(super) struct LinkRow {
    pub(super) id: i64,
    pub(super) source_id: i64,
    pub(super) target_id: i64,
    pub(super) kind: String,
    pub(super) created_at: i64,
}

impl TryFrom<LinkRow> for Link {
    type Error = StoreError;
    fn try_from(r: LinkRow) -> Result<Link> {
        Ok(Link {
            id: LinkId(r.id),
            source_id: TicketId(r.source_id),
            target_id: TicketId(r.target_id),
            kind: LinkKind::parse(&r.kind, "kind").map_err(corrupt)?,
            created_at: from_ts(r.created_at)?,
        })
    }
}

#[derive(FromRow)]
pub(super) struct TokenRow {
    pub(super) id: i64,
    pub(super) user_id: i64,
    pub(super) name: String,
    pub(super) expires_at: Option<i64>,
    pub(super) revoked_at: Option<i64>,
    pub(super) created_at: i64,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;
    fn try_from(r: TokenRow) -> Result<ApiToken> {
        Ok(ApiToken {
            id: TokenId(r.id),
            user_id: UserId(r.user_id),
            name: r.name,
            expires_at: opt_ts(r.expires_at)?,
            revoked_at: opt_ts(r.revoked_at)?,
            created_at: from_ts(r.created_at)?,
        })
    }
}
