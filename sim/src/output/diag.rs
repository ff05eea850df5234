//! How the CLI shows an error at a position of a text file: rustc's layout, through the
//! annotate-snippets crate (the renderer rustc uses).
//!
//! ```text
//! error: Unexpected field named `corez` in `ClusterConfig`, expected one of ...
//!  --> c.ron:3:5
//!   |
//! 3 |     corez: 2,
//!   |     ^^^^^
//!   |
//!   = hint: remove or rename the field; allowed here: ...
//! ```
//!
//! The models crate owns the data ([`SourceError`]: file, line, column, length, message, hint,
//! the line's text, as the parser reported them); this module owns showing it: the terminal's
//! width ([`DEFAULT_WIDTH`] when unknown), colours, and the two steps the crate does not do
//! itself:
//! - [`sanitise`]: C1 control characters (U+0080..U+009F, e.g. the one-byte CSI that starts a
//!   terminal escape) and bidirectional marks, embeddings, overrides and isolates (which would
//!   reorder the line on screen) become U+FFFD before the crate sees any text. In the source
//!   line the crate itself shows a tab as 4 spaces and C0 control characters and DEL as their
//!   control pictures (`␛`), measures wide characters (CJK, emoji) as 2 columns, and cuts a
//!   line wider than the terminal around the column with `...`; the file name, message and
//!   hint go through its `normalize_untrusted_str` for the same pictures.
//! - [`byte_span`]: the parser counts characters on a line; the crate takes byte offsets.
//!
//! The header names `file:line:column` as the parser reported them. A column past the end of
//! the line (a line past the end of the file shows empty) is reached by padding the shown
//! line with blanks (up to 4096), so the caret and the header's column stay the parser's. A
//! CRLF line's `\r` is not part of [`SourceError::source_line`].

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use hetsim_models::diag::SourceError;
use std::ops::Range;

/// The width in columns excerpts are cut to when the terminal's is unknown (stderr is not a
/// terminal and `COLUMNS` is not set).
pub const DEFAULT_WIDTH: usize = 100;

/// Most blanks added to reach a column past the end of the line. The RON parser never reports
/// a column more than one past the end; a column further out than this (from other code) is
/// shown, caret and header, at the end of the padding.
const MAX_PAD: usize = 4096;

/// `e` as rustc shows an error, the source line cut to `width` columns (0: [`DEFAULT_WIDTH`];
/// the message, location and hint lines are not cut); with ANSI colours when `styled`. No
/// trailing newline.
pub fn render(e: &SourceError, width: usize, styled: bool) -> String {
    let mut text = sanitise(&e.source_line);
    let column = e.column.max(1);
    let pad = (column - 1)
        .saturating_sub(text.chars().count())
        .min(MAX_PAD);
    text.extend(std::iter::repeat_n(' ', pad));
    let span = byte_span(&text, column, e.len);
    // The crate shows the source line's C0 controls as pictures itself, but not those of a
    // path or a message.
    let plain = |s: &str| annotate_snippets::normalize_untrusted_str(&sanitise(s));
    let mut group = Level::ERROR.primary_title(plain(&e.message)).element(
        Snippet::source(text)
            .line_start(e.line)
            .path(plain(&e.origin))
            .annotation(AnnotationKind::Primary.span(span)),
    );
    if let Some(h) = &e.hint {
        group = group.element(Level::HELP.with_name("hint").message(plain(h)));
    }
    let renderer = if styled {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let width = if width == 0 { DEFAULT_WIDTH } else { width };
    renderer.term_width(width).render(&[group])
}

/// `s` with every C1 control character (U+0080..=U+009F) and every bidirectional formatting
/// character (the marks U+061C, U+200E, U+200F; the embeddings and overrides
/// U+202A..=U+202E; the isolates U+2066..=U+2069) replaced by U+FFFD, one character for one,
/// so character columns stay where they were. A C1 control can start a terminal escape; a
/// bidirectional character reorders what the terminal shows, so the line on screen would not
/// be the line in the file.
pub fn sanitise(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{80}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// The byte range of `line` that covers `len` characters from the 1-based character `column`
/// (0 is taken as 1), as annotate-snippets takes it; both ends stop at the end of the line.
pub fn byte_span(line: &str, column: usize, len: usize) -> Range<usize> {
    let byte = |n: usize| line.char_indices().nth(n).map_or(line.len(), |(i, _)| i);
    let first = column.saturating_sub(1);
    byte(first)..byte(first.saturating_add(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str, line: usize, column: usize) -> SourceError {
        SourceError::new("f.ron", text, line, column, "bad")
    }

    /// The expected rendering of an error on line 1..=9 without a hint: header, gutter, the
    /// `shown` line and `caret` after `blanks` blanks.
    fn expect(line: usize, column: usize, shown: &str, blanks: usize, caret: &str) -> String {
        let pad = if shown.is_empty() { "" } else { " " };
        format!(
            "error: bad\n --> f.ron:{line}:{column}\n  |\n{line} |{pad}{shown}\n  | {}{caret}",
            " ".repeat(blanks)
        )
    }

    #[test]
    fn header_line_caret_and_hint() {
        let mut e = at("(\n    corez: 2,\n)\n", 2, 5).with_hint("rename it");
        e.len = 5;
        assert_eq!(
            render(&e, 80, false),
            "error: bad\n --> f.ron:2:5\n  |\n2 |     corez: 2,\n  |     ^^^^^\n  |\n  = hint: \
             rename it"
        );
        // Two-digit line numbers widen the gutter.
        let text = format!("{}x: 1\n", "\n".repeat(11));
        assert_eq!(
            render(&at(&text, 12, 1), 80, false),
            "error: bad\n  --> f.ron:12:1\n   |\n12 | x: 1\n   | ^"
        );
    }

    #[test]
    fn tabs_are_four_columns() {
        // Column 3 is the `r` after two tabs: 8 columns in.
        assert_eq!(
            render(&at("\t\trows: 0", 1, 3), 80, false),
            expect(1, 3, "        rows: 0", 8, "^")
        );
        // A tab after text is 4 columns too (not to the next tab stop): `c` is 6 columns in.
        assert_eq!(
            render(&at("ab\tc", 1, 4), 80, false),
            expect(1, 4, "ab    c", 6, "^")
        );
    }

    #[test]
    fn crlf_is_not_part_of_the_line() {
        let text = "(\r\n  rows: x,\r\n)\r\n";
        assert_eq!(
            render(&at(text, 2, 9), 80, false),
            expect(2, 9, "  rows: x,", 8, "^")
        );
        // At the end of a CRLF line the caret follows the last character.
        assert_eq!(
            render(&at(text, 2, 11), 80, false),
            expect(2, 11, "  rows: x,", 10, "^")
        );
        // A lone `\r` inside a line is a control character: shown as a picture.
        assert_eq!(
            render(&at("a\rb", 1, 3), 80, false),
            expect(1, 3, "a␍b", 2, "^")
        );
    }

    #[test]
    fn column_past_the_end_of_the_line() {
        // One past the end (where RON reports a missing comma at the end of the file).
        assert_eq!(
            render(&at("(rows: 1", 1, 9), 80, false),
            expect(1, 9, "(rows: 1", 8, "^")
        );
        // Further past: the header keeps the column, the caret stands under it.
        let shown = format!("ab{}", " ".repeat(37));
        assert_eq!(
            render(&at("ab", 1, 40), 80, false),
            expect(1, 40, &shown, 39, "^")
        );
        // Past the padding limit (never from RON): the caret and the header stop at the end of
        // the padding; no huge line, no overflow.
        let r = render(&at("ab", 1, usize::MAX), 80, false);
        assert!(r.contains(&format!("f.ron:1:{}", 2 + MAX_PAD + 1)), "{r}");
        assert!(r.len() < 400, "{r}");
    }

    #[test]
    fn empty_file_and_line_past_the_end() {
        assert_eq!(render(&at("", 1, 1), 80, false), expect(1, 1, "", 0, "^"));
        // After the final newline (an unexpected end of file).
        assert_eq!(
            render(&at("(\n  rows: 1,\n", 3, 1), 80, false),
            expect(3, 1, "", 0, "^")
        );
        // A line number past the end of a file without a final newline.
        assert_eq!(render(&at("(", 7, 2), 80, false), expect(7, 2, " ", 1, "^"));
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = "abcdefghijklmnopqrstuvwxyz0123456789";
        // Near the start: the start of the line, then "...".
        assert_eq!(
            render(&at(line, 1, 3), 30, false),
            expect(1, 3, "abcdefghijklmnopqrstuvw...", 2, "^")
        );
        // Past the end: "..." and the end of the line, the caret after it.
        assert_eq!(
            render(&at(line, 1, 37), 30, false),
            expect(1, 37, "...123456789", 12, "^")
        );
        // A name far into a long line: "..." on both sides, the caret under the name.
        let long = format!("{}corez: 2{}", "x".repeat(300), "y".repeat(300));
        let mut e = at(&long, 1, 301);
        e.len = 5;
        let r = render(&e, 40, false);
        let lines: Vec<&str> = r.lines().collect();
        assert_eq!(lines[1], " --> f.ron:1:301");
        let (shown, caret) = (lines[3], lines[4]);
        assert!(
            shown.starts_with("1 | ...") && shown.ends_with("..."),
            "{r}"
        );
        assert!(shown.chars().count() <= 40, "{r}");
        let at = caret.find('^').unwrap();
        assert_eq!(&shown[at..at + 5], "corez", "{r}");
        assert_eq!(&caret[at..], "^^^^^", "{r}");
    }

    #[test]
    fn a_narrow_terminal_still_shows_the_column() {
        let line = "0123456789".repeat(5);
        for width in [0, 1, 5, 20] {
            let r = render(&at(&line, 1, 25), width, false);
            let lines: Vec<&str> = r.lines().collect();
            let at = lines[4].find('^').unwrap();
            // Column 25 is the `4` of the third ten.
            assert_eq!(&lines[3][at..at + 1], "4", "width {width}: {r}");
        }
    }

    #[test]
    fn control_bidi_and_wide_characters() {
        // ESC is shown as its picture, a right-to-left override as U+FFFD; the caret stays
        // under `x`.
        assert_eq!(
            render(&at("a\u{1b}[2J\u{202e}x", 1, 7), 80, false),
            expect(1, 7, "a␛[2J\u{fffd}x", 6, "^")
        );
        // A C1 CSI (a one-character terminal escape) and a right-to-left mark: U+FFFD.
        assert_eq!(
            render(&at("a\u{9b}2Jb\u{200f}x", 1, 7), 80, false),
            expect(1, 7, "a\u{fffd}2Jb\u{fffd}x", 6, "^")
        );
        // Wide characters take 2 columns each: `x` is 7 columns in, and a wide character
        // under the error gets 2 carets.
        assert_eq!(
            render(&at("\"漢字\" x", 1, 6), 80, false),
            expect(1, 6, "\"漢字\" x", 7, "^")
        );
        let mut e = at("(名: 1, 😀: 2)", 1, 8);
        e.len = 1;
        assert_eq!(
            render(&e, 80, false),
            expect(1, 8, "(名: 1, 😀: 2)", 8, "^^")
        );
        // A zero-width joiner is dropped (the crate's choice, for the same width on every
        // terminal); the header still counts it as the parser does.
        assert_eq!(
            render(&at("👨\u{200d}👩 x", 1, 5), 80, false),
            expect(1, 5, "👨👩 x", 5, "^")
        );
        // Nothing raw reaches the terminal: not in the line, the file name or the message.
        let mut e = SourceError::new("\u{1b}]0;x\u{7}.ron", "\u{9b}", 1, 1, "m\u{9b}\u{1b}");
        e.hint = Some("h\u{1b}\u{202e}".into());
        let r = render(&e, 80, false);
        assert!(!r.chars().any(|c| c.is_control() && c != '\n'), "{r:?}");
        assert!(r.contains("␛]0;x␇.ron:1:1"), "{r}");
    }

    #[test]
    fn colours_only_when_styled() {
        let e = at("(corez: 2)", 1, 2);
        let plain = render(&e, 80, false);
        assert!(!plain.contains('\u{1b}'));
        let styled = render(&e, 80, true);
        assert!(styled.contains("\u{1b}["), "{styled:?}");
        assert!(styled.contains("f.ron:1:2"), "{styled:?}");
    }

    #[test]
    fn sanitise_replaces_one_character_for_one() {
        assert_eq!(sanitise("a\u{9b}b\u{85}"), "a\u{fffd}b\u{fffd}");
        assert_eq!(
            sanitise("\u{61c}\u{200e}\u{200f}\u{202a}\u{202e}\u{2066}\u{2069}"),
            "\u{fffd}".repeat(7)
        );
        // Left to the crate: tabs, C0 controls, DEL; kept: text, wide characters, U+FFFD.
        assert_eq!(sanitise("\t\u{1b}\u{7f}é漢😀"), "\t\u{1b}\u{7f}é漢😀");
    }

    #[test]
    fn byte_span_converts_character_columns() {
        assert_eq!(byte_span("corez: 2", 1, 5), 0..5);
        // `é` is 2 bytes, `漢` 3, `😀` 4.
        let line = "é漢😀x";
        assert_eq!(byte_span(line, 2, 1), 2..5);
        assert_eq!(byte_span(line, 3, 2), 5..10);
        assert_eq!(byte_span(line, 4, 0), 9..9);
        // Past the end: the end of the line; column 0 is column 1.
        assert_eq!(byte_span(line, 5, 0), 10..10);
        assert_eq!(byte_span(line, 99, 3), 10..10);
        assert_eq!(byte_span(line, 0, 1), 0..2);
        assert_eq!(byte_span("ab", 2, usize::MAX), 1..2);
    }

    proptest! {
        /// Any line, message, hint, position and width: no panic, only `\n` as a control character, and the
        /// header names the file, line and column.
        #[test]
        fn any_error_renders(
            text in "(\\PC|[\\t\\r\\n\\x00-\\x1f\\u{80}-\\u{9f}\\u{202e}])*",
            message in "(\\PC|[\\t\\x00-\\x1f\\u{80}-\\u{9f}\\u{202e}])*",
            hint in "(\\PC|[\\t\\x00-\\x1f\\u{80}-\\u{9f}\\u{202e}])*",
            line in 0usize..6,
            column in 0usize..60,
            len in 0usize..8,
            width in 0usize..120,
        ) {
            let mut e = SourceError::new("f.ron", &text, line, column, message).with_hint(hint);
            e.len = len;
            let r = render(&e, width, false);
            prop_assert!(!r.chars().any(|c| c.is_control() && c != '\n'), "{:?}", r);
            let header = format!(" --> f.ron:{}:{}", line, column.max(1));
            prop_assert!(r.lines().any(|l| l.trim_start() == header.trim_start()), "{}", r);
        }
    }
}
