//! Replies by mail. A public reply by the desk on a ticket whose customer has an address is
//! queued with the comment: its Message-ID stored (status `queued`) and a job to send it, in the
//! comment's own transaction. The job runner sends it through the mailbox's SMTP server (else
//! the desk's), threaded into the customer's conversation, and records every attempt on the
//! message: `sent`, `retrying` with the server's answer, or `failed`.
//!
//! One job per Message-ID (its unique key) and one claim per job: two workers never send the
//! same reply. A worker that dies after the server took the message and before it wrote `sent`
//! leaves the job to run again, and the message goes out twice under the same Message-ID
//! (which mail programs show once); that window is the one write after the server's `250`.

use gongdan_domain::conversation::Comment;
use gongdan_domain::ids::UserId;
use gongdan_domain::mail::reason::Reason;
use gongdan_domain::mail::servers::Smtp;
use gongdan_domain::mail::{Address, Mailbox, compose};
use gongdan_domain::tickets::Ticket;
use gongdan_store::{Job, MailMessage, MailRecord, NewJob};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart};
use serde_json::json;

use super::smtp::Failed;
use crate::jobs::kind::{JobKind, Ran};
use crate::{App, CoreError, Result};

/// The job kind that sends one reply; its payload is `{message_id}`.
pub const SEND_JOB: &str = "mail.send";
/// Tries at most: with the runner's back-off (30 s doubling to an hour) about eight hours.
const SEND_ATTEMPTS: i64 = 12;
/// People a reply is copied to at most (a ticket's CCs beyond are left out).
const CC_MAX: usize = 50;

pub(crate) const JOB: JobKind =
    JobKind { name: SEND_JOB, run: |app, job| Box::pin(async move { app.run_send(job).await }), every: None };

/// A reply's mail, written with its comment.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub record: MailRecord,
    pub job: NewJob,
}

/// Why a send did not happen.
pub(crate) enum Unsent {
    /// Worth trying again (a server away, a `4xx`).
    Transient(String),
    /// Never going to work (a `5xx`, nothing to send to, the reply gone).
    Permanent(String),
}

impl App {
    /// The mail a public reply on `ticket` goes out as: none when the desk sends no mail (no
    /// mailbox, no SMTP server) or the ticket has nobody with an address.
    pub(crate) async fn outbound_reply(&self, ticket: &Ticket) -> Result<Option<Outbound>> {
        let cfg = self.config().await?;
        let mailboxes = &cfg.mailboxes;
        if mailboxes.is_empty() {
            return Ok(None);
        }
        let thread = self.store.ticket_mail(ticket.id).await?;
        let received = thread.iter().rev().find(|m| m.direction == "in").and_then(|m| m.mailbox_id);
        let Some(mailbox) = compose::sender(mailboxes, received, ticket.group_id) else { return Ok(None) };
        if mailbox.smtp.is_none() && self.settings.smtp.is_none() {
            return Ok(None);
        }
        let requester = self.store.get_user(ticket.requester_id).await?;
        if requester.and_then(|u| u.email).is_none() && ticket.cc_ids.is_empty() {
            return Ok(None);
        }
        let message_id = new_message_id(mailbox).map_err(CoreError::Internal)?;
        Ok(Some(Outbound {
            record: MailRecord {
                message_id: message_id.clone(),
                mailbox_id: Some(mailbox.id),
                direction: "out",
                reasons: vec![Reason::MailedFrom { address: mailbox.address.clone() }],
                status: "queued",
                sender: String::new(),
            },
            job: NewJob {
                kind: SEND_JOB.into(),
                unique_key: Some(format!("{SEND_JOB}:{message_id}")),
                payload: json!({ "message_id": message_id }),
                run_at: self.now(),
                max_attempts: SEND_ATTEMPTS,
                ticket: None,
            },
        }))
    }

    async fn run_send(&self, job: &Job) -> Ran {
        let Some(id) = job.payload.get("message_id").and_then(|v| v.as_str()) else {
            return Ran::Failed { error: "no message_id".into(), at: None };
        };
        let (mut recipients, mut refused) = (Vec::new(), Vec::new());
        let (status, detail, done) = match self.send_one(id).await {
            Ok(None) => return Ran::Done,
            Ok(Some(d)) if d.refused.is_empty() => {
                recipients = d.to;
                ("sent", d.answer, Ran::Done)
            }
            // The server took it for some and refused others: partly failed, as a bounce for
            // those would have made it.
            Ok(Some(d)) => {
                let why: Vec<String> = d.refused.iter().map(|(a, why)| format!("{a}: {why}")).collect();
                recipients = d.to.into_iter().chain(d.refused.iter().map(|(a, _)| a.clone())).collect();
                refused = d.refused.into_iter().map(|(a, _)| a).collect();
                ("partly_failed", why.join("; "), Ran::Done)
            }
            Err(Unsent::Permanent(why)) => ("failed", why, Ran::Done),
            Err(Unsent::Transient(why)) if job.attempts >= job.max_attempts => ("failed", why, Ran::Done),
            Err(Unsent::Transient(why)) => ("retrying", why.clone(), Ran::Failed { error: why, at: None }),
        };
        if status != "sent" {
            tracing::warn!(message_id = id, attempt = job.attempts, status, detail, "reply not sent");
        }
        let sent_at = matches!(status, "sent" | "partly_failed").then(|| self.now());
        let recorded = match self.store.set_delivery(id, status, &detail, sent_at, &recipients).await {
            Ok(()) if !refused.is_empty() => {
                self.store.mark_bounced(id, &[], &refused, status, &detail).await.map(|_| ())
            }
            other => other,
        };
        match recorded {
            Ok(()) => done,
            // Sent but not recorded: the job runs again and sends it again (see the top).
            Err(e) => Ran::Failed { error: format!("recording the delivery: {e}"), at: None },
        }
    }

    /// Sends one queued reply: the server's answer and whom it went to, or none when it was
    /// sent before.
    async fn send_one(&self, id: &str) -> std::result::Result<Option<Delivered>, Unsent> {
        let store = |e: gongdan_store::StoreError| Unsent::Transient(format!("the database: {e}"));
        let Some(row) = self.store.mail_messages(&[id]).await.map_err(store)?.pop() else { return Ok(None) };
        if matches!(row.status.as_str(), "sent" | "partly_failed") || row.direction != "out" {
            return Ok(None);
        }
        let gone = || Unsent::Permanent("the reply was deleted".into());
        let comment = match row.comment_id {
            Some(c) => self.store.get_comment(c).await.map_err(store)?.ok_or_else(gone)?,
            None => return Err(gone()),
        };
        let ticket = self.store.get_ticket(row.ticket_id).await.map_err(store)?.ok_or_else(gone)?;
        let mailboxes = self.store.list_mailboxes().await.map_err(store)?;
        let mailbox = mailboxes
            .iter()
            .find(|m| Some(m.id) == row.mailbox_id)
            .ok_or_else(|| Unsent::Permanent("its mailbox was deleted".into()))?;
        let (smtp, password) = self.smtp_for(mailbox)?;
        let message = self.reply_message(&row, &ticket, &comment, mailbox, &mailboxes).await?;
        let bytes = message.formatted();
        let envelope = message.envelope();
        let to: Vec<String> = envelope.to().iter().map(|a| a.to_string().to_ascii_lowercase()).collect();
        let words = |r: lettre::transport::smtp::response::Response| {
            let text = r.message().collect::<Vec<_>>().join(" ");
            format!("{} {text}", r.code()).trim().to_owned()
        };
        match self.smtp.send(&smtp, &password, envelope, &bytes).await {
            Ok(answer) => Ok(Some(Delivered { answer: words(answer), to, refused: vec![] })),
            // One refused recipient (a CC's address the server will not take) refuses the
            // whole envelope: each recipient is tried on their own, so the others still get it.
            Err(e) => match smtp_error(&e, &smtp) {
                Unsent::Permanent(why) if envelope.to().len() > 1 => {
                    let mut d = Delivered { answer: String::new(), to: vec![], refused: vec![] };
                    for rcpt in envelope.to() {
                        let one = lettre::address::Envelope::new(envelope.from().cloned(), vec![rcpt.clone()])
                            .map_err(|_| Unsent::Permanent(why.clone()))?;
                        let address = rcpt.to_string().to_ascii_lowercase();
                        match self.smtp.send(&smtp, &password, &one, &bytes).await {
                            Ok(answer) => {
                                d.answer = words(answer);
                                d.to.push(address);
                            }
                            Err(e) => match smtp_error(&e, &smtp) {
                                Unsent::Permanent(why) => d.refused.push((address, why)),
                                // Away in the middle: the whole reply is tried again later (those
                                // who got it get it twice, under one Message-ID).
                                transient => return Err(transient),
                            },
                        }
                    }
                    if d.to.is_empty() { Err(Unsent::Permanent(why)) } else { Ok(Some(d)) }
                }
                other => Err(other),
            },
        }
    }

    /// The server a mailbox sends through, with its password opened.
    /// A password that does not open is worth retrying: the key may be fixed (a node with a
    /// data directory of its own, a `GONGDAN_SECRET_KEY` set late) without anything re-sent.
    pub(crate) fn smtp_for(&self, mailbox: &Mailbox) -> std::result::Result<(Smtp, String), Unsent> {
        match (&mailbox.smtp, &self.settings.smtp) {
            (Some(own), _) => {
                let password = match own.password.is_empty() {
                    true => String::new(),
                    false => self
                        .secret_key()
                        .and_then(|k| k.open(&own.password))
                        .map_err(|e| Unsent::Transient(e.to_string()))?,
                };
                Ok((own.clone(), password))
            }
            (None, Some(desk)) => Ok((desk.clone(), desk.password.clone())),
            (None, None) => Err(Unsent::Permanent("no SMTP server is set up for this mailbox or the desk".into())),
        }
    }

    /// The reply as a mail: from the mailbox under the agent's name, to the ticket's people,
    /// threaded, with a text and an HTML part and the comment's files.
    async fn reply_message(
        &self,
        row: &MailMessage,
        ticket: &Ticket,
        comment: &Comment,
        mailbox: &Mailbox,
        mailboxes: &[Mailbox],
    ) -> std::result::Result<lettre::Message, Unsent> {
        let store = |e: gongdan_store::StoreError| Unsent::Transient(format!("the database: {e}"));
        let person = |id: UserId| async move {
            self.store.get_user(id).await.map(|u| {
                u.and_then(|u| u.email.clone().map(|email| (Address { email, name: Some(u.name.clone()) }, u)))
            })
        };
        let requester = person(ticket.requester_id).await.map_err(store)?;
        let mut ccs = Vec::new();
        for id in ticket.cc_ids.iter().take(CC_MAX) {
            if let Some((a, _)) = person(*id).await.map_err(store)? {
                ccs.push(a);
            }
        }
        let author = person(comment.author_id).await.map_err(store)?;
        let desk: Vec<String> = mailboxes.iter().map(|m| m.address.clone()).collect();
        let thread = self.store.ticket_mail(ticket.id).await.map_err(store)?;
        let messages: Vec<(String, bool)> = thread
            .iter()
            // Not the agent's own mail this reply came in as: the customer never saw it.
            .filter(|m| {
                m.message_id != row.message_id && m.created_at <= row.created_at && m.comment_id != row.comment_id
            })
            .map(|m| (m.message_id.clone(), m.direction == "in"))
            .collect();
        let headers = compose::reply(&compose::Thread {
            ticket: ticket.id,
            subject: &ticket.subject,
            token_prefix: &self.settings.mail_token_prefix,
            requester: requester.as_ref().map(|(a, _)| a.clone()),
            ccs,
            author: author.as_ref().map(|(a, _)| a.email.as_str()),
            desk: &desk,
            messages: &messages,
        })
        .ok_or_else(|| Unsent::Permanent("nobody on the ticket has an address to send to".into()))?;
        let from_name = match &author {
            Some((_, u)) => format!("{} ({})", u.name, mailbox.name),
            None => mailbox.name.clone(),
        };
        let mut files = Vec::new();
        let mut left = Vec::new();
        let mut total = 0u64;
        for a in &comment.attachments {
            // As it goes in the mail: base64, four bytes for three (servers' limits count those).
            let size = (a.size.max(0) as u64).div_ceil(3) * 4;
            // A file that does not fit is named instead; smaller ones after it still go.
            if total.saturating_add(size) > self.settings.max_send_bytes {
                left.push((a.filename.clone(), a.size));
                continue;
            }
            total += size;
            let bytes = tokio::fs::read(self.blob_path(&a.sha256))
                .await
                .map_err(|e| Unsent::Transient(format!("reading {}: {e}", a.filename)))?;
            files.push((a.filename.clone(), a.content_type.clone(), bytes));
        }
        let (mut text, mut html) = (comment.body.clone(), comment.html_body.clone());
        if !left.is_empty() {
            let link = format!("{}/portal/requests/{}", self.settings.public_url.trim_end_matches('/'), ticket.id);
            let language = requester.as_ref().map(|(_, u)| u.language).unwrap_or(self.settings.default_language);
            let note = compose::left_out(language, &left, &link);
            text = format!("{text}\n\n{note}");
            html = format!("{html}{}", gongdan_domain::conversation::text_to_html(&note));
        }
        let out = Outgoing {
            from: Address { email: mailbox.address.clone(), name: Some(from_name) },
            headers: &headers,
            message_id: &row.message_id,
            text: &text,
            html: &html,
            files,
            automatic: false,
        };
        out.build(self.now())
    }
}

/// What the server did with a reply: its answer, whom it took it for, and whom it refused
/// (with why).
pub(crate) struct Delivered {
    pub answer: String,
    pub to: Vec<String>,
    pub refused: Vec<(String, String)>,
}

/// A mail as the desk sends it.
pub(crate) struct Outgoing<'a> {
    pub from: Address,
    pub headers: &'a compose::Headers,
    pub message_id: &'a str,
    pub text: &'a str,
    /// Sanitised HTML for the HTML part.
    pub html: &'a str,
    /// (file name, content type, bytes)
    pub files: Vec<(String, String, Vec<u8>)>,
    /// Written by the desk itself, not a person: `Auto-Submitted: auto-generated` (RFC 3834),
    /// which well-behaved auto-responders do not answer.
    pub automatic: bool,
}

impl Outgoing<'_> {
    pub(crate) fn build(self, now: jiff::Timestamp) -> std::result::Result<lettre::Message, Unsent> {
        let bad = |a: &str| Unsent::Permanent(format!("the address `{a}` is not an address mail can go to"));
        let mbox = |a: &Address| -> std::result::Result<lettre::message::Mailbox, Unsent> {
            let email = a.email.parse().map_err(|_| bad(&a.email))?;
            Ok(lettre::message::Mailbox::new(a.name.clone(), email))
        };
        let h = self.headers;
        let mut b = lettre::Message::builder()
            .from(mbox(&self.from)?)
            .subject(h.subject.clone())
            .message_id(Some(format!("<{}>", self.message_id)))
            .date(std::time::SystemTime::from(now))
            .user_agent("Gongdan".into());
        for a in &h.to {
            b = b.to(mbox(a)?);
        }
        for a in &h.cc {
            b = b.cc(mbox(a)?);
        }
        if let Some(parent) = &h.in_reply_to {
            b = b.in_reply_to(format!("<{parent}>"));
        }
        if !h.references.is_empty() {
            let refs: Vec<String> = h.references.iter().map(|r| format!("<{r}>")).collect();
            b = b.references(refs.join(" "));
        }
        if self.automatic {
            let name = lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted");
            b = b.raw_header(lettre::message::header::HeaderValue::new(name, "auto-generated".into()));
        }
        let html = format!("<!doctype html><html><body>{}</body></html>", self.html);
        let mut body = MultiPart::mixed().multipart(MultiPart::alternative_plain_html(self.text.to_owned(), html));
        for (name, kind, bytes) in self.files {
            let kind = ContentType::parse(&kind)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").unwrap_or(ContentType::TEXT_PLAIN));
            body = body.singlepart(Attachment::new(name).body(bytes, kind));
        }
        b.multipart(body).map_err(|e| Unsent::Permanent(format!("the mail could not be built: {e}")))
    }
}

impl App {
    /// Mails a text the desk writes by itself (a notification, a link) from a mailbox, marked
    /// automatic; returns its Message-ID once the server took it.
    pub(crate) async fn send_automatic(
        &self,
        mailbox: &Mailbox,
        headers: &compose::Headers,
        text: &str,
    ) -> std::result::Result<String, Unsent> {
        let (smtp, password) = self.smtp_for(mailbox)?;
        let message_id = new_message_id(mailbox).map_err(Unsent::Transient)?;
        let html = gongdan_domain::conversation::text_to_html(text);
        let out = Outgoing {
            from: Address { email: mailbox.address.clone(), name: Some(mailbox.name.clone()) },
            headers,
            message_id: &message_id,
            text,
            html: &html,
            files: vec![],
            automatic: true,
        };
        let message = out.build(self.now())?;
        let bytes = message.formatted();
        self.smtp.send(&smtp, &password, message.envelope(), &bytes).await.map_err(|e| smtp_error(&e, &smtp))?;
        Ok(message_id)
    }
}

/// A fresh Message-ID under the mailbox's domain.
pub(crate) fn new_message_id(mailbox: &Mailbox) -> std::result::Result<String, String> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|e| format!("no randomness: {e}"))?;
    Ok(compose::message_id(u128::from_le_bytes(random), &mailbox.address))
}

/// A failed send, classed: a `5xx` will not work later, anything else may.
pub(crate) fn smtp_error(e: &Failed, s: &Smtp) -> Unsent {
    let at = format!("{}:{}", s.host, s.port);
    match e {
        Failed::Smtp(e) => match e.status().map(|c| c.to_string()) {
            Some(code) if e.is_permanent() => Unsent::Permanent(format!("{code} {e}")),
            Some(code) => Unsent::Transient(format!("{code} {e}")),
            None if e.is_timeout() => Unsent::Transient(format!("{at} did not answer in time")),
            None => Unsent::Transient(format!("could not reach {at}: {e}")),
        },
        Failed::Connect(why) => Unsent::Transient(format!("could not reach {at}: {why}")),
        Failed::TimedOut => Unsent::Transient(format!("{at} did not answer in time")),
    }
}

impl Unsent {
    pub(crate) fn text(self) -> String {
        match self {
            Unsent::Permanent(t) | Unsent::Transient(t) => t,
        }
    }
}
