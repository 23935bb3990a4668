//! The check on the address actually connected to, port included.
//!
//! The resolver ([`super::GuardedResolver`]) sees a host name but never the port, so an
//! allow-list entry that names one (`127.0.0.1:8025`) could only be matched by address
//! there: `http://localhost:<any port>/` would pass. A connector layer sees the finished
//! connection, whose peer address carries both, and refuses it before a byte of the request
//! is written. (Over TLS the check follows the handshake, which reqwest's connector makes in
//! the same step as the TCP connection: a ClientHello can reach such a port, a request never.
//! Names that resolve to refused addresses are dropped earlier, by the resolver.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::{Connection, HttpInfo};

use super::{NetError, NetPolicy};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// For `reqwest::ClientBuilder::connector_layer`.
#[derive(Clone)]
pub struct ConnectedGuardLayer {
    pub(super) policy: Arc<NetPolicy>,
}

impl<S> tower::Layer<S> for ConnectedGuardLayer {
    type Service = ConnectedGuard<S>;

    fn layer(&self, inner: S) -> ConnectedGuard<S> {
        ConnectedGuard {
            inner,
            policy: self.policy.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ConnectedGuard<S> {
    inner: S,
    policy: Arc<NetPolicy>,
}

impl<S, R> tower::Service<R> for ConnectedGuard<S>
where
    S: tower::Service<R, Error = BoxError>,
    S::Response: Connection + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let connecting = self.inner.call(req);
        let policy = self.policy.clone();
        Box::pin(async move {
            let conn = connecting.await?;
            let mut extras = http::Extensions::new();
            conn.connected().get_extras(&mut extras);
            // Without the peer address there is nothing to check the port against: refuse
            // rather than guess (every TCP connection reqwest makes carries it).
            let Some(peer) = extras.get::<HttpInfo>().map(HttpInfo::remote_addr) else {
                return Err(Box::new(NetError::Denied(
                    "a connection whose peer address is unknown".into(),
                )) as BoxError);
            };
            policy.check(peer.ip(), Some(peer.port()))?;
            Ok(conn)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AllowEntry, NetPolicy, denied_in};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A listener that answers every request `200 ok`, and counts the requests it read.
    async fn answering() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    if matches!(s.read(&mut buf).await, Ok(n) if n > 0) {
                        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                            .await;
                    }
                });
            }
        });
        (port, seen)
    }

    #[tokio::test]
    async fn an_entry_with_a_port_opens_that_port_only_even_through_a_name() {
        let (allowed, allowed_seen) = answering().await;
        let (other, other_seen) = answering().await;
        let policy = NetPolicy::new(vec![
            AllowEntry::parse(&format!("127.0.0.1:{allowed}")).unwrap(),
        ]);
        let client = policy.guard(reqwest::Client::builder()).build().unwrap();

        let ok = client
            .get(format!("http://localhost:{allowed}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(allowed_seen.load(std::sync::atomic::Ordering::SeqCst), 1);

        for url in [
            format!("http://localhost:{other}/"),
            format!("http://127.0.0.1:{other}/"),
        ] {
            let e = client.get(&url).send().await.unwrap_err();
            let denied = denied_in(&e).unwrap_or_else(|| panic!("{url}: not the guard: {e:?}"));
            assert!(denied.ends_with(&format!(":{other}")), "{denied}");
        }
        assert_eq!(
            other_seen.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "no request reached the port that is not allow-listed"
        );
    }
}
