//! Taking one message in: read it, set noise aside, find its ticket (the domain's `thread`
//! decides, with reasons), then write it as a new ticket or a comment by its sender, with its
//! Message-ID in the same transaction — a message taken in twice is one comment. What cannot be
//! read or stored is quarantined with its raw source; only a database that cannot be reached
//! is an error, so the caller (an MTA, a fetcher) tries again later.

use gongdan_domain::access::{Principal, Role};
use gongdan_domain::conversation::text_to_html;
use gongdan_domain::conversation::{COMMENT_MAX, LinkKind};
use gongdan_domain::event::Via;
use gongdan_domain::ids::{AttachmentId, CommentId, MailboxId, SYSTEM_USER, TicketId, UserId};
use gongdan_domain::mail::reason::Reason;
use gongdan_domain::mail::thread::{self, ByReference, Candidate, Decision, Findings, Standing};
use gongdan_domain::mail::{Address, Envelope, Mailbox, bounce, noise, quote};
use gongdan_domain::people::{IdentityKind, User};
use gongdan_domain::tickets::{Channel, DESCRIPTION_MAX, SUBJECT_MAX, Ticket};
use gongdan_store::{MailRecord, Quarantined};

use super::parse::{self, Parsed};
use crate::access::require_admin;
use crate::tickets::{AddComment, CreateTicket, RequesterInput, UpdateTicket};
use crate::{App, CoreError, Result};

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new ticket (also a follow-up of a closed one, or one linked to a ticket the sender may
    /// not join).
    Created,
    /// A comment on the ticket it answers.
    Appended,
    /// A loop, a delivery report, or a message taken in before.
    Ignored,
    /// Kept whole for an admin to look at.
    Quarantined,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Appended => "appended",
            Outcome::Ignored => "ignored",
            Outcome::Quarantined => "quarantined",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Ingested {
    pub outcome: Outcome,
    pub ticket_id: Option<TicketId>,
    pub comment_id: Option<CommentId>,
    pub quarantine_id: Option<i64>,
    /// Each decision's reason, in the order they were made.
    pub reasons: Vec<Reason>,
}

impl Ingested {
    fn ignored(reasons: Vec<Reason>) -> Self {
        Ingested { outcome: Outcome::Ignored, ticket_id: None, comment_id: None, quarantine_id: None, reasons }
    }
}

/// An agent's emailed reply that starts with this line is an internal note.
pub const NOTE_MARKER: &str = "#note";
/// New customers a message's `To`/`Cc` may add as CCs of its ticket, at most.
const CC_MAX: usize = 20;
/// Files one message keeps at most; the rest stay in its raw source.
const FILES_MAX: usize = 50;
/// The span the per-sender limit counts over.
const STORM_SPAN: jiff::SignedDuration = jiff::SignedDuration::from_secs(3600);

/// Who writes what the channel creates: user 0, the desk itself, as an unrestricted agent.
fn desk_principal() -> Principal {
    Principal {
        user_id: SYSTEM_USER,
        role: Role::Agent,
        group_ids: vec![],
        restricted_to_groups: false,
        organization_id: None,
        org_access: false,
    }
}

impl App {
    /// Takes a raw message in, for the mailbox `mailbox` (else the one it was sent to).
    pub async fn ingest_mail(&self, actor: &Principal, raw: &[u8], mailbox: Option<MailboxId>) -> Result<Ingested> {
        self.take_in(actor, raw, mailbox, true).await
    }

    /// `limited`: whether the per-sender limit applies (not to mail an admin takes in again).
    pub(super) async fn take_in(
        &self,
        actor: &Principal,
        raw: &[u8],
        mailbox: Option<MailboxId>,
        limited: bool,
    ) -> Result<Ingested> {
        require_admin(actor)?;
        let mut cfg = self.config().await?;
        if let Some(id) = mailbox
            && !cfg.mailboxes.iter().any(|m| m.id == id)
        {
            // Made a moment ago on another node: this node's snapshot is a little older.
            self.config_changed();
            cfg = self.config().await?;
        }
        let mailboxes = &cfg.mailboxes;
        let hinted = match mailbox {
            Some(id) => Some(mailboxes.iter().find(|m| m.id == id).cloned().ok_or(CoreError::NotFound("mailbox"))?),
            None => None,
        };
        if raw.len() as u64 > self.settings.max_mail_bytes {
            let mb = self.settings.max_mail_bytes / (1024 * 1024);
            return self.hold(raw, hinted.as_ref(), None, Reason::TooLarge { mb }).await;
        }
        let owned = raw.to_vec();
        // Off the async threads: a large message takes a while, and a parser bug must not take
        // the server down with it.
        let parsed = match tokio::task::spawn_blocking(move || parse::parse(&owned)).await {
            Ok(Some(p)) => p,
            Ok(None) => return self.hold(raw, hinted.as_ref(), None, Reason::NotMail).await,
            Err(_) => return self.hold(raw, hinted.as_ref(), None, Reason::Unreadable).await,
        };
        let e = &parsed.envelope;
        let mailbox = hinted.or_else(|| addressed_to(e, mailboxes));
        let mut reasons = Vec::new();
        if let Some(m) = &mailbox {
            reasons.push(Reason::ReceivedAt { address: m.address.clone() });
        }
        let desk: Vec<String> = mailboxes.iter().map(|m| m.address.clone()).collect();
        let noise = noise::classify(e, &desk);
        if let Some(n) = &noise {
            reasons.push(n.reason());
            if *n == noise::Noise::DeliveryReport {
                self.record_bounce(raw, e, &mut reasons).await?;
            }
            if n.ignored() {
                return Ok(Ingested::ignored(reasons));
            }
        }
        if let Some(seen) = self.seen(&e.message_id, reasons.clone()).await? {
            return Ok(seen);
        }
        let Some(sender) = e.requester(mailbox.as_ref().is_some_and(|m| m.use_reply_to)).cloned() else {
            return self.hold(raw, mailbox.as_ref(), Some(e), Reason::NoSender).await;
        };
        if gongdan_domain::people::normalize_email(&sender.email, "from").is_err() {
            let why = Reason::BadSender { address: sender.email.clone() };
            return self.hold(raw, mailbox.as_ref(), Some(e), why).await;
        }
        let user = self.store.find_user_by_identity(IdentityKind::Email, &sender.email).await?;
        // The desk's own staff answer many tickets by mail; the limit is for the outside.
        let staff = user.as_ref().is_some_and(|u| u.role.is_staff());
        if limited && !staff && self.is_storm(&sender.email).await? {
            let why = Reason::Storm { address: sender.email.clone(), limit: self.settings.mail_sender_limit };
            return self.hold(raw, mailbox.as_ref(), Some(e), why).await;
        }
        let (findings, to_notice) = self.findings(e, user.as_ref()).await?;
        let (decision, why) = thread::decide(&findings);
        reasons.extend(why);
        let record = MailRecord {
            message_id: e.message_id.clone(),
            mailbox_id: mailbox.as_ref().map(|m| m.id),
            direction: "in",
            reasons: reasons.clone(),
            status: "",
            sender: sender.email.clone(),
        };
        let written = match (decision, user) {
            (Decision::Append(ticket), Some(user)) => {
                self.append(&parsed, &user, ticket, record, to_notice, &desk, &mut reasons).await
            }
            (Decision::Append(_), None) => Err(CoreError::Internal("an append needs the sender".into())),
            (Decision::Create { related }, _) => {
                self.create(&parsed, &sender, mailbox.as_ref(), &desk, related, record, &mut reasons).await
            }
        };
        match written {
            Ok(done) => {
                if done.reasons.iter().any(|r| matches!(r, Reason::FilesLeftOut { .. })) {
                    // The message is on its ticket; the files it could not keep stay with the
                    // raw source, where an admin downloads them.
                    let why = Reason::KeptForFiles { ticket: done.ticket_id.map(|t| t.0).unwrap_or(0) };
                    // The message is stored and answers "seen" from now on: failing here would
                    // not bring the files back on a retry, only report a stored message failed.
                    if let Err(e) = self.keep_raw(raw, mailbox.as_ref(), Some(&parsed.envelope), why).await {
                        tracing::error!(message_id = %parsed.envelope.message_id, error = %e, "the raw source of a message with files left out was not kept");
                    }
                }
                Ok(done)
            }
            // The same message, taken in a moment ago by another fetch or node.
            Err(CoreError::Duplicate { field }) if field == "message_id" => {
                self.seen(&e.message_id, reasons).await?.ok_or(CoreError::Internal("a duplicate vanished".into()))
            }
            // The database is unreachable or failing: nothing is lost by trying again later.
            Err(e @ CoreError::Store(_)) => Err(e),
            Err(err) => {
                let why = Reason::NotStored { error: err.to_string() };
                self.hold(raw, mailbox.as_ref(), Some(&parsed.envelope), why).await
            }
        }
    }

    /// Marks the desk's replies a delivery report returns as failed, with the report's why.
    async fn record_bounce(&self, raw: &[u8], e: &Envelope, reasons: &mut Vec<Reason>) -> Result<()> {
        // The report's parts as text: its status fields and the returned message's headers.
        let body = raw.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| raw.windows(2).position(|w| w == b"\n\n"));
        let body = &raw[body.unwrap_or(0)..raw.len().min(body.unwrap_or(0) + (1 << 20))];
        let Some(b) = bounce::read(&String::from_utf8_lossy(body)) else { return Ok(()) };
        let mut ids: Vec<&str> = b.returned.iter().map(String::as_str).collect();
        ids.extend(e.answered_ids());
        let ours = self.store.mail_messages(&ids).await?.into_iter().filter(|m| m.direction == "out");
        for mut m in ours {
            // Read again when another report for the same message came in between.
            for _ in 0..5 {
                let new: Vec<String> = b.recipients.iter().filter(|r| !m.bounced.contains(r)).cloned().collect();
                // Failed stays failed; a report read again (a re-fetch) changes nothing.
                if m.status == "failed" || (m.status == "partly_failed" && new.is_empty() && !b.recipients.is_empty()) {
                    break;
                }
                let mut bounced = m.bounced.clone();
                bounced.extend(new.iter().cloned());
                // A report that names no one returns the message as a whole.
                let status = if b.recipients.is_empty() { "failed" } else { bounce::verdict(&m.recipients, &bounced) };
                let why = match status {
                    "partly_failed" => {
                        let now = format!("{}: {}", new.join(", "), b.why);
                        if m.status == "partly_failed" { format!("{}; {now}", m.detail) } else { now }
                    }
                    _ => format!("bounced: {}", b.why),
                };
                if self.store.mark_bounced(&m.message_id, &m.bounced, &bounced, status, &why).await? {
                    break;
                }
                match self.store.mail_messages(&[&m.message_id]).await?.pop() {
                    Some(again) => m = again,
                    None => break,
                }
            }
            reasons.push(Reason::ReturnsReply { message_id: m.message_id.clone(), ticket: m.ticket_id.0 });
        }
        Ok(())
    }

    /// Whether `sender` already sent the most the per-sender limit allows within the hour, on
    /// any node (held messages are not counted, so a storm that stops is let through again).
    async fn is_storm(&self, sender: &str) -> Result<bool> {
        let limit = self.settings.mail_sender_limit;
        if limit == 0 {
            return Ok(false);
        }
        let since = self.now().checked_sub(STORM_SPAN).unwrap_or(self.now());
        Ok(self.store.count_mail_from(sender, since).await? >= i64::from(limit))
    }

    /// The earlier result when this Message-ID was taken in before.
    async fn seen(&self, message_id: &str, mut reasons: Vec<Reason>) -> Result<Option<Ingested>> {
        let Some(m) = self.store.mail_messages(&[message_id]).await?.into_iter().next() else { return Ok(None) };
        reasons.push(Reason::SeenBefore { message_id: message_id.to_owned(), ticket: m.ticket_id.0 });
        Ok(Some(Ingested { ticket_id: Some(m.ticket_id), comment_id: m.comment_id, ..Ingested::ignored(reasons) }))
    }

    /// What threading looks at: the tickets of the Message-IDs the message answers, and the
    /// ticket its subject names, each with how the sender stands to it; and whether it answers
    /// a notification the desk mailed (no comment of the ticket's went out as it).
    async fn findings(&self, e: &Envelope, sender: Option<&User>) -> Result<(Findings, bool)> {
        let answered = e.answered_ids();
        let known = self.store.mail_messages(&answered).await?;
        let mut f = Findings::default();
        let nearest = answered.iter().find_map(|id| known.iter().find(|k| k.message_id == *id));
        let to_notice = nearest.is_some_and(|k| k.direction == "out" && k.comment_id.is_none());
        if let Some(k) = nearest {
            if let Some(t) = self.store.get_ticket(k.ticket_id).await? {
                let candidate = Candidate { ticket: t.id, sender: standing(&t, sender) };
                f.by_reference = Some(ByReference { message_id: k.message_id.clone(), candidate });
            }
        } else {
            f.unknown_references = answered.len();
        }
        if let Some(n) = thread::subject_token(&e.subject, &self.settings.mail_token_prefix) {
            let t = self.store.get_ticket(TicketId(n)).await?;
            f.token = Some((n, t.map(|t| Candidate { ticket: t.id, sender: standing(&t, sender) })));
        }
        Ok((f, to_notice))
    }

    /// The message as a comment by its sender on `ticket` (a closed ticket gets a follow-up).
    #[allow(clippy::too_many_arguments)]
    async fn append(
        &self,
        parsed: &Parsed,
        user: &User,
        ticket: TicketId,
        mut record: MailRecord,
        to_notice: bool,
        desk: &[String],
        reasons: &mut Vec<Reason>,
    ) -> Result<Ingested> {
        if !user.active {
            return Err(CoreError::forbidden("the sender's account is deactivated"));
        }
        let actor = self.principal_for(user).await?;
        // Someone the customer added on their answer joins the ticket's CCs, as on a new ticket;
        // staff mail (a note, an answer to a notification) copies nobody to the customer's thread.
        let added = if actor.is_staff() {
            Vec::new()
        } else {
            let current = self.store.get_ticket(ticket).await?.ok_or(CoreError::NotFound("ticket"))?;
            let mut known = current.cc_ids.clone();
            known.push(current.requester_id);
            let sender = user.email.as_deref().unwrap_or_default();
            self.copied(&parsed.envelope, &[sender], desk, &known, reasons).await?
        };
        let (mut body, mut public) = (parsed.text.trim().to_owned(), true);
        if actor.is_staff()
            && let Some(rest) = body.strip_prefix(NOTE_MARKER)
        {
            body = rest.trim_start().to_owned();
            public = false;
            reasons.push(Reason::NoteMarker { marker: NOTE_MARKER.into() });
        } else if actor.is_staff() && to_notice {
            // A notification went to the agent, not the customer: the answer stays inside.
            public = false;
            reasons.push(Reason::NotificationAnswer);
        }
        let stored = self.store_parts(&actor, parsed, reasons).await?;
        record.reasons = reasons.clone();
        let input = AddComment {
            body: fit(&body, COMMENT_MAX, parsed),
            // The text already says the note is one; the HTML would still show the marker.
            html_body: if public { mail_html(parsed, &stored) } else { None },
            public,
            attachment_ids: stored.iter().flatten().copied().collect(),
            mail: Some(record),
        };
        let done = self.add_comment(&actor, ticket, input, Via::Email, None).await?.value;
        if !added.is_empty() {
            let input = UpdateTicket { add_cc_ids: added, ..Default::default() };
            // The answer is stored; a CC that cannot be added is not worth losing it over.
            if let Err(e) = self.update_ticket(&desk_principal(), done.ticket.id, input, None, Via::Email).await {
                tracing::warn!(ticket = done.ticket.id.0, error = %e, "the CCs of a mailed answer were not added");
            }
        }
        let outcome = match done.follow_up_of {
            Some(closed) => {
                reasons.push(Reason::FollowUp { closed: closed.0, follow_up: done.ticket.id.0 });
                Outcome::Created
            }
            None => Outcome::Appended,
        };
        Ok(Ingested {
            outcome,
            ticket_id: Some(done.ticket.id),
            comment_id: Some(done.comment.id),
            quarantine_id: None,
            reasons: reasons.clone(),
        })
    }

    /// The people a message was sent to besides `except` and those already on the ticket
    /// (`known`), as users (made customers when new): never the desk's own addresses — its
    /// mailboxes, and where the servers delivered the message (an alias forwarded to a
    /// mailbox is the desk's too, never a CC to mail replies to).
    async fn copied(
        &self,
        e: &Envelope,
        except: &[&str],
        desk: &[String],
        known: &[UserId],
        reasons: &mut Vec<Reason>,
    ) -> Result<Vec<UserId>> {
        let mut ids: Vec<UserId> = Vec::new();
        let others = e.to.iter().chain(&e.cc).filter(|a| {
            !except.contains(&a.email.as_str()) && !desk.contains(&a.email) && !e.delivered_to.contains(&a.email)
        });
        for a in others.take(CC_MAX) {
            match self.requester_by_email(&a.email, a.name.as_deref(), None).await {
                Ok(b) if known.contains(&b.id) || ids.contains(&b.id) => {}
                Ok(b) => ids.push(b.id),
                Err(e @ CoreError::Store(_)) => return Err(e),
                // An address that is no address is left out, said in the reasons.
                Err(_) => reasons.push(Reason::NotCopied { address: a.email.clone() }),
            }
        }
        if !ids.is_empty() {
            reasons.push(Reason::Copied { count: ids.len() });
        }
        Ok(ids)
    }

    /// The message as a new ticket from its sender, for the mailbox's group, copying the other
    /// people it was sent to.
    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        parsed: &Parsed,
        sender: &Address,
        mailbox: Option<&Mailbox>,
        desk: &[String],
        related: Option<TicketId>,
        mut record: MailRecord,
        reasons: &mut Vec<Reason>,
    ) -> Result<Ingested> {
        let actor = desk_principal();
        let e = &parsed.envelope;
        let cc_ids = self.copied(e, &[sender.email.as_str()], desk, &[], reasons).await?;
        let stored = self.store_parts(&actor, parsed, reasons).await?;
        let subject = if e.subject.trim().is_empty() { "(no subject)".to_owned() } else { e.subject.clone() };
        record.reasons = reasons.clone();
        let input = CreateTicket {
            subject: subject.chars().take(SUBJECT_MAX).collect(),
            description: fit(parsed.text.trim(), DESCRIPTION_MAX, parsed),
            html_description: mail_html(parsed, &stored),
            requester: Some(RequesterInput {
                email: Some(sender.email.clone()),
                name: sender.name.clone(),
                ..Default::default()
            }),
            cc_ids,
            group_id: mailbox.and_then(|m| m.group_id),
            category_id: mailbox.and_then(|m| m.category_id),
            priority: mailbox.and_then(|m| m.priority),
            channel: Some(Channel::Email),
            attachment_ids: stored.iter().flatten().copied().collect(),
            mail: Some(record),
            ..Default::default()
        };
        let t = self.create_ticket(&actor, input, Via::Email, None).await?.value;
        if let Some(r) = related {
            self.link(&actor, t.id, r, LinkKind::Related, Via::Email).await?;
        }
        let comment_id =
            self.store.mail_messages(&[&e.message_id]).await?.into_iter().next().and_then(|m| m.comment_id);
        Ok(Ingested {
            outcome: Outcome::Created,
            ticket_id: Some(t.id),
            comment_id,
            quarantine_id: None,
            reasons: reasons.clone(),
        })
    }

    /// Stores the message's files as uploads of `actor`, who then attaches them: one id per
    /// part, in order, or none for a file past the attachment limit or past the most files a
    /// message keeps (the reasons name them; the raw message is kept with them, see
    /// [`App::ingest_mail`]).
    async fn store_parts(
        &self,
        actor: &Principal,
        parsed: &Parsed,
        reasons: &mut Vec<Reason>,
    ) -> Result<Vec<Option<AttachmentId>>> {
        let limit = self.attachment_limit().await?;
        let mut ids = Vec::with_capacity(parsed.parts.len());
        let mut left = Vec::new();
        for p in &parsed.parts {
            if p.bytes.len() as u64 > limit || ids.iter().flatten().count() >= FILES_MAX {
                left.push(p.filename.clone());
                ids.push(None);
                continue;
            }
            match self.upload_attached(actor, &p.filename, &p.content_type, &p.bytes).await {
                Ok(a) => ids.push(Some(a.id)),
                // The database failing is worth a retry; a file refused (its name, its size)
                // is left out like one past the limit.
                Err(e @ CoreError::Store(_)) => return Err(e),
                Err(_) => {
                    left.push(p.filename.clone());
                    ids.push(None);
                }
            }
        }
        if !left.is_empty() {
            let shown: Vec<&str> = left.iter().take(5).map(String::as_str).collect();
            let more = if left.len() > 5 { format!(" (+{})", left.len() - 5) } else { String::new() };
            reasons.push(Reason::FilesLeftOut {
                files: format!("{}{more}", shown.join(", ")),
                limit_mb: limit / (1024 * 1024),
                most: FILES_MAX,
            });
        }
        Ok(ids)
    }

    /// Keeps a message whole, with why, instead of taking it in.
    async fn hold(
        &self,
        raw: &[u8],
        mailbox: Option<&Mailbox>,
        e: Option<&Envelope>,
        reason: Reason,
    ) -> Result<Ingested> {
        let q = self.keep_raw(raw, mailbox, e, reason.clone()).await?;
        Ok(Ingested {
            outcome: Outcome::Quarantined,
            ticket_id: None,
            comment_id: None,
            quarantine_id: Some(q.id),
            reasons: vec![reason],
        })
    }

    /// Puts a message's raw source in the quarantine list, with why.
    async fn keep_raw(
        &self,
        raw: &[u8],
        mailbox: Option<&Mailbox>,
        e: Option<&Envelope>,
        reason: Reason,
    ) -> Result<Quarantined> {
        let q = Quarantined {
            id: 0,
            mailbox_id: mailbox.map(|m| m.id),
            message_id: e.map(|e| e.message_id.clone()).unwrap_or_default(),
            sender: e.and_then(|e| e.from.as_ref()).map(|a| a.email.clone()).unwrap_or_default(),
            subject: e.map(|e| e.subject.chars().take(SUBJECT_MAX).collect()).unwrap_or_default(),
            reason,
            size: raw.len() as i64,
            received_at: self.now(),
        };
        Ok(self.store.quarantine(&q, raw).await?)
    }
}

/// The message's HTML, safe to show: no script or handlers (ammonia), inline `cid:` images
/// pointing at their stored files, and remote images held back until an agent asks, so
/// opening a ticket tells no tracker that it was read.
/// The quoted history of a reply goes behind "•••", kept whole.
fn mail_html(parsed: &Parsed, stored: &[Option<AttachmentId>]) -> Option<String> {
    let Some(html) = parsed.html.as_deref() else {
        let text = parsed.text.trim();
        let at = quote::text_start(text)?;
        return Some(folded(&text_to_html(&text[..at]), &text_to_html(&text[at..])));
    };
    let inline: Vec<(String, AttachmentId)> =
        parsed.parts.iter().zip(stored).filter_map(|(p, id)| Some((p.content_id.clone()?, (*id)?))).collect();
    let clean = crate::conversation::safe_html(html, move |cid| {
        inline.iter().find(|(c, _)| c == cid).map(|(_, id)| format!("/api/v1/attachments/{id}"))
    });
    Some(match quote::html_start(&clean) {
        // Cut inside the markup: cleaned once more, the parser closes what the cut left open.
        Some(at) => crate::conversation::safe_html(&folded(&clean[..at], &clean[at..]), |_| None),
        None => clean,
    })
}

fn folded(new: &str, history: &str) -> String {
    format!("{new}<details><summary>•••</summary>{history}</details>")
}

/// The mailbox a message was sent to: where the servers delivered it (exact, an alias's mail
/// included), then `To`, then `Cc`.
fn addressed_to(e: &Envelope, mailboxes: &[Mailbox]) -> Option<Mailbox> {
    let mut named = e.delivered_to.iter().chain(e.to.iter().chain(&e.cc).map(|a| &a.email));
    named.find_map(|a| mailboxes.iter().find(|m| m.active && m.address == *a)).cloned()
}

fn standing(t: &Ticket, sender: Option<&User>) -> Standing {
    match sender {
        Some(u) if u.role.is_staff() => Standing::Staff,
        Some(u) if t.requester_id == u.id => Standing::Requester,
        Some(u) if t.cc_ids.contains(&u.id) => Standing::Cc,
        _ => Standing::Stranger,
    }
}

/// A text that fits `max` characters; an empty one says what the message carried instead.
fn fit(text: &str, max: usize, parsed: &Parsed) -> String {
    let text = text.trim();
    if text.is_empty() {
        return if parsed.parts.is_empty() { "(no text)".into() } else { "(attachments only)".into() };
    }
    if text.chars().count() <= max {
        return text.to_owned();
    }
    // The whole message stays in the HTML version and the files; the text is cut with a note.
    let note = "\n\n[…the rest of this message was too long to show as text]";
    let keep = max.saturating_sub(note.chars().count());
    text.chars().take(keep).collect::<String>() + note
}
