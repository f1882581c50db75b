//! ZooKeeper keeps a connection's authenticated ids in a set backed by a Java
//! `ConcurrentHashMap`, and whoami lists them in that set's iteration order. Clients print
//! that order (zkCli's `whoami`), so Corral reproduces it: bucket index from the jute `Id`
//! record's `hashCode`, spread as ConcurrentHashMap spreads it, buckets in ascending order,
//! insertion order within a bucket.

use corral_jute::records::Id;

/// Java's `String.hashCode` over UTF-16 code units.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The `hashCode` of jute's generated `Id` record: 17, then 37 * result + each field's hash.
fn java_id_hash(id: &Id) -> i32 {
    let mut result = 17i32;
    result = result
        .wrapping_mul(37)
        .wrapping_add(java_string_hash(&id.scheme));
    result
        .wrapping_mul(37)
        .wrapping_add(java_string_hash(&id.id))
}

/// `ids` (in insertion order, no duplicates) in the order ZooKeeper's auth-info set yields them.
pub fn zookeeper_order(ids: &[Id]) -> Vec<&Id> {
    // The table starts at 16 buckets and doubles whenever the count passes 3/4 of it.
    let mut buckets = 16usize;
    while ids.len() > buckets * 3 / 4 {
        buckets *= 2;
    }
    let mut keyed: Vec<(usize, usize, &Id)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let h = java_id_hash(id) as u32;
            let spread = (h ^ (h >> 16)) & 0x7fff_ffff;
            (spread as usize & (buckets - 1), i, id)
        })
        .collect();
    keyed.sort_by_key(|(bucket, index, _)| (*bucket, *index));
    keyed.into_iter().map(|(_, _, id)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    #[test]
    fn java_string_hash_matches_java() {
        // Values of "abc".hashCode() and "".hashCode() in Java.
        assert_eq!(java_string_hash("abc"), 96354);
        assert_eq!(java_string_hash(""), 0);
    }

    /// The order Apache ZooKeeper 3.8's `whoami` printed for a connection from 127.0.0.1 that
    /// authenticated as digest bob:x and then super:test (with that super digest configured).
    #[test]
    fn matches_the_order_zookeeper_printed() {
        let ids = [
            id("ip", "127.0.0.1"),
            id("digest", &corral_acl::digest_id("bob:x")),
            id("super", ""),
            id("digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU="),
        ];
        let order: Vec<&str> = zookeeper_order(&ids)
            .into_iter()
            .map(|i| i.id.as_str())
            .collect();
        let bob = corral_acl::digest_id("bob:x");
        assert_eq!(
            order,
            vec![
                "",
                bob.as_str(),
                "127.0.0.1",
                "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
            ]
        );
    }
}
