//! Proof of an address by mail: a link with a secret, mailed to the address, opened once. Three
//! purposes: confirming a new portal account's address, claiming an account the desk already
//! made for an address (its tickets came by mail, say) by setting a password, and signing in
//! without a password. The rules here are pure; making, mailing and storing links is the core's.
//!
//! Whoever opens a link holds the mailbox, and only that person gains by it: a confirmation
//! counts only in a session of its own account (a stranger who signed up with someone else's
//! address cannot have that person confirm it for them by clicking), and a claim's password is
//! chosen on the link's page, never at the sign-up that mailed it.

use jiff::{SignedDuration, Timestamp};

use crate::ids::UserId;
use crate::people::Language;
use crate::str_enum;

str_enum!(
    /// What opening a link does.
    Purpose { Verify = "verify", Claim = "claim", SignIn = "sign_in" }
);

impl Purpose {
    /// How long a link stays good: a sign-in link briefly, since it opens a session by itself.
    pub fn lifetime(self) -> SignedDuration {
        match self {
            Purpose::Verify => SignedDuration::from_hours(7 * 24),
            Purpose::Claim => SignedDuration::from_hours(24),
            Purpose::SignIn => SignedDuration::from_mins(15),
        }
    }

    /// The mail that carries the link, in the reader's language: (subject, text).
    pub fn mail(self, language: Language, desk: &str, link: &str) -> (String, String) {
        let mins = self.lifetime().as_mins();
        let hours = self.lifetime().as_hours();
        // A week reads as days, a day as hours.
        let span = match (hours % 24 == 0 && hours > 24, language) {
            (true, Language::ZhCn) => format!("{} 天", hours / 24),
            (true, Language::En) => format!("{} days", hours / 24),
            (false, Language::ZhCn) => format!("{hours} 小时"),
            (false, Language::En) => format!("{hours} hours"),
        };
        match (self, language) {
            (Purpose::Verify, Language::ZhCn) => (
                format!("请确认您在 {desk} 的邮箱地址"),
                format!(
                    "您好：\n\n请打开下面的链接，确认这是您的邮箱地址（{span}内有效）：\n\n{link}\n\n如果您没有在 {desk} 注册，请忽略本邮件。"
                ),
            ),
            (Purpose::Verify, Language::En) => (
                format!("Confirm your address at {desk}"),
                format!(
                    "Hello,\n\nOpen this link to confirm that this address is yours (good for {span}):\n\n{link}\n\nIf you did not sign up at {desk}, ignore this mail."
                ),
            ),
            (Purpose::Claim, Language::ZhCn) => (
                format!("完成您在 {desk} 的注册"),
                format!(
                    "您好：\n\n{desk} 已有此邮箱的账户（您曾来信咨询）。打开下面的链接即可为它设置密码并登录（{span}内有效）：\n\n{link}\n\n如果不是您本人操作，请忽略本邮件，账户不会有任何改变。"
                ),
            ),
            (Purpose::Claim, Language::En) => (
                format!("Finish signing up at {desk}"),
                format!(
                    "Hello,\n\n{desk} already has an account for this address (you have written to it before). Open this link to set its password and sign in (good for {span}):\n\n{link}\n\nIf this was not you, ignore this mail: nothing changes."
                ),
            ),
            (Purpose::SignIn, Language::ZhCn) => (
                format!("登录 {desk}"),
                format!(
                    "您好：\n\n打开下面的链接即可登录 {desk}（{mins} 分钟内有效，只能使用一次）：\n\n{link}\n\n如果不是您本人操作，请忽略本邮件。"
                ),
            ),
            (Purpose::SignIn, Language::En) => (
                format!("Sign in to {desk}"),
                format!(
                    "Hello,\n\nOpen this link to sign in to {desk} (good for {mins} minutes, once):\n\n{link}\n\nIf this was not you, ignore this mail."
                ),
            ),
        }
    }
}

/// A link as stored (its secret is not: only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: i64,
    pub purpose: Purpose,
    pub user_id: UserId,
    /// The address it was mailed to.
    pub email: String,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// Why a link does not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this link has been used")]
    Used,
    #[error("this link has expired")]
    Expired,
    /// The account's address changed (or the account was switched off) after it was mailed.
    #[error("this link is for an address the account no longer has")]
    Stale,
    /// A confirmation opened outside a session of its account.
    #[error("sign in to the account this link confirms, then open it again")]
    SignInFirst,
}

/// Whether a link may be opened now by the account as it is (`current` is its address; `None`
/// when the account is gone or switched off).
pub fn check(link: &Link, now: Timestamp, current: Option<&str>) -> Result<(), Refused> {
    if link.used_at.is_some() {
        return Err(Refused::Used);
    }
    if now >= link.expires_at {
        return Err(Refused::Expired);
    }
    if current != Some(link.email.as_str()) {
        return Err(Refused::Stale);
    }
    Ok(())
}

/// Whether the person opening a link (signed in as `opener`, or not) may: a confirmation only
/// in a session of its own account.
pub fn may_open(link: &Link, opener: Option<UserId>) -> Result<(), Refused> {
    match link.purpose {
        Purpose::Verify if opener != Some(link.user_id) => Err(Refused::SignInFirst),
        _ => Ok(()),
    }
}

/// Sign-in links mailed to one address within the hour at most: more would let anyone flood a
/// stranger's inbox from the login page.
pub const LINKS_PER_HOUR: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn link(purpose: Purpose) -> Link {
        Link {
            id: 1,
            purpose,
            user_id: UserId(7),
            email: "li@example.com".into(),
            expires_at: at(0) + purpose.lifetime(),
            used_at: None,
            created_at: at(0),
        }
    }

    #[test]
    fn a_link_opens_once_before_it_expires_for_the_address_it_was_sent_to() {
        let l = link(Purpose::SignIn);
        assert_eq!(check(&l, at(60), Some("li@example.com")), Ok(()));
        assert_eq!(check(&l, at(15 * 60), Some("li@example.com")), Err(Refused::Expired), "15 minutes and no more");
        assert_eq!(check(&l, at(60), Some("new@example.com")), Err(Refused::Stale));
        assert_eq!(check(&l, at(60), None), Err(Refused::Stale));
        let used = Link { used_at: Some(at(30)), ..l };
        assert_eq!(check(&used, at(60), Some("li@example.com")), Err(Refused::Used));
        assert_eq!(check(&link(Purpose::Verify), at(6 * 24 * 3600), Some("li@example.com")), Ok(()));
    }

    #[test]
    fn a_confirmation_counts_only_in_its_own_accounts_session() {
        let v = link(Purpose::Verify);
        assert_eq!(may_open(&v, Some(UserId(7))), Ok(()));
        assert_eq!(may_open(&v, None), Err(Refused::SignInFirst));
        assert_eq!(may_open(&v, Some(UserId(8))), Err(Refused::SignInFirst));
        assert_eq!(may_open(&link(Purpose::SignIn), None), Ok(()));
        assert_eq!(may_open(&link(Purpose::Claim), None), Ok(()));
    }

    #[test]
    fn the_mail_carries_the_link_in_the_readers_language() {
        for p in [Purpose::Verify, Purpose::Claim, Purpose::SignIn] {
            for lang in [Language::ZhCn, Language::En] {
                let (subject, text) = p.mail(lang, "Acme", "https://help.acme.test/l/abc");
                assert!(subject.contains("Acme") && text.contains("https://help.acme.test/l/abc"), "{p:?} {lang:?}");
            }
        }
        assert!(Purpose::SignIn.mail(Language::ZhCn, "Acme", "x").1.contains("15 分钟"));
        assert!(Purpose::Verify.mail(Language::En, "Acme", "x").1.contains("good for 7 days"));
        assert!(Purpose::Verify.mail(Language::ZhCn, "Acme", "x").1.contains("（7 天内有效）"));
        assert!(Purpose::Claim.mail(Language::En, "Acme", "x").1.contains("good for 24 hours"));
    }
}
