//! A generator of realistic, reproducible borg 1.2 `list --json-lines` listings: a Linux-like
//! tree (system directories, packages, home directories, logs, web roots) whose files change,
//! appear and disappear a little every day. Stateless per entry (everything derives from a
//! hash of the entry number and the day), so memory stays small whatever the size.

use std::collections::HashSet;
use std::io::{self, Write};

/// SplitMix64: a fast, well-mixed hash of one 64-bit value.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn h2(a: u64, b: u64) -> u64 {
    mix(a ^ mix(b ^ 0x5151))
}

const WORDS: &[&str] = &[
    "nginx",
    "apache",
    "postgres",
    "mysql",
    "redis",
    "python",
    "perl",
    "ruby",
    "node",
    "java",
    "kernel",
    "systemd",
    "udev",
    "dbus",
    "cron",
    "rsync",
    "openssl",
    "gnupg",
    "curl",
    "wget",
    "libc",
    "glib",
    "gtk",
    "qt",
    "xorg",
    "mesa",
    "alsa",
    "pulse",
    "bluez",
    "network",
    "manager",
    "config",
    "settings",
    "backup",
    "report",
    "invoice",
    "photo",
    "holiday",
    "budget",
    "draft",
    "notes",
    "readme",
    "changelog",
    "copyright",
    "license",
    "index",
    "main",
    "util",
    "helper",
    "test",
    "spec",
    "client",
    "server",
    "proxy",
    "cache",
    "session",
    "user",
    "admin",
    "api",
    "model",
    "view",
    "controller",
    "router",
    "schema",
    "migration",
    "dump",
    "export",
    "import",
    "data",
    "image",
    "thumb",
    "style",
    "script",
    "vendor",
    "module",
    "plugin",
    "theme",
    "font",
    "icon",
    "locale",
    "zoneinfo",
    "firmware",
    "driver",
    "sound",
    "video",
    "archive",
    "release",
    "stable",
    "debian",
    "ubuntu",
    "common",
    "core",
    "base",
    "extra",
    "contrib",
    "docs",
    "examples",
];

const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
];

/// A leaf-directory template: path pattern parts and the extensions of its files.
struct Template {
    parts: &'static [&'static str],
    exts: &'static [&'static str],
    owner: Owner,
}

#[derive(Clone, Copy)]
enum Owner {
    Root,
    User,
    Service,
}

const TEMPLATES: &[Template] = &[
    Template {
        parts: &["usr", "share", "doc", "{w}"],
        exts: &[
            "changelog.Debian.gz",
            "copyright",
            "README.md",
            "NEWS.gz",
            "html",
        ],
        owner: Owner::Root,
    },
    Template {
        parts: &["usr", "lib", "python3", "dist-packages", "{w}", "{w}"],
        exts: &["py", "pyc", "so", "pyi"],
        owner: Owner::Root,
    },
    Template {
        parts: &["usr", "lib", "x86_64-linux-gnu", "{w}"],
        exts: &["so.1", "so.6.0.2", "a", "pc"],
        owner: Owner::Root,
    },
    Template {
        parts: &["usr", "include", "{w}", "{w}"],
        exts: &["h", "hpp"],
        owner: Owner::Root,
    },
    Template {
        parts: &["usr", "share", "man", "man{d}"],
        exts: &["1.gz", "5.gz", "8.gz"],
        owner: Owner::Root,
    },
    Template {
        parts: &["usr", "share", "locale", "{w}", "LC_MESSAGES"],
        exts: &["mo"],
        owner: Owner::Root,
    },
    Template {
        parts: &["etc", "{w}", "conf.d"],
        exts: &["conf", "conf.bak", "yaml", "ini"],
        owner: Owner::Root,
    },
    Template {
        parts: &["var", "log", "{w}"],
        exts: &["log", "log.1", "log.2.gz", "err"],
        owner: Owner::Service,
    },
    Template {
        parts: &["var", "lib", "postgresql", "15", "main", "base", "{n}"],
        exts: &[""],
        owner: Owner::Service,
    },
    Template {
        parts: &["srv", "www", "{w}.example.org", "assets", "{w}"],
        exts: &["css", "js", "png", "svg", "woff2"],
        owner: Owner::Service,
    },
    Template {
        parts: &["home", "{u}", "projects", "{w}", "src", "{w}"],
        exts: &["rs", "c", "go", "ts", "json", "toml"],
        owner: Owner::User,
    },
    Template {
        parts: &["home", "{u}", "Documents", "{w}"],
        exts: &["pdf", "odt", "xlsx", "txt", "md"],
        owner: Owner::User,
    },
    Template {
        parts: &["home", "{u}", "Pictures", "{y}", "{w}"],
        exts: &["jpg", "JPG", "png", "heic"],
        owner: Owner::User,
    },
    Template {
        parts: &["var", "backups", "db"],
        exts: &["sql.gz", "sql", "dump"],
        owner: Owner::Root,
    },
];

/// Shape of a generated series.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Entries (files, directories, links) of the first archive, approximately.
    pub entries: u64,
    /// Files changed per day, per million files.
    pub changed_ppm: u64,
    /// Files added per day, per million files.
    pub added_ppm: u64,
    /// Files removed per day, per million files.
    pub removed_ppm: u64,
}

const FILES_PER_DIR: u64 = 28;

impl Shape {
    /// Leaf directories; each holds about `FILES_PER_DIR` files plus its ancestors.
    fn dirs(&self) -> u64 {
        (self.entries / (FILES_PER_DIR + 1)).max(1)
    }
    fn base_files(&self) -> u64 {
        self.dirs() * FILES_PER_DIR
    }
    fn added_per_day(&self) -> u64 {
        self.base_files() * self.added_ppm / 1_000_000
    }
    /// Whether file `i` exists on `day`.
    fn alive(&self, i: u64, day: u64) -> bool {
        let born = if i < self.base_files() {
            0
        } else {
            (i - self.base_files()) / self.added_per_day().max(1) + 1
        };
        if born > day {
            return false;
        }
        // Removal day: each day after birth, a file dies with probability removed_ppm.
        (born + 1..=day).all(|d| h2(i, d ^ 0xdead) % 1_000_000 >= self.removed_ppm)
    }
    /// Last day (≤ `day`) on which file `i` changed.
    fn last_change(&self, i: u64, day: u64) -> u64 {
        (1..=day)
            .rev()
            .find(|d| h2(i, *d) % 1_000_000 < self.changed_ppm)
            .unwrap_or(0)
    }
}

fn word(h: u64) -> &'static str {
    WORDS[(h % WORDS.len() as u64) as usize]
}

fn leaf_dir(j: u64) -> (String, usize) {
    let h = mix(j);
    let t = (h % TEMPLATES.len() as u64) as usize;
    let mut path = String::new();
    for (k, part) in TEMPLATES[t].parts.iter().enumerate() {
        let hk = h2(j, k as u64);
        if !path.is_empty() {
            path.push('/');
        }
        match *part {
            "{w}" => path.push_str(word(hk % 37 + (hk >> 20) % 63)),
            "{w}.example.org" => {
                path.push_str(word(hk));
                path.push_str(".example.org");
            }
            "{u}" => path.push_str(USERS[(hk % USERS.len() as u64) as usize]),
            "{n}" => path.push_str(&(16384 + hk % 40).to_string()),
            "{y}" => path.push_str(&(2015 + hk % 11).to_string()),
            "man{d}" => path.push_str(&format!("man{}", 1 + hk % 8)),
            lit => path.push_str(lit),
        }
    }
    // Distinguish leaf directories that drew the same words.
    path.push_str(&format!("/{}-{}", word(h >> 7), j % 997));
    (path, t)
}

fn file_name(i: u64, t: usize) -> String {
    let h = mix(i ^ 0xf11e);
    let exts = TEMPLATES[t].exts;
    let ext = exts[(h % exts.len() as u64) as usize];
    let stem = match h % 4 {
        0 => word(h >> 8).to_string(),
        1 => format!("{}_{}", word(h >> 8), word(h >> 16)),
        2 => format!("{}-{}", word(h >> 8), (h >> 24) % 10_000),
        _ => format!("{}{}.{}", word(h >> 8), word(h >> 16), (h >> 32) % 100),
    };
    if ext.is_empty() {
        format!("{}", 10_000 + (h >> 8) % 90_000)
    } else {
        format!("{stem}-{}.{ext}", i % 100_000)
    }
}

fn owner(t: usize, j: u64) -> (&'static str, &'static str) {
    match TEMPLATES[t].owner {
        Owner::Root => ("root", "root"),
        Owner::Service => ("www-data", "adm"),
        Owner::User => {
            let u = USERS[(mix(j) % USERS.len() as u64) as usize];
            (u, u)
        }
    }
}

fn size_of(i: u64, day: u64) -> u64 {
    let h = h2(i, day ^ 0x5173);
    // Roughly log-uniform from 10 bytes to 10 MB.
    let exp = 1 + h % 7;
    10u64.pow(exp as u32) / 10 * (1 + (h >> 8) % 9)
}

/// Seconds of `day` 0 (2026-01-01T00:00:00).
const EPOCH_DAY0: i64 = 1_767_225_600;

fn mtime_str(day: u64, i: u64) -> String {
    let secs =
        EPOCH_DAY0 + day as i64 * 86_400 - 3_600 - (mix(i) % 20_000_000) as i64 * (day == 0) as i64;
    let t = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

struct Line<'a> {
    kind: &'a str,
    mode: &'a str,
    user: &'a str,
    group: &'a str,
    path: &'a str,
    linktarget: &'a str,
    mtime: &'a str,
    size: u64,
}

fn write_line(w: &mut impl Write, l: &Line) -> io::Result<()> {
    let uid = if l.user == "root" { 0 } else { 1000 };
    // Paths and names never need JSON escapes here.
    writeln!(
        w,
        r#"{{"type": "{}", "mode": "{}", "user": "{}", "group": "{}", "uid": {uid}, "gid": {uid}, "path": "{}", "healthy": true, "source": "", "linktarget": "{}", "flags": 0, "mtime": "{}", "size": {}}}"#,
        l.kind, l.mode, l.user, l.group, l.path, l.linktarget, l.mtime, l.size
    )
}

/// Writes the listing of `day` (0 = first archive). Returns the number of entries.
pub fn write_listing(shape: &Shape, day: u64, w: &mut impl Write) -> io::Result<u64> {
    let dirs = shape.dirs();
    let base = shape.base_files();
    let added = shape.added_per_day() * day;
    // Files added after day 0 go into existing directories.
    let mut extra: Vec<Vec<u64>> = vec![Vec::new(); dirs as usize];
    for i in base..base + added {
        extra[(mix(i) % dirs) as usize].push(i);
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut n = 0;
    let dir_mtime = mtime_str(0, 1);
    for j in 0..dirs {
        let (dir, t) = leaf_dir(j);
        let (user, group) = owner(t, j);
        // Ancestors first, once, as borg's recursion does.
        let mut cut = 0;
        while let Some(pos) = dir[cut..].find('/') {
            let anc = &dir[..cut + pos];
            cut += pos + 1;
            if seen.insert(anc.to_string()) {
                let (u, g) = if anc.starts_with("home/") {
                    (user, group)
                } else {
                    ("root", "root")
                };
                write_line(
                    w,
                    &Line {
                        kind: "d",
                        mode: "drwxr-xr-x",
                        user: u,
                        group: g,
                        path: anc,
                        linktarget: "",
                        mtime: &dir_mtime,
                        size: 0,
                    },
                )?;
                n += 1;
            }
        }
        write_line(
            w,
            &Line {
                kind: "d",
                mode: "drwxr-xr-x",
                user,
                group,
                path: &dir,
                linktarget: "",
                mtime: &mtime_str(0, j),
                size: 0,
            },
        )?;
        n += 1;
        let files =
            (j * FILES_PER_DIR..(j + 1) * FILES_PER_DIR).chain(extra[j as usize].iter().copied());
        for i in files {
            if !shape.alive(i, day) {
                continue;
            }
            let changed = shape.last_change(i, day);
            let path = format!("{dir}/{}", file_name(i, t));
            let mtime = mtime_str(changed, i);
            if mix(i ^ 0x11).is_multiple_of(40) {
                let target = format!("../{}", file_name(i + 1, t));
                write_line(
                    w,
                    &Line {
                        kind: "l",
                        mode: "lrwxrwxrwx",
                        user,
                        group,
                        path: &path,
                        linktarget: &target,
                        mtime: &mtime,
                        size: 0,
                    },
                )?;
            } else {
                let mode = if mix(i).is_multiple_of(10) {
                    "-rwxr-xr-x"
                } else {
                    "-rw-r--r--"
                };
                write_line(
                    w,
                    &Line {
                        kind: "-",
                        mode,
                        user,
                        group,
                        path: &path,
                        linktarget: "",
                        mtime: &mtime,
                        size: size_of(i, changed),
                    },
                )?;
            }
            n += 1;
        }
    }
    Ok(n)
}

/// A few real names and directories of the first archive, for the search query set.
pub fn samples(shape: &Shape, count: u64) -> Vec<(String, String)> {
    let dirs = shape.dirs();
    (0..count)
        .map(|k| {
            let j = mix(k ^ 0xabc) % dirs;
            let (dir, t) = leaf_dir(j);
            let i = j * FILES_PER_DIR + mix(k) % FILES_PER_DIR;
            (dir, file_name(i, t))
        })
        .collect()
}
