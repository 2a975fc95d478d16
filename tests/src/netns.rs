//! A lossy link for benchmarks and tests: a Linux network namespace whose loopback drops a
//! chosen share of packets at random, with nftables counters of what was sent.
//!
//! This kernel has no `sch_netem` (`tc qdisc ... netem` answers "Specified qdisc kind is
//! unknown"), so loss is made with an nftables rule on the output hook,
//! `numgen random mod 100 < P drop`. Loopback gets an Ethernet MTU and GSO segments of one
//! MSS, so every packet the rule sees is Ethernet-sized and a drop loses one segment, as on a
//! real link, rather than a 64 KiB super-packet. Needs root (`ip netns`, `nft`).
//!
//! Programs run inside with [`Netns::command`] (`ip netns exec NAME program`); addresses
//! inside are the namespace's own `127.0.0.1`, unrelated to the host's. The namespace and
//! its rules go away when the [`Netns`] drops, also on panic.

use std::path::Path;
use std::process::Command;

/// The nftables table this module owns inside its namespace.
const TABLE: &str = "rong";
/// The named counter on the drop rule.
const DROPPED: &str = "dropped";

/// Why a namespace could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The process is not root.
    #[error("a lossy network namespace needs root (ip netns, nft); run as root")]
    NotRoot,
    /// A tool is not installed.
    #[error("`{0}` is missing: install it (apt-get install {1}; scripts/setup.sh does)")]
    Missing(&'static str, &'static str),
    /// A command failed.
    #[error("`{cmd}` failed: {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// What it printed on stderr.
        stderr: String,
    },
}

/// Packets and bytes (IP length: headers included) an nftables counter saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Count {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn which(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| d.join(tool).is_file())
            || ["/usr/sbin", "/sbin"]
                .iter()
                .any(|d| Path::new(d).join(tool).is_file())
    })
}

/// Checks what [`Netns::create`] needs, with a message that says how to get it.
pub fn check_prerequisites() -> Result<(), NetnsError> {
    if !is_root() {
        return Err(NetnsError::NotRoot);
    }
    if !which("ip") {
        return Err(NetnsError::Missing("ip", "iproute2"));
    }
    if !which("nft") {
        return Err(NetnsError::Missing("nft", "nftables"));
    }
    Ok(())
}

fn run(cmd: &mut Command) -> Result<String, NetnsError> {
    let line = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| NetnsError::Command {
        cmd: line.clone(),
        stderr: e.to_string(),
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NetnsError::Command {
            cmd: line,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// A network namespace with a lossy loopback, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `name` (a stale one of that name is replaced) with loopback up, an
    /// MTU of 1500, GSO limited to one segment, and `loss_percent` of packets dropped.
    pub fn create(name: &str, loss_percent: u8) -> Result<Netns, NetnsError> {
        check_prerequisites()?;
        let stale = run(Command::new("ip").args(["netns", "list"]))?;
        if stale
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name))
        {
            run(Command::new("ip").args(["netns", "del", name]))?;
        }
        run(Command::new("ip").args(["netns", "add", name]))?;
        // From here on, Drop removes the namespace whatever fails next.
        let ns = Netns {
            name: name.to_owned(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        ns.ip(&["link", "set", "lo", "mtu", "1500"])?;
        ns.ip(&[
            "link",
            "set",
            "lo",
            "gso_max_size",
            "1500",
            "gso_max_segs",
            "1",
        ])?;
        ns.nft(&["add", "table", "inet", TABLE])?;
        ns.nft(&["add", "counter", "inet", TABLE, DROPPED])?;
        ns.nft(&[
            "add",
            "chain",
            "inet",
            TABLE,
            "out",
            "{ type filter hook output priority 0; }",
        ])?;
        ns.nft(&["add", "chain", "inet", TABLE, "loss"])?;
        // Counting rules are inserted before this jump, so they see dropped packets too:
        // what a sender put on the wire, retransmissions included.
        ns.nft(&["add", "rule", "inet", TABLE, "out", "jump", "loss"])?;
        ns.set_loss(loss_percent)?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec NAME program`: a command that runs `program` inside.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    fn ip(&self, args: &[&str]) -> Result<String, NetnsError> {
        let mut c = self.command("ip");
        c.args(args);
        run(&mut c)
    }

    fn nft(&self, args: &[&str]) -> Result<String, NetnsError> {
        let mut c = self.command("nft");
        c.args(args);
        run(&mut c)
    }

    /// Drops `percent` of all packets leaving any socket inside, at random (0 for none).
    pub fn set_loss(&self, percent: u8) -> Result<(), NetnsError> {
        self.nft(&["flush", "chain", "inet", TABLE, "loss"])?;
        if percent > 0 {
            let p = percent.min(100).to_string();
            self.nft(&[
                "add", "rule", "inet", TABLE, "loss", "numgen", "random", "mod", "100", "<", &p,
                "counter", "name", DROPPED, "drop",
            ])?;
        }
        Ok(())
    }

    /// Counts TCP packets to `port` in counter `{name}_to` and from it in `{name}_from`,
    /// dropped ones included.
    pub fn count_port(&self, name: &str, port: u16) -> Result<(), NetnsError> {
        let port = port.to_string();
        for (dir, key) in [("to", "dport"), ("from", "sport")] {
            let counter = format!("{name}_{dir}");
            self.nft(&["add", "counter", "inet", TABLE, &counter])?;
            self.nft(&[
                "insert", "rule", "inet", TABLE, "out", "tcp", key, &port, "counter", "name",
                &counter,
            ])?;
        }
        Ok(())
    }

    /// What counter `counter` (such as `tus_to`, or `dropped`) has seen since its last reset.
    pub fn counter(&self, counter: &str) -> Result<Count, NetnsError> {
        let text = self.nft(&["list", "counter", "inet", TABLE, counter])?;
        Ok(parse_counter(&text))
    }

    /// Packets the loss rule dropped since the last reset.
    pub fn dropped(&self) -> Result<Count, NetnsError> {
        self.counter(DROPPED)
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) -> Result<(), NetnsError> {
        self.nft(&["reset", "counters", "table", "inet", TABLE])
            .map(|_| ())
    }

    /// Loopback's MTU as the namespace reports it.
    pub fn mtu(&self) -> Result<u32, NetnsError> {
        let text = self.ip(&["link", "show", "lo"])?;
        Ok(text
            .split_whitespace()
            .skip_while(|w| *w != "mtu")
            .nth(1)
            .and_then(|m| m.parse().ok())
            .unwrap_or(0))
    }
}

/// Streams `bytes` bytes over one TCP connection from this process to a sink it runs on
/// `127.0.0.1:port` (in whatever namespace this process is in), and returns the time from
/// connecting to the sink's one-byte receipt for the last byte: the raw baseline a
/// protocol's overhead is measured against.
pub fn raw_transfer(port: u16, bytes: u64) -> std::io::Result<std::time::Duration> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let sink = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut got = 0u64;
        while got < bytes {
            match s.read(&mut buf)? {
                0 => break,
                n => got += n as u64,
            }
        }
        s.write_all(b"k")?;
        Ok(got)
    });
    let start = std::time::Instant::now();
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
    // Incompressible bytes (nothing on this path compresses, but be honest anyway).
    let block: Vec<u8> = (0..256 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        c.write_all(&block[..n])?;
        left -= n as u64;
    }
    let mut ack = [0u8; 1];
    c.read_exact(&mut ack)?;
    let elapsed = start.elapsed();
    let got = sink
        .join()
        .map_err(|_| std::io::Error::other("the sink panicked"))??;
    if got != bytes {
        return Err(std::io::Error::other(format!(
            "the sink got {got} bytes of {bytes}"
        )));
    }
    Ok(elapsed)
}

/// Reads `packets N bytes M` out of `nft list counter` output.
fn parse_counter(text: &str) -> Count {
    let mut words = text.split_whitespace();
    let mut c = Count::default();
    while let Some(w) = words.next() {
        match w {
            "packets" => c.packets = words.next().and_then(|n| n.parse().ok()).unwrap_or(0),
            "bytes" => c.bytes = words.next().and_then(|n| n.parse().ok()).unwrap_or(0),
            _ => {}
        }
    }
    c
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace removes its nftables table with it; processes still inside
        // keep it alive until they exit, but the name is gone.
        if let Err(e) = run(Command::new("ip").args(["netns", "del", &self.name])) {
            eprintln!("could not delete network namespace {}: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_from_nft_output() {
        let text =
            "table inet rong {\n\tcounter tus_to {\n\t\tpackets 13838 bytes 20749992\n\t}\n}\n";
        assert_eq!(
            parse_counter(text),
            Count {
                packets: 13838,
                bytes: 20749992
            }
        );
        assert_eq!(parse_counter(""), Count::default());
    }
}
