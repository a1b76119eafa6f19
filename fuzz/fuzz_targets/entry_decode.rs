//! Arbitrary bytes under a key never panic the decoder; whatever decodes
//! re-encodes to a value that decodes to the same entry.
#![no_main]

use bytes::Bytes;
use cache_runtime::entry::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::decode(Bytes::copy_from_slice(data)) {
        assert!(entry.status.is_success());
        let encoded = entry.encode().expect("a decoded entry encodes");
        let again = Entry::decode(Bytes::from(encoded)).expect("and decodes again");
        assert_eq!(again, entry);
    }
});
