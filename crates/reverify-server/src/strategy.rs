//! The one vocabulary of factors: how a user proves who they are ([`Strategy`]), and the
//! RFC 8176 authentication method references sessions and tokens record ([`Amr`]).

use serde::Deserialize;

/// A way to prove who you are, as named in requests and answers (`"strategy": "totp"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The account's password.
    Password,
    /// A six-digit code sent by email.
    EmailCode,
    /// A WebAuthn assertion (with user verification it counts as both factors).
    Passkey,
    /// A code from an authenticator app (RFC 6238).
    Totp,
    /// One of the account's single-use backup codes.
    BackupCode,
}

impl Strategy {
    /// The name in requests, answers, audit events and lockout keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Password => "password",
            Strategy::EmailCode => "email_code",
            Strategy::Passkey => "passkey",
            Strategy::Totp => "totp",
            Strategy::BackupCode => "backup_code",
        }
    }

    /// A first factor (a passkey is one too; with user verification also a second).
    pub fn is_first_factor(self) -> bool {
        matches!(
            self,
            Strategy::Password | Strategy::EmailCode | Strategy::Passkey
        )
    }

    /// A second factor (an authenticator app and its backup codes).
    pub fn is_second_factor(self) -> bool {
        matches!(self, Strategy::Totp | Strategy::BackupCode)
    }

    /// Whether its secret can be guessed (then attempts are limited and locked out); a
    /// passkey assertion is a signature, not a guess.
    pub fn is_guessable(self) -> bool {
        self != Strategy::Passkey
    }

    /// The method it records (a passkey adds [`Amr::User`] when it verified its user).
    pub fn amr(self) -> Amr {
        match self {
            Strategy::Password => Amr::Pwd,
            Strategy::EmailCode => Amr::Email,
            Strategy::Passkey => Amr::Hwk,
            Strategy::Totp | Strategy::BackupCode => Amr::Otp,
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RFC 8176 authentication method reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Amr {
    /// A password.
    Pwd,
    /// A code sent by email (RFC 8176 has no value for it; named by analogy with `sms`).
    Email,
    /// A one-time password: TOTP or a backup code.
    Otp,
    /// A hardware-bound key: a passkey.
    Hwk,
    /// The user was verified by the authenticator (PIN or biometrics).
    User,
    /// More than one factor.
    Mfa,
}

impl Amr {
    /// The RFC 8176 value.
    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Pwd => "pwd",
            Amr::Email => "email",
            Amr::Otp => "otp",
            Amr::Hwk => "hwk",
            Amr::User => "user",
            Amr::Mfa => "mfa",
        }
    }

    /// The method named `s`, if it is one of ours.
    pub fn parse(s: &str) -> Option<Amr> {
        Some(match s {
            "pwd" => Amr::Pwd,
            "email" => Amr::Email,
            "otp" => Amr::Otp,
            "hwk" => Amr::Hwk,
            "user" => Amr::User,
            "mfa" => Amr::Mfa,
            _ => return None,
        })
    }

    /// The methods of a stored, space-separated list (unknown names are dropped).
    pub fn parse_list(s: &str) -> Vec<Amr> {
        s.split_whitespace().filter_map(Amr::parse).collect()
    }

    /// `a` then the new methods of `b`, and [`Amr::Mfa`] when `multi_factor`, as the
    /// stored space-separated list.
    pub fn merge(a: &[Amr], b: &[Amr], multi_factor: bool) -> String {
        let mut out: Vec<Amr> = Vec::with_capacity(a.len() + b.len() + 1);
        for m in a.iter().chain(b) {
            if !out.contains(m) {
                out.push(*m);
            }
        }
        if multi_factor && !out.contains(&Amr::Mfa) {
            out.push(Amr::Mfa);
        }
        Amr::join(&out)
    }

    /// The stored form: space-separated values.
    pub fn join(list: &[Amr]) -> String {
        list.iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl serde::Serialize for Amr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
