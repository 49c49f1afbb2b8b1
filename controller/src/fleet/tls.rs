//! Mutual TLS between the controller and its agents, the same on the local fleet as on AWS: a
//! certificate authority per fleet, the controller's client certificate and one server
//! certificate per agent, all signed by it (rcgen on ring). An agent accepts only clients
//! whose certificate this authority signed, and the controller trusts only agents it signed.
//!
//! Private keys are written with mode 0600 and never logged.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// How long the authority and its certificates are valid: a fleet is a short-lived thing.
const VALIDITY: Duration = Duration::from_secs(400 * 24 * 3600);
/// Clock skew tolerated between the controller and the agents.
const BACKDATE: Duration = Duration::from_secs(24 * 3600);

/// File names of the authority and the controller's identity inside a fleet's folder.
pub const CA_CERT: &str = "ca.pem";
/// The authority's private key (0600).
pub const CA_KEY: &str = "ca.key";
/// The controller's client certificate.
pub const CLIENT_CERT: &str = "client.pem";
/// The controller's private key (0600).
pub const CLIENT_KEY: &str = "client.key";

/// Why certificates could not be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen refused to make a key or certificate.
    #[error("cannot make {what}: {source}")]
    Generate {
        /// What was being made.
        what: String,
        /// rcgen's reason.
        source: rcgen::Error,
    },
    /// A certificate or key file could not be read or written.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key file holds no usable key.
    #[error("{}: not a private key this fleet made ({detail})", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What rcgen said.
        detail: String,
    },
}

/// A certificate and its private key, PEM.
#[derive(Clone)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8). Secret.
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").field("cert_pem", &self.cert_pem).field("key_pem", &"<secret>").finish()
    }
}

/// A fleet's certificate authority.
pub struct Authority {
    name: String,
    key: KeyPair,
    cert_pem: String,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Authority {
    /// A new authority named after its fleet (`"local"`, or the stack name).
    pub fn generate(fleet: &str) -> Result<Authority, TlsError> {
        let name = format!("fetchbench CA {fleet}");
        let key = KeyPair::generate().map_err(|source| gen_error("the CA key", source))?;
        let cert_pem = ca_params(&name)
            .self_signed(&key)
            .map_err(|source| gen_error("the CA certificate", source))?
            .pem();
        Ok(Authority { name, key, cert_pem })
    }

    /// The authority's certificate, PEM: what agents and the controller trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A server certificate for the agent reached under `server_name` (a DNS name the controller
    /// verifies, whatever the agent's address).
    pub fn issue_agent(&self, server_name: &str) -> Result<Issued, TlsError> {
        self.issue(server_name, ExtendedKeyUsagePurpose::ServerAuth, Some(server_name))
    }

    /// The controller's client certificate.
    pub fn issue_client(&self) -> Result<Issued, TlsError> {
        self.issue("fetchbench controller", ExtendedKeyUsagePurpose::ClientAuth, None)
    }

    fn issue(
        &self,
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
        dns_name: Option<&str>,
    ) -> Result<Issued, TlsError> {
        let what = || format!("a certificate for {common_name}");
        let mut params = CertificateParams::new(dns_name.map(str::to_owned).into_iter().collect::<Vec<_>>())
            .map_err(|source| gen_error(&what(), source))?;
        params.distinguished_name = dn(common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params);
        let key = KeyPair::generate().map_err(|source| gen_error(&what(), source))?;
        let issuer = Issuer::new(ca_params(&self.name), &self.key);
        let cert = params.signed_by(&key, &issuer).map_err(|source| gen_error(&what(), source))?;
        Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// Write `ca.pem` and `ca.key` (0600) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), TlsError> {
        write_public(&dir.join(CA_CERT), &self.cert_pem)?;
        write_private(&dir.join(CA_KEY), &self.key.serialize_pem())
    }

    /// Read the authority [`Authority::save`] wrote for `fleet`.
    pub fn load(dir: &Path, fleet: &str) -> Result<Authority, TlsError> {
        let cert_pem = read(&dir.join(CA_CERT))?;
        let key_path = dir.join(CA_KEY);
        let key = KeyPair::from_pem(&read(&key_path)?)
            .map_err(|e| TlsError::BadKey { path: key_path, detail: e.to_string() })?;
        Ok(Authority { name: format!("fetchbench CA {fleet}"), key, cert_pem })
    }
}

/// The parameters of the authority's certificate. Signing only needs its subject and key
/// identifier method, so they are rebuilt from the name rather than parsed back from PEM.
fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(&mut params);
    params
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn set_validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + VALIDITY;
}

fn gen_error(what: &str, source: rcgen::Error) -> TlsError {
    TlsError::Generate { what: what.to_owned(), source }
}

/// The controller's side of mutual TLS: trust the fleet's authority, present the client
/// certificate.
#[derive(Clone, Debug)]
pub struct ClientTls {
    ca_pem: String,
    client: Issued,
}

impl ClientTls {
    /// From the authority's certificate and the controller's client certificate.
    pub fn new(ca_pem: String, client: Issued) -> ClientTls {
        ClientTls { ca_pem, client }
    }

    /// Read `ca.pem`, `client.pem` and `client.key` from a fleet's folder.
    pub fn load(dir: &Path) -> Result<ClientTls, TlsError> {
        Ok(ClientTls {
            ca_pem: read(&dir.join(CA_CERT))?,
            client: Issued { cert_pem: read(&dir.join(CLIENT_CERT))?, key_pem: read(&dir.join(CLIENT_KEY))? },
        })
    }

    /// Write `client.pem` and `client.key` (0600) into `dir`.
    pub fn save_identity(&self, dir: &Path) -> Result<(), TlsError> {
        write_public(&dir.join(CLIENT_CERT), &self.client.cert_pem)?;
        write_private(&dir.join(CLIENT_KEY), &self.client.key_pem)
    }

    /// The tonic configuration for the agent whose certificate names `server_name`.
    pub fn config(&self, server_name: &str) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(Identity::from_pem(&self.client.cert_pem, &self.client.key_pem))
            .domain_name(server_name)
    }
}

/// Whether `host` can name an agent in its certificate and file names: an IP address, or a DNS
/// name of dot-separated labels of 1-63 letters, digits and '-' (not first or last), 253
/// characters at most.
pub fn valid_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::File { path: path.to_owned(), source })
}

fn write_public(path: &Path, text: &str) -> Result<(), TlsError> {
    std::fs::write(path, text).map_err(|source| TlsError::File { path: path.to_owned(), source })
}

/// Write a secret: created with mode 0600 (readable by the owner only) before any byte is
/// written, and tightened to 0600 if it already existed.
pub fn write_private(path: &Path, text: &str) -> Result<(), TlsError> {
    let fail = |source| TlsError::File { path: path.to_owned(), source };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
        }
    }
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_authority_signs_like_the_original() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = Authority::generate("t").expect("ca");
        ca.save(dir.path()).expect("save");
        let again = Authority::load(dir.path(), "t").expect("load");
        assert_eq!(again.cert_pem(), ca.cert_pem());
        let issued = again.issue_agent("agent-0.fetchbench").expect("issue");
        assert!(!format!("{issued:?}").contains("PRIVATE KEY"), "Debug must not print the key");
        // A client that trusts the original authority accepts a server whose certificate the
        // reloaded one issued, and one that trusts another authority refuses it.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let addr = serve_tls(&issued, &again).await;
            let trusting = ClientTls::new(ca.cert_pem().to_owned(), ca.issue_client().expect("client"));
            handshake(addr, trusting.config("agent-0.fetchbench")).await.expect("the chain verifies");
            let other = Authority::generate("other").expect("another ca");
            let stranger = ClientTls::new(other.cert_pem().to_owned(), other.issue_client().expect("client"));
            let err =
                handshake(addr, stranger.config("agent-0.fetchbench")).await.expect_err("unknown issuer");
            assert!(err.contains("UnknownIssuer"), "{err}");
        });
    }

    /// An HTTP/2 server over TLS with `cert`, trusting clients `ca` signed, on a loopback port.
    async fn serve_tls(cert: &Issued, ca: &Authority) -> std::net::SocketAddr {
        use tonic::transport::{Server, ServerTlsConfig, server::TcpIncoming};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(&cert.cert_pem, &cert.key_pem))
            .client_ca_root(Certificate::from_pem(ca.cert_pem()));
        let server =
            Server::builder().tls_config(tls).expect("tls").add_routes(tonic::service::Routes::default());
        tokio::spawn(server.serve_with_incoming(TcpIncoming::from(listener)));
        addr
    }

    /// Connect (TCP, TLS, HTTP/2) to `addr`; the error's whole chain on failure.
    async fn handshake(addr: std::net::SocketAddr, tls: ClientTlsConfig) -> Result<(), String> {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
            .expect("uri")
            .tls_config(tls)
            .expect("tls");
        endpoint.connect().await.map(drop).map_err(|e| crate::support::error_chain(&e))
    }

    #[test]
    fn hosts_are_ip_addresses_or_dns_names() {
        for ok in ["10.0.0.11", "::1", "agent-1.example.com", "localhost", "a.b.", "x1"] {
            assert!(valid_host(ok), "{ok}");
        }
        let long_label = "a".repeat(64);
        for bad in ["bad host!", "", "-a.com", "a-.com", "a..b", "../x", "a/b", long_label.as_str()] {
            assert!(!valid_host(bad), "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn keys_are_readable_by_the_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        std::fs::write(&path, "old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_private(&path, "secret").expect("write_private");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "secret");
    }
}
