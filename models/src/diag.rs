//! Source excerpts for errors in text files (RON configurations, scenarios, schedules), printed
//! as rustc prints them: a `file:line:column: message` header, the offending line under a
//! line-number gutter, and a caret under the column.
//!
//! ```text
//! c.ron:3:5: Unexpected field named `corez` in `ClusterConfig`, expected one of ...
//!   |
//! 3 |     corez: 2,
//!   |     ^
//! ```
//!
//! The line is shown as the terminal would show it, with the caret still under the right
//! character: a tab becomes 4 spaces, control and bidirectional-override characters (which
//! would move the cursor or reorder the line) become U+FFFD, wide characters count 2 columns.
//! A line wider than the terminal is cut around the column, with `...` where text was left out.
//! A column past the end of the line puts the caret just after its last character; a line past
//! the end of the file (an empty file, a file ending in a newline) shows as empty. The `\r` of a
//! CRLF line break is not part of the line.
//!
//! The width is [`width`]: what [`set_width`] was given (the CLI passes the terminal's), else
//! [`DEFAULT_WIDTH`].
//!
//! Why no crate: the job is one line and one caret, no colours, no multi-line spans. The
//! well-known renderers (annotate-snippets, codespan-reporting, ariadne, miette) take byte
//! offsets and print their own title line, so using one would still need this line/column
//! conversion, plus a second header format next to the `file:line:column:` one every other
//! hetsim error uses. `unicode-width` (already built for the progress bars) gives the columns.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The largest text file hetsim reads (RON configurations and presets, scenarios, schedules,
/// sweep manifests): 64 MiB. The shipped ones are at most a few KiB (the largest schedule,
/// `traces/mobilebert.ron`, 6.6 KiB); a generated schedule of a 100-layer model with every op
/// spelled out stays under a MiB. Parsing 64 MiB of RON already takes seconds; larger files
/// and endless ones (`/dev/zero`, a FIFO fed forever) are refused naming the file and the limit.
pub const TEXT_LIMIT: u64 = 64 << 20;

/// Reads a text file of at most [`TEXT_LIMIT`] bytes (through
/// [`hetsim_isa::input::read_limited`]); `what` names what it should be in the error ("a
/// cluster configuration"). The caller adds the path.
pub fn read_text(path: &Path, what: &str) -> std::io::Result<String> {
    hetsim_isa::input::read_limited_to_string(path, TEXT_LIMIT, what)
}
use unicode_width::UnicodeWidthChar;

/// The width in columns when none was set.
pub const DEFAULT_WIDTH: usize = 100;

/// Source text is never cut to fewer columns than this, however narrow the terminal.
pub const MIN_TEXT_WIDTH: usize = 20;

/// Columns a tab is shown as.
const TAB: &str = "    ";

static WIDTH: AtomicUsize = AtomicUsize::new(0);

/// Sets the width excerpts are cut to (the terminal's); 0 restores [`DEFAULT_WIDTH`].
pub fn set_width(columns: usize) {
    WIDTH.store(columns, Ordering::Relaxed);
}

/// The width excerpts are cut to.
pub fn width() -> usize {
    match WIDTH.load(Ordering::Relaxed) {
        0 => DEFAULT_WIDTH,
        w => w,
    }
}

/// An error at a position of a text file, with the text of that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// The file (or a name such as `<tile config>` for text without a file).
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters (as the RON parser counts).
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// The text of the line, without its line break (empty past the end of the file).
    pub source_line: String,
    /// What to do about it, if there is something to say.
    pub hint: Option<String>,
}

impl SourceError {
    /// An error at `line`:`column` of `text`.
    pub fn new(
        origin: impl Into<String>,
        text: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        let source_line = text.split('\n').nth(line.saturating_sub(1)).unwrap_or("");
        let source_line = source_line.strip_suffix('\r').unwrap_or(source_line);
        Self {
            origin: origin.into(),
            line,
            column,
            message: message.into(),
            source_line: source_line.to_string(),
            hint: None,
        }
    }

    /// A RON parse error of `text`. The parser reports an unknown or duplicate field or variant
    /// just after its name; the column is moved back to the start of the name.
    pub fn from_ron(origin: impl Into<String>, text: &str, e: &ron::error::SpannedError) -> Self {
        use ron::error::Error as R;
        let mut s = Self::new(
            origin,
            text,
            e.position.line,
            e.position.col,
            e.code.to_string(),
        );
        let name = match &e.code {
            R::NoSuchStructField { found, .. } | R::NoSuchEnumVariant { found, .. } => {
                Some(found.as_str())
            }
            R::DuplicateStructField { field, .. } => Some(*field),
            _ => None,
        };
        if let Some(start) = name.and_then(|n| name_start(&s.source_line, s.column, n)) {
            s.column = start;
        }
        s
    }

    /// The same error with a hint line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The error as text no wider than `width` columns (the header and hint lines excepted).
    pub fn render(&self, width: usize) -> String {
        let num = self.line.to_string();
        let pad = " ".repeat(num.len());
        let room = width.saturating_sub(num.len() + 3).max(MIN_TEXT_WIDTH);
        let (text, caret) = excerpt(&self.source_line, self.column, room);
        let mut s = format!(
            "{}:{}:{}: {}\n{pad} |\n",
            self.origin, self.line, self.column, self.message
        );
        s.push_str(format!("{num} | {text}").trim_end());
        s.push('\n');
        s.push_str(&format!("{pad} | {}^", " ".repeat(caret)));
        if let Some(h) = &self.hint {
            s.push_str(&format!("\n{pad} = hint: {h}"));
        }
        s
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(width()))
    }
}

impl std::error::Error for SourceError {}

/// The 1-based column where `name` starts when it (possibly with whitespace after it) ends
/// just before `column` on `line`.
fn name_start(line: &str, column: usize, name: &str) -> Option<usize> {
    if name.is_empty() {
        return None;
    }
    let before: String = line.chars().take(column.saturating_sub(1)).collect();
    let head = before.trim_end().strip_suffix(name)?;
    Some(head.chars().count() + 1)
}

/// How a character is shown: its text and its width in columns.
fn cell(c: char) -> (String, usize) {
    let bidi =
        matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if c == '\t' {
        (TAB.to_string(), TAB.len())
    } else if c.is_control() || bidi {
        ('\u{fffd}'.to_string(), 1)
    } else {
        (c.to_string(), c.width().unwrap_or(1))
    }
}

/// The line as shown (at most `room` columns, cut around the column with `...`) and the
/// caret's offset in columns.
fn excerpt(line: &str, column: usize, room: usize) -> (String, usize) {
    // (text, first column, width) of every character.
    let mut cells = Vec::new();
    let mut at = 0;
    let mut caret = None;
    for (i, c) in line.chars().enumerate() {
        if i + 1 == column.max(1) {
            caret = Some(at);
        }
        let (t, w) = cell(c);
        cells.push((t, at, w));
        at += w;
    }
    let total = at;
    // Past the end of the line: just after its last character.
    let caret = caret.unwrap_or(total);
    if total < room {
        let text: String = cells.into_iter().map(|c| c.0).collect();
        return (text, caret);
    }
    // The window [from, to) of columns shown, and whether text is left out on each side.
    let (from, to) = if caret < room / 2 {
        (0, room - 3)
    } else if caret + room / 2 >= total {
        (total + 4 - room, total)
    } else {
        let from = caret - (room - 6) / 2;
        (from, from + room - 6)
    };
    let mut text = String::new();
    if from > 0 {
        text.push_str("...");
    }
    for (t, start, w) in cells {
        let end = start + w;
        if start >= from && end <= to {
            text.push_str(&t);
        } else if start < to && end > from {
            // A wide character cut by the window: blanks keep the caret aligned.
            text.push_str(&" ".repeat(end.min(to) - start.max(from)));
        }
    }
    if to < total {
        text.push_str("...");
    }
    let left = if from > 0 { 3 } else { 0 };
    (text, left + caret - from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, line: usize, column: usize) -> SourceError {
        SourceError::new("f.ron", text, line, column, "bad")
    }

    /// The expected rendering of line 1..=9: header, gutter, `shown`, and the caret after
    /// `caret` blanks.
    fn expect(line: usize, column: usize, shown: &str, caret: usize) -> String {
        let text = format!("{line} | {shown}");
        format!(
            "f.ron:{line}:{column}: bad\n  |\n{}\n  | {}^",
            text.trim_end(),
            " ".repeat(caret)
        )
    }

    #[test]
    fn header_line_and_caret() {
        let e = at("(\n    corez: 2,\n)\n", 2, 5).with_hint("rename it");
        assert_eq!(
            e.render(80),
            "f.ron:2:5: bad\n  |\n2 |     corez: 2,\n  |     ^\n  = hint: rename it"
        );
        assert_eq!(
            e.render(80),
            format!("{}\n  = hint: rename it", expect(2, 5, "    corez: 2,", 4))
        );
        // Two-digit line numbers widen the gutter.
        let text = format!("{}x: 1\n", "\n".repeat(11));
        assert_eq!(
            at(&text, 12, 1).render(80),
            "f.ron:12:1: bad\n   |\n12 | x: 1\n   | ^"
        );
    }

    #[test]
    fn tabs_are_four_columns() {
        // Column 3 is the `r` after two tabs: 8 columns in.
        assert_eq!(
            at("\t\trows: 0", 1, 3).render(80),
            expect(1, 3, "        rows: 0", 8)
        );
        // A tab after text is 4 columns too (not to the next tab stop): `c` is 6 columns in.
        assert_eq!(at("ab\tc", 1, 4).render(80), expect(1, 4, "ab    c", 6));
    }

    #[test]
    fn crlf_is_not_part_of_the_line() {
        let text = "(\r\n  rows: x,\r\n)\r\n";
        assert_eq!(at(text, 2, 9).render(80), expect(2, 9, "  rows: x,", 8));
        // At the end of a CRLF line the caret follows the last character.
        assert_eq!(at(text, 2, 11).render(80), expect(2, 11, "  rows: x,", 10));
    }

    #[test]
    fn column_past_the_end_of_the_line() {
        assert_eq!(at("(rows: 1", 1, 9).render(80), expect(1, 9, "(rows: 1", 8));
        // Further past: still just after the last character.
        assert_eq!(at("ab", 1, 40).render(80), expect(1, 40, "ab", 2));
    }

    #[test]
    fn empty_file_and_line_past_the_end() {
        assert_eq!(at("", 1, 1).render(80), "f.ron:1:1: bad\n  |\n1 |\n  | ^");
        // After the final newline (an unexpected end of file).
        assert_eq!(at("(\n  rows: 1,\n", 3, 1).render(80), expect(3, 1, "", 0));
        // A line number past the end of a file without a final newline.
        assert_eq!(at("(", 7, 2).render(80), expect(7, 2, "", 0));
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        // Width 30: 26 columns of text after the "1 | " gutter; the line has 36.
        let line = "abcdefghijklmnopqrstuvwxyz0123456789";
        // Near the start: the first 23 columns, then "...".
        assert_eq!(
            at(line, 1, 3).render(30),
            expect(1, 3, "abcdefghijklmnopqrstuvw...", 2)
        );
        // Past the end: "..." and the last 22 columns, leaving room for the caret.
        assert_eq!(
            at(line, 1, 37).render(30),
            expect(1, 37, "...opqrstuvwxyz0123456789", 25)
        );
        // In the middle: "...", 20 columns from 10 before the caret, "...".
        assert_eq!(
            at(line, 1, 19).render(30),
            expect(1, 19, "...ijklmnopqrstuvwxyz01...", 13)
        );
        // A line that fits exactly one column less than the room is not cut.
        assert_eq!(
            at(&line[..25], 1, 26).render(30),
            expect(1, 26, &line[..25], 25)
        );
    }

    #[test]
    fn the_narrowest_terminal_still_shows_20_columns() {
        let line = "0123456789".repeat(5);
        // 20 columns: "...", the 14 columns from 24 - 7 = 17, "...".
        assert_eq!(
            at(&line, 1, 25).render(5),
            expect(1, 25, "...78901234567890...", 10)
        );
    }

    #[test]
    fn control_bidi_and_wide_characters() {
        // ESC and a right-to-left override are replaced; the caret stays under `x`.
        assert_eq!(
            at("a\u{1b}[2J\u{202e}x", 1, 7).render(80),
            expect(1, 7, "a\u{fffd}[2J\u{fffd}x", 6)
        );
        // Wide characters take 2 columns each: `x` is 7 columns in.
        assert_eq!(
            at("\"漢字\" x", 1, 6).render(80),
            expect(1, 6, "\"漢字\" x", 7)
        );
        // A wide character cut by the window leaves a blank, and the caret stays aligned:
        // `漢` takes columns 10 and 11 of 52; the caret on column 21 (the 10th `b`) opens the
        // window [11, 31), which holds the right half of `漢`.
        let line = format!("{}漢{}", "a".repeat(10), "b".repeat(40));
        assert_eq!(
            at(&line, 1, 21).render(30),
            expect(1, 21, &format!("... {}...", "b".repeat(19)), 13)
        );
    }

    #[test]
    fn ron_names_are_pointed_at_from_their_start() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            rows: u32,
            kind: Option<K>,
        }
        #[derive(serde::Deserialize, Debug)]
        enum K {
            A,
        }
        let err = |text: &str| {
            let e = ron::from_str::<T>(text).unwrap_err();
            SourceError::from_ron("t.ron", text, &e)
        };
        // RON reports column 9 (after `colz`); the caret goes under the `c`.
        let e = err("(\n    colz: 3,\n)");
        assert_eq!((e.line, e.column), (2, 5));
        assert_eq!(e.render(80).lines().nth(3), Some("  |     ^"));
        let e = err("(rows: 1, kind: Some(B))");
        assert_eq!(e.column, 22, "{e}");
        let e = err("(rows: 1, rows: 2)");
        assert_eq!(e.column, 11, "{e}");
        // Other errors keep the parser's column.
        let e = err("(rows: x)");
        assert_eq!(e.column, 8, "{e}");
        assert_eq!(name_start("ab  cd ", 8, "cd"), Some(5));
        assert_eq!(name_start("ab", 3, "x"), None);
        assert_eq!(name_start("ab", 3, ""), None);
    }

    #[test]
    fn ron_positions_and_the_width_setting() {
        let text = "(rows: 256,\n colz: 3)";
        let e = ron::from_str::<ron::Value>("(a: 1,, )").unwrap_err();
        let s = SourceError::from_ron("t.ron", "(a: 1,, )", &e);
        assert_eq!((s.line, s.column), (e.position.line, e.position.col));
        assert_eq!(s.source_line, "(a: 1,, )");
        let s = SourceError::new("t.ron", text, 2, 2, "Unexpected field named `colz`");
        set_width(0);
        assert_eq!(width(), DEFAULT_WIDTH);
        assert_eq!(s.to_string(), s.render(DEFAULT_WIDTH));
    }
}
