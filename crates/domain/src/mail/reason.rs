//! Why the desk did what it did with a message: each step of the explain log, kept with its
//! facts (not as a sentence) so that each reader sees it in their language. The English
//! sentence is what the API says; reasons stored before they had keys read back as that text.

use serde::{Deserialize, Serialize};

use super::thread::Standing;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "key", rename_all = "snake_case")]
pub enum Reason {
    ReceivedAt {
        address: String,
    },
    FromDesk,
    DeliveryReport,
    /// `why` is the header that says so (`Auto-Submitted: auto-replied`).
    Automatic {
        why: String,
    },
    ReturnsReply {
        message_id: String,
        ticket: i64,
    },
    SeenBefore {
        message_id: String,
        ticket: i64,
    },
    Answers {
        message_id: String,
        ticket: i64,
        sender: Standing,
    },
    LinkedOnly {
        ticket: i64,
    },
    UnknownReferences {
        count: usize,
    },
    SubjectNames {
        number: i64,
        sender: Standing,
    },
    SubjectNamesStranger {
        number: i64,
        sender: Standing,
    },
    LinkedTo {
        ticket: i64,
    },
    SubjectNamesNothing {
        number: i64,
    },
    NothingTies,
    NoteMarker {
        marker: String,
    },
    NotificationAnswer,
    FollowUp {
        closed: i64,
        follow_up: i64,
    },
    NotCopied {
        address: String,
    },
    Copied {
        count: usize,
    },
    MailedFrom {
        address: String,
    },
    /// The desk mailed a notification to `address` on the ticket.
    Notified {
        address: String,
    },
    /// Files the message could not keep (past the attachment limit, or past the most files a
    /// message keeps), named; its raw source keeps them.
    FilesLeftOut {
        files: String,
        limit_mb: u64,
        most: usize,
    },
    // Why a message was quarantined.
    TooLarge {
        mb: u64,
    },
    NotMail,
    Unreadable,
    NoSender,
    BadSender {
        address: String,
    },
    Storm {
        address: String,
        limit: u32,
    },
    /// `error` is the store's or a rule's refusal, in English.
    NotStored {
        error: String,
    },
    /// Taken in on `ticket`, kept here too for the files it could not keep.
    KeptForFiles {
        ticket: i64,
    },
    /// A reason stored as a sentence, before reasons had keys.
    #[serde(untagged)]
    Text(String),
}

impl Reason {
    /// One reason of each kind, for checks that every kind is worded in every language.
    pub fn examples() -> Vec<Reason> {
        let s = || String::from("x@acme.test");
        let all = vec![
            Reason::ReceivedAt { address: s() },
            Reason::FromDesk,
            Reason::DeliveryReport,
            Reason::Automatic { why: "Auto-Submitted: auto-replied".into() },
            Reason::ReturnsReply { message_id: s(), ticket: 1 },
            Reason::SeenBefore { message_id: s(), ticket: 1 },
            Reason::Answers { message_id: s(), ticket: 1, sender: Standing::Cc },
            Reason::LinkedOnly { ticket: 1 },
            Reason::UnknownReferences { count: 2 },
            Reason::SubjectNames { number: 1, sender: Standing::Requester },
            Reason::SubjectNamesStranger { number: 1, sender: Standing::Stranger },
            Reason::LinkedTo { ticket: 1 },
            Reason::SubjectNamesNothing { number: 1 },
            Reason::NothingTies,
            Reason::NoteMarker { marker: "#note".into() },
            Reason::NotificationAnswer,
            Reason::FollowUp { closed: 1, follow_up: 2 },
            Reason::NotCopied { address: s() },
            Reason::Copied { count: 2 },
            Reason::MailedFrom { address: s() },
            Reason::Notified { address: s() },
            Reason::FilesLeftOut { files: "scan.zip".into(), limit_mb: 20, most: 50 },
            Reason::KeptForFiles { ticket: 1 },
            Reason::TooLarge { mb: 25 },
            Reason::NotMail,
            Reason::Unreadable,
            Reason::NoSender,
            Reason::BadSender { address: s() },
            Reason::Storm { address: s(), limit: 30 },
            Reason::NotStored { error: "a value was refused".into() },
        ];
        // A kind added above must be added here too (the match has no wildcard).
        for r in &all {
            match r {
                Reason::ReceivedAt { .. }
                | Reason::FromDesk
                | Reason::DeliveryReport
                | Reason::Automatic { .. }
                | Reason::ReturnsReply { .. }
                | Reason::SeenBefore { .. }
                | Reason::Answers { .. }
                | Reason::LinkedOnly { .. }
                | Reason::UnknownReferences { .. }
                | Reason::SubjectNames { .. }
                | Reason::SubjectNamesStranger { .. }
                | Reason::LinkedTo { .. }
                | Reason::SubjectNamesNothing { .. }
                | Reason::NothingTies
                | Reason::NoteMarker { .. }
                | Reason::NotificationAnswer
                | Reason::FollowUp { .. }
                | Reason::NotCopied { .. }
                | Reason::Copied { .. }
                | Reason::MailedFrom { .. }
                | Reason::Notified { .. }
                | Reason::FilesLeftOut { .. }
                | Reason::KeptForFiles { .. }
                | Reason::TooLarge { .. }
                | Reason::NotMail
                | Reason::Unreadable
                | Reason::NoSender
                | Reason::BadSender { .. }
                | Reason::Storm { .. }
                | Reason::NotStored { .. }
                | Reason::Text(_) => {}
            }
        }
        all
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::ReceivedAt { address } => write!(f, "received at {address}"),
            Reason::FromDesk => f.write_str("sent from one of the desk's own addresses (a loop)"),
            Reason::DeliveryReport => f.write_str("a delivery status report, not a message from a person"),
            Reason::Automatic { why } => write!(f, "automatic mail ({why}): taken in, never answered automatically"),
            Reason::ReturnsReply { message_id, ticket } => {
                write!(
                    f,
                    "it returns the desk's reply <{message_id}> on ticket {ticket}: its delivery is marked as the report says"
                )
            }
            Reason::SeenBefore { message_id, ticket } => {
                write!(f, "<{message_id}> was taken in before, on ticket {ticket}")
            }
            Reason::Answers { message_id, ticket, sender } => {
                write!(f, "it answers <{message_id}>, stored on ticket {ticket}; {}", sender.words())
            }
            Reason::LinkedOnly { ticket } => {
                write!(f, "a new ticket, linked to {ticket}: only its requester, CCs and agents add to it")
            }
            Reason::UnknownReferences { count } => write!(f, "it answers {count} Message-ID(s) the desk never stored"),
            Reason::SubjectNames { number, sender } => {
                write!(f, "the subject names ticket {number}; {}", sender.words())
            }
            Reason::SubjectNamesStranger { number, sender } => {
                write!(f, "the subject names ticket {number}, but {}", sender.words())
            }
            Reason::LinkedTo { ticket } => write!(f, "a new ticket, linked to {ticket}"),
            Reason::SubjectNamesNothing { number } => {
                write!(f, "the subject names ticket {number}, which does not exist: a new ticket")
            }
            Reason::NothingTies => f.write_str("nothing ties it to a ticket: a new ticket"),
            Reason::NoteMarker { marker } => write!(f, "an agent's reply starting with {marker}: an internal note"),
            Reason::NotificationAnswer => f.write_str("an agent's answer to a notification: an internal note"),
            Reason::FollowUp { closed, follow_up } => {
                write!(f, "ticket {closed} is closed: the reply opened follow-up {follow_up}")
            }
            Reason::NotCopied { address } => write!(f, "`{address}` was not copied: not a usable address"),
            Reason::Copied { count } => write!(f, "{count} other recipient(s) copied on the ticket"),
            Reason::MailedFrom { address } => write!(f, "a public reply: mailed from {address}"),
            Reason::Notified { address } => write!(f, "a notification to {address}"),
            Reason::TooLarge { mb } => write!(f, "larger than the {mb} MB a message may be"),
            Reason::NotMail => f.write_str("not a mail message"),
            Reason::Unreadable => f.write_str("the message could not be read"),
            Reason::NoSender => f.write_str("it names no sender (From)"),
            Reason::BadSender { address } => write!(f, "the sender address `{address}` is not one the desk can answer"),
            Reason::Storm { address, limit } => {
                write!(f, "more than {limit} messages from {address} within an hour: held as a mail storm")
            }
            Reason::NotStored { error } => write!(f, "it could not be stored: {error}"),
            Reason::FilesLeftOut { files, limit_mb, most } => write!(
                f,
                "not attached ({files}): over the {limit_mb} MB limit or past {most} files; the raw message in the quarantine keeps them"
            ),
            Reason::KeptForFiles { ticket } => {
                write!(f, "taken in on ticket {ticket}; kept here for the files it could not attach")
            }
            Reason::Text(t) => f.write_str(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_keep_their_facts_and_old_sentences_still_read() {
        let r = Reason::Answers { message_id: "m@x".into(), ticket: 7, sender: Standing::Cc };
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json, serde_json::json!({"key": "answers", "message_id": "m@x", "ticket": 7, "sender": "cc"}));
        assert_eq!(serde_json::from_value::<Reason>(json).ok(), Some(r.clone()));
        assert_eq!(r.to_string(), "it answers <m@x>, stored on ticket 7; the sender is copied on it");
        let old: Vec<Reason> =
            serde_json::from_str(r#"["received at support@acme.test", {"key": "nothing_ties"}]"#).unwrap_or_default();
        assert_eq!(old, [Reason::Text("received at support@acme.test".into()), Reason::NothingTies]);
    }
}
