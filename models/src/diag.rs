//! Errors at a position of a text file, and the bounded reader of such files.
//!
//! This module owns the data of a located error and nothing about showing it:
//! [`SourceError`] holds the file (origin), the line and column the parser reported, how many
//! characters the error covers, the message, a hint and the text of that line. Its `Display`
//! is plain text, `file:line:column: message` and a hint line, for library users and for
//! places that keep an error as text (a failed sweep point's row). [`read_text`] reads such
//! files up to [`TEXT_LIMIT`].
//!
//! Showing the line with a caret under the column (cut to the terminal's width, control and
//! bidirectional characters made harmless, colours on a terminal) is the CLI's job:
//! `hetsim::diag` renders a [`SourceError`] through the annotate-snippets crate.

use std::fmt;
use std::path::Path;

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

/// An error at a position of a text file, with the text of that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// The file (or a name such as `<tile config>` for text without a file).
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters (as the RON parser counts: a tab or a wide character is
    /// one column).
    pub column: usize,
    /// How many characters from `column` the error covers (the misspelled name); 0 for a
    /// position between characters.
    pub len: usize,
    /// What is wrong.
    pub message: String,
    /// The text of the line, as in the file (control characters included) without its line
    /// break: no `\n`, and no `\r` of a CRLF break. Empty past the end of the file.
    pub source_line: String,
    /// What to do about it, if there is something to say.
    pub hint: Option<String>,
}

impl SourceError {
    /// An error at `line`:`column` of `text`, covering no character.
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
            len: 0,
            message: message.into(),
            source_line: source_line.to_string(),
            hint: None,
        }
    }

    /// A RON parse error of `text`. The parser reports an unknown or duplicate field or variant
    /// just after its name; the error is moved back to cover the name.
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
        if let Some(n) = name {
            if let Some(start) = name_start(&s.source_line, s.column, n) {
                s.column = start;
                s.len = n.chars().count();
            }
        }
        s
    }

    /// The same error with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// `file:line:column: message`, then `  hint: ...` on a line of its own.
impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_kept_without_its_line_break() {
        let text = "(\r\n\tcorez: 2,\r\n)";
        let e = SourceError::new("f.ron", text, 2, 2, "bad");
        assert_eq!(e.source_line, "\tcorez: 2,");
        assert_eq!((e.line, e.column, e.len), (2, 2, 0));
        // Past the end of the file, and after a final newline: empty.
        assert_eq!(SourceError::new("f.ron", "(", 7, 2, "bad").source_line, "");
        assert_eq!(
            SourceError::new("f.ron", "(\n", 2, 1, "bad").source_line,
            ""
        );
        assert_eq!(SourceError::new("f.ron", "", 1, 1, "bad").source_line, "");
        // Control characters are kept: the renderer decides how to show them.
        let e = SourceError::new("f.ron", "a\u{1b}[2J\u{202e}x", 1, 7, "bad");
        assert_eq!(e.source_line, "a\u{1b}[2J\u{202e}x");
    }

    #[test]
    fn display_names_file_line_and_column() {
        let e = SourceError::new("f.ron", "(\n    corez: 2,\n)", 2, 5, "bad");
        assert_eq!(e.to_string(), "f.ron:2:5: bad");
        assert_eq!(
            e.with_hint("rename it").to_string(),
            "f.ron:2:5: bad\n  hint: rename it"
        );
    }

    #[test]
    fn ron_names_are_covered_from_their_start() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            rows: u32,
            kind: Option<K>,
            name: Option<String>,
        }
        #[derive(serde::Deserialize, Debug)]
        enum K {
            A,
        }
        let err = |text: &str| {
            let e = ron::from_str::<T>(text).unwrap_err();
            SourceError::from_ron("t.ron", text, &e)
        };
        // RON reports column 9 (after `colz`); the error covers `colz` from column 5.
        let e = err("(\n    colz: 3,\n)");
        assert_eq!((e.line, e.column, e.len), (2, 5, 4));
        assert_eq!(e.source_line, "    colz: 3,");
        let e = err("(rows: 1, kind: Some(B))");
        assert_eq!((e.column, e.len), (22, 1), "{e}");
        let e = err("(rows: 1, rows: 2)");
        assert_eq!((e.column, e.len), (11, 4), "{e}");
        // Columns count characters, whatever their width or UTF-8 length.
        let head = "(name: Some(\"漢字\"), ";
        let e = err(&format!("{head}colz: 3)"));
        assert_eq!((e.column, e.len), (head.chars().count() + 1, 4), "{e}");
        // Other errors keep the parser's column and cover no character.
        let e = err("(rows: x)");
        assert_eq!((e.column, e.len), (8, 0), "{e}");
        assert_eq!(name_start("ab  cd ", 8, "cd"), Some(5));
        assert_eq!(name_start("ab", 3, "x"), None);
        assert_eq!(name_start("ab", 3, ""), None);
    }

    #[test]
    fn ron_positions_are_kept() {
        let e = ron::from_str::<ron::Value>("(a: 1,, )").unwrap_err();
        let s = SourceError::from_ron("t.ron", "(a: 1,, )", &e);
        assert_eq!((s.line, s.column), (e.position.line, e.position.col));
        assert_eq!(s.source_line, "(a: 1,, )");
        assert_eq!(s.message, e.code.to_string());
    }
}
