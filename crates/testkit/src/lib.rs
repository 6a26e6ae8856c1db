//! What Gongdan's tests share: a fresh database on each engine ([`db`]), a store over one
//! ([`TestStore`]), [`on_both!`] to run a scenario on both, and builders for the values
//! scenarios write ([`build`]). It depends on the store, not on the web layer, so the store's
//! conformance suite builds and runs without the server; the server's tests put their `TestApp`
//! (a real HTTP server) on the same [`Harness`].
// Test support: a failed unwrap is a failed test, said where it happens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod build;
pub mod db;
pub mod mail;
pub mod mailservers;
mod store;

pub use store::TestStore;

/// A fresh world for one scenario, on SQLite or on PostgreSQL.
pub trait Harness: Sized {
    fn sqlite() -> impl Future<Output = Self> + Send;
    /// `None` (after a note) when PostgreSQL is not reachable and not required.
    fn postgres() -> impl Future<Output = Option<Self>> + Send;
}

/// Generates a SQLite and a PostgreSQL test for each scenario `async fn name(t: H)`, where
/// `H` is a [`Harness`]: `on_both!(TestStore => writes_are_atomic, paging);`.
#[macro_export]
macro_rules! on_both {
    ($harness:ty => $($name:ident),* $(,)?) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(<$harness as $crate::Harness>::sqlite().await).await
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(h) = <$harness as $crate::Harness>::postgres().await {
                        super::$name(h).await
                    }
                }
            )*
        }
    };
}
