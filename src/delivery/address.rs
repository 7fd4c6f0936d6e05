//! The address guard for outbound requests (DELIVERY.md §3): a destination is reached only at
//! public unicast addresses unless the operator opts in to private networks, and never at a
//! cloud metadata service. Every address a request could connect to passes `check_ip`:
//! IP literals in the URL through `check_url` before each request, every DNS answer through
//! the [`GuardedResolver`] inside [`client`].

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

mod client;
mod literal;

pub use client::{GuardedResolver, USER_AGENT, address_error, client};
pub use literal::literal_ip;

use reqwest::Url;

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
#[rustfmt::skip]
const RANGES_V4: &[(Ipv4Addr, u8, BlockReason)] = &[
    (Ipv4Addr::new(0, 0, 0, 0),       8, BlockReason::Unspecified),
    (Ipv4Addr::new(10, 0, 0, 0),      8, BlockReason::Private),
    (Ipv4Addr::new(100, 64, 0, 0),   10, BlockReason::SharedAddressSpace),
    (Ipv4Addr::new(127, 0, 0, 0),     8, BlockReason::Loopback),
    (Ipv4Addr::new(169, 254, 0, 0),  16, BlockReason::LinkLocal),
    (Ipv4Addr::new(172, 16, 0, 0),   12, BlockReason::Private),
    (Ipv4Addr::new(192, 0, 0, 0),    24, BlockReason::Reserved), // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0),    24, BlockReason::Documentation),
    (Ipv4Addr::new(192, 88, 99, 0),  24, BlockReason::Reserved), // retired 6to4 relays
    (Ipv4Addr::new(192, 168, 0, 0),  16, BlockReason::Private),
    (Ipv4Addr::new(198, 18, 0, 0),   15, BlockReason::Reserved), // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24, BlockReason::Documentation),
    (Ipv4Addr::new(203, 0, 113, 0),  24, BlockReason::Documentation),
    (Ipv4Addr::new(224, 0, 0, 0),     4, BlockReason::Multicast),
    (Ipv4Addr::BROADCAST,            32, BlockReason::Broadcast),
    (Ipv4Addr::new(240, 0, 0, 0),     4, BlockReason::Reserved),
];

/// Non-public IPv6 ranges checked before the rule that everything outside the global unicast
/// `2000::/3` is reserved; the ranges embedding IPv4 are handled by `embedded_ipv4`.
#[rustfmt::skip]
const RANGES_V6: &[(Ipv6Addr, u8, BlockReason)] = &[
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, BlockReason::Private), // local NAT64
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, BlockReason::Documentation),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),     23, BlockReason::Reserved), // Teredo, ORCHID
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),     20, BlockReason::Documentation),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),      7, BlockReason::UniqueLocal),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),     10, BlockReason::LinkLocal),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),     10, BlockReason::SiteLocal),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),      8, BlockReason::Multicast),
];

const GLOBAL_UNICAST_V6: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

impl AddressPolicy {
    /// Refuses `ip` if it is not public unicast (unless private networks are allowed) or if it
    /// is a metadata service (always).
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), BlockedAddress> {
        match classify(ip) {
            Some(reason) if reason == BlockReason::Metadata || !self.allow_private_networks => {
                Err(BlockedAddress { ip, reason })
            }
            _ => Ok(()),
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

/// Why a destination URL or host may not be used.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("scheme `{0}` is not http or https")]
    Scheme(String),
    #[error("the URL carries a username or password")]
    Userinfo,
    #[error("the URL has no host")]
    MissingHost,
    /// Every address the host stands for is refused; `address` is the first of them.
    #[error("{host}: {address}")]
    Blocked {
        host: String,
        address: BlockedAddress,
    },
    /// The name did not resolve, or resolved to no address.
    #[error("{host} did not resolve: {source}")]
    Resolve {
        host: String,
        #[source]
        source: io::Error,
    },
}

/// What RFC 6761 §6.3 says `localhost` names are, whatever DNS answers.
const LOOPBACK: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

impl AddressPolicy {
    /// The addresses a request to `host:port` may connect to: an IP literal (any spelling of
    /// `literal_ip`) is checked as it is, `localhost` names are the loopback addresses, other
    /// names go through `tokio::net::lookup_host`. Refused addresses are dropped.
    ///
    /// # Errors
    /// `Blocked` when every address was refused, `Resolve` when the lookup failed or found
    /// nothing.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, AddressError> {
        let candidates = candidates(host, port).await?;
        self.keep_allowed(host, candidates)
    }

    /// The checks a URL must pass before it is stored or requested, with no DNS: `http` or
    /// `https`, no userinfo, a host, and that host refused if it is a blocked IP literal or a
    /// `localhost` name. An IP literal in a URL never reaches a resolver, so this must also
    /// run before every request made with [`client`].
    pub fn check_url(&self, url: &Url) -> Result<(), AddressError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(AddressError::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(AddressError::Userinfo);
        }
        let host = url.host_str().ok_or(AddressError::MissingHost)?;
        let fixed = match literal_ip(host) {
            Some(ip) => vec![ip],
            None if is_localhost_name(host) => LOOPBACK.to_vec(),
            None => return Ok(()),
        };
        let fixed = fixed.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect();
        self.keep_allowed(host, fixed).map(drop)
    }

    /// `check_url`, then `resolve` of its host: what registration runs, so that a name that
    /// resolves only to refused addresses is turned away at once. DNS can change afterwards;
    /// [`GuardedResolver`] checks again at every connection.
    pub async fn check_url_resolved(&self, url: &Url) -> Result<Vec<SocketAddr>, AddressError> {
        self.check_url(url)?;
        let host = url.host_str().ok_or(AddressError::MissingHost)?;
        // Always `Some` for http and https, the only schemes `check_url` lets through.
        let port = url.port_or_known_default().unwrap_or(80);
        self.resolve(host, port).await
    }

    fn keep_allowed(
        &self,
        host: &str,
        candidates: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, AddressError> {
        let mut first_blocked = None;
        let mut allowed = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            match self.check_ip(candidate.ip()) {
                Ok(()) => allowed.push(candidate),
                Err(blocked) => {
                    first_blocked.get_or_insert(blocked);
                }
            }
        }
        match (allowed.is_empty(), first_blocked) {
            (false, _) => Ok(allowed),
            (true, Some(address)) => Err(AddressError::Blocked {
                host: host.to_owned(),
                address,
            }),
            (true, None) => Err(resolve_error(
                host,
                io::Error::new(io::ErrorKind::NotFound, "no address found"),
            )),
        }
    }
}

/// Every address `host` stands for, before the policy is applied.
async fn candidates(host: &str, port: u16) -> Result<Vec<SocketAddr>, AddressError> {
    if let Some(ip) = literal_ip(host) {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if is_localhost_name(host) {
        return Ok(LOOPBACK.map(|ip| SocketAddr::new(ip, port)).to_vec());
    }
    let found = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| resolve_error(host, source))?;
    Ok(found.collect())
}

fn resolve_error(host: &str, source: io::Error) -> AddressError {
    AddressError::Resolve {
        host: host.to_owned(),
        source,
    }
}

/// `localhost`, `localhost.` and names under it (`api.localhost`), in any case: RFC 6761
/// makes them loopback, so they are refused without asking DNS.
fn is_localhost_name(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host).as_bytes();
    let suffix = b".localhost";
    name.eq_ignore_ascii_case(&suffix[1..])
        || (name.len() > suffix.len()
            && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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

    #[tokio::test]
    async fn localhost_resolves_to_blocked_loopback_without_the_opt_in() {
        for host in [
            "localhost",
            "localhost.",
            "LocalHost",
            "api.localhost",
            "127.0.0.1.",
        ] {
            let error = CLOSED.resolve(host, 80).await.unwrap_err();
            assert!(
                matches!(
                    error,
                    AddressError::Blocked {
                        address: BlockedAddress {
                            reason: BlockReason::Loopback,
                            ..
                        },
                        ..
                    }
                ),
                "{host}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn localhost_resolves_to_loopback_with_the_opt_in() {
        let found = OPEN.resolve("localhost", 80).await.unwrap();
        let expected: Vec<SocketAddr> =
            vec!["127.0.0.1:80".parse().unwrap(), "[::1]:80".parse().unwrap()];
        assert_eq!(found, expected);
    }

    #[tokio::test]
    async fn a_public_literal_resolves_to_itself() {
        let found = CLOSED.resolve("93.184.216.34", 443).await.unwrap();
        assert_eq!(
            found,
            vec!["93.184.216.34:443".parse::<SocketAddr>().unwrap()]
        );
        let found = CLOSED
            .resolve("[2606:2800:220:1:248:1893:25c8:1946]", 443)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
    }

    #[tokio::test]
    async fn metadata_literals_do_not_resolve_even_with_the_opt_in() {
        let error = OPEN.resolve("0xa9fea9fe", 80).await.unwrap_err();
        assert!(matches!(
            error,
            AddressError::Blocked {
                address: BlockedAddress {
                    reason: BlockReason::Metadata,
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn blocked_answers_are_dropped_and_the_rest_kept() {
        let public: SocketAddr = "93.184.216.34:80".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let kept = CLOSED
            .keep_allowed("mixed.test", vec![loopback, public])
            .unwrap();
        assert_eq!(kept, vec![public]);
        let none = CLOSED.keep_allowed("empty.test", Vec::new()).unwrap_err();
        assert!(matches!(none, AddressError::Resolve { .. }), "{none}");
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn check_url_refuses_other_schemes_and_userinfo() {
        let check = |text: &str| OPEN.check_url(&url(text)).unwrap_err();
        assert!(matches!(check("ftp://93.184.216.34/"), AddressError::Scheme(s) if s == "ftp"));
        assert!(matches!(
            check("file:///etc/passwd"),
            AddressError::Scheme(_)
        ));
        assert!(matches!(
            check("http://user@93.184.216.34/"),
            AddressError::Userinfo
        ));
        assert!(matches!(
            check("https://:pw@93.184.216.34/"),
            AddressError::Userinfo
        ));
    }

    #[test]
    fn check_url_refuses_every_spelling_of_a_blocked_host() {
        for text in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://127.0.0.1./",
            "http://%31%32%37.0.0.1/",
            "http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/",
            "http://localhost:8080/",
            "http://localhost./",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]:8080/",
            "http://[::ffff:7f00:1]/",
            "https://10.1.2.3/hook",
            "https://[fd12::1]/",
            "http://0/",
        ] {
            let error = CLOSED.check_url(&url(text)).unwrap_err();
            assert!(
                matches!(error, AddressError::Blocked { .. }),
                "{text}: {error}"
            );
            assert!(OPEN.check_url(&url(text)).is_ok(), "{text} with the opt-in");
        }
    }

    #[test]
    fn check_url_refuses_metadata_even_with_the_opt_in() {
        for text in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
        ] {
            let error = OPEN.check_url(&url(text)).unwrap_err();
            assert!(matches!(error, AddressError::Blocked { .. }), "{text}");
        }
    }

    #[test]
    fn check_url_passes_public_literals_and_leaves_names_to_resolution() {
        for text in [
            "https://93.184.216.34/hook",
            "http://[2606:4700:4700::1111]:8080/",
            "https://hooks.example.org/aviso",
        ] {
            assert!(CLOSED.check_url(&url(text)).is_ok(), "{text}");
        }
    }

    #[tokio::test]
    async fn check_url_resolved_refuses_localhost_only_without_the_opt_in() {
        let target = url("http://localhost:9/");
        assert!(CLOSED.check_url_resolved(&target).await.is_err());
        let found = OPEN.check_url_resolved(&target).await.unwrap();
        assert_eq!(found[0], "127.0.0.1:9".parse::<SocketAddr>().unwrap());
        let https = OPEN
            .check_url_resolved(&url("https://127.0.0.1/"))
            .await
            .unwrap();
        assert_eq!(https, vec!["127.0.0.1:443".parse::<SocketAddr>().unwrap()]);
    }

    /// A receiver on 127.0.0.1 that answers `/` with the request's `User-Agent` and
    /// `/moved` with a redirect to `/`.
    async fn spawn_receiver() -> u16 {
        use axum::http::{HeaderMap, StatusCode, header};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let echo_agent = |headers: HeaderMap| async move {
            let agent = headers.get(header::USER_AGENT).cloned();
            agent
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let moved = || async { (StatusCode::FOUND, [(header::LOCATION, "/")]) };
        let app = axum::Router::new()
            .route("/", axum::routing::post(echo_agent))
            .route("/moved", axum::routing::post(moved));
        tokio::spawn(async move { axum::serve(listener, app).await });
        port
    }

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn the_guarded_client_refuses_localhost_where_a_receiver_listens() {
        let port = spawn_receiver().await;
        let client = client(CLOSED, TIMEOUT, 2).unwrap();
        let error = client
            .post(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(error.is_connect(), "{error:?}");
        let cause = address_error(&error).unwrap();
        assert!(
            matches!(cause, AddressError::Blocked { address, .. } if address.reason == BlockReason::Loopback),
            "{cause}"
        );
    }

    #[tokio::test]
    async fn the_guarded_client_reaches_localhost_with_the_opt_in() {
        let port = spawn_receiver().await;
        let client = client(OPEN, TIMEOUT, 2).unwrap();
        let response = client
            .post(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), USER_AGENT);
        assert!(USER_AGENT.starts_with("Tidings/"));
    }

    #[tokio::test]
    async fn the_guarded_client_follows_no_redirect() {
        let port = spawn_receiver().await;
        let client = client(OPEN, TIMEOUT, 2).unwrap();
        let response = client
            .post(format!("http://localhost:{port}/moved"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
    }

    /// Pins why `check_url` must run before each request: reqwest connects to IP literals
    /// without asking the resolver.
    #[tokio::test]
    async fn ip_literals_skip_the_resolver_so_check_url_is_needed() {
        let port = spawn_receiver().await;
        let target = url(&format!("http://127.0.0.1:{port}/"));
        assert!(CLOSED.check_url(&target).is_err());
        let client = client(CLOSED, TIMEOUT, 2).unwrap();
        let response = client.post(target).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
}
