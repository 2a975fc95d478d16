//! Reading rows into values: the "prepare, query, map, collect" every store list repeats,
//! and a mapper that fills a struct from its columns in order.

use rusqlite::{Connection, OptionalExtension, Params, Row};

/// Every row of `sql` (a cached statement) run with `params`, each mapped by `map`.
pub fn query_list<T, P, F>(c: &Connection, sql: &str, params: P, map: F) -> rusqlite::Result<Vec<T>>
where
    P: Params,
    F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
{
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(params, map)?;
    rows.collect()
}

/// The first row of `sql` (a cached statement) run with `params`, mapped by `map`; `None`
/// when there is none.
pub fn query_opt<T, P, F>(
    c: &Connection,
    sql: &str,
    params: P,
    map: F,
) -> rusqlite::Result<Option<T>>
where
    P: Params,
    F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
{
    c.prepare_cached(sql)?.query_row(params, map).optional()
}

/// A row mapper that fills a struct's fields from the row's columns, in the order named:
/// `from_row!(Page => position, width)` reads column 0 into `position` and column 1 into
/// `width`, so the field list reads like the `SELECT` list it must match.
///
/// `count as i64` reads the column as an `i64` and casts it to the field's type (SQLite
/// stores no unsigned integers); `due: date_at` reads it with `date_at(row, index)`, a
/// conversion such as a parse. Fields that need more want a hand-written mapper.
#[macro_export]
macro_rules! from_row {
    ($ty:ident => $($field:ident $(as $sql:ty)? $(: $conv:expr)?),+ $(,)?) => {
        |row: &$crate::__rusqlite::Row<'_>| -> $crate::__rusqlite::Result<$ty> {
            let mut next = 0usize;
            let mut col = || {
                next += 1;
                next - 1
            };
            Ok($ty { $($field: $crate::from_row!(@get row, col() $(, as $sql)? $(, $conv)?)),+ })
        }
    };
    (@get $row:ident, $i:expr) => {
        $row.get($i)?
    };
    (@get $row:ident, $i:expr, as $sql:ty) => {
        $row.get::<_, $sql>($i)? as _
    };
    (@get $row:ident, $i:expr, $conv:expr) => {
        $conv($row, $i)?
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Pair {
        name: String,
        n: u64,
        note: Option<String>,
    }

    /// A note, shouted.
    fn loud(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<String>> {
        Ok(r.get::<_, Option<String>>(i)?.map(|s| s.to_uppercase()))
    }

    #[test]
    fn lists_one_and_maps_in_column_order() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE t (name TEXT, n INTEGER, note TEXT);
             INSERT INTO t VALUES ('a', 1, NULL), ('b', 2, 'x');",
        )
        .unwrap();
        let sql = "SELECT name, n, note FROM t WHERE n >= ?1 ORDER BY n";
        let all = query_list(&c, sql, [1], crate::from_row!(Pair => name, n as i64, note)).unwrap();
        assert_eq!(
            all,
            [
                Pair {
                    name: "a".into(),
                    n: 1,
                    note: None
                },
                Pair {
                    name: "b".into(),
                    n: 2,
                    note: Some("x".into())
                },
            ]
        );
        let one = query_opt(
            &c,
            sql,
            [2],
            crate::from_row!(Pair => name, n as i64, note: loud),
        );
        assert_eq!(one.unwrap().unwrap().note.as_deref(), Some("X"));
        assert!(query_opt(&c, sql, [3], |r| r.get::<_, i64>(1))
            .unwrap()
            .is_none());
        assert!(query_list(&c, sql, [3], |r| r.get::<_, i64>(1))
            .unwrap()
            .is_empty());
    }
}
