//! Which addresses a probe may connect to.
//!
//! Link-local and cloud metadata addresses, and unspecified addresses, are refused whatever the
//! operator configures: they are how a probe becomes a server-side request forgery. On top of
//! that, an operator may restrict probes to some networks (`allow`) or forbid others (`deny`).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Networks no probe ever reaches, with the rule named in refusals.
const ALWAYS_REFUSED: &[(&str, &str)] = &[
    (
        "169.254.0.0/16",
        "link-local and cloud metadata addresses are never probed",
    ),
    ("fe80::/10", "link-local addresses are never probed"),
    (
        "fd00:ec2::254/128",
        "the cloud metadata address is never probed",
    ),
    (
        "100.100.100.200/32",
        "the cloud metadata address is never probed",
    ),
];

/// The operator's network rules (`[network]` in the configuration of `preflight check`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkPolicy {
    /// When not empty, probes reach only addresses inside these networks.
    pub allow: Vec<IpNet>,
    /// Probes never reach addresses inside these networks (checked before `allow`).
    pub deny: Vec<IpNet>,
}

/// Why an address was refused; the message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address} is refused: {rule}")]
pub struct Refusal {
    /// The address that was refused.
    pub address: IpAddr,
    /// The rule that refused it, in words.
    pub rule: String,
}

impl NetworkPolicy {
    /// Accepts or refuses one address. IPv6 forms that carry an IPv4 address (IPv4-mapped,
    /// IPv4-compatible and NAT64 `64:ff9b::/96`) are judged as that IPv4 address, so
    /// `::ffff:169.254.169.254` and `64:ff9b::a9fe:a9fe` are refused like `169.254.169.254`.
    pub fn check(&self, address: IpAddr) -> Result<(), Refusal> {
        let address = embedded_ipv4(address);
        let refuse = |rule: String| Err(Refusal { address, rule });
        if address.is_unspecified() {
            return refuse("unspecified addresses are never probed".into());
        }
        for (net, rule) in ALWAYS_REFUSED {
            if net.parse::<IpNet>().is_ok_and(|net| net.contains(&address)) {
                return refuse(format!("{rule} ({net})"));
            }
        }
        if let Some(net) = self.deny.iter().find(|net| net.contains(&address)) {
            return refuse(format!("the operator denies {net}"));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|net| net.contains(&address)) {
            let allowed: Vec<String> = self.allow.iter().map(ToString::to_string).collect();
            return refuse(format!("the operator allows only {}", allowed.join(", ")));
        }
        Ok(())
    }

    /// Parses a comma-separated list of networks (`10.0.0.0/8, 192.168.1.5`); a bare address
    /// means that single host.
    pub fn parse_networks(text: &str) -> Result<Vec<IpNet>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<IpNet>()
                    .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("\"{part}\" is not a network such as 10.0.0.0/8"))
            })
            .collect()
    }
}

/// The IPv4 address an IPv6 address stands for, when it is one of the forms that carry one.
fn embedded_ipv4(address: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = address else {
        return address;
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let segments = v6.segments();
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    // IPv4-compatible (`::a.b.c.d`, deprecated but still routed by some stacks); `::` and `::1`
    // are themselves, not IPv4 addresses.
    let compatible = segments[..6] == [0; 6] && (segments[6] != 0 || segments[7] > 1);
    if nat64 || compatible {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d));
    }
    address
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn metadata_link_local_and_unspecified_are_always_refused() {
        let open = NetworkPolicy {
            allow: vec![
                "0.0.0.0/0".parse().expect("net"),
                "::/0".parse().expect("net"),
            ],
            deny: vec![],
        };
        for address in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "fd00:ec2::254",
            "0.0.0.0",
            "::",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::a9fe:a9fe",
            "100.100.100.200",
        ] {
            let refusal = open.check(ip(address)).expect_err(address);
            assert!(refusal.to_string().contains("never probed"), "{refusal}");
        }
        assert!(open.check(ip("127.0.0.1")).is_ok());
        assert!(open.check(ip("::1")).is_ok());
        assert!(open.check(ip("fd00:ec2::253")).is_ok());
    }

    #[test]
    fn operator_rules_name_the_network() {
        let policy = NetworkPolicy {
            allow: NetworkPolicy::parse_networks("127.0.0.0/8, 10.0.0.0/8").expect("parses"),
            deny: NetworkPolicy::parse_networks("10.1.0.0/16").expect("parses"),
        };
        assert!(policy.check(ip("10.2.3.4")).is_ok());
        let denied = policy.check(ip("10.1.2.3")).expect_err("denied");
        assert_eq!(
            denied.to_string(),
            "10.1.2.3 is refused: the operator denies 10.1.0.0/16"
        );
        let outside = policy.check(ip("192.0.2.1")).expect_err("not allowed");
        assert!(
            outside
                .to_string()
                .contains("allows only 127.0.0.0/8, 10.0.0.0/8")
        );
        assert!(NetworkPolicy::parse_networks("10.0.0.0/33").is_err());
        assert_eq!(
            NetworkPolicy::parse_networks("192.0.2.7").expect("single host"),
            vec!["192.0.2.7/32".parse::<IpNet>().expect("net")]
        );
    }
}
