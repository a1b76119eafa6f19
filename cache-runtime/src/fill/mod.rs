//! Finding and filling entries: lookup and save, the in-process leader per
//! key, the cross-instance lease, the generations that make fills race-free,
//! and recent decodings of Redis values.

pub(crate) mod coalesce;
pub(crate) mod generation;
pub(crate) mod lease;
pub(crate) mod lookup;
pub(crate) mod recent;
