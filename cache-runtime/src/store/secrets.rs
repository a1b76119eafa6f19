//! What connecting to Redis may need beyond the URL: TLS material
//! (`rediss://`, with the `tls` cargo feature) and ACL credentials. Kept
//! out of every `Debug` and log line.

use super::reply::invalid;
use super::StoreError;
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
    /// A client for the master that the sentinels at `urls` know as
    /// `master`. The sentinels are reached as their URLs say (all
    /// `rediss://`, or none), with the URLs' credentials; the master found
    /// through them with TLS when the sentinels use it (or as `master_tls`
    /// says), with this CA and client certificate either way, and with
    /// the ACL credentials given. A master that would get a password in
    /// plaintext while the sentinels use TLS is a configuration error.
    pub(super) fn sentinel(
        &self,
        urls: &[String],
        master: &str,
        master_tls: Option<bool>,
    ) -> Result<redis::sentinel::SentinelClient, StoreError> {
        use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
        use redis::IntoConnectionInfo;
        let bad = |rule: &'static str| StoreError::bare(ErrorKind::InvalidConfig, rule);
        if urls.is_empty() || master.is_empty() {
            return Err(bad(
                "Sentinel needs at least one sentinel URL and the master's name",
            ));
        }
        let infos = urls
            .iter()
            .map(|url| url.as_str().into_connection_info())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("Redis Sentinel URLs", e))?;
        let is_tls = |info: &redis::ConnectionInfo| {
            matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. })
        };
        let sentinels_tls = infos.iter().all(is_tls);
        if !sentinels_tls && infos.iter().any(is_tls) {
            return Err(bad(
                "the sentinel URLs are all rediss:// (TLS) or all redis://, not a mix",
            ));
        }
        let master_tls = master_tls.unwrap_or(sentinels_tls);
        let password = self.auth.is_some()
            || infos
                .iter()
                .any(|info| info.redis_settings().password().is_some());
        if sentinels_tls && !master_tls && password {
            return Err(bad(
                "the sentinels use TLS but the master would not: its password would cross the \
                 network in plaintext (use TLS to the master, or no TLS at all)",
            ));
        }
        #[cfg(not(feature = "tls"))]
        if sentinels_tls || master_tls {
            return Err(bad(
                "rediss:// sentinels need the `tls` feature of cache-runtime",
            ));
        }
        let sentinel_auth = infos.first().map(|info| info.redis_settings().clone());
        let addrs = infos.iter().map(|info| info.addr().clone());
        let mut builder = SentinelClientBuilder::new(addrs, master, SentinelServerType::Master)
            .map_err(|e| invalid("Redis Sentinel configuration", e))?
            .set_client_to_sentinel_tcp_settings(self.tcp.settings())
            .set_client_to_redis_tcp_settings(self.tcp.settings());
        if let Some(auth) = sentinel_auth {
            if let Some(user) = auth.username() {
                builder = builder.set_client_to_sentinel_username(user);
            }
            if let Some(password) = auth.password() {
                builder = builder.set_client_to_sentinel_password(password);
            }
        }
        if let Some((user, password)) = &self.auth {
            builder = builder
                .set_client_to_redis_username(user)
                .set_client_to_redis_password(password);
        }
        if sentinels_tls {
            builder = builder.set_client_to_sentinel_tls_mode(redis::TlsMode::Secure);
        }
        if master_tls {
            builder = builder.set_client_to_redis_tls_mode(redis::TlsMode::Secure);
        }
        #[cfg(feature = "tls")]
        {
            let _ = rustls::crypto::ring::default_provider().install_default();
            if self.is_set() {
                if sentinels_tls {
                    builder = builder.set_client_to_sentinel_certificates(self.certificates());
                }
                if master_tls {
                    builder = builder.set_client_to_redis_certificates(self.certificates());
                }
            }
        }
        builder
            .build()
            .map_err(|e| invalid("Redis Sentinel configuration", e))
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
