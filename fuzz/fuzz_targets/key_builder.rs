//! Whatever bytes a request carries (path, query, header values, a custom
//! key), its key stays inside its route's key space, uses only characters
//! that cannot be mistaken for the key's own separators, and is bounded.
#![no_main]

use cache_runtime::key::{KeyBuilder, QueryPolicy, MAX_KEY_LEN};
use libfuzzer_sys::fuzz_target;

const SCOPE: &str = "rc:app::routes::get_item:GET:";

fuzz_target!(|data: &[u8]| {
    // Split the input into path | query | header value | custom key.
    let mut parts = data.splitn(4, |&b| b == 0xff);
    let path = parts.next().unwrap_or_default();
    let query = parts.next();
    let header = parts.next();
    let custom = parts.next().map(String::from_utf8_lossy);
    let policy = match data.first().map(|b| b % 3) {
        Some(0) => QueryPolicy::All,
        Some(1) => QueryPolicy::Ignore,
        _ => QueryPolicy::Allow(&["page", "a b", "%"]),
    };

    let mut key = KeyBuilder::new("rc", None, "app::routes::get_item", "GET");
    match &custom {
        Some(custom) => key.custom(custom),
        None => key.path_and_query(path, query, policy),
    }
    key.vary("accept-language", header);
    key.vary("authorization", header);
    let key = key.finish();

    let rest = key
        .strip_prefix(SCOPE)
        .unwrap_or_else(|| panic!("{key:?} left its route's key space"));
    if let Some(hash) = rest.strip_prefix("sha256:") {
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        return;
    }
    assert!(
        key.len() <= MAX_KEY_LEN,
        "unhashed key longer than the bound"
    );
    assert!(
        rest.starts_with('/') || rest.starts_with('%') || rest.starts_with("key:"),
        "{rest:?}"
    );
    assert!(
        rest.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'*' | b'{' | b'}' | b'\\' | b'"')),
        "{key:?}"
    );
    // `:` only in the `key:` marker; `#` only before a vary header name.
    let body = rest.strip_prefix("key:").unwrap_or(rest);
    let mut pieces = body.split('#');
    assert!(!pieces.next().unwrap_or_default().contains(':'), "{key:?}");
    let names: Vec<&str> = pieces
        .map(|p| p.split('=').next().unwrap_or_default())
        .collect();
    assert_eq!(names, ["accept-language", "authorization"], "{key:?}");
    if header.is_some() {
        // The credential is replaced by its MAC: nothing of it in clear.
        let auth = rest.split("#authorization=").nth(1).unwrap_or_default();
        let digest = auth
            .strip_prefix("hmac.")
            .unwrap_or_else(|| panic!("{key:?}"));
        assert_eq!(digest.len(), 64, "{key:?}");
        assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()), "{key:?}");
    }
});
