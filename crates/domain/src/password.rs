//! What a password must be: long enough, not one of the passwords everyone tries first, and not
//! made from what an attacker already knows about the account (its email, its name).
//! A length rule alone accepts `password`, `12345678` and eight spaces.

use crate::Code;
use crate::DomainError;

pub const MIN_CHARS: usize = 8;
pub const MAX_BYTES: usize = 1024;

/// Passwords that lead every breach list and guessing dictionary, in English and Chinese use
/// (pinyin, lucky numbers, dates spelled as digits are caught by the rules below). Compared
/// after lower-casing and dropping a trailing run of digits and symbols, so `Password123!` is
/// `password`.
const COMMON: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssword",
    "p@ssw0rd",
    "pass",
    "passwort",
    "motdepasse",
    "contrasena",
    "qwerty",
    "qwertyuiop",
    "qwertz",
    "azerty",
    "asdf",
    "asdfgh",
    "asdfghjkl",
    "zxcvbn",
    "zxcvbnm",
    "qazwsx",
    "qweasd",
    "qweasdzxc",
    "1qaz2wsx",
    "1q2w3e4r",
    "1q2w3e",
    "q1w2e3r4",
    "abc",
    "abcd",
    "abcdef",
    "abcdefg",
    "abcdefgh",
    "abc123",
    "a1b2c3",
    "aaaaaa",
    "iloveyou",
    "iloveu",
    "loveyou",
    "lovely",
    "love",
    "letmein",
    "welcome",
    "welcome1",
    "admin",
    "administrator",
    "root",
    "toor",
    "login",
    "master",
    "monkey",
    "dragon",
    "shadow",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "basketball",
    "soccer",
    "superman",
    "batman",
    "starwars",
    "trustno",
    "whatever",
    "freedom",
    "hello",
    "hellokitty",
    "secret",
    "changeme",
    "default",
    "guest",
    "test",
    "tester",
    "testing",
    "user",
    "demo",
    "sample",
    "michael",
    "jennifer",
    "jordan",
    "hunter",
    "ranger",
    "buster",
    "thomas",
    "robert",
    "charlie",
    "daniel",
    "andrew",
    "ashley",
    "jessica",
    "pepper",
    "ginger",
    "cookie",
    "cheese",
    "summer",
    "winter",
    "spring",
    "autumn",
    "flower",
    "computer",
    "internet",
    "google",
    "yahoo",
    "microsoft",
    "apple",
    "samsung",
    "huawei",
    "xiaomi",
    "tencent",
    "alibaba",
    "baidu",
    "wechat",
    "weixin",
    "qq",
    "taobao",
    "woaini",
    "woaini1314",
    "woaiwojia",
    "wodemima",
    "mima",
    "mimamima",
    "zhangwei",
    "wangwei",
    "liming",
    "nihao",
    "nihaoma",
    "zhongguo",
    "beijing",
    "shanghai",
    "shenzhen",
    "guangzhou",
    "china",
    "chinese",
    "aini",
    "aiai",
    "haha",
    "hehe",
    "xixi",
    "caonima",
    "wocao",
    "shabi",
    "laopo",
    "laogong",
    "baobei",
    "qwe",
    "asd",
    "zxc",
    "qaz",
    "wsx",
    "killer",
    "matrix",
    "mustang",
    "access",
    "zaq",
    "zaq1xsw2",
    "helpdesk",
    "support",
    "service",
    "customer",
    "company",
    "office",
    "ticket",
    "gongdan",
    "kefu",
    "desk",
    "server",
    "database",
    "system",
    "manager",
    "supervisor",
    "agent",
    "private",
    "public",
    "network",
    "wifi",
];

/// Refuses weak passwords with a message that says which rule; `context` is what the account
/// is known by (its email, its name), which a password may not be built from.
pub fn check(password: &str, context: &[&str]) -> Result<(), DomainError> {
    let weak = |why: &str| DomainError::invalid("password", Code::WeakPassword, why.to_owned());
    if password.chars().count() < MIN_CHARS {
        return Err(DomainError::invalid("password", Code::TooShort, format!("at least {MIN_CHARS} characters")));
    }
    if password.len() > MAX_BYTES {
        return Err(DomainError::invalid("password", Code::TooLong, format!("at most {MAX_BYTES} bytes")));
    }
    let lower = password.to_lowercase();
    if lower.trim().is_empty() {
        return Err(weak("a password cannot be only spaces"));
    }
    let distinct = {
        let mut c: Vec<char> = lower.chars().collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    };
    if distinct < 4 {
        return Err(weak("too few different characters"));
    }
    if is_run(&lower) {
        return Err(weak("a sequence like 12345678 or abcdefgh is guessed first"));
    }
    let base = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ');
    let base = base.trim_start_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    if base.is_empty() && lower.chars().all(|c| c.is_ascii_digit()) && lower.len() < 12 {
        return Err(weak("a number this short is guessed quickly; use at least 12 digits or add letters"));
    }
    if COMMON.contains(&base) || (is_run(base) && base.len() >= 3) {
        return Err(weak("this password is among the first ones attackers try"));
    }
    for c in context {
        let c = c.trim().to_lowercase();
        let mut parts = vec![c.clone()];
        if let Some((local, domain)) = c.split_once('@') {
            parts.push(local.to_owned());
            parts.extend(domain.split('.').filter(|p| p.len() >= 4).map(str::to_owned));
        }
        parts.extend(c.split(|ch: char| !ch.is_alphanumeric()).filter(|p| p.chars().count() >= 4).map(str::to_owned));
        // Equal to a part, or containing a long one (a short one like `chen` may be chance).
        let from = |p: &String| {
            let n = p.chars().count();
            (n >= 3 && (base == *p || lower == *p)) || (n >= 6 && lower.contains(p.as_str()))
        };
        if parts.iter().any(from) {
            return Err(weak("a password may not be made from your email or name"));
        }
    }
    Ok(())
}

/// A run of consecutive characters, up or down (`12345678`, `abcdef`, `98765`), or one block
/// repeated (`abcabcabc`, `12121212`).
fn is_run(s: &str) -> bool {
    let c: Vec<u32> = s.chars().map(u32::from).collect();
    if c.len() < 3 {
        return false;
    }
    let up = c.windows(2).all(|w| w[1] == w[0] + 1);
    let down = c.windows(2).all(|w| w[0] == w[1] + 1);
    let repeated = (1..=c.len() / 2).any(|n| c.len().is_multiple_of(n) && c.chunks(n).all(|ch| ch == &c[..n]));
    up || down || repeated
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn refuses_what_attackers_try_first() {
        for p in [
            "password",
            "Password1",
            "P@ssw0rd!",
            "12345678",
            "87654321",
            "        ",
            "aaaaaaaa",
            "abcdefgh",
            "11111111",
            "12121212",
            "qwertyuiop",
            "woaini1314",
            "abcabcabc",
            "1234567890",
        ] {
            let e = check(p, &[]).err().unwrap_or_else(|| panic!("{p:?} was accepted"));
            assert_eq!(e.field(), Some("password"), "{p:?}");
        }
        assert_eq!(check("short", &[]).err().map(|e| e.code()), Some("too_short"));
    }

    #[test]
    fn refuses_the_account_itself() {
        let ctx = ["li.lei@example.com", "李雷 Li Lei"];
        for p in ["li.lei@example.com", "li.lei2024", "LiLei!li.lei", "example2024"] {
            assert!(check(p, &ctx).is_err(), "{p:?} was accepted");
        }
    }

    #[test]
    fn accepts_real_passwords() {
        for p in ["correct horse battery", "Tr0ub4dor&3x", "蓝色的打印机坏了两次", "k9#mWq2!vL", "183749205716"]
        {
            assert!(check(p, &["li.lei@example.com"]).is_ok(), "{p:?} was refused");
        }
    }
}
