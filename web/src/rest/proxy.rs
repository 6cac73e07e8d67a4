//! Client addresses behind a reverse proxy. By default the client is the TCP peer and proxy
//! headers are ignored (anyone could forge them). When the peer is one of the configured
//! `trusted_proxies`, the client is the right-most address of `X-Forwarded-For` that is not
//! itself a trusted proxy: the hops a trusted proxy appended are believed, nothing left of
//! them. The login rate limiter counts failures per address resolved here.

use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;

/// A `trusted_proxies` entry that is neither an address nor a network.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an address or a network like 10.0.0.0/8")]
pub struct BadProxy(pub String);

/// Networks whose `X-Forwarded-For` is believed; inserted as an `Arc<TrustedProxies>` request
/// extension by the composition root. Absent or empty: no proxy is trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses addresses (`192.0.2.7`, `2001:db8::1`) and networks (`10.0.0.0/8`).
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<TrustedProxies, BadProxy> {
        let mut nets = Vec::new();
        for item in items {
            let t = item.as_ref().trim();
            let net = t
                .parse::<IpNet>()
                .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| BadProxy(t.to_string()))?;
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address for a request from `peer` carrying `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                // Garbage left of the trusted hops: keep the last address a proxy vouched for.
                break;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The client address of a request whose TCP peer is `peer`.
pub(crate) fn client_ip(parts: &Parts, peer: IpAddr) -> IpAddr {
    match parts.extensions.get::<Arc<TrustedProxies>>() {
        Some(t) => t.client_ip(peer, &parts.headers),
        None => peer.to_canonical(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7"]).unwrap();
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        // A direct client cannot choose its address.
        assert_eq!(t.client_ip(stranger, &headers(&["1.1.1.1"])), stranger);
        // Behind the proxy: the right-most untrusted hop, whatever the client prepended.
        let h = headers(&["6.6.6.6, 198.51.100.4", "192.0.2.7"]);
        assert_eq!(
            t.client_ip(proxy, &h),
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
        // No header: the proxy itself.
        assert_eq!(t.client_ip(proxy, &headers(&[])), proxy);
        // Garbage after trusted hops: the last vouched-for address.
        let h = headers(&["not-an-ip, 192.0.2.7"]);
        assert_eq!(
            t.client_ip(proxy, &h),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        // An IPv4 peer seen on an IPv6 socket is matched as IPv4.
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(
            t.client_ip(mapped, &headers(&["198.51.100.5"])),
            "198.51.100.5".parse::<IpAddr>().unwrap()
        );
        // Nothing trusted by default.
        assert_eq!(TrustedProxies::default().client_ip(proxy, &h), proxy);
    }

    #[test]
    fn bad_entries_are_named() {
        let e = TrustedProxies::parse(&["10.0.0.0/8", "proxy.local"]).unwrap_err();
        assert!(e.to_string().contains("proxy.local"), "{e}");
    }
}
