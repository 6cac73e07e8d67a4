//! The database drill: the latest dump of a mysql/postgresql series is extracted on the client
//! that made it (`borg extract --stdout`), loaded into a scratch database `cyborg_drill_<random>`
//! that is always dropped afterwards, and its tables listed. Credentials come from the policy's
//! `extra_vars` (the password as `MYSQL_PWD` over stdin, never on a command line). Cluster dumps
//! (every database: roles, several databases) are checked for completeness, not loaded.

use super::{borg_script, Evidence, Run};
use crate::borg::{create_spec, LOCK_WAIT_SECONDS};
use crate::credentials::Access;
use crate::runner::{run_error_outcome, run_logged, JobLog, Outcome, Stdout};
use crate::targets::{client_side, pull_side};
use model::{parse_extra_vars, Secret, TypedVars};

/// Exit statuses of the scripts, for the explanation.
const EXIT_BORG: i32 = 2;
const EXIT_LOAD: i32 = 3;
const EXIT_QUERY: i32 = 4;
const EXIT_CREATE: i32 = 5;

/// Common head: `$1` lock wait, `$2` REPO::ARCHIVE, `$3` file in the archive, `$4` scratch
/// database; `extract` streams the dump.
const HEAD: &str = r#"set -o pipefail
lw=$1; target=$2; name=$3; db=$4; shift 4
trap 'exit 143' TERM INT HUP
extract() { borg extract --lock-wait "$lw" --stdout "$target" "$name"; }
report() { echo "cyborgbackup: borg extract exited $1, load exited $2" >&2; [ "$2" = 0 ] || exit 3; [ "$1" -lt 2 ] || exit 2; }
"#;

/// PostgreSQL, one database (`pg_dump --create --clean`): the database-level statements are
/// dropped so that everything lands in the scratch database.
const PG_ONE: &str = r#"as_pg() { if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
as_pg createdb "$db" || exit 5
trap 'as_pg dropdb --if-exists "$db" >/dev/null 2>&1' EXIT
extract | sed -E '/^(DROP|CREATE|ALTER|COMMENT ON) DATABASE /d; /^\\connect /d' | as_pg psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null
st=("${PIPESTATUS[@]}"); report "${st[0]}" "${st[2]}"
as_pg psql -X -A -t -q -d "$db" -c "SELECT 'TABLE ' || table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1" || exit 4
as_pg dropdb "$db" && echo DROPPED
trap - EXIT"#;

/// MariaDB/MySQL, selected databases (`mysqldump --databases`): `CREATE DATABASE` and `USE`
/// are dropped so that every table lands in the scratch database. `$@`: client options.
const MY_SOME: &str = r#"mysql "$@" -e "CREATE DATABASE \`$db\`" || exit 5
trap 'mysql "$@" -e "DROP DATABASE IF EXISTS \`$db\`" >/dev/null 2>&1' EXIT
extract | sed -E '/^CREATE DATABASE /d; /^USE `/d' | mysql "$@" "$db"
st=("${PIPESTATUS[@]}"); report "${st[0]}" "${st[2]}"
mysql "$@" -N -B -e "SELECT CONCAT('TABLE ', table_name) FROM information_schema.tables WHERE table_schema = '$db' ORDER BY 1" || exit 4
mysql "$@" -e "DROP DATABASE \`$db\`" && echo DROPPED
trap - EXIT"#;

/// A cluster dump: read in full, its databases listed, its trailer required.
const CLUSTER: &str = r#"extract | awk -v trailer="$1" '/^CREATE DATABASE /{ n = $NF; for (i = 3; i <= NF; i++) if ($i !~ /^\/\*/ && $i != "IF" && $i != "NOT" && $i != "EXISTS*/") { n = $i; break }; print "DATABASE " n } index($0, trailer) { ok = 1 } END { if (ok) print "COMPLETE" }'
st=("${PIPESTATUS[@]}"); report "${st[0]}" "${st[1]}""#;

/// What to run for one policy: script, extra arguments, secrets.
struct Plan {
    script: String,
    args: Vec<String>,
    secrets: Vec<(String, Secret)>,
    /// Loaded into a scratch database (false: cluster dump checked only).
    loads: bool,
}

fn plan(vars: &TypedVars) -> Option<Plan> {
    let script = |body: &str| format!("{HEAD}{body}");
    match vars {
        TypedVars::Postgresql { database: Some(_) } => Some(Plan {
            script: script(PG_ONE),
            args: vec![],
            secrets: vec![],
            loads: true,
        }),
        TypedVars::Postgresql { database: None } => Some(Plan {
            script: script(CLUSTER),
            args: vec!["PostgreSQL database cluster dump complete".into()],
            secrets: vec![],
            loads: false,
        }),
        TypedVars::Mysql {
            user,
            password,
            databases,
            host,
            port,
        } => {
            let secrets = password
                .iter()
                .map(|p| ("MYSQL_PWD".to_string(), Secret::new(p.clone())))
                .collect();
            if databases.is_empty() {
                return Some(Plan {
                    script: script(CLUSTER),
                    args: vec!["-- Dump completed".into()],
                    secrets,
                    loads: false,
                });
            }
            let mut args = Vec::new();
            for (flag, v) in [
                ("--user", user.clone()),
                ("--host", host.clone()),
                ("--port", port.map(|p| p.to_string())),
            ] {
                if let Some(v) = v {
                    args.push(format!("{flag}={v}"));
                }
            }
            if port.is_some() && host.is_none() {
                args.push("--protocol=tcp".into());
            }
            Some(Plan {
                script: script(MY_SOME),
                args,
                secrets,
                loads: true,
            })
        }
        _ => None,
    }
}

fn scratch_name() -> String {
    use rand_ssh::RngExt;
    let n: u32 = rand_ssh::rng().random();
    format!("cyborg_drill_{n:08x}")
}

pub(super) async fn drill(run: &Run<'_>, log: &mut JobLog<'_>) -> Result<Evidence, Outcome> {
    let store = &run.ex.inner.store;
    let mut ev = Evidence::default();
    let full_vars = store
        .policy_extra_vars(run.policy.id)
        .map_err(|e| Outcome::error(format!("reading the policy's extra_vars: {e}")))?;
    let vars = parse_extra_vars(run.policy.policy_type, full_vars.expose())
        .map_err(|e| Outcome::error(format!("policy extra_vars: {e}")))?;
    let (Some(plan), Ok(spec)) = (plan(&vars), create_spec(&vars)) else {
        return Err(Outcome::error("not a database policy"));
    };
    let Some(name) = spec.pipe.as_ref().map(|p| p.stdin_name.clone()) else {
        return Err(Outcome::error("database policy without a dump stream"));
    };
    let archive = store
        .archives(
            Some(run.ctx.repo.id),
            Some(run.client.id),
            Some(run.policy.id),
        )
        .map_err(|e| Outcome::error(e.to_string()))?
        .into_iter()
        .next();
    let Some(archive) = archive else {
        ev.mismatch("", "", "no archive of this series yet: back it up first");
        return Ok(ev);
    };
    ev.archives.push(archive.name.clone());
    for (_, s) in &plan.secrets {
        log.secrets.push(s.clone());
    }
    let side = if run.policy.mode_pull {
        pull_side(run.ex, run.client, &run.ctx.side, Access::Pair(run.client)).await
    } else {
        client_side(run.ex, run.client, &run.ctx.side, Access::Pair(run.client)).await
    }
    .map_err(Outcome::error)?;
    let db = scratch_name();
    let mut args = vec![
        LOCK_WAIT_SECONDS.to_string(),
        format!("{}::{}", side.repo_url, archive.name),
        name.clone(),
        db.clone(),
    ];
    args.extend(plan.args.iter().cloned());
    let mut cmd = borg_script(&side.env, &plan.script, args);
    for (k, v) in &plan.secrets {
        cmd = cmd.secret(k, v.clone());
    }
    let cmd = side.wrap(cmd);
    let r = run_logged(log, &side.transport, &cmd, Stdout::Capture, run.cancel)
        .await
        .map_err(run_error_outcome)?;
    let why = r
        .stderr_head
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("cyborgbackup:"))
        .cloned()
        .unwrap_or_else(|| "no error output".into());
    let path = format!("/{name}");
    let host = &run.client.hostname;
    ev.files_checked = 1;
    let integrity = r
        .stderr_head
        .iter()
        .find(|l| l.to_ascii_lowercase().contains("integrity"));
    if let Some(l) = integrity {
        ev.mismatch(&path, &archive.name, format!("borg extract: {l}"));
    }
    match r.code {
        0 => {}
        EXIT_BORG => ev.mismatch(&path, &archive.name, format!("borg extract failed: {why}")),
        EXIT_LOAD => ev.mismatch(
            &path,
            &archive.name,
            format!("the dump did not load into scratch database {db} on {host}: {why}"),
        ),
        EXIT_QUERY => ev.mismatch(
            &path,
            &archive.name,
            format!("cannot list the tables of scratch database {db}: {why}"),
        ),
        EXIT_CREATE => ev.mismatch(
            &path,
            &archive.name,
            format!("cannot create scratch database {db} on {host} (the drill needs CREATE and DROP rights): {why}"),
        ),
        c => ev.mismatch(&path, &archive.name, format!("drill script exited {c}: {why}")),
    }
    let lines: Vec<&str> = r.stdout.lines().map(str::trim).collect();
    let tables: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("TABLE "))
        .collect();
    let databases: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("DATABASE "))
        .collect();
    if r.code != 0 {
        return Ok(ev);
    }
    ev.bytes = archive.original_size;
    if plan.loads {
        ev.details.push(format!(
            "{name} loaded into scratch database {db} on {host}: {} table(s){}",
            tables.len(),
            if tables.is_empty() {
                String::new()
            } else {
                format!(" ({})", tables.join(", "))
            }
        ));
        if tables.is_empty() {
            ev.note(&path, &archive.name, "the restored database has no table");
        }
        if lines.contains(&"DROPPED") {
            ev.details.push(format!("scratch database {db} dropped"));
        } else {
            ev.note(
                &path,
                &archive.name,
                format!("scratch database {db} could not be dropped on {host}: drop it by hand"),
            );
        }
    } else if lines.contains(&"COMPLETE") {
        ev.details.push(format!(
            "{name} read in full and complete: {} database(s) ({}); a cluster dump is not loaded into a scratch database",
            databases.len(),
            databases.join(", ")
        ));
    } else {
        ev.mismatch(
            &path,
            &archive.name,
            "the dump is truncated: its completion trailer is missing",
        );
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_password_stays_a_secret() {
        let p = plan(&TypedVars::Mysql {
            user: Some("bk".into()),
            password: Some("pw; rm -rf /".into()),
            databases: vec!["app".into()],
            host: None,
            port: Some(3307),
        })
        .expect("plan");
        assert!(p.loads);
        assert_eq!(p.args, ["--user=bk", "--port=3307", "--protocol=tcp"]);
        assert!(!p.script.contains("pw;") && !p.args.iter().any(|a| a.contains("pw;")));
        assert_eq!(p.secrets[0].0, "MYSQL_PWD");
    }

    #[test]
    fn cluster_dumps_are_not_loaded() {
        let p = plan(&TypedVars::Postgresql { database: None }).expect("plan");
        assert!(!p.loads && p.script.contains("COMPLETE"));
        assert!(plan(&TypedVars::Config).is_none());
        assert!(scratch_name().starts_with("cyborg_drill_"));
    }
}
