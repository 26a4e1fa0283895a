//! HTML by hand: every value that did not come from this file goes through [`esc`]. Callers'
//! names, call summaries, forwarded texts and the owner's own settings are all treated as hostile.
//! Every attribute is double-quoted, so escaping `"` is enough inside one; `'` is escaped too.

use std::fmt::Write;

/// Escapes text for an HTML element body or a double-quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters (other than tab and newlines) have no business in a page.
            c if c.is_control() && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A `tel:` link for a number already validated as E.164 (`+` and digits); anything else gives
/// plain escaped text, never a link.
pub fn tel_link(number: &str) -> String {
    let valid = number.starts_with('+')
        && number.len() > 1
        && number[1..].bytes().all(|b| b.is_ascii_digit());
    if valid {
        format!(
            "<a class=\"tel\" href=\"tel:{n}\">Call {n}</a>",
            n = esc(number)
        )
    } else {
        esc(number)
    }
}

/// The screens in the navigation bar: (path, label).
const NAV: &[(&str, &str)] = &[
    ("/app", "Today"),
    ("/app/leads", "Hot leads"),
    ("/app/appointments", "Appointments"),
    ("/app/waitlist", "Waitlist"),
    ("/app/messages", "Messages"),
    ("/app/calls", "Calls"),
    ("/app/reports", "Reports"),
    ("/app/settings", "Settings"),
];

/// What every signed-in page needs to render its frame.
pub struct Frame<'a> {
    pub clinic: &'a str,
    pub csrf: &'a str,
    /// The current screen's path, to mark it in the navigation.
    pub active: &'a str,
}

/// A whole page. `body` is already-escaped HTML.
pub fn page(title: &str, frame: Option<&Frame<'_>>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"htmx-config\" content=\"{config}\">\
         <title>{title}</title>\
         <link rel=\"stylesheet\" href=\"/app/static/app.css\">\
         <script src=\"/app/static/htmx.min.js\" defer></script>\
         <script src=\"/app/static/app.js\" defer></script>\
         </head><body>",
        config =
            esc(r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}"#),
        title = esc(title),
    );
    if let Some(f) = frame {
        let _ = write!(
            out,
            "<header><div class=\"brand\">{clinic}</div><nav>",
            clinic = esc(f.clinic)
        );
        for (path, label) in NAV {
            let current = if *path == f.active {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(out, "<a href=\"{path}\"{current}>{label}</a>");
        }
        let _ = write!(
            out,
            "</nav><form method=\"post\" action=\"/app/logout\" class=\"logout\">{}\
             <button type=\"submit\">Sign out</button></form></header>",
            csrf_field(f.csrf)
        );
    }
    let _ = write!(out, "<main>{body}</main></body></html>");
    out
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// A notice at the top of a page: `kind` is "ok" or "error".
pub fn notice(kind: &str, text: &str) -> String {
    let kind = if kind == "ok" { "ok" } else { "error" };
    format!(
        "<p class=\"notice {kind}\" role=\"status\">{}</p>",
        esc(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_inert() {
        let evil = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>&amp;";
        let out = esc(evil);
        assert!(!out.contains('<'));
        assert!(!out.contains('>'));
        assert!(!out.contains('"'));
        assert!(!out.contains('\''));
        assert_eq!(
            out,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;amp;"
        );
        assert_eq!(esc("Café ☕ 10:00"), "Café ☕ 10:00");
        assert_eq!(esc("a\u{0}b"), "a\u{FFFD}b");
    }

    #[test]
    fn only_numbers_become_tel_links() {
        assert_eq!(
            tel_link("+15551234567"),
            "<a class=\"tel\" href=\"tel:+15551234567\">Call +15551234567</a>"
        );
        assert_eq!(tel_link("javascript:alert(1)"), "javascript:alert(1)");
        assert_eq!(tel_link("+1\"><b>"), "+1&quot;&gt;&lt;b&gt;");
    }

    #[test]
    fn the_page_frame_escapes_the_clinic_name() {
        let html = page(
            "Today <x>",
            Some(&Frame {
                clinic: "<b>Evil</b> Dental",
                csrf: "tok\"en",
                active: "/app",
            }),
            "<p>body</p>",
        );
        assert!(html.contains("&lt;b&gt;Evil&lt;/b&gt; Dental"));
        assert!(html.contains("<title>Today &lt;x&gt;</title>"));
        assert!(html.contains("value=\"tok&quot;en\""));
        assert!(html.contains("<a href=\"/app\" aria-current=\"page\">Today</a>"));
        assert!(!html.contains("<script>"), "no inline script");
        assert!(!html.contains("style="), "no inline style");
    }
}
