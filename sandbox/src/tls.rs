//! The simulators behind the providers' real host names, over TLS.
//!
//! A plugin pointed at `http://127.0.0.1:PORT` exercises a different client path from the one
//! production uses: no TLS, no SNI, no ALPN, and APNs only reachable by HTTP/2 prior knowledge.
//! So [`start`](crate::start) also opens a TLS listener in front of the same router, with a
//! certificate for every name in [`PROVIDER_HOSTS`]. A gateway in sandbox mode keeps the real
//! base URLs (`https://api.twilio.com`), resolves those names to [`tls_addr`] and trusts
//! [`ca_pem`]; nothing else changes between sandbox and production.
//!
//! The CA and its key are made afresh at every start and never leave memory: nothing outside
//! this process can be fooled by it, and a leaked PEM is worthless once the sandbox stops.
//! Connections are served by hyper directly rather than `axum::serve`, because the protocol
//! follows ALPN (`h2` or `http/1.1`) and each request is tagged with the connection's SNI for
//! the transport log ([`crate::transport`]). The TCP stream under TLS is a
//! [`KillableStream`], so a `reset` fault drops the TCP connection as on the plain listener.
//!
//! [`tls_addr`]: crate::SandboxHandle::tls_addr
//! [`ca_pem`]: crate::SandboxHandle::ca_pem

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::conn::KillableStream;
use crate::transport::TlsConn;

/// The host names the sandbox certificate is valid for: the API origins of the simulated
/// providers, plus `www.facebook.com`, where the Facebook Login dialog lives (the simulator
/// serves it at the same `/{version}/dialog/oauth` path). Every simulator answers on every
/// name, since routing is by path alone.
pub const PROVIDER_HOSTS: &[&str] = &[
    "api.twilio.com",
    "api.sendgrid.com",
    "graph.facebook.com",
    "www.facebook.com",
    "fcm.googleapis.com",
    "oauth2.googleapis.com",
    "api.push.apple.com",
    "api.solapi.com",
    "api.stripe.com",
];

/// Longest a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (out of file descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot generate the sandbox certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot configure the sandbox TLS server: {0}")]
    Config(#[from] rustls::Error),
}

/// The start-up CA and a server configuration holding the certificate it signed.
pub(crate) struct SandboxTls {
    pub(crate) ca_pem: String,
    pub(crate) acceptor: TlsAcceptor,
}

impl SandboxTls {
    pub(crate) fn generate() -> Result<Self, TlsError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Switchboard Sandbox CA");
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, "Switchboard sandbox");
        // Path length 0: the CA signs leaf certificates only, never another CA.
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let names: Vec<String> = PROVIDER_HOSTS.iter().map(|h| (*h).to_owned()).collect();
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "Switchboard sandbox providers");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            ca_pem: ca.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// Accepts TLS connections until `stop` turns true, then lets every connection finish
/// gracefully. Dropping this future (the handle aborting it) aborts the connections too.
pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let conn_stop = stop.clone();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let conn = serve_conn(tcp, acceptor.clone(), app.clone(), conn_stop.clone());
                    conns.spawn(conn);
                }
                Err(e) => {
                    tracing::debug!("sandbox TLS listener: accept failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            // Reaps finished connections so the set does not grow with every one served.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// Resolves once the sandbox is shutting down (or its state is gone). Holds no guard of the
/// watch channel, so the futures awaiting it stay `Send`.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn serve_conn(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    // Small HTTP/2 frames would otherwise wait on Nagle and delayed ACKs.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!("sandbox TLS listener: cannot set TCP_NODELAY: {e}");
    }
    let stream = KillableStream::new(tcp);
    let kill = stream.kill_switch();
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let tls = tokio::select! {
        done = handshake => match done {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!("sandbox TLS listener: handshake failed: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!("sandbox TLS listener: handshake timed out");
                return;
            }
        },
        () = stopped(&mut stop) => return,
    };
    let session = tls.get_ref().1;
    let info = TlsConn {
        sni: session.server_name().map(Arc::from),
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    // ALPN decided the protocol; hyper must not second-guess it from the first bytes.
    let builder = match session.alpn_protocol() {
        Some(b"h2") => builder.http2_only(),
        Some(b"http/1.1") => builder.http1_only(),
        _ => builder,
    };
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(kill.clone()));
        req.extensions_mut().insert(info.clone());
        app.clone().oneshot(req)
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
    tokio::pin!(conn);
    let done = tokio::select! {
        done = conn.as_mut() => done,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = done {
        tracing::debug!("sandbox TLS connection ended: {e}");
    }
}
