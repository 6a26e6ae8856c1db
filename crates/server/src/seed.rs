//! A realistic demo desk, written through the same use cases as the API (so events, timelines
//! and validation are real), on a clock that walks through the last weeks.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::anyhow;
use gongdan_core::people::UserInput;
use gongdan_core::tickets::{AddComment, CreateTicket, RequesterInput, UpdateTicket};
use gongdan_core::{App, ManualClock};
use gongdan_domain::access::{Principal, Role};
use gongdan_domain::category::Category;
use gongdan_domain::event::Via;
use gongdan_domain::fields::{CustomFieldDef, FieldKind, FieldOption, FieldScope, Form, FormField};
use gongdan_domain::ids::*;
use gongdan_domain::people::{Group, Language, Organization, User};
use gongdan_domain::tickets::{Channel, Priority, TicketType};
use jiff::SignedDuration;
use serde_json::json;

/// A small deterministic generator: the demo is the same every time.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn e<E: std::fmt::Display>(err: E) -> anyhow::Error {
    anyhow!("{err}")
}

fn opt(value: &str, zh: &str, en: &str, children: Vec<FieldOption>) -> FieldOption {
    FieldOption { value: value.into(), label_zh: zh.into(), label_en: en.into(), children }
}

fn def(key: &str, kind: FieldKind, zh: &str, en: &str) -> CustomFieldDef {
    CustomFieldDef {
        id: FieldId(0),
        scope: FieldScope::Ticket,
        key: key.into(),
        kind,
        label_zh: zh.into(),
        label_en: en.into(),
        options: vec![],
        pattern: None,
        active: true,
        position: 0,
    }
}

async fn field(app: &App, admin: &Principal, f: CustomFieldDef) -> anyhow::Result<CustomFieldDef> {
    app.save_field(admin, f).await.map_err(e)
}

async fn category(
    app: &App,
    admin: &Principal,
    parent: Option<CategoryId>,
    zh: &str,
    en: &str,
    form: Option<FormId>,
) -> anyhow::Result<CategoryId> {
    let c = Category {
        id: CategoryId(0),
        parent_id: parent,
        name_zh: zh.into(),
        name_en: en.into(),
        position: 0,
        form_id: form,
        active: true,
    };
    Ok(app.save_category(admin, c).await.map_err(e)?.id)
}

struct Template {
    subject: &'static str,
    body: &'static str,
    lang: Language,
    /// Index into the leaf categories below.
    category: usize,
}

const TEMPLATES: &[Template] = &[
    Template {
        subject: "打印机无法连接网络",
        body: "办公室的激光打印机昨天开始连不上公司 Wi-Fi，重启过路由器也没用。",
        lang: Language::ZhCn,
        category: 2,
    },
    Template {
        subject: "申请退款：订单重复扣款",
        body: "我的订单被扣了两次款，请帮忙退回多扣的一笔。",
        lang: Language::ZhCn,
        category: 1,
    },
    Template {
        subject: "需要上门维修",
        body: "设备开机后一直报错 E-102，自己处理不了，希望安排工程师上门。",
        lang: Language::ZhCn,
        category: 0,
    },
    Template {
        subject: "发票抬头开错了",
        body: "上个月的增值税发票抬头写错了，需要重新开具。",
        lang: Language::ZhCn,
        category: 3,
    },
    Template {
        subject: "如何修改账户绑定的手机号？",
        body: "我换了手机号，想在系统里更新联系方式。",
        lang: Language::ZhCn,
        category: 4,
    },
    Template {
        subject: "Printer offline after firmware update",
        body: "After last night's firmware update the printer shows as offline on every PC.",
        lang: Language::En,
        category: 2,
    },
    Template {
        subject: "Refund request for damaged item",
        body: "The scanner arrived with a cracked glass panel. I would like a refund.",
        lang: Language::En,
        category: 1,
    },
    Template {
        subject: "Router keeps dropping the connection",
        body: "Our office router drops the connection every 20 minutes or so.",
        lang: Language::En,
        category: 2,
    },
    Template {
        subject: "Invoice missing VAT number",
        body: "Our invoice for October does not show our VAT number; please reissue it.",
        lang: Language::En,
        category: 3,
    },
    Template {
        subject: "How do I add a colleague to our account?",
        body: "We need a second login for a new team member.",
        lang: Language::En,
        category: 4,
    },
];

const AGENT_REPLIES_ZH: &[&str] = &[
    "您好，已收到您的问题，我们正在处理。",
    "请提供一下设备序列号和购买凭证，谢谢。",
    "已为您安排工程师，预计明天上午上门。",
    "问题已处理，请确认是否恢复正常。",
];
const AGENT_REPLIES_EN: &[&str] = &[
    "Thanks for reaching out, we are looking into it.",
    "Could you send the serial number and proof of purchase?",
    "An engineer will visit tomorrow morning.",
    "This should be fixed now; please confirm.",
];
const CUSTOMER_REPLIES_ZH: &[&str] = &["序列号是 SN-88231，凭证已附上。", "好的，谢谢！", "还是不行，麻烦再看一下。"];
const CUSTOMER_REPLIES_EN: &[&str] = &["Serial number is SN-88231.", "Great, thank you!", "Still not working, sorry."];
const NOTES: &[&str] = &[
    "已联系供应商确认备件库存。",
    "Customer is on the VIP list; handle with priority.",
    "转二线技术支持排查固件问题。",
];

/// Seeds the demo desk and returns a one-line report.
pub async fn demo(app: &App, tickets: usize) -> anyhow::Result<String> {
    if !app.config().await.map_err(e)?.groups.is_empty() {
        anyhow::bail!(
            "this database already has groups: the demo fills an empty desk; point --data-dir (or --database-url) at a new one"
        );
    }
    let start = app.now().checked_sub(SignedDuration::from_hours(24 * 45))?;
    let clock = Arc::new(ManualClock::new(start));
    let app = App::new(app.store.clone(), clock.clone(), (*app.settings).clone());
    let admin_user = app
        .store
        .list_users(&gongdan_store::UserQuery { role: Some(Role::Admin), limit: 1, ..Default::default() })
        .await?
        .pop()
        .ok_or_else(|| anyhow!("no admin"))?;
    let admin = app.principal_for(&admin_user).await.map_err(e)?;

    let mut groups = Vec::new();
    for (name, tier, desc) in [
        ("客服一线 Service Desk", 1, "一线受理 first-line desk"),
        ("技术支持 Tech Support", 2, "二线专家 experts"),
        ("研发 R&D", 3, "三线研发 engineering"),
        ("商务 Billing", 1, "发票与退款 invoices and refunds"),
    ] {
        let g = Group { name: name.into(), tier, description: desc.into(), ..Group::blank() };
        groups.push(app.save_group(&admin, g).await.map_err(e)?.id);
    }

    let order_no = CustomFieldDef {
        pattern: Some("[A-Z]-\\d{4,8}".into()),
        ..def("order_no", FieldKind::Regex, "订单号", "Order number")
    };
    let order_no = field(&app, &admin, order_no).await?;
    let products = vec![
        opt("printer", "打印机", "Printer", vec![]),
        opt("router", "路由器", "Router", vec![]),
        opt("scanner", "扫描仪", "Scanner", vec![]),
        opt("software", "软件", "Software", vec![]),
    ];
    let product = field(
        &app,
        &admin,
        CustomFieldDef { options: products, ..def("product", FieldKind::Dropdown, "产品", "Product") },
    )
    .await?;
    let purchase = field(&app, &admin, def("purchase_date", FieldKind::Date, "购买日期", "Purchase date")).await?;
    let warranty = field(&app, &admin, def("in_warranty", FieldKind::Checkbox, "在保修期内", "In warranty")).await?;
    let refund = field(&app, &admin, def("refund_amount", FieldKind::Decimal, "退款金额", "Refund amount")).await?;
    let printers = vec![opt("laser", "激光", "Laser", vec![]), opt("inkjet", "喷墨", "Inkjet", vec![])];
    let devices = vec![
        opt("office", "办公设备", "Office equipment", vec![opt("printer", "打印机", "Printer", printers)]),
        opt("network", "网络设备", "Network", vec![opt("router", "路由器", "Router", vec![])]),
    ];
    field(&app, &admin, CustomFieldDef { options: devices, ..def("device", FieldKind::Cascade, "设备", "Device") })
        .await?;

    let after_sales = app
        .save_form(
            &admin,
            Form {
                id: FormId(0),
                name: "售后表单 After-sales".into(),
                fields: vec![
                    FormField { field_id: order_no.id, required: true },
                    FormField { field_id: product.id, required: true },
                    FormField { field_id: purchase.id, required: false },
                    FormField { field_id: warranty.id, required: false },
                ],
            },
        )
        .await
        .map_err(e)?;
    let refund_form = app
        .save_form(
            &admin,
            Form {
                id: FormId(0),
                name: "退款表单 Refund".into(),
                fields: vec![
                    FormField { field_id: order_no.id, required: true },
                    FormField { field_id: refund.id, required: true },
                ],
            },
        )
        .await
        .map_err(e)?;

    let svc = category(&app, &admin, None, "售后服务", "After-sales", Some(after_sales.id)).await?;
    let repair = category(&app, &admin, Some(svc), "维修", "Repair", None).await?;
    let onsite = category(&app, &admin, Some(repair), "上门维修", "On-site repair", None).await?;
    let returns = category(&app, &admin, Some(svc), "退换货", "Returns", None).await?;
    let refund_cat = category(&app, &admin, Some(returns), "退款", "Refund", Some(refund_form.id)).await?;
    let tech = category(&app, &admin, None, "技术支持", "Technical support", None).await?;
    let network = category(&app, &admin, Some(tech), "网络", "Network", None).await?;
    let printer_conn = category(&app, &admin, Some(network), "打印机连接", "Printer connection", None).await?;
    let billing = category(&app, &admin, None, "账户与账单", "Account & billing", None).await?;
    let invoice = category(&app, &admin, Some(billing), "发票", "Invoices", None).await?;
    let questions = category(&app, &admin, None, "咨询", "Questions", None).await?;
    let leaves = [onsite, refund_cat, printer_conn, invoice, questions];
    let leaf_group = [groups[1], groups[3], groups[1], groups[3], groups[0]];

    let mut orgs = Vec::new();
    for (name, domain, shared) in [
        ("华兴科技有限公司", "huaxing.example.cn", true),
        ("Acme Trading Ltd", "acme.example", false),
        ("蓝海零售", "lanhai.example.cn", false),
    ] {
        let now = app.now();
        let o = Organization {
            id: OrganizationId(0),
            name: name.into(),
            domains: vec![domain.into()],
            shared_tickets: shared,
            custom_fields: BTreeMap::new(),
            created_at: now,
            updated_at: now,
        };
        orgs.push(app.save_organization(&admin, o).await.map_err(e)?);
    }

    let mut agents: Vec<User> = Vec::new();
    let agent_names = [
        ("王芳", "wang.fang"),
        ("李娜", "li.na"),
        ("张伟", "zhang.wei"),
        ("刘洋", "liu.yang"),
        ("陈静", "chen.jing"),
        ("Emily Chen", "emily.chen"),
        ("Tom Baker", "tom.baker"),
        ("赵磊", "zhao.lei"),
    ];
    for (i, (name, login)) in agent_names.iter().enumerate() {
        let input = UserInput {
            role: Some(if i == 0 { Role::Supervisor } else { Role::Agent }),
            name: Some((*name).into()),
            email: Some(format!("{login}@desk.example.com")),
            group_ids: Some(vec![groups[i % groups.len()], groups[(i + 1) % groups.len()]]),
            languages: Some(if i >= 5 { vec!["en".into(), "zh-CN".into()] } else { vec!["zh-CN".into()] }),
            skills: Some(vec![["printer", "network", "billing", "refund"][i % 4].into()]),
            language: Some(if i >= 5 { Language::En } else { Language::ZhCn }),
            password: Some("demo-password".into()),
            ..Default::default()
        };
        agents.push(app.create_user(Some(&admin), input).await.map_err(e)?);
    }

    let mut rng = Rng::new(20_261_122);
    let surnames = ["李", "王", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴"];
    let given = ["雷", "敏", "强", "丽", "军", "燕", "涛", "霞", "磊", "婷"];
    let english = ["Alice Wong", "Brian Lee", "Carol Smith", "David Brown", "Eva Green", "Frank Miller"];
    let mut customers: Vec<User> = Vec::new();
    for i in 0..60 {
        let (name, lang) = if i % 4 == 3 {
            (english[i % english.len()].to_owned(), Language::En)
        } else {
            (format!("{}{}", surnames[i % 10], given[(i / 10 + i) % 10]), Language::ZhCn)
        };
        let domain = match i % 5 {
            0 | 1 => orgs[0].domains[0].clone(),
            2 => orgs[1].domains[0].clone(),
            3 => orgs[2].domains[0].clone(),
            _ => "mail.example.com".to_owned(),
        };
        let input = UserInput {
            role: Some(Role::Customer),
            name: Some(name),
            email: Some(format!("customer{i}@{domain}")),
            phone: (i % 3 == 0).then(|| format!("+86 138{:08}", 10_000_000 + i * 7919)),
            language: Some(lang),
            vip_level: Some(if i % 10 == 0 { 2 } else { 0 }),
            password: (i < 3).then(|| "demo-password".to_owned()),
            ..Default::default()
        };
        customers.push(app.create_user(Some(&admin), input).await.map_err(e)?);
    }

    let channels =
        [Channel::Email, Channel::Web, Channel::Portal, Channel::Phone, Channel::Chat, Channel::Wechat, Channel::Api];
    let priorities =
        [Priority::Low, Priority::Normal, Priority::Normal, Priority::Normal, Priority::High, Priority::Urgent];
    let step = SignedDuration::from_secs((45 * 24 * 3600 / tickets.max(1) as i64).max(60));
    let mut made = 0;
    let mut comments = 0;
    for n in 0..tickets {
        clock.advance(step);
        let tpl = rng.pick(TEMPLATES);
        let customer = rng.pick(&customers).clone();
        let agent = rng.pick(&agents).clone();
        let agent_p = app.principal_for(&agent).await.map_err(e)?;
        let customer_p = app.principal_for(&customer).await.map_err(e)?;
        let cat = leaves[tpl.category];
        let mut cf = BTreeMap::new();
        if tpl.category <= 1 {
            cf.insert("order_no".to_owned(), json!(format!("A-{}", 100_000 + n)));
        }
        if tpl.category == 0 {
            cf.insert("product".to_owned(), json!(rng.pick(&["printer", "router", "scanner"])));
            cf.insert("in_warranty".to_owned(), json!(rng.below(2) == 0));
        }
        if tpl.category == 1 {
            cf.insert("refund_amount".to_owned(), json!(format!("{}.00", 50 + rng.below(900))));
        }
        let input = CreateTicket {
            subject: tpl.subject.into(),
            description: tpl.body.into(),
            requester: Some(RequesterInput { id: Some(customer.id), ..Default::default() }),
            channel: Some(*rng.pick(&channels)),
            kind: Some(if tpl.category == 2 { TicketType::Incident } else { TicketType::Question }),
            priority: Some(*rng.pick(&priorities)),
            tags: if customer.vip_level > 0 { vec!["vip".into()] } else { vec![] },
            category_id: Some(cat),
            custom_fields: cf,
            group_id: Some(leaf_group[tpl.category]),
            ..Default::default()
        };
        let t = app.create_ticket(&admin, input, Via::Api, None).await.map_err(e)?.value;
        made += 1;
        comments += 1;
        // Walk the ticket through a realistic life: most get answered, many get solved.
        let stage = rng.below(10);
        if stage == 0 {
            continue;
        }
        clock.advance(SignedDuration::from_mins(5 + rng.below(120) as i64));
        let assign_to = if agent.group_ids.contains(&leaf_group[tpl.category]) { Some(agent.id) } else { None };
        let upd = UpdateTicket { status: Some("open".into()), assignee_id: Some(assign_to), ..Default::default() };
        app.update_ticket(&admin, t.id, upd, None, Via::Web).await.map_err(e)?;
        let replies = if tpl.lang == Language::En { AGENT_REPLIES_EN } else { AGENT_REPLIES_ZH };
        let answers = if tpl.lang == Language::En { CUSTOMER_REPLIES_EN } else { CUSTOMER_REPLIES_ZH };
        let rounds = 1 + rng.below(3);
        for r in 0..rounds {
            clock.advance(SignedDuration::from_mins(10 + rng.below(600) as i64));
            app.add_comment(
                &agent_p,
                t.id,
                AddComment { body: replies[r % replies.len()].into(), public: true, ..Default::default() },
                Via::Web,
                None,
            )
            .await
            .map_err(e)?;
            comments += 1;
            if rng.below(4) == 0 {
                app.add_comment(
                    &agent_p,
                    t.id,
                    AddComment { body: (*rng.pick(NOTES)).into(), public: false, ..Default::default() },
                    Via::Web,
                    None,
                )
                .await
                .map_err(e)?;
                comments += 1;
            }
            if stage > 3 {
                clock.advance(SignedDuration::from_mins(30 + rng.below(900) as i64));
                app.add_comment(
                    &customer_p,
                    t.id,
                    AddComment { body: answers[r % answers.len()].into(), public: true, ..Default::default() },
                    Via::Web,
                    None,
                )
                .await
                .map_err(e)?;
                comments += 1;
            }
        }
        let status = match stage {
            1 | 2 => "pending",
            3 => "on_hold",
            4..=7 => "solved",
            _ => "closed",
        };
        clock.advance(SignedDuration::from_mins(5));
        app.update_ticket(
            &admin,
            t.id,
            UpdateTicket { status: Some(status.into()), ..Default::default() },
            None,
            Via::Web,
        )
        .await
        .map_err(e)?;
    }
    let rules = flow(&app, &admin, &groups, &agents).await?;
    Ok(format!(
        "demo desk seeded: {} groups, {} agents, {} customers, {} organisations, {} categories, {made} tickets, {comments} comments, \
         {rules}. Agents and the first three customers sign in with password `demo-password` (e.g. wang.fang@desk.example.com).",
        groups.len(),
        agents.len(),
        customers.len(),
        orgs.len(),
        11
    ))
}

/// The flow of the demo desk, made after its history so that history stays as written: the
/// desk hands out its tickets round-robin to agents who are online, refunds and invoices go to
/// billing, VIPs jump the queue, and a few macros and a shared view are ready to use.
async fn flow(app: &App, admin: &Principal, groups: &[GroupId], agents: &[User]) -> anyhow::Result<String> {
    use gongdan_core::rules::RuleInput;
    use gongdan_domain::rules::RuleKind;
    let e = |e: gongdan_core::CoreError| anyhow!("{e}");
    let cfg = app.config().await.map_err(e)?;
    // The service desk (tier 1) and billing hand out tickets themselves.
    for (i, strategy) in [
        (0usize, gongdan_domain::routing::Assignment::RoundRobin),
        (3, gongdan_domain::routing::Assignment::LeastLoaded),
    ] {
        if let Some(g) = groups.get(i).and_then(|id| cfg.group(*id)) {
            let g = Group {
                assignment: strategy,
                escalation_group_id: (i == 0).then(|| groups.get(1).copied()).flatten(),
                ..g.clone()
            };
            app.save_group(admin, g).await.map_err(e)?;
        }
    }
    for a in agents {
        let input = UserInput {
            capacity: Some(Some(20)),
            availability: Some(gongdan_domain::routing::Availability::Online),
            ..Default::default()
        };
        app.update_user(admin, a.id, input).await.map_err(e)?;
    }
    fn spec<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> anyhow::Result<T> {
        serde_json::from_value(v).map_err(|err| anyhow!("{err}"))
    }
    let billing = groups.get(3).copied().unwrap_or(groups[0]);
    let triggers = [
        (
            "退款与发票转商务 · Refunds and invoices to billing",
            json!({"all": [], "any": [{"field": "text", "operator": "contains", "value": "退款"},
                                      {"field": "text", "operator": "contains", "value": "发票"},
                                      {"field": "text", "operator": "contains", "value": "refund"}]}),
            json!([{"field": "group_id", "value": billing.0}, {"field": "tags_add", "value": ["billing"]}]),
        ),
        (
            "VIP 新工单加急 · VIP tickets jump the queue",
            json!({"all": [{"field": "update", "operator": "is", "value": "created"},
                           {"field": "requester.vip_level", "operator": "greater_than", "value": 0}]}),
            json!([{"field": "priority", "value": "high"}, {"field": "tags_add", "value": ["vip"]}]),
        ),
        (
            "客户回复通知处理人 · Tell the assignee when the customer replies",
            json!({"all": [{"field": "update", "operator": "is", "value": "customer_replied"}]}),
            json!([{"field": "notify", "value": {"to": "assignee", "subject": "客户回复了 #{{ticket.number}} · The customer replied",
                                                 "body": "{{requester.name}}: {{ticket.subject}}"}}]),
        ),
    ];
    for (name, conditions, actions) in triggers {
        app.create_rule(
            admin,
            RuleKind::Trigger,
            RuleInput {
                name: Some(name.into()),
                category: Some("demo".into()),
                conditions: Some(spec(conditions)?),
                actions: Some(spec(actions)?),
                ..Default::default()
            },
        )
        .await
        .map_err(e)?;
    }
    let macros = [
        (
            "请提供订单号 · Ask for the order number",
            json!([{"field": "status", "value": "pending"}]),
            "{{requester.name}}您好，请提供订单号，以便我们尽快查询。— {{current_user.name}}",
        ),
        (
            "已解决，欢迎再联系 · Solved, write any time",
            json!([{"field": "status", "value": "solved"}]),
            "{{requester.name}}您好，工单 #{{ticket.number}} 已处理完毕。如有问题，直接回复即可。",
        ),
    ];
    for (name, actions, reply) in macros {
        app.create_macro(
            admin,
            gongdan_core::macros::MacroInput {
                name: Some(name.into()),
                shared: Some(true),
                actions: Some(spec(actions)?),
                reply_body: Some(reply.into()),
                ..Default::default()
            },
        )
        .await
        .map_err(e)?;
    }
    app.create_view(
        admin,
        gongdan_core::views::ViewInput {
            name: Some("VIP 工单 · VIP tickets".into()),
            scope: Some("shared".into()),
            filters: Some(json!({"tag": "vip", "status": ["new", "open", "pending", "on_hold"]})),
            sort: Some("-priority".into()),
            ..Default::default()
        },
    )
    .await
    .map_err(e)?;
    Ok("3 triggers, 2 macros, a VIP view and round-robin assignment".into())
}
