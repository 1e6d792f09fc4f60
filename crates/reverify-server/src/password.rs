//! Password hashing with Argon2id, off the async executor and bounded in concurrency.
//!
//! Parameters (defaults, configurable under `[passwords]`): memory 19 MiB, 2 iterations,
//! 1 lane — the OWASP baseline; about 21 ms of CPU per hash on the project's machines.
//! Hashes run on tokio's blocking pool behind a semaphore of one permit per core, so a
//! burst of sign-ins queues instead of starving every other request.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};
use tokio::sync::Semaphore;

use crate::config::PasswordConfig;
use crate::error::ApiError;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when the account does not exist,
    /// so that "no such user" costs as much time as "wrong password".
    dummy: Arc<String>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").finish_non_exhaustive()
    }
}

impl Passwords {
    /// Builds the hasher (computes the dummy hash once).
    pub fn new(config: &PasswordConfig) -> Result<Passwords, ApiError> {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .map_err(|e| ApiError::internal(format!("argon2 parameters: {e}")))?;
        let permits = match config.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let dummy = hash_blocking(&params, &crate::secrets::new_secret())?;
        Ok(Passwords {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            dummy: Arc::new(dummy),
        })
    }

    /// Hashes a password (PHC string).
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let (params, password) = (self.params.clone(), password.to_owned());
        tokio::task::spawn_blocking(move || hash_blocking(&params, &password))
            .await
            .map_err(ApiError::internal)?
    }

    /// Verifies a password against a stored hash; with `None` (no such account, or no
    /// password set) it verifies against a dummy hash and returns false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let known = stored.is_some();
        let phc = stored.map_or_else(|| self.dummy.as_str().to_owned(), str::to_owned);
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&phc)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(ApiError::internal)?;
        Ok(known && ok)
    }
}

fn hash_blocking(params: &Params, password: &str) -> Result<String, ApiError> {
    let salt = crate::secrets::random_bytes::<16>();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(format!("argon2: {e}")))
}
