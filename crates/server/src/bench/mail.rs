//! Mail handed in through `POST /api/v1/mail/inbound`: typical ~10 KB messages, half new
//! requests and half replies to earlier ones (by `In-Reply-To`), at concurrency 8.

use std::sync::Arc;

use super::measure::{Stats, drive};

/// Concurrent deliveries, as a few MTA queues hand mail over.
pub(crate) const CONCURRENCY: usize = 8;
/// How far back a reply's original is: sent long enough before that it is stored.
const BACK: usize = 4 * CONCURRENCY;

/// A message of about 10 KB: headers, a text part and an HTML part of the same words.
pub(crate) fn message(i: usize) -> String {
    let line = "您好，我们的打印机无法连接网络，重启后仍然如此。The printer on floor 3 drops off the network after a restart.\n";
    let text: String = line.repeat(34);
    let html: String = format!("<div>{}</div>", text.replace('\n', "<br>\n"));
    // A reply comes from the original's sender, so it joins that ticket.
    let (subject, threading, from) = if i % 2 == 1 && i >= BACK {
        let original = i - BACK - (i - BACK) % 2;
        let refs =
            format!("In-Reply-To: <bench-{original}@kehu.example>\r\nReferences: <bench-{original}@kehu.example>\r\n");
        (format!("Re: 打印机故障 {original}"), refs, original % 500)
    } else {
        (format!("打印机故障 {i}"), String::new(), i % 500)
    };
    format!(
        "From: =?UTF-8?B?5a6i5oi3?= <customer{from}@kehu.example>\r\nTo: support@bench.example\r\n\
         Subject: =?UTF-8?Q?{}?=\r\nMessage-ID: <bench-{i}@kehu.example>\r\n{threading}\
         Date: Tue, 03 Mar 2026 10:00:00 +0800\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"b{i}\"\r\n\r\n\
         --b{i}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n\
         --b{i}\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n--b{i}--\r\n",
        subject.bytes().map(|b| format!("={b:02X}")).collect::<String>()
    )
}

pub(crate) struct Inbound {
    pub(crate) stats: Stats,
    pub(crate) bytes: usize,
    pub(crate) quarantined: usize,
    /// Tickets the mail made (the rest became replies on them).
    pub(crate) tickets: usize,
}

/// Makes the mailbox, then hands `n` messages in.
pub(crate) async fn inbound(
    client: &reqwest::Client,
    base: &str,
    admin_auth: &str,
    n: usize,
) -> anyhow::Result<Inbound> {
    client
        .post(format!("{base}/api/v1/mailboxes"))
        .header("authorization", admin_auth)
        .json(&serde_json::json!({"address": "support@bench.example", "name": "Bench 客服"}))
        .send()
        .await?
        .error_for_status()?;
    let before = email_tickets(client, base, admin_auth).await?;
    let messages: Arc<Vec<String>> = Arc::new((0..n).map(message).collect());
    let bytes = messages.iter().map(String::len).sum::<usize>() / n.max(1);
    let stats = drive(client, n, CONCURRENCY, {
        let (b, a, m) = (base.to_owned(), admin_auth.to_owned(), messages.clone());
        move |c, i| {
            c.post(format!("{b}/api/v1/mail/inbound"))
                .header("authorization", &a)
                .header("content-type", "message/rfc822")
                .body(m[i].clone())
        }
    })
    .await;
    let held: serde_json::Value = client
        .get(format!("{base}/api/v1/mail/quarantine?limit=500"))
        .header("authorization", admin_auth)
        .send()
        .await?
        .json()
        .await?;
    let quarantined = held["items"].as_array().map_or(0, Vec::len);
    let tickets = email_tickets(client, base, admin_auth).await?.saturating_sub(before);
    Ok(Inbound { stats, bytes, quarantined, tickets })
}

/// A message of just under `mb` MB (the desk's default limit takes it): a short text and one large attachment (base64, as mail is).
fn large_message(mb: usize) -> Vec<u8> {
    use base64::Engine;
    // Incompressible-looking bytes: a PDF of scans, say.
    let mut x: u32 = 0x9E37_79B9;
    // 57 bytes make a 76-character line and its CRLF: the whole just under `mb` MB.
    let raw: Vec<u8> = (0..(mb * 1024 * 1024 - 64 * 1024) / 78 * 57)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
    let mut body = String::with_capacity(b64.len() + b64.len() / 76 * 2 + 1024);
    body.push_str(
        "From: 客户 <big@kehu.example>\r\nTo: support@bench.example\r\nSubject: scans\r\n\
         Message-ID: <bench-large@kehu.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"L\"\r\n\r\n--L\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
         见附件扫描件。\r\n--L\r\nContent-Type: application/pdf; name=\"scans.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"scans.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    );
    for chunk in b64.as_bytes().chunks(76) {
        body.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        body.push_str("\r\n");
    }
    body.push_str("--L--\r\n");
    body.into_bytes()
}

pub(crate) struct Large {
    pub(crate) mb: f64,
    pub(crate) outcome: String,
    /// The server's resident memory before, and its highest while the message was taken in.
    pub(crate) rss_before: f64,
    pub(crate) rss_peak: f64,
    pub(crate) took: std::time::Duration,
}

/// Hands one message of `mb` MB in while sampling the server's resident memory.
pub(crate) async fn large(
    client: &reqwest::Client,
    base: &str,
    admin_auth: &str,
    pid: u32,
    mb: usize,
) -> anyhow::Result<Large> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let message = large_message(mb);
    let size = message.len() as f64 / 1_048_576.0;
    let rss = move || super::measure::status_mb(pid, "VmRSS:").unwrap_or(0.0);
    let rss_before = rss();
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(rss_before.to_bits()));
    let sampler = tokio::spawn({
        let (done, peak) = (done.clone(), peak.clone());
        async move {
            while !done.load(Ordering::Relaxed) {
                let now = rss();
                if now > f64::from_bits(peak.load(Ordering::Relaxed)) {
                    peak.store(now.to_bits(), Ordering::Relaxed);
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
    });
    let t0 = std::time::Instant::now();
    let res = client
        .post(format!("{base}/api/v1/mail/inbound"))
        .header("authorization", admin_auth)
        .header("content-type", "message/rfc822")
        .body(message)
        .send()
        .await?;
    let out: serde_json::Value = res.json().await?;
    let took = t0.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    Ok(Large {
        mb: size,
        outcome: out["outcome"].as_str().unwrap_or("error").to_owned(),
        rss_before,
        rss_peak: f64::from_bits(peak.load(Ordering::Relaxed)),
        took,
    })
}

/// Tickets on the email channel (the seeded ones count too: take a difference).
async fn email_tickets(client: &reqwest::Client, base: &str, admin_auth: &str) -> anyhow::Result<usize> {
    let page: serde_json::Value = client
        .get(format!("{base}/api/v1/tickets?channel=email&limit=1"))
        .header("authorization", admin_auth)
        .send()
        .await?
        .json()
        .await?;
    Ok(page["total"].as_u64().unwrap_or_default() as usize)
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_are_about_ten_kilobytes_and_half_are_replies() {
        let m = super::message(101);
        assert!((9_000..12_000).contains(&m.len()), "{}", m.len());
        assert!(m.contains("In-Reply-To: <bench-68@kehu.example>"), "{}", &m[..400]);
        assert!(!super::message(100).contains("In-Reply-To"));
        assert!(!super::message(3).contains("In-Reply-To"), "the first ones have nothing to answer");
    }
}
