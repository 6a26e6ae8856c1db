//! `gongdan`: the helpdesk server and its command line.

mod bench;
mod config;
mod listen;
mod seed;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use gongdan_core::people::UserInput;
use gongdan_core::{App, Settings, SystemClock};
use gongdan_domain::access::Role;
use gongdan_domain::people::IdentityKind;
use gongdan_store::ConnectOptions;

use crate::config::GlobalArgs;

#[derive(Debug, Parser)]
#[command(name = "gongdan", version, about = "Gongdan (工单): an open-source customer-service ticket system")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (SQLite in ./gongdan-data unless told otherwise).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "GONGDAN_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Fill the database with a realistic demo desk (Chinese and English).
    Seed {
        /// Required: seeding writes a demo data set.
        #[arg(long)]
        demo: bool,
        /// How many demo tickets.
        #[arg(long, default_value_t = 300)]
        tickets: usize,
    },
    /// Seed a large database and measure the HTTP API against it.
    Bench(bench::BenchArgs),
    /// The email channel.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Print the settings in effect, as a configuration file would hold them, and where each
    /// came from (default, file, environment or flag).
    Config,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user of any role with a password (generated and printed if not given).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "agent")]
        role: String,
        /// Also read from GONGDAN_USER_PASSWORD.
        #[arg(long, env = "GONGDAN_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum MailCommand {
    /// Take one raw message in from standard input, as an MTA's pipe hands it over
    /// (Postfix: `gongdan mail ingest`). Exits 75 (EX_TEMPFAIL) when the database cannot be
    /// reached, so the MTA tries again later; 0 once the message is the desk's, whatever became
    /// of it (the outcome is printed).
    Ingest {
        /// The mailbox it was received at (else the one it is addressed to).
        #[arg(long)]
        mailbox: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue an API token for a user; prints only the token, once.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_days: Option<i64>,
    },
}

async fn open_app(cfg: &config::Resolved) -> anyhow::Result<App> {
    if cfg.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&cfg.data_dir).with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    }
    let store =
        gongdan_store::connect(&cfg.database_url, ConnectOptions { migrate: true, max_connections: cfg.db_pool })
            .await
            .with_context(|| format!("opening {}", cfg.database_url))?;
    let mut settings = Settings::new(cfg.data_dir.clone());
    settings.max_attachment_bytes = cfg.max_attachment_bytes;
    settings.default_language = cfg.default_language;
    settings.default_time_zone = cfg.default_time_zone.clone();
    settings.trusted_proxies = cfg.trusted_proxies.clone();
    settings.webhook_allow = cfg.webhook_allow.clone();
    settings.mail_token_prefix = cfg.mail_token_prefix.clone();
    settings.max_mail_bytes = cfg.max_mail_bytes;
    settings.max_send_bytes = cfg.max_send_bytes;
    settings.mail_sender_limit = cfg.mail_sender_limit;
    settings.smtp = cfg.smtp.clone();
    settings.secret_key = cfg.secret_key.clone();
    settings.public_url = cfg.public_url.clone();
    Ok(App::new(store, Arc::new(SystemClock), settings))
}

/// `mail ingest`: sysexits' EX_TEMPFAIL tells an MTA to keep the message and retry.
async fn mail_ingest(cfg: &config::Resolved, mailbox: Option<i64>) -> anyhow::Result<()> {
    const TEMPFAIL: i32 = 75;
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut raw).context("reading the message from standard input")?;
    let app = match open_app(cfg).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("gongdan mail ingest: {e:#}; the message was not taken in (try again later)");
            std::process::exit(TEMPFAIL);
        }
    };
    // The operator of the machine hands mail in, as an admin of the desk.
    let operator = gongdan_core::mail::fetch::operator();
    match app.ingest_mail(&operator, &raw, mailbox.map(gongdan_domain::ids::MailboxId)).await {
        Ok(done) => {
            let ticket = done.ticket_id.map(|t| format!(" ticket {t}")).unwrap_or_default();
            println!(
                "{}{ticket}: {}",
                done.outcome.as_str(),
                done.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            );
            Ok(())
        }
        Err(gongdan_core::CoreError::Store(e)) => {
            eprintln!("gongdan mail ingest: the database failed ({e}); the message was not taken in (try again later)");
            std::process::exit(TEMPFAIL);
        }
        Err(e) => bail!("{e}"),
    }
}

/// On an empty database, creates the first admin from the environment or with a generated
/// password that is printed once.
async fn bootstrap_admin(app: &App) -> anyhow::Result<()> {
    if app.store.count_users().await? > 0 {
        return Ok(());
    }
    let email = std::env::var("GONGDAN_ADMIN_EMAIL").unwrap_or_else(|_| "admin@example.com".into());
    let (password, generated) = match std::env::var("GONGDAN_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (gongdan_core::auth::random_secret()?.chars().take(20).collect(), true),
    };
    let input = UserInput {
        role: Some(Role::Admin),
        name: Some("Administrator".into()),
        email: Some(email.clone()),
        password: Some(password.clone()),
        ..Default::default()
    };
    app.create_user(None, input).await.map_err(|e| anyhow::anyhow!("creating the first admin: {e}"))?;
    if generated {
        println!("First admin created: {email} / password: {password}  (shown once; change it after signing in)");
    } else {
        println!("First admin created: {email}");
    }
    Ok(())
}

async fn serve(cfg: config::Resolved) -> anyhow::Result<()> {
    let app = open_app(&cfg).await?;
    bootstrap_admin(&app).await?;
    let listener =
        tokio::net::TcpListener::bind(cfg.listen).await.with_context(|| format!("binding {}", cfg.listen))?;
    tracing::info!(addr = %listener.local_addr()?, database = %redact(&cfg.database_url), "Gongdan is listening");
    println!("Gongdan is listening on http://{}", listener.local_addr()?);
    // Automations, webhook deliveries and (later) SLA timers: durable jobs in the database,
    // shared by every node that runs on it.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = app.spawn_worker(stopped.clone());
    // IMAP IDLE: mail is fetched when it arrives, not only at the next poll.
    let watcher = app.spawn_mail_watch(stopped);
    let router = gongdan_web::router(app);
    let limits = listen::Limits {
        max_connections: listen::connection_cap(cfg.max_connections),
        header_timeout: cfg.header_timeout,
        body_timeout: cfg.body_timeout,
    };
    listen::serve(listener, router, limits, shutdown_signal()).await?;
    // In-flight requests have been answered; let the running job finish, then exit 0.
    let _ = stop.send(true);
    if let Err(e) = worker.await {
        tracing::error!(error = %e, "job worker ended badly");
    }
    if let Err(e) = watcher.await {
        tracing::error!(error = %e, "mail watcher ended badly");
    }
    tracing::info!("Gongdan stopped");
    Ok(())
}

/// SIGINT (Ctrl-C) or SIGTERM (what systemd, Docker and Kubernetes send).
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down: draining requests and jobs");
}

/// Hides a password in a database URL for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

fn parse_role(role: &str) -> anyhow::Result<Role> {
    Role::parse(role, "role").map_err(|e| anyhow::anyhow!("{e}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen } => *listen,
        _ => None,
    };
    let cfg = config::resolve(&cli.global, listen)?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cfg.log))
        .with_writer(std::io::stderr)
        .init();
    for warning in &cfg.warnings {
        tracing::warn!("configuration: {warning}");
    }
    match cli.command {
        Command::Serve { .. } => serve(cfg).await,
        Command::Migrate => {
            open_app(&cfg).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User { command: UserCommand::Create { email, name, role, password } } => {
            let app = open_app(&cfg).await?;
            let role = parse_role(&role)?;
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (gongdan_core::auth::random_secret()?.chars().take(20).collect(), true),
            };
            let input = UserInput {
                role: Some(role),
                name,
                email: Some(email),
                password: Some(password.clone()),
                ..Default::default()
            };
            let u = app.create_user(None, input).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {} user {} (id {})", u.role, u.email.unwrap_or_default(), u.id);
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        Command::Token { command: TokenCommand::Create { email, name, expires_days } } => {
            let app = open_app(&cfg).await?;
            let user = app
                .store
                .find_user_by_identity(IdentityKind::Email, &email.trim().to_lowercase())
                .await?
                .with_context(|| format!("no user with email {email}"))?;
            let expires = match expires_days {
                Some(d) if d > 0 => Some(app.now().checked_add(jiff::SignedDuration::from_hours(24 * d))?),
                Some(_) => bail!("--expires-days must be positive"),
                None => None,
            };
            let (secret, _) =
                app.create_token(None, user.id, &name, expires).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{secret}");
            Ok(())
        }
        Command::Seed { demo, tickets } => {
            if !demo {
                bail!("say --demo to write the demo data set");
            }
            let app = open_app(&cfg).await?;
            bootstrap_admin(&app).await?;
            let report = seed::demo(&app, tickets).await?;
            println!("{report}");
            Ok(())
        }
        Command::Bench(args) => bench::run(cfg, args).await,
        Command::Mail { command: MailCommand::Ingest { mailbox } } => mail_ingest(&cfg, mailbox).await,
        Command::Config => {
            print!("{}", config::describe(&cfg, redact));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_hidden_in_logged_urls() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
