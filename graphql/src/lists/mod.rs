//! Every list query as a cursor connection with filters and an ordering, pushed into SQL by the
//! store's `list_*` functions.

mod inventory;
mod jobs;

pub use inventory::InventoryLists;
pub use jobs::JobLists;

use crate::errors::ApiError;
use async_graphql::Enum;
use std::str::FromStr;

/// Declares a GraphQL ordering enum and its conversion to the store's.
macro_rules! order_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl From<$name> for store::$name {
            fn from(o: $name) -> Self {
                match o {
                    $($name::$variant => store::$name::$variant),+
                }
            }
        }
    };
}

order_enum!(
    /// Orderings of users (default `EMAIL_ASC`).
    UserOrder { EmailAsc, EmailDesc, CreatedAsc, CreatedDesc }
);
order_enum!(
    /// Orderings of API tokens (default `CREATED_ASC`).
    ApiTokenOrder { CreatedAsc, CreatedDesc, NameAsc, NameDesc }
);
order_enum!(
    /// Orderings of clients (default `HOSTNAME_ASC`).
    ClientOrder { HostnameAsc, HostnameDesc, CreatedAsc, CreatedDesc }
);
order_enum!(
    /// Orderings of repositories (default `NAME_ASC`; `SIZE_DESC`: deduplicated size).
    RepositoryOrder { NameAsc, NameDesc, CreatedAsc, CreatedDesc, SizeDesc }
);
order_enum!(
    /// Orderings of schedules (default `NAME_ASC`).
    ScheduleOrder { NameAsc, NameDesc, CreatedAsc, CreatedDesc }
);
order_enum!(
    /// Orderings of policies (default `NAME_ASC`; `NEXT_RUN_ASC`: soonest first).
    PolicyOrder { NameAsc, NameDesc, CreatedAsc, CreatedDesc, NextRunAsc }
);
order_enum!(
    /// Orderings of jobs (default `CREATED_DESC`: newest first; `FINISHED_DESC` puts
    /// unfinished jobs last; `ELAPSED_DESC`: longest first).
    JobOrder { CreatedDesc, CreatedAsc, FinishedDesc, ElapsedDesc, NameAsc }
);
order_enum!(
    /// Orderings of restore drills (default `CREATED_DESC`: newest first).
    RestoreTestOrder { CreatedDesc, CreatedAsc }
);
order_enum!(
    /// Orderings of archives (default `TIME_DESC`: newest first; `SIZE_DESC`: original size).
    ArchiveOrder { TimeDesc, TimeAsc, NameAsc, NameDesc, SizeDesc }
);

/// The store's ordering for an optional GraphQL one (its default when absent).
pub(crate) fn order<G: Into<S>, S: Default>(o: Option<G>) -> S {
    o.map(Into::into).unwrap_or_default()
}

/// Parses an optional filter value, or a `VALIDATION` error on `field`.
pub(crate) fn parse<T: FromStr<Err = String>>(
    field: &str,
    v: Option<String>,
) -> Result<Option<T>, ApiError> {
    v.map(|s| s.trim().parse::<T>())
        .transpose()
        .map_err(|e| ApiError::field(field, e))
}
