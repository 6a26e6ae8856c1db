//! What a reply mailed from the desk says in its headers: who gets it, its subject with the
//! ticket's token, and how it joins the thread in the customer's mail program.

use crate::ids::{GroupId, MailboxId, TicketId};
use crate::mail::thread::tagged_subject;
use crate::mail::{Address, Mailbox};
use crate::people::Language;

/// References kept at most: the thread's first message and the latest ones (RFC 5322 §3.6.4
/// lets a long thread's list be trimmed from the middle).
const REFERENCES_MAX: usize = 12;

/// The parts of a ticket a reply is addressed from.
#[derive(Debug, Clone, Default)]
pub struct Thread<'a> {
    pub ticket: TicketId,
    pub subject: &'a str,
    pub token_prefix: &'a str,
    pub requester: Option<Address>,
    pub ccs: Vec<Address>,
    /// Whoever wrote the reply: never mailed their own words.
    pub author: Option<&'a str>,
    /// The desk's own addresses: never mailed (that would loop).
    pub desk: &'a [String],
    /// The ticket's stored Message-IDs, oldest first, with whether each was received (`true`)
    /// or sent by the desk.
    pub messages: &'a [(String, bool)],
}

/// The headers of one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub subject: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

/// The reply's headers, or `None` when nobody is left to send it to.
pub fn reply(t: &Thread<'_>) -> Option<Headers> {
    let mut taken: Vec<String> = t.desk.to_vec();
    taken.extend(t.author.map(str::to_owned));
    let mut pick = |a: &Address| {
        if taken.contains(&a.email) {
            return false;
        }
        taken.push(a.email.clone());
        true
    };
    let to: Vec<Address> = t.requester.iter().filter(|a| pick(a)).cloned().collect();
    let mut cc: Vec<Address> = t.ccs.iter().filter(|a| pick(a)).cloned().collect();
    let to = if to.is_empty() && !cc.is_empty() { vec![cc.remove(0)] } else { to };
    if to.is_empty() {
        return None;
    }
    // Answers the customer's latest message; the desk's own latest when it never received one.
    let in_reply_to =
        t.messages.iter().rev().find(|(_, received)| *received).or_else(|| t.messages.last()).map(|(id, _)| id.clone());
    // The parent ends the list (RFC 5322 §3.6.4), whatever the trimming leaves out.
    let ids: Vec<&String> = t
        .messages
        .iter()
        .map(|(id, _)| id)
        .filter(|id| Some(*id) != in_reply_to.as_ref())
        .chain(in_reply_to.as_ref())
        .collect();
    let references = match ids.len() {
        n if n > REFERENCES_MAX => {
            std::iter::once(ids[0]).chain(ids[n - (REFERENCES_MAX - 1)..].iter().copied()).cloned().collect()
        }
        _ => ids.into_iter().cloned().collect(),
    };
    let subject = tagged_subject(&reply_subject(t.subject), t.ticket, t.token_prefix);
    Some(Headers { to, cc, subject, in_reply_to, references })
}

/// The mailbox a ticket's replies go out from: the one its customer last wrote to, else the
/// one of its group, else the desk's first.
pub fn sender(mailboxes: &[Mailbox], received_at: Option<MailboxId>, group: Option<GroupId>) -> Option<&Mailbox> {
    let active = || mailboxes.iter().filter(|m| m.active);
    received_at
        .and_then(|id| active().find(|m| m.id == id))
        .or_else(|| group.and_then(|g| active().find(|m| m.group_id == Some(g))))
        .or_else(|| active().next())
}

/// `Re: …` once, however many times the customer's program added it.
fn reply_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let rest = match s.get(..3) {
            Some(p) if p.eq_ignore_ascii_case("re:") => s.get(3..),
            _ => s.strip_prefix("回复:").or_else(|| s.strip_prefix("回复：")),
        };
        match rest {
            Some(r) => s = r.trim_start(),
            None => break,
        }
    }
    if s.is_empty() { "Re: (no subject)".into() } else { format!("Re: {s}") }
}

/// A Message-ID for mail the desk sends: unique by its random part, under the mailbox's domain
/// so receiving servers do not take it for a forgery.
pub fn message_id(random: u128, from: &str) -> String {
    let domain = from.rsplit_once('@').map(|(_, d)| d).filter(|d| !d.is_empty()).unwrap_or("gongdan.invalid");
    format!("gd.{random:032x}@{domain}")
}

/// The lines a reply's mail ends with when some of its files were too large to attach: their
/// names and sizes, and where the customer finds them (the request in the portal).
pub fn left_out(language: Language, files: &[(String, i64)], link: &str) -> String {
    let size = |n: i64| match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / 1_048_576.0),
        n if n >= 1 << 10 => format!("{} KB", n >> 10),
        n => format!("{n} B"),
    };
    let names: Vec<String> = files.iter().map(|(name, n)| format!("{name} ({})", size(*n))).collect();
    match language {
        Language::ZhCn => format!("以下附件太大，未随邮件发送，请到您的工单中查看：{link}\n{}", names.join("\n")),
        Language::En => format!(
            "These files were too large to send by mail; you find them on your request: {link}\n{}",
            names.join("\n")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(email: &str) -> Address {
        Address { email: email.into(), name: None }
    }

    fn thread<'a>(messages: &'a [(String, bool)], desk: &'a [String]) -> Thread<'a> {
        Thread {
            ticket: TicketId(10001),
            subject: "RE: Re: 打印机卡纸",
            token_prefix: "#",
            requester: Some(a("li@cust.test")),
            ccs: vec![a("zhao@cust.test"), a("support@acme.test"), a("li@cust.test")],
            author: Some("agent@acme.test"),
            desk,
            messages,
        }
    }

    #[test]
    fn a_reply_goes_to_the_requester_and_ccs_but_never_to_the_desk_or_twice() {
        let desk = ["support@acme.test".to_owned()];
        let h = reply(&thread(&[], &desk)).unwrap();
        assert_eq!(h.to, [a("li@cust.test")]);
        assert_eq!(h.cc, [a("zhao@cust.test")]);
        assert_eq!(h.subject, "Re: 打印机卡纸 [#10001]");
        assert_eq!((h.in_reply_to, h.references.len()), (None, 0));
    }

    #[test]
    fn it_answers_the_customers_latest_message_and_keeps_the_threads_start() {
        let desk = [];
        let msgs: Vec<(String, bool)> = (0..20).map(|i| (format!("m{i}@x"), i % 3 == 0)).collect();
        let h = reply(&thread(&msgs, &desk)).unwrap();
        assert_eq!(h.in_reply_to.as_deref(), Some("m18@x"));
        assert_eq!(h.references.len(), REFERENCES_MAX);
        assert_eq!((h.references[0].as_str(), h.references[11].as_str()), ("m0@x", "m18@x"), "the parent last");
        assert_eq!(h.references[10], "m19@x");
    }

    #[test]
    fn without_a_requester_address_the_first_cc_is_addressed_and_with_nobody_nothing_is_sent() {
        let desk = [];
        let t = Thread { requester: None, ..thread(&[], &desk) };
        let h = reply(&t).unwrap();
        assert_eq!((h.to, h.cc), (vec![a("zhao@cust.test")], vec![a("support@acme.test"), a("li@cust.test")]));
        let t = Thread { requester: Some(a("agent@acme.test")), ccs: vec![], ..thread(&[], &desk) };
        assert!(reply(&t).is_none());
    }

    #[test]
    fn replies_leave_from_the_mailbox_the_customer_wrote_to_then_the_groups_then_the_first() {
        let at = jiff::Timestamp::UNIX_EPOCH;
        let m = |id, group: Option<i64>, active| Mailbox {
            id: MailboxId(id),
            group_id: group.map(GroupId),
            active,
            ..Mailbox::blank(at)
        };
        let all = [m(1, None, true), m(2, Some(7), true), m(3, Some(8), false), m(4, None, true)];
        let id = |b: Option<&Mailbox>| b.map(|b| b.id.0);
        assert_eq!(id(sender(&all, Some(MailboxId(4)), Some(GroupId(7)))), Some(4));
        assert_eq!(id(sender(&all, Some(MailboxId(3)), Some(GroupId(7)))), Some(2), "inactive is skipped");
        assert_eq!(id(sender(&all, None, Some(GroupId(8)))), Some(1));
        assert_eq!(id(sender(&[], None, None)), None);
    }

    #[test]
    fn subjects_get_one_re_and_message_ids_the_mailboxes_domain() {
        assert_eq!(reply_subject("回复：Re: 发票"), "Re: 发票");
        assert_eq!(reply_subject("  "), "Re: (no subject)");
        assert_eq!(message_id(255, "support@acme.test"), "gd.000000000000000000000000000000ff@acme.test");
        assert_eq!(message_id(1, "nobody"), "gd.00000000000000000000000000000001@gongdan.invalid");
    }

    #[test]
    fn files_left_out_are_named_with_where_to_find_them() {
        let files =
            [("scan.pdf".to_owned(), 25 * 1_048_576), ("log.txt".to_owned(), 1_572_864), ("a".to_owned(), 61_440)];
        let en = left_out(Language::En, &files, "https://help.acme.test/portal/requests/10001");
        assert!(en.contains("https://help.acme.test/portal/requests/10001"), "{en}");
        assert!(
            en.contains("scan.pdf (25.0 MB)") && en.contains("log.txt (1.5 MB)") && en.contains("a (60 KB)"),
            "{en}"
        );
        assert!(left_out(Language::ZhCn, &files, "x").starts_with("以下附件太大"));
    }
}
