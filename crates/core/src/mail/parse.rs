//! A raw message read into what the channel needs: its envelope (for threading and noise),
//! its text and HTML, and its files. Reading never fails on a bad part: what cannot be read as
//! text is kept as a file.

use gongdan_domain::mail::{Address, Envelope, clean_message_id};
use mail_parser::{Message, MessageParser, MimeHeaders};

/// A file the message carried (attachments, inline images, attached mails, `winmail.dat`).
#[derive(Debug, Clone)]
pub struct Part {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// `cid:` of an inline image, without angle brackets.
    pub content_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Parsed {
    pub envelope: Envelope,
    /// The text version (from the HTML when the message has no text part).
    pub text: String,
    /// The HTML version, unsanitised, when the message has one.
    pub html: Option<String>,
    pub parts: Vec<Part>,
    /// Whether the message had its own Message-ID (else one was made from its bytes).
    pub had_message_id: bool,
}

/// Reads a raw message; `None` when the bytes are not a message at all.
pub fn parse(raw: &[u8]) -> Option<Parsed> {
    let mut m = MessageParser::default().parse(raw)?;
    // A message needs some header; mail-parser reads anything as a body otherwise.
    if m.headers().is_empty() {
        return None;
    }
    let message_id = m.message_id().map(clean_message_id).filter(|id| !id.is_empty());
    let had_message_id = message_id.is_some();
    let envelope = Envelope {
        message_id: message_id.unwrap_or_else(|| format!("{}@gongdan.invalid", gongdan_sha(raw))),
        in_reply_to: ids(m.in_reply_to()),
        references: ids(m.references()),
        subject: m.subject().unwrap_or_default().trim().to_owned(),
        from: m.from().and_then(|a| a.first()).and_then(address),
        reply_to: m.reply_to().and_then(|a| a.first()).and_then(address),
        to: m.to().map(|a| a.iter().filter_map(address).collect()).unwrap_or_default(),
        cc: m.cc().map(|a| a.iter().filter_map(address).collect()).unwrap_or_default(),
        auto_submitted: header_text(&m, "Auto-Submitted"),
        precedence: header_text(&m, "Precedence"),
        x_autoreply: m.header("X-Autoreply").is_some() || m.header("X-Autorespond").is_some(),
        auto_response_suppress: header_text(&m, "X-Auto-Response-Suppress"),
        report: m.root_part().content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("multipart") && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
        }),
        delivered_to: delivered_to(&m),
    };
    let text = m.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    let html = m.html_bodies().any(|p| p.is_text_html()).then(|| m.body_html(0).map(|h| h.into_owned())).flatten();
    let ids: Vec<usize> = m.attachments.iter().map(|i| *i as usize).collect();
    let mut parts = Vec::with_capacity(ids.len());
    for i in ids {
        if let Some(p) = m.parts.get_mut(i) {
            parts.push(part(p));
        }
    }
    Some(Parsed {
        envelope: without_nul(envelope),
        text: nul_free(text),
        html: html.map(nul_free),
        parts,
        had_message_id,
    })
}

/// NUL is no character of any text the desk keeps (PostgreSQL refuses it in text columns), and
/// broken mail carries it.
fn nul_free(s: String) -> String {
    if s.contains('\0') { s.replace('\0', "") } else { s }
}

fn without_nul(e: Envelope) -> Envelope {
    let addr = |a: Address| Address { email: nul_free(a.email), name: a.name.map(nul_free) };
    let list = |v: Vec<String>| v.into_iter().map(nul_free).collect();
    Envelope {
        message_id: nul_free(e.message_id),
        in_reply_to: list(e.in_reply_to),
        references: list(e.references),
        subject: nul_free(e.subject),
        from: e.from.map(addr),
        reply_to: e.reply_to.map(addr),
        to: e.to.into_iter().map(addr).collect(),
        cc: e.cc.into_iter().map(addr).collect(),
        auto_submitted: e.auto_submitted.map(nul_free),
        precedence: e.precedence.map(nul_free),
        x_autoreply: e.x_autoreply,
        auto_response_suppress: e.auto_response_suppress.map(nul_free),
        report: e.report,
        delivered_to: list(e.delivered_to),
    }
}

fn gongdan_sha(raw: &[u8]) -> String {
    crate::auth::sha256_hex(raw)
}

fn ids(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    let list: Vec<String> = match v {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => vec![],
    };
    list.iter().map(|i| clean_message_id(i)).filter(|i| !i.is_empty()).collect()
}

/// Every `Delivered-To` and `X-Original-To` address, as receiving servers add them.
fn delivered_to(m: &Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (name, value) in m.headers_raw() {
        if !(name.eq_ignore_ascii_case("Delivered-To") || name.eq_ignore_ascii_case("X-Original-To")) {
            continue;
        }
        let a = value.trim().trim_matches(['<', '>']).trim().to_lowercase();
        if a.contains('@') && !a.contains(char::is_whitespace) && !out.contains(&a) && out.len() < 8 {
            out.push(a);
        }
    }
    out
}

fn header_text(m: &Message<'_>, name: &str) -> Option<String> {
    m.header_raw(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn address(a: &mail_parser::Addr<'_>) -> Option<Address> {
    let email = a.address()?.trim().to_lowercase();
    if email.is_empty() {
        return None;
    }
    let name = a.name().map(|n| n.trim().trim_matches('"').trim().to_owned()).filter(|n| !n.is_empty() && *n != email);
    Some(Address { email, name })
}

/// A file of the message, its decoded bytes taken out of the part rather than copied (a large
/// attachment is then in memory once, not twice).
fn part(p: &mut mail_parser::MessagePart<'_>) -> Part {
    let content_type = p
        .content_type()
        .map(|c| match c.subtype() {
            Some(s) => format!("{}/{}", c.ctype(), s),
            None => c.ctype().to_owned(),
        })
        .unwrap_or_else(|| "application/octet-stream".into())
        .to_lowercase();
    let filename = p.attachment_name().map(str::to_owned).unwrap_or_else(|| {
        if p.is_message() {
            "message.eml".into()
        } else {
            let ext = content_type.split('/').nth(1).unwrap_or("bin");
            format!("attachment.{}", ext.split(['+', ';']).next().unwrap_or("bin"))
        }
    });
    let bytes = match &mut p.body {
        mail_parser::PartType::Binary(b) | mail_parser::PartType::InlineBinary(b) => std::mem::take(b).into_owned(),
        // An attached mail is kept as the mail it was; text as its decoded text.
        _ => p.contents().to_vec(),
    };
    Part {
        filename: nul_free(filename),
        content_type: nul_free(content_type),
        bytes,
        content_id: p.content_id().map(clean_message_id).map(nul_free).filter(|c| !c.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gbk_mail_reads_right() {
        let mut raw = b"From: =?GBK?B?1cXI/Q==?= <Zhang.San@kehu.cn>\r\nTo: support@acme.test\r\n\
            Subject: =?GB2312?B?xPq6w6OsztK1xLaptaW7ucO709C3orv1?=\r\nMessage-ID: <a1@kehu.cn>\r\n\
            In-Reply-To: <o1@acme.test>\r\nReferences: <o0@acme.test> <o1@acme.test>\r\n\
            Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            .to_vec();
        raw.extend_from_slice(&[0xB2, 0xE2, 0xCA, 0xD4, b'\r', b'\n']);
        let p = parse(&raw).unwrap();
        let e = &p.envelope;
        assert_eq!(e.from, Some(Address { email: "zhang.san@kehu.cn".into(), name: Some("张三".into()) }));
        assert_eq!(e.subject, "您好，我的订单还没有发货");
        assert_eq!(e.message_id, "a1@kehu.cn");
        assert_eq!(e.answered_ids(), ["o1@acme.test", "o0@acme.test"]);
        assert_eq!(p.text.trim(), "测试");
        assert!(p.html.is_none() && p.had_message_id);
    }

    #[test]
    fn no_headers_is_no_message_and_no_id_gets_one() {
        assert!(parse(b"").is_none());
        let p = parse(b"From: a@b.test\r\n\r\nhi").unwrap();
        assert!(!p.had_message_id && p.envelope.message_id.ends_with("@gongdan.invalid"));
        assert_eq!(parse(b"From: a@b.test\r\n\r\nhi").unwrap().envelope.message_id, p.envelope.message_id);
    }
}

#[cfg(test)]
mod malformed {
    use gongdan_testkit::mail::{Rng, corpus, mutate};

    /// Reading never panics, on thousands of malformed messages made from the corpus.
    #[test]
    fn thousands_of_malformed_messages_never_panic() {
        let corpus = corpus();
        assert!(corpus.len() >= 16, "the corpus is there");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..5000 {
            let m = mutate(&corpus[case % corpus.len()], &mut rng);
            if let Some(p) = super::parse(&m) {
                assert!(!p.envelope.message_id.is_empty(), "case {case}: every message has an id");
            }
        }
    }
}
