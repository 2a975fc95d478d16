//! Asking central to check a PIN. Central keeps every card's failure count, so while the
//! board is online a lockout holds on every device of the network, not only this one.
//! Offline (or when central does not answer in time) the board checks the hash it holds,
//! as before.

use std::sync::Arc;
use std::time::Duration;

use rong_identity::pin::{PinAnswer, PinCheck, PIN_PATH};
use rong_identity::Signer;

/// How long a reader waits for central before the board checks the PIN itself.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// Who checks PINs besides the board.
pub trait PinAuthority: Send + Sync + std::fmt::Debug {
    /// Central's verdict on `pin` for `card`, or `None` when central cannot be asked now.
    /// Blocks: call it off the async runtime (the local API's requests run on the blocking
    /// pool).
    fn check(&self, card: &str, pin: &str) -> Option<PinAnswer>;
}

/// Central, over HTTP(S), with the board's signed requests.
pub struct CentralPins {
    http: reqwest::Client,
    signer: Arc<Signer>,
    url: String,
    online: Box<dyn Fn() -> bool + Send + Sync>,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for CentralPins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CentralPins")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl CentralPins {
    /// Asks central at `central_url` (with `ca_pem`, over HTTPS trusting it only) while
    /// `online` says the board is online.
    pub fn new(
        central_url: &str,
        ca_pem: Option<&str>,
        signer: Arc<Signer>,
        online: Box<dyn Fn() -> bool + Send + Sync>,
        runtime: tokio::runtime::Handle,
    ) -> anyhow::Result<CentralPins> {
        Ok(CentralPins {
            http: crate::tls::http_client(
                reqwest::Client::builder()
                    .connect_timeout(ASK_TIMEOUT)
                    .timeout(ASK_TIMEOUT),
                ca_pem,
            )?,
            signer,
            url: format!("{}{PIN_PATH}", central_url.trim_end_matches('/')),
            online,
            runtime,
        })
    }

    async fn ask(&self, card: &str, pin: &str) -> anyhow::Result<PinAnswer> {
        let req = self
            .http
            .post(&self.url)
            .json(&PinCheck {
                card: card.to_owned(),
                pin: pin.to_owned(),
            })
            .build()?;
        let r = crate::identity::send(&self.http, &self.signer, req).await?;
        if !r.status().is_success() {
            anyhow::bail!("central answered {}", r.status());
        }
        Ok(r.json().await?)
    }
}

impl PinAuthority for CentralPins {
    fn check(&self, card: &str, pin: &str) -> Option<PinAnswer> {
        if !(self.online)() {
            return None;
        }
        match self.runtime.block_on(self.ask(card, pin)) {
            Ok(answer) => Some(answer),
            Err(e) => {
                tracing::warn!(error = %e, "central did not check the PIN; checking it here");
                None
            }
        }
    }
}
