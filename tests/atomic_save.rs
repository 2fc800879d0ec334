//! Nothing lost: a save that fails (here under a file-size limit, as on a full disk, and into a
//! folder that does not exist) leaves the previous file exactly as it was, and no temporary
//! file behind.

use rnn::files;
use rnn::{rnn_model, Layout, Model};
use std::path::{Path, PathBuf};
use std::process::Command;

rnn_model! {
    struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    struct Small { dense(2, 1) }
}

const CHILD: &str = "RNN_ATOMIC_SAVE_CHILD";

fn folder(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnn-atomic-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn entries(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Run by `a_save_beyond_the_file_size_limit_keeps_the_old_file` in a child process whose
/// file-size limit is 4 KiB: saving the 19 KB card model must fail, not truncate.
#[test]
fn child_saves_under_a_size_limit() {
    let Ok(path) = std::env::var(CHILD) else {
        return; // only meaningful in the child process
    };
    match files::save(&Card::init(2), &path, Layout::Keras) {
        Ok(()) => println!("CHILD: saved"),
        Err(e) => println!("CHILD: refused: {e}"),
    }
}

#[test]
fn a_save_beyond_the_file_size_limit_keeps_the_old_file() {
    let d = folder("limit");
    let path = d.join("model.safetensors");
    files::save(&Small::init(1), &path, Layout::Keras).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(before.len() < 4096);
    // SIGXFSZ ignored, so the oversize write returns EFBIG instead of killing the child.
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 4; exec \"$0\" --exact child_saves_under_a_size_limit --nocapture --test-threads 1")
        .arg(&exe)
        .env(CHILD, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("CHILD: refused: "),
        "the save under the limit did not fail: {stdout}"
    );
    assert!(stdout.contains("File too large"), "{stdout}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the old file changed"
    );
    assert_eq!(
        entries(&d),
        ["model.safetensors"],
        "a temporary file was left behind"
    );
    let mut back = Small::zeros();
    files::load(&mut back, &path, Layout::Keras).unwrap();
    assert_eq!(back.tensor(0), Small::init(1).tensor(0));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_save_that_succeeds_replaces_the_file_whole() {
    let d = folder("replace");
    let path = d.join("model.safetensors");
    files::save(&Small::init(1), &path, Layout::Keras).unwrap();
    files::save(&Small::init(2), &path, Layout::PyTorch).unwrap();
    let mut back = Small::zeros();
    files::load(&mut back, &path, Layout::PyTorch).unwrap();
    assert_eq!(back.tensor(0), Small::init(2).tensor(0));
    assert_eq!(entries(&d), ["model.safetensors"]);
    // Into a folder that does not exist: an error naming the path, nothing created.
    let missing = d.join("no-such-folder").join("m.safetensors");
    let e = files::save(&Small::init(1), &missing, Layout::Keras).unwrap_err();
    assert!(e.to_string().contains("no-such-folder"), "{e}");
    assert_eq!(entries(&d), ["model.safetensors"]);
    std::fs::remove_dir_all(&d).unwrap();
}

/// A folder that refuses new files: made immutable with `chattr +i` (which binds root too),
/// or read-only with `chmod` when not root. The save fails, the old file stays whole.
#[test]
fn a_save_into_a_read_only_folder_keeps_the_old_file() {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("ro-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join("model.safetensors");
    files::save(&Small::init(1), &path, Layout::Keras).unwrap();
    let before = std::fs::read(&path).unwrap();
    let locked = Command::new("chattr")
        .arg("+i")
        .arg(&d)
        .status()
        .is_ok_and(|s| s.success());
    let unlock = |d: &Path| {
        let _ = Command::new("chattr").arg("-i").arg(d).status();
        let _ = Command::new("chmod").arg("755").arg(d).status();
    };
    if !locked {
        let _ = Command::new("chmod").arg("555").arg(&d).status();
        if std::fs::write(d.join("probe"), b"x").is_ok() {
            unlock(&d);
            std::fs::remove_dir_all(&d).unwrap();
            println!("SKIPPED: no way to make a folder read-only here (chattr unsupported, running as root)");
            return;
        }
    }
    let r = files::save(&Card::init(2), &path, Layout::Keras);
    let after = std::fs::read(&path).unwrap();
    let left = entries(&d);
    unlock(&d);
    std::fs::remove_dir_all(&d).unwrap();
    let e = r.expect_err("a save into a read-only folder succeeded");
    assert!(e.to_string().contains("model.safetensors"), "{e}");
    assert_eq!(after, before, "the old file changed");
    assert_eq!(
        left,
        ["model.safetensors"],
        "a temporary file was left behind"
    );
}
