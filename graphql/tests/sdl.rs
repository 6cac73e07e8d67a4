//! The committed `schema.graphql` is the schema the code serves: regenerate it with
//! `CYBORG_WRITE_SDL=1 cargo test -p graphql --test sdl` after changing the API.

#[test]
fn committed_sdl_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let sdl = graphql::sdl();
    if std::env::var_os("CYBORG_WRITE_SDL").is_some() {
        std::fs::write(&path, &sdl).expect("writing schema.graphql");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sdl,
        "schema.graphql is out of date: run `CYBORG_WRITE_SDL=1 cargo test -p graphql --test sdl` and commit it"
    );
}
