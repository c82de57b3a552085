//! Sign-in throttling per client address. After [`SignInThrottle::max_failures`] wrong
//! sign-ins from one address within the window, that address is refused (429) before any
//! password is checked — so a client trying passwords over many accounts gets no further and
//! no longer costs the server an argon2 hash per try — until its window ends. Counts live in
//! this node's memory (each node counts its own; a restart forgets); the per-account lock of
//! [`crate::staff`] stands beside it and is shared by every node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kernel::{Error, ErrorCode};

/// Addresses beyond this many are pruned of their ended windows.
const TRACKED: usize = 10_000;

/// Wrong sign-ins per client address over a window.
#[derive(Debug)]
pub struct SignInThrottle {
    max_failures: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Default for SignInThrottle {
    /// Twenty wrong sign-ins per address in fifteen minutes: four accounts' locks' worth.
    fn default() -> Self {
        SignInThrottle::new(20, Duration::from_secs(15 * 60))
    }
}

impl SignInThrottle {
    pub fn new(max_failures: u32, window: Duration) -> SignInThrottle {
        SignInThrottle {
            max_failures,
            window,
            seen: Mutex::default(),
        }
    }

    /// Refuses an address that failed too often in its current window (an unknown address
    /// is never refused: the account lock still applies).
    pub fn check(&self, address: Option<IpAddr>) -> Result<(), Error> {
        self.check_at(address, Instant::now())
    }

    /// Counts a wrong sign-in from `address`.
    pub fn failed(&self, address: Option<IpAddr>) {
        self.failed_at(address, Instant::now());
    }

    fn check_at(&self, address: Option<IpAddr>, now: Instant) -> Result<(), Error> {
        let Some(address) = address else {
            return Ok(());
        };
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get(&address) {
            Some((started, failures))
                if *failures >= self.max_failures && now < *started + self.window =>
            {
                let left = (*started + self.window).saturating_duration_since(now);
                Err(Error::new(
                    ErrorCode::TooManyRequests,
                    "too many wrong sign-ins from this address: try again later",
                )
                .with("retry_after_seconds", left.as_secs().max(1).to_string()))
            }
            _ => Ok(()),
        }
    }

    fn failed_at(&self, address: Option<IpAddr>, now: Instant) {
        let Some(address) = address else {
            return;
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= TRACKED {
            let window = self.window;
            seen.retain(|_, (started, _)| now < *started + window);
        }
        let entry = seen.entry(address).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// The address a request comes from: its peer; or, when the peer is a proxy on this host
/// or network (a loopback or private address), the last address that proxy appended to
/// `X-Forwarded-For` — a client can prepend addresses, never append after its proxy.
pub fn client_address(peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
    let peer = peer?;
    let behind_proxy = match peer {
        IpAddr::V4(a) => a.is_loopback() || a.is_private(),
        IpAddr::V6(a) => a.is_loopback() || a.is_unique_local(),
    };
    let forwarded = forwarded_for
        .and_then(|list| list.rsplit(',').next())
        .and_then(|last| last.trim().parse().ok());
    match (behind_proxy, forwarded) {
        (true, Some(client)) => Some(client),
        _ => Some(peer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn an_address_is_refused_after_its_failures_until_its_window_ends() {
        let throttle = SignInThrottle::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(throttle.check_at(ip("203.0.113.7"), t0).is_ok());
            throttle.failed_at(ip("203.0.113.7"), t0);
        }
        let refused = throttle.check_at(ip("203.0.113.7"), t0).unwrap_err();
        assert_eq!(refused.code, ErrorCode::TooManyRequests);
        // Another address, and an unknown one, are not concerned.
        assert!(throttle.check_at(ip("203.0.113.8"), t0).is_ok());
        assert!(throttle.check_at(None, t0).is_ok());
        // The window ends: the address starts again from nothing.
        let later = t0 + Duration::from_secs(61);
        assert!(throttle.check_at(ip("203.0.113.7"), later).is_ok());
        throttle.failed_at(ip("203.0.113.7"), later);
        assert!(throttle.check_at(ip("203.0.113.7"), later).is_ok());
    }

    #[test]
    fn only_a_proxy_on_our_network_names_the_client() {
        let spoofed = Some("198.51.100.1, 203.0.113.9");
        assert_eq!(client_address(ip("127.0.0.1"), spoofed), ip("203.0.113.9"));
        assert_eq!(client_address(ip("10.1.2.3"), spoofed), ip("203.0.113.9"));
        // A client on the Internet cannot choose its address by a header.
        assert_eq!(client_address(ip("192.0.2.44"), spoofed), ip("192.0.2.44"));
        assert_eq!(
            client_address(ip("127.0.0.1"), Some("garbage")),
            ip("127.0.0.1")
        );
        assert_eq!(client_address(None, spoofed), None);
    }
}
