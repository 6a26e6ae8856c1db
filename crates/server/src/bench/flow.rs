//! The flow engine's part of `gongdan bench`: what 200 active triggers add to a ticket update,
//! automatic assignment under 32 concurrent creates (every agent kept within capacity), and an
//! automation pass over 100,000 open tickets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use gongdan_core::{App, Settings, SystemClock};
use gongdan_domain::access::Principal;
use gongdan_domain::event::Via;
use gongdan_domain::ids::*;
use gongdan_domain::rules::{RuleKind, UpdateFacts};
use gongdan_domain::tickets::{Priority, StatusRef, Ticket};
use gongdan_store::{ConnectOptions, Store};
use jiff::SignedDuration;
use serde_json::{Value, json};

use super::measure::{Samples, Stats, drive, drive_samples};

/// Triggers of the kinds desks write: routing by words, tags and VIPs, notifications on
/// status changes. Few match any one update, as in life; all are evaluated every time.
pub fn trigger_specs(groups: &[GroupId], n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let g = groups[i % groups.len()].0;
            let (conditions, actions) = match i % 5 {
                0 => (
                    json!({"all": [{"field": "subject", "operator": "contains", "value": format!("关键词{i}")}]}),
                    json!([{"field": "group_id", "value": g}, {"field": "tags_add", "value": [format!("kw{i}")]}]),
                ),
                1 => (
                    json!({"all": [{"field": "tags", "operator": "contains", "value": format!("t{i}")},
                                   {"field": "priority", "operator": "is", "value": "urgent"}]}),
                    json!([{"field": "priority", "value": "high"}]),
                ),
                2 => (
                    json!({"all": [{"field": "status", "operator": "changed_to", "value": "solved"},
                                   {"field": "group_id", "operator": "is", "value": g}],
                           "any": [{"field": "requester.vip_level", "operator": "greater_than", "value": 3},
                                   {"field": "tags", "operator": "contains", "value": "vip"}]}),
                    json!([{"field": "notify", "value": {"to": "group", "subject": "VIP #{{ticket.number}}", "body": "{{ticket.subject}}"}}]),
                ),
                3 => (
                    json!({"all": [{"field": "text", "operator": "contains", "value": format!("故障{i}")},
                                   {"field": "channel", "operator": "is", "value": "email"}]}),
                    json!([{"field": "type", "value": "incident"}, {"field": "tags_add", "value": ["outage"]}]),
                ),
                _ => (
                    json!({"all": [{"field": "update", "operator": "is", "value": "customer_replied"},
                                   {"field": "group_id", "operator": "is", "value": g}]}),
                    json!([{"field": "tags_add", "value": [format!("replied{i}")]}]),
                ),
            };
            json!({"name": format!("bench trigger {i}"), "category": "bench", "conditions": conditions, "actions": actions})
        })
        .collect()
}

pub struct FlowResults {
    pub update_plain: Stats,
    pub update_triggers: Stats,
    /// The same updates, the server's own time (`Server-Timing`).
    pub update_plain_server: Stats,
    pub update_triggers_server: Stats,
    /// The triggers' own cost per update, in process: (p50, p99) in microseconds.
    pub cycle_us: (f64, f64),
    pub create_manual: Stats,
    pub create_auto: Stats,
    pub agents: usize,
    pub capacity: i64,
    /// Tickets each agent holds afterwards.
    pub loads: Vec<i64>,
    pub assigned: i64,
    /// One create at a time in process, into a manual group and into a round-robin one:
    /// the difference is the decision (roster read under lock, pick). (p50, p99) in ms.
    pub decide_manual: (f64, f64),
    pub decide_auto: (f64, f64),
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    auth: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let r = client.request(method, &url).header("authorization", auth).json(&body).send().await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(anyhow!("{url}: {status} {v}"));
    }
    Ok(v)
}

/// Runs against the server under test; `admin` and `agent` are bearer headers.
#[allow(clippy::too_many_arguments)] // the scenario's inputs, each different
pub async fn http_scenarios(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    agent: &str,
    app: &App,
    groups: &[GroupId],
    customers: &[UserId],
    reads: usize,
) -> anyhow::Result<FlowResults> {
    use reqwest::Method;
    // Open tickets to update, spread over the desk.
    let list =
        call(client, Method::GET, format!("{base}/api/v1/tickets?status=open&limit=100"), agent, Value::Null).await?;
    let ids: Arc<Vec<i64>> =
        Arc::new(list["items"].as_array().context("items")?.iter().filter_map(|t| t["id"].as_i64()).collect());
    let update = |auth: String| {
        let (b, ids) = (base.to_owned(), ids.clone());
        move |c: &reqwest::Client, i: usize| {
            // Each ticket's next update sets another priority, so every update writes.
            let p = ["low", "normal", "high", "urgent"][(i / ids.len()) % 4];
            c.patch(format!("{b}/api/v1/tickets/{}", ids[i % ids.len()]))
                .header("authorization", &auth)
                .json(&json!({"priority": p}))
        }
    };
    // Warm the update path first, so neither measured run pays for cold caches.
    let _ = drive(client, reads / 2, 4, update(agent.to_owned())).await;
    let mut trigger_ids = Vec::new();
    for spec in trigger_specs(groups, 200) {
        let t = call(client, Method::POST, format!("{base}/api/v1/triggers"), admin, spec).await?;
        trigger_ids.push(t["id"].as_i64().context("id")?);
    }
    // With and without the triggers in turns, so both see the same machine: one long run
    // after the other lets a noisy minute land on one side only.
    let (mut plain, mut triggered) = (Samples::default(), Samples::default());
    let rounds = 10;
    for _ in 0..rounds {
        for active in [false, true] {
            for id in &trigger_ids {
                call(client, Method::PATCH, format!("{base}/api/v1/triggers/{id}"), admin, json!({"active": active}))
                    .await?;
            }
            let run = drive_samples(client, reads / rounds, 4, update(agent.to_owned())).await;
            if active { triggered.add(run) } else { plain.add(run) }
        }
    }
    let ((update_plain, update_plain_server), (update_triggers, update_triggers_server)) =
        (plain.stats(), triggered.stats());

    // The same triggers, in process: the cycle over an update, without HTTP or storage.
    app.reload_config();
    let cfg = app.config().await.map_err(|e| anyhow!("{e}"))?;
    anyhow::ensure!(cfg.rules.triggers.len() == 200, "200 triggers compiled, got {}", cfg.rules.triggers.len());
    let mut samples = Vec::new();
    for id in ids.iter().take(50) {
        if let Some(t) = app.store.get_ticket(TicketId(*id)).await? {
            samples.push(t);
        }
    }
    let requester = app
        .store
        .requesters(&[samples.first().map(|t| t.requester_id).unwrap_or_default()])
        .await?
        .pop()
        .unwrap_or_default();
    let mut times = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let before = &samples[i % samples.len()];
        let mut after: Ticket = before.clone();
        after.priority = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent][i % 4];
        after.version += 1;
        let input = gongdan_domain::rules::FlowInput {
            before: Some(before.clone()),
            update: UpdateFacts { created: false, via: "api", comment: None },
            requester: requester.clone(),
            actor: None,
            open_children: 0,
            now: after.updated_at,
        };
        let t0 = Instant::now();
        let out = cfg.rules.run(after, &input, &mut BTreeMap::new());
        times.push(t0.elapsed());
        std::hint::black_box(out.ok());
    }
    times.sort();
    let us = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e6;
    let cycle_us = (us(0.5), us(0.99));
    // Back to no triggers, so the next scenarios measure assignment alone.
    let list = call(client, Method::GET, format!("{base}/api/v1/triggers"), admin, Value::Null).await?;
    for t in list["items"].as_array().context("items")? {
        call(client, Method::DELETE, format!("{base}/api/v1/triggers/{}", t["id"]), admin, Value::Null).await.ok();
    }

    // Assignment: a round-robin group of fresh agents with room for 20 each.
    let (agents, capacity) = (10usize, 20i64);
    let manual =
        call(client, Method::POST, format!("{base}/api/v1/groups"), admin, json!({"name": "bench manual", "tier": 1}))
            .await?;
    let auto = call(
        client,
        Method::POST,
        format!("{base}/api/v1/groups"),
        admin,
        json!({"name": "bench round robin", "tier": 1, "assignment": "round_robin"}),
    )
    .await?;
    let (manual, auto) = (manual["id"].as_i64().context("id")?, auto["id"].as_i64().context("id")?);
    let mut members = Vec::new();
    for i in 0..agents {
        let u = call(client, Method::POST, format!("{base}/api/v1/users"), admin, json!({"role": "agent",
            "email": format!("rr{i}@bench.example"), "name": format!("RR {i}"), "group_ids": [auto], "capacity": capacity})).await?;
        members.push(u["id"].as_i64().context("id")?);
    }
    let customers = Arc::new(customers.to_vec());
    let create = |group: i64| {
        let (b, a, customers) = (base.to_owned(), admin.to_owned(), customers.clone());
        move |c: &reqwest::Client, i: usize| {
            c.post(format!("{b}/api/v1/tickets")).header("authorization", &a).json(&json!({
                "subject": "打印机无法连接网络", "requester_id": customers[i % customers.len()].0, "group_id": group}))
        }
    };
    let create_manual = drive(client, reads, 32, create(manual)).await;
    let create_auto = drive(client, reads, 32, create(auto)).await;
    let mut loads = Vec::new();
    for m in &members {
        let l = call(
            client,
            Method::GET,
            format!("{base}/api/v1/tickets?assignee_id={m}&status=new,open,on_hold&limit=1"),
            admin,
            Value::Null,
        )
        .await?;
        loads.push(l["total"].as_i64().unwrap_or(-1));
    }
    let assigned = loads.iter().sum();

    // The decision's own cost, without other creates to wait for: one create at a time, in
    // process, into a manual group and into a round-robin group with room for all.
    let open_rr = call(
        client,
        Method::POST,
        format!("{base}/api/v1/groups"),
        admin,
        json!({"name": "bench round robin, unlimited", "tier": 1, "assignment": "round_robin"}),
    )
    .await?;
    let open_rr = open_rr["id"].as_i64().context("id")?;
    for i in 0..agents {
        call(
            client,
            Method::POST,
            format!("{base}/api/v1/users"),
            admin,
            json!({"role": "agent",
            "email": format!("rru{i}@bench.example"), "name": format!("RRU {i}"), "group_ids": [open_rr]}),
        )
        .await?;
    }
    // The groups and agents were made through the server: this app's snapshot is older.
    app.reload_config();
    let who = app.authenticate_token(admin.trim_start_matches("Bearer ")).await.map_err(|e| anyhow!("{e}"))?;
    let one_by_one = |group: i64| {
        let (app, who, customers) = (app.clone(), who.clone(), customers.clone());
        async move {
            let mut times = Vec::with_capacity(1000);
            for i in 0..1000 {
                let input = gongdan_core::tickets::CreateTicket {
                    subject: "打印机无法连接网络".into(),
                    requester: Some(gongdan_core::tickets::RequesterInput {
                        id: Some(customers[i % customers.len()]),
                        ..Default::default()
                    }),
                    group_id: Some(GroupId(group)),
                    ..Default::default()
                };
                let t0 = Instant::now();
                app.create_ticket(&who, input, Via::Api, None).await.map_err(|e| anyhow!("{e}"))?;
                times.push(t0.elapsed());
            }
            times.sort();
            let ms = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e3;
            anyhow::Ok((ms(0.5), ms(0.99)))
        }
    };
    let decide_manual = one_by_one(manual).await?;
    let decide_auto = one_by_one(open_rr).await?;
    Ok(FlowResults {
        update_plain,
        update_triggers,
        update_plain_server,
        update_triggers_server,
        cycle_us,
        create_manual,
        create_auto,
        agents,
        capacity,
        loads,
        assigned,
        decide_manual,
        decide_auto,
    })
}

pub struct PassResults {
    pub tickets: usize,
    pub seed: Duration,
    pub first: Duration,
    pub first_fired: usize,
    pub again: Duration,
    pub scanned: usize,
    /// An automation only its status narrows: every open ticket is read and judged.
    pub full: Duration,
    pub full_scanned: usize,
}

/// A desk of `n` open tickets, 1% untouched for more than three days; the automations pass
/// over it twice (the first fires on the stale ones, the second finds nothing new).
pub async fn automation_pass(url: &str, data_dir: &std::path::Path, n: usize) -> anyhow::Result<PassResults> {
    let store: Arc<dyn Store> =
        gongdan_store::connect(url, ConnectOptions { migrate: true, max_connections: 16 }).await?;
    let app = App::new(store.clone(), Arc::new(SystemClock), Settings::new(data_dir.to_owned()));
    let admin = app
        .create_user(
            None,
            gongdan_core::people::UserInput {
                role: Some(gongdan_domain::access::Role::Admin),
                email: Some("pass-admin@bench.example".into()),
                name: Some("Pass admin".into()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let p: Principal = app.principal_for(&admin).await.map_err(|e| anyhow!("{e}"))?;
    let customer = app
        .create_user(
            Some(&p),
            gongdan_core::people::UserInput { email: Some("pass-customer@bench.example".into()), ..Default::default() },
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let cfg = app.config().await.map_err(|e| anyhow!("{e}"))?;
    let open = cfg.statuses.iter().find(|s| s.key == "open").map(StatusRef::from).context("open")?;
    let now = app.now();
    let t0 = Instant::now();
    let mut done = 0;
    while done < n {
        let chunk = (n - done).min(20_000);
        let tickets: Vec<Ticket> = (0..chunk)
            .map(|i| {
                let k = done + i;
                let age = if k % 100 == 0 {
                    SignedDuration::from_hours(80)
                } else {
                    SignedDuration::from_mins((k % 4000) as i64)
                };
                let at = now.checked_sub(age).unwrap_or(now);
                Ticket {
                    last_customer_reply_at: Some(at),
                    ..Ticket::new("打印机无法连接网络", "办公室的打印机连不上", customer.id, open.clone(), at)
                }
            })
            .collect();
        let comments = vec![vec![]; tickets.len()];
        store.bulk_import(&tickets, &comments, Via::Email).await?;
        done += chunk;
    }
    store.optimize().await?;
    let seed = t0.elapsed();
    app.create_rule(
        &p,
        RuleKind::Automation,
        gongdan_core::rules::RuleInput {
            name: Some("三天未更新的受理中工单打标 · Tag open tickets untouched for 3 days".into()),
            conditions: Some(serde_json::from_value(json!({"all": [
            {"field": "status", "operator": "is", "value": "open"},
            {"field": "hours_since_updated", "operator": "greater_than", "value": 72},
            {"field": "tags", "operator": "not_contains", "value": "stale"}]}))?),
            actions: Some(serde_json::from_value(json!([{"field": "tags_add", "value": ["stale"]}]))?),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| anyhow!("{e}"))?;
    let t1 = Instant::now();
    let first = app.run_automations().await.map_err(|e| anyhow!("{e}"))?;
    let first_time = t1.elapsed();
    let t2 = Instant::now();
    let again = app.run_automations().await.map_err(|e| anyhow!("{e}"))?;
    let again_time = t2.elapsed();
    anyhow::ensure!(again.fired == 0, "a second pass fired {}", again.fired);
    // The worst case: conditions the database cannot narrow beyond the status, so the pass
    // reads and judges every open ticket (and fires on none).
    for r in app.list_rules(&p, RuleKind::Automation).await.map_err(|e| anyhow!("{e}"))? {
        app.delete_rule(&p, RuleKind::Automation, r.rule.id).await.map_err(|e| anyhow!("{e}"))?;
    }
    app.create_rule(
        &p,
        RuleKind::Automation,
        gongdan_core::rules::RuleInput {
            name: Some("only the status narrows it".into()),
            conditions: Some(serde_json::from_value(json!({"all": [
            {"field": "status", "operator": "is", "value": "open"},
            {"field": "subject", "operator": "contains", "value": "无此关键词"},
            {"field": "tags", "operator": "not_contains", "value": "seen"}]}))?),
            actions: Some(serde_json::from_value(json!([{"field": "tags_add", "value": ["seen"]}]))?),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| anyhow!("{e}"))?;
    let t3 = Instant::now();
    let full = app.run_automations().await.map_err(|e| anyhow!("{e}"))?;
    let full_time = t3.elapsed();
    Ok(PassResults {
        tickets: n,
        seed,
        first: first_time,
        first_fired: first.fired,
        again: again_time,
        scanned: again.scanned,
        full: full_time,
        full_scanned: full.scanned,
    })
}

/// Switches the shipped automations off in a benchmark database, so that the API scenarios
/// measure the API (the automation pass is measured on its own).
pub async fn quiet_automations(store: &Arc<dyn Store>) -> anyhow::Result<()> {
    for mut r in store.list_rules(RuleKind::Automation).await? {
        r.active = false;
        store.save_rule(&r).await?;
    }
    Ok(())
}
