//! Where the desk's outgoing calls (webhooks) may go: public addresses, and private ones only
//! when the configuration lists them. Checked when a URL is saved and again for every address
//! a name resolves to when the call connects, so a name that later resolves inward (DNS
//! rebinding) is refused too. Refusals say only that the address is not allowed, never what
//! answers there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use crate::IpNet;

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (CGNAT), unspecified, multicast, broadcast, documentation, benchmarking or reserved, in any
/// IPv6 form that embeds an IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => public_v4(v),
        IpAddr::V6(v) => public_v6(v),
    }
}

fn public_v4(v: Ipv4Addr) -> bool {
    let [a, b, c, _] = v.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn public_v6(v: Ipv6Addr) -> bool {
    if let Some(v4) = v.to_ipv4_mapped() {
        return public_v4(v4);
    }
    let s = v.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // Unspecified, loopback and the old IPv4-compatible form.
        [0, 0, 0, 0, 0, 0, hi, lo] => hi != 0 && public_v4(embedded(hi, lo)),
        // NAT64 carries an IPv4 address in its last 32 bits.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => public_v4(embedded(hi, lo)),
        // 6to4 carries one in bits 16–48.
        [0x2002, hi, lo, ..] => public_v4(embedded(hi, lo)),
        [first, second, ..] => {
            !((first & 0xfe00) == 0xfc00      // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xff00) == 0xff00 // multicast
                || (first == 0x2001 && second == 0x0db8)) // documentation
        }
    }
}

/// The policy: public addresses, plus what the admin allowed.
#[derive(Debug, Clone, Default)]
pub struct Egress {
    pub allow: Vec<IpNet>,
}

/// A call refused for where it would go.
pub const NOT_ALLOWED: &str = "the endpoint's address is not public and not in the webhook_allow setting";

impl Egress {
    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allow.iter().any(|n| n.contains(ip))
    }

    /// Whether a URL's host may be called, as far as can be told before resolving it: an
    /// address literal (in any spelling the URL parser accepts) is checked now, `localhost`
    /// names are loopback whatever a resolver says.
    pub fn permits_host(&self, url: &reqwest::Url) -> bool {
        match url.host() {
            Some(url::Host::Ipv4(v)) => self.permits(IpAddr::V4(v)),
            Some(url::Host::Ipv6(v)) => self.permits(IpAddr::V6(v)),
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                let local = d == "localhost" || d.ends_with(".localhost");
                !local || self.permits(IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
            None => false,
        }
    }

    /// The resolver outgoing calls connect through: only permitted addresses come back.
    pub fn resolver(&self) -> Arc<Resolver> {
        Arc::new(Resolver { policy: self.clone() })
    }
}

/// Resolves names as the system does, then drops the addresses the policy refuses.
pub struct Resolver {
    policy: Egress,
}

#[derive(Debug, thiserror::Error)]
#[error("{NOT_ALLOWED}")]
pub struct Refused;

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found.into_iter().filter(|a| policy.permits(a.ip())).collect();
            if kept.is_empty() {
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl crate::App {
    /// The policy for this desk's outgoing calls.
    pub(crate) fn egress(&self) -> Egress {
        Egress { allow: self.settings.webhook_allow.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn inward_addresses_are_not_public() {
        for s in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(s)), "{s}");
        }
        for s in ["1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert!(is_public(ip(s)), "{s}");
        }
    }

    #[test]
    fn every_spelling_of_loopback_is_caught_and_the_allow_list_opens_it() {
        let none = Egress::default();
        for u in [
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://0.0.0.0/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://evil.example@127.0.0.1/",
            "http://[::ffff:7f00:1]/",
            "http://localhost:8080/",
            "http://LOCALHOST./",
            "http://a.localhost/",
        ] {
            let url = reqwest::Url::parse(u).unwrap();
            assert!(!none.permits_host(&url), "{u}");
        }
        assert!(none.permits_host(&reqwest::Url::parse("https://hooks.example.com/x").unwrap()));
        let lan = Egress { allow: vec![IpNet::parse("127.0.0.0/8").unwrap()] };
        assert!(lan.permits_host(&reqwest::Url::parse("http://2130706433/").unwrap()));
        assert!(!lan.permits_host(&reqwest::Url::parse("http://10.0.0.1/").unwrap()));
    }

    #[tokio::test]
    async fn the_resolver_keeps_only_permitted_addresses() {
        use reqwest::dns::Resolve;
        let name = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();
        let refused = Egress::default().resolver().resolve(name("localhost")).await;
        assert!(refused.is_err_and(|e| e.is::<Refused>()));
        let lan = Egress { allow: vec![IpNet::parse("127.0.0.0/8").unwrap()] };
        let kept: Vec<SocketAddr> = lan.resolver().resolve(name("localhost")).await.unwrap().collect();
        assert!(!kept.is_empty() && kept.iter().all(|a| a.ip().is_loopback() && a.is_ipv4()), "{kept:?}");
    }
}
