//! A strict numeric CSV reader (`std`), for time series and tabular training data.
//!
//! Every data field must be a finite number; anything else is an error that names the line
//! and column, never a panic and never a silently skipped value.
//!
//! Accepted:
//! - comma-separated fields, with optional spaces or tabs around each field;
//! - fields in double quotes (`"1.5"`, with `""` standing for a quote inside them); a quoted
//!   field cannot span lines;
//! - `\n` or `\r\n` line endings, a UTF-8 byte-order mark, blank lines (anywhere, including a
//!   trailing one) and comment lines whose first non-blank character is `#` (skipped before
//!   the header too);
//! - an optional header line, whose fields may be any text; its width sets the table's width,
//!   otherwise the first data row does;
//! - numbers as Rust's [`f64`] parser reads them: `1`, `-0.5`, `+3.`, `.5`, `1e-3`, `2.5E+4`.
//!
//! Rejected, with [`CsvError::Row`]: a row with the wrong number of fields, an empty field, a
//! field that is not a number, NaN and infinities (including overflow such as `1e999`), an
//! unterminated quote, or text after a closing quote.
//!
//! ```
//! use rnn_host::csv::parse_csv;
//!
//! let t = parse_csv("# daily\ntime, value\n0, 1.5\n1, \"2.25\"\n", true).unwrap();
//! assert_eq!(t.column_by_name("value"), Some(vec![1.5, 2.25]));
//!
//! let e = parse_csv("time,value\n0,1.5\n1,abc\n", true).unwrap_err();
//! assert_eq!(e.to_string(), "line 3, column 2: expected a number, found `abc`");
//! ```

extern crate std;

use std::fmt;
use std::format;
use std::io;
use std::path::Path;
use std::string::String;
use std::vec::Vec;

/// A numeric table read from CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The header fields (quotes removed, surrounding spaces trimmed), when the file has one.
    pub header: Option<Vec<String>>,
    /// The data rows, in file order; all have the same width (the header's, if any).
    pub rows: Vec<Vec<f64>>,
}

impl Table {
    /// Number of columns (the header's width, or the first row's).
    pub fn width(&self) -> usize {
        match (&self.header, self.rows.first()) {
            (Some(h), _) => h.len(),
            (None, Some(r)) => r.len(),
            (None, None) => 0,
        }
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no data rows (never the case for a table read by this module).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Column `i` (0-based), or `None` if some row has no column `i`.
    pub fn column(&self, i: usize) -> Option<Vec<f64>> {
        if i >= self.width() {
            return None;
        }
        self.rows.iter().map(|r| r.get(i).copied()).collect()
    }

    /// Index of the first header field equal to `name`, or `None` (also without a header).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.header.as_ref()?.iter().position(|h| h == name)
    }

    /// The column whose header is `name` (the first one, if repeated), or `None`.
    pub fn column_by_name(&self, name: &str) -> Option<Vec<f64>> {
        self.column(self.column_index(name)?)
    }
}

/// Why a CSV file could not be read.
#[derive(Debug)]
pub enum CsvError {
    /// The file could not be read (missing, unreadable, or not UTF-8).
    Io(io::Error),
    /// A malformed line.
    Row {
        /// 1-based line number in the file (counting blank lines, comments and the header).
        line: usize,
        /// 1-based field number within the line.
        column: usize,
        /// The offending field as written, trimmed; empty for an empty or missing field.
        found: String,
        /// What was wrong: `expected a number`, `expected a finite number`,
        /// `expected a number, found an empty field`, `expected 3 fields, found 2`,
        /// `unterminated quoted field` or `unexpected text after a closing quote`.
        reason: String,
    },
    /// No data rows: the input is empty or holds only blank lines, comments and a header.
    Empty,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::Io(e) => write!(f, "cannot read the CSV file: {e}"),
            CsvError::Row {
                line,
                column,
                found,
                reason,
            } => {
                write!(f, "line {line}, column {column}: {reason}")?;
                if !found.is_empty() {
                    write!(f, ", found `{found}`")?;
                }
                Ok(())
            }
            CsvError::Empty => write!(f, "the CSV input has no data rows"),
        }
    }
}

impl std::error::Error for CsvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CsvError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for CsvError {
    fn from(e: io::Error) -> Self {
        CsvError::Io(e)
    }
}

/// Reads and parses the CSV file at `path`; see [`parse_csv`].
pub fn read_csv(path: &Path, has_header: bool) -> Result<Table, CsvError> {
    let text = std::fs::read_to_string(path)?;
    parse_csv(&text, has_header)
}

/// Parses CSV text into a [`Table`]. With `has_header`, the first line that is neither blank
/// nor a comment is the header.
pub fn parse_csv(text: &str, has_header: bool) -> Result<Table, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut header: Option<Vec<String>> = None;
    let mut width: Option<usize> = None;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let content = line.trim_matches(SPACE);
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let err = |column: usize, found: &str, reason: String| CsvError::Row {
            line: line_no,
            column,
            found: String::from(found),
            reason,
        };
        let fields = split_line(line).map_err(|(c, found, reason)| err(c, found, reason.into()))?;
        if has_header && header.is_none() {
            width = Some(fields.len());
            header = Some(fields.into_iter().map(|f| f.text).collect());
            continue;
        }
        let w = *width.get_or_insert(fields.len());
        if fields.len() != w {
            let reason = format!(
                "expected {w} field{}, found {}",
                if w == 1 { "" } else { "s" },
                fields.len()
            );
            return Err(err(w.min(fields.len()) + 1, "", reason));
        }
        let mut row = Vec::with_capacity(w);
        for (c, f) in fields.iter().enumerate() {
            let s = f.text.trim_matches(SPACE);
            if s.is_empty() {
                return Err(err(
                    c + 1,
                    "",
                    "expected a number, found an empty field".into(),
                ));
            }
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() => row.push(v),
                Ok(_) => return Err(err(c + 1, f.raw, "expected a finite number".into())),
                Err(_) => return Err(err(c + 1, f.raw, "expected a number".into())),
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(CsvError::Empty);
    }
    Ok(Table { header, rows })
}

/// The blanks allowed around a field.
const SPACE: [char; 2] = [' ', '\t'];

/// One field of a line: its text (unquoted) and how it was written (trimmed).
struct Field<'a> {
    text: String,
    raw: &'a str,
}

/// Splits a line (without its line ending) at commas outside quotes. A malformed quoted
/// field gives `(column, found, reason)`.
fn split_line(line: &str) -> Result<Vec<Field<'_>>, (usize, &str, &'static str)> {
    let b = line.as_bytes();
    let is_space = |c: u8| c == b' ' || c == b'\t';
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let column = fields.len() + 1;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i < b.len() && b[i] == b'"' {
            let open = i;
            i += 1;
            let mut text = String::new();
            loop {
                match line[i..].find('"') {
                    None => {
                        let found = line[open..].trim_end_matches(SPACE);
                        return Err((column, found, "unterminated quoted field"));
                    }
                    Some(k) => {
                        text.push_str(&line[i..i + k]);
                        i += k + 1;
                        if b.get(i) == Some(&b'"') {
                            text.push('"');
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            let close = i;
            while i < b.len() && is_space(b[i]) {
                i += 1;
            }
            if i < b.len() && b[i] != b',' {
                let end = line[i..].find(',').map_or(b.len(), |k| i + k);
                let found = line[open..end].trim_end_matches(SPACE);
                return Err((column, found, "unexpected text after a closing quote"));
            }
            fields.push(Field {
                text,
                raw: &line[open..close],
            });
        } else {
            let end = line[i..].find(',').map_or(b.len(), |k| i + k);
            let raw = line[i..end].trim_end_matches(SPACE);
            fields.push(Field {
                text: String::from(raw),
                raw,
            });
            i = end;
        }
        if i >= b.len() {
            return Ok(fields);
        }
        i += 1; // the comma
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec;

    /// The `(line, column, found, reason)` of a row error; panics on anything else.
    fn row_err(text: &str, has_header: bool) -> (usize, usize, String, String) {
        match parse_csv(text, has_header) {
            Err(CsvError::Row {
                line,
                column,
                found,
                reason,
            }) => (line, column, found, reason),
            other => panic!("expected a row error for {text:?}, got {other:?}"),
        }
    }

    fn e(line: usize, column: usize, found: &str, reason: &str) -> (usize, usize, String, String) {
        (line, column, found.to_string(), reason.to_string())
    }

    #[test]
    fn reads_a_good_file() {
        let text = "\u{feff}# generated by a script\r\n\
                    time, \"value\" ,\"a,b\"\r\n\
                    \r\n\
                    0,1.5,-2\r\n\
                    \t1 ,  \"2.25\" ,3e-2\r\n\
                    # a comment between rows\r\n\
                    \x20\x20# an indented comment\r\n\
                    2,\" -0.5 \",+4.\r\n\
                    3,.5,1E3\r\n\
                    \r\n";
        let t = parse_csv(text, true).unwrap();
        assert_eq!(
            t.header,
            Some(vec![
                "time".to_string(),
                "value".to_string(),
                "a,b".to_string()
            ])
        );
        assert_eq!(
            t.rows,
            vec![
                vec![0.0, 1.5, -2.0],
                vec![1.0, 2.25, 0.03],
                vec![2.0, -0.5, 4.0],
                vec![3.0, 0.5, 1000.0],
            ]
        );
        assert_eq!((t.width(), t.len(), t.is_empty()), (3, 4, false));
        assert_eq!(t.column(0), Some(vec![0.0, 1.0, 2.0, 3.0]));
        assert_eq!(t.column(3), None);
        assert_eq!(t.column_index("a,b"), Some(2));
        assert_eq!(t.column_by_name("value"), Some(vec![1.5, 2.25, -0.5, 0.5]));
        assert_eq!(t.column_by_name("missing"), None);
    }

    #[test]
    fn reads_without_header_and_final_newline() {
        let t = parse_csv("1,2\n3,4", false).unwrap();
        assert_eq!(t.header, None);
        assert_eq!(t.rows, vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
        assert_eq!(t.width(), 2);
        assert_eq!(t.column_by_name("1"), None);
        let one = parse_csv("42\n", false).unwrap();
        assert_eq!(one.rows, vec![vec![42.0]]);
        let quoted = parse_csv("\"a\"\"b\",c\n1,2\n", true).unwrap();
        assert_eq!(quoted.column_by_name("a\"b"), Some(vec![1.0]));
    }

    #[test]
    fn wrong_field_count() {
        let text = "a,b,c\n1,2,3\n# comment\n\n4,5\n";
        assert_eq!(
            row_err(text, true),
            e(5, 3, "", "expected 3 fields, found 2")
        );
        assert_eq!(
            row_err("1,2\n3,4,5\n", false),
            e(2, 3, "", "expected 2 fields, found 3")
        );
        assert_eq!(
            row_err("1\n2,3\n", false),
            e(2, 2, "", "expected 1 field, found 2")
        );
        // A trailing comma is an extra (empty) field.
        assert_eq!(
            row_err("1,2\n3,4,\n", false),
            e(2, 3, "", "expected 2 fields, found 3")
        );
        let err = parse_csv(text, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 5, column 3: expected 3 fields, found 2"
        );
    }

    #[test]
    fn empty_field() {
        let why = "expected a number, found an empty field";
        assert_eq!(row_err("1,,3\n", false), e(1, 2, "", why));
        assert_eq!(row_err("x,y\n1,2\n ,2\n", true), e(3, 1, "", why));
        assert_eq!(row_err("1,2\n1,\"\"\n", false), e(2, 2, "", why));
        assert_eq!(row_err("1,2\n1,\" \"\n", false), e(2, 2, "", why));
        let err = parse_csv("1,,3\n", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1, column 2: expected a number, found an empty field"
        );
    }

    #[test]
    fn not_a_number() {
        let text = "t,v\n0,1\n1,abc\n";
        assert_eq!(row_err(text, true), e(3, 2, "abc", "expected a number"));
        let err = parse_csv(text, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3, column 2: expected a number, found `abc`"
        );
        assert_eq!(
            row_err("1,\"x1\"\n", false),
            e(1, 2, "\"x1\"", "expected a number")
        );
        assert_eq!(
            row_err("1,2 3\n", false),
            e(1, 2, "2 3", "expected a number")
        );
        assert_eq!(row_err("1;2\n", false), e(1, 1, "1;2", "expected a number"));
        assert_eq!(
            row_err("0x10\n", false),
            e(1, 1, "0x10", "expected a number")
        );
        assert_eq!(
            row_err("1 # note\n", false),
            e(1, 1, "1 # note", "expected a number")
        );
        // A header that is expected but absent: the first row is taken as the header, the
        // second is checked; with no header expected, a header line is an error.
        assert_eq!(
            row_err("time,value\n1,2\n", false),
            e(1, 1, "time", "expected a number")
        );
    }

    #[test]
    fn nan_and_infinity() {
        let why = "expected a finite number";
        assert_eq!(row_err("1,NaN\n", false), e(1, 2, "NaN", why));
        assert_eq!(row_err("1,2\n3,nan\n", false), e(2, 2, "nan", why));
        assert_eq!(row_err("inf,1\n", false), e(1, 1, "inf", why));
        assert_eq!(row_err("1,-Infinity\n", false), e(1, 2, "-Infinity", why));
        assert_eq!(row_err("1,\"+inf\"\n", false), e(1, 2, "\"+inf\"", why));
        assert_eq!(row_err("1e999\n", false), e(1, 1, "1e999", why));
        let err = parse_csv("1,NaN\n", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1, column 2: expected a finite number, found `NaN`"
        );
    }

    #[test]
    fn bad_quotes() {
        assert_eq!(
            row_err("1,\"2.5\n", false),
            e(1, 2, "\"2.5", "unterminated quoted field")
        );
        assert_eq!(
            row_err("1,\"2.5\"x ,3\n", false),
            e(1, 2, "\"2.5\"x", "unexpected text after a closing quote")
        );
        assert_eq!(
            row_err("\"time,value\n1,2\n", true),
            e(1, 1, "\"time,value", "unterminated quoted field")
        );
    }

    #[test]
    fn empty_inputs() {
        for text in ["", "\n", "\r\n\r\n", "# only a comment\n", "  \n\t\n"] {
            assert!(
                matches!(parse_csv(text, false), Err(CsvError::Empty)),
                "{text:?}"
            );
        }
        assert!(matches!(
            parse_csv("a,b\n# no rows\n", true),
            Err(CsvError::Empty)
        ));
        assert_eq!(
            CsvError::Empty.to_string(),
            "the CSV input has no data rows"
        );
    }

    #[test]
    fn read_csv_from_a_file() {
        let path = std::env::temp_dir().join(format!("rnn-csv-test-{}.csv", std::process::id()));
        std::fs::write(&path, "x,y\r\n1,2\r\n3,4\r\n").unwrap();
        let t = read_csv(&path, true);
        std::fs::remove_file(&path).ok();
        assert_eq!(t.unwrap().column_by_name("y"), Some(vec![2.0, 4.0]));
        let missing = read_csv(Path::new("/nonexistent-dir/none.csv"), true).unwrap_err();
        assert!(matches!(missing, CsvError::Io(_)));
        assert!(missing
            .to_string()
            .starts_with("cannot read the CSV file: "));
        assert!(std::error::Error::source(&missing).is_some());
    }

    #[test]
    fn never_panics() {
        let alphabet = [
            "1", "2.5", "-", ".", "e", ",", ",", "\"", " ", "\n", "\r\n", "#", "a", "é", "nan",
        ];
        let mut seed = 0x9E37_79B9u32;
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let mut text = String::new();
            let len = seed % 12;
            for _ in 0..len {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                text.push_str(alphabet[(seed >> 16) as usize % alphabet.len()]);
            }
            for has_header in [false, true] {
                match parse_csv(&text, has_header) {
                    Ok(t) => {
                        let w = t.width();
                        assert!(t
                            .rows
                            .iter()
                            .all(|r| r.len() == w && r.iter().all(|v| v.is_finite())));
                    }
                    Err(CsvError::Row { line, column, .. }) => {
                        assert!((1..=text.split('\n').count()).contains(&line));
                        assert!(column >= 1);
                    }
                    Err(CsvError::Empty) => {}
                    Err(CsvError::Io(e)) => panic!("{e}"),
                }
            }
        }
    }
}
