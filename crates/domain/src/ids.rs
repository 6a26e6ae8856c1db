//! Newtype ids, so a `UserId` never lands where a `TicketId` belongs.

macro_rules! id_type {
    ($($name:ident),+ $(,)?) => {$(
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

id_type!(
    TicketId,
    UserId,
    OrganizationId,
    GroupId,
    CategoryId,
    StatusId,
    FieldId,
    FormId,
    CommentId,
    AttachmentId,
    EventId,
    LinkId,
    TokenId,
    MailboxId,
);

/// The author of what rules write (internal notes): user 0, a row that never signs in and
/// that no list shows (ids of people start at 1).
pub const SYSTEM_USER: UserId = UserId(0);
