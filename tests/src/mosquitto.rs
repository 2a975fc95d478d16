//! Runs a private Mosquitto broker on a free port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{accepts, free_port, wait_until};

/// A running Mosquitto, killed on drop.
#[derive(Debug)]
pub struct Mosquitto {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// The mosquitto binary: on PATH, or Debian's /usr/sbin.
pub fn mosquitto_bin() -> PathBuf {
    for p in [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("mosquitto is not installed: run scripts/setup.sh (apt package `mosquitto`)");
}

impl Mosquitto {
    /// Starts a broker with its config and log under `dir`.
    pub fn start(dir: &Path) -> Mosquitto {
        Self::start_on(dir, free_port())
    }

    /// Starts a broker on a given port (to bring one back where devices expect it).
    pub fn start_on(dir: &Path, port: u16) -> Mosquitto {
        Self::start_conf(dir, port, "allow_anonymous true\n")
    }

    /// Starts a broker that takes only the accounts of `password_file` (made with
    /// [`password_file`]) and gives them the topics `acl_file` allows.
    pub fn start_locked(dir: &Path, password_file: &Path, acl_file: &Path) -> Mosquitto {
        let rules = format!(
            "allow_anonymous false\npassword_file {}\nacl_file {}\n",
            password_file.display(),
            acl_file.display()
        );
        Self::start_conf(dir, free_port(), &rules)
    }

    /// Starts Mosquitto with the production config shipped in `images/mosquitto/rong.conf`,
    /// its paths pointed at `tls_dir` (central's `{data_dir}/tls`, as `central tls` makes
    /// it) and `acl_file`, on loopback `port`. Reach it at [`Mosquitto::tls_url`].
    pub fn start_shipped(dir: &Path, port: u16, tls_dir: &Path, acl_file: &Path) -> Mosquitto {
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/mosquitto/rong.conf"),
        )
        .expect("the shipped Mosquitto config");
        let mut rules = String::new();
        for line in shipped.lines() {
            let line = match line.split_once(' ') {
                Some(("listener", _)) | Some(("persistence_location", _)) => continue,
                Some(("persistence", _)) => continue,
                Some(("cafile", _)) => format!("cafile {}", tls_dir.join("ca.crt").display()),
                Some(("certfile", _)) => {
                    format!("certfile {}", tls_dir.join("server.crt").display())
                }
                Some(("keyfile", _)) => format!("keyfile {}", tls_dir.join("server.key").display()),
                Some(("acl_file", _)) => format!("acl_file {}", acl_file.display()),
                _ => line.to_owned(),
            };
            rules.push_str(&line);
            rules.push('\n');
        }
        // The listener line must come before its settings: start_conf writes it first.
        Self::start_conf(
            dir,
            port,
            &rules.replace("per_listener_settings true\n", ""),
        )
    }

    fn start_conf(dir: &Path, port: u16, rules: &str) -> Mosquitto {
        let dir = dir.join("mosquitto");
        std::fs::create_dir_all(&dir).expect("mkdir mosquitto");
        let conf = dir.join("mosquitto.conf");
        let mut text = format!(
            "listener {port} 127.0.0.1\n{rules}persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n"
        );
        if nix::unistd::Uid::effective().is_root() {
            text.push_str("user root\n");
        }
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("mosquitto.log"))
            .expect("log");
        let mut cmd = Command::new(mosquitto_bin());
        cmd.arg("-c").arg(&conf).stdout(Stdio::null()).stderr(log);
        crate::proc::die_with_parent(&mut cmd);
        let child = cmd.spawn().expect("start mosquitto");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_until(
            "mosquitto to accept connections",
            Duration::from_secs(10),
            || accepts(addr),
        );
        Mosquitto { child, addr }
    }

    /// Its process id (to send it `SIGHUP`, which reloads its ACL).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The URL for configs.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// The URL of a broker started with [`Mosquitto::start_shipped`].
    pub fn tls_url(&self) -> String {
        format!("mqtts://{}", self.addr)
    }
}

/// Writes a Mosquitto password file at `path` with these (user, password) accounts, using
/// `mosquitto_passwd` (hashed as Mosquitto stores them).
pub fn password_file(path: &Path, accounts: &[(&str, &str)]) {
    for (i, (user, password)) in accounts.iter().enumerate() {
        let mut cmd = Command::new("mosquitto_passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        let out = cmd
            .arg("-b")
            .arg(path)
            .args([user, password])
            .output()
            .expect("run mosquitto_passwd");
        assert!(
            out.status.success(),
            "mosquitto_passwd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
