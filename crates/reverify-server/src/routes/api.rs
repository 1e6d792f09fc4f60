//! A thin wrapper over axum's `Router` that also records each operation, so that the
//! OpenAPI document can be checked against the routes that really exist (both ways).

use axum::Router;
use axum::handler::Handler;
use axum::routing::{self, MethodRouter};

use crate::state::AppState;

/// Routes plus the `(method, path)` of each.
pub(crate) struct Api {
    router: Router<AppState>,
    operations: Vec<(&'static str, &'static str)>,
}

impl Api {
    pub(crate) fn new() -> Api {
        Api {
            router: Router::new(),
            operations: Vec::new(),
        }
    }

    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        route: MethodRouter<AppState>,
    ) -> Api {
        self.router = self.router.route(path, route);
        self.operations.push((method, path));
        self
    }

    pub(crate) fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Api {
        self.add("get", path, routing::get(h))
    }

    /// A GET route whose path has a wildcard, recorded under its OpenAPI form.
    pub(crate) fn get_documented_as<H: Handler<T, AppState>, T: 'static>(
        mut self,
        path: &'static str,
        documented: &'static str,
        h: H,
    ) -> Api {
        self.router = self.router.route(path, routing::get(h));
        self.operations.push(("get", documented));
        self
    }

    pub(crate) fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Api {
        self.add("post", path, routing::post(h))
    }

    pub(crate) fn patch<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        h: H,
    ) -> Api {
        self.add("patch", path, routing::patch(h))
    }

    pub(crate) fn delete<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        h: H,
    ) -> Api {
        self.add("delete", path, routing::delete(h))
    }

    pub(crate) fn merge(mut self, other: Api) -> Api {
        self.router = self.router.merge(other.router);
        self.operations.extend(other.operations);
        self
    }

    pub(crate) fn into_parts(self) -> (Router<AppState>, Vec<(&'static str, &'static str)>) {
        (self.router, self.operations)
    }
}
