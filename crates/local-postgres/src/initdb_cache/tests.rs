use super::*;
use crate::machine::unique_temp_dir;
use std::os::unix::fs::PermissionsExt;

#[test]
fn a_manifest_notices_a_lost_or_truncated_file() {
    let dir = unique_temp_dir().unwrap();
    fs::create_dir(dir.join("base")).unwrap();
    fs::write(dir.join("PG_VERSION"), "15\n").unwrap();
    fs::write(dir.join("base/1"), vec![0u8; 8192]).unwrap();
    write_manifest(&dir).unwrap();
    assert!(manifest_matches(&dir));

    fs::write(dir.join("base/1"), vec![0u8; 100]).unwrap();
    assert!(!manifest_matches(&dir), "a truncated file");
    fs::write(dir.join("base/1"), vec![0u8; 8192]).unwrap();
    assert!(manifest_matches(&dir));
    fs::remove_file(dir.join("PG_VERSION")).unwrap();
    assert!(!manifest_matches(&dir), "a lost file");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn copies_keep_modes_and_skip_the_manifest() {
    let from = unique_temp_dir().unwrap();
    let to = unique_temp_dir().unwrap();
    fs::create_dir(from.join("global")).unwrap();
    fs::set_permissions(from.join("global"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(from.join("global/pg_control"), b"control").unwrap();
    fs::set_permissions(
        from.join("global/pg_control"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    write_manifest(&from).unwrap();
    copy_tree(&from, &to, None).unwrap();
    assert_eq!(fs::read(to.join("global/pg_control")).unwrap(), b"control");
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&to.join("global")), 0o700);
    assert_eq!(mode(&to.join("global/pg_control")), 0o600);
    assert!(!to.join(MANIFEST).exists());
    fs::remove_dir_all(&from).unwrap();
    fs::remove_dir_all(&to).unwrap();
}
