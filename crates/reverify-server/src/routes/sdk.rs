//! `GET /sdk/{path}`: the browser SDK (`js/src` of this repository), served as plain ES
//! modules so that a page can use it without npm:
//!
//! ```html
//! <script type="module">
//!   import { ReverifyClient, withReverification } from '/auth/sdk/index.js';
//!   import '/auth/sdk/ui/index.js'; // the custom elements and the default modal
//! </script>
//! ```
//!
//! The files are compiled into the binary, so the SDK always matches the server's API.
//! (`react.js` imports `react` by its bare name: use it through a bundler.)

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::api::Api;
use crate::error::ApiError;

macro_rules! sdk_files {
    ($($path:literal),* $(,)?) => {
        /// `(path under /sdk/, contents)` of every file of the browser SDK.
        pub const FILES: &[(&str, &str)] = &[
            $(($path, include_str!(concat!("../../../../js/src/", $path)))),*
        ];
    };
}

sdk_files!(
    "client.js",
    "errors.js",
    "index.js",
    "react.js",
    "reverification.js",
    "webauthn.js",
    "ui/account.js",
    "ui/base.js",
    "ui/consent.js",
    "ui/css.js",
    "ui/forms.js",
    "ui/index.js",
    "ui/modal.js",
    "ui/strings.js",
);

pub(crate) fn router() -> Api {
    Api::new().get_documented_as("/sdk/{*path}", "/sdk/{path}", file)
}

async fn file(Path(path): Path<String>) -> Result<Response, ApiError> {
    let (_, body) = FILES
        .iter()
        .find(|(p, _)| *p == path)
        .ok_or(ApiError::NotFound("file"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *body,
    )
        .into_response())
}
