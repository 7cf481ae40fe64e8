//! Keeps the quick starts true to the example code they show.
// A test kit: a failed step is a panic, as in a test.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

/// Asserts that `code` appears verbatim in `source`: in the text of its
/// `//!` doc comments (prefix removed) for a Rust file, in the text itself
/// for Markdown. The example crates call it on their own source, so a
/// quick start cannot drift from the code its test runs.
///
/// # Panics
/// When `code` is not there, showing the first line that differs.
pub fn quick_start_shows(source: &str, code: &str) {
    let doc_lines: Vec<&str> = source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let text = if doc_lines.is_empty() {
        source.to_owned()
    } else {
        doc_lines.join("\n")
    };
    let code = code.trim_end();
    if text.contains(code) {
        return;
    }
    let first = code.lines().next().unwrap_or("");
    let shown: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != first)
        .take(code.lines().count())
        .collect();
    let differs = code
        .lines()
        .zip(shown.iter().chain(std::iter::repeat(&"<missing>")))
        .find(|(a, b)| a != *b);
    panic!("the quick start does not show this code; first difference: {differs:?}");
}

#[cfg(test)]
mod tests {
    use super::quick_start_shows;

    #[test]
    fn finds_code_in_doc_comments_and_markdown() {
        let rust = "//! Intro\n//! ```\n//! fn a() {}\n//!\n//! fn b() {}\n//! ```\nfn x() {}";
        quick_start_shows(rust, "fn a() {}\n\nfn b() {}\n");
        quick_start_shows("# T\n```rust\nfn a() {}\n```\n", "fn a() {}");
    }

    #[test]
    #[should_panic(expected = "first difference")]
    fn a_changed_line_fails() {
        quick_start_shows("//! fn a() {}\n//! fn b() {}", "fn a() {}\nfn c() {}");
    }
}
