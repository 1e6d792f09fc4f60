//! The `reverify` binary: a thin CLI over the `reverify_server` library.
//!
//! ```text
//! reverify serve                    # run the server (config: --config FILE, REVERIFY_* env)
//! reverify migrate                  # apply database migrations and exit
//! reverify users list|create|delete # manage users
//! reverify keys rotate              # publish a new signing key
//! reverify admin-key generate       # print a new admin.secret_key
//! reverify keys revoke KID          # emergency: withdraw a (leaked) signing key now
//! reverify keys pem [KID]           # PEM public key of an RS256 key (the reference's SDKs)
//! reverify keys rotate --oidc       # rotate the OpenID provider's keys (RS256, EdDSA, ES256)
//! reverify oidc clients add|list|remove  # the OpenID provider's clients
//! ```
//!
//! A failure prints `error: <what failed>: <cause>` on stderr and exits with status 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use reverify::Clock as _;
use reverify_server::StartError;
use reverify_server::config::Config;
use reverify_server::store::{Store, User};

#[derive(Parser)]
#[command(name = "reverify", version, about = "The Reverify auth server")]
struct Cli {
    /// TOML configuration file (also REVERIFY_CONFIG).
    #[arg(long, global = true, env = "REVERIFY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Manage users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The OpenID Connect provider.
    Oidc {
        #[command(subcommand)]
        command: OidcCommand,
    },
    /// Make a strong key for `admin.secret_key`.
    AdminKey {
        #[command(subcommand)]
        command: AdminKeyCommand,
    },
    /// Show audit events, newest first, one JSON object per line.
    Audit {
        /// Only this user's events.
        #[arg(long)]
        user: Option<String>,
        /// Only this session's events.
        #[arg(long)]
        session: Option<String>,
        /// Only this kind (`verification.failed`), or a prefix ending in `.` (`verification.`).
        #[arg(long)]
        kind: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// List users.
    List {
        /// How many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Create a user with a password (read from REVERIFY_NEW_PASSWORD or stdin).
    Create {
        /// Email address.
        #[arg(long)]
        email: String,
    },
    /// Delete a user and their sessions.
    Delete {
        /// User id.
        id: String,
    },
}

#[derive(Subcommand)]
enum OidcCommand {
    /// Registered clients (relying parties).
    Clients {
        #[command(subcommand)]
        command: OidcClientsCommand,
    },
}

#[derive(Subcommand)]
enum OidcClientsCommand {
    /// Register a client. Prints its id, then (confidential clients) its secret: shown
    /// this once, stored hashed.
    Add {
        /// A name for people (consent screen).
        #[arg(long)]
        name: Option<String>,
        /// The client id (default: generated).
        #[arg(long)]
        client_id: Option<String>,
        /// An exact redirect URI (repeat for several).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// An exact post-logout redirect URI (repeat for several).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE mandatory): a single-page or native app.
        #[arg(long)]
        public: bool,
        /// Send the secret in the form body (client_secret_post) instead of HTTP Basic.
        #[arg(long, conflicts_with = "public")]
        secret_post: bool,
        /// An allowed scope (repeat; default: every scope the provider knows).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// First-party: no consent screen.
        #[arg(long)]
        first_party: bool,
        /// The ID token's signature algorithm: RS256 (default), EdDSA or ES256.
        #[arg(long = "id-token-alg")]
        id_token_alg: Option<String>,
        /// A resource indicator (RFC 8707) the client may ask access tokens for: an
        /// absolute URI without fragment (repeat for several).
        #[arg(long = "resource")]
        resources: Vec<String>,
    },
    /// List clients: id, type, source, name, redirect URIs.
    List,
    /// Remove a client registered by the admin API or the CLI.
    Remove {
        /// The client id.
        client_id: String,
    },
}

#[derive(Subcommand)]
enum AdminKeyCommand {
    /// Print a new random key (256 bits) for `admin.secret_key` / REVERIFY_ADMIN_SECRET_KEY.
    Generate,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Publish a new signing key; it signs after `keys.publish_ahead_secs`.
    Rotate {
        /// Rotate the OpenID provider's keys (RS256, EdDSA, ES256; one kid printed per
        /// line) instead of the session key.
        #[arg(long)]
        oidc: bool,
    },
    /// Emergency: the key stops signing and leaves the JWKS now (running instances follow
    /// within 30 s); if it was signing, a new key signs at once. Prints the new key's id.
    Revoke {
        /// The key id (`kid`), as in the JWKS and token headers.
        kid: String,
    },
    /// Print the PEM public key of an RS256 key (default: the newest published key), the
    /// networkless key of the reference's backend SDKs (`jwtKey`).
    Pem {
        /// The key id (`kid`); default: the newest published key.
        kid: Option<String>,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("REVERIFY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("REVERIFY_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&*e);
            ExitCode::FAILURE
        }
    }
}

/// The failure and its causes on one line, on stderr whatever the log settings.
#[allow(clippy::print_stderr)]
fn report(e: &(dyn std::error::Error + 'static)) {
    eprintln!("error: {}", reverify_server::error::chain(e));
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run(cli: Cli) -> Result<(), BoxError> {
    // Needs no configuration: it makes the key a configuration lacks.
    if let Command::AdminKey {
        command: AdminKeyCommand::Generate,
    } = cli.command
    {
        write_line(&reverify_server::admin_key::generate());
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref(), std::env::vars())?;
    let now = reverify::SystemClock.now();
    match cli.command {
        Command::Serve => Ok(reverify_server::run(config).await?),
        Command::AdminKey { .. } => Ok(()),
        Command::Migrate => {
            let url = &config.database.url;
            let open_failed = |e| StartError::database(url, e);
            let store = Store::connect(url, 2).await.map_err(open_failed)?;
            let applied = store.migrate().await.map_err(open_failed)?;
            tracing::info!(applied, "migrations done");
            Ok(())
        }
        Command::Users { command } => {
            let state = reverify_server::AppState::new(config).await?;
            match command {
                UsersCommand::List { limit } => {
                    for u in state.store.list_users(limit, 0).await? {
                        write_line(&format!("{}\t{}\t{}", u.id, u.email, u.created_at));
                    }
                }
                UsersCommand::Create { email } => {
                    let email = reverify_server::validate::email(&email)?;
                    let password = match std::env::var("REVERIFY_NEW_PASSWORD") {
                        Ok(p) => p,
                        Err(_) => {
                            let mut line = String::new();
                            std::io::stdin().read_line(&mut line)?;
                            line.trim_end_matches(['\r', '\n']).to_owned()
                        }
                    };
                    reverify_server::validate::new_password(&password, &state.config.passwords)?;
                    let hash = state.passwords.hash(&password).await?;
                    let user = User::new(email, Some(hash), now);
                    state.store.create_user(&user).await?;
                    write_line(&user.id);
                }
                UsersCommand::Delete { id } => {
                    if !state.store.delete_user(&id).await? {
                        return Err(format!("no user {id}").into());
                    }
                }
            }
            Ok(())
        }
        Command::Audit {
            user,
            session,
            kind,
            limit,
        } => {
            let url = &config.database.url;
            let store = Store::open(url, 2)
                .await
                .map_err(|e| StartError::database(url, e))?;
            let filter = reverify_server::store::AuditFilter {
                user_id: user,
                session_id: session,
                kind,
                before: None,
                limit,
            };
            for e in store.audit_events(&filter).await? {
                write_line(&reverify_server::audit::event_json(&e).to_string());
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Revoke { kid },
        } => {
            let state = reverify_server::AppState::new(config).await?;
            let revoked = state.revoke_signing_key(&kid, "cli").await?;
            if let Some(new_kid) = &revoked.replaced_by {
                write_line(new_kid);
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Pem { kid },
        } => {
            let state = reverify_server::AppState::new(config).await?;
            let published = state.keys.published(now).await?;
            // Default: the newest key (after a switch to RS256, the one published ahead).
            let key = match kid {
                Some(kid) => published.into_iter().find(|k| k.kid == kid),
                None => published.into_iter().max_by_key(|k| k.signs_from),
            }
            .ok_or("no such published key")?;
            let pem = reverify_server::keys::public_pem(&key).ok_or_else(|| {
                format!(
                    "key {} is {}, not RS256: the reference's SDKs need RS256 keys \
                     (sessions.token_format = \"clerk_v2\" or keys.algorithm = \"RS256\")",
                    key.kid, key.alg
                )
            })?;
            write_line(pem.trim_end());
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate { oidc },
        } => {
            let state = reverify_server::AppState::new(config).await?;
            use reverify_server::keys::KeyPurpose;
            // The provider's keys (one per ID token algorithm) rotate together.
            let (purposes, lifetime) = if oidc {
                if !state.keys.has_oidc() {
                    return Err("the OpenID provider is off (oidc.enabled = false)".into());
                }
                (
                    KeyPurpose::OIDC.to_vec(),
                    state.config.oidc.longest_token_lifetime(),
                )
            } else {
                (
                    vec![KeyPurpose::Session],
                    state.config.sessions.token_lifetime_secs,
                )
            };
            for purpose in purposes {
                let kid = state
                    .keys
                    .rotate_purpose(purpose, now, state.config.keys.publish_ahead_secs, lifetime)
                    .await?;
                write_line(&kid);
            }
            Ok(())
        }
        Command::Oidc {
            command: OidcCommand::Clients { command },
        } => {
            use reverify_server::oidc::clients;
            let state = reverify_server::AppState::new(config).await?;
            match command {
                OidcClientsCommand::Add {
                    name,
                    client_id,
                    redirect_uris,
                    post_logout_redirect_uris,
                    public,
                    secret_post,
                    scopes,
                    first_party,
                    id_token_alg,
                    resources,
                } => {
                    let method = match (public, secret_post) {
                        (true, _) => "none",
                        (false, true) => "client_secret_post",
                        (false, false) => "client_secret_basic",
                    };
                    let input = clients::ClientInput {
                        client_id,
                        name,
                        token_endpoint_auth_method: Some(method.into()),
                        redirect_uris,
                        post_logout_redirect_uris,
                        scopes: (!scopes.is_empty()).then_some(scopes),
                        first_party,
                        id_token_signed_response_alg: id_token_alg,
                        resources,
                    };
                    let (client, secret) = clients::register(&state.store, input, now).await?;
                    write_line(client.id());
                    if let Some(secret) = secret {
                        write_line(&secret);
                    }
                }
                OidcClientsCommand::List => {
                    for row in state.store.oidc_clients().await? {
                        let c = clients::Client::from_row(row);
                        write_line(&format!(
                            "{}\t{}\t{}\t{}\t{}",
                            c.id(),
                            if c.is_public() {
                                "public"
                            } else {
                                "confidential"
                            },
                            c.row.source,
                            c.row.name,
                            c.redirect_uris.join(" ")
                        ));
                    }
                }
                OidcClientsCommand::Remove { client_id } => {
                    clients::remove(&state.store, &client_id).await?;
                }
            }
            Ok(())
        }
    }
}

#[allow(clippy::print_stdout)]
fn write_line(s: &str) {
    println!("{s}");
}
