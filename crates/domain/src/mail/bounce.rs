//! What a delivery report says about mail the desk sent: which messages it returns (the
//! Message-IDs in its returned copy or headers) and why delivery failed (RFC 3464's `Action`,
//! `Status` and `Diagnostic-Code`). A delay warning (`Action: delayed`) is no failure.

/// The failure a report tells of, if it tells of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// Message-IDs of the returned mail, without angle brackets.
    pub returned: Vec<String>,
    /// `5.1.1 smtp; 550 5.1.1 <gone@else.example>: user unknown`, as short as the report allows.
    pub why: String,
    /// The addresses it failed for (`Final-Recipient` of each failed block), lower case; empty
    /// when the report does not say.
    pub recipients: Vec<String>,
}

/// What a bounce makes of the desk's message: `failed` when no one it went to got it, or the
/// report names no one it went to (a forwarded address fails under its new name), else
/// `partly_failed`.
pub fn verdict(sent_to: &[String], bounced: &[String]) -> &'static str {
    let returned = |a: &String| bounced.iter().any(|b| b.eq_ignore_ascii_case(a));
    let some = sent_to.iter().any(returned);
    let all = sent_to.iter().all(returned);
    if all || !some { "failed" } else { "partly_failed" }
}

/// Reads a report's body (everything after its own header, as text). `None` when it reports
/// no failure.
pub fn read(body: &str) -> Option<Bounce> {
    let mut status = None;
    let mut diagnostic = None;
    let mut failed = false;
    let mut returned: Vec<String> = Vec::new();
    // The recipient of the block being read: its `Original-Recipient` (the address the desk
    // wrote to) before its `Final-Recipient` (where forwarding took it).
    let (mut original, mut last): (Option<String>, Option<String>) = (None, None);
    let mut recipients: Vec<String> = Vec::new();
    for line in unfold(body) {
        if line.trim().is_empty() {
            (original, last) = (None, None);
            continue;
        }
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            // `rfc822; gone@else.example`: each recipient's block names it.
            "original-recipient" => original = address(value),
            "final-recipient" => last = address(value),
            "action" => {
                let whom = original.take().or(last.take());
                if value.eq_ignore_ascii_case("failed") {
                    failed = true;
                    if let Some(r) = whom.filter(|r| !recipients.contains(r)) {
                        recipients.push(r);
                    }
                }
            }
            "status" if status.is_none() => status = Some(value.to_owned()),
            "diagnostic-code" if diagnostic.is_none() => diagnostic = Some(value.to_owned()),
            "message-id" => {
                let id = super::clean_message_id(value);
                if !id.is_empty() && !returned.contains(&id) {
                    returned.push(id);
                }
            }
            _ => {}
        }
    }
    // Without an Action line (some servers write prose), a permanent status still tells.
    let permanent = status.as_deref().is_some_and(|s| s.starts_with('5'));
    if !failed && !permanent {
        return None;
    }
    let why = match (status, diagnostic) {
        (Some(s), Some(d)) => format!("{s} {d}"),
        (Some(s), None) => s,
        (None, Some(d)) => d,
        (None, None) => "returned as undeliverable".into(),
    };
    Some(Bounce { returned, why: why.chars().take(500).collect(), recipients })
}

/// The address of a recipient field (`rfc822; <Gone@Else.example>` → `gone@else.example`).
fn address(value: &str) -> Option<String> {
    let a = value.rsplit(';').next().unwrap_or(value).trim().trim_matches(['<', '>']).trim();
    Some(a.to_ascii_lowercase()).filter(|a| a.contains('@'))
}

/// Header-style lines with their continuations joined.
fn unfold(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        match out.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) && !line.trim().is_empty() => {
                last.push(' ');
                last.push_str(line.trim());
            }
            _ => out.push(line.trim_end().to_owned()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_the_returned_message_and_why() {
        let body = "The mail could not be delivered.\n\nReporting-MTA: dns; mx.acme.test\n\n\
                    Final-Recipient: rfc822; gone@else.example\nAction: failed\nStatus: 5.1.1\n\
                    Diagnostic-Code: smtp; 550 5.1.1 <gone@else.example>:\n  user unknown\n\n\
                    From: support@acme.test\nMessage-ID: <gd.01@acme.test>\nSubject: Re: x\n";
        let b = read(body).unwrap();
        assert_eq!(b.returned, ["gd.01@acme.test"]);
        assert_eq!(b.why, "5.1.1 smtp; 550 5.1.1 <gone@else.example>: user unknown");
        assert_eq!(b.recipients, ["gone@else.example"]);
    }

    #[test]
    fn a_report_names_whom_it_failed_for_and_only_them() {
        let body = "Reporting-MTA: dns; mx.acme.test\n\n\
                    Final-Recipient: rfc822;<Gone@Else.example>\nAction: failed\nStatus: 5.1.1\n\n\
                    Original-Recipient: rfc822; zhao@cust.test\nFinal-Recipient: rfc822; zhao@cust.test\n\
                    Action: delivered\nStatus: 2.0.0\n";
        let b = read(body).unwrap();
        assert_eq!(b.recipients, ["gone@else.example"]);
        let sent = ["li@cust.test".to_owned(), "gone@else.example".to_owned()];
        assert_eq!(verdict(&sent, &b.recipients), "partly_failed");
        assert_eq!(verdict(&sent, &["gone@else.example".into(), "LI@cust.test".into()]), "failed");
        assert_eq!(verdict(&sent, &[]), "failed", "a report that names no one fails the message");
        assert_eq!(verdict(&[], &b.recipients), "failed", "nothing known of whom it went to");
        assert_eq!(verdict(&sent, &["li@gmail.example".into()]), "failed", "forwarded: nobody it went to got it");
        // The address the desk wrote to, not where forwarding took it; a block without one
        // does not inherit the last block's.
        let fwd = "Original-Recipient: rfc822; li@cust.test\nFinal-Recipient: rfc822; li@gmail.example\n\
                   Action: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822; zhao@cust.test\nAction: delivered\n\n\
                   Action: failed\nStatus: 5.0.0\n";
        assert_eq!(read(fwd).unwrap().recipients, ["li@cust.test"]);
    }

    #[test]
    fn a_delay_is_no_failure_and_a_permanent_status_is_one_without_an_action() {
        assert_eq!(read("Action: delayed\nStatus: 4.4.7\nMessage-ID: <a@b>\n"), None);
        let b = read("Status: 5.2.2 mailbox full\n").unwrap();
        assert_eq!((b.returned.len(), b.why.as_str()), (0, "5.2.2 mailbox full"));
        assert_eq!(read("just prose"), None);
    }
}
