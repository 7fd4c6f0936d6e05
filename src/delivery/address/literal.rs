//! Reading an IP address out of a host in every spelling a URL parser or `inet_aton`
//! accepts, so that the address checked is the one a connection would reach.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IP address `host` spells, in any form a URL parser (WHATWG) or `inet_aton` accepts:
/// `127.0.0.1`, `2130706433`, `0x7f000001`, `0x7f.0.0.1`, `0177.0.0.1`, `127.1`, a trailing
/// dot, `[::1]`, `::ffff:127.0.0.1`, `::ffff:7f00:1`, and IPv6 zone ids (`fe80::1%eth0`,
/// `[fe80::1%25eth0]`; the zone names an interface, so the address before it is returned).
/// `None` means `host` is a name, to be resolved.
pub fn literal_ip(host: &str) -> Option<IpAddr> {
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'));
    let text = unbracketed.unwrap_or(host);
    if text.contains(':') {
        let address = match text.split_once('%') {
            Some((_, "")) => return None,
            Some((address, _zone)) => address,
            None => text,
        };
        return address.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if unbracketed.is_some() {
        return None;
    }
    ipv4_literal(text).map(IpAddr::V4)
}

/// The WHATWG IPv4 parser: one to four parts, each decimal, `0x` hex or `0` octal; all but
/// the last at most 255, the last filling the remaining bytes.
fn ipv4_literal(text: &str) -> Option<Ipv4Addr> {
    let text = text.strip_suffix('.').unwrap_or(text);
    let mut numbers = [0_u64; 4];
    let mut count = 0;
    for part in text.split('.') {
        *numbers.get_mut(count)? = ipv4_number(part)?;
        count += 1;
    }
    let (last, leading) = numbers[..count].split_last()?;
    let last_bits = 8 * (4 - leading.len());
    if leading.iter().any(|number| *number > 255) || last >> last_bits != 0 {
        return None;
    }
    let high = leading
        .iter()
        .enumerate()
        .fold(0_u64, |bits, (index, number)| {
            bits | number << (24 - 8 * index)
        });
    u32::try_from(high | last).ok().map(Ipv4Addr::from)
}

/// One IPv4 part. `0x` alone is zero, as WHATWG reads it; digits must all be valid, since
/// `from_str_radix` alone would also take a sign.
fn ipv4_number(part: &str) -> Option<u64> {
    let (digits, radix) = match part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None if part.len() > 1 && part.starts_with('0') => (&part[1..], 8),
        None => (part, 10),
    };
    if digits.is_empty() {
        return (radix == 16).then_some(0);
    }
    if !digits.chars().all(|digit| digit.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}
