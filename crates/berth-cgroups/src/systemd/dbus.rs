//! A small D-Bus client for the few systemd calls the driver makes: a blocking
//! unix-socket connection to the system bus (root) or the user's own bus
//! (rootless: the user's systemd instance) with `EXTERNAL` authentication,
//! method calls with the handful of argument types systemd's Manager takes,
//! string properties of the Manager, and the `JobRemoved` signal. Little-endian messages only (what every x86 and arm
//! host's bus speaks); see docs/architecture.md for why not a D-Bus crate.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The system bus when `DBUS_SYSTEM_BUS_ADDRESS` does not name another one.
const SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";

/// How long to wait for a reply or a job (runc's 30 s).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const SIGNAL: u8 = 4;

/// A D-Bus failure: the socket, the protocol, or an error reply.
#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    /// No user bus to connect to (rootless).
    #[error(
        "no user bus: neither DBUS_SESSION_BUS_ADDRESS (a unix:path= address), \
         $XDG_RUNTIME_DIR/bus nor `systemctl --user show-environment` gives one (hint: for rootless containers the user's \
         systemd instance and the dbus-user-session package are needed)"
    )]
    NoUserBus,
    /// The uid that owns the user bus could not be found (in a user namespace).
    #[error(
        "could not detect the OwnerUID of the user bus with `busctl --user --no-pager status`: {0}"
    )]
    OwnerUid(String),
    #[error("{what}")]
    Io { what: String, source: io::Error },
    #[error("D-Bus protocol: {0}")]
    Protocol(String),
    /// An error reply, e.g. `org.freedesktop.systemd1.NoSuchUnit`.
    #[error("{name}: {message}")]
    Remote { name: String, message: String },
}

impl DbusError {
    /// The error reply's name, if this is one.
    pub fn remote_name(&self) -> Option<&str> {
        match self {
            Self::Remote { name, .. } => Some(name),
            _ => None,
        }
    }
}

fn io_error(what: &str) -> impl FnOnce(io::Error) -> DbusError + '_ {
    move |source| DbusError::Io {
        what: what.to_string(),
        source,
    }
}

/// A value inside a variant (`v`): the types systemd's unit properties use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    U64(u64),
    Str(String),
    Strs(Vec<String>),
    U32s(Vec<u32>),
    Bytes(Vec<u8>),
    /// `a(ss)`, e.g. `DeviceAllow`.
    StrPairs(Vec<(String, String)>),
}

impl Value {
    fn signature(&self) -> &'static str {
        match self {
            Value::Bool(_) => "b",
            Value::U64(_) => "t",
            Value::Str(_) => "s",
            Value::Strs(_) => "as",
            Value::U32s(_) => "au",
            Value::Bytes(_) => "ay",
            Value::StrPairs(_) => "a(ss)",
        }
    }
}

/// Marshals values into a message part that starts 8-aligned.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.pad(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.u32(u32::from(v));
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn signature(&mut self, s: &str) {
        self.u8(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// An array whose elements align to `align`; `items` writes them.
    pub(crate) fn array(&mut self, align: usize, items: impl FnOnce(&mut Writer)) {
        self.u32(0);
        let len_at = self.buf.len() - 4;
        self.pad(align);
        let start = self.buf.len();
        items(self);
        let len = (self.buf.len() - start) as u32;
        self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }

    fn variant(&mut self, v: &Value) {
        self.signature(v.signature());
        match v {
            Value::Bool(b) => self.bool(*b),
            Value::U64(n) => self.u64(*n),
            Value::Str(s) => self.str(s),
            Value::Strs(list) => self.array(4, |w| list.iter().for_each(|s| w.str(s))),
            Value::U32s(list) => self.array(4, |w| list.iter().for_each(|n| w.u32(*n))),
            Value::Bytes(bytes) => self.array(1, |w| w.buf.extend_from_slice(bytes)),
            Value::StrPairs(pairs) => self.array(8, |w| {
                for (a, b) in pairs {
                    w.pad(8);
                    w.str(a);
                    w.str(b);
                }
            }),
        }
    }

    /// `a(sv)`: unit properties.
    pub(crate) fn properties(&mut self, props: &[(&str, Value)]) {
        self.array(8, |w| {
            for (name, value) in props {
                w.pad(8);
                w.str(name);
                w.variant(value);
            }
        });
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads values from a message part that starts 8-aligned.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DbusError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| DbusError::Protocol("truncated message".into()))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn align(&mut self, align: usize) -> Result<(), DbusError> {
        let padding = (align - self.pos % align) % align;
        self.take(padding).map(|_| ())
    }

    fn u8(&mut self) -> Result<u8, DbusError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DbusError> {
        self.align(4)?;
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn text(&mut self, len: usize) -> Result<String, DbusError> {
        let bytes = self.take(len + 1)?;
        String::from_utf8(bytes[..len].to_vec())
            .map_err(|_| DbusError::Protocol("a string that is not UTF-8".into()))
    }

    fn str(&mut self) -> Result<String, DbusError> {
        let len = self.u32()? as usize;
        self.text(len)
    }

    fn signature(&mut self) -> Result<String, DbusError> {
        let len = usize::from(self.u8()?);
        self.text(len)
    }
}

/// A received message: what the driver looks at.
#[derive(Debug, Default)]
pub(crate) struct Message {
    kind: u8,
    reply_serial: Option<u32>,
    error_name: Option<String>,
    interface: Option<String>,
    member: Option<String>,
    signature: String,
    body: Vec<u8>,
}

impl Message {
    /// The body's variant holding a string (`v` of `s`), as
    /// `Properties.Get` returns one.
    fn variant_string(&self) -> Option<String> {
        if self.signature != "v" {
            return None;
        }
        let mut r = Reader::new(&self.body);
        match r.signature().ok()?.as_str() {
            "s" | "o" => r.str().ok(),
            _ => None,
        }
    }

    /// The body's leading string arguments (`s`/`o`), as many as there are.
    fn leading_strings(&self) -> Vec<String> {
        let mut r = Reader::new(&self.body);
        let mut out = Vec::new();
        for c in self.signature.chars() {
            let value = match c {
                's' | 'o' => r.str(),
                'u' => r.u32().map(|n| n.to_string()),
                _ => break,
            };
            match value {
                Ok(v) => out.push(v),
                Err(_) => break,
            }
        }
        out
    }

    fn is_job_removed(&self) -> bool {
        self.kind == SIGNAL
            && self.interface.as_deref() == Some(MANAGER_INTERFACE)
            && self.member.as_deref() == Some("JobRemoved")
    }
}

pub(crate) const SYSTEMD: &str = "org.freedesktop.systemd1";
pub(crate) const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
pub(crate) const MANAGER_INTERFACE: &str = "org.freedesktop.systemd1.Manager";

/// A connection to the system bus or a user's bus.
pub(crate) struct Bus {
    stream: BufReader<UnixStream>,
    /// `system bus` or `user bus`, for error messages.
    name: &'static str,
    serial: u32,
    /// `JobRemoved` signals read while waiting for a reply: (job path, result).
    removed_jobs: Vec<(String, String)>,
    /// systemd's major version, once read.
    version: Option<u32>,
}

impl Bus {
    /// The system bus (`user_uid` `None`), authenticated as our euid, or
    /// the user bus (rootless) authenticated as `user_uid`.
    pub(crate) fn open(user_uid: Option<u32>) -> Result<Bus, DbusError> {
        match user_uid {
            None => {
                let euid = nix::unistd::geteuid().as_raw();
                Bus::connect(&system_bus_path(), "system bus", euid)
            }
            Some(uid) => Bus::connect(&user_bus_path()?, "user bus", uid),
        }
    }

    /// Connects to the bus at `path`, authenticates as `uid` and says Hello.
    fn connect(path: &str, name: &'static str, uid: u32) -> Result<Bus, DbusError> {
        let stream = UnixStream::connect(path)
            .map_err(io_error(&format!("connecting to the {name} at {path}")))?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .map_err(io_error("setting the D-Bus socket timeout"))?;
        let mut bus = Bus {
            stream: BufReader::new(stream),
            name,
            serial: 0,
            removed_jobs: Vec::new(),
            version: None,
        };
        bus.authenticate(uid)?;
        bus.call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            "",
            Vec::new(),
        )?;
        Ok(bus)
    }

    fn authenticate(&mut self, uid: u32) -> Result<(), DbusError> {
        let uid = uid.to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        let hello = format!("\0AUTH EXTERNAL {hex}\r\n");
        let what = format!("authenticating on the {}", self.name);
        self.write_all(hello.as_bytes(), &what)?;
        let mut line = String::new();
        self.stream
            .read_line(&mut line)
            .map_err(io_error("reading the bus's answer to AUTH"))?;
        if !line.starts_with("OK ") {
            return Err(DbusError::Protocol(format!(
                "the {} refused EXTERNAL authentication as uid {uid}: {}",
                self.name,
                line.trim_end()
            )));
        }
        self.write_all(b"BEGIN\r\n", &what)
    }

    fn write_all(&mut self, bytes: &[u8], what: &str) -> Result<(), DbusError> {
        self.stream
            .get_mut()
            .write_all(bytes)
            .map_err(io_error(what))
    }

    /// Calls a method and returns its reply's leading string arguments; an
    /// error reply becomes [`DbusError::Remote`].
    pub(crate) fn call(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        signature: &str,
        body: Vec<u8>,
    ) -> Result<Vec<String>, DbusError> {
        let reply = self.call_for_reply(destination, path, interface, member, signature, body)?;
        Ok(reply.leading_strings())
    }

    /// Calls a method and returns its reply; an error reply becomes
    /// [`DbusError::Remote`].
    fn call_for_reply(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        signature: &str,
        body: Vec<u8>,
    ) -> Result<Message, DbusError> {
        self.serial += 1;
        let serial = self.serial;
        let message = method_call(
            serial,
            [destination, path, interface, member],
            signature,
            &body,
        );
        self.write_all(&message, &format!("sending {member} on the {}", self.name))?;
        loop {
            let reply = self.read_message()?;
            if reply.is_job_removed() {
                self.note_removed_job(&reply);
                continue;
            }
            if reply.reply_serial != Some(serial) {
                continue;
            }
            return match reply.kind {
                METHOD_RETURN => Ok(reply),
                ERROR => Err(DbusError::Remote {
                    name: reply.error_name.clone().unwrap_or_default(),
                    message: reply
                        .leading_strings()
                        .into_iter()
                        .next()
                        .unwrap_or_default(),
                }),
                _ => continue,
            };
        }
    }

    /// Calls a method on systemd's Manager.
    pub(crate) fn call_manager(
        &mut self,
        member: &str,
        signature: &str,
        body: Writer,
    ) -> Result<Vec<String>, DbusError> {
        self.call(
            SYSTEMD,
            MANAGER_PATH,
            MANAGER_INTERFACE,
            member,
            signature,
            body.into_bytes(),
        )
    }

    /// A string property of systemd's Manager (`Version`, `ControlGroup`).
    pub(crate) fn manager_property(&mut self, name: &str) -> Result<String, DbusError> {
        let mut body = Writer::default();
        body.str(MANAGER_INTERFACE);
        body.str(name);
        let reply = self.call_for_reply(
            SYSTEMD,
            MANAGER_PATH,
            "org.freedesktop.DBus.Properties",
            "Get",
            "ss",
            body.into_bytes(),
        )?;
        reply
            .variant_string()
            .ok_or_else(|| DbusError::Protocol(format!("the Manager's {name} is not a string")))
    }

    /// systemd's major version (the Manager's `Version`, `252.39-1~deb12u2`
    /// is 252), read once per connection; 0 when it cannot be read, so that
    /// what needs a newer systemd is left out, as runc does.
    pub(crate) fn systemd_version(&mut self) -> u32 {
        if let Some(v) = self.version {
            return v;
        }
        let v = self
            .manager_property("Version")
            .ok()
            .and_then(|text| major_version(&text))
            .unwrap_or(0);
        self.version = Some(v);
        v
    }

    /// Asks the bus for systemd's `JobRemoved` signals (before a job starts, so
    /// that none is missed).
    pub(crate) fn watch_jobs(&mut self) -> Result<(), DbusError> {
        let rule = format!(
            "type='signal',sender='{SYSTEMD}',path='{MANAGER_PATH}',\
             interface='{MANAGER_INTERFACE}',member='JobRemoved'"
        );
        let mut w = Writer::default();
        w.str(&rule);
        self.call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "AddMatch",
            "s",
            w.into_bytes(),
        )
        .map(|_| ())
    }

    /// Waits for the `JobRemoved` signal of `job` and returns its result
    /// (`done`, `failed`, `canceled`, `timeout`, `dependency`, `skipped`).
    pub(crate) fn wait_for_job(&mut self, job: &str) -> Result<String, DbusError> {
        loop {
            if let Some(i) = self.removed_jobs.iter().position(|(j, _)| j == job) {
                return Ok(self.removed_jobs.swap_remove(i).1);
            }
            let message = self.read_message()?;
            if message.is_job_removed() {
                self.note_removed_job(&message);
            }
        }
    }

    /// `JobRemoved(u id, o job, s unit, s result)`.
    fn note_removed_job(&mut self, message: &Message) {
        if let [_, job, _, result, ..] = message.leading_strings().as_slice() {
            self.removed_jobs.push((job.clone(), result.clone()));
        }
    }

    fn read_message(&mut self) -> Result<Message, DbusError> {
        let mut fixed = [0u8; 16];
        self.read_exact(&mut fixed)?;
        if fixed[0] != b'l' {
            return Err(DbusError::Protocol(
                "a big-endian message (only little-endian is implemented)".into(),
            ));
        }
        let word =
            |i: usize| u32::from_le_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
        let (body_len, fields_len) = (word(4) as usize, word(12) as usize);
        if body_len > 1 << 27 || fields_len > 1 << 26 {
            return Err(DbusError::Protocol("message too long".into()));
        }
        let padded_fields = fields_len.div_ceil(8) * 8;
        let mut rest = vec![0u8; padded_fields + body_len];
        self.read_exact(&mut rest)?;
        let mut header = Vec::with_capacity(16 + fields_len);
        header.extend_from_slice(&fixed);
        header.extend_from_slice(&rest[..fields_len]);
        let mut message = parse_header_fields(&header)?;
        message.kind = fixed[1];
        message.body = rest.split_off(padded_fields);
        Ok(message)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), DbusError> {
        self.stream.read_exact(buf).map_err(|e| {
            let what = match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    format!("no answer from systemd within {}s", TIMEOUT.as_secs())
                }
                _ => format!("reading from the {}", self.name),
            };
            DbusError::Io { what, source: e }
        })
    }
}

/// `unix:path=...` of `DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket.
fn system_bus_path() -> String {
    unix_path(&std::env::var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_default())
        .unwrap_or_else(|| SYSTEM_BUS_SOCKET.to_string())
}

/// The user bus as runc finds it: `unix:path=...` of
/// `DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus` if it exists,
/// else the address in the user manager's environment.
fn user_bus_path() -> Result<String, DbusError> {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(address) = var("DBUS_SESSION_BUS_ADDRESS") {
        return unix_path(&address).ok_or(DbusError::NoUserBus);
    }
    var("XDG_RUNTIME_DIR")
        .map(|dir| format!("{dir}/bus"))
        .filter(|path| std::path::Path::new(path).exists())
        .or_else(bus_path_of_user_manager)
        .ok_or(DbusError::NoUserBus)
}

/// runc's last resort: `DBUS_SESSION_BUS_ADDRESS` as the user's systemd
/// has it (`systemctl --user show-environment`).
fn bus_path_of_user_manager() -> Option<String> {
    let out = std::process::Command::new("systemctl")
        .args(["--user", "--no-pager", "show-environment"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    bus_path_in_environment(&String::from_utf8_lossy(&out.stdout))
}

/// The `unix:path=` of `DBUS_SESSION_BUS_ADDRESS=...` in `KEY=value` lines.
fn bus_path_in_environment(environment: &str) -> Option<String> {
    environment
        .lines()
        .find_map(|l| l.strip_prefix("DBUS_SESSION_BUS_ADDRESS="))
        .and_then(unix_path)
}

/// The socket path of a D-Bus address's first `unix:path=` entry.
fn unix_path(address: &str) -> Option<String> {
    address
        .split(';')
        .filter_map(|a| a.strip_prefix("unix:"))
        .flat_map(|a| a.split(','))
        .find_map(|kv| kv.strip_prefix("path="))
        .map(str::to_string)
}

/// The uid to authenticate as on the user bus: the real uid, or in a user
/// namespace (rootless podman runs the runtime as its root there) the uid
/// that owns the bus, as `busctl --user status` shows it (runc's
/// `DetectUID`).
pub fn user_bus_uid() -> Result<u32, DbusError> {
    if !berth_sys::process::running_in_user_namespace() {
        return Ok(nix::unistd::getuid().as_raw());
    }
    let out = std::process::Command::new("busctl")
        .args(["--user", "--no-pager", "status"])
        .output()
        .map_err(|e| DbusError::OwnerUid(e.to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    owner_uid_from(&text).ok_or_else(|| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        DbusError::OwnerUid(format!("{} {}", out.status, stderr.trim()))
    })
}

/// `OwnerUID=N` of `busctl status` output.
fn owner_uid_from(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.trim().strip_prefix("OwnerUID="))
        .and_then(|uid| uid.parse().ok())
}

/// The first number in systemd's version text (`v245.4-1.fc32`, `252`).
fn major_version(text: &str) -> Option<u32> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A whole method-call message: header (destination, path, interface,
/// member, signature) and body.
fn method_call(serial: u32, names: [&str; 4], signature: &str, body: &[u8]) -> Vec<u8> {
    let [destination, path, interface, member] = names;
    let mut w = Writer::default();
    w.u8(b'l');
    w.u8(METHOD_CALL);
    w.u8(0);
    w.u8(1);
    w.u32(body.len() as u32);
    w.u32(serial);
    w.array(8, |w| {
        let mut field = |code: u8, sig: &str, value: &str| {
            w.pad(8);
            w.u8(code);
            w.signature(sig);
            if sig == "g" {
                w.signature(value);
            } else {
                w.str(value);
            }
        };
        field(1, "o", path);
        field(2, "s", interface);
        field(3, "s", member);
        field(6, "s", destination);
        if !signature.is_empty() {
            field(8, "g", signature);
        }
    });
    w.pad(8);
    w.buf.extend_from_slice(body);
    w.buf
}

/// The header fields the driver needs from a received message's header.
fn parse_header_fields(header: &[u8]) -> Result<Message, DbusError> {
    let mut r = Reader::new(header);
    r.take(16)?;
    let mut message = Message::default();
    while r.pos < header.len() {
        r.align(8)?;
        let code = r.u8()?;
        let sig = r.signature()?;
        let (text, number) = match sig.as_str() {
            "s" | "o" => (r.str()?, None),
            "g" => (r.signature()?, None),
            "u" => (String::new(), Some(r.u32()?)),
            other => {
                return Err(DbusError::Protocol(format!(
                    "header field {code} of type {other:?}"
                )))
            }
        };
        match code {
            2 => message.interface = Some(text),
            3 => message.member = Some(text),
            4 => message.error_name = Some(text),
            5 => message.reply_serial = number,
            8 => message.signature = text,
            _ => {}
        }
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_marshal_as_dbus_does() {
        let mut w = Writer::default();
        w.properties(&[
            ("Delegate", Value::Bool(true)),
            ("MemoryMax", Value::U64(67_108_864)),
            ("PIDs", Value::U32s(vec![42])),
        ]);
        let bytes = w.into_bytes();
        // array length, then 8-aligned structs: "Delegate" b true ...
        assert_eq!(&bytes[..4], &(bytes.len() as u32 - 8).to_le_bytes());
        assert_eq!(&bytes[8..12], &8u32.to_le_bytes());
        assert_eq!(&bytes[12..21], b"Delegate\0");
        assert_eq!(&bytes[21..24], b"\x01b\0");
        assert_eq!(&bytes[24..28], &1u32.to_le_bytes());
        // "MemoryMax" starts at 32 (8-aligned), its u64 at 8-aligned 56
        assert_eq!(&bytes[32..36], &9u32.to_le_bytes());
        assert_eq!(&bytes[36..46], b"MemoryMax\0");
        assert_eq!(&bytes[46..49], b"\x01t\0");
        assert_eq!(&bytes[56..64], &67_108_864u64.to_le_bytes());
        assert_eq!(&bytes[bytes.len() - 8..], &[4, 0, 0, 0, 42, 0, 0, 0]);
    }

    #[test]
    fn a_method_call_round_trips_through_the_header_parser() {
        let mut body = Writer::default();
        body.str("kit-a.scope");
        let message = method_call(
            7,
            [SYSTEMD, MANAGER_PATH, MANAGER_INTERFACE, "GetUnit"],
            "s",
            &body.into_bytes(),
        );
        assert_eq!(message.len() % 8, 0);
        let fields_len = u32::from_le_bytes(message[12..16].try_into().unwrap()) as usize;
        let parsed = parse_header_fields(&message[..16 + fields_len]).unwrap();
        assert_eq!(parsed.member.as_deref(), Some("GetUnit"));
        assert_eq!(parsed.interface.as_deref(), Some(MANAGER_INTERFACE));
        assert_eq!(parsed.signature, "s");
        let body_at = (16 + fields_len).div_ceil(8) * 8;
        let reply = Message {
            signature: "s".into(),
            body: message[body_at..].to_vec(),
            ..Message::default()
        };
        assert_eq!(reply.leading_strings(), ["kit-a.scope"]);
    }

    #[test]
    fn job_removed_arguments_are_read_in_order() {
        let mut w = Writer::default();
        w.u32(12);
        w.str("/org/freedesktop/systemd1/job/12");
        w.str("kit-a.scope");
        w.str("done");
        let m = Message {
            kind: SIGNAL,
            interface: Some(MANAGER_INTERFACE.into()),
            member: Some("JobRemoved".into()),
            signature: "uoss".into(),
            body: w.into_bytes(),
            ..Message::default()
        };
        assert!(m.is_job_removed());
        assert_eq!(
            m.leading_strings(),
            [
                "12",
                "/org/freedesktop/systemd1/job/12",
                "kit-a.scope",
                "done"
            ]
        );
    }

    #[test]
    fn the_bus_path_comes_from_a_unix_address() {
        assert_eq!(unix_path(""), None);
        assert_eq!(
            unix_path("unix:path=/x/bus,guid=1").as_deref(),
            Some("/x/bus")
        );
        assert_eq!(unix_path("tcp:host=a;unix:path=/y").as_deref(), Some("/y"));
        assert_eq!(unix_path("unix:abstract=z"), None);
    }

    #[test]
    fn systemd_versions_are_their_first_number() {
        for (text, major) in [
            ("252.39-1~deb12u2", 252),
            ("v245.4-1.fc32", 245),
            ("245", 245),
            ("v241-1.fc30", 241),
        ] {
            assert_eq!(major_version(text), Some(major), "{text}");
        }
        assert_eq!(major_version("unknown"), None);
    }

    #[test]
    fn the_bus_is_read_from_the_user_managers_environment() {
        let env = "HOME=/home/u\nDBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus\nLANG=C\n";
        assert_eq!(
            bus_path_in_environment(env).as_deref(),
            Some("/run/user/1000/bus")
        );
        assert_eq!(bus_path_in_environment("HOME=/home/u\n"), None);
        let abstract_only = "DBUS_SESSION_BUS_ADDRESS=unix:abstract=/tmp/dbus-x\n";
        assert_eq!(bus_path_in_environment(abstract_only), None);
    }

    #[test]
    fn the_owner_uid_is_read_from_busctl_status() {
        let status = "PID=1234\nPPID=1\nUID=1000\n    OwnerUID=1000\nEUID=1000\n";
        assert_eq!(owner_uid_from(status), Some(1000));
        assert_eq!(owner_uid_from("PID=1\n"), None);
    }

    #[test]
    fn a_property_reply_is_a_string_in_a_variant() {
        let mut w = Writer::default();
        w.variant(&Value::Str(
            "/user.slice/user-1000.slice/user@1000.service".into(),
        ));
        let reply = Message {
            signature: "v".into(),
            body: w.into_bytes(),
            ..Message::default()
        };
        assert_eq!(
            reply.variant_string().as_deref(),
            Some("/user.slice/user-1000.slice/user@1000.service")
        );
    }
}
