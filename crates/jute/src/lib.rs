//! placeholder, being written
#![forbid(unsafe_code)]
pub mod codes;
mod error;
pub use error::JuteError;
