//! Where a reply's own words end and the history it quotes begins, so the timeline can fold
//! the history behind "•••" (never drop it). Mail programs mark the start in a few ways:
//! `> ` lines, an attribution ("On … wrote:", "在 … 写道："), a separator ("-----Original
//! Message-----", "-----原始邮件-----"), Outlook's line of underscores before its header block,
//! and in HTML a `<blockquote>` or Gmail's quote block.

/// The byte offset in `text` where the quoted history starts, if there is history and some new
/// text before it (a message that is all quote is shown whole).
pub fn text_start(text: &str) -> Option<usize> {
    let mut offset = 0;
    let mut seen_text = false;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
        let starts = line.starts_with('>')
            || attribution(line)
            || separator(line)
            || (line.len() >= 10 && line.chars().all(|c| c == '_') && next.to_ascii_lowercase().starts_with("from:"));
        if starts {
            return seen_text.then_some(offset);
        }
        seen_text |= !line.is_empty();
        offset += raw.len();
    }
    None
}

fn attribution(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    (l.starts_with("on ") && l.ends_with("wrote:"))
        || (line.starts_with('在') && (line.ends_with("写道：") || line.ends_with("写道:")))
        || line.ends_with("寫道：")
}

fn separator(line: &str) -> bool {
    let core = line.trim_matches(|c: char| c == '-' || c.is_whitespace());
    line.starts_with("--")
        && (core.eq_ignore_ascii_case("original message")
            || core == "原始邮件"
            || core == "原始郵件"
            || core == "回复的原邮件")
}

/// The byte offset in sanitised HTML where the quoted history starts: the first
/// `<blockquote>` or Gmail quote block, if new text comes before it.
pub fn html_start(html: &str) -> Option<usize> {
    let lower = html.to_ascii_lowercase();
    let at = ["<blockquote", "<div class=\"gmail_quote", "<div id=\"divrplyfwdmsg", "<div id=\"appendonsend"]
        .iter()
        .filter_map(|m| lower.find(m))
        .min()?;
    let before = html[..at].replace("&nbsp;", " ");
    // Some words of its own first: the text outside tags is not all blank.
    let mut in_tag = false;
    let has_text = before.chars().any(|c| {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag && !c.is_whitespace() && c != '\u{a0}' => return true,
            _ => {}
        }
        false
    });
    has_text.then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_starts_at_the_first_mark_after_new_text() {
        let t = "好的，已收到。\n\n在 2026年3月2日 09:00，张三 写道：\n> 打印机坏了\n";
        assert_eq!(&t[text_start(t).unwrap()..], "在 2026年3月2日 09:00，张三 写道：\n> 打印机坏了\n");
        let t = "Thanks!\nOn Mon, 2 Mar 2026 at 09:00, Li <li@x> wrote:\n> hi\n";
        assert!(t[text_start(t).unwrap()..].starts_with("On Mon"));
        let t = "See below.\n-----Original Message-----\nFrom: a\n";
        assert!(t[text_start(t).unwrap()..].starts_with("-----Original"));
        let t = "OK\n\n________________________________\nFrom: Support <s@x>\nSent: …\n";
        assert!(t[text_start(t).unwrap()..].starts_with("____"));
        let t = "ok\n----- 原始邮件 -----\n发件人: a\n";
        assert!(t[text_start(t).unwrap()..].starts_with("----- 原始邮件"));
    }

    #[test]
    fn all_quote_or_no_quote_folds_nothing() {
        assert_eq!(text_start("> only a quote\n> more\n"), None);
        assert_eq!(text_start("just words\nand more\n"), None);
        assert_eq!(text_start("-- \nsignature dashes are no quote\n"), None);
    }

    #[test]
    fn html_history_is_the_first_blockquote_after_some_text() {
        let h = "<div>已处理</div><div class=\"gmail_quote\">On … wrote:<blockquote>old</blockquote></div>";
        assert!(h[html_start(h).unwrap()..].starts_with("<div class=\"gmail_quote\""));
        assert_eq!(html_start("<p>&nbsp;</p><blockquote>all old</blockquote>"), None, "a blank is no text");
        assert_eq!(html_start("<p> </p><blockquote>all old</blockquote>"), None);
        assert_eq!(html_start("<p>no quote</p>"), None);
    }
}
