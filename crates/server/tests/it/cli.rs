//! The `gongdan` binary itself: first start, `user create`, `token create`, `seed --demo`,
//! and `serve` answering with a CLI-made token — on both backends.

use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::{pg_schema_url, temp_dir};

/// Starts `gongdan serve` on `addr` and returns once it says it is listening.
pub async fn serve(mut c: Command, addr: &str) -> tokio::process::Child {
    let mut child = c.args(["serve", "--listen", addr]).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains("listening") {
            break;
        }
    }
    child
}

pub fn gongdan(dir: &std::path::Path, url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gongdan"));
    c.env("GONGDAN_DATA_DIR", dir).env("GONGDAN_DATABASE_URL", url).env("GONGDAN_LOG", "warn").kill_on_drop(true);
    c
}

async fn run(dir: &std::path::Path, url: &str, args: &[&str]) -> String {
    let out = gongdan(dir, url).args(args).output().await.expect("run gongdan");
    assert!(out.status.success(), "gongdan {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn cli_end_to_end(url: String) {
    let dir = temp_dir();
    run(&dir, &url, &["migrate"]).await;
    let out =
        run(&dir, &url, &["user", "create", "--email", "ops@example.com", "--role", "admin", "--name", "运维"]).await;
    assert!(out.contains("password: "), "a generated password is printed: {out}");
    let token = run(&dir, &url, &["token", "create", "--email", "ops@example.com"]).await;
    let token = token.trim().to_owned();
    assert!(token.starts_with("gd_") && !token.contains(' ') && !token.contains('\n'), "only the token: {token:?}");
    let seeded = run(&dir, &url, &["seed", "--demo", "--tickets", "40"]).await;
    assert!(seeded.contains("40 tickets"), "{seeded}");
    let again = gongdan(&dir, &url).args(["seed", "--demo"]).output().await.unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has groups"), "a second seed says why it stops");

    // Serve on a free port and use the CLI-made token over HTTP.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = serve(gongdan(&dir, &url), &format!("127.0.0.1:{port}")).await;
    gongdan_core::install_tls_provider();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(client.get(format!("{base}/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let r = client.get(format!("{base}/api/v1/tickets?limit=5")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["total"], 40);
    // The CLI works on the data while the server runs, and the server sees what it wrote.
    let live = run(&dir, &url, &["token", "create", "--email", "ops@example.com", "--name", "live"]).await;
    let r = client.get(format!("{base}/api/v1/me")).bearer_auth(live.trim()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client.get(format!("{base}/api/v1/categories")).bearer_auth(&token).send().await.unwrap();
    let cats: Value = r.json().await.unwrap();
    assert!(
        cats["items"].as_array().unwrap().iter().any(|c| c["name_zh"] == "上门维修"),
        "three-level demo categories"
    );
    // A demo agent signs in with the documented password.
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "wang.fang@desk.example.com", "password": "demo-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    child.kill().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_on_sqlite() {
    let dir = temp_dir();
    cli_end_to_end(format!("sqlite://{}", dir.join("cli.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_on_postgres() {
    if let Some(url) = pg_schema_url().await {
        cli_end_to_end(url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_creates_the_admin_once() {
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.join("first.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = gongdan(&dir, &url)
        .env("GONGDAN_ADMIN_EMAIL", "boss@example.com")
        .env("GONGDAN_ADMIN_PASSWORD", "boss-password")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let done = line.contains("listening");
        said.push(line);
        if done {
            break;
        }
    }
    assert!(said.iter().any(|l| l.contains("First admin created: boss@example.com")), "{said:?}");
    gongdan_core::install_tls_provider();
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "boss@example.com", "password": "boss-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    child.kill().await.ok();
    // A second start finds users and creates nobody.
    let out = gongdan(&dir, &url).args(["seed", "--demo", "--tickets", "1"]).output().await.unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("First admin"));
}

/// `gongdan config` shows what is in effect and where it came from; a key at the top of the
/// file still works, with a warning naming its section; an unknown key stops the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_shows_each_setting_and_its_origin() {
    let dir = temp_dir();
    let file = dir.join("gongdan.toml");
    std::fs::write(&file, "max_attachment_mb = 9\n[server]\nheader_timeout_secs = 7\n").unwrap();
    let url = format!("sqlite://{}", dir.join("c.db").display());
    let out = gongdan(&dir, &url)
        .env("GONGDAN_CONFIG", &file)
        .env("GONGDAN_BODY_TIMEOUT_SECS", "33")
        .arg("config")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = String::from_utf8_lossy(&out.stdout);
    for line in [
        "[server]",
        "header_timeout_secs = 7  # file, GONGDAN_HEADER_TIMEOUT_SECS",
        "body_timeout_secs = 33  # environment, GONGDAN_BODY_TIMEOUT_SECS",
        "log = \"warn\"  # environment, GONGDAN_LOG",
        "[files]",
        "max_attachment_mb = 9  # file, GONGDAN_MAX_ATTACHMENT_MB",
        "default_time_zone = \"Asia/Shanghai\"  # default, GONGDAN_DEFAULT_TIME_ZONE",
    ] {
        assert!(shown.lines().any(|l| l == line), "`{line}` in:\n{shown}");
    }
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(
        warned.contains("`max_attachment_mb` at the top of the file is read as `files.max_attachment_mb`"),
        "{warned}"
    );
    // What `config` prints is itself a file the server reads.
    let copy = dir.join("copy.toml");
    let printed: String = shown.lines().map(|l| l.split("  #").next().unwrap_or_default().to_owned() + "\n").collect();
    std::fs::write(&copy, printed).unwrap();
    let again = gongdan(&dir, &url).env("GONGDAN_CONFIG", &copy).arg("config").output().await.unwrap();
    assert!(again.status.success(), "the printed settings read back: {}", String::from_utf8_lossy(&again.stderr));
    std::fs::write(&file, "[server]\nlisten_on = \"0.0.0.0:1\"\n").unwrap();
    let bad = gongdan(&dir, &url).env("GONGDAN_CONFIG", &file).args(["serve"]).output().await.unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown key `listen_on` in [server]"));
}

/// `gongdan mail ingest` as an MTA's pipe: the message from standard input becomes a ticket
/// (exit 0, the outcome printed); with the database unreachable it exits 75 so the MTA retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_ingest_takes_a_piped_message() {
    use tokio::io::AsyncWriteExt;
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.join("mail.db").display());
    let raw = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mail/02-big5.eml")).unwrap();
    let pipe = |url: String, dir: std::path::PathBuf, raw: Vec<u8>| async move {
        let mut child = gongdan(&dir, &url)
            .args(["mail", "ingest"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&raw).await.unwrap();
        drop(stdin);
        child.wait_with_output().await.unwrap()
    };
    let out = pipe(url.clone(), dir.clone(), raw.clone()).await;
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said} {}", String::from_utf8_lossy(&out.stderr));
    assert!(said.starts_with("created ticket 10001"), "{said}");
    let again = pipe(url, dir.clone(), raw.clone()).await;
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("ignored ticket 10001"), "delivered twice: one ticket");
    let down = pipe("postgres://nobody@127.0.0.1:1/none".into(), dir, raw).await;
    assert_eq!(down.status.code(), Some(75), "{}", String::from_utf8_lossy(&down.stderr));
}
