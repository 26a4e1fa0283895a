//! The copy of a fresh initdb that ephemeral clusters start from, and the manifest that tells
//! whether it is intact.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::server::OsUser;

/// The file of a cached initdb that lists its files and their sizes.
pub(super) const MANIFEST: &str = "local-postgres-manifest";

/// Every file under `dir` (relative path) with its size, sorted.
fn file_sizes(dir: &Path, prefix: &Path, out: &mut Vec<(PathBuf, u64)>) -> Result<()> {
    for entry in
        fs::read_dir(dir).map_err(|e| Error::io(format!("could not read {}", dir.display()), e))?
    {
        let entry = entry.map_err(|e| Error::io(format!("could not read {}", dir.display()), e))?;
        let meta = entry
            .metadata()
            .map_err(|e| Error::io(format!("could not read {}", entry.path().display()), e))?;
        let rel = prefix.join(entry.file_name());
        if meta.is_dir() {
            file_sizes(&entry.path(), &rel, out)?;
        } else if rel != Path::new(MANIFEST) {
            out.push((rel, meta.len()));
        }
    }
    out.sort();
    Ok(())
}

fn manifest_text(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    file_sizes(dir, Path::new(""), &mut files)?;
    Ok(files
        .iter()
        .map(|(p, n)| format!("{n} {}\n", p.display()))
        .collect())
}

pub(super) fn write_manifest(dir: &Path) -> Result<()> {
    let path = dir.join(MANIFEST);
    fs::write(&path, manifest_text(dir)?)
        .map_err(|e| Error::io(format!("could not write {}", path.display()), e))
}

pub(super) fn manifest_matches(dir: &Path) -> bool {
    match (fs::read_to_string(dir.join(MANIFEST)), manifest_text(dir)) {
        (Ok(stored), Ok(now)) => stored == now,
        _ => false,
    }
}

/// Copies a data directory, keeping permissions, and gives every entry to `owner`.
pub(super) fn copy_tree(from: &Path, to: &Path, owner: Option<&OsUser>) -> Result<()> {
    let io = |what: &str, p: &Path, e| Error::io(format!("could not {what} {}", p.display()), e);
    for entry in fs::read_dir(from).map_err(|e| io("read", from, e))? {
        let entry = entry.map_err(|e| io("read", from, e))?;
        if entry.file_name() == MANIFEST {
            continue;
        }
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = entry.metadata().map_err(|e| io("read", &src, e))?;
        if meta.is_dir() {
            fs::create_dir(&dst).map_err(|e| io("create", &dst, e))?;
            fs::set_permissions(&dst, meta.permissions())
                .map_err(|e| io("set permissions of", &dst, e))?;
            copy_tree(&src, &dst, owner)?;
        } else {
            fs::copy(&src, &dst).map_err(|e| io("copy", &src, e))?;
        }
        if let Some(user) = owner {
            std::os::unix::fs::chown(&dst, Some(user.uid), Some(user.gid))
                .map_err(|e| io("give away", &dst, e))?;
        }
    }
    Ok(())
}

/// Removes everything inside `dir`, keeping `dir`.
pub(super) fn empty_dir(dir: &Path) -> Result<()> {
    for entry in
        fs::read_dir(dir).map_err(|e| Error::io(format!("could not read {}", dir.display()), e))?
    {
        let path = entry
            .map_err(|e| Error::io(format!("could not read {}", dir.display()), e))?
            .path();
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(|e| Error::io(format!("could not remove {}", path.display()), e))?;
    }
    Ok(())
}

pub(super) fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests;
