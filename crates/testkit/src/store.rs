//! `TestStore`: the store over a fresh database, for the conformance suite.

use std::path::PathBuf;
use std::sync::Arc;

use gongdan_domain::access::Role;
use gongdan_domain::ids::{GroupId, UserId};
use gongdan_domain::people::Group;
use gongdan_domain::tickets::StatusRef;
use gongdan_store::{ConnectOptions, Store};
use jiff::Timestamp;

use crate::{Harness, build, db};

pub struct TestStore {
    pub store: Arc<dyn Store>,
    /// The database URL, for scenarios that reach past the store.
    pub url: String,
    pub backend: &'static str,
    /// A directory of the scenario's own.
    pub dir: PathBuf,
    /// The time the scenario runs at.
    pub at: Timestamp,
}

impl TestStore {
    async fn open(url: String, dir: PathBuf, backend: &'static str) -> TestStore {
        let store = gongdan_store::connect(&url, ConnectOptions::default()).await.expect("connect");
        TestStore { store, url, backend, dir, at: build::start() }
    }

    /// A stored user of `role`; agents join `groups`.
    pub async fn user(&self, role: Role, email: &str, groups: &[GroupId]) -> UserId {
        let mut u = build::user(role, email, self.at);
        u.group_ids = groups.to_vec();
        self.store.insert_user(&u, None, None).await.expect("insert user").id
    }

    pub async fn group(&self, name: &str, tier: i64) -> GroupId {
        let g = Group { name: name.to_owned(), tier, ..Group::blank() };
        self.store.insert_group(&g).await.expect("insert group").id
    }

    /// One of the shipped statuses, by key (`new`, `open`, `pending`, `on_hold`, `solved`, `closed`).
    pub async fn status(&self, key: &str) -> StatusRef {
        let all = self.store.list_statuses().await.expect("statuses");
        StatusRef::from(all.iter().find(|s| s.key == key).unwrap_or_else(|| panic!("no status {key}")))
    }
}

impl Harness for TestStore {
    async fn sqlite() -> TestStore {
        let (url, dir) = db::sqlite_url();
        Self::open(url, dir, "sqlite").await
    }

    async fn postgres() -> Option<TestStore> {
        let url = db::pg_schema_url().await?;
        Some(Self::open(url, db::temp_dir(), "postgres").await)
    }
}
