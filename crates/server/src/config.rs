//! Configuration: built-in defaults < TOML file < `GONGDAN_*` environment < command-line flags.
//! clap reads the environment and the flags; this module adds the file underneath.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::Deserialize;

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

/// The file's shape; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub max_attachment_mb: Option<u64>,
    pub db_pool: Option<u32>,
    pub default_language: Option<String>,
    pub default_time_zone: Option<String>,
    pub log: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges).
    pub trusted_proxies: Option<Vec<String>>,
    pub max_connections: Option<usize>,
    pub header_timeout_secs: Option<u64>,
    pub body_timeout_secs: Option<u64>,
    /// Private addresses webhooks may call (addresses or CIDR ranges); none by default.
    pub webhook_allow: Option<Vec<String>>,
}

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
    pub header_timeout: std::time::Duration,
    pub body_timeout: std::time::Duration,
    pub webhook_allow: Vec<gongdan_core::IpNet>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

fn read_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let (path, required) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("gongdan.toml"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A number from the environment, else the file, else the default.
fn number<T: std::str::FromStr>(name: &str, file: Option<T>, default: T) -> anyhow::Result<T> {
    match env(name) {
        Some(v) => v.trim().parse().map_err(|_| anyhow::anyhow!("{name} is not a number: `{v}`")),
        None => Ok(file.unwrap_or(default)),
    }
}

/// Addresses or CIDR ranges from a comma-separated variable, else the file.
fn networks(name: &str, key: &str, file: Option<Vec<String>>) -> anyhow::Result<Vec<gongdan_core::IpNet>> {
    let items: Vec<String> = match env(name) {
        Some(v) => v.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect(),
        None => file.unwrap_or_default(),
    };
    items
        .iter()
        .map(|p| gongdan_core::IpNet::parse(p).with_context(|| format!("{key}: `{p}` is not an address or CIDR")))
        .collect()
}

/// Resolves the settings; `listen` comes from the `serve` flag or environment when given.
pub fn resolve(g: &GlobalArgs, listen: Option<SocketAddr>) -> anyhow::Result<Resolved> {
    let file = read_file(g.config.as_deref())?;
    let data_dir = g.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("gongdan-data"));
    let database_url = g
        .database_url
        .clone()
        .or(file.database_url)
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("gongdan.db").display()));
    let max_mb = match env("GONGDAN_MAX_ATTACHMENT_MB") {
        Some(v) => Some(v.parse().context("GONGDAN_MAX_ATTACHMENT_MB is not a number")?),
        None => file.max_attachment_mb,
    };
    let language = env("GONGDAN_DEFAULT_LANGUAGE").or(file.default_language).unwrap_or_else(|| "zh-CN".into());
    let default_language =
        gongdan_domain::people::Language::parse(&language, "default_language").map_err(|e| anyhow::anyhow!("{e}"))?;
    let default_time_zone =
        env("GONGDAN_DEFAULT_TIME_ZONE").or(file.default_time_zone).unwrap_or_else(|| "Asia/Shanghai".into());
    jiff::tz::TimeZone::get(&default_time_zone).with_context(|| format!("unknown time zone {default_time_zone}"))?;
    let listen = match listen.or(file.listen) {
        Some(l) => l,
        None => DEFAULT_LISTEN.parse()?,
    };
    let db_pool = number("GONGDAN_DB_POOL", file.db_pool, default_pool(&database_url))?;
    let trusted_proxies = networks("GONGDAN_TRUSTED_PROXIES", "trusted_proxies", file.trusted_proxies)?;
    let webhook_allow = networks("GONGDAN_WEBHOOK_ALLOW", "webhook_allow", file.webhook_allow)?;
    let max_connections = number("GONGDAN_MAX_CONNECTIONS", file.max_connections, 4096)?;
    let secs = |name, file, default| -> anyhow::Result<std::time::Duration> {
        let n: u64 = number(name, file, default)?;
        if n == 0 {
            anyhow::bail!("{name} must be at least 1 second");
        }
        Ok(std::time::Duration::from_secs(n))
    };
    let header_timeout = secs("GONGDAN_HEADER_TIMEOUT_SECS", file.header_timeout_secs, 15)?;
    let body_timeout = secs("GONGDAN_BODY_TIMEOUT_SECS", file.body_timeout_secs, 60)?;
    Ok(Resolved {
        trusted_proxies,
        webhook_allow,
        max_connections,
        header_timeout,
        body_timeout,
        db_pool,
        listen,
        data_dir,
        database_url,
        max_attachment_bytes: max_mb.unwrap_or(20) * 1024 * 1024,
        default_language,
        default_time_zone,
        log: env("GONGDAN_LOG").or(file.log).unwrap_or_else(|| "info,sqlx=warn".into()),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = std::env::temp_dir().join(format!("gongdan-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("g.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9999\"\ndata_dir = \"/srv/gd\"\nmax_attachment_mb = 5\n").unwrap();
        let g = GlobalArgs { config: Some(file.clone()), data_dir: None, database_url: None };
        let r = resolve(&g, None).unwrap();
        assert_eq!(r.listen.port(), 9999);
        assert_eq!(r.data_dir, PathBuf::from("/srv/gd"));
        assert_eq!(r.database_url, "sqlite:///srv/gd/gongdan.db");
        assert_eq!(r.max_attachment_bytes, 5 * 1024 * 1024);
        let g = GlobalArgs {
            config: Some(file.clone()),
            data_dir: Some("/tmp/x".into()),
            database_url: Some("postgres://h/db".into()),
        };
        let r = resolve(&g, Some("0.0.0.0:1".parse().unwrap())).unwrap();
        assert_eq!(
            (r.listen.port(), r.data_dir, r.database_url.as_str()),
            (1, PathBuf::from("/tmp/x"), "postgres://h/db")
        );
        std::fs::write(&file, "bogus = 1\n").unwrap();
        assert!(
            resolve(&GlobalArgs { config: Some(file), data_dir: None, database_url: None }, None).is_err(),
            "unknown keys are errors"
        );
    }
}
