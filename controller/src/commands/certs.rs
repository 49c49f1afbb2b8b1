//! `fetchbench certs DIR HOST...`: the certificates for agents the user starts.

use crate::cli::CertsArgs;
use crate::error::Error;

/// `fetchbench certs DIR HOST...`: reuses the folder's authority unless `--force`, so agents
/// already started with it keep accepting the controller.
pub fn certs(args: &CertsArgs) -> Result<u8, Error> {
    use crate::fleet::tls::{
        Authority, CA_CERT, CA_KEY, CLIENT_CERT, CLIENT_KEY, ClientTls, valid_host, write_private,
    };
    if let Some(host) = args.hosts.iter().find(|h| !valid_host(h)) {
        return Err(Error::Usage {
            flag: "certs",
            value: host.clone(),
            detail: "is not a valid host: give an IP address or a DNS name (letters, digits and '-' in \
                     dot-separated labels of 1-63 characters, not starting or ending with '-')"
                .into(),
        });
    }
    let dir = &args.dir;
    let fail = |detail: String| Error::Usage { flag: "certs", value: dir.display().to_string(), detail };
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create the folder: {e}")))?;
    let had_authority = dir.join(CA_CERT).exists() || dir.join(CA_KEY).exists();
    let reuse = had_authority && !args.force;
    let ca = if reuse {
        let ca = Authority::load(dir, "static").map_err(|e| {
            fail(format!(
                "{e}; pass --force to make a new authority (agents started with the old one must then be \
                 restarted)"
            ))
        })?;
        say!(
            "reusing the authority in {} (agents started with it keep working; --force makes a new one)",
            dir.display()
        );
        ca
    } else {
        let ca = Authority::generate("static").map_err(|e| fail(e.to_string()))?;
        ca.save(dir).map_err(|e| fail(e.to_string()))?;
        ca
    };
    if !(reuse && dir.join(CLIENT_CERT).exists() && dir.join(CLIENT_KEY).exists()) {
        let client = ca.issue_client().map_err(|e| fail(e.to_string()))?;
        ClientTls::new(ca.cert_pem().to_owned(), client)
            .save_identity(dir)
            .map_err(|e| fail(e.to_string()))?;
    }
    if had_authority && args.force {
        eprintln!(
            "fetchbench: made a new authority in {}: agents started with the old certificates must be \
             restarted with the new ones, or they refuse this controller",
            dir.display()
        );
    }
    for host in &args.hosts {
        let issued = ca.issue_agent(host).map_err(|e| fail(e.to_string()))?;
        let (cert, key) = (dir.join(format!("agent-{host}.pem")), dir.join(format!("agent-{host}.key")));
        std::fs::write(&cert, &issued.cert_pem)
            .map_err(|e| fail(format!("cannot write {}: {e}", cert.display())))?;
        write_private(&key, &issued.key_pem).map_err(|e| fail(e.to_string()))?;
        say!(
            "{host}: fetchbench-agent --listen {host}:7878 --tls-cert {} --tls-key {} --tls-client-ca {}",
            cert.display(),
            key.display(),
            dir.join(CA_CERT).display()
        );
    }
    say!("then: fetchbench run --tls-dir {} --agent HOST:7878 ...", dir.display());
    Ok(0)
}
