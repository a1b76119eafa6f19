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
pub(crate) enum BodyRead {
    /// The whole body, in one buffer.
    Complete(Bytes),
    /// Too large, carrying trailers, or failed: the body to send on, which
    /// yields exactly what the original would have.
    Passthrough(Body),
}

/// Reads `body` into memory if it is at most `limit` bytes and has no
/// trailers; otherwise gives back an equivalent body.
pub(crate) async fn buffer(body: Body, limit: usize) -> BodyRead {
    // Only bodies of known, bounded size are read ahead: a stream (server-sent
    // events, progress output) must reach the client as it is produced.
    let hint = body.size_hint();
    if hint.upper().is_none_or(|upper| upper > limit as u64) {
        return BodyRead::Passthrough(body);
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
                    return BodyRead::Passthrough(Body::new(Replay {
                        frames,
                        rest: Some(body),
                        error: None,
                    }));
                }
            }
            Some(Err(e)) => {
                return BodyRead::Passthrough(Body::new(Replay {
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
    BodyRead::Complete(bytes)
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
        let rest = self
            .rest
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint);
        // A fresh hint: `set_lower` on the old one asserts `lower <= upper`.
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(buffered));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(buffered).max(hint.lower()));
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

    /// A body yielding `chunks` that claims at most `upper` bytes (which
    /// may be a lie, as a buggy body's can be).
    struct Chunks {
        chunks: VecDeque<Bytes>,
        upper: Option<u64>,
    }

    impl http_body::Body for Chunks {
        type Data = Bytes;
        type Error = axum::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
            Poll::Ready(self.chunks.pop_front().map(|c| Ok(Frame::data(c))))
        }

        fn size_hint(&self) -> SizeHint {
            let mut hint = SizeHint::new();
            if let Some(upper) = self.upper {
                hint.set_upper(upper);
            }
            hint
        }
    }

    fn chunked(chunks: &[&'static str], upper: Option<u64>) -> Body {
        Body::new(Chunks {
            chunks: chunks
                .iter()
                .map(|c| Bytes::from_static(c.as_bytes()))
                .collect(),
            upper,
        })
    }

    #[test]
    fn replay_size_hint_never_panics() {
        let replay = Replay {
            frames: VecDeque::from([Frame::data(Bytes::from_static(b"abc"))]),
            rest: None,
            error: Some(axum::Error::new("boom")),
        };
        assert_eq!(replay.size_hint().lower(), 3);
        assert_eq!(replay.size_hint().upper(), Some(3));
        let replay = Replay {
            frames: VecDeque::from([Frame::data(Bytes::from_static(b"abc"))]),
            rest: Some(Body::from("de")),
            error: None,
        };
        assert_eq!(replay.size_hint().exact(), Some(5));
    }

    #[tokio::test]
    async fn streams_of_unknown_size_are_not_read_ahead() {
        match buffer(chunked(&["ab", "cd"], None), 10).await {
            BodyRead::Passthrough(b) => assert_eq!(collect(b).await, "abcd"),
            BodyRead::Complete(_) => panic!("a stream must pass through"),
        }
    }

    #[tokio::test]
    async fn small_bodies_are_buffered_whole() {
        match buffer(chunked(&["ab", "cd"], Some(10)), 10).await {
            BodyRead::Complete(b) => assert_eq!(b, "abcd"),
            BodyRead::Passthrough(_) => panic!("expected a complete body"),
        }
    }

    #[tokio::test]
    async fn oversized_bodies_pass_through_intact() {
        match buffer(chunked(&["ab", "cd", "ef"], Some(4)), 4).await {
            BodyRead::Passthrough(b) => assert_eq!(collect(b).await, "abcdef"),
            BodyRead::Complete(_) => panic!("expected passthrough"),
        }
        match buffer(Body::from("0123456789"), 3).await {
            BodyRead::Passthrough(b) => assert_eq!(collect(b).await, "0123456789"),
            BodyRead::Complete(_) => panic!("expected passthrough"),
        }
    }
}
