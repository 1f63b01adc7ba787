//! Manifest tables: CSV (RFC 4180, UTF-8 with or without BOM) or JSON Lines.
//!
//! A manifest is one row per track. Both formats are read into the same
//! string table so the rest of the crate does not care which one it was:
//! CSV cells are kept verbatim (quoted newlines and commas included), JSON
//! Lines values become their text (`null` and absent keys become empty
//! cells). The format is chosen by extension: `.jsonl` and `.ndjson` are JSON
//! Lines, anything else is CSV with a header row.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// The UTF-8 byte order mark that spreadsheet programs put at the start of CSV exports.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A manifest read into memory: column names and rows of text cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The file it was read from.
    pub path: PathBuf,
    /// Column names: CSV header order; for JSON Lines each line's keys in
    /// sorted order, new keys appended as later lines bring them.
    pub columns: Vec<String>,
    /// One entry per data row, each with one cell per column (empty when missing).
    pub rows: Vec<Vec<String>>,
    /// The 1-based line in the file where each row starts, for error messages.
    pub row_lines: Vec<u64>,
    /// `(row, column)` of CSV cells that were not valid UTF-8; such cells hold
    /// a lossy copy so that only the tracks that use them fail.
    pub invalid_utf8_cells: Vec<(usize, usize)>,
}

impl Manifest {
    /// Reads a manifest, choosing CSV or JSON Lines by extension.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            cause: source,
        })?;
        let extension = path
            .extension()
            .and_then(|extension| extension.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("jsonl" | "ndjson") => Self::parse_json_lines(&bytes, path),
            _ => Self::parse_csv(&bytes, path),
        }
    }

    /// Parses CSV bytes with a header row. A leading UTF-8 BOM is dropped;
    /// every row must have as many fields as the header.
    pub fn parse_csv(bytes: &[u8], path: &Path) -> Result<Self> {
        let invalid = |reason: String| Error::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(body);
        let header = reader
            .byte_headers()
            .map_err(|error| invalid(format!("cannot read the header row: {error}")))?
            .clone();
        let mut columns: Vec<String> = Vec::with_capacity(header.len());
        for (index, name) in header.iter().enumerate() {
            let name = std::str::from_utf8(name)
                .map_err(|_| invalid(format!("header field {} is not valid UTF-8", index + 1)))?;
            columns.push(name.to_string());
        }
        if columns.is_empty() || (columns.len() == 1 && columns[0].is_empty()) {
            return Err(invalid("the header row is empty".to_string()));
        }
        check_unique_columns(&columns).map_err(&invalid)?;

        let mut rows = Vec::new();
        let mut row_lines = Vec::new();
        let mut invalid_utf8_cells = Vec::new();
        let mut scanned_offset = 0;
        let mut newlines_before: u64 = 0;
        for record in reader.byte_records() {
            let record = record.map_err(|error| invalid(csv_error_text(&error)))?;
            // Line numbers counted from the record's byte offset (the csv
            // crate's own line counter differs between LF and CRLF files);
            // the offset may point at the previous record's terminator.
            let mut offset = record
                .position()
                .map_or(scanned_offset, |position| position.byte() as usize)
                .clamp(scanned_offset, body.len());
            while offset < body.len() && (body[offset] == b'\r' || body[offset] == b'\n') {
                offset += 1;
            }
            for byte in &body[scanned_offset..offset] {
                if *byte == b'\n' {
                    newlines_before += 1;
                }
            }
            scanned_offset = offset;
            let line = newlines_before + 1;
            let mut row = Vec::with_capacity(record.len());
            for (column_index, field) in record.iter().enumerate() {
                if std::str::from_utf8(field).is_err() {
                    invalid_utf8_cells.push((rows.len(), column_index));
                }
                row.push(String::from_utf8_lossy(field).into_owned());
            }
            rows.push(row);
            row_lines.push(line);
        }
        Ok(Self {
            path: path.to_path_buf(),
            columns,
            rows,
            row_lines,
            invalid_utf8_cells,
        })
    }

    /// Parses JSON Lines bytes: one JSON object per non-blank line. Values may
    /// be strings, numbers, booleans or null; nested arrays and objects are an
    /// error naming the line and key.
    pub fn parse_json_lines(bytes: &[u8], path: &Path) -> Result<Self> {
        let invalid = |reason: String| Error::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        let text = std::str::from_utf8(body)
            .map_err(|error| invalid(format!("not valid UTF-8 at byte {}", error.valid_up_to())))?;
        let mut columns: Vec<String> = Vec::new();
        let mut objects: Vec<Vec<(usize, String)>> = Vec::new();
        let mut row_lines = Vec::new();
        for (line_index, line) in text.lines().enumerate() {
            let line_number = line_index as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(line)
                .map_err(|error| invalid(format!("line {line_number}: not valid JSON: {error}")))?;
            let Value::Object(object) = value else {
                return Err(invalid(format!(
                    "line {line_number}: expected a JSON object"
                )));
            };
            let mut cells = Vec::with_capacity(object.len());
            for (key, value) in object {
                let cell = match value {
                    Value::Null => String::new(),
                    Value::String(text) => text,
                    Value::Bool(flag) => flag.to_string(),
                    Value::Number(number) => number.to_string(),
                    Value::Array(_) | Value::Object(_) => {
                        return Err(invalid(format!(
                            "line {line_number}: key `{key}` holds a nested array or object; manifest values must be scalars"
                        )));
                    }
                };
                let column_index =
                    if let Some(index) = columns.iter().position(|column| *column == key) {
                        index
                    } else {
                        columns.push(key);
                        columns.len() - 1
                    };
                cells.push((column_index, cell));
            }
            objects.push(cells);
            row_lines.push(line_number);
        }
        if columns.is_empty() {
            return Err(invalid("no JSON objects with keys found".to_string()));
        }
        let mut rows = Vec::with_capacity(objects.len());
        for cells in objects {
            let mut row = vec![String::new(); columns.len()];
            for (column_index, cell) in cells {
                row[column_index] = cell;
            }
            rows.push(row);
        }
        Ok(Self {
            path: path.to_path_buf(),
            columns,
            rows,
            row_lines,
            invalid_utf8_cells: Vec::new(),
        })
    }

    /// Whether a cell held bytes that are not valid UTF-8 (CSV only).
    #[must_use]
    pub fn is_invalid_utf8(&self, row: usize, column: usize) -> bool {
        self.invalid_utf8_cells.contains(&(row, column))
    }

    /// The index of a column, or a manifest error naming the missing column
    /// and the descriptor key (`what`) that asked for it.
    pub fn column_index(&self, column: &str, what: &str) -> Result<usize> {
        match self.columns.iter().position(|name| name == column) {
            Some(index) => Ok(index),
            None => Err(Error::Manifest {
                path: self.path.clone(),
                reason: format!(
                    "column `{column}` (from descriptor key `{what}`) is not in the manifest; columns are: {}",
                    self.columns.join(", ")
                ),
            }),
        }
    }

    /// How many cells of a column are filled and how many of those parse as
    /// finite numbers, with the first cell that does not.
    #[must_use]
    pub fn column_census(&self, column_index: usize) -> ColumnCensus {
        let mut census = ColumnCensus::default();
        for (row_index, row) in self.rows.iter().enumerate() {
            let cell = row[column_index].trim();
            if cell.is_empty() {
                continue;
            }
            census.filled += 1;
            match cell.parse::<f64>() {
                Ok(value) if value.is_finite() => census.numeric += 1,
                _ => {
                    if census.first_text.is_none() {
                        census.first_text = Some((self.row_lines[row_index], cell.to_owned()));
                    }
                }
            }
        }
        census
    }

    /// Whether a column is numeric: more than half of its filled cells (and
    /// at least one) parse as finite numbers. A numeric column with a few
    /// bad cells (`n/a`, `12,5`) stays numeric; the rows with those cells fail.
    #[must_use]
    pub fn is_numeric_column(&self, column_index: usize) -> bool {
        self.column_census(column_index).is_numeric()
    }
}

/// Filled and numeric cells of one manifest column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnCensus {
    /// Non-empty cells.
    pub filled: usize,
    /// Non-empty cells that parse as finite numbers.
    pub numeric: usize,
    /// Manifest line and text of the first filled cell that is not a finite number.
    pub first_text: Option<(u64, String)>,
}

impl ColumnCensus {
    /// More than half of the filled cells are numbers.
    #[must_use]
    pub fn is_numeric(&self) -> bool {
        self.numeric > 0 && self.numeric * 2 > self.filled
    }
}

fn check_unique_columns(columns: &[String]) -> std::result::Result<(), String> {
    for (index, column) in columns.iter().enumerate() {
        if columns[..index].contains(column) {
            return Err(format!("column `{column}` appears twice in the header"));
        }
    }
    Ok(())
}

fn csv_error_text(error: &csv::Error) -> String {
    let line = error.position().map(csv::Position::line);
    let detail = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields but the header has {expected_len}"),
        _ => error.to_string(),
    };
    match line {
        Some(line) => format!("line {line}: {detail}"),
        None => detail,
    }
}
