//! HTML that may be shown on the timeline: what clients send and mail brings, cleaned by
//! ammonia (no script, no handlers, no styles that load anything), with remote images held
//! back. A remote image is a read receipt for whoever sent it, so its address is kept in
//! `data-remote-src` and loaded only when an agent asks ("show remote images").

/// Where stored files are served: images there are the desk's own.
const ATTACHMENTS: &str = "/api/v1/attachments/";

/// Marks a remote image's address while ammonia cleans; never left in the output.
const HELD: &str = "gongdan-held";

/// Cleans HTML; `inline` maps a `cid:` image's content id to the address of its stored file.
pub fn safe_html(html: &str, inline: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> String {
    let clean = ammonia::Builder::default()
        .add_url_schemes(["cid", "data", HELD])
        // Already held back (HTML cleaned once more after its quoted history is folded).
        .add_tag_attributes("img", ["data-remote-src"])
        .attribute_filter(move |element, attribute, value| {
            let is_data = value.trim_start().get(..5).is_some_and(|p| p.eq_ignore_ascii_case("data:"));
            let lower = value.trim_start().to_ascii_lowercase();
            let remote = lower.starts_with("https://") || lower.starts_with("http://");
            if attribute == "data-remote-src" {
                return remote.then(|| value.into());
            }
            if element == "img" && attribute == "src" {
                if let Some(cid) = value.strip_prefix("cid:") {
                    return inline(cid).map(Into::into);
                }
                if remote {
                    return Some(format!("{HELD}:{}", value.trim_start()).into());
                }
                // An image in the message itself, or a file stored here (cleaned once more on
                // its way into a comment), shows; another scheme (ours forged) does not.
                let own = lower.starts_with(ATTACHMENTS) && !lower.contains("..");
                return (lower.starts_with("data:image/") || own).then(|| value.into());
            }
            // `data:` only for images: a link to one would open a page of the sender's.
            (!is_data).then(|| value.into())
        })
        .clean(html)
        .to_string();
    // The serializer writes every attribute as ` name="value"`, so the mark is found exactly.
    clean.replace(&format!(" src=\"{HELD}:"), " data-remote-src=\"")
}

/// Whether cleaned HTML holds back remote images.
pub fn has_remote_images(html: &str) -> bool {
    html.contains(" data-remote-src=\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn remote_images_are_held_back_and_nothing_runs() {
        let html = r#"<p onclick="x()">Hi<script>alert(1)</script><img src="https://track.example/p.gif?u=1&amp;v=2" alt="logo"><img SRC="http://x.example/a.png"></p>"#;
        let out = safe_html(html, none);
        assert!(!out.contains("script") && !out.contains("onclick"), "{out}");
        assert!(out.contains(r#"data-remote-src="https://track.example/p.gif?u=1&amp;v=2""#), "{out}");
        assert!(out.contains(r#"data-remote-src="http://x.example/a.png""#), "{out}");
        assert!(!out.contains(" src="), "no image loads by itself: {out}");
        assert!(has_remote_images(&out));
    }

    #[test]
    fn inline_and_data_images_show_and_other_schemes_do_not() {
        let inline = |cid: &str| (cid == "logo@x").then(|| "/api/v1/attachments/7".to_owned());
        let out =
            safe_html(r#"<img src="cid:logo@x"><img src="cid:other"><img src="data:image/png;base64,AAAA">"#, inline);
        assert!(out.contains(r#"src="/api/v1/attachments/7""#), "{out}");
        assert!(out.contains(r#"src="data:image/png;base64,AAAA""#), "{out}");
        assert_eq!(out.matches("<img").count(), 3);
        assert_eq!(out.matches(" src=").count(), 2, "the unknown cid loads nothing: {out}");
        let forged =
            safe_html(r#"<img src="gongdan-held:https://x.example/a.png"><img src="javascript:alert(1)">"#, none);
        assert!(!forged.contains("src="), "{forged}");
        assert!(!has_remote_images("<p>plain</p>"));
    }

    #[test]
    fn held_images_stay_held_when_cleaned_again() {
        let once = safe_html(r#"<img src="https://x.example/a.png"><img src="/api/v1/attachments/3">"#, none);
        assert_eq!(safe_html(&once, none), once);
        assert!(once.contains(r#"src="/api/v1/attachments/3""#), "{once}");
        assert!(!safe_html(r#"<img src="/logout">"#, none).contains("src"), "no other path of ours");
        let forged = safe_html(r#"<img data-remote-src="javascript:alert(1)">"#, none);
        assert!(!forged.contains("javascript"), "{forged}");
    }
}
