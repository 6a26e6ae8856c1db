//! Mail out: public replies on the email tickets the inbound run made, sent by the server's
//! own job worker from the outbox to an SMTP server on this machine, timed from the first
//! message the server receives to the last (the rate the outbox sustains).
//!
//! The receiving server is a minimal SMTP sink in this process (greeting, EHLO, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT), so the measurement is of the desk, not of a slow peer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

use super::measure::{Stats, drive};

/// Replies posted at once.
const CONCURRENCY: usize = 8;

pub(crate) struct Outbound {
    /// Posting the replies (each queues its mail with it).
    pub(crate) replies: Stats,
    pub(crate) sent: usize,
    /// From the first message received to the last.
    pub(crate) span: Duration,
}

impl Outbound {
    pub(crate) fn rate(&self) -> f64 {
        self.sent.saturating_sub(1) as f64 / self.span.as_secs_f64().max(1e-9)
    }
}

/// What the sink received: how many, and when the first and the last arrived.
#[derive(Default)]
struct Received {
    count: AtomicUsize,
    span: Mutex<Option<(Instant, Instant)>>,
}

async fn sink() -> anyhow::Result<(u16, Arc<Received>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let got = Arc::new(Received::default());
    let seen = got.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let _ = session(conn, &seen).await;
            });
        }
    });
    Ok((port, got))
}

/// One SMTP conversation: every message is accepted and counted.
async fn session(conn: tokio::net::TcpStream, got: &Received) -> std::io::Result<()> {
    let (r, mut w) = conn.into_split();
    let mut lines = BufReader::new(r).lines();
    w.write_all(b"220 bench-sink ESMTP\r\n").await?;
    let mut in_data = false;
    while let Some(line) = lines.next_line().await? {
        if in_data {
            if line == "." {
                in_data = false;
                got.count.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                let mut span = got.span.lock().await;
                *span = Some(span.map_or((now, now), |(first, _)| (first, now)));
                w.write_all(b"250 2.0.0 queued\r\n").await?;
            }
            continue;
        }
        let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250-bench-sink\r\n250 8BITMIME\r\n",
            "DATA" => {
                in_data = true;
                b"354 go ahead\r\n"
            }
            "QUIT" => {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        w.write_all(answer).await?;
    }
    Ok(())
}

/// Points the bench mailbox at a local SMTP server, replies once to each of up to `n` email
/// tickets, and waits for the worker to send them all.
pub(crate) async fn outbound(
    client: &reqwest::Client,
    base: &str,
    admin_auth: &str,
    n: usize,
) -> anyhow::Result<Outbound> {
    let (port, got) = sink().await?;
    let boxes: serde_json::Value =
        client.get(format!("{base}/api/v1/mailboxes")).header("authorization", admin_auth).send().await?.json().await?;
    let id = boxes["items"][0]["id"].as_i64().context("no bench mailbox")?;
    client
        .patch(format!("{base}/api/v1/mailboxes/{id}"))
        .header("authorization", admin_auth)
        .json(&serde_json::json!({"smtp": {"host": "127.0.0.1", "port": port, "tls": "none"}}))
        .send()
        .await?
        .error_for_status()?;
    let mut tickets: Vec<i64> = Vec::new();
    let mut cursor: Option<String> = None;
    while tickets.len() < n {
        let mut url = format!("{base}/api/v1/tickets?channel=email&limit=100");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: serde_json::Value =
            client.get(url).header("authorization", admin_auth).send().await?.error_for_status()?.json().await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        tickets.extend(items.iter().filter_map(|t| t["id"].as_i64()));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() || items.is_empty() {
            break;
        }
    }
    tickets.truncate(n);
    if tickets.is_empty() {
        bail!("no email tickets to reply to");
    }
    let count = tickets.len();
    let tickets = Arc::new(tickets);
    let replies = drive(client, count, CONCURRENCY, {
        let (b, a, t) = (base.to_owned(), admin_auth.to_owned(), tickets.clone());
        move |c, i| {
            c.post(format!("{b}/api/v1/tickets/{}/comments", t[i])).header("authorization", &a).json(
                &serde_json::json!({"body": "您好，已为您重新配置打印机的网络设置，请重启后再试。", "public": true}),
            )
        }
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(300);
    while got.count.load(Ordering::Relaxed) < count {
        if Instant::now() > deadline {
            bail!("the outbox sent {} of {count} replies in 300 s", got.count.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let span = got.span.lock().await.map(|(a, b)| b - a).unwrap_or_default();
    Ok(Outbound { replies, sent: got.count.load(Ordering::Relaxed), span })
}
