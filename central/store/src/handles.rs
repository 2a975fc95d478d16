//! The two ways into the database: [`Reads`], the pool every reader borrows a connection
//! from, and [`Writer`], the one thread that owns the write connection and runs every
//! change in order. Callers hand each a closure; the closure calls store functions, so no
//! caller above this crate names `rusqlite`.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use rong_sqlite::ReadPool;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::{Store, StoreError};

/// A read connection lent to one closure; store functions take it where they take a
/// connection.
#[derive(Debug)]
pub struct Conn<'a>(&'a mut Connection);

impl Deref for Conn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.0
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.0
    }
}

/// The read side: a pool of read-only connections, each closure run on one of them.
#[derive(Debug, Clone)]
pub struct Reads {
    pool: Arc<ReadPool>,
}

impl Reads {
    /// Reads of the database at `path` (already opened and migrated by [`Store::open`]).
    pub fn new(path: &Path) -> Reads {
        Reads {
            pool: Arc::new(ReadPool::new(path)),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.pool.path()
    }

    /// Runs `f` on a pooled connection on this thread (a blocking thread already, such as
    /// a streaming snapshot's or the MQTT catch-up's).
    pub fn blocking<T, E>(&self, f: impl FnOnce(&mut Conn<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut c = self.pool.get().map_err(StoreError::from)?;
        f(&mut Conn(&mut c))
    }

    /// Runs `f` on a pooled connection off the async threads and waits for its result.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let reads = self.clone();
        tokio::task::spawn_blocking(move || reads.blocking(f))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// A change for the writer to run on its connection.
type Change = Box<dyn FnOnce(&mut Store) + Send>;

/// The write side: a handle to the one thread that owns the write connection. Changes run
/// one at a time, in the order they were sent, so no two writers ever wait on each other.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Change>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("open", &!self.tx.is_closed())
            .finish()
    }
}

impl Writer {
    /// Starts the writer thread on `store`; it ends once every handle is gone, after the
    /// change in hand.
    pub fn spawn(store: Store) -> std::io::Result<(Writer, JoinHandle<()>)> {
        let (tx, mut rx) = mpsc::channel::<Change>(1024);
        let handle = std::thread::Builder::new()
            .name("central-writer".into())
            .spawn(move || {
                let mut store = store;
                while let Some(change) = rx.blocking_recv() {
                    change(&mut store);
                }
                tracing::debug!("writer stopped");
            })?;
        Ok((Writer { tx }, handle))
    }

    /// Whether the writer thread is gone (central is shutting down).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Queues `f` without waiting for it to run (ingest from MQTT, which answers devices
    /// itself). Fails only when the writer is gone.
    pub async fn send(
        &self,
        f: impl FnOnce(&mut Store) + Send + 'static,
    ) -> Result<(), StoreError> {
        self.tx
            .send(Box::new(f))
            .await
            .map_err(|_| StoreError::WriterGone)
    }

    /// Runs `f` on the write connection and waits for its result.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.send(move |s| {
            let _ = tx.send(f(s));
        })
        .await?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Records one change in the audit log (see [`crate::audit`]) and waits until it is
    /// stored. A failure is logged here too, so callers whose change is already made may
    /// ignore the result.
    pub async fn audit(&self, entry: crate::audit::Entry) -> Result<(), StoreError> {
        let action = entry.action.clone();
        let r = self.run(move |s| s.audit(&entry)).await;
        if let Err(e) = &r {
            tracing::error!(error = %e, action = %action, "cannot write the audit log");
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn changes_run_in_order_and_reads_see_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.db")).unwrap();
        let reads = Reads::new(store.path());
        let (writer, thread) = Writer::spawn(store).unwrap();
        let mut order = Vec::new();
        for n in 0..3 {
            order.push(writer.run(move |_| Ok(n)).await.unwrap());
        }
        assert_eq!(order, [0, 1, 2]);
        let created = writer
            .run(|s| s.create_user("ana", "$argon2id$x", crate::admin::Role::Admin, None, 1))
            .await;
        assert!(created.is_ok(), "{created:?}");
        let user = reads
            .run(|c| crate::admin::user(c, "ana"))
            .await
            .unwrap()
            .expect("the user is there");
        assert_eq!(user.name, "ana");
        assert!(!writer.is_closed());
        drop(writer);
        thread.join().unwrap();
    }

    #[tokio::test]
    async fn a_gone_writer_answers_writer_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.db")).unwrap();
        let (writer, thread) = Writer::spawn(store).unwrap();
        let panicking = writer.run(|_| -> Result<(), StoreError> { panic!("boom") });
        assert!(matches!(panicking.await, Err(StoreError::WriterGone)));
        thread.join().unwrap_err();
        let after = writer.run(|_| Ok(())).await;
        assert!(matches!(after, Err(StoreError::WriterGone)));
    }
}
