//! A body of unknown length, sent to the client as it arrives and copied
//! aside up to a limit: when it ends within the limit (no trailers, no
//! error), the copy goes to `on_complete`, which stores it; when it cannot
//! be kept, `on_complete` hears why (`size`, `headers` for trailers,
//! `incomplete` for a body that failed or was dropped before its end).
//! Nothing is read ahead, so the first byte leaves as soon as the handler
//! produces it.

use crate::observe::Refusal;
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use std::{
    pin::Pin,
    task::{Context, Poll},
};

type Complete = Box<dyn FnOnce(Result<Bytes, Refusal>) + Send>;

pub(crate) struct Tee {
    inner: Body,
    /// The copy so far; `None` once it cannot be stored (past the limit,
    /// trailers, an error).
    copy: Option<BytesMut>,
    limit: usize,
    on_complete: Option<Complete>,
}

impl Tee {
    pub(crate) fn new(
        inner: Body,
        limit: usize,
        on_complete: impl FnOnce(Result<Bytes, Refusal>) + Send + 'static,
    ) -> Self {
        Self {
            inner,
            copy: Some(BytesMut::new()),
            limit,
            on_complete: Some(Box::new(on_complete)),
        }
    }

    fn finish(&mut self) {
        if let (Some(copy), Some(on_complete)) = (self.copy.take(), self.on_complete.take()) {
            on_complete(Ok(copy.freeze()));
        }
    }

    /// The copy cannot be stored, for `why`.
    fn abandon(&mut self, why: Refusal) {
        self.copy = None;
        if let Some(on_complete) = self.on_complete.take() {
            on_complete(Err(why));
        }
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        // Dropped before its end (the client went away): nothing to store.
        self.abandon(Refusal::Incomplete);
    }
}

impl http_body::Body for Tee {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                match (frame.data_ref(), this.copy.as_mut()) {
                    (Some(data), Some(copy)) if copy.len() + data.len() <= this.limit => {
                        copy.extend_from_slice(data);
                    }
                    (Some(_), Some(_)) => this.abandon(Refusal::Size),
                    // Trailers, which an entry cannot hold.
                    (None, Some(_)) => this.abandon(Refusal::Headers),
                    (_, None) => {}
                }
                // The server may stop polling once the body says it ended.
                if this.inner.is_end_stream() {
                    this.finish();
                }
            }
            Poll::Ready(None) => this.finish(),
            Poll::Ready(Some(Err(_))) => this.abandon(Refusal::Incomplete),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::{Arc, Mutex};

    fn stream(chunks: &[&'static str]) -> Body {
        let chunks: Vec<Result<Bytes, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(Bytes::from_static(c.as_bytes())))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    }

    async fn run(chunks: &[&'static str], limit: usize) -> (Bytes, Option<Result<Bytes, Refusal>>) {
        let seen = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&seen);
        let tee = Tee::new(stream(chunks), limit, move |copy| {
            *sink.lock().unwrap() = Some(copy);
        });
        let sent = Body::new(tee).collect().await.unwrap().to_bytes();
        let copy = seen.lock().unwrap().take();
        (sent, copy)
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_sent_and_copied() {
        let (sent, copy) = run(&["ab", "cd", "e"], 5).await;
        assert_eq!(sent, "abcde");
        assert_eq!(copy, Some(Ok(Bytes::from_static(b"abcde"))));
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_sent_whole_and_not_copied() {
        let (sent, copy) = run(&["ab", "cd", "e"], 4).await;
        assert_eq!(sent, "abcde");
        assert_eq!(copy, Some(Err(Refusal::Size)));
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_is_not_copied() {
        let seen = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&seen);
        let mut tee = Body::new(Tee::new(stream(&["ab", "cd"]), 10, move |copy| {
            *sink.lock().unwrap() = Some(copy);
        }));
        let first = tee.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "ab");
        drop(tee);
        assert_eq!(*seen.lock().unwrap(), Some(Err(Refusal::Incomplete)));
    }
}
