//! HTTPS without a proxy: `[http] tls_cert` and `tls_key` (PEM) served
//! with rustls (the ring provider) on `bind`. The certificate is held
//! behind a lock and read at each handshake, so SIGHUP swaps it for new
//! connections while open ones (live streams) go on.

use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// A connection that came over TLS to smsgate itself (a request
/// extension: the page's cookie is then `Secure`).
#[derive(Debug, Clone, Copy)]
pub struct ViaTls;

/// The certificate being served, and where it comes from.
#[derive(Debug)]
pub struct TlsKeys {
    cert: String,
    key: String,
    current: RwLock<Arc<CertifiedKey>>,
}

fn read(cert: &str, key: &str) -> Result<CertifiedKey, String> {
    let chain: Vec<_> = rustls_pemfile::certs(
        &mut std::fs::read(cert)
            .map_err(|e| format!("{cert}: {e}"))?
            .as_slice(),
    )
    .collect::<Result<_, _>>()
    .map_err(|e| format!("{cert}: {e}"))?;
    if chain.is_empty() {
        return Err(format!("{cert}: no certificate in it"));
    }
    let der = rustls_pemfile::private_key(
        &mut std::fs::read(key)
            .map_err(|e| format!("{key}: {e}"))?
            .as_slice(),
    )
    .map_err(|e| format!("{key}: {e}"))?
    .ok_or_else(|| format!("{key}: no private key in it"))?;
    let signing =
        rustls::crypto::ring::sign::any_supported_type(&der).map_err(|e| format!("{key}: {e}"))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| format!("{cert} and {key} do not match: {e}"))?;
    Ok(certified)
}

impl TlsKeys {
    /// Reads `cert` and `key`.
    pub fn load(cert: &str, key: &str) -> Result<Arc<TlsKeys>, String> {
        Ok(Arc::new(TlsKeys {
            cert: cert.to_string(),
            key: key.to_string(),
            current: RwLock::new(Arc::new(read(cert, key)?)),
        }))
    }

    /// Reads the files again (SIGHUP); on an error the served certificate
    /// stays.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = read(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
        Ok(())
    }

    /// The acceptor for the listener (HTTP/1.1 over TLS 1.2 and 1.3).
    pub fn acceptor(self: &Arc<Self>) -> Result<TlsAcceptor, String> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for TlsKeys {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}
