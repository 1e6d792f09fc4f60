//! # Reverify auth server
//!
//! WIP
#![allow(missing_docs)]

pub mod config;
pub mod store;
