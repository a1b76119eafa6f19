//! How a cached request is counted and traced: its span (created only
//! when a subscriber wants it), the route's counters for its outcome, and
//! the guard that counts a request dropped before it is answered.

use super::exchange::Exchange;
use crate::observe::{Answered, Bypass};
use tracing::{field, Span};

impl Exchange {
    /// Counts the request as answered `how`.
    #[inline]
    pub(super) fn answered(&self, how: Answered) {
        self.metrics.answered(how);
        self.span.record_with(|span| {
            span.record("outcome", how.as_str());
        });
    }

    /// Counts the request as bypassed, for `why`.
    pub(super) fn bypassed(&self, why: Bypass) {
        self.metrics.bypassed(why);
        self.span.record_with(|span| record_bypass(span, why));
    }
}

/// Records on a request's span that it was bypassed, for `why`.
pub(super) fn record_bypass(span: &Span, why: Bypass) {
    span.record("outcome", Answered::Bypass.as_str());
    span.record("reason", why.as_str());
}

/// The span of one cached request: its route, and once known its
/// outcome, a bypass's reason and a short hash of its key (never the key:
/// it may hold a user's credential digest).
#[inline]
pub(super) fn request_span(route: &'static str) -> Span {
    tracing::debug_span!(
        "route_cache",
        route,
        outcome = field::Empty,
        reason = field::Empty,
        key_hash = field::Empty
    )
}

/// A request still being answered: counted as `provisional` if it is
/// dropped before [`settle`](Self::settle), so that requests cut off
/// mid-miss are not missing from the counts.
pub(super) struct PendingRequest<'a> {
    route: &'a Exchange,
    provisional: Answered,
    settled: bool,
}

impl<'a> PendingRequest<'a> {
    pub(super) fn new(route: &'a Exchange, provisional: Answered) -> Self {
        Self {
            route,
            provisional,
            settled: false,
        }
    }

    /// The request will be counted by its answer.
    pub(super) fn settle(mut self) {
        self.settled = true;
    }
}

impl Drop for PendingRequest<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.route.answered(self.provisional);
        }
    }
}

/// How a request is counted.
#[derive(Debug, Clone, Copy)]
pub(super) enum Count {
    Answered(Answered),
    Bypassed(Bypass),
}
