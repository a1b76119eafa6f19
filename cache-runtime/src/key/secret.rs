//! The deployment's key secret. HMAC-SHA-256 (RFC 2104) under it digests
//! the credentials a key carries, so that neither a log line nor a Redis
//! `SCAN` gives an offline guesser a plain hash of an `Authorization`
//! header, and it names keys in logs ([`KeySecret::short`]).
//!
//! Instances that share a store must share the secret to share entries
//! keyed on credentials (builder
//! [`key_secret`](crate::RouteCacheBuilder::key_secret), or
//! [`ROUTE_CACHE_KEY_SECRET_ENV`](crate::ROUTE_CACHE_KEY_SECRET_ENV)).
//! Without one, the MAC is keyed by a public default derived from the
//! cache's prefix: instances still share what they shared, but a digest
//! is then no harder to test guesses against than a plain hash, and
//! start-up says so when the store is shared.

use sha2::{Digest, Sha256};
use std::fmt;

/// SHA-256's block size, the HMAC key's padded length.
const BLOCK: usize = 64;

/// The shortest secret accepted.
pub(crate) const MIN_SECRET_LEN: usize = 16;

/// A secret, kept as the two HMAC hash states it starts (its bytes are not
/// kept), and whether it was configured or drawn at random.
#[derive(Clone)]
pub(crate) struct KeySecret {
    inner: Sha256,
    outer: Sha256,
    configured: bool,
    /// The public default in front of a shared store: the first MAC
    /// taken under it warns (once per process).
    warn: bool,
}

/// Whether the no-secret warning was logged.
static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        f.debug_struct("KeySecret")
            .field("configured", &self.configured)
            .finish_non_exhaustive()
    }
}

impl KeySecret {
    /// The secret `secret` (any length; longer than a block it is hashed
    /// first, as RFC 2104 says).
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self::keyed(secret, true)
    }

    /// The public default of a cache with `prefix` and no configured
    /// secret: the same on every instance with that prefix, and known to
    /// anyone who knows the prefix. In front of a `shared` store, the
    /// first credential digested under it logs a warning.
    pub(crate) fn unconfigured(prefix: &str, shared: bool) -> Self {
        let default = format!("route-cache default key secret for prefix {prefix}");
        let mut secret = Self::keyed(default.as_bytes(), false);
        secret.warn = shared;
        secret
    }

    /// HMAC-SHA-256 of a credential under the secret, for a key; warns
    /// once when that is the public default in front of a shared store.
    pub(crate) fn digest_credential(&self, credential: &[u8]) -> [u8; 32] {
        use std::sync::atomic::Ordering;
        if self.warn && !WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "route cache: no key secret (ROUTE_CACHE_KEY_SECRET or .key_secret): the \
                 credential digests in keys (private routes, vary on a credential header) use \
                 a public default, and anyone who can read the keys can test guessed \
                 credentials against them; give every instance the same secret"
            );
        }
        self.mac(credential)
    }

    fn keyed(secret: &[u8], configured: bool) -> Self {
        let mut key = [0u8; BLOCK];
        if secret.len() > BLOCK {
            key[..32].copy_from_slice(&Sha256::digest(secret));
        } else {
            key[..secret.len()].copy_from_slice(secret);
        }
        let pad = |byte: u8| {
            let mut padded = key;
            for b in &mut padded {
                *b ^= byte;
            }
            Sha256::new_with_prefix(padded)
        };
        Self {
            inner: pad(0x36),
            outer: pad(0x5c),
            configured,
            warn: false,
        }
    }

    /// Whether the secret was configured, rather than the public default.
    pub(crate) fn is_configured(&self) -> bool {
        self.configured
    }

    /// HMAC-SHA-256 of `message` under the secret.
    pub(crate) fn mac(&self, message: &[u8]) -> [u8; 32] {
        let inner = self.inner.clone().chain_update(message).finalize();
        self.outer.clone().chain_update(inner).finalize().into()
    }

    /// 64 bits of the MAC of `key`, in hex: what logs and spans name a key
    /// by. Equal keys give equal names on the instances sharing the
    /// secret; the name tells nothing of the key to anyone without it.
    pub(crate) fn short(&self, key: &str) -> String {
        use std::fmt::Write;
        let mac = self.mac(key.as_bytes());
        let mut out = String::with_capacity(16);
        for byte in &mac[..8] {
            let _ = write!(out, "{byte:02x}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 4231's test cases 1, 2 and 6 (a key longer than a block).
    #[test]
    fn matches_the_rfc_4231_vectors() {
        let one = KeySecret::new(&[0x0b; 20]).mac(b"Hi There");
        assert_eq!(
            hex(&one),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let two = KeySecret::new(b"Jefe").mac(b"what do ya want for nothing?");
        assert_eq!(
            hex(&two),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let six = KeySecret::new(&[0xaa; 131])
            .mac(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex(&six),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn defaults_follow_the_prefix_and_say_they_are_defaults() {
        let (a, b) = (
            KeySecret::unconfigured("a", false),
            KeySecret::unconfigured("b", false),
        );
        assert_ne!(a.mac(b"k"), b.mac(b"k"));
        assert_eq!(a.mac(b"k"), KeySecret::unconfigured("a", true).mac(b"k"));
        assert!(!a.is_configured());
        let configured = KeySecret::new(b"0123456789abcdef");
        assert!(configured.is_configured());
        assert_ne!(configured.mac(b"k"), a.mac(b"k"));
        assert!(!format!("{configured:?}").contains("0123"));
    }

    #[test]
    fn short_names_are_16_hex_digits() {
        let secret = KeySecret::new(b"0123456789abcdef");
        let name = secret.short("rc:v2:app::h:GET:/items?q=secret");
        assert_eq!(name.len(), 16);
        assert!(name.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(name, secret.short("rc:v2:app::h:GET:/items?q=secret"));
    }
}
