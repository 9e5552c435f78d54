//! TLS for server connections with rustls and the `ring` provider, following
//! libpq's `sslmode` semantics.
//!
//! libpq's modes below `verify-ca` encrypt without checking the server's
//! certificate at all, so those use [`NoCertCheck`], which still checks the
//! handshake signatures (the server must own the key of the certificate it
//! shows) but trusts any certificate. `verify-ca` checks the chain but not
//! the name ([`ChainOnly`]); `verify-full` is plain webpki verification.
//!
//! The provider is always passed explicitly: `ClientConfig::builder()`
//! panics at run time when no process-wide default provider is installed.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// What the TLS layer must verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Encrypt only (libpq `allow`, `prefer`, `require` without a root file).
    Nothing,
    /// Chain to the roots, any name (libpq `verify-ca`).
    Chain(Roots),
    /// Chain and host name (libpq `verify-full`).
    Full(Roots),
}

/// Where trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// A PEM file (`sslrootcert=/path`).
    File(PathBuf),
    /// The operating system's store (`sslrootcert=system`).
    System,
}

/// Client certificate and key files (`sslcert`, `sslkey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientCert {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_roots(roots: &Roots) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
                format!("reading root certificate file \"{}\": {e}", path.display())
            })?;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    format!("reading root certificate file \"{}\": {e}", path.display())
                })?;
                store
                    .add(cert)
                    .map_err(|e| format!("using a certificate from \"{}\": {e}", path.display()))?;
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_owned(), ToString::to_string);
                return Err(format!(
                    "loading the system's trusted root certificates: {why}"
                ));
            }
        }
    }
    if store.is_empty() {
        return Err("the root certificate file holds no certificates".to_owned());
    }
    Ok(store)
}

fn load_client_cert(
    cc: &ClientCert,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let certs = CertificateDer::pem_file_iter(&cc.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("reading client certificate \"{}\": {e}", cc.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&cc.key)
        .map_err(|e| format!("reading client key \"{}\": {e}", cc.key.display()))?;
    Ok((certs, key))
}

/// Builds the rustls configuration; errors say which file could not be used.
pub(crate) fn client_config(
    verify: &Verify,
    client_cert: Option<&ClientCert>,
) -> Result<ClientConfig, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("setting up TLS: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(NoCertCheck {
            algorithms: provider.signature_verification_algorithms,
        }),
        Verify::Chain(roots) | Verify::Full(roots) => {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(load_roots(roots)?), provider)
                    .build()
                    .map_err(|e| format!("setting up certificate verification: {e}"))?;
            if matches!(verify, Verify::Chain(_)) {
                Arc::new(ChainOnly(webpki))
            } else {
                webpki
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match client_cert {
        None => Ok(builder.with_no_client_auth()),
        Some(cc) => {
            let (certs, key) = load_client_cert(cc)?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("using client certificate \"{}\": {e}", cc.cert.display()))
        }
    }
}

/// Accepts any certificate but still checks handshake signatures.
#[derive(Debug)]
struct NoCertCheck {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoCertCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Full webpki verification except the host name check (libpq `verify-ca`).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain before the name, so a name error means the
        // chain itself was fine.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_without_panicking() {
        client_config(&Verify::Nothing, None).expect("no-verify config");
        let err = client_config(
            &Verify::Full(Roots::File("/nonexistent/root.crt".into())),
            None,
        )
        .unwrap_err();
        assert!(err.contains("/nonexistent/root.crt"), "{err}");
    }
}
