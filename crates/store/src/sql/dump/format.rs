//! The dump's line format: the header that lists every table, rows as JSON arrays checked
//! against their columns, bounded lines, the `INSERT` of a batch. Pure functions over bytes;
//! `mod.rs` moves the rows between these lines and the database.

use std::collections::BTreeMap;
use std::io::{self, BufRead};

use serde_json::Value;

use super::{DumpError, quoted};

/// The largest line a restore accepts (a session record is far smaller).
pub(super) const MAX_LINE: u64 = 32 * 1024 * 1024;

/// A column's kind: every kunci column holds integers or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Integer,
    Text,
}

impl Kind {
    pub(super) fn of(data_type: &str) -> Option<Self> {
        match data_type.to_ascii_lowercase().as_str() {
            "bigint" | "integer" | "int" | "smallint" | "mediumint" | "tinyint" => {
                Some(Self::Integer)
            }
            "text" | "mediumtext" | "longtext" | "tinytext" | "varchar" | "character varying"
            | "char" | "character" => Some(Self::Text),
            _ => None,
        }
    }
}

/// A table as the database describes it.
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) name: String,
    pub(super) columns: Vec<(String, Kind)>,
}

/// Names kunci gives its tables and columns; anything else in a dump is refused before it can
/// reach SQL.
pub(super) fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

pub(super) fn malformed(why: &str) -> DumpError {
    DumpError::Malformed(why.to_owned())
}

/// The next line without its newline; `None` at the end.
pub(super) fn read_line(input: &mut dyn BufRead) -> Result<Option<Vec<u8>>, DumpError> {
    let mut line = Vec::new();
    let read = io::Read::take(&mut *input, MAX_LINE + 1).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(
            if u64::try_from(line.len()).unwrap_or(u64::MAX) > MAX_LINE {
                malformed("a line is longer than 32 MiB")
            } else {
                malformed("its last line is cut short")
            },
        );
    }
    line.pop();
    Ok(Some(line))
}

/// One row, checked against the table's columns.
pub(super) fn parse_row(line: &[u8], table: &Table) -> Result<Vec<Value>, DumpError> {
    let Ok(Value::Array(values)) = serde_json::from_slice::<Value>(line) else {
        return Err(malformed(&format!(
            "a row of {} is not a JSON array",
            table.name
        )));
    };
    if values.len() != table.columns.len() {
        return Err(malformed(&format!(
            "a row of {} has {} values for {} columns",
            table.name,
            values.len(),
            table.columns.len()
        )));
    }
    for (value, (column, kind)) in values.iter().zip(&table.columns) {
        let fits = match (kind, value) {
            (_, Value::Null) | (Kind::Text, Value::String(_)) => true,
            (Kind::Integer, Value::Number(n)) => n.is_i64(),
            _ => false,
        };
        if !fits {
            return Err(malformed(&format!(
                "{}.{column} holds a value of the wrong type",
                table.name
            )));
        }
    }
    Ok(values)
}

/// `INSERT` of `rows` rows, placeholders numbered in order.
pub(super) fn insert_sql(table: &Table, rows: usize) -> String {
    let columns: Vec<String> = table.columns.iter().map(|(c, _)| quoted(c)).collect();
    let width = table.columns.len();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let marks: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        quoted(&table.name),
        columns.join(", "),
        tuples.join(", ")
    )
}

/// The first line of a dump.
#[derive(Debug)]
pub(super) struct DumpHeader {
    pub(super) tables: Vec<ListedTable>,
}

#[derive(Debug)]
pub(super) struct ListedTable {
    pub(super) name: String,
    pub(super) columns: Vec<String>,
    pub(super) rows: u64,
}

impl DumpHeader {
    pub(super) fn parse(line: &[u8]) -> Result<Self, DumpError> {
        let value: Value =
            serde_json::from_slice(line).map_err(|_| malformed("the first line is not JSON"))?;
        if value["kunci_dump"].as_u64() != Some(1) {
            return Err(malformed("it is not a kunci dump of version 1"));
        }
        let listed = value["tables"]
            .as_array()
            .ok_or_else(|| malformed("it lists no tables"))?;
        let mut tables = Vec::with_capacity(listed.len());
        for table in listed {
            let name = table["name"]
                .as_str()
                .filter(|n| plain_name(n))
                .ok_or_else(|| malformed("a table has no valid name"))?;
            let columns = table["columns"]
                .as_array()
                .ok_or_else(|| malformed("a table lists no columns"))?
                .iter()
                .map(|c| c.as_str().filter(|c| plain_name(c)).map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| malformed("a column has no valid name"))?;
            let rows = table["rows"]
                .as_u64()
                .ok_or_else(|| malformed("a table has no row count"))?;
            tables.push(ListedTable {
                name: name.to_owned(),
                columns,
                rows,
            });
        }
        Ok(Self { tables })
    }

    /// The database's tables in the dump's order, when both hold the same tables and columns.
    pub(super) fn matching(&self, tables: Vec<Table>) -> Result<Vec<Table>, DumpError> {
        let mut by_name: BTreeMap<String, Table> =
            tables.into_iter().map(|t| (t.name.clone(), t)).collect();
        let mut ordered = Vec::with_capacity(self.tables.len());
        for listed in &self.tables {
            let table = by_name.remove(&listed.name).ok_or_else(|| {
                DumpError::Mismatch(format!("this database has no table {}", listed.name))
            })?;
            let names: Vec<&str> = table.columns.iter().map(|(c, _)| c.as_str()).collect();
            if names != listed.columns {
                return Err(DumpError::Mismatch(format!(
                    "the columns of {} differ (the dump has {}; this database has {})",
                    listed.name,
                    listed.columns.join(", "),
                    names.join(", ")
                )));
            }
            ordered.push(table);
        }
        if let Some(extra) = by_name.keys().next() {
            return Err(DumpError::Mismatch(format!(
                "the dump has no table {extra}, which this database has"
            )));
        }
        Ok(ordered)
    }
}

/// The end line must close exactly the tables and rows the header listed, and nothing may
/// follow it.
pub(super) fn check_end(
    input: &mut dyn BufRead,
    listed: &DumpHeader,
    tables: usize,
) -> Result<u64, DumpError> {
    let end = read_line(input)?.ok_or_else(|| malformed("it has no end line"))?;
    let end: Value =
        serde_json::from_slice(&end).map_err(|_| malformed("the end line is not JSON"))?;
    let rows: u64 = listed.tables.iter().map(|t| t.rows).sum();
    if end["end"]["rows"].as_u64() != Some(rows)
        || end["end"]["tables"].as_u64() != Some(u64::try_from(tables).unwrap_or(0))
    {
        return Err(malformed("the end line does not match the table list"));
    }
    if read_line(input)?.is_some() {
        return Err(malformed("it has lines after its end"));
    }
    Ok(rows)
}
