//! The paths real tickets take, for `gongdan bench`: creates whose requester is named by email
//! (what the portal, mail and integrations send), a mixed load of an agent desk at work
//! (creates, queue lists, ticket pages, replies, updates) for a fixed time, and a long soak of
//! the same load that reads the server's memory at its start, middle and end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::measure::{Samples, Stats};

/// Distinct requesters of the email scenarios: the first create for each makes the customer,
/// the rest find them.
pub const EMAIL_REQUESTERS: usize = 500;

/// A description of about 400 bytes of Chinese, as a customer writes one.
pub fn long_description() -> String {
    let s = "您好，我们办公室的打印机从昨天下午开始无法连接公司无线网络，已经重启过打印机和路由器，\
             也重新输入了密码，但是仍然提示连接失败。其他电脑和手机都可以正常上网。请问是否需要重新配置？\
             我们急需打印合同，麻烦尽快处理，谢谢！";
    let mut out = String::new();
    for c in s.chars().cycle() {
        if out.len() >= 400 {
            break;
        }
        out.push(c);
    }
    out
}

/// The body of a create whose requester is given by email (`n` picks the requester).
pub fn email_create(n: usize, description: &str) -> Value {
    let who = n % EMAIL_REQUESTERS;
    json!({
        "subject": "打印机无法连接网络",
        "description": description,
        "requester": {"email": format!("requester{who}@mail.example"), "name": format!("客户{who}")},
        "priority": "normal",
        "tags": ["printer"],
    })
}

/// The request kinds of the mixed load, with their shares of every 20 requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Create,
    Queue,
    Page,
    Reply,
    Update,
}

impl Kind {
    const SHARES: [(Kind, usize); 5] =
        [(Kind::Create, 2), (Kind::Queue, 6), (Kind::Page, 6), (Kind::Reply, 3), (Kind::Update, 3)];

    /// The row's name, with the kind's share of the load (from `SHARES`).
    pub fn label(self) -> String {
        let what = match self {
            Kind::Create => "create, requester by email",
            Kind::Queue => "agent queue, 50 + total",
            Kind::Page => "ticket page: ticket / comments / events",
            Kind::Reply => "reply",
            Kind::Update => "update: priority or tag",
        };
        let share = Self::SHARES.iter().find(|(k, _)| *k == self).map_or(0, |(_, n)| *n);
        format!("{what} ({}%)", share * 100 / 20)
    }

    /// The kind of request `i`: the shares, spread so neighbours differ.
    fn of(i: usize) -> Kind {
        let slot = mix(i as u64) as usize % 20;
        let mut acc = 0;
        for (k, share) in Self::SHARES {
            acc += share;
            if slot < acc {
                return k;
            }
        }
        Kind::Queue
    }
}

/// A cheap bijective scramble, so request `i`'s kind and target look random but repeat.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

/// What the mixed load works on.
pub struct Desk {
    pub base: String,
    /// An agent's bearer header.
    pub auth: String,
    pub group: i64,
    /// Open tickets that replies, updates and pages go to.
    pub tickets: Vec<i64>,
    pub description: String,
}

impl Desk {
    fn request(&self, c: &reqwest::Client, i: usize) -> (Kind, reqwest::RequestBuilder) {
        let (b, a) = (&self.base, &self.auth);
        let t = self.tickets[mix(i as u64 ^ 0x5eed) as usize % self.tickets.len()];
        let kind = Kind::of(i);
        let r = match kind {
            Kind::Create => c.post(format!("{b}/api/v1/tickets")).json(&email_create(i, &self.description)),
            Kind::Queue => {
                c.get(format!("{b}/api/v1/tickets?status=open&group_id={}&sort=-updated_at&limit=50", self.group))
            }
            Kind::Page => c.get(match i % 3 {
                0 => format!("{b}/api/v1/tickets/{t}"),
                1 => format!("{b}/api/v1/tickets/{t}/comments"),
                _ => format!("{b}/api/v1/tickets/{t}/events"),
            }),
            Kind::Reply => c
                .post(format!("{b}/api/v1/tickets/{t}/comments"))
                .json(&json!({"body": format!("第 {i} 条回复：我们已经联系网络组，请稍候。"), "public": !i.is_multiple_of(4)})),
            Kind::Update => c.patch(format!("{b}/api/v1/tickets/{t}")).json(&if i.is_multiple_of(2) {
                json!({"priority": PRIORITIES[i % 4]})
            } else {
                json!({"add_tags": [format!("m{}", i % 7)]})
            }),
        };
        (kind, r.header("authorization", a))
    }
}

/// What a timed run measured, per kind of request.
pub struct Mixed {
    pub wall: Duration,
    pub kinds: BTreeMap<Kind, Stats>,
}

impl Mixed {
    pub fn total(&self) -> usize {
        self.kinds.values().map(|s| s.count).sum()
    }

    pub fn errors(&self) -> usize {
        self.kinds.values().map(|s| s.errors).sum()
    }
}

/// Runs the mixed load with `concurrency` clients for `time`, starting at request `from`.
pub async fn run(client: &reqwest::Client, desk: Arc<Desk>, concurrency: usize, time: Duration, from: usize) -> Mixed {
    let samples: Arc<Mutex<BTreeMap<Kind, Samples>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(from));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, desk, samples, next) = (client.clone(), desk.clone(), samples.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine: BTreeMap<Kind, Samples> = BTreeMap::new();
            while t0.elapsed() < time {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (kind, req) = desk.request(&client, i);
                let s = Instant::now();
                let ok = match req.send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    Ok(r) => {
                        let status = r.status();
                        eprintln!("  {kind:?} failed: {status} {}", r.text().await.unwrap_or_default());
                        false
                    }
                    Err(e) => {
                        eprintln!("  {kind:?} failed: {e}");
                        false
                    }
                };
                mine.entry(kind).or_default().record(s.elapsed(), ok);
            }
            let mut all = samples.lock().await;
            for (k, s) in mine {
                all.entry(k).or_default().add(s);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let wall = t0.elapsed();
    let all = std::mem::take(&mut *samples.lock().await);
    let kinds = all.into_iter().map(|(k, s)| (k, s.with_wall(wall).stats().0)).collect();
    Mixed { wall, kinds }
}

/// Open tickets for the mixed load: the newest `n` the agent sees as new.
pub async fn pick_tickets(client: &reqwest::Client, base: &str, auth: &str, n: usize) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    while ids.len() < n {
        let mut url = format!("{base}/api/v1/tickets?status=new&sort=-created_at&limit=100");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value =
            client.get(url).header("authorization", auth).send().await?.error_for_status()?.json().await?;
        ids.extend(page["items"].as_array().context("items")?.iter().filter_map(|t| t["id"].as_i64()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    anyhow::ensure!(!ids.is_empty(), "no open tickets for the mixed load");
    Ok(ids)
}

/// The server's resident memory now (`VmRSS`), in MB.
pub fn rss_mb(pid: u32) -> Option<f64> {
    super::measure::status_mb(pid, "VmRSS:")
}

/// How a WAL size reads in the report.
pub fn wal_label(wal: Option<f64>) -> String {
    wal.map_or_else(|| "— (PostgreSQL)".into(), |w| format!("{w:.1} MB"))
}

/// The SQLite write-ahead log's size, in MB (none on PostgreSQL).
pub fn wal_mb(db: Option<&std::path::Path>) -> Option<f64> {
    let db = db?;
    let wal = db.with_file_name(format!("{}-wal", db.file_name()?.to_string_lossy()));
    Some(std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0) as f64 / (1024.0 * 1024.0))
}

/// Memory over a long run of the mixed load: at its start, halfway and at the end.
pub struct Soak {
    pub time: Duration,
    pub rss: [Option<f64>; 3],
    pub requests: usize,
    pub errors: usize,
    pub wal: Option<f64>,
}

pub async fn soak(
    client: &reqwest::Client,
    desk: Arc<Desk>,
    concurrency: usize,
    time: Duration,
    pid: u32,
    db: Option<&std::path::Path>,
) -> Soak {
    let start = rss_mb(pid);
    // The request numbers go on where the halves left off, so both halves create new work.
    let first = run(client, desk.clone(), concurrency, time / 2, 10_000_000).await;
    let middle = rss_mb(pid);
    let second = run(client, desk, concurrency, time / 2, 20_000_000).await;
    let end = rss_mb(pid);
    Soak {
        time: first.wall + second.wall,
        rss: [start, middle, end],
        requests: first.total() + second.total(),
        errors: first.errors() + second.errors(),
        wal: wal_mb(db),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_their_shares() {
        let mut n: BTreeMap<Kind, usize> = BTreeMap::new();
        for i in 0..100_000 {
            *n.entry(Kind::of(i)).or_default() += 1;
        }
        for (k, share) in Kind::SHARES {
            let got = n[&k] as f64 / 100_000.0;
            assert!((got - share as f64 / 20.0).abs() < 0.01, "{k:?}: {got}");
        }
    }

    #[test]
    fn labels_state_the_shares() {
        assert_eq!(Kind::Create.label(), "create, requester by email (10%)");
        assert_eq!(Kind::Queue.label(), "agent queue, 50 + total (30%)");
    }

    #[test]
    fn the_long_description_is_about_400_bytes() {
        let d = long_description();
        assert!((400..404).contains(&d.len()), "{}", d.len());
    }
}
