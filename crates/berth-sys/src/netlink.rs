//! A minimal rtnetlink client (`NETLINK_ROUTE`): look a link up by name,
//! move it to another network namespace under a new name in one request,
//! set it up or down, list and add its addresses. Enough for
//! `linux.netDevices`; messages are built and parsed here by hand (no
//! netlink crate), and the socket works in the caller's network namespace.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    bind, recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
    SockType,
};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;
const IFF_UP: u32 = 0x1;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;

/// An address of a link as the kernel reported it: enough to add it again
/// elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkAddress {
    /// `AF_INET` or `AF_INET6`.
    pub family: u8,
    /// Prefix length.
    pub prefix_len: u8,
    /// `IFA_LOCAL` (IPv4), if reported.
    pub local: Option<Vec<u8>>,
    /// `IFA_ADDRESS` (the peer on point-to-point links; IPv6's address).
    pub address: Option<Vec<u8>>,
    /// Permanent (configured, not autoconfigured) with global scope.
    pub permanent_global: bool,
}

/// One request under construction: header, fixed part, attributes.
struct Request(Vec<u8>);

impl Request {
    fn new(kind: u16, flags: u16, fixed: &[u8]) -> Request {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf[8..12].copy_from_slice(&1u32.to_ne_bytes());
        buf.extend_from_slice(fixed);
        Request(buf)
    }

    fn attr(mut self, kind: u16, data: &[u8]) -> Request {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(align(self.0.len()), 0);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// `struct ifinfomsg` with an index and the flags to change.
fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; IFINFOMSG_LEN] {
    let mut m = [0u8; IFINFOMSG_LEN];
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

/// A NUL-terminated attribute value.
fn c_string(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The messages of one datagram: (type, payload after the header).
fn messages(buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(len), Some(kind)) = (u32_at(buf, at), u16_at(buf, at + 4)) {
        let len = len as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            break;
        }
        out.push((kind, &buf[at + NLMSG_HDRLEN..at + len]));
        at += align(len);
    }
    out
}

/// The attributes after a fixed part: (type, data).
fn attrs(payload: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(len), Some(kind)) = (u16_at(payload, at), u16_at(payload, at + 2)) {
        let len = len as usize;
        if len < 4 || at + len > payload.len() {
            break;
        }
        out.push((kind & 0x3fff, &payload[at + 4..at + len]));
        at += align(len);
    }
    out
}

/// An `RTM_NEWADDR` payload (ifaddrmsg + attributes) as a [`LinkAddress`]
/// of link `index`, or None for another link.
fn parse_address(payload: &[u8], index: u32) -> Option<LinkAddress> {
    let fixed = payload.get(..IFADDRMSG_LEN)?;
    if u32_at(fixed, 4)? != index {
        return None;
    }
    let mut flags = u32::from(fixed[2]);
    let mut addr = LinkAddress {
        family: fixed[0],
        prefix_len: fixed[1],
        local: None,
        address: None,
        permanent_global: false,
    };
    for (kind, data) in attrs(&payload[IFADDRMSG_LEN..]) {
        match kind {
            IFA_LOCAL => addr.local = Some(data.to_vec()),
            IFA_ADDRESS => addr.address = Some(data.to_vec()),
            IFA_FLAGS => flags = u32_at(data, 0).unwrap_or(flags),
            _ => {}
        }
    }
    addr.permanent_global = flags & IFA_F_PERMANENT != 0 && fixed[3] == RT_SCOPE_UNIVERSE;
    Some(addr)
}

/// A `NETLINK_ROUTE` socket in the caller's network namespace.
#[derive(Debug)]
pub struct RouteSocket(OwnedFd);

impl RouteSocket {
    /// Opens and binds one.
    pub fn open() -> Result<RouteSocket, Errno> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        Ok(RouteSocket(fd))
    }

    fn send(&self, msg: &[u8]) -> Result<(), Errno> {
        sendto(
            self.0.as_raw_fd(),
            msg,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )
        .map(drop)
    }

    fn receive(&self) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; 32 * 1024];
        let len = loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                other => break other?,
            }
        };
        buf.truncate(len);
        Ok(buf)
    }

    /// Sends a request and waits for its answer: the payload of the first
    /// message that is not an acknowledgement, or nothing; a kernel error
    /// is the errno.
    fn request(&self, msg: Vec<u8>) -> Result<Option<Vec<u8>>, Errno> {
        self.send(&msg)?;
        let buf = self.receive()?;
        let (kind, payload) = *messages(&buf).first().ok_or(Errno::EBADMSG)?;
        if kind != NLMSG_ERROR {
            return Ok(Some(payload.to_vec()));
        }
        match u32_at(payload, 0).ok_or(Errno::EBADMSG)? as i32 {
            0 => Ok(None),
            code => Err(Errno::from_raw(-code)),
        }
    }

    /// The index of link `name` (`RTM_GETLINK` by name); ENODEV if none.
    pub fn link_index(&self, name: &str) -> Result<u32, Errno> {
        let msg = Request::new(RTM_GETLINK, 0, &ifinfomsg(0, 0, 0))
            .attr(IFLA_IFNAME, &c_string(name))
            .finish();
        let payload = self.request(msg)?.ok_or(Errno::EBADMSG)?;
        u32_at(&payload, 4).ok_or(Errno::EBADMSG)
    }

    /// Sets link `index` up or down.
    pub fn set_up(&self, index: u32, up: bool) -> Result<(), Errno> {
        let flags = if up { IFF_UP } else { 0 };
        let msg = Request::new(RTM_NEWLINK, NLM_F_ACK, &ifinfomsg(index, flags, IFF_UP)).finish();
        self.request(msg).map(drop)
    }

    /// Moves link `index` into the network namespace `netns`, named
    /// `new_name` there, in one request (no name clash in between).
    pub fn move_to_netns(
        &self,
        index: u32,
        new_name: &str,
        netns: BorrowedFd<'_>,
    ) -> Result<(), Errno> {
        let msg = Request::new(RTM_NEWLINK, NLM_F_ACK, &ifinfomsg(index, 0, 0))
            .attr(IFLA_IFNAME, &c_string(new_name))
            .attr(IFLA_NET_NS_FD, &(netns.as_raw_fd() as u32).to_ne_bytes())
            .finish();
        self.request(msg).map(drop)
    }

    /// The addresses of link `index` (`RTM_GETADDR` dump).
    pub fn addresses(&self, index: u32) -> Result<Vec<LinkAddress>, Errno> {
        let msg = Request::new(RTM_GETADDR, NLM_F_DUMP, &[0u8; IFADDRMSG_LEN]).finish();
        self.send(&msg)?;
        let mut found = Vec::new();
        loop {
            let buf = self.receive()?;
            for (kind, payload) in messages(&buf) {
                match kind {
                    NLMSG_DONE => return Ok(found),
                    NLMSG_ERROR => {
                        let code = u32_at(payload, 0).ok_or(Errno::EBADMSG)? as i32;
                        return Err(Errno::from_raw(-code));
                    }
                    RTM_NEWADDR => found.extend(parse_address(payload, index)),
                    _ => {}
                }
            }
        }
    }

    /// Adds `addr` to link `index`.
    pub fn add_address(&self, index: u32, addr: &LinkAddress) -> Result<(), Errno> {
        let mut fixed = [0u8; IFADDRMSG_LEN];
        fixed[0] = addr.family;
        fixed[1] = addr.prefix_len;
        fixed[3] = RT_SCOPE_UNIVERSE;
        fixed[4..8].copy_from_slice(&index.to_ne_bytes());
        const NLM_F_CREATE_EXCL: u16 = 0x400 | 0x200;
        let mut req = Request::new(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE_EXCL, &fixed);
        if let Some(local) = &addr.local {
            req = req.attr(IFA_LOCAL, local);
        }
        if let Some(address) = &addr.address {
            req = req.attr(IFA_ADDRESS, address);
        }
        self.request(req.finish()).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_length_prefixed_and_attributes_aligned() {
        let msg = Request::new(RTM_GETLINK, 0, &ifinfomsg(7, 0, 0))
            .attr(IFLA_IFNAME, &c_string("eth0"))
            .finish();
        // header 16 + ifinfomsg 16 + attr (4 + 5 -> 12 aligned)
        assert_eq!(msg.len(), 44);
        assert_eq!(u32_at(&msg, 0), Some(44));
        assert_eq!(u16_at(&msg, 4), Some(RTM_GETLINK));
        assert_eq!(u16_at(&msg, 6), Some(NLM_F_REQUEST));
        assert_eq!(u32_at(&msg, 16 + 4), Some(7));
        let parsed = attrs(&msg[32..]);
        assert_eq!(parsed, vec![(IFLA_IFNAME, &b"eth0\0"[..])]);
    }

    #[test]
    fn addresses_are_parsed_and_filtered_by_link() {
        let mut fixed = [0u8; IFADDRMSG_LEN];
        fixed[0] = libc::AF_INET as u8;
        fixed[1] = 24;
        fixed[4..8].copy_from_slice(&3u32.to_ne_bytes());
        let msg = Request::new(RTM_NEWADDR, 0, &fixed)
            .attr(IFA_LOCAL, &[10, 0, 0, 1])
            .attr(IFA_ADDRESS, &[10, 0, 0, 1])
            .attr(IFA_FLAGS, &IFA_F_PERMANENT.to_ne_bytes())
            .finish();
        let all = messages(&msg);
        assert_eq!(all.len(), 1);
        let addr = parse_address(all[0].1, 3).unwrap();
        assert_eq!(addr.prefix_len, 24);
        assert_eq!(addr.local.as_deref(), Some(&[10, 0, 0, 1][..]));
        assert!(addr.permanent_global);
        assert!(parse_address(all[0].1, 4).is_none());
    }

    #[test]
    fn loopback_is_found_by_name() {
        let sock = RouteSocket::open().unwrap();
        assert_eq!(sock.link_index("lo"), Ok(1));
        assert_eq!(sock.link_index("no-such-link0"), Err(Errno::ENODEV));
    }
}
