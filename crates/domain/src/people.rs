//! Customers, agents, organisations and groups.

use crate::Code;
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::error::DomainError;
use crate::ids::{GroupId, OrganizationId, UserId};
use crate::routing::{Assignment, Availability};
use crate::str_enum;

str_enum!(
    IdentityKind { Email = "email", Phone = "phone" }
);
str_enum!(
    /// UI and notification languages Gongdan speaks.
    Language { ZhCn = "zh-CN", En = "en" }
);

/// One way to reach a person; a person may have several of each kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Identity {
    pub kind: IdentityKind,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub role: Role,
    pub name: String,
    /// The primary email (also one of the identities).
    pub email: Option<String>,
    pub identities: Vec<Identity>,
    pub external_id: Option<String>,
    pub organization_id: Option<OrganizationId>,
    pub language: Language,
    pub time_zone: String,
    /// 0 = none; higher levels drive routing and SLA later.
    pub vip_level: i64,
    pub group_ids: Vec<GroupId>,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub restricted_to_groups: bool,
    /// Staff: whether they take new tickets now (groups may hand tickets to online agents only).
    pub availability: Availability,
    /// Staff: open tickets they take at most from automatic assignment; `None` is unlimited.
    pub capacity: Option<i64>,
    /// Customers: the agent who gets their tickets first (VIP account manager).
    pub account_manager_id: Option<UserId>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    pub active: bool,
    /// When the person last opened a link mailed to their address (`None`: never proven).
    pub email_verified_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    /// A new active user of `role` before its fields are filled in (id 0 until stored).
    pub fn blank(role: Role, language: Language, time_zone: &str, now: Timestamp) -> Self {
        User {
            id: UserId(0),
            role,
            name: String::new(),
            email: None,
            identities: vec![],
            external_id: None,
            organization_id: None,
            language,
            time_zone: time_zone.to_owned(),
            vip_level: 0,
            group_ids: vec![],
            skills: vec![],
            languages: vec![],
            restricted_to_groups: false,
            availability: Availability::Offline,
            capacity: None,
            account_manager_id: None,
            custom_fields: BTreeMap::new(),
            active: true,
            email_verified_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    /// Email domains whose new customers join this organisation.
    pub domains: Vec<String>,
    /// Its customers may see all of the organisation's tickets.
    pub shared_tickets: bool,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::wire_schema::field_values))]
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

impl Organization {
    /// A new organisation before its fields are filled in (id 0 until stored).
    pub fn blank(now: Timestamp) -> Self {
        Organization {
            id: OrganizationId(0),
            name: String::new(),
            domains: vec![],
            shared_tickets: false,
            custom_fields: BTreeMap::new(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// A department (技能组) at a support tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    /// 1 = desk (一线), 2 = experts (二线), 3 = HQ or vendor (三线).
    pub tier: i64,
    pub description: String,
    pub active: bool,
    /// How tickets that land here unassigned get an agent.
    pub assignment: Assignment,
    /// Only agents who are online get tickets automatically.
    pub online_only: bool,
    /// Where escalation goes from here; else the first active group of the next tier.
    pub escalation_group_id: Option<GroupId>,
}

impl Group {
    /// A new group before its fields are filled in (id 0 until stored).
    pub fn blank() -> Self {
        Group {
            id: GroupId(0),
            name: String::new(),
            tier: 1,
            description: String::new(),
            active: true,
            assignment: Assignment::Manual,
            online_only: false,
            escalation_group_id: None,
        }
    }
}

/// The group an escalation from `from` goes to: always up a tier. Its configured target if
/// active and higher, else the first active group (by id) of the nearest higher tier; from no
/// group, the first tier. `None` at the top tier.
pub fn escalation_target(groups: &[Group], from: Option<GroupId>) -> Option<&Group> {
    let current = from.and_then(|id| groups.iter().find(|g| g.id == id));
    let tier = current.map_or(0, |g| g.tier);
    let higher = |g: &&Group| g.active && g.tier > tier;
    if let Some(target) = current.and_then(|g| g.escalation_group_id)
        && let Some(g) = groups.iter().filter(higher).find(|g| g.id == target)
    {
        return Some(g);
    }
    groups.iter().filter(higher).min_by_key(|g| (g.tier, g.id))
}

pub fn validate_tier(tier: i64) -> Result<i64, DomainError> {
    if (1..=3).contains(&tier) {
        Ok(tier)
    } else {
        Err(DomainError::invalid("tier", Code::InvalidValue, "tier is 1, 2 or 3"))
    }
}

/// A display name: trimmed, without invisible characters (which would let one name pass for
/// another), 1–200 characters as sent (the limit the API document states).
pub fn validate_name(name: &str, field: &str) -> Result<String, DomainError> {
    let visible = crate::text::strip_invisible(name);
    let n = visible.trim();
    if n.is_empty() {
        return Err(DomainError::required(field));
    }
    if name.chars().count() > 200 {
        return Err(DomainError::invalid(field, Code::TooLong, "at most 200 characters"));
    }
    Ok(n.to_owned())
}

/// Lower-cases and checks an address; deliverability is the mail channel's business.
pub fn normalize_email(email: &str, field: &str) -> Result<String, DomainError> {
    let e = email.trim().to_lowercase();
    let bad = || DomainError::invalid(field, Code::InvalidEmail, "not an email address");
    let (local, domain) = e.split_once('@').ok_or_else(bad)?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && e.len() <= 254
        && !e.chars().any(|c| {
            c.is_whitespace() || c.is_control() || crate::text::is_invisible(c) || matches!(c, ',' | '<' | '>')
        });
    if ok { Ok(e) } else { Err(bad()) }
}

/// Keeps `+` and digits; accepts the spaces, dashes and brackets people type.
pub fn normalize_phone(phone: &str, field: &str) -> Result<String, DomainError> {
    let mut out = String::new();
    for (i, c) in phone.trim().chars().enumerate() {
        match c {
            '0'..='9' => out.push(c),
            '+' if i == 0 => out.push(c),
            ' ' | '-' | '(' | ')' => {}
            _ => return Err(DomainError::invalid(field, Code::InvalidPhone, "not a phone number")),
        }
    }
    let digits = out.trim_start_matches('+').len();
    if (5..=20).contains(&digits) {
        Ok(out)
    } else {
        Err(DomainError::invalid(field, Code::InvalidPhone, "not a phone number"))
    }
}

pub fn validate_vip(level: i64) -> Result<i64, DomainError> {
    if (0..=9).contains(&level) {
        Ok(level)
    } else {
        Err(DomainError::invalid("vip_level", Code::InvalidValue, "VIP level is 0–9"))
    }
}

#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub role: Option<Role>,
    /// Staff only (admins, supervisors, agents).
    pub staff: bool,
    pub organization_id: Option<OrganizationId>,
    pub group_id: Option<GroupId>,
    /// Matches name or email.
    pub q: Option<String>,
    pub after: Option<UserId>,
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(normalize_email(" Li@Example.COM ", "email"), Ok("li@example.com".into()));
        for bad in
            ["", "li", "li@", "@x.cn", "li@x", "a b@x.cn", "li@x.cn.", "a@b@c.cn", "li\u{200b}@x.cn", "li@x\u{202e}.cn"]
        {
            assert!(normalize_email(bad, "email").is_err(), "{bad}");
        }
    }

    #[test]
    fn names_drop_invisible_characters() {
        assert_eq!(validate_name(" 王\u{200b}芳\u{202e} ", "name"), Ok("王芳".into()));
        assert!(validate_name("\u{200b}\u{feff}", "name").is_err(), "nothing visible is no name");
    }

    #[test]
    fn phones() {
        assert_eq!(normalize_phone("+86 138-0013-8000", "phone"), Ok("+8613800138000".into()));
        assert!(normalize_phone("12", "phone").is_err());
        assert!(normalize_phone("1380x", "phone").is_err());
        assert!(normalize_phone("86+138001380", "phone").is_err());
    }

    #[test]
    fn escalation_goes_to_the_configured_group_or_the_next_tier() {
        let g = |id, tier, to: Option<i64>| Group {
            id: GroupId(id),
            name: format!("g{id}"),
            tier,
            escalation_group_id: to.map(GroupId),
            ..Group::blank()
        };
        let groups =
            vec![g(1, 1, None), g(2, 2, None), g(3, 2, None), g(4, 3, None), g(5, 1, Some(3)), g(6, 2, Some(3))];
        assert_eq!(escalation_target(&groups, Some(GroupId(1))).map(|g| g.id), Some(GroupId(2)));
        assert_eq!(escalation_target(&groups, Some(GroupId(5))).map(|g| g.id), Some(GroupId(3)));
        assert_eq!(
            escalation_target(&groups, Some(GroupId(6))).map(|g| g.id),
            Some(GroupId(4)),
            "a target on the same tier is passed over: escalation goes up"
        );
        let no_tier_two = vec![g(1, 1, None), g(4, 3, None)];
        assert_eq!(
            escalation_target(&no_tier_two, Some(GroupId(1))).map(|g| g.id),
            Some(GroupId(4)),
            "the nearest tier up"
        );
        assert_eq!(escalation_target(&groups, Some(GroupId(2))).map(|g| g.id), Some(GroupId(4)));
        assert_eq!(escalation_target(&groups, Some(GroupId(4))).map(|g| g.id), None, "top tier");
        assert_eq!(escalation_target(&groups, None).map(|g| g.id), Some(GroupId(1)), "no group: the desk");
    }

    #[test]
    fn tiers_vip_and_names() {
        assert!(validate_tier(0).is_err());
        assert_eq!(validate_tier(2), Ok(2));
        assert!(validate_vip(10).is_err());
        assert_eq!(validate_name("  研发 ", "name"), Ok("研发".into()));
        assert!(validate_name(" ", "name").is_err());
        assert!(validate_name(&"名".repeat(200), "name").is_ok());
        // 200 visible characters and one space: the limit is on what was sent.
        assert!(validate_name(&format!("{} ", "名".repeat(200)), "name").is_err());
    }
}
