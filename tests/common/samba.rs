//! A throwaway Samba server for tests: `smbd` on 127.0.0.1 on an ephemeral port, with its own
//! config, state and share in a temp dir, and its own unix users (removed again on drop).
//!
//! Follows `shared/reference/SMB.md` section 1: no nmbd or winbindd, `disable netbios`, NT ACLs in
//! the `security.NTACL` xattr, DOS attributes in `user.DOSATTRIB`. Needs root and the Debian
//! packages `samba smbclient samba-common-bin acl`. Several tests may each start their own
//! server at once: ports, dirs and user names never collide.
//!
//! Readiness is an authenticated `smbclient ls` that succeeds (polled every 50 ms up to a
//! deadline), never a fixed sleep. Drop stops smbd (SIGTERM, then SIGKILL) and the
//! `samba-dcerpcd` it may have spawned for RPC, then deletes the users and the directory.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The share every fixture exports.
pub const SHARE: &str = "data";
/// NetBIOS name of the fixture server (its SAM domain on a standalone server).
pub const NETBIOS_NAME: &str = "TESTSRV";
const READY_DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unix + Samba account of one fixture.
#[derive(Debug, Clone)]
pub struct SambaUser {
    pub name: String,
    pub password: String,
}

/// A running smbd. See the module docs.
pub struct Samba {
    base: PathBuf,
    pub port: u16,
    users: Vec<SambaUser>,
    smbd: Option<Child>,
    domain_sid_set: bool,
    profiling: bool,
}

impl Samba {
    /// Starts a server with one user (see [`Samba::user`]). Panics with smbd's log when it
    /// cannot start: a test cannot go on without it.
    pub fn start() -> Samba {
        Self::start_with(false)
    }

    /// Like `start`, with smbd's profiling counters on, for [`Samba::wire_bytes`] (benches).
    pub fn start_profiled() -> Samba {
        Self::start_with(true)
    }

    fn start_with(profiling: bool) -> Samba {
        static REAP: Once = Once::new();
        REAP.call_once(reap_stale);
        let base = make_base_dir();
        let mut samba = Samba {
            base,
            // smb.conf must name a real port even for passdb commands (0 crashes its parser).
            port: free_port(),
            users: Vec::new(),
            smbd: None,
            domain_sid_set: false,
            profiling,
        };
        samba.add_user();
        samba.start_smbd();
        samba
    }

    /// SMB2 bytes (received, sent) by the server since it started, summed over all commands,
    /// from `smbstatus -P` (needs [`Samba::start_profiled`]). Frame headers are not counted.
    pub fn wire_bytes(&self) -> (u64, u64) {
        let text = self.smbstatus(&["-P"]);
        let mut totals = (0, 0);
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else { continue };
            let Ok(v) = value.trim().parse::<u64>() else { continue };
            if key.starts_with("smb2_") && key.ends_with("_inbytes") {
                totals.0 += v;
            } else if key.starts_with("smb2_") && key.ends_with("_outbytes") {
                totals.1 += v;
            }
        }
        totals
    }

    /// The first user, created by `start`.
    pub fn user(&self) -> &SambaUser {
        &self.users[0]
    }

    pub fn users(&self) -> &[SambaUser] {
        &self.users
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    pub fn conf(&self) -> PathBuf {
        self.base.join("etc/smb.conf")
    }

    /// The share's directory on disk (write test content here, or through SMB).
    pub fn share_dir(&self) -> PathBuf {
        self.base.join("share")
    }

    /// `\\127.0.0.1:port\data`.
    pub fn unc(&self) -> String {
        format!(r"\\127.0.0.1:{}\{SHARE}", self.port)
    }

    /// A new unix user known to this server's passdb, with a random-enough password.
    pub fn add_user(&mut self) -> SambaUser {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        // Unique across parallel test binaries (pid) and within one (sequence); <= 32 chars.
        let name = format!("sdt{:x}u{n}", std::process::id());
        let password = format!("Pw-{n}-{:x}!", std::process::id());
        retry_locked(|| {
            Command::new("useradd").args(["--no-create-home", "--shell", "/usr/sbin/nologin", &name]).output()
        });
        // Recorded at once, so that Drop removes the unix user even if what follows panics.
        let user = SambaUser { name, password };
        self.users.push(user.clone());
        let SambaUser { name, password } = &user;
        let conf = self.conf();
        write_conf(&self.base, self.port, self.profiling);
        let mut child = Command::new("smbpasswd")
            .arg("-c")
            .arg(&conf)
            .args(["-a", "-s", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run smbpasswd");
        if let Some(mut stdin) = child.stdin.take() {
            let _ = write!(stdin, "{password}\n{password}\n");
        }
        let out = child.wait_with_output().expect("smbpasswd");
        assert!(out.status.success(), "smbpasswd -a {name}: {}", String::from_utf8_lossy(&out.stderr));
        user
    }

    fn start_smbd(&mut self) {
        let mut last_log = String::new();
        // An ephemeral port is picked by binding and releasing it; another process may take it
        // in between, so a failed bind is retried on a fresh port.
        for _ in 0..5 {
            self.port = free_port();
            write_conf(&self.base, self.port, self.profiling);
            let log = std::fs::File::create(self.base.join("log/smbd.out")).expect("smbd log");
            let child = Command::new("smbd")
                .args(["--foreground", "--debug-stdout", "-s"])
                .arg(self.conf())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log fd"))
                .stderr(log)
                .spawn()
                .expect("spawn smbd (is samba installed?)");
            self.smbd = Some(child);
            match self.wait_ready() {
                Ok(()) => return,
                Err(log) => {
                    last_log = log;
                    self.stop();
                }
            }
        }
        panic!("smbd did not start:\n{last_log}");
    }

    /// Polls an authenticated `ls` until it succeeds; `Err(log)` if smbd died or the deadline
    /// passed.
    fn wait_ready(&mut self) -> Result<(), String> {
        let ready = poll_until(READY_DEADLINE, || {
            if let Some(child) = self.smbd.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Some(Err(format!("smbd exited with {status}")));
            }
            self.smbclient(self.user(), "ls").status.success().then_some(Ok(()))
        });
        match ready {
            Some(Ok(())) => Ok(()),
            Some(Err(exited)) => Err(format!("{exited}:\n{}", self.log())),
            None => Err(format!("smbd not ready in {READY_DEADLINE:?}:\n{}", self.log())),
        }
    }

    /// smbd's own output (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.base.join("log/smbd.out")).unwrap_or_default()
    }

    /// Runs `smbclient` commands (`;`-separated) as `user` against the share.
    pub fn smbclient(&self, user: &SambaUser, commands: &str) -> Output {
        Command::new("smbclient")
            .arg("-s")
            .arg(self.conf())
            .args(["-p", &self.port.to_string()])
            .args(["-U", &format!("{}%{}", user.name, user.password)])
            .arg(format!("//127.0.0.1/{SHARE}"))
            .args(["-c", commands])
            .stdin(Stdio::null())
            .output()
            .expect("run smbclient")
    }

    /// Like `smbclient`, panicking with its output when it fails.
    pub fn smbclient_ok(&self, commands: &str) -> String {
        let out = self.smbclient(self.user(), commands);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && !text.contains("NT_STATUS_"), "smbclient {commands}: {text}");
        text
    }

    /// Sets DOS attributes on a share path over SMB: `modes` like `"+h"`, `"+s"`, `"-h"`, `"+r"`.
    pub fn set_mode(&self, rel: &str, modes: &str) {
        self.smbclient_ok(&format!("setmode \"{}\" {modes}", to_backslashes(rel)));
    }

    /// `rpcclient` commands as the first user (over this server's port).
    pub fn rpcclient(&self, commands: &str) -> String {
        let user = self.user();
        let out = Command::new("rpcclient")
            .arg("-s")
            .arg(self.conf())
            .args(["-p", &self.port.to_string()])
            .args(["-U", &format!("{}%{}", user.name, user.password)])
            .arg("127.0.0.1")
            .args(["-c", commands])
            .output()
            .expect("run rpcclient");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The server's machine SID (`S-1-5-21-a-b-c`), domain of its local users.
    pub fn machine_sid(&self) -> String {
        let out = run_ok(Command::new("net").arg("-s").arg(self.conf()).arg("getlocalsid"));
        out.split_whitespace().last().map(str::to_string).unwrap_or_else(|| panic!("no SID in {out:?}"))
    }

    /// The user's SID, from the fixture's passdb.
    pub fn user_sid(&self, user: &SambaUser) -> String {
        let out = run_ok(Command::new("pdbedit").arg("-s").arg(self.conf()).args(["-L", "-v", "-u", &user.name]));
        out.lines()
            .find_map(|l| l.strip_prefix("User SID:"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| panic!("no User SID in {out}"))
    }

    /// Sets an NT ACL on a share path from SDDL, locally with `samba-tool ntacl` (the fixture
    /// port is not 445, so `smbcacls` cannot be used). Masks are best written in hex, deny ACEs
    /// first. POSIX ACLs are then reset so only the NT ACL decides (`ignore system acls`).
    pub fn set_ntacl(&mut self, rel: &str, sddl: &str) {
        if !self.domain_sid_set {
            let sid = self.machine_sid();
            run_ok(Command::new("net").arg("-s").arg(self.conf()).args(["setdomainsid", &sid]));
            self.domain_sid_set = true;
        }
        let path = self.share_dir().join(rel);
        run_ok(
            Command::new("samba-tool")
                .args(["ntacl", "set", "-s"])
                .arg(self.conf())
                .arg(format!("--service={SHARE}"))
                .arg(sddl)
                .arg(&path),
        );
        run_ok(Command::new("setfacl").arg("-R").arg("-b").arg(self.share_dir()));
        run_ok(Command::new("chmod").arg("-R").arg("a+rwX").arg(self.share_dir()));
    }

    /// The NT ACL of a share path as SDDL, read locally.
    pub fn get_ntacl(&self, rel: &str) -> String {
        run_ok(
            Command::new("samba-tool")
                .args(["ntacl", "get", "--as-sddl", "-s"])
                .arg(self.conf())
                .arg(format!("--service={SHARE}"))
                .arg(self.share_dir().join(rel)),
        )
        .trim()
        .to_string()
    }

    /// Opens `rel` from a second SMB client and keeps it open until the guard is dropped:
    /// smbclient opens without FILE_SHARE_DELETE, so deletes and renames by others get a
    /// sharing violation while reads still work.
    pub fn hold_open(&self, rel: &str) -> HeldOpen {
        let user = self.user();
        let mut child = Command::new("smbclient")
            .arg("-s")
            .arg(self.conf())
            .args(["-p", &self.port.to_string()])
            .args(["-U", &format!("{}%{}", user.name, user.password)])
            .arg(format!("//127.0.0.1/{SHARE}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn smbclient");
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "open \"{}\"", to_backslashes(rel)).expect("write open");
        stdin.flush().expect("flush");
        // smbclient's stdout is block-buffered on a pipe, so the server is asked instead: the
        // file is held once smbstatus lists it as locked.
        let name = rel.rsplit('/').next().unwrap_or(rel).to_string();
        let mut locks = String::new();
        let held = poll_until(READY_DEADLINE, || {
            locks = self.smbstatus(&["-L"]);
            locks.contains(&name).then_some(())
        });
        assert!(held.is_some(), "smbclient did not open {rel}: smbstatus says {locks}");
        HeldOpen { child, stdin: Some(stdin) }
    }

    /// `smbstatus` with this fixture's config (`-L` locks, `-S` shares, `-p` processes).
    pub fn smbstatus(&self, args: &[&str]) -> String {
        let out = Command::new("smbstatus").arg("-s").arg(self.conf()).args(args).output().expect("run smbstatus");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Makes the first user own everything in the share, so content a test wrote on disk (as
    /// root) can be changed over SMB.
    pub fn hand_over(&self) {
        let user = &self.user().name;
        run_ok(Command::new("chown").arg("-R").arg(format!("{user}:{user}")).arg(self.share_dir()));
    }

    /// Stops smbd gracefully (SIGTERM, SIGKILL after a deadline), and samba-dcerpcd with it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.smbd.take() {
            signal(child.id(), "TERM");
            if !wait_exit(&mut child, Duration::from_secs(20)) {
                signal(child.id(), "KILL");
                let _ = child.wait();
            }
        }
        self.stop_dcerpcd();
    }

    /// Kills smbd at once (SIGKILL), as a crash would. Its per-client children die with their
    /// connections.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.smbd.take() {
            // smbd leads its own process group, which holds its per-connection children too.
            signal_group(child.id(), "KILL");
            signal(child.id(), "KILL");
            let _ = child.wait();
        }
        self.stop_dcerpcd();
    }

    /// Starts smbd again on the same port, config and users (after `stop` or `kill`).
    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.base.join("log/smbd.out")).expect("smbd log");
        let child = Command::new("smbd")
            .args(["--foreground", "--debug-stdout", "-s"])
            .arg(self.conf())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn smbd");
        self.smbd = Some(child);
        if let Err(log) = self.wait_ready() {
            panic!("smbd did not restart:\n{log}");
        }
    }

    /// Adds a share (`[name]` with `path` and extra `key = value` lines) and reloads smbd.
    pub fn add_share(&mut self, name: &str, dir: &Path, extra: &[&str]) {
        std::fs::create_dir_all(dir).expect("share dir");
        run_ok(Command::new("chmod").arg("777").arg(dir));
        let mut text = format!("\n[{name}]\n  path = {}\n  read only = no\n", dir.display());
        for line in extra {
            text.push_str(&format!("  {line}\n"));
        }
        let extra_path = self.base.join("etc/extra-shares.conf");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&extra_path).expect("extra shares");
        f.write_all(text.as_bytes()).expect("write share");
        if let Some(child) = &self.smbd {
            signal(child.id(), "HUP");
        }
        // Ready once an authenticated `ls` on the new share succeeds.
        let appeared = poll_until(READY_DEADLINE, || {
            let user = self.user();
            let answers = Command::new("smbclient")
                .arg("-s")
                .arg(self.conf())
                .args(["-p", &self.port.to_string()])
                .args(["-U", &format!("{}%{}", user.name, user.password)])
                .arg(format!("//127.0.0.1/{name}"))
                .args(["-c", "ls"])
                .stdin(Stdio::null())
                .output()
                .is_ok_and(|o| o.status.success());
            answers.then_some(())
        });
        assert!(appeared.is_some(), "share {name} did not appear:\n{}", self.log());
    }

    fn stop_dcerpcd(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.base.join("run/samba-dcerpcd.pid"))
            && let Ok(pid) = pid.trim().parse::<u32>()
        {
            signal(pid, "TERM");
        }
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        self.stop();
        for user in &self.users {
            retry_locked(|| Command::new("userdel").arg(&user.name).output());
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A file held open by a second client; released on drop.
pub struct HeldOpen {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for HeldOpen {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "close 1");
            let _ = writeln!(stdin, "quit");
        }
        if !wait_exit(&mut self.child, Duration::from_secs(10)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Cleans up after test processes that died without running Drop (killed by a timeout, say):
/// their smbd, their fixture dirs and their unix users, recognised by the dead pid in the name.
fn reap_stale() {
    let alive = |pid: &str| Path::new("/proc").join(pid).exists();
    if let Ok(dirs) = std::fs::read_dir(std::env::temp_dir()) {
        for dir in dirs.flatten() {
            let name = dir.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix("scaidrive-samba-") else { continue };
            let Some((pid, _)) = rest.split_once('-') else { continue };
            if alive(pid) {
                continue;
            }
            for pid_file in ["run/smbd.pid", "run/samba-dcerpcd.pid"] {
                if let Ok(p) = std::fs::read_to_string(dir.path().join(pid_file))
                    && let Ok(p) = p.trim().parse::<u32>()
                {
                    signal(p, "KILL");
                }
            }
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for user in passwd.lines().filter_map(|l| l.split(':').next()) {
        let Some(rest) = user.strip_prefix("sdt") else { continue };
        let Some((pid_hex, _)) = rest.split_once('u') else { continue };
        let Ok(pid) = u32::from_str_radix(pid_hex, 16) else { continue };
        if !alive(&pid.to_string()) {
            retry_locked(|| Command::new("userdel").arg(user).output());
        }
    }
}

fn make_base_dir() -> PathBuf {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let base = std::env::temp_dir().join(format!("scaidrive-samba-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    for d in ["etc", "run", "lock", "state", "cache", "private", "ncalrpc", "log", "share"] {
        std::fs::create_dir_all(base.join(d)).expect("fixture dir");
    }
    // smbd changes to the user's uid: it must traverse the base dir and write the share.
    run_ok(Command::new("chmod").arg("755").arg(&base));
    run_ok(Command::new("chmod").arg("700").arg(base.join("private")));
    run_ok(Command::new("chmod").arg("777").arg(base.join("share")));
    base
}

fn write_conf(base: &Path, port: u16, profiling: bool) {
    let b = base.display();
    let extra = base.join("etc/extra-shares.conf");
    if !extra.exists() {
        std::fs::write(&extra, "").expect("extra shares");
    }
    let conf = format!(
        r#"[global]
  server role = standalone server
  workgroup = TESTGROUP
  netbios name = {NETBIOS_NAME}
  smb ports = {port}
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  server min protocol = SMB2_10
  ntlm auth = ntlmv2-only
  map to guest = never
  restrict anonymous = 2
  passdb backend = tdbsam:{b}/private/passdb.tdb
  private dir = {b}/private
  pid directory = {b}/run
  lock directory = {b}/lock
  state directory = {b}/state
  cache directory = {b}/cache
  ncalrpc dir = {b}/ncalrpc
  usershare path = {b}/state/usershares
  usershare max shares = 0
  winbindd socket directory = {b}/run/winbindd
  binddns dir = {b}/state/bind-dns
  smb passwd file = {b}/private/smbpasswd
  log file = {b}/log/log.%m
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  unix password sync = no
  obey pam restrictions = no
  smbd profiling level = {profile}

[{SHARE}]
  path = {b}/share
  read only = no
  vfs objects = acl_xattr
  acl_xattr:ignore system acls = yes
  store dos attributes = yes
  map acl inherit = yes
  ea support = yes

include = {extra}
"#,
        extra = extra.display(),
        profile = if profiling { "on" } else { "off" },
    );
    std::fs::write(base.join("etc/smb.conf"), conf).expect("write smb.conf");
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind ephemeral port");
    l.local_addr().expect("local addr").port()
}

fn to_backslashes(rel: &str) -> String {
    rel.trim_matches('/').replace('/', "\\")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// useradd/userdel fail while another process holds /etc/passwd's lock: parallel fixtures do.
fn retry_locked(mut f: impl FnMut() -> std::io::Result<Output>) {
    let mut err = String::new();
    let done = poll_until(READY_DEADLINE, || {
        let out = f().expect("run useradd/userdel");
        err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success() || !(err.contains("lock") || err.contains("try again"))).then_some(())
    });
    assert!(done.is_some(), "/etc/passwd stayed locked: {err}");
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).stderr(Stdio::null()).status();
}

fn signal_group(pgid: u32, sig: &str) {
    let _ =
        Command::new("kill").arg(format!("-{sig}")).arg("--").arg(format!("-{pgid}")).stderr(Stdio::null()).status();
}

fn wait_exit(child: &mut Child, within: Duration) -> bool {
    poll_until(within, || (!matches!(child.try_wait(), Ok(None))).then_some(())).is_some()
}

/// Looks at an observable condition every `POLL` until `look` yields a value, or `within` passes (`None`). The
/// fixture is synchronous (tests call it from their own runtimes), so it pauses between looks; it never sleeps
/// instead of looking.
fn poll_until<T>(within: Duration, mut look: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = look() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}
