//! Every item of the programs' own crates the benchmarks run in-process, in one place.

/// Central's catalogue: the MARC codec and the seed's generated library.
pub mod catalogue {
    pub use central_catalogue::marc::{iso2709, Field, Record};
    pub use central_store::synthetic::generate;
}

/// Central's digitisation: the OCR worker pool, PDFs, rendered test pages, its store.
pub mod documents {
    pub use central_digitise::{ocr, pdf, process, testpage};
    pub use central_store::{digitise as db, Store};
}

/// The station's digitisation: page processing, the bag writer, where files go, its store.
pub mod station {
    pub use edge_agent::digitise::bag::{self, BagInput};
    pub use edge_agent::digitise::pages::{process, sha256_hex, write_atomic, Processed};
    pub use edge_agent::digitise::{access_path, bags_dir, job_dir, master_path};
    pub use edge_agent::store::{PageRow, Store};
}
