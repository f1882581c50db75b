//! The `ip` scheme: addresses with an optional prefix length (`10.0.0.0/8`, `fe80::/10`).
//!
//! Parsing follows the facts of ZooKeeper's `IPAuthenticationProvider`: a string containing a
//! `:` is read as IPv6 (eight 16-bit hex groups, or fewer with one `::`), else one containing a
//! `.` as IPv4 (exactly four decimal parts in 0..=255); anything else is not an address. An
//! IPv4 ACL never matches an IPv6 client and the other way round.

/// An address as its bytes: 4 for IPv4, 16 for IPv6.
type Addr = Vec<u8>;

/// Parses a decimal or hex integer the way `Integer.parseInt` does: an optional sign, then at
/// least one digit, the value fitting in an `i32`.
fn parse_int(s: &str, radix: u32) -> Option<i32> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for c in digits.chars() {
        value = value * i64::from(radix) + i64::from(c.to_digit(radix)?);
        if value > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    let value = if negative { -value } else { value };
    i32::try_from(value).ok()
}

fn parse_v4(addr: &str) -> Option<Addr> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    parts
        .iter()
        .map(|p| parse_int(p, 10).and_then(|v| u8::try_from(v).ok()))
        .collect()
}

fn push_groups(out: &mut Addr, groups: &[&str]) -> Option<()> {
    for g in groups {
        if g.is_empty() || g.len() > 4 {
            return None;
        }
        // A sign is accepted as Integer.parseInt(_, 16) accepts it; the low 16 bits count.
        let v = parse_int(g, 16)?;
        out.push(((v >> 8) & 0xff) as u8);
        out.push((v & 0xff) as u8);
    }
    Some(())
}

fn split_groups(s: &str) -> Vec<&str> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(':').collect()
    }
}

fn parse_v6(addr: &str) -> Option<Addr> {
    let halves: Vec<&str> = addr.split("::").collect();
    match halves.as_slice() {
        [full] => {
            let groups: Vec<&str> = full.split(':').collect();
            if groups.len() != 8 {
                return None;
            }
            let mut out = Vec::with_capacity(16);
            push_groups(&mut out, &groups)?;
            Some(out)
        }
        [head, tail] => {
            let head = split_groups(head);
            let tail = split_groups(tail);
            if head.len() + tail.len() >= 8 {
                return None;
            }
            let mut out = Vec::with_capacity(16);
            push_groups(&mut out, &head)?;
            out.resize(16 - tail.len() * 2, 0);
            push_groups(&mut out, &tail)?;
            Some(out)
        }
        _ => None,
    }
}

fn parse_addr(addr: &str) -> Option<Addr> {
    if addr.contains(':') {
        parse_v6(addr)
    } else if addr.contains('.') {
        parse_v4(addr)
    } else {
        None
    }
}

/// Splits `addr[/bits]` into the address bytes and the prefix length (the full length when
/// absent); `None` when either part is malformed or the length is out of range.
fn parse_expr(expr: &str) -> Option<(Addr, usize)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (expr, None),
    };
    let addr = parse_addr(addr)?;
    let max = addr.len() * 8;
    let bits = match bits {
        None => max,
        Some(b) => usize::try_from(parse_int(b, 10)?)
            .ok()
            .filter(|b| *b <= max)?,
    };
    Some((addr, bits))
}

fn mask(addr: &mut Addr, bits: usize) {
    for (i, byte) in addr.iter_mut().enumerate() {
        let keep = bits.saturating_sub(i * 8).min(8);
        // keep = number of leading bits of this byte that survive.
        let m: u8 = if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
        *byte &= m;
    }
}

/// Whether `id` is a well-formed `ip` ACL id: an address with an optional `/bits`.
pub(crate) fn is_valid(id: &str) -> bool {
    parse_expr(id).is_some()
}

/// Whether the client address `client` falls within the ACL expression `expr`.
pub(crate) fn matches(client: &str, expr: &str) -> bool {
    let Some((mut acl_addr, bits)) = parse_expr(expr) else {
        return false;
    };
    let Some(mut client_addr) = parse_addr(client) else {
        return false;
    };
    if client_addr.len() != acl_addr.len() {
        return false;
    }
    mask(&mut acl_addr, bits);
    mask(&mut client_addr, bits);
    acl_addr == client_addr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_validity() {
        assert!(is_valid("10.0.0.1"));
        assert!(is_valid("10.0.0.0/8"));
        assert!(is_valid("0.0.0.0/0"));
        assert!(!is_valid("10.0.0.0/33"));
        assert!(!is_valid("10.0.0.0/-1"));
        assert!(!is_valid("10.0.0.0/x"));
        assert!(!is_valid("10.0.0"));
        assert!(!is_valid("10.0.0.256"));
        assert!(!is_valid("10.0.0."));
        assert!(!is_valid("localhost"));
        assert!(!is_valid(""));
    }

    #[test]
    fn ipv6_validity() {
        assert!(is_valid("::1"));
        assert!(is_valid("fe80::/10"));
        assert!(is_valid("1:2:3:4:5:6:7:8"));
        assert!(is_valid("1::"));
        assert!(!is_valid("1:2:3:4:5:6:7"));
        assert!(!is_valid("1:2:3:4::5:6:7:8"));
        assert!(!is_valid("1::2::3"));
        assert!(!is_valid("12345::"));
        assert!(!is_valid("g::"));
        assert!(!is_valid("::1/129"));
    }

    #[test]
    fn cidr_matching() {
        assert!(matches("10.1.2.3", "10.0.0.0/8"));
        assert!(!matches("11.1.2.3", "10.0.0.0/8"));
        assert!(matches("10.1.2.3", "10.1.2.3"));
        assert!(!matches("10.1.2.4", "10.1.2.3"));
        assert!(matches("192.168.1.77", "192.168.1.64/26"));
        assert!(!matches("192.168.1.128", "192.168.1.64/26"));
        assert!(matches("1.2.3.4", "0.0.0.0/0"));
        assert!(matches("::1", "::1"));
        assert!(matches("fe80::1234", "fe80::/10"));
        assert!(!matches("fe80::1", "10.0.0.0/8"));
        assert!(!matches("10.0.0.1", "::/0"));
        assert!(!matches("bogus", "10.0.0.0/8"));
    }
}
