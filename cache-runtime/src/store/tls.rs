//! TLS material for Redis connections (`rediss://`), used with the `tls`
//! cargo feature.

use super::redis::invalid;
use super::StoreError;
#[cfg(not(feature = "tls"))]
use crate::error::ErrorKind;
use std::fmt;

/// TLS material for Redis: a CA to trust instead of the system's roots,
/// and a client certificate and key for mutual TLS (PEM).
#[derive(Clone, Default)]
pub(crate) struct TlsFiles {
    pub(crate) root_ca: Option<Vec<u8>>,
    pub(crate) client: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("TlsFiles")
            .field("root_ca", &self.root_ca.is_some())
            .field("client_cert", &self.client.is_some())
            .finish()
    }
}

impl TlsFiles {
    pub(super) fn is_set(&self) -> bool {
        self.root_ca.is_some() || self.client.is_some()
    }

    /// A client for `url`, with this TLS material when there is any.
    pub(super) fn client(&self, url: &str) -> Result<redis::Client, StoreError> {
        #[cfg(feature = "tls")]
        {
            // ring, whatever else the application links: rustls needs one
            // process-wide provider (an error means one is installed).
            let _ = rustls::crypto::ring::default_provider().install_default();
            if self.is_set() {
                return redis::Client::build_with_tls(url, self.certificates())
                    .map_err(|e| invalid("Redis URL or TLS certificates", e));
            }
        }
        #[cfg(not(feature = "tls"))]
        if self.is_set() {
            return Err(StoreError::bare(
                ErrorKind::InvalidConfig,
                "TLS certificates need the `tls` feature of cache-runtime",
            ));
        }
        redis::Client::open(url).map_err(|e| invalid("Redis URL", e))
    }

    #[cfg(feature = "tls")]
    fn certificates(&self) -> redis::TlsCertificates {
        redis::TlsCertificates {
            client_tls: self
                .client
                .as_ref()
                .map(|(cert, key)| redis::ClientTlsConfig {
                    client_cert: cert.clone(),
                    client_key: key.clone(),
                }),
            root_cert: self.root_ca.clone(),
        }
    }

    pub(super) fn cluster(
        &self,
        builder: redis::cluster::ClusterClientBuilder,
    ) -> redis::cluster::ClusterClientBuilder {
        #[cfg(feature = "tls")]
        if self.is_set() {
            return builder.certs(self.certificates());
        }
        builder
    }
}
