//! The agent's side of mutual TLS: its own certificate and key, and the one authority whose
//! clients it accepts. A client without a certificate from that authority, or without TLS at
//! all, fails the handshake and never reaches a handler.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// Longest a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the agent's TLS material lives.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The agent's certificate, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM.
    pub key: PathBuf,
    /// The authority whose client certificates are accepted, PEM.
    pub client_ca: PathBuf,
}

/// A TLS file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        /// Which file it is.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds no PEM block of the expected kind.
    #[error("{what} {} holds no PEM {label}", path.display())]
    NotPem {
        /// Which file it is.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The PEM label looked for.
        label: &'static str,
    },
}

impl TlsFiles {
    /// Read the files into a server configuration that requires client certificates.
    pub fn server_config(&self) -> Result<ServerTlsConfig, TlsError> {
        let cert = read(&self.cert, "certificate", "CERTIFICATE")?;
        let key = read(&self.key, "private key", "PRIVATE KEY")?;
        let ca = read(&self.client_ca, "client CA certificate", "CERTIFICATE")?;
        Ok(ServerTlsConfig::new()
            .identity(Identity::from_pem(cert, key))
            .client_ca_root(Certificate::from_pem(ca))
            .client_auth_optional(false)
            .timeout(HANDSHAKE_TIMEOUT))
    }
}

fn read(path: &Path, what: &'static str, label: &'static str) -> Result<String, TlsError> {
    let text = std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })?;
    // "PRIVATE KEY" also matches "EC PRIVATE KEY" and "RSA PRIVATE KEY".
    if !text.contains(&format!("{label}-----")) {
        return Err(TlsError::NotPem { what, path: path.to_owned(), label });
    }
    Ok(text)
}
