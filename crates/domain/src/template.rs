//! Placeholders in texts that rules and macros write (`{{ticket.number}}`,
//! `{{requester.name}}` …). A fixed, small set: checked when a rule is saved, filled in when it
//! runs, never evaluated as code.

use crate::Code;
use crate::error::DomainError;

/// Every placeholder a text may use.
pub const PLACEHOLDERS: &[&str] = &[
    "ticket.number",
    "ticket.subject",
    "ticket.status",
    "ticket.priority",
    "ticket.group",
    "ticket.assignee",
    "requester.name",
    "requester.email",
    "current_user.name",
];

/// The `{{ … }}` spans of a text: (start, end, trimmed name).
fn spans(text: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| i + from) {
        let Some(close) = text[open + 2..].find("}}").map(|i| i + open + 2) else { break };
        out.push((open, close + 2, text[open + 2..close].trim()));
        from = close + 2;
    }
    out
}

/// Refuses a text naming a placeholder we do not know; `field` names the input.
pub fn check(text: &str, field: &str) -> Result<(), DomainError> {
    for (_, _, name) in spans(text) {
        if !PLACEHOLDERS.contains(&name) {
            return Err(DomainError::invalid(
                field,
                Code::UnknownPlaceholder,
                format!("`{{{{{name}}}}}` is not a placeholder; use one of {}", PLACEHOLDERS.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Fills in the placeholders `value` knows; unknown ones are left as written.
pub fn render(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end, name) in spans(text) {
        out.push_str(&text[last..start]);
        match value(name) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&text[start..end]),
        }
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_placeholders_and_keeps_the_rest() {
        let v = |k: &str| match k {
            "ticket.number" => Some("10001".to_owned()),
            "requester.name" => Some("李雷".to_owned()),
            _ => None,
        };
        assert_eq!(
            render("您好 {{requester.name}}，工单 #{{ ticket.number }} 已受理", v),
            "您好 李雷，工单 #10001 已受理"
        );
        assert_eq!(render("{{ticket.group}} {{ unclosed", v), "{{ticket.group}} {{ unclosed");
    }

    #[test]
    fn unknown_placeholders_are_refused_when_saved() {
        assert!(check("#{{ticket.number}} {{requester.email}}", "body").is_ok());
        let err = check("{{ticket.secret}}", "actions[0].value.body");
        assert_eq!(
            err.map_err(|e| (e.code(), e.field().map(str::to_owned))),
            Err(("unknown_placeholder", Some("actions[0].value.body".into())))
        );
    }
}
