//! Attachment content on local disk, addressed by SHA-256 so identical files are kept once.
//! Files are written to a temporary name and renamed, so a crash never leaves half a file
//! under a real address.

use gongdan_domain::Code;
use std::path::PathBuf;

use gongdan_domain::DomainError;
use gongdan_domain::access::Principal;
use gongdan_domain::conversation::Attachment;
use gongdan_domain::ids::AttachmentId;

use gongdan_store::UploadQuota;
use jiff::SignedDuration;

use crate::auth::{random_secret, sha256_hex};
use crate::{App, CoreError, Result};

/// Uploads a user may have waiting unattached over a day, and their total in file limits.
pub const UNATTACHED_FILES: i64 = 50;
pub const UNATTACHED_LIMITS: u64 = 5;

fn sanitize_filename(name: &str) -> Result<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.is_empty() || clean == "." || clean == ".." {
        return Err(DomainError::invalid("filename", Code::InvalidValue, "a file name is required").into());
    }
    Ok(clean)
}

impl App {
    pub(crate) fn blob_path(&self, sha: &str) -> PathBuf {
        let (a, b) = (sha.get(0..2).unwrap_or("00"), sha.get(2..4).unwrap_or("00"));
        self.settings.data_dir.join("attachments").join(a).join(b).join(sha)
    }

    /// Stores an upload; it is attached to a comment later by the same user.
    pub async fn upload(
        &self,
        actor: &Principal,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<Attachment> {
        self.store_file(actor, filename, content_type, bytes, true).await
    }

    /// A file a use case attaches itself right away (a mail's parts): the size limit holds,
    /// the quota on files left waiting does not (they do not wait).
    pub(crate) async fn upload_attached(
        &self,
        actor: &Principal,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<Attachment> {
        self.store_file(actor, filename, content_type, bytes, false).await
    }

    async fn store_file(
        &self,
        actor: &Principal,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
        waits: bool,
    ) -> Result<Attachment> {
        let filename = sanitize_filename(filename)?;
        let limit = self.attachment_limit().await?;
        if bytes.len() as u64 > limit {
            return Err(CoreError::TooLarge { limit });
        }
        // Uploads not yet attached to anything, per uploader and day: one user cannot fill the
        // disk through the upload endpoint.
        let now = self.now();
        let quota = UploadQuota {
            since: now.checked_sub(SignedDuration::from_hours(24)).unwrap_or(now),
            files: if waits { UNATTACHED_FILES } else { i64::MAX },
            bytes: if waits {
                i64::try_from(limit.saturating_mul(UNATTACHED_LIMITS)).unwrap_or(i64::MAX)
            } else {
                i64::MAX
            },
        };
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let refused = || {
            CoreError::QuotaExceeded(format!(
                "at most {UNATTACHED_FILES} files or {UNATTACHED_LIMITS} times the file limit may wait unattached per day"
            ))
        };
        // Before the file touches the disk; the insert checks again for uploads racing this one.
        if !self.store.upload_fits(actor.user_id, size, &quota).await? {
            return Err(refused());
        }
        let sha = sha256_hex(bytes);
        let path = self.blob_path(&sha);
        if tokio::fs::metadata(&path).await.is_err() {
            let dir = path.parent().map(PathBuf::from).unwrap_or_default();
            tokio::fs::create_dir_all(&dir).await.map_err(|e| CoreError::Internal(format!("attachment dir: {e}")))?;
            let tmp = dir.join(format!(".{}.tmp", random_secret()?));
            // Not `tokio::fs::write`, which copies the whole file into a buffer of its own first.
            let write = async {
                use tokio::io::AsyncWriteExt;
                let mut f = tokio::fs::File::create(&tmp).await?;
                f.write_all(bytes).await?;
                f.flush().await
            };
            write.await.map_err(|e| CoreError::Internal(format!("attachment write: {e}")))?;
            tokio::fs::rename(&tmp, &path).await.map_err(|e| CoreError::Internal(format!("attachment rename: {e}")))?;
        }
        let content_type =
            if content_type.trim().is_empty() { "application/octet-stream" } else { content_type.trim() };
        let a = Attachment {
            id: AttachmentId(0),
            sha256: sha,
            filename,
            content_type: content_type.chars().take(100).collect(),
            size,
            uploader_id: actor.user_id,
            comment_id: None,
            created_at: now,
        };
        self.store.insert_attachment(&a, &quota).await?.ok_or_else(refused)
    }

    /// An attachment's metadata and bytes, if the caller may see it: its uploader, or anyone
    /// who may see the comment it belongs to.
    pub async fn download(&self, actor: &Principal, id: AttachmentId) -> Result<(Attachment, Vec<u8>)> {
        let (a, ticket) = self.store.get_attachment(id).await?.ok_or(CoreError::NotFound("attachment"))?;
        let visible = if a.uploader_id == actor.user_id {
            true
        } else if let (Some(ticket), Some(comment)) = (ticket, a.comment_id) {
            let t = self.store.get_ticket(ticket).await?;
            let c = self.store.get_comment(comment).await?;
            t.is_some_and(|t| actor.can_view(&t)) && c.is_some_and(|c| c.public || actor.is_staff())
        } else {
            false
        };
        if !visible {
            return Err(CoreError::NotFound("attachment"));
        }
        let bytes = tokio::fs::read(self.blob_path(&a.sha256))
            .await
            .map_err(|e| CoreError::Internal(format!("attachment read: {e}")))?;
        Ok((a, bytes))
    }
}
