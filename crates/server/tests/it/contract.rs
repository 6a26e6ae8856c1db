//! The OpenAPI document as a contract, checked from outside on both backends: schemathesis
//! (from PyPI) generates requests from the document against a live server, as an admin and as
//! a customer, and every answer must be a documented status with a documented content type and
//! body, with invalid data refused; and a Python client generated from the document by
//! openapi-python-client creates, lists and updates a ticket.
//!
//! The tools come from `GONGDAN_CONTRACT_TOOLS` (a directory holding `st` and
//! `openapi-python-client`, as `.ci/run` installs them) or `PATH`. Without them the test says
//! so and passes, unless `GONGDAN_TEST_REQUIRE_CONTRACT=1`.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::json;
use tokio::process::Command;

use crate::on_both;
use crate::support::{TestApp, temp_dir};

fn tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("GONGDAN_CONTRACT_TOOLS").map(PathBuf::from).into_iter().collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let st = tool("st");
    let generator = tool("openapi-python-client");
    // The generated client runs on the Python next to the tools (it needs httpx and attrs).
    let python = st.as_ref().and_then(|s| s.parent()).map(|d| d.join("python")).filter(|p| p.is_file());
    match (st, generator, python) {
        (Some(st), Some(generator), Some(py)) => Some((st, generator, py)),
        _ => {
            if std::env::var("GONGDAN_TEST_REQUIRE_CONTRACT").is_ok_and(|v| v == "1") {
                panic!("schemathesis and openapi-python-client are required (GONGDAN_TEST_REQUIRE_CONTRACT=1)");
            }
            eprintln!("note: schemathesis / openapi-python-client not found; skipping the contract test");
            None
        }
    }
}

async fn run(mut c: Command, what: &str) {
    let out = c.stdin(Stdio::null()).output().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn the_document_is_a_contract(t: TestApp) {
    let Some((st, generator, python)) = tools() else { return };
    // Something to find for both roles: a customer with requests, a group, a tag.
    let (cust, ctoken) = t.user("customer", "contract@example.com", json!({})).await;
    let g = t.group("一线", 1).await;
    for i in 0..3 {
        t.ticket(
            &t.admin,
            json!({"subject": format!("契约 {i}"), "requester_id": cust.0, "group_id": g.0, "tags": ["vip"]}),
        )
        .await;
    }
    let me = t.get("/api/v1/me", &t.admin).await.1;
    let admin = gongdan_domain::ids::UserId(me["id"].as_i64().unwrap_or_default());
    let dir = temp_dir();
    let doc = dir.join("openapi.json");
    let hooks = dir.join("st_hooks.py");
    std::fs::write(&hooks, include_str!("st_hooks.py")).unwrap();
    std::fs::write(&doc, t.get("/api/v1/openapi.json", "").await.1.to_string()).unwrap();

    for (who, token) in [("admin", None), ("customer", Some(ctoken.clone()))] {
        // A token of its own: the run may revoke the tokens it finds.
        let token = match token {
            Some(t) => t,
            None => t.app.create_token(None, admin, "schemathesis", None).await.unwrap().0,
        };
        let mut c = Command::new(&st);
        // In the test's own directory: hypothesis keeps its example database in the working one.
        c.current_dir(&dir)
            .arg("run")
            .arg(&doc)
            .args(["--url", &t.base])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection",
            ])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", "20", "--seed", "20261202", "--workers", "1", "--no-shrink"])
            .args(["--request-timeout", "10"])
            .args(["--report-dir", &dir.join(format!("report-{who}")).display().to_string()])
            .env("NO_COLOR", "1")
            .env("SCHEMATHESIS_HOOKS", &hooks);
        run(c, &format!("[{}] schemathesis as {who}", t.backend)).await;
    }

    // A generated client creates, lists and updates a ticket.
    let client_dir = dir.join("gongdan_client");
    let mut c = Command::new(&generator);
    c.current_dir(&dir)
        .args(["generate", "--path"])
        .arg(&doc)
        .args(["--output-path"])
        .arg(&client_dir)
        .args(["--meta", "none"]);
    run(c, "openapi-python-client generate").await;
    let script = dir.join("use_client.py");
    std::fs::write(&script, include_str!("use_client.py")).unwrap();
    let (token, _) = t.app.create_token(None, admin, "client", None).await.unwrap();
    let mut c = Command::new(&python);
    c.arg(&script).arg(&dir).arg(&t.base).arg(&token).arg(cust.0.to_string());
    run(c, &format!("[{}] the generated client", t.backend)).await;
    let (_, list) = t.get("/api/v1/tickets?tag=generated", &t.admin).await;
    assert_eq!(list["items"][0]["priority"], "high", "the client's update is stored: {list}");
}

on_both!(the_document_is_a_contract);
