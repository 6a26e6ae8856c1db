//! SMTP connections, kept open per server and account and reused from one reply to the next.
//!
//! lettre speaks the protocol; we open the socket ourselves so it can have `TCP_NODELAY`:
//! lettre writes a message and its closing `.` in two writes, and with Nagle's algorithm the
//! second waits for the server's delayed ACK (40 ms on Linux) — that alone held the outbox to
//! 22 messages a second against a local server. Implicit TLS (port 465) is left to lettre's
//! own connect, where the round trip to a remote server dwarfs the wait.

use std::collections::HashMap;
use std::time::Duration;

use gongdan_domain::mail::servers::{Smtp, Tls};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use tokio::sync::Mutex;

/// A server gets this long for each step of a conversation; a send as a whole gets
/// [`SEND_DEADLINE`], so a job never outlives its lease (two minutes) and another node never
/// sends the same reply while this one still might.
const STEP: Duration = Duration::from_secs(20);
const SEND_DEADLINE: Duration = Duration::from_secs(90);
/// Open connections kept per server and account.
const KEEP: usize = 4;

/// Why a conversation with a server failed.
#[derive(Debug)]
pub(crate) enum Failed {
    /// The server answered with an error, or the protocol broke.
    Smtp(lettre::transport::smtp::Error),
    /// The connection could not be made.
    Connect(String),
    /// A step took longer than [`STEP`].
    TimedOut,
}

/// Idle connections by server and account.
#[derive(Default)]
pub struct Transports(Mutex<HashMap<String, Vec<AsyncSmtpConnection>>>);

fn key(s: &Smtp, password: &str) -> String {
    // The password's digest: a changed password must not reuse a connection signed in with the
    // old one.
    let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(password.as_bytes()));
    let digest: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{:?}|{}|{}|{}|{digest}", s.tls, s.host, s.port, s.username)
}

async fn step<T>(f: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>) -> Result<T, Failed> {
    match tokio::time::timeout(STEP, f).await {
        Ok(r) => r.map_err(Failed::Smtp),
        Err(_) => Err(Failed::TimedOut),
    }
}

async fn connect(s: &Smtp, password: &str) -> Result<AsyncSmtpConnection, Failed> {
    let hello = ClientId::default();
    let tls = || TlsParameters::new(s.host.clone()).map_err(Failed::Smtp);
    let mut conn = match s.tls {
        Tls::Implicit => {
            step(AsyncSmtpConnection::connect_tokio1((s.host.as_str(), s.port), Some(STEP), &hello, Some(tls()?), None))
                .await?
        }
        Tls::Starttls | Tls::None => {
            let tcp = tokio::time::timeout(STEP, tokio::net::TcpStream::connect((s.host.as_str(), s.port)))
                .await
                .map_err(|_| Failed::TimedOut)?
                .map_err(|e| Failed::Connect(e.to_string()))?;
            tcp.set_nodelay(true).map_err(|e| Failed::Connect(e.to_string()))?;
            let mut c = step(AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)).await?;
            if s.tls == Tls::Starttls {
                step(c.starttls(tls()?, &hello)).await?;
            }
            c
        }
    };
    if !s.username.is_empty() {
        let credentials = Credentials::new(s.username.clone(), password.to_owned());
        step(conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials)).await?;
    }
    Ok(conn)
}

impl Transports {
    /// Sends one message within [`SEND_DEADLINE`], on an open connection when there is one; a
    /// connection that broke while idle is replaced once.
    pub(crate) async fn send(
        &self,
        s: &Smtp,
        password: &str,
        envelope: &Envelope,
        bytes: &[u8],
    ) -> Result<Response, Failed> {
        tokio::time::timeout(SEND_DEADLINE, self.send_now(s, password, envelope, bytes))
            .await
            .unwrap_or(Err(Failed::TimedOut))
    }

    async fn send_now(&self, s: &Smtp, password: &str, envelope: &Envelope, bytes: &[u8]) -> Result<Response, Failed> {
        let k = key(s, password);
        let idle = self.0.lock().await.get_mut(&k).and_then(Vec::pop);
        let reused = idle.is_some();
        let mut conn = match idle {
            Some(c) => c,
            None => connect(s, password).await?,
        };
        let mut sent = step(conn.send(envelope, bytes)).await;
        // Only a connection that failed without the server's answer (closed while idle) is
        // replaced: after an answer, the server has said what it did with the message.
        let stale = matches!(&sent, Err(Failed::Smtp(e)) if e.status().is_none());
        if reused && conn.has_broken() && stale {
            conn = connect(s, password).await?;
            sent = step(conn.send(envelope, bytes)).await;
        }
        // Only a connection whose last step ended in an answer is reused: one that timed out
        // may be half-way through a message, and the next reply would be appended to it.
        if sent.is_ok() && !conn.has_broken() {
            let mut pool = self.0.lock().await;
            let kept = pool.entry(k).or_default();
            if kept.len() < KEEP {
                kept.push(conn);
            }
        }
        sent
    }

    /// Connects, signs in and says goodbye: the console's connection test.
    pub(crate) async fn test(&self, s: &Smtp, password: &str) -> Result<(), Failed> {
        let mut conn = connect(s, password).await?;
        let _ = step(conn.quit()).await;
        Ok(())
    }
}
