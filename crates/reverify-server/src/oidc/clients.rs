//! Registered clients (relying parties): what a registration must say, from whichever
//! door it comes (`[[oidc.clients]]`, the admin API, the CLI), and the checks the
//! endpoints make against it.
//!
//! - **Confidential** clients have a secret: 256 random bits made by the server (shown
//!   once) or, from the configuration file, one of admin-key strength. Only its SHA-256 is
//!   stored (a random 256-bit secret needs no slow hash), and it is compared in constant
//!   time.
//! - **Public** clients (`token_endpoint_auth_method = "none"`) have none and must use PKCE.
//! - **Redirect URIs** are matched exactly, byte for byte, against the registered strings:
//!   no prefix, path, case, trailing-slash or query tolerance. A registered URI must be an
//!   absolute `https` URL, or `http` on a loopback host (native apps and development), with
//!   no fragment and no user information.

use serde_json::json;

use crate::config::OidcClientConfig;
use crate::secrets;
use crate::store::OidcClientRow;

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with the client id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// None: a public client (PKCE mandatory).
    None,
}

impl AuthMethod {
    /// Every method, as discovery lists them.
    pub const ALL: [AuthMethod; 3] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::None,
    ];

    /// The registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::None => "none",
        }
    }

    /// Parses a registered name.
    pub fn parse(s: &str) -> Option<AuthMethod> {
        AuthMethod::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// The ID token algorithms a client may register: those the key ring signs (one key of
/// each, see `crate::keys`). RS256 is the default.
pub const ID_TOKEN_ALGS: [&str; 3] = ["RS256", "EdDSA", "ES256"];

/// A registration, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    /// The client id.
    pub client_id: String,
    /// A name for people.
    pub name: String,
    /// How it authenticates (`None`: public).
    pub auth_method: AuthMethod,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// No consent screen.
    pub first_party: bool,
    /// The ID token algorithm.
    pub id_token_alg: String,
    /// The resource indicators (RFC 8707) it may ask access tokens for.
    pub resources: Vec<String>,
}

/// What a registration says, before validation (admin API body, CLI flags).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    /// Optional for the admin API and the CLI (one is generated).
    #[serde(default)]
    pub client_id: Option<String>,
    /// A name for people.
    #[serde(default)]
    pub name: Option<String>,
    /// `client_secret_basic` (default), `client_secret_post`, or `none` (public).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// Exact redirect URIs (at least one).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed scopes (default: all the provider knows).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// First-party: no consent screen.
    #[serde(default)]
    pub first_party: bool,
    /// `RS256` (default), `EdDSA` or `ES256`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    /// Resource indicators (RFC 8707): absolute URIs without fragment.
    #[serde(default)]
    pub resources: Vec<String>,
}

/// Why a registration is refused (the message says what to change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidClient(pub String);

fn invalid<T>(m: impl Into<String>) -> Result<T, InvalidClient> {
    Err(InvalidClient(m.into()))
}

/// A client id: 1 to 128 of `A-Z a-z 0-9 . _ -`.
pub fn valid_client_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Checks one redirect URI for registration (see the module documentation).
pub fn check_redirect_uri(uri: &str) -> Result<(), InvalidClient> {
    if uri.len() > 2000 || !uri.chars().all(|c| c.is_ascii_graphic()) {
        return invalid(format!(
            "redirect URI {uri:?} must be printable ASCII without spaces, at most 2000 bytes"
        ));
    }
    let Ok(url) = url::Url::parse(uri) else {
        return invalid(format!("redirect URI {uri:?} is not an absolute URL"));
    };
    if uri.contains('#') {
        return invalid(format!("redirect URI {uri:?} must not have a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return invalid(format!(
            "redirect URI {uri:?} must not carry user information"
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(h)) => h.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => invalid(format!(
            "redirect URI {uri:?} must be https, or http on a loopback host"
        )),
    }
}

/// Checks one resource indicator (RFC 8707 §2): an absolute URI, without fragment,
/// printable ASCII, at most 2000 bytes. Used for registration and for requests.
pub fn check_resource(uri: &str) -> Result<(), InvalidClient> {
    if uri.len() > 2000 || !uri.chars().all(|c| c.is_ascii_graphic()) {
        return invalid(format!(
            "resource {uri:?} must be printable ASCII without spaces, at most 2000 bytes"
        ));
    }
    if uri.contains('#') {
        return invalid(format!("resource {uri:?} must not have a fragment"));
    }
    match url::Url::parse(uri) {
        Ok(url) if !url.cannot_be_a_base() || url.scheme() == "urn" => Ok(()),
        _ => invalid(format!("resource {uri:?} is not an absolute URI")),
    }
}

fn check_list(uris: &[String], what: &str, at_least_one: bool) -> Result<(), InvalidClient> {
    if at_least_one && uris.is_empty() {
        return invalid(format!("at least one {what} is needed"));
    }
    if uris.len() > 20 {
        return invalid(format!("at most 20 {what}s"));
    }
    uris.iter().try_for_each(|u| check_redirect_uri(u))
}

impl ClientSpec {
    /// Validates a registration. `client_id` is used when the input names none.
    pub fn from_input(input: ClientInput, client_id: String) -> Result<ClientSpec, InvalidClient> {
        let client_id = input.client_id.unwrap_or(client_id);
        if !valid_client_id(&client_id) {
            return invalid(format!(
                "client_id {client_id:?} must be 1 to 128 letters, digits, '.', '_' or '-'"
            ));
        }
        let auth_method = match input.token_endpoint_auth_method.as_deref() {
            None | Some("") => AuthMethod::ClientSecretBasic,
            Some(m) => AuthMethod::parse(m).ok_or_else(|| {
                InvalidClient(format!(
                    "token_endpoint_auth_method must be client_secret_basic, \
                     client_secret_post or none, not {m:?}"
                ))
            })?,
        };
        check_list(&input.redirect_uris, "redirect URI", true)?;
        check_list(
            &input.post_logout_redirect_uris,
            "post-logout redirect URI",
            false,
        )?;
        let scopes = match input.scopes {
            None => super::SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            Some(list) if list.is_empty() => {
                super::SCOPES.iter().map(|s| (*s).to_owned()).collect()
            }
            Some(list) => list,
        };
        if let Some(s) = scopes.iter().find(|s| !super::SCOPES.contains(&s.as_str())) {
            return invalid(format!(
                "unknown scope {s:?} (known: {})",
                super::SCOPES.join(", ")
            ));
        }
        if !scopes.iter().any(|s| s == "openid") {
            return invalid("the scopes must include openid");
        }
        if input.resources.len() > 20 {
            return invalid("at most 20 resources");
        }
        input.resources.iter().try_for_each(|r| check_resource(r))?;
        let id_token_alg = match input.id_token_signed_response_alg.as_deref() {
            None | Some("") => "RS256".to_owned(),
            Some(a) if ID_TOKEN_ALGS.contains(&a) => a.to_owned(),
            Some(a) => {
                return invalid(format!(
                    "id_token_signed_response_alg {a:?} is not supported (supported: {})",
                    ID_TOKEN_ALGS.join(", ")
                ));
            }
        };
        let name = match input.name.as_deref().map(str::trim) {
            None | Some("") => client_id.clone(),
            Some(n) if n.chars().count() > 200 || n.chars().any(char::is_control) => {
                return invalid("name must be at most 200 characters, without control characters");
            }
            Some(n) => n.to_owned(),
        };
        Ok(ClientSpec {
            client_id,
            name,
            auth_method,
            redirect_uris: input.redirect_uris,
            post_logout_redirect_uris: input.post_logout_redirect_uris,
            scopes,
            first_party: input.first_party,
            id_token_alg,
            resources: input.resources,
        })
    }

    /// Validates a `[[oidc.clients]]` entry: the secret is given (or absent for a public
    /// client) and must be as strong as an admin key.
    pub fn from_config(c: &OidcClientConfig) -> Result<ClientSpec, InvalidClient> {
        let method = match (
            c.token_endpoint_auth_method.as_str(),
            c.client_secret.is_empty(),
        ) {
            ("", true) => "none",
            ("", false) => "client_secret_basic",
            (m, _) => m,
        };
        let spec = ClientSpec::from_input(
            ClientInput {
                client_id: Some(c.client_id.clone()),
                name: Some(c.name.clone()),
                token_endpoint_auth_method: Some(method.to_owned()),
                redirect_uris: c.redirect_uris.clone(),
                post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
                scopes: Some(c.scopes.clone()),
                first_party: c.first_party,
                id_token_signed_response_alg: Some(c.id_token_signed_response_alg.clone()),
                resources: c.resources.clone(),
            },
            String::new(),
        )?;
        match (spec.auth_method, c.client_secret.is_empty()) {
            (AuthMethod::None, false) => {
                return invalid(
                    "a public client (token_endpoint_auth_method = \"none\") has no client_secret",
                );
            }
            (AuthMethod::None, true) => {}
            (_, true) => return invalid("a confidential client needs a client_secret"),
            (_, false) => {
                if let Some(why) = crate::admin_key::weakness(&c.client_secret) {
                    return invalid(format!(
                        "client_secret is too weak: {why} (`reverify admin-key generate` makes a good one)"
                    ));
                }
            }
        }
        Ok(spec)
    }

    /// Whether the client is confidential (has a secret).
    pub fn is_confidential(&self) -> bool {
        self.auth_method != AuthMethod::None
    }

    /// The row to store, with the secret's hash (`None` for a public client).
    pub fn to_row(&self, secret: Option<&str>, source: &str, now: i64) -> OidcClientRow {
        let list = |v: &[String]| serde_json::Value::from(v.to_vec()).to_string();
        OidcClientRow {
            client_id: self.client_id.clone(),
            name: self.name.clone(),
            secret_hash: secret.map(hash_secret),
            token_endpoint_auth_method: self.auth_method.as_str().into(),
            redirect_uris: list(&self.redirect_uris),
            post_logout_redirect_uris: list(&self.post_logout_redirect_uris),
            allowed_scopes: list(&self.scopes),
            first_party: i64::from(self.first_party),
            id_token_signed_response_alg: self.id_token_alg.clone(),
            resources: list(&self.resources),
            source: source.into(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// Makes the database's `config` clients exactly `[[oidc.clients]]` (at start).
pub async fn sync_config(
    config: &crate::config::Config,
    store: &crate::store::Store,
    now: i64,
) -> Result<(), crate::store::StoreError> {
    let rows: Vec<OidcClientRow> = config
        .oidc
        .clients
        .iter()
        .filter_map(|c| {
            // Validated with the configuration; a failure here cannot happen.
            let spec = ClientSpec::from_config(c).ok()?;
            let secret = (!c.client_secret.is_empty()).then_some(c.client_secret.as_str());
            Some(spec.to_row(secret, "config", now))
        })
        .collect();
    store.sync_config_oidc_clients(&rows).await
}

/// Why a registration through the admin API or the CLI failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The registration is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidClient),
    /// The client id is taken.
    #[error("a client with this id exists")]
    Taken,
    /// The client comes from `[[oidc.clients]]`: change it there.
    #[error("this client is registered in the configuration file; change it there")]
    FromConfig,
    /// No such client.
    #[error("no such client")]
    NotFound,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Registers a client (admin API, CLI). Answers it and, for a confidential client, its
/// new secret: the only time the secret is shown.
pub async fn register(
    store: &crate::store::Store,
    input: ClientInput,
    now: i64,
) -> Result<(Client, Option<String>), RegisterError> {
    let spec = ClientSpec::from_input(input, new_client_id())?;
    let secret = spec.is_confidential().then(new_secret);
    let row = spec.to_row(secret.as_deref(), "admin", now);
    store.insert_oidc_client(&row).await.map_err(|e| match e {
        crate::store::StoreError::Conflict(_) => RegisterError::Taken,
        other => other.into(),
    })?;
    Ok((Client::from_row(row), secret))
}

/// A change to a registration (admin API): absent fields stay. Whether the client is
/// public or confidential cannot change; `rotate_secret` gives a confidential client a
/// new secret (the old one stops working at once).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    /// A name for people.
    #[serde(default)]
    pub name: Option<String>,
    /// `client_secret_basic` or `client_secret_post` (confidential clients only).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// Exact redirect URIs.
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    /// Exact post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Allowed scopes.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// First-party.
    #[serde(default)]
    pub first_party: Option<bool>,
    /// `RS256`, `EdDSA` or `ES256`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    /// Resource indicators (replaces the list).
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    /// Make a new secret (answered once).
    #[serde(default)]
    pub rotate_secret: bool,
}

/// Applies `patch` to an `admin` client; answers it and its new secret if rotated.
pub async fn update(
    store: &crate::store::Store,
    client_id: &str,
    patch: ClientPatch,
    now: i64,
) -> Result<(Client, Option<String>), RegisterError> {
    let current = store
        .oidc_client(client_id)
        .await?
        .map(Client::from_row)
        .ok_or(RegisterError::NotFound)?;
    if current.row.source != "admin" {
        return Err(RegisterError::FromConfig);
    }
    let method = patch
        .token_endpoint_auth_method
        .unwrap_or_else(|| current.row.token_endpoint_auth_method.clone());
    if (method == "none") != current.is_public() {
        return Err(InvalidClient(
            "a client cannot change between public and confidential: register a new one".into(),
        )
        .into());
    }
    if patch.rotate_secret && current.is_public() {
        return Err(InvalidClient("a public client has no secret".into()).into());
    }
    let spec = ClientSpec::from_input(
        ClientInput {
            client_id: Some(current.row.client_id.clone()),
            name: Some(patch.name.unwrap_or_else(|| current.row.name.clone())),
            token_endpoint_auth_method: Some(method),
            redirect_uris: patch
                .redirect_uris
                .unwrap_or_else(|| current.redirect_uris.clone()),
            post_logout_redirect_uris: patch
                .post_logout_redirect_uris
                .unwrap_or_else(|| current.post_logout_redirect_uris.clone()),
            scopes: Some(patch.scopes.unwrap_or_else(|| current.scopes.clone())),
            first_party: patch.first_party.unwrap_or(current.row.first_party != 0),
            id_token_signed_response_alg: Some(
                patch
                    .id_token_signed_response_alg
                    .unwrap_or_else(|| current.row.id_token_signed_response_alg.clone()),
            ),
            resources: patch.resources.unwrap_or_else(|| current.resources.clone()),
        },
        String::new(),
    )?;
    let secret = patch.rotate_secret.then(new_secret);
    let mut row = spec.to_row(None, "admin", now);
    row.created_at = current.row.created_at;
    let new_hash = secret.as_deref().map(hash_secret);
    if !store.update_oidc_client(&row, new_hash.as_deref()).await? {
        return Err(RegisterError::NotFound);
    }
    let row = store
        .oidc_client(client_id)
        .await?
        .ok_or(RegisterError::NotFound)?;
    Ok((Client::from_row(row), secret))
}

/// Removes an `admin` client.
pub async fn remove(store: &crate::store::Store, client_id: &str) -> Result<(), RegisterError> {
    let row = store
        .oidc_client(client_id)
        .await?
        .ok_or(RegisterError::NotFound)?;
    if row.source != "admin" {
        return Err(RegisterError::FromConfig);
    }
    if store.delete_oidc_client(client_id, "admin").await? {
        // A client registered later under the same id must ask again.
        store.delete_oidc_consents_of_client(client_id).await?;
        Ok(())
    } else {
        Err(RegisterError::NotFound)
    }
}

/// How a client secret is stored.
pub fn hash_secret(secret: &str) -> String {
    secrets::sha256_hex(&["oidc_client_secret", secret])
}

/// A new client secret (256 random bits) and a new client id.
pub fn new_secret() -> String {
    secrets::new_secret()
}

/// A new client id.
pub fn new_client_id() -> String {
    secrets::new_id("oidc")
}

/// A registered client, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The row.
    pub row: OidcClientRow,
    /// Its redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Its post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Its allowed scopes.
    pub scopes: Vec<String>,
    /// Its resource indicators (RFC 8707).
    pub resources: Vec<String>,
}

impl Client {
    /// Parses the stored lists.
    pub fn from_row(row: OidcClientRow) -> Client {
        let list = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
        Client {
            redirect_uris: list(&row.redirect_uris),
            post_logout_redirect_uris: list(&row.post_logout_redirect_uris),
            scopes: list(&row.allowed_scopes),
            resources: list(&row.resources),
            row,
        }
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.row.client_id
    }

    /// How it authenticates.
    pub fn auth_method(&self) -> AuthMethod {
        AuthMethod::parse(&self.row.token_endpoint_auth_method).unwrap_or(AuthMethod::None)
    }

    /// A public client (no secret; PKCE mandatory).
    pub fn is_public(&self) -> bool {
        self.row.secret_hash.is_none()
    }

    /// Whether `uri` is one of its redirect URIs, exactly.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether `uri` is one of its post-logout redirect URIs, exactly.
    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether `resource` is one of its resource indicators, exactly.
    pub fn has_resource(&self, resource: &str) -> bool {
        self.resources.iter().any(|r| r == resource)
    }

    /// Whether `secret` is its secret (constant time over the hashes).
    pub fn secret_matches(&self, secret: &str) -> bool {
        self.row
            .secret_hash
            .as_deref()
            .is_some_and(|h| secrets::ct_eq(h, &hash_secret(secret)))
    }

    /// The admin API's view (never the secret or its hash).
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "client_id": self.row.client_id,
            "name": self.row.name,
            "client_type": if self.is_public() { "public" } else { "confidential" },
            "token_endpoint_auth_method": self.row.token_endpoint_auth_method,
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uris": self.post_logout_redirect_uris,
            "scopes": self.scopes,
            "first_party": self.row.first_party != 0,
            "id_token_signed_response_alg": self.row.id_token_signed_response_alg,
            "resources": self.resources,
            "source": self.row.source,
            "created_at": self.row.created_at,
            "updated_at": self.row.updated_at,
        })
    }
}
