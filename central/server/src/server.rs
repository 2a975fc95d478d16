//! `central serve`: the store, the writer, the broker, the MQTT client and HTTP, wired
//! together, with an injectable shutdown and a readiness report.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot, watch};

use central_digitise::documents::Documents;
use central_digitise::http::IntakeState;
use central_web::opac::OpacState;
use central_web::{WebCtx, WebState};
use rong_mqtt::{BrokerUrl, Credentials};

use crate::config::Config;
use crate::http::device::DeviceAuth;
use crate::http::ApiState;
use crate::ingest::{Ingest, IngestCtx};
use crate::metrics::Metrics;
use crate::mqtt::{self, MqttCtx};
use crate::routes::{self, AppState};
use central_store::{Reads, Store};

/// Where a running central can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// HTTP address.
    pub http: SocketAddr,
    /// MQTT broker as `host:port`.
    pub mqtt: String,
}

impl Ready {
    /// The one readiness line printed on stdout.
    pub fn line(&self) -> String {
        serde_json::json!({"ready": true, "http": self.http.to_string(), "mqtt": self.mqtt})
            .to_string()
    }
}

/// Opens the store (refusing a corrupt or newer database), creating the data dir.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    Ok(Store::open(&config.db_path())?)
}

/// Runs central until `shutdown` completes. `ready` gets the bound addresses once HTTP
/// listens and central's MQTT client is subscribed.
pub async fn serve(
    mut config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: Option<oneshot::Sender<Ready>>,
) -> anyhow::Result<()> {
    config.check_listening()?;
    // Held until central stops: `central restore` refuses to run beside it.
    let _lock = crate::backup::lock_data_dir(&config.data_dir)?;
    let store = open_store(&config)?;
    let central_key = central_key(&config)?;
    let envelopes = Arc::new(crate::signing::Envelopes::new(
        central_key,
        Reads::new(store.path()),
    ));
    let epoch = store.epoch()?;
    tracing::info!(%epoch, "database epoch");
    let ca = Arc::new(crate::tls::Ca::load_or_create(&config.data_dir)?);
    if config.tls.enabled {
        // A session cookie over HTTPS never goes out in clear.
        config.dashboard.secure_cookie = true;
    }
    // Central's server certificate, for the broker's front door and (unless the library
    // brings its own) HTTPS.
    let own_server = match config.tls.enabled {
        true => Some(ca.server(&config.tls.names)?),
        false => None,
    };
    let reads = Reads::new(store.path());
    let ocr_pool = central_digitise::process::WorkerPool::start(
        store.path(),
        config.digitise.ocr_workers,
        central_digitise::process::OcrOptions {
            lang: config.digitise.ocr_lang.clone(),
            max_attempts: config.digitise.ocr_max_attempts,
            image_limits: config.digitise.image_limits,
        },
    )?;
    let metrics = Arc::new(Metrics::default());

    let (broker, mqtt_display) = match (&config.broker.external_url, &own_server) {
        (Some(url), _) => {
            let broker =
                BrokerUrl::parse(url).map_err(|e| anyhow::anyhow!("broker.external_url: {e}"))?;
            let shown = format!("{}:{}", broker.host(), broker.port());
            (broker, shown)
        }
        (None, Some((cert, key))) => {
            // The broker in clear on a loopback port for central's own client; boards
            // come in through the TLS front door on broker.listen.
            let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
            let inner = crate::broker::start(loopback).await?;
            let tls = rong_identity::tls::server_config(
                cert,
                key,
                rong_identity::tls::ClientAuth::Required(ca.cert_pem()),
            )?;
            let front = crate::tls::mqtt_front::start(
                config.broker.listen,
                tls,
                inner,
                Reads::new(store.path()),
            )
            .await
            .with_context(|| format!("cannot bind MQTT over TLS on {}", config.broker.listen))?;
            tracing::info!(addr = %front, "embedded MQTT broker listening over TLS");
            (BrokerUrl::from(inner), front.to_string())
        }
        (None, None) => {
            let addr = crate::broker::start(config.broker.listen).await?;
            tracing::info!(addr = %addr, "embedded MQTT broker listening");
            (BrokerUrl::from(loopback_of(addr)), addr.to_string())
        }
    };
    let mut mqtt_options = mqtt::options(
        &broker,
        Credentials::from_config(
            config.broker.username.as_deref(),
            config.broker.password.as_ref(),
        ),
    );
    if broker.is_tls() {
        // An external broker over TLS: central logs in with its own certificate.
        let (cert, key) = ca.client()?;
        let identity = rong_identity::tls::ClientIdentity::from_pem(&cert, &key)?;
        let tls = rong_identity::tls::client_config(ca.cert_pem(), Some(identity))?;
        rong_mqtt::use_tls(&mut mqtt_options, Arc::new(tls));
    }

    // Unbounded on purpose: the writer thread (synchronous, the one SQLite writer) must
    // never block on MQTT, or a broker outage would stop HTTP writes too. It grows only
    // with what the writer produces: an ack per applied batch and deltas per change, which
    // stop when devices cannot reach the broker, and staff actions (commands, blocks).
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let offline_pins = Arc::new(tokio::sync::Notify::new());
    let (ingest, writer_thread) = Ingest::start(
        store,
        IngestCtx {
            metrics: metrics.clone(),
            out: out_tx.clone(),
            utc_offset_min: config.utc_offset_minutes,
            epoch,
            offline_pins: offline_pins.clone(),
        },
    )?;

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    let (sub_tx, sub_rx) = oneshot::channel();
    let mqtt_task = tokio::spawn(mqtt::run(
        mqtt_options,
        MqttCtx {
            ingest: ingest.clone(),
            metrics: metrics.clone(),
            reads: reads.clone(),
            out: out_tx,
            max_catchup_ops: config.ingest.max_catchup_ops,
            epoch,
            envelopes: envelopes.clone(),
        },
        out_rx,
        sub_tx,
        stop_rx.clone(),
    ));

    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot bind HTTP on {}", config.http.listen))?;
    let http_addr = listener.local_addr()?;
    // The broker's ACL as the device table has it now (an enrolment or revocation made
    // while central was stopped included).
    let acl = crate::broker_acl::BrokerAcl::new(
        config.broker.acl_file.clone(),
        config.broker.acl_reload.as_deref(),
        reads.clone(),
    );
    if let Some(acl) = &acl {
        acl.refresh().await;
    }
    let state = app_state(&config, &reads, &ingest, &metrics, &envelopes, &acl, &ca)?;
    let offline_pins_task = tokio::spawn(crate::offline_pins::run(
        crate::offline_pins::OfflinePins {
            pins: state.pins.clone(),
            envelopes: envelopes.clone(),
            metrics: metrics.clone(),
            wake: offline_pins,
        },
        stop_rx.clone(),
    ));
    let reaper_task = tokio::spawn(central_digitise::receive::run_reaper(
        state.intake.intake.clone(),
        stop_rx.clone(),
    ));
    let max_chunk = state.intake.intake.uploads.max_chunk();
    let app = routes::router(state, metrics.clone());
    let app = crate::http::limits::apply(app, &config.http.limits, max_chunk);
    let app = crate::tls::https::security_headers(
        app,
        config.tls.enabled.then_some(config.tls.hsts_max_age_secs),
    );
    let https = match &own_server {
        Some(own) => {
            let (cert, key) = config.tls.http_identity(own)?;
            Some(rong_identity::tls::server_config(
                &cert,
                &key,
                rong_identity::tls::ClientAuth::None,
            )?)
        }
        None => None,
    };
    let schedule =
        crate::backup::schedule::Schedule::from_config(&config.backup, config.utc_offset_minutes)
            .map_err(|e| anyhow::anyhow!(e))?;
    let backup_task = tokio::spawn(crate::backup::schedule::run(
        config.backup.clone(),
        schedule,
        config.db_path(),
        metrics.clone(),
        stop_rx.clone(),
    ));
    let alerts_task = tokio::spawn(crate::alerting::run_evaluator(
        reads,
        ingest.writer().clone(),
        metrics,
        config.alerts.clone(),
        config.dashboard.clone(),
        stop_rx.clone(),
    ));
    // The writer ends once every handle is gone: the last ones are the router's and the
    // MQTT task's, dropped when those stop.
    drop(ingest);
    let mut http_stop = stop_rx.clone();
    let http_task = tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let stopped = async move {
            let _ = http_stop.wait_for(|s| *s).await;
        };
        match https {
            Some(tls) => {
                use axum::serve::ListenerExt as _;
                // Wrapped so that handlers still learn the peer's address.
                let listener = crate::tls::https::TlsListener::new(listener, tls).tap_io(|_| {});
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            }
            None => {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            }
        }
    });
    tracing::info!(http = %http_addr, tls = config.tls.enabled, "HTTP listening");

    let mut wait_stop = stop_rx.clone();
    tokio::select! {
        r = sub_rx => {
            if r.is_ok() {
                tracing::info!(http = %http_addr, mqtt = %mqtt_display, "central ready");
                if let Some(tx) = ready {
                    let _ = tx.send(Ready { http: http_addr, mqtt: mqtt_display });
                }
            }
        }
        _ = wait_stop.wait_for(|s| *s) => {}
    }

    let mut wait_stop = stop_rx;
    let _ = wait_stop.wait_for(|s| *s).await;
    tracing::info!("shutting down");
    match http_task.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server error"),
        Err(e) => tracing::warn!(error = %e, "HTTP task failed"),
        Ok(Ok(())) => {}
    }
    let _ = mqtt_task.await;
    let _ = alerts_task.await;
    let _ = backup_task.await;
    let _ = reaper_task.await;
    let _ = offline_pins_task.await;
    tokio::task::spawn_blocking(move || ocr_pool.stop())
        .await
        .ok();
    // The writer finishes the change in hand, then ends: every handle is gone by now.
    tokio::task::spawn_blocking(move || writer_thread.join())
        .await
        .ok();
    tracing::info!("central stopped");
    Ok(())
}

/// What the HTTP handlers share, each crate's part built from the configuration.
fn app_state(
    config: &Config,
    reads: &Reads,
    ingest: &Ingest,
    metrics: &Arc<Metrics>,
    envelopes: &Arc<crate::signing::Envelopes>,
    acl: &Option<Arc<crate::broker_acl::BrokerAcl>>,
    ca: &Arc<crate::tls::Ca>,
) -> anyhow::Result<AppState> {
    let central_public = envelopes.public();
    let writer = ingest.writer().clone();
    // A central with no dashboard user offers its first-run setup, with a code only who
    // can read its data directory knows.
    let fresh = reads.blocking(|c| central_store::network::is_fresh(c))?;
    let setup_code = crate::setup::prepare_code(&config.data_dir, fresh)?;
    let operator_token = config.http.operator_token()?;
    let intake = central_digitise::receive::Intake::open(
        &config.data_dir,
        config.uploads.max_file_bytes,
        config.uploads.max_chunk_bytes,
    )
    .context("cannot open the digitisation directories")?
    .with_upload_expiry(config.uploads.expire_after())
    .with_room(central_digitise::quota::Room {
        per_device: (config.uploads.device_quota_bytes > 0)
            .then_some(config.uploads.device_quota_bytes),
        reserve: config.uploads.min_free_bytes,
    });
    let public_base = central_digitise::public_url::PublicBase::new(
        config.digitise.public_url.as_deref(),
        config.digitise.trust_forwarded,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    Ok(AppState {
        api: ApiState {
            reads: reads.clone(),
            writer: writer.clone(),
            ingest: ingest.clone(),
            metrics: metrics.clone(),
            guards: Arc::new(crate::http::guard::Guards::new(
                operator_token.as_ref().map(|t| t.expose()),
            )),
            envelopes: envelopes.clone(),
            acl: acl.clone(),
            public_limit: Arc::new(crate::http::public::RateLimit::new(
                config.http.public_per_second,
                config.http.public_burst,
                config.http.public_max_clients,
            )),
        },
        web: WebState::new(
            reads.clone(),
            writer.clone(),
            Arc::new(ingest.clone()),
            Arc::new(crate::device_admin::DashboardDevices {
                ingest: ingest.clone(),
                acl: acl.clone(),
            }),
            Arc::new(crate::setup::DashboardNetwork {
                ingest: ingest.clone(),
                code_file: crate::setup::code_path(&config.data_dir),
            }),
            Arc::new(crate::setup::DashboardCatalogue {
                ingest: ingest.clone(),
                config: config.import.clone(),
                data_dir: config.data_dir.clone(),
            }),
            WebCtx::new(
                config.dashboard.clone(),
                config.alerts.clone(),
                config.utc_offset_minutes,
            )
            .with_setup_code(setup_code),
        ),
        opac: OpacState {
            reads: reads.clone(),
            library_name: config.library_name.as_str().into(),
        },
        intake: IntakeState {
            reads: reads.clone(),
            writer,
            intake: Arc::new(intake),
            verdicts: envelopes.clone(),
        },
        documents: Documents {
            reads: reads.clone(),
            base: Arc::new(public_base),
        },
        pins: crate::http::pins::Pins {
            reads: reads.clone(),
            writer: ingest.writer().clone(),
            hash_work: Arc::new(central_web::HashWork::new(
                config.dashboard.password_hash_concurrency,
            )),
            in_flight: Arc::default(),
            policy: rong_lending::PinPolicy {
                max_attempts: config.pins.max_attempts,
                lock_minutes: config.pins.lock_minutes,
            },
        },
        devices: DeviceAuth {
            reads: reads.clone(),
            writer: ingest.writer().clone(),
            central_public_key: central_public.to_base64(),
            limiter: Arc::default(),
            acl: acl.clone(),
            ca: ca.clone(),
            device_cert_days: config.tls.device_cert_days,
        },
    })
}

/// The address to reach a listener on from this host: loopback for "every address".
fn loopback_of(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

/// Central's own Ed25519 key, `{data_dir}/central.key`: made at first start (mode 0600),
/// handed to boards at enrolment, and later signing what central sends them. Central does
/// not start when others may read it.
pub fn central_key(config: &Config) -> anyhow::Result<rong_identity::KeyPair> {
    let path = config.central_key_path();
    let key = rong_identity::KeyPair::load_or_create(&path)
        .with_context(|| format!("central's key {}", path.display()))?;
    tracing::info!(public_key = %key.public().to_base64(), "central's key");
    Ok(key)
}
