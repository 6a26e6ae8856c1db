//! Notification templates: what the desk tells a person when something happens to a ticket
//! (received, replied, solved, assigned …), written once in each language the desk speaks. A
//! rule's notify action names a template or writes its own text; each person notified reads
//! the template in their own language.

use jiff::Timestamp;

use crate::error::DomainError;
use crate::people::Language;
use crate::{Code, template};

/// A notification's subject and body, placeholders not yet filled in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wording {
    pub subject: String,
    pub body: String,
}

/// A notification's text in each language.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Texts {
    pub zh_cn: Wording,
    pub en: Wording,
}

impl Texts {
    /// One text for everyone (a rule that writes its own).
    pub fn same(w: Wording) -> Self {
        Texts { zh_cn: w.clone(), en: w }
    }

    pub fn get(&self, language: Language) -> &Wording {
        match language {
            Language::ZhCn => &self.zh_cn,
            Language::En => &self.en,
        }
    }

    /// Each language's text through `f` (which is told the language).
    pub fn map(&self, f: impl Fn(&str, Language) -> String) -> Texts {
        let one = |w: &Wording, l| Wording { subject: f(&w.subject, l), body: f(&w.body, l) };
        Texts { zh_cn: one(&self.zh_cn, Language::ZhCn), en: one(&self.en, Language::En) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationTemplate {
    pub id: i64,
    pub name: String,
    pub texts: Texts,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub const SUBJECT_MAX: usize = 200;
pub const BODY_MAX: usize = 10_000;

/// Checks one language's text: a one-line subject and a body, both non-empty and within
/// their limits, naming only known placeholders. `at` names the input (`texts.en`).
pub fn check_wording(w: &Wording, at: &str) -> Result<Wording, DomainError> {
    let subject = w.subject.trim();
    let body = w.body.trim();
    let field = |k: &str| format!("{at}.{k}");
    if subject.is_empty() {
        return Err(DomainError::required(field("subject")));
    }
    if body.is_empty() {
        return Err(DomainError::required(field("body")));
    }
    if subject.chars().count() > SUBJECT_MAX {
        return Err(DomainError::invalid(field("subject"), Code::TooLong, format!("at most {SUBJECT_MAX} characters")));
    }
    if subject.contains(['\r', '\n']) {
        return Err(DomainError::invalid(field("subject"), Code::InvalidValue, "a subject is one line"));
    }
    if body.chars().count() > BODY_MAX {
        return Err(DomainError::invalid(field("body"), Code::TooLong, format!("at most {BODY_MAX} characters")));
    }
    template::check(subject, &field("subject"))?;
    template::check(body, &field("body"))?;
    Ok(Wording { subject: subject.to_owned(), body: body.to_owned() })
}

/// Checks both languages' texts.
pub fn check_texts(t: &Texts) -> Result<Texts, DomainError> {
    Ok(Texts { zh_cn: check_wording(&t.zh_cn, "texts.zh-CN")?, en: check_wording(&t.en, "texts.en")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(subject: &str, body: &str) -> Wording {
        Wording { subject: subject.into(), body: body.into() }
    }

    #[test]
    fn a_wording_is_trimmed_and_checked_field_by_field() {
        let ok = check_wording(&w("  工单 #{{ticket.number}} 已受理 ", "您好 {{requester.name}}"), "texts.zh-CN");
        assert_eq!(ok.map(|w| w.subject).ok().as_deref(), Some("工单 #{{ticket.number}} 已受理"));
        let field = |r: Result<Wording, DomainError>| r.err().and_then(|e| e.field().map(str::to_owned));
        assert_eq!(field(check_wording(&w("", "b"), "texts.en")).as_deref(), Some("texts.en.subject"));
        assert_eq!(field(check_wording(&w("s", " "), "texts.en")).as_deref(), Some("texts.en.body"));
        assert_eq!(field(check_wording(&w("a\nb", "b"), "texts.en")).as_deref(), Some("texts.en.subject"));
        assert_eq!(field(check_wording(&w("s", "{{ticket.secret}}"), "texts.en")).as_deref(), Some("texts.en.body"));
        assert_eq!(field(check_wording(&w(&"长".repeat(201), "b"), "texts.en")).as_deref(), Some("texts.en.subject"));
    }

    #[test]
    fn each_language_reads_its_own_text() {
        let t = Texts { zh_cn: w("已收到", "您好"), en: w("Received", "Hello") };
        assert_eq!(t.get(Language::En).subject, "Received");
        let tagged = t.map(|s, l| format!("{s} [{}]", l.as_str()));
        assert_eq!(tagged.zh_cn.body, "您好 [zh-CN]");
        assert_eq!(tagged.en.subject, "Received [en]");
        assert_eq!(Texts::same(w("x", "y")).en, w("x", "y"));
    }
}
