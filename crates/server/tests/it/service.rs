//! `gongdan serve` as a service manager runs it: silent, half-sent and idle connections are
//! closed on their deadlines, `/healthz` answers while every regular place is held, and
//! SIGTERM drains and exits 0.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::temp_dir;

/// Whether the server closes this connection within `limit`, reading (and dropping) whatever
/// it sends first.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

async fn healthz(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_cap_and_sigterm() {
    let dir = temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = crate::cli::gongdan(&dir, &format!("sqlite://{}", dir.join("svc.db").display()));
    cmd.env("GONGDAN_MAX_CONNECTIONS", "8")
        .env("GONGDAN_HEADER_TIMEOUT_SECS", "1")
        .env("GONGDAN_BODY_TIMEOUT_SECS", "1");
    let mut child = crate::cli::serve(cmd, &addr).await;

    // Every regular place held by a silent socket: health checks are still answered.
    let mut idle = Vec::new();
    for _ in 0..12 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Accepted in the order they came: the health check is the thirteenth, past the cap.
    let answer = tokio::time::timeout(Duration::from_secs(3), healthz(&addr)).await.expect("answered in time");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // ... and the silent sockets are closed on the header deadline.
    for s in &mut idle {
        assert!(closed_within(s, Duration::from_secs(4)).await, "a silent connection is closed");
    }

    // Half-sent headers, a body that stops, and an idle keep-alive connection: all closed.
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    assert!(closed_within(&mut half, Duration::from_secs(4)).await, "half-sent headers");
    let mut slow_body = TcpStream::connect(&addr).await.unwrap();
    slow_body
        .write_all(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"em")
        .await
        .unwrap();
    assert!(closed_within(&mut slow_body, Duration::from_secs(4)).await, "a body that stops");
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "answered on a kept connection");
    assert!(closed_within(&mut kept, Duration::from_secs(4)).await, "an idle keep-alive connection");

    // SIGTERM: the server stops taking connections, drains and exits 0.
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(25), child.wait()).await.expect("exits").unwrap();
    assert!(status.success(), "SIGTERM exits 0: {status:?}");
}

/// SQLite's write-ahead log stays bounded under concurrent writes and reads when the server's
/// periodic checkpoint runs, and a checkpoint empties it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_log_stays_bounded() {
    use serde_json::json;
    let t = std::sync::Arc::new(<crate::support::TestApp as gongdan_testkit::Harness>::sqlite().await);
    let wal = std::path::PathBuf::from(format!("{}-wal", t.url.trim_start_matches("sqlite://")));
    let size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    // One worker stands in for the server's periodic checkpoint: every few rounds it runs one
    // while the others write and read, and notes the log's size.
    let body = "您好，打印机又卡纸了，麻烦尽快安排人上门。".repeat(8);
    let mut work = Vec::new();
    for w in 0..16 {
        let (t, body, wal) = (t.clone(), body.clone(), wal.clone());
        work.push(tokio::spawn(async move {
            let mut largest = 0;
            for i in 0..120 {
                let tk = t
                    .ticket(&t.admin, json!({"subject": format!("w{w}-{i}"), "description": body, "requester": {"email": format!("c{}@example.com", i % 50)}}))
                    .await;
                t.post(&format!("/api/v1/tickets/{}/comments", tk["id"]), &t.admin, json!({"body": body})).await;
                t.get("/api/v1/tickets?status=new,open&limit=50", &t.admin).await;
                if w == 0 && i % 4 == 0 {
                    t.app.store.checkpoint().await.unwrap();
                }
                largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
            }
            largest
        }));
    }
    let mut largest = 0;
    for w in work {
        largest = largest.max(w.await.unwrap());
    }
    eprintln!("largest write-ahead log seen: {largest} bytes");
    assert!(largest < 16 * 1024 * 1024, "the log stayed under 16 MiB: {largest} bytes");
    assert!(t.app.store.checkpoint().await.unwrap(), "an idle checkpoint completes");
    assert_eq!(size(), 0, "and empties the log");
}
