//! `linux.netDevices` (runtime-spec 1.3, runc 1.4+): the runtime moves each
//! host interface into the container's network namespace before init goes
//! on, as runc does: link down, its permanent global addresses noted, moved
//! and renamed in one rtnetlink request, the addresses added again in the
//! container (the kernel drops them on the move), link up. On `delete` the
//! kernel gives a physical interface back to the host when the namespace
//! goes (a virtual one, e.g. dummy, goes with it), as with runc.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use berth_sys::netlink::{LinkAddress, RouteSocket};
use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};

use crate::ProcessError;

/// One interface to move: its host name and its name in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDevice {
    pub host_name: String,
    pub name: String,
}

/// The error of a failed step for `device`, in runc's words.
fn failed<'a>(
    device: &'a NetDevice,
    netns: &'a Path,
    what: impl Into<String> + 'a,
) -> impl FnOnce(Errno) -> ProcessError + 'a {
    move |errno| ProcessError::Io {
        what: format!(
            "move netDevice {} to namespace {}: {}",
            device.host_name,
            netns.display(),
            what.into()
        ),
        source: errno.into(),
    }
}

/// Moves every device into the network namespace at `netns` (init's new
/// one, `/proc/<pid>/ns/net`, or the one it will join).
pub(crate) fn move_devices(devices: &[NetDevice], netns: &Path) -> Result<(), ProcessError> {
    if devices.is_empty() {
        return Ok(());
    }
    let open = |path: &Path| {
        File::open(path).map_err(|source| ProcessError::Io {
            what: format!("open network namespace {}", path.display()),
            source,
        })
    };
    let target = open(netns)?;
    let host = open(Path::new("/proc/self/ns/net"))?;
    let sock = RouteSocket::open().map_err(failed(&devices[0], netns, "netlink socket"))?;
    let mut moved = Vec::new();
    for device in devices {
        let addresses = move_one(&sock, device, &target, netns)?;
        moved.push((device, addresses));
    }
    let enter = |ns: &File| {
        setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| ProcessError::Io {
            what: format!("setns {}", netns.display()),
            source: e.into(),
        })
    };
    enter(&target)?;
    let set_up = set_up_inside(&moved, netns);
    enter(&host)?;
    set_up
}

/// Down, addresses noted, moved and renamed; returns the addresses to add
/// again.
fn move_one(
    sock: &RouteSocket,
    device: &NetDevice,
    target: &File,
    netns: &Path,
) -> Result<Vec<LinkAddress>, ProcessError> {
    let fail = |what| failed(device, netns, what);
    let index = sock.link_index(&device.host_name).map_err(failed(
        device,
        netns,
        format!(
            "link not found for interface {} on runtime namespace",
            device.host_name
        ),
    ))?;
    sock.set_up(index, false)
        .map_err(fail("fail to set link down"))?;
    let addresses = sock
        .addresses(index)
        .map_err(fail("fail to get ip addresses"))?;
    sock.move_to_netns(index, &device.name, target.as_fd())
        .map_err(fail("fail to move network device"))?;
    Ok(addresses
        .into_iter()
        .filter(|a| a.permanent_global)
        .collect())
}

/// In the container's network namespace: addresses back, links up.
fn set_up_inside(
    moved: &[(&NetDevice, Vec<LinkAddress>)],
    netns: &Path,
) -> Result<(), ProcessError> {
    let sock = RouteSocket::open().map_err(failed(moved[0].0, netns, "netlink socket"))?;
    for (device, addresses) in moved {
        let fail = |what| failed(device, netns, what);
        let index = sock
            .link_index(&device.name)
            .map_err(fail("link not found in the container"))?;
        for address in addresses {
            sock.add_address(index, address)
                .map_err(fail("fail to set up address"))?;
        }
        sock.set_up(index, true)
            .map_err(fail("fail to set up interface"))?;
    }
    Ok(())
}

/// Where the devices go: init's new network namespace, or the one given
/// by path that it joins.
pub(crate) fn target_netns(ns: &crate::Namespaces, pid: i32) -> Option<PathBuf> {
    if ns.has_new(CloneFlags::CLONE_NEWNET) {
        return Some(PathBuf::from(format!("/proc/{pid}/ns/net")));
    }
    ns.join
        .iter()
        .find(|(flag, _)| *flag == CloneFlags::CLONE_NEWNET)
        .map(|(_, path)| path.clone())
}
