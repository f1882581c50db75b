//! The checks of the first message each side receives (pure: config and message in, verdict
//! out). See [`crate::wire`] for the exchange.

use crate::wire::{Hello, Welcome, PROTOCOL_VERSION};
use crate::Config;

/// What the acceptor does with a good `Hello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// The dialer has the higher id: keep this connection.
    Link,
    /// The dialer has the lower id: answer "dial back", end the stream, dial it.
    DialBack,
}

/// Both sides speak our version and belong to our ensemble.
fn same_protocol_and_ensemble(cfg: &Config, version: u32, ensemble: u64) -> Result<(), String> {
    if version != PROTOCOL_VERSION {
        return Err(format!(
            "protocol version {version}, ours is {PROTOCOL_VERSION}"
        ));
    }
    if ensemble != cfg.ensemble {
        return Err(format!(
            "ensemble fingerprint {ensemble:016x}, ours is {:016x} (another server list)",
            cfg.ensemble
        ));
    }
    Ok(())
}

/// Checks a dialer's `Hello`; the error says why it is refused.
pub(crate) fn check_hello(cfg: &Config, h: &Hello) -> Result<Accept, String> {
    same_protocol_and_ensemble(cfg, h.version, h.ensemble)?;
    if h.server_id == cfg.my_id {
        return Err(format!("claims our own id {}", h.server_id));
    }
    if !cfg.servers.contains_key(&h.server_id) {
        return Err(format!("id {} is not in our server list", h.server_id));
    }
    if h.target_id != cfg.my_id {
        return Err(format!(
            "dialed server {} but reached server {}",
            h.target_id, cfg.my_id
        ));
    }
    if h.link == 0 {
        return Err("link id 0".into());
    }
    Ok(if h.server_id > cfg.my_id {
        Accept::Link
    } else {
        Accept::DialBack
    })
}

/// Checks an acceptor's `Welcome` (we dialed `expected`); `Ok(dial_back)`.
pub(crate) fn check_welcome(cfg: &Config, expected: u64, w: &Welcome) -> Result<bool, String> {
    same_protocol_and_ensemble(cfg, w.version, w.ensemble)?;
    if w.server_id != expected {
        return Err(format!(
            "answered as server {}, expected server {expected}",
            w.server_id
        ));
    }
    let should_dial_back = expected > cfg.my_id;
    if w.dial_back != should_dial_back {
        return Err(format!(
            "dial_back={} breaks the tie-break (ids {} and {expected})",
            w.dial_back, cfg.my_id
        ));
    }
    Ok(w.dial_back)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cfg(my_id: u64) -> Config {
        let servers: BTreeMap<_, _> = (1..=3)
            .map(|i| (i, format!("127.0.0.1:{}", 2000 + i).parse().unwrap()))
            .collect();
        Config::new(my_id, servers)
    }

    fn hello(from: u64, to: u64, c: &Config) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            server_id: from,
            target_id: to,
            ensemble: c.ensemble,
            link: 7,
            last_link: 0,
        }
    }

    #[test]
    fn higher_dialer_is_kept_lower_is_dialed_back() {
        let c = cfg(2);
        assert_eq!(check_hello(&c, &hello(3, 2, &c)), Ok(Accept::Link));
        assert_eq!(check_hello(&c, &hello(1, 2, &c)), Ok(Accept::DialBack));
    }

    #[test]
    fn every_bad_hello_is_refused_with_its_reason() {
        let c = cfg(2);
        let cases: Vec<(Hello, &str)> = vec![
            (
                Hello {
                    version: 9,
                    ..hello(3, 2, &c)
                },
                "protocol version 9",
            ),
            (
                Hello {
                    ensemble: 1,
                    ..hello(3, 2, &c)
                },
                "ensemble fingerprint",
            ),
            (hello(2, 2, &c), "our own id"),
            (hello(9, 2, &c), "id 9 is not in our server list"),
            (hello(3, 1, &c), "dialed server 1 but reached server 2"),
            (
                Hello {
                    link: 0,
                    ..hello(3, 2, &c)
                },
                "link id 0",
            ),
        ];
        for (h, why) in cases {
            let got = check_hello(&c, &h).unwrap_err();
            assert!(got.contains(why), "{got:?} should say {why:?}");
        }
    }

    #[test]
    fn welcome_must_name_the_expected_server_and_follow_the_tie_break() {
        let c = cfg(2);
        let w = |server_id, dial_back| Welcome {
            version: PROTOCOL_VERSION,
            server_id,
            ensemble: c.ensemble,
            dial_back,
        };
        assert_eq!(check_welcome(&c, 1, &w(1, false)), Ok(false));
        assert_eq!(check_welcome(&c, 3, &w(3, true)), Ok(true));
        assert!(check_welcome(&c, 1, &w(3, false))
            .unwrap_err()
            .contains("expected server 1"));
        assert!(check_welcome(&c, 1, &w(1, true))
            .unwrap_err()
            .contains("tie-break"));
        assert!(check_welcome(&c, 3, &w(3, false))
            .unwrap_err()
            .contains("tie-break"));
        let other = Welcome {
            ensemble: 5,
            ..w(1, false)
        };
        assert!(check_welcome(&c, 1, &other)
            .unwrap_err()
            .contains("fingerprint"));
    }
}
