//! Buffering a response body up to a limit without losing any of it.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;
use std::{
    collections::VecDeque,
    pin::Pin,
    task::{Context, Poll},
};

/// The result of reading a body up to a limit.
pub(crate) enum Buffered {
    /// The whole body, in one buffer.
    Complete(Bytes),
    /// Too large, carrying trailers, or failed: the body to send on, which
    /// yields exactly what the original would have.
    Passthrough(Body),
}

/// Reads `body` into memory if it is at most `limit` bytes and has no
/// trailers; otherwise gives back an equivalent body.
pub(crate) async fn buffer(body: Body, limit: usize) -> Buffered {
    let hint = body.size_hint();
    if hint.lower() > limit as u64 {
        return Buffered::Passthrough(body);
    }
    let mut body = body;
    let mut frames: VecDeque<Frame<Bytes>> = VecDeque::new();
    let mut total = 0usize;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                let is_data = frame.is_data();
                if let Some(data) = frame.data_ref() {
                    total = total.saturating_add(data.len());
                }
                frames.push_back(frame);
                if !is_data || total > limit {
                    return Buffered::Passthrough(Body::new(Replay {
                        frames,
                        rest: Some(body),
                        error: None,
                    }));
                }
            }
            Some(Err(e)) => {
                return Buffered::Passthrough(Body::new(Replay {
                    frames,
                    rest: None,
                    error: Some(e),
                }));
            }
        }
    }
    let bytes = match frames.len() {
        0 => Bytes::new(),
        1 => frames
            .pop_front()
            .and_then(|f| f.into_data().ok())
            .unwrap_or_default(),
        _ => {
            let mut all = BytesMut::with_capacity(total);
            for frame in frames {
                if let Ok(data) = frame.into_data() {
                    all.extend_from_slice(&data);
                }
            }
            all.freeze()
        }
    };
    Buffered::Complete(bytes)
}

/// Frames already read, then an error or the rest of the original body.
struct Replay {
    frames: VecDeque<Frame<Bytes>>,
    rest: Option<Body>,
    error: Option<axum::Error>,
}

impl http_body::Body for Replay {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Some(frame) = self.frames.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        if let Some(error) = self.error.take() {
            return Poll::Ready(Some(Err(error)));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
            && self.error.is_none()
            && self
                .rest
                .as_ref()
                .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let buffered: u64 = self
            .frames
            .iter()
            .filter_map(Frame::data_ref)
            .map(|d| d.len() as u64)
            .sum();
        let mut hint = self
            .rest
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint);
        let lower = hint.lower().saturating_add(buffered);
        let upper = hint.upper().map(|u| u.saturating_add(buffered));
        hint.set_lower(lower);
        if let Some(upper) = upper {
            hint.set_upper(upper);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(body: Body) -> Bytes {
        body.collect().await.unwrap().to_bytes()
    }

    fn chunked(chunks: &[&'static str]) -> Body {
        let frames: Vec<Result<Frame<Bytes>, axum::Error>> = chunks
            .iter()
            .map(|c| Ok(Frame::data(Bytes::from_static(c.as_bytes()))))
            .collect();
        Body::new(http_body_util::StreamBody::new(Iter(frames.into_iter())))
    }

    struct Iter<I>(I);
    impl<I: Iterator + Unpin> futures_core::Stream for Iter<I> {
        type Item = I::Item;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<I::Item>> {
            Poll::Ready(self.0.next())
        }
    }

    #[tokio::test]
    async fn small_bodies_are_buffered_whole() {
        match buffer(chunked(&["ab", "cd"]), 10).await {
            Buffered::Complete(b) => assert_eq!(b, "abcd"),
            Buffered::Passthrough(_) => panic!("expected a complete body"),
        }
    }

    #[tokio::test]
    async fn oversized_bodies_pass_through_intact() {
        match buffer(chunked(&["ab", "cd", "ef"]), 3).await {
            Buffered::Passthrough(b) => assert_eq!(collect(b).await, "abcdef"),
            Buffered::Complete(_) => panic!("expected passthrough"),
        }
        match buffer(Body::from("0123456789"), 3).await {
            Buffered::Passthrough(b) => assert_eq!(collect(b).await, "0123456789"),
            Buffered::Complete(_) => panic!("expected passthrough"),
        }
    }
}
