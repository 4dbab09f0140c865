//! HTTPS served directly: the certificate and key of `environment.tls_cert` / `tls_key`, read
//! at start and again whenever their files change (a renewal by certbot or the like), so a new
//! certificate is served without a restart. A renewal that cannot be read is logged and the
//! previous certificate kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::config::EnvironmentConfig;
use crate::secrets::permissions;

/// The certificate being served, and the files it comes from.
#[derive(Debug)]
pub struct CertificateFiles {
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
    /// When the files were last read: their modification times then.
    seen: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl rustls::server::ResolvesServerCert for CertificateFiles {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.serving())
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a certificate chain and its key; every problem names the file and what is wrong with
/// it, never the key's contents.
fn read_pair(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    permissions::check(key).context("`environment.tls_key`")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect)
        .map_err(|err| {
            anyhow::anyhow!("cannot read the certificates in {}: {err}", cert.display())
        })?;
    if chain.is_empty() {
        anyhow::bail!(
            "{} holds no certificate (`environment.tls_cert`)",
            cert.display()
        );
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|err| match err {
        rustls::pki_types::pem::Error::Io(io) => {
            anyhow::anyhow!("cannot read {}: {io}", key.display())
        }
        _ => anyhow::anyhow!(
            "{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1) that can be read",
            key.display()
        ),
    })?;
    let mismatch = || {
        format!(
            "the certificate in {} and the key in {} do not make a usable pair",
            cert.display(),
            key.display()
        )
    };
    let pair = CertifiedKey::from_der(chain, private, &provider()).with_context(mismatch)?;
    pair.keys_match().with_context(mismatch)?;
    Ok(pair)
}

impl CertificateFiles {
    /// Reads `cert` and `key`.
    pub fn load(cert: PathBuf, key: PathBuf) -> anyhow::Result<Self> {
        let seen = (modified(&cert), modified(&key));
        let pair = read_pair(&cert, &key)?;
        Ok(Self {
            cert,
            key,
            current: ArcSwap::from_pointee(pair),
            seen: Mutex::new(seen),
        })
    }

    /// The certificate served now.
    pub fn serving(&self) -> Arc<CertifiedKey> {
        self.current.load_full()
    }

    /// Reads the files again if either changed since they were last read; true when a new
    /// certificate is now served. On an error the previous one stays (and the files are read
    /// again at the next change).
    pub fn reload_if_changed(&self) -> anyhow::Result<bool> {
        let now = (modified(&self.cert), modified(&self.key));
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if *seen == now {
                return Ok(false);
            }
            *seen = now;
        }
        let pair = read_pair(&self.cert, &self.key)?;
        self.current.store(Arc::new(pair));
        Ok(true)
    }
}

/// The TLS configuration of `environment.tls_cert` and `environment.tls_key`, when both are
/// set, with the files it serves from (for [`CertificateFiles::reload_if_changed`]).
pub fn config(
    environment: &EnvironmentConfig,
    root: &Path,
) -> anyhow::Result<Option<(Arc<rustls::ServerConfig>, Arc<CertificateFiles>)>> {
    let (cert, key) = match (&environment.tls_cert, &environment.tls_key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (root.join(cert), root.join(key)),
        _ => anyhow::bail!(
            "`environment.tls_cert` and `environment.tls_key` go together: set both to serve \
             HTTPS, or neither to serve plain HTTP behind a proxy"
        ),
    };
    let files = Arc::new(CertificateFiles::load(cert, key)?);
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS set-up")?
        .with_no_client_auth()
        .with_cert_resolver(files.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some((Arc::new(config), files)))
}
