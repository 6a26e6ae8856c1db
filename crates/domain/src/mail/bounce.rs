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
}

/// Reads a report's body (everything after its own header, as text). `None` when it reports
/// no failure.
pub fn read(body: &str) -> Option<Bounce> {
    let mut status = None;
    let mut diagnostic = None;
    let mut failed = false;
    let mut returned: Vec<String> = Vec::new();
    for line in unfold(body) {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "action" => failed |= value.eq_ignore_ascii_case("failed"),
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
    Some(Bounce { returned, why: why.chars().take(500).collect() })
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
    }

    #[test]
    fn a_delay_is_no_failure_and_a_permanent_status_is_one_without_an_action() {
        assert_eq!(read("Action: delayed\nStatus: 4.4.7\nMessage-ID: <a@b>\n"), None);
        let b = read("Status: 5.2.2 mailbox full\n").unwrap();
        assert_eq!((b.returned.len(), b.why.as_str()), (0, "5.2.2 mailbox full"));
        assert_eq!(read("just prose"), None);
    }
}
