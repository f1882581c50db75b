//! A JKS key or trust store file, without a password (integrity check skipped, so every
//! byte reaches the entry parser) and with one.
#![no_main]

use corral_tls::keystore::read_jks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_jks(data, None);
    let _ = read_jks(data, Some("apassword"));
});
