//! TLS settings (feature `tls`): which roots verify the collector, the
//! name checked (SNI), and an optional client certificate.

use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// How to verify the collector and who we are.
#[derive(Clone, Debug)]
pub struct Tls {
    roots: Vec<CertificateDer<'static>>,
    client: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    server_name: Option<String>,
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Tls {
    /// Trust the CA certificates in a PEM file.
    pub fn ca_file(path: impl AsRef<Path>) -> io::Result<Tls> {
        let path = path.as_ref();
        let roots = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(format!("{}: {e}", path.display())))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("{}: {e}", path.display())))?;
        if roots.is_empty() {
            return Err(bad(format!("{}: no certificate in it", path.display())));
        }
        Ok(Tls {
            roots,
            client: None,
            server_name: None,
        })
    }

    /// Trust the operating system's root certificates.
    pub fn system_roots() -> io::Result<Tls> {
        let r = rustls_native_certs::load_native_certs();
        if r.certs.is_empty() {
            return Err(bad(format!(
                "no system root certificates found ({} errors)",
                r.errors.len()
            )));
        }
        Ok(Tls {
            roots: r.certs,
            client: None,
            server_name: None,
        })
    }

    /// Present this client certificate chain and key (PEM files).
    pub fn client_cert(
        mut self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> io::Result<Tls> {
        let (c, k) = (cert_chain.as_ref(), key.as_ref());
        let certs = CertificateDer::pem_file_iter(c)
            .map_err(|e| bad(format!("{}: {e}", c.display())))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("{}: {e}", c.display())))?;
        let key =
            PrivateKeyDer::from_pem_file(k).map_err(|e| bad(format!("{}: {e}", k.display())))?;
        self.client = Some((certs, Arc::new(key)));
        Ok(self)
    }

    /// Check the certificate against this name (and send it as SNI) instead
    /// of the host part of the server address.
    pub fn server_name(mut self, name: impl Into<String>) -> Tls {
        self.server_name = Some(name.into());
        self
    }

    pub(crate) fn client_config(&self) -> io::Result<(Arc<rustls::ClientConfig>, Option<String>)> {
        let mut roots = rustls::RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(self.roots.iter().cloned());
        if added == 0 {
            return Err(bad("no usable root certificate".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let b = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots);
        let cfg = match &self.client {
            Some((certs, key)) => b
                .with_client_auth_cert(certs.clone(), key.clone_key())
                .map_err(|e| bad(e.to_string()))?,
            None => b.with_no_client_auth(),
        };
        Ok((Arc::new(cfg), self.server_name.clone()))
    }
}
