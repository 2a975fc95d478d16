//! The first-run setup's server side: the setup code a fresh central writes to
//! `{data_dir}/setup-code` (mode 0600) for `/setup` to ask for, and the dashboard's network
//! changes ([`central_web::NetworkAdmin`]) run as writer jobs that publish their deltas.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use central_store::network::{BranchDetails, FirstAdmin};
use central_store::StoreError;

use crate::ingest::Ingest;

/// The file holding the setup code, in the data directory.
pub fn code_path(data_dir: &Path) -> PathBuf {
    data_dir.join("setup-code")
}

/// For a central with no dashboard user: a fresh setup code, written (readable by its owner
/// only) to [`code_path`] and answered, for `/setup` to ask for. For one set up already:
/// none, and any old code file is removed.
pub fn prepare_code(data_dir: &Path, fresh: bool) -> anyhow::Result<Option<String>> {
    let path = code_path(data_dir);
    if !fresh {
        let _ = std::fs::remove_file(&path);
        return Ok(None);
    }
    let code = central_web::random_token();
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot write the setup code to {}: {e}", path.display()))?;
    writeln!(f, "{code}")?;
    tracing::warn!(
        file = %path.display(),
        "central is not set up: open /setup in a browser and give the code in this file, or run `central init`"
    );
    Ok(Some(code))
}

/// The dashboard's network changes, through the writer.
#[derive(Debug, Clone)]
pub struct DashboardNetwork {
    /// The writer's jobs.
    pub ingest: Ingest,
    /// Where the setup code was written; removed once central is set up.
    pub code_file: PathBuf,
}

impl central_web::NetworkAdmin for DashboardNetwork {
    fn save_branch(
        &self,
        branch: BranchDetails,
        create: bool,
    ) -> central_web::BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.ingest.save_branch(branch, create))
    }

    fn save_reader(
        &self,
        reader: central_store::readers::Reader,
        pin_hash: Option<String>,
        create: bool,
    ) -> central_web::BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.ingest.write_and_publish(move |s| {
            let now = chrono::Utc::now().timestamp_millis();
            s.save_reader(&reader, pin_hash.as_deref(), create, now)
        }))
    }

    fn renew_membership(
        &self,
        card: String,
        until: chrono::NaiveDate,
    ) -> central_web::BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(
            self.ingest
                .write_and_publish(move |s| s.renew_membership(&card, until)),
        )
    }

    fn save_category(
        &self,
        row: central_store::rules::CategoryRow,
        create: bool,
    ) -> central_web::BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(
            self.ingest
                .write_and_publish(move |s| s.save_category(&row, create)),
        )
    }

    fn save_matrix(
        &self,
        rules: Vec<rong_protocol::delta::LoanRule>,
    ) -> central_web::BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(
            self.ingest
                .write_and_publish(move |s| s.save_matrix(&rules)),
        )
    }

    fn close_days(
        &self,
        days: Vec<rong_protocol::delta::ClosedDay>,
    ) -> central_web::BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.ingest.calendar(days, None))
    }

    fn open_day(
        &self,
        branch: rong_protocol::ids::BranchId,
        date: chrono::NaiveDate,
    ) -> central_web::BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.ingest.calendar(Vec::new(), Some((branch, date))))
    }

    fn desk(
        &self,
        at: central_store::desk::DeskAt,
        act: central_store::desk::DeskAct,
    ) -> central_web::BoxFuture<'_, Result<central_store::desk::DeskDone, StoreError>> {
        Box::pin(self.ingest.desk(at, act))
    }

    fn init(
        &self,
        admin: FirstAdmin,
        network: String,
        first: BranchDetails,
    ) -> central_web::BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.ingest.init_network(admin, network, first).await?;
            let _ = std::fs::remove_file(&self.code_file);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_fresh_central_writes_a_code_only_its_owner_reads_and_a_set_up_one_none() {
        let dir = tempfile::tempdir().unwrap();
        let code = prepare_code(dir.path(), true).unwrap().unwrap();
        let path = code_path(dir.path());
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), code);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = prepare_code(dir.path(), true).unwrap().unwrap();
        assert_ne!(again, code, "a new code at each start");
        assert_eq!(prepare_code(dir.path(), false).unwrap(), None);
        assert!(!path.exists(), "removed once set up");
    }
}

/// The dashboard's catalogue import: the upload goes to a file in the data directory, the
/// catalogue crate imports it on the writer (as `central import marc` does), and the file
/// is removed.
#[derive(Debug, Clone)]
pub struct DashboardCatalogue {
    /// The writer's jobs.
    pub ingest: Ingest,
    /// The holdings mapping.
    pub config: central_catalogue::config::ImportConfig,
    /// Where uploads wait while they are imported.
    pub data_dir: PathBuf,
}

impl central_web::CatalogueAdmin for DashboardCatalogue {
    fn import_marc(
        &self,
        bytes: Vec<u8>,
    ) -> central_web::BoxFuture<'_, Result<central_web::MarcImportSummary, StoreError>> {
        Box::pin(async move {
            let dir = self.data_dir.join("imports");
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::Task(e.to_string()))?;
            let path = dir.join(format!("{}.mrc", central_web::random_token()));
            std::fs::write(&path, &bytes).map_err(|e| StoreError::Task(e.to_string()))?;
            let (config, file) = (self.config.clone(), path.clone());
            let result = self
                .ingest
                .writer()
                .run(move |s| {
                    central_catalogue::import::import_files(s, &config, &[file], &mut |_| {})
                        .map_err(|e| StoreError::Conflict(e.to_string()))
                })
                .await;
            let _ = std::fs::remove_file(&path);
            let report = result?;
            Ok(central_web::MarcImportSummary {
                imported: report.imported,
                updated: report.updated,
                skipped: report
                    .skipped
                    .iter()
                    .map(|s| s.to_string().replace(&path.display().to_string(), "file"))
                    .collect(),
                unreadable: report.unreadable.first().map(|(_, why)| why.clone()),
            })
        })
    }
}
