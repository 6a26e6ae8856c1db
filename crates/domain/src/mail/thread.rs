//! Which ticket a message belongs to, in a fixed order, with each step's reason kept:
//!
//! 1. a Message-ID it answers (`In-Reply-To`, `References`) that the desk stored, its own or
//!    one it received;
//! 2. the ticket number in the subject (`[#10001]`), only when the sender takes part in that
//!    ticket — anyone else gets a new ticket, linked to it, so nobody writes into a stranger's
//!    ticket by typing its number;
//! 3. otherwise a new ticket.
//!
//! A reply to a closed ticket is still "append": the ticket use case turns it into a linked
//! follow-up, as for any reply to a closed ticket.

use super::reason::Reason;
use crate::ids::TicketId;

/// How the sender stands to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Requester,
    Cc,
    Staff,
    Stranger,
}

impl Standing {
    fn takes_part(self) -> bool {
        self != Standing::Stranger
    }

    pub fn words(self) -> &'static str {
        match self {
            Standing::Requester => "the sender is its requester",
            Standing::Cc => "the sender is copied on it",
            Standing::Staff => "the sender is an agent",
            Standing::Stranger => "the sender takes no part in it",
        }
    }
}

/// A ticket the message points at, and how the sender stands to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub ticket: TicketId,
    pub sender: Standing,
}

/// A ticket found by a Message-ID the message answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByReference {
    pub message_id: String,
    pub candidate: Candidate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A comment on this ticket.
    Append(TicketId),
    /// A new ticket, linked to `related` when the message pointed at one it may not join.
    Create { related: Option<TicketId> },
}

/// What threading found, in the order it looks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub by_reference: Option<ByReference>,
    /// The number in the subject, if any, and the ticket it names if there is one.
    pub token: Option<(i64, Option<Candidate>)>,
    /// How many answered Message-IDs the desk did not know.
    pub unknown_references: usize,
}

/// The decision and the reasons for it, in the order they were weighed.
pub fn decide(f: &Findings) -> (Decision, Vec<Reason>) {
    let mut why = Vec::new();
    if let Some(r) = &f.by_reference {
        let c = &r.candidate;
        why.push(Reason::Answers { message_id: r.message_id.clone(), ticket: c.ticket.0, sender: c.sender });
        if c.sender.takes_part() {
            return (Decision::Append(c.ticket), why);
        }
        why.push(Reason::LinkedOnly { ticket: c.ticket.0 });
        return (Decision::Create { related: Some(c.ticket) }, why);
    }
    if f.unknown_references > 0 {
        why.push(Reason::UnknownReferences { count: f.unknown_references });
    }
    match &f.token {
        Some((n, Some(c))) if c.sender.takes_part() => {
            why.push(Reason::SubjectNames { number: *n, sender: c.sender });
            (Decision::Append(c.ticket), why)
        }
        Some((n, Some(c))) => {
            why.push(Reason::SubjectNamesStranger { number: *n, sender: c.sender });
            why.push(Reason::LinkedTo { ticket: c.ticket.0 });
            (Decision::Create { related: Some(c.ticket) }, why)
        }
        Some((n, None)) => {
            why.push(Reason::SubjectNamesNothing { number: *n });
            (Decision::Create { related: None }, why)
        }
        None => {
            why.push(Reason::NothingTies);
            (Decision::Create { related: None }, why)
        }
    }
}

/// The ticket number in a subject: `[<prefix><digits>]`, e.g. `[#10001]` (the prefix is the
/// desk's, `#` by default). The last such token wins, as replies prepend.
pub fn subject_token(subject: &str, prefix: &str) -> Option<i64> {
    let open = format!("[{prefix}");
    let mut found = None;
    let mut rest = subject;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let digits: &str = &after[..after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len())];
        if !digits.is_empty() && after[digits.len()..].starts_with(']') {
            found = digits.parse().ok().or(found);
        }
        rest = after;
    }
    found
}

/// A subject carrying the ticket's token once: `Re: 打印机 [#10001]`.
pub fn tagged_subject(subject: &str, ticket: TicketId, prefix: &str) -> String {
    if subject_token(subject, prefix) == Some(ticket.0) {
        subject.to_owned()
    } else {
        format!("{} [{prefix}{}]", subject.trim(), ticket.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: i64, s: Standing) -> Candidate {
        Candidate { ticket: TicketId(id), sender: s }
    }

    #[test]
    fn references_come_first_then_the_token_then_a_new_ticket() {
        let by_ref = Some(ByReference { message_id: "m@x".into(), candidate: cand(7, Standing::Cc) });
        let token = Some((8, Some(cand(8, Standing::Requester))));
        let f = Findings { by_reference: by_ref.clone(), token: token.clone(), unknown_references: 0 };
        assert_eq!(decide(&f).0, Decision::Append(TicketId(7)), "a changed subject with matching references stays");
        let f = Findings { by_reference: None, token, unknown_references: 1 };
        let (d, why) = decide(&f);
        assert_eq!(d, Decision::Append(TicketId(8)));
        assert_eq!(
            why,
            [Reason::UnknownReferences { count: 1 }, Reason::SubjectNames { number: 8, sender: Standing::Requester }]
        );
        assert_eq!(decide(&Findings::default()).0, Decision::Create { related: None });
    }

    #[test]
    fn a_stranger_never_writes_into_a_ticket() {
        let f = Findings { token: Some((9, Some(cand(9, Standing::Stranger)))), ..Default::default() };
        assert_eq!(decide(&f).0, Decision::Create { related: Some(TicketId(9)) });
        let f = Findings {
            by_reference: Some(ByReference { message_id: "m@x".into(), candidate: cand(9, Standing::Stranger) }),
            ..Default::default()
        };
        assert_eq!(decide(&f).0, Decision::Create { related: Some(TicketId(9)) });
        let f = Findings { token: Some((9, Some(cand(9, Standing::Staff)))), ..Default::default() };
        assert_eq!(decide(&f).0, Decision::Append(TicketId(9)));
        let f = Findings { token: Some((404, None)), ..Default::default() };
        assert_eq!(decide(&f).0, Decision::Create { related: None });
    }

    #[test]
    fn tokens_are_found_only_whole() {
        assert_eq!(subject_token("Re: 打印机无法连接 [#10001]", "#"), Some(10001));
        assert_eq!(subject_token("[#1] fwd [#10002]", "#"), Some(10002));
        assert_eq!(subject_token("[#10001 ] [#] [#x1] #10001", "#"), None);
        assert_eq!(subject_token("Re: [Ticket#42]", "Ticket#"), Some(42));
        assert_eq!(subject_token("[#99999999999999999999999]", "#"), None, "too long is no number");
        assert_eq!(tagged_subject("Re: 发票 [#5]", TicketId(5), "#"), "Re: 发票 [#5]");
        assert_eq!(tagged_subject("发票", TicketId(5), "#"), "发票 [#5]");
    }
}
