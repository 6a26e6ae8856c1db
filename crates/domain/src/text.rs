//! Characters people cannot see: zero-width spaces and joiners, the byte-order mark, soft
//! hyphens and the bidirectional controls that reorder what is shown (`admin\u{202e}nimda`).
//! In a name or tag they make two values look the same or one look like another, so they are
//! dropped there; in an email address they are refused.

/// Whether `c` is an invisible formatting or bidirectional control character.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{034f}'
            | '\u{061c}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// `s` without invisible characters.
pub fn strip_invisible(s: &str) -> String {
    s.chars().filter(|c| !is_invisible(*c)).collect()
}

pub fn has_invisible(s: &str) -> bool {
    s.chars().any(is_invisible)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_found_and_dropped() {
        assert_eq!(strip_invisible("王\u{200b}芳\u{202e}"), "王芳");
        assert_eq!(strip_invisible("\u{feff}vip\u{2066}"), "vip");
        assert!(has_invisible("a\u{200d}b@example.com"));
        assert!(!has_invisible("李雷 Li Lei-O'Neil"));
    }
}
