//! Configuration: built-in defaults < TOML file < `GONGDAN_*` environment < command-line flags.
//!
//! Every setting is declared once, in [`KEYS`]: its section and name in the file, the variable
//! that overrides it, its default and what it does. The file is read against that table (an
//! unknown section or key is an error naming it), `gongdan config` prints the table's values and
//! where each came from, and a test holds the README's table to it. A capability that needs
//! settings (mail, search) adds its section here and a field to [`Resolved`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

/// Options every subcommand takes, so the CLI can work on a server's data while it runs.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// TOML configuration file (default: ./gongdan.toml when present).
    #[arg(long, global = true, env = "GONGDAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where SQLite data and attachments live (default: ./gongdan-data).
    #[arg(long, global = true, env = "GONGDAN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data directory).
    #[arg(long, global = true, env = "GONGDAN_DATABASE_URL")]
    pub database_url: Option<String>,
}

/// One setting.
#[derive(Debug)]
pub struct Key {
    /// The file's `[section]`, named after the capability the setting belongs to.
    pub section: &'static str,
    pub name: &'static str,
    pub env: &'static str,
    /// The flag that also sets it, if any (clap reads flag and variable together).
    pub flag: Option<&'static str>,
    /// The default as a value, when it is one; `None` when it is worked out (see `doc`).
    pub default: Option<&'static str>,
    /// A list: comma-separated in the variable, an array in the file.
    pub list: bool,
    /// What it does, and the default when that is worked out.
    pub doc: &'static str,
    /// Its name at the top of the file before settings had sections; still read, with a warning.
    pub legacy: Option<&'static str>,
    /// Holds a password or key: `gongdan config` says only that it is set.
    pub secret: bool,
}

impl Key {
    pub fn path(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }
}

const fn key(section: &'static str, name: &'static str, env: &'static str, default: Option<&'static str>) -> Key {
    Key { section, name, env, flag: None, default, list: false, doc: "", legacy: Some(name), secret: false }
}

impl Key {
    const fn doc(mut self, doc: &'static str) -> Self {
        self.doc = doc;
        self
    }
    const fn flag(mut self, flag: &'static str) -> Self {
        self.flag = Some(flag);
        self
    }
    const fn list(mut self) -> Self {
        self.list = true;
        self
    }
    const fn legacy(mut self, legacy: &'static str) -> Self {
        self.legacy = Some(legacy);
        self
    }
    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
    /// A setting that came after sections: it has no name at the top of the file.
    const fn sectioned(mut self) -> Self {
        self.legacy = None;
        self
    }
}

pub static LISTEN: Key = key("server", "listen", "GONGDAN_LISTEN", Some("127.0.0.1:8080"))
    .flag("serve --listen")
    .doc("address and port to serve on");
pub static LOG: Key = key("server", "log", "GONGDAN_LOG", Some("info,sqlx=warn")).doc("log filter (tracing's syntax)");
pub static MAX_CONNECTIONS: Key = key("server", "max_connections", "GONGDAN_MAX_CONNECTIONS", Some("4096"))
    .doc("connections served at once (less if the open-files limit is lower)");
pub static HEADER_TIMEOUT: Key = key("server", "header_timeout_secs", "GONGDAN_HEADER_TIMEOUT_SECS", Some("15"))
    .doc("seconds to send a request's headers, and the idle time allowed between requests");
pub static BODY_TIMEOUT: Key =
    key("server", "body_timeout_secs", "GONGDAN_BODY_TIMEOUT_SECS", Some("60")).doc("seconds to send a request's body");
pub static TRUSTED_PROXIES: Key = key("server", "trusted_proxies", "GONGDAN_TRUSTED_PROXIES", None)
    .list()
    .doc("proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges); none: the socket peer is the client");
pub static DATA_DIR: Key = key("server", "data_dir", "GONGDAN_DATA_DIR", Some("./gongdan-data"))
    .flag("--data-dir")
    .doc("where SQLite data and attachments live");
pub static DATABASE_URL: Key = key("database", "url", "GONGDAN_DATABASE_URL", None)
    .flag("--database-url")
    .legacy("database_url")
    .doc("`sqlite://PATH` or `postgres://USER@HOST/DB`; `sqlite://<data_dir>/gongdan.db` by default");
pub static DB_POOL: Key = key("database", "pool", "GONGDAN_DB_POOL", None).legacy("db_pool").doc(
    "database connections: on SQLite the readers (the writer is one besides), one per core and one more, at most 8; 16 on PostgreSQL",
);
pub static MAX_ATTACHMENT_MB: Key =
    key("files", "max_attachment_mb", "GONGDAN_MAX_ATTACHMENT_MB", Some("20")).doc("largest attachment, in MiB");
pub static DEFAULT_LANGUAGE: Key = key("people", "default_language", "GONGDAN_DEFAULT_LANGUAGE", Some("zh-CN"))
    .doc("language of people who have not chosen one: `zh-CN` or `en`");
pub static DEFAULT_TIME_ZONE: Key =
    key("people", "default_time_zone", "GONGDAN_DEFAULT_TIME_ZONE", Some("Asia/Shanghai"))
        .doc("time zone of people who have not chosen one (IANA name)");
pub static WEBHOOK_ALLOW: Key = key("notifications", "webhook_allow", "GONGDAN_WEBHOOK_ALLOW", None)
    .list()
    .doc("private addresses webhooks may call (addresses or CIDR ranges); none: public addresses only");

pub static MAIL_TOKEN_PREFIX: Key = key("mail", "token_prefix", "GONGDAN_MAIL_TOKEN_PREFIX", Some("#"))
    .sectioned()
    .doc("the mark before a ticket's number in mail subjects: `[#10001]`");
pub static MAIL_MAX_MESSAGE_MB: Key = key("mail", "max_message_mb", "GONGDAN_MAIL_MAX_MESSAGE_MB", Some("25"))
    .sectioned()
    .doc("largest message taken in, in MiB; a larger one is quarantined");
pub static MAIL_MAX_SEND_MB: Key = key("mail", "max_send_mb", "GONGDAN_MAIL_MAX_SEND_MB", Some("20"))
    .sectioned()
    .doc("files a mailed reply carries in all, in MiB as encoded in the mail (base64: a third more); those past it are named in the mail with a link to the request");
pub static MAIL_SENDER_LIMIT: Key =
    key("mail", "sender_limit_per_hour", "GONGDAN_MAIL_SENDER_LIMIT_PER_HOUR", Some("30"))
        .sectioned()
        .doc("messages one sender may send within an hour; more are quarantined as a mail storm (0: no limit)");
pub static MAIL_SMTP: Key = key("mail", "smtp", "GONGDAN_MAIL_SMTP", None).sectioned().secret().doc(
    "the desk's SMTP server for replies, `smtp://` (no TLS), `smtp+starttls://` or `smtps://` `[user:password@]host[:port]`; a mailbox may set its own; none and none of its own: no mail is sent",
);
pub static SECRET_KEY: Key = key("server", "secret_key", "GONGDAN_SECRET_KEY", None)
    .sectioned()
    .secret()
    .doc("64 hex digits that seal stored mail server passwords; none: `<data_dir>/secret.key`, made on first use");

pub static PUBLIC_URL: Key = key("server", "public_url", "GONGDAN_PUBLIC_URL", None).doc(
    "where people reach the desk (`https://help.acme.test`), for links in mail; none: `http://` and the listen address",
);

/// Every setting, in the order `gongdan config` and the README list them.
pub static KEYS: &[&Key] = &[
    &LISTEN,
    &LOG,
    &MAX_CONNECTIONS,
    &HEADER_TIMEOUT,
    &BODY_TIMEOUT,
    &TRUSTED_PROXIES,
    &PUBLIC_URL,
    &SECRET_KEY,
    &DATA_DIR,
    &DATABASE_URL,
    &DB_POOL,
    &MAX_ATTACHMENT_MB,
    &DEFAULT_LANGUAGE,
    &DEFAULT_TIME_ZONE,
    &WEBHOOK_ALLOW,
    &MAIL_TOKEN_PREFIX,
    &MAIL_MAX_MESSAGE_MB,
    &MAIL_MAX_SEND_MB,
    &MAIL_SENDER_LIMIT,
    &MAIL_SMTP,
];

#[derive(Debug, Clone)]
pub struct Resolved {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub max_attachment_bytes: u64,
    /// Database connections (SQLite: readers; the writer is always one).
    pub db_pool: u32,
    pub default_language: gongdan_domain::people::Language,
    pub default_time_zone: String,
    pub log: String,
    pub trusted_proxies: Vec<gongdan_core::IpNet>,
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub webhook_allow: Vec<gongdan_core::IpNet>,
    pub mail_token_prefix: String,
    pub max_mail_bytes: u64,
    pub max_send_bytes: u64,
    pub mail_sender_limit: u32,
    pub smtp: Option<gongdan_domain::mail::servers::Smtp>,
    pub secret_key: Option<gongdan_core::secrets::SecretKey>,
    pub public_url: String,
    /// Where each setting's value came from, in [`KEYS`] order, for `gongdan config`.
    pub sources: Vec<(&'static Key, String, Origin)>,
    /// Said once logging is up: legacy keys that still work.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    File,
    Environment,
    Flag,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::File => "file",
            Origin::Environment => "environment",
            Origin::Flag => "flag or environment",
        }
    }
}

/// The file, checked against [`KEYS`]: values by key, as the text a variable would hold.
#[derive(Debug, Default)]
struct FileValues {
    values: Vec<(&'static Key, String)>,
    warnings: Vec<String>,
}

impl FileValues {
    fn get(&self, key: &Key) -> Option<&str> {
        self.values.iter().find(|(k, _)| k.env == key.env).map(|(_, v)| v.as_str())
    }
}

fn read_file(path: Option<&Path>) -> anyhow::Result<FileValues> {
    let (path, required) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("gongdan.toml"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_file(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(FileValues::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn parse_file(text: &str) -> anyhow::Result<FileValues> {
    let table: toml::Table = toml::from_str(text)?;
    let mut out = FileValues::default();
    for (name, value) in &table {
        if let toml::Value::Table(section) = value {
            if !KEYS.iter().any(|k| k.section == name) {
                bail!("unknown section [{name}] (known: {})", sections().join(", "));
            }
            for (field, value) in section {
                let Some(key) = KEYS.iter().copied().find(|k| k.section == name && k.name == field) else {
                    let known: Vec<&str> = KEYS.iter().filter(|k| k.section == name).map(|k| k.name).collect();
                    bail!("unknown key `{field}` in [{name}] (known: {})", known.join(", "));
                };
                out.values.push((key, file_text(key, value)?));
            }
        } else if let Some(key) = KEYS.iter().copied().find(|k| k.legacy == Some(name.as_str())) {
            if table.get(key.section).and_then(|s| s.get(key.name)).is_some() {
                bail!("`{name}` is set twice: at the top and as `{}`", key.path());
            }
            out.warnings.push(format!("`{name}` at the top of the file is read as `{}`; move it there", key.path()));
            out.values.push((key, file_text(key, value)?));
        } else {
            bail!("unknown key `{name}`: settings live in sections ({})", sections().join(", "));
        }
    }
    Ok(out)
}

fn sections() -> Vec<String> {
    let mut s: Vec<String> = Vec::new();
    for k in KEYS {
        if !s.iter().any(|x| x == k.section) {
            s.push(format!("[{}]", k.section));
        }
    }
    s
}

/// A file value as the text its variable would hold (a list comma-separated).
fn file_text(key: &Key, value: &toml::Value) -> anyhow::Result<String> {
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        _ => None,
    };
    let text = match value {
        toml::Value::Array(items) if key.list => {
            items.iter().map(scalar).collect::<Option<Vec<_>>>().map(|v| v.join(","))
        }
        v if !key.list => scalar(v),
        _ => None,
    };
    text.with_context(|| {
        let want = if key.list { "an array of strings" } else { "a string or a number" };
        format!("`{}` must be {want}", key.path())
    })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Looks settings up in order: flag, environment, file, default.
struct Lookup {
    file: FileValues,
    sources: Vec<(&'static Key, String, Origin)>,
}

impl Lookup {
    /// The setting's text and where it came from; `None` when unset and without a plain default.
    fn text(&mut self, key: &'static Key, flag: Option<String>) -> Option<String> {
        let found = flag
            .map(|v| (v, Origin::Flag))
            .or_else(|| env(key.env).map(|v| (v, Origin::Environment)))
            .or_else(|| self.file.get(key).map(|v| (v.to_owned(), Origin::File)))
            .or_else(|| key.default.map(|v| (v.to_owned(), Origin::Default)));
        let (value, origin) = found?;
        self.record(key, value.clone(), origin);
        Some(value)
    }

    fn record(&mut self, key: &'static Key, value: String, origin: Origin) {
        self.sources.retain(|(k, _, _)| k.env != key.env);
        self.sources.push((key, value, origin));
    }

    /// A number; `default` is used (and shown) when the setting is unset and has no plain default.
    fn parse<T: std::str::FromStr + ToString>(&mut self, key: &'static Key, default: T) -> anyhow::Result<T> {
        match self.text(key, None) {
            Some(v) => {
                v.trim().parse().map_err(|_| anyhow::anyhow!("{} ({}) is not a number: `{v}`", key.path(), key.env))
            }
            None => {
                self.record(key, default.to_string(), Origin::Default);
                Ok(default)
            }
        }
    }

    fn secs(&mut self, key: &'static Key) -> anyhow::Result<Duration> {
        let n: u64 = self.parse(key, 0)?;
        if n == 0 {
            bail!("{} ({}) must be at least 1 second", key.path(), key.env);
        }
        Ok(Duration::from_secs(n))
    }

    fn networks(&mut self, key: &'static Key) -> anyhow::Result<Vec<gongdan_core::IpNet>> {
        let text = self.text(key, None).unwrap_or_default();
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                gongdan_core::IpNet::parse(p)
                    .with_context(|| format!("{}: `{p}` is not an address or CIDR range", key.path()))
            })
            .collect()
    }
}

/// Resolves the settings; `listen` comes from the `serve` flag or environment when given.
pub fn resolve(g: &GlobalArgs, listen: Option<SocketAddr>) -> anyhow::Result<Resolved> {
    let file = read_file(g.config.as_deref())?;
    let warnings = file.warnings.clone();
    let mut l = Lookup { file, sources: Vec::new() };
    let log = l.text(&LOG, None).unwrap_or_default();
    let listen_text = l.text(&LISTEN, listen.map(|a| a.to_string())).unwrap_or_default();
    let listen: SocketAddr = listen_text
        .parse()
        .map_err(|_| anyhow::anyhow!("{} is not an address:port: `{listen_text}`", LISTEN.path()))?;
    let max_connections = l.parse(&MAX_CONNECTIONS, 4096)?;
    let header_timeout = l.secs(&HEADER_TIMEOUT)?;
    let body_timeout = l.secs(&BODY_TIMEOUT)?;
    let trusted_proxies = l.networks(&TRUSTED_PROXIES)?;
    let data_dir =
        PathBuf::from(l.text(&DATA_DIR, g.data_dir.as_ref().map(|p| p.display().to_string())).unwrap_or_default());
    let database_url = match l.text(&DATABASE_URL, g.database_url.clone()) {
        Some(url) => url,
        None => {
            let url = format!("sqlite://{}", data_dir.join("gongdan.db").display());
            l.record(&DATABASE_URL, url.clone(), Origin::Default);
            url
        }
    };
    let db_pool = l.parse(&DB_POOL, default_pool(&database_url))?;
    let max_mb: u64 = l.parse(&MAX_ATTACHMENT_MB, 20)?;
    let language = l.text(&DEFAULT_LANGUAGE, None).unwrap_or_default();
    let default_language = gongdan_domain::people::Language::parse(&language, DEFAULT_LANGUAGE.name)
        .map_err(|e| anyhow::anyhow!("{}: {e}", DEFAULT_LANGUAGE.path()))?;
    let default_time_zone = l.text(&DEFAULT_TIME_ZONE, None).unwrap_or_default();
    jiff::tz::TimeZone::get(&default_time_zone)
        .with_context(|| format!("{}: unknown time zone {default_time_zone}", DEFAULT_TIME_ZONE.path()))?;
    let webhook_allow = l.networks(&WEBHOOK_ALLOW)?;
    let mail_token_prefix = l.text(&MAIL_TOKEN_PREFIX, None).unwrap_or_default();
    if mail_token_prefix.is_empty() || mail_token_prefix.len() > 16 || mail_token_prefix.contains([']', '[', ' ']) {
        bail!(
            "{}: `{mail_token_prefix}` must be 1 to 16 characters without brackets or spaces",
            MAIL_TOKEN_PREFIX.path()
        );
    }
    let mail_mb: u64 = l.parse(&MAIL_MAX_MESSAGE_MB, 25)?;
    let send_mb: u64 = l.parse(&MAIL_MAX_SEND_MB, 20)?;
    let mail_sender_limit: u32 = l.parse(&MAIL_SENDER_LIMIT, 30)?;
    let smtp = l.text(&MAIL_SMTP, None).filter(|u| !u.trim().is_empty()).map(|u| smtp_url(&u)).transpose()?;
    let secret_key = match l.text(&SECRET_KEY, None).filter(|k| !k.trim().is_empty()) {
        Some(k) => Some(
            gongdan_core::secrets::SecretKey::from_hex(&k)
                .with_context(|| format!("{}: not 64 hex digits", SECRET_KEY.path()))?,
        ),
        None => None,
    };
    let public_url = match l.text(&PUBLIC_URL, None).filter(|u| !u.trim().is_empty()) {
        Some(u) => {
            let parsed = url::Url::parse(u.trim())
                .ok()
                .filter(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some())
                .ok_or_else(|| anyhow::anyhow!("{}: expected an http:// or https:// address", PUBLIC_URL.path()))?;
            parsed.as_str().trim_end_matches('/').to_owned()
        }
        // Every interface: the machine's own name for it is the best guess a link can make.
        None if listen.ip().is_unspecified() => format!("http://127.0.0.1:{}", listen.port()),
        None => format!("http://{listen}"),
    };
    let mut sources = l.sources;
    sources.sort_by_key(|(k, _, _)| KEYS.iter().position(|x| x.env == k.env));
    Ok(Resolved {
        listen,
        data_dir,
        database_url,
        max_attachment_bytes: max_mb.saturating_mul(1024 * 1024),
        db_pool,
        default_language,
        default_time_zone,
        log,
        trusted_proxies,
        max_connections,
        header_timeout,
        body_timeout,
        webhook_allow,
        mail_token_prefix,
        max_mail_bytes: mail_mb.saturating_mul(1024 * 1024),
        max_send_bytes: send_mb.saturating_mul(1024 * 1024),
        mail_sender_limit,
        smtp,
        secret_key,
        public_url,
        sources,
        warnings,
    })
}

/// The desk's SMTP server from `smtp[s|+starttls]://[user:password@]host[:port]`.
fn smtp_url(text: &str) -> anyhow::Result<gongdan_domain::mail::servers::Smtp> {
    use gongdan_domain::mail::servers::{Smtp, Tls};
    let bad = || anyhow::anyhow!("{}: expected smtp://, smtp+starttls:// or smtps:// with a host", MAIL_SMTP.path());
    let u = url::Url::parse(text.trim()).map_err(|_| bad())?;
    let (tls, port) = match u.scheme() {
        "smtp" => (Tls::None, 25),
        "smtp+starttls" => (Tls::Starttls, 587),
        "smtps" => (Tls::Implicit, 465),
        _ => return Err(bad()),
    };
    // The URL keeps user and password %-encoded.
    let decode = |s: &str| -> Option<String> {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = (b[i] == b'%').then(|| s.get(i + 1..i + 3)).flatten();
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => {
                    out.push(v);
                    i += 3;
                }
                None => {
                    out.push(b[i]);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).ok()
    };
    let smtp = Smtp {
        host: u.host_str().ok_or_else(bad)?.to_owned(),
        port: u.port().unwrap_or(port),
        tls,
        username: decode(u.username()).unwrap_or_default(),
        password: u.password().and_then(decode).unwrap_or_default(),
        password_set: u.password().is_some(),
    };
    smtp.validated().map_err(|e| anyhow::anyhow!("{}: {e}", MAIL_SMTP.path()))
}

/// Read connections by default. SQLite: one per core and one more (at most 8). Each is a
/// thread of its own, and more of them than cores only compete with the one writer's thread
/// for CPU: on 2 cores, 8 readers made the writes of a mixed load queue twice as long as 3 did.
fn default_pool(database_url: &str) -> u32 {
    if database_url.starts_with("sqlite:") {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        (cores + 1).clamp(2, 8)
    } else {
        16
    }
}

/// `gongdan config`: the effective settings as a file would hold them, each with its origin.
/// Passwords in the database URL are hidden.
pub fn describe(cfg: &Resolved, redact: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut section = "";
    for key in KEYS {
        if key.section != section {
            if !section.is_empty() {
                out.push('\n');
            }
            section = key.section;
            out.push_str(&format!("[{section}]\n"));
        }
        let found = cfg.sources.iter().find(|(k, _, _)| k.env == key.env);
        let (value, origin) = match found {
            Some((_, v, o)) => (v.as_str(), o.as_str()),
            None => ("", "default"),
        };
        let value = if key.env == DATABASE_URL.env { redact(value) } else { value.to_owned() };
        if key.secret && !value.is_empty() {
            // Set, and not printed: the line stays a comment so the output still reads back.
            out.push_str(&format!("# {} = (set, not shown)  # {origin}, {}\n", key.name, key.env));
            continue;
        }
        let shown = if key.list {
            let items: Vec<String> =
                value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| format!("{s:?}")).collect();
            format!("[{}]", items.join(", "))
        } else if value.parse::<u64>().is_ok() {
            value
        } else {
            format!("{value:?}")
        };
        out.push_str(&format!("{} = {shown}  # {origin}, {}\n", key.name, key.env));
    }
    out
}

/// The README's table of settings.
#[cfg(test)]
fn markdown() -> String {
    let mut out = String::from("| file key | environment | flag | default and meaning |\n|---|---|---|---|\n");
    for k in KEYS {
        let env = if k.list { format!("`{}` (comma-separated)", k.env) } else { format!("`{}`", k.env) };
        let flag = k.flag.map(|f| format!("`{f}`")).unwrap_or_default();
        let default = match k.default {
            Some(d) => format!("`{d}`: {}", k.doc),
            None => k.doc.to_owned(),
        };
        out.push_str(&format!("| `{}` | {env} | {flag} | {default} |\n", k.path()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_file(name: &str, text: &str) -> GlobalArgs {
        let dir = std::env::temp_dir().join(format!("gongdan-cfg-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("g.toml");
        std::fs::write(&file, text).unwrap();
        GlobalArgs { config: Some(file), data_dir: None, database_url: None }
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let text = "[server]\nlisten = \"127.0.0.1:9999\"\ndata_dir = \"/srv/gd\"\n\
                    [files]\nmax_attachment_mb = 5\n[notifications]\nwebhook_allow = [\"10.0.0.0/8\"]\n";
        let g = with_file("flags", text);
        let r = resolve(&g, None).unwrap();
        assert_eq!(r.listen.port(), 9999);
        assert_eq!(r.data_dir, PathBuf::from("/srv/gd"));
        assert_eq!(r.database_url, "sqlite:///srv/gd/gongdan.db");
        assert_eq!(r.max_attachment_bytes, 5 * 1024 * 1024);
        assert_eq!(r.webhook_allow.len(), 1);
        assert!(r.warnings.is_empty());
        let g = GlobalArgs { data_dir: Some("/tmp/x".into()), database_url: Some("postgres://h/db".into()), ..g };
        let r = resolve(&g, Some("0.0.0.0:1".parse().unwrap())).unwrap();
        assert_eq!(
            (r.listen.port(), r.data_dir.clone(), r.database_url.as_str()),
            (1, PathBuf::from("/tmp/x"), "postgres://h/db")
        );
        let shown = describe(&r, |u| u.to_owned());
        assert!(shown.contains("listen = \"0.0.0.0:1\"  # flag or environment, GONGDAN_LISTEN"), "{shown}");
        assert!(shown.contains("max_attachment_mb = 5  # file, GONGDAN_MAX_ATTACHMENT_MB"), "{shown}");
        assert!(shown.contains("pool = 16  # default, GONGDAN_DB_POOL"), "{shown}");
        assert!(shown.contains("webhook_allow = [\"10.0.0.0/8\"]  # file"), "{shown}");
    }

    #[test]
    fn the_desks_smtp_server_is_a_url_and_secrets_are_not_shown() {
        let text = "[mail]\nsmtp = \"smtp+starttls://desk%40acme.test:p%25ss@mail.acme.test\"\n\
                    [server]\nsecret_key = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n";
        let r = resolve(&with_file("smtp", text), None).unwrap();
        let s = r.smtp.clone().unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("mail.acme.test", 587, gongdan_domain::mail::servers::Tls::Starttls)
        );
        assert_eq!((s.username.as_str(), s.password.as_str()), ("desk@acme.test", "p%ss"));
        assert!(r.secret_key.is_some());
        let shown = describe(&r, |u| u.to_owned());
        assert!(!shown.contains("p%25ss") && !shown.contains("00112233"), "{shown}");
        assert!(shown.contains("# smtp = (set, not shown)  # file, GONGDAN_MAIL_SMTP"), "{shown}");
        let err = |text: &str| format!("{:#}", resolve(&with_file("smtp-bad", text), None).unwrap_err());
        assert!(err("[mail]\nsmtp = \"http://x\"\n").contains("mail.smtp"));
        assert!(err("[server]\nsecret_key = \"short\"\n").contains("server.secret_key"));
        let r = resolve(&with_file("smtp-plain", "[mail]\nsmtp = \"smtp://127.0.0.1:2525\"\n"), None).unwrap();
        let s = r.smtp.unwrap();
        assert_eq!((s.port, s.username.as_str(), s.password_set), (2525, "", false));
    }

    #[test]
    fn unknown_sections_keys_and_types_are_errors_that_name_them() {
        let err = |text: &str| format!("{:#}", resolve(&with_file("bad", text), None).unwrap_err());
        assert!(err("bogus = 1\n").contains("unknown key `bogus`"));
        assert!(err("[sms]\nhost = \"x\"\n").contains("unknown section [sms]"));
        assert!(err("[mail]\nhost = \"x\"\n").contains("unknown key `host` in [mail]"));
        assert!(err("token_prefix = \"#\"\n").contains("unknown key `token_prefix`"), "new keys live in sections only");
        assert!(err("[mail]\ntoken_prefix = \"[x\"\n").contains("mail.token_prefix"));
        assert!(err("[server]\nlisen = \"x\"\n").contains("unknown key `lisen` in [server]"));
        assert!(err("[files]\nmax_attachment_mb = true\n").contains("`files.max_attachment_mb` must be"));
        assert!(err("[server]\nheader_timeout_secs = 0\n").contains("server.header_timeout_secs"));
        assert!(err("db_pool = 3\n[database]\npool = 4\n").contains("set twice"));
    }

    #[test]
    fn keys_at_the_top_of_the_file_still_work_with_a_warning() {
        let r =
            resolve(&with_file("legacy", "database_url = \"postgres://h/db\"\nmax_attachment_mb = 7\n"), None).unwrap();
        assert_eq!(r.database_url, "postgres://h/db");
        assert_eq!(r.max_attachment_bytes, 7 * 1024 * 1024);
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("`database.url`"), "{:?}", r.warnings);
    }

    #[test]
    fn each_key_is_declared_once_and_the_readme_lists_them_all() {
        for (i, a) in KEYS.iter().enumerate() {
            for b in &KEYS[i + 1..] {
                assert!(
                    a.path() != b.path() && a.env != b.env && (a.legacy.is_none() || a.legacy != b.legacy),
                    "{} and {}",
                    a.path(),
                    b.path()
                );
            }
            let later = KEYS[i + 1..].iter().skip_while(|b| b.section == a.section);
            assert!(later.clone().all(|b| b.section != a.section), "[{}] is listed in one run", a.section);
        }
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
        let table = markdown();
        assert!(readme.contains(&table), "README.md's table of settings should read:\n{table}");
    }
}
