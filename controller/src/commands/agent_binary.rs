//! `--agent-binary` of `provision` and `install`: the binary to install on the fleet, chosen
//! (`scripts/build-agent`'s output for the fleet's architecture, else the `fetchbench-agent` beside
//! the controller) and checked before anything is created or sent: a Linux ELF for the instances'
//! architecture that needs no glibc newer than Amazon Linux 2023's.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::fleet::local::{built_agent_name, fleet_agent_binary};

/// The newest glibc the instances have: Amazon Linux 2023 ships 2.34.
const FLEET_GLIBC: (u32, u32) = (2, 34);

/// Check that `path` (default: [`fleet_agent_binary`] for `arch`) is a Linux ELF binary for `arch` that runs
/// on Amazon Linux 2023; return the path.
pub fn check(path: Option<&Path>, arch: &str) -> Result<PathBuf, Error> {
    let path = path.map_or_else(|| fleet_agent_binary(arch), Path::to_path_buf);
    let how = format!(
        "build one with `scripts/build-agent --arch {arch}` (install then finds {} by default)",
        built_agent_name(arch)
    );
    let fail = |detail: String| Error::AgentBinary { path: path.clone(), detail };
    let bytes = std::fs::read(&path).map_err(|e| fail(format!("cannot read it ({e}); {how}")))?;
    let elf = match Elf::parse(&bytes) {
        Ok(elf) => elf,
        Err(ElfError::MachO) => {
            return Err(fail(format!("is a macOS (Mach-O) binary, but the agents run Linux; {how}")));
        }
        Err(ElfError::NotElf) => {
            return Err(fail(format!("is not a 64-bit little-endian Linux (ELF) binary; {how}")));
        }
        Err(ElfError::Truncated) => return Err(fail(format!("is a damaged ELF file; {how}"))),
    };
    let found = match elf.machine {
        0x3e => "x86_64",
        0xb7 => "aarch64",
        other => return Err(fail(format!("is an ELF binary for machine {other:#x}; {how}"))),
    };
    if found != arch {
        return Err(fail(format!("is built for {found} but the agents' instance type is {arch}; {how}")));
    }
    let needed = elf.glibc_needed().map_err(|_| fail(format!("is a damaged ELF file; {how}")))?;
    if let Some((major, minor)) = needed.filter(|v| *v > FLEET_GLIBC) {
        let (have_major, have_minor) = FLEET_GLIBC;
        return Err(fail(format!(
            "needs glibc {major}.{minor} but Amazon Linux 2023 has {have_major}.{have_minor}, so it would \
             not start there; {how}"
        )));
    }
    Ok(path)
}

/// Why a file is not an ELF binary this check can read.
#[derive(Debug, PartialEq, Eq)]
enum ElfError {
    /// A macOS executable (thin or universal).
    MachO,
    /// Anything else that is not a 64-bit little-endian ELF file.
    NotElf,
    /// A header or table points past the end of the file.
    Truncated,
}

/// The parts of a 64-bit little-endian ELF file the check reads.
struct Elf<'a> {
    bytes: &'a [u8],
    /// `e_machine`: 0x3e x86_64, 0xb7 aarch64.
    machine: u16,
}

/// `SHT_GNU_verneed`: the section listing the symbol versions needed from each shared library.
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

impl<'a> Elf<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Elf<'a>, ElfError> {
        let magic = bytes.get(..4).ok_or(ElfError::NotElf)?;
        let macho: [[u8; 4]; 4] = [
            [0xcf, 0xfa, 0xed, 0xfe],
            [0xce, 0xfa, 0xed, 0xfe],
            [0xca, 0xfe, 0xba, 0xbe],
            [0xfe, 0xed, 0xfa, 0xcf],
        ];
        if macho.iter().any(|m| m == magic) {
            return Err(ElfError::MachO);
        }
        if magic != b"\x7fELF" || bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
            return Err(ElfError::NotElf);
        }
        let elf = Elf { bytes, machine: 0 };
        let machine = elf.u16(18)?;
        Ok(Elf { bytes, machine })
    }

    fn u16(&self, at: usize) -> Result<u16, ElfError> {
        let b = self.bytes.get(at..at + 2).ok_or(ElfError::Truncated)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&self, at: usize) -> Result<u32, ElfError> {
        let b = self.bytes.get(at..at + 4).ok_or(ElfError::Truncated)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An offset or size field (64 bits) as an index into the file.
    fn offset(&self, at: usize) -> Result<usize, ElfError> {
        let b = self.bytes.get(at..at + 8).ok_or(ElfError::Truncated)?;
        let v = u64::from_le_bytes(b.try_into().map_err(|_| ElfError::Truncated)?);
        usize::try_from(v).map_err(|_| ElfError::Truncated)
    }

    /// The NUL-terminated string at `at`.
    fn str(&self, at: usize) -> Result<&'a [u8], ElfError> {
        let rest = self.bytes.get(at..).ok_or(ElfError::Truncated)?;
        let end = rest.iter().position(|b| *b == 0).ok_or(ElfError::Truncated)?;
        Ok(&rest[..end])
    }

    /// The newest `GLIBC_x.y` version the binary needs, from its `.gnu.version_r` entries (with
    /// names in the string table that section links to); `None` for a static binary.
    fn glibc_needed(&self) -> Result<Option<(u32, u32)>, ElfError> {
        Ok(self.versions_needed()?.iter().filter_map(|name| glibc_version(name)).max())
    }

    /// Every version name in `.gnu.version_r`, from every library.
    fn versions_needed(&self) -> Result<Vec<&'a [u8]>, ElfError> {
        let shoff = self.offset(0x28)?;
        let shentsize = usize::from(self.u16(0x3a)?);
        let shnum = usize::from(self.u16(0x3c)?);
        let section = |i: usize| shoff + i * shentsize;
        let mut names = Vec::new();
        for i in 0..shnum {
            if self.u32(section(i) + 4)? != SHT_GNU_VERNEED {
                continue;
            }
            // sh_link: the string table; sh_info: how many Verneed entries.
            let strtab = self.offset(section(self.u32(section(i) + 0x28)? as usize) + 0x18)?;
            let count = self.u32(section(i) + 0x2c)?;
            let mut need = self.offset(section(i) + 0x18)?;
            for _ in 0..count {
                // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
                let aux_count = self.u16(need + 2)?;
                let mut aux = need + self.u32(need + 8)? as usize;
                for _ in 0..aux_count {
                    // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
                    names.push(self.str(strtab + self.u32(aux + 8)? as usize)?);
                    aux += self.u32(aux + 12)? as usize;
                }
                need += self.u32(need + 12)? as usize;
            }
        }
        Ok(names)
    }
}

/// `GLIBC_2.34` as (2, 34); `GLIBC_2.2.5` as (2, 2); `None` for other names.
fn glibc_version(name: &[u8]) -> Option<(u32, u32)> {
    let rest = std::str::from_utf8(name).ok()?.strip_prefix("GLIBC_")?;
    let mut parts = rest.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::local::default_agent_binary;

    /// A minimal ELF for `machine` whose `.gnu.version_r` needs `versions` from libc.so.6 (no
    /// section at all when empty, as in a static binary).
    fn crafted(machine: u16, versions: &[&str]) -> Vec<u8> {
        let mut dynstr = b"\0libc.so.6\0".to_vec();
        let mut names = Vec::new();
        for v in versions {
            names.push(dynstr.len() as u32);
            dynstr.extend_from_slice(v.as_bytes());
            dynstr.push(0);
        }
        // Verneed (16 bytes) then one Vernaux (16 bytes) per version.
        let mut verneed = Vec::new();
        verneed.extend_from_slice(&1u16.to_le_bytes());
        verneed.extend_from_slice(&(versions.len() as u16).to_le_bytes());
        verneed.extend_from_slice(&1u32.to_le_bytes()); // "libc.so.6"
        verneed.extend_from_slice(&16u32.to_le_bytes());
        verneed.extend_from_slice(&0u32.to_le_bytes());
        for (i, name) in names.iter().enumerate() {
            verneed.extend_from_slice(&0u32.to_le_bytes());
            verneed.extend_from_slice(&0u16.to_le_bytes());
            verneed.extend_from_slice(&(i as u16 + 2).to_le_bytes());
            verneed.extend_from_slice(&name.to_le_bytes());
            let next: u32 = if i + 1 == names.len() { 0 } else { 16 };
            verneed.extend_from_slice(&next.to_le_bytes());
        }
        let dynstr_at = 64;
        let verneed_at = dynstr_at + dynstr.len();
        let shoff = verneed_at + verneed.len();
        let mut f = vec![0u8; 64];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes());
        f[18..20].copy_from_slice(&machine.to_le_bytes());
        let sections: u16 = if versions.is_empty() { 1 } else { 3 };
        f[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        f[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        f[0x3c..0x3e].copy_from_slice(&sections.to_le_bytes());
        f.extend_from_slice(&dynstr);
        f.extend_from_slice(&verneed);
        let header = |kind: u32, offset: usize, size: usize, link: u32, info: u32| {
            let mut h = vec![0u8; 64];
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&(offset as u64).to_le_bytes());
            h[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            h[0x28..0x2c].copy_from_slice(&link.to_le_bytes());
            h[0x2c..0x30].copy_from_slice(&info.to_le_bytes());
            h
        };
        f.extend(header(0, 0, 0, 0, 0));
        if !versions.is_empty() {
            f.extend(header(3, dynstr_at, dynstr.len(), 0, 0));
            f.extend(header(SHT_GNU_VERNEED, verneed_at, verneed.len(), 1, 1));
        }
        f
    }

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn refusal(path: &Path, arch: &str) -> String {
        check(Some(path), arch).expect_err("refused").to_string()
    }

    #[test]
    fn a_binary_needing_a_glibc_newer_than_amazon_linux_2023s_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "new", &crafted(0x3e, &["GLIBC_2.2.5", "GLIBC_2.35", "GLIBC_2.34"]));
        let err = refusal(&path, "x86_64");
        assert!(err.contains("needs glibc 2.35 but Amazon Linux 2023 has 2.34"), "{err}");
        assert!(err.contains("`scripts/build-agent --arch x86_64`"), "{err}");
        assert!(err.contains("fetchbench-agent-linux-x86_64"), "{err}");
    }

    #[test]
    fn a_binary_needing_glibc_2_34_or_none_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let up_to = write(&dir, "up-to", &crafted(0xb7, &["GLIBC_2.17", "GLIBC_2.34", "GLIBC_PRIVATE"]));
        assert_eq!(check(Some(&up_to), "aarch64").unwrap(), up_to);
        let fixed = write(&dir, "static", &crafted(0x3e, &[]));
        assert_eq!(check(Some(&fixed), "x86_64").unwrap(), fixed);
    }

    #[test]
    fn a_mach_o_file_or_other_arch_is_refused_naming_the_script() {
        let dir = tempfile::tempdir().unwrap();
        let macho = write(&dir, "macho", &[0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0, 0, 1, 0, 0, 0, 0]);
        let err = refusal(&macho, "aarch64");
        assert!(err.contains("is a macOS (Mach-O) binary"), "{err}");
        assert!(err.contains("`scripts/build-agent --arch aarch64`"), "{err}");
        let script = write(&dir, "script", b"#!/bin/sh\n");
        assert!(refusal(&script, "x86_64").contains("is not a 64-bit little-endian Linux (ELF) binary"));
        let arm = write(&dir, "arm", &crafted(0xb7, &[]));
        assert!(
            refusal(&arm, "x86_64").contains("is built for aarch64 but the agents' instance type is x86_64")
        );
        let cut = crafted(0x3e, &["GLIBC_2.34"]);
        let cut = write(&dir, "cut", &cut[..cut.len() - 40]);
        assert!(refusal(&cut, "x86_64").contains("is a damaged ELF file"));
    }

    /// The versions `readelf -V` (binutils) lists as needed by `path`.
    fn readelf_versions(path: &Path) -> Vec<String> {
        let out = std::process::Command::new("readelf")
            .arg("-V")
            .arg(path)
            .output()
            .expect("readelf (binutils) is installed");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let needs = text.split("Version needs section").nth(1).unwrap_or_default();
        let mut names: Vec<String> = needs
            .lines()
            .filter_map(|l| l.split("Name: ").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    }

    /// The host's own debug agent, as `cargo build` made it: the parser reads the same version
    /// needs as binutils, and the check agrees with the newest of them.
    #[test]
    fn the_hosts_agent_is_read_as_binutils_reads_it() {
        let path = default_agent_binary();
        let bytes = std::fs::read(&path).expect("the agent is built (cargo build)");
        let elf = Elf::parse(&bytes).unwrap();
        let mut ours: Vec<String> =
            elf.versions_needed().unwrap().iter().map(|n| String::from_utf8_lossy(n).into_owned()).collect();
        ours.sort();
        let theirs = readelf_versions(&path);
        assert!(theirs.iter().any(|n| n.starts_with("GLIBC_2.")), "{theirs:?}");
        assert_eq!(ours, theirs);
        let newest = theirs.iter().filter_map(|n| glibc_version(n.as_bytes())).max();
        let arch = std::env::consts::ARCH;
        assert_eq!(elf.glibc_needed().unwrap(), newest);
        assert_eq!(check(Some(&path), arch).is_ok(), newest <= Some(FLEET_GLIBC), "{newest:?}");
    }

    #[test]
    fn glibc_version_names_are_read() {
        assert_eq!(glibc_version(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(glibc_version(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(glibc_version(b"GLIBC_PRIVATE"), None);
        assert_eq!(glibc_version(b"GCC_3.0"), None);
    }
}
