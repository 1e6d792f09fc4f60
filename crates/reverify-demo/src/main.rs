//! `cargo run -p reverify-demo`: the announcement's demo on http://localhost:3000.
//!
//! Environment: `PORT` (3000), `REVERIFY_DEMO_POLICY` (the transfer's policy: a preset or
//! JSON such as `{"level":"second_factor","afterMinutes":0.1}`; default `strict`),
//! `REVERIFY_DEMO_OPENING_CENTS` (100000), `REVERIFY_DEMO_LEDGER` (the ledger's SQLite
//! file; default: the auth server's), `REVERIFY_DEMO_REACT_BUNDLE` (a React bundle to serve
//! instead of the embedded one),
//! and every `REVERIFY_*` key of the auth server (its database defaults to
//! `sqlite://reverify-demo.sqlite`; on its localhost URL, email codes go to the dev outbox
//! at `/auth/dev/outbox`).

use std::net::SocketAddr;
use std::process::ExitCode;

use reverify_demo::{BoxError, Settings};
use reverify_server::config::Config;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

async fn run() -> Result<(), BoxError> {
    let port: u16 = env("PORT").map(|p| p.parse()).transpose()?.unwrap_or(3000);
    let origin = format!("http://localhost:{port}");
    let mut config = Config::load(None, std::env::vars())?;
    reverify_demo::demo_defaults(&mut config, &origin, |name| env(name).is_some());
    let mut settings = Settings::new(&origin);
    // The app fetches the keys over loopback, whatever name the browser uses.
    settings.jwks_url = format!("http://127.0.0.1:{port}/auth/.well-known/jwks.json");
    // Exactly a preset name or a custom policy's JSON object (`reverify::Policy`'s FromStr).
    settings.policy = match env("REVERIFY_DEMO_POLICY") {
        Some(raw) => raw.parse()?,
        None => reverify::STRICT,
    };
    if let Some(cents) = env("REVERIFY_DEMO_OPENING_CENTS") {
        settings.opening_cents = cents.parse()?;
    }
    settings.ledger = env("REVERIFY_DEMO_LEDGER").map(Into::into);
    // Every transfer needs an approval of it unless switched off (benchmarks, comparisons).
    settings.approvals = match env("REVERIFY_DEMO_APPROVALS").as_deref() {
        None | Some("1" | "true" | "on") => true,
        Some("0" | "false" | "off") => false,
        Some(other) => {
            return Err(format!("REVERIFY_DEMO_APPROVALS must be 1 or 0, not {other:?}").into());
        }
    };
    // The React bundle is embedded; this serves another file instead (development).
    settings.react_bundle = env("REVERIFY_DEMO_REACT_BUNDLE").map(Into::into);
    let policy = settings.policy;
    let approvals = settings.approvals;
    let app = reverify_demo::build(config, settings).await?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    if approvals {
        tracing::info!("every transfer requires the user's approval of it");
    } else {
        tracing::info!(%policy, "approvals off: transfers require this policy");
    }
    announce(port);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

#[allow(clippy::print_stdout)]
fn announce(port: u16) {
    println!(
        "Reverify demo on http://localhost:{port}  (React version: http://localhost:{port}/react)\n\
         Sign up with any email: the code is in the dev outbox, http://localhost:{port}/auth/dev/outbox\n\
         Ctrl-C stops it."
    );
}

/// The failure and its causes on one line.
#[allow(clippy::print_stderr)]
fn report(e: &(dyn std::error::Error + 'static)) {
    eprintln!("error: {}", reverify_server::error::chain(e));
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REVERIFY_LOG")
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&*e);
            ExitCode::FAILURE
        }
    }
}
