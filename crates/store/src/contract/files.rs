//! Attachments and the upload quota.

use async_trait::async_trait;
use gongdan_domain::conversation::Attachment;
use gongdan_domain::ids::{AttachmentId, TicketId, UserId};
use jiff::Timestamp;

use super::Result;

/// How much one user may have uploaded and not yet attached.
#[derive(Debug, Clone, Copy)]
pub struct UploadQuota {
    pub since: Timestamp,
    pub files: i64,
    pub bytes: i64,
}

#[async_trait]
pub trait FileStore: Send + Sync {
    /// Stores an upload unless its uploader's unattached uploads since `quota.since` would then
    /// exceed the quota (`None`), checked in the same statement as the insert.
    async fn insert_attachment(&self, a: &Attachment, quota: &UploadQuota) -> Result<Option<Attachment>>;
    /// Whether one more upload of `size` bytes fits the uploader's quota now (read before the
    /// file is written; `insert_attachment` checks again).
    async fn upload_fits(&self, user: UserId, size: i64, quota: &UploadQuota) -> Result<bool>;
    async fn get_attachment(&self, id: AttachmentId) -> Result<Option<(Attachment, Option<TicketId>)>>;
}
