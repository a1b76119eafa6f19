//! Arbitrary bytes under a key never panic the decoder; whatever decodes
//! re-encodes to a value that decodes to the same entry.
#![no_main]

use bytes::Bytes;
use cache_runtime::entry::{is_storable_status, Entry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::decode(Bytes::copy_from_slice(data)) {
        // 2xx, or a negatively cached 3xx/4xx; never 304 or 5xx.
        assert!(is_storable_status(entry.status));
        let encoded = entry.encode().expect("a decoded entry encodes");
        let again = Entry::decode(Bytes::from(encoded)).expect("and decodes again");
        assert_eq!(again, entry);
    }
});
