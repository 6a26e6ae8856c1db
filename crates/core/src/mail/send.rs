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

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use gongdan_domain::conversation::Comment;
use gongdan_domain::ids::UserId;
use gongdan_domain::mail::servers::{Smtp, Tls};
use gongdan_domain::mail::{Address, Mailbox, compose};
use gongdan_domain::tickets::Ticket;
use gongdan_store::{Job, MailMessage, MailRecord, NewJob};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls as SmtpTls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::json;

use crate::jobs::kind::{JobKind, Ran};
use crate::{App, CoreError, Result};

/// The job kind that sends one reply; its payload is `{message_id}`.
pub const SEND_JOB: &str = "mail.send";
/// Tries at most: with the runner's back-off (30 s doubling to an hour) about eight hours.
const SEND_ATTEMPTS: i64 = 12;
/// People a reply is copied to at most (a ticket's CCs beyond are left out).
const CC_MAX: usize = 50;
/// Attachments sent with a reply, in all (larger ones stay on the ticket, linked in the text).
const ATTACH_MAX: u64 = 20 * 1024 * 1024;
/// An SMTP server gets this long for each step of a conversation.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) const JOB: JobKind =
    JobKind { name: SEND_JOB, run: |app, job| Box::pin(async move { app.run_send(job).await }), every: None };

/// A reply's mail, written with its comment.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub record: MailRecord,
    pub job: NewJob,
}

/// Why a send did not happen.
enum Unsent {
    /// Worth trying again (a server away, a `4xx`).
    Transient(String),
    /// Never going to work (a `5xx`, nothing to send to, the reply gone).
    Permanent(String),
}

/// Open SMTP connections, one pool per server and account.
#[derive(Default)]
pub struct Transports(Mutex<HashMap<String, AsyncSmtpTransport<Tokio1Executor>>>);

impl Transports {
    pub(crate) fn get(
        &self,
        s: &Smtp,
        password: &str,
    ) -> std::result::Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let key = format!("{:?}|{}|{}|{}|{}", s.tls, s.host, s.port, s.username, password.len());
        let mut map = self.0.lock().map_err(|_| "the SMTP pool is poisoned".to_owned())?;
        if let Some(t) = map.get(&key) {
            return Ok(t.clone());
        }
        let tls = || TlsParameters::new(s.host.clone()).map_err(|e| format!("TLS for {}: {e}", s.host));
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
            .port(s.port)
            .timeout(Some(SMTP_TIMEOUT))
            .tls(match s.tls {
                Tls::Implicit => SmtpTls::Wrapper(tls()?),
                Tls::Starttls => SmtpTls::Required(tls()?),
                Tls::None => SmtpTls::None,
            });
        if !s.username.is_empty() {
            b = b.credentials(Credentials::new(s.username.clone(), password.to_owned()));
        }
        let t = b.build();
        map.insert(key, t.clone());
        Ok(t)
    }
}

impl App {
    /// The mail a public reply on `ticket` goes out as: none when the desk sends no mail (no
    /// mailbox, no SMTP server) or the ticket has nobody with an address.
    pub(crate) async fn outbound_reply(&self, ticket: &Ticket) -> Result<Option<Outbound>> {
        let mailboxes = self.store.list_mailboxes().await?;
        if mailboxes.is_empty() {
            return Ok(None);
        }
        let thread = self.store.ticket_mail(ticket.id).await?;
        let received = thread.iter().rev().find(|m| m.direction == "in").and_then(|m| m.mailbox_id);
        let Some(mailbox) = compose::sender(&mailboxes, received, ticket.group_id) else { return Ok(None) };
        if mailbox.smtp.is_none() && self.settings.smtp.is_none() {
            return Ok(None);
        }
        let requester = self.store.get_user(ticket.requester_id).await?;
        if requester.and_then(|u| u.email).is_none() && ticket.cc_ids.is_empty() {
            return Ok(None);
        }
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| CoreError::Internal(format!("no randomness: {e}")))?;
        let message_id = compose::message_id(u128::from_le_bytes(random), &mailbox.address);
        Ok(Some(Outbound {
            record: MailRecord {
                message_id: message_id.clone(),
                mailbox_id: Some(mailbox.id),
                direction: "out",
                reasons: vec![format!("a public reply: mailed from {}", mailbox.address)],
                status: "queued",
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
        let (status, detail, done) = match self.send_one(id).await {
            Ok(None) => return Ran::Done,
            Ok(Some(answer)) => ("sent", answer, Ran::Done),
            Err(Unsent::Permanent(why)) => ("failed", why, Ran::Done),
            Err(Unsent::Transient(why)) if job.attempts >= job.max_attempts => ("failed", why, Ran::Done),
            Err(Unsent::Transient(why)) => ("retrying", why.clone(), Ran::Failed { error: why, at: None }),
        };
        if status != "sent" {
            tracing::warn!(message_id = id, attempt = job.attempts, status, detail, "reply not sent");
        }
        let sent_at = (status == "sent").then(|| self.now());
        match self.store.set_delivery(id, status, &detail, sent_at).await {
            Ok(()) => done,
            // Sent but not recorded: the job runs again and sends it again (see the top).
            Err(e) => Ran::Failed { error: format!("recording the delivery: {e}"), at: None },
        }
    }

    /// Sends one queued reply: the server's answer, or none when it was sent before.
    async fn send_one(&self, id: &str) -> std::result::Result<Option<String>, Unsent> {
        let store = |e: gongdan_store::StoreError| Unsent::Transient(format!("the database: {e}"));
        let Some(row) = self.store.mail_messages(&[id]).await.map_err(store)?.pop() else { return Ok(None) };
        if row.status == "sent" || row.direction != "out" {
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
        let (smtp, password) = self.smtp_for(mailbox).map_err(Unsent::Permanent)?;
        let message = self.reply_message(&row, &ticket, &comment, mailbox, &mailboxes).await?;
        let transport = self.smtp.get(&smtp, &password).map_err(Unsent::Permanent)?;
        match transport.send(message).await {
            Ok(answer) => {
                let text = answer.message().collect::<Vec<_>>().join(" ");
                Ok(Some(format!("{} {text}", answer.code()).trim().to_owned()))
            }
            Err(e) => Err(smtp_error(&e, &smtp)),
        }
    }

    /// The server a mailbox sends through, with its password opened.
    pub(crate) fn smtp_for(&self, mailbox: &Mailbox) -> std::result::Result<(Smtp, String), String> {
        match (&mailbox.smtp, &self.settings.smtp) {
            (Some(own), _) => {
                let password = match own.password.is_empty() {
                    true => String::new(),
                    false => self.secret_key().and_then(|k| k.open(&own.password)).map_err(|e| e.to_string())?,
                };
                Ok((own.clone(), password))
            }
            (None, Some(desk)) => Ok((desk.clone(), desk.password.clone())),
            (None, None) => Err("no SMTP server is set up for this mailbox or the desk".into()),
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
        let requester = person(ticket.requester_id).await.map_err(store)?.map(|(a, _)| a);
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
            .filter(|m| m.message_id != row.message_id && m.created_at <= row.created_at)
            .map(|m| (m.message_id.clone(), m.direction == "in"))
            .collect();
        let headers = compose::reply(&compose::Thread {
            ticket: ticket.id,
            subject: &ticket.subject,
            token_prefix: &self.settings.mail_token_prefix,
            requester,
            ccs,
            author: author.as_ref().map(|(a, _)| a.email.as_str()),
            desk: &desk,
            messages: &messages,
        })
        .ok_or_else(|| Unsent::Permanent("nobody on the ticket has an address to send to".into()))?;
        let bad = |what: &str, a: &str| Unsent::Permanent(format!("{what} `{a}` is not an address mail can go to"));
        let mbox = |a: &Address| -> std::result::Result<lettre::message::Mailbox, Unsent> {
            let email = a.email.parse().map_err(|_| bad("the address", &a.email))?;
            Ok(lettre::message::Mailbox::new(a.name.clone(), email))
        };
        let from_name = match &author {
            Some((_, u)) => format!("{} ({})", u.name, mailbox.name),
            None => mailbox.name.clone(),
        };
        let from = mbox(&Address { email: mailbox.address.clone(), name: Some(from_name) })?;
        let mut b = lettre::Message::builder()
            .from(from)
            .subject(headers.subject.clone())
            .message_id(Some(format!("<{}>", row.message_id)))
            .date(std::time::SystemTime::from(self.now()))
            .user_agent("Gongdan".into());
        for a in &headers.to {
            b = b.to(mbox(a)?);
        }
        for a in &headers.cc {
            b = b.cc(mbox(a)?);
        }
        if let Some(parent) = &headers.in_reply_to {
            b = b.in_reply_to(format!("<{parent}>"));
        }
        if !headers.references.is_empty() {
            let refs: Vec<String> = headers.references.iter().map(|r| format!("<{r}>")).collect();
            b = b.references(refs.join(" "));
        }
        let html = format!("<!doctype html><html><body>{}</body></html>", comment.html_body);
        let mut body = MultiPart::mixed().multipart(MultiPart::alternative_plain_html(comment.body.clone(), html));
        let mut total = 0u64;
        for a in &comment.attachments {
            total = total.saturating_add(a.size.max(0) as u64);
            if total > ATTACH_MAX {
                break;
            }
            let bytes = tokio::fs::read(self.blob_path(&a.sha256))
                .await
                .map_err(|e| Unsent::Transient(format!("reading {}: {e}", a.filename)))?;
            let kind = ContentType::parse(&a.content_type)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").unwrap_or(ContentType::TEXT_PLAIN));
            body = body.singlepart(Attachment::new(a.filename.clone()).body(bytes, kind));
        }
        b.multipart(body).map_err(|e| Unsent::Permanent(format!("the mail could not be built: {e}")))
    }
}

/// A failed send, classed: a `5xx` will not work later, anything else may.
fn smtp_error(e: &lettre::transport::smtp::Error, s: &Smtp) -> Unsent {
    let answer = e.status().map(|c| c.to_string());
    let text = e.to_string();
    match answer {
        Some(code) if e.is_permanent() => Unsent::Permanent(format!("{code} {text}")),
        Some(code) => Unsent::Transient(format!("{code} {text}")),
        None if e.is_timeout() => Unsent::Transient(format!("{}:{} did not answer in time", s.host, s.port)),
        None => Unsent::Transient(format!("could not reach {}:{}: {text}", s.host, s.port)),
    }
}
