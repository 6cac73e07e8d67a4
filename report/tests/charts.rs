//! Every chart kind renders to SVG and PNG from stored statistics, with zero, one or many points.

use chrono::{Duration, Utc};
use model::*;
use report::{render_chart, ChartKind, ChartRequest, Format};
use store::{ArchiveSizes, Store};

fn store_with_history(points: usize) -> (tempfile::TempDir, Store, RepositoryId) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let repo = store
        .create_repository(
            &RepositoryInput {
                name: Some("main".into()),
                path: Some("/srv/borg/main".into()),
                ..Default::default()
            },
            None,
        )
        .expect("repository");
    let client = store
        .create_client(
            &ClientInput {
                hostname: Some("web1".into()),
                ..Default::default()
            },
            None,
        )
        .expect("client");
    let sched = store
        .create_schedule(
            &ScheduleInput {
                name: Some("nightly".into()),
                crontab: Some("0 3 * * *".into()),
                ..Default::default()
            },
            None,
        )
        .expect("schedule");
    let policy = store
        .create_policy(
            &PolicyInput {
                name: Some("rootfs".into()),
                policy_type: Some("rootfs".into()),
                clients: Some(vec![client.id.0]),
                repository: Some(repo.id.0),
                schedule: Some(sched.id.0),
                ..Default::default()
            },
            None,
        )
        .expect("policy");
    for i in 0..points {
        let t = Utc::now() - Duration::days((points - i) as i64);
        store
            .record_archive(
                &format!("a{i}"),
                SeriesKey {
                    repository: repo.id,
                    policy: policy.id,
                    client: client.id,
                },
                None,
                t,
                ArchiveSizes {
                    original: 1_000_000 * (i as i64 + 1),
                    compressed: 600_000 * (i as i64 + 1),
                    deduplicated: 100_000,
                    nfiles: 100 + i as i64,
                },
            )
            .expect("archive");
        store
            .set_repository_sizes(
                repo.id,
                1_000_000 * (i as i64 + 1),
                600_000,
                300_000 * (i as i64 + 1),
            )
            .expect("sizes");
    }
    (dir, store, repo.id)
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    let dec = png::Decoder::new(bytes);
    let reader = dec.read_info().expect("png decodes");
    let info = reader.info();
    (info.width, info.height)
}

#[test]
fn every_kind_renders_with_zero_one_and_many_points() {
    for n in [0usize, 1, 5] {
        let (_d, store, repo) = store_with_history(n);
        store
            .set_repository_capacity(repo, Some(10_000_000))
            .expect("capacity");
        for kind in ChartKind::ALL {
            let mut req = ChartRequest::new(kind, Format::Svg);
            req.filter.repository = Some(repo);
            let svg = String::from_utf8(render_chart(&store, &req).expect("svg")).expect("utf8");
            assert!(svg.contains("<svg"), "{kind:?}");
            assert!(svg.contains("Date"), "{kind:?} x axis label");
            if n == 0 && kind != ChartKind::Forecast {
                assert!(svg.contains("No data for this period"), "{kind:?} {n}");
            }
            req.format = Format::Png;
            req.width = 640;
            req.height = 360;
            let png = render_chart(&store, &req).expect("png");
            assert_eq!(png_size(&png), (640, 360));
            if n == 5 {
                std::fs::write(format!("/tmp/chart-{}.png", kind.as_str()), &png).ok();
            }
        }
    }
}
