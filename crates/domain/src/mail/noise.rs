//! Mail that is not a person writing: our own mail come back (a loop), delivery reports, and
//! automatic mail (out-of-office, list and bulk mail, generated alerts). Loops and reports make
//! no ticket; automatic mail is taken in, but the desk never answers it automatically, so two
//! robots cannot write to each other for ever.

use super::Envelope;
use super::reason::Reason;

/// Why a message is not (only) a person writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Noise {
    /// From one of the desk's own addresses: taking it in could loop.
    FromDesk,
    /// A delivery status notification (a bounce or a delay warning).
    DeliveryReport,
    /// Sent by a program; `why` names the header that says so.
    Automatic { why: String },
}

impl Noise {
    /// Loops and reports make no ticket and no comment.
    pub fn ignored(&self) -> bool {
        !matches!(self, Noise::Automatic { .. })
    }

    pub fn reason(&self) -> Reason {
        match self {
            Noise::FromDesk => Reason::FromDesk,
            Noise::DeliveryReport => Reason::DeliveryReport,
            Noise::Automatic { why } => Reason::Automatic { why: why.clone() },
        }
    }
}

/// What a message is, given the desk's own addresses (lower-cased).
pub fn classify(e: &Envelope, desk: &[String]) -> Option<Noise> {
    let from = e.from.as_ref().map(|a| a.email.as_str()).unwrap_or_default();
    if !from.is_empty() && desk.iter().any(|d| d == from) {
        return Some(Noise::FromDesk);
    }
    let local = from.split('@').next().unwrap_or_default();
    if e.report || matches!(local, "mailer-daemon" | "postmaster") {
        return Some(Noise::DeliveryReport);
    }
    if let Some(v) = e.auto_submitted.as_deref().map(str::trim)
        && !v.eq_ignore_ascii_case("no")
        && !v.is_empty()
    {
        return Some(Noise::Automatic { why: format!("Auto-Submitted: {v}") });
    }
    if e.x_autoreply {
        return Some(Noise::Automatic { why: "X-Autoreply".into() });
    }
    if let Some(p) = e.precedence.as_deref().map(|p| p.trim().to_ascii_lowercase())
        && matches!(p.as_str(), "bulk" | "junk" | "list" | "auto_reply")
    {
        return Some(Noise::Automatic { why: format!("Precedence: {p}") });
    }
    // Exchange sets this on its own automatic mail and on mail that asks not to be answered.
    if let Some(s) = e.auto_response_suppress.as_deref()
        && s.split(',').any(|t| matches!(t.trim().to_ascii_lowercase().as_str(), "all" | "oof" | "autoreply"))
    {
        return Some(Noise::Automatic { why: format!("X-Auto-Response-Suppress: {}", s.trim()) });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::Address;

    fn from(email: &str) -> Envelope {
        Envelope { from: Some(Address { email: email.into(), name: None }), ..Default::default() }
    }

    #[test]
    fn loops_reports_and_robots_are_told_apart_from_people() {
        let desk = vec!["support@acme.test".to_owned()];
        assert_eq!(classify(&from("li@kehu.cn"), &desk), None);
        assert_eq!(classify(&from("support@acme.test"), &desk), Some(Noise::FromDesk));
        assert_eq!(
            classify(&from("MAILER-DAEMON@mx.test".to_lowercase().as_str()), &desk),
            Some(Noise::DeliveryReport)
        );
        assert_eq!(classify(&Envelope { report: true, ..from("x@y.test") }, &desk), Some(Noise::DeliveryReport));
        let auto = |e: Envelope| classify(&e, &desk).is_some_and(|n| !n.ignored());
        assert!(auto(Envelope { auto_submitted: Some("auto-replied".into()), ..from("x@y.test") }));
        assert!(!auto(Envelope { auto_submitted: Some("no".into()), ..from("x@y.test") }));
        assert!(auto(Envelope { x_autoreply: true, ..from("x@y.test") }));
        assert!(auto(Envelope { precedence: Some("Bulk".into()), ..from("x@y.test") }));
        assert!(!auto(Envelope { precedence: Some("first-class".into()), ..from("x@y.test") }));
        assert!(auto(Envelope { auto_response_suppress: Some("DR, OOF".into()), ..from("x@y.test") }));
        assert!(Noise::FromDesk.ignored() && Noise::DeliveryReport.ignored());
    }
}
