//! `gongdan bench`: seeds a database to a given size through the bulk path, measures the raw
//! insert ceiling of the engine, then starts a real `gongdan serve` on it and drives the HTTP
//! API. Prints a Markdown table (the one BENCHMARKS.md records).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use gongdan_core::people::UserInput;
use gongdan_core::{App, Settings, SystemClock};
use gongdan_domain::access::Role;
use gongdan_domain::event::{EventKind, NewEvent, Via};
use gongdan_domain::ids::*;
use gongdan_domain::people::Group;
use gongdan_domain::tickets::{Channel, Priority, StatusCategory, StatusRef, Ticket};
use gongdan_store::{ConnectOptions, NewComment, Store, TicketWrite, WriteBatch};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::Mutex;

use crate::config::Resolved;
use crate::seed::Rng;

mod flow;
mod mail;
mod mail_out;
mod measure;
mod mixed;
mod sla;

use measure::{Stats, drive, drive_timed, peak_rss_mb};

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Tickets to seed.
    #[arg(long, default_value_t = 1_000_000)]
    pub tickets: usize,
    /// Comments per seeded ticket.
    #[arg(long, default_value_t = 5)]
    pub comments: usize,
    /// Concurrent clients for the create scenario.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Tickets created through the API.
    #[arg(long, default_value_t = 20_000)]
    pub creates: usize,
    /// Requests per read scenario.
    #[arg(long, default_value_t = 2_000)]
    pub reads: usize,
    /// Keep the seeded database afterwards (SQLite: in --data-dir).
    #[arg(long)]
    pub keep: bool,
    /// Open tickets of the automation-pass scenario (a database of its own).
    #[arg(long, default_value_t = 100_000)]
    pub pass_tickets: usize,
    /// Seconds of the mixed load (creates, queues, pages, replies, updates) at --concurrency.
    #[arg(long, default_value_t = 60)]
    pub mixed_secs: u64,
    /// Messages handed in through the inbound mail endpoint (half new, half replies).
    #[arg(long, default_value_t = 4_000)]
    pub mails: usize,
    /// Seconds of the soak that reads the server's memory at start, middle and end (0: none).
    #[arg(long, default_value_t = 600)]
    pub soak_secs: u64,
}

struct Fixture {
    agent_token: String,
    admin_token: String,
    agent_groups: Vec<GroupId>,
    customers: Vec<UserId>,
    agents: Vec<(UserId, Vec<GroupId>)>,
}

async fn fixtures(app: &App) -> anyhow::Result<Fixture> {
    let admin = app
        .store
        .list_users(&gongdan_store::UserQuery { role: Some(Role::Admin), limit: 1, ..Default::default() })
        .await?
        .pop();
    let admin = match admin {
        Some(a) => a,
        None => app
            .create_user(
                None,
                UserInput {
                    role: Some(Role::Admin),
                    name: Some("Bench admin".into()),
                    email: Some("bench-admin@example.com".into()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| anyhow!("{e}"))?,
    };
    let admin_p = app.principal_for(&admin).await.map_err(|e| anyhow!("{e}"))?;
    let mut groups = Vec::new();
    for i in 0..10 {
        let g = Group { name: format!("bench group {i}"), tier: 1 + i % 3, ..Group::blank() };
        groups.push(app.save_group(&admin_p, g).await.map_err(|e| anyhow!("{e}"))?.id);
    }
    let mut agents = Vec::new();
    for i in 0..50 {
        let gs = vec![groups[i % 10], groups[(i + 3) % 10]];
        let input = UserInput {
            role: Some(Role::Agent),
            name: Some(format!("Agent {i}")),
            email: Some(format!("agent{i}@bench.example")),
            group_ids: Some(gs.clone()),
            // The first agent also signs in to the browser pages.
            password: (i == 0).then(|| BENCH_PASSWORD.to_owned()),
            ..Default::default()
        };
        agents.push((app.create_user(Some(&admin_p), input).await.map_err(|e| anyhow!("{e}"))?.id, gs));
    }
    let mut customers = Vec::new();
    for i in 0..1000 {
        let input = UserInput {
            role: Some(Role::Customer),
            name: Some(format!("客户 {i}")),
            email: Some(format!("c{i}@customer.example")),
            ..Default::default()
        };
        customers.push(app.create_user(Some(&admin_p), input).await.map_err(|e| anyhow!("{e}"))?.id);
    }
    let (token, _) = app.create_token(None, agents[0].0, "bench", None).await.map_err(|e| anyhow!("{e}"))?;
    let (admin_token, _) = app.create_token(None, admin.id, "bench admin", None).await.map_err(|e| anyhow!("{e}"))?;
    Ok(Fixture { agent_token: token, admin_token, agent_groups: agents[0].1.clone(), customers, agents })
}

const BENCH_PASSWORD: &str = "bench-password";

const SUBJECTS: &[&str] = &[
    "打印机无法连接网络",
    "申请退款：订单重复扣款",
    "Printer offline after update",
    "发票抬头开错了",
    "Router keeps dropping",
];

/// What the create scenarios send: the API body and the raw rows carry the same text.
const CREATE_SUBJECT: &str = "打印机无法连接网络";
const CREATE_DESCRIPTION: &str = "办公室的打印机连不上公司 Wi-Fi。";

/// A new, unassigned ticket; the scenarios change what they need.
pub(crate) fn new_ticket(
    subject: &str,
    description: &str,
    requester: UserId,
    status: StatusRef,
    at: Timestamp,
) -> Ticket {
    Ticket { last_customer_reply_at: Some(at), ..Ticket::new(subject, description, requester, status, at) }
}

fn make_ticket(rng: &mut Rng, fx: &Fixture, statuses: &[StatusRef], at: Timestamp) -> Ticket {
    let (agent, groups) = &fx.agents[rng.below(fx.agents.len())];
    let status = statuses[rng.below(statuses.len())].clone();
    let assigned = status.category != StatusCategory::New;
    let subject = SUBJECTS[rng.below(SUBJECTS.len())];
    let requester = fx.customers[rng.below(fx.customers.len())];
    Ticket {
        assignee_id: assigned.then_some(*agent),
        group_id: Some(groups[rng.below(groups.len())]),
        channel: Channel::Email,
        priority: [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent][rng.below(4)],
        tags: if rng.below(5) == 0 { vec!["vip".into()] } else { vec![] },
        ..new_ticket(subject, "办公室的打印机昨天开始连不上公司 Wi-Fi，重启过路由器也没用。", requester, status, at)
    }
}

fn comment(author: UserId, n: usize) -> NewComment {
    let body = format!("第 {n} 条回复：已收到您的问题，我们正在处理。Thanks, we are on it.");
    NewComment {
        author_id: author,
        public: n % 4 != 3,
        html_body: format!("<p>{body}</p>"),
        body,
        attachment_ids: vec![],
    }
}

/// Bulk-seeds `n` tickets with `per` comments each; returns the elapsed time.
async fn seed(
    store: &Arc<dyn Store>,
    fx: &Fixture,
    statuses: &[StatusRef],
    n: usize,
    per: usize,
) -> anyhow::Result<Duration> {
    let mut rng = Rng::new(7);
    let t0 = Instant::now();
    let base = Timestamp::from_second(1_767_225_600)?; // 2026-01-01
    let mut done = 0;
    while done < n {
        let chunk = (n - done).min(20_000);
        let mut tickets = Vec::with_capacity(chunk);
        let mut comments = Vec::with_capacity(chunk);
        for i in 0..chunk {
            let at = base.checked_add(SignedDuration::from_secs(((done + i) * 25) as i64))?;
            let t = make_ticket(&mut rng, fx, statuses, at);
            comments
                .push((0..per).map(|c| comment(if c % 2 == 0 { t.requester_id } else { fx.agents[0].0 }, c)).collect());
            tickets.push(t);
        }
        store.bulk_import(&tickets, &comments, Via::Email).await?;
        done += chunk;
        if done % 200_000 == 0 || done == n {
            eprintln!("  seeded {done} tickets in {:.1} s", t0.elapsed().as_secs_f64());
        }
    }
    Ok(t0.elapsed())
}

/// The engine's ceiling for the API's create: the same rows (ticket, event, first comment) as
/// single transactions straight into the store, at the same concurrency, with no HTTP,
/// authentication or validation.
async fn raw_creates(
    store: &Arc<dyn Store>,
    fx: &Fixture,
    status: &StatusRef,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Stats> {
    let fx_customers = Arc::new(fx.customers.clone());
    let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (store, lat, next, customers, status) =
            (store.clone(), lat.clone(), next.clone(), fx_customers.clone(), status.clone());
        tasks.push(tokio::spawn(async move {
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let now = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
                let requester = customers[i % customers.len()];
                let t = Ticket {
                    priority: Priority::High,
                    tags: vec!["printer".into()],
                    ..new_ticket(CREATE_SUBJECT, CREATE_DESCRIPTION, requester, status.clone(), now)
                };
                let batch = WriteBatch {
                    actor: Some(requester),
                    via: Via::Api,
                    at: now,
                    writes: vec![TicketWrite {
                        ticket: t,
                        expected_version: None,
                        comment: Some(NewComment {
                            author_id: requester,
                            public: true,
                            body: CREATE_DESCRIPTION.into(),
                            html_body: format!("<p>{CREATE_DESCRIPTION}</p>"),
                            attachment_ids: vec![],
                        }),
                        events: vec![NewEvent::plain(EventKind::Created, Some("new".into()))],
                    }],
                    ..Default::default()
                };
                let s = Instant::now();
                match store.write(batch).await {
                    Ok(_) => lat.lock().await.push(s.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            errors
        }));
    }
    let mut errors = 0;
    for t in tasks {
        errors += t.await.unwrap_or(1);
    }
    let wall = t0.elapsed();
    let lat = std::mem::take(&mut *lat.lock().await);
    Ok(Stats::from(lat, wall, errors))
}

async fn wait_ready(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not become ready")
}

pub async fn run(cfg: Resolved, args: BenchArgs) -> anyhow::Result<()> {
    let sqlite = cfg.database_url.starts_with("sqlite:");
    let pg_schema = (!sqlite).then(|| format!("bench_{}", std::process::id()));
    let (url, data_dir) = if sqlite {
        // A fresh database of its own, unless the caller pointed at one explicitly.
        let dir = cfg.data_dir.join("bench");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        (format!("sqlite://{}", dir.join("bench.db").display()), dir)
    } else {
        let schema = pg_schema.clone().unwrap_or_default();
        let sep = if cfg.database_url.contains('?') { '&' } else { '?' };
        sqlx_schema(&cfg.database_url, &schema).await?;
        (format!("{}{sep}options=-c%20search_path%3D{schema}", cfg.database_url), cfg.data_dir.join("bench"))
    };
    let backend = if sqlite { "SQLite" } else { "PostgreSQL" };
    eprintln!("bench on {backend}: {} tickets × {} comments", args.tickets, args.comments);
    let store = gongdan_store::connect(&url, ConnectOptions { migrate: true, max_connections: 16 }).await?;
    let app = App::new(store.clone(), Arc::new(SystemClock), Settings::new(data_dir.clone()));
    let fx = fixtures(&app).await?;
    let cfg_now = app.config().await.map_err(|e| anyhow!("{e}"))?;
    let status_of = |key: &str| cfg_now.statuses.iter().find(|s| s.key == key).map(StatusRef::from);
    let mix: Vec<StatusRef> =
        ["new", "open", "open", "open", "pending", "solved", "closed", "closed", "closed", "closed"]
            .iter()
            .filter_map(|k| status_of(k))
            .collect();
    let new_status = status_of("new").context("no status new")?;

    let seed_time = seed(&store, &fx, &mix, args.tickets, args.comments).await?;
    // Measure the steady state a desk runs in (autovacuum and statistics), not the minutes
    // right after a bulk load.
    let t0 = Instant::now();
    store.optimize().await?;
    if !sqlite {
        // Flush the bulk load's dirty pages now, so its checkpoint does not land in the
        // measurements (needs superuser or pg_checkpoint; skipped otherwise).
        if let Err(e) = pg_checkpoint(&cfg.database_url).await {
            eprintln!("  (no CHECKPOINT: {e})");
        }
    }
    eprintln!("  optimized (statistics, visibility) in {:.1} s", t0.elapsed().as_secs_f64());
    // One ticket with 50 comments for the ticket-page scenario.
    let mut rng = Rng::new(99);
    let open = status_of("open").context("no status open")?;
    let big = make_ticket(&mut rng, &fx, std::slice::from_ref(&open), Timestamp::from_second(1_790_000_000)?);
    store
        .bulk_import(std::slice::from_ref(&big), &[(0..50).map(|c| comment(big.requester_id, c)).collect()], Via::Email)
        .await?;
    let big_id = store
        .list_tickets(&{
            let mut q = gongdan_store::TicketQuery::new(gongdan_domain::access::TicketScope::All);
            q.limit = 1;
            q.with_total = false;
            q.sort = gongdan_store::TicketSort::CreatedDesc;
            q
        })
        .await?
        .items
        .first()
        .map(|t| t.id)
        .context("no ticket")?;

    let raw = raw_creates(&store, &fx, &new_status, args.creates.min(20_000), args.concurrency).await?;
    flow::quiet_automations(&store).await?;
    drop(app);
    drop(store);

    // The server under test runs as its own process, so its memory is its own.
    let exe = std::env::current_exe()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    drop(listener);
    let mut child = tokio::process::Command::new(exe)
        .args(["serve", "--listen", &addr.to_string(), "--data-dir"])
        .arg(&data_dir)
        .args(["--database-url", &url])
        .env("GONGDAN_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .context("starting gongdan serve")?;
    let pid = child.id().context("no server pid")?;
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    wait_ready(&client, &base).await?;
    let auth = format!("Bearer {}", fx.agent_token);

    // Warm-up, so the first measured requests do not pay for cold caches.
    let _ = drive(&client, 200, 4, {
        let (b, a) = (base.clone(), auth.clone());
        move |c, _| c.get(format!("{b}/api/v1/tickets?status=open&limit=50")).header("authorization", &a)
    })
    .await;

    let customers = Arc::new(fx.customers.clone());
    let create = drive(&client, args.creates, args.concurrency, {
        let (b, a) = (base.clone(), auth.clone());
        move |c, i| {
            let body = serde_json::json!({
                "subject": CREATE_SUBJECT,
                "description": CREATE_DESCRIPTION,
                "requester_id": customers[i % customers.len()].0,
                "priority": "high",
                "tags": ["printer"],
            });
            c.post(format!("{b}/api/v1/tickets")).header("authorization", &a).json(&body)
        }
    })
    .await;

    // The same creates with the requester named by email, as the portal, mail and most
    // integrations send them: 500 people, each new the first time, and a longer description.
    let description = Arc::new(mixed::long_description());
    let by_email = drive(&client, args.creates, args.concurrency, {
        let (b, a, d) = (base.clone(), auth.clone(), description.clone());
        move |c, i| c.post(format!("{b}/api/v1/tickets")).header("authorization", &a).json(&mixed::email_create(i, &d))
    })
    .await;

    let group = fx.agent_groups[0];
    let queue = drive(&client, args.reads, 4, {
        let (b, a) = (base.clone(), auth.clone());
        move |c, _| {
            c.get(format!("{b}/api/v1/tickets?status=open&group_id={group}&sort=-updated_at&limit=50"))
                .header("authorization", &a)
        }
    })
    .await;
    let page = drive(&client, args.reads, 4, {
        let (b, a) = (base.clone(), auth.clone());
        move |c, i| {
            let path = match i % 3 {
                0 => format!("{b}/api/v1/tickets/{big_id}"),
                1 => format!("{b}/api/v1/tickets/{big_id}/comments"),
                _ => format!("{b}/api/v1/tickets/{big_id}/events"),
            };
            c.get(path).header("authorization", &a)
        }
    })
    .await;
    // The browser pages, as the first agent signed in with a session cookie sees them.
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "agent0@bench.example", "password": BENCH_PASSWORD}))
        .send()
        .await?;
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?
        .to_owned();
    let weigh = |path: String| {
        let (client, cookie) = (client.clone(), cookie.clone());
        async move {
            let r = client.get(path).header("cookie", cookie).send().await?;
            anyhow::Ok(r.bytes().await?.len())
        }
    };
    let queue_path = format!("{base}/agent/views/open?group_id={group}");
    let ticket_path = format!("{base}/agent/tickets/{big_id}");
    let queue_bytes = weigh(queue_path.clone()).await?;
    let ticket_bytes = weigh(ticket_path.clone()).await?;
    let assets_bytes = weigh(format!("{base}/static/app.css")).await? + weigh(format!("{base}/static/app.js")).await?;
    let (queue_html, queue_server) = drive_timed(&client, args.reads, 4, {
        let (p, c) = (queue_path.clone(), cookie.clone());
        move |cl, _| cl.get(&p).header("cookie", &c)
    })
    .await;
    let (ticket_html, ticket_server) = drive_timed(&client, args.reads, 4, {
        let (p, c) = (ticket_path.clone(), cookie.clone());
        move |cl, _| cl.get(&p).header("cookie", &c)
    })
    .await;
    // The flow engine, on the same server: triggers, then automatic assignment. An app of our
    // own over the same database reads the triggers back to time their cycle in process.
    let probe = App::new(
        gongdan_store::connect(&url, ConnectOptions { migrate: false, max_connections: 4 }).await?,
        Arc::new(SystemClock),
        Settings::new(data_dir.clone()),
    );
    let admin_auth = format!("Bearer {}", fx.admin_token);
    let all_groups: Vec<GroupId> = fx.agents.iter().flat_map(|(_, g)| g.clone()).collect();
    let flow = flow::http_scenarios(&client, &base, &admin_auth, &auth, &probe, &all_groups, &fx.customers, args.reads)
        .await?;
    drop(probe);
    let mail = mail::inbound(&client, &base, &admin_auth, args.mails).await?;
    let mail_out = mail_out::outbound(&client, &base, &admin_auth, mail.tickets).await?;
    let large = mail::large(&client, &base, &admin_auth, pid, 25).await?;
    let rss = peak_rss_mb(pid);

    // A desk at work, then the same load for long: memory and the log must stay flat.
    let desk = Arc::new(mixed::Desk {
        base: base.clone(),
        auth: auth.clone(),
        group: group.0,
        tickets: mixed::pick_tickets(&client, &base, &auth, 2_000).await?,
        description: description.to_string(),
    });
    let db_file = sqlite.then(|| data_dir.join("bench.db"));
    let mixed = mixed::run(&client, desk.clone(), args.concurrency, Duration::from_secs(args.mixed_secs), 0).await;
    let (mixed_rss, mixed_wal) = (mixed::rss_mb(pid), mixed::wal_mb(db_file.as_deref()));
    let soak = if args.soak_secs > 0 {
        eprintln!("soak: the mixed load for {} s", args.soak_secs);
        Some(
            mixed::soak(&client, desk, args.concurrency, Duration::from_secs(args.soak_secs), pid, db_file.as_deref())
                .await,
        )
    } else {
        None
    };
    let _ = child.kill().await;
    if !args.keep {
        if sqlite {
            let _ = std::fs::remove_dir_all(&data_dir);
        } else if let Some(schema) = &pg_schema {
            drop_schema(&cfg.database_url, schema).await?;
        }
    }

    let seed_rate = args.tickets as f64 / seed_time.as_secs_f64().max(1e-9);
    println!(
        "\n### {backend}: {} tickets, {} comments, {} cores\n",
        args.tickets,
        args.tickets * args.comments,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    println!("| scenario | requests | rate | p50 ms | p95 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|---|---|");
    let row = |name: &str, s: &Stats| {
        println!(
            "| {name} | {} | {:.0}/s | {:.2} | {:.2} | {:.2} | {} |",
            s.count,
            s.rate(),
            s.p50,
            s.p95,
            s.p99,
            s.errors
        );
    };
    row(&format!("create ticket via API (concurrency {})", args.concurrency), &create);
    row(
        &format!(
            "create ticket via API, requester by email ({} people, 400-byte description, concurrency {})",
            mixed::EMAIL_REQUESTERS,
            args.concurrency
        ),
        &by_email,
    );
    row(&format!("raw insert, same rows, no HTTP (concurrency {})", args.concurrency), &raw);
    row("agent queue: open in my group, -updated_at, 50 + total (concurrency 4)", &queue);
    row("ticket page: ticket / 50 comments / events (concurrency 4)", &page);
    row("browser: queue page, open in my group, 50 rows + 6 view counts (concurrency 4)", &queue_html);
    row("browser: ticket page, 50 comments + timeline + side panel (concurrency 4)", &ticket_html);
    row("… queue page, server's own time (Server-Timing)", &queue_server);
    row("… ticket page, server's own time (Server-Timing)", &ticket_server);
    row(
        &format!(
            "mail in: POST /mail/inbound, {:.1} KB messages, half new, half replies (concurrency {})",
            mail.bytes as f64 / 1024.0,
            mail::CONCURRENCY
        ),
        &mail.stats,
    );
    row("mail out: a public reply to each, POST /tickets/{id}/comments (concurrency 8)", &mail_out.replies);
    println!();
    println!(
        "- mail in: {} messages made {} tickets, the others joined them as replies; {} quarantined",
        args.mails, mail.tickets, mail.quarantined
    );
    println!(
        "- a {:.1} MB message ({}, {:.1} s): the server's resident memory went from {:.0} MB to at most {:.0} MB (+{:.0} MB)",
        large.mb,
        large.outcome,
        large.took.as_secs_f64(),
        large.rss_before,
        large.rss_peak,
        large.rss_peak - large.rss_before
    );
    println!(
        "- mail out: {} replies sent from the outbox by the server's job worker to a local SMTP server in {:.1} s: {:.0} messages/s",
        mail_out.sent,
        mail_out.span.as_secs_f64(),
        mail_out.rate()
    );
    println!(
        "- page weight without images: queue {:.0} KB, ticket {:.0} KB, plus {:.0} KB of stylesheet and script (cached)",
        queue_bytes as f64 / 1024.0,
        ticket_bytes as f64 / 1024.0,
        assets_bytes as f64 / 1024.0
    );
    println!("- API create rate is {:.0}% of the raw insert rate", 100.0 * create.rate() / raw.rate().max(1e-9));
    println!(
        "- bulk seed: {} tickets + {} comments in {:.1} s ({seed_rate:.0} tickets/s)",
        args.tickets,
        args.tickets * args.comments,
        seed_time.as_secs_f64()
    );
    match rss {
        Some(mb) => println!("- server peak RSS: {mb:.0} MB"),
        None => println!("- server peak RSS: unavailable"),
    }

    println!(
        "\n#### Mixed load: {} s at concurrency {}, {} requests ({:.0}/s), {} errors\n",
        mixed.wall.as_secs(),
        args.concurrency,
        mixed.total(),
        mixed.total() as f64 / mixed.wall.as_secs_f64().max(1e-9),
        mixed.errors()
    );
    println!("| request | requests | rate | p50 ms | p95 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|---|---|");
    for (kind, s) in &mixed.kinds {
        row(&kind.label(), s);
    }
    println!();
    let mb = |v: Option<f64>| v.map(|m| format!("{m:.0} MB")).unwrap_or_else(|| "unavailable".into());
    println!("- at the end: server RSS {}, write-ahead log {}", mb(mixed_rss), mixed::wal_label(mixed_wal));
    if let Some(s) = &soak {
        println!(
            "- soak, the same load for {} s ({} requests, {} errors): server RSS {} at the start, {} halfway, {} at the end; write-ahead log {} at the end",
            s.time.as_secs(),
            s.requests,
            s.errors,
            mb(s.rss[0]),
            mb(s.rss[1]),
            mb(s.rss[2]),
            mixed::wal_label(s.wal)
        );
    }

    // The automation pass, over a desk of open tickets of its own.
    let pass = {
        let (pass_url, pass_dir, pass_schema) = if sqlite {
            let dir = cfg.data_dir.join("bench-pass");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            (format!("sqlite://{}", dir.join("pass.db").display()), dir, None)
        } else {
            let schema = format!("bench_pass_{}", std::process::id());
            sqlx_schema(&cfg.database_url, &schema).await?;
            let sep = if cfg.database_url.contains('?') { '&' } else { '?' };
            (
                format!("{}{sep}options=-c%20search_path%3D{schema}", cfg.database_url),
                cfg.data_dir.join("bench-pass"),
                Some(schema),
            )
        };
        eprintln!("automation pass over {} open tickets", args.pass_tickets);
        let r = flow::automation_pass(&pass_url, &pass_dir, args.pass_tickets).await;
        match &pass_schema {
            Some(schema) => drop_schema(&cfg.database_url, schema).await?,
            None => {
                let _ = std::fs::remove_dir_all(&pass_dir);
            }
        }
        r?
    };

    println!("\n#### Flow engine\n");
    println!("| scenario | requests | rate | p50 ms | p95 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|---|---|");
    row("update ticket via API, no triggers (concurrency 4)", &flow.update_plain);
    row("update ticket via API, 200 active triggers (concurrency 4)", &flow.update_triggers);
    row("… no triggers, server's own time (Server-Timing)", &flow.update_plain_server);
    row("… 200 active triggers, server's own time (Server-Timing)", &flow.update_triggers_server);
    row("create into a manual group (concurrency 32)", &flow.create_manual);
    row(
        &format!(
            "create into a round-robin group of {} agents, capacity {} (concurrency 32)",
            flow.agents, flow.capacity
        ),
        &flow.create_auto,
    );
    println!();
    println!(
        "- 200 triggers add {:+.2} ms to an update at p99 ({:+.2} ms at p50) in the server's own time, {:+.2} ms at p99 as the client sees it (runs with and without them taken in 10 turns); their cycle alone takes {:.0} µs at p50, {:.0} µs at p99 (in process, 10,000 updates)",
        flow.update_triggers_server.p99 - flow.update_plain_server.p99,
        flow.update_triggers_server.p50 - flow.update_plain_server.p50,
        flow.update_triggers.p99 - flow.update_plain.p99,
        flow.cycle_us.0,
        flow.cycle_us.1
    );
    let over = flow.loads.iter().filter(|l| **l > flow.capacity).count();
    println!(
        "- assignment under 32 concurrent creates: {} of {} tickets assigned, per agent {:?} (capacity {}): {} over capacity",
        flow.assigned, flow.create_auto.count, flow.loads, flow.capacity, over
    );
    println!(
        "- a decision's cost under that load: {:+.2} ms of writer time per create ({:.0}/s into the round-robin group against {:.0}/s into the manual one)",
        1000.0 / flow.create_auto.rate().max(1e-9) - 1000.0 / flow.create_manual.rate().max(1e-9),
        flow.create_auto.rate(),
        flow.create_manual.rate()
    );
    println!(
        "- a decision's cost alone (one create at a time, in process): {:+.2} ms at p50, {:+.2} ms at p99 over a create into a manual group ({:.2} / {:.2} ms)",
        flow.decide_auto.0 - flow.decide_manual.0,
        flow.decide_auto.1 - flow.decide_manual.1,
        flow.decide_manual.0,
        flow.decide_manual.1
    );
    println!(
        "- automation pass over {} open tickets (the 4 shipped automations and one for open tickets untouched 3 days; seeded in {:.1} s): first pass {:.2} s, firing on {} stale tickets; the next pass {:.2} s ({} candidates), firing on none",
        pass.tickets,
        pass.seed.as_secs_f64(),
        pass.first.as_secs_f64(),
        pass.first_fired,
        pass.again.as_secs_f64(),
        pass.scanned
    );
    println!(
        "- worst case, an automation only its status narrows: {:.2} s to read and judge {} open tickets",
        pass.full.as_secs_f64(),
        pass.full_scanned
    );

    let cal = sla::calendar_times()?;
    println!("\n#### SLA\n");
    println!(
        "- business calendar, in process: a due time ({} targets of up to a month of working time, from starts over 2026; Shanghai hours with a lunch break, {} holiday days and {} make-up days) takes {:.2} µs at p50, {:.2} µs at p99; the minutes between the same instants {:.2} / {:.2} µs",
        sla::CASES,
        cal.holidays,
        cal.workdays,
        cal.add.0,
        cal.add.1,
        cal.between.0,
        cal.between.1
    );
    Ok(())
}

async fn pg_checkpoint(url: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query("CHECKPOINT").execute(&mut conn).await?;
    Ok(())
}

async fn drop_schema(url: &str, schema: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))).execute(&mut conn).await?;
    Ok(())
}

/// Creates a fresh schema for a PostgreSQL run.
async fn sqlx_schema(url: &str, schema: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))).execute(&mut conn).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut conn).await?;
    Ok(())
}
