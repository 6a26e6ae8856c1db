//! The UI's words in Chinese and English, from Fluent files embedded in the binary
//! (`locales/<lang>/<area>.ftl`: common, agent, portal, admin). Every label goes through here; a
//! test checks that both languages have the same keys, that no key is defined twice and that
//! every key the templates and handlers use exists.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};
use gongdan_domain::people::Language;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: they end up in copied text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

fn langid(lang: Language) -> LanguageIdentifier {
    match lang {
        Language::ZhCn => fluent_templates::langid!("zh-CN"),
        Language::En => fluent_templates::langid!("en"),
    }
}

/// The text for `key`; a missing key shows itself (and the i18n test fails on it).
pub fn t(lang: Language, key: &str) -> String {
    LOCALES.try_lookup(&langid(lang), key).unwrap_or_else(|| key.to_owned())
}

/// The text for `key` if the key exists.
pub fn try_t(lang: Language, key: &str) -> Option<String> {
    LOCALES.try_lookup(&langid(lang), key)
}

/// The text for `key` with named arguments (`{ $name }` in the Fluent file).
pub fn t_args(lang: Language, key: &str, args: &[(&'static str, String)]) -> String {
    let map: HashMap<Cow<'static, str>, FluentValue> =
        args.iter().map(|(k, v)| (Cow::Borrowed(*k), FluentValue::from(v.clone()))).collect();
    LOCALES.try_lookup_with_args(&langid(lang), key, &map).unwrap_or_else(|| key.to_owned())
}

/// One step of a message's explain log in the reader's language: `reason-<key>` with the
/// reason's facts (how the sender stands to the ticket in words too).
pub fn mail_reason(lang: Language, r: &gongdan_domain::mail::reason::Reason) -> String {
    let serde_json::Value::Object(facts) = serde_json::to_value(r).unwrap_or_default() else {
        return r.to_string();
    };
    let Some(key) = facts.get("key").and_then(|k| k.as_str()) else { return r.to_string() };
    let mut args: Vec<(&'static str, String)> = Vec::new();
    for (name, value) in &facts {
        let name: &'static str = match name.as_str() {
            "address" => "address",
            "why" => "why",
            "message_id" => "message_id",
            "ticket" => "ticket",
            "count" => "count",
            "number" => "number",
            "marker" => "marker",
            "closed" => "closed",
            "follow_up" => "follow_up",
            "mb" => "mb",
            "limit" => "limit",
            "error" => "error",
            "files" => "files",
            "limit_mb" => "limit_mb",
            "most" => "most",
            "sender" => {
                let standing = value.as_str().unwrap_or_default();
                args.push(("sender", t(lang, &format!("standing-{standing}"))));
                continue;
            }
            _ => continue,
        };
        args.push((name, value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())));
    }
    t_args(lang, &format!("reason-{key}"), &args)
}

/// The best language for an `Accept-Language` header, if it names one we speak.
pub fn negotiate(header: &str) -> Option<Language> {
    let mut best: Option<(f32, Language)> = None;
    for part in header.split(',') {
        let mut bits = part.trim().split(';');
        let tag = bits.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q =
            bits.find_map(|b| b.trim().strip_prefix("q=")).and_then(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
        let lang = if tag == "zh" || tag.starts_with("zh-") {
            Language::ZhCn
        } else if tag == "en" || tag.starts_with("en-") {
            Language::En
        } else {
            continue;
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Message keys of a Fluent file, with whether the message takes arguments.
    fn messages(file: &str) -> std::collections::BTreeMap<String, bool> {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        text.lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.contains("{ $"))))
            .collect()
    }

    /// The messages of a language: every area's file, none defining a key another does.
    fn language(dir: &str) -> std::collections::BTreeMap<String, bool> {
        let mut files: Vec<_> =
            std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
        files.sort();
        let mut all = std::collections::BTreeMap::new();
        for f in files.iter().filter(|f| f.extension().is_some_and(|x| x == "ftl")) {
            for (k, args) in messages(&f.to_string_lossy()) {
                assert!(all.insert(k.clone(), args).is_none(), "{k} is defined twice in {dir}");
            }
        }
        assert!(files.len() >= 4, "{dir}: one file per area");
        all
    }

    fn keys(dir: &str) -> BTreeSet<String> {
        language(dir).into_keys().collect()
    }

    /// Keys used in templates and handlers: `.t("…")`, `.t1("…"`, `.t2("…"`, and string
    /// literals that start with a key prefix (`"flash-saved"`, `"admin-groups"` …).
    fn used(dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                used(&p, out);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let mut markers: Vec<String> = [".t(\"", ".t1(\"", ".t2(\""].iter().map(|m| (*m).to_owned()).collect();
            // Handlers name keys as literals; in templates such strings are ids and classes.
            if p.extension().is_some_and(|x| x == "rs") {
                for prefix in PREFIXES {
                    markers.push(format!("\"{prefix}-"));
                }
            }
            for marker in &markers {
                for (i, _) in text.match_indices(marker.as_str()) {
                    let start = if marker.starts_with('.') { i + marker.len() } else { i + 1 };
                    let rest = &text[start..];
                    if let Some(end) = rest.find('"') {
                        let k = &rest[..end];
                        let keyish =
                            k.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c == '_' || c.is_ascii_digit());
                        if !k.is_empty() && keyish && !k.ends_with('-') {
                            out.insert(k.to_owned());
                        }
                    }
                }
            }
        }
    }

    const PREFIXES: [&str; 12] =
        ["flash", "error", "page", "step", "login", "signup", "reply", "admin", "field", "link", "sort", "view"];

    /// Keys built at run time from a closed vocabulary.
    fn dynamic() -> Vec<String> {
        use gongdan_domain::access::Role;
        use gongdan_domain::event::Via;
        use gongdan_domain::fields::{FieldKind, FieldScope};
        use gongdan_domain::tickets::{Channel, Priority, StatusCategory, TicketType};
        let mut k: Vec<String> = Vec::new();
        k.extend(StatusCategory::ALL.iter().map(|c| format!("status-{}", c.as_str())));
        k.extend(Priority::ALL.iter().map(|c| format!("priority-{}", c.as_str())));
        k.extend(Channel::ALL.iter().map(|c| format!("channel-{}", c.as_str())));
        k.extend(TicketType::ALL.iter().map(|c| format!("type-{}", c.as_str())));
        k.extend(Role::ALL.iter().map(|c| format!("role-{}", c.as_str())));
        k.extend(Via::ALL.iter().map(|c| format!("via-{}", c.as_str())));
        k.extend(FieldScope::ALL.iter().map(|c| format!("scope-{}", c.as_str())));
        k.extend(FieldKind::ALL.iter().map(|c| format!("kind-{}", c.as_str().replace('_', "-"))));
        k.extend(Language::ALL.iter().map(|c| format!("lang-{}", c.as_str())));
        k.extend(crate::ui::agent::BUILTIN_VIEWS.iter().map(|v| format!("view-{v}")));
        k.extend(gongdan_core::views::COLUMNS.iter().map(|c| format!("column-{c}")));
        k.extend(gongdan_domain::routing::Assignment::ALL.iter().map(|a| format!("assignment-{}", a.as_str())));
        k.extend(gongdan_domain::routing::Availability::ALL.iter().map(|a| format!("availability-{}", a.as_str())));
        k.extend((1..=3).map(|t| format!("tier-{t}")));
        // Each kind of mail reason, and how a sender stands to a ticket.
        for r in gongdan_domain::mail::reason::Reason::examples() {
            let facts = serde_json::to_value(&r).unwrap_or_default();
            k.push(format!("reason-{}", facts["key"].as_str().unwrap_or_default()));
        }
        k.extend(["requester", "cc", "staff", "stranger"].iter().map(|s| format!("standing-{s}")));
        for l in ["related", "duplicate", "parent", "follow_up"] {
            k.push(format!("link-{l}"));
        }
        for f in [
            "subject",
            "status",
            "priority",
            "type",
            "assignee-id",
            "group-id",
            "category-id",
            "organization-id",
            "due-at",
            "tags",
            "cc-ids",
        ] {
            k.push(format!("event-field-{f}"));
        }
        // Every entry of the code table has a message (forms show them by code).
        k.extend(gongdan_domain::Code::ALL.iter().map(|c| c.message_key().to_owned()));
        // The rule builders' pickers, from the lists the builders show.
        {
            use crate::ui::admin::builder::*;
            k.extend(CONDITION_FIELDS.iter().chain(&TRIGGER_FIELDS).map(|f| field_key(f)));
            k.extend(ACTION_FIELDS.iter().chain(&RULE_ACTIONS).map(|a| action_key(a)));
            for unit in ["hours", "minutes"] {
                k.extend(gongdan_domain::rules::Anchor::ALL.iter().map(|a| time_key(unit, a.name())));
            }
        }
        k.extend(
            gongdan_domain::rules::Operator::ALL.iter().map(|o| format!("rule-op-{}", o.as_str().replace('_', "-"))),
        );
        k.extend(
            gongdan_domain::rules::UpdateKind::ALL
                .iter()
                .map(|u| format!("rule-update-{}", u.as_str().replace('_', "-"))),
        );
        for w in ["requester", "assignee", "group", "user"] {
            k.push(format!("rule-notify-{w}"));
        }
        for s in ["updated_at", "created_at", "priority", "due_at"] {
            k.push(format!("view-sort-{s}"));
        }
        for s in ["personal", "group", "shared"] {
            k.push(format!("view-scope-{s}"));
        }
        for sec in ["triggers", "automations", "macros", "views", "webhooks"] {
            k.push(format!("admin-edit-{sec}"));
            k.push(format!("admin-new-{sec}"));
        }
        k
    }

    #[test]
    fn both_languages_have_every_key_the_ui_uses() {
        let root = env!("CARGO_MANIFEST_DIR");
        let zh = keys(&format!("{root}/locales/zh-CN"));
        let en = keys(&format!("{root}/locales/en"));
        assert!(zh.len() > 100, "the Chinese file is read");
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        assert!(only_zh.is_empty() && only_en.is_empty(), "zh only: {only_zh:?}; en only: {only_en:?}");
        let mut wanted = BTreeSet::new();
        used(&Path::new(root).join("templates"), &mut wanted);
        used(&Path::new(root).join("src/ui"), &mut wanted);
        wanted.extend(dynamic());
        let missing: Vec<_> = wanted.iter().filter(|k| !en.contains(*k)).collect();
        assert!(missing.is_empty(), "keys used but not translated: {missing:?}");
        // And the loader really has them in both languages (messages with arguments are
        // checked by rendering them with their arguments elsewhere).
        let with_args = language(&format!("{root}/locales/en"));
        for k in wanted.iter().filter(|k| with_args.get(*k) == Some(&false)) {
            assert!(try_t(Language::ZhCn, k).is_some() && try_t(Language::En, k).is_some(), "{k}");
        }
    }

    #[test]
    fn statuses_use_the_glossary_names() {
        for (key, zh) in [
            ("status-new", "新建"),
            ("status-open", "受理中"),
            ("status-pending", "等待回复"),
            ("status-on_hold", "挂起"),
            ("status-solved", "已解决"),
            ("status-closed", "已关闭"),
        ] {
            assert_eq!(t(Language::ZhCn, key), zh);
        }
        assert_eq!(t(Language::En, "status-on_hold"), "On-hold");
    }

    #[test]
    fn accept_language_picks_the_preferred_language_we_speak() {
        assert_eq!(negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Some(Language::ZhCn));
        assert_eq!(negotiate("en-US,en;q=0.9"), Some(Language::En));
        assert_eq!(negotiate("fr-FR, en;q=0.5, zh;q=0.7"), Some(Language::ZhCn));
        assert_eq!(negotiate("fr-FR"), None);
        assert_eq!(negotiate(""), None);
    }

    #[test]
    fn arguments_are_filled_in() {
        assert_eq!(t_args(Language::En, "list-total", &[("count", "3".into())]), "3 tickets");
    }
}
