//! The address guard for outbound requests (DELIVERY.md §3): a destination is reached only at
//! public unicast addresses unless the operator opts in to private networks, and never at a
//! cloud metadata service. Every address a request could connect to passes `check_ip`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where outbound requests may go: the `delivery.allow_private_networks` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Lets requests reach every non-public range (loopback, private, link-local, ...), for
    /// receivers inside the operator's own network. Metadata services stay refused.
    pub allow_private_networks: bool,
}

/// Why an address is refused: the range it falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockReason {
    /// A cloud metadata or credential service: refused even with `allow_private_networks`.
    Metadata,
    /// `0.0.0.0/8` and `::`: Linux connects these to the local host.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`) and the local-use NAT64 `64:ff9b:1::/48`.
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT (RFC 6598).
    SharedAddressSpace,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// `fc00::/7`.
    UniqueLocal,
    /// `fec0::/10`: deprecated, but still routed by some stacks.
    SiteLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// Other IANA special-purpose or unallocated space: no webhook receiver lives there.
    Reserved,
}

impl BlockReason {
    /// A stable snake_case label, for metrics and attempt records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metadata => "metadata",
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared_address_space",
            Self::LinkLocal => "link_local",
            Self::UniqueLocal => "unique_local",
            Self::SiteLocal => "site_local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An address the policy refuses, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{ip} is a blocked address ({reason})")]
pub struct BlockedAddress {
    pub ip: IpAddr,
    pub reason: BlockReason,
}

/// Metadata and credential services of the large clouds. They hand out instance credentials
/// to whoever asks from inside, so no setting opens them.
const METADATA_V4: &[Ipv4Addr] = &[
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OCI, OpenStack, DigitalOcean
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task credentials
    Ipv4Addr::new(169, 254, 170, 23),  // AWS EKS Pod Identity agent
    Ipv4Addr::new(169, 254, 42, 42),   // Scaleway
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    Ipv4Addr::new(192, 0, 0, 192),     // Oracle Cloud Classic
    Ipv4Addr::new(168, 63, 129, 16),   // Azure WireServer (a public address)
];

const METADATA_V6: &[Ipv6Addr] = &[
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254), // AWS IMDS
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23),  // AWS EKS Pod Identity agent
    Ipv6Addr::new(0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254),  // GCP
    Ipv6Addr::new(0xfd00, 0x42, 0, 0, 0, 0, 0, 0x42),   // Scaleway
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0xa9fe, 0xa9fe), // OpenStack
];

/// Non-public IPv4 ranges, most specific first (broadcast lies inside `240/4`).
const RANGES_V4: &[(Ipv4Addr, u8, BlockReason)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, BlockReason::Unspecified),
    (Ipv4Addr::new(10, 0, 0, 0), 8, BlockReason::Private),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        BlockReason::SharedAddressSpace,
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, BlockReason::Loopback),
    (Ipv4Addr::new(169, 254, 0, 0), 16, BlockReason::LinkLocal),
    (Ipv4Addr::new(172, 16, 0, 0), 12, BlockReason::Private),
    (Ipv4Addr::new(192, 0, 0, 0), 24, BlockReason::Reserved), // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24, BlockReason::Documentation),
    (Ipv4Addr::new(192, 88, 99, 0), 24, BlockReason::Reserved), // retired 6to4 relays
    (Ipv4Addr::new(192, 168, 0, 0), 16, BlockReason::Private),
    (Ipv4Addr::new(198, 18, 0, 0), 15, BlockReason::Reserved), // benchmarking
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        BlockReason::Documentation,
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        BlockReason::Documentation,
    ),
    (Ipv4Addr::new(224, 0, 0, 0), 4, BlockReason::Multicast),
    (Ipv4Addr::BROADCAST, 32, BlockReason::Broadcast),
    (Ipv4Addr::new(240, 0, 0, 0), 4, BlockReason::Reserved),
];

/// Non-public IPv6 ranges checked before the rule that everything outside the global unicast
/// `2000::/3` is reserved; the ranges embedding IPv4 are handled by `embedded_ipv4`.
const RANGES_V6: &[(Ipv6Addr, u8, BlockReason)] = &[
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        BlockReason::Private,
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        BlockReason::Documentation,
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        BlockReason::Reserved,
    ), // Teredo, ORCHID..
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        BlockReason::Documentation,
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        BlockReason::UniqueLocal,
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        BlockReason::LinkLocal,
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        BlockReason::SiteLocal,
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        BlockReason::Multicast,
    ),
];

const GLOBAL_UNICAST_V6: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

impl AddressPolicy {
    /// Refuses `ip` if it is not public unicast (unless private networks are allowed) or if it
    /// is a metadata service (always).
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), BlockedAddress> {
        match classify(ip) {
            None => Ok(()),
            Some(BlockReason::Metadata) => Err(BlockedAddress {
                ip,
                reason: BlockReason::Metadata,
            }),
            Some(_) if self.allow_private_networks => Ok(()),
            Some(reason) => Err(BlockedAddress { ip, reason }),
        }
    }
}

/// The range that makes `ip` non-public, or `None` for a public unicast address.
/// IPv6 forms that carry an IPv4 address are judged by the IPv4 address they reach.
pub fn classify(ip: IpAddr) -> Option<BlockReason> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<BlockReason> {
    if METADATA_V4.contains(&ip) {
        return Some(BlockReason::Metadata);
    }
    let bits = u32::from(ip);
    RANGES_V4
        .iter()
        .find(|(network, length, _)| in_prefix_v4(bits, *network, *length))
        .map(|(_, _, reason)| *reason)
}

fn classify_v6(ip: Ipv6Addr) -> Option<BlockReason> {
    if METADATA_V6.contains(&ip) {
        return Some(BlockReason::Metadata);
    }
    if ip.is_unspecified() {
        return Some(BlockReason::Unspecified);
    }
    if ip.is_loopback() {
        return Some(BlockReason::Loopback);
    }
    if let Some(embedded) = embedded_ipv4(ip) {
        return classify_embedded(embedded);
    }
    let bits = u128::from(ip);
    let listed = RANGES_V6
        .iter()
        .find(|(network, length, _)| in_prefix_v6(bits, *network, *length))
        .map(|(_, _, reason)| *reason);
    let (global, global_length) = GLOBAL_UNICAST_V6;
    listed.or_else(|| (!in_prefix_v6(bits, global, global_length)).then_some(BlockReason::Reserved))
}

/// An IPv4 address reached through an IPv6 one.
enum Embedded {
    /// `::ffff:a.b.c.d` (a dual-stack socket connects to the IPv4 host), NAT64
    /// `64:ff9b::a.b.c.d` and 6to4 `2002:aabb:ccdd::/48` (gateways and relays forward to it).
    Reaches(Ipv4Addr),
    /// `::a.b.c.d`, IPv4-compatible: deprecated (RFC 4291), so never a receiver.
    Deprecated(Ipv4Addr),
}

fn embedded_ipv4(ip: Ipv6Addr) -> Option<Embedded> {
    let [a, b, c, d, e, f, g, h] = ip.segments();
    let low = Ipv4Addr::from(u32::from(g) << 16 | u32::from(h));
    match (a, b, c, d, e, f) {
        (0, 0, 0, 0, 0, 0xffff) => Some(Embedded::Reaches(low)),
        (0, 0, 0, 0, 0, 0) => Some(Embedded::Deprecated(low)),
        (0x64, 0xff9b, 0, 0, 0, 0) => Some(Embedded::Reaches(low)),
        (0x2002, ..) => Some(Embedded::Reaches(Ipv4Addr::from(
            u32::from(b) << 16 | u32::from(c),
        ))),
        _ => None,
    }
}

fn classify_embedded(embedded: Embedded) -> Option<BlockReason> {
    match embedded {
        Embedded::Reaches(v4) => classify_v4(v4),
        Embedded::Deprecated(v4) => classify_v4(v4).or(Some(BlockReason::Reserved)),
    }
}

fn in_prefix_v4(bits: u32, network: Ipv4Addr, length: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
    bits & mask == u32::from(network)
}

fn in_prefix_v6(bits: u128, network: Ipv6Addr, length: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
    bits & mask == u128::from(network)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const CLOSED: AddressPolicy = AddressPolicy {
        allow_private_networks: false,
    };
    const OPEN: AddressPolicy = AddressPolicy {
        allow_private_networks: true,
    };

    fn reason(host: &str) -> Option<BlockReason> {
        let ip = literal_ip(host).unwrap_or_else(|| panic!("{host} is a literal"));
        classify(ip)
    }

    #[test]
    fn every_spelling_of_a_blocked_address_is_refused_without_the_opt_in() {
        use BlockReason::*;
        let table = [
            ("127.0.0.1", Loopback),
            ("2130706433", Loopback),
            ("0x7f000001", Loopback),
            ("0X7F000001", Loopback),
            ("0x7f.0.0.1", Loopback),
            ("0x7f.1", Loopback),
            ("0177.0.0.1", Loopback),
            ("017700000001", Loopback),
            ("127.1", Loopback),
            ("127.0.1", Loopback),
            ("127.0.0.1.", Loopback),
            ("::1", Loopback),
            ("[::1]", Loopback),
            ("0:0:0:0:0:0:0:1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:7f00:1", Loopback),
            ("[::ffff:7f00:1]", Loopback),
            ("::127.0.0.1", Loopback),
            ("64:ff9b::7f00:1", Loopback),
            ("2002:7f00:1::", Loopback),
            ("0.0.0.0", Unspecified),
            ("0", Unspecified),
            ("0x", Unspecified),
            ("0.1.2.3", Unspecified),
            ("::", Unspecified),
            ("[::]", Unspecified),
            ("10.0.0.1", Private),
            ("012.1", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("3232235777", Private),
            ("::ffff:192.168.1.1", Private),
            ("64:ff9b:1::a00:1", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("169.254.1.1", LinkLocal),
            ("fe80::1", LinkLocal),
            ("fe80::1%eth0", LinkLocal),
            ("[fe80::1%25eth0]", LinkLocal),
            ("FE80::1", LinkLocal),
            ("fc00::1", UniqueLocal),
            ("fd12:3456::1", UniqueLocal),
            ("fec0::1", SiteLocal),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("ff02::1", Multicast),
            ("255.255.255.255", Broadcast),
            ("0xffffffff", Broadcast),
            ("240.0.0.1", Reserved),
            ("192.0.0.8", Reserved),
            ("198.18.0.1", Reserved),
            ("::8.8.8.8", Reserved),
            ("::ffff:0:8.8.8.8", Reserved),
            ("100::1", Reserved),
            ("2001::1", Reserved),
            ("4000::1", Reserved),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
        ];
        for (host, expected) in table {
            assert_eq!(reason(host), Some(expected), "{host}");
            let ip = literal_ip(host).unwrap();
            assert_eq!(
                CLOSED.check_ip(ip),
                Err(BlockedAddress {
                    ip,
                    reason: expected
                })
            );
            assert_eq!(OPEN.check_ip(ip), Ok(()), "{host} with the opt-in");
        }
    }

    #[test]
    fn public_addresses_pass_in_every_spelling() {
        for host in [
            "93.184.216.34",
            "1572395042",
            "0x5d.0xb8.0xd8.0x22",
            "8.8.8.8",
            "8.8.8.8.",
            "172.32.0.1",
            "100.128.0.1",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
            "2606:2800:220:1:248:1893:25c8:1946",
            "[2606:4700:4700::1111]",
        ] {
            assert_eq!(reason(host), None, "{host}");
            let ip = literal_ip(host).unwrap();
            assert_eq!(CLOSED.check_ip(ip), Ok(()), "{host}");
        }
    }

    #[test]
    fn metadata_addresses_are_refused_even_with_the_opt_in() {
        for host in [
            "169.254.169.254",
            "2852039166",
            "0xa9fea9fe",
            "0251.0376.0251.0376",
            "169.254.43518",
            "169.254.169.254.",
            "::ffff:169.254.169.254",
            "::ffff:a9fe:a9fe",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::",
            "fd00:ec2::254",
            "[fd00:ec2::254]",
            "fd00:0ec2:0000:0000:0000:0000:0000:0254",
            "fd20:ce::254",
            "100.100.100.200",
            "169.254.170.2",
        ] {
            let ip = literal_ip(host).unwrap_or_else(|| panic!("{host} is a literal"));
            for policy in [CLOSED, OPEN] {
                assert_eq!(
                    policy.check_ip(ip).map_err(|blocked| blocked.reason),
                    Err(BlockReason::Metadata),
                    "{host} with {policy:?}"
                );
            }
        }
    }

    #[test]
    fn literal_ip_reads_numbers_as_url_parsers_do() {
        let v4 = |host: &str| literal_ip(host);
        assert_eq!(v4("0x7f.1"), Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))));
        assert_eq!(
            v4("1.2.65535"),
            Some(IpAddr::V4(Ipv4Addr::new(1, 2, 255, 255)))
        );
        assert_eq!(
            v4("1.16777215"),
            Some(IpAddr::V4(Ipv4Addr::new(1, 255, 255, 255)))
        );
        assert_eq!(v4("4294967295"), Some(IpAddr::V4(Ipv4Addr::BROADCAST)));
        assert_eq!(
            v4("0300.0250.01.01"),
            Some(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)))
        );
        assert_eq!(
            literal_ip("fe80::1%eth0"),
            Some(IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)))
        );
    }

    #[test]
    fn literal_ip_leaves_names_and_malformed_numbers_alone() {
        for host in [
            "",
            ".",
            "localhost",
            "example.org",
            "1.2.3.example",
            "256.0.0.1",
            "1.256.0.1",
            "1.2.3.4.5",
            "1..2.3",
            "127.0.0.1..",
            "08.0.0.1",
            "0x7g.0.0.1",
            "+1.2.3.4",
            "-1",
            "4294967296",
            "1.16777216",
            "1.2.65536",
            "99999999999999999999999",
            "[127.0.0.1]",
            "[example.org]",
            "::ffff:0177.0.0.1",
            "1::2::3",
            "fe80::1%",
        ] {
            assert_eq!(literal_ip(host), None, "{host}");
        }
    }

    #[test]
    fn literal_ip_agrees_with_the_url_parser() {
        for host in [
            "2130706433",
            "0x7f.1",
            "0177.0.0.1",
            "127.1",
            "127.0.0.1.",
            "0x",
            "0251.0376.0251.0376",
            "1.2.65535",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "[0:0:0:0:0:0:0:1]",
        ] {
            let url = reqwest::Url::parse(&format!("http://{host}/")).unwrap();
            let parsed: IpAddr = url
                .host_str()
                .unwrap()
                .trim_matches(['[', ']'])
                .parse()
                .unwrap();
            assert_eq!(literal_ip(host), Some(parsed), "{host}");
        }
    }
}
