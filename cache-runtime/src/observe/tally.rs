//! The pieces every metric is made of: fixed label vocabularies, and
//! counts kept here as well as sent to the recorder.

use metrics::Counter;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fixed label vocabulary: the enum, every value in order, and each
/// value's label.
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $label:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum $name { $($(#[$vdoc])* $variant,)+ }

        impl $name {
            pub(crate) const ALL: [Self; [$(Self::$variant),+].len()] = [$(Self::$variant),+];

            pub(crate) const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $label,)+ }
            }
        }
    };
}
pub(crate) use vocabulary;

/// A count kept here (for [`crate::stats`]) and sent to the recorder.
#[derive(Debug)]
pub(crate) struct Tally {
    count: AtomicU64,
    counter: Counter,
}

impl Tally {
    pub(crate) fn new(counter: Counter) -> Self {
        Self {
            count: AtomicU64::new(0),
            counter,
        }
    }

    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.count.fetch_add(n, Ordering::Relaxed);
        self.counter.increment(n);
    }

    pub(crate) fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}
