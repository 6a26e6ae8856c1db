//! Real mail servers for the email channel's tests: Dovecot (from Debian) serving IMAP from a
//! throwaway directory, fed by its own delivery agent as an MTA would; and aiosmtpd (from PyPI,
//! in the test tools' virtualenv) receiving SMTP into a Maildir. Each returns `None` (after a
//! note) when its program is missing, unless `GONGDAN_TEST_REQUIRE_MAIL=1` (set by `.ci/run`)
//! makes that a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const DOVECOT: &str = "/usr/sbin/dovecot";
const LDA: &str = "/usr/lib/dovecot/dovecot-lda";

fn missing(what: &str) -> Option<std::convert::Infallible> {
    if std::env::var("GONGDAN_TEST_REQUIRE_MAIL").is_ok_and(|v| v == "1") {
        panic!("{what} is required (GONGDAN_TEST_REQUIRE_MAIL=1) but missing");
    }
    eprintln!("note: {what} is missing; the test is skipped");
    None
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// An SMTP server that keeps every message it is given.
pub struct SmtpSink {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl SmtpSink {
    pub async fn start() -> Option<SmtpSink> {
        let tools = std::env::var("GONGDAN_CONTRACT_TOOLS").unwrap_or_default();
        let python = Path::new(&tools).join("python");
        let ok = !tools.is_empty()
            && Command::new(&python)
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            missing("aiosmtpd (in the virtualenv GONGDAN_CONTRACT_TOOLS names)")?;
        }
        let dir = crate::db::temp_dir().join("smtp-sink");
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        // aiosmtpd's Controller returns from start() once it accepts connections: ready when it
        // says so (no polling). Its Mailbox handler writes a message before it answers 250; an
        // address starting with `refused` is refused at RCPT, as a relay refuses an unknown user.
        let script = format!(
            "import sys, threading\nfrom aiosmtpd.controller import Controller\nfrom aiosmtpd.handlers import Mailbox\n\
             class Sink(Mailbox):\n    async def handle_RCPT(self, server, session, envelope, address, options):\n\
             \x20       if address.startswith('refused'):\n            return '550 5.1.1 no such user here'\n\
             \x20       envelope.rcpt_tos.append(address)\n        return '250 OK'\n\
             c = Controller(Sink(sys.argv[1]), hostname='127.0.0.1', port={port})\nc.start()\n\
             print('ready', flush=True)\nsys.stdin.read()\nc.stop()\n"
        );
        let mut child = Command::new(&python)
            .args(["-c", &script])
            .arg(dir.join("Maildir"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let ready = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
        });
        let line =
            tokio::time::timeout(Duration::from_secs(30), ready).await.expect("aiosmtpd starts").unwrap().unwrap();
        assert_eq!(line.trim(), "ready", "aiosmtpd did not start");
        Some(SmtpSink { port, dir, child })
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(self.dir.join("Maildir/new"))
            .map(|d| d.flatten().map(|e| (e.metadata().and_then(|m| m.modified()).unwrap(), e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files.into_iter().map(|(_, p)| std::fs::read(p).unwrap()).collect()
    }

    /// What was received, which must be `n` messages: the server stored each before it
    /// answered, so what was sent is here once the sender is done.
    pub fn expect(&self, n: usize) -> Vec<Vec<u8>> {
        let got = self.received();
        assert_eq!(got.len(), n, "the SMTP server has {} messages, not {n}", got.len());
        got
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Dovecot IMAP server with one account.
pub struct Dovecot {
    pub port: u16,
    pub user: String,
    pub password: String,
    dir: PathBuf,
}

impl Dovecot {
    pub async fn start(user: &str, password: &str) -> Option<Dovecot> {
        if !Path::new(DOVECOT).exists() || !Path::new(LDA).exists() {
            missing("Dovecot (Debian's dovecot-imapd)")?;
        }
        let dir = crate::db::temp_dir().join("dovecot");
        let d = dir.display();
        std::fs::create_dir_all(dir.join("mail")).unwrap();
        // The mail processes run as nobody: they must be able to make the account's Maildir.
        std::fs::set_permissions(dir.join("mail"), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        std::fs::write(dir.join("users"), format!("{user}:{{PLAIN}}{password}\n")).unwrap();
        let port = free_port();
        let conf = format!(
            "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {d}/run\nstate_dir = {d}/state\n\
             log_path = {d}/dovecot.log\ninfo_log_path = {d}/dovecot.log\nssl = no\n\
             disable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             passdb {{\n  driver = passwd-file\n  args = {d}/users\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/mail/%u\n}}\n\
             mail_location = maildir:~/Maildir\ndefault_login_user = nobody\ndefault_internal_user = nobody\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n\
             inet_listener imaps {{\n    port = 0\n  }}\n}}\nservice anvil {{\n  chroot =\n}}\n"
        );
        std::fs::write(dir.join("dovecot.conf"), conf).unwrap();
        // It forks into the background; its output goes to its log.
        let status = Command::new(DOVECOT)
            .arg("-c")
            .arg(dir.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "dovecot did not start: {}",
            std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default()
        );
        // The master binds its listeners before it detaches: listening once the command is back.
        Some(Dovecot { port, user: user.into(), password: password.into(), dir })
    }

    /// Delivers a message to the account's inbox, as an MTA does (Dovecot's own LDA).
    pub fn deliver(&self, raw: &[u8]) {
        use std::io::Write;
        let mut lda = Command::new(LDA)
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .args(["-d", &self.user])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        lda.stdin.take().unwrap().write_all(raw).unwrap();
        let out = lda.wait_with_output().unwrap();
        assert!(out.status.success(), "delivery failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The messages in a folder of the account (`new` and `cur` of its Maildir; `INBOX` is
    /// the Maildir itself, another folder `.<name>`), with their Maildir flags.
    pub fn folder(&self, name: &str) -> Vec<(String, Vec<u8>)> {
        let root = self.dir.join("mail").join(&self.user).join("Maildir");
        let root = if name == "INBOX" { root } else { root.join(format!(".{name}")) };
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            for e in std::fs::read_dir(root.join(sub)).into_iter().flatten().flatten() {
                let file = e.file_name().to_string_lossy().into_owned();
                let flags = file.rsplit_once(":2,").map(|(_, f)| f.to_owned()).unwrap_or_default();
                out.push((flags, std::fs::read(e.path()).unwrap()));
            }
        }
        out
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("run/master.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}
