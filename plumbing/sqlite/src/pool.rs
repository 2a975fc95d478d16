//! Read-only connections lent to HTTP handlers and catch-up, beside the one writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;

/// Idle connections kept; more are opened under load and closed when returned.
const MAX_IDLE: usize = 8;
/// How long a read waits for the writer's checkpoint lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements cached per read connection.
const STATEMENT_CACHE: usize = 32;

/// A small pool of read-only connections.
#[derive(Debug)]
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// A connection borrowed from the pool; it goes back on drop.
#[derive(Debug)]
pub struct PooledConn<'a> {
    pool: &'a ReadPool,
    conn: Option<Connection>,
}

impl std::ops::Deref for PooledConn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Only `Drop` takes the connection out.
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl std::ops::DerefMut for PooledConn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), self.pool.idle.lock()) {
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }
}

impl ReadPool {
    /// A pool over a database that [`crate::open`] has already recognised and migrated.
    pub fn new(path: &Path) -> ReadPool {
        ReadPool {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The database file the pool reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Borrows a read-only connection, opening one when none is idle.
    pub fn get(&self) -> rusqlite::Result<PooledConn<'_>> {
        let reused = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match reused {
            Some(c) => c,
            None => {
                let c = crate::open_read(&self.path, BUSY_TIMEOUT)?;
                c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                c
            }
        };
        Ok(PooledConn {
            pool: self,
            conn: Some(conn),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{open, Migration, Options};

    /// Connections waiting to be borrowed.
    fn idle(pool: &ReadPool) -> usize {
        pool.idle.lock().unwrap().len()
    }

    #[test]
    fn lends_read_only_connections_and_keeps_a_few() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = open(
            &path,
            &Options::default(),
            &[Migration::sql("CREATE TABLE a (x INTEGER);")],
        )
        .unwrap();
        let pool = ReadPool::new(&path);
        assert_eq!(pool.path(), path);
        {
            let many: Vec<PooledConn<'_>> =
                (0..MAX_IDLE + 2).map(|_| pool.get().unwrap()).collect();
            writer.execute("INSERT INTO a VALUES (1)", []).unwrap();
            let seen: i64 = many[0]
                .query_row("SELECT count(*) FROM a", [], |r| r.get(0))
                .unwrap();
            assert_eq!(seen, 1, "reads see the writer's commits");
            assert!(many[1].execute("INSERT INTO a VALUES (2)", []).is_err());
            assert_eq!(idle(&pool), 0);
        }
        assert_eq!(idle(&pool), MAX_IDLE, "extra connections closed on return");
        drop(pool.get().unwrap());
        assert_eq!(idle(&pool), MAX_IDLE, "an idle connection is reused");
    }
}
