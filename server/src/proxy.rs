//! Behind a reverse proxy: which address is the client's, and whether it came over https.
//!
//! # Security
//! Forwarding headers are believed only from a peer in `SEALBOX_TRUSTED_PROXIES`: anyone else
//! could write any address into them and escape sign-in throttling or forge the audit log's IP.
//! From a trusted peer, the client is the right-most address in the chain that is not itself a
//! trusted proxy (each proxy appends the address it received the request from, so addresses left
//! of an untrusted hop are whatever that hop claimed).
use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, Request},
    http::{HeaderMap, HeaderName},
    middleware::Next,
    response::Response,
};

/// An address range such as `10.0.0.0/8`, `192.168.1.7` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDRESS[/PREFIX]`; without a prefix, the one address.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let parsed: IpAddr = address.parse().ok()?;
        let max = if parsed.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        // `::ffff:a.b.c.d/104` is the IPv4 range `a.b.c.d/8`, as addresses are compared.
        Some(match (parsed, canonical(parsed)) {
            (IpAddr::V6(_), network @ IpAddr::V4(_)) if prefix >= 96 => {
                Self { network, prefix: prefix - 96 }
            }
            _ => Self { network: parsed, prefix },
        })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            match prefix {
                0 => 0,
                p => bits >> (width - p),
            }
        }
        match (self.network, canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                masked(u32::from(network).into(), self.prefix, 32)
                    == masked(u32::from(address).into(), self.prefix, 32)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                masked(u128::from(network), self.prefix, 128)
                    == masked(u128::from(address), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// IPv4 addresses seen through an IPv6 socket (`::ffff:a.b.c.d`) as the IPv4 addresses they are.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// Parses `SEALBOX_TRUSTED_PROXIES`: comma-separated ranges; empty means none.
pub fn parse_list(text: &str) -> Result<Vec<Cidr>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| Cidr::parse(part).ok_or_else(|| part.to_string()))
        .collect()
}

/// What a request says about where it came from, once the proxies have been accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub address: IpAddr,
    /// The client reached the (trusted) proxy over https.
    pub https: bool,
}

const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The client of a request that arrived from `peer`.
pub fn client(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> Client {
    let is_trusted = |address: IpAddr| trusted.iter().any(|range| range.contains(address));
    if !is_trusted(peer) {
        return Client { address: canonical(peer), https: false };
    }
    let values = |name: &HeaderName| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|part| part.trim().to_string())
            .filter(|part| !part.is_empty())
            .collect()
    };
    // `Forwarded` (RFC 7239) when present, else `X-Forwarded-For`; each lists hops left to right.
    let forwarded = values(&FORWARDED);
    let (hops, protos): (Vec<Option<IpAddr>>, Vec<Option<String>>) = if forwarded.is_empty() {
        let hops = values(&X_FORWARDED_FOR).iter().map(|hop| parse_node(hop)).collect();
        (hops, values(&X_FORWARDED_PROTO).into_iter().map(Some).collect())
    } else {
        forwarded.iter().map(|element| forwarded_element(element)).unzip()
    };
    let mut address = canonical(peer);
    let mut proto = protos.last().cloned().flatten();
    for (index, hop) in hops.iter().enumerate().rev() {
        // An address that cannot be read ("unknown", obfuscated): stop at the last one we trust.
        let Some(hop) = hop else { break };
        address = canonical(*hop);
        if let Some(Some(p)) = protos.get(index).filter(|_| protos.len() == hops.len()) {
            proto = Some(p.clone());
        }
        if !is_trusted(address) {
            break;
        }
    }
    Client { address, https: proto.is_some_and(|p| p.eq_ignore_ascii_case("https")) }
}

/// One element of a `Forwarded` header: its `for=` address and its `proto=`.
fn forwarded_element(element: &str) -> (Option<IpAddr>, Option<String>) {
    let mut address = None;
    let mut proto = None;
    for pair in element.split(';') {
        let Some((name, value)) = pair.split_once('=') else { continue };
        let value = value.trim().trim_matches('"');
        match name.trim().to_ascii_lowercase().as_str() {
            "for" => address = parse_node(value),
            "proto" => proto = Some(value.to_string()),
            _ => {}
        }
    }
    (address, proto)
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(address, _)| address.parse().ok());
    }
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

/// Puts the client's address where every handler reads it (`ConnectInfo`) and its [`Client`]
/// in the request's extensions. Without trusted proxies this changes nothing.
pub async fn resolve(
    axum::extract::State(trusted): axum::extract::State<std::sync::Arc<Vec<Cidr>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    if let Some(peer) = peer {
        let client = client(peer.ip(), request.headers(), &trusted);
        if client.address != peer.ip() {
            request.extensions_mut().insert(ConnectInfo(SocketAddr::new(client.address, 0)));
        }
        request.extensions_mut().insert(client);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                value.parse().expect("a header value"),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn ranges_parse_and_match() {
        let range = Cidr::parse("10.0.0.0/8").expect("a range");
        assert!(range.contains(ip("10.1.2.3")));
        assert!(!range.contains(ip("11.0.0.1")));
        assert!(range.contains(ip("::ffff:10.0.0.1")), "IPv4-mapped addresses count as IPv4");
        assert!(Cidr::parse("127.0.0.1").expect("one address").contains(ip("127.0.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").expect("all").contains(ip("8.8.8.8")));
        assert!(Cidr::parse("fd00::/8").expect("v6").contains(ip("fd12::1")));
        let mapped = Cidr::parse("::ffff:10.0.0.0/104").expect("an IPv4-mapped range");
        assert!(mapped.contains(ip("10.9.9.9")) && !mapped.contains(ip("11.0.0.1")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0/8", "::/129", "1.2.3.4/x"] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(parse_list(" 10.0.0.0/8 , ::1 ").map(|l| l.len()), Ok(2));
        assert_eq!(parse_list(""), Ok(vec![]));
        assert_eq!(parse_list("10.0.0.0/8,oops"), Err("oops".to_string()));
    }

    #[test]
    fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
        let sent = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-proto", "https")]);
        let client = client(ip("203.0.113.9"), &sent, &[]);
        assert_eq!(client, Client { address: ip("203.0.113.9"), https: false });
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop() {
        let trusted = parse_list("10.0.0.0/8").expect("ranges");
        let sent = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.5"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = client(ip("10.0.0.2"), &sent, &trusted);
        assert_eq!(client, Client { address: ip("198.51.100.7"), https: true });
    }

    #[test]
    fn the_forwarded_header_is_read_with_ports_brackets_and_quotes() {
        let trusted = parse_list("127.0.0.1").expect("ranges");
        let sent = headers(&[(
            "forwarded",
            r#"for=6.6.6.6;proto=http, for="[2001:db8::1]:4711";proto=https"#,
        )]);
        let client = client(ip("127.0.0.1"), &sent, &trusted);
        assert_eq!(client, Client { address: ip("2001:db8::1"), https: true });
        let plain = headers(&[("forwarded", "for=192.0.2.60:8080")]);
        assert_eq!(client_of(&plain, &trusted), ip("192.0.2.60"));
    }

    fn client_of(sent: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
        client(ip("127.0.0.1"), sent, trusted).address
    }

    #[test]
    fn a_trusted_peer_without_headers_or_with_unreadable_ones_is_the_client() {
        let trusted = parse_list("127.0.0.1").expect("ranges");
        assert_eq!(client_of(&HeaderMap::new(), &trusted), ip("127.0.0.1"));
        let unknown = headers(&[("x-forwarded-for", "unknown")]);
        assert_eq!(client_of(&unknown, &trusted), ip("127.0.0.1"));
    }
}
