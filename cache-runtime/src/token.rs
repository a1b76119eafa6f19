//! Operator tokens (the admin API's bearer token, the explain header's
//! token): kept as a SHA-256 digest and compared in constant time, so the
//! comparison takes the same time whatever the presented value's length
//! or content.

use sha2::{Digest, Sha256};

/// The shortest token accepted, in bytes.
pub(crate) const MIN_TOKEN_BYTES: usize = 16;

/// A token's digest.
#[derive(Clone)]
pub(crate) struct Token([u8; 32]);

impl Token {
    pub(crate) fn new(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `presented` is the token.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest
            .iter()
            .zip(&self.0)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// The explain-on-request header (`RouteCacheBuilder::explain_header`):
/// its name, and the token a request must carry in it.
#[derive(Debug, Clone)]
pub(crate) struct Explain {
    pub(crate) name: http::HeaderName,
    pub(crate) token: Token,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_matches() {
        let token = Token::new("0123456789abcdef-token");
        assert!(token.matches(b"0123456789abcdef-token"));
        assert!(!token.matches(b"0123456789abcdef-tokeN"));
        assert!(!token.matches(b""));
        assert!(!token.matches(b"0123456789abcdef-token-and-more"));
    }
}
