//! Views: saved ticket lists (personal, a group's, or shared) with their filters, columns and
//! sort. The workspace's left-hand lists are views; their totals come from the queue counters
//! when the filters allow, else from counting through an index up to a cap.

use gongdan_domain::Code;
use gongdan_domain::DomainError;
use gongdan_domain::access::Principal;
use gongdan_domain::ids::{CategoryId, GroupId, StatusId, UserId};
use gongdan_domain::people;
use gongdan_domain::tickets::{Channel, Priority, StatusCategory};
use gongdan_domain::tickets::{TicketQuery, TicketSort, VIEW_COUNT_CAP};
pub use gongdan_store::ViewRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access;
use crate::config::Config;
use crate::{App, CoreError, Result};

/// Columns a view may show, in the order the list offers them.
pub const COLUMNS: &[&str] = &[
    "subject",
    "requester",
    "status",
    "priority",
    "group",
    "assignee",
    "updated",
    "created",
    "category",
    "channel",
    "due",
];
/// What a view shows when it names no columns.
pub const DEFAULT_COLUMNS: &[&str] = &["subject", "requester", "status", "priority", "group", "assignee", "updated"];

/// A view's filters as stored and sent (`{"status": ["open"], "assignee_id": "me"}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewFilters {
    /// Status keys or whole categories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<String>,
    /// `"me"`, `"none"` (unassigned) or an agent's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<Value>,
    /// `"mine"` (the viewer's groups), a group id or a list of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<Priority>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channel: Vec<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// With its subcategories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_id: Option<CategoryId>,
}

/// A view to create, or the parts of one to change.
#[derive(Debug, Clone, Default)]
pub struct ViewInput {
    pub name: Option<String>,
    /// `personal` (the caller's), `group` (with `group_id`) or `shared`.
    pub scope: Option<String>,
    pub group_id: Option<GroupId>,
    pub active: Option<bool>,
    pub position: Option<i64>,
    pub filters: Option<Value>,
    pub columns: Option<Vec<String>>,
    pub sort: Option<String>,
}

fn bad(field: &str, message: &str) -> CoreError {
    DomainError::invalid(field, Code::InvalidValue, message).into()
}

/// Parses and checks a view's filters against the configuration.
pub fn parse_filters(cfg: &Config, v: &Value) -> Result<ViewFilters> {
    let mut f: ViewFilters = serde_json::from_value(v.clone()).map_err(|e| bad("filters", &e.to_string()))?;
    for (i, s) in f.status.iter().enumerate() {
        if StatusCategory::parse(s, "status").is_err() && !cfg.statuses.iter().any(|x| x.key == *s) {
            return Err(DomainError::invalid(
                format!("filters.status[{i}]"),
                Code::UnknownStatus,
                format!("no status `{s}`"),
            )
            .into());
        }
    }
    match &f.assignee_id {
        None => {}
        Some(Value::String(s)) if s == "me" || s == "none" => {}
        Some(Value::Number(n)) if n.as_i64().is_some_and(|id| cfg.agents.iter().any(|a| a.id.0 == id)) => {}
        Some(_) => return Err(bad("filters.assignee_id", "\"me\", \"none\" or an agent's id")),
    }
    match &f.group_id {
        None => {}
        Some(Value::String(s)) if s == "mine" => {}
        Some(Value::Number(n)) if n.as_i64().is_some_and(|id| cfg.group(GroupId(id)).is_some()) => {}
        Some(Value::Array(items))
            if !items.is_empty()
                && items.iter().all(|i| i.as_i64().is_some_and(|id| cfg.group(GroupId(id)).is_some())) => {}
        Some(_) => return Err(bad("filters.group_id", "\"mine\", a group's id or a list of them")),
    }
    if let Some(t) = &f.tag {
        // Stored as tickets store their tags, so the view finds what the list showed.
        f.tag = gongdan_domain::tickets::normalize_tags(&[t], "filters.tag")?.pop();
    }
    if let Some(c) = f.category_id
        && !cfg.categories.iter().any(|x| x.id == c)
    {
        return Err(DomainError::invalid("filters.category_id", Code::MissingReference, "no such category").into());
    }
    Ok(f)
}

/// The listing a view means for one viewer ("me" and "mine" are theirs).
pub fn view_query(cfg: &Config, p: &Principal, v: &ViewRow) -> TicketQuery {
    let mut q = TicketQuery::new(p.scope());
    let f: ViewFilters = serde_json::from_value(v.filters.clone()).unwrap_or_default();
    for s in &f.status {
        match StatusCategory::parse(s, "status") {
            Ok(c) => q.status_categories.push(c),
            Err(_) => q.status_ids.extend(cfg.statuses.iter().filter(|x| x.key == *s).map(|x| x.id)),
        }
    }
    if !f.status.is_empty() && q.status_categories.is_empty() && q.status_ids.is_empty() {
        // Every status it named is gone: the view shows nothing rather than everything.
        q.status_ids.push(StatusId(-1));
    }
    q.assignee = match &f.assignee_id {
        Some(Value::String(s)) if s == "me" => Some(Some(p.user_id)),
        Some(Value::String(s)) if s == "none" => Some(None),
        Some(Value::Number(n)) => n.as_i64().map(|id| Some(UserId(id))),
        _ => None,
    };
    q.group_ids = match &f.group_id {
        Some(Value::String(s)) if s == "mine" => {
            if p.group_ids.is_empty() {
                vec![GroupId(-1)]
            } else {
                p.group_ids.clone()
            }
        }
        Some(Value::Number(n)) => n.as_i64().map(GroupId).into_iter().collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_i64).map(GroupId).collect(),
        _ => vec![],
    };
    q.priorities = f.priority;
    q.channels = f.channel;
    q.tag = f.tag;
    q.category_ids = f.category_id.into_iter().collect();
    q.sort = TicketSort::ALL.iter().find(|(n, _)| *n == v.sort).map(|(_, s)| *s).unwrap_or(TicketSort::UpdatedDesc);
    q
}

/// A view's total: exact when the queue counters give it, otherwise counted up to
/// `VIEW_COUNT_CAP` (`more`: there are more than that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewTotal {
    pub count: i64,
    pub more: bool,
}

impl ViewTotal {
    /// A total as the store counted it.
    pub fn new(n: i64, exact: bool) -> Self {
        if !exact && n > VIEW_COUNT_CAP {
            ViewTotal { count: VIEW_COUNT_CAP, more: true }
        } else {
            ViewTotal { count: n, more: false }
        }
    }
}

/// Who sees a view: `personal` (its owner), `group` (the group's members) or `shared`.
pub fn scope(v: &ViewRow) -> &'static str {
    match (v.owner_id, v.group_id) {
        (Some(_), _) => "personal",
        (None, Some(_)) => "group",
        (None, None) => "shared",
    }
}

/// Whether a viewer's workspace shows this view.
pub fn sees(p: &Principal, v: &ViewRow) -> bool {
    match (v.owner_id, v.group_id) {
        (Some(o), _) => o == p.user_id,
        (None, Some(g)) => p.group_ids.contains(&g),
        (None, None) => true,
    }
}

impl App {
    /// The views a member of staff sees in the workspace, in order.
    pub async fn my_views(&self, actor: &Principal) -> Result<Vec<ViewRow>> {
        access::require_staff(actor, "views are for agents")?;
        let cfg = self.config().await?;
        Ok(cfg.views.iter().filter(|v| v.active && sees(actor, v)).cloned().collect())
    }

    /// Every view for supervisors and admins (who may change any), or those the caller sees.
    pub async fn list_views(&self, actor: &Principal) -> Result<Vec<ViewRow>> {
        access::require_staff(actor, "views are for agents")?;
        let cfg = self.config().await?;
        Ok(cfg.views.iter().filter(|v| actor.can_manage_people() || sees(actor, v)).cloned().collect())
    }

    /// A view by id or built-in key, if the caller sees it.
    pub async fn get_view(&self, actor: &Principal, id_or_key: &str) -> Result<ViewRow> {
        let views = self.list_views(actor).await?;
        views
            .into_iter()
            .find(|v| v.key.as_deref() == Some(id_or_key) || v.id.to_string() == id_or_key)
            .ok_or(CoreError::NotFound("view"))
    }

    /// The totals of these views for the caller, in one pass over the queue counters.
    pub async fn view_counts(&self, actor: &Principal, views: &[ViewRow]) -> Result<Vec<ViewTotal>> {
        let cfg = self.config().await?;
        let queries = views.iter().map(|v| view_query(&cfg, actor, v)).collect();
        self.count_tickets(actor, queries).await
    }

    fn may_edit_view(actor: &Principal, v: &ViewRow) -> bool {
        actor.can_manage_people() || v.owner_id == Some(actor.user_id)
    }

    fn fill_view(&self, cfg: &Config, actor: &Principal, v: &mut ViewRow, input: ViewInput) -> Result<()> {
        if let Some(n) = &input.name {
            v.name = people::validate_name(n, "name")?;
        }
        if let Some(g) = input.group_id {
            // Checked whatever else the request says, on a create as on a change.
            if cfg.group(g).is_none() {
                return Err(DomainError::invalid("group_id", Code::MissingReference, "no such group").into());
            }
            // A group view moves to another group; other views keep no group (the console
            // sends its group field whatever the scope).
            if input.scope.is_none() && scope(v) == "group" {
                if !actor.can_manage_people() {
                    return Err(CoreError::field_forbidden("group_id"));
                }
                v.group_id = Some(g);
            }
        }
        if let Some(scope) = input.scope.as_deref() {
            match scope {
                "personal" => {
                    v.owner_id = Some(v.owner_id.unwrap_or(actor.user_id));
                    v.group_id = None;
                }
                "group" | "shared" if !actor.can_manage_people() => return Err(CoreError::field_forbidden("scope")),
                "group" => {
                    let g = input.group_id.ok_or_else(|| DomainError::required("group_id"))?;
                    v.owner_id = None;
                    v.group_id = Some(g);
                }
                "shared" => {
                    v.owner_id = None;
                    v.group_id = None;
                }
                _ => return Err(bad("scope", "personal, group or shared")),
            }
        }
        if let Some(a) = input.active {
            v.active = a;
        }
        if let Some(p) = input.position {
            v.position = crate::rules::check_position(p)?;
        }
        if let Some(f) = &input.filters {
            v.filters = serde_json::to_value(parse_filters(cfg, f)?).map_err(|e| CoreError::Internal(e.to_string()))?;
        }
        if let Some(cols) = input.columns {
            for (i, c) in cols.iter().enumerate() {
                if !COLUMNS.contains(&c.as_str()) {
                    return Err(DomainError::invalid(
                        format!("columns[{i}]"),
                        Code::InvalidValue,
                        format!("one of {}", COLUMNS.join(", ")),
                    )
                    .into());
                }
            }
            v.columns = cols;
        }
        if let Some(s) = input.sort {
            if !TicketSort::ALL.iter().any(|(n, _)| *n == s) {
                return Err(bad("sort", "one of -updated_at, updated_at, -created_at, created_at, -priority, due_at"));
            }
            v.sort = s;
        }
        Ok(())
    }

    pub async fn create_view(&self, actor: &Principal, input: ViewInput) -> Result<ViewRow> {
        access::require_staff(actor, "views are for agents")?;
        if input.name.is_none() {
            return Err(DomainError::required("name").into());
        }
        let cfg = self.config().await?;
        let now = self.now();
        let mut v = ViewRow {
            id: 0,
            key: None,
            name: String::new(),
            owner_id: Some(actor.user_id),
            group_id: None,
            active: true,
            position: cfg.views.iter().map(|v| v.position).max().unwrap_or(0).min(crate::rules::POSITION_MAX) + 10,
            filters: Value::Object(Default::default()),
            columns: vec![],
            sort: "-updated_at".into(),
            created_at: now,
            updated_at: now,
        };
        self.fill_view(&cfg, actor, &mut v, input)?;
        let saved = self.store.save_view(&v).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn update_view(&self, actor: &Principal, id: i64, input: ViewInput) -> Result<ViewRow> {
        let mut v = self.get_view(actor, &id.to_string()).await?;
        if !Self::may_edit_view(actor, &v) {
            return Err(CoreError::forbidden("only its owner or a supervisor changes this view"));
        }
        let cfg = self.config().await?;
        self.fill_view(&cfg, actor, &mut v, input)?;
        v.updated_at = self.now();
        let saved = self.store.save_view(&v).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn delete_view(&self, actor: &Principal, id: i64) -> Result<()> {
        let v = self.get_view(actor, &id.to_string()).await?;
        if !Self::may_edit_view(actor, &v) {
            return Err(CoreError::forbidden("only its owner or a supervisor deletes this view"));
        }
        if v.key.is_some() {
            return Err(CoreError::InUse("a built-in view can be switched off but not deleted".into()));
        }
        self.store.delete_view(id).await?;
        self.config_changed();
        Ok(())
    }
}
