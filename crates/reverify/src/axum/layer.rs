//! Tower layers: [`AuthLayer`] installs the verifier, [`RequireReverificationLayer`]
//! guards a group of routes with a policy.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{Rejection, session_from_parts};
use crate::access::AccessTokenVerifier;
use crate::policy::Policy;
use crate::verifier::Verifier;

/// Makes a [`Verifier`] available to the extractors of every route below it. Verifies
/// nothing by itself: public routes pay nothing.
///
/// ```no_run
/// # fn demo(verifier: reverify::Verifier) {
/// let app: axum::Router = axum::Router::new().layer(reverify::axum::AuthLayer::new(verifier));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AuthLayer {
    verifier: Verifier,
    #[cfg(feature = "approvals")]
    approvals: Option<crate::approval::Approvals>,
}

impl AuthLayer {
    /// A layer that installs `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        AuthLayer {
            verifier,
            #[cfg(feature = "approvals")]
            approvals: None,
        }
    }

    /// Also installs the app's approval store, for
    /// [`Approved<T>`](crate::approval::Approved) and
    /// [`Approvals`](crate::approval::Approvals) as an extractor.
    #[cfg(feature = "approvals")]
    pub fn approvals(mut self, approvals: crate::approval::Approvals) -> Self {
        self.approvals = Some(approvals);
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
            #[cfg(feature = "approvals")]
            approvals: self.approvals.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    verifier: Verifier,
    #[cfg(feature = "approvals")]
    approvals: Option<crate::approval::Approvals>,
}

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        request.extensions_mut().insert(self.verifier.clone());
        #[cfg(feature = "approvals")]
        if let Some(approvals) = &self.approvals {
            request.extensions_mut().insert(approvals.clone());
        }
        self.inner.call(request)
    }
}

/// Requires a reverification policy for every route it wraps; answers 401 without a valid
/// session and 403 (or 401) with the reverification error when the session is stale.
/// Needs an [`AuthLayer`] further out.
///
/// ```no_run
/// use axum::{Router, routing::post};
/// use reverify::axum::{AuthLayer, RequireReverificationLayer};
///
/// # async fn transfer() {} async fn close_account() {}
/// # fn demo(verifier: reverify::Verifier) -> Router {
/// let sensitive = Router::new()
///     .route("/transfer", post(transfer))
///     .route("/close", post(close_account))
///     .route_layer(RequireReverificationLayer::new(reverify::STRICT));
/// Router::new().nest("/api", sensitive).layer(AuthLayer::new(verifier))
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequireReverificationLayer {
    policy: Policy,
}

impl RequireReverificationLayer {
    /// A layer requiring `policy`.
    pub fn new(policy: Policy) -> Self {
        RequireReverificationLayer { policy }
    }
}

impl<S> Layer<S> for RequireReverificationLayer {
    type Service = RequireReverificationService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireReverificationService {
            inner,
            policy: self.policy,
        }
    }
}

/// The service of [`RequireReverificationLayer`].
#[derive(Debug, Clone)]
pub struct RequireReverificationService<S> {
    inner: S,
    policy: Policy,
}

impl<S, B> Service<Request<B>> for RequireReverificationService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was driven to readiness is the one that must be called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = self.policy;
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let checked = match session_from_parts(&mut parts).await {
                Ok(session) => session.require(&policy).map_err(Rejection::from),
                Err(e) => Err(Rejection::from(e)),
            };
            match checked {
                Ok(()) => inner.call(Request::from_parts(parts, body)).await,
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}

/// Makes an [`AccessTokenVerifier`] available to the [`AccessToken`](crate::AccessToken)
/// and [`SteppedUp`](super::SteppedUp) extractors below it. Verifies nothing by itself.
#[derive(Debug, Clone)]
pub struct AccessTokenLayer {
    verifier: AccessTokenVerifier,
}

impl AccessTokenLayer {
    /// A layer that installs `verifier`.
    pub fn new(verifier: AccessTokenVerifier) -> Self {
        AccessTokenLayer { verifier }
    }
}

impl<S> Layer<S> for AccessTokenLayer {
    type Service = AccessTokenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessTokenService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service of [`AccessTokenLayer`].
#[derive(Debug, Clone)]
pub struct AccessTokenService<S> {
    inner: S,
    verifier: AccessTokenVerifier,
}

impl<S, B> Service<Request<B>> for AccessTokenService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        request.extensions_mut().insert(self.verifier.clone());
        self.inner.call(request)
    }
}
