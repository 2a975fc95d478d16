//! The uploader: a background task that sends queued bags to central with tus, oldest
//! job first, tag files then access files then masters, saving the confirmed offset after
//! every chunk; then submits the bag and records central's verdict.
//!
//! Any failure backs off ([`Backoff`]) and the next attempt asks central (`HEAD`) where
//! each unfinished upload stands, so it resumes instead of starting again.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::{StatusCode, Url};
use rong_protocol::digitise::{upload_meta, BagFile, BagSubmission, BagVerdict};
use tokio::sync::watch;

use super::tus::{TusClient, TusError};
use super::{bags_dir, cleanup, Digitise};
use crate::store::{StoreError, UploadRow};

/// Why an upload attempt stopped.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The tus exchange failed.
    #[error(transparent)]
    Tus(#[from] TusError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bag file could not be read.
    #[error("bag file: {0}")]
    Io(#[from] std::io::Error),
    /// Central did not take the submission; the uploads were checked again.
    #[error("bag submission refused for now: {0}")]
    Submission(String),
    /// A blocking task failed.
    #[error("task: {0}")]
    Join(String),
}

/// Bounded exponential backoff with jitter: each wait is drawn between half and all of
/// `base · 2^attempt`, capped at `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// Starts at `base`, never waits longer than `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    /// The next wait.
    pub fn next_wait(&mut self, rng: &mut impl Rng) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let lo = exp / 2;
        let spread = (exp - lo).as_millis() as u64;
        lo + Duration::from_millis(rng.gen_range(0..=spread))
    }

    /// After a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

async fn blocking<T: Send + 'static>(
    digitise: &Arc<Digitise>,
    f: impl FnOnce(&Digitise) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, UploadError> {
    let a = digitise.clone();
    tokio::task::spawn_blocking(move || f(&a))
        .await
        .map_err(|e| UploadError::Join(e.to_string()))?
        .map_err(UploadError::from)
}

/// Runs until `stop`: uploads queued jobs, sleeping when there are none. Requests are
/// signed by `signer`.
pub async fn run(
    digitise: Arc<Digitise>,
    signer: Arc<rong_identity::Signer>,
    central_key: rong_identity::PublicKey,
    ca_pem: Option<String>,
    mut stop: watch::Receiver<bool>,
) {
    let client = match TusClient::new(
        &digitise.settings.central_url,
        signer,
        central_key,
        ca_pem.as_deref(),
    ) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "uploader not started");
            return;
        }
    };
    let poll = Duration::from_secs(digitise.settings.digitise.poll_secs);
    let mut backoff = Backoff::new(
        Duration::from_millis(500),
        Duration::from_secs(digitise.settings.digitise.retry_max_secs),
    );
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = blocking(&digitise, |a| cleanup::sweep(a, crate::clock::now_ms())).await {
            tracing::error!(error = %e, "clean-up of safe jobs failed");
        }
        let wait = match upload_next(&digitise, &client).await {
            Ok(true) => {
                backoff.reset();
                continue;
            }
            Ok(false) => poll,
            Err(e) => {
                let wait = backoff.next_wait(&mut rand::thread_rng());
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "upload stopped; will resume");
                wait
            }
        };
        digitise.set_uploading(None);
        tokio::select! {
            _ = stop.changed() => return,
            _ = digitise.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Uploads (or resumes) the oldest waiting job and submits it. `Ok(false)` when none waits.
pub async fn upload_next(
    digitise: &Arc<Digitise>,
    client: &TusClient,
) -> Result<bool, UploadError> {
    let Some(job) = blocking(digitise, |a| a.store.lock().job_next_upload()).await? else {
        return Ok(false);
    };
    digitise.set_uploading(Some(job.clone()));
    let j = job.clone();
    let files = blocking(digitise, move |a| a.store.lock().uploads(&j)).await?;
    for f in &files {
        upload_file(digitise, client, &job, f).await?;
    }
    submit(digitise, client, &job).await?;
    digitise.set_uploading(None);
    Ok(true)
}

async fn save(
    digitise: &Arc<Digitise>,
    job: &str,
    path: &str,
    url: Option<&Url>,
    offset: u64,
) -> Result<(), UploadError> {
    let (j, p, u) = (
        job.to_owned(),
        path.to_owned(),
        url.map(|u| u.as_str().to_owned()),
    );
    blocking(digitise, move |a| {
        a.store.lock().upload_progress(&j, &p, u.as_deref(), offset)
    })
    .await
}

fn read_chunk(path: std::path::PathBuf, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len);
    f.take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Creates a new upload for one bag file; returns its URL.
async fn create(
    digitise: &Arc<Digitise>,
    client: &TusClient,
    job: &str,
    f: &UploadRow,
) -> Result<Url, UploadError> {
    let device = digitise.settings.device.as_str().to_owned();
    let branch = digitise.settings.branch.as_str().to_owned();
    let meta = [
        (upload_meta::JOB, job),
        (upload_meta::PATH, f.path.as_str()),
        (upload_meta::DEVICE, device.as_str()),
        (upload_meta::BRANCH, branch.as_str()),
        (upload_meta::SHA256, f.sha256.as_str()),
    ];
    let url = client.create(f.size, &meta).await?;
    save(digitise, job, &f.path, Some(&url), 0).await?;
    Ok(url)
}

/// How many times one attempt starts a file again when central has forgotten its upload
/// (expired, `404`/`410`) before giving up until the next attempt.
const MAX_RESTARTS: u32 = 3;

async fn upload_file(
    digitise: &Arc<Digitise>,
    client: &TusClient,
    job: &str,
    f: &UploadRow,
) -> Result<(), UploadError> {
    let url = match &f.url {
        Some(u) => Some(Url::parse(u).map_err(|e| TusError::BadAnswer(e.to_string()))?),
        None => None,
    };
    if url.is_some() && f.offset >= f.size {
        return Ok(());
    }
    let (mut url, mut offset) = match url {
        // Resume: central says how far it got.
        Some(url) => match client.offset(&url).await {
            Ok(o) => {
                save(digitise, job, &f.path, Some(&url), o).await?;
                (url, o)
            }
            Err(TusError::Gone) => {
                // Expired or lost at central: this file starts again from zero.
                tracing::warn!(job, path = %f.path, "upload gone on central; starting it again");
                save(digitise, job, &f.path, None, 0).await?;
                (create(digitise, client, job, f).await?, 0)
            }
            Err(e) => return Err(e.into()),
        },
        None => (create(digitise, client, job, f).await?, 0),
    };
    let file = bags_dir(&digitise.settings.data_dir)
        .join(job)
        .join(&f.path);
    let chunk = digitise.settings.digitise.chunk_bytes as usize;
    let mut restarts = 0;
    while offset < f.size {
        let (p, o) = (file.clone(), offset);
        let bytes = tokio::task::spawn_blocking(move || read_chunk(p, o, chunk))
            .await
            .map_err(|e| UploadError::Join(e.to_string()))??;
        if bytes.is_empty() {
            return Err(UploadError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} is shorter than recorded", file.display()),
            )));
        }
        match client.patch(&url, offset, bytes).await {
            Ok(o) => offset = o,
            Err(TusError::Conflict) => offset = client.offset(&url).await?,
            Err(TusError::Gone) if restarts < MAX_RESTARTS => {
                restarts += 1;
                tracing::warn!(job, path = %f.path, "upload gone on central mid-file; starting it again");
                save(digitise, job, &f.path, None, 0).await?;
                url = create(digitise, client, job, f).await?;
                offset = 0;
            }
            Err(e) => return Err(e.into()),
        }
        save(digitise, job, &f.path, Some(&url), offset).await?;
    }
    tracing::debug!(job, path = %f.path, bytes = f.size, "file uploaded");
    Ok(())
}

async fn submit(
    digitise: &Arc<Digitise>,
    client: &TusClient,
    job: &str,
) -> Result<(), UploadError> {
    let j = job.to_owned();
    let files = blocking(digitise, move |a| {
        a.store.lock().job_set_state(&j, "sent")?;
        a.store.lock().uploads(&j)
    })
    .await?;
    let submission = BagSubmission {
        job: job.to_owned(),
        device: digitise.settings.device.as_str().to_owned(),
        branch: digitise.settings.branch.as_str().to_owned(),
        files: files
            .iter()
            .map(|f| BagFile {
                path: f.path.clone(),
                upload: f
                    .url
                    .as_deref()
                    .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect(),
    };
    let url = format!(
        "{}/api/v1/digitisation/bags",
        digitise.settings.central_url.trim_end_matches('/')
    );
    let r = client
        .send(client.http().post(&url).json(&submission))
        .await?;
    let status = r.status();
    if status == StatusCode::OK {
        // Only central's signed word counts: a "safe" verdict leads to the masters being
        // deleted, so one that anyone on the way could have written is not taken.
        let signature = r
            .headers()
            .get(rong_protocol::digitise::VERDICT_SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = r.bytes().await.map_err(TusError::from)?;
        let context = rong_protocol::digitise::verdict_context(&submission.device, job);
        let signed = signature
            .as_deref()
            .map(|h| rong_identity::mqtt::open_detached(h, &context, &body, client.central_key()));
        if !matches!(signed, Some(Ok(()))) {
            tracing::error!(job, signature = ?signed, "a verdict not signed by central was ignored; the masters are kept");
            return Err(TusError::BadAnswer("the verdict is not signed by central".into()).into());
        }
        let verdict: BagVerdict = serde_json::from_slice(&body)
            .map_err(|e| TusError::BadAnswer(format!("verdict: {e}")))?;
        verdict
            .check_lengths()
            .map_err(|e| TusError::BadAnswer(format!("verdict: {}", e.0)))?;
        let j = job.to_owned();
        match &verdict {
            BagVerdict::Safe { document } => {
                tracing::info!(job, document = %document, "bag safe at central");
            }
            BagVerdict::Refused { reason, file } => {
                tracing::error!(job, reason = %reason, file = ?file, "central refused the bag");
            }
        }
        blocking(digitise, move |a| match verdict {
            BagVerdict::Safe { document } => {
                a.store
                    .lock()
                    .job_verdict(&j, Some(&document), None, crate::clock::now_ms())
            }
            BagVerdict::Refused { reason, file } => {
                let reason = match file {
                    Some(f) => format!("{reason} ({f})"),
                    None => reason,
                };
                a.store
                    .lock()
                    .job_verdict(&j, None, Some(&reason), crate::clock::now_ms())
            }
        })
        .await?;
        return Ok(());
    }
    let body = r.text().await.unwrap_or_default();
    if status.is_client_error() {
        // Central lacks an upload (or holds it unfinished): ask where each stands.
        for f in &files {
            let Some(u) = f.url.as_deref().and_then(|u| Url::parse(u).ok()) else {
                continue;
            };
            match client.offset(&u).await {
                Ok(o) => save(digitise, job, &f.path, Some(&u), o).await?,
                Err(TusError::Gone) => save(digitise, job, &f.path, None, 0).await?,
                Err(e) => return Err(e.into()),
            }
        }
        let j = job.to_owned();
        blocking(digitise, move |a| {
            a.store.lock().job_set_state(&j, "queued")
        })
        .await?;
    }
    Err(UploadError::Submission(format!("{status}: {body}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_grows_with_jitter_up_to_its_bound_and_resets() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let waits: Vec<Duration> = (0..8).map(|_| b.next_wait(&mut rng)).collect();
        assert!(waits[0] >= Duration::from_millis(50) && waits[0] <= Duration::from_millis(100));
        assert!(waits[3] >= Duration::from_millis(400) && waits[3] <= Duration::from_millis(800));
        for w in &waits[5..] {
            assert!(
                *w >= Duration::from_secs(1) && *w <= Duration::from_secs(2),
                "{w:?}"
            );
        }
        b.reset();
        assert!(b.next_wait(&mut rng) <= Duration::from_millis(100));
    }
}
