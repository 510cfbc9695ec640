//! Translation of fstab-style mount options into mount(2) flags, data,
//! propagation changes and recursive (mount_setattr) attributes.

use berth_sys::mount::{
    MountAttr, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME,
    MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME,
};
use nix::mount::MsFlags;

/// `MS_NOSYMFOLLOW` (Linux 5.10), which nix does not name.
pub const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW);

/// One entry of a flag table: the option, whether it clears the flag, the flag.
struct FlagOption<T: 'static> {
    name: &'static str,
    clear: bool,
    flag: T,
}

const fn set<T>(name: &'static str, flag: T) -> FlagOption<T> {
    FlagOption {
        name,
        clear: false,
        flag,
    }
}

const fn clear<T>(name: &'static str, flag: T) -> FlagOption<T> {
    FlagOption {
        name,
        clear: true,
        flag,
    }
}

/// Options that set or clear a mount(2) flag (runc's table).
const MOUNT_FLAGS: &[FlagOption<MsFlags>] = &[
    set("acl", MsFlags::MS_POSIXACL),
    clear("async", MsFlags::MS_SYNCHRONOUS),
    clear("atime", MsFlags::MS_NOATIME),
    set("bind", MsFlags::MS_BIND),
    set("defaults", MsFlags::empty()),
    clear("dev", MsFlags::MS_NODEV),
    clear("diratime", MsFlags::MS_NODIRATIME),
    set("dirsync", MsFlags::MS_DIRSYNC),
    clear("exec", MsFlags::MS_NOEXEC),
    set("iversion", MsFlags::MS_I_VERSION),
    set("lazytime", MsFlags::MS_LAZYTIME),
    clear("loud", MsFlags::MS_SILENT),
    set("mand", MsFlags::MS_MANDLOCK),
    clear("noacl", MsFlags::MS_POSIXACL),
    set("noatime", MsFlags::MS_NOATIME),
    set("nodev", MsFlags::MS_NODEV),
    set("nodiratime", MsFlags::MS_NODIRATIME),
    set("noexec", MsFlags::MS_NOEXEC),
    clear("noiversion", MsFlags::MS_I_VERSION),
    clear("nolazytime", MsFlags::MS_LAZYTIME),
    clear("nomand", MsFlags::MS_MANDLOCK),
    clear("norelatime", MsFlags::MS_RELATIME),
    clear("nostrictatime", MsFlags::MS_STRICTATIME),
    set("nosuid", MsFlags::MS_NOSUID),
    set("nosymfollow", MS_NOSYMFOLLOW),
    set("rbind", MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    set("relatime", MsFlags::MS_RELATIME),
    set("remount", MsFlags::MS_REMOUNT),
    set("ro", MsFlags::MS_RDONLY),
    clear("rw", MsFlags::MS_RDONLY),
    set("silent", MsFlags::MS_SILENT),
    set("strictatime", MsFlags::MS_STRICTATIME),
    clear("suid", MsFlags::MS_NOSUID),
    set("sync", MsFlags::MS_SYNCHRONOUS),
    clear("symfollow", MS_NOSYMFOLLOW),
];

/// Options that change mount propagation, applied after the mount.
const PROPAGATION: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// Recursive attributes, applied with mount_setattr(AT_RECURSIVE).
const RECURSIVE_ATTRS: &[FlagOption<u64>] = &[
    set("rro", MOUNT_ATTR_RDONLY),
    clear("rrw", MOUNT_ATTR_RDONLY),
    set("rnosuid", MOUNT_ATTR_NOSUID),
    clear("rsuid", MOUNT_ATTR_NOSUID),
    set("rnodev", MOUNT_ATTR_NODEV),
    clear("rdev", MOUNT_ATTR_NODEV),
    set("rnoexec", MOUNT_ATTR_NOEXEC),
    clear("rexec", MOUNT_ATTR_NOEXEC),
    set("rnodiratime", MOUNT_ATTR_NODIRATIME),
    clear("rdiratime", MOUNT_ATTR_NODIRATIME),
    set("rrelatime", MOUNT_ATTR_RELATIME),
    clear("rnorelatime", MOUNT_ATTR_RELATIME),
    set("rnoatime", MOUNT_ATTR_NOATIME),
    clear("ratime", MOUNT_ATTR_NOATIME),
    set("rstrictatime", MOUNT_ATTR_STRICTATIME),
    clear("rnostrictatime", MOUNT_ATTR_STRICTATIME),
    set("rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW),
    clear("rsymfollow", MOUNT_ATTR_NOSYMFOLLOW),
];

/// Options that ask for an idmapped mount.
const IDMAP_OPTIONS: &[&str] = &["idmap", "ridmap"];

/// The option that asks tmpfs to be populated with the destination's content.
const TMPCOPYUP: &str = "tmpcopyup";

/// A recursive attribute change and the first option that asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecursiveAttr {
    /// What mount_setattr(AT_RECURSIVE) applies.
    pub attr: MountAttr,
    /// The first recursive option, for error messages.
    pub first_option: String,
}

/// The parsed options of one mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for mount(2).
    pub flags: MsFlags,
    /// Propagation changes, in order.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes, if any r* option was given.
    pub recursive: Option<RecursiveAttr>,
    /// Filesystem-specific options, joined with "," as mount(2) data.
    pub data: Vec<String>,
    /// `tmpcopyup` was given.
    pub tmpcopyup: bool,
    /// `idmap` or `ridmap` was given (the option's name).
    pub idmap: Option<String>,
}

impl MountOptions {
    /// Parses options in order; later options override earlier ones, and any
    /// option not known here is filesystem data.
    pub fn parse<S: AsRef<str>>(options: &[S]) -> MountOptions {
        let mut parsed = MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            recursive: None,
            data: Vec::new(),
            tmpcopyup: false,
            idmap: None,
        };
        for option in options {
            parsed.apply(option.as_ref());
        }
        parsed
    }

    fn apply(&mut self, option: &str) {
        if let Some(f) = MOUNT_FLAGS.iter().find(|f| f.name == option) {
            self.flags.set(f.flag, !f.clear);
        } else if let Some((_, p)) = PROPAGATION.iter().find(|(name, _)| *name == option) {
            self.propagation.push(*p);
        } else if let Some(f) = RECURSIVE_ATTRS.iter().find(|f| f.name == option) {
            self.apply_recursive(option, f);
        } else if option == TMPCOPYUP {
            self.tmpcopyup = true;
        } else if IDMAP_OPTIONS.contains(&option) {
            self.idmap = Some(option.to_string());
        } else {
            self.data.push(option.to_string());
        }
    }

    fn apply_recursive(&mut self, option: &str, f: &FlagOption<u64>) {
        let rec = self.recursive.get_or_insert_with(|| RecursiveAttr {
            attr: MountAttr::default(),
            first_option: option.to_string(),
        });
        let attr = &mut rec.attr;
        if f.clear {
            attr.attr_clr |= f.flag;
            attr.attr_set &= !f.flag;
        } else {
            attr.attr_set |= f.flag;
            attr.attr_clr &= !f.flag;
            // mount_setattr(2): an access-time mode in attr_set needs the
            // whole MOUNT_ATTR__ATIME field in attr_clr.
            if f.flag & MOUNT_ATTR__ATIME == f.flag {
                attr.attr_clr |= MOUNT_ATTR__ATIME;
            }
        }
    }

    /// The data argument of mount(2).
    pub fn data_string(&self) -> String {
        self.data.join(",")
    }

    /// `bind` or `rbind` was given.
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// `rbind` was given.
    pub fn is_recursive_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND | MsFlags::MS_REC)
    }

    /// The data carries a `mode=` option.
    pub fn has_mode(&self) -> bool {
        self.data.iter().any(|d| d.starts_with("mode="))
    }

    /// The numbers of the data options `key=N` (`uid=5`); values that are
    /// no number are left out.
    pub fn numeric_data<'a>(&'a self, key: &'a str) -> impl Iterator<Item = u32> + 'a {
        self.data
            .iter()
            .filter_map(move |d| d.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
    }

    /// A bind mount needs a remount when it asks for any flag besides
    /// bind/rec/remount (bind(2) ignores the others).
    pub fn bind_needs_remount(&self) -> bool {
        !(self.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)).is_empty()
    }
}

/// Every option name this module turns into something other than data
/// (flags, propagation, recursive attributes, tmpcopyup, idmap/ridmap).
pub fn supported_option_names() -> impl Iterator<Item = &'static str> {
    MOUNT_FLAGS
        .iter()
        .map(|f| f.name)
        .chain(PROPAGATION.iter().map(|(name, _)| *name))
        .chain(RECURSIVE_ATTRS.iter().map(|f| f.name))
        .chain(std::iter::once(TMPCOPYUP))
        .chain(IDMAP_OPTIONS.iter().copied())
}

/// Maps a propagation name (linux.rootfsPropagation) to its flags; "" and
/// unknown names give None.
pub fn propagation_flags(name: &str) -> Option<MsFlags> {
    PROPAGATION
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, flags)| *flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> MountOptions {
        MountOptions::parse(opts)
    }

    #[test]
    fn default_spec_proc_and_dev_options() {
        let dev = parse(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(dev.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(dev.data_string(), "mode=755,size=65536k");
        assert!(dev.has_mode());
        let pts = parse(&[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]);
        assert_eq!(pts.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(
            pts.data_string(),
            "newinstance,ptmxmode=0666,mode=0620,gid=5"
        );
    }

    #[test]
    fn every_flag_option_sets_or_clears() {
        for f in MOUNT_FLAGS {
            let on = parse(&[f.name]);
            if f.clear {
                assert!(on.flags.is_empty(), "{}", f.name);
                let base: Vec<&str> = vec![
                    "ro",
                    "nosuid",
                    "nodev",
                    "noexec",
                    "sync",
                    "noatime",
                    "nodiratime",
                    "silent",
                    "mand",
                    "iversion",
                    "lazytime",
                    "relatime",
                    "strictatime",
                    "nosymfollow",
                    "acl",
                    f.name,
                ];
                assert!(!parse(&base).flags.intersects(f.flag), "{}", f.name);
            } else {
                assert_eq!(on.flags, f.flag, "{}", f.name);
            }
            assert!(on.data.is_empty());
        }
    }

    #[test]
    fn later_option_wins() {
        assert_eq!(parse(&["ro", "rw"]).flags, MsFlags::empty());
        assert_eq!(parse(&["rw", "ro"]).flags, MsFlags::MS_RDONLY);
        assert_eq!(
            parse(&["nosuid", "suid", "nosuid"]).flags,
            MsFlags::MS_NOSUID
        );
    }

    #[test]
    fn bind_and_rbind() {
        let b = parse(&["bind", "ro"]);
        assert!(b.is_bind() && !b.is_recursive_bind() && b.bind_needs_remount());
        let rb = parse(&["rbind"]);
        assert!(rb.is_recursive_bind() && !rb.bind_needs_remount());
        assert!(!parse(&["nosuid"]).is_bind());
    }

    #[test]
    fn propagation_in_order() {
        let p = parse(&["rbind", "rslave", "shared", "runbindable", "private"]);
        assert_eq!(
            p.propagation,
            vec![
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                MsFlags::MS_SHARED,
                MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
                MsFlags::MS_PRIVATE,
            ]
        );
        assert_eq!(
            propagation_flags("rshared"),
            Some(MsFlags::MS_SHARED | MsFlags::MS_REC)
        );
        assert_eq!(propagation_flags(""), None);
        assert_eq!(propagation_flags("bogus"), None);
    }

    #[test]
    fn recursive_attrs() {
        let r = parse(&["rbind", "rro", "rnosuid", "rdev"])
            .recursive
            .unwrap();
        assert_eq!(r.first_option, "rro");
        assert_eq!(r.attr.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
        assert_eq!(r.attr.attr_clr, MOUNT_ATTR_NODEV);
        let undo = parse(&["rro", "rrw"]).recursive.unwrap();
        assert_eq!(undo.attr.attr_set, 0);
        assert_eq!(undo.attr.attr_clr, MOUNT_ATTR_RDONLY);
        assert!(parse(&["ro"]).recursive.is_none());
    }

    #[test]
    fn recursive_atime_clears_atime_field() {
        let r = parse(&["rnoatime"]).recursive.unwrap().attr;
        assert_eq!(r.attr_set, MOUNT_ATTR_NOATIME);
        assert_eq!(r.attr_clr, MOUNT_ATTR__ATIME);
        let s = parse(&["rstrictatime"]).recursive.unwrap().attr;
        assert_eq!(s.attr_set, MOUNT_ATTR_STRICTATIME);
        assert_eq!(s.attr_clr, MOUNT_ATTR__ATIME);
        let n = parse(&["rnodiratime"]).recursive.unwrap().attr;
        assert_eq!(n.attr_clr, 0);
    }

    #[test]
    fn every_recursive_option_is_known() {
        for f in RECURSIVE_ATTRS {
            let p = parse(&[f.name]);
            assert!(p.data.is_empty() && p.flags.is_empty(), "{}", f.name);
            assert!(p.recursive.is_some(), "{}", f.name);
        }
    }

    #[test]
    fn supported_names_cover_every_table() {
        let names: Vec<&str> = supported_option_names().collect();
        for name in [
            "rro",
            "tmpcopyup",
            "rslave",
            "idmap",
            "ridmap",
            "nosymfollow",
        ] {
            assert!(names.contains(&name), "{name}");
        }
        assert_eq!(
            names.len(),
            MOUNT_FLAGS.len() + PROPAGATION.len() + RECURSIVE_ATTRS.len() + 1 + IDMAP_OPTIONS.len()
        );
    }

    /// Every listed option really is taken by the parser: none of them ends
    /// up as filesystem data (what `features` promises).
    #[test]
    fn every_supported_name_is_parsed_not_passed_as_data() {
        for name in supported_option_names() {
            let parsed = parse(&[name]);
            assert!(parsed.data.is_empty(), "{name} was taken as data");
            let acted = !parsed.flags.is_empty()
                || !parsed.propagation.is_empty()
                || parsed.recursive.is_some()
                || parsed.tmpcopyup
                || parsed.idmap.is_some()
                || MOUNT_FLAGS.iter().any(|f| f.name == name);
            assert!(acted, "{name} has no effect");
        }
    }

    #[test]
    fn extensions_and_unknown_options() {
        let t = parse(&["tmpcopyup", "size=1m", "uid=5"]);
        assert!(t.tmpcopyup);
        assert_eq!(t.data_string(), "size=1m,uid=5");
        assert_eq!(parse(&["idmap"]).idmap.as_deref(), Some("idmap"));
        assert_eq!(parse(&["ridmap"]).idmap.as_deref(), Some("ridmap"));
        assert_eq!(parse(&["lowerdir=/a:/b", "upperdir=/u"]).data.len(), 2);
    }
}
