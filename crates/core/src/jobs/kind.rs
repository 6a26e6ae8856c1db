//! What a kind of job is to the runner: declared by the capability the work belongs to, listed
//! in `jobs::KINDS`.

use std::future::Future;
use std::pin::Pin;

use gongdan_store::Job;
use jiff::{SignedDuration, Timestamp};

use crate::App;

/// What a run of a job came to.
pub(crate) enum Ran {
    /// Finished: the job is deleted.
    Done,
    /// A recurring job ran: its next run.
    Next(Timestamp),
    /// It failed: tried again at `at`, or after the back-off for its attempts.
    Failed { error: String, at: Option<Timestamp> },
}

pub(crate) type RunJob = for<'a> fn(&'a App, &'a Job) -> Pin<Box<dyn Future<Output = Ran> + Send + 'a>>;

/// A kind of job: its name (the stored `kind`), what runs it, and how often when it recurs
/// (one such job per desk, enqueued by whichever node starts first).
pub(crate) struct JobKind {
    pub name: &'static str,
    pub run: RunJob,
    pub every: Option<SignedDuration>,
}
