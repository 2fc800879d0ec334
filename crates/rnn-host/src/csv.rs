// About 370 lines of code; the tests (the old ones unchanged, plus new edge cases) take it past 400.
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
//!
//! The fields are split and unquoted by `csv-core`, the parser inside the `csv` crate, one
//! line at a time; this module keeps the line rules (numbering, comments, blanks around
//! quotes) and the strict checks, which that parser leaves out (it never fails). A file is
//! read line by line, so memory is the table plus the longest line.

extern crate std;

use std::cell::RefCell;
use std::fmt;
use std::format;
use std::io::{self, BufRead};
use std::path::Path;
use std::string::String;
use std::vec::Vec;

use csv_core::{ReadFieldResult, Reader, ReaderBuilder, Terminator};

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
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file could not be read (missing, unreadable, or not UTF-8).
    #[error("cannot read the CSV file: {0}")]
    Io(#[from] io::Error),
    /// A malformed line.
    #[error("line {line}, column {column}: {reason}{}", Found(.found))]
    Row {
        /// 1-based line number in the file (counting blank lines, comments and the header).
        line: usize,
        /// 1-based field number within the line.
        column: usize,
        /// The offending field as written, trimmed, at most 64 characters (then `...`); empty
        /// for an empty or missing field.
        found: String,
        /// What was wrong: `expected a number`, `expected a finite number`,
        /// `expected a number, found an empty field`, `expected 3 fields, found 2`,
        /// `unterminated quoted field` or `unexpected text after a closing quote`.
        reason: String,
    },
    /// No data rows: the input is empty or holds only blank lines, comments and a header.
    #[error("the CSV input has no data rows")]
    Empty,
}

/// The end of a row error's message: `, found` and the field in backquotes, unless it is empty.
struct Found<'a>(&'a str);

impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, ", found `{}`", self.0)
        }
    }
}

/// At most 64 characters of a hostile field, for an error message.
fn bounded(field: &str) -> String {
    match field.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &field[..i]),
        None => field.to_string(),
    }
}

/// Reads and parses the CSV file at `path`, a line at a time; see [`parse_csv`].
pub fn read_csv(path: &Path, has_header: bool) -> Result<Table, CsvError> {
    let mut file = io::BufReader::new(std::fs::File::open(path)?);
    let mut line = String::new();
    Parser::run(has_header, |parser| {
        for line_no in 1.. {
            line.clear();
            // Fails on a line that is not UTF-8.
            if file.read_line(&mut line)? == 0 {
                break;
            }
            parser.line(line_no, line.strip_suffix('\n').unwrap_or(&line))?;
        }
        Ok(())
    })
}

/// Parses CSV text into a [`Table`]. With `has_header`, the first line that is neither blank
/// nor a comment is the header.
pub fn parse_csv(text: &str, has_header: bool) -> Result<Table, CsvError> {
    Parser::run(has_header, |parser| {
        for (i, line) in text.split('\n').enumerate() {
            parser.line(i + 1, line)?;
        }
        Ok(())
    })
}

std::thread_local! {
    /// csv-core's parser, built once per thread: building one computes its tables, which takes
    /// tens of microseconds (and its `clone` does not copy them all, as of 0.1.13).
    static CORE: RefCell<Reader> = RefCell::new(
        // Lines come already split, so a `\r` in the middle of one is plain text.
        ReaderBuilder::new().terminator(Terminator::Any(b'\n')).build(),
    );
}

/// The blanks allowed around a field.
const SPACE: [char; 2] = [' ', '\t'];

/// A malformed field: `(column, found, reason)`.
type Bad<'l> = (usize, &'l str, &'static str);

/// The table read so far.
struct Parser<'c> {
    has_header: bool,
    header: Option<Vec<String>>,
    width: Option<usize>,
    rows: Vec<Vec<f64>>,
    fields: Fields<'c>,
}

impl Parser<'_> {
    /// Gives a new parser to `feed`, which passes it the lines, then returns the table.
    fn run(
        has_header: bool,
        feed: impl FnOnce(&mut Parser<'_>) -> Result<(), CsvError>,
    ) -> Result<Table, CsvError> {
        CORE.with_borrow_mut(|core| {
            let mut parser = Parser {
                has_header,
                header: None,
                width: None,
                rows: Vec::new(),
                fields: Fields {
                    core,
                    out: Vec::new(),
                },
            };
            feed(&mut parser)?;
            if parser.rows.is_empty() {
                return Err(CsvError::Empty);
            }
            Ok(Table {
                header: parser.header,
                rows: parser.rows,
            })
        })
    }

    /// Takes line `line_no` (1-based, without its `\n`).
    fn line(&mut self, line_no: usize, line: &str) -> Result<(), CsvError> {
        let line = match line_no {
            1 => line.strip_prefix('\u{feff}').unwrap_or(line),
            _ => line,
        };
        let line = line.strip_suffix('\r').unwrap_or(line);
        let content = line.trim_matches(SPACE);
        if content.is_empty() || content.starts_with('#') {
            return Ok(());
        }
        let err = |(column, found, reason): Bad<'_>| CsvError::Row {
            line: line_no,
            column,
            found: bounded(found),
            reason: String::from(reason),
        };
        if self.has_header && self.header.is_none() {
            let mut header = Vec::new();
            let n = self
                .fields
                .split(line, |_, _, text| header.push(String::from(text)));
            self.width = Some(n.map_err(err)?);
            self.header = Some(header);
            return Ok(());
        }
        // A quote error anywhere in the line comes first, then the field count, then the first
        // bad value.
        let mut row = Vec::with_capacity(self.width.unwrap_or(0));
        let mut bad: Option<Bad<'_>> = None;
        let n = self.fields.split(line, |column, raw, text| {
            if bad.is_some() {
                return;
            }
            let s = text.trim_matches(SPACE);
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() => row.push(v),
                _ if s.is_empty() => {
                    bad = Some((column, "", "expected a number, found an empty field"))
                }
                Ok(_) => bad = Some((column, raw, "expected a finite number")),
                Err(_) => bad = Some((column, raw, "expected a number")),
            }
        });
        let n = n.map_err(err)?;
        let w = *self.width.get_or_insert(n);
        if n != w {
            let s = if w == 1 { "" } else { "s" };
            return Err(CsvError::Row {
                line: line_no,
                column: w.min(n) + 1,
                found: String::new(),
                reason: format!("expected {w} field{s}, found {n}"),
            });
        }
        if let Some(b) = bad {
            return Err(err(b));
        }
        self.rows.push(row);
        Ok(())
    }
}

/// Splits lines into fields with `csv-core`, which finds the commas outside quotes and undoes
/// the quoting and the `""` escapes.
struct Fields<'c> {
    core: &'c mut Reader,
    /// The unquoted value of the current field (grown to the longest field).
    out: Vec<u8>,
}

impl Fields<'_> {
    /// Calls `each(column, raw, text)` for every field of `line` (a line without its ending)
    /// and returns how many there are: `raw` is the field as written and `text` its value,
    /// both without the blanks around the field. A malformed quoted field stops it.
    fn split<'l>(
        &mut self,
        line: &'l str,
        mut each: impl FnMut(usize, &'l str, &str),
    ) -> Result<usize, Bad<'l>> {
        self.core.reset();
        let mut rest = line;
        let mut column = 0;
        loop {
            column += 1;
            // csv-core takes a quote as opening only at the very start of a field.
            rest = rest.trim_start_matches(SPACE);
            let (nin, nout, last) = self.field(rest.as_bytes(), column == 1);
            // What was written, without the comma that ends it: it ends at a comma or at the
            // end of the line, so the slicing is on character boundaries.
            let written = &rest[..nin - usize::from(!last)];
            let raw = written.trim_end_matches(SPACE);
            if raw.starts_with('"') {
                check_quoted(raw).map_err(|reason| (column, raw, reason))?;
            }
            // csv-core copies the blanks after a closing quote into the value: drop them.
            let len = nout.saturating_sub(written.len() - raw.len());
            each(column, raw, &String::from_utf8_lossy(&self.out[..len]));
            if last {
                return Ok(column);
            }
            rest = &rest[nin..];
        }
    }

    /// Reads the field at the start of `input`: the bytes consumed (with the comma that ends
    /// it), the bytes of value written to `self.out`, and whether the line ends with it.
    fn field(&mut self, input: &[u8], first: bool) -> (usize, usize, bool) {
        let (mut nin, mut nout) = (0, 0);
        loop {
            // csv-core drops a byte-order mark that starts the first input it is given after a
            // reset; only the file's first line may have one, and that one is already gone. A
            // first input of one byte keeps any other.
            let end = if first && nin == 0 {
                input.len().min(1)
            } else {
                input.len()
            };
            let (res, i, o) = self
                .core
                .read_field(&input[nin..end], &mut self.out[nout..]);
            nin += i;
            nout += o;
            match res {
                // An empty input next tells csv-core that the line has ended.
                ReadFieldResult::InputEmpty => {}
                ReadFieldResult::OutputFull => self.out.resize(2 * self.out.len() + 64, 0),
                ReadFieldResult::Field { record_end } => return (nin, nout, record_end),
                ReadFieldResult::End => return (nin, nout, true),
            }
        }
    }
}

/// Checks a field written with quotes (`raw` starts with `"`, without the blanks after it):
/// it must end with its closing quote, the first `"` after the opening one that is not half
/// of a `""`.
fn check_quoted(raw: &str) -> Result<(), &'static str> {
    let inner = &raw[1..];
    let mut at = 0;
    for part in inner.split("\"\"") {
        if let Some(k) = part.find('"') {
            return if at + k + 1 == inner.len() {
                Ok(())
            } else {
                Err("unexpected text after a closing quote")
            };
        }
        at += part.len() + 2;
    }
    Err("unterminated quoted field")
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

    #[test]
    fn quotes_as_the_csv_crate_could_read_them_differently() {
        // Escaped quotes, blanks around a quoted field with a comma inside, a quote that
        // closes right after an escape, and a quote inside an unquoted field (plain text).
        let t = parse_csv(
            "\"a\"\"b\" ,  \"c, d\"\t,\"\"\"\",size in\",\" e \"\n1,2,3,4,5\n",
            true,
        )
        .unwrap();
        let header = ["a\"b", "c, d", "\"", "size in\"", " e "];
        assert_eq!(
            t.header,
            Some(header.iter().map(|h| h.to_string()).collect())
        );
        assert_eq!(t.rows, vec![vec![1.0, 2.0, 3.0, 4.0, 5.0]]);
        assert_eq!(
            row_err("1,\"2\"\"3\"\n", false),
            e(1, 2, "\"2\"\"3\"", "expected a number")
        );
        assert_eq!(
            row_err("1,2\"3\n", false),
            e(1, 2, "2\"3", "expected a number")
        );
        assert_eq!(
            row_err("  \"1,5\" ,2\n", false),
            e(1, 1, "\"1,5\"", "expected a number")
        );
        assert_eq!(
            row_err("\"a\"b\",1\n", true),
            e(1, 1, "\"a\"b\"", "unexpected text after a closing quote")
        );
        assert_eq!(
            row_err("1,\"2\" \"3\"\n", false),
            e(1, 2, "\"2\" \"3\"", "unexpected text after a closing quote")
        );
        assert_eq!(
            row_err("1,\"2\"\"\n", false),
            e(1, 2, "\"2\"\"", "unterminated quoted field")
        );
        assert_eq!(
            row_err("1,\"\n", false),
            e(1, 2, "\"", "unterminated quoted field")
        );
        // A quote error anywhere in the line comes before the field count and the values.
        assert_eq!(
            row_err("1,2\nx,3,\"4\n", false),
            e(2, 3, "\"4", "unterminated quoted field")
        );
        // An unterminated quote does not run on into the next line.
        assert_eq!(
            row_err("a,b\n1,\"2\n3\"\n", true),
            e(2, 2, "\"2", "unterminated quoted field")
        );
    }

    #[test]
    fn lines_as_the_csv_crate_could_count_them_differently() {
        let t = parse_csv("1,2\r\n\r\n3,4\r\n\r\n", false).unwrap();
        assert_eq!(t.rows, vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
        let text =
            "\r\n# c, \"x\r\n  \t\r\nt,v\r\n\r\n1,2\r\n# later, \"y\r\n  # indented\r\n3,x\r\n\r\n";
        assert_eq!(row_err(text, true), e(9, 2, "x", "expected a number"));
        // A comment after data, and `#` that does not start a line.
        let t = parse_csv("1,2\n# 3,4\n5,6\n", false).unwrap();
        assert_eq!(t.rows, vec![vec![1.0, 2.0], vec![5.0, 6.0]]);
        assert_eq!(
            row_err("\"#\",b\n1,#\n", true),
            e(2, 2, "#", "expected a number")
        );
        // `\r` in the middle of a line is text, and so is a second byte-order mark.
        assert_eq!(
            row_err("1\r2\n", false),
            e(1, 1, "1\r2", "expected a number")
        );
        assert_eq!(
            row_err("1,2\n\u{feff}3,4\n", false),
            e(2, 1, "\u{feff}3", "expected a number")
        );
        assert_eq!(
            row_err("\u{feff}\u{feff}1\n", false),
            e(1, 1, "\u{feff}1", "expected a number")
        );
        let t = parse_csv("# c\n\u{feff}x\n1\n", true).unwrap();
        assert_eq!(t.header, Some(vec!["\u{feff}x".to_string()]));
    }

    #[test]
    fn blank_and_missing_fields() {
        let why = "expected a number, found an empty field";
        assert_eq!(row_err("1, \t ,3\n", false), e(1, 2, "", why));
        assert_eq!(row_err("1,\n", false), e(1, 2, "", why));
        assert_eq!(row_err(",1\n", false), e(1, 1, "", why));
        assert_eq!(row_err("1,2,\n", false), e(1, 3, "", why));
        assert_eq!(
            row_err("a,b\n1,2,\n", true),
            e(2, 3, "", "expected 2 fields, found 3")
        );
        assert_eq!(
            row_err("a,b,c\n1,2\n", true),
            e(2, 3, "", "expected 3 fields, found 2")
        );
        // A header may have empty fields.
        let t = parse_csv("a,,\"\"\n1,2,3\n", true).unwrap();
        assert_eq!(
            t.header,
            Some(vec!["a".to_string(), String::new(), String::new()])
        );
    }

    #[test]
    fn long_fields_and_wide_rows() {
        let name = "n".repeat(5000);
        let row: Vec<String> = (0..2000).map(|i| format!(" {i}.5 ")).collect();
        let mut text = format!("\"{name}\"");
        text.push_str(&",x".repeat(1999));
        text.push('\n');
        text.push_str(&row.join(","));
        let t = parse_csv(&text, true).unwrap();
        assert_eq!(t.width(), 2000);
        assert_eq!(t.column_by_name(&name), Some(vec![0.5]));
        assert_eq!(t.rows[0][1999], 1999.5);
    }

    #[test]
    fn read_csv_reads_line_by_line() {
        let path = std::env::temp_dir().join(format!("rnn-csv-lines-{}.csv", std::process::id()));
        std::fs::write(&path, "\u{feff}# c\r\n\r\nx,y\r\n1,2\r\n3,\"4\r\n").unwrap();
        let t = read_csv(&path, true);
        std::fs::write(&path, b"x\n1\n\xff\n").unwrap();
        let not_utf8 = read_csv(&path, true);
        std::fs::write(&path, "1,2\n3,4").unwrap();
        let no_final_newline = read_csv(&path, false);
        std::fs::remove_file(&path).ok();
        assert_eq!(
            t.unwrap_err().to_string(),
            "line 5, column 2: unterminated quoted field, found `\"4`"
        );
        assert!(
            matches!(not_utf8, Err(CsvError::Io(ref e)) if e.kind() == io::ErrorKind::InvalidData)
        );
        assert_eq!(
            no_final_newline.unwrap().rows,
            vec![vec![1.0, 2.0], vec![3.0, 4.0]]
        );
    }

    #[test]
    fn a_huge_bad_field_is_quoted_by_its_first_64_characters() {
        let text = format!("1,{}\n", "x".repeat(100_000));
        let e = parse_csv(&text, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "line 1, column 2: expected a number, found `{}...`",
                "x".repeat(64)
            )
        );
    }
}
