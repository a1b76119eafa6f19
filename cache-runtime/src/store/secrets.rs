//! What connecting to Redis may need beyond the URL: TLS material
//! (`rediss://`, with the `tls` cargo feature) and ACL credentials. Kept
//! out of every `Debug` and log line.

use super::redis::invalid;
use super::StoreError;
#[cfg(not(feature = "tls"))]
use crate::error::ErrorKind;
use std::fmt;

/// A CA to trust instead of the system's roots, a client certificate and
/// key for mutual TLS (PEM), and an ACL user and password that override
/// the URL's.
#[derive(Clone, Default)]
pub(crate) struct Secrets {
    pub(crate) root_ca: Option<Vec<u8>>,
    pub(crate) client: Option<(Vec<u8>, Vec<u8>)>,
    pub(crate) auth: Option<(String, String)>,
    /// The socket options of every connection (not secret, but needed
    /// wherever a connection is made).
    pub(crate) tcp: super::TcpOptions,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("Secrets")
            .field("root_ca", &self.root_ca.is_some())
            .field("client_cert", &self.client.is_some())
            .field("user", &self.auth.as_ref().map(|(user, _)| user))
            .field("tcp", &self.tcp)
            .finish()
    }
}

impl Secrets {
    /// Connection settings for a node found at run time (the master
    /// behind Sentinel): the credentials, if any, and `TCP_NODELAY`.
    pub(super) fn node_settings(&self) -> redis::sentinel::SentinelNodeConnectionInfo {
        let node = redis::sentinel::SentinelNodeConnectionInfo::default()
            .set_tcp_settings(self.tcp.settings());
        let Some((user, password)) = self.auth.as_ref() else {
            return node;
        };
        let redis = redis::RedisConnectionInfo::default()
            .set_username(user)
            .set_password(password);
        node.set_redis_connection_info(redis)
    }

    pub(crate) fn is_set(&self) -> bool {
        self.root_ca.is_some() || self.client.is_some()
    }

    /// A client for `url`, with this TLS material when there is any.
    pub(super) fn client(&self, url: &str) -> Result<redis::Client, StoreError> {
        use redis::IntoConnectionInfo;
        let mut url = url
            .into_connection_info()
            .map_err(|e| invalid("Redis URL", e))?
            .set_tcp_settings(self.tcp.settings());
        if let Some((user, password)) = &self.auth {
            let settings = url
                .redis_settings()
                .clone()
                .set_username(user)
                .set_password(password);
            url = url.set_redis_settings(settings);
        }
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
        let builder = builder.tcp_settings(self.tcp.settings());
        #[cfg(feature = "tls")]
        if self.is_set() {
            return builder.certs(self.certificates());
        }
        builder
    }
}
