//! Replies, internal notes, attachments and ticket links.

use crate::Code;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::event::{EventKind, Via};
use crate::ids::{AttachmentId, CommentId, EventId, LinkId, TicketId, UserId};
use crate::str_enum;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    pub id: AttachmentId,
    /// Content address: the file is stored once per distinct content.
    pub sha256: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub uploader_id: UserId,
    pub comment_id: Option<CommentId>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comment {
    pub id: CommentId,
    pub ticket_id: TicketId,
    pub author_id: UserId,
    /// Public replies reach the customer; internal notes never do.
    pub public: bool,
    pub body: String,
    /// Sanitised HTML, safe to render as is.
    pub html_body: String,
    pub via: Via,
    pub attachments: Vec<Attachment>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

pub const COMMENT_MAX: usize = 65_536;

/// Plain text as safe HTML: every special character escaped, blank lines as paragraphs and
/// single line breaks as `<br>`.
pub fn text_to_html(text: &str) -> String {
    let escape = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                '\r' => {}
                _ => out.push(c),
            }
        }
        out
    };
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", escape(p).replace('\n', "<br>")))
        .collect()
}

#[cfg(test)]
#[test]
fn plain_text_becomes_escaped_paragraphs() {
    assert_eq!(
        text_to_html("a <b>&\"x\"\nnext\n\n第二段"),
        "<p>a &lt;b&gt;&amp;&quot;x&quot;<br>next</p><p>第二段</p>"
    );
    assert_eq!(text_to_html(" \n\n "), "");
}

pub fn validate_body(body: &str) -> Result<(), DomainError> {
    if body.trim().is_empty() {
        return Err(DomainError::required("body"));
    }
    if body.chars().count() > COMMENT_MAX {
        return Err(DomainError::invalid("body", Code::TooLong, format!("at most {COMMENT_MAX} characters")));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: EventId,
    pub ticket_id: TicketId,
    pub actor_id: Option<UserId>,
    pub via: Via,
    pub kind: EventKind,
    pub field: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    /// The rule that made the change, when `via` is `rule`.
    pub rule: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

str_enum!(
    /// `parent`: the source is the parent of the target. `follow_up`: the source was opened as
    /// a follow-up of the (closed) target.
    LinkKind { Related = "related", Duplicate = "duplicate", Parent = "parent", FollowUp = "follow_up" }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Link {
    pub id: LinkId,
    pub source_id: TicketId,
    pub target_id: TicketId,
    pub kind: LinkKind,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// Rejects links a ticket cannot have: to itself, or a parent chain that loops back.
/// `ancestors_of_source` are the tickets above `source` through parent links.
pub fn check_link(
    source: TicketId,
    target: TicketId,
    kind: LinkKind,
    ancestors_of_source: &[TicketId],
) -> Result<(), DomainError> {
    if source == target {
        return Err(DomainError::invalid("target_id", Code::InvalidLink, "a ticket cannot link to itself"));
    }
    if kind == LinkKind::Parent && ancestors_of_source.contains(&target) {
        return Err(DomainError::invalid(
            "target_id",
            Code::InvalidLink,
            "the link would make a ticket its own ancestor",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_to_self_or_in_a_loop_are_refused() {
        let (a, b) = (TicketId(1), TicketId(2));
        assert!(check_link(a, a, LinkKind::Related, &[]).is_err());
        assert!(check_link(a, b, LinkKind::Parent, &[]).is_ok());
        assert!(check_link(a, b, LinkKind::Parent, &[b]).is_err());
        assert!(check_link(a, b, LinkKind::Related, &[b]).is_ok());
    }

    #[test]
    fn bodies() {
        assert!(validate_body(" \n").is_err());
        assert!(validate_body("好的").is_ok());
    }
}
