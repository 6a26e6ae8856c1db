//! Fetching mailboxes over IMAP. One recurring job fetches every mailbox with IMAP settings,
//! so on several nodes one node at a time does (the job's lease); a round takes a bounded
//! number of messages and runs again at once when more wait. Saving a mailbox with IMAP
//! settings schedules the job; it ends itself when no mailbox has them any more.
//!
//! A message is taken in, then marked on the server (seen, moved or deleted), then its UID
//! recorded. A crash between any two steps fetches it again next round, and its Message-ID,
//! stored with its comment, makes the second take-in a no-op: one comment, never two.

use std::sync::Arc;
use std::time::Duration;

use async_imap::Session;
use futures_util::StreamExt;
use gongdan_domain::access::{Principal, Role};
use gongdan_domain::ids::{MailboxId, SYSTEM_USER};
use gongdan_domain::mail::Mailbox;
use gongdan_domain::mail::servers::{AfterImport, Imap, Tls};
use gongdan_store::FetchPosition;
use jiff::SignedDuration;
use tokio::io::{AsyncRead, AsyncWrite};

use super::ingest::Outcome;
use crate::jobs::kind::{JobKind, Ran};
use crate::{App, CoreError, Result};

/// How often the mailboxes are fetched (the bound is a minute).
const EVERY: SignedDuration = SignedDuration::from_secs(30);
/// Messages one round takes from one mailbox at most.
const ROUND: usize = 100;
/// A round stops taking messages after this long, and ends after [`ROUND_CAP`] whatever a
/// server is doing: inside the job's two-minute lease, so two nodes never fetch one mailbox.
const ROUND_TIME: Duration = Duration::from_secs(60);
const ROUND_CAP: Duration = Duration::from_secs(95);
/// A mail server gets this long to connect and to answer each command.
const IMAP_TIMEOUT: Duration = Duration::from_secs(20);

pub(super) const FETCH_JOB: &str = "mail.fetch";

pub(crate) const JOB: JobKind = JobKind {
    name: FETCH_JOB,
    run: |app, _job| {
        Box::pin(async move {
            let now = app.now();
            let later = now.checked_add(EVERY).unwrap_or(now);
            match app.fetch_all().await {
                Ok(None) => Ran::Done,
                Ok(Some(true)) => Ran::Next(now),
                Ok(Some(false)) => Ran::Next(later),
                Err(e) => {
                    tracing::error!(error = %e, "mail fetch");
                    Ran::Next(later)
                }
            }
        })
    },
    every: None,
};

/// The machine's operator, who hands mail in: the CLI's pipe and the fetcher act as this admin.
pub fn operator() -> Principal {
    Principal {
        user_id: SYSTEM_USER,
        role: Role::Admin,
        group_ids: vec![],
        restricted_to_groups: false,
        organization_id: None,
        org_access: false,
    }
}

pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}
pub(super) type Conn = Session<Box<dyn Io>>;

/// What a server said to a connection test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reached {
    /// Signed in to IMAP; the folder and how many messages it holds.
    Imap { folder: String, messages: u32 },
    /// An SMTP server (`host:port`) that answers and takes mail.
    Smtp { server: String },
}

impl Reached {
    /// `imap` or `smtp`.
    pub fn server(&self) -> &'static str {
        match self {
            Reached::Imap { .. } => "imap",
            Reached::Smtp { .. } => "smtp",
        }
    }
}

/// One server's answer to a connection test: `(imap | smtp, what it said or its error)`.
pub type Check = (&'static str, std::result::Result<Reached, String>);

/// What one round did with one mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    pub taken: usize,
    /// More messages wait than a round takes.
    pub more: bool,
}

impl App {
    /// Makes sure the fetch job exists (one per desk, whichever node asks first).
    pub(crate) async fn schedule_fetch(&self) -> Result<()> {
        let job = gongdan_store::NewJob {
            kind: FETCH_JOB.into(),
            unique_key: Some(FETCH_JOB.into()),
            payload: serde_json::json!({}),
            run_at: self.now(),
            max_attempts: 1_000_000,
            ticket: None,
        };
        self.store.enqueue(&job, self.now()).await?;
        Ok(())
    }

    /// One round over every active mailbox with IMAP settings: whether some have more waiting,
    /// or `None` when no mailbox is fetched over IMAP.
    pub async fn fetch_all(&self) -> Result<Option<bool>> {
        let mut more = false;
        let boxes = self.store.list_mailboxes().await?;
        if !boxes.iter().any(|m| m.imap.is_some()) {
            return Ok(None);
        }
        let started = tokio::time::Instant::now();
        for m in boxes {
            let Some(imap) = m.imap.clone().filter(|_| m.active) else { continue };
            if started.elapsed() > ROUND_TIME {
                // The rest wait for the next round, which follows at once.
                more = true;
                break;
            }
            let left = ROUND_CAP.saturating_sub(started.elapsed());
            let result = match tokio::time::timeout(left, self.fetch_mailbox(&m, &imap, started)).await {
                Ok(r) => r,
                Err(_) => Err(slow()),
            };
            let now = self.now();
            match result {
                Ok(f) => {
                    more |= f.more;
                    self.store.set_mailbox_status(m.id, Some(now), None).await?;
                }
                Err(e) => {
                    tracing::warn!(mailbox = %m.address, error = %e, "fetching a mailbox failed");
                    self.store.set_mailbox_status(m.id, Some(now), Some(&e)).await?;
                }
            }
        }
        Ok(Some(more))
    }

    /// Fetches one mailbox now (the console's "fetch now", and tests); the inner error is the
    /// mail server's (also on the mailbox's status line).
    pub async fn fetch_now(&self, actor: &Principal, id: MailboxId) -> Result<std::result::Result<Fetched, String>> {
        crate::access::require_admin(actor)?;
        let m = self.stored_mailbox(id).await?;
        let imap = m.imap.clone().ok_or_else(|| {
            gongdan_domain::DomainError::invalid(
                "imap",
                gongdan_domain::Code::InvalidValue,
                "the mailbox has no IMAP settings",
            )
        })?;
        let started = tokio::time::Instant::now();
        let result = match tokio::time::timeout(ROUND_CAP, self.fetch_mailbox(&m, &imap, started)).await {
            Ok(r) => r,
            Err(_) => Err(slow()),
        };
        let error = result.as_ref().err().map(String::as_str);
        self.store.set_mailbox_status(m.id, Some(self.now()), error).await?;
        Ok(result)
    }

    /// Logs in to a mailbox's servers and says what answered: the console's "test connection".
    pub async fn test_mailbox(&self, actor: &Principal, id: MailboxId) -> Result<Vec<Check>> {
        crate::access::require_admin(actor)?;
        let m = self.stored_mailbox(id).await?;
        let mut out = Vec::new();
        if let Some(imap) = &m.imap {
            let r = async {
                let mut s = self.imap_session(imap).await?;
                let folder = timed(s.select(&imap.folder)).await?;
                let _ = timed(s.logout()).await;
                Ok::<_, String>(Reached::Imap { folder: imap.folder.clone(), messages: folder.exists })
            }
            .await;
            out.push(("imap", r));
        }
        let r = match self.smtp_for(&m) {
            Ok((s, password)) => match self.smtp.test(&s, &password).await {
                Ok(()) => Ok(Reached::Smtp { server: format!("{}:{}", s.host, s.port) }),
                Err(e) => Err(super::send::smtp_error(&e, &s).text()),
            },
            Err(e) => Err(e.text()),
        };
        out.push(("smtp", r));
        Ok(out)
    }

    async fn fetch_mailbox(
        &self,
        m: &Mailbox,
        imap: &Imap,
        started: tokio::time::Instant,
    ) -> std::result::Result<Fetched, String> {
        let mut s = self.imap_session(imap).await?;
        let result = self.take_new(&mut s, m, imap, started).await;
        let _ = timed(s.logout()).await;
        result
    }

    async fn take_new(
        &self,
        s: &mut Conn,
        m: &Mailbox,
        imap: &Imap,
        started: tokio::time::Instant,
    ) -> std::result::Result<Fetched, String> {
        let db = |e: gongdan_store::StoreError| format!("the database: {e}");
        let folder = timed(s.select(&imap.folder)).await?;
        let validity = i64::from(folder.uid_validity.unwrap_or(0));
        let mut at = self.store.fetch_position(m.id).await.map_err(db)?;
        if at.uid_validity != validity {
            // The folder was rebuilt: its UIDs mean other messages now. Fetch all again; the
            // Message-IDs already taken in are not taken twice.
            at = FetchPosition { uid_validity: validity, last_uid: 0 };
        }
        let found = timed(s.uid_search(format!("UID {}:*", at.last_uid + 1))).await?;
        // `n:*` names the last message even when its UID is below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|u| i64::from(*u) > at.last_uid).collect();
        uids.sort_unstable();
        let mut more = uids.len() > ROUND;
        uids.truncate(ROUND);
        let caps = timed(s.capabilities()).await?;
        // Without MOVE a message is copied and deleted; without UIDPLUS the deletion is a
        // plain EXPUNGE, which also removes what other programs marked deleted.
        let (can_move, uidplus) = (caps.has_str("MOVE"), caps.has_str("UIDPLUS"));
        if imap.after_import == AfterImport::Move && !uids.is_empty() {
            // MOVE needs its folder; CREATE fails harmlessly when it is there.
            let _ = timed(s.create(&imap.move_to)).await;
        }
        let mut taken = 0;
        let mut deleted: Vec<u32> = Vec::new();
        for uid in uids {
            if started.elapsed() > ROUND_TIME {
                more = true;
                break;
            }
            let raw = {
                let mut fetches = timed(s.uid_fetch(uid.to_string(), "BODY.PEEK[]")).await?;
                let mut raw = None;
                while let Some(f) = tokio::time::timeout(IMAP_TIMEOUT, fetches.next()).await.map_err(|_| slow())? {
                    let f = f.map_err(|e| e.to_string())?;
                    if f.uid == Some(uid) || raw.is_none() {
                        raw = f.body().map(<[u8]>::to_vec).or(raw);
                    }
                }
                raw
            };
            if let Some(raw) = raw {
                match self.ingest_mail(&operator(), &raw, Some(m.id)).await {
                    Ok(done) => {
                        taken += usize::from(done.outcome != Outcome::Ignored);
                    }
                    // The database is away: leave the message for the next round.
                    Err(CoreError::Store(e)) => return Err(db(e)),
                    Err(e) => return Err(e.to_string()),
                }
            }
            match imap.after_import {
                AfterImport::Seen => {
                    drain(timed(s.uid_store(uid.to_string(), "+FLAGS.SILENT (\\Seen)")).await?).await?;
                }
                AfterImport::Move if can_move => timed(s.uid_mv(uid.to_string(), &imap.move_to)).await?,
                AfterImport::Move => {
                    timed(s.uid_copy(uid.to_string(), &imap.move_to)).await?;
                    drain(timed(s.uid_store(uid.to_string(), "+FLAGS.SILENT (\\Deleted)")).await?).await?;
                    deleted.push(uid);
                }
                AfterImport::Delete => {
                    drain(timed(s.uid_store(uid.to_string(), "+FLAGS.SILENT (\\Deleted)")).await?).await?;
                    deleted.push(uid);
                }
            }
            at.last_uid = i64::from(uid);
            self.store.set_fetch_position(m.id, at).await.map_err(db)?;
        }
        if !deleted.is_empty() {
            let set: Vec<String> = deleted.iter().map(u32::to_string).collect();
            if uidplus {
                let gone = timed(s.uid_expunge(set.join(","))).await?;
                let _: Vec<_> = gone.collect().await;
            } else {
                let gone = timed(s.expunge()).await?;
                let _: Vec<_> = gone.collect().await;
            }
        }
        self.store.set_fetch_position(m.id, at).await.map_err(db)?;
        Ok(Fetched { taken, more })
    }

    /// A logged-in IMAP session over the mailbox's kind of TLS.
    pub(super) async fn imap_session(&self, imap: &Imap) -> std::result::Result<Conn, String> {
        let password = match imap.password.is_empty() {
            true => String::new(),
            false => self.secret_key().and_then(|k| k.open(&imap.password)).map_err(|e| e.to_string())?,
        };
        let addr = format!("{}:{}", imap.host, imap.port);
        let tcp = tokio::time::timeout(IMAP_TIMEOUT, tokio::net::TcpStream::connect(&addr))
            .await
            .map_err(|_| format!("{addr} did not answer in time"))?
            .map_err(|e| format!("could not connect to {addr}: {e}"))?;
        let stream: Box<dyn Io> = match imap.tls {
            Tls::None => Box::new(tcp),
            Tls::Implicit => Box::new(tls(tcp, &imap.host).await?),
            Tls::Starttls => {
                let mut c = async_imap::Client::new(tcp);
                greeting(&mut c).await?;
                timed(c.run_command_and_check_ok("STARTTLS", None)).await?;
                Box::new(tls(c.into_inner(), &imap.host).await?)
            }
        };
        let mut client = async_imap::Client::new(stream);
        if imap.tls != Tls::Starttls {
            greeting(&mut client).await?;
        }
        match tokio::time::timeout(IMAP_TIMEOUT, client.login(&imap.username, &password)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err((e, _))) => Err(format!("{} refused the login of {}: {e}", imap.host, imap.username)),
            Err(_) => Err(slow()),
        }
    }
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug>(
    c: &mut async_imap::Client<T>,
) -> std::result::Result<(), String> {
    match tokio::time::timeout(IMAP_TIMEOUT, c.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err("the server closed the connection".into()),
        Ok(Err(e)) => Err(format!("reading the greeting: {e}")),
        Err(_) => Err(slow()),
    }
}

async fn tls(
    tcp: tokio::net::TcpStream,
    host: &str,
) -> std::result::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    use rustls_platform_verifier::ConfigVerifierExt;
    let config = rustls::ClientConfig::with_platform_verifier().map_err(|e| format!("TLS: {e}"))?;
    let name =
        rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|_| format!("`{host}`: not a host name"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    tokio::time::timeout(IMAP_TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| slow())?
        .map_err(|e| format!("TLS with {host}: {e}"))
}

/// An IMAP command with the timeout, its error as text.
pub(super) async fn timed<T>(
    f: impl std::future::Future<Output = async_imap::error::Result<T>>,
) -> std::result::Result<T, String> {
    match tokio::time::timeout(IMAP_TIMEOUT, f).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(slow()),
    }
}

/// Reads a command's responses to its end.
async fn drain<S, T>(stream: S) -> std::result::Result<(), String>
where
    S: futures_util::Stream<Item = async_imap::error::Result<T>>,
{
    let all: Vec<_> = stream.collect().await;
    all.into_iter().find_map(|r| r.err()).map_or(Ok(()), |e| Err(e.to_string()))
}

fn slow() -> String {
    "the mail server did not answer in time".into()
}
